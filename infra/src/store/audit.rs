//! The audit log: events appended inside the transaction of what they record, a sealer that links
//! them into the tenant's hash chain afterwards, and the verification of that chain.

use chrono::{DateTime, SecondsFormat, Utc};
use domain::audit::{AuditRecord, Break, GENESIS, StoredLink, link_hash, verify_links};
use domain::authz::Actor;
use domain::{TenantId, uuid_v7_floor};
use sea_orm::QueryTrait as _;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    Statement,
};
use uuid::Uuid;

use super::{DbResultExt, StoreError};
use crate::TenantTx;
use crate::db::{Db, begin_tenant_tx_for};
use crate::entities::{audit_event, audit_seal};

/// One thing to record. Ids and fixed words only: never a name, a note or an email.
#[derive(Clone, Debug)]
pub struct AuditEntry {
    /// Who did it, if signed in.
    pub actor_id: Option<Uuid>,
    /// What (see `domain::audit::actions`).
    pub action: &'static str,
    /// To what kind of record.
    pub resource_type: &'static str,
    /// To which record.
    pub resource_id: Option<Uuid>,
    /// From which client address.
    pub client_ip: Option<String>,
    /// In which request.
    pub request_id: Option<String>,
    /// Extra non-personal detail.
    pub details: serde_json::Value,
}

/// An audit event as listed to an auditor.
#[derive(Clone, Debug)]
pub struct AuditEvent {
    /// Its id.
    pub id: Uuid,
    /// When.
    pub occurred_at: DateTime<Utc>,
    /// Who.
    pub actor_id: Option<Uuid>,
    /// What.
    pub action: String,
    /// Kind of record.
    pub resource_type: String,
    /// Which record.
    pub resource_id: Option<Uuid>,
    /// From where.
    pub client_ip: Option<String>,
    /// Which request.
    pub request_id: Option<String>,
    /// Extra detail.
    pub details: serde_json::Value,
}

/// Filters of the audit list.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Only this kind of record.
    pub resource_type: Option<String>,
    /// Only this record.
    pub resource_id: Option<Uuid>,
    /// Only this actor.
    pub actor_id: Option<Uuid>,
}

/// The result of verifying a tenant's chain.
#[derive(Clone, Debug)]
pub struct Verification {
    /// Links checked before the end or the first break.
    pub events_checked: u64,
    /// The first break, if any.
    pub first_break: Option<Break>,
    /// Events recorded but not yet sealed (normally none right after sealing).
    pub unsealed: u64,
}

/// Appends an event in the caller's transaction.
///
/// # Errors
/// [`StoreError`] on database failure; the caller's whole change then rolls back, so nothing
/// happens without its trace.
pub async fn record(tx: &TenantTx, entry: AuditEntry) -> Result<Uuid, StoreError> {
    let id = Uuid::now_v7();
    // Appended: written with the transaction's next statement or its commit (`TenantTx::append`).
    tx.append(audit_event::Entity::insert(row(tx, id, entry, crate::db::now())).into_query());
    Ok(id)
}

fn row(tx: &TenantTx, id: Uuid, entry: AuditEntry, at: DateTime<Utc>) -> audit_event::ActiveModel {
    audit_event::ActiveModel {
        tenant_id: Set(tx.tenant_id().as_uuid()),
        id: Set(id),
        occurred_at: Set(at),
        actor_id: Set(entry.actor_id),
        action: Set(entry.action.to_owned()),
        resource_type: Set(entry.resource_type.to_owned()),
        resource_id: Set(entry.resource_id),
        client_ip: Set(entry.client_ip),
        request_id: Set(entry.request_id),
        details: Set(entry.details.to_string()),
    }
}

/// Appends several events in one statement (the reads of a search result page), whose text is the
/// same for any page size (`TenantTx::append_rows`).
///
/// # Errors
/// [`StoreError`] on database failure; the caller's transaction then rolls back.
pub async fn record_many(tx: &TenantTx, entries: Vec<AuditEntry>) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let now = crate::db::now();
    let rows = entries.into_iter().map(|entry| row(tx, Uuid::now_v7(), entry, now)).collect();
    tx.append_rows(rows);
    Ok(())
}

