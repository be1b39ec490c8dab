//! VQRP+ applications: made on a case (a draft), submitted, decided by a supervisor, paid, or
//! withdrawn. Each is judged when made by the program's rules in force that day
//! (`domain::vqrp`, read from `vqrp_rule_versions`): a category the program funds, an amount within
//! its cap, on time or late with a reason, and the eligibility checklist. Found only through a case
//! the caller may see; every change audited on the case. Submitting makes the "decision due" task
//! (`domain::tasks`); deciding or withdrawing completes it, in the same transaction.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use domain::ValidationErrors;
use domain::authz::{Action, CaseScope};
use domain::tasks::{SystemTask, TaskKind};
use domain::vqrp::{self, ApplicationStatus, Decision, Eligibility, Payee, ReportedTo};
use infra::store::cases;
use infra::store::vqrp::{self as store, Application, NewApplication, Transition};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::case_records::{Opened, audit_change, begin_record, optional_notes};
use super::{Page, PageQuery, authorize};
use crate::error::{ApiError, Problem};
use crate::extract::{Authenticated, IdempotencyHeader, RequestMeta, with_etag};
use crate::idempotency::{Created, Idempotent};
use crate::state::AppState;

/// The program's eligibility checklist.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EligibilityChecklist {
    /// The crime happened in Ontario.
    pub crime_in_ontario: bool,
    /// No other source (insurance, another program, the offender) pays for this expense.
    pub no_other_source_of_funds: bool,
    /// The applicant is the victim, a family member or a witness, as the program defines them.
    pub applicant_eligible: bool,
}

/// A new VQRP+ application.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"expense_category": "counselling", "crime_date": "2026-11-20", "reported_to": "police",
    "requested_cents": 80000, "eligibility": {"crime_in_ontario": true, "no_other_source_of_funds": true, "applicant_eligible": true}}))]
pub struct CreateVqrpApplicationRequest {
    /// A category the program funds today (`GET /api/v1/vqrp-rules` lists them: `immediate_safety`,
    /// `crime_scene_cleanup`, `transportation_accommodation`, `counselling`, `funeral`, ...).
    pub expense_category: String,
    /// When the crime happened (not after today).
    pub crime_date: NaiveDate,
    /// `police`, or `community_agency` (enough for intimate partner violence, human trafficking and sexual assault),
    /// or `not_reported` (refused).
    pub reported_to: String,
    /// What is asked for, in cents: more than 0 and at most the category's cap.
    #[serde(deserialize_with = "crate::whole_numbers::required")]
    pub requested_cents: i64,
    /// The checklist; every item must hold.
    pub eligibility: EligibilityChecklist,
    /// Why the application comes after the category's time limit; required then, and recorded (encrypted at rest).
    pub extension_reason: Option<String>,
    /// Notes (encrypted at rest).
    pub notes: Option<String>,
}

