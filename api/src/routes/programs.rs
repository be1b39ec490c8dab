//! Programs an agency runs: agency admins create them; everyone in the agency reads them.

use actix_web::{HttpResponse, get, post, web};
use domain::ValidationErrors;
use domain::audit::actions;
use domain::authz::Action;
use domain::validation::bounded_text;
use infra::db::begin_tenant_tx;
use infra::store::audit;
use infra::store::programs::{self, Program};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Page, PageQuery, authorize};
use crate::audit_trail::entry;
use crate::error::{ApiError, Problem};
use crate::extract::{Authenticated, IdempotencyHeader, RequestMeta};
use crate::idempotency::{Begun, Created, Idempotent};
use crate::state::AppState;

/// A new program.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"code": "exit-route", "name": "Exit Route", "funder": "MCCSS"}))]
pub struct CreateProgramRequest {
    /// Short code, unique in the agency: lowercase letters, digits and hyphens.
    #[schema(pattern = "^[a-z0-9-]+$", min_length = 1, max_length = 32, pattern = "^[a-z0-9-]{1,32}$")]
    pub code: String,
    /// The program's display name, trimmed.
    pub name: String,
    /// Who funds it.
    pub funder: Option<String>,
}

/// A program.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgramResponse {
    /// The program's id, assigned by the server; cases and referrals name it as `program_id`.
    pub id: uuid::Uuid,
    /// Short code, unique in the agency; de-identified figures can be grouped by it.
    pub code: String,
    /// The program's display name.
    pub name: String,
    /// Who funds the program, as free text (e.g. `MCCSS`); null when not given.
    pub funder: Option<String>,
    /// When the program was created (UTC, set by the server).
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<Program> for ProgramResponse {
    fn from(p: Program) -> Self {
        Self { id: p.id, code: p.code, name: p.name, funder: p.funder, created_at: p.created_at }
    }
}

fn code(raw: &str) -> Result<String, &'static str> {
    let ok =
        (1..=32).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok { Ok(raw.to_owned()) } else { Err("must be 1 to 32 lowercase letters, digits or hyphens") }
}

/// Create a program.
///
/// Agency admins only; codes are unique within the agency. Referrals and cases may name a program, and ministry
/// figures can be grouped by its code.
#[utoipa::path(
    tag = "programs",
    operation_id = "create_program",
    request_body = CreateProgramRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 printable ASCII characters.")),
    responses(
        (status = 201, description = "Created", body = ProgramResponse, headers(("Location" = String, description = "The new program"))),
        (status = 403, description = "Not an agency admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Code taken in this agency", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/programs")]
pub async fn create_program(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    idempotency: IdempotencyHeader,
    body: web::Json<CreateProgramRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ManageAgencySetup)?;
    let mut e = ValidationErrors::default();
    let code = e.check("code", code(&body.code));
    let name = e.check("name", bounded_text(&body.name, domain::validation::limits::LABEL));
    let funder = body.funder.as_deref().map(|f| e.check("funder", bounded_text(f, domain::validation::limits::LABEL)));
    let (code, name) = e.finish(|| Some((code?, name?)))?;
    let idempotent = Idempotent::new(idempotency, &actor, "create_program", &*body)?;
    let tx = match idempotent.begin(&state, &actor, &meta).await? {
        Begun::Replay(replay) => return replay.answer().await,
        Begun::Proceed(tx) => tx,
    };
    let program = programs::insert(&tx, code, name, funder.flatten()).await?;
    audit::record(
        &tx,
        entry(&actor, &meta, actions::PROGRAM_CREATED, "program", Some(program.id), serde_json::json!({})),
    )
    .await?;
    let location = format!("/api/v1/programs/{}", program.id);
    idempotent.finish(tx, &actor, Created::new(&ProgramResponse::from(program), location)?).await
}

/// List programs.
///
/// The programs the agency runs (e.g. Exit Route, VCAO, VQRP+).
#[utoipa::path(
    tag = "programs",
    operation_id = "list_programs",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of programs", body = Page<ProgramResponse>),
        (status = 403, description = "Not a member of an agency", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/programs")]
pub async fn list_programs(
    state: web::Data<AppState>,
    caller: Authenticated,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ReadPrograms)?;
    let (limit, after) = query.parse()?;
    let tx = begin_tenant_tx(&state.db, &actor).await?;
    let rows = programs::list(&tx, after, limit.get() + 1).await?;
    tx.commit().await?;
    let (rows, next_cursor) = domain::paging::into_page(rows, limit, |p| p.id);
    Ok(HttpResponse::Ok().json(Page { items: rows.into_iter().map(ProgramResponse::from).collect(), next_cursor }))
}

/// Read a program.
///
/// One of the agency's programs.
#[utoipa::path(
    tag = "programs",
    operation_id = "get_program",
    params(("id" = uuid::Uuid, Path, description = "Program id")),
    responses(
        (status = 200, description = "The program", body = ProgramResponse),
        (status = 403, description = "Not a member of an agency", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/programs/{id}")]
pub async fn get_program(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ReadPrograms)?;
    let tx = begin_tenant_tx(&state.db, &actor).await?;
    let program = programs::get(&tx, path.into_inner()).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(ProgramResponse::from(program)))
}
