//! The `consents` table.

use sea_orm::entity::prelude::*;

/// One row of `consents`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub case_id: Uuid,
    pub scope: String,
    pub granted: bool,
    pub expires_at: Option<DateTimeUtc>,
    pub notes_sealed: Option<Vec<u8>>,
    pub recorded_by: Uuid,
    pub created_at: DateTimeUtc,
}

/// No relations are navigated through the ORM; joins are written where they are needed.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
