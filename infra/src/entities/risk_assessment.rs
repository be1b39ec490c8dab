//! The `risk_assessments` table.

use sea_orm::entity::prelude::*;

/// One row of `risk_assessments`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "risk_assessments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub case_id: Uuid,
    pub tool: String,
    pub score: Option<i32>,
    pub level: String,
    pub notes_sealed: Option<Vec<u8>>,
    pub assessor_id: Uuid,
    pub created_at: DateTimeUtc,
}

/// No relations are navigated through the ORM; joins are written where they are needed.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
