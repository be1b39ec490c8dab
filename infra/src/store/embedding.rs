//! Workers embedded at police divisions: postings (from a date) and shifts (on duty between two
//! instants), and who is on duty at a division at an instant.

use chrono::{DateTime, NaiveDate, Utc};
use domain::{PoliceDivisionId, UserId};
use sea_orm::sea_query::{Expr, ExprTrait as _, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, Statement,
};
use uuid::Uuid;

use super::{DbResultExt, StoreError};
use crate::TenantTx;
use crate::entities::{posting, shift, user};

/// A posting.
#[derive(Clone, Debug)]
pub struct Posting {
    /// Id.
    pub id: Uuid,
    /// The worker.
    pub user_id: UserId,
    /// The division.
    pub division_id: PoliceDivisionId,
    /// First day.
    pub starts_on: NaiveDate,
    /// Last day.
    pub ends_on: Option<NaiveDate>,
}

impl From<posting::Model> for Posting {
    fn from(m: posting::Model) -> Self {
        Self {
            id: m.id,
            user_id: UserId::from_uuid(m.user_id),
            division_id: PoliceDivisionId::from_uuid(m.division_id),
            starts_on: m.starts_on,
            ends_on: m.ends_on,
        }
    }
}

/// A shift.
#[derive(Clone, Debug)]
pub struct Shift {
    /// Id.
    pub id: Uuid,
    /// The worker.
    pub user_id: UserId,
    /// The division.
    pub division_id: PoliceDivisionId,
    /// Start.
    pub starts_at: DateTime<Utc>,
    /// End.
    pub ends_at: DateTime<Utc>,
}

impl From<shift::Model> for Shift {
    fn from(m: shift::Model) -> Self {
        Self {
            id: m.id,
            user_id: UserId::from_uuid(m.user_id),
            division_id: PoliceDivisionId::from_uuid(m.division_id),
            starts_at: m.starts_at,
            ends_at: m.ends_at,
        }
    }
}

/// Inserts a posting.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn insert_posting(
    tx: &TenantTx,
    user: UserId,
    division: PoliceDivisionId,
    starts_on: NaiveDate,
    ends_on: Option<NaiveDate>,
) -> Result<Posting, StoreError> {
    posting::ActiveModel {
        tenant_id: Set(tx.tenant_id().as_uuid()),
        id: Set(Uuid::now_v7()),
        user_id: Set(user.as_uuid()),
        division_id: Set(division.as_uuid()),
        starts_on: Set(starts_on),
        ends_on: Set(ends_on),
        created_at: Set(crate::db::now()),
    }
    .insert(tx.raw())
    .await
    .store()
    .map(Posting::from)
}

/// A page of postings, optionally at one division.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn list_postings(
    tx: &TenantTx,
    division: Option<PoliceDivisionId>,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Posting>, StoreError> {
    let mut query = posting::Entity::find()
        .filter(posting::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .order_by_asc(posting::Column::Id)
        .limit(limit);
    if let Some(division) = division {
        query = query.filter(posting::Column::DivisionId.eq(division.as_uuid()));
    }
    if let Some(after) = after {
        query = query.filter(posting::Column::Id.gt(after));
    }
    Ok(query.all(tx.raw()).await.store()?.into_iter().map(Posting::from).collect())
}

/// Inserts a shift unless it overlaps another shift of the same worker. The check and the insert
/// are serialised per worker (an advisory lock on PostgreSQL; SQLite's write lock otherwise).
///
/// # Errors
/// [`StoreError::Conflict`] on `shifts.overlap`.
pub async fn insert_shift(
    tx: &TenantTx,
    user: UserId,
    division: PoliceDivisionId,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
) -> Result<Shift, StoreError> {
    if tx.raw().get_database_backend() == DbBackend::Postgres {
        tx.raw()
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock(7436020, hashtext($1))",
                [user.to_string().into()],
            ))
            .await
            .store()?;
    }
    let overlapping = shift::Entity::find()
        .filter(shift::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(shift::Column::UserId.eq(user.as_uuid()))
        .filter(shift::Column::StartsAt.lt(ends_at))
        .filter(shift::Column::EndsAt.gt(starts_at))
        .one(tx.raw())
        .await
        .store()?;
    if overlapping.is_some() {
        return Err(StoreError::Conflict { constraint: "shifts.overlap" });
    }
    shift::ActiveModel {
        tenant_id: Set(tx.tenant_id().as_uuid()),
        id: Set(Uuid::now_v7()),
        user_id: Set(user.as_uuid()),
        division_id: Set(division.as_uuid()),
        starts_at: Set(starts_at),
        ends_at: Set(ends_at),
        created_at: Set(crate::db::now()),
    }
    .insert(tx.raw())
    .await
    .store()
    .map(Shift::from)
}

