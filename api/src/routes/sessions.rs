//! Sessions as people manage them: a user lists their own live sessions and ends one (a phone left
//! signed in at a division); an agency admin ends every session of a user of the agency (a lost
//! device, someone leaving). A session is one sign-in's family of tokens (`infra::store::sessions`).

use actix_web::{HttpResponse, delete, get, web};
use chrono::{DateTime, Utc};
use domain::audit::actions;
use domain::authz::Action;
use domain::{SessionId, UserId};
use infra::store::{audit, sessions, users};
use serde::Serialize;
use utoipa::ToSchema;

use super::authorize;
use crate::audit_trail::entry;
use crate::error::{ApiError, Problem};
use crate::extract::{Authenticated, RequestMeta};
use crate::state::AppState;

/// One live session of the caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse {
    /// The session's id (what `DELETE /api/v1/me/sessions/{id}` takes).
    pub id: uuid::Uuid,
    /// When it signed in (UTC).
    pub created_at: DateTime<Utc>,
    /// When its tokens were last issued (UTC): the sign-in, or the latest refresh (every 15 minutes while in use).
    pub last_used_at: DateTime<Utc>,
    /// When it ends at the latest (UTC): 12 hours after sign-in.
    pub expires_at: DateTime<Utc>,
    /// The `User-Agent` it signed in with (encrypted at rest); null when none was sent.
    pub user_agent: Option<String>,
    /// `true` for the session this request was made with.
    pub current: bool,
}

/// The caller's live sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    /// Newest first; only sessions not ended and not expired.
    pub items: Vec<SessionResponse>,
}

/// List my sessions.
///
/// The caller's live sessions, newest first, with when each signed in and was last used and the user agent it
/// signed in with. No token or secret is shown.
#[utoipa::path(
    tag = "auth",
    operation_id = "list_my_sessions",
    responses((status = 200, description = "The caller's live sessions", body = SessionList)),
    security(("bearer" = []))
)]
#[get("/me/sessions")]
pub async fn list_my_sessions(state: web::Data<AppState>, caller: Authenticated) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ReadOwnProfile)?;
    let cipher = state.cipher(actor.tenant_id).await?;
    let tx = infra::db::begin_tenant_tx(&state.db, &actor).await?;
    let live = sessions::live_of(&tx, &cipher, actor.user_id, infra::db::now()).await?;
    tx.commit().await?;
    let items = live
        .into_iter()
        .map(|s| SessionResponse {
            id: s.id.as_uuid(),
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            expires_at: s.expires_at,
            user_agent: s.user_agent,
            current: s.id == actor.session_id,
        })
        .collect();
    Ok(HttpResponse::Ok().json(SessionList { items }))
}

/// End one of my sessions.
///
/// Ends one of the caller's sessions at once: its access token and refresh tokens stop working. Ending the current
/// one signs the caller out. Audited.
#[utoipa::path(
    tag = "auth",
    operation_id = "end_my_session",
    params(("id" = uuid::Uuid, Path, description = "Session id, from `GET /api/v1/me/sessions`")),
    responses((status = 204, description = "Ended")),
    security(("bearer" = []))
)]
#[delete("/me/sessions/{id}")]
pub async fn end_my_session(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ReadOwnProfile)?;
    let id = SessionId::from_uuid(path.into_inner());
    let tx = infra::db::begin_tenant_tx(&state.db, &actor).await?;
    if !sessions::revoke_own(&tx, actor.user_id, id, "ended_by_user").await? {
        return Err(ApiError::NotFound);
    }
    let details = serde_json::json!({ "session_id": id });
    let event = entry(&actor, &meta, actions::SESSION_ENDED, "session", Some(id.as_uuid()), details);
    audit::record(&tx, event).await?;
    tx.commit().await?;
    state.forget_sessions([id]);
    Ok(HttpResponse::NoContent().finish())
}

/// End every session of a user.
///
/// Ends every live session of a user of the caller's agency at once (a lost phone, someone leaving): they sign in
/// again with their password. Agency admins only. Audited with how many ended.
#[utoipa::path(
    tag = "users",
    operation_id = "end_user_sessions",
    params(("id" = uuid::Uuid, Path, description = "User id")),
    responses(
        (status = 204, description = "Every session of the user has ended"),
        (status = 403, description = "Not an agency admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/users/{id}/sessions")]
pub async fn end_user_sessions(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ManageUsers)?;
    let id = UserId::from_uuid(path.into_inner());
    let tx = infra::db::begin_tenant_tx(&state.db, &actor).await?;
    users::get(&tx, id).await?;
    let ended = sessions::revoke_all_for_user(&tx, id, "ended_by_admin").await?;
    let details = serde_json::json!({ "sessions_ended": ended.len() });
    audit::record(&tx, entry(&actor, &meta, actions::USER_SESSIONS_ENDED, "user", Some(id.as_uuid()), details)).await?;
    tx.commit().await?;
    state.forget_sessions(ended);
    Ok(HttpResponse::NoContent().finish())
}
