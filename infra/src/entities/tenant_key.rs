//! The `tenant_keys` table.

use sea_orm::entity::prelude::*;

/// One row of `tenant_keys`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i32,
    pub master_key_id: String,
    pub wrapped_key: Vec<u8>,
    pub created_at: DateTimeUtc,
}

/// No relations are navigated through the ORM; joins are written where they are needed.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
