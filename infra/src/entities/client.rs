//! The `clients` table.

use sea_orm::entity::prelude::*;

/// One row of `clients`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clients")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub given_name_sealed: Vec<u8>,
    pub family_name_sealed: Option<Vec<u8>>,
    pub date_of_birth_sealed: Option<Vec<u8>>,
    pub gender: Option<String>,
    pub phone_sealed: Option<Vec<u8>>,
    pub email_sealed: Option<Vec<u8>>,
    pub preferred_language_sealed: Option<Vec<u8>>,
    pub address_sealed: Option<Vec<u8>>,
    pub safe_contact_sealed: Option<Vec<u8>>,
    pub given_name_index: Vec<u8>,
    pub family_name_index: Option<Vec<u8>>,
    pub date_of_birth_index: Option<Vec<u8>>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through the ORM; joins are written where they are needed.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
