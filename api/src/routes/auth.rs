//! Sign-in, token refresh, sign-out and the caller's own profile.

use actix_web::{HttpResponse, get, post, web};
use chrono::Duration;
use domain::audit::actions;
use domain::auth::REFRESH_TOKEN_TTL_SECONDS;
use domain::authz::{Action, Actor};
use domain::sign_in::{self, Next, PendingSetup};
use domain::user::EmailAddress;
use domain::{SessionId, TenantId};
use infra::auth::{new_refresh_token, password, refresh_token_tenant, token_hash};
use infra::db::{TenantTx, begin_tenant_tx, begin_tenant_tx_for};
use infra::store::audit::{self, AuditEntry};
use infra::store::{mfa, sessions, tenants, users};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::authorize;
use crate::error::{ApiError, Problem};
use crate::extract::{ReadsProfile, RequestMeta, SettingUp, SignsOut};
use crate::state::AppState;

/// Sign-in request.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"tenant": "victim-services-toronto", "email": "ana@vst.example", "password": "correct horse battery"}))]
pub struct LoginRequest {
    /// The tenant's slug.
    #[schema(pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", min_length = 1, max_length = 63)]
    pub tenant: String,
    /// The user's email.
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// The user's password.
    #[schema(format = Password)]
    pub password: String,
}

/// Refresh request.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"refresh_token": "rt1.01936f1e00007000800000000000000a.q3v9WkqZ1bM4h2oT8yJrXc5uE0sLdPa7nGfK6tRwYiB"}))]
pub struct RefreshRequest {
    /// The refresh token from the last sign-in or refresh. Each can be used once.
    #[schema(min_length = 1, max_length = 512)]
    pub refresh_token: String,
}

/// Tokens issued by sign-in and refresh.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// The access token (a JWT) for `Authorization: Bearer`.
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Exchange at `/auth/refresh` for new tokens; single use.
    pub refresh_token: String,
}

/// The second step a sign-in waits for: the user has an authenticator.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaChallengeResponse {
    /// Always `true`: no token is issued until the second step.
    pub mfa_required: bool,
    /// Present it with a code at `POST /api/v1/auth/mfa`: it works once, for 5 minutes.
    pub mfa_token: String,
    /// The second factors the user has, so the second step can offer them: `totp` (a code from the authenticator,
    /// at `POST /api/v1/auth/mfa`) and `webauthn` (a passkey, at `POST /api/v1/auth/mfa/webauthn/options` then
    /// `POST /api/v1/auth/mfa/webauthn`). A recovery code is accepted at `POST /api/v1/auth/mfa` either way.
    pub methods: Vec<String>,
}

/// A token that may only finish setting the account up, and what it waits for.
#[derive(Debug, Serialize, ToSchema)]
pub struct SetupTokenResponse {
    /// The password was set by someone else (the account's creator, a bootstrap or demo password): this token may
    /// only change it (`POST /api/v1/me/password`) and read `GET /api/v1/me`. Then sign in again.
    pub password_change_required: bool,
    /// The tenant requires a second factor and the user has none: this token may only enrol one
    /// (`POST /api/v1/me/mfa/totp` and its confirmation, or a passkey) and read `GET /api/v1/me`. Then sign in again.
    pub mfa_enrolment_required: bool,
    /// The access token (a JWT) for `Authorization: Bearer`; any other call answers `403` with the `code` above.
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds until the access token expires. There is no refresh token: sign in again.
    pub expires_in: i64,
}

/// What a sign-in answers: tokens; for a user with an authenticator, the second step it waits for; or a token that
/// may only finish setting the account up.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum LoginResponse {
    /// Signed in.
    Tokens(TokenResponse),
    /// The password was right; a second factor is needed (`POST /api/v1/auth/mfa`).
    Mfa(MfaChallengeResponse),
    /// Signed in to finish the account's setup only: change the password, or enrol a second factor.
    Setup(SetupTokenResponse),
}

/// The caller's tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeTenant {
    /// Tenant id.
    pub id: uuid::Uuid,
    /// Tenant slug.
    pub slug: String,
    /// Tenant name.
    pub name: String,
    /// `platform`, `agency` or `ministry`.
    pub kind: String,
}

/// The caller's profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    /// User id.
    pub id: uuid::Uuid,
    /// Sign-in email.
    pub email: String,
    /// The caller's name as shown to colleagues.
    pub display_name: String,
    /// The caller's roles as stored now; the access token keeps the roles it was issued with.
    pub roles: Vec<String>,
    /// Police division, for liaisons and embedded workers.
    pub division_id: Option<uuid::Uuid>,
    /// The tenant (organisation) the caller belongs to.
    pub tenant: MeTenant,
}

