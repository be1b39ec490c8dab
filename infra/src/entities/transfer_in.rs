//! The `transfers_in` table.

use sea_orm::entity::prelude::*;

/// One row of `transfers_in`: a case another agency sent, its payload sealed with this agency's
/// key until the transfer is settled.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "transfers_in")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub from_tenant_id: Uuid,
    pub include: String,
    pub reason_sealed: Vec<u8>,
    pub payload_sealed: Option<Vec<u8>>,
    pub status: String,
    pub created_at: DateTimeUtc,
    pub settled_at: Option<DateTimeUtc>,
    pub settled_by: Option<Uuid>,
    pub decline_reason_sealed: Option<Vec<u8>>,
    pub case_id: Option<Uuid>,
    pub version: i32,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