/// A page of events, newest first, before `before`.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn list(
    tx: &TenantTx,
    filter: &AuditFilter,
    before: Option<Uuid>,
    limit: u64,
) -> Result<Vec<AuditEvent>, StoreError> {
    let mut query = audit_event::Entity::find()
        .filter(audit_event::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .order_by_desc(audit_event::Column::Id)
        .limit(limit);
    if let Some(before) = before {
        query = query.filter(audit_event::Column::Id.lt(before));
    }
    if let Some(kind) = &filter.resource_type {
        query = query.filter(audit_event::Column::ResourceType.eq(kind.clone()));
    }
    if let Some(id) = filter.resource_id {
        query = query.filter(audit_event::Column::ResourceId.eq(id));
    }
    if let Some(actor) = filter.actor_id {
        query = query.filter(audit_event::Column::ActorId.eq(actor));
    }
    let rows = query.all(tx.raw()).await.store()?;
    rows.into_iter()
        .map(|m| {
            Ok(AuditEvent {
                id: m.id,
                occurred_at: m.occurred_at,
                actor_id: m.actor_id,
                action: m.action,
                resource_type: m.resource_type,
                resource_id: m.resource_id,
                client_ip: m.client_ip,
                request_id: m.request_id,
                details: super::decode_json("audit_events.details", &m.details)?,
            })
        })
        .collect()
}

/// How far back (ms) a late-commit pass looks for events committed out of id order: a
/// transaction may commit an event later than one with a higher id. Longer-running transactions
/// are not expected.
const LATE_COMMIT_GRACE_MS: u64 = 10 * 60 * 1000;

/// The look-back for late commits, for callers that schedule the sweep: a tenant whose events
/// were all sealed longer ago than this has no late commit left to find.
pub const LATE_COMMIT_LOOK_BACK: std::time::Duration = std::time::Duration::from_millis(LATE_COMMIT_GRACE_MS);

/// How long after its newest sealed event a tenant's look-back is still swept for late commits:
/// the look-back, and two minutes for a transaction that was still open when the look-back ended.
const LATE_COMMIT_SWEEP_FOR: std::time::Duration =
    std::time::Duration::from_millis(LATE_COMMIT_GRACE_MS + 2 * 60 * 1000);

/// One tenant's audit work at the start of a sealer round (see [`backlog`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditBacklog {
    /// The tenant.
    pub tenant_id: TenantId,
    /// Its newest sealed event, if any is sealed.
    pub newest_sealed: Option<Uuid>,
    /// Whether an event newer than that (or any event, with none sealed) waits for a fresh pass.
    pub fresh_waiting: bool,
}

impl AuditBacklog {
    /// Whether a late commit can still turn up in the look-back window, so the sealer's sweep
    /// ([`sweep_late_commits`]) is worth its step: only while the newest sealed event is recent.
    /// A late commit is an event older than one sealed before it committed; once the newest sealed
    /// event was made longer ago than the look-back and two minutes, any event still to commit
    /// below it would come from a transaction open for longer than that, which the look-back does
    /// not cover anyway. Read from the database, so it holds after a restart and across replicas.
    #[must_use]
    pub fn late_commits_possible(&self, now: DateTime<Utc>) -> bool {
        let Some(newest) = self.newest_sealed else { return false };
        let now_ms = u64::try_from(now.timestamp_millis()).unwrap_or(0);
        let sweep_for = u64::try_from(LATE_COMMIT_SWEEP_FOR.as_millis()).unwrap_or(u64::MAX);
        uuid_millis(newest).saturating_add(sweep_for) >= now_ms
    }
}