/// A VQRP+ application.
#[derive(Debug, Serialize, ToSchema)]
pub struct VqrpApplicationResponse {
    /// Id.
    pub id: uuid::Uuid,
    /// The case it is made on.
    pub case_id: uuid::Uuid,
    /// `draft`, `submitted`, `approved`, `declined`, `paid` or `withdrawn`.
    pub status: String,
    /// The expense category.
    pub expense_category: String,
    /// When the crime happened.
    pub crime_date: NaiveDate,
    /// To whom the crime was reported.
    pub reported_to: String,
    /// The checklist.
    pub eligibility: EligibilityChecklist,
    /// Asked for, in cents.
    pub requested_cents: i64,
    /// Approved, in cents, once approved.
    pub approved_cents: Option<i64>,
    /// Paid so far, in cents.
    pub paid_cents: i64,
    /// The version of the program's rules it was judged by (the one in force the day it was made).
    pub rule_version: i32,
    /// The category's cap in that version, in cents.
    pub cap_cents: i64,
    /// The last day it was on time.
    pub last_day: NaiveDate,
    /// It came after `last_day`, with `extension_reason`.
    pub extended: bool,
    /// Why it came late; null when on time.
    pub extension_reason: Option<String>,
    /// Business days a submission may wait for the decision under its rules.
    pub decision_business_days: i32,
    /// Notes; null when none.
    pub notes: Option<String>,
    /// Ontario's date it was made.
    pub applied_on: NaiveDate,
    /// When it was submitted.
    pub submitted_at: Option<DateTime<Utc>>,
    /// The day the decision is due: `decision_business_days` Ontario business days after submission (weekends and
    /// the province's statutory holidays do not count).
    pub decision_due: Option<NaiveDate>,
    /// When it was decided.
    pub decided_at: Option<DateTime<Utc>>,
    /// The supervisor who decided.
    pub decided_by: Option<uuid::Uuid>,
    /// Why (encrypted at rest).
    pub decision_reason: Option<String>,
    /// Who made it.
    pub created_by: uuid::Uuid,
    /// Version (also the `ETag`).
    pub version: i32,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl From<Application> for VqrpApplicationResponse {
    fn from(a: Application) -> Self {
        Self {
            id: a.id,
            case_id: a.case_id,
            status: a.status.as_str().to_owned(),
            expense_category: a.expense_category,
            crime_date: a.crime_date,
            reported_to: a.eligibility.reported_to.as_str().to_owned(),
            eligibility: EligibilityChecklist {
                crime_in_ontario: a.eligibility.crime_in_ontario,
                no_other_source_of_funds: a.eligibility.no_other_source_of_funds,
                applicant_eligible: a.eligibility.applicant_eligible,
            },
            requested_cents: a.requested_cents,
            approved_cents: a.approved_cents,
            paid_cents: a.paid_cents,
            rule_version: a.rule_version,
            cap_cents: a.cap_cents,
            last_day: a.last_day,
            extended: a.extended,
            extension_reason: a.extension_reason,
            decision_business_days: a.decision_business_days,
            notes: a.notes,
            applied_on: a.applied_on,
            submitted_at: a.submitted_at,
            decision_due: a.decision_due,
            decided_at: a.decided_at,
            decided_by: a.decided_by.map(|u| u.as_uuid()),
            decision_reason: a.decision_reason,
            created_by: a.created_by.as_uuid(),
            version: a.version,
            created_at: a.created_at,
        }
    }
}

/// A supervisor's decision.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"decision": "approved", "approved_cents": 80000, "reason": "Receipts on file."}))]
pub struct DecideRequest {
    /// `approved` or `declined`.
    pub decision: String,
    /// For an approval: the amount, at most what was asked and the cap (default: what was asked).
    #[serde(default, deserialize_with = "crate::whole_numbers::optional")]
    pub approved_cents: Option<i64>,
    /// Why (required; encrypted at rest).
    pub reason: String,
}

/// A payment made.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"paid_cents": 80000, "payee": "vendor", "paid_on": "2026-12-01"}))]
pub struct PaymentRequest {
    /// Paid, in cents: more than 0, at most what is approved and not yet paid.
    #[serde(deserialize_with = "crate::whole_numbers::required")]
    pub paid_cents: i64,
    /// `vendor` (paid directly, the program's preference) or `client`.
    pub payee: String,
    /// The day it was paid (not after today).
    pub paid_on: NaiveDate,
}

/// A payment, with the application as it now stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentResponse {
    /// The payment's id.
    pub id: uuid::Uuid,
    /// Paid, in cents.
    pub paid_cents: i64,
    /// `vendor` or `client`.
    pub payee: String,
    /// When it was paid.
    pub paid_on: NaiveDate,
    /// Who recorded it.
    pub recorded_by: uuid::Uuid,
    /// The application: `paid` once paid in full.
    pub application: VqrpApplicationResponse,
}

