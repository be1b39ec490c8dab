//! Stored responses of idempotent creates, written in the same transaction as the effect, so a
//! response is replayable exactly when its effect committed.

use chrono::Duration;
use domain::UserId;
use domain::idempotency::{IdempotencyKey, REPLAY_WINDOW_SECONDS};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, QueryTrait as _, Set, Statement};

use super::{DbResultExt, StoreError};
use crate::TenantTx;
use crate::entities::idempotency_key;

/// A response as first sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResponse {
    /// The status code.
    pub status: u16,
    /// The JSON body.
    pub body: String,
    /// The `Location` header, if any.
    pub location: Option<String>,
}

/// What an earlier use of a key says about this request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prior {
    /// Never used (or used more than 24 h ago): go ahead.
    None,
    /// Used for this very request: send this again.
    Replay(StoredResponse),
    /// Used for a different request: refuse.
    Mismatch,
}

/// Takes the key's lock until the transaction ends; false when another request holds it. On
/// PostgreSQL a transaction-scoped advisory lock; on SQLite the transaction's write lock already
/// serialises requests, so it always succeeds.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn try_lock(tx: &TenantTx, key: &IdempotencyKey) -> Result<bool, StoreError> {
    if tx.raw().get_database_backend() != DbBackend::Postgres {
        return Ok(true);
    }
    let row = tx
        .raw()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_try_advisory_xact_lock(7436019, hashtext($1)) AS locked",
            [format!("{}:{}", tx.tenant_id(), key.as_str()).into()],
        ))
        .await
        .store()?;
    Ok(row.map(|r| r.try_get::<bool>("", "locked")).transpose().store()? == Some(true))
}

/// Looks a key up. A key older than the replay window counts as unused and is overwritten.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn find(tx: &TenantTx, key: &IdempotencyKey, request_hash: &[u8]) -> Result<Prior, StoreError> {
    let row = idempotency_key::Entity::find_by_id((tx.tenant_id().as_uuid(), key.as_str().to_owned()))
        .one(tx.raw())
        .await
        .store()?;
    let Some(row) = row else { return Ok(Prior::None) };
    if row.created_at + Duration::seconds(REPLAY_WINDOW_SECONDS) < crate::db::now() {
        idempotency_key::Entity::delete_by_id((tx.tenant_id().as_uuid(), key.as_str().to_owned()))
            .exec(tx.raw())
            .await
            .store()?;
        return Ok(Prior::None);
    }
    if row.request_hash != request_hash {
        return Ok(Prior::Mismatch);
    }
    Ok(Prior::Replay(StoredResponse {
        status: u16::try_from(row.status_code).unwrap_or(500),
        body: row.response_body,
        location: row.location,
    }))
}

/// Records the response of a request made with `key`, appended (`TenantTx::append`): written with
/// the change's other appends at its commit. The commit answers [`StoreError::Conflict`] on
/// `idempotency_keys.key` when a request with the same key committed first (only possible without
/// [`try_lock`]): the effect rolls back and the client retries.
pub fn record(tx: &TenantTx, key: &IdempotencyKey, user_id: UserId, request_hash: Vec<u8>, response: &StoredResponse) {
    let row = idempotency_key::ActiveModel {
        tenant_id: Set(tx.tenant_id().as_uuid()),
        key: Set(key.as_str().to_owned()),
        user_id: Set(user_id.as_uuid()),
        request_hash: Set(request_hash),
        status_code: Set(i32::from(response.status)),
        response_body: Set(response.body.clone()),
        location: Set(response.location.clone()),
        created_at: Set(crate::db::now()),
    };
    tx.append(idempotency_key::Entity::insert(row).into_query());
}