fn audit_entry(
    action: &'static str,
    actor: Option<uuid::Uuid>,
    meta: &RequestMeta,
    details: serde_json::Value,
) -> AuditEntry {
    AuditEntry {
        actor_id: actor,
        action,
        resource_type: "session",
        resource_id: None,
        client_ip: meta.client_ip.clone(),
        request_id: meta.request_id.clone(),
        details,
    }
}

/// Keys of the sign-in counters: keyed pseudonyms of the account (its canonical form, as the
/// look-up reads it) and of the address, so the keys in Redis hold neither, and a list of staff
/// emails or of addresses cannot be hashed to find one there (an unkeyed hash could be). The same
/// on every replica: the key comes from the master key. A new master key starts the counts
/// afresh, which a window of minutes can bear.
pub(super) struct ThrottleKeys {
    pub(super) account: String,
    pub(super) address: String,
    /// Attempts refused while throttled, for the summary in the audit log.
    refused: String,
}

pub(super) fn throttle_keys(
    state: &AppState,
    tenant: &str,
    email: &str,
    ip: Option<&str>,
) -> Result<ThrottleKeys, ApiError> {
    let master = state.keyring.current();
    let account = domain::auth::canonical_account(tenant, email);
    let account =
        master.pseudonym(b"vcao:login-account:v1", &account).map_err(|e| ApiError::Internal(e.to_string()))?;
    let address = master
        .pseudonym(b"vcao:login-address:v1", ip.unwrap_or("unknown"))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(ThrottleKeys {
        refused: format!("login:refused:{account}"),
        account: format!("login:acct:{account}"),
        address: format!("login:addr:{address}"),
    })
}

/// Sign in.
///
/// Signs in with the tenant's slug, an email and a password, and returns a 15-minute access token (EdDSA JWT) and a
/// refresh token. A user with a second factor gets `mfa_required` and an `mfa_token` instead, for
/// `POST /api/v1/auth/mfa`. An account that must first be set up gets a token for that alone, and no refresh
/// token: `password_change_required` when its password was set by someone else (change it at
/// `POST /api/v1/me/password`), `mfa_enrolment_required` when its tenant requires a second factor it does not have
/// yet (enrol at `POST /api/v1/me/mfa/totp`); then sign in again. A wrong tenant, email or password all answer the
/// same `401`. Repeated failures per account or per
/// address answer `429` with `Retry-After`, even for the right password, until the window passes; the tenant and
/// email are counted as they are looked up (spacing and case do not make another account).
#[utoipa::path(
    tag = "auth",
    operation_id = "login",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in: tokens; for a user with a second factor, `mfa_required` and the `mfa_token` of the second step; or a token that may only change the password (`password_change_required`) or enrol a second factor (`mfa_enrolment_required`)", body = LoginResponse),
        (status = 401, description = "Wrong tenant, email or password (indistinguishable)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts for this account or address", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database cannot be reached, or too many sign-ins are being checked at once (`unavailable`); retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    meta: RequestMeta,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let keys = throttle_keys(&state, &body.tenant, &body.email, meta.client_ip.as_deref())?;
    // Counted before the password is checked, atomically, so a burst of parallel guesses gets at
    // most the limit's worth of checks; given back below when the attempt succeeds.
    let account_attempts = state.login_failures.add(&keys.account).await;
    let address_attempts = state.login_failures.add(&keys.address).await;
    let slug = domain::auth::canonical_slug(&body.tenant);
    if !state.throttle.admits(account_attempts, address_attempts) {
        // A refused attempt is no failure: it checked nothing. Only its summary is audited.
        state.login_failures.refund(&keys.account).await;
        state.login_failures.refund(&keys.address).await;
        state.metrics.login_throttled.inc();
        let refused = state.login_failures.add(&keys.refused).await;
        if domain::auth::audits_throttled_attempt(refused) {
            #[expect(clippy::disallowed_methods, reason = "a sign-in: the login names its tenant")]
            if let Ok(tenant) = tenants::find_by_slug(state.db.global(), &slug).await {
                let details = serde_json::json!({ "reason": "throttled", "refused_in_window": refused });
                record_failure(&state, tenant.id, None, &meta, details).await?;
            }
        }
        return Err(ApiError::RateLimited(state.throttle.window_seconds));
    }
    let outcome = check_credentials(&state, &slug, body.email, body.password, &meta).await;
    if outcome.is_ok() {
        state.login_failures.refund(&keys.account).await;
        state.login_failures.refund(&keys.address).await;
    } else if let Err(ApiError::Unauthorized) = &outcome {
        state.metrics.login_failures.inc();
    } else {
        // Not a failure of the caller's (the database or the hasher): not held against them.
        state.login_failures.refund(&keys.account).await;
        state.login_failures.refund(&keys.address).await;
    }
    let (user, tenant) = outcome?;
    // The key before the transaction: loading it takes a transaction of its own.
    let cipher = state.cipher(tenant.id).await?;
    #[expect(clippy::disallowed_methods, reason = "a sign-in: the session starts here")]
    let tx = begin_tenant_tx_for(&state.db, tenant.id).await?;
    let account = account_state(&tx, &user, &tenant).await?;
    if sign_in::after_password(account) == Next::SecondFactor {
        // The password was right; the second step holds the tokens back (`routes::mfa`).
        let mfa_token = infra::auth::new_mfa_token(tenant.id).map_err(|e| ApiError::Internal(e.to_string()))?;
        let expires = infra::db::now() + Duration::seconds(domain::mfa::MFA_TOKEN_TTL_SECONDS);
        mfa::challenge(&tx, user.id, token_hash(&mfa_token), expires).await?;
        let methods = mfa::factors(&tx, user.id).await?.methods();
        let details = serde_json::json!({ "methods": methods });
        audit::record(&tx, audit_entry(actions::MFA_CHALLENGED, Some(user.id.as_uuid()), &meta, details)).await?;
        tx.commit().await?;
        let methods = methods.iter().map(|m| (*m).to_owned()).collect();
        return Ok(HttpResponse::Ok().json(LoginResponse::Mfa(MfaChallengeResponse {
            mfa_required: true,
            mfa_token,
            methods,
        })));
    }
    let next = sign_in::after_password(account);
    start_session(&state, tx, &cipher, &user, &tenant, &meta, next, serde_json::json!({})).await
}

