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

async fn latest(tx: &crate::TenantTx, tenant: TenantId) -> Result<Option<tenant_key::Model>, StoreError> {
    tenant_key::Entity::find()
        .filter(tenant_key::Column::TenantId.eq(tenant.as_uuid()))
        .order_by_desc(tenant_key::Column::Version)
        .one(tx.raw())
        .await
        .store()
}

/// Re-wraps every tenant key not yet wrapped by the current master key; returns how many. Rows of
/// personal data are untouched: their data keys do not change.
///
/// # Errors
/// [`StoreError`] on database failure or when a key is wrapped by a master key not held.
pub async fn rewrap_all(db: &Db, keyring: &Keyring) -> Result<u64, StoreError> {
    let mut count = 0;
    for tenant in super::tenants::all_ids(db.global()).await? {
        let tx = begin_tenant_tx_for(db, tenant).await?;
        let stale = tenant_key::Entity::find()
            .filter(tenant_key::Column::TenantId.eq(tenant.as_uuid()))
            .filter(tenant_key::Column::MasterKeyId.ne(keyring.current().id()))
            .all(tx.raw())
            .await
            .store()?;
        for row in stale {
            let master = keyring
                .master(&row.master_key_id)
                .ok_or_else(|| crate::crypto::CryptoError::UnknownMaster(row.master_key_id.clone()))?;
            let data_key = master.unwrap(tenant, &row.wrapped_key)?;
            let mut active: tenant_key::ActiveModel = row.into();
            active.master_key_id = Set(keyring.current().id().to_owned());
            active.wrapped_key = Set(keyring.current().wrap(tenant, &data_key)?);
            active.update(tx.raw()).await.store()?;
            count += 1;
        }
        tx.commit().await?;
    }
    Ok(count)
}
