//! Cases: opened on a client, worked by case managers and supervisors. Restricted cases exist only
//! for their assigned worker and supervisors. Every read is audited in the same transaction.

use actix_web::{HttpResponse, get, patch, post, web};
use domain::audit::actions;
use domain::authz::{Action, Actor, CaseScope};
use domain::case::{self, CaseStatus, ReferralSource, RiskLevel, VictimizationType};

use domain::{PoliceDivisionId, UserId, ValidationErrors};
use infra::TenantTx;

use infra::db::begin_tenant_tx;
use infra::store::audit::{self, AuditFilter};
use infra::store::cases::{self, Case, CaseChanges, CaseFilter, NewCase};
use infra::store::{case_references, users};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::audit::AuditEventResponse;
use super::clients::nullable;
use super::{Page, PageQuery, authorize};
use crate::audit_trail::entry;
use crate::error::{ApiError, Problem};
use crate::extract::{Authenticated, IdempotencyHeader, IfMatch, RequestMeta, with_etag};
use crate::idempotency::{Begun, Created, Idempotent};
use crate::state::AppState;

/// A new case.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"client_id": "01936f1e-0000-7000-8000-000000000001", "victimization_types": ["human_trafficking_sexual"],
    "referral_source": "police", "restricted": false}))]
pub struct CreateCaseRequest {
    /// Id of an existing client of this agency that the caller may see (`422` otherwise).
    pub client_id: uuid::Uuid,
    /// What happened; at least one of the victimization types.
    #[schema(min_items = 1)]
    pub victimization_types: Vec<String>,
    /// `police`, `self`, `community_organization`, `hospital`, `court` or `other`.
    pub referral_source: String,
    /// Id of one of this agency's programs for the case to belong to; omit for none.
    pub program_id: Option<uuid::Uuid>,
    /// Id of the police division involved (from the reference data); omit for none.
    pub division_id: Option<uuid::Uuid>,
    /// Id of the worker to assign: an active supervisor or case manager of this agency; omit to leave unassigned.
    pub assigned_to: Option<uuid::Uuid>,
    /// Visible only to the assigned worker and supervisors.
    #[serde(default)]
    pub restricted: bool,
}

/// Changes to a case; absent fields stay; `null` unassigns or clears the risk level.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"assigned_to": "01936f1e-0000-7000-8000-000000000003", "restricted": true}))]
pub struct UpdateCaseRequest {
    /// New worker, or `null` to unassign.
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub assigned_to: Option<Option<uuid::Uuid>>,
    /// New victimization types, at least one (replaces all); omit to keep them.
    #[schema(min_items = 1)]
    pub victimization_types: Option<Vec<String>>,
    /// `true` restricts the case; `false` lifts the restriction (supervisors only, else `403`); omit to keep.
    pub restricted: Option<bool>,
    /// New risk level, or `null` to clear it; omit to keep it.
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub risk_level: Option<Option<String>>,
}

/// Why a case is closed or reopened.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"reason": "Safety plan in place; client connected with shelter services."}))]
pub struct ReasonRequest {
    /// The reason (encrypted at rest).
    pub reason: String,
}

/// A case.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseResponse {
    /// The case's id, assigned by the server.
    pub id: uuid::Uuid,
    /// Id of the client the case is about.
    pub client_id: uuid::Uuid,
    /// `open` or `closed`.
    pub status: String,
    /// What happened: one or more victimization types, without repeats, in the order the enum lists them.
    pub victimization_types: Vec<String>,
    /// Who referred the client, as given when the case was opened.
    pub referral_source: String,
    /// Id of the agency program the case belongs to; null when none.
    pub program_id: Option<uuid::Uuid>,
    /// Id of the police division involved; null when none.
    pub division_id: Option<uuid::Uuid>,
    /// Id of the assigned worker (a supervisor or case manager); null when unassigned.
    pub assigned_to: Option<uuid::Uuid>,
    /// Visible only to the assigned worker and supervisors.
    pub restricted: bool,
    /// Set by the newest risk assessment or by a PATCH; null until either happens or after a PATCH clears it.
    pub risk_level: Option<String>,
    /// When the case was opened (UTC, set by the server).
    pub opened_at: chrono::DateTime<chrono::Utc>,
    /// When the case was last closed (UTC); null while it is open, including after a reopen.
    pub closed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Same as the `ETag`: send it back as `If-Match: "<version>"` to change the case. Goes up on every change.
    pub version: i32,
}

