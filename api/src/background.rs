//! The service's background tasks, each a loop on its own interval, for no caller: the audit
//! sealer (and its sweep for late commits), the escalation sweeper, the overdue-task sweeper and
//! the pruner of old events and expired idempotent answers. The first two run every second, so each round first asks the database, in one statement, which
//! tenants have work, and opens transactions only there; the hourly pruner visits every tenant.
//! Every replica runs them; each is safe to run on several at once.
#![expect(clippy::disallowed_methods, reason = "background work reaches every tenant, for no caller")]

use std::collections::HashMap;
use std::time::Duration;

use domain::TenantId;
use infra::store::audit::SealPass;

use crate::state::AppState;

/// Starts every background task.
pub fn spawn_all(state: &AppState) {
    spawn_audit_sealer(state.clone());
    spawn_escalation_sweeper(state.clone());
    spawn_task_sweeper(state.clone());
    spawn_pruner(state.clone());
    crate::releases::spawn(state);
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
/// wake-ups: those come with every referral, and under load the sealer ran without pause (in a
/// test with two agencies, 9 extra statements followed each referral); on the interval it seals
/// whatever a second brought in one pass. Each round first asks the database which tenants have
/// events waiting or may still see a late commit (`audit::backlog`, one statement for all
/// tenants) and opens transactions only at those: a round over 50 agencies with nothing to seal
/// was 50 to 100 transactions.
fn spawn_audit_sealer(state: AppState) {
    let interval = Duration::from_millis(state.settings.audit_seal_interval_ms);
    tokio::spawn(async move {
        // Where each tenant's sweep for late commits has got to (`sweep_late_commits`): one step
        // per tenant per interval, a sixtieth of the look-back or ten intervals' worth if more,
        // so a sweep takes at most about a minute (a minute at the default interval of 1 s).
        let mut sweeps: HashMap<domain::TenantId, Option<uuid::Uuid>> = HashMap::new();
        let look_back = infra::store::audit::LATE_COMMIT_LOOK_BACK;
        let step = (look_back / 60).max(interval * 10).min(look_back);
        loop {
            tokio::time::sleep(interval).await;
            let backlog = match infra::store::audit::backlog(&state.db).await {
                Ok(backlog) => backlog,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the audit backlog; will retry");
                    continue;
                }
            };
            let now = infra::db::now();
            for tenant in backlog {
                let mut sealed_now = false;
                if tenant.fresh_waiting {
                    sealed_now = seal_fresh(&state, tenant.tenant_id).await;
                }
                // What was just sealed may have a late commit below it, whatever the backlog said.
                if !(sealed_now || tenant.late_commits_possible(now)) {
                    sweeps.remove(&tenant.tenant_id);
                    continue;
                }
                let from = sweeps.get(&tenant.tenant_id).copied().flatten();
                match infra::store::audit::sweep_late_commits(&state.db, tenant.tenant_id, from, step).await {
                    Ok((n, next)) => {
                        state.metrics.audit_sealed.inc_by(n);
                        sweeps.insert(tenant.tenant_id, next);
                    }
                    Err(e) => {
                        tracing::warn!(tenant_id = %tenant.tenant_id, error = %e, "late-commit sweep failed; will retry");
                    }
                }
            }
        }
    });
}

