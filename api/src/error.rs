//! The one problem+json renderer (RFC 9457). Every error the service answers goes through
//! [`ApiError`]; internal causes are logged with the request id and never sent to the client.
//! Ours rather than a crate's: the contract's stable `code`s, field `errors` and headers
//! (`Retry-After`, `Allow`, `WWW-Authenticate`) are most of it, and a crate would add a type to
//! convert from, not remove one.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use domain::{FieldError, ValidationErrors};
use infra::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// An error as the contract names it; each variant is one stable `code`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 422: one or more fields are invalid.
    #[error("validation failed")]
    Validation(ValidationErrors),
    /// 400: the request could not be read (malformed JSON, bad query string).
    #[error("bad request")]
    BadRequest(String),
    /// 401: no token, or a bad one.
    #[error("unauthorized")]
    Unauthorized,
    /// 403: the caller's roles do not allow this endpoint.
    #[error("forbidden")]
    Forbidden,
    /// 403: the caller may use the endpoint, but not for this (their own roles, say); the detail
    /// says why.
    #[error("forbidden: {0}")]
    ForbiddenBecause(String),
    /// 403: the token may only finish setting the account up (`domain::sign_in`); the `code`
    /// names what it waits for (`password_change_required`, `mfa_enrolment_required`).
    #[error("account setup required")]
    SetupRequired(domain::sign_in::PendingSetup),
    /// 404: absent, or another tenant's (indistinguishable on purpose).
    #[error("not found")]
    NotFound,
    /// 405: the path exists with other methods, which the `Allow` value lists.
    #[error("method not allowed")]
    MethodNotAllowed(String),
    /// 409: the change conflicts with the current state.
    #[error("conflict")]
    Conflict(String),
    /// 409: the person's consent for this is not in force.
    #[error("consent required")]
    ConsentRequired,
    /// 412: `If-Match` names a version that is no longer current.
    #[error("precondition failed")]
    PreconditionFailed,
    /// 428: an update came without `If-Match`.
    #[error("precondition required")]
    PreconditionRequired,
    /// 422: an idempotency key was reused with a different request.
    #[error("idempotency key reused")]
    IdempotencyKeyReused,
    /// 422: figures are released for fiscal months, quarters and years only; `from` and `to`
    /// span none of them.
    #[error("period not releasable")]
    PeriodNotReleasable,
    /// 413: the body is over 1 MiB.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 415: the body is not JSON.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 429: too many attempts; retry after the given seconds.
    #[error("rate limited")]
    RateLimited(u64),
    /// 503: a dependency the request needs is down.
    #[error("service unavailable")]
    Unavailable,
    /// 500: a bug or an unexpected failure. The cause is logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The problem+json body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[schema(example = "urn:vcao:problem:not_found")]
    pub r#type: String,
    /// Short summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What happened in this occurrence. Never personal information, SQL or a stack trace.
    pub detail: String,
    /// Stable machine-readable code.
    #[schema(example = "not_found")]
    pub code: String,
    /// For `validation_failed` (and `period_not_releasable`, naming `from` and `to`): each invalid
    /// field and what is wrong with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<ProblemField>>,
}

/// One invalid field.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemField {
    /// The field's name as sent (`admin.email` for nested ones).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl From<FieldError> for ProblemField {
    fn from(e: FieldError) -> Self {
        Self { field: e.field, message: e.message }
    }
}