/// Every tenant's audit backlog, in one statement for all tenants (not a transaction per tenant:
/// with 50 agencies that was a hundred statements a second with nothing to seal). On PostgreSQL,
/// `vcao_audit_backlog()` visits the tenants under row-level security (migration 000009). Both
/// forms test "newer than the newest sealed" as a range on the `(tenant_id, id)` key, never with
/// an `OR newest IS NULL` that would keep the id out of the index and walk every event.
///
/// # Errors
/// [`StoreError::Unexpected`] on database failure.
pub async fn backlog(db: &Db) -> Result<Vec<AuditBacklog>, StoreError> {
    let conn = db.global();
    let sql = match conn.get_database_backend() {
        DbBackend::Postgres => "SELECT tenant_id, newest_sealed, fresh_waiting FROM vcao_audit_backlog()",
        _ => {
            "SELECT x.tenant_id AS tenant_id, x.newest_sealed AS newest_sealed,
                    CASE WHEN x.newest_sealed IS NULL
                         THEN EXISTS (SELECT 1 FROM audit_events e WHERE e.tenant_id = x.tenant_id)
                         ELSE EXISTS (SELECT 1 FROM audit_events e
                                       WHERE e.tenant_id = x.tenant_id AND e.id > x.newest_sealed)
                    END AS fresh_waiting
             FROM (SELECT t.id AS tenant_id,
                          (SELECT max(s.event_id) FROM audit_seals s WHERE s.tenant_id = t.id) AS newest_sealed
                   FROM tenants t) x
             ORDER BY x.tenant_id"
        }
    };
    let rows = conn.query_all_raw(Statement::from_string(conn.get_database_backend(), sql)).await.store()?;
    rows.iter()
        .map(|row| {
            Ok(AuditBacklog {
                tenant_id: TenantId::from_uuid(row.try_get("", "tenant_id").store()?),
                newest_sealed: row.try_get("", "newest_sealed").store()?,
                fresh_waiting: row.try_get("", "fresh_waiting").store()?,
            })
        })
        .collect()
}

/// Most events sealed in one pass; the next pass takes the rest.
pub const SEAL_BATCH: u64 = 1000;

/// Which unsealed events a sealing pass looks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SealPass {
    /// Events newer than the newest sealed one: an index range read from there, so a pass costs
    /// what it seals. Nothing above the newest sealed event can be sealed already.
    Fresh,
    /// Also events that committed after newer ones were sealed: every event of the look-back
    /// window ([`LATE_COMMIT_LOOK_BACK`] before the newest sealed one) is checked against the
    /// seals. At a busy tenant that window holds hundreds of thousands of events, so this pass is
    /// for verification; the sealer sweeps the window step by step ([`sweep_late_commits`]).
    LateCommits,
}

/// Which events one pass considers (see [`seal`]).
enum Pick {
    /// Above the newest sealed event.
    Fresh,
    /// Unsealed ones from `from` (or the window's start, whichever is later) up, either to the
    /// top or, with `span_ms`, within that much id time.
    LookBack { from: Option<Uuid>, span_ms: Option<u64> },
}

/// Links the tenant's unsealed events that `pass` looks for into its chain, in id order, and
/// returns how many.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn seal_pending(db: &Db, tenant_id: TenantId, pass: SealPass) -> Result<u64, StoreError> {
    let pick = match pass {
        SealPass::Fresh => Pick::Fresh,
        SealPass::LateCommits => Pick::LookBack { from: None, span_ms: None },
    };
    Ok(seal(db, tenant_id, pick).await?.0)
}

/// One step of the sealer's sweep of the look-back window for late commits: seals the unsealed
/// events of the `step` (of id time) that starts at `from` (`None`: at the window's start) and
/// returns how many, and where the next step starts (`None` once a step reached the newest
/// events: the next sweep starts again at the window's start). A step that sealed a full batch is
/// taken again. Steps are a slice of the window so that none keeps a core busy: one pass over a
/// window of 537,615 events took 1.7 s.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn sweep_late_commits(
    db: &Db,
    tenant_id: TenantId,
    from: Option<Uuid>,
    step: std::time::Duration,
) -> Result<(u64, Option<Uuid>), StoreError> {
    let span_ms = Ord::max(u64::try_from(step.as_millis()).unwrap_or(u64::MAX), 1);
    let (sealed, next) = seal(db, tenant_id, Pick::LookBack { from, span_ms: Some(span_ms) }).await?;
    Ok((sealed, if sealed == SEAL_BATCH { from } else { next }))
}

