//! Tenants' data keys, stored wrapped by the master key, and the cipher each request uses.

use std::sync::Arc;

use domain::TenantId;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::{DbResultExt, StoreError};
use crate::crypto::{Keyring, TenantCipher};
use crate::db::{Db, begin_tenant_tx_for};
use crate::entities::tenant_key;

/// The tenant's cipher: from the process cache, else unwrapped from `tenant_keys`, else made now
/// (the first personal record of a tenant creates its key). Runs in its own short transaction so
/// that a race between two first writers never aborts a request's transaction.
///
/// # Errors
/// [`StoreError`] on database failure or when no configured master key opens the tenant key.
pub async fn cipher(db: &Db, keyring: &Keyring, tenant: TenantId) -> Result<Arc<TenantCipher>, StoreError> {
    if let Some(cipher) = keyring.cached(tenant) {
        return Ok(cipher);
    }
    let tx = begin_tenant_tx_for(db, tenant).await?;
    let existing = latest(&tx, tenant).await?;
    let row = match existing {
        Some(row) => row,
        None => {
            let data_key = crate::auth::random_bytes::<32>().map_err(|_| crate::crypto::CryptoError::Random)?;
            let row = tenant_key::ActiveModel {
                tenant_id: Set(tenant.as_uuid()),
                version: Set(1),
                master_key_id: Set(keyring.current().id().to_owned()),
                wrapped_key: Set(keyring.current().wrap(tenant, &data_key)?),
                created_at: Set(crate::db::now()),
            };
            tenant_key::Entity::insert(row)
                .on_conflict(
                    OnConflict::columns([tenant_key::Column::TenantId, tenant_key::Column::Version])
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(tx.raw())
                .await
                .store()?;
            latest(&tx, tenant).await?.ok_or(StoreError::NotFound)?
        }
    };
    tx.commit().await?;
    Ok(keyring.remember(tenant, &row.master_key_id, &row.wrapped_key)?)
}

/// A new tenant's first data key, made inside the transaction that provisions the tenant (the
/// demo seeds tenants and their records in one transaction, which [`cipher`]'s own transaction
/// would wait behind on SQLite). Cached like [`cipher`]'s; a rolled-back tenant leaves only a
/// cache entry for an id no one will use.
///
/// # Errors
/// [`StoreError`] on database failure, or `Conflict` when the tenant has a key already.
pub async fn create_in(
    tx: &crate::TenantTx,
    keyring: &Keyring,
    tenant: TenantId,
) -> Result<Arc<TenantCipher>, StoreError> {
    let data_key = crate::auth::random_bytes::<32>().map_err(|_| crate::crypto::CryptoError::Random)?;
    let master_key_id = keyring.current().id().to_owned();
    let wrapped_key = keyring.current().wrap(tenant, &data_key)?;
    tenant_key::ActiveModel {
        tenant_id: Set(tenant.as_uuid()),
        version: Set(1),
        master_key_id: Set(master_key_id.clone()),
        wrapped_key: Set(wrapped_key.clone()),
        created_at: Set(crate::db::now()),
    }
    .insert(tx.raw())
    .await
    .store()?;
    Ok(keyring.remember(tenant, &master_key_id, &wrapped_key)?)
}

async fn latest(tx: &crate::TenantTx, tenant: TenantId) -> Result<Option<tenant_key::Model>, StoreError> {
    tenant_key::Entity::find()
        .filter(tenant_key::Column::TenantId.eq(tenant.as_uuid()))
        .order_by_desc(tenant_key::Column::Version)
        .one(tx.raw())
        .await
        .store()
}

/// What a master-key rotation did.
#[derive(Clone, Debug, Default)]
pub struct Rewrapped {
    /// Tenant keys now wrapped by the current master key.
    pub rewrapped: u64,
    /// Tenants whose key is wrapped by a master key this process does not hold (left untouched).
    pub unknown_master: Vec<TenantId>,
}

/// Re-wraps every tenant key not yet wrapped by the current master key. Rows of personal data are
/// untouched: their data keys do not change. A tenant whose key is wrapped by a master key not held
/// is reported and skipped, so one stray key cannot stop the rotation of all others.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn rewrap_all(db: &Db, keyring: &Keyring) -> Result<Rewrapped, StoreError> {
    let mut report = Rewrapped::default();
    for tenant in super::tenants::all_ids(db.global()).await? {
        let tx = begin_tenant_tx_for(db, tenant).await?;
        let stale = tenant_key::Entity::find()
            .filter(tenant_key::Column::TenantId.eq(tenant.as_uuid()))
            .filter(tenant_key::Column::MasterKeyId.ne(keyring.current().id()))
            .all(tx.raw())
            .await
            .store()?;
        for row in stale {
            let Some(master) = keyring.master(&row.master_key_id) else {
                report.unknown_master.push(tenant);
                continue;
            };
            let data_key = master.unwrap(tenant, &row.wrapped_key)?;
            let mut active: tenant_key::ActiveModel = row.into();
            active.master_key_id = Set(keyring.current().id().to_owned());
            active.wrapped_key = Set(keyring.current().wrap(tenant, &data_key)?);
            active.update(tx.raw()).await.store()?;
            report.rewrapped += 1;
        }
        tx.commit().await?;
    }
    Ok(report)
}