impl ApiError {
    /// One invalid field.
    #[must_use]
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(ValidationErrors::single(field, message))
    }

    fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) => "validation_failed",
            Self::BadRequest(_) => "bad_request",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden | Self::ForbiddenBecause(_) => "forbidden",
            Self::SetupRequired(setup) => setup.code(),
            Self::NotFound => "not_found",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::Conflict(_) => "conflict",
            Self::ConsentRequired => "consent_required",
            Self::PreconditionFailed => "precondition_failed",
            Self::PreconditionRequired => "precondition_required",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::PeriodNotReleasable => "period_not_releasable",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::RateLimited(_) => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    fn title_and_detail(&self) -> (&'static str, String) {
        match self {
            Self::Validation(_) => ("Validation failed", "One or more fields are invalid.".to_owned()),
            Self::BadRequest(why) => ("Bad request", why.clone()),
            Self::Unauthorized => ("Unauthorized", "A valid access token is required.".to_owned()),
            Self::Forbidden => ("Forbidden", "Your roles do not allow this.".to_owned()),
            Self::ForbiddenBecause(why) => ("Forbidden", why.clone()),
            Self::SetupRequired(domain::sign_in::PendingSetup::PasswordChange) => (
                "Password change required",
                "This token may only change the password (POST /api/v1/me/password); then sign in again.".to_owned(),
            ),
            Self::SetupRequired(domain::sign_in::PendingSetup::MfaEnrolment) => (
                "Second factor required",
                "This tenant requires a second factor: this token may only enrol one (POST /api/v1/me/mfa/totp, or a passkey); then sign in again.".to_owned(),
            ),
            Self::NotFound => ("Not found", "No such resource.".to_owned()),
            Self::MethodNotAllowed(allow) => {
                ("Method not allowed", format!("This path does not support this method; it allows {allow}."))
            }
            Self::Conflict(why) => ("Conflict", why.clone()),
            Self::ConsentRequired => {
                ("Consent required", "The person's consent for this is not in force; record it first.".to_owned())
            }
            Self::PreconditionFailed => {
                ("Precondition failed", "The resource changed since you read it; read it again.".to_owned())
            }
            Self::PreconditionRequired => ("Precondition required", "Send If-Match with the ETag you read.".to_owned()),
            Self::IdempotencyKeyReused => {
                ("Idempotency key reused", "This Idempotency-Key was used for a different request.".to_owned())
            }
            Self::PeriodNotReleasable => (
                "Period not releasable",
                format!("Figures are released per period: {}.", domain::reporting::NotAReleasePeriod),
            ),
            Self::PayloadTooLarge => ("Payload too large", "Request bodies are limited to 1 MiB.".to_owned()),
            Self::UnsupportedMediaType => ("Unsupported media type", "Send the body as application/json.".to_owned()),
            Self::RateLimited(seconds) => ("Too many requests", format!("Try again in {seconds} seconds.")),
            Self::Unavailable => ("Service unavailable", "A dependency is unavailable; retry shortly.".to_owned()),
            Self::Internal(_) => ("Internal error", "Something went wrong on our side.".to_owned()),
        }
    }

    /// The body for this error.
    #[must_use]
    pub fn problem(&self) -> Problem {
        let (title, detail) = self.title_and_detail();
        let errors = match self {
            Self::Validation(fields) => Some(fields.0.iter().cloned().map(ProblemField::from).collect()),
            Self::PeriodNotReleasable => Some(
                ["from", "to"]
                    .into_iter()
                    .map(|field| ProblemField {
                        field: field.to_owned(),
                        message: domain::reporting::NotAReleasePeriod.to_string(),
                    })
                    .collect(),
            ),
            _ => None,
        };
        Problem {
            r#type: format!("urn:vcao:problem:{}", self.code()),
            title: title.to_owned(),
            status: self.status_code().as_u16(),
            detail,
            code: self.code().to_owned(),
            errors,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Validation(_) | Self::IdempotencyKeyReused | Self::PeriodNotReleasable => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden | Self::ForbiddenBecause(_) | Self::SetupRequired(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) | Self::ConsentRequired => StatusCode::CONFLICT,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(cause) = self {
            // The request id is on the span; the cause never leaves the log.
            tracing::error!(cause = %cause, "internal error");
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json")));
        match self {
            Self::Unauthorized => {
                response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
            }
            Self::RateLimited(seconds) => {
                response.insert_header((header::RETRY_AFTER, seconds.to_string()));
            }
            Self::Unavailable => {
                response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
            }
            Self::MethodNotAllowed(allow) => {
                response.insert_header((header::ALLOW, allow.clone()));
            }
            _ => {}
        }
        response.body(serde_json::to_string(&self.problem()).unwrap_or_default())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
            StoreError::VersionMismatch => Self::PreconditionFailed,
            StoreError::SessionEnded => Self::Unauthorized,
            StoreError::Conflict { constraint } => Self::Conflict(conflict_detail(constraint)),
            e @ StoreError::Unexpected(_) if e.is_unavailable() => {
                // Logged here because a 503 is not an internal error and is not logged below.
                tracing::warn!(cause = %e, "database unavailable");
                Self::Unavailable
            }
            StoreError::Unexpected(db) => Self::Internal(db.to_string()),
            StoreError::Crypto(e) => Self::Internal(e.to_string()),
            StoreError::Corrupt(what) => Self::Internal(format!("stored value unreadable: {what}")),
        }
    }
}

