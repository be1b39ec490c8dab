//! The safety plan: one per case. Creating it needs no `If-Match`; replacing it does.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, put, web};
use domain::ValidationErrors;
use domain::tasks::{SystemTask, TaskKind};
use domain::validation::bounded_text;
use infra::store::safety_plans::{self, EmergencyContact, PlanContent, SafetyPlan};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{audit_change, audit_read, open_case, optional_notes};
use crate::error::{ApiError, Problem};
use crate::extract::{Authenticated, IfMatch, RequestMeta, with_etag};
use crate::state::AppState;

/// Someone to call in an emergency.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
pub struct EmergencyContactDto {
    /// Who the contact is (a name or a label such as "Sister"), trimmed.
    pub name: String,
    /// Phone number: 7 to 15 digits, optionally with `+`, spaces, dots, dashes or parentheses; at most 32 characters.
    pub phone: String,
}

/// A safety plan (all of it encrypted at rest).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"steps": ["Keep phone charged", "Pack a bag"], "emergency_contacts": [{"name": "Sister", "phone": "416-555-0102"}],
    "safe_places": ["Community centre"], "notes": "Code word: blue", "review_on": "2030-01-15"}))]
pub struct SafetyPlanRequest {
    /// Steps to take (each 1 to 500 characters; at most 50).
    pub steps: Vec<String>,
    /// People to call (at most 20).
    pub emergency_contacts: Vec<EmergencyContactDto>,
    /// Places to go (each 1 to 500 characters; at most 50).
    pub safe_places: Vec<String>,
    /// Free-text notes; the plan is replaced whole, so omitting them or sending null saves a plan without notes.
    pub notes: Option<String>,
    /// The day to review the plan (today or later, Ontario's date); a `safety_plan_review` task is then due by the end
    /// of that day, for the case's worker (or whoever saved the plan when the case has none). Saving a new version
    /// replaces the task. Omit or send null for no review date.
    pub review_on: Option<chrono::NaiveDate>,
}

/// A saved safety plan.
#[derive(Debug, Serialize, ToSchema)]
pub struct SafetyPlanResponse {
    /// Id of the case the plan belongs to (a case has at most one plan).
    pub case_id: uuid::Uuid,
    /// Steps to take, in the order saved.
    pub steps: Vec<String>,
    /// People to call, in the order saved.
    pub emergency_contacts: Vec<EmergencyContactDto>,
    /// Places to go, in the order saved.
    pub safe_places: Vec<String>,
    /// Free-text notes; null when the last save had none.
    pub notes: Option<String>,
    /// The day to review the plan; null when none was set.
    pub review_on: Option<chrono::NaiveDate>,
    /// 1 when created, +1 on each save; equals the `ETag`, to send back as `If-Match: "<version>"` to replace the plan.
    pub version: i32,
    /// Id of the user who last saved the plan.
    pub updated_by: uuid::Uuid,
    /// When the plan was last saved (UTC, set by the server).
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

fn respond(plan: SafetyPlan) -> HttpResponse {
    let body = SafetyPlanResponse {
        case_id: plan.case_id,
        steps: plan.content.steps,
        emergency_contacts: plan
            .content
            .emergency_contacts
            .into_iter()
            .map(|c| EmergencyContactDto { name: c.name, phone: c.phone })
            .collect(),
        safe_places: plan.content.safe_places,
        notes: plan.content.notes,
        review_on: plan.content.review_on,
        version: plan.version,
        updated_by: plan.updated_by.as_uuid(),
        updated_at: plan.updated_at,
    };
    with_etag(HttpResponse::Ok(), plan.version, &body)
}

/// Up to 50 entries of 1 to 500 characters each.
fn list(field: &str, items: &[String], e: &mut ValidationErrors) -> Vec<String> {
    if items.len() > 50 {
        e.add(field, "must hold at most 50 entries");
    }
    items
        .iter()
        .enumerate()
        .filter_map(|(i, s)| e.check(&format!("{field}[{i}]"), bounded_text(s, domain::validation::limits::PLAN_ITEM)))
        .collect()
}

impl SafetyPlanRequest {
    fn try_into_domain(&self) -> Result<PlanContent, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let steps = list("steps", &self.steps, &mut e);
        let places = list("safe_places", &self.safe_places, &mut e);
        if self.emergency_contacts.len() > 20 {
            e.add("emergency_contacts", "must hold at most 20 entries");
        }
        let contacts = self
            .emergency_contacts
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let name = e.check(&format!("emergency_contacts[{i}].name"), domain::person::name(&c.name));
                let phone = e.check(&format!("emergency_contacts[{i}].phone"), domain::person::phone(&c.phone));
                Some(EmergencyContact { name: name?, phone: phone? })
            })
            .collect();
        let notes = optional_notes(&mut e, "notes", self.notes.as_deref());
        let today = domain::reporting::ontario_date(chrono::Utc::now());
        if self.review_on.is_some_and(|day| day < today) {
            e.add("review_on", "must not be before today");
        }
        e.finish(|| {
            Some(PlanContent {
                steps,
                emergency_contacts: contacts,
                safe_places: places,
                notes,
                review_on: self.review_on,
            })
        })
    }
}

