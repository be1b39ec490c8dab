//! Users' passkeys (sealed, found by a hash of their credential id) and the state between a
//! WebAuthn ceremony's two requests (sealed, five minutes, taken once). The ceremonies themselves
//! are `crate::auth::passkeys`.

use chrono::{DateTime, Utc};
use domain::UserId;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use uuid::Uuid;
use webauthn_rs::prelude::Passkey;

use super::{DbResultExt, StoreError};
use crate::TenantTx;
use crate::auth::passkeys::{credential_hash, passkey_from_json, passkey_to_json};
use crate::crypto::TenantCipher;
use crate::entities::{mfa_passkey, mfa_passkey_ceremony};

/// The sealed field of a passkey.
const PASSKEY: &str = "mfa_passkeys.passkey";
/// The sealed field of a ceremony's state.
const STATE: &str = "mfa_passkey_ceremonies.state";

/// What a ceremony is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Registering a passkey (one at a time per user).
    Registration,
    /// The second step of the sign-in whose challenge this is.
    SignIn(Uuid),
}

impl Purpose {
    const fn name(self) -> &'static str {
        match self {
            Self::Registration => "registration",
            Self::SignIn(_) => "sign_in",
        }
    }

    const fn challenge(self) -> Option<Uuid> {
        match self {
            Self::Registration => None,
            Self::SignIn(id) => Some(id),
        }
    }
}

/// A stored passkey.
#[derive(Clone, Debug)]
pub struct StoredPasskey {
    /// Its id.
    pub id: Uuid,
    /// The passkey.
    pub passkey: Passkey,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it last proved a sign-in.
    pub last_used_at: Option<DateTime<Utc>>,
}

fn of_user(tx: &TenantTx, user: UserId) -> sea_orm::Select<mfa_passkey::Entity> {
    mfa_passkey::Entity::find()
        .filter(mfa_passkey::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(mfa_passkey::Column::UserId.eq(user.as_uuid()))
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{PASSKEY}: {e}"))
}

/// The user's passkeys, oldest first.
///
/// # Errors
/// [`StoreError`] on database or decryption failure.
pub async fn list(tx: &TenantTx, cipher: &TenantCipher, user: UserId) -> Result<Vec<StoredPasskey>, StoreError> {
    let rows = of_user(tx, user).order_by_asc(mfa_passkey::Column::Id).all(tx.raw()).await.store()?;
    rows.into_iter()
        .map(|row| {
            let passkey = passkey_from_json(&cipher.open(PASSKEY, row.id, &row.passkey_sealed)?).map_err(corrupt)?;
            Ok(StoredPasskey { id: row.id, passkey, created_at: row.created_at, last_used_at: row.last_used_at })
        })
        .collect()
}

/// Whether the user has a passkey.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn has_any(tx: &TenantTx, user: UserId) -> Result<bool, StoreError> {
    Ok(of_user(tx, user).one(tx.raw()).await.store()?.is_some())
}

/// Adds a passkey for `user`; its id and when.
///
/// # Errors
/// [`StoreError::Conflict`] when the same credential is registered already; database or
/// encryption failures.
pub async fn add(
    tx: &TenantTx,
    cipher: &TenantCipher,
    user: UserId,
    passkey: &Passkey,
) -> Result<(Uuid, DateTime<Utc>), StoreError> {
    let id = Uuid::now_v7();
    let now = crate::db::now();
    let sealed = cipher.seal(PASSKEY, id, &passkey_to_json(passkey).map_err(corrupt)?)?;
    mfa_passkey::ActiveModel {
        tenant_id: Set(tx.tenant_id().as_uuid()),
        id: Set(id),
        user_id: Set(user.as_uuid()),
        credential_hash: Set(credential_hash(passkey)),
        passkey_sealed: Set(sealed),
        created_at: Set(now),
        last_used_at: Set(None),
    }
    .insert(tx.raw())
    .await
    .store()?;
    Ok((id, now))
}