impl From<Case> for CaseResponse {
    fn from(c: Case) -> Self {
        Self {
            id: c.id,
            client_id: c.client_id,
            status: c.status.as_str().to_owned(),
            victimization_types: c.victimization_types.iter().map(|t| t.as_str().to_owned()).collect(),
            referral_source: c.referral_source.as_str().to_owned(),
            program_id: c.program_id,
            division_id: c.division_id.map(|d| d.as_uuid()),
            assigned_to: c.assigned_to.map(|u| u.as_uuid()),
            restricted: c.restricted,
            risk_level: c.risk_level.map(|l| l.as_str().to_owned()),
            opened_at: c.opened_at,
            closed_at: c.closed_at,
            version: c.version,
        }
    }
}

/// Filters of the case list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseQuery {
    /// `open` or `closed`.
    pub status: Option<String>,
    /// Only cases assigned to this worker.
    pub assigned_to: Option<uuid::Uuid>,
    /// Only cases with this victimization type.
    pub victimization_type: Option<String>,
    /// Only cases at this police division.
    pub division_id: Option<uuid::Uuid>,
}

/// Why an assignee is refused.
const ASSIGNEE_REFUSED: &str = "must be an active supervisor or case manager of this agency";

/// Refuses an assignee who is not an active supervisor or case manager of this agency.
async fn check_assignee(tx: &TenantTx, worker: UserId) -> Result<(), ApiError> {
    match users::get(tx, worker).await {
        Ok(user) if case::may_hold_cases(user.active, &user.roles) => Ok(()),
        Ok(_) | Err(infra::StoreError::NotFound) => Err(ApiError::field("assigned_to", ASSIGNEE_REFUSED)),
        Err(e) => Err(e.into()),
    }
}

impl CreateCaseRequest {
    /// The references this request names, for [`case_references::find`].
    fn named(&self) -> case_references::Named {
        case_references::Named {
            client: self.client_id,
            program: self.program_id,
            division: self.division_id.map(PoliceDivisionId::from_uuid),
            assignee: self.assigned_to.map(UserId::from_uuid),
        }
    }

    /// The case to open, from the request and what its references were found to be (no query
    /// here: `found` was read in one statement). Every field's problem is reported at once.
    fn try_into_domain(&self, found: case_references::Found) -> Result<NewCase, ApiError> {
        let mut e = ValidationErrors::default();
        let types = e.check("victimization_types", case::victimization_types(&self.victimization_types));
        let source = e.check("referral_source", ReferralSource::parse(&self.referral_source));
        if found.client.is_none() {
            e.add("client_id", "does not name a client");
        }
        if self.program_id.is_some() && found.program.is_none() {
            e.add("program_id", "does not name a program of this agency");
        }
        if self.division_id.is_some() && found.division.is_none() {
            e.add("division_id", "does not name a police division");
        }
        if self.assigned_to.is_some()
            && !found.assignee.as_ref().is_some_and(|u| case::may_hold_cases(u.active, &u.roles))
        {
            e.add("assigned_to", ASSIGNEE_REFUSED);
        }
        Ok(e.finish(|| {
            Some(NewCase {
                client: found.client?,
                victimization_types: types?,
                referral_source: source?,
                program: found.program,
                division: found.division,
                assigned_to: self.assigned_to.map(UserId::from_uuid),
                restricted: self.restricted,
            })
        })?)
    }
}

