//! Community organisations an agency refers people to. Organisations are not personal data.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use super::{DbResultExt, StoreError};
use crate::TenantTx;
use crate::entities::organization;

/// A community organisation.
#[derive(Clone, Debug)]
pub struct Organization {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// What kind (`shelter`, `legal_clinic`…), free text.
    pub kind: String,
    /// Phone.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// When created.
    pub created_at: DateTime<Utc>,
}

impl From<organization::Model> for Organization {
    fn from(m: organization::Model) -> Self {
        Self { id: m.id, name: m.name, kind: m.kind, phone: m.phone, email: m.email, created_at: m.created_at }
    }
}

/// What an organisation is created with.
#[derive(Debug)]
pub struct NewOrganization {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: String,
    /// Phone.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
}

/// Inserts an organisation.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn insert(tx: &TenantTx, new: NewOrganization) -> Result<Organization, StoreError> {
    organization::ActiveModel {
        tenant_id: Set(tx.tenant_id().as_uuid()),
        id: Set(Uuid::now_v7()),
        name: Set(new.name),
        kind: Set(new.kind),
        phone: Set(new.phone),
        email: Set(new.email),
        created_at: Set(crate::db::now()),
    }
    .insert(tx.raw())
    .await
    .store()
    .map(Organization::from)
}

/// A page of organisations.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn list(tx: &TenantTx, after: Option<Uuid>, limit: u64) -> Result<Vec<Organization>, StoreError> {
    let mut query = organization::Entity::find()
        .filter(organization::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .order_by_asc(organization::Column::Id)
        .limit(limit);
    if let Some(after) = after {
        query = query.filter(organization::Column::Id.gt(after));
    }
    Ok(query.all(tx.raw()).await.store()?.into_iter().map(Organization::from).collect())
}

/// One organisation of this agency.
///
/// # Errors
/// [`StoreError::NotFound`].
pub async fn get(tx: &TenantTx, id: Uuid) -> Result<Organization, StoreError> {
    organization::Entity::find_by_id((tx.tenant_id().as_uuid(), id))
        .one(tx.raw())
        .await
        .store()?
        .map(Organization::from)
        .ok_or(StoreError::NotFound)
}
