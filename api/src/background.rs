//! The service's background tasks, each a loop over every tenant on its own interval, for no
//! caller: the audit sealer (and its sweep for late commits), the escalation sweeper and the
//! event pruner. Every replica runs them; each is safe to run on several at once.
#![expect(clippy::disallowed_methods, reason = "background work reaches every tenant, for no caller")]

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use domain::TenantId;
use infra::store::audit::SealPass;

use crate::state::AppState;

/// Starts every background task.
pub fn spawn_all(state: &AppState) {
    spawn_audit_sealer(state.clone());
    spawn_escalation_sweeper(state.clone());
    spawn_event_pruner(state.clone());
}

/// Every tenant's id, or `None` (logged as `task`'s) when the database does not answer: the
/// task tries again on its next interval.
async fn all_tenants(state: &AppState, task: &str) -> Option<Vec<TenantId>> {
    match infra::store::tenants::all_ids(state.db.global()).await {
        Ok(ids) => Some(ids),
        Err(e) => {
            tracing::warn!(error = %e, task, "could not list tenants");
            None
        }
    }
}

/// Passes of the audit sealer one tenant may take in a row (see `spawn_audit_sealer`).
const CATCH_UP_PASSES: usize = 20;

/// Links new audit events into each tenant's chain, every interval. Not on the event bus's
/// wake-ups: those come with every referral, and a pass visits every tenant, so under load the
/// sealer ran without pause (in a test with two agencies, 9 extra statements followed each
/// referral); on the interval it seals whatever a second brought in one pass.
fn spawn_audit_sealer(state: AppState) {
    let interval = Duration::from_millis(state.settings.audit_seal_interval_ms);
    tokio::spawn(async move {
        // Where each tenant's sweep for late commits has got to (`sweep_late_commits`): one step
        // per tenant per interval, a sixtieth of the look-back or ten intervals' worth if more,
        // so a sweep takes at most about a minute (a minute at the default interval of 1 s).
        let mut sweeps: HashMap<domain::TenantId, Option<uuid::Uuid>> = HashMap::new();
        let look_back = infra::store::audit::LATE_COMMIT_LOOK_BACK;
        let step = (look_back / 60).max(interval * 10).min(look_back);
        // When a pass last sealed something for each tenant. A late commit is older than an
        // event sealed before it, so a tenant with nothing sealed for longer than the look-back
        // and two sweeps has none left to find: its sweep is skipped (50 quiet agencies cost 9 %
        // of a core in fresh passes, 13–17 % with a sweep step each). Every tenant is swept that
        // long after start, for what another replica sealed before this one took over.
        let started = tokio::time::Instant::now();
        let mut last_sealed: HashMap<domain::TenantId, tokio::time::Instant> = HashMap::new();
        let sweep_while = look_back + Duration::from_secs(120);
        loop {
            tokio::time::sleep(interval).await;
            let Some(tenants) = all_tenants(&state, "audit sealer").await else { continue };
            for tenant in tenants {
                // A full pass means more are waiting: catch up now (a busy tenant audits more than
                // a batch a second), but at most this many passes before the other tenants' turn.
                for _ in 0..CATCH_UP_PASSES {
                    match infra::store::audit::seal_pending(&state.db, tenant, SealPass::Fresh).await {
                        Ok(n) => {
                            state.metrics.audit_sealed.fetch_add(n, Ordering::Relaxed);
                            if n > 0 {
                                last_sealed.insert(tenant, tokio::time::Instant::now());
                            }
                            if n < infra::store::audit::SEAL_BATCH {
                                break;
                            }
                        }
                        Err(e) => {
                            tracing::warn!(tenant_id = %tenant, error = %e, "audit sealing failed; will retry");
                            break;
                        }
                    }
                }
                let active = started.elapsed() < sweep_while
                    || last_sealed.get(&tenant).is_some_and(|at| at.elapsed() < sweep_while);
                if !active {
                    sweeps.remove(&tenant);
                    continue;
                }
                let from = sweeps.get(&tenant).copied().flatten();
                match infra::store::audit::sweep_late_commits(&state.db, tenant, from, step).await {
                    Ok((n, next)) => {
                        state.metrics.audit_sealed.fetch_add(n, Ordering::Relaxed);
                        if n > 0 {
                            last_sealed.insert(tenant, tokio::time::Instant::now());
                        }
                        sweeps.insert(tenant, next);
                    }
                    Err(e) => tracing::warn!(tenant_id = %tenant, error = %e, "late-commit sweep failed; will retry"),
                }
            }
        }
    });
}