/// Open a case.
///
/// Opens a case on an existing client, with its victimization types, referral source and optionally a program,
/// division and assigned worker (who is told over the event stream). Supervisors and case managers only. Audited;
/// also records a de-identified reporting fact.
#[utoipa::path(
    tag = "cases",
    operation_id = "create_case",
    request_body = CreateCaseRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 printable ASCII characters.")),
    responses(
        (status = 201, description = "Opened", body = CaseResponse, headers(("Location" = String, description = "The new case"), ("ETag" = String, description = "Version for If-Match"))),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields or references, or an Idempotency-Key reused with another body", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/cases")]
pub async fn create_case(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    idempotency: IdempotencyHeader,
    body: web::Json<CreateCaseRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::WorkCases)?;
    let idempotent = Idempotent::new(idempotency, &actor, "create_case", &*body)?;
    // The key before the transaction: loading it takes a transaction of its own.
    let cipher = state.cipher(actor.tenant_id).await?;
    let tx = match idempotent.begin(&state, &actor, &meta).await? {
        Begun::Replay(replay) => {
            // The case may have been restricted or reassigned away from the caller since.
            cases::get(replay.tx(), replay.resource_id()?, CaseScope::of(&actor)).await?;
            return replay.answer().await;
        }
        Begun::Proceed(tx) => tx,
    };
    let found = case_references::find(&tx, &cipher, body.named(), CaseScope::of(&actor)).await?;
    let new = body.try_into_domain(found)?;
    let case = cases::queue_insert(&tx, &cipher, new)?;
    announce_assignment(&tx, &case, None).await?;
    let details = serde_json::json!({ "client_id": case.client_id, "restricted": case.restricted });
    audit::record(&tx, entry(&actor, &meta, actions::CASE_CREATED, "case", Some(case.id), details)).await?;
    let location = format!("/api/v1/cases/{}", case.id);
    let version = case.version;
    let wake = case.assigned_to.is_some();
    let response =
        idempotent.finish(tx, &actor, Created::new(&CaseResponse::from(case), location)?.with_etag(version)).await?;
    if wake {
        state.bus.publish(&infra::cache::events_topic(actor.tenant_id)).await;
    }
    Ok(response)
}

/// List cases.
///
/// The cases the caller may see, oldest first, filtered by status, assigned worker, victimization type or division.
/// Restricted cases appear only to their assigned worker and supervisors. Supervisors and case managers only; each
/// returned case is an audited read.
#[utoipa::path(
    tag = "cases",
    operation_id = "list_cases",
    params(CaseQuery, PageQuery),
    responses(
        (status = 200, description = "A page of cases", body = Page<CaseResponse>),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/cases")]
pub async fn list_cases(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    query: web::Query<CaseQuery>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::WorkCases)?;
    let (limit, after) = page.parse()?;
    let mut e = ValidationErrors::default();
    let status = query.status.as_deref().map(|s| e.check("status", CaseStatus::parse(s)));
    let kind = query.victimization_type.as_deref().map(|t| e.check("victimization_type", VictimizationType::parse(t)));
    e.finish(|| Some(()))?;
    let filter = CaseFilter {
        status: status.flatten(),
        assigned_to: query.assigned_to.map(UserId::from_uuid),
        victimization_type: kind.flatten(),
        division_id: query.division_id.map(PoliceDivisionId::from_uuid),
    };
    let tx = begin_tenant_tx(&state.db, &actor).await?;
    let rows = cases::list(&tx, &filter, CaseScope::of(&actor), after, limit.get() + 1).await?;
    let (rows, next_cursor) = domain::paging::into_page(rows, limit, |c| c.id);
    let reads = rows
        .iter()
        .map(|c| entry(&actor, &meta, actions::CASE_READ, "case", Some(c.id), serde_json::json!({ "via": "list" })))
        .collect();
    audit::record_many(&tx, reads).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(Page { items: rows.into_iter().map(CaseResponse::from).collect(), next_cursor }))
}

