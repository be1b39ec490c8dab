//! Tenants: created and listed by platform admins (creating one also creates its first admin);
//! read, and their sign-in policy set, by platform admins and by each tenant's own admin.

use actix_web::{HttpResponse, get, patch, post, web};
use domain::TenantId;
use domain::ValidationErrors;
use domain::audit::actions;
use domain::authz::Action;
use domain::sign_in;
use domain::tenant::{TenantKind, TenantName, TenantSlug};
use domain::user::{DisplayName, EmailAddress, NewPassword, Role, RoleSet};
use infra::auth::password;
use infra::db::{begin_tenant_read_tx, begin_tenant_tx};
use infra::store::audit::{self, AuditEntry};
use infra::store::tenants::{self, Tenant};
use infra::store::users::{self, NewUser};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Page, PageQuery, authorize};
use crate::error::{ApiError, Problem};
use crate::extract::{Authenticated, IdempotencyHeader, IfMatch, RequestMeta, with_etag};
use crate::idempotency::{Begun, Created, Idempotent};
use crate::state::AppState;

/// The first admin of a new tenant.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct TenantAdminRequest {
    /// Sign-in email.
    #[schema(format = Email)]
    pub email: String,
    /// The admin's name as shown to colleagues, 1 to 200 characters.
    pub display_name: String,
    /// Initial password, 12 to 128 characters.
    #[schema(format = Password, min_length = 12, max_length = 128)]
    pub password: String,
}

/// A new tenant.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"slug": "victim-services-toronto", "name": "Victim Services Toronto", "kind": "agency",
    "admin": {"email": "admin@vst.example", "display_name": "VST Admin", "password": "a long passphrase"}}))]
pub struct CreateTenantRequest {
    /// Sign-in slug: lowercase letters, digits and single hyphens, 3 to 63 characters.
    #[schema(pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", min_length = 3, max_length = 63)]
    pub slug: String,
    /// Organisation name.
    pub name: String,
    /// `agency` or `ministry`.
    #[schema(example = "agency")]
    pub kind: String,
    /// The tenant's first admin: `agency_admin` of an agency; of a ministry, `ministry_admin` and `ministry_analyst`.
    /// The password is theirs to change at first sign-in.
    pub admin: TenantAdminRequest,
    /// Whether its users need a second factor to sign in (default `true`; see `PATCH /api/v1/tenants/{id}`).
    #[serde(default)]
    pub mfa_required: Option<bool>,
}

/// A tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantResponse {
    /// Tenant id.
    pub id: uuid::Uuid,
    /// Sign-in slug.
    pub slug: String,
    /// The organisation's display name.
    pub name: String,
    /// `platform`, `agency` or `ministry`.
    pub kind: String,
    /// When the tenant was created (UTC, set by the server).
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Whether its users need a second factor (an authenticator or a passkey) to sign in; a user without one can
    /// only enrol one at their next sign-in. Always `true` for the platform.
    pub mfa_required: bool,
    /// Version for `If-Match` on `PATCH /api/v1/tenants/{id}`.
    pub version: i32,
}

impl From<Tenant> for TenantResponse {
    fn from(t: Tenant) -> Self {
        Self {
            id: t.id.as_uuid(),
            slug: t.slug,
            name: t.name,
            kind: t.kind.as_str().to_owned(),
            created_at: t.created_at,
            mfa_required: sign_in::second_factor_required(t.kind, t.mfa_required),
            version: t.version,
        }
    }
}

/// Changes to a tenant's sign-in policy.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"mfa_required": true}))]
#[serde(deny_unknown_fields)]
pub struct UpdateTenantRequest {
    /// Whether its users need a second factor to sign in. Users without one can only enrol one at their next
    /// sign-in; sessions already open go on until they end. The platform's cannot be `false`.
    pub mfa_required: bool,
}

struct NewTenant {
    slug: TenantSlug,
    name: TenantName,
    kind: TenantKind,
    admin_email: EmailAddress,
    admin_name: DisplayName,
    admin_password: NewPassword,
}

