//! Users' password hashes and one-time reset codes (`password_resets`, kept as keyed hashes).
//! The rules of who may issue a reset and what a code looks like are `domain::passwords`; the
//! hashing is `crate::auth::password`, outside any transaction.

use chrono::{DateTime, Utc};
use domain::UserId;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use super::users::User;
use super::{DbResultExt, StoreError};
use crate::TenantTx;
use crate::entities::{password_reset, user};

/// The user and their current password hash.
///
/// # Errors
/// [`StoreError::NotFound`] when the user is not in this tenant.
pub async fn credentials(tx: &TenantTx, id: UserId) -> Result<(User, String), StoreError> {
    let row = user::Entity::find_by_id((tx.tenant_id().as_uuid(), id.as_uuid()))
        .one(tx.raw())
        .await
        .store()?
        .ok_or(StoreError::NotFound)?;
    let hash = row.password_hash.clone();
    Ok((User::try_from(row)?, hash))
}

/// Replaces the user's password hash with one the user chose (their own change, or a reset code
/// they redeemed), so it no longer needs changing at sign-in.
///
/// # Errors
/// [`StoreError::NotFound`] when the user is not in this tenant.
pub async fn set_hash(tx: &TenantTx, id: UserId, phc: String) -> Result<(), StoreError> {
    let updated = user::Entity::update_many()
        .col_expr(user::Column::PasswordHash, Expr::value(phc))
        .col_expr(user::Column::PasswordChangeRequired, Expr::value(false))
        .col_expr(user::Column::UpdatedAt, Expr::value(crate::db::now()))
        .filter(user::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(user::Column::Id.eq(id.as_uuid()))
        .exec(tx.raw())
        .await
        .store()?;
    if updated.rows_affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

/// Records a reset code (as `code_hash`) for `user`, valid until `expires_at`; any code issued
/// for them before and not yet used stops working.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn issue_reset(
    tx: &TenantTx,
    user: UserId,
    code_hash: String,
    issued_by: UserId,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<Uuid, StoreError> {
    let tenant = tx.tenant_id().as_uuid();
    password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Expr::value(Some(now)))
        .filter(password_reset::Column::TenantId.eq(tenant))
        .filter(password_reset::Column::UserId.eq(user.as_uuid()))
        .filter(password_reset::Column::UsedAt.is_null())
        .exec(tx.raw())
        .await
        .store()?;
    let id = Uuid::now_v7();
    password_reset::ActiveModel {
        tenant_id: Set(tenant),
        id: Set(id),
        user_id: Set(user.as_uuid()),
        code_hash: Set(code_hash),
        issued_by: Set(issued_by.as_uuid()),
        created_at: Set(now),
        expires_at: Set(expires_at),
        used_at: Set(None),
    }
    .insert(tx.raw())
    .await
    .store()?;
    Ok(id)
}

/// The live reset (unused, not expired at `now`) with this hash for `user`, if any.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn live_reset(
    tx: &TenantTx,
    user: UserId,
    code_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, StoreError> {
    let row = password_reset::Entity::find()
        .filter(password_reset::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(password_reset::Column::UserId.eq(user.as_uuid()))
        .filter(password_reset::Column::CodeHash.eq(code_hash))
        .filter(password_reset::Column::UsedAt.is_null())
        .filter(password_reset::Column::ExpiresAt.gt(now))
        .one(tx.raw())
        .await
        .store()?;
    Ok(row.map(|r| r.id))
}

/// Marks the reset used, if it still was not: `false` when another redemption took it first.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn consume_reset(tx: &TenantTx, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let updated = password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Expr::value(Some(now)))
        .filter(password_reset::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(password_reset::Column::Id.eq(id))
        .filter(password_reset::Column::UsedAt.is_null())
        .exec(tx.raw())
        .await
        .store()?;
    Ok(updated.rows_affected == 1)
}