/// Read a case.
///
/// Supervisors and case managers; a restricted case exists only for its assigned worker and supervisors (`404` for
/// anyone else). The read is audited. The `ETag` is the case's version, for `If-Match`.
#[utoipa::path(
    tag = "cases",
    operation_id = "get_case",
    params(("id" = uuid::Uuid, Path, description = "Case id")),
    responses(
        (status = 200, description = "The case (the read is audited)", body = CaseResponse, headers(("ETag" = String, description = "Version for If-Match"))),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/cases/{id}")]
pub async fn get_case(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::WorkCases)?;
    let tx = begin_tenant_tx(&state.db, &actor).await?;
    let case = cases::get(&tx, path.into_inner(), CaseScope::of(&actor)).await?;
    audit::record(&tx, entry(&actor, &meta, actions::CASE_READ, "case", Some(case.id), serde_json::json!({}))).await?;
    tx.commit().await?;
    Ok(with_etag(HttpResponse::Ok(), case.version, &CaseResponse::from(case)))
}

/// Change a case.
///
/// Changes the case's victimization types, program, division, assignment or restriction. Requires `If-Match` with
/// the ETag last read: without it `428`, stale `412`. Audited.
#[utoipa::path(
    tag = "cases",
    operation_id = "update_case",
    request_body = UpdateCaseRequest,
    params(("id" = uuid::Uuid, Path, description = "Case id"), ("If-Match" = String, Header, description = "The ETag last read")),
    responses(
        (status = 200, description = "Updated", body = CaseResponse, headers(("ETag" = String, description = "New version"))),
        (status = 403, description = "Not a supervisor or case manager, or a case manager lifting `restricted` (a supervisor's decision)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/cases/{id}")]
pub async fn update_case(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
    if_match: IfMatch,
    body: web::Json<UpdateCaseRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::WorkCases)?;
    let mut e = ValidationErrors::default();
    let types =
        body.victimization_types.as_deref().map(|t| e.check("victimization_types", case::victimization_types(t)));
    let level = match &body.risk_level {
        None => None,
        Some(None) => Some(Some(None)),
        Some(Some(raw)) => Some(e.check("risk_level", RiskLevel::parse(raw)).map(Some)),
    };
    e.finish(|| Some(()))?;
    let tx = begin_tenant_tx(&state.db, &actor).await?;
    let current = cases::get(&tx, path.into_inner(), CaseScope::of(&actor)).await?;
    if current.restricted && body.restricted == Some(false) && authorize(&actor, Action::LiftRestriction).is_err() {
        return Err(ApiError::ForbiddenBecause("Only a supervisor may lift a case's restriction.".to_owned()));
    }
    if let Some(Some(worker)) = body.assigned_to {
        check_assignee(&tx, UserId::from_uuid(worker)).await?;
    }
    let changes = CaseChanges {
        assigned_to: body.assigned_to.map(|w| w.map(UserId::from_uuid)),
        victimization_types: types.flatten(),
        restricted: body.restricted,
        risk_level: level.flatten(),
    };
    let case = cases::update(&tx, current.id, if_match.version()?, changes).await?;
    let reassigned = announce_assignment(&tx, &case, current.assigned_to).await?;
    audit::record(
        &tx,
        entry(
            &actor,
            &meta,
            actions::CASE_UPDATED,
            "case",
            Some(case.id),
            serde_json::json!({ "version": case.version }),
        ),
    )
    .await?;
    tx.commit().await?;
    if reassigned {
        state.bus.publish(&infra::cache::events_topic(actor.tenant_id)).await;
    }
    Ok(with_etag(HttpResponse::Ok(), case.version, &CaseResponse::from(case)))
}

