//! The event outbox: one row per recipient, written in the same transaction as the change it
//! announces. Streams read their own rows after the last id they saw, so a client that reconnects
//! with `Last-Event-ID` gets exactly what it missed. Rows older than the retention
//! (`VCAO_EVENT_RETENTION_DAYS`) are deleted by the service's pruner ([`delete_older_than`]).

use chrono::{DateTime, Utc};
use domain::UserId;
use sea_orm::QueryTrait as _;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use super::{DbResultExt, StoreError};
use crate::TenantTx;
use crate::entities::event;

/// An event as a stream sends it.
#[derive(Clone, Debug)]
pub struct Event {
    /// Id (UUID v7, the SSE `id`).
    pub id: Uuid,
    /// `referral.created`, `referral.accepted`, `referral.escalated`, `case.assigned`,
    /// `task.overdue`, `task.overdue_escalated`.
    pub kind: String,
    /// JSON payload: ids and fixed words only.
    pub payload: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// Writes one event for each recipient.
///
/// # Errors
/// [`StoreError`] on database failure; the caller's change then rolls back with it.
pub async fn publish(
    tx: &TenantTx,
    recipients: &[UserId],
    kind: &str,
    payload: &serde_json::Value,
) -> Result<(), StoreError> {
    if recipients.is_empty() {
        return Ok(());
    }
    let now = crate::db::now();
    let mut unique: Vec<UserId> = recipients.to_vec();
    unique.sort();
    unique.dedup();
    let rows = unique.into_iter().map(|user| event::ActiveModel {
        tenant_id: Set(tx.tenant_id().as_uuid()),
        id: Set(Uuid::now_v7()),
        user_id: Set(user.as_uuid()),
        kind: Set(kind.to_owned()),
        payload: Set(payload.to_string()),
        created_at: Set(now),
    });
    tx.append_rows(rows.collect());
    Ok(())
}

/// The user's events after `after` (all retained ones when `None`), oldest first.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn after(tx: &TenantTx, user: UserId, after: Option<Uuid>, limit: u64) -> Result<Vec<Event>, StoreError> {
    let mut query = event::Entity::find()
        .filter(event::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(event::Column::UserId.eq(user.as_uuid()))
        .order_by_asc(event::Column::Id)
        .limit(limit);
    if let Some(after) = after {
        query = query.filter(event::Column::Id.gt(after));
    }
    Ok(query
        .all(tx.raw())
        .await
        .store()?
        .into_iter()
        .map(|m| Event { id: m.id, kind: m.kind, payload: m.payload, created_at: m.created_at })
        .collect())
}

/// The newest event id of a user, so a fresh stream starts from now.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn latest_id(tx: &TenantTx, user: UserId) -> Result<Option<Uuid>, StoreError> {
    event::Entity::find()
        .select_only()
        .column(event::Column::Id)
        .filter(event::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(event::Column::UserId.eq(user.as_uuid()))
        .order_by_desc(event::Column::Id)
        .into_tuple::<Uuid>()
        .one(tx.raw())
        .await
        .store()
}

/// Deletes up to `limit` of the tenant's events made before `before`, oldest first, and returns
/// how many went. Events are notices (ids and fixed words): the referrals and cases they announce
/// stay in their own tables, and a stream that reconnects with an older `Last-Event-ID` gets what
/// is left after it. Ids are UUID v7, so "made before" is an id range on the primary key.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn delete_older_than(tx: &TenantTx, before: DateTime<Utc>, limit: u64) -> Result<u64, StoreError> {
    let tenant = tx.tenant_id().as_uuid();
    let floor = domain::uuid_v7_floor(u64::try_from(before.timestamp_millis()).unwrap_or(0));
    let oldest = event::Entity::find()
        .select_only()
        .column(event::Column::Id)
        .filter(event::Column::TenantId.eq(tenant))
        .filter(event::Column::Id.lt(floor))
        .order_by_asc(event::Column::Id)
        .limit(limit)
        .into_query();
    let result = event::Entity::delete_many()
        .filter(event::Column::TenantId.eq(tenant))
        .filter(event::Column::Id.in_subquery(oldest))
        .exec(tx.raw())
        .await
        .store()?;
    Ok(result.rows_affected)
}
