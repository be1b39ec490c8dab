//! The `tasks` table.

use sea_orm::entity::prelude::*;

/// One row of `tasks`: something a worker must do by a deadline; the title sealed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tasks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub case_id: Option<Uuid>,
    pub kind: String,
    pub source_id: Option<Uuid>,
    pub source_version: Option<i32>,
    pub title_sealed: Vec<u8>,
    pub assigned_to: Uuid,
    pub due_at: DateTimeUtc,
    pub status: String,
    pub completed_at: Option<DateTimeUtc>,
    pub completed_by: Option<Uuid>,
    pub overdue_announced_at: Option<DateTimeUtc>,
    pub supervisors_announced_at: Option<DateTimeUtc>,
    pub created_by: Uuid,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through the ORM; joins are written where they are needed.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