/// What the sign-in rules (`domain::sign_in`) need to know of the account.
///
/// # Errors
/// Database failures.
pub(super) async fn account_state(
    tx: &TenantTx,
    user: &users::User,
    tenant: &tenants::Tenant,
) -> Result<sign_in::Account, ApiError> {
    Ok(sign_in::Account {
        has_second_factor: mfa::has_confirmed(tx, user.id).await?,
        password_change_required: user.password_change_required,
        tenant_kind: tenant.kind,
        tenant_requires_mfa: tenant.mfa_required,
    })
}

/// Starts a session for a user whose sign-in is complete (a password, and a second factor when
/// they have one), in `tx`, and answers with its tokens: full ones, or, when `next` says the
/// account must first be set up, one access token for that alone and no refresh token (the
/// session is recorded all the same, so it is listed, can be ended, and ends with a password
/// change). `details` joins the audit event. The tenant's `cipher` is loaded before `tx` began
/// (loading it takes a transaction of its own).
///
/// # Errors
/// Database, encryption or signing failures.
#[expect(clippy::too_many_arguments, reason = "the parts of a finished sign-in, each named by its two callers")]
pub(super) async fn start_session(
    state: &AppState,
    tx: TenantTx,
    cipher: &infra::crypto::TenantCipher,
    user: &users::User,
    tenant: &tenants::Tenant,
    meta: &RequestMeta,
    next: Next,
    mut details: serde_json::Value,
) -> Result<HttpResponse, ApiError> {
    let setup = match next {
        Next::Setup(setup) => Some(setup),
        Next::Session => None,
        Next::SecondFactor => return Err(ApiError::Internal("a session started before the second factor".to_owned())),
    };
    // A setup session lasts as long as its one access token: there is nothing to refresh.
    let ttl = Duration::seconds(if setup.is_some() {
        domain::auth::ACCESS_TOKEN_TTL_SECONDS
    } else {
        REFRESH_TOKEN_TTL_SECONDS
    });
    let session = sessions::start(&tx, cipher, user.id, ttl, meta.user_agent.as_deref()).await?;
    details["session_id"] = serde_json::json!(session);
    if let Some(setup) = setup {
        details["setup"] = serde_json::json!(setup);
        audit::record(&tx, audit_entry(actions::LOGIN_SUCCEEDED, Some(user.id.as_uuid()), meta, details)).await?;
        tx.commit().await?;
        let (access_token, expires_in) = state
            .tokens
            .issue_for_setup(user.id, tenant.id, tenant.kind, &user.roles, session, setup)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        return Ok(HttpResponse::Ok().json(LoginResponse::Setup(SetupTokenResponse {
            password_change_required: setup == PendingSetup::PasswordChange,
            mfa_enrolment_required: setup == PendingSetup::MfaEnrolment,
            access_token,
            token_type: "Bearer".to_owned(),
            expires_in,
        })));
    }
    let refresh_token = issue_refresh(&tx, tenant.id, session).await?;
    audit::record(&tx, audit_entry(actions::LOGIN_SUCCEEDED, Some(user.id.as_uuid()), meta, details)).await?;
    tx.commit().await?;
    token_response(state, user, tenant, session, refresh_token)
}

