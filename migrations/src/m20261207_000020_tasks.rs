//! Tasks and deadlines (issue 23, part 2).
//!
//! - `tasks`: what a worker must do by when. On a case (`case_id`), or on a referral not yet a case
//!   (`case_id` null; the referral is its `source_id`). The title is sealed with the tenant's key
//!   (a person's is free text; the platform's are fixed words, sealed the same way). A system task
//!   names its `kind` and what it is about (`source_id`, and `source_version` for a safety plan's
//!   versions): unique per tenant, so a retried change never makes two. `overdue_announced_at` and
//!   `supervisors_announced_at` record the sweeper's announcements, claimed conditionally so two
//!   replicas make one.
//! - `vcao_tenants_with_overdue_tasks(now, escalate_before)` (PostgreSQL): the tenants with a task
//!   to announce, visiting each under row-level security as migration 000009's functions do, so
//!   the sweeper opens transactions only where there is work.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    blob, integer, integer_null, string, timestamp_with_time_zone, timestamp_with_time_zone_null, uuid, uuid_null,
};
use sea_orm_migration::sea_orm::DbBackend;

use crate::m20261129_000009_background_work_queries::for_each_tenant;
use crate::rls::enable_tenant_rls;
use crate::tables::{a, index, tenant_fk, tenant_table};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// "Has a task to announce" in SQL: `infra::store::tasks` claims by the same conditions, so a
/// change to one is a change to both.
fn overdue_tasks() -> String {
    for_each_tenant(
        "vcao_tenants_with_overdue_tasks(p_now timestamptz, p_escalate_before timestamptz)",
        "SETOF uuid",
        "IF EXISTS (SELECT 1 FROM public.tasks k
                     WHERE k.tenant_id = t AND k.status = 'open' AND k.overdue_announced_at IS NULL
                       AND k.due_at <= p_now)
            OR EXISTS (SELECT 1 FROM public.tasks k
                     WHERE k.tenant_id = t AND k.status = 'open' AND k.supervisors_announced_at IS NULL
                       AND k.due_at <= p_escalate_before) THEN
           RETURN NEXT t;
         END IF;",
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut tasks = tenant_table(
            "tasks",
            vec![
                uuid_null(a("case_id")),
                string(a("kind")),
                uuid_null(a("source_id")),
                integer_null(a("source_version")),
                blob(a("title_sealed")),
                uuid(a("assigned_to")),
                timestamp_with_time_zone(a("due_at")),
                string(a("status")),
                timestamp_with_time_zone_null(a("completed_at")),
                uuid_null(a("completed_by")),
                timestamp_with_time_zone_null(a("overdue_announced_at")),
                timestamp_with_time_zone_null(a("supervisors_announced_at")),
                uuid(a("created_by")),
                integer(a("version")),
                timestamp_with_time_zone(a("created_at")),
                timestamp_with_time_zone(a("updated_at")),
            ],
        );
        tasks.foreign_key(&mut tenant_fk("tasks", "case_id", "cases"));
        tasks.foreign_key(&mut tenant_fk("tasks", "assigned_to", "users"));
        manager.create_table(tasks).await?;
        // A worker's day: their open tasks, soonest first.
        manager
            .create_index(index("tasks", "assignee", &["tenant_id", "assigned_to", "status", "due_at"], false))
            .await?;
        // The team's overdue tasks, and the sweeper's claims.
        manager.create_index(index("tasks", "due", &["tenant_id", "status", "due_at"], false)).await?;
        manager.create_index(index("tasks", "case", &["tenant_id", "case_id"], false)).await?;
        // One system task per source (and version); manual tasks have no source (NULLs are distinct).
        manager
            .create_index(index("tasks", "source", &["tenant_id", "kind", "source_id", "source_version"], true))
            .await?;
        enable_tenant_rls(manager, "tasks").await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            manager.get_connection().execute_unprepared(&overdue_tasks()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("DROP FUNCTION IF EXISTS vcao_tenants_with_overdue_tasks(timestamptz, timestamptz)")
                .await?;
        }
        manager.drop_table(Table::drop().table(a("tasks")).to_owned()).await?;
        Ok(())
    }
}
