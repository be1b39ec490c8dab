//! Consents on a case (the newest per scope is in force; expiry honoured) and the referrals out to
//! community organisations that need `share_with_community_organization` consent.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use domain::ValidationErrors;
use domain::case::{ConsentScope, consent_in_force};
use domain::tasks::SystemTask;
use domain::validation::bounded_text;
use infra::store::consents::{self, Consent, OutboundReferral};
use infra::store::organizations;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use infra::TenantTx;
use infra::crypto::TenantCipher;

use super::{Opened, audit_change, audit_read, begin_record, list_records, open_case, optional_notes};
use crate::error::{ApiError, Problem};
use crate::extract::{Authenticated, IdempotencyHeader, RequestMeta};
use crate::idempotency::{Created, Idempotent};
use crate::routes::{Page, PageQuery};
use crate::state::AppState;

/// A consent decision.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"scope": "share_with_community_organization", "granted": true, "expires_at": "2027-05-31T23:59:59Z"}))]
pub struct ConsentRequest {
    /// What it covers.
    pub scope: String,
    /// Given (`true`) or withdrawn (`false`).
    pub granted: bool,
    /// When it lapses (RFC 3339, must be in the future); omit or send null for a decision that never lapses.
    pub expires_at: Option<DateTime<Utc>>,
    /// Notes (encrypted at rest).
    pub notes: Option<String>,
}

/// A consent decision as recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentResponse {
    /// The decision's id, assigned by the server.
    pub id: uuid::Uuid,
    /// Id of the case the decision is recorded on.
    pub case_id: uuid::Uuid,
    /// What the decision covers.
    pub scope: String,
    /// `true` when consent was given, `false` when it was refused or withdrawn.
    pub granted: bool,
    /// When it lapses (UTC); null when it never does.
    pub expires_at: Option<DateTime<Utc>>,
    /// True when this decision is the one in force for its scope now.
    pub in_force: bool,
    /// Free-text notes (encrypted at rest); null when none were given.
    pub notes: Option<String>,
    /// Id of the user who recorded the decision.
    pub recorded_by: uuid::Uuid,
    /// When the decision was recorded (UTC, set by the server); the newest per scope is the one that counts.
    pub created_at: DateTime<Utc>,
}

fn response(c: Consent, all: &[domain::case::ConsentRecord]) -> ConsentResponse {
    let now = Utc::now();
    let newest = all.iter().filter(|r| r.scope == c.scope).max_by_key(|r| r.recorded_at).map(|r| r.recorded_at);
    let in_force = newest == Some(c.created_at) && consent_in_force(all, c.scope, now);
    ConsentResponse {
        id: c.id,
        case_id: c.case_id,
        scope: c.scope.as_str().to_owned(),
        granted: c.granted,
        expires_at: c.expires_at,
        in_force,
        notes: c.notes,
        recorded_by: c.recorded_by.as_uuid(),
        created_at: c.created_at,
    }
}

