//! Workers embedded at police divisions: postings, shifts and who is on duty.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use domain::authz::Action;
use domain::dispatch::{check_posting, check_shift};
use domain::user::Role;
use domain::{PoliceDivisionId, UserId, ValidationErrors};
use infra::TenantTx;
use infra::db::begin_tenant_tx;
use infra::store::embedding::{self, Posting, Shift};
use infra::store::{reference, users};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Page, PageQuery, authorize};
use crate::error::{ApiError, Problem};
use crate::extract::{Authenticated, IdempotencyHeader, RequestMeta};
use crate::idempotency::{Begun, Created, Idempotent};
use crate::state::AppState;

/// A new posting.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"user_id": "01936f1e-0000-7000-8000-000000000003", "division_id": "01936f1e-0000-7000-8000-000000000004", "starts_on": "2026-12-01"}))]
pub struct CreatePostingRequest {
    /// The worker (a supervisor or case manager of this agency).
    pub user_id: uuid::Uuid,
    /// Id of the police division the worker is posted at.
    pub division_id: uuid::Uuid,
    /// First day of the posting (`YYYY-MM-DD`).
    pub starts_on: NaiveDate,
    /// Last day of the posting (`YYYY-MM-DD`, inclusive, not before `starts_on`); omit for an open-ended posting.
    pub ends_on: Option<NaiveDate>,
}

/// A posting.
#[derive(Debug, Serialize, ToSchema)]
pub struct PostingResponse {
    /// The posting's id, assigned by the server.
    pub id: uuid::Uuid,
    /// Id of the posted worker.
    pub user_id: uuid::Uuid,
    /// Id of the police division the worker is posted at.
    pub division_id: uuid::Uuid,
    /// First day of the posting (`YYYY-MM-DD`).
    pub starts_on: NaiveDate,
    /// Last day of the posting (`YYYY-MM-DD`, inclusive); null when open-ended.
    pub ends_on: Option<NaiveDate>,
}

impl From<Posting> for PostingResponse {
    fn from(p: Posting) -> Self {
        Self {
            id: p.id,
            user_id: p.user_id.as_uuid(),
            division_id: p.division_id.as_uuid(),
            starts_on: p.starts_on,
            ends_on: p.ends_on,
        }
    }
}

/// A new shift.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"user_id": "01936f1e-0000-7000-8000-000000000003", "division_id": "01936f1e-0000-7000-8000-000000000004",
    "starts_at": "2026-12-01T08:00:00Z", "ends_at": "2026-12-01T16:00:00Z"}))]
pub struct CreateShiftRequest {
    /// Id of the worker: an active supervisor or case manager of this agency.
    pub user_id: uuid::Uuid,
    /// Id of the police division where the worker is on duty.
    pub division_id: uuid::Uuid,
    /// When the shift starts; the worker is on duty from this instant. Must not overlap their other shifts (`409`).
    pub starts_at: DateTime<Utc>,
    /// End (after the start, at most 24 hours later).
    pub ends_at: DateTime<Utc>,
}

/// A shift.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShiftResponse {
    /// The shift's id, assigned by the server; cancel the shift with it.
    pub id: uuid::Uuid,
    /// Id of the worker on shift.
    pub user_id: uuid::Uuid,
    /// Id of the police division the shift is at.
    pub division_id: uuid::Uuid,
    /// When the shift starts (UTC); the worker is on duty from this instant.
    pub starts_at: DateTime<Utc>,
    /// When the shift ends (UTC), at most 24 hours after the start; the worker is off duty from this instant.
    pub ends_at: DateTime<Utc>,
}

impl From<Shift> for ShiftResponse {
    fn from(s: Shift) -> Self {
        Self {
            id: s.id,
            user_id: s.user_id.as_uuid(),
            division_id: s.division_id.as_uuid(),
            starts_at: s.starts_at,
            ends_at: s.ends_at,
        }
    }
}

/// Filter by division.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DivisionQuery {
    /// Only this division.
    pub division_id: Option<uuid::Uuid>,
}

/// Filters of the shift list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ShiftQuery {
    /// Only this division.
    pub division_id: Option<uuid::Uuid>,
    /// Shifts ending after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Shifts starting before this instant.
    pub to: Option<DateTime<Utc>>,
}

/// The instant to ask about.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AtQuery {
    /// The instant (default now).
    pub at: Option<DateTime<Utc>>,
}