/// Filters of the application list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VqrpListQuery {
    /// Only applications with this status.
    pub status: Option<String>,
    /// Only those whose decision is due before this day (a supervisor's queue: `status=submitted&due_before=...`).
    pub due_before: Option<NaiveDate>,
    /// Only this case's.
    pub case_id: Option<uuid::Uuid>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn refused(r: &vqrp::Refusal) -> ApiError {
    ApiError::field(r.field(), r.to_string())
}

fn transition_refused(e: &vqrp::TransitionError) -> ApiError {
    match e {
        vqrp::TransitionError::NotFrom(..) => ApiError::Conflict(format!("{e}.")),
        vqrp::TransitionError::ApprovedAmount(_) => ApiError::field("approved_cents", e.to_string()),
        vqrp::TransitionError::PaidAmount(_) => ApiError::field("paid_cents", e.to_string()),
        vqrp::TransitionError::Reason => ApiError::field("reason", e.to_string()),
        vqrp::TransitionError::OwnApplication => ApiError::ForbiddenBecause(format!("{e}.")),
    }
}

/// Apply for VQRP+ funds.
///
/// Makes a draft application on the case, judged by the program's rules in force today: the category must be funded,
/// the amount within its cap (`422` naming `requested_cents` and the cap), the crime not after today, and the
/// application within the category's time limit, or later with an `extension_reason` (`422` naming it otherwise).
/// The checklist must hold: reported to the police, or, for intimate partner violence, human trafficking and sexual
/// assault, to a community agency; in Ontario; no other source of funds; an eligible applicant (`422` naming
/// `eligibility`). Submit it with `POST /api/v1/vqrp-applications/{id}/submit`. Audited on the case.
#[utoipa::path(
    tag = "vqrp",
    operation_id = "create_vqrp_application",
    request_body = CreateVqrpApplicationRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 printable ASCII characters."), ("id" = uuid::Uuid, Path, description = "Case id")),
    responses(
        (status = 201, description = "Made (a draft)", body = VqrpApplicationResponse, headers(("Location" = String, description = "The application"))),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/cases/{id}/vqrp-applications")]
pub async fn create_application(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    idempotency: IdempotencyHeader,
    path: web::Path<uuid::Uuid>,
    body: web::Json<CreateVqrpApplicationRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    let mut e = ValidationErrors::default();
    let reported_to = e.check("reported_to", ReportedTo::parse(&body.reported_to));
    let notes = optional_notes(&mut e, "notes", body.notes.as_deref());
    let extension_reason = optional_notes(&mut e, "extension_reason", body.extension_reason.as_deref());
    let category = e.check("expense_category", domain::validation::bounded_text(&body.expense_category, 64));
    let (reported_to, category) = e.finish(|| Some((reported_to?, category?)))?;
    let case_id = path.into_inner();
    let fingerprint = serde_json::json!({ "case_id": case_id, "body": &*body });
    let idempotent = Idempotent::new(idempotency, &actor, "create_vqrp_application", &fingerprint)?;
    let (idempotent, opened) = begin_record(&state, &actor, &meta, case_id, idempotent, "vqrp_application").await?;
    let (tx, cipher, case) = match opened {
        Opened::Replay(response) => return Ok(response),
        Opened::Proceed(tx, cipher, case) => (tx, cipher, case),
    };
    let applied_on = state.calendar.today();
    let versions = store::rule_versions(tx.raw()).await?;
    let application = vqrp::Application {
        category: &category,
        crime_date: body.crime_date,
        applied_on,
        requested_cents: body.requested_cents,
        extension_reason: extension_reason.as_deref(),
    };
    let judged = vqrp::judge(&versions, application).map_err(|r| refused(&r))?;
    let eligibility = Eligibility {
        reported_to,
        crime_in_ontario: body.eligibility.crime_in_ontario,
        no_other_source_of_funds: body.eligibility.no_other_source_of_funds,
        applicant_eligible: body.eligibility.applicant_eligible,
    };
    vqrp::check_eligibility(eligibility, &case.victimization_types).map_err(|r| refused(&r))?;
    let new = NewApplication {
        expense_category: category,
        crime_date: body.crime_date,
        eligibility,
        requested_cents: body.requested_cents,
        extension_reason: if judged.extended { extension_reason } else { None },
        judged,
        notes,
        applied_on,
    };
    let made = store::insert(&tx, &cipher, case.id, new, actor.user_id).await?;
    audit_change(&tx, &actor, &meta, &case, "vqrp_application", made.id).await?;
    let location = format!("/api/v1/vqrp-applications/{}", made.id);
    idempotent.finish(tx, &actor, Created::new(&VqrpApplicationResponse::from(made), location)?).await
}

/// List VQRP+ applications.
///
/// Applications on the cases the caller may see (a restricted case's only for its worker and supervisors), in
/// creation order, filtered by `status`, `due_before` (the decision's due day) and `case_id`.
#[utoipa::path(
    tag = "vqrp",
    operation_id = "list_vqrp_applications",
    params(VqrpListQuery),
    responses(
        (status = 200, description = "A page of applications", body = Page<VqrpApplicationResponse>),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/vqrp-applications")]
pub async fn list_applications(
    state: web::Data<AppState>,
    caller: Authenticated,
    query: web::Query<VqrpListQuery>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::WorkCases)?;
    let query = query.into_inner();
    let mut e = ValidationErrors::default();
    let status = query.status.as_deref().map(|s| e.check("status", ApplicationStatus::parse(s)));
    let status = e.finish(|| Some(status.flatten()))?;
    let (limit, after) = PageQuery { limit: query.limit, cursor: query.cursor }.parse()?;
    let filter = store::Filter { status, due_before: query.due_before, case_id: query.case_id };
    let cipher = state.cipher(actor.tenant_id).await?;
    let tx = infra::db::begin_tenant_read_tx(&state.db, &actor).await?;
    let rows = store::list(&tx, &cipher, &filter, CaseScope::of(&actor), after, limit.get() + 1).await?;
    tx.commit().await?;
    let (rows, next_cursor) = domain::paging::into_page(rows, limit, |a| a.id);
    Ok(HttpResponse::Ok()
        .json(Page { items: rows.into_iter().map(VqrpApplicationResponse::from).collect(), next_cursor }))
}

/// Read a VQRP+ application.
///
/// With its `ETag`. `404` when its case is not one the caller may see.
#[utoipa::path(
    tag = "vqrp",
    operation_id = "get_vqrp_application",
    params(("id" = uuid::Uuid, Path, description = "Application id")),
    responses(
        (status = 200, description = "The application", body = VqrpApplicationResponse, headers(("ETag" = String, description = "Version"))),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/vqrp-applications/{id}")]
pub async fn get_application(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::WorkCases)?;
    let cipher = state.cipher(actor.tenant_id).await?;
    let tx = infra::db::begin_tenant_read_tx(&state.db, &actor).await?;
    let application = store::get(&tx, &cipher, path.into_inner(), CaseScope::of(&actor)).await?;
    tx.commit().await?;
    Ok(with_etag(HttpResponse::Ok(), application.version, &VqrpApplicationResponse::from(application)))
}

/// Finds the application through its case as `actor` may see it, lets `change` decide the
/// transition from it, applies it conditional on the version it was decided from, audits it on
/// the case and answers the application as it now is.
async fn change_application(
    state: &AppState,
    actor: &domain::authz::Actor,
    meta: &RequestMeta,
    id: uuid::Uuid,
    record: &'static str,
    change: impl FnOnce(&Application) -> Result<Transition, ApiError>,
) -> Result<(infra::TenantTx, std::sync::Arc<infra::crypto::TenantCipher>, Application), ApiError> {
    let cipher = state.cipher(actor.tenant_id).await?;
    let tx = infra::db::begin_tenant_tx(&state.db, actor).await?;
    let current = store::get(&tx, &cipher, id, CaseScope::of(actor)).await?;
    let case = cases::get(&tx, current.case_id, CaseScope::of(actor)).await?;
    let transition = change(&current)?;
    let changed = match store::transition(&tx, &cipher, id, current.version, transition).await {
        Err(infra::StoreError::VersionMismatch) => {
            return Err(ApiError::Conflict("The application changed meanwhile; read it again.".to_owned()));
        }
        other => other?,
    };
    audit_change(&tx, actor, meta, &case, record, id).await?;
    Ok((tx, cipher, changed))
}

/// Completes the application's "decision due" task: it was decided or withdrawn.
async fn decision_task_done(
    tx: &infra::TenantTx,
    actor: &domain::authz::Actor,
    meta: &RequestMeta,
    id: uuid::Uuid,
) -> Result<(), ApiError> {
    let closed =
        infra::store::tasks::complete_for_source(tx, TaskKind::VqrpDecision, id, actor.user_id, infra::db::now())
            .await?;
    super::tasks::close_system_tasks(tx, actor, meta, closed).await
}

/// Commits a change and answers the application as it now is, with its `ETag`.
async fn answered(tx: infra::TenantTx, changed: Application) -> Result<HttpResponse, ApiError> {
    tx.commit().await?;
    Ok(with_etag(HttpResponse::Ok(), changed.version, &VqrpApplicationResponse::from(changed)))
}

/// Submit a VQRP+ application.
///
/// A draft becomes `submitted`; its decision is due `decision_business_days` Ontario business days later
/// (`decision_due`). `409` from any other status. Audited on the case.
#[utoipa::path(
    tag = "vqrp",
    operation_id = "submit_vqrp_application",
    params(("id" = uuid::Uuid, Path, description = "Application id")),
    responses(
        (status = 200, description = "Submitted", body = VqrpApplicationResponse),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a draft", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/vqrp-applications/{id}/submit")]
