//! `If-Match` (optimistic concurrency) and `Idempotency-Key` (safe retries).

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload};
use domain::idempotency::IdempotencyKey;

use crate::error::ApiError;

/// The version named by `If-Match`. Missing: 428; unreadable: 412 (it cannot match).
#[derive(Clone, Copy, Debug)]
pub struct IfMatch(pub i32);

/// The ETag of a version: a strong tag holding the number.
#[must_use]
pub fn etag(version: i32) -> String {
    format!("\"{version}\"")
}

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(value) = req.headers().get(actix_web::http::header::IF_MATCH) else {
            return ready(Err(ApiError::PreconditionRequired));
        };
        let parsed = value
            .to_str()
            .ok()
            .map(|v| v.trim().trim_start_matches("W/").trim_matches('"'))
            .and_then(|v| v.parse::<i32>().ok());
        ready(parsed.map(IfMatch).ok_or(ApiError::PreconditionFailed))
    }
}

/// The optional `Idempotency-Key` of a create.
#[derive(Clone, Debug)]
pub struct IdempotencyHeader(pub Option<IdempotencyKey>);

impl FromRequest for IdempotencyHeader {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(value) = req.headers().get("Idempotency-Key") else {
            return ready(Ok(Self(None)));
        };
        let key = value
            .to_str()
            .ok()
            .and_then(|v| IdempotencyKey::parse(v).ok())
            .ok_or_else(|| ApiError::field("Idempotency-Key", "must be 1 to 255 printable ASCII characters"));
        ready(key.map(|k| Self(Some(k))))
    }
}
