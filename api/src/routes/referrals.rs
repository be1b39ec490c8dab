//! Referrals at the point of contact with police (Exit Route): made by a police liaison at their
//! own division or by agency staff, assigned to a worker on duty there, announced to every worker
//! on duty at once, accepted once, worked through contact attempts, converted into a client and a
//! case once. Police liaisons see the status of their own referrals and nothing about the person.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use domain::audit::actions;
use domain::authz::Action;
use domain::case::{self as case_rules, ReferralSource};
use domain::dispatch::{self, ContactOutcome, ReferralError, ReferralStatus, Urgency};
use domain::person::{self, SafeContact};
use domain::tasks::{SystemTask, TaskKind};
use domain::{PoliceDivisionId, UserId, ValidationErrors};
use infra::cache::events_topic;
use infra::db::begin_tenant_tx;
use infra::store::audit;
use infra::store::cases::{self, NewCase};
use infra::store::clients::{self, CaseClient, ClientFields};
use infra::store::facts::Codes;
use infra::store::referrals::{self, NewReferral, Referral, ReferralFilter, ReferralPerson};
use infra::store::{events, programs, reference, routing};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::clients::SafeContactDto;
use super::{Page, PageQuery, authorize};
use crate::audit_trail::entry;
use crate::error::{ApiError, Problem};
use crate::extract::{Authenticated, IdempotencyHeader, RequestMeta};
use crate::idempotency::{Begun, Created, Idempotent};
use crate::state::AppState;

/// The person referred (encrypted at rest; never shown to police liaisons).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct ReferralPersonDto {
    /// The person's given name, trimmed.
    pub given_name: String,
    /// Family name, 1 to 100 characters; null when unknown.
    pub family_name: Option<String>,
    /// Date of birth as `YYYY-MM-DD`, from 1900-01-01 to today; null when unknown.
    pub date_of_birth: Option<NaiveDate>,
    /// Phone number with 7 to 15 digits; `+`, spaces, dots, dashes and parentheses are allowed.
    pub phone: Option<String>,
    /// Email address, stored trimmed and lowercased; null when unknown.
    pub email: Option<String>,
    /// The language the person prefers, as free text of up to 64 characters; null when unknown.
    pub preferred_language: Option<String>,
    /// How to contact safely.
    pub safe_contact: SafeContactDto,
}

/// A new referral.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"division_id": "01936f1e-0000-7000-8000-000000000004", "victimization_types": ["human_trafficking_sexual"], "urgency": "immediate",
    "person": {"given_name": "Ana", "phone": "416-555-0199", "safe_contact": {"ok_to_call": true, "ok_to_text": false, "ok_to_voicemail": false}},
    "consent_to_contact": true}))]
pub struct CreateReferralRequest {
    /// The police division where police met the person.
    pub division_id: uuid::Uuid,
    /// Id of one of this agency's programs; omit for none.
    pub program_id: Option<uuid::Uuid>,
    /// The police occurrence number (encrypted at rest).
    #[schema(pattern = "^[A-Za-z0-9/-]+$", min_length = 1, max_length = 32)]
    pub occurrence_number: Option<String>,
    /// What happened: at least one victimization type; repeats are dropped.
    #[schema(min_items = 1)]
    pub victimization_types: Vec<String>,
    /// How soon the person needs a worker; picks the agency's escalation window for acceptance.
    pub urgency: String,
    /// The person referred (encrypted at rest; never shown to police liaisons).
    pub person: ReferralPersonDto,
    /// Whether the person agreed to be contacted. `false` is recorded, and no worker may contact them.
    pub consent_to_contact: bool,
    /// Whether children are involved.
    pub children_involved: Option<bool>,
    /// Notes (encrypted at rest).
    pub notes: Option<String>,
}

