//! Stores: plain functions that run queries inside a transaction they are handed. Tenant data is
//! reached only through a [`crate::TenantTx`] and always filtered by its tenant; reference tables
//! (tenants, police services and divisions) take any connection.

pub mod aggregates;
pub mod audit;
pub mod backfill;
pub mod case_records;
pub mod case_references;
pub mod cases;
pub mod clients;
pub mod consents;
pub mod embedding;
pub mod events;
pub mod facts;
pub mod idempotency;
pub mod mfa;
pub mod notes;
pub mod organizations;
pub mod passkeys;
pub mod passwords;
pub mod programs;
pub mod reference;
pub mod referrals;
pub mod releases;
pub mod reports;
pub mod routing;
pub mod safety_plans;
pub mod sessions;
pub mod settings;
pub mod tasks;
pub mod tenant_keys;
pub mod tenants;
pub mod transfers;
pub mod users;
pub mod vqrp;

use sea_orm::{DbErr, SqlErr};

/// What can go wrong in a store, in terms the API can map to statuses.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such row in this tenant (a row of another tenant is the same: not found).
    #[error("not found")]
    NotFound,
    /// A uniqueness or reference rule refused the change; `constraint` names which.
    #[error("conflict on {constraint}")]
    Conflict {
        /// The constraint's meaning, e.g. `users.email`.
        constraint: &'static str,
    },
    /// The row changed since the client read it.
    #[error("version mismatch")]
    VersionMismatch,
    /// The signed-in caller's session was revoked or has expired: found by the check that opens
    /// the caller's transaction (`db::begin_tenant_tx`).
    #[error("session ended")]
    SessionEnded,
    /// Anything else; logged with the request id, never shown to a client.
    #[error("database error: {0}")]
    Unexpected(#[from] DbErr),
    /// A key or ciphertext problem (a missing master key, a tampered value).
    #[error("encryption: {0}")]
    Crypto(#[from] crate::crypto::CryptoError),
    /// A stored value this code cannot read (an unknown status, scope or urgency, JSON that does
    /// not parse): never replaced by a default, since a guess could reopen a closed referral or
    /// widen a consent. The text names the column and value kind, never personal data.
    #[error("stored value unreadable: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Turns a database error into meaning: constraint violations become conflicts named by
    /// what they protect. The one place where constraint names are interpreted.
    #[must_use]
    pub fn from_db(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(detail)) => Self::Conflict { constraint: unique_meaning(&detail) },
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => Self::Conflict { constraint: "reference" },
            _ => Self::Unexpected(err),
        }
    }
}

impl StoreError {
    /// True when the database could not be reached or went away (pool exhausted or closed, a
    /// broken connection, the server shutting down or still starting): the request may succeed
    /// if retried shortly, and nothing is wrong with it or with the service's code.
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unexpected(db) if db_unavailable(db))
    }
}

/// See [`StoreError::is_unavailable`].
#[must_use]
pub fn db_unavailable(err: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx};
    match err {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match e.as_ref() {
                sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed => true,
                // SQLSTATE class 08 (connection exception) and 57P0x (admin or crash shutdown,
                // cannot connect now).
                sqlx::Error::Database(db) => {
                    db.code().is_some_and(|code| code.starts_with("08") || code.starts_with("57P0"))
                }
                _ => false,
            }
        }
        _ => false,
    }
}

fn unique_meaning(detail: &str) -> &'static str {
    const KNOWN: &[(&str, &str)] = &[
        ("ux_users_email", "users.email"),
        ("users.email", "users.email"),
        ("tenants_slug", "tenants.slug"),
        ("tenants.slug", "tenants.slug"),
        ("idempotency_keys", "idempotency_keys.key"),
        ("ux_police_divisions_code", "police_divisions.code"),
        ("police_divisions.police_service_id", "police_divisions.code"),
        ("audit_seals", "audit_seals.seq"),
        ("ux_refresh_tokens_hash", "refresh_tokens.token_hash"),
        ("ux_programs_code", "programs.code"),
        ("cases.status", "cases.status"),
        ("programs.tenant_id, programs.code", "programs.code"),
        ("ux_tasks_source", "tasks.source"),
        ("tasks.tenant_id, tasks.kind", "tasks.source"),
    ];
    KNOWN.iter().find(|(needle, _)| detail.contains(needle)).map_or("unique", |(_, meaning)| meaning)
}

/// `?` on a raw `DbErr` inside stores goes through [`StoreError::from_db`].
pub(crate) trait DbResultExt<T> {
    fn store(self) -> Result<T, StoreError>;
}

impl<T> DbResultExt<T> for Result<T, DbErr> {
    fn store(self) -> Result<T, StoreError> {
        self.map_err(StoreError::from_db)
    }
}

/// Reads the stored value `raw` of `column` with `parse`, or fails: a value this code does not
/// know is never read as a default (an unknown consent scope as the widest, an unreadable referral
/// status as `pending`, acceptable again). The error names the column and the value: these are
/// enumerations and codes, never personal data.
pub(crate) fn decode<T, E>(
    column: &'static str,
    raw: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, StoreError> {
    parse(raw).map_err(|_| StoreError::Corrupt(format!("{column} holds {raw:?}, which this version does not know")))
}

/// [`decode`] for a nullable column.
pub(crate) fn decode_opt<T, E>(
    column: &'static str,
    raw: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<Option<T>, StoreError> {
    raw.map(|raw| decode(column, raw, parse)).transpose()
}

/// Reads JSON stored (sealed) in `column`, or fails naming the column only: the text may be
/// personal, so it is never put in the error.
pub(crate) fn decode_json<T: serde::de::DeserializeOwned>(column: &'static str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| {
        StoreError::Corrupt(format!("{column}: JSON unreadable at line {}, column {}", e.line(), e.column()))
    })
}

/// Serialises a value to store as JSON, or fails: a value that does not serialise is never
/// sealed as an empty string.
pub(crate) fn encode_json<T: serde::Serialize>(column: &'static str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|_| StoreError::Corrupt(format!("{column}: value does not serialise")))
}
