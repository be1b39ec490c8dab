//! Programs an agency runs (Exit Route, VCAO, VQRP+…).

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use super::{DbResultExt, StoreError};
use crate::TenantTx;
use crate::entities::program;

/// A program.
#[derive(Clone, Debug)]
pub struct Program {
    /// Id.
    pub id: Uuid,
    /// Short code, unique in the agency (`exit-route`).
    pub code: String,
    /// Name.
    pub name: String,
    /// Who funds it.
    pub funder: Option<String>,
    /// When created.
    pub created_at: DateTime<Utc>,
}

impl From<program::Model> for Program {
    fn from(m: program::Model) -> Self {
        Self { id: m.id, code: m.code, name: m.name, funder: m.funder, created_at: m.created_at }
    }
}

/// Inserts a program.
///
/// # Errors
/// [`StoreError::Conflict`] on `programs.code`.
pub async fn insert(tx: &TenantTx, code: String, name: String, funder: Option<String>) -> Result<Program, StoreError> {
    program::ActiveModel {
        tenant_id: Set(tx.tenant_id().as_uuid()),
        id: Set(Uuid::now_v7()),
        code: Set(code),
        name: Set(name),
        funder: Set(funder),
        created_at: Set(crate::db::now()),
    }
    .insert(tx.raw())
    .await
    .store()
    .map(Program::from)
}

/// A page of programs.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn list(tx: &TenantTx, after: Option<Uuid>, limit: u64) -> Result<Vec<Program>, StoreError> {
    let mut query = program::Entity::find()
        .filter(program::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .order_by_asc(program::Column::Id)
        .limit(limit);
    if let Some(after) = after {
        query = query.filter(program::Column::Id.gt(after));
    }
    Ok(query.all(tx.raw()).await.store()?.into_iter().map(Program::from).collect())
}

/// One program of this agency.
///
/// # Errors
/// [`StoreError::NotFound`].
pub async fn get(tx: &TenantTx, id: Uuid) -> Result<Program, StoreError> {
    program::Entity::find_by_id((tx.tenant_id().as_uuid(), id))
        .one(tx.raw())
        .await
        .store()?
        .map(Program::from)
        .ok_or(StoreError::NotFound)
}
