//! Police services and divisions: reference data every tenant reads and platform admins manage.

use chrono::NaiveDate;
use domain::reference::{DivisionCode, EffectivePeriod};
use domain::{PoliceDivisionId, PoliceServiceId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::{DbResultExt, StoreError};
use crate::entities::{police_division, police_service};

/// A police service.
#[derive(Clone, Debug)]
pub struct PoliceService {
    /// Its id.
    pub id: PoliceServiceId,
    /// Full name.
    pub name: String,
    /// Short name (`TPS`).
    pub short_name: String,
    /// When in force.
    pub period: EffectivePeriod,
}

/// A police division.
#[derive(Clone, Debug)]
pub struct PoliceDivision {
    /// Its id.
    pub id: PoliceDivisionId,
    /// Its service.
    pub police_service_id: PoliceServiceId,
    /// Name (`51 Division`).
    pub name: String,
    /// Code (`51`).
    pub code: String,
    /// When in force.
    pub period: EffectivePeriod,
}

fn period(from: NaiveDate, to: Option<NaiveDate>) -> Result<EffectivePeriod, StoreError> {
    // Stored rows were validated on the way in; one that ends before it starts is not read as
    // open-ended (in force for ever), it is refused.
    EffectivePeriod::new(from, to)
        .map_err(|_| StoreError::Corrupt(format!("effective period {from} to {to:?} ends before it starts")))
}

impl TryFrom<police_service::Model> for PoliceService {
    type Error = StoreError;

    fn try_from(m: police_service::Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: PoliceServiceId::from_uuid(m.id),
            name: m.name,
            short_name: m.short_name,
            period: period(m.effective_from, m.effective_to)?,
        })
    }
}

impl TryFrom<police_division::Model> for PoliceDivision {
    type Error = StoreError;

    fn try_from(m: police_division::Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: PoliceDivisionId::from_uuid(m.id),
            police_service_id: PoliceServiceId::from_uuid(m.police_service_id),
            name: m.name,
            code: m.code,
            period: period(m.effective_from, m.effective_to)?,
        })
    }
}

/// Rows in force on `day`: started on or before it, and not yet ended (the end is exclusive), the
/// same rule as `domain::reference::EffectivePeriod::includes`.
fn in_force(from: impl ColumnTrait, to: impl ColumnTrait, day: NaiveDate) -> Condition {
    Condition::all().add(from.lte(day)).add(Condition::any().add(to.is_null()).add(to.gt(day)))
}

/// Inserts a police service.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn insert_service(
    conn: &impl ConnectionTrait,
    name: String,
    short_name: String,
    period: EffectivePeriod,
) -> Result<PoliceService, StoreError> {
    police_service::ActiveModel {
        id: Set(PoliceServiceId::new().as_uuid()),
        name: Set(name),
        short_name: Set(short_name),
        effective_from: Set(period.from),
        effective_to: Set(period.to),
        created_at: Set(crate::db::now()),
    }
    .insert(conn)
    .await
    .store()
    .and_then(PoliceService::try_from)
}

/// Inserts a division of an existing service.
///
/// # Errors
/// [`StoreError::NotFound`] when the service does not exist; [`StoreError::Conflict`] on
/// `police_divisions.code` when the service already has that code from that date.
pub async fn insert_division(
    conn: &impl ConnectionTrait,
    service: PoliceServiceId,
    name: String,
    code: &DivisionCode,
    period: EffectivePeriod,
) -> Result<PoliceDivision, StoreError> {
    get_service(conn, service).await?;
    police_division::ActiveModel {
        id: Set(PoliceDivisionId::new().as_uuid()),
        police_service_id: Set(service.as_uuid()),
        name: Set(name),
        code: Set(code.as_str().to_owned()),
        effective_from: Set(period.from),
        effective_to: Set(period.to),
        created_at: Set(crate::db::now()),
    }
    .insert(conn)
    .await
    .store()
    .and_then(PoliceDivision::try_from)
}

/// One service.
///
/// # Errors
/// [`StoreError::NotFound`] when absent.
pub async fn get_service(conn: &impl ConnectionTrait, id: PoliceServiceId) -> Result<PoliceService, StoreError> {
    police_service::Entity::find_by_id(id.as_uuid())
        .one(conn)
        .await
        .store()?
        .map(PoliceService::try_from)
        .ok_or(StoreError::NotFound)?
}

/// One division.
///
/// # Errors
/// [`StoreError::NotFound`] when absent.
pub async fn get_division(conn: &impl ConnectionTrait, id: PoliceDivisionId) -> Result<PoliceDivision, StoreError> {
    police_division::Entity::find_by_id(id.as_uuid())
        .one(conn)
        .await
        .store()?
        .map(PoliceDivision::try_from)
        .ok_or(StoreError::NotFound)?
}

/// Services in force on `on` (all of them when `None`), a page after `after`.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn list_services(
    conn: &impl ConnectionTrait,
    on: Option<NaiveDate>,
    after: Option<uuid::Uuid>,
    limit: u64,
) -> Result<Vec<PoliceService>, StoreError> {
    let mut query = police_service::Entity::find().order_by_asc(police_service::Column::Id).limit(limit);
    if let Some(after) = after {
        query = query.filter(police_service::Column::Id.gt(after));
    }
    if let Some(day) = on {
        query = query.filter(in_force(police_service::Column::EffectiveFrom, police_service::Column::EffectiveTo, day));
    }
    query.all(conn).await.store()?.into_iter().map(PoliceService::try_from).collect()
}

/// Divisions in force on `on` (all when `None`), optionally of one service, a page after `after`.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn list_divisions(
    conn: &impl ConnectionTrait,
    service: Option<PoliceServiceId>,
    on: Option<NaiveDate>,
    after: Option<uuid::Uuid>,
    limit: u64,
) -> Result<Vec<PoliceDivision>, StoreError> {
    let mut query = police_division::Entity::find().order_by_asc(police_division::Column::Id).limit(limit);
    if let Some(after) = after {
        query = query.filter(police_division::Column::Id.gt(after));
    }
    if let Some(service) = service {
        query = query.filter(police_division::Column::PoliceServiceId.eq(service.as_uuid()));
    }
    if let Some(day) = on {
        query =
            query.filter(in_force(police_division::Column::EffectiveFrom, police_division::Column::EffectiveTo, day));
    }
    query.all(conn).await.store()?.into_iter().map(PoliceDivision::try_from).collect()
}
