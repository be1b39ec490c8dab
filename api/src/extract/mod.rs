//! Extractors: authentication (the [`Authenticated`] caller), request metadata, and the
//! `If-Match` / `Idempotency-Key` headers.

mod auth;
mod headers;
mod meta;

pub use auth::{Authenticated, ChangesPassword, EnrolsSecondFactor, ReadsProfile, SettingUp, SignsOut};
pub use headers::{IdempotencyHeader, IfMatch, etag, with_etag};
pub use meta::RequestMeta;
