//! Operations endpoints (no auth): liveness, readiness, metrics and the JWKS.

use actix_web::{HttpResponse, get, web};
use infra::cache::RedisState;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
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

/// Service metrics (Prometheus).
///
/// Request counts and latencies by method, route pattern and status, sign-in failures, Redis fallbacks and
/// database statements, in the Prometheus text format. Labels are patterns and fixed words, never ids or personal
/// data. Served to the operator only: with `VCAO_METRICS_TOKEN` set, to a request bearing it; without, to a local
/// scraper (a loopback connection with no forwarding headers).
#[utoipa::path(
    tag = "operations",
    operation_id = "get_metrics",
    responses(
        (status = 200, description = "Prometheus text", content_type = "text/plain", body = String),
        (status = 401, description = "`VCAO_METRICS_TOKEN` is set and the request does not carry it as a bearer token", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "No `VCAO_METRICS_TOKEN` is set and the request is not a local scrape", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>, request: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    scraper_allowed(&state, &request)?;
    let fallbacks = state.redis.as_ref().map_or(0, infra::cache::OptionalRedis::fallback_count);
    let up = match &state.redis {
        None => None,
        Some(redis) => Some(redis.state().await == RedisState::Up),
    };
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(state.metrics.render(
        fallbacks,
        up,
        state.db.statements_sent(),
    )))
}

/// Who may read `/metrics`, as Prometheus exporters are usually kept: with `VCAO_METRICS_TOKEN`
/// set, whoever sends it as `Authorization: Bearer`; without, only a scraper on this machine (a
/// loopback connection with no `Forwarded`/`X-Forwarded-For`, so not a request a local reverse
/// proxy passed on from outside).
fn scraper_allowed(state: &AppState, request: &actix_web::HttpRequest) -> Result<(), ApiError> {
    use secrecy::ExposeSecret as _;
    use sha2::Digest as _;
    let headers = request.headers();
    if let Some(expected) = &state.settings.metrics_token {
        let sent = headers
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        // Compared as digests, so the time taken says nothing about how much of it matched.
        let matches =
            sha2::Sha256::digest(sent.trim().as_bytes()) == sha2::Sha256::digest(expected.expose_secret().as_bytes());
        return if matches { Ok(()) } else { Err(ApiError::Unauthorized) };
    }
    let local = request.peer_addr().is_some_and(|a| a.ip().is_loopback());
    let forwarded = headers.contains_key("forwarded") || headers.contains_key("x-forwarded-for");
    if local && !forwarded {
        Ok(())
    } else {
        Err(ApiError::ForbiddenBecause(
            "Metrics are served to a local scraper, or to one sending VCAO_METRICS_TOKEN.".to_owned(),
        ))
    }
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