pub async fn submit_application(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::WorkCases)?;
    let (tx, cipher, changed) = change_application(&state, &actor, &meta, path.into_inner(), "vqrp_submitted", |a| {
        let to = vqrp::submit(a.status).map_err(|e| transition_refused(&e))?;
        let days = u32::try_from(a.decision_business_days).unwrap_or(0);
        let due = vqrp::decision_due(state.calendar.today(), days);
        Ok(Transition { from: a.status, to, submitted: Some((Utc::now(), due)), decided: None, paid_cents: None })
    })
    .await?;
    // The decision coming due is a task for the application's maker, made with the submission.
    if let Some(due) = changed.decision_due {
        let task = SystemTask::vqrp_decision(changed.id, changed.case_id, changed.created_by, due);
        super::tasks::open_system_task(&tx, &cipher, &actor, &meta, &task).await?;
    }
    answered(tx, changed).await
}

/// Withdraw a VQRP+ application.
///
/// A draft or an undecided submission becomes `withdrawn`. `409` once decided. Audited on the case.
#[utoipa::path(
    tag = "vqrp",
    operation_id = "withdraw_vqrp_application",
    params(("id" = uuid::Uuid, Path, description = "Application id")),
    responses(
        (status = 200, description = "Withdrawn", body = VqrpApplicationResponse),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already decided or withdrawn", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/vqrp-applications/{id}/withdraw")]
