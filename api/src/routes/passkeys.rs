//! Passkeys (WebAuthn) as a second factor: a user registers one (two requests: the options for
//! `navigator.credentials.create`, then the browser's answer), lists and removes theirs, and a
//! sign-in that answered `mfa_required` with `webauthn` among its methods is finished with one
//! (the options for `navigator.credentials.get`, then the answer). Phishing-resistant: the
//! browser binds each answer to this service's origin and relying party id
//! (`VCAO_WEBAUTHN_ORIGIN`, `VCAO_WEBAUTHN_RP_ID`). Each ceremony's state lives in the database
//! for five minutes and is taken once; every sign-in attempt counts against the sign-in throttle.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::Duration;
use domain::audit::actions;
use domain::authz::Action;
use infra::auth::passkeys::{PasskeyError, RelyingParty};
use infra::store::passkeys::{self as store, Purpose};
use infra::store::{audit, mfa, passwords as credentials};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::authorize;
use super::mfa::{SecondStep, end_setup_session, issue_recovery_codes};
use super::passwords::confirm_current_password;
use crate::audit_trail::entry;
use crate::error::{ApiError, Problem};
use crate::extract::{Authenticated, EnrolsSecondFactor, RequestMeta, SettingUp};
use crate::state::AppState;

/// How long a ceremony's options may be answered.
const CEREMONY_SECONDS: i64 = 5 * 60;

/// The options of a WebAuthn ceremony, for the browser.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyOptions {
    /// Pass to `navigator.credentials.create({publicKey})` (registration) or `navigator.credentials.get({publicKey})`
    /// (sign-in), after decoding the base64url fields (`challenge`, `user.id`, credential ids) to bytes, as WebAuthn
    /// Level 3's `PublicKeyCredential.parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON` do.
    #[serde(rename = "publicKey")]
    #[schema(value_type = Object)]
    pub public_key: serde_json::Value,
}

/// The browser's answer to a registration.
#[derive(Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"credential": {"id": "AAECAwQFBgcICQoLDA0ODw", "rawId": "AAECAwQFBgcICQoLDA0ODw", "type": "public-key",
    "response": {"attestationObject": "o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YVjF", "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIn0"}}}))]
#[serde(deny_unknown_fields)]
pub struct PasskeyRegistrationRequest {
    /// The `PublicKeyCredential` that `navigator.credentials.create` returned, as its `toJSON()` gives it (`id`,
    /// `rawId`, `type`, `response.attestationObject`, `response.clientDataJSON`, base64url).
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

impl std::fmt::Debug for PasskeyRegistrationRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeyRegistrationRequest").finish_non_exhaustive()
    }
}

/// A registered passkey.
#[derive(Serialize, ToSchema)]
pub struct PasskeyResponse {
    /// Its id, for `DELETE /api/v1/me/mfa/webauthn/passkeys/{id}`.
    pub id: uuid::Uuid,
    /// When it was registered.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When it last proved a sign-in.
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Only when this was the user's first second factor: ten recovery codes, shown once (each replaces the passkey
    /// once, at `POST /api/v1/auth/mfa`). Empty otherwise: the codes issued before still stand.
    pub recovery_codes: Vec<String>,
}

impl std::fmt::Debug for PasskeyResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeyResponse").field("id", &self.id).finish_non_exhaustive()
    }
}

/// The caller's passkeys.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyList {
    /// Oldest first. `recovery_codes` is always empty here.
    pub items: Vec<PasskeyResponse>,
}

/// The password that confirms removing a passkey.
#[derive(Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"current_password": "correct horse battery"}))]
#[serde(deny_unknown_fields)]
pub struct RemovePasskeyRequest {
    /// The caller's password.
    #[schema(format = Password)]
    pub current_password: String,
}

impl std::fmt::Debug for RemovePasskeyRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemovePasskeyRequest").finish_non_exhaustive()
    }
}

/// The `mfa_token` of the sign-in a passkey is to finish.
#[derive(Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"mfa_token": "mfa1.0192b1c0a1b27c3d8e9f00112233aabb.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}))]
#[serde(deny_unknown_fields)]
pub struct PasskeySignInOptionsRequest {
    /// The `mfa_token` the sign-in answered with.
    pub mfa_token: String,
}

impl std::fmt::Debug for PasskeySignInOptionsRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeySignInOptionsRequest").finish_non_exhaustive()
    }
}

/// A sign-in's second step with a passkey.
#[derive(Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"mfa_token": "mfa1.0192b1c0a1b27c3d8e9f00112233aabb.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
    "credential": {"id": "AAECAwQFBgcICQoLDA0ODw", "rawId": "AAECAwQFBgcICQoLDA0ODw", "type": "public-key",
    "response": {"authenticatorData": "SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MFAAAAAQ", "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0In0",
    "signature": "MEUCIQ"}}}))]
