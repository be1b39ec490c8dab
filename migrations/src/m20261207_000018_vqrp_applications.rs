//! VQRP+ applications (issue 23).
//!
//! - `vqrp_rule_versions` (reference data, read by every tenant): the program's rules, one row per
//!   version with the day it takes effect and its categories as JSON (cap, time limit, decision
//!   window). Seeded at start with `domain::vqrp::seed_rules` when empty; a new version is added,
//!   never an old one edited, so an application stays judged by the rules of its day.
//! - `vqrp_applications`: one application on a case: category, crime date, to whom it was reported,
//!   the checklist, amounts in cents, the rule version and what it decided (cap, last day, decision
//!   window, due date), status and version. Free text (notes, extension and decision reasons) is
//!   sealed with the tenant's key.
//! - `vqrp_payments`: what was paid, to whom, when.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, blob_null, boolean, date, date_null, integer, string, text,
    timestamp_with_time_zone, timestamp_with_time_zone_null, uuid, uuid_null,
};

use crate::rls::enable_tenant_rls;
use crate::tables::{a, index, tenant_fk, tenant_table};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TENANT_TABLES: [&str; 2] = ["vqrp_applications", "vqrp_payments"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(a("vqrp_rule_versions"))
                    .col(uuid(a("id")).primary_key())
                    .col(integer(a("version")).unique_key())
                    .col(date(a("effective_from")))
                    .col(text(a("categories")))
                    .col(timestamp_with_time_zone(a("created_at")))
                    .to_owned(),
            )
            .await?;
        let mut applications = tenant_table(
            "vqrp_applications",
            vec![
                uuid(a("case_id")),
                string(a("status")),
                string(a("expense_category")),
                date(a("crime_date")),
                string(a("reported_to")),
                boolean(a("crime_in_ontario")),
                boolean(a("no_other_source_of_funds")),
                boolean(a("applicant_eligible")),
                big_integer(a("requested_cents")),
                big_integer_null(a("approved_cents")),
                big_integer(a("paid_cents")),
                integer(a("rule_version")),
                big_integer(a("cap_cents")),
                date(a("last_day")),
                boolean(a("extended")),
                integer(a("decision_business_days")),
                blob_null(a("extension_reason_sealed")),
                blob_null(a("notes_sealed")),
                date(a("applied_on")),
                timestamp_with_time_zone_null(a("submitted_at")),
                date_null(a("decision_due")),
                timestamp_with_time_zone_null(a("decided_at")),
                uuid_null(a("decided_by")),
                blob_null(a("decision_reason_sealed")),
                uuid(a("created_by")),
                integer(a("version")),
                timestamp_with_time_zone(a("created_at")),
                timestamp_with_time_zone(a("updated_at")),
            ],
        );
        applications.foreign_key(&mut tenant_fk("vqrp_applications", "case_id", "cases"));
        manager.create_table(applications).await?;
        manager.create_index(index("vqrp_applications", "case", &["tenant_id", "case_id"], false)).await?;
        manager
            .create_index(index("vqrp_applications", "due", &["tenant_id", "status", "decision_due"], false))
            .await?;
        let mut payments = tenant_table(
            "vqrp_payments",
            vec![
                uuid(a("application_id")),
                big_integer(a("paid_cents")),
                string(a("payee")),
                date(a("paid_on")),
                uuid(a("recorded_by")),
                timestamp_with_time_zone(a("created_at")),
            ],
        );
        payments.foreign_key(&mut tenant_fk("vqrp_payments", "application_id", "vqrp_applications"));
        manager.create_table(payments).await?;
        manager.create_index(index("vqrp_payments", "application", &["tenant_id", "application_id"], false)).await?;
        for table in TENANT_TABLES {
            enable_tenant_rls(manager, table).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TENANT_TABLES.iter().rev().chain(["vqrp_rule_versions"].iter()) {
            manager.drop_table(Table::drop().table(a(table)).to_owned()).await?;
        }
        Ok(())
    }
}
