//! The `vqrp_applications` table.

use sea_orm::entity::prelude::*;

/// One row of `vqrp_applications`: a VQRP+ application on a case; free text sealed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "vqrp_applications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub case_id: Uuid,
    pub status: String,
    pub expense_category: String,
    pub crime_date: Date,
    pub reported_to: String,
    pub crime_in_ontario: bool,
    pub no_other_source_of_funds: bool,
    pub applicant_eligible: bool,
    pub requested_cents: i64,
    pub approved_cents: Option<i64>,
    pub paid_cents: i64,
    pub rule_version: i32,
    pub cap_cents: i64,
    pub last_day: Date,
    pub extended: bool,
    pub decision_business_days: i32,
    pub extension_reason_sealed: Option<Vec<u8>>,
    pub notes_sealed: Option<Vec<u8>>,
    pub applied_on: Date,
    pub submitted_at: Option<DateTimeUtc>,
    pub decision_due: Option<Date>,
    pub decided_at: Option<DateTimeUtc>,
    pub decided_by: Option<Uuid>,
    pub decision_reason_sealed: Option<Vec<u8>>,
    pub created_by: Uuid,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through the ORM; joins are written where they are needed.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