#[serde(deny_unknown_fields)]
pub struct PasskeySignInRequest {
    /// The `mfa_token` the sign-in answered with.
    pub mfa_token: String,
    /// The `PublicKeyCredential` that `navigator.credentials.get` returned, as its `toJSON()` gives it (`id`,
    /// `rawId`, `type`, `response.authenticatorData`, `response.clientDataJSON`, `response.signature`, base64url).
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

impl std::fmt::Debug for PasskeySignInRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeySignInRequest").finish_non_exhaustive()
    }
}

fn relying_party(state: &AppState) -> Result<RelyingParty, ApiError> {
    RelyingParty::new(&state.settings.webauthn_rp_id, &state.settings.webauthn_origin)
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// A ceremony's failure as the caller sees it: the credential does not answer it. The reason
/// (which check failed) goes to the log only.
fn refused(e: &PasskeyError) -> ApiError {
    match e {
        PasskeyError::Malformed | PasskeyError::Refused(_) => {
            tracing::info!(reason = %e, "passkey credential refused");
            ApiError::field("credential", "does not answer this ceremony; start again")
        }
        PasskeyError::Settings(_) | PasskeyError::State(_) => ApiError::Internal(e.to_string()),
    }
}

/// Start registering a passkey.
///
/// The options for `navigator.credentials.create`: a new challenge for this user, valid for 5 minutes, replacing any
/// registration begun before. The passkeys the caller has already are excluded. Then send the browser's answer to
/// `POST /api/v1/me/mfa/webauthn/registration/finish`. The token a sign-in answered with `mfa_enrolment_required`
/// may call this.
#[utoipa::path(
    tag = "auth",
    operation_id = "begin_passkey_registration",
    responses(
        (status = 200, description = "The options, for the browser", body = PasskeyOptions),
    ),
    security(("bearer" = []))
)]
#[post("/me/mfa/webauthn/registration")]
pub async fn begin_registration(
    state: web::Data<AppState>,
    caller: SettingUp<EnrolsSecondFactor>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.actor();
    authorize(&actor, Action::ReadOwnProfile)?;
    let relying_party = relying_party(&state)?;
    let cipher = state.cipher(actor.tenant_id).await?;
    let tx = infra::db::begin_tenant_tx(&state.db, &actor).await?;
    let (user, _) = credentials::credentials(&tx, actor.user_id).await?;
    let existing: Vec<_> = store::list(&tx, &cipher, actor.user_id).await?.into_iter().map(|p| p.passkey).collect();
    let begun = relying_party
        .begin_registration(actor.user_id, &user.email, &user.display_name, &existing)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let expires = infra::db::now() + Duration::seconds(CEREMONY_SECONDS);
    store::begin_ceremony(&tx, &cipher, actor.user_id, Purpose::Registration, &begun.state, expires).await?;
    tx.commit().await?;
    let options = begun.options.get("publicKey").cloned().unwrap_or(begun.options);
    Ok(HttpResponse::Ok().json(PasskeyOptions { public_key: options }))
}

/// Finish registering a passkey.
///
/// The browser's answer to the options of `POST /api/v1/me/mfa/webauthn/registration`, within 5 minutes; each
/// registration's challenge is answered once. From then on a sign-in asks for a second factor. When this is the
/// caller's first second factor, the answer holds ten recovery codes, shown once. Under the token a sign-in answered
/// with `mfa_enrolment_required`, that token's session ends here: sign in again, with the passkey. `422` when the
/// credential does not answer the ceremony (another origin, a stale or spent challenge, a malformed answer);
/// `409` when no registration was begun. Audited.
#[utoipa::path(
    tag = "auth",
    operation_id = "finish_passkey_registration",
    request_body = PasskeyRegistrationRequest,
    responses(
        (status = 201, description = "Registered", body = PasskeyResponse),
        (status = 409, description = "No registration waits (begin one, within 5 minutes)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/me/mfa/webauthn/registration/finish")]