/// A referral as its maker and the dispatch board see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReferralResponse {
    /// The referral's id, assigned by the server.
    pub id: uuid::Uuid,
    /// `pending`, `accepted`, `contacted`, `declined`, `unable_to_reach` or `converted`.
    pub status: String,
    /// Id of the police division where police met the person.
    pub division_id: uuid::Uuid,
    /// How soon the person needs a worker; it set the escalation deadline.
    pub urgency: String,
    /// Id of the on-duty worker it was assigned to on creation; null when nobody was on duty at the division.
    pub assigned_to: Option<uuid::Uuid>,
    /// Id of the worker who accepted the referral; null until accepted.
    pub accepted_by: Option<uuid::Uuid>,
    /// When the referral was accepted (UTC); null until then.
    pub accepted_at: Option<DateTime<Utc>>,
    /// When the person was first reached (the first `reached` contact attempt); null until then.
    pub first_contact_at: Option<DateTime<Utc>>,
    /// When it escalated to supervisors for want of acceptance; null unless it did.
    pub escalated_at: Option<DateTime<Utc>>,
    /// Seconds from creation to acceptance (a response-time figure for ministry reporting).
    pub seconds_to_accept: Option<i64>,
    /// Seconds from creation to first contact with the person.
    pub seconds_to_first_contact: Option<i64>,
    /// When the referral was made (UTC, set by the server).
    pub created_at: DateTime<Utc>,
    /// 1 when made; goes up by one on acceptance, on each contact attempt and on conversion.
    pub version: i32,
}

/// A referral with everything a worker needs (never shown to police liaisons).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReferralDetailResponse {
    /// The status view.
    #[serde(flatten)]
    pub summary: ReferralResponse,
    /// Id of the agency program named on the referral; null when none.
    pub program_id: Option<uuid::Uuid>,
    /// Id of the user who made the referral (a police liaison or agency staff).
    pub created_by: uuid::Uuid,
    /// The police occurrence number (encrypted at rest); null when not given.
    pub occurrence_number: Option<String>,
    /// What happened: the victimization types, without repeats.
    pub victimization_types: Vec<String>,
    /// The person referred (encrypted at rest, decrypted for workers).
    pub person: Option<ReferralPersonDto>,
    /// Whether the person agreed to be contacted; when `false`, contact attempts are refused (`409`).
    pub consent_to_contact: bool,
    /// Whether children are involved; null when not stated.
    pub children_involved: Option<bool>,
    /// Free-text notes (encrypted at rest); null when none were given.
    pub notes: Option<String>,
    /// When it escalates to supervisors if still not accepted (UTC): creation time plus the urgency's window.
    pub escalation_due_at: DateTime<Utc>,
    /// Id of the case made by converting the referral; null until converted.
    pub case_id: Option<uuid::Uuid>,
    /// Id of the client made by converting the referral; null until converted.
    pub client_id: Option<uuid::Uuid>,
}

impl From<&Referral> for ReferralResponse {
    fn from(r: &Referral) -> Self {
        Self {
            id: r.id,
            status: r.status.as_str().to_owned(),
            division_id: r.division_id.as_uuid(),
            urgency: r.urgency.as_str().to_owned(),
            assigned_to: r.assigned_to.map(|u| u.as_uuid()),
            accepted_by: r.accepted_by.map(|u| u.as_uuid()),
            accepted_at: r.accepted_at,
            first_contact_at: r.first_contact_at,
            escalated_at: r.escalated_at,
            seconds_to_accept: r.accepted_at.map(|at| (at - r.created_at).num_seconds()),
            seconds_to_first_contact: r.first_contact_at.map(|at| (at - r.created_at).num_seconds()),
            created_at: r.created_at,
            version: r.version,
        }
    }
}