/// The sealer's fresh passes for one tenant: a full pass means more are waiting, so it catches
/// up at once (a busy tenant audits more than a batch a second), but at most [`CATCH_UP_PASSES`]
/// before the other tenants' turn. Returns whether anything was sealed.
async fn seal_fresh(state: &AppState, tenant: TenantId) -> bool {
    let mut sealed_any = false;
    for _ in 0..CATCH_UP_PASSES {
        match infra::store::audit::seal_pending(&state.db, tenant, SealPass::Fresh).await {
            Ok(n) => {
                state.metrics.audit_sealed.inc_by(n);
                sealed_any |= n > 0;
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
    sealed_any
}

/// How often old rows are pruned, and how many one transaction deletes.
const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);
const PRUNE_BATCH: u64 = 1000;

/// Once an hour (the first time an hour after start), every tenant: deletes events older than
/// `VCAO_EVENT_RETENTION_DAYS`, and stored idempotent answers past their 24-hour replay window
/// (sealed, but kept no longer than a retry needs them). In batches of a thousand so no
/// transaction holds many rows. Every replica may run it: a batch deletes what is there, so two
/// replicas only share the work.
fn spawn_pruner(state: AppState) {
    let retention = chrono::Duration::days(i64::from(state.settings.event_retention_days));
    let replay_window = chrono::Duration::seconds(domain::idempotency::REPLAY_WINDOW_SECONDS);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(PRUNE_INTERVAL).await;
            let Some(tenants) = all_tenants(&state, "pruner").await else { continue };
            let now = infra::db::now();
            for tenant in tenants {
                match prune_events(&state, tenant, now - retention).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(tenant_id = %tenant, deleted = n, "old events pruned"),
                    Err(e) => tracing::warn!(tenant_id = %tenant, error = %e, "event pruning failed; will retry"),
                }
                match prune_idempotency_keys(&state, tenant, now - replay_window).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(tenant_id = %tenant, deleted = n, "expired idempotent answers pruned"),
                    Err(e) => tracing::warn!(tenant_id = %tenant, error = %e, "idempotency pruning failed; will retry"),
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
    prune_in_batches(state, tenant, Prunable::Events, before).await
}

/// Prunes one tenant's stored idempotent answers made before `before`, as [`prune_events`] does.
///
/// # Errors
/// The database error of the batch that failed; earlier batches stay deleted.
pub async fn prune_idempotency_keys(
    state: &AppState,
    tenant: domain::TenantId,
    before: chrono::DateTime<chrono::Utc>,
) -> Result<u64, infra::StoreError> {
    prune_in_batches(state, tenant, Prunable::IdempotencyKeys, before).await
}

/// What the pruner deletes.
#[derive(Clone, Copy)]
enum Prunable {
    Events,
    IdempotencyKeys,
}

/// Deletes `what` made before `before`, [`PRUNE_BATCH`] rows a transaction, until a batch comes
/// back short, and says how many rows went.
async fn prune_in_batches(
    state: &AppState,
    tenant: domain::TenantId,
    what: Prunable,
    before: chrono::DateTime<chrono::Utc>,
) -> Result<u64, infra::StoreError> {
    let mut total = 0;
    loop {
        let tx = infra::db::begin_tenant_tx_for(&state.db, tenant).await?;
        let deleted = match what {
            Prunable::Events => infra::store::events::delete_older_than(&tx, before, PRUNE_BATCH).await?,
            Prunable::IdempotencyKeys => infra::store::idempotency::delete_expired(&tx, before, PRUNE_BATCH).await?,
        };
        tx.commit().await?;
        total += deleted;
        if deleted < PRUNE_BATCH {
            return Ok(total);
        }
    }
}

/// Escalates referrals nobody accepted within their window: finds the tenants that have one due
/// (one statement for all tenants), then at each marks them (claimed with `FOR UPDATE SKIP
/// LOCKED` on PostgreSQL, so replicas never double up) and notifies the agency's supervisors.
/// Deadlines are columns, so a referral due while the service was down escalates on the first
/// sweep after it starts.
fn spawn_escalation_sweeper(state: AppState) {
    let interval = Duration::from_millis(state.settings.escalation_sweep_interval_ms);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            let tenants = match infra::store::referrals::tenants_with_due_escalations(&state.db, infra::db::now()).await
            {
                Ok(tenants) => tenants,
                Err(e) => {
                    tracing::warn!(error = %e, "could not look for due escalations; will retry");
                    continue;
                }
            };
            for tenant in tenants {
                match escalate_due(&state, tenant).await {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::info!(tenant_id = %tenant, escalated = n, "referrals escalated");
                        state.bus.publish(&infra::cache::events_topic(tenant)).await;
                    }
                    Err(e) => tracing::warn!(tenant_id = %tenant, error = %e, "escalation sweep failed; will retry"),
                }
            }
        }
    });
}

