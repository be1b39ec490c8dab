//! `If-Match` (optimistic concurrency) and `Idempotency-Key` (safe retries).

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload};
use domain::idempotency::IdempotencyKey;

use crate::error::ApiError;

/// The version named by `If-Match`, read when the handler asks for it: after the role check and
/// the object's lookup, so a caller who may not update, or an object that is not there, answers
/// 403 or 404 whatever the header says (RFC 9110 §13.2.1: preconditions come last).
#[derive(Clone, Copy, Debug)]
pub struct IfMatch(Precondition);

#[derive(Clone, Copy, Debug)]
enum Precondition {
    /// No header, or `*` (which would match any version and so protect nothing): 428.
    Missing,
    /// Not a strong tag of a version, so it can match none: 412.
    Unmatchable,
    /// The version the client read.
    Version(i32),
}

impl IfMatch {
    /// The version the client read.
    ///
    /// # Errors
    /// 428 without a specific tag; 412 for a tag that names no version (weak tags included: an
    /// update needs the strong comparison).
    pub fn version(self) -> Result<i32, ApiError> {
        match self.0 {
            Precondition::Missing => Err(ApiError::PreconditionRequired),
            Precondition::Unmatchable => Err(ApiError::PreconditionFailed),
            Precondition::Version(v) => Ok(v),
        }
    }
}

/// The ETag of a version: a strong tag holding the number.
#[must_use]
pub fn etag(version: i32) -> String {
    format!("\"{version}\"")
}

/// An answer that carries the `ETag` of the version it shows, so the client can send it back in
/// `If-Match`: every read or write of a versioned resource answers through this.
pub fn with_etag(
    mut response: actix_web::HttpResponseBuilder,
    version: i32,
    body: &impl serde::Serialize,
) -> actix_web::HttpResponse {
    response.insert_header((actix_web::http::header::ETAG, etag(version)));
    response.json(body)
}

/// `If-Match: "3"` with the ETag's quotes; `*`, weak and unquoted forms are not versions.
fn read_if_match(raw: Option<&str>) -> Precondition {
    let Some(raw) = raw.map(str::trim) else { return Precondition::Missing };
    if raw == "*" {
        return Precondition::Missing;
    }
    // Strong comparison is of the opaque tag, byte for byte: `"03"` and `"+3"` are not `"3"`.
    raw.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .and_then(|v| v.parse::<i32>().ok())
        .filter(|v| etag(*v) == raw)
        .map_or(Precondition::Unmatchable, Precondition::Version)
}

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let header = req.headers().get(actix_web::http::header::IF_MATCH);
        let raw = header.map(|v| v.to_str().unwrap_or("\u{0}"));
        ready(Ok(Self(read_if_match(raw))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_strong_tag_of_a_version_is_a_precondition() {
        assert!(matches!(read_if_match(Some("\"3\"")), Precondition::Version(3)));
        assert!(matches!(read_if_match(None), Precondition::Missing));
        assert!(matches!(read_if_match(Some("*")), Precondition::Missing));
        assert!(matches!(read_if_match(Some("W/\"3\"")), Precondition::Unmatchable));
        assert!(matches!(read_if_match(Some("3")), Precondition::Unmatchable));
        assert!(matches!(read_if_match(Some("\"1\", \"2\"")), Precondition::Unmatchable));
        assert!(matches!(read_if_match(Some("\"03\"")), Precondition::Unmatchable));
        assert!(matches!(read_if_match(Some("\"+3\"")), Precondition::Unmatchable));
    }

    proptest::proptest! {
        /// Fuzzing the parser of an untrusted header: any text is read without a panic, and only
        /// the exact ETag of a version names that version.
        #[test]
        fn only_an_exact_etag_names_a_version(raw in "\\PC{0,40}", version in proptest::prelude::any::<i32>()) {
            if let Precondition::Version(v) = read_if_match(Some(&raw)) {
                proptest::prop_assert_eq!(etag(v), raw.trim());
            }
            let exact = etag(version);
            proptest::prop_assert!(matches!(read_if_match(Some(&exact)), Precondition::Version(v) if v == version));
        }
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