fn conflict_detail(constraint: &str) -> String {
    match constraint {
        "users.email" => "A user with this email already exists in this tenant.".to_owned(),
        "tenants.slug" => "A tenant with this slug already exists.".to_owned(),
        "police_divisions.code" => {
            "This police service already has a division with this code from that date.".to_owned()
        }
        "idempotency_keys.key" => "A request with this Idempotency-Key is in flight; retry shortly.".to_owned(),
        "reference" => "A referenced record does not exist.".to_owned(),
        "programs.code" => "A program with this code already exists in this agency.".to_owned(),
        "reports.quarter" => {
            "This quarter already has a report that is a draft, submitted or accepted; only a returned report can be redrafted."
                .to_owned()
        }
        "reports.status" => "The report's status changed meanwhile; read it again.".to_owned(),
        _ => "The change conflicts with the current state.".to_owned(),
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(e: ValidationErrors) -> Self {
        Self::Validation(e)
    }
}

impl From<infra::auth::password::HashError> for ApiError {
    fn from(e: infra::auth::password::HashError) -> Self {
        match e {
            infra::auth::password::HashError::Busy => {
                tracing::warn!("password hashing queue full; refused");
                Self::Unavailable
            }
            infra::auth::password::HashError::Failed => Self::Internal(e.to_string()),
        }
    }
}

/// Maps body, query and path extraction failures to problems, so even a request that never
/// reaches a handler answers in the contract's shape.
pub mod extraction {
    use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
    use actix_web::{Error, HttpRequest};

    use super::ApiError;

    /// For `web::JsonConfig::error_handler`.
    pub fn json(err: JsonPayloadError, _req: &HttpRequest) -> Error {
        let api = match err {
            JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
                ApiError::PayloadTooLarge
            }
            JsonPayloadError::ContentType => ApiError::UnsupportedMediaType,
            JsonPayloadError::Deserialize(e) if e.is_data() => {
                ApiError::Validation(domain::ValidationErrors::single("body", data_error_message(&e)))
            }
            JsonPayloadError::Deserialize(e) => {
                ApiError::BadRequest(format!("The body is not valid JSON: {}", position(&e)))
            }
            _ => ApiError::BadRequest("The body could not be read.".to_owned()),
        };
        api.into()
    }

    /// serde's message without the offending value: a value may be personal information, and
    /// messages end up in client logs.
    fn data_error_message(e: &serde_json::Error) -> String {
        let text = e.to_string();
        let cut = text.find(" at line ").map_or(text.as_str(), |i| &text[..i]);
        if cut.starts_with("missing field") || cut.starts_with("unknown variant") || cut.starts_with("unknown field") {
            cut.to_owned()
        } else {
            format!("has a value of the wrong type or shape ({})", position(e))
        }
    }

    fn position(e: &serde_json::Error) -> String {
        format!("line {}, column {}", e.line(), e.column())
    }

    /// For `web::QueryConfig::error_handler`.
    pub fn query(err: QueryPayloadError, _req: &HttpRequest) -> Error {
        let detail = match err {
            QueryPayloadError::Deserialize(e) => e.to_string(),
            _ => "The query string could not be read.".to_owned(),
        };
        ApiError::Validation(domain::ValidationErrors::single("query", detail)).into()
    }

    /// For `web::PathConfig::error_handler`: a malformed id cannot name anything, so 404.
    pub fn path(_err: PathError, _req: &HttpRequest) -> Error {
        ApiError::NotFound.into()
    }
}
