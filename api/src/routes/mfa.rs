//! Multi-factor sign-in with an authenticator app (TOTP, RFC 6238): a user enrols (a secret shown
//! once), confirms with a code (ten recovery codes shown once), and from then on a sign-in with the
//! right password waits for `POST /auth/mfa` with a code. Every code check counts against the
//! sign-in throttle, so a stolen password, token or `mfa_token` gives no free guesses; a code is
//! accepted once (`domain::mfa`). The secret is sealed like personal data; recovery codes are
//! keyed hashes.

use actix_web::{HttpResponse, delete, post, web};
use domain::audit::actions;
use domain::authz::Action;
use domain::mfa::{RECOVERY_CODES, accepts_step};
use infra::auth::{token_hash, totp};
use infra::db::begin_tenant_tx_for;
use infra::store::{audit, mfa, passwords as credentials, tenants};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{start_session, throttle_keys};
use super::authorize;
use super::passwords::{count_attempt, refund};
use crate::audit_trail::entry;
use crate::error::{ApiError, Problem};
use crate::extract::{Authenticated, EnrolsSecondFactor, RequestMeta, SettingUp};
use crate::state::AppState;

/// The issuer an authenticator app shows beside the account.
const ISSUER: &str = "VCAO Platform";

/// A new authenticator's secret, shown once.
#[derive(Serialize, ToSchema)]
pub struct TotpEnrolmentResponse {
    /// The secret in base32, to type into an authenticator app (32 characters, 160 bits).
    pub secret: String,
    /// The same as an `otpauth://totp/...` URI, for a QR code: SHA-1, 6 digits, 30 seconds.
    pub otpauth_uri: String,
}

impl std::fmt::Debug for TotpEnrolmentResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpEnrolmentResponse").finish_non_exhaustive()
    }
}

/// A code from the authenticator.
#[derive(Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"code": "287082"}))]
#[serde(deny_unknown_fields)]
pub struct TotpCodeRequest {
    /// The 6 digits the authenticator shows now (spaces are ignored).
    pub code: String,
}

impl std::fmt::Debug for TotpCodeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpCodeRequest").finish_non_exhaustive()
    }
}

/// Recovery codes, shown once.
#[derive(Serialize, ToSchema)]
pub struct RecoveryCodesResponse {
    /// Ten codes, each good for one sign-in instead of an authenticator code (16 characters in groups of four;
    /// case, spaces and hyphens do not matter). Only keyed hashes of them are kept; keep them somewhere safe.
    pub recovery_codes: Vec<String>,
}

impl std::fmt::Debug for RecoveryCodesResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecoveryCodesResponse").finish_non_exhaustive()
    }
}

/// The second step of a sign-in.
#[derive(Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"mfa_token": "mfa1.0192b1c0a1b27c3d8e9f00112233aabb.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", "code": "287082"}))]
#[serde(deny_unknown_fields)]
pub struct MfaRequest {
    /// The `mfa_token` the sign-in answered with.
    pub mfa_token: String,
    /// A code from the authenticator (6 digits), or one of the recovery codes.
    pub code: String,
}

impl std::fmt::Debug for MfaRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaRequest").finish_non_exhaustive()
    }
}

fn unix_now() -> u64 {
    u64::try_from(infra::db::now().timestamp()).unwrap_or(0)
}

/// Issues the user's ten recovery codes, replacing any they had: the codes, to show once (only
/// keyed hashes are kept).
///
/// # Errors
/// Database or randomness failures.
pub(super) async fn issue_recovery_codes(
    state: &AppState,
    tx: &infra::TenantTx,
    actor: &domain::authz::Actor,
) -> Result<Vec<String>, ApiError> {
    let master = state.keyring.current();
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    let mut hashes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let code = infra::auth::new_reset_code().map_err(|e| ApiError::Internal(e.to_string()))?;
        let hash = infra::auth::recovery_code_hash(master, actor.tenant_id, &code)
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .ok_or_else(|| ApiError::Internal("a recovery code does not read back".to_owned()))?;
        codes.push(code);
        hashes.push(hash);
    }
    mfa::replace_recovery_codes(tx, actor.user_id, hashes).await?;
    Ok(codes)
}

/// The enrolment a setup token waited for is done: its session ends (returned, for
/// [`AppState::forget_sessions`] once committed), and the user signs in again with the new factor.
///
/// # Errors
/// Database failures.
pub(super) async fn end_setup_session(
    tx: &infra::TenantTx,
    actor: &domain::authz::Actor,
    setting_up: bool,
) -> Result<Vec<domain::SessionId>, ApiError> {
    if !setting_up {
        return Ok(Vec::new());
    }
    infra::store::sessions::revoke(tx, actor.session_id, "mfa_enrolled").await?;
    Ok(vec![actor.session_id])
}

