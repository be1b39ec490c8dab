//! Passwords: a signed-in user changes their own; the tenant's admin (or, for a case worker, a
//! supervisor) issues a one-time reset code; the user redeems it without signing in.
//!
//! Every check of a password here is a sign-in attempt as far as the throttle is concerned: the
//! same per-account and per-address counts as `POST /auth/login`, counted before the hash is
//! checked, so a stolen access token cannot be used to guess the current password, and reset
//! codes cannot be guessed faster than passwords.

use actix_web::{HttpResponse, post, web};
use chrono::{Duration, Utc};
use domain::audit::actions;
use domain::authz::Action;
use domain::passwords::{self as rules, RESET_CODE_TTL_HOURS};
use domain::user::{EmailAddress, NewPassword};
use domain::{TenantId, UserId};
use infra::auth::password;
use infra::db::begin_tenant_tx_for;
use infra::store::audit::{self, AuditEntry};
use infra::store::{passwords as store, sessions, tenants, users};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{ThrottleKeys, throttle_keys};
use super::authorize;
use crate::audit_trail::entry;
use crate::error::{ApiError, Problem};
use crate::extract::{Authenticated, ChangesPassword, RequestMeta, SettingUp};
use crate::state::AppState;

/// `POST /me/password`.
#[derive(Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"current_password": "correct horse battery", "new_password": "a longer passphrase of mine"}))]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// The password the user signs in with now.
    pub current_password: String,
    /// The new password: 12 to 128 characters, not the current one.
    pub new_password: String,
}

impl std::fmt::Debug for ChangePasswordRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangePasswordRequest").finish_non_exhaustive()
    }
}

/// A reset code, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordResetResponse {
    /// The code to hand to the user (16 characters in groups of four; case, spaces and hyphens do not
    /// matter when it is typed). Shown only in this answer: the service keeps only a keyed hash of it.
    pub reset_code: String,
    /// When it stops working (UTC): 24 hours after it was issued. It works once; a newer code for the
    /// same user replaces it.
    pub expires_at: chrono::DateTime<Utc>,
}

/// `POST /auth/password-reset`.
#[derive(Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"tenant": "demo-agency", "email": "ana@vst.example", "reset_code": "7K3M-Q9ZD-2WXR-H4TB",
                          "new_password": "a longer passphrase of mine"}))]
#[serde(deny_unknown_fields)]
pub struct RedeemResetRequest {
    /// The tenant's slug, as at sign-in.
    pub tenant: String,
    /// The user's email, as at sign-in.
    pub email: String,
    /// The code an administrator issued.
    pub reset_code: String,
    /// The new password: 12 to 128 characters, not the current one.
    pub new_password: String,
}

impl std::fmt::Debug for RedeemResetRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedeemResetRequest").finish_non_exhaustive()
    }
}

/// The new password, checked against the policy (422 naming `new_password` otherwise).
fn new_password(raw: &str) -> Result<NewPassword, ApiError> {
    NewPassword::parse(raw).map_err(|e| ApiError::field("new_password", e.to_string()))
}

/// Counts an attempt on `keys` before any hash is checked: `Err(429)` once over the sign-in limit.
pub(super) async fn count_attempt(state: &AppState, keys: &ThrottleKeys) -> Result<(), ApiError> {
    let account = state.login_failures.add(&keys.account).await;
    let address = state.login_failures.add(&keys.address).await;
    if state.throttle.admits(account, address) {
        return Ok(());
    }
    refund(state, keys).await;
    state.metrics.login_throttled.inc();
    Err(ApiError::RateLimited(state.throttle.window_seconds))
}

/// Gives an attempt back: it succeeded, or it failed on the service's side.
pub(super) async fn refund(state: &AppState, keys: &ThrottleKeys) {
    state.login_failures.refund(&keys.account).await;
    state.login_failures.refund(&keys.address).await;
}

/// Checks the caller's `current_password` (`422` naming it when wrong), counting the attempt
/// against the sign-in throttle as a sign-in would (`429` past its limit), so a stolen access
/// token gives no free guesses at the password behind it.
///
/// # Errors
/// `422`, `429`, or database and hashing failures.
pub(super) async fn confirm_current_password(
    state: &AppState,
    actor: &domain::authz::Actor,
    meta: &RequestMeta,
    current_password: String,
) -> Result<(), ApiError> {
    let tx = infra::db::begin_tenant_tx(&state.db, actor).await?;
    let (user, phc) = store::credentials(&tx, actor.user_id).await?;
    let tenant = tenants::get(tx.raw(), actor.tenant_id).await?;
    tx.commit().await?;
    let keys = throttle_keys(state, &tenant.slug, &user.email, meta.client_ip.as_deref())?;
    count_attempt(state, &keys).await?;
    // The hash runs outside any transaction: a 20 ms argon2 never holds a database lock.
    let verified = password::verify(current_password, Some(phc)).await;
    if !verified.as_ref().is_ok_and(|ok| *ok) {
        if verified.is_err() {
            refund(state, &keys).await;
        } else {
            state.metrics.login_failures.inc();
        }
        verified?;
        return Err(ApiError::field("current_password", "is not your current password"));
    }
    refund(state, &keys).await;
    Ok(())
}

