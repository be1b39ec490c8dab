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
        let header = req.headers().get(actix_web::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        ready(match req.app_data::<web::Data<AppState>>() {
            Some(state) => authenticate(state, header),
            None => Err(ApiError::Internal("state missing".to_owned())),
        })
    }
}

fn authenticate(state: &AppState, header: Option<&str>) -> Result<Authenticated, ApiError> {
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
    Ok(Authenticated(actor, AccessExpiry(expires)))
}
