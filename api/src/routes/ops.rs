//! Operations endpoints (no auth): liveness, readiness, metrics and the JWKS.

use actix_web::{HttpResponse, get, web};
use infra::cache::RedisState;
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

/// Liveness.
#[derive(Debug, Serialize, ToSchema)]
pub struct Live {
    /// Always `ok` when the process answers.
    pub status: String,
}

/// Readiness and the state of each dependency.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// `ready`, `degraded` (Redis down: in-process fallbacks serve) or `unavailable` (database down).
    pub status: String,
    /// `up` or `down`.
    pub database: String,
    /// `up`, `down` or `not_configured`.
    pub redis: String,
}

/// Readiness.
///
/// Whether the service can serve: the database answers, and Redis answers or is not configured (`degraded` while a
/// configured Redis is down: the service still serves). No authentication.
#[utoipa::path(tag = "operations", operation_id = "get_health_live", responses((status = 200, description = "Alive", body = Live)))]
#[get("/health/live")]
pub async fn health_live() -> HttpResponse {
    HttpResponse::Ok().json(Live { status: "ok".to_owned() })
}

/// Readiness.
///
/// Whether the service can serve: the database answers, and Redis answers or is not configured (`degraded` while a
/// configured Redis is down: the service still serves). No authentication.
#[utoipa::path(
    tag = "operations",
    operation_id = "get_health_ready",
    responses(
        (status = 200, description = "Ready, or degraded without Redis", body = Ready),
        (status = 503, description = "The database does not answer", body = Ready),
    )
)]
#[get("/health/ready")]
pub async fn health_ready(state: web::Data<AppState>) -> HttpResponse {
    let database_up =
        tokio::time::timeout(std::time::Duration::from_secs(2), state.db.ping()).await.is_ok_and(|r| r.is_ok());
    let redis = match &state.redis {
        None => RedisState::NotConfigured,
        Some(redis) => redis.state().await,
    };
    let status = match (database_up, redis) {
        (false, _) => "unavailable",
        (true, RedisState::Down) => "degraded",
        (true, _) => "ready",
    };
    let body = Ready {
        status: status.to_owned(),
        database: if database_up { "up" } else { "down" }.to_owned(),
        redis: match redis {
            RedisState::NotConfigured => "not_configured",
            RedisState::Up => "up",
            RedisState::Down => "down",
        }
        .to_owned(),
    };
    if database_up { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}

/// Public signing keys (JWKS).
///
/// The Ed25519 public keys that verify access tokens (RFC 7517), each with its `kid`. Retired keys stay listed
/// until every token they signed has expired. No authentication.
#[utoipa::path(tag = "operations", operation_id = "get_metrics", responses((status = 200, description = "Prometheus text", content_type = "text/plain", body = String)))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let fallbacks = state.redis.as_ref().map_or(0, infra::cache::OptionalRedis::fallback_count);
    let up = match &state.redis {
        None => None,
        Some(redis) => Some(redis.state().await == RedisState::Up),
    };
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(state.metrics.render(
        fallbacks,
        up,
        state.db.statements_sent(),
    ))
}

/// Public signing keys (JWKS).
///
/// The Ed25519 public keys that verify access tokens (RFC 7517), each with its `kid`. Retired keys stay listed
/// until every token they signed has expired. No authentication.
#[utoipa::path(tag = "auth", operation_id = "get_jwks", responses((status = 200, description = "JSON Web Key Set", body = Object)))]
#[get("/.well-known/jwks.json")]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().insert_header(("Cache-Control", "public, max-age=300")).json(state.tokens.jwks())
}
