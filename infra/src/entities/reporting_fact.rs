//! The `reporting_facts` table: de-identified, append-only.

use sea_orm::entity::prelude::*;

/// One row of `reporting_facts`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reporting_facts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub kind: String,
    pub occurred_on: Date,
    pub fiscal_quarter: String,
    pub month: String,
    pub program: Option<String>,
    pub victimization_type: Option<String>,
    pub division: Option<String>,
    pub service_type: Option<String>,
    pub urgency: Option<String>,
    pub gender: Option<String>,
    pub age_band: Option<String>,
    pub amount_cents: Option<i64>,
    pub minutes: Option<i64>,
    pub business_days: Option<i64>,
    pub subject: String,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
