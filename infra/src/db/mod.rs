//! The database: opening it on either backend, migrating it, and the tenant-scoped transaction
//! that is the only way to reach tenant data.

mod appends;
mod provision;
mod row_inserts;

use std::time::Duration;

use domain::TenantId;
use domain::authz::Actor;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};
use secrecy::ExposeSecret as _;

use crate::config::Settings;
use crate::store::StoreError;

pub use appends::TxConn;
pub use provision::RuntimeRoleError;

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Connecting, migrating or provisioning failed.
    #[error("database: {0}")]
    Db(#[from] DbErr),
    /// The data directory could not be created.
    #[error("data directory: {0}")]
    DataDir(#[from] std::io::Error),
    /// The runtime role could bypass row-level security; refusing to serve with it.
    #[error(transparent)]
    UnsafeRole(#[from] RuntimeRoleError),
}

/// A handle on the runtime connection pool. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    conn: DatabaseConnection,
    /// SQLite only: one writing transaction at a time, queued fairly in this process. SQLite's own
    /// busy handler retries with sleeps and no order, so under sustained writes one connection can
    /// lose every race for longer than the busy timeout and fail with "database is locked"
    /// (measured: 500s under 8 concurrent writers). The embedded default is a single process, so an
    /// in-process FIFO queue is exact.
    writer: Option<std::sync::Arc<tokio::sync::Semaphore>>,
    /// Statements sent on the pool (see [`Db::statements_sent`]).
    statements: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Db {
    /// Opens the database the settings name, runs pending migrations and, on PostgreSQL,
    /// provisions the runtime role and connects as it.
    ///
    /// # Errors
    /// [`OpenError`] when any step fails; on PostgreSQL also when the runtime role could bypass
    /// row-level security.
    pub async fn open(settings: &Settings) -> Result<Self, OpenError> {
        let owner_url = owner_url(settings)?;
        if owner_url.starts_with("sqlite:") {
            let conn = connect_sqlite(&owner_url, settings.database_max_connections).await?;
            migrate(&conn).await?;
            return Ok(Self::counting(conn, Some(std::sync::Arc::new(tokio::sync::Semaphore::new(1)))));
        }
        let owner = connect_postgres(&owner_url, 2, None).await?;
        migrate(&owner).await?;
        provision::provision_runtime_role(&owner, settings).await?;
        owner.close().await?;
        let conn = match &settings.database_app_url {
            Some(url) => connect_postgres(url.expose_secret(), settings.database_max_connections, None).await?,
            None => {
                let role = Some((
                    settings.database_app_role.clone(),
                    settings.database_app_password.as_ref().map(|p| p.expose_secret().to_owned()),
                ));
                connect_postgres(&owner_url, settings.database_max_connections, role).await?
            }
        };
        provision::check_runtime_role(&conn).await?;
        Ok(Self::counting(conn, None))
    }

    fn counting(mut conn: DatabaseConnection, writer: Option<std::sync::Arc<tokio::sync::Semaphore>>) -> Self {
        let statements = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = std::sync::Arc::clone(&statements);
        conn.set_metric_callback(move |_| {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        });
        Self { conn, writer, statements }
    }

    /// Statements sent on the pool since it opened: every query and write the service makes
    /// (transactions add their `BEGIN`, their first message (on PostgreSQL `SET LOCAL` and the
    /// caller's session check) and `COMMIT`, which are not counted). A
    /// request's round trips to the database are its cost: `/metrics` shows this, and a test
    /// holds a case's creation to its count.
    #[must_use]
    pub fn statements_sent(&self) -> u64 {
        self.statements.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs pending migrations (and role provisioning on PostgreSQL) without serving.
    ///
    /// # Errors
    /// [`OpenError`] when connecting, migrating or provisioning fails.
    pub async fn migrate_only(settings: &Settings) -> Result<(), OpenError> {
        let url = owner_url(settings)?;
        if url.starts_with("sqlite:") {
            let conn = connect_sqlite(&url, 1).await?;
            migrate(&conn).await?;
            conn.close().await?;
        } else {
            let owner = connect_postgres(&url, 2, None).await?;
            migrate(&owner).await?;
            provision::provision_runtime_role(&owner, settings).await?;
            owner.close().await?;
        }
        Ok(())
    }

    /// Which backend this is.
    #[must_use]
    pub fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    /// A cheap round trip, for readiness.
    ///
    /// # Errors
    /// The database error when it does not answer.
    pub async fn ping(&self) -> Result<(), DbErr> {
        self.conn.execute_unprepared("SELECT 1").await.map(|_| ())
    }

    /// The pool, for stores of reference and global tables (no tenant data) and for tests.
    #[must_use]
    pub fn global(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Closes the pool.
    ///
    /// # Errors
    /// The database error, if closing fails.
    pub async fn close(self) -> Result<(), DbErr> {
        self.conn.close().await
    }
}

/// One transaction scoped to one tenant. On PostgreSQL it has set `app.tenant_id` with
/// `SET LOCAL`, so row-level security admits only that tenant's rows; on both backends every
/// store function filters by [`TenantTx::tenant_id`] as well. Dropped without commit, it rolls back.
#[derive(Debug)]
pub struct TenantTx {
    tx: TxConn,
    tenant_id: TenantId,
    /// SQLite: this transaction's turn as the writer, released when it ends.
    _writer_turn: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl TenantTx {
    /// The tenant this transaction belongs to.
    #[must_use]
    pub fn tenant_id(&self) -> TenantId {
        self.tenant_id
    }

    /// The transaction's connection. Store functions run their statements on it; tests of
    /// row-level security use it to bypass the application's own filters on purpose.
    #[must_use]
    pub fn raw(&self) -> &TxConn {
        &self.tx
    }

    /// Queues an insert of rows nothing in this transaction reads before its next statement (an
    /// audit event, a reporting fact, a new case): they are written together with the other
    /// queued appends, in one statement on PostgreSQL, before that next statement or the commit.
    /// See [`TxConn`].
    pub fn append(&self, insert: sea_orm::sea_query::InsertStatement) {
        self.tx.append(insert);
    }

    /// Queues the insert of several rows of one table, like [`TenantTx::append`], with SQL whose
    /// text is the same for any number of rows, so the driver's per-connection cache of prepared
    /// statements keeps one statement for it, not one per count. See `row_inserts`.
    pub fn append_rows<A: sea_orm::ActiveModelTrait>(&self, rows: Vec<A>) {
        for insert in row_inserts::inserts(self.tx.get_database_backend(), rows) {
            self.tx.append(insert);
        }
    }

    /// Moves this transaction to another tenant. Only two changes need this: tenant provisioning
    /// (creating a tenant and its first admin in one transaction) and a transfer between agencies
    /// (`store::transfers`: each side's row is written or settled in its own agency's scope, so
    /// no policy reads across agencies). Each moves back before it goes on.
    ///
    /// # Errors
    /// The database error.
    pub async fn switch_tenant(&mut self, tenant_id: TenantId) -> Result<(), StoreError> {
        set_tenant(&self.tx, tenant_id).await?;
        self.tenant_id = tenant_id;
        Ok(())
    }

    /// Lets this transaction read every agency's reporting facts and submitted reports, and
    /// review submitted reports: on PostgreSQL the reporting tables' second policy admits them
    /// (no personal table has one). Only the ministry's reporting paths call this, after
    /// `domain::authz` allowed the caller; on SQLite the stores' own filters are the wall.
    ///
    /// # Errors
    /// The database error.
    pub async fn widen_to_all_agencies(&self) -> Result<(), StoreError> {
        if self.tx.get_database_backend() == DbBackend::Postgres {
            self.tx.execute_unprepared("SET LOCAL app.reporting_scope = 'all_agencies'").await?;
        }
        Ok(())
    }

    /// Commits.
    ///
    /// # Errors
    /// [`StoreError`] when the commit fails (a serialisation failure or a lost connection).
    pub async fn commit(self) -> Result<(), StoreError> {
        // from_db: a queued append's missing reference is a conflict, as it would have been
        // had it been inserted at once.
        self.tx.commit().await.map_err(StoreError::from_db)
    }
}

/// Begins a transaction for a signed-in caller's tenant, whose first statement checks that the
/// caller's session is still live: not revoked (a logout, here or on another replica), not expired,
/// and the token's user's. Otherwise [`StoreError::SessionEnded`] (401), before any other statement
/// of the request runs. This and [`begin_tenant_read_tx`] are the only ways a request reaches
/// tenant data for a caller (the `api` crate's clippy configuration refuses the `_for` forms there
/// unless a call says why), so no route can skip the check.
///
/// On PostgreSQL the check travels in one message with the `SET LOCAL` that sets the tenant, so
/// it costs no round trip of its own (migration `m20261129_000008`).
///
/// # Errors
/// [`StoreError::SessionEnded`]; [`StoreError`] when the database cannot begin one.
pub async fn begin_tenant_tx(db: &Db, actor: &Actor) -> Result<TenantTx, StoreError> {
    begin(db, actor.tenant_id, Access::ReadWrite, Some(actor)).await
}

/// [`begin_tenant_tx`] for a request that only reads: see [`begin_tenant_read_tx_for`].
///
/// # Errors
/// [`StoreError::SessionEnded`]; [`StoreError`] when the database cannot begin one.
pub async fn begin_tenant_read_tx(db: &Db, actor: &Actor) -> Result<TenantTx, StoreError> {
    begin(db, actor.tenant_id, Access::ReadOnly, Some(actor)).await
}

/// Begins a transaction for a tenant named by something other than a signed-in caller: a login's
/// tenant slug, a refresh token, the sealer's tenant list, the bootstrap. No session is checked.
///
/// # Errors
/// [`StoreError`] when the database cannot begin one.
pub async fn begin_tenant_tx_for(db: &Db, tenant_id: TenantId) -> Result<TenantTx, StoreError> {
    begin(db, tenant_id, Access::ReadWrite, None).await
}

/// Begins a transaction for a tenant that will only read. On SQLite it does not take the write
/// lock (WAL readers never wait for writers), so event streams do not queue behind writes; on
/// PostgreSQL it is an ordinary read-only transaction with the same row-level security as any
/// other. No session is checked.
///
/// # Errors
/// [`StoreError`] when the database cannot begin one.
pub async fn begin_tenant_read_tx_for(db: &Db, tenant_id: TenantId) -> Result<TenantTx, StoreError> {
    begin(db, tenant_id, Access::ReadOnly, None).await
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    ReadWrite,
    ReadOnly,
}

async fn begin(db: &Db, tenant_id: TenantId, access: Access, caller: Option<&Actor>) -> Result<TenantTx, StoreError> {
    let turn = match (&db.writer, access) {
        // SQLite: a writer waits for its turn, as long as SQLite's own busy timeout, then
        // "unavailable" (503): a turn that never comes (a writer waiting for itself) must not hang
        // its request for ever.
        (Some(writer), Access::ReadWrite) => Some(
            tokio::time::timeout(WRITER_TURN_TIMEOUT, std::sync::Arc::clone(writer).acquire_owned())
                .await
                .map_err(|_| DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout))?
                .map_err(|_| DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::ConnectionClosed))?,
        ),
        _ => None,
    };
    // SQLite: a writer takes the write lock at BEGIN, so two writers queue on busy_timeout instead
    // of one failing with SQLITE_BUSY when it upgrades from reading to writing mid-transaction; a
    // reader's deferred transaction takes no lock. PostgreSQL's READ ONLY is set by the first
    // message below rather than by sea-orm, which would spend a round trip on it.
    let sqlite_mode = match access {
        Access::ReadWrite => SqliteTransactionMode::Immediate,
        Access::ReadOnly => SqliteTransactionMode::Deferred,
    };
    let options =
        TransactionOptions { isolation_level: None, access_mode: None, sqlite_transaction_mode: Some(sqlite_mode) };
    let tx = TxConn::new(db.conn.begin_with_options(options).await?);
    if tx.get_database_backend() == DbBackend::Postgres {
        tx.execute_unprepared(&first_message(tenant_id, access, caller)).await.map_err(session_refused)?;
    } else if let Some(actor) = caller {
        crate::store::sessions::require_live(&tx, actor).await?;
    }
    Ok(TenantTx { tx, tenant_id, _writer_turn: turn })
}

/// PostgreSQL: the statements that open a tenant transaction, sent as one simple-protocol message
/// (one round trip). It takes no bind parameters, so the ids are written in: a UUID renders only
/// as `[0-9a-f-]`, so this is safe. `SET LOCAL` (not `set_config`) is what Citus propagates to
/// workers.
fn first_message(tenant_id: TenantId, access: Access, caller: Option<&Actor>) -> String {
    use std::fmt::Write as _;
    let tenant = tenant_id.as_uuid();
    let mut sql = String::with_capacity(200);
    if access == Access::ReadOnly {
        sql.push_str("SET TRANSACTION READ ONLY; ");
    }
    let _ = write!(sql, "SET LOCAL app.tenant_id = '{tenant}'");
    if let Some(actor) = caller {
        let (session, user) = (actor.session_id.as_uuid(), actor.user_id.as_uuid());
        let _ = write!(sql, "; SELECT vcao_require_live_session('{tenant}', '{session}', '{user}')");
    }
    sql
}

/// `vcao_require_live_session`'s refusal (SQLSTATE `VC401`) is a session that ended; anything
/// else is the database's own error.
fn session_refused(err: DbErr) -> StoreError {
    use sea_orm::{RuntimeErr, sqlx};
    if let DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) = &err
        && let sqlx::Error::Database(db) = e.as_ref()
        && db.code().as_deref() == Some(SESSION_NOT_LIVE)
    {
        return StoreError::SessionEnded;
    }
    StoreError::Unexpected(err)
}

/// The SQLSTATE `vcao_require_live_session` raises.
const SESSION_NOT_LIVE: &str = "VC401";

async fn set_tenant(tx: &TxConn, tenant_id: TenantId) -> Result<(), DbErr> {
    if tx.get_database_backend() == DbBackend::Postgres {
        tx.execute_unprepared(&first_message(tenant_id, Access::ReadWrite, None)).await?;
    }
    Ok(())
}

fn owner_url(settings: &Settings) -> Result<String, OpenError> {
    match &settings.database_url {
        Some(url) => Ok(url.expose_secret().to_owned()),
        None => {
            std::fs::create_dir_all(&settings.data_dir)?;
            let path = settings.data_dir.join("vcao.sqlite");
            Ok(format!("sqlite://{}?mode=rwc", path.display()))
        }
    }
}

/// SQLite: how long a writing transaction waits for its turn (see [`begin_tenant_tx_for`]); the
/// same as the connections' busy timeout.
const WRITER_TURN_TIMEOUT: Duration = Duration::from_secs(10);

/// PostgreSQL: a pooled connection idle at least this long is pinged before it is handed out.
/// sqlx's default pings on every acquire, and it also pings on every release (that one cannot be
/// turned off): two of the ten round trips of a `POST /cases` were pings (`strace`, see
/// docs/benchmarks.md). A connection busy within the last second was proven alive by its release
/// ping; one idle longer may have been dropped by a database restart, a proxy or a firewall, and
/// is tested first, so a request never lands on it.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

async fn connect_sqlite(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(max_connections.clamp(1, 16))
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        // An embedded file cannot drop a connection; a ping would only be a hop to its thread.
        .test_before_acquire(false)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                // FULL: a commit acknowledged to a client survives a power cut, not only a crash.
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(WRITER_TURN_TIMEOUT)
        });
    Database::connect(options).await
}