/// Seals the events `pick` selects, at most [`SEAL_BATCH`], and returns how many and, for a
/// look-back step that stopped short of the newest events, where it stopped. Replicas racing on
/// one tenant serialise on an advisory lock (PostgreSQL) or the write lock (SQLite); a seal row
/// can only be appended.
async fn seal(db: &Db, tenant_id: TenantId, pick: Pick) -> Result<(u64, Option<Uuid>), StoreError> {
    let tx = begin_tenant_tx_for(db, tenant_id).await?;
    if tx.raw().get_database_backend() == DbBackend::Postgres {
        tx.raw()
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock(7436018, hashtext($1))",
                [tenant_id.to_string().into()],
            ))
            .await
            .store()?;
    }
    let last = audit_seal::Entity::find()
        .filter(audit_seal::Column::TenantId.eq(tenant_id.as_uuid()))
        .order_by_desc(audit_seal::Column::Seq)
        .one(tx.raw())
        .await
        .store()?;
    // The newest sealed event, which is not always the last link: a late commit is linked after
    // newer events. Read backwards on the (tenant, event) index.
    let newest_sealed: Option<Uuid> = audit_seal::Entity::find()
        .select_only()
        .column(audit_seal::Column::EventId)
        .filter(audit_seal::Column::TenantId.eq(tenant_id.as_uuid()))
        .order_by_desc(audit_seal::Column::EventId)
        .into_tuple()
        .one(tx.raw())
        .await
        .store()?;
    let (mut seq, mut previous) = match &last {
        None => (0_i64, GENESIS),
        // A link whose hash is not 32 bytes would restart the chain at the genesis hash and hide
        // whatever came before; refuse to seal past it instead.
        Some(link) => (
            link.seq,
            link.hash
                .as_slice()
                .try_into()
                .map_err(|_| StoreError::Corrupt(format!("audit_seals.hash of link {} is not 32 bytes", link.seq)))?,
        ),
    };
    let mut next = None;
    let candidates = audit_event::Entity::find().filter(audit_event::Column::TenantId.eq(tenant_id.as_uuid()));
    let candidates = match (pick, newest_sealed) {
        (_, None) => candidates,
        (Pick::Fresh, Some(newest)) => candidates.filter(audit_event::Column::Id.gt(newest)),
        (Pick::LookBack { from, span_ms }, Some(newest)) => {
            let floor = uuid_v7_floor(uuid_millis(newest).saturating_sub(LATE_COMMIT_GRACE_MS));
            let start = from.map_or(floor, |from| Ord::max(from, floor));
            // Unsealed events only, skipped in SQL: a burst of more than a batch of events within
            // the window would otherwise fill every pass with sealed ones and stall the chain.
            let already_sealed = Query::select()
                .expr(Expr::val(1))
                .from(audit_seal::Entity)
                .and_where(
                    Expr::col((audit_seal::Entity, audit_seal::Column::TenantId))
                        .equals((audit_event::Entity, audit_event::Column::TenantId)),
                )
                .and_where(
                    Expr::col((audit_seal::Entity, audit_seal::Column::EventId))
                        .equals((audit_event::Entity, audit_event::Column::Id)),
                )
                .to_owned();
            let candidates =
                candidates.filter(audit_event::Column::Id.gte(start)).filter(Expr::exists(already_sealed).not());
            match span_ms.map(|span| uuid_v7_floor(uuid_millis(start).saturating_add(span))) {
                Some(end) if end <= newest => {
                    next = Some(end);
                    candidates.filter(audit_event::Column::Id.lt(end))
                }
                _ => candidates,
            }
        }
    };
    let candidates = candidates.order_by_asc(audit_event::Column::Id).limit(SEAL_BATCH).all(tx.raw()).await.store()?;
    let now = crate::db::now();
    let mut links = Vec::with_capacity(candidates.len());
    for event in candidates {
        seq += 1;
        let hash = link_hash(&previous, seq.unsigned_abs(), &canonical(&event));
        links.push(audit_seal::ActiveModel {
            tenant_id: Set(tenant_id.as_uuid()),
            seq: Set(seq),
            event_id: Set(event.id),
            hash: Set(hash.to_vec()),
            sealed_at: Set(now),
        });
        previous = hash;
    }
    let count = links.len() as u64;
    // Written with the commit, with one statement text whatever the pass's size: a multi-row
    // insert of each size made a new prepared statement nearly every pass, which the driver keeps
    // per connection, and memory grew under load (`TenantTx::append_rows`).
    tx.append_rows(links);
    tx.commit().await?;
    Ok((count, next))
}

