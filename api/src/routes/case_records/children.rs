//! Children recorded on a case (names encrypted).

use actix_web::{HttpResponse, get, post, web};
use chrono::Datelike as _;
use domain::ValidationErrors;
use domain::person;
use infra::store::case_records::{self, Child};
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

/// A child to record.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"given_name": "Mia", "year_of_birth": 2019}))]
pub struct ChildRequest {
    /// Given name (encrypted at rest).
    pub given_name: String,
    /// Year of birth, 1900 to this year (the upper bound moves with the calendar, so the document states only 1900).
    #[schema(minimum = 1900)]
    #[serde(default, deserialize_with = "crate::whole_numbers::optional")]
    pub year_of_birth: Option<i32>,
    /// Notes (encrypted at rest).
    pub notes: Option<String>,
}

/// A recorded child.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChildResponse {
    /// The child record's id, assigned by the server.
    pub id: uuid::Uuid,
    /// Id of the case the child is recorded on.
    pub case_id: uuid::Uuid,
    /// The child's given name, trimmed (encrypted at rest, shown to those who may work the case).
    pub given_name: String,
    /// Four-digit year of birth; null when not given.
    pub year_of_birth: Option<i32>,
    /// Free-text notes (encrypted at rest); null when none were given.
    pub notes: Option<String>,
    /// When the child was recorded (UTC, set by the server).
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<Child> for ChildResponse {
    fn from(c: Child) -> Self {
        Self {
            id: c.id,
            case_id: c.case_id,
            given_name: c.given_name,
            year_of_birth: c.year_of_birth,
            notes: c.notes,
            created_at: c.created_at,
        }
    }
}

/// Record a child.
///
/// Records a child involved in the case: name, age or date of birth, relationship, and whether they are in the
/// client's care. Audited.
#[utoipa::path(
    tag = "cases",
    operation_id = "create_child",
    request_body = ChildRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 printable ASCII characters."), ("id" = uuid::Uuid, Path, description = "Case id")),
    responses(
        (status = 201, description = "Recorded", body = ChildResponse, headers(("Location" = String, description = "The case's children"))),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/cases/{id}/children")]
pub async fn create_child(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    idempotency: IdempotencyHeader,
    path: web::Path<uuid::Uuid>,
    body: web::Json<ChildRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    let mut e = ValidationErrors::default();
    let name = e.check("given_name", person::name(&body.given_name));
    let this_year = chrono::Utc::now().year();
    if body.year_of_birth.is_some_and(|y| !(1900..=this_year).contains(&y)) {
        e.add("year_of_birth", "must be between 1900 and this year");
    }
    let notes = optional_notes(&mut e, "notes", body.notes.as_deref());
    let name = e.finish(|| name)?;
    let case_id = path.into_inner();
    // The case is part of the request: the same key on another case is another request.
    let fingerprint = serde_json::json!({ "case_id": case_id, "body": &*body });
    let idempotent = Idempotent::new(idempotency, &actor, "create_child", &fingerprint)?;
    let (idempotent, opened) = begin_record(&state, &actor, &meta, case_id, idempotent, "child").await?;
    let (tx, cipher, case) = match opened {
        Opened::Replay(response) => return Ok(response),
        Opened::Proceed(tx, cipher, case) => (tx, cipher, case),
    };
    let child = case_records::insert_child(&tx, &cipher, case.id, &name, body.year_of_birth, notes.as_deref()).await?;
    audit_change(&tx, &actor, &meta, &case, "child", child.id).await?;
    let location = format!("/api/v1/cases/{}/children", case.id);
    idempotent.finish(tx, &actor, Created::new(&ChildResponse::from(child), location)?).await
}

/// List a case's children.
///
/// Children recorded on the case (names are encrypted at rest). Audited read.
#[utoipa::path(
    tag = "cases",
    operation_id = "list_children",
    params(("id" = uuid::Uuid, Path, description = "Case id"), PageQuery),
    responses(
        (status = 200, description = "A page of children (the read is audited)", body = Page<ChildResponse>),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/cases/{id}/children")]
pub async fn list_children(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let fetch = async |tx: &TenantTx, cipher: &TenantCipher, case_id, after, limit| {
        case_records::list_children(tx, cipher, case_id, after, limit).await
    };
    list_records(&state, &caller.0, &meta, path.into_inner(), &page, "children", fetch, |r| r.id, ChildResponse::from)
        .await
}