impl From<Referral> for ReferralDetailResponse {
    fn from(r: Referral) -> Self {
        let summary = ReferralResponse::from(&r);
        Self {
            summary,
            program_id: r.program_id,
            created_by: r.created_by.as_uuid(),
            occurrence_number: r.occurrence_number,
            victimization_types: r.victimization_types.iter().map(|t| t.as_str().to_owned()).collect(),
            person: r.person.map(|p| ReferralPersonDto {
                given_name: p.given_name,
                family_name: p.family_name,
                date_of_birth: p.date_of_birth,
                phone: p.phone,
                email: p.email,
                preferred_language: p.preferred_language,
                safe_contact: SafeContactDto {
                    ok_to_call: p.safe_contact.ok_to_call,
                    ok_to_text: p.safe_contact.ok_to_text,
                    ok_to_voicemail: p.safe_contact.ok_to_voicemail,
                    notes: p.safe_contact.notes,
                },
            }),
            consent_to_contact: r.consent_to_contact,
            children_involved: r.children_involved,
            notes: r.notes,
            escalation_due_at: r.escalation_due_at,
            case_id: r.case_id,
            client_id: r.client_id,
        }
    }
}

/// Filters of the referral list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReferralQuery {
    /// Only this status.
    pub status: Option<String>,
    /// Only this division.
    pub division_id: Option<uuid::Uuid>,
}

/// A contact attempt.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"outcome": "reached", "notes": "Spoke briefly; will call back after 6 pm."}))]
pub struct ContactAttemptRequest {
    /// `reached`, `no_answer`, `declined` or `unsafe_to_contact`.
    pub outcome: String,
    /// Notes (encrypted at rest).
    pub notes: Option<String>,
}

/// A recorded contact attempt and where the referral now stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactAttemptResponse {
    /// Id of the attempt, assigned by the server.
    pub id: uuid::Uuid,
    /// Id of the referral the attempt was made on.
    pub referral_id: uuid::Uuid,
    /// The outcome recorded, as sent.
    pub outcome: String,
    /// The referral's status now.
    pub status: String,
    /// When the person was first reached (UTC); null until an attempt has outcome `reached`.
    pub first_contact_at: Option<DateTime<Utc>>,
}

/// What a conversion made.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversionResponse {
    /// Id of the case made from the referral (also in `Location`).
    pub case_id: uuid::Uuid,
    /// Id of the client made from the referral's person.
    pub client_id: uuid::Uuid,
}

fn referral_error(e: ReferralError) -> ApiError {
    match e {
        ReferralError::ConsentRequired => ApiError::ConsentRequired,
        other => ApiError::Conflict(other.to_string()),
    }
}

/// A referral's checked fields.
struct ReferralParts {
    types: Vec<case_rules::VictimizationType>,
    urgency: Urgency,
    person: ReferralPerson,
    occurrence: Option<String>,
    notes: Option<String>,
}

impl CreateReferralRequest {
    fn try_into_parts(&self) -> Result<ReferralParts, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let types = e.check("victimization_types", case_rules::victimization_types(&self.victimization_types));
        let urgency = e.check("urgency", Urgency::parse(&self.urgency));
        let occurrence = self
            .occurrence_number
            .as_deref()
            .and_then(|o| e.check("occurrence_number", dispatch::occurrence_number(o)));
        let p = &self.person;
        let today = Utc::now().date_naive();
        let given = e.check("person.given_name", person::name(&p.given_name));
        let family = p.family_name.as_deref().and_then(|n| e.check("person.family_name", person::name(n)));
        let dob = p.date_of_birth.and_then(|d| e.check("person.date_of_birth", person::date_of_birth(d, today)));
        let phone = p.phone.as_deref().and_then(|v| e.check("person.phone", person::phone(v)));
        let email = p.email.as_deref().and_then(|v| e.check("person.email", person::email(v)));
        let language = p.preferred_language.as_deref().and_then(|v| {
            e.check("person.preferred_language", person::free_text(v, domain::validation::limits::SHORT_LABEL))
        });
        let safe_notes = p.safe_contact.notes.as_deref().and_then(|v| {
            e.check("person.safe_contact.notes", person::free_text(v, domain::validation::limits::REASON))
        });
        let notes = self.notes.as_deref().and_then(|n| e.check("notes", case_rules::note_text(n)));
        e.finish(|| {
            let person = ReferralPerson {
                given_name: given?,
                family_name: family,
                date_of_birth: dob,
                phone,
                email,
                preferred_language: language,
                safe_contact: SafeContact {
                    ok_to_call: p.safe_contact.ok_to_call,
                    ok_to_text: p.safe_contact.ok_to_text,
                    ok_to_voicemail: p.safe_contact.ok_to_voicemail,
                    notes: safe_notes,
                },
            };
            Some(ReferralParts { types: types?, urgency: urgency?, person, occurrence, notes })
        })
    }
}

