//! Protected releases of the ministry's figures (issue 20).
//!
//! Every figure `GET /aggregates` and the quarterly reports show is read from a release: the
//! cells of one scope (an agency, or every agency) and one fiscal year, tabulated from the facts
//! and protected once, in background work (`api::releases`). A request reads a few chunks of it
//! and computes nothing.
//!
//! - `aggregate_releases`: one row per fiscal year: how many facts it was built from (the builder
//!   rebuilds when the count differs: facts are append-only, so a new or late fact changes it),
//!   the threshold, when it was built, and the lease a replica holds while building it
//!   (`lease_holder` until `lease_until`, renewed while the build runs), so one replica builds it
//!   and the others wait, and a replica that dies mid-build holds it no longer than a lease.
//!   Only the builder reads it.
//! - `aggregate_release_counts`: for each fact a release counts, the figure families that count
//!   it, and in `aggregate_releases.lineage` the blocks of the last build: what the next build
//!   continues, so that releases built as facts arrive can be set against each other and still
//!   disclose nothing (`domain::reporting::release::lineage`). Only the builder reads them.
//! - `aggregate_release_chunks`: its cells, one row per level (year, quarter, month), set of
//!   dimensions and, for the cells that fix an agency, that agency (`agency_id`; the nil uuid
//!   for the province's cells), in the text form of `infra::store::releases`.
//!
//! One release holds every scope: an agency's own figures are the cells that fix it, protected
//! together with the province's. Its rows belong to no tenant (`tenant_id` is the nil uuid, as
//! the builder's transaction sets it). Row-level security lets a transaction widened to all
//! agencies (the ministry's reporting paths) read every chunk, and an agency's transaction the
//! chunks of its own cells. All of it is de-identified and protected; the fact counts, which
//! would show how many facts a day brought, only the builder reads.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, integer, string, text, text_null, timestamp_with_time_zone, timestamp_with_time_zone_null, uuid,
    uuid_null,
};
use sea_orm_migration::sea_orm::DbBackend;

use crate::rls::enable_tenant_rls;
use crate::tables::{a, index, tenant_fk, tenant_table};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Tables created here.
pub const TABLES: &[&str] = &["aggregate_releases", "aggregate_release_counts", "aggregate_release_chunks"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(tenant_table(
                "aggregate_releases",
                vec![
                    integer(a("fiscal_year")),
                    big_integer(a("facts")),
                    big_integer(a("threshold")),
                    timestamp_with_time_zone_null(a("built_at")),
                    uuid_null(a("lease_holder")),
                    timestamp_with_time_zone_null(a("lease_until")),
                    text_null(a("lineage")),
                ],
            ))
            .await?;
        manager
            .create_table(tenant_table(
                "aggregate_release_counts",
                vec![integer(a("fiscal_year")), uuid(a("fact_id")), integer(a("families"))],
            ))
            .await?;
        manager.create_index(index("aggregate_release_counts", "fact", &["tenant_id", "fact_id"], true)).await?;
        manager.create_index(index("aggregate_releases", "year", &["tenant_id", "fiscal_year"], true)).await?;
        let mut chunks = tenant_table(
            "aggregate_release_chunks",
            vec![
                uuid(a("release_id")),
                integer(a("fiscal_year")),
                timestamp_with_time_zone(a("built_at")),
                uuid(a("agency_id")),
                string(a("level")),
                integer(a("mask")),
                text(a("body")),
            ],
        );
        chunks.foreign_key(&mut tenant_fk("aggregate_release_chunks", "release_id", "aggregate_releases"));
        manager.create_table(chunks).await?;
        manager
            .create_index(index(
                "aggregate_release_chunks",
                "shape",
                &["tenant_id", "fiscal_year", "level", "mask", "agency_id"],
                true,
            ))
            .await?;
        for table in TABLES {
            enable_tenant_rls(manager, table).await?;
        }
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "CREATE POLICY all_agencies_read ON aggregate_release_chunks FOR SELECT
                       USING (current_setting('app.reporting_scope', true) = 'all_agencies');
                     CREATE POLICY own_agency_read ON aggregate_release_chunks FOR SELECT
                       USING (agency_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
                     CREATE POLICY marker_read ON aggregate_release_chunks FOR SELECT USING (mask = -1);",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES.iter().rev() {
            manager.drop_table(Table::drop().table(a(table)).to_owned()).await?;
        }
        Ok(())
    }
}
