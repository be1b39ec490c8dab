//! Police services and divisions: reference data every signed-in user reads and platform admins
//! manage. Effective-dated: lists show what is in force on `?on=` (default today).

use actix_web::{HttpResponse, get, post, web};
use chrono::NaiveDate;
use domain::audit::actions;
use domain::authz::Action;
use domain::reference::{DivisionCode, EffectivePeriod, reference_name, short_name};
use domain::{PoliceServiceId, ValidationErrors};
use infra::db::begin_tenant_read_tx;
use infra::store::audit::{self, AuditEntry};
use infra::store::reference::{self, PoliceDivision, PoliceService};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Page, PageQuery, authorize};
use crate::error::{ApiError, Problem};
use crate::extract::{Authenticated, IdempotencyHeader, RequestMeta};
use crate::idempotency::{Begun, Created, Idempotent};
use crate::state::AppState;

/// A new police service.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"name": "Peel Regional Police", "short_name": "PRP"}))]
pub struct CreatePoliceServiceRequest {
    /// Full name.
    pub name: String,
    /// Short name or abbreviation, e.g. `TPS`.
    pub short_name: String,
    /// First day in force, `YYYY-MM-DD` (default: today's date in UTC).
    pub effective_from: Option<NaiveDate>,
    /// First day no longer in force (the end is exclusive; after `effective_from`); omit for no end.
    pub effective_to: Option<NaiveDate>,
}

/// A new police division.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"police_service_id": "01936f1e-0000-7000-8000-000000000000", "name": "51 Division", "code": "51"}))]
pub struct CreatePoliceDivisionRequest {
    /// The service it belongs to.
    pub police_service_id: uuid::Uuid,
    /// The division's name, e.g. `51 Division`.
    pub name: String,
    /// Code as police use it.
    #[schema(min_length = 1, max_length = 16, pattern = "^[A-Za-z0-9-]+$")]
    pub code: String,
    /// First day in force, `YYYY-MM-DD` (default: today's date in UTC).
    pub effective_from: Option<NaiveDate>,
    /// First day no longer in force (the end is exclusive; after `effective_from`); omit for no end.
    pub effective_to: Option<NaiveDate>,
}

/// A police service.
#[derive(Debug, Serialize, ToSchema)]
pub struct PoliceServiceResponse {
    /// The police service's id; its divisions name it as `police_service_id`.
    pub id: uuid::Uuid,
    /// Full name.
    pub name: String,
    /// Short name or abbreviation, e.g. `TPS`.
    pub short_name: String,
    /// First day in force.
    pub effective_from: NaiveDate,
    /// First day no longer in force; null when no end is set.
    pub effective_to: Option<NaiveDate>,
}

/// A police division.
#[derive(Debug, Serialize, ToSchema)]
pub struct PoliceDivisionResponse {
    /// The division's id; cases, referrals, postings and shifts name it as `division_id`.
    pub id: uuid::Uuid,
    /// Id of the police service the division belongs to.
    pub police_service_id: uuid::Uuid,
    /// The division's name, e.g. `51 Division`.
    pub name: String,
    /// The division's code as police use it, e.g. `51` or `D51`.
    pub code: String,
    /// First day in force.
    pub effective_from: NaiveDate,
    /// First day no longer in force; null when no end is set.
    pub effective_to: Option<NaiveDate>,
}

impl From<PoliceService> for PoliceServiceResponse {
    fn from(s: PoliceService) -> Self {
        Self {
            id: s.id.as_uuid(),
            name: s.name,
            short_name: s.short_name,
            effective_from: s.period.from,
            effective_to: s.period.to,
        }
    }
}

impl From<PoliceDivision> for PoliceDivisionResponse {
    fn from(d: PoliceDivision) -> Self {
        Self {
            id: d.id.as_uuid(),
            police_service_id: d.police_service_id.as_uuid(),
            name: d.name,
            code: d.code,
            effective_from: d.period.from,
            effective_to: d.period.to,
        }
    }
}

/// Filters of the reference lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReferenceQuery {
    /// Only divisions of this service.
    pub police_service_id: Option<uuid::Uuid>,
    /// Show what is in force on this day (default today).
    pub on: Option<NaiveDate>,
    /// Include retired and future entries too.
    #[serde(default)]
    pub include_all: bool,
}

fn period(e: &mut ValidationErrors, from: Option<NaiveDate>, to: Option<NaiveDate>) -> Option<EffectivePeriod> {
    let from = from.unwrap_or_else(|| chrono::Utc::now().date_naive());
    e.check("effective_to", EffectivePeriod::new(from, to))
}

fn entry(actor: &domain::authz::Actor, meta: &RequestMeta, action: &'static str, id: uuid::Uuid) -> AuditEntry {
    AuditEntry {
        actor_id: Some(actor.user_id.as_uuid()),
        action,
        resource_type: "reference",
        resource_id: Some(id),
        client_ip: meta.client_ip.clone(),
        request_id: meta.request_id.clone(),
        details: serde_json::json!({}),
    }
}

/// Add a police service.
///
/// Platform admins only.
#[utoipa::path(
    tag = "reference",
    operation_id = "create_police_service",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 printable ASCII characters.")),
    request_body = CreatePoliceServiceRequest,
    responses(
        (status = 201, description = "Created", body = PoliceServiceResponse, headers(("Location" = String, description = "The list that holds the new service"))),
        (status = 403, description = "Not a platform admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/police-services")]
