//! Users' second factors: the TOTP secret (sealed), its last accepted step, recovery codes (keyed
//! hashes) and the sign-in challenges waiting for a second step (token hashes). The rules are
//! `domain::mfa`; the codes are checked in `crate::auth::totp`.

use chrono::{DateTime, Utc};
use domain::UserId;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use super::{DbResultExt, StoreError};
use crate::TenantTx;
use crate::crypto::TenantCipher;
use crate::entities::{mfa_challenge, mfa_recovery_code, mfa_totp};

/// The sealed field of a TOTP secret.
const SECRET: &str = "mfa_totp.secret";

/// A user's authenticator, as stored.
#[derive(Clone)]
pub struct Totp {
    /// The secret (base32 of it is what the user typed or scanned).
    pub secret: Vec<u8>,
    /// Whether a code from it was shown once, so sign-ins ask for it.
    pub confirmed: bool,
    /// The last time step a code was accepted for.
    pub last_step: Option<u64>,
}

impl std::fmt::Debug for Totp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Totp").field("confirmed", &self.confirmed).finish_non_exhaustive()
    }
}

fn of_user(tx: &TenantTx, user: UserId) -> sea_orm::Select<mfa_totp::Entity> {
    mfa_totp::Entity::find()
        .filter(mfa_totp::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(mfa_totp::Column::UserId.eq(user.as_uuid()))
}

/// The user's authenticator, confirmed or not.
///
/// # Errors
/// [`StoreError`] on database or decryption failure.
pub async fn totp(tx: &TenantTx, cipher: &TenantCipher, user: UserId) -> Result<Option<Totp>, StoreError> {
    let Some(row) = of_user(tx, user).one(tx.raw()).await.store()? else { return Ok(None) };
    let sealed = row.secret_sealed.as_deref().ok_or(StoreError::Corrupt("mfa_totp.secret_sealed".to_owned()))?;
    let secret = super::decode_json::<Vec<u8>>(SECRET, &cipher.open(SECRET, row.id, sealed)?)?;
    Ok(Some(Totp {
        secret,
        confirmed: row.confirmed_at.is_some(),
        last_step: row.last_step.and_then(|s| u64::try_from(s).ok()),
    }))
}

/// The second-step methods the user has: `totp` for a confirmed authenticator, `webauthn` for a
/// passkey (`domain::mfa::methods_of`'s input); empty when a password alone signs them in.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn factors(tx: &TenantTx, user: UserId) -> Result<domain::mfa::Factors, StoreError> {
    let totp = of_user(tx, user).filter(mfa_totp::Column::ConfirmedAt.is_not_null()).one(tx.raw()).await.store()?;
    Ok(domain::mfa::Factors { totp: totp.is_some(), passkey: super::passkeys::has_any(tx, user).await? })
}

/// Whether the user has a second factor (a sign-in then asks for a second step).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn has_confirmed(tx: &TenantTx, user: UserId) -> Result<bool, StoreError> {
    Ok(factors(tx, user).await?.any())
}

/// Whether the user has an authenticator (confirmed or not) or a passkey.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn has_any(tx: &TenantTx, user: UserId) -> Result<bool, StoreError> {
    Ok(of_user(tx, user).one(tx.raw()).await.store()?.is_some() || super::passkeys::has_any(tx, user).await?)
}

/// Starts enrolment: `secret` replaces any unconfirmed one.
///
/// # Errors
/// [`StoreError`] on database or encryption failure.
pub async fn enrol(tx: &TenantTx, cipher: &TenantCipher, user: UserId, secret: &[u8]) -> Result<(), StoreError> {
    remove_totp(tx, user).await?;
    let id = Uuid::now_v7();
    let sealed = cipher.seal(SECRET, id, &super::encode_json(SECRET, &secret.to_vec())?)?;
    mfa_totp::ActiveModel {
        tenant_id: Set(tx.tenant_id().as_uuid()),
        id: Set(id),
        user_id: Set(user.as_uuid()),
        secret_sealed: Set(Some(sealed)),
        confirmed_at: Set(None),
        last_step: Set(None),
        created_at: Set(crate::db::now()),
    }
    .insert(tx.raw())
    .await
    .store()?;
    Ok(())
}

/// Records that a code of `step` was accepted (and, with `confirm`, that enrolment is confirmed),
/// only if no later or equal step was accepted before: `false` when one was (a replay).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn accept_step(tx: &TenantTx, user: UserId, step: u64, confirm: bool) -> Result<bool, StoreError> {
    let step = i64::try_from(step).map_err(|_| StoreError::Corrupt("mfa step".to_owned()))?;
    let mut update = mfa_totp::Entity::update_many()
        .col_expr(mfa_totp::Column::LastStep, Expr::value(Some(step)))
        .filter(mfa_totp::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(mfa_totp::Column::UserId.eq(user.as_uuid()))
        .filter(
            sea_orm::Condition::any()
                .add(mfa_totp::Column::LastStep.is_null())
                .add(mfa_totp::Column::LastStep.lt(step)),
        );
    if confirm {
        update = update.col_expr(mfa_totp::Column::ConfirmedAt, Expr::value(Some(crate::db::now())));
    }
    Ok(update.exec(tx.raw()).await.store()?.rows_affected == 1)
}

