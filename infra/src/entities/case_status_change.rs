//! The `case_status_changes` table.

use sea_orm::entity::prelude::*;

/// One row of `case_status_changes`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "case_status_changes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub case_id: Uuid,
    pub status: String,
    pub reason_sealed: Vec<u8>,
    pub changed_by: Uuid,
    pub created_at: DateTimeUtc,
}

/// No relations are navigated through the ORM; joins are written where they are needed.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