pub async fn create_police_service(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    idempotency: IdempotencyHeader,
    body: web::Json<CreatePoliceServiceRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ManageReferenceData)?;
    let mut e = ValidationErrors::default();
    let name = e.check("name", reference_name(&body.name));
    let short = e.check("short_name", short_name(&body.short_name));
    let period = period(&mut e, body.effective_from, body.effective_to);
    let (name, short, period) = e.finish(|| Some((name?, short?, period?)))?;
    let idempotent = Idempotent::new(idempotency, &actor, "create_police_service", &*body)?;
    let tx = match idempotent.begin(&state, &actor, &meta).await? {
        Begun::Replay(replay) => return replay.answer().await,
        Begun::Proceed(tx) => tx,
    };
    let service = reference::insert_service(tx.raw(), name, short, period).await?;
    audit::record(&tx, entry(&actor, &meta, actions::POLICE_SERVICE_CREATED, service.id.as_uuid())).await?;
    // There is no single-service resource; the list shows it.
    let location = "/api/v1/police-services?include_all=true".to_owned();
    idempotent.finish(tx, &actor, Created::new(&PoliceServiceResponse::from(service), location)?).await
}

/// List police services.
///
/// Police services in force today (or all, with their effective dates). Reference data every signed-in user may
/// read.
#[utoipa::path(
    tag = "reference",
    operation_id = "list_police_services",
    params(PageQuery, ReferenceQuery),
    responses(
        (status = 200, description = "A page of police services", body = Page<PoliceServiceResponse>),
    ),
    security(("bearer" = []))
)]
#[get("/police-services")]
pub async fn list_police_services(
    state: web::Data<AppState>,
    caller: Authenticated,
    page: web::Query<PageQuery>,
    filter: web::Query<ReferenceQuery>,
) -> Result<HttpResponse, ApiError> {
    authorize(&caller.0, Action::ReadReferenceData)?;
    let (limit, after) = page.parse()?;
    let on = if filter.include_all { None } else { Some(filter.on.unwrap_or_else(|| chrono::Utc::now().date_naive())) };
    let tx = begin_tenant_read_tx(&state.db, &caller.0).await?;
    let rows = reference::list_services(tx.raw(), on, after, limit.get() + 1).await?;
    tx.commit().await?;
    let (rows, next_cursor) = domain::paging::into_page(rows, limit, |s| s.id.as_uuid());
    Ok(HttpResponse::Ok()
        .json(Page { items: rows.into_iter().map(PoliceServiceResponse::from).collect(), next_cursor }))
}

/// Add a police division.
///
/// Adds an effective-dated division to a police service; codes are unique within a service for overlapping periods.
/// Platform admins only.
#[utoipa::path(
    tag = "reference",
    operation_id = "create_police_division",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 printable ASCII characters.")),
    request_body = CreatePoliceDivisionRequest,
    responses(
        (status = 201, description = "Created", body = PoliceDivisionResponse, headers(("Location" = String, description = "The list that holds the new division"))),
        (status = 403, description = "Not a platform admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The service has this code from that date already", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields or unknown police service", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/police-divisions")]
pub async fn create_police_division(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    idempotency: IdempotencyHeader,
    body: web::Json<CreatePoliceDivisionRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ManageReferenceData)?;
    let mut e = ValidationErrors::default();
    let name = e.check("name", reference_name(&body.name));
    let code = e.check("code", DivisionCode::parse(&body.code));
    let period = period(&mut e, body.effective_from, body.effective_to);
    let (name, code, period) = e.finish(|| Some((name?, code?, period?)))?;
    let idempotent = Idempotent::new(idempotency, &actor, "create_police_division", &*body)?;
    let tx = match idempotent.begin(&state, &actor, &meta).await? {
        Begun::Replay(replay) => return replay.answer().await,
        Begun::Proceed(tx) => tx,
    };
    let service = PoliceServiceId::from_uuid(body.police_service_id);
    let division = match reference::insert_division(tx.raw(), service, name, &code, period).await {
        Err(infra::StoreError::NotFound) => {
            return Err(ApiError::field("police_service_id", "does not name a police service"));
        }
        other => other?,
    };
    audit::record(&tx, entry(&actor, &meta, actions::POLICE_DIVISION_CREATED, division.id.as_uuid())).await?;
    let location =
        format!("/api/v1/police-divisions?police_service_id={}&include_all=true", division.police_service_id);
    idempotent.finish(tx, &actor, Created::new(&PoliceDivisionResponse::from(division), location)?).await
}

/// List police divisions.
///
/// Divisions of every police service, or of one, in force today (or all, with their effective dates). Reference
/// data every signed-in user may read.
#[utoipa::path(
    tag = "reference",
    operation_id = "list_police_divisions",
    params(PageQuery, ReferenceQuery),
    responses(
        (status = 200, description = "A page of police divisions", body = Page<PoliceDivisionResponse>),
    ),
    security(("bearer" = []))
)]
#[get("/police-divisions")]
pub async fn list_police_divisions(
    state: web::Data<AppState>,
    caller: Authenticated,
    page: web::Query<PageQuery>,
    filter: web::Query<ReferenceQuery>,
) -> Result<HttpResponse, ApiError> {
    authorize(&caller.0, Action::ReadReferenceData)?;
    let (limit, after) = page.parse()?;
    let on = if filter.include_all { None } else { Some(filter.on.unwrap_or_else(|| chrono::Utc::now().date_naive())) };
    let service = filter.police_service_id.map(PoliceServiceId::from_uuid);
    let tx = begin_tenant_read_tx(&state.db, &caller.0).await?;
    let rows = reference::list_divisions(tx.raw(), service, on, after, limit.get() + 1).await?;
    tx.commit().await?;
    let (rows, next_cursor) = domain::paging::into_page(rows, limit, |d| d.id.as_uuid());
    Ok(HttpResponse::Ok()
        .json(Page { items: rows.into_iter().map(PoliceDivisionResponse::from).collect(), next_cursor }))
}
