//! Stored responses of idempotent creates, written in the same transaction as the effect, so a
//! response is replayable exactly when its effect committed.
//!
//! Nothing here is plaintext at rest: the answer (which carries what was created, a client's name
//! or a note's body) is sealed with the tenant's data key, bound to the request it answers, and the
//! client's key is kept only as a keyed hash (a careless client may put a name in it). Rows past
//! the replay window count as unused and are purged by [`delete_expired`].

use chrono::{DateTime, Duration, Utc};
use domain::UserId;
use domain::idempotency::{IdempotencyKey, REPLAY_WINDOW_SECONDS};
use sea_orm::{
    ColumnTrait as _, ConnectionTrait, DbBackend, EntityTrait, QueryFilter as _, QueryOrder as _, QuerySelect as _,
    QueryTrait as _, Set, Statement,
};

use super::{DbResultExt, StoreError};
use crate::TenantTx;
use crate::crypto::TenantCipher;
use crate::entities::idempotency_key;

/// The sealed column, as the cipher's associated data names it.
const SEALED_FIELD: &str = "idempotency_keys.response_sealed";

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

/// The stored form of a client's key: its keyed hash, hex.
fn stored_key(cipher: &TenantCipher, key: &IdempotencyKey) -> String {
    hex::encode(cipher.blind_index("idempotency_keys.key", key.as_str()))
}

/// The row the sealed answer is bound to: the request's fingerprint, so an answer cannot be moved
/// to another key's row and opened there.
fn sealed_row(request_hash: &[u8]) -> Result<uuid::Uuid, StoreError> {
    let bytes =
        request_hash.get(..16).ok_or_else(|| StoreError::Corrupt("idempotency request hash too short".into()))?;
    uuid::Uuid::from_slice(bytes).map_err(|_| StoreError::Corrupt("idempotency request hash unreadable".into()))
}

/// Takes the key's lock until the transaction ends; false when another request holds it. On
/// PostgreSQL a transaction-scoped advisory lock; on SQLite the transaction's write lock already
/// serialises requests, so it always succeeds.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn try_lock(tx: &TenantTx, cipher: &TenantCipher, key: &IdempotencyKey) -> Result<bool, StoreError> {
    if tx.raw().get_database_backend() != DbBackend::Postgres {
        return Ok(true);
    }
    let row = tx
        .raw()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_try_advisory_xact_lock(7436019, hashtext($1)) AS locked",
            [format!("{}:{}", tx.tenant_id(), stored_key(cipher, key)).into()],
        ))
        .await
        .store()?;
    Ok(row.map(|r| r.try_get::<bool>("", "locked")).transpose().store()? == Some(true))
}

/// Looks a key up. A key older than the replay window counts as unused and is overwritten.
///
/// # Errors
/// [`StoreError`] on database failure, and [`StoreError::Corrupt`] when a stored answer does not
/// open or its status is not one.
pub async fn find(
    tx: &TenantTx,
    cipher: &TenantCipher,
    key: &IdempotencyKey,
    request_hash: &[u8],
) -> Result<Prior, StoreError> {
    let id = (tx.tenant_id().as_uuid(), stored_key(cipher, key));
    let row = idempotency_key::Entity::find_by_id(id.clone()).one(tx.raw()).await.store()?;
    let Some(row) = row else { return Ok(Prior::None) };
    if row.created_at + Duration::seconds(REPLAY_WINDOW_SECONDS) < crate::db::now() {
        idempotency_key::Entity::delete_by_id(id).exec(tx.raw()).await.store()?;
        return Ok(Prior::None);
    }
    if row.request_hash != request_hash {
        return Ok(Prior::Mismatch);
    }
    let status = u16::try_from(row.status_code)
        .map_err(|_| StoreError::Corrupt(format!("idempotency status {} unreadable", row.status_code)))?;
    let body = cipher.open(SEALED_FIELD, sealed_row(&row.request_hash)?, &row.response_sealed)?;
    Ok(Prior::Replay(StoredResponse { status, body, location: row.location }))
}

/// Records the response of a request made with `key`, appended (`TenantTx::append`): written with
/// the change's other appends at its commit. The commit answers [`StoreError::Conflict`] on
/// `idempotency_keys.key` when a request with the same key committed first (only possible without
/// [`try_lock`]): the effect rolls back and the client retries.
///
/// # Errors
/// [`StoreError`] when the answer cannot be sealed.
pub fn record(
    tx: &TenantTx,
    cipher: &TenantCipher,
    key: &IdempotencyKey,
    user_id: UserId,
    request_hash: Vec<u8>,
    response: &StoredResponse,
) -> Result<(), StoreError> {
    let sealed = cipher.seal(SEALED_FIELD, sealed_row(&request_hash)?, &response.body)?;
    let row = idempotency_key::ActiveModel {
        tenant_id: Set(tx.tenant_id().as_uuid()),
        key: Set(stored_key(cipher, key)),
        user_id: Set(user_id.as_uuid()),
        request_hash: Set(request_hash),
        status_code: Set(i32::from(response.status)),
        response_sealed: Set(sealed),
        location: Set(response.location.clone()),
        created_at: Set(crate::db::now()),
    };
    tx.append(idempotency_key::Entity::insert(row).into_query());
    Ok(())
}

/// Deletes at most `limit` of the tenant's stored answers made before `before`, oldest first, and
/// says how many went.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn delete_expired(tx: &TenantTx, before: DateTime<Utc>, limit: u64) -> Result<u64, StoreError> {
    let tenant = tx.tenant_id().as_uuid();
    let oldest = idempotency_key::Entity::find()
        .select_only()
        .column(idempotency_key::Column::Key)
        .filter(idempotency_key::Column::TenantId.eq(tenant))
        .filter(idempotency_key::Column::CreatedAt.lt(before))
        .order_by_asc(idempotency_key::Column::CreatedAt)
        .limit(limit)
        .into_query();
    let result = idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::TenantId.eq(tenant))
        .filter(idempotency_key::Column::Key.in_subquery(oldest))
        .exec(tx.raw())
        .await
        .store()?;
    Ok(result.rows_affected)
}