/// A worker on duty.
#[derive(Debug, Serialize, ToSchema)]
pub struct OnDutyItem {
    /// Id of the worker on duty.
    pub user_id: uuid::Uuid,
    /// The worker's display name.
    pub display_name: String,
    /// Id of the shift that has them on duty at the instant asked about.
    pub shift_id: uuid::Uuid,
    /// When the shift ends.
    pub ends_at: DateTime<Utc>,
}

/// Who is on duty.
#[derive(Debug, Serialize, ToSchema)]
pub struct OnDutyResponse {
    /// The workers on duty, longest on shift first.
    pub items: Vec<OnDutyItem>,
}

/// Checks that the worker is an active supervisor or case manager here and the division exists.
async fn check_worker_and_division(tx: &TenantTx, user: uuid::Uuid, division: uuid::Uuid) -> Result<(), ApiError> {
    let mut e = ValidationErrors::default();
    match users::get(tx, UserId::from_uuid(user)).await {
        Ok(u) if u.active && (u.roles.contains(Role::CaseManager) || u.roles.contains(Role::Supervisor)) => {}
        Ok(_) | Err(infra::StoreError::NotFound) => {
            e.add("user_id", "must be an active supervisor or case manager of this agency")
        }
        Err(err) => return Err(err.into()),
    }
    match reference::get_division(tx.raw(), PoliceDivisionId::from_uuid(division)).await {
        Ok(_) => {}
        Err(infra::StoreError::NotFound) => e.add("division_id", "does not name a police division"),
        Err(err) => return Err(err.into()),
    }
    Ok(e.finish(|| Some(()))?)
}