/// Records that `stored` proved a sign-in at `now`, with its passkey as it now is (its counter).
///
/// # Errors
/// [`StoreError`] on database or encryption failure.
pub async fn used(
    tx: &TenantTx,
    cipher: &TenantCipher,
    stored: &StoredPasskey,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let sealed = cipher.seal(PASSKEY, stored.id, &passkey_to_json(&stored.passkey).map_err(corrupt)?)?;
    mfa_passkey::Entity::update_many()
        .col_expr(mfa_passkey::Column::PasskeySealed, Expr::value(sealed))
        .col_expr(mfa_passkey::Column::LastUsedAt, Expr::value(Some(now)))
        .filter(mfa_passkey::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(mfa_passkey::Column::Id.eq(stored.id))
        .exec(tx.raw())
        .await
        .store()?;
    Ok(())
}

/// Removes one of the user's passkeys: `false` when they have none with this id.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn remove(tx: &TenantTx, user: UserId, id: Uuid) -> Result<bool, StoreError> {
    let deleted = mfa_passkey::Entity::delete_many()
        .filter(mfa_passkey::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(mfa_passkey::Column::UserId.eq(user.as_uuid()))
        .filter(mfa_passkey::Column::Id.eq(id))
        .exec(tx.raw())
        .await
        .store()?;
    Ok(deleted.rows_affected == 1)
}

/// Removes every passkey of the user, and any ceremony under way.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn remove_all(tx: &TenantTx, user: UserId) -> Result<(), StoreError> {
    let tenant = tx.tenant_id().as_uuid();
    mfa_passkey::Entity::delete_many()
        .filter(mfa_passkey::Column::TenantId.eq(tenant))
        .filter(mfa_passkey::Column::UserId.eq(user.as_uuid()))
        .exec(tx.raw())
        .await
        .store()?;
    mfa_passkey_ceremony::Entity::delete_many()
        .filter(mfa_passkey_ceremony::Column::TenantId.eq(tenant))
        .filter(mfa_passkey_ceremony::Column::UserId.eq(user.as_uuid()))
        .exec(tx.raw())
        .await
        .store()?;
    Ok(())
}

fn ceremony_of(tx: &TenantTx, user: UserId, purpose: Purpose) -> sea_orm::DeleteMany<mfa_passkey_ceremony::Entity> {
    let mut delete = mfa_passkey_ceremony::Entity::delete_many()
        .filter(mfa_passkey_ceremony::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(mfa_passkey_ceremony::Column::UserId.eq(user.as_uuid()))
        .filter(mfa_passkey_ceremony::Column::Purpose.eq(purpose.name()));
    if let Some(challenge) = purpose.challenge() {
        delete = delete.filter(mfa_passkey_ceremony::Column::ChallengeId.eq(challenge));
    }
    delete
}

/// Keeps a ceremony's `state` until `expires_at`, replacing one begun before for the same
/// purpose (a second click of "add a passkey" starts over).
///
/// # Errors
/// [`StoreError`] on database or encryption failure.
pub async fn begin_ceremony(
    tx: &TenantTx,
    cipher: &TenantCipher,
    user: UserId,
    purpose: Purpose,
    state: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    ceremony_of(tx, user, purpose).exec(tx.raw()).await.store()?;
    let id = Uuid::now_v7();
    mfa_passkey_ceremony::ActiveModel {
        tenant_id: Set(tx.tenant_id().as_uuid()),
        id: Set(id),
        user_id: Set(user.as_uuid()),
        purpose: Set(purpose.name().to_owned()),
        challenge_id: Set(purpose.challenge()),
        state_sealed: Set(cipher.seal(STATE, id, state)?),
        created_at: Set(crate::db::now()),
        expires_at: Set(expires_at),
    }
    .insert(tx.raw())
    .await
    .store()?;
    Ok(())
}

/// Takes the ceremony's state, if one is live at `now`: it is deleted, so its challenge is
/// answered once whatever the answer.
///
/// # Errors
/// [`StoreError`] on database or decryption failure.
pub async fn take_ceremony(
    tx: &TenantTx,
    cipher: &TenantCipher,
    user: UserId,
    purpose: Purpose,
    now: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    let taken = ceremony_of(tx, user, purpose).exec_with_returning(tx.raw()).await.store()?;
    let Some(row) = taken.into_iter().find(|row| row.expires_at > now) else { return Ok(None) };
    Ok(Some(cipher.open(STATE, row.id, &row.state_sealed)?))
}