/// Escalates one tenant's due referrals, at most a hundred a transaction, and returns how many.
///
/// # Errors
/// The database error; nothing of the transaction stays.
pub async fn escalate_due(state: &AppState, tenant: domain::TenantId) -> Result<usize, infra::StoreError> {
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

/// Tasks one sweep transaction claims at most, per announcement.
const TASK_SWEEP_BATCH: u64 = 100;

/// Announces overdue tasks through the event outbox: `task.overdue` to the assignee once the
/// deadline passes, and `task.overdue_escalated` to the tenant's supervisors once it is still
/// open `VCAO_TASK_OVERDUE_GRACE_MINUTES` later. Each round first asks which tenants have one to
/// announce (one statement for all tenants), then claims them there. The announcements are
/// columns claimed conditionally (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so a task is announced
/// once however many replicas sweep, and one overdue while the service was down is announced on
/// the first sweep after it starts.
fn spawn_task_sweeper(state: AppState) {
    let interval = Duration::from_millis(state.settings.task_sweep_interval_ms);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            let now = infra::db::now();
            let tenants =
                match infra::store::tasks::tenants_with_overdue(&state.db, now, escalate_before(&state, now)).await {
                    Ok(tenants) => tenants,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not look for overdue tasks; will retry");
                        continue;
                    }
                };
            for tenant in tenants {
                match announce_overdue_tasks(&state, tenant).await {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::info!(tenant_id = %tenant, announced = n, "overdue tasks announced");
                        state.bus.publish(&infra::cache::events_topic(tenant)).await;
                    }
                    Err(e) => tracing::warn!(tenant_id = %tenant, error = %e, "task sweep failed; will retry"),
                }
            }
        }
    });
}

/// Tasks due before this, still open and not yet told to the supervisors, are told now.
fn escalate_before(state: &AppState, now: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    now - chrono::Duration::minutes(i64::from(state.settings.task_overdue_grace_minutes))
}

/// Announces one tenant's overdue tasks, at most [`TASK_SWEEP_BATCH`] of each announcement a
/// transaction, and returns how many announcements it made. Payloads hold ids, the kind and the
/// deadline: never the title, which may be personal. Each announcement is audited.
///
/// # Errors
/// The database error; nothing of the transaction stays.
pub async fn announce_overdue_tasks(state: &AppState, tenant: domain::TenantId) -> Result<usize, infra::StoreError> {
    use infra::store::{audit, events, tasks, users};
    let now = infra::db::now();
    let tx = infra::db::begin_tenant_tx_for(&state.db, tenant).await?;
    let overdue = tasks::claim_overdue(&tx, now, TASK_SWEEP_BATCH).await?;
    let escalated = tasks::claim_escalations(&tx, escalate_before(state, now), now, TASK_SWEEP_BATCH).await?;
    if overdue.is_empty() && escalated.is_empty() {
        return Ok(0);
    }
    let payload = |task: &tasks::Overdue| {
        serde_json::json!({
            "task_id": task.id, "case_id": task.case_id, "kind": task.kind.as_str(),
            "assigned_to": task.assigned_to, "due_at": task.due_at,
        })
    };
    let announced = |action: &'static str, task: &tasks::Overdue, told: usize| audit::AuditEntry {
        actor_id: None,
        action,
        resource_type: "task",
        resource_id: Some(task.id),
        client_ip: None,
        request_id: None,
        details: serde_json::json!({ "kind": task.kind.as_str(), "case_id": task.case_id, "recipients": told }),
    };
    let mut entries = Vec::new();
    for task in &overdue {
        events::publish(&tx, &[task.assigned_to], "task.overdue", &payload(task)).await?;
        entries.push(announced(domain::audit::actions::TASK_OVERDUE_ANNOUNCED, task, 1));
    }
    if !escalated.is_empty() {
        let supervisors = users::active_with_role(&tx, domain::user::Role::Supervisor).await?;
        for task in &escalated {
            events::publish(&tx, &supervisors, "task.overdue_escalated", &payload(task)).await?;
            entries.push(announced(domain::audit::actions::TASK_OVERDUE_ESCALATED, task, supervisors.len()));
        }
    }
    audit::record_many(&tx, entries).await?;
    tx.commit().await?;
    Ok(overdue.len() + escalated.len())
}
