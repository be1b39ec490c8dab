//! Ministry reporting: de-identified facts (append-only, written in the same transaction as the
//! change they record) and quarterly reports with their frozen figures.
//!
//! These are the only tables a ministry analyst's requests read, and they read across agencies:
//! besides the usual tenant policy, each has a read policy that admits every agency's rows when
//! the transaction sets `app.reporting_scope = 'all_agencies'` (see `infra::db`), which only the
//! reporting paths do. No personal table has such a policy.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer_null, date, integer, string, string_null, text_null, timestamp_with_time_zone,
    timestamp_with_time_zone_null, uuid, uuid_null,
};
use sea_orm_migration::sea_orm::DbBackend;

use crate::rls::{enable_tenant_rls, make_append_only};
use crate::tables::{a, index, tenant_fk, tenant_table};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Tables created here.
pub const TABLES: &[&str] = &["reporting_facts", "reports"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Dimensions are codes (never ids of personal rows); `subject` is a keyed pseudonym of
        // the person, so distinct people can be counted without naming anyone.
        manager
            .create_table(tenant_table(
                "reporting_facts",
                vec![
                    string(a("kind")),
                    date(a("occurred_on")),
                    string(a("fiscal_quarter")),
                    string(a("month")),
                    string_null(a("program")),
                    string_null(a("victimization_type")),
                    string_null(a("division")),
                    string_null(a("service_type")),
                    string_null(a("urgency")),
                    string_null(a("gender")),
                    string_null(a("age_band")),
                    big_integer_null(a("amount_cents")),
                    big_integer_null(a("minutes")),
                    string(a("subject")),
                ],
            ))
            .await?;
        // Agency figures filter by tenant, kind and period; the ministry's by kind and period.
        manager.create_index(index("reporting_facts", "period", &["tenant_id", "kind", "occurred_on"], false)).await?;
        manager.create_index(index("reporting_facts", "all_agencies", &["kind", "occurred_on"], false)).await?;

        let mut reports = tenant_table(
            "reports",
            vec![
                integer(a("fiscal_year")),
                integer(a("quarter")),
                integer(a("report_version")),
                string(a("status")),
                text_null(a("figures")),
                string_null(a("content_hash")),
                uuid(a("prepared_by")),
                uuid_null(a("submitted_by")),
                timestamp_with_time_zone_null(a("submitted_at")),
                uuid_null(a("reviewed_by")),
                timestamp_with_time_zone_null(a("reviewed_at")),
                text_null(a("return_reason")),
                integer(a("version")),
                timestamp_with_time_zone(a("created_at")),
                timestamp_with_time_zone(a("updated_at")),
            ],
        );
        reports.foreign_key(&mut tenant_fk("reports", "prepared_by", "users")).foreign_key(&mut tenant_fk(
            "reports",
            "submitted_by",
            "users",
        ));
        manager.create_table(reports).await?;
        manager
            .create_index(index(
                "reports",
                "quarter_version",
                &["tenant_id", "fiscal_year", "quarter", "report_version"],
                true,
            ))
            .await?;
        manager.create_index(index("reports", "status", &["status", "id"], false)).await?;

        for table in TABLES {
            enable_tenant_rls(manager, table).await?;
        }
        make_append_only(manager, "reporting_facts").await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "CREATE POLICY all_agencies_read ON reporting_facts FOR SELECT
                       USING (current_setting('app.reporting_scope', true) = 'all_agencies');
                     CREATE POLICY ministry_reads_submitted ON reports FOR SELECT
                       USING (current_setting('app.reporting_scope', true) = 'all_agencies' AND status <> 'draft');
                     CREATE POLICY ministry_reviews_submitted ON reports FOR UPDATE
                       USING (current_setting('app.reporting_scope', true) = 'all_agencies' AND status = 'submitted')
                       WITH CHECK (current_setting('app.reporting_scope', true) = 'all_agencies'
                                   AND status IN ('accepted', 'returned'));",
                )
                .await?;
        }
        Ok(())
    }
}