/// Enrol an authenticator.
///
/// Starts enrolment: a new secret, shown once, for an authenticator app (type it, or scan `otpauth_uri` as a QR
/// code). Nothing changes at sign-in until `POST /api/v1/me/mfa/totp/confirm` shows a code from it; enrolling again
/// before that replaces the secret. `409` when an authenticator is already confirmed (remove it first).
#[utoipa::path(
    tag = "auth",
    operation_id = "enrol_totp",
    responses(
        (status = 201, description = "The secret, shown once", body = TotpEnrolmentResponse),
        (status = 409, description = "An authenticator is already confirmed", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/me/mfa/totp")]
pub async fn enrol_totp(
    state: web::Data<AppState>,
    caller: SettingUp<EnrolsSecondFactor>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.actor();
    authorize(&actor, Action::ReadOwnProfile)?;
    let cipher = state.cipher(actor.tenant_id).await?;
    let tx = infra::db::begin_tenant_tx(&state.db, &actor).await?;
    if mfa::has_confirmed(&tx, actor.user_id).await? {
        return Err(ApiError::Conflict("An authenticator is already confirmed; remove it first.".to_owned()));
    }
    let (user, _) = credentials::credentials(&tx, actor.user_id).await?;
    let secret = totp::new_secret().map_err(|e| ApiError::Internal(e.to_string()))?;
    mfa::enrol(&tx, &cipher, actor.user_id, &secret).await?;
    tx.commit().await?;
    let body = TotpEnrolmentResponse {
        secret: totp::base32(&secret),
        otpauth_uri: totp::otpauth_uri(ISSUER, &user.email, &secret),
    };
    Ok(HttpResponse::Created().insert_header((actix_web::http::header::LOCATION, "/api/v1/me")).json(body))
}

/// Confirm an authenticator.
///
/// Confirms the enrolment with a code the authenticator shows now; from then on a sign-in asks for a code. Answers
/// ten recovery codes, shown once (each replaces an authenticator code once). Under the token a sign-in answered
/// with `mfa_enrolment_required`, that token's session ends here: sign in again, with a code. A wrong code is `422`; `409` when
/// there is no enrolment waiting. Audited.
#[utoipa::path(
    tag = "auth",
    operation_id = "confirm_totp",
    request_body = TotpCodeRequest,
    responses(
        (status = 200, description = "Confirmed; the recovery codes, shown once", body = RecoveryCodesResponse),
        (status = 409, description = "No enrolment waits for confirmation", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/me/mfa/totp/confirm")]
pub async fn confirm_totp(
    state: web::Data<AppState>,
    caller: SettingUp<EnrolsSecondFactor>,
    meta: RequestMeta,
    body: web::Json<TotpCodeRequest>,
) -> Result<HttpResponse, ApiError> {
    let setting_up = caller.setup.is_some();
    let actor = caller.actor();
    authorize(&actor, Action::ReadOwnProfile)?;
    let cipher = state.cipher(actor.tenant_id).await?;
    let tx = infra::db::begin_tenant_tx(&state.db, &actor).await?;
    let waiting = mfa::totp(&tx, &cipher, actor.user_id).await?.filter(|t| !t.confirmed);
    let Some(enrolment) = waiting else {
        return Err(ApiError::Conflict("No authenticator waits for confirmation; enrol first.".to_owned()));
    };
    let step = totp::matched_step(&enrolment.secret, &body.code, unix_now());
    let Some(step) = step.filter(|s| accepts_step(*s, enrolment.last_step)) else {
        return Err(ApiError::field("code", "is not the code the authenticator shows now"));
    };
    if !mfa::accept_step(&tx, actor.user_id, step, true).await? {
        return Err(ApiError::field("code", "was used already; wait for the next one"));
    }
    let codes = issue_recovery_codes(&state, &tx, &actor).await?;
    let ended = end_setup_session(&tx, &actor, setting_up).await?;
    let event = entry(
        &actor,
        &meta,
        actions::MFA_ENROLLED,
        "user",
        Some(actor.user_id.as_uuid()),
        serde_json::json!({ "method": "totp" }),
    );
    audit::record(&tx, event).await?;
    tx.commit().await?;
    state.forget_sessions(ended);
    Ok(HttpResponse::Ok().json(RecoveryCodesResponse { recovery_codes: codes }))
}

/// Remove my authenticator.
///
/// Removes the caller's authenticator, and their recovery codes unless a passkey remains: with neither, sign-ins need
/// the password alone again (or, where the tenant requires a second factor, a new enrolment). Needs a code the
/// authenticator shows now (`422` otherwise; wrong codes count against the sign-in throttle). `404` when there is
/// none. Audited.
#[utoipa::path(
    tag = "auth",
    operation_id = "remove_totp",
    request_body = TotpCodeRequest,
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No authenticator", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong codes for this account or address", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/me/mfa/totp")]
pub async fn remove_totp(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    body: web::Json<TotpCodeRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ReadOwnProfile)?;
    let cipher = state.cipher(actor.tenant_id).await?;
    let tx = infra::db::begin_tenant_tx(&state.db, &actor).await?;
    let Some(current) = mfa::totp(&tx, &cipher, actor.user_id).await?.filter(|t| t.confirmed) else {
        return Err(ApiError::NotFound);
    };
    let (user, _) = credentials::credentials(&tx, actor.user_id).await?;
    let tenant = tenants::get(tx.raw(), actor.tenant_id).await?;
    let keys = throttle_keys(&state, &tenant.slug, &user.email, meta.client_ip.as_deref())?;
    count_attempt(&state, &keys).await?;
    let step =
        totp::matched_step(&current.secret, &body.code, unix_now()).filter(|s| accepts_step(*s, current.last_step));
    let accepted = match step {
        Some(step) => mfa::accept_step(&tx, actor.user_id, step, false).await?,
        None => false,
    };
    if !accepted {
        state.metrics.login_failures.inc();
        return Err(ApiError::field("code", "is not the code the authenticator shows now"));
    }
    refund(&state, &keys).await;
    mfa::remove_totp(&tx, actor.user_id).await?;
    // The recovery codes stand in for a second factor: they go with the last one.
    if !infra::store::passkeys::has_any(&tx, actor.user_id).await? {
        mfa::remove_recovery_codes(&tx, actor.user_id).await?;
    }
    let event = entry(
        &actor,
        &meta,
        actions::MFA_REMOVED,
        "user",
        Some(actor.user_id.as_uuid()),
        serde_json::json!({ "method": "totp" }),
    );
    audit::record(&tx, event).await?;
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Remove a user's lost authenticator.
///
/// For a user who lost both their second factor and their recovery codes: removes their authenticator, passkeys and
/// recovery codes and ends their sessions, so they sign in with their password alone and enrol again. Whoever does it
/// could then sign in as them with a reset password, so the same people may as for a password reset: a supervisor
/// for case managers and supervisors, the tenant's admin for everyone else; nobody for themselves. `404` when the
/// user has none. Audited.
#[utoipa::path(
    tag = "users",
    operation_id = "remove_user_mfa",
    params(("id" = uuid::Uuid, Path, description = "User id")),
    responses(
        (status = 204, description = "Removed; the user's sessions have ended"),
        (status = 403, description = "Not the tenant's admin or an agency supervisor, or not for this user (a case worker's by an admin, one's own)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/users/{id}/mfa")]
pub async fn remove_user_mfa(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ResetCredentials)?;
    let id = domain::UserId::from_uuid(path.into_inner());
    let tx = infra::db::begin_tenant_tx(&state.db, &actor).await?;
    let target = infra::store::users::get(&tx, id).await?;
    domain::passwords::may_reset_credentials(&actor, id, &target.grants.named)
        .map_err(|e| ApiError::ForbiddenBecause(e.to_string()))?;
    if !mfa::has_any(&tx, id).await? {
        return Err(ApiError::NotFound);
    }
    mfa::remove_all(&tx, id).await?;
    let ended = infra::store::sessions::revoke_all_for_user(&tx, id, "mfa_removed").await?;
    let details = serde_json::json!({ "method": "all", "by_admin": true, "sessions_ended": ended.len() });
    audit::record(&tx, entry(&actor, &meta, actions::MFA_REMOVED, "user", Some(id.as_uuid()), details)).await?;
    tx.commit().await?;
    state.forget_sessions(ended);
    Ok(HttpResponse::NoContent().finish())
}

/// Complete a sign-in with a second factor.
///
/// The second step of a sign-in that answered `mfa_required`: the `mfa_token` and a code the authenticator shows
/// now, or one of the recovery codes. Answers the usual tokens. The `mfa_token` works once, for 5 minutes, for its
/// own user; a code works once. A wrong or spent token or code all answer `401`; every attempt counts against the
/// sign-in throttle (`429` with `Retry-After` past its limit).
#[utoipa::path(
    tag = "auth",
    operation_id = "complete_mfa",
    request_body = MfaRequest,
    responses(
        (status = 200, description = "Signed in", body = super::auth::TokenResponse),
        (status = 401, description = "A wrong, expired or spent `mfa_token` or code (indistinguishable)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts for this account or address", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[post("/auth/mfa")]
pub async fn complete_mfa(
    state: web::Data<AppState>,
    meta: RequestMeta,
    body: web::Json<MfaRequest>,
) -> Result<HttpResponse, ApiError> {
    let Some(step) = SecondStep::open(&state, &meta, &body.mfa_token).await? else {
        return Err(ApiError::Unauthorized);
    };
    let (tx, user_id, now) = (&step.tx, step.user.id, step.now);
    let current = mfa::totp(tx, &step.cipher, user_id).await?.filter(|t| t.confirmed);
    let recovery = infra::auth::recovery_code_hash(state.keyring.current(), step.tenant.id, &body.code)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let method = match (&current, recovery) {
        (_, Some(hash)) => mfa::use_recovery_code(tx, user_id, &hash, now).await?.then_some("recovery_code"),
        (Some(t), None) => {
            match totp::matched_step(&t.secret, &body.code, unix_now()).filter(|s| accepts_step(*s, t.last_step)) {
                Some(step) => mfa::accept_step(tx, user_id, step, false).await?.then_some("totp"),
                None => None,
            }
        }
        (None, None) => None,
    };
    step.finish(&state, &meta, method).await
}

/// The second step of a sign-in, opened by its `mfa_token`: the challenge is live, its user is
/// known, and the attempt is counted against the sign-in throttle. [`SecondStep::finish`] then
/// spends the challenge and starts the session when the method checked out, or records the failure.
pub(super) struct SecondStep {
    pub(super) tx: infra::TenantTx,
    pub(super) cipher: std::sync::Arc<infra::crypto::TenantCipher>,
    pub(super) user: infra::store::users::User,
    pub(super) tenant: infra::store::tenants::Tenant,
    pub(super) challenge: uuid::Uuid,
    pub(super) now: chrono::DateTime<chrono::Utc>,
    keys: super::auth::ThrottleKeys,
}

impl SecondStep {
    /// The step `mfa_token` opens; `None` when it names no live challenge (any token a stranger
    /// made up included: the tenant's key is loaded only for a live one).
    ///
    /// # Errors
    /// `429` past the throttle's limit; database failures.
    pub(super) async fn open(state: &AppState, meta: &RequestMeta, mfa_token: &str) -> Result<Option<Self>, ApiError> {
        let Some(tenant_id) = infra::auth::mfa_token_tenant(mfa_token) else { return Ok(None) };
        let now = infra::db::now();
        #[expect(
            clippy::disallowed_methods,
            reason = "a sign-in's second step: the mfa_token, not a session, is the credential"
        )]
        let tx = begin_tenant_tx_for(&state.db, tenant_id).await?;
        let found = mfa::live_challenge(&tx, &token_hash(mfa_token), now).await?;
        tx.commit().await?;
        let Some((challenge, user_id)) = found else { return Ok(None) };
        let cipher = state.cipher(tenant_id).await?;
        #[expect(
            clippy::disallowed_methods,
            reason = "a sign-in's second step: the mfa_token, not a session, is the credential"
        )]
        let tx = begin_tenant_tx_for(&state.db, tenant_id).await?;
        let (user, _) = credentials::credentials(&tx, user_id).await?;
        let tenant = tenants::get(tx.raw(), tenant_id).await?;
        let keys = throttle_keys(state, &tenant.slug, &user.email, meta.client_ip.as_deref())?;
        count_attempt(state, &keys).await?;
        Ok(Some(Self { tx, cipher, user, tenant, challenge, now, keys }))
    }

    /// Signs in when `method` (the factor that checked out) is `Some` and the user is active;
    /// otherwise `401`, the failure audited.
    ///
    /// # Errors
    /// `401`; database, encryption or signing failures.
    pub(super) async fn finish(
        self,
        state: &AppState,
        meta: &RequestMeta,
        method: Option<&'static str>,
    ) -> Result<HttpResponse, ApiError> {
        let Self { tx, cipher, user, tenant, challenge, now, keys } = self;
        let Some(method) = method.filter(|_| user.active) else {
            state.metrics.login_failures.inc();
            let details = serde_json::json!({ "reason": "wrong_code" });
            let event = super::passwords::unsigned_entry(actions::MFA_FAILED, Some(user.id), meta, details);
            audit::record(&tx, event).await?;
            tx.commit().await?;
            return Err(ApiError::Unauthorized);
        };
        if !mfa::spend_challenge(&tx, challenge, now).await? {
            return Err(ApiError::Unauthorized);
        }
        refund(state, &keys).await;
        let next = domain::sign_in::after_second_factor(super::auth::account_state(&tx, &user, &tenant).await?);
        start_session(state, tx, &cipher, &user, &tenant, meta, next, serde_json::json!({ "mfa": method })).await
    }
}
