//! Users of an agency, managed by its agency admins.

use actix_web::{HttpResponse, get, patch, post, web};
use domain::audit::actions;
use domain::authz::{Action, Actor};
use domain::user::{DisplayName, EmailAddress, NewPassword, Profession, RoleSet, check_division_requirement};
use domain::{PoliceDivisionId, UserId, ValidationErrors};
use infra::TenantTx;
use infra::auth::password;
use infra::store::audit::{self, AuditEntry};
use infra::store::users::{self, NewUser, User, UserChanges};
use infra::store::{reference, sessions};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::{Page, PageQuery, authorize};
use crate::error::{ApiError, Problem};
use crate::extract::{Authenticated, IdempotencyHeader, IfMatch, RequestMeta, with_etag};
use crate::idempotency::{Begun, Created, Idempotent};
use crate::state::AppState;

/// A new user.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"email": "ana@vst.example", "display_name": "Ana Case", "roles": ["case_manager"],
    "password": "a long passphrase", "profession": "social_worker"}))]
pub struct CreateUserRequest {
    /// Sign-in email, unique in the tenant.
    #[schema(format = Email)]
    pub email: String,
    /// Name shown to colleagues.
    pub display_name: String,
    /// Roles: `agency_admin`, `supervisor`, `case_manager`, `police_liaison`; at least one.
    #[schema(min_items = 1)]
    pub roles: Vec<String>,
    /// Initial password, 12 to 128 characters.
    #[schema(format = Password, min_length = 12, max_length = 128)]
    pub password: String,
    /// Police division; required for `police_liaison`.
    pub division_id: Option<uuid::Uuid>,
    /// `case_manager`, `social_worker`, `crisis_responder`, `volunteer` or `other`.
    pub profession: Option<String>,
}

/// Changes to a user; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"roles": ["case_manager", "supervisor"], "active": true}))]
pub struct UpdateUserRequest {
    /// New display name.
    pub display_name: Option<String>,
    /// New roles (replaces all; at least one). Changing roles ends the user's sessions.
    #[schema(min_items = 1)]
    pub roles: Option<Vec<String>>,
    /// New division; `null` clears it.
    #[serde(default, deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub division_id: Option<Option<uuid::Uuid>>,
    /// `false` deactivates the user and ends their sessions.
    pub active: Option<bool>,
}

fn double_option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<uuid::Uuid>>, D::Error> {
    Option::<uuid::Uuid>::deserialize(d).map(Some)
}

/// A user.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    /// User id.
    pub id: uuid::Uuid,
    /// Sign-in email.
    pub email: String,
    /// Name shown to colleagues.
    pub display_name: String,
    /// Roles in effect.
    pub roles: Vec<String>,
    /// Roles granted but waiting for a second person's confirmation (`supervisor`: see
    /// `POST /users/{id}/supervisor-confirmation`); not in effect until then.
    pub pending_roles: Vec<String>,
    /// Id of the user's police division (always set for a police liaison); null when none.
    pub division_id: Option<uuid::Uuid>,
    /// The user's profession, which is separate from their roles; null when not given.
    pub profession: Option<String>,
    /// Whether the user can sign in.
    pub active: bool,
    /// Same as the `ETag`: send it back as `If-Match: "<version>"` to change the user. Goes up on every change.
    pub version: i32,
}

impl From<User> for UserResponse {
    fn from(u: User) -> Self {
        Self {
            id: u.id.as_uuid(),
            email: u.email,
            display_name: u.display_name,
            roles: u.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            pending_roles: if u.grants.supervisor_pending {
                vec![domain::user::Role::Supervisor.as_str().to_owned()]
            } else {
                Vec::new()
            },
            division_id: u.division_id.map(|d| d.as_uuid()),
            profession: u.profession.map(|p| p.as_str().to_owned()),
            active: u.active,
            version: u.version,
        }
    }
}

struct ParsedUser {
    email: EmailAddress,
    display_name: DisplayName,
    roles: RoleSet,
    password: NewPassword,
    division_id: Option<PoliceDivisionId>,
    profession: Option<Profession>,
}

impl CreateUserRequest {
    fn try_into_domain(&self, actor: &Actor) -> Result<ParsedUser, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let email = e.check("email", EmailAddress::parse(&self.email));
        let display_name = e.check("display_name", DisplayName::parse(&self.display_name));
        let roles = e.check("roles", RoleSet::parse(&self.roles, actor.tenant_kind));
        let password = e.check("password", NewPassword::parse(&self.password));
        let profession = match &self.profession {
            None => Some(None),
            Some(p) => e.check("profession", Profession::parse(p)).map(Some),
        };
        if let Some(roles) = &roles {
            e.check("division_id", check_division_requirement(roles, self.division_id.is_some()));
        }
        e.finish(|| {
            Some(ParsedUser {
                email: email?,
                display_name: display_name?,
                roles: roles?,
                password: password?,
                division_id: self.division_id.map(PoliceDivisionId::from_uuid),
                profession: profession?,
            })
        })
    }
}