/// Make a referral at a police division.
///
/// Made by a police liaison posted at the division or by agency staff. The on-duty worker with the fewest open
/// referrals is assigned, every worker on duty there is told over the event stream within a second, and the
/// referral escalates to supervisors if nobody accepts it within the agency's window for its urgency. The person's
/// details are encrypted at rest.
#[utoipa::path(
    tag = "referrals",
    operation_id = "create_referral",
    request_body = CreateReferralRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 printable ASCII characters.")),
    responses(
        (status = 201, description = "Made", body = ReferralResponse, headers(("Location" = String, description = "The new referral"))),
        (status = 403, description = "Not allowed to refer, or a liaison referring at another division", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields or references", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/referrals")]
pub async fn create_referral(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    idempotency: IdempotencyHeader,
    body: web::Json<CreateReferralRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::CreateReferral)?;
    let ReferralParts { types, urgency, person, occurrence, notes } = body.try_into_parts()?;
    let division = PoliceDivisionId::from_uuid(body.division_id);
    let cipher = state.cipher(actor.tenant_id).await?;
    let idempotent = Idempotent::new(idempotency, &actor, "create_referral", &*body)?;
    let tx = match idempotent.begin(&state, &actor, &meta).await? {
        Begun::Replay(replay) => return replay.answer().await,
        Begun::Proceed(tx) => tx,
    };
    let now = infra::db::now();
    // The division, the referrer's posting, the windows and who is on duty: one read.
    let Some(routing) = routing::of(&tx, division, actor.user_id, now).await? else {
        return Err(ApiError::field("division_id", "does not name a police division"));
    };
    if actor.refers_only() && routing.referrer_division != Some(division) {
        return Err(ApiError::Forbidden);
    }
    let program_code = match body.program_id {
        None => None,
        Some(program) => match programs::get(&tx, program).await {
            Ok(program) => Some(program.code),
            Err(infra::StoreError::NotFound) => {
                return Err(ApiError::field("program_id", "does not name a program of this agency"));
            }
            Err(other) => return Err(other.into()),
        },
    };
    let assigned_to = dispatch::choose_assignee(&routing.on_duty);
    let on_duty: Vec<UserId> = routing.on_duty.iter().map(|c| c.user_id).collect();
    let new = NewReferral {
        division_id: division,
        program_id: body.program_id,
        created_by: actor.user_id,
        occurrence_number: occurrence,
        victimization_types: types,
        urgency,
        person,
        consent_to_contact: body.consent_to_contact,
        children_involved: body.children_involved,
        notes,
        assigned_to,
        created_at: now,
        escalation_due_at: routing.windows.deadline(urgency, now),
        codes: Codes { program: program_code, division: Some(routing.division_code) },
    };
    let referral = referrals::queue_insert(&tx, &cipher, new)?;
    let payload = serde_json::json!({ "referral_id": referral.id, "division_id": division, "urgency": urgency.as_str(), "assigned_to": assigned_to });
    events::publish(&tx, &on_duty, "referral.created", &payload).await?;
    let details = serde_json::json!({ "division_id": division, "assigned_to": assigned_to, "on_duty": on_duty.len() });
    audit::record(&tx, entry(&actor, &meta, "referral.created", "referral", Some(referral.id), details)).await?;
    let location = format!("/api/v1/referrals/{}", referral.id);
    let response = idempotent.finish(tx, &actor, Created::new(&ReferralResponse::from(&referral), location)?).await?;
    state.bus.publish(&events_topic(actor.tenant_id)).await;
    Ok(response)
}