impl CreateTenantRequest {
    fn try_into_domain(&self) -> Result<NewTenant, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let slug = e.check("slug", TenantSlug::parse(&self.slug));
        let name = e.check("name", TenantName::parse(&self.name));
        let kind = match self.kind.as_str() {
            "agency" => Some(TenantKind::Agency),
            "ministry" => Some(TenantKind::Ministry),
            _ => {
                e.add("kind", "must be agency or ministry");
                None
            }
        };
        let admin_email = e.check("admin.email", EmailAddress::parse(&self.admin.email));
        let admin_name = e.check("admin.display_name", DisplayName::parse(&self.admin.display_name));
        let admin_password = e.check("admin.password", NewPassword::parse(&self.admin.password));
        e.finish(|| {
            Some(NewTenant {
                slug: slug?,
                name: name?,
                kind: kind?,
                admin_email: admin_email?,
                admin_name: admin_name?,
                admin_password: admin_password?,
            })
        })
    }
}

/// Create a tenant.
///
/// Creates an agency or ministry tenant with its first admin: an agency's `agency_admin`; a ministry's
/// `ministry_admin`, who adds the ministry's analysts and admins, and `ministry_analyst`, so the new ministry reads
/// its figures at once. Platform admins only; slugs are unique (`409`).
#[utoipa::path(
    tag = "platform",
    operation_id = "create_tenant",
    request_body = CreateTenantRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 printable ASCII characters.")),
    responses(
        (status = 201, description = "Created", body = TenantResponse, headers(("Location" = String, description = "The new tenant"))),
        (status = 403, description = "Not a platform admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Slug taken, or a duplicate in flight", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/tenants")]
pub async fn create_tenant(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    idempotency: IdempotencyHeader,
    body: web::Json<CreateTenantRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ManageTenants)?;
    let new = body.try_into_domain()?;
    let idempotent = Idempotent::new(idempotency, &actor, "create_tenant", &*body)?;
    let mut tx = match idempotent.begin(&state, &actor, &meta).await? {
        Begun::Replay(replay) => return replay.answer().await,
        Begun::Proceed(tx) => tx,
    };
    let password_hash = password::hash(new.admin_password).await?;
    let tenant_id = TenantId::new();
    let mfa_required = body.mfa_required.unwrap_or(true);
    let tenant = tenants::insert(tx.raw(), tenant_id, &new.slug, &new.name, new.kind, mfa_required).await?;
    let entry = |actor_id| AuditEntry {
        actor_id,
        action: actions::TENANT_CREATED,
        resource_type: "tenant",
        resource_id: Some(tenant_id.as_uuid()),
        client_ip: meta.client_ip.clone(),
        request_id: meta.request_id.clone(),
        details: serde_json::json!({
            "kind": new.kind.as_str(), "created_by_tenant": actor.tenant_id, "mfa_required": mfa_required,
        }),
    };
    audit::record(&tx, entry(Some(actor.user_id.as_uuid()))).await?;
    // The new tenant's admin and first audit event belong to the new tenant.
    tx.switch_tenant(tenant_id).await?;
    let admin_roles = if new.kind == TenantKind::Ministry {
        RoleSet::parse(&[Role::MinistryAdmin.as_str(), Role::MinistryAnalyst.as_str()], TenantKind::Ministry)
            .map_err(|e| ApiError::Internal(e.to_string()))?
    } else {
        RoleSet::one(Role::AgencyAdmin)
    };
    let admin = users::insert(
        &tx,
        NewUser {
            supervisor_requested_by: None,
            email: new.admin_email,
            display_name: new.admin_name,
            roles: admin_roles,
            division_id: None,
            profession: None,
            password_hash,
            // The platform admin chose it: the tenant's admin changes it at first sign-in.
            password_change_required: true,
        },
    )
    .await?;
    let mut first = entry(None);
    first.details = serde_json::json!({ "kind": new.kind.as_str(), "admin_user_id": admin.id });
    audit::record(&tx, first).await?;
    tx.switch_tenant(actor.tenant_id).await?;
    let location = format!("/api/v1/tenants/{tenant_id}");
    idempotent.finish(tx, &actor, Created::new(&TenantResponse::from(tenant), location)?).await
}

/// List tenants.
///
/// Every agency and ministry tenant, in creation order. Platform admins only.
#[utoipa::path(
    tag = "platform",
    operation_id = "list_tenants",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of tenants", body = Page<TenantResponse>),
        (status = 403, description = "Not a platform admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/tenants")]