/// Refuses a division id that names no police division.
async fn check_division(tx: &TenantTx, division: Option<PoliceDivisionId>) -> Result<(), ApiError> {
    if let Some(id) = division {
        match reference::get_division(tx.raw(), id).await {
            Ok(_) => {}
            Err(infra::StoreError::NotFound) => {
                return Err(ApiError::field("division_id", "does not name a police division"));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn entry(
    actor: &Actor,
    meta: &RequestMeta,
    action: &'static str,
    user: UserId,
    details: serde_json::Value,
) -> AuditEntry {
    AuditEntry {
        actor_id: Some(actor.user_id.as_uuid()),
        action,
        resource_type: "user",
        resource_id: Some(user.as_uuid()),
        client_ip: meta.client_ip.clone(),
        request_id: meta.request_id.clone(),
        details,
    }
}

/// A refused change of roles: 403, saying why.
fn grant_error(e: domain::grants::GrantError) -> ApiError {
    match e {
        domain::grants::GrantError::NothingPending => ApiError::Conflict(e.to_string()),
        _ => ApiError::ForbiddenBecause(e.to_string()),
    }
}

/// The user's roles waiting for confirmation, as stored.
fn pending(user: &User) -> String {
    if user.grants.supervisor_pending { domain::user::Role::Supervisor.as_str().to_owned() } else { String::new() }
}

/// Create a user.
///
/// Creates a user in the caller's tenant with roles (and a division for police liaisons). Emails are unique within
/// the tenant (`409`). Agency admins only. Audited.
#[utoipa::path(
    tag = "users",
    operation_id = "create_user",
    request_body = CreateUserRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 printable ASCII characters.")),
    responses(
        (status = 201, description = "Created", body = UserResponse, headers(("Location" = String, description = "The new user"), ("ETag" = String, description = "Version for If-Match"))),
        (status = 403, description = "Not an agency admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Email taken in this tenant, or a duplicate in flight", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    idempotency: IdempotencyHeader,
    body: web::Json<CreateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ManageUsers)?;
    let parsed = body.try_into_domain(&actor)?;
    let idempotent = Idempotent::new(idempotency, &actor, "create_user", &*body)?;
    let tx = match idempotent.begin(&state, &actor, &meta).await? {
        Begun::Replay(replay) => return replay.answer().await,
        Begun::Proceed(tx) => tx,
    };
    check_division(&tx, parsed.division_id).await?;
    // Hashed once the transaction has checked the caller's session and the key is not a replay,
    // as creating a tenant does: a rare request, so holding the transaction for it costs little.
    let grants = domain::grants::request_roles(&actor, UserId::new(), None, parsed.roles).map_err(grant_error)?;
    let password_hash = password::hash(parsed.password).await?;
    let user = users::insert(
        &tx,
        NewUser {
            email: parsed.email,
            display_name: parsed.display_name,
            roles: grants.named.clone(),
            supervisor_requested_by: grants.requested_by,
            division_id: parsed.division_id,
            profession: parsed.profession,
            password_hash,
            // The admin chose it: the user changes it at first sign-in.
            password_change_required: true,
        },
    )
    .await?;
    let details = serde_json::json!({ "roles": user.roles.to_storage(), "pending_roles": pending(&user) });
    audit::record(&tx, entry(&actor, &meta, actions::USER_CREATED, user.id, details)).await?;
    let location = format!("/api/v1/users/{}", user.id);
    let version = user.version;
    let response =
        idempotent.finish(tx, &actor, Created::new(&UserResponse::from(user), location)?.with_etag(version)).await?;
    Ok(response)
}

/// List the agency's users.
///
/// In creation order. Agency admins only.
#[utoipa::path(
    tag = "users",
    operation_id = "list_users",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of users", body = Page<UserResponse>),
        (status = 403, description = "Not an agency admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    caller: Authenticated,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ManageUsers)?;
    let (limit, after) = query.parse()?;
    let tx = infra::db::begin_tenant_tx(&state.db, &actor).await?;
    let rows = users::list(&tx, after, limit.get() + 1).await?;
    tx.commit().await?;
    let (rows, next_cursor) = domain::paging::into_page(rows, limit, |u| u.id.as_uuid());
    Ok(HttpResponse::Ok().json(Page { items: rows.into_iter().map(UserResponse::from).collect(), next_cursor }))
}

/// Read a user.
///
/// One user of the caller's tenant. Agency admins only.
#[utoipa::path(
    tag = "users",
    operation_id = "get_user",
    params(("id" = uuid::Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "The user", body = UserResponse, headers(("ETag" = String, description = "Version for If-Match"))),
        (status = 403, description = "Not an agency admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/users/{id}")]
pub async fn get_user(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ManageUsers)?;
    let tx = infra::db::begin_tenant_tx(&state.db, &actor).await?;
    let user = users::get(&tx, UserId::from_uuid(path.into_inner())).await?;
    tx.commit().await?;
    Ok(with_etag(HttpResponse::Ok(), user.version, &UserResponse::from(user)))
}

/// Change a user.
///
/// Changes roles, display name, division or whether the user is active. Requires `If-Match`. Changing roles or
/// deactivating ends the user's sessions at once. Agency admins only. Audited.
#[utoipa::path(
    tag = "users",
    operation_id = "update_user",
    request_body = UpdateUserRequest,
    params(
        ("id" = uuid::Uuid, Path, description = "User id"),
        ("If-Match" = String, Header, description = "The ETag last read"),
    ),
    responses(
        (status = 200, description = "Updated", body = UserResponse, headers(("ETag" = String, description = "New version"))),
        (status = 403, description = "Not an agency admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/users/{id}")]
pub async fn update_user(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
    if_match: IfMatch,
    body: web::Json<UpdateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ManageUsers)?;
    let id = UserId::from_uuid(path.into_inner());
    let mut e = ValidationErrors::default();
    let display_name = body.display_name.as_deref().map(|n| e.check("display_name", DisplayName::parse(n)));
    let roles = body.roles.as_deref().map(|r| e.check("roles", RoleSet::parse(r, actor.tenant_kind)));
    if !e.is_empty() {
        return Err(e.into());
    }
    let tx = infra::db::begin_tenant_tx(&state.db, &actor).await?;
    let before = users::get(&tx, id).await?;
    let grants = match roles.flatten() {
        None => None,
        Some(requested) => {
            Some(domain::grants::request_roles(&actor, id, Some(&before.grants), requested).map_err(grant_error)?)
        }
    };
    let changes = UserChanges {
        display_name: display_name.flatten(),
        roles: grants,
        division_id: body.division_id.map(|d| d.map(PoliceDivisionId::from_uuid)),
        active: body.active,
    };
    if let Some(Some(division)) = changes.division_id {
        check_division(&tx, Some(division)).await?;
    }
    let named_after = changes.roles.as_ref().map_or_else(|| before.grants.named.clone(), |g| g.named.clone());
    let division_after = changes.division_id.unwrap_or(before.division_id);
    if let Err(message) = check_division_requirement(&named_after, division_after.is_some()) {
        return Err(ApiError::field("division_id", message));
    }
    let ends_sessions = changes.roles.as_ref().is_some_and(|r| *r != before.grants) || changes.active == Some(false);
    let user = users::update(&tx, id, if_match.version()?, changes).await?;
    let ended = if ends_sessions { sessions::revoke_all_for_user(&tx, id, "user_changed").await? } else { Vec::new() };
    let mut details = serde_json::json!({ "version": user.version, "sessions_ended": ended.len() });
    if user.grants != before.grants {
        // Every grant and removal is on the record, with what was and what is.
        details["roles_before"] = before.roles.to_storage().into();
        details["roles"] = user.roles.to_storage().into();
        details["pending_roles"] = pending(&user).into();
    }
    audit::record(&tx, entry(&actor, &meta, actions::USER_UPDATED, id, details)).await?;
    tx.commit().await?;
    state.forget_sessions(ended);
    Ok(with_etag(HttpResponse::Ok(), user.version, &UserResponse::from(user)))
}

/// Confirm a supervisor.
///
/// An agency admin's grant of `supervisor` takes effect only when a second person confirms it: a supervisor of the
/// agency who is neither the admin who asked nor the user who receives it (`403` otherwise; `409` when nothing
/// waits). For an agency with no supervisor yet, the operator confirms with `vcao confirm-supervisor`. Ends the
/// user's sessions, so their next sign-in carries the role. Audited.
#[utoipa::path(
    tag = "users",
    operation_id = "confirm_supervisor",
    params(("id" = uuid::Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "Confirmed: `supervisor` is in effect", body = UserResponse, headers(("ETag" = String, description = "New version"))),
        (status = 403, description = "Not a supervisor, or the requester or grantee", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No supervisor grant waits for this user", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/users/{id}/supervisor-confirmation")]
pub async fn confirm_supervisor(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ConfirmSupervisors)?;
    let id = UserId::from_uuid(path.into_inner());
    let tx = infra::db::begin_tenant_tx(&state.db, &actor).await?;
    let before = users::get(&tx, id).await?;
    let confirmed = domain::grants::confirm_supervisor(&actor, id, &before.grants).map_err(grant_error)?;
    let requested_by = before.grants.requested_by;
    let changes = UserChanges { roles: Some(confirmed), ..UserChanges::default() };
    let user = users::update(&tx, id, before.version, changes).await?;
    let ended = sessions::revoke_all_for_user(&tx, id, "user_changed").await?;
    let details = serde_json::json!({
        "role": "supervisor",
        "requested_by": requested_by,
        "version": user.version,
        "sessions_ended": ended.len(),
    });
    audit::record(&tx, entry(&actor, &meta, actions::USER_ROLE_CONFIRMED, id, details)).await?;
    tx.commit().await?;
    state.forget_sessions(ended);
    Ok(with_etag(HttpResponse::Ok(), user.version, &UserResponse::from(user)))
}