/// List referrals.
///
/// Referrals of the agency, oldest first, filtered by status, division or assignee. Police liaisons see only those
/// they made, as status views without the person's details.
#[utoipa::path(
    tag = "referrals",
    operation_id = "list_referrals",
    params(ReferralQuery, PageQuery),
    responses(
        (status = 200, description = "A page of referrals (status views)", body = Page<ReferralResponse>),
        (status = 403, description = "Not agency staff who refer or work referrals", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/referrals")]
pub async fn list_referrals(
    state: web::Data<AppState>,
    caller: Authenticated,
    query: web::Query<ReferralQuery>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::CreateReferral)?;
    let (limit, after) = page.parse()?;
    let status = match &query.status {
        None => None,
        Some(s) => Some(ReferralStatus::parse(s).map_err(|e| ApiError::field("status", e.to_string()))?),
    };
    let filter = ReferralFilter {
        status,
        division_id: query.division_id.map(PoliceDivisionId::from_uuid),
        created_by: actor.refers_only().then_some(actor.user_id),
    };
    let tx = begin_tenant_tx(&state.db, &actor).await?;
    let rows = referrals::list(&tx, &filter, after, limit.get() + 1).await?;
    tx.commit().await?;
    let (rows, next_cursor) = domain::paging::into_page(rows, limit, |r| r.id);
    Ok(HttpResponse::Ok().json(Page { items: rows.iter().map(ReferralResponse::from).collect(), next_cursor }))
}

/// Read a referral.
///
/// Workers read the whole referral (audited); the liaison who made it reads its status only.
#[utoipa::path(
    tag = "referrals",
    operation_id = "get_referral",
    params(("id" = uuid::Uuid, Path, description = "Referral id")),
    responses(
        (status = 200, description = "The referral (workers get the detail view)", body = ReferralDetailResponse),
        (status = 403, description = "Not agency staff who refer or work referrals", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/referrals/{id}")]
pub async fn get_referral(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::CreateReferral)?;
    if actor.refers_only() {
        let tx = begin_tenant_tx(&state.db, &actor).await?;
        let referral = referrals::get(&tx, None, path.into_inner()).await?;
        tx.commit().await?;
        if referral.created_by != actor.user_id {
            return Err(ApiError::NotFound);
        }
        return Ok(HttpResponse::Ok().json(ReferralResponse::from(&referral)));
    }
    let cipher = state.cipher(actor.tenant_id).await?;
    let tx = begin_tenant_tx(&state.db, &actor).await?;
    let referral = referrals::get(&tx, Some(&cipher), path.into_inner()).await?;
    audit::record(&tx, entry(&actor, &meta, "referral.read", "referral", Some(referral.id), serde_json::json!({})))
        .await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(ReferralDetailResponse::from(referral)))
}

/// Completes the referral's "first contact attempt" task: an attempt was recorded, or the
/// referral became a case.
async fn first_contact_done(
    tx: &infra::TenantTx,
    actor: &domain::authz::Actor,
    meta: &RequestMeta,
    referral_id: uuid::Uuid,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), ApiError> {
    let closed =
        infra::store::tasks::complete_for_source(tx, TaskKind::ReferralFirstContact, referral_id, actor.user_id, at)
            .await?;
    super::tasks::close_system_tasks(tx, actor, meta, closed).await
}

/// Accept a referral.
///
/// Takes a pending referral. Exactly one worker can: a second accept answers `409`. Records the minutes it waited.
/// When the person consented to contact, the first contact attempt becomes the accepting worker's task
/// (`referral_first_contact`, due 1 hour, 12 hours or 3 days later by urgency), completed by the first attempt
/// recorded or by the conversion.
#[utoipa::path(
    tag = "referrals",
    operation_id = "accept_referral",
    params(("id" = uuid::Uuid, Path, description = "Referral id")),
    responses(
        (status = 200, description = "Accepted", body = ReferralResponse),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already accepted", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/referrals/{id}/accept")]