/// How often the event outbox is pruned, and how many events one transaction deletes.
const EVENT_PRUNE_INTERVAL: Duration = Duration::from_secs(3600);
const EVENT_PRUNE_BATCH: u64 = 1000;

/// Deletes events older than `VCAO_EVENT_RETENTION_DAYS`, every tenant, once an hour (the first
/// time an hour after start), in batches of a thousand so no transaction holds many rows. Every
/// replica may run it: a batch deletes what is there, so two replicas only share the work.
fn spawn_event_pruner(state: AppState) {
    let retention = chrono::Duration::days(i64::from(state.settings.event_retention_days));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(EVENT_PRUNE_INTERVAL).await;
            let Some(tenants) = all_tenants(&state, "event pruner").await else { continue };
            let before = infra::db::now() - retention;
            for tenant in tenants {
                match prune_events(&state, tenant, before).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(tenant_id = %tenant, deleted = n, "old events pruned"),
                    Err(e) => tracing::warn!(tenant_id = %tenant, error = %e, "event pruning failed; will retry"),
                }
            }
        }
    });
}

/// Prunes one tenant's events made before `before`, a batch a transaction, until none is left.
///
/// # Errors
/// The database error of the batch that failed; earlier batches stay deleted.
pub async fn prune_events(
    state: &AppState,
    tenant: domain::TenantId,
    before: chrono::DateTime<chrono::Utc>,
) -> Result<u64, infra::StoreError> {
    let mut total = 0;
    loop {
        let tx = infra::db::begin_tenant_tx_for(&state.db, tenant).await?;
        let deleted = infra::store::events::delete_older_than(&tx, before, EVENT_PRUNE_BATCH).await?;
        tx.commit().await?;
        total += deleted;
        if deleted < EVENT_PRUNE_BATCH {
            return Ok(total);
        }
    }
}

/// Escalates referrals nobody accepted within their window: marks them (claimed with
/// `FOR UPDATE SKIP LOCKED` on PostgreSQL, so replicas never double up) and notifies the agency's
/// supervisors. Deadlines are columns, so a referral due while the service was down escalates on
/// the first sweep after it starts.
fn spawn_escalation_sweeper(state: AppState) {
    let interval = Duration::from_millis(state.settings.escalation_sweep_interval_ms);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            let Some(tenants) = all_tenants(&state, "escalation sweeper").await else { continue };
            for tenant in tenants {
                match escalate_due(&state, tenant).await {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::info!(tenant_id = %tenant, escalated = n, "referrals escalated");
                        state.bus.publish(&crate::routes::referrals::events_topic(tenant)).await;
                    }
                    Err(e) => tracing::warn!(tenant_id = %tenant, error = %e, "escalation sweep failed; will retry"),
                }
            }
        }
    });
}

async fn escalate_due(state: &AppState, tenant: domain::TenantId) -> Result<usize, infra::StoreError> {
    use infra::store::{audit, events, referrals, users};
    let tx = infra::db::begin_tenant_tx_for(&state.db, tenant).await?;
    let due = referrals::claim_due_escalations(&tx, infra::db::now(), 100).await?;
    if due.is_empty() {
        return Ok(0);
    }
    let supervisors = users::active_with_role(&tx, domain::user::Role::Supervisor).await?;
    for referral in &due {
        let payload = serde_json::json!({
            "referral_id": referral.id, "division_id": referral.division_id, "urgency": referral.urgency.as_str(),
        });
        events::publish(&tx, &supervisors, "referral.escalated", &payload).await?;
        let entry = audit::AuditEntry {
            actor_id: None,
            action: "referral.escalated",
            resource_type: "referral",
            resource_id: Some(referral.id),
            client_ip: None,
            request_id: None,
            details: serde_json::json!({ "supervisors_notified": supervisors.len() }),
        };
        audit::record(&tx, entry).await?;
    }
    tx.commit().await?;
    Ok(due.len())
}
