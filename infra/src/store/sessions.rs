//! Sign-in sessions and their refresh tokens. A session is the family of refresh tokens one login
//! starts; revoking it ends every token of the family and every access token that names it.

use chrono::{DateTime, Duration, Utc};
use domain::authz::Actor;
use domain::{SessionId, UserId};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QuerySelect as _, Set};

use super::{DbResultExt, StoreError};
use crate::TenantTx;
use crate::crypto::TenantCipher;
use crate::entities::{refresh_token, session};

/// A refresh token as found by its hash.
#[derive(Clone, Debug)]
pub struct RefreshRecord {
    /// The token row.
    pub id: uuid::Uuid,
    /// Its family.
    pub session_id: SessionId,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Set once it has been exchanged.
    pub used_at: Option<DateTime<Utc>>,
}

/// Starts a session for `user_id` that lives `ttl`, remembering the user agent that signed in
/// (sealed with the tenant's key).
///
/// # Errors
/// [`StoreError`] on database or encryption failure.
pub async fn start(
    tx: &TenantTx,
    cipher: &TenantCipher,
    user_id: UserId,
    ttl: Duration,
    user_agent: Option<&str>,
) -> Result<SessionId, StoreError> {
    let id = SessionId::new();
    let now = crate::db::now();
    let user_agent_sealed = cipher.seal_opt(USER_AGENT, id.as_uuid(), user_agent)?;
    session::ActiveModel {
        tenant_id: Set(tx.tenant_id().as_uuid()),
        id: Set(id.as_uuid()),
        user_id: Set(user_id.as_uuid()),
        created_at: Set(now),
        expires_at: Set(now + ttl),
        revoked_at: Set(None),
        revoked_reason: Set(None),
        user_agent_sealed: Set(user_agent_sealed),
    }
    .insert(tx.raw())
    .await
    .store()?;
    Ok(id)
}

/// The sealed field of a session's user agent.
const USER_AGENT: &str = "sessions.user_agent";

/// A live session, as its user sees it.
#[derive(Clone, Debug)]
pub struct LiveSession {
    /// Its id.
    pub id: SessionId,
    /// When it signed in.
    pub created_at: DateTime<Utc>,
    /// When its tokens were last issued (at sign-in or the last refresh).
    pub last_used_at: DateTime<Utc>,
    /// When it ends at the latest.
    pub expires_at: DateTime<Utc>,
    /// The user agent that signed in.
    pub user_agent: Option<String>,
}

/// The user's live sessions (not revoked, not expired at `now`), newest first.
///
/// # Errors
/// [`StoreError`] on database or decryption failure.
pub async fn live_of(
    tx: &TenantTx,
    cipher: &TenantCipher,
    user_id: UserId,
    now: DateTime<Utc>,
) -> Result<Vec<LiveSession>, StoreError> {
    use sea_orm::QueryOrder as _;
    let tenant = tx.tenant_id().as_uuid();
    let rows = session::Entity::find()
        .filter(session::Column::TenantId.eq(tenant))
        .filter(session::Column::UserId.eq(user_id.as_uuid()))
        .filter(session::Column::RevokedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(now))
        .order_by_desc(session::Column::CreatedAt)
        .all(tx.raw())
        .await
        .store()?;
    // The newest refresh token of each, in one statement.
    let ids: Vec<uuid::Uuid> = rows.iter().map(|r| r.id).collect();
    let tokens: Vec<(uuid::Uuid, DateTime<Utc>)> = refresh_token::Entity::find()
        .select_only()
        .column(refresh_token::Column::SessionId)
        .column(refresh_token::Column::CreatedAt)
        .filter(refresh_token::Column::TenantId.eq(tenant))
        .filter(refresh_token::Column::SessionId.is_in(ids))
        .into_tuple()
        .all(tx.raw())
        .await
        .store()?;
    rows.into_iter()
        .map(|row| {
            let last = tokens.iter().filter(|(s, _)| *s == row.id).map(|(_, at)| *at).max();
            Ok(LiveSession {
                id: SessionId::from_uuid(row.id),
                created_at: row.created_at,
                last_used_at: last.unwrap_or(row.created_at).max(row.created_at),
                expires_at: row.expires_at,
                user_agent: cipher.open_opt(USER_AGENT, row.id, row.user_agent_sealed.as_deref())?,
            })
        })
        .collect()
}

/// Ends `id` if it is a live session of `user_id`: `false` when it is not (another user's, ended,
/// or none).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn revoke_own(
    tx: &TenantTx,
    user_id: UserId,
    id: SessionId,
    reason: &'static str,
) -> Result<bool, StoreError> {
    let own = session::Entity::find()
        .filter(session::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(session::Column::Id.eq(id.as_uuid()))
        .filter(session::Column::UserId.eq(user_id.as_uuid()))
        .filter(session::Column::RevokedAt.is_null())
        .one(tx.raw())
        .await
        .store()?;
    if own.is_none() {
        return Ok(false);
    }
    revoke(tx, id, reason).await?;
    Ok(true)
}

/// Stores the hash of a new refresh token of `session_id`.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn add_refresh_token(
    tx: &TenantTx,
    session_id: SessionId,
    token_hash: Vec<u8>,
    ttl: Duration,
) -> Result<(), StoreError> {
    let now = crate::db::now();
    refresh_token::ActiveModel {
        tenant_id: Set(tx.tenant_id().as_uuid()),
        id: Set(uuid::Uuid::now_v7()),
        session_id: Set(session_id.as_uuid()),
        token_hash: Set(token_hash),
        created_at: Set(now),
        expires_at: Set(now + ttl),
        used_at: Set(None),
    }
    .insert(tx.raw())
    .await
    .store()?;
    Ok(())
}

