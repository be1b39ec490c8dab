//! The `notes` table.

use sea_orm::entity::prelude::*;

/// One row of `notes`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub case_id: Uuid,
    pub body_sealed: Vec<u8>,
    pub author_id: Uuid,
    pub amends_note_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

/// No relations are navigated through the ORM; joins are written where they are needed.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
