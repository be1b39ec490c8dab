//! Everything a new referral is routed by, read in one statement: the division it names (does it
//! exist, and its code for the reporting fact), the division the referrer is posted at (a police
//! liaison refers only there), the agency's escalation windows, and who is on duty there with how
//! many open referrals each. A referral is made while an officer waits; each of these as its own
//! query was a round trip to the database.
//!
//! The rules stay where they live: who is on duty is `embedding::covering`, what counts as open is
//! `referrals::open_statuses`, the default windows are `settings`'.

use chrono::{DateTime, Utc};
use domain::dispatch::{Candidate, EscalationWindows};
use domain::{PoliceDivisionId, UserId};
use sea_orm::ConnectionTrait as _;
use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, JoinType, Order, Query, SubQueryStatement};
use uuid::Uuid;

use super::{DbResultExt, StoreError};
use crate::TenantTx;
use crate::entities::{agency_setting, police_division, referral, shift, user};

/// What a new referral at a division is routed by.
#[derive(Clone, Debug)]
pub struct Routing {
    /// The division's code (`51`).
    pub division_code: String,
    /// The division the referrer is posted at, if any.
    pub referrer_division: Option<PoliceDivisionId>,
    /// The agency's escalation windows.
    pub windows: EscalationWindows,
    /// Workers on duty there, earliest shift first, with their open referrals.
    pub on_duty: Vec<Candidate>,
}

/// The routing of a referral `referrer` makes at `division` at `at`; `None` when the division
/// does not exist.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn of(
    tx: &TenantTx,
    division: PoliceDivisionId,
    referrer: UserId,
    at: DateTime<Utc>,
) -> Result<Option<Routing>, StoreError> {
    let tenant = tx.tenant_id().as_uuid();
    let referrer_division = Query::select()
        .column((user::Entity, user::Column::DivisionId))
        .from(user::Entity)
        .and_where(Expr::col((user::Entity, user::Column::TenantId)).eq(tenant))
        .and_where(Expr::col((user::Entity, user::Column::Id)).eq(referrer.as_uuid()))
        .to_owned();
    let open = Query::select()
        .expr(Expr::col((referral::Entity, referral::Column::Id)).count())
        .from(referral::Entity)
        .and_where(Expr::col((referral::Entity, referral::Column::TenantId)).eq(tenant))
        .and_where(
            Expr::col((referral::Entity, referral::Column::AssignedTo)).equals((shift::Entity, shift::Column::UserId)),
        )
        .and_where(Expr::col((referral::Entity, referral::Column::Status)).is_in(super::referrals::open_statuses()))
        // Counted in SQL: one number per worker, however many referrals wait (a division where
        // nobody accepts for a while would otherwise send thousands of rows per new referral).
        .to_owned();
    let query = Query::select()
        .column((police_division::Entity, police_division::Column::Code))
        .expr_as(sub(referrer_division), Alias::new("referrer_division"))
        .columns([
            (agency_setting::Entity, agency_setting::Column::EscalationImmediateMinutes),
            (agency_setting::Entity, agency_setting::Column::EscalationSameDayMinutes),
            (agency_setting::Entity, agency_setting::Column::EscalationRoutineMinutes),
        ])
        .columns([(shift::Entity, shift::Column::UserId), (shift::Entity, shift::Column::StartsAt)])
        .expr_as(sub(open), Alias::new("open_referrals"))
        .from(police_division::Entity)
        .join(
            JoinType::LeftJoin,
            agency_setting::Entity,
            Expr::col((agency_setting::Entity, agency_setting::Column::TenantId)).eq(tenant),
        )
        .join(JoinType::LeftJoin, shift::Entity, super::embedding::covering(tenant, division, at))
        .and_where(Expr::col((police_division::Entity, police_division::Column::Id)).eq(division.as_uuid()))
        .order_by((shift::Entity, shift::Column::StartsAt), Order::Asc)
        .order_by((shift::Entity, shift::Column::UserId), Order::Asc)
        .to_owned();
    let backend = tx.raw().get_database_backend();
    let rows = tx.raw().query_all_raw(backend.build(&query)).await.store()?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let windows = match (
        first.try_get::<Option<i32>>("", "escalation_immediate_minutes").store()?,
        first.try_get::<Option<i32>>("", "escalation_same_day_minutes").store()?,
        first.try_get::<Option<i32>>("", "escalation_routine_minutes").store()?,
    ) {
        (Some(immediate), Some(same_day), Some(routine)) => EscalationWindows { immediate, same_day, routine },
        _ => EscalationWindows::default(),
    };
    let mut on_duty = Vec::new();
    for row in &rows {
        if let Some(worker) = row.try_get::<Option<Uuid>>("", "user_id").store()? {
            on_duty.push(Candidate {
                user_id: UserId::from_uuid(worker),
                open_referrals: u32::try_from(row.try_get::<i64>("", "open_referrals").store()?).unwrap_or(u32::MAX),
                shift_started: row.try_get::<DateTime<Utc>>("", "starts_at").store()?,
            });
        }
    }
    Ok(Some(Routing {
        division_code: first.try_get::<String>("", "code").store()?,
        referrer_division: first
            .try_get::<Option<Uuid>>("", "referrer_division")
            .store()?
            .map(PoliceDivisionId::from_uuid),
        windows,
        on_duty,
    }))
}

fn sub(select: sea_orm::sea_query::SelectStatement) -> Expr {
    Expr::SubQuery(None, Box::new(SubQueryStatement::SelectStatement(select)))
}
