//! Per-request plumbing: the `X-Request-Id`, the tracing span every log line of the request hangs
//! on, metrics by route pattern, security headers, and CORS for the configured origins.

use std::time::Instant;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage as _, HttpResponse, web};
use tracing::Instrument as _;

use crate::state::AppState;

/// The request's id, stored in request extensions for audit events.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Accepts a client's id only if it is short and plain, so it is safe to log and echo.
fn client_request_id(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get(&X_REQUEST_ID)?.to_str().ok()?;
    let ok = (1..=128).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    ok.then(|| value.to_owned())
}

/// Wraps every request.
///
/// # Errors
/// Whatever the inner service returns.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let request_id = client_request_id(&req).unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let method = req.method().to_string();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let has_token = req.headers().contains_key(header::AUTHORIZATION);
    // Paths may hold ids but never personal data; query strings may (a name search), so they are
    // never logged.
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        route = tracing::field::Empty,
        status = tracing::field::Empty,
        tenant_id = tracing::field::Empty,
        user_id = tracing::field::Empty,
    );
    let mut response = next.call(req).instrument(span.clone()).await?;
    let route = response.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    let status = response.status().as_u16();
    span.record("route", route.as_str());
    span.record("status", status);
    let elapsed = started.elapsed();
    span.in_scope(|| {
        tracing::info!(latency_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX), "request finished");
    });
    if let Some(state) = state {
        state.metrics.observe(&method, &route, status, elapsed.as_secs_f64());
        // A 401 to a request that carried a token: a bad, expired or revoked token, or a session
        // that ended, whichever step found it (the extractor or the transaction's session check).
        if status == 401 && has_token {
            state.metrics.tokens_rejected.inc();
        }
    }
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(X_REQUEST_ID, value);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    if route.starts_with("/docs") {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; script-src 'self' 'unsafe-inline'"),
        );
    } else {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
        // Responses may carry personal information: no cache may keep them.
        if !headers.contains_key(header::CACHE_CONTROL) {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
    }
    Ok(response)
}

/// Request headers a cross-origin frontend may send (the contract's own, and the usual two).
const CORS_ALLOWED_HEADERS: &str =
    "Authorization, Content-Type, Accept, Idempotency-Key, If-Match, Last-Event-ID, X-Request-Id";
/// Response headers a cross-origin frontend may read beyond the always-readable few.
const CORS_EXPOSED_HEADERS: &str = "ETag, Location, Retry-After, X-Request-Id, WWW-Authenticate, Allow";

/// CORS for the origins `VCAO_CORS_ALLOWED_ORIGINS` names, and only those: a preflight from one
/// is answered `204` here, before routing; any other answer to one (errors included, so a
/// frontend can read a `401` problem) carries `Access-Control-Allow-Origin` with that exact
/// origin. Another origin gets no CORS header at all, so its browser keeps the answer from it.
/// Tokens travel in `Authorization`, never in cookies, so credentials are never allowed.
///
/// Why not `actix-cors` (0.7): it answers a preflight from an unlisted origin `400` in
/// `text/plain`, outside the contract's problem+json, where this passes it on to be answered as
/// any request is; the browser refuses the answer either way.
///
/// # Errors
/// Whatever the inner service returns.
pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .filter(|origin| {
            let state = req.app_data::<web::Data<AppState>>();
            state.is_some_and(|s| s.settings.cors_origins().any(|allowed| origin.as_bytes() == allowed.as_bytes()))
        })
        .cloned();
    let Some(origin) = origin else { return next.call(req).await.map(ServiceResponse::map_into_left_body) };
    if req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD) {
        let preflight = HttpResponse::NoContent()
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
            .insert_header((header::VARY, "Origin"))
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, PUT, PATCH, DELETE"))
            .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, CORS_ALLOWED_HEADERS))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
            .finish();
        return Ok(req.into_response(preflight).map_into_right_body());
    }
    let mut response = next.call(req).await?;
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(CORS_EXPOSED_HEADERS));
    Ok(response.map_into_left_body())
}