/// Removes the user's authenticator (their passkeys and recovery codes stay).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn remove_totp(tx: &TenantTx, user: UserId) -> Result<(), StoreError> {
    mfa_totp::Entity::delete_many()
        .filter(mfa_totp::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(mfa_totp::Column::UserId.eq(user.as_uuid()))
        .exec(tx.raw())
        .await
        .store()?;
    Ok(())
}

/// Removes every second factor of the user: authenticator, passkeys and recovery codes.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn remove_all(tx: &TenantTx, user: UserId) -> Result<(), StoreError> {
    remove_totp(tx, user).await?;
    super::passkeys::remove_all(tx, user).await?;
    remove_recovery_codes(tx, user).await
}

/// Removes the user's recovery codes (when no second factor is left for them to stand in for).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn remove_recovery_codes(tx: &TenantTx, user: UserId) -> Result<(), StoreError> {
    let tenant = tx.tenant_id().as_uuid();
    mfa_recovery_code::Entity::delete_many()
        .filter(mfa_recovery_code::Column::TenantId.eq(tenant))
        .filter(mfa_recovery_code::Column::UserId.eq(user.as_uuid()))
        .exec(tx.raw())
        .await
        .store()?;
    Ok(())
}

/// Replaces the user's recovery codes with these (keyed hashes).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn replace_recovery_codes(tx: &TenantTx, user: UserId, hashes: Vec<String>) -> Result<(), StoreError> {
    let tenant = tx.tenant_id().as_uuid();
    mfa_recovery_code::Entity::delete_many()
        .filter(mfa_recovery_code::Column::TenantId.eq(tenant))
        .filter(mfa_recovery_code::Column::UserId.eq(user.as_uuid()))
        .exec(tx.raw())
        .await
        .store()?;
    let now = crate::db::now();
    for code_hash in hashes {
        mfa_recovery_code::ActiveModel {
            tenant_id: Set(tenant),
            id: Set(Uuid::now_v7()),
            user_id: Set(user.as_uuid()),
            code_hash: Set(code_hash),
            created_at: Set(now),
            used_at: Set(None),
        }
        .insert(tx.raw())
        .await
        .store()?;
    }
    Ok(())
}

/// Spends the user's unused recovery code with this hash: `false` when there is none.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn use_recovery_code(
    tx: &TenantTx,
    user: UserId,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let updated = mfa_recovery_code::Entity::update_many()
        .col_expr(mfa_recovery_code::Column::UsedAt, Expr::value(Some(now)))
        .filter(mfa_recovery_code::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(mfa_recovery_code::Column::UserId.eq(user.as_uuid()))
        .filter(mfa_recovery_code::Column::CodeHash.eq(hash))
        .filter(mfa_recovery_code::Column::UsedAt.is_null())
        .exec(tx.raw())
        .await
        .store()?;
    Ok(updated.rows_affected == 1)
}

/// Records a challenge for `user`: the hash of the `mfa_token` a sign-in answered with.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn challenge(
    tx: &TenantTx,
    user: UserId,
    token_hash: Vec<u8>,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    mfa_challenge::ActiveModel {
        tenant_id: Set(tx.tenant_id().as_uuid()),
        id: Set(Uuid::now_v7()),
        user_id: Set(user.as_uuid()),
        token_hash: Set(token_hash),
        created_at: Set(crate::db::now()),
        expires_at: Set(expires_at),
        used_at: Set(None),
    }
    .insert(tx.raw())
    .await
    .store()?;
    Ok(())
}

/// The live challenge (unused, unexpired at `now`) with this token hash: its id and user.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn live_challenge(
    tx: &TenantTx,
    token_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<(Uuid, UserId)>, StoreError> {
    let row = mfa_challenge::Entity::find()
        .filter(mfa_challenge::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(mfa_challenge::Column::TokenHash.eq(token_hash.to_vec()))
        .filter(mfa_challenge::Column::UsedAt.is_null())
        .filter(mfa_challenge::Column::ExpiresAt.gt(now))
        .one(tx.raw())
        .await
        .store()?;
    Ok(row.map(|r| (r.id, UserId::from_uuid(r.user_id))))
}

/// Spends a challenge: `false` when a concurrent second step spent it first.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn spend_challenge(tx: &TenantTx, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let updated = mfa_challenge::Entity::update_many()
        .col_expr(mfa_challenge::Column::UsedAt, Expr::value(Some(now)))
        .filter(mfa_challenge::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(mfa_challenge::Column::Id.eq(id))
        .filter(mfa_challenge::Column::UsedAt.is_null())
        .exec(tx.raw())
        .await
        .store()?;
    Ok(updated.rows_affected == 1)
}