pub async fn finish_registration(
    state: web::Data<AppState>,
    caller: SettingUp<EnrolsSecondFactor>,
    meta: RequestMeta,
    body: web::Json<PasskeyRegistrationRequest>,
) -> Result<HttpResponse, ApiError> {
    let setting_up = caller.setup.is_some();
    let actor = caller.actor();
    authorize(&actor, Action::ReadOwnProfile)?;
    let relying_party = relying_party(&state)?;
    let cipher = state.cipher(actor.tenant_id).await?;
    let tx = infra::db::begin_tenant_tx(&state.db, &actor).await?;
    let now = infra::db::now();
    let Some(ceremony) = store::take_ceremony(&tx, &cipher, actor.user_id, Purpose::Registration, now).await? else {
        return Err(ApiError::Conflict("No passkey registration waits; begin one.".to_owned()));
    };
    let passkey = match relying_party.finish_registration(body.into_inner().credential, &ceremony) {
        Ok(passkey) => passkey,
        Err(e) => {
            // The spent challenge stays spent: a second try begins again.
            tx.commit().await?;
            return Err(refused(&e));
        }
    };
    let first_factor = !mfa::has_confirmed(&tx, actor.user_id).await?;
    let (id, created_at) = store::add(&tx, &cipher, actor.user_id, &passkey).await?;
    let recovery_codes = if first_factor { issue_recovery_codes(&state, &tx, &actor).await? } else { Vec::new() };
    let ended = end_setup_session(&tx, &actor, setting_up).await?;
    let details = serde_json::json!({ "method": "webauthn", "passkey_id": id });
    audit::record(&tx, entry(&actor, &meta, actions::MFA_ENROLLED, "user", Some(actor.user_id.as_uuid()), details))
        .await?;
    tx.commit().await?;
    state.forget_sessions(ended);
    let body = PasskeyResponse { id, created_at, last_used_at: None, recovery_codes };
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::LOCATION, "/api/v1/me/mfa/webauthn/passkeys"))
        .json(body))
}

