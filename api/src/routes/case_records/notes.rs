//! Case notes: never edited or deleted; an amendment is a new note pointing at the one it corrects.

use actix_web::{HttpResponse, get, post, web};
use infra::store::notes::{self, Note};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use infra::TenantTx;
use infra::crypto::TenantCipher;

use super::{Opened, audit_change, begin_record, list_records};
use crate::error::{ApiError, Problem};
use crate::extract::{Authenticated, IdempotencyHeader, RequestMeta};
use crate::idempotency::{Created, Idempotent};
use crate::routes::{Page, PageQuery};
use crate::state::AppState;

/// A new note or amendment.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"body": "Met at 51 Division; client wants shelter tonight."}))]
pub struct NoteRequest {
    /// The text (encrypted at rest), 1 to 20,000 characters.
    pub body: String,
}

/// A note.
#[derive(Debug, Serialize, ToSchema)]
pub struct NoteResponse {
    /// The note's id, assigned by the server.
    pub id: uuid::Uuid,
    /// Id of the case the note is on.
    pub case_id: uuid::Uuid,
    /// The note's text, trimmed (encrypted at rest, shown to those who may work the case); never changes.
    pub body: String,
    /// Id of the user who wrote the note.
    pub author_id: uuid::Uuid,
    /// Id of the note of the same case that this amendment corrects; null for an ordinary note.
    pub amends_note_id: Option<uuid::Uuid>,
    /// When the note was written (UTC, set by the server).
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<Note> for NoteResponse {
    fn from(n: Note) -> Self {
        Self {
            id: n.id,
            case_id: n.case_id,
            body: n.body,
            author_id: n.author_id.as_uuid(),
            amends_note_id: n.amends_note_id,
            created_at: n.created_at,
        }
    }
}

async fn add(
    state: &AppState,
    caller: Authenticated,
    meta: &RequestMeta,
    idempotency: IdempotencyHeader,
    case_id: uuid::Uuid,
    body: &str,
    amends: Option<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    let text = domain::case::note_text(body).map_err(|e| ApiError::field("body", e.to_string()))?;
    let fingerprint = serde_json::json!({ "case_id": case_id, "body": body, "amends": amends });
    let idempotent = Idempotent::new(idempotency, &actor, "create_note", &fingerprint)?;
    let (idempotent, opened) = begin_record(
        state,
        &actor,
        meta,
        case_id,
        idempotent,
        if amends.is_some() { "note_amendment" } else { "note" },
    )
    .await?;
    let (tx, cipher, case) = match opened {
        Opened::Replay(response) => return Ok(response),
        Opened::Proceed(tx, cipher, case) => (tx, cipher, case),
    };
    let note = notes::insert(&tx, &cipher, case.id, &text, actor.user_id, amends).await?;
    audit_change(&tx, &actor, meta, &case, if amends.is_some() { "note_amendment" } else { "note" }, note.id).await?;
    let location = format!("/api/v1/cases/{}/notes", case.id);
    idempotent.finish(tx, &actor, Created::new(&NoteResponse::from(note), location)?).await
}

/// Add a note.
///
/// Adds a case note. Notes never change; corrections are amendments. Audited.
#[utoipa::path(
    tag = "cases",
    operation_id = "create_note",
    request_body = NoteRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 printable ASCII characters."), ("id" = uuid::Uuid, Path, description = "Case id")),
    responses(
        (status = 201, description = "Added", body = NoteResponse, headers(("Location" = String, description = "The case's notes"))),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Empty or too long", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/cases/{id}/notes")]
pub async fn create_note(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    idempotency: IdempotencyHeader,
    path: web::Path<uuid::Uuid>,
    body: web::Json<NoteRequest>,
) -> Result<HttpResponse, ApiError> {
    add(&state, caller, &meta, idempotency, path.into_inner(), &body.body, None).await
}

/// Amend a note.
///
/// Adds an amendment that corrects a note of the same case; the note itself never changes, so the record shows what
/// was written and when it was corrected. Audited.
#[utoipa::path(
    tag = "cases",
    operation_id = "create_note_amendment",
    request_body = NoteRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 printable ASCII characters."), ("id" = uuid::Uuid, Path, description = "Case id"), ("note_id" = uuid::Uuid, Path, description = "The note corrected")),
    responses(
        (status = 201, description = "Added", body = NoteResponse, headers(("Location" = String, description = "The case's notes"))),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such case or note visible to you", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Empty or too long", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/cases/{id}/notes/{note_id}/amendments")]
pub async fn create_note_amendment(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    idempotency: IdempotencyHeader,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
    body: web::Json<NoteRequest>,
) -> Result<HttpResponse, ApiError> {
    let (case_id, note_id) = path.into_inner();
    add(&state, caller, &meta, idempotency, case_id, &body.body, Some(note_id)).await
}

/// List a case's notes.
///
/// Notes and their amendments, oldest first (bodies are encrypted at rest). Audited read.
#[utoipa::path(
    tag = "cases",
    operation_id = "list_notes",
    params(("id" = uuid::Uuid, Path, description = "Case id"), PageQuery),
    responses(
        (status = 200, description = "A page of notes (the read is audited)", body = Page<NoteResponse>),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/cases/{id}/notes")]
pub async fn list_notes(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let fetch = async |tx: &TenantTx, cipher: &TenantCipher, case_id, after, limit| {
        notes::list(tx, cipher, case_id, after, limit).await
    };
    list_records(&state, &caller.0, &meta, path.into_inner(), &page, "notes", fetch, |r| r.id, NoteResponse::from).await
}
