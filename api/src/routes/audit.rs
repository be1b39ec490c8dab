//! The tenant's audit log and the verification of its hash chain (agency admins).

use actix_web::{HttpResponse, get, web};
use domain::authz::Action;
use infra::store::audit::{self, AuditEvent, AuditFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Page, PageQuery, authorize};
use crate::error::{ApiError, Problem};
use crate::extract::Authenticated;
use crate::state::AppState;

/// Filters of the audit list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this kind of record (`user`, `session`, `tenant`, …).
    pub resource_type: Option<String>,
    /// Only this record.
    pub resource_id: Option<uuid::Uuid>,
    /// Only this actor.
    pub actor_id: Option<uuid::Uuid>,
}

/// One audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventResponse {
    /// Event id.
    pub id: uuid::Uuid,
    /// When the event was recorded (UTC, set by the server).
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    /// Who (null for failed sign-ins of unknown accounts).
    pub actor_id: Option<uuid::Uuid>,
    /// What, e.g. `user.created`, `auth.login_failed`.
    pub action: String,
    /// Kind of record acted on, e.g. `user`, `session`, `case`.
    pub resource_type: String,
    /// Id of the record acted on; null when the event names none (sign-in and sign-out events, for example).
    pub resource_id: Option<uuid::Uuid>,
    /// From which address.
    pub client_ip: Option<String>,
    /// In which request (`X-Request-Id`).
    pub request_id: Option<String>,
    /// Extra detail (ids and fixed words only).
    pub details: serde_json::Value,
}

impl From<AuditEvent> for AuditEventResponse {
    fn from(e: AuditEvent) -> Self {
        Self {
            id: e.id,
            occurred_at: e.occurred_at,
            actor_id: e.actor_id,
            action: e.action,
            resource_type: e.resource_type,
            resource_id: e.resource_id,
            client_ip: e.client_ip,
            request_id: e.request_id,
            details: e.details,
        }
    }
}

/// The first link of the chain that does not verify.
#[derive(Debug, Serialize, ToSchema)]
pub struct BrokenLink {
    /// Its position (1-based).
    pub seq: u64,
    /// The event it seals.
    pub event_id: Option<String>,
    /// `altered`, `missing` or `out_of_sequence`.
    pub reason: String,
}

/// The result of verifying the tenant's audit chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyResponse {
    /// True when every sealed link verifies.
    pub ok: bool,
    /// Links checked (up to the first break).
    pub events_checked: u64,
    /// The first break, when not ok.
    pub first_broken: Option<BrokenLink>,
    /// Events not yet sealed into the chain.
    pub unsealed: u64,
}

/// List the tenant's audit events.
///
/// Who did what to which record, when and from where, newest first, filtered by resource, record or actor. Agency
/// admins only. Events hold ids and fixed words, never personal information.
#[utoipa::path(
    tag = "audit",
    operation_id = "list_audit_events",
    params(PageQuery, AuditQuery),
    responses(
        (status = 200, description = "A page of events", body = Page<AuditEventResponse>),
        (status = 403, description = "Not an agency admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/audit-events")]
pub async fn list_audit_events(
    state: web::Data<AppState>,
    caller: Authenticated,
    page: web::Query<PageQuery>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ReadAuditLog)?;
    let (limit, before) = page.parse()?;
    if query.resource_type.as_ref().is_some_and(|t| t.len() > 64) {
        return Err(ApiError::field("resource_type", "must be at most 64 characters"));
    }
    let filter = AuditFilter {
        resource_type: query.resource_type.clone(),
        resource_id: query.resource_id,
        actor_id: query.actor_id,
    };
    let tx = infra::db::begin_tenant_tx(&state.db, &actor).await?;
    let rows = audit::list(&tx, &filter, before, limit.get() + 1).await?;
    tx.commit().await?;
    let (rows, next_cursor) = domain::paging::into_page(rows, limit, |e| e.id);
    Ok(HttpResponse::Ok().json(Page { items: rows.into_iter().map(AuditEventResponse::from).collect(), next_cursor }))
}

/// Verify the audit hash chain.
///
/// Links any pending events into the tenant's SHA-256 chain, then walks the whole chain and reports the first
/// broken link (`altered`, `missing` or `out_of_sequence`). Agency admins only.
#[utoipa::path(
    tag = "audit",
    operation_id = "verify_audit_events",
    responses(
        (status = 200, description = "Verification result", body = VerifyResponse),
        (status = 403, description = "Not an agency admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/audit-events/verify")]
pub async fn verify_audit_events(state: web::Data<AppState>, caller: Authenticated) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ReadAuditLog)?;
    let result = audit::verify(&state.db, &actor).await?;
    Ok(HttpResponse::Ok().json(VerifyResponse {
        ok: result.first_break.is_none(),
        events_checked: result.events_checked,
        first_broken: result.first_break.map(|b| BrokenLink {
            seq: b.seq,
            event_id: b.event_id,
            reason: b.reason.as_str().to_owned(),
        }),
        unsealed: result.unsealed,
    }))
}