/// The user and tenant a sign-in names, when the password is theirs and the user active;
/// otherwise 401 (the failure audited in the tenant, when there is one).
async fn check_credentials(
    state: &AppState,
    slug: &str,
    email: String,
    password: String,
    meta: &RequestMeta,
) -> Result<(users::User, tenants::Tenant), ApiError> {
    #[expect(clippy::disallowed_methods, reason = "a sign-in: the login names its tenant")]
    let tenant = tenants::find_by_slug(state.db.global(), slug).await;
    let email = EmailAddress::parse(&email).ok();
    let found = match (&tenant, &email) {
        (Ok(tenant), Some(email)) => {
            #[expect(clippy::disallowed_methods, reason = "a sign-in: the tenant is the one the login names")]
            let tx = begin_tenant_tx_for(&state.db, tenant.id).await?;
            let found = users::find_credentials(&tx, email).await;
            tx.commit().await?;
            match found {
                Ok(found) => Some(found),
                Err(infra::StoreError::NotFound) => None,
                Err(e) => return Err(e.into()),
            }
        }
        (Err(infra::StoreError::NotFound), _) | (Ok(_), None) => None,
        (Err(e), _) => return Err(ApiError::Internal(e.to_string())),
    };
    // The hash check runs (against a decoy when nobody matched) outside any transaction, so a
    // 20 ms argon2 never holds a database lock, and every failure costs the same time.
    let (user, phc) = match found {
        Some((user, phc)) => (Some(user), Some(phc)),
        None => (None, None),
    };
    let password_ok = password::verify(password, phc).await?;
    match (user, tenant) {
        (Some(user), Ok(tenant)) if password_ok && user.active => Ok((user, tenant)),
        (other, tenant) => {
            if let Ok(tenant) = &tenant {
                let reason = match &other {
                    None => "unknown_account",
                    Some(u) if !u.active => "inactive",
                    Some(_) => "bad_password",
                };
                let details = serde_json::json!({ "reason": reason });
                record_failure(state, tenant.id, other.map(|u| u.id.as_uuid()), meta, details).await?;
            }
            Err(ApiError::Unauthorized)
        }
    }
}

/// Signs an access token for `user` and answers with it and the new refresh token.
fn token_response(
    state: &AppState,
    user: &users::User,
    tenant: &tenants::Tenant,
    session: SessionId,
    refresh_token: String,
) -> Result<HttpResponse, ApiError> {
    let (access_token, expires_in) = state
        .tokens
        .issue(user.id, tenant.id, tenant.kind, &user.roles, session)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(HttpResponse::Ok().json(TokenResponse {
        access_token,
        token_type: "Bearer".to_owned(),
        expires_in,
        refresh_token,
    }))
}

async fn record_failure(
    state: &AppState,
    tenant: TenantId,
    user: Option<uuid::Uuid>,
    meta: &RequestMeta,
    details: serde_json::Value,
) -> Result<(), ApiError> {
    #[expect(clippy::disallowed_methods, reason = "a failed sign-in's audit event: there is no session")]
    let tx = begin_tenant_tx_for(&state.db, tenant).await?;
    audit::record(&tx, audit_entry(actions::LOGIN_FAILED, user, meta, details)).await?;
    tx.commit().await?;
    Ok(())
}

async fn issue_refresh(tx: &TenantTx, tenant: TenantId, session: SessionId) -> Result<String, ApiError> {
    let token = new_refresh_token(tenant).map_err(|e| ApiError::Internal(e.to_string()))?;
    sessions::add_refresh_token(tx, session, token_hash(&token), Duration::seconds(REFRESH_TOKEN_TTL_SECONDS)).await?;
    Ok(token)
}