/// Change my password.
///
/// Replaces the caller's password. `current_password` must be right (`422` naming it otherwise, and the attempt
/// counts against the sign-in throttle: `429` with `Retry-After` past its limit); `new_password` follows the same
/// rules as at creation and may not be the current one. Every other session of the user ends at once; this one
/// goes on, except under the token a sign-in answered with `password_change_required`, whose session has done its
/// work and ends too (sign in again with the new password). The old password stops working at once. Audited.
#[utoipa::path(
    tag = "auth",
    operation_id = "change_password",
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Changed; every other session has ended"),
        (status = 422, description = "`current_password` is wrong, or `new_password` is too short, too long or the current one", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong passwords for this account or address", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/me/password")]
pub async fn change_password(
    state: web::Data<AppState>,
    caller: SettingUp<ChangesPassword>,
    meta: RequestMeta,
    body: web::Json<ChangePasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let setting_up = caller.setup.is_some();
    let actor = caller.actor();
    authorize(&actor, Action::ReadOwnProfile)?;
    let body = body.into_inner();
    let new = new_password(&body.new_password)?;
    if body.new_password == body.current_password {
        return Err(ApiError::field("new_password", "must not be your current password"));
    }
    confirm_current_password(&state, &actor, &meta, body.current_password).await?;
    // Outside any transaction: a 20 ms argon2 never holds a database lock.
    let phc = password::hash(new).await?;
    let tx = infra::db::begin_tenant_tx(&state.db, &actor).await?;
    store::set_hash(&tx, actor.user_id, phc).await?;
    let keep = (!setting_up).then_some(actor.session_id);
    let ended = sessions::revoke_all_but(&tx, actor.user_id, keep, "password_changed").await?;
    let details = serde_json::json!({ "sessions_ended": ended.len() });
    audit::record(&tx, entry(&actor, &meta, actions::PASSWORD_CHANGED, "user", Some(actor.user_id.as_uuid()), details))
        .await?;
    tx.commit().await?;
    state.forget_sessions(ended);
    Ok(HttpResponse::NoContent().finish())
}

/// Issue a password reset code.
///
/// Issues a one-time code for a user of the caller's tenant, to hand to them: it is shown only in this answer
/// (the service keeps a keyed hash), works once, for 24 hours, at `POST /api/v1/auth/password-reset`, and replaces
/// any code issued for the user before. Whoever could redeem a code sees what its user sees, so the issuer must
/// already see it: a supervisor issues codes for case managers and supervisors (an administrator could otherwise
/// redeem one and read the restricted cases assigned to them); the tenant's admin (an agency's, a ministry's, the
/// platform's) issues them for everyone else. Nobody issues one for themselves (`POST /api/v1/me/password`).
/// Audited, without the code.
#[utoipa::path(
    tag = "users",
    operation_id = "issue_password_reset",
    params(("id" = uuid::Uuid, Path, description = "User id")),
    responses(
        (status = 201, description = "Issued", body = PasswordResetResponse),
        (status = 403, description = "Not the tenant's admin or an agency supervisor, or not for this user (a case worker's by an admin, one's own)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/users/{id}/password-reset")]
pub async fn issue_password_reset(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ResetCredentials)?;
    let id = UserId::from_uuid(path.into_inner());
    let tx = infra::db::begin_tenant_tx(&state.db, &actor).await?;
    let target = users::get(&tx, id).await?;
    rules::may_reset_credentials(&actor, id, &target.grants.named)
        .map_err(|e| ApiError::ForbiddenBecause(e.to_string()))?;
    let code = infra::auth::new_reset_code().map_err(|e| ApiError::Internal(e.to_string()))?;
    let hash = infra::auth::reset_code_hash(state.keyring.current(), actor.tenant_id, &code)
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .ok_or_else(|| ApiError::Internal("a new reset code does not read back".to_owned()))?;
    let now = infra::db::now();
    let expires_at = now + Duration::hours(RESET_CODE_TTL_HOURS);
    store::issue_reset(&tx, id, hash, actor.user_id, now, expires_at).await?;
    let details = serde_json::json!({ "expires_at": expires_at });
    audit::record(&tx, entry(&actor, &meta, actions::PASSWORD_RESET_ISSUED, "user", Some(id.as_uuid()), details))
        .await?;
    tx.commit().await?;
    let body = PasswordResetResponse { reset_code: code, expires_at };
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::LOCATION, format!("/api/v1/users/{}", id.as_uuid())))
        .json(body))
}