pub async fn accept_referral(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::WorkReferrals)?;
    // The key before the transaction: loading it takes a transaction of its own (see
    // `state::AppState::cipher`).
    let cipher = state.cipher(actor.tenant_id).await?;
    let tx = begin_tenant_tx(&state.db, &actor).await?;
    let referral = referrals::get(&tx, Some(&cipher), path.into_inner()).await?;
    let next = dispatch::accept(referral.status).map_err(referral_error)?;
    let now = infra::db::now();
    let accepted = match referrals::accept(&tx, &cipher, &referral, next, actor.user_id, now).await {
        Err(infra::StoreError::Conflict { .. }) => return Err(referral_error(ReferralError::AlreadyAccepted)),
        other => other?,
    };
    let payload = serde_json::json!({ "referral_id": referral.id, "accepted_by": actor.user_id });
    let mut recipients = vec![referral.created_by];
    recipients.extend(referral.assigned_to.filter(|a| *a != actor.user_id));
    events::publish(&tx, &recipients, "referral.accepted", &payload).await?;
    audit::record(&tx, entry(&actor, &meta, "referral.accepted", "referral", Some(referral.id), serde_json::json!({})))
        .await?;
    // The first contact attempt is now the accepting worker's task; not when the person did not
    // consent to contact, since no attempt may be made then.
    if accepted.consent_to_contact {
        let task = SystemTask::first_contact(accepted.id, actor.user_id, accepted.urgency, now);
        super::tasks::open_system_task(&tx, &cipher, &actor, &meta, &task).await?;
    }
    tx.commit().await?;
    state.bus.publish(&events_topic(actor.tenant_id)).await;
    Ok(HttpResponse::Ok().json(ReferralResponse::from(&accepted)))
}

/// Record a contact attempt.
///
/// Records an attempt to reach the person and its outcome. Refused with `409 consent_required` when the person did
/// not consent to contact. The first `reached` sets the time to first contact.
#[utoipa::path(
    tag = "referrals",
    operation_id = "create_contact_attempt",
    request_body = ContactAttemptRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 printable ASCII characters."), ("id" = uuid::Uuid, Path, description = "Referral id")),
    responses(
        (status = 201, description = "Recorded", body = ContactAttemptResponse),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No consent to contact (code consent_required), not yet accepted, or closed", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/referrals/{id}/contact-attempts")]
pub async fn create_contact_attempt(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    idempotency: IdempotencyHeader,
    path: web::Path<uuid::Uuid>,
    body: web::Json<ContactAttemptRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::WorkReferrals)?;
    let mut e = ValidationErrors::default();
    let outcome = e.check("outcome", ContactOutcome::parse(&body.outcome));
    let notes = body.notes.as_deref().and_then(|n| e.check("notes", case_rules::note_text(n)));
    let outcome = e.finish(|| outcome)?;
    let cipher = state.cipher(actor.tenant_id).await?;
    let referral_id = path.into_inner();
    let fingerprint = serde_json::json!({ "referral_id": referral_id, "attempt": &*body });
    let idempotent = Idempotent::new(idempotency, &actor, "create_contact_attempt", &fingerprint)?;
    let tx = match idempotent.begin(&state, &actor, &meta).await? {
        Begun::Replay(replay) => return replay.answer().await,
        Begun::Proceed(tx) => tx,
    };
    let referral = referrals::get(&tx, Some(&cipher), referral_id).await?;
    let next = dispatch::contact(referral.status, referral.consent_to_contact, outcome).map_err(referral_error)?;
    let now = infra::db::now();
    let (attempt, updated) =
        match referrals::record_contact(&tx, &cipher, &referral, outcome, next, notes.as_deref(), actor.user_id, now)
            .await
        {
            Err(infra::StoreError::Conflict { .. }) => {
                return Err(ApiError::Conflict("The referral changed meanwhile; read it again.".to_owned()));
            }
            other => other?,
        };
    // Before the appends below, so the queue is written with the commit, not before this update.
    first_contact_done(&tx, &actor, &meta, referral.id, now).await?;
    let details = serde_json::json!({ "outcome": outcome.as_str(), "attempt_id": attempt });
    audit::record(&tx, entry(&actor, &meta, "referral.contact_attempted", "referral", Some(referral.id), details))
        .await?;
    let answer = ContactAttemptResponse {
        id: attempt,
        referral_id: referral.id,
        outcome: outcome.as_str().to_owned(),
        status: updated.status.as_str().to_owned(),
        first_contact_at: updated.first_contact_at,
    };
    let location = format!("/api/v1/referrals/{}", referral.id);
    idempotent.finish(tx, &actor, Created::new(&answer, location)?).await
}