pub async fn withdraw_application(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::WorkCases)?;
    let (tx, _, changed) = change_application(&state, &actor, &meta, path.into_inner(), "vqrp_withdrawn", |a| {
        let to = vqrp::withdraw(a.status).map_err(|e| transition_refused(&e))?;
        Ok(Transition { from: a.status, to, submitted: None, decided: None, paid_cents: None })
    })
    .await?;
    decision_task_done(&tx, &actor, &meta, changed.id).await?;
    answered(tx, changed).await
}

/// Decide a VQRP+ application.
///
/// A supervisor other than the application's maker (`403` for them) approves (`approved_cents`, at most what was
/// asked and the category's cap; default what was asked) or declines a submitted application, with a reason
/// (encrypted at rest). `409` when it changed meanwhile. `409` unless it is `submitted`. Audited on
/// the case.
#[utoipa::path(
    tag = "vqrp",
    operation_id = "decide_vqrp_application",
    request_body = DecideRequest,
    params(("id" = uuid::Uuid, Path, description = "Application id")),
    responses(
        (status = 200, description = "Decided", body = VqrpApplicationResponse),
        (status = 403, description = "Not a supervisor, or the supervisor who made the application", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not submitted", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/vqrp-applications/{id}/decide")]
pub async fn decide_application(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
    body: web::Json<DecideRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::DecideVqrp)?;
    let body = body.into_inner();
    let mut e = ValidationErrors::default();
    let decision = e.check("decision", Decision::parse(&body.decision));
    let reason = e.check("reason", domain::case::note_text(&body.reason));
    let (decision, reason) = e.finish(|| Some((decision?, reason?)))?;
    let by = actor.user_id;
    let (tx, _, changed) = change_application(&state, &actor, &meta, path.into_inner(), "vqrp_decided", |a| {
        vqrp::may_decide(by, a.created_by).map_err(|e| transition_refused(&e))?;
        let (to, approved) =
            vqrp::decide(a.status, decision, a.requested_cents, a.cap_cents, body.approved_cents, &reason)
                .map_err(|e| transition_refused(&e))?;
        let decided = Some((Utc::now(), by, approved, reason.clone()));
        Ok(Transition { from: a.status, to, submitted: None, decided, paid_cents: None })
    })
    .await?;
    decision_task_done(&tx, &actor, &meta, changed.id).await?;
    answered(tx, changed).await
}

