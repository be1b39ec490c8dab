//! The `referrals` table.

use sea_orm::entity::prelude::*;

/// One row of `referrals`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "referrals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub division_id: Uuid,
    pub program_id: Option<Uuid>,
    pub created_by: Uuid,
    pub occurrence_number_sealed: Option<Vec<u8>>,
    pub victimization_types: String,
    pub urgency: String,
    pub person_sealed: Vec<u8>,
    pub consent_to_contact: bool,
    pub children_involved: Option<bool>,
    pub notes_sealed: Option<Vec<u8>>,
    pub status: String,
    pub assigned_to: Option<Uuid>,
    pub accepted_by: Option<Uuid>,
    pub accepted_at: Option<DateTimeUtc>,
    pub first_contact_at: Option<DateTimeUtc>,
    pub escalation_due_at: DateTimeUtc,
    pub escalated_at: Option<DateTimeUtc>,
    pub case_id: Option<Uuid>,
    pub client_id: Option<Uuid>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through the ORM; joins are written where they are needed.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
