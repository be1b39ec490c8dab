//! Risk assessments: the newest sets the case's risk level.

use actix_web::{HttpResponse, get, post, web};
use domain::ValidationErrors;
use domain::case::{RiskLevel, RiskTool};
use infra::store::case_records::{self, RiskAssessment};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use infra::TenantTx;
use infra::crypto::TenantCipher;

use super::{Opened, audit_change, begin_record, list_records, optional_notes};
use crate::error::{ApiError, Problem};
use crate::extract::{Authenticated, IdempotencyHeader, RequestMeta};
use crate::idempotency::{Created, Idempotent};
use crate::routes::{Page, PageQuery};
use crate::state::AppState;

/// A risk assessment.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"tool": "odara", "score": 7, "level": "high"}))]
pub struct RiskAssessmentRequest {
    /// `odara`, `danger_assessment`, `b_safer` or `agency_tool`.
    pub tool: String,
    /// The instrument's score, 0 to 1000.
    #[schema(minimum = 0, maximum = 1000)]
    #[serde(default, deserialize_with = "crate::whole_numbers::optional")]
    pub score: Option<i32>,
    /// `low`, `moderate`, `high` or `extreme`.
    pub level: String,
    /// Notes (encrypted at rest).
    pub notes: Option<String>,
}

/// A recorded assessment.
#[derive(Debug, Serialize, ToSchema)]
pub struct RiskAssessmentResponse {
    /// The assessment's id, assigned by the server.
    pub id: uuid::Uuid,
    /// Id of the case the assessment belongs to.
    pub case_id: uuid::Uuid,
    /// The instrument the assessment used.
    pub tool: String,
    /// The instrument's score, 0 to 1000; null when none was given.
    pub score: Option<i32>,
    /// The assessed risk level; recording the assessment set the case's `risk_level` to it.
    pub level: String,
    /// Free-text notes (encrypted at rest, shown to those who may work the case); null when none were given.
    pub notes: Option<String>,
    /// Id of the user who recorded the assessment.
    pub assessor_id: uuid::Uuid,
    /// When the assessment was recorded (UTC, set by the server).
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<RiskAssessment> for RiskAssessmentResponse {
    fn from(r: RiskAssessment) -> Self {
        Self {
            id: r.id,
            case_id: r.case_id,
            tool: r.tool.as_str().to_owned(),
            score: r.score,
            level: r.level.as_str().to_owned(),
            notes: r.notes,
            assessor_id: r.assessor_id.as_uuid(),
            created_at: r.created_at,
        }
    }
}

/// Record a risk assessment.
///
/// Records an assessment (ODARA, Danger Assessment, B-SAFER or the agency's tool); its level becomes the case's
/// `risk_level`. Audited.
#[utoipa::path(
    tag = "cases",
    operation_id = "create_risk_assessment",
    request_body = RiskAssessmentRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 printable ASCII characters."), ("id" = uuid::Uuid, Path, description = "Case id")),
    responses(
        (status = 201, description = "Recorded", body = RiskAssessmentResponse, headers(("Location" = String, description = "The case's assessments"))),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/cases/{id}/risk-assessments")]
pub async fn create_risk_assessment(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    idempotency: IdempotencyHeader,
    path: web::Path<uuid::Uuid>,
    body: web::Json<RiskAssessmentRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    let mut e = ValidationErrors::default();
    let tool = e.check("tool", RiskTool::parse(&body.tool));
    let level = e.check("level", RiskLevel::parse(&body.level));
    if body.score.is_some_and(|s| !(0..=1000).contains(&s)) {
        e.add("score", "must be between 0 and 1000");
    }
    let notes = optional_notes(&mut e, "notes", body.notes.as_deref());
    let (tool, level) = e.finish(|| Some((tool?, level?)))?;
    let case_id = path.into_inner();
    // The case is part of the request: the same key on another case is another request.
    let fingerprint = serde_json::json!({ "case_id": case_id, "body": &*body });
    let idempotent = Idempotent::new(idempotency, &actor, "create_risk_assessment", &fingerprint)?;
    let (idempotent, opened) = begin_record(&state, &actor, &meta, case_id, idempotent, "risk_assessment").await?;
    let (tx, cipher, case) = match opened {
        Opened::Replay(response) => return Ok(response),
        Opened::Proceed(tx, cipher, case) => (tx, cipher, case),
    };
    let assessment = case_records::insert_risk_assessment(
        &tx,
        &cipher,
        case.id,
        tool,
        body.score,
        level,
        notes.as_deref(),
        actor.user_id,
    )
    .await?;
    audit_change(&tx, &actor, &meta, &case, "risk_assessment", assessment.id).await?;
    let location = format!("/api/v1/cases/{}/risk-assessments", case.id);
    idempotent.finish(tx, &actor, Created::new(&RiskAssessmentResponse::from(assessment), location)?).await
}

/// List a case's risk assessments.
///
/// Assessments in the order recorded, each with its tool, level and date.
#[utoipa::path(
    tag = "cases",
    operation_id = "list_risk_assessments",
    params(("id" = uuid::Uuid, Path, description = "Case id"), PageQuery),
    responses(
        (status = 200, description = "A page of assessments (the read is audited)", body = Page<RiskAssessmentResponse>),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/cases/{id}/risk-assessments")]
pub async fn list_risk_assessments(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let fetch = async |tx: &TenantTx, cipher: &TenantCipher, case_id, after, limit| {
        case_records::list_risk_assessments(tx, cipher, case_id, after, limit).await
    };
    list_records(
        &state,
        &caller.0,
        &meta,
        path.into_inner(),
        &page,
        "risk_assessments",
        fetch,
        |r| r.id,
        RiskAssessmentResponse::from,
    )
    .await
}
