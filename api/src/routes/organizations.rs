//! Community organisations an agency refers people to: agency admins add them; case workers read.

use actix_web::{HttpResponse, get, post, web};
use domain::ValidationErrors;
use domain::audit::actions;
use domain::authz::Action;
use domain::validation::bounded_text;
use infra::db::begin_tenant_tx;
use infra::store::audit;
use infra::store::organizations::{self, NewOrganization, Organization};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Page, PageQuery, authorize};
use crate::audit_trail::entry;
use crate::error::{ApiError, Problem};
use crate::extract::{Authenticated, IdempotencyHeader, RequestMeta};
use crate::idempotency::{Begun, Created, Idempotent};
use crate::state::AppState;

/// A new community organisation.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"name": "Toronto Women's Shelter", "kind": "shelter", "phone": "416-555-0100"}))]
pub struct CreateOrganizationRequest {
    /// The organisation's name, trimmed.
    pub name: String,
    /// Kind, e.g. `shelter`, `legal_clinic`, `counselling`.
    pub kind: String,
    /// The organisation's phone number, 7 to 15 digits; omit if none.
    pub phone: Option<String>,
    /// The organisation's email address, stored trimmed and lowercased; omit if none.
    #[schema(format = Email)]
    pub email: Option<String>,
}

/// A community organisation.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationResponse {
    /// The organisation's id, assigned by the server; name it as `organization_id` in a referral out.
    pub id: uuid::Uuid,
    /// The organisation's name.
    pub name: String,
    /// What kind of organisation it is, free text as the agency admin entered it (e.g. `shelter`).
    pub kind: String,
    /// The organisation's phone number; null when none was given.
    pub phone: Option<String>,
    /// The organisation's email address, lowercased; null when none was given.
    pub email: Option<String>,
    /// When the organisation was added (UTC, set by the server).
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<Organization> for OrganizationResponse {
    fn from(o: Organization) -> Self {
        Self { id: o.id, name: o.name, kind: o.kind, phone: o.phone, email: o.email, created_at: o.created_at }
    }
}

/// Add a community organisation.
///
/// Agency admins only. Audited.
#[utoipa::path(
    tag = "organizations",
    operation_id = "create_organization",
    request_body = CreateOrganizationRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 printable ASCII characters.")),
    responses(
        (status = 201, description = "Created", body = OrganizationResponse, headers(("Location" = String, description = "The new organisation"))),
        (status = 403, description = "Not an agency admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/organizations")]
pub async fn create_organization(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    idempotency: IdempotencyHeader,
    body: web::Json<CreateOrganizationRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ManageAgencySetup)?;
    let mut e = ValidationErrors::default();
    let name = e.check("name", bounded_text(&body.name, domain::validation::limits::LABEL));
    let kind = e.check("kind", bounded_text(&body.kind, domain::validation::limits::SHORT_LABEL));
    let phone = body.phone.as_deref().map(|p| e.check("phone", domain::person::phone(p)));
    let email = body.email.as_deref().map(|m| e.check("email", domain::person::email(m)));
    let (name, kind) = e.finish(|| Some((name?, kind?)))?;
    let idempotent = Idempotent::new(idempotency, &actor, "create_organization", &*body)?;
    let tx = match idempotent.begin(&state, &actor, &meta).await? {
        Begun::Replay(replay) => return replay.answer().await,
        Begun::Proceed(tx) => tx,
    };
    let new = NewOrganization { name, kind, phone: phone.flatten(), email: email.flatten() };
    let organization = organizations::insert(&tx, new).await?;
    let event = entry(
        &actor,
        &meta,
        actions::ORGANIZATION_CREATED,
        "organization",
        Some(organization.id),
        serde_json::json!({}),
    );
    audit::record(&tx, event).await?;
    let location = format!("/api/v1/organizations/{}", organization.id);
    idempotent.finish(tx, &actor, Created::new(&OrganizationResponse::from(organization), location)?).await
}

/// List community organisations.
///
/// The agency's community organisations (where clients are referred out).
#[utoipa::path(
    tag = "organizations",
    operation_id = "list_organizations",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of organisations", body = Page<OrganizationResponse>),
        (status = 403, description = "Not agency staff who refer", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/organizations")]
pub async fn list_organizations(
    state: web::Data<AppState>,
    caller: Authenticated,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ReadOrganizations)?;
    let (limit, after) = query.parse()?;
    let tx = begin_tenant_tx(&state.db, &actor).await?;
    let rows = organizations::list(&tx, after, limit.get() + 1).await?;
    tx.commit().await?;
    let (rows, next_cursor) = domain::paging::into_page(rows, limit, |o| o.id);
    Ok(HttpResponse::Ok().json(Page { items: rows.into_iter().map(OrganizationResponse::from).collect(), next_cursor }))
}

/// Read a community organisation.
///
/// One of the agency's community organisations.
#[utoipa::path(
    tag = "organizations",
    operation_id = "get_organization",
    params(("id" = uuid::Uuid, Path, description = "Organisation id")),
    responses(
        (status = 200, description = "The organisation", body = OrganizationResponse),
        (status = 403, description = "Not agency staff who refer", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/organizations/{id}")]
pub async fn get_organization(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ReadOrganizations)?;
    let tx = begin_tenant_tx(&state.db, &actor).await?;
    let organization = organizations::get(&tx, path.into_inner()).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(OrganizationResponse::from(organization)))
}