/// Record a consent decision.
///
/// Records that the client granted or refused a scope of consent (contact, sharing), optionally until a date. It
/// replaces earlier decisions of its scope. A grant with `expires_at` makes a `consent_expiry` task for the case's
/// worker (or the recorder), due 14 days before it lapses; the next decision of the scope completes it. Audited.
#[utoipa::path(
    tag = "cases",
    operation_id = "create_consent",
    request_body = ConsentRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 printable ASCII characters."), ("id" = uuid::Uuid, Path, description = "Case id")),
    responses(
        (status = 201, description = "Recorded", body = ConsentResponse, headers(("Location" = String, description = "The case's consents"))),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/cases/{id}/consents")]
pub async fn create_consent(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    idempotency: IdempotencyHeader,
    path: web::Path<uuid::Uuid>,
    body: web::Json<ConsentRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    let mut e = ValidationErrors::default();
    let scope = e.check("scope", ConsentScope::parse(&body.scope));
    if body.expires_at.is_some_and(|at| at <= Utc::now()) {
        e.add("expires_at", "must be in the future");
    }
    let notes = optional_notes(&mut e, "notes", body.notes.as_deref());
    let scope = e.finish(|| scope)?;
    let case_id = path.into_inner();
    // The case is part of the request: the same key on another case is another request.
    let fingerprint = serde_json::json!({ "case_id": case_id, "body": &*body });
    let idempotent = Idempotent::new(idempotency, &actor, "create_consent", &fingerprint)?;
    let (idempotent, opened) = begin_record(&state, &actor, &meta, case_id, idempotent, "consent").await?;
    let (tx, cipher, case) = match opened {
        Opened::Replay(response) => return Ok(response),
        Opened::Proceed(tx, cipher, case) => (tx, cipher, case),
    };
    let consent =
        consents::insert(&tx, &cipher, case.id, scope, body.granted, body.expires_at, notes.as_deref(), actor.user_id)
            .await?;
    // A newer decision of the scope (a renewal or a withdrawal) ends the older one's renewal task;
    // a grant that lapses makes its own.
    let now = infra::db::now();
    let renewed = infra::store::tasks::complete_consent_renewals(&tx, case.id, scope, actor.user_id, now).await?;
    crate::routes::tasks::close_system_tasks(&tx, &actor, &meta, renewed).await?;
    if let (true, Some(expires_at)) = (consent.granted, consent.expires_at) {
        let task = SystemTask::consent_expiry(consent.id, case.id, case.assigned_to, actor.user_id, expires_at, now);
        crate::routes::tasks::open_system_task(&tx, &cipher, &actor, &meta, &task).await?;
    }
    audit_change(&tx, &actor, &meta, &case, "consent", consent.id).await?;
    let all = consents::records(&tx, case.id).await?;
    let location = format!("/api/v1/cases/{}/consents", case.id);
    idempotent.finish(tx, &actor, Created::new(&response(consent, &all), location)?).await
}

/// List a case's consent decisions.
///
/// Every consent decision, newest first, each marked whether it is in force: the newest decision per scope decides,
/// and an expired grant does not revive an older one.
#[utoipa::path(
    tag = "cases",
    operation_id = "list_consents",
    params(("id" = uuid::Uuid, Path, description = "Case id")),
    responses(
        (status = 200, description = "All consent decisions (the read is audited)", body = Page<ConsentResponse>),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/cases/{id}/consents")]
pub async fn list_consents(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    let (tx, cipher, case) = open_case(&state, &actor, path.into_inner()).await?;
    let rows = consents::list(&tx, &cipher, case.id).await?;
    audit_read(&tx, &actor, &meta, &case, "consents").await?;
    tx.commit().await?;
    let all: Vec<_> = rows.iter().map(Consent::record).collect();
    Ok(HttpResponse::Ok()
        .json(Page { items: rows.into_iter().map(|c| response(c, &all)).collect::<Vec<_>>(), next_cursor: None }))
}

/// A referral out to a community organisation.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"organization_id": "01936f1e-0000-7000-8000-000000000002", "service": "emergency shelter"}))]
pub struct OutboundReferralRequest {
    /// The organisation (of this agency's list).
    pub organization_id: uuid::Uuid,
    /// What is asked for.
    pub service: String,
    /// Notes (encrypted at rest).
    pub notes: Option<String>,
}

/// A referral out.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboundReferralResponse {
    /// The referral's id, assigned by the server.
    pub id: uuid::Uuid,
    /// Id of the case the client was referred from.
    pub case_id: uuid::Uuid,
    /// Id of the community organisation (from this agency's list) the client was referred to.
    pub organization_id: uuid::Uuid,
    /// The service asked for, as free text (trimmed).
    pub service: String,
    /// Free-text notes (encrypted at rest); null when none were given.
    pub notes: Option<String>,
    /// Id of the user who made the referral.
    pub created_by: uuid::Uuid,
    /// When the referral was made (UTC, set by the server).
    pub created_at: DateTime<Utc>,
}

impl From<OutboundReferral> for OutboundReferralResponse {
    fn from(r: OutboundReferral) -> Self {
        Self {
            id: r.id,
            case_id: r.case_id,
            organization_id: r.organization_id,
            service: r.service,
            notes: r.notes,
            created_by: r.created_by.as_uuid(),
            created_at: r.created_at,
        }
    }
}

/// Refer the client out.
///
/// Refers the client to a community organisation for a service. Refused with `409 consent_required` unless consent
/// to share with a community organisation is in force. Audited.
#[utoipa::path(
    tag = "cases",
    operation_id = "create_outbound_referral",
    request_body = OutboundReferralRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 printable ASCII characters."), ("id" = uuid::Uuid, Path, description = "Case id")),
    responses(
        (status = 201, description = "Referred", body = OutboundReferralResponse, headers(("Location" = String, description = "The case's referrals out"))),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No consent to share with a community organisation is in force (code consent_required)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields or unknown organisation", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/cases/{id}/outbound-referrals")]