/// Seals what is pending, late commits included, then walks the whole chain of the caller's tenant
/// and reports the first broken link.
///
/// # Errors
/// [`StoreError::SessionEnded`] before anything is done when the caller's session ended;
/// [`StoreError`] on database failure.
pub async fn verify(db: &Db, caller: &Actor) -> Result<Verification, StoreError> {
    // The caller's session first: the sealing passes below run as the service, for no caller.
    crate::db::begin_tenant_read_tx(db, caller).await?.commit().await?;
    let tenant_id = caller.tenant_id;
    // Fresh passes first: each costs what it seals, where a look-back pass reads the whole window.
    while seal_pending(db, tenant_id, SealPass::Fresh).await? == SEAL_BATCH {}
    while seal_pending(db, tenant_id, SealPass::LateCommits).await? == SEAL_BATCH {}
    let tx = crate::db::begin_tenant_read_tx(db, caller).await?;
    let mut previous = GENESIS;
    let mut expected = 1_u64;
    let mut checked = 0_u64;
    let mut after = 0_i64;
    loop {
        let seals = audit_seal::Entity::find()
            .filter(audit_seal::Column::TenantId.eq(tenant_id.as_uuid()))
            .filter(audit_seal::Column::Seq.gt(after))
            .order_by_asc(audit_seal::Column::Seq)
            .limit(SEAL_BATCH)
            .all(tx.raw())
            .await
            .store()?;
        let Some(last) = seals.last() else { break };
        after = last.seq;
        let ids: Vec<Uuid> = seals.iter().map(|s| s.event_id).collect();
        let events: std::collections::HashMap<Uuid, audit_event::Model> = audit_event::Entity::find()
            .filter(audit_event::Column::TenantId.eq(tenant_id.as_uuid()))
            .filter(audit_event::Column::Id.is_in(ids))
            .all(tx.raw())
            .await
            .store()?
            .into_iter()
            .map(|e| (e.id, e))
            .collect();
        let links: Vec<StoredLink> = seals
            .iter()
            .map(|s| StoredLink {
                seq: s.seq.unsigned_abs(),
                hash: s.hash.clone(),
                record: events.get(&s.event_id).map(canonical),
            })
            .collect();
        match verify_links(previous, expected, &links) {
            Ok(hash) => {
                previous = hash;
                expected += links.len() as u64;
                checked += links.len() as u64;
            }
            Err(mut broken) => {
                checked += broken.seq.saturating_sub(expected);
                if broken.event_id.is_none() {
                    broken.event_id =
                        seals.iter().find(|s| s.seq.unsigned_abs() == broken.seq).map(|s| s.event_id.to_string());
                }
                return Ok(Verification { events_checked: checked, first_break: Some(broken), unsealed: 0 });
            }
        }
    }
    let total = audit_event::Entity::find()
        .filter(audit_event::Column::TenantId.eq(tenant_id.as_uuid()))
        .count(tx.raw())
        .await
        .store()?;
    tx.commit().await?;
    Ok(Verification { events_checked: checked, first_break: None, unsealed: total.saturating_sub(checked) })
}

/// The form of an event the chain protects.
fn canonical(event: &audit_event::Model) -> AuditRecord {
    AuditRecord {
        id: event.id.to_string(),
        occurred_at: event.occurred_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        actor_id: event.actor_id.map(|a| a.to_string()),
        action: event.action.clone(),
        resource_type: event.resource_type.clone(),
        resource_id: event.resource_id.map(|r| r.to_string()),
        client_ip: event.client_ip.clone(),
        request_id: event.request_id.clone(),
        details: event.details.clone(),
    }
}

fn uuid_millis(id: Uuid) -> u64 {
    id.get_timestamp().map_or(0, |ts| {
        let (secs, nanos) = ts.to_unix();
        secs.saturating_mul(1000).saturating_add(u64::from(nanos / 1_000_000))
    })
}