/// Write the safety plan.
///
/// Creates or replaces the case's safety plan. The first write needs no `If-Match`; every later one must send the
/// ETag last read (`428` without, `412` stale). A `review_on` day makes a `safety_plan_review` task due by its end;
/// each save completes the task of the version before. Audited.
#[utoipa::path(
    tag = "cases",
    operation_id = "put_safety_plan",
    request_body = SafetyPlanRequest,
    params(("id" = uuid::Uuid, Path, description = "Case id"), ("If-Match" = Option<String>, Header, description = "The ETag last read; required once a plan exists")),
    responses(
        (status = 200, description = "Saved", body = SafetyPlanResponse, headers(("ETag" = String, description = "New version"))),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "A plan exists and If-Match is missing", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[put("/cases/{id}/safety-plan")]
pub async fn put_safety_plan(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    request: HttpRequest,
    path: web::Path<uuid::Uuid>,
    body: web::Json<SafetyPlanRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    let content = body.try_into_domain()?;
    let if_match_header = match request.headers().contains_key(header::IF_MATCH) {
        true => Some(<IfMatch as actix_web::FromRequest>::extract(&request).await?),
        false => None,
    };
    let (tx, cipher, case) = open_case(&state, &actor, path.into_inner()).await?;
    // Read only now: a caller who may not see the case gets its 403 or 404 first.
    let if_match = if_match_header.map(IfMatch::version).transpose()?;
    let existing = safety_plans::get(&tx, &cipher, case.id).await?;
    let expected = match (&existing, if_match) {
        (None, _) => None,
        (Some(_), None) => return Err(ApiError::PreconditionRequired),
        (Some(plan), Some(version)) if plan.version != version => return Err(ApiError::PreconditionFailed),
        (Some(plan), Some(_)) => Some(plan.version),
    };
    let plan = match safety_plans::save(&tx, &cipher, case.id, &content, expected, actor.user_id).await {
        // Two workers creating the first plan at once: the loser must read and retry.
        Err(infra::StoreError::Conflict { .. }) => return Err(ApiError::PreconditionFailed),
        other => other?,
    };
    // A new version replaces the review task of the one before.
    let replaced = infra::store::tasks::complete_for_source(
        &tx,
        TaskKind::SafetyPlanReview,
        case.id,
        actor.user_id,
        infra::db::now(),
    )
    .await?;
    crate::routes::tasks::close_system_tasks(&tx, &actor, &meta, replaced).await?;
    if let Some(day) = plan.content.review_on {
        let task = SystemTask::safety_plan_review(case.id, plan.version, case.assigned_to, actor.user_id, day);
        crate::routes::tasks::open_system_task(&tx, &cipher, &actor, &meta, &task).await?;
    }
    audit_change(&tx, &actor, &meta, &case, "safety_plan", case.id).await?;
    tx.commit().await?;
    Ok(respond(plan))
}

/// Read the safety plan.
///
/// The case's safety plan (encrypted at rest), with its `ETag`. `404` when none has been written. Audited read.
#[utoipa::path(
    tag = "cases",
    operation_id = "get_safety_plan",
    params(("id" = uuid::Uuid, Path, description = "Case id")),
    responses(
        (status = 200, description = "The plan (the read is audited)", body = SafetyPlanResponse, headers(("ETag" = String, description = "Version for If-Match"))),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such case visible to you, or no plan yet", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/cases/{id}/safety-plan")]
pub async fn get_safety_plan(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    let (tx, cipher, case) = open_case(&state, &actor, path.into_inner()).await?;
    let plan = safety_plans::get(&tx, &cipher, case.id).await?.ok_or(ApiError::NotFound)?;
    audit_read(&tx, &actor, &meta, &case, "safety_plan").await?;
    tx.commit().await?;
    Ok(respond(plan))
}
