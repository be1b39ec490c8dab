//! The `transfers_out` table.

use sea_orm::entity::prelude::*;

/// One row of `transfers_out`: a case the agency sent to another, without its payload.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "transfers_out")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub case_id: Uuid,
    pub to_tenant_id: Uuid,
    pub include: String,
    pub reason_sealed: Vec<u8>,
    pub status: String,
    pub created_by: Uuid,
    pub created_at: DateTimeUtc,
    pub settled_at: Option<DateTimeUtc>,
    pub version: i32,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