/// Redeem a password reset code.
///
/// Sets a new password with a code an administrator issued, without signing in. A wrong tenant, email or code, or
/// a code that was used, replaced or expired, all answer the same `401`; attempts count against the sign-in
/// throttle (`429` with `Retry-After` past its limit). `new_password` follows the rules of creation and may not be
/// the current one. Every session of the user ends. Audited.
#[utoipa::path(
    tag = "auth",
    operation_id = "redeem_password_reset",
    request_body = RedeemResetRequest,
    responses(
        (status = 204, description = "The password is replaced; sign in with it"),
        (status = 401, description = "Wrong tenant, email or code, or a code used, replaced or expired (indistinguishable)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`new_password` too short, too long, or the current one", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts for this account or address", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[post("/auth/password-reset")]
pub async fn redeem_password_reset(
    state: web::Data<AppState>,
    meta: RequestMeta,
    body: web::Json<RedeemResetRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let new = new_password(&body.new_password)?;
    let keys = throttle_keys(&state, &body.tenant, &body.email, meta.client_ip.as_deref())?;
    count_attempt(&state, &keys).await?;
    let found = match find_reset(&state, &body, &meta).await {
        Ok(found) => found,
        Err(e) => {
            refund(&state, &keys).await;
            return Err(e);
        }
    };
    let Some(Found { tenant, user, phc, reset }) = found else {
        state.metrics.login_failures.inc();
        return Err(ApiError::Unauthorized);
    };
    let same = password::verify(body.new_password, Some(phc)).await;
    refund(&state, &keys).await;
    if same? {
        return Err(ApiError::field("new_password", "must not be your current password"));
    }
    let phc = password::hash(new).await?;
    #[expect(clippy::disallowed_methods, reason = "a reset: the code, not a session, is the credential")]
    let tx = begin_tenant_tx_for(&state.db, tenant).await?;
    if !store::consume_reset(&tx, reset, infra::db::now()).await? {
        return Err(ApiError::Unauthorized); // redeemed by a concurrent request meanwhile
    }
    store::set_hash(&tx, user, phc).await?;
    let ended = sessions::revoke_all_for_user(&tx, user, "password_reset").await?;
    let details = serde_json::json!({ "sessions_ended": ended.len() });
    audit::record(&tx, unsigned_entry(actions::PASSWORD_RESET, Some(user), &meta, details)).await?;
    tx.commit().await?;
    state.forget_sessions(ended);
    Ok(HttpResponse::NoContent().finish())
}

/// What a redemption names, when it names a live code of an active user.
struct Found {
    tenant: TenantId,
    user: UserId,
    phc: String,
    reset: uuid::Uuid,
}

/// The live reset `body` names, or `None` (audited in the tenant when there is one).
async fn find_reset(
    state: &AppState,
    body: &RedeemResetRequest,
    meta: &RequestMeta,
) -> Result<Option<Found>, ApiError> {
    let slug = domain::auth::canonical_slug(&body.tenant);
    #[expect(clippy::disallowed_methods, reason = "a reset names its tenant, as a sign-in does")]
    let tenant = match tenants::find_by_slug(state.db.global(), &slug).await {
        Ok(tenant) => tenant,
        Err(infra::StoreError::NotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let Ok(email) = EmailAddress::parse(&body.email) else { return Ok(None) };
    let hash = infra::auth::reset_code_hash(state.keyring.current(), tenant.id, &body.reset_code)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    #[expect(clippy::disallowed_methods, reason = "a reset: the tenant is the one it names")]
    let tx = begin_tenant_tx_for(&state.db, tenant.id).await?;
    let (user, phc) = match users::find_credentials(&tx, &email).await {
        Ok(found) => found,
        Err(infra::StoreError::NotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let reset = match &hash {
        Some(hash) if user.active => store::live_reset(&tx, user.id, hash, infra::db::now()).await?,
        _ => None,
    };
    if reset.is_none() {
        let details = serde_json::json!({ "reason": "no_live_code" });
        audit::record(&tx, unsigned_entry(actions::PASSWORD_RESET_FAILED, Some(user.id), meta, details)).await?;
    }
    tx.commit().await?;
    Ok(reset.map(|reset| Found { tenant: tenant.id, user: user.id, phc, reset }))
}

/// An audit entry with no signed-in actor (the user it concerns is named as the actor).
pub(super) fn unsigned_entry(
    action: &'static str,
    user: Option<UserId>,
    meta: &RequestMeta,
    details: serde_json::Value,
) -> AuditEntry {
    AuditEntry {
        actor_id: user.map(|u| u.as_uuid()),
        action,
        resource_type: "user",
        resource_id: user.map(|u| u.as_uuid()),
        client_ip: meta.client_ip.clone(),
        request_id: meta.request_id.clone(),
        details,
    }
}