/// Convert a referral into a case.
///
/// Makes a client and a case from an accepted referral, once: a retried conversion with the same Idempotency-Key
/// answers with the same case, and a second conversion answers `409`.
#[utoipa::path(
    tag = "referrals",
    operation_id = "convert_referral",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: a retried conversion answers with the same case."), ("id" = uuid::Uuid, Path, description = "Referral id")),
    responses(
        (status = 201, description = "Converted", body = ConversionResponse, headers(("Location" = String, description = "The new case"))),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not accepted, declined, or already converted", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/referrals/{id}/convert")]
pub async fn convert_referral(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    idempotency: IdempotencyHeader,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::WorkReferrals)?;
    let referral_id = path.into_inner();
    let cipher = state.cipher(actor.tenant_id).await?;
    let idempotent =
        Idempotent::new(idempotency, &actor, "convert_referral", &serde_json::json!({ "referral_id": referral_id }))?
            .showing("referral", referral_id);
    let tx = match idempotent.begin(&state, &actor, &meta).await? {
        Begun::Replay(replay) => return replay.answer().await,
        Begun::Proceed(tx) => tx,
    };
    let referral = referrals::get(&tx, Some(&cipher), referral_id).await?;
    let next = dispatch::convert(referral.status).map_err(referral_error)?;
    let person = referral.person.clone().ok_or_else(|| ApiError::Internal("referral person unreadable".to_owned()))?;
    let fields = ClientFields::from(person);
    let client = clients::insert(&tx, &cipher, &fields).await?;
    let worker = referral.accepted_by.or(referral.assigned_to);
    let program = match referral.program_id {
        Some(id) => Some(programs::get(&tx, id).await?),
        None => None,
    };
    let division = reference::get_division(tx.raw(), referral.division_id).await?;
    let case = cases::queue_insert(
        &tx,
        &cipher,
        NewCase {
            client: CaseClient::from(&client),
            victimization_types: referral.victimization_types.clone(),
            referral_source: ReferralSource::Police,
            program,
            division: Some(division),
            assigned_to: worker,
            restricted: false,
        },
    )?;
    match referrals::mark_converted(&tx, &referral, next, case.id, client.id).await {
        Err(infra::StoreError::Conflict { .. }) => return Err(referral_error(ReferralError::AlreadyConverted)),
        other => other?,
    };
    // A converted referral takes no more contact attempts: its work goes on as the case's. Right
    // after the update above, while nothing is queued to be written before this one.
    first_contact_done(&tx, &actor, &meta, referral.id, infra::db::now()).await?;
    if let Some(worker) = worker {
        events::publish(
            &tx,
            &[worker],
            "case.assigned",
            &serde_json::json!({ "case_id": case.id, "referral_id": referral.id }),
        )
        .await?;
    }
    let details = serde_json::json!({ "case_id": case.id, "client_id": client.id });
    audit::record(&tx, entry(&actor, &meta, "referral.converted", "referral", Some(referral.id), details)).await?;
    audit::record(
        &tx,
        entry(
            &actor,
            &meta,
            actions::CASE_CREATED,
            "case",
            Some(case.id),
            serde_json::json!({ "referral_id": referral.id }),
        ),
    )
    .await?;
    let location = format!("/api/v1/cases/{}", case.id);
    let response = idempotent
        .finish(tx, &actor, Created::new(&ConversionResponse { case_id: case.id, client_id: client.id }, location)?)
        .await?;
    state.bus.publish(&events_topic(actor.tenant_id)).await;
    Ok(response)
}
