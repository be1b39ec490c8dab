//! Authentication: the `Authenticated` extractor verifies the bearer token (algorithm pinned,
//! `kid`, `iss`, `aud`, `exp`), refuses revoked sessions and records tenant and user on the span.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use domain::authz::Actor;
use domain::tenant::TenantKind;
use domain::user::RoleSet;
use domain::{SessionId, TenantId, UserId};
use infra::store::sessions;

use crate::error::ApiError;
use crate::state::AppState;

/// The signed-in caller.
#[derive(Clone, Debug)]
pub struct Authenticated(pub Actor);

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let header =
            req.headers().get(actix_web::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::Internal("state missing".to_owned()))?;
            let result = authenticate(&state, header.as_deref()).await;
            if matches!(result, Err(ApiError::Unauthorized)) {
                state.metrics.tokens_rejected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            result
        })
    }
}

async fn authenticate(state: &AppState, header: Option<&str>) -> Result<Authenticated, ApiError> {
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
    // The database decides: a session revoked on another replica, or while Redis was down, is
    // still refused here. One statement, no transaction (see `live_session_owner`).
    match sessions::live_session_owner(&state.db, actor.tenant_id, session).await {
        Ok(user) if user == actor.user_id => {}
        Ok(_) | Err(infra::StoreError::NotFound) => return Err(ApiError::Unauthorized),
        Err(e) => return Err(e.into()),
    }
    if actor.tenant_kind == TenantKind::Platform && !actor.has(domain::user::Role::PlatformAdmin) {
        return Err(ApiError::Unauthorized);
    }
    let span = tracing::Span::current();
    span.record("tenant_id", tracing::field::display(actor.tenant_id));
    span.record("user_id", tracing::field::display(actor.user_id));
    Ok(Authenticated(actor))
}