/// Post a worker at a division.
///
/// Agency admins only. Postings describe the embedding; the shift alone decides who is on duty.
#[utoipa::path(
    tag = "embedding",
    operation_id = "create_posting",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 printable ASCII characters.")),
    request_body = CreatePostingRequest,
    responses(
        (status = 201, description = "Posted", body = PostingResponse, headers(("Location" = String, description = "The postings list"))),
        (status = 403, description = "Not an agency admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields or references", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/postings")]
pub async fn create_posting(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    idempotency: IdempotencyHeader,
    body: web::Json<CreatePostingRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ManageEmbedding)?;
    check_posting(body.starts_on, body.ends_on).map_err(|e| ApiError::field("ends_on", e.to_string()))?;
    let idempotent = Idempotent::new(idempotency, &actor, "create_posting", &*body)?;
    let tx = match idempotent.begin(&state, &actor, &meta).await? {
        Begun::Replay(replay) => return replay.answer().await,
        Begun::Proceed(tx) => tx,
    };
    check_worker_and_division(&tx, body.user_id, body.division_id).await?;
    let posting = embedding::insert_posting(
        &tx,
        UserId::from_uuid(body.user_id),
        PoliceDivisionId::from_uuid(body.division_id),
        body.starts_on,
        body.ends_on,
    )
    .await?;
    let location = format!("/api/v1/postings?division_id={}", posting.division_id);
    idempotent.finish(tx, &actor, Created::new(&PostingResponse::from(posting), location)?).await
}

/// List postings.
///
/// Where the agency's workers are posted, optionally at one division.
#[utoipa::path(
    tag = "embedding",
    operation_id = "list_postings",
    params(DivisionQuery, PageQuery),
    responses(
        (status = 200, description = "A page of postings", body = Page<PostingResponse>),
        (status = 403, description = "Not agency staff", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/postings")]
pub async fn list_postings(
    state: web::Data<AppState>,
    caller: Authenticated,
    query: web::Query<DivisionQuery>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ReadEmbedding)?;
    let (limit, after) = page.parse()?;
    let tx = begin_tenant_tx(&state.db, &actor).await?;
    let rows =
        embedding::list_postings(&tx, query.division_id.map(PoliceDivisionId::from_uuid), after, limit.get() + 1)
            .await?;
    tx.commit().await?;
    let (rows, next_cursor) = domain::paging::into_page(rows, limit, |p| p.id);
    Ok(HttpResponse::Ok().json(Page { items: rows.into_iter().map(PostingResponse::from).collect(), next_cursor }))
}

/// Schedule a shift.
///
/// Puts a worker on duty at a division for a period. A worker's shifts never overlap (`409`). Agency admins only.
#[utoipa::path(
    tag = "embedding",
    operation_id = "create_shift",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 printable ASCII characters.")),
    request_body = CreateShiftRequest,
    responses(
        (status = 201, description = "Scheduled", body = ShiftResponse, headers(("Location" = String, description = "The shifts of its division"))),
        (status = 403, description = "Not an agency admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Overlaps another shift of the worker", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Ends before it starts, longer than a day, or bad references", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/shifts")]
pub async fn create_shift(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    idempotency: IdempotencyHeader,
    body: web::Json<CreateShiftRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ManageEmbedding)?;
    check_shift(body.starts_at, body.ends_at).map_err(|e| ApiError::field("ends_at", e.to_string()))?;
    let idempotent = Idempotent::new(idempotency, &actor, "create_shift", &*body)?;
    let tx = match idempotent.begin(&state, &actor, &meta).await? {
        Begun::Replay(replay) => return replay.answer().await,
        Begun::Proceed(tx) => tx,
    };
    check_worker_and_division(&tx, body.user_id, body.division_id).await?;
    let shift = match embedding::insert_shift(
        &tx,
        UserId::from_uuid(body.user_id),
        PoliceDivisionId::from_uuid(body.division_id),
        body.starts_at,
        body.ends_at,
    )
    .await
    {
        Err(infra::StoreError::Conflict { .. }) => {
            return Err(ApiError::Conflict("The worker already has a shift in that time.".to_owned()));
        }
        other => other?,
    };
    let location = format!("/api/v1/shifts?division_id={}", shift.division_id);
    idempotent.finish(tx, &actor, Created::new(&ShiftResponse::from(shift), location)?).await
}

/// List shifts.
///
/// Shifts of the agency's workers, optionally at one division and overlapping a time range.
#[utoipa::path(
    tag = "embedding",
    operation_id = "list_shifts",
    params(ShiftQuery, PageQuery),
    responses(
        (status = 200, description = "A page of shifts", body = Page<ShiftResponse>),
        (status = 403, description = "Not agency staff", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/shifts")]
pub async fn list_shifts(
    state: web::Data<AppState>,
    caller: Authenticated,
    query: web::Query<ShiftQuery>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ReadEmbedding)?;
    let (limit, after) = page.parse()?;
    let tx = begin_tenant_tx(&state.db, &actor).await?;
    let division = query.division_id.map(PoliceDivisionId::from_uuid);
    let rows = embedding::list_shifts(&tx, division, query.from, query.to, after, limit.get() + 1).await?;
    tx.commit().await?;
    let (rows, next_cursor) = domain::paging::into_page(rows, limit, |s| s.id);
    Ok(HttpResponse::Ok().json(Page { items: rows.into_iter().map(ShiftResponse::from).collect(), next_cursor }))
}

/// Cancel a shift.
///
/// Agency admins only.
#[utoipa::path(
    tag = "embedding",
    operation_id = "delete_shift",
    params(("id" = uuid::Uuid, Path, description = "Shift id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not an agency admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/shifts/{id}")]
pub async fn delete_shift(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ManageEmbedding)?;
    let tx = begin_tenant_tx(&state.db, &actor).await?;
    embedding::delete_shift(&tx, path.into_inner()).await?;
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Who is on duty at a division.
///
/// The caller's agency's workers on shift at the division at an instant (default: now).
#[utoipa::path(
    tag = "embedding",
    operation_id = "get_on_duty",
    params(("id" = uuid::Uuid, Path, description = "Police division id"), AtQuery),
    responses(
        (status = 200, description = "Workers on duty", body = OnDutyResponse),
        (status = 403, description = "Not agency staff", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/police-divisions/{id}/on-duty")]
pub async fn get_on_duty(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<uuid::Uuid>,
    query: web::Query<AtQuery>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ReadEmbedding)?;
    let division = PoliceDivisionId::from_uuid(path.into_inner());
    let tx = begin_tenant_tx(&state.db, &actor).await?;
    reference::get_division(tx.raw(), division).await?;
    let rows = embedding::on_duty(&tx, division, query.at.unwrap_or_else(Utc::now)).await?;
    tx.commit().await?;
    let items = rows
        .into_iter()
        .map(|d| OnDutyItem {
            user_id: d.user_id.as_uuid(),
            display_name: d.display_name,
            shift_id: d.shift_id,
            ends_at: d.ends_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(OnDutyResponse { items }))
}
