//! Which tenants the background tasks have work at, in one statement each.
//!
//! The audit sealer and the escalation sweeper ran a transaction for every tenant every second,
//! work or not: with 50 agencies that was about a hundred transactions a second on an idle
//! platform (a tenth of a core of the database and the service together), and a burst of them
//! each second beside the requests. Row-level security lets the runtime role read one tenant at a
//! time, so the question "who has work?" is asked by a function that visits the tenants itself,
//! inside the database, in one round trip:
//! - `vcao_audit_backlog()`: every tenant's newest sealed audit event and whether an event newer
//!   than it is waiting (the sealer's fresh pass; the newest sealed event also tells the sealer
//!   whether a late commit can still turn up, see `infra::store::audit`);
//! - `vcao_tenants_with_due_escalations(now)`: the tenants with a pending referral past its
//!   escalation deadline and not yet escalated.
//!
//! Both run as the caller (SECURITY INVOKER) and set `app.tenant_id` for each tenant before
//! reading its rows, so row-level security applies exactly as to any query of the runtime role,
//! which may set that variable anyway: they bypass nothing. They answer ids, event ids and flags
//! only. Their `SET app.tenant_id = ''` clause makes PostgreSQL restore the caller's tenant when
//! they return, even on error. On Citus they run on the coordinator and each per-tenant query is
//! routed to the tenant's shard. SQLite has no row-level security: the store asks the same
//! questions in one plain statement there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A function that visits every tenant in turn, as `t`, with `app.tenant_id` set to it: `body`
/// reads under row-level security exactly as any query of the runtime role would.
pub(crate) fn for_each_tenant(signature: &str, returns: &str, body: &str) -> String {
    format!(
        "CREATE OR REPLACE FUNCTION {signature} RETURNS {returns}
         LANGUAGE plpgsql VOLATILE SECURITY INVOKER
         SET search_path = pg_catalog, public
         SET app.tenant_id = ''
         AS $$
         DECLARE t uuid;
         BEGIN
           FOR t IN SELECT id FROM public.tenants ORDER BY id LOOP
             PERFORM set_config('app.tenant_id', t::text, true);
             {body}
           END LOOP;
         END $$"
    )
}

fn audit_backlog() -> String {
    for_each_tenant(
        "vcao_audit_backlog()",
        "TABLE (tenant_id uuid, newest_sealed uuid, fresh_waiting boolean)",
        "tenant_id := t;
         -- PostgreSQL has no max(uuid): the newest is read backwards on the (tenant, event) index.
         newest_sealed := (SELECT s.event_id FROM public.audit_seals s
                            WHERE s.tenant_id = t ORDER BY s.event_id DESC LIMIT 1);
         -- Two statements, not one with `newest_sealed IS NULL OR e.id > newest_sealed`: that OR
         -- kept the id out of the index condition, and the plan walked every event of the tenant
         -- (427 ms a call on the 1,000,000-case data set, against about 2 ms).
         IF newest_sealed IS NULL THEN
           fresh_waiting := EXISTS (SELECT 1 FROM public.audit_events e WHERE e.tenant_id = t);
         ELSE
           fresh_waiting := EXISTS (SELECT 1 FROM public.audit_events e
                                     WHERE e.tenant_id = t AND e.id > newest_sealed);
         END IF;
         RETURN NEXT;",
    )
}

fn due_escalations() -> String {
    for_each_tenant(
        "vcao_tenants_with_due_escalations(p_now timestamptz)",
        "SETOF uuid",
        "IF EXISTS (SELECT 1 FROM public.referrals r
                     WHERE r.tenant_id = t AND r.status = 'pending'
                       AND r.escalated_at IS NULL AND r.escalation_due_at <= p_now) THEN
           RETURN NEXT t;
         END IF;",
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(&audit_backlog()).await?;
        db.execute_unprepared(&due_escalations()).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared("DROP FUNCTION IF EXISTS vcao_tenants_with_due_escalations(timestamptz)").await?;
        db.execute_unprepared("DROP FUNCTION IF EXISTS vcao_audit_backlog()").await?;
        Ok(())
    }
}