/// Tells a newly assigned worker (a `case.assigned` event in the same transaction); true if told.
async fn announce_assignment(tx: &TenantTx, case: &Case, before: Option<UserId>) -> Result<bool, ApiError> {
    match case.assigned_to {
        Some(worker) if Some(worker) != before => {
            let payload = serde_json::json!({ "case_id": case.id });
            infra::store::events::publish(tx, &[worker], "case.assigned", &payload).await?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

async fn change_status(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    id: uuid::Uuid,
    reason: &str,
    closing: bool,
) -> Result<HttpResponse, ApiError> {
    authorize(actor, Action::CloseCases)?;
    let reason = case::reason(reason).map_err(|e| ApiError::field("reason", e.to_string()))?;
    let cipher = state.cipher(actor.tenant_id).await?;
    let tx = begin_tenant_tx(&state.db, actor).await?;
    let current = cases::get(&tx, id, CaseScope::of(actor)).await?;
    let transition = if closing { case::close(current.status) } else { case::reopen(current.status) };
    let to = transition.map_err(|e| ApiError::Conflict(e.to_string()))?;
    let case = cases::change_status(&tx, &cipher, &current, to, &reason, actor.user_id).await?;
    let action = if closing { actions::CASE_CLOSED } else { actions::CASE_REOPENED };
    audit::record(
        &tx,
        entry(actor, meta, action, "case", Some(case.id), serde_json::json!({ "version": case.version })),
    )
    .await?;
    tx.commit().await?;
    Ok(with_etag(HttpResponse::Ok(), case.version, &CaseResponse::from(case)))
}

/// Close a case.
///
/// Closes an open case with a reason (kept encrypted). Supervisors only; `409` if it is already closed. Audited;
/// also records a de-identified reporting fact.
#[utoipa::path(
    tag = "cases",
    operation_id = "close_case",
    request_body = ReasonRequest,
    params(("id" = uuid::Uuid, Path, description = "Case id")),
    responses(
        (status = 200, description = "Closed", body = CaseResponse),
        (status = 403, description = "Not a supervisor", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already closed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing reason", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/cases/{id}/close")]
pub async fn close_case(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
    body: web::Json<ReasonRequest>,
) -> Result<HttpResponse, ApiError> {
    change_status(&state, &caller.0, &meta, path.into_inner(), &body.reason, true).await
}

/// Reopen a case.
///
/// Reopens a closed case with a reason. Supervisors only; `409` if it is open. Audited.
#[utoipa::path(
    tag = "cases",
    operation_id = "reopen_case",
    request_body = ReasonRequest,
    params(("id" = uuid::Uuid, Path, description = "Case id")),
    responses(
        (status = 200, description = "Reopened", body = CaseResponse),
        (status = 403, description = "Not a supervisor", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already open", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing reason", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/cases/{id}/reopen")]
pub async fn reopen_case(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
    body: web::Json<ReasonRequest>,
) -> Result<HttpResponse, ApiError> {
    change_status(&state, &caller.0, &meta, path.into_inner(), &body.reason, false).await
}

/// Who read or changed a case.
///
/// The audit events of this case, newest first: every read and change, by whom, when and from where. Supervisors
/// and agency admins only.
#[utoipa::path(
    tag = "cases",
    operation_id = "get_case_access_log",
    params(("id" = uuid::Uuid, Path, description = "Case id"), PageQuery),
    responses(
        (status = 200, description = "A page of audit events about this case", body = Page<AuditEventResponse>),
        (status = 403, description = "Not a supervisor or agency admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/cases/{id}/access-log")]
pub async fn get_case_access_log(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<uuid::Uuid>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ReadAccessLog)?;
    let (limit, before) = page.parse()?;
    let tx = begin_tenant_tx(&state.db, &actor).await?;
    // Auditors see the log of every case of the agency, restricted ones too.
    let case = cases::get(&tx, path.into_inner(), CaseScope::All).await?;
    let filter = AuditFilter { resource_type: Some("case".to_owned()), resource_id: Some(case.id), actor_id: None };
    let rows = audit::list(&tx, &filter, before, limit.get() + 1).await?;
    tx.commit().await?;
    let (rows, next_cursor) = domain::paging::into_page(rows, limit, |e| e.id);
    Ok(HttpResponse::Ok().json(Page { items: rows.into_iter().map(AuditEventResponse::from).collect(), next_cursor }))
}
