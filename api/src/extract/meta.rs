//! Request metadata for audit events: the request id and the client address.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpMessage as _, HttpRequest, dev::Payload, web};

use crate::error::ApiError;
use crate::middleware::RequestId;
use crate::state::AppState;

/// Where a request came from, for the audit log.
#[derive(Clone, Debug)]
pub struct RequestMeta {
    /// The `X-Request-Id` of this request.
    pub request_id: Option<String>,
    /// The client address (from `X-Forwarded-For` only when configured to trust it).
    pub client_ip: Option<String>,
}

impl FromRequest for RequestMeta {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let trust = req.app_data::<web::Data<AppState>>().is_some_and(|s| s.settings.trust_forwarded_for);
        let client_ip = if trust {
            // The last X-Forwarded-For entry is the one our own proxy appended; earlier entries are
            // whatever the client claimed and must not decide its throttle bucket.
            req.headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .map(|ip| strip_port(ip.trim()))
                .or_else(|| req.peer_addr().map(|a| a.ip().to_string()))
        } else {
            req.peer_addr().map(|a| a.ip().to_string())
        };
        let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
        ready(Ok(Self { request_id, client_ip }))
    }
}

fn strip_port(addr: &str) -> String {
    match addr.parse::<std::net::SocketAddr>() {
        Ok(sock) => sock.ip().to_string(),
        Err(_) => addr.to_owned(),
    }
}