pub async fn list_tenants(
    state: web::Data<AppState>,
    caller: Authenticated,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    authorize(&caller.0, Action::ManageTenants)?;
    let (limit, after) = query.parse()?;
    let tx = begin_tenant_read_tx(&state.db, &caller.0).await?;
    let rows = tenants::list(tx.raw(), after, limit.get() + 1).await?;
    tx.commit().await?;
    let (rows, next_cursor) = domain::paging::into_page(rows, limit, |t| t.id.as_uuid());
    Ok(HttpResponse::Ok().json(Page { items: rows.into_iter().map(TenantResponse::from).collect(), next_cursor }))
}

/// Read a tenant.
///
/// Any tenant for platform admins; their own for a tenant's admin (an agency's or a ministry's), with the `ETag` its
/// sign-in policy is changed with.
#[utoipa::path(
    tag = "platform",
    operation_id = "get_tenant",
    params(("id" = uuid::Uuid, Path, description = "Tenant id")),
    responses(
        (status = 200, description = "The tenant", body = TenantResponse, headers(("ETag" = String, description = "Version for If-Match"))),
        (status = 403, description = "Neither a platform admin nor this tenant's admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/tenants/{id}")]
pub async fn get_tenant(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = TenantId::from_uuid(path.into_inner());
    if !sign_in::may_set_mfa_policy(&caller.0, id) {
        return Err(ApiError::Forbidden);
    }
    let tx = begin_tenant_read_tx(&state.db, &caller.0).await?;
    let tenant = tenants::get(tx.raw(), id).await?;
    tx.commit().await?;
    Ok(with_etag(HttpResponse::Ok(), tenant.version, &TenantResponse::from(tenant)))
}

/// Change a tenant's sign-in policy.
///
/// Sets whether the tenant's users need a second factor (`mfa_required`): a platform admin for any tenant, a
/// tenant's admin for their own. A user without one can then only enrol one at their next sign-in (the platform's
/// admins always need one: `false` is refused for the platform). Requires `If-Match`. Audited in the tenant, and in
/// the platform's log when a platform admin changes another tenant's.
#[utoipa::path(
    tag = "platform",
    operation_id = "update_tenant",
    request_body = UpdateTenantRequest,
    params(
        ("id" = uuid::Uuid, Path, description = "Tenant id"),
        ("If-Match" = String, Header, description = "The ETag last read"),
    ),
    responses(
        (status = 200, description = "Updated", body = TenantResponse, headers(("ETag" = String, description = "New version"))),
        (status = 403, description = "Neither a platform admin nor this tenant's admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/tenants/{id}")]
pub async fn update_tenant(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    if_match: IfMatch,
    path: web::Path<uuid::Uuid>,
    body: web::Json<UpdateTenantRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    let id = TenantId::from_uuid(path.into_inner());
    if !sign_in::may_set_mfa_policy(&actor, id) {
        return Err(ApiError::Forbidden);
    }
    let version = if_match.version()?;
    let mut tx = begin_tenant_tx(&state.db, &actor).await?;
    let current = tenants::get(tx.raw(), id).await?;
    sign_in::check_mfa_policy(current.kind, body.mfa_required).map_err(|why| ApiError::field("mfa_required", why))?;
    let updated = tenants::set_mfa_required(tx.raw(), id, version, body.mfa_required).await?;
    let details = serde_json::json!({ "mfa_required": body.mfa_required, "by_tenant": actor.tenant_id });
    let event = |actor_id| AuditEntry {
        actor_id,
        action: actions::TENANT_POLICY_CHANGED,
        resource_type: "tenant",
        resource_id: Some(id.as_uuid()),
        client_ip: meta.client_ip.clone(),
        request_id: meta.request_id.clone(),
        details: details.clone(),
    };
    audit::record(&tx, event(Some(actor.user_id.as_uuid()))).await?;
    if id != actor.tenant_id {
        // The tenant's own log says its policy changed, and by which tenant.
        tx.switch_tenant(id).await?;
        audit::record(&tx, event(None)).await?;
        tx.switch_tenant(actor.tenant_id).await?;
    }
    tx.commit().await?;
    Ok(with_etag(HttpResponse::Ok(), updated.version, &TenantResponse::from(updated)))
}