async fn connect_postgres(
    url: &str,
    max_connections: u32,
    as_role: Option<(String, Option<String>)>,
) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire_if_idle_for(PING_WHEN_IDLE_FOR)
        .sqlx_logging(false);
    if let Some((role, password)) = as_role {
        options.map_sqlx_postgres_opts(move |o| {
            let o = o.username(&role);
            match &password {
                Some(p) => o.password(p),
                None => o,
            }
        });
    }
    Database::connect(options).await
}

/// Applies pending migrations. On PostgreSQL this runs in one transaction under an advisory lock,
/// so replicas (or test processes) starting together migrate once and never race.
async fn migrate(conn: &DatabaseConnection) -> Result<(), DbErr> {
    use migrations::MigratorTrait as _;
    if conn.get_database_backend() == DbBackend::Postgres {
        let tx = conn.begin().await?;
        tx.execute_unprepared("SELECT pg_advisory_xact_lock(7436016)").await?;
        migrations::Migrator::up(&tx, None).await?;
        tx.commit().await
    } else {
        migrations::Migrator::up(conn, None).await
    }
}

/// The current time at the precision both backends store (microseconds), so a value returned
/// from a create equals the value a later read returns.
#[must_use]
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound as _;
    chrono::Utc::now().trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    use domain::tenant::TenantKind;
    use domain::user::{Role, RoleSet};
    use domain::{SessionId, UserId};

    use super::*;

    #[test]
    fn the_first_message_sets_the_tenant_and_checks_the_callers_session_in_one_round_trip() {
        let tenant = TenantId::new();
        let actor = Actor {
            tenant_id: tenant,
            tenant_kind: TenantKind::Agency,
            user_id: UserId::new(),
            roles: RoleSet::one(Role::CaseManager),
            session_id: SessionId::new(),
        };
        let (t, s, u) = (tenant.as_uuid(), actor.session_id.as_uuid(), actor.user_id.as_uuid());
        assert_eq!(
            first_message(tenant, Access::ReadWrite, Some(&actor)),
            format!("SET LOCAL app.tenant_id = '{t}'; SELECT vcao_require_live_session('{t}', '{s}', '{u}')")
        );
        assert_eq!(
            first_message(tenant, Access::ReadOnly, Some(&actor)),
            format!(
                "SET TRANSACTION READ ONLY; SET LOCAL app.tenant_id = '{t}'; SELECT vcao_require_live_session('{t}', '{s}', '{u}')"
            )
        );
        assert_eq!(first_message(tenant, Access::ReadWrite, None), format!("SET LOCAL app.tenant_id = '{t}'"));
    }
}
