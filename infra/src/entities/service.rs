//! The `services` table.

use sea_orm::entity::prelude::*;

/// One row of `services`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "services")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub case_id: Uuid,
    pub service_type: String,
    pub delivered_at: DateTimeUtc,
    pub minutes: Option<i32>,
    pub amount_cents: Option<i64>,
    pub notes_sealed: Option<Vec<u8>>,
    pub recorded_by: Uuid,
    pub created_at: DateTimeUtc,
}

/// No relations are navigated through the ORM; joins are written where they are needed.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