/// List my passkeys.
///
/// The caller's passkeys: when each was registered and last used. Nothing of the key itself.
#[utoipa::path(
    tag = "auth",
    operation_id = "list_passkeys",
    responses(
        (status = 200, description = "The caller's passkeys", body = PasskeyList),
    ),
    security(("bearer" = []))
)]
#[get("/me/mfa/webauthn/passkeys")]
pub async fn list_passkeys(state: web::Data<AppState>, caller: Authenticated) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ReadOwnProfile)?;
    let cipher = state.cipher(actor.tenant_id).await?;
    let tx = infra::db::begin_tenant_read_tx(&state.db, &actor).await?;
    let stored = store::list(&tx, &cipher, actor.user_id).await?;
    tx.commit().await?;
    let items = stored
        .into_iter()
        .map(|p| PasskeyResponse {
            id: p.id,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
            recovery_codes: Vec::new(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(PasskeyList { items }))
}

/// Remove one of my passkeys.
///
/// Removes a passkey of the caller's, confirmed with their password (`422` naming `current_password` when wrong;
/// wrong passwords count against the sign-in throttle, `429` past its limit). When it was the last second factor,
/// the recovery codes go too and sign-ins need the password alone again (or, where the tenant requires a second
/// factor, a new enrolment). `404` when the caller has no passkey with this id. Audited.
#[utoipa::path(
    tag = "auth",
    operation_id = "remove_passkey",
    request_body = RemovePasskeyRequest,
    params(("id" = uuid::Uuid, Path, description = "Passkey id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 429, description = "Too many wrong passwords for this account or address", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/me/mfa/webauthn/passkeys/{id}")]
pub async fn remove_passkey(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
    body: web::Json<RemovePasskeyRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ReadOwnProfile)?;
    let id = path.into_inner();
    confirm_current_password(&state, &actor, &meta, body.into_inner().current_password).await?;
    let tx = infra::db::begin_tenant_tx(&state.db, &actor).await?;
    if !store::remove(&tx, actor.user_id, id).await? {
        return Err(ApiError::NotFound);
    }
    // The recovery codes stand in for a second factor: they go with the last one.
    if !mfa::has_confirmed(&tx, actor.user_id).await? {
        mfa::remove_recovery_codes(&tx, actor.user_id).await?;
    }
    let details = serde_json::json!({ "method": "webauthn", "passkey_id": id });
    audit::record(&tx, entry(&actor, &meta, actions::MFA_REMOVED, "user", Some(actor.user_id.as_uuid()), details))
        .await?;
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Start a sign-in's second step with a passkey.
///
/// For a sign-in that answered `mfa_required` with `webauthn` among its `methods`: the options for
/// `navigator.credentials.get`, naming the user's passkeys, with a challenge valid for 5 minutes (asking again
/// replaces it). Then send the browser's answer to `POST /api/v1/auth/mfa/webauthn`. A wrong, expired or spent
/// `mfa_token` answers `401`; `409` when the user has no passkey (use a code at `POST /api/v1/auth/mfa`).
#[utoipa::path(
    tag = "auth",
    operation_id = "begin_passkey_sign_in",
    request_body = PasskeySignInOptionsRequest,
    responses(
        (status = 200, description = "The options, for the browser", body = PasskeyOptions),
        (status = 401, description = "A wrong, expired or spent `mfa_token`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The user has no passkey", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[post("/auth/mfa/webauthn/options")]
pub async fn begin_sign_in(
    state: web::Data<AppState>,
    body: web::Json<PasskeySignInOptionsRequest>,
) -> Result<HttpResponse, ApiError> {
    let Some(tenant_id) = infra::auth::mfa_token_tenant(&body.mfa_token) else { return Err(ApiError::Unauthorized) };
    let now = infra::db::now();
    #[expect(clippy::disallowed_methods, reason = "a sign-in's second step: the mfa_token is the credential")]
    let tx = infra::db::begin_tenant_tx_for(&state.db, tenant_id).await?;
    let found = mfa::live_challenge(&tx, &infra::auth::token_hash(&body.mfa_token), now).await?;
    tx.commit().await?;
    let Some((challenge, user_id)) = found else { return Err(ApiError::Unauthorized) };
    let relying_party = relying_party(&state)?;
    let cipher = state.cipher(tenant_id).await?;
    #[expect(clippy::disallowed_methods, reason = "a sign-in's second step: the mfa_token is the credential")]
    let tx = infra::db::begin_tenant_tx_for(&state.db, tenant_id).await?;
    let passkeys: Vec<_> = store::list(&tx, &cipher, user_id).await?.into_iter().map(|p| p.passkey).collect();
    if passkeys.is_empty() {
        return Err(ApiError::Conflict("This account has no passkey; use a code.".to_owned()));
    }
    let begun = relying_party.begin_sign_in(&passkeys).map_err(|e| ApiError::Internal(e.to_string()))?;
    let expires = now + Duration::seconds(CEREMONY_SECONDS);
    store::begin_ceremony(&tx, &cipher, user_id, Purpose::SignIn(challenge), &begun.state, expires).await?;
    tx.commit().await?;
    let options = begun.options.get("publicKey").cloned().unwrap_or(begun.options);
    Ok(HttpResponse::Ok().json(PasskeyOptions { public_key: options }))
}

/// Complete a sign-in with a passkey.
///
/// The second step of a sign-in that answered `mfa_required`: the `mfa_token` and the browser's answer to the
/// options of `POST /api/v1/auth/mfa/webauthn/options`. Answers the usual tokens (or, when the password must still be
/// changed, a token for that alone). The `mfa_token` works once, for 5 minutes; each options' challenge is answered
/// once. A wrong or spent token, or an answer that does not check out, all answer `401`; every attempt counts
/// against the sign-in throttle (`429` with `Retry-After` past its limit).
#[utoipa::path(
    tag = "auth",
    operation_id = "complete_passkey_sign_in",
    request_body = PasskeySignInRequest,
    responses(
        (status = 200, description = "Signed in", body = super::auth::LoginResponse),
        (status = 401, description = "A wrong, expired or spent `mfa_token`, or an answer that does not check out (indistinguishable)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts for this account or address", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[post("/auth/mfa/webauthn")]
pub async fn complete_sign_in(
    state: web::Data<AppState>,
    meta: RequestMeta,
    body: web::Json<PasskeySignInRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let relying_party = relying_party(&state)?;
    let Some(step) = SecondStep::open(&state, &meta, &body.mfa_token).await? else {
        return Err(ApiError::Unauthorized);
    };
    let purpose = Purpose::SignIn(step.challenge);
    let ceremony = store::take_ceremony(&step.tx, &step.cipher, step.user.id, purpose, step.now).await?;
    let mut stored = store::list(&step.tx, &step.cipher, step.user.id).await?;
    let method = match ceremony {
        Some(ceremony) => {
            let mut passkeys: Vec<_> = stored.iter().map(|p| p.passkey.clone()).collect();
            match relying_party.finish_sign_in(body.credential, &ceremony, &mut passkeys) {
                Ok(proven) => {
                    // `passkeys` is `stored` in the same order, the one that signed now updated.
                    let signed = stored
                        .iter_mut()
                        .zip(passkeys)
                        .find(|(_, updated)| infra::auth::passkeys::credential_hash(updated) == proven.credential_hash);
                    if let Some((record, updated)) = signed {
                        record.passkey = updated;
                        store::used(&step.tx, &step.cipher, record, step.now).await?;
                    }
                    Some("webauthn")
                }
                Err(e) => {
                    tracing::info!(reason = %e, "passkey sign-in refused");
                    None
                }
            }
        }
        None => None,
    };
    step.finish(&state, &meta, method).await
}