/// Shifts overlapping `[from, to)`, optionally at one division, by start time (at most `limit`).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn list_shifts(
    tx: &TenantTx,
    division: Option<PoliceDivisionId>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Shift>, StoreError> {
    let mut query = shift::Entity::find()
        .filter(shift::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .order_by_asc(shift::Column::Id)
        .limit(limit);
    if let Some(division) = division {
        query = query.filter(shift::Column::DivisionId.eq(division.as_uuid()));
    }
    if let Some(from) = from {
        query = query.filter(shift::Column::EndsAt.gt(from));
    }
    if let Some(to) = to {
        query = query.filter(shift::Column::StartsAt.lt(to));
    }
    if let Some(after) = after {
        query = query.filter(shift::Column::Id.gt(after));
    }
    Ok(query.all(tx.raw()).await.store()?.into_iter().map(Shift::from).collect())
}

/// Deletes a shift.
///
/// # Errors
/// [`StoreError::NotFound`].
pub async fn delete_shift(tx: &TenantTx, id: Uuid) -> Result<(), StoreError> {
    let result = shift::Entity::delete_many()
        .filter(shift::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(shift::Column::Id.eq(id))
        .exec(tx.raw())
        .await
        .store()?;
    if result.rows_affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

/// A worker on duty.
#[derive(Clone, Debug)]
pub struct OnDuty {
    /// The worker.
    pub user_id: UserId,
    /// Their name.
    pub display_name: String,
    /// The shift.
    pub shift_id: Uuid,
    /// When it started.
    pub starts_at: DateTime<Utc>,
    /// When it ends.
    pub ends_at: DateTime<Utc>,
}

/// The rule of who is on duty, on `shifts`: a shift of the agency at `division` that covers `at`,
/// of a worker whose account is active. Also the condition `store::routing` joins shifts on.
pub(super) fn covering(tenant: Uuid, division: PoliceDivisionId, at: DateTime<Utc>) -> Condition {
    let active_worker = Query::select()
        .expr(Expr::val(1))
        .from(user::Entity)
        .and_where(Expr::col((user::Entity, user::Column::TenantId)).eq(tenant))
        .and_where(Expr::col((user::Entity, user::Column::Id)).equals((shift::Entity, shift::Column::UserId)))
        .and_where(Expr::col((user::Entity, user::Column::Active)).eq(true))
        .to_owned();
    Condition::all()
        .add(shift::Column::TenantId.eq(tenant))
        .add(shift::Column::DivisionId.eq(division.as_uuid()))
        .add(shift::Column::StartsAt.lte(at))
        .add(shift::Column::EndsAt.gt(at))
        .add(Expr::exists(active_worker))
}

/// Active workers of this agency whose shift at `division` covers `at`.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn on_duty(tx: &TenantTx, division: PoliceDivisionId, at: DateTime<Utc>) -> Result<Vec<OnDuty>, StoreError> {
    let shifts = shift::Entity::find()
        .filter(covering(tx.tenant_id().as_uuid(), division, at))
        .order_by_asc(shift::Column::StartsAt)
        .all(tx.raw())
        .await
        .store()?;
    if shifts.is_empty() {
        return Ok(Vec::new());
    }
    let users: std::collections::HashMap<Uuid, user::Model> = user::Entity::find()
        .filter(user::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(user::Column::Id.is_in(shifts.iter().map(|s| s.user_id).collect::<Vec<_>>()))
        .filter(user::Column::Active.eq(true))
        .all(tx.raw())
        .await
        .store()?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    Ok(shifts
        .into_iter()
        .filter_map(|s| {
            let user = users.get(&s.user_id)?;
            Some(OnDuty {
                user_id: UserId::from_uuid(s.user_id),
                display_name: user.display_name.clone(),
                shift_id: s.id,
                starts_at: s.starts_at,
                ends_at: s.ends_at,
            })
        })
        .collect())
}
