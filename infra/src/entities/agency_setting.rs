//! The `agency_settings` table.

use sea_orm::entity::prelude::*;

/// One row of `agency_settings`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "agency_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    pub escalation_immediate_minutes: i32,
    pub escalation_same_day_minutes: i32,
    pub escalation_routine_minutes: i32,
    pub version: i32,
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through the ORM; joins are written where they are needed.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