/// The refresh token with this hash.
///
/// # Errors
/// [`StoreError::NotFound`] when no token has it.
pub async fn find_refresh_token(tx: &TenantTx, token_hash: &[u8]) -> Result<RefreshRecord, StoreError> {
    let row = refresh_token::Entity::find()
        .filter(refresh_token::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(refresh_token::Column::TokenHash.eq(token_hash.to_vec()))
        .one(tx.raw())
        .await
        .store()?
        .ok_or(StoreError::NotFound)?;
    Ok(RefreshRecord {
        id: row.id,
        session_id: SessionId::from_uuid(row.session_id),
        expires_at: row.expires_at,
        used_at: row.used_at,
    })
}

/// Marks a refresh token used, only if it was not already: exactly one of two racing exchanges
/// of the same token wins; the loser is treated as reuse.
///
/// # Errors
/// [`StoreError::Conflict`] when it had already been used.
pub async fn mark_refresh_token_used(tx: &TenantTx, id: uuid::Uuid) -> Result<(), StoreError> {
    let result = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(Some(crate::db::now())))
        .filter(refresh_token::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(refresh_token::Column::Id.eq(id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .exec(tx.raw())
        .await
        .store()?;
    if result.rows_affected == 1 { Ok(()) } else { Err(StoreError::Conflict { constraint: "refresh_tokens.used" }) }
}

/// The session's owner, if it is still live (not revoked, not expired).
///
/// # Errors
/// [`StoreError::NotFound`] when the session is unknown, revoked or expired.
pub async fn live_session_user(tx: &TenantTx, id: SessionId) -> Result<UserId, StoreError> {
    let row = session::Entity::find_by_id((tx.tenant_id().as_uuid(), id.as_uuid()))
        .one(tx.raw())
        .await
        .store()?
        .ok_or(StoreError::NotFound)?;
    live_owner(&row)
}

/// SQLite's form of the check that opens every signed-in caller's transaction
/// (`db::begin_tenant_tx`): the caller's session is live and the token's user's. PostgreSQL asks
/// `vcao_require_live_session` in the transaction's first message instead. Same rule as
/// [`live_session_user`].
///
/// # Errors
/// [`StoreError::SessionEnded`] when the session is unknown, revoked, expired or another user's;
/// the database error.
pub(crate) async fn require_live(tx: &crate::db::TxConn, actor: &Actor) -> Result<(), StoreError> {
    let row = session::Entity::find_by_id((actor.tenant_id.as_uuid(), actor.session_id.as_uuid()))
        .one(tx)
        .await
        .store()?
        .ok_or(StoreError::SessionEnded)?;
    match live_owner(&row) {
        Ok(user) if user == actor.user_id => Ok(()),
        _ => Err(StoreError::SessionEnded),
    }
}

/// The session's user while it is live: neither revoked nor expired.
fn live_owner(row: &session::Model) -> Result<UserId, StoreError> {
    if row.revoked_at.is_some() || row.expires_at <= crate::db::now() {
        return Err(StoreError::NotFound);
    }
    Ok(UserId::from_uuid(row.user_id))
}

/// Revokes a session (idempotent); `reason` is a fixed word such as `logout` or `refresh_reuse`.
/// Returns when the session would have expired, for the revocation cache's TTL.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn revoke(tx: &TenantTx, id: SessionId, reason: &'static str) -> Result<Option<DateTime<Utc>>, StoreError> {
    session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(Some(crate::db::now())))
        .col_expr(session::Column::RevokedReason, Expr::value(Some(reason.to_owned())))
        .filter(session::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(session::Column::Id.eq(id.as_uuid()))
        .filter(session::Column::RevokedAt.is_null())
        .exec(tx.raw())
        .await
        .store()?;
    let row = session::Entity::find_by_id((tx.tenant_id().as_uuid(), id.as_uuid())).one(tx.raw()).await.store()?;
    Ok(row.map(|r| r.expires_at))
}

/// Revokes every live session of a user (deactivation, role change, a reset password).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn revoke_all_for_user(
    tx: &TenantTx,
    user_id: UserId,
    reason: &'static str,
) -> Result<Vec<SessionId>, StoreError> {
    revoke_all_but(tx, user_id, None, reason).await
}

/// Revokes every live session of a user but `keep` (the one that changed the password).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn revoke_all_but(
    tx: &TenantTx,
    user_id: UserId,
    keep: Option<SessionId>,
    reason: &'static str,
) -> Result<Vec<SessionId>, StoreError> {
    let mut query = session::Entity::find()
        .filter(session::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(session::Column::UserId.eq(user_id.as_uuid()))
        .filter(session::Column::RevokedAt.is_null());
    if let Some(keep) = keep {
        query = query.filter(session::Column::Id.ne(keep.as_uuid()));
    }
    let live: Vec<uuid::Uuid> = query.all(tx.raw()).await.store()?.into_iter().map(|s| s.id).collect();
    for id in &live {
        revoke(tx, SessionId::from_uuid(*id), reason).await?;
    }
    Ok(live.into_iter().map(SessionId::from_uuid).collect())
}