/// Exchange a refresh token for new tokens.
///
/// Each refresh token works once and is replaced by a new one. Presenting a used refresh token revokes the whole
/// session (`401`): it may have been stolen. Sessions end 12 hours after sign-in.
#[utoipa::path(
    tag = "auth",
    operation_id = "refresh_token",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = TokenResponse),
        (status = 401, description = "Unknown, expired, revoked or reused refresh token", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[post("/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    meta: RequestMeta,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let presented = body.into_inner().refresh_token;
    let tenant_id = refresh_token_tenant(&presented).ok_or(ApiError::Unauthorized)?;
    #[expect(clippy::disallowed_methods, reason = "a refresh: the refresh token names its tenant")]
    let tenant = tenants::get(state.db.global(), tenant_id).await.map_err(|_| ApiError::Unauthorized)?;
    #[expect(
        clippy::disallowed_methods,
        reason = "a refresh: the refresh token names the tenant, and its session is checked below"
    )]
    let tx = begin_tenant_tx_for(&state.db, tenant_id).await?;
    let record = match sessions::find_refresh_token(&tx, &token_hash(&presented)).await {
        Ok(record) => record,
        Err(infra::StoreError::NotFound) => return Err(ApiError::Unauthorized),
        Err(e) => return Err(e.into()),
    };
    let reused = record.used_at.is_some() || sessions::mark_refresh_token_used(&tx, record.id).await.is_err();
    if reused {
        let expires = sessions::revoke(&tx, record.session_id, "refresh_reuse").await?;
        audit::record(
            &tx,
            audit_entry(actions::REFRESH_REUSED, None, &meta, serde_json::json!({ "session_id": record.session_id })),
        )
        .await?;
        tx.commit().await?;
        remember_revoked(&state, record.session_id, expires).await;
        return Err(ApiError::Unauthorized);
    }
    if record.expires_at <= chrono::Utc::now() {
        return Err(ApiError::Unauthorized);
    }
    let user_id = match sessions::live_session_user(&tx, record.session_id).await {
        Ok(user) => user,
        Err(infra::StoreError::NotFound) => return Err(ApiError::Unauthorized),
        Err(e) => return Err(e.into()),
    };
    let user = users::get(&tx, user_id).await?;
    if !user.active {
        return Err(ApiError::Unauthorized);
    }
    let refresh_token = issue_refresh(&tx, tenant_id, record.session_id).await?;
    tx.commit().await?;
    token_response(&state, &user, &tenant, record.session_id, refresh_token)
}

async fn remember_revoked(state: &AppState, session: SessionId, expires: Option<chrono::DateTime<chrono::Utc>>) {
    let ttl = expires.and_then(|e| (e - chrono::Utc::now()).to_std().ok()).unwrap_or(std::time::Duration::from_secs(
        u64::try_from(domain::auth::ACCESS_TOKEN_TTL_SECONDS).unwrap_or(900),
    ));
    state.revocations.revoke(session, ttl);
}

/// Sign out.
///
/// Ends the session of the access token presented: it and every refresh token of the session stop working at once.
#[utoipa::path(
    tag = "auth",
    operation_id = "logout",
    responses(
        (status = 204, description = "Signed out"),
    ),
    security(("bearer" = []))
)]
#[post("/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: SettingUp<SignsOut>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.actor();
    let tx = begin_tenant_tx(&state.db, &actor).await?;
    let expires = sessions::revoke(&tx, actor.session_id, "logout").await?;
    audit::record(
        &tx,
        audit_entry(
            actions::LOGOUT,
            Some(actor.user_id.as_uuid()),
            &meta,
            serde_json::json!({ "session_id": actor.session_id }),
        ),
    )
    .await?;
    tx.commit().await?;
    remember_revoked(&state, actor.session_id, expires).await;
    Ok(HttpResponse::NoContent().finish())
}

/// The signed-in user.
///
/// The caller's profile, roles and tenant.
#[utoipa::path(
    tag = "auth",
    operation_id = "get_me",
    responses(
        (status = 200, description = "The caller", body = MeResponse),
    ),
    security(("bearer" = []))
)]
#[get("/me")]
pub async fn me(state: web::Data<AppState>, caller: SettingUp<ReadsProfile>) -> Result<HttpResponse, ApiError> {
    let actor: Actor = caller.actor();
    authorize(&actor, Action::ReadOwnProfile)?;
    let tx = begin_tenant_tx(&state.db, &actor).await?;
    let tenant = tenants::get(tx.raw(), actor.tenant_id).await?;
    let user = users::get(&tx, actor.user_id).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(MeResponse {
        id: user.id.as_uuid(),
        email: user.email,
        display_name: user.display_name,
        roles: user.roles.iter().map(|r| r.as_str().to_owned()).collect(),
        division_id: user.division_id.map(|d| d.as_uuid()),
        tenant: MeTenant {
            id: tenant.id.as_uuid(),
            slug: tenant.slug,
            name: tenant.name,
            kind: tenant.kind.as_str().to_owned(),
        },
    }))
}
