//! Authentication: the `Authenticated` extractor verifies the bearer token (algorithm pinned,
//! `kid`, `iss`, `aud`, `exp`), refuses sessions this replica knows to be revoked and records
//! tenant and user on the span.
//!
//! Whether the session is still live (a logout on another replica, a revocation while Redis was
//! down) is the database's answer, and it is asked by the first message of the request's
//! transaction (`infra::db::begin_tenant_tx`), not here: a separate statement would cost every
//! request a connection checkout and two round trips more. So a request whose session ended gets
//! 401 before it reads or changes anything; an answer that needs no data (a role the token does
//! not carry: 403, a malformed body: 422) can come first, and says nothing the token does not.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use domain::authz::Actor;
use domain::sign_in::{PendingSetup, SetupCall};
use domain::tenant::TenantKind;
use domain::user::RoleSet;
use domain::{SessionId, TenantId, UserId};

use crate::error::ApiError;
use crate::state::AppState;

/// The caller a verified access token names, and when that token expires. Its session's liveness
/// is checked by the first message of its transaction (`infra::db::begin_tenant_tx`), before
/// anything is read or changed.
#[derive(Clone, Debug)]
pub struct Authenticated(pub Actor, pub AccessExpiry);

/// When the caller's access token expires: an answer that outlives the request (the event
/// stream) ends then, so the client must come back with a fresh token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessExpiry(pub chrono::DateTime<chrono::Utc>);

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req).and_then(|(caller, setup)| match setup {
            // A setup token reaches only the handlers that take [`SettingUp`].
            Some(setup) => Err(ApiError::SetupRequired(setup)),
            None => Ok(caller),
        }))
    }
}

/// A call a setup token may be allowed (`domain::sign_in::SetupCall`), as a type, so the
/// extractor refuses a token for another step before anything else of the request is read.
pub trait SetupStep {
    /// The call.
    const CALL: SetupCall;
}

/// `GET /me`.
#[derive(Debug)]
pub struct ReadsProfile;
/// `POST /auth/logout`.
#[derive(Debug)]
pub struct SignsOut;
/// `POST /me/password`.
#[derive(Debug)]
pub struct ChangesPassword;
/// Enrolling an authenticator or a passkey.
#[derive(Debug)]
pub struct EnrolsSecondFactor;

impl SetupStep for ReadsProfile {
    const CALL: SetupCall = SetupCall::ReadProfile;
}
impl SetupStep for SignsOut {
    const CALL: SetupCall = SetupCall::SignOut;
}
impl SetupStep for ChangesPassword {
    const CALL: SetupCall = SetupCall::ChangePassword;
}
impl SetupStep for EnrolsSecondFactor {
    const CALL: SetupCall = SetupCall::EnrolSecondFactor;
}

/// A caller whose token may be a setup token (`domain::sign_in`) waiting for step `S`: the
/// handful of handlers that finish setting an account up take this instead of [`Authenticated`].
/// A full token is always let through; a setup token only when `S` is its own step (`403` with the
/// setup's `code` otherwise).
#[derive(Debug)]
pub struct SettingUp<S> {
    /// The caller.
    pub caller: Authenticated,
    /// What the token is limited to finishing; `None` for a full token.
    pub setup: Option<PendingSetup>,
    step: std::marker::PhantomData<S>,
}

impl<S> SettingUp<S> {
    /// The caller.
    #[must_use]
    pub fn actor(self) -> Actor {
        self.caller.0
    }
}

impl<S: SetupStep> FromRequest for SettingUp<S> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req).and_then(|(caller, setup)| match setup {
            Some(setup) if !setup.permits(S::CALL) => Err(ApiError::SetupRequired(setup)),
            _ => Ok(Self { caller, setup, step: std::marker::PhantomData }),
        }))
    }
}

fn authenticate(req: &HttpRequest) -> Result<(Authenticated, Option<PendingSetup>), ApiError> {
    let header = req.headers().get(actix_web::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let state = req.app_data::<web::Data<AppState>>().ok_or_else(|| ApiError::Internal("state missing".to_owned()))?;
    let token = header
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
        .ok_or(ApiError::Unauthorized)?;
    let claims = state.tokens.verify(token.trim()).map_err(|reason| {
        tracing::info!(reason = %reason, "access token refused");
        ApiError::Unauthorized
    })?;
    let session = SessionId::from_uuid(claims.sid);
    if state.revocations.is_known_revoked(session) {
        return Err(ApiError::Unauthorized);
    }
    let actor = Actor {
        tenant_id: TenantId::from_uuid(claims.tid),
        tenant_kind: claims.tkind,
        user_id: UserId::from_uuid(claims.sub),
        roles: RoleSet::from_storage(&claims.roles.join(",")),
        session_id: session,
    };
    if actor.tenant_kind == TenantKind::Platform && !actor.has(domain::user::Role::PlatformAdmin) {
        return Err(ApiError::Unauthorized);
    }
    let span = tracing::Span::current();
    span.record("tenant_id", tracing::field::display(actor.tenant_id));
    span.record("user_id", tracing::field::display(actor.user_id));
    let expires = chrono::DateTime::from_timestamp(claims.exp, 0).ok_or(ApiError::Unauthorized)?;
    Ok((Authenticated(actor, AccessExpiry(expires)), claims.setup))
}