/// Record a VQRP+ payment.
///
/// Records money paid on an approved application, to a vendor or the client; never more than approved and not yet
/// paid (`422` naming `paid_cents`). Paid in full, the application is `paid`. `409` unless it is `approved`. Audited on
/// the case.
#[utoipa::path(
    tag = "vqrp",
    operation_id = "record_vqrp_payment",
    request_body = PaymentRequest,
    params(("id" = uuid::Uuid, Path, description = "Application id")),
    responses(
        (status = 201, description = "Recorded", body = PaymentResponse, headers(("Location" = String, description = "The application"))),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not approved, or another payment was recorded meanwhile (read it again)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/vqrp-applications/{id}/payments")]
pub async fn record_payment(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
    body: web::Json<PaymentRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::WorkCases)?;
    let body = body.into_inner();
    let mut e = ValidationErrors::default();
    let payee = e.check("payee", Payee::parse(&body.payee));
    if body.paid_on > state.calendar.today() {
        e.add("paid_on", "must not be after today");
    }
    let payee = e.finish(|| payee)?;
    let id = path.into_inner();
    let paid = body.paid_cents;
    let (tx, cipher, changed) = change_application(&state, &actor, &meta, id, "vqrp_payment", |a| {
        let to = vqrp::pay(a.status, a.approved_cents.unwrap_or(0), a.paid_cents, paid)
            .map_err(|e| transition_refused(&e))?;
        Ok(Transition { from: a.status, to, submitted: None, decided: None, paid_cents: Some(a.paid_cents + paid) })
    })
    .await?;
    let payment = store::insert_payment(&tx, &cipher, &changed, paid, payee, body.paid_on, actor.user_id).await?;
    tx.commit().await?;
    let body = PaymentResponse {
        id: payment.id,
        paid_cents: payment.paid_cents,
        payee: payment.payee.as_str().to_owned(),
        paid_on: payment.paid_on,
        recorded_by: payment.recorded_by.as_uuid(),
        application: VqrpApplicationResponse::from(changed),
    };
    let location = format!("/api/v1/vqrp-applications/{id}");
    Ok(HttpResponse::Created().insert_header((actix_web::http::header::LOCATION, location)).json(body))
}
