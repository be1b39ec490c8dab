//! Tenants (a reference table: every replica and, on Citus, every node reads it).

use std::collections::HashMap;

use chrono::Utc;
use domain::TenantId;
use domain::tenant::{TenantKind, TenantName, TenantSlug};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use super::{DbResultExt, StoreError};
use crate::entities::tenant;

/// A tenant as the rest of the service sees it.
#[derive(Clone, Debug)]
pub struct Tenant {
    /// Its id.
    pub id: TenantId,
    /// Its sign-in slug.
    pub slug: String,
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: TenantKind,
    /// When it was created.
    pub created_at: chrono::DateTime<Utc>,
    /// Its users need a second factor (`domain::sign_in`; the platform's always do).
    pub mfa_required: bool,
    /// Optimistic-concurrency version of its settings.
    pub version: i32,
}

impl TryFrom<tenant::Model> for Tenant {
    type Error = StoreError;

    fn try_from(m: tenant::Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: TenantId::from_uuid(m.id),
            slug: m.slug,
            name: m.name,
            kind: super::decode("tenants.kind", &m.kind, TenantKind::parse)?,
            created_at: m.created_at,
            mfa_required: m.mfa_required,
            version: m.version,
        })
    }
}

/// Inserts a tenant.
///
/// # Errors
/// [`StoreError::Conflict`] on `tenants.slug` when the slug is taken.
pub async fn insert(
    conn: &impl ConnectionTrait,
    id: TenantId,
    slug: &TenantSlug,
    name: &TenantName,
    kind: TenantKind,
    mfa_required: bool,
) -> Result<Tenant, StoreError> {
    let row = tenant::ActiveModel {
        id: Set(id.as_uuid()),
        slug: Set(slug.as_str().to_owned()),
        name: Set(name.as_str().to_owned()),
        kind: Set(kind.as_str().to_owned()),
        created_at: Set(crate::db::now()),
        mfa_required: Set(mfa_required),
        version: Set(1),
    };
    row.insert(conn).await.store().and_then(Tenant::try_from)
}

/// The tenant with this slug.
///
/// # Errors
/// [`StoreError::NotFound`] when there is none.
pub async fn find_by_slug(conn: &impl ConnectionTrait, slug: &str) -> Result<Tenant, StoreError> {
    tenant::Entity::find()
        .filter(tenant::Column::Slug.eq(slug))
        .one(conn)
        .await
        .store()?
        .map(Tenant::try_from)
        .ok_or(StoreError::NotFound)?
}

/// The tenant with this id.
///
/// # Errors
/// [`StoreError::NotFound`] when there is none.
pub async fn get(conn: &impl ConnectionTrait, id: TenantId) -> Result<Tenant, StoreError> {
    tenant::Entity::find_by_id(id.as_uuid())
        .one(conn)
        .await
        .store()?
        .map(Tenant::try_from)
        .ok_or(StoreError::NotFound)?
}

/// Every tenant's slug by its id, in one statement of fixed text (the tenants are some fifty
/// agencies and the ministry): labels for a table grouped by agency, whatever agencies it holds.
///
/// # Errors
/// [`StoreError::Unexpected`] on database failure.
pub async fn slugs_by_id(conn: &impl ConnectionTrait) -> Result<HashMap<uuid::Uuid, String>, StoreError> {
    let rows: Vec<(uuid::Uuid, String)> = tenant::Entity::find()
        .select_only()
        .column(tenant::Column::Id)
        .column(tenant::Column::Slug)
        .into_tuple()
        .all(conn)
        .await
        .store()?;
    Ok(rows.into_iter().collect())
}

/// A page of tenants after `after`, in creation order, `limit` rows at most.
///
/// # Errors
/// [`StoreError::Unexpected`] on database failure.
pub async fn list(
    conn: &impl ConnectionTrait,
    after: Option<uuid::Uuid>,
    limit: u64,
) -> Result<Vec<Tenant>, StoreError> {
    let mut query = tenant::Entity::find().order_by_asc(tenant::Column::Id).limit(limit);
    if let Some(after) = after {
        query = query.filter(tenant::Column::Id.gt(after));
    }
    query.all(conn).await.store()?.into_iter().map(Tenant::try_from).collect()
}

/// Every tenant (a reference table of a few dozen rows): the directory of agencies, and the names
/// of the agencies a transfer names.
///
/// # Errors
/// [`StoreError::Unexpected`] on database failure.
pub async fn all(conn: &impl ConnectionTrait) -> Result<Vec<Tenant>, StoreError> {
    tenant::Entity::find()
        .order_by_asc(tenant::Column::Id)
        .all(conn)
        .await
        .store()?
        .into_iter()
        .map(Tenant::try_from)
        .collect()
}

/// Every tenant id, for background work that visits each tenant (the audit sealer).
///
/// # Errors
/// [`StoreError::Unexpected`] on database failure.
pub async fn all_ids(conn: &impl ConnectionTrait) -> Result<Vec<TenantId>, StoreError> {
    let ids: Vec<uuid::Uuid> =
        tenant::Entity::find().select_only().column(tenant::Column::Id).into_tuple().all(conn).await.store()?;
    Ok(ids.into_iter().map(TenantId::from_uuid).collect())
}

/// Sets whether the tenant's users need a second factor, when its settings are still at
/// `expected_version`; answers the tenant as it now is.
///
/// # Errors
/// [`StoreError::NotFound`] when there is no such tenant; [`StoreError::VersionMismatch`] when it
/// changed since `expected_version`.
pub async fn set_mfa_required(
    conn: &impl ConnectionTrait,
    id: TenantId,
    expected_version: i32,
    mfa_required: bool,
) -> Result<Tenant, StoreError> {
    let updated = tenant::Entity::update_many()
        .col_expr(tenant::Column::MfaRequired, Expr::value(mfa_required))
        .col_expr(tenant::Column::Version, Expr::col(tenant::Column::Version).add(1))
        .filter(tenant::Column::Id.eq(id.as_uuid()))
        .filter(tenant::Column::Version.eq(expected_version))
        .exec_with_returning(conn)
        .await
        .store()?;
    match updated.into_iter().next() {
        Some(row) => Tenant::try_from(row),
        None => get(conn, id).await.and(Err(StoreError::VersionMismatch)),
    }
}