pub async fn create_outbound_referral(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    idempotency: IdempotencyHeader,
    path: web::Path<uuid::Uuid>,
    body: web::Json<OutboundReferralRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    let mut e = ValidationErrors::default();
    let service = e.check("service", bounded_text(&body.service, domain::validation::limits::LABEL));
    let notes = optional_notes(&mut e, "notes", body.notes.as_deref());
    let service = e.finish(|| service)?;
    let case_id = path.into_inner();
    // The case is part of the request: the same key on another case is another request.
    let fingerprint = serde_json::json!({ "case_id": case_id, "body": &*body });
    let idempotent = Idempotent::new(idempotency, &actor, "create_outbound_referral", &fingerprint)?;
    let (idempotent, opened) = begin_record(&state, &actor, &meta, case_id, idempotent, "outbound_referral").await?;
    let (tx, cipher, case) = match opened {
        Opened::Replay(response) => return Ok(response),
        Opened::Proceed(tx, cipher, case) => (tx, cipher, case),
    };
    match organizations::get(&tx, body.organization_id).await {
        Ok(_) => {}
        Err(infra::StoreError::NotFound) => {
            return Err(ApiError::field("organization_id", "does not name an organisation of this agency"));
        }
        Err(e) => return Err(e.into()),
    }
    let records = consents::records(&tx, case.id).await?;
    if !consent_in_force(&records, ConsentScope::ShareWithCommunityOrganization, Utc::now()) {
        return Err(ApiError::ConsentRequired);
    }
    let referral = consents::insert_referral(
        &tx,
        &cipher,
        case.id,
        body.organization_id,
        &service,
        notes.as_deref(),
        actor.user_id,
    )
    .await?;
    audit_change(&tx, &actor, &meta, &case, "outbound_referral", referral.id).await?;
    let location = format!("/api/v1/cases/{}/outbound-referrals", case.id);
    idempotent.finish(tx, &actor, Created::new(&OutboundReferralResponse::from(referral), location)?).await
}

/// List a case's referrals out.
///
/// Referrals of the client to community organisations, oldest first.
#[utoipa::path(
    tag = "cases",
    operation_id = "list_outbound_referrals",
    params(("id" = uuid::Uuid, Path, description = "Case id"), PageQuery),
    responses(
        (status = 200, description = "A page of referrals out (the read is audited)", body = Page<OutboundReferralResponse>),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/cases/{id}/outbound-referrals")]
pub async fn list_outbound_referrals(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let fetch = async |tx: &TenantTx, cipher: &TenantCipher, case_id, after, limit| {
        consents::list_referrals(tx, cipher, case_id, after, limit).await
    };
    list_records(
        &state,
        &caller.0,
        &meta,
        path.into_inner(),
        &page,
        "outbound_referrals",
        fetch,
        |r| r.id,
        OutboundReferralResponse::from,
    )
    .await
}
