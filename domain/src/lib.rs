//! The VCAO platform's rules, free of I/O.
//!
//! This crate owns values parsed once into newtypes, the permission table, the audit hash chain and
//! the small policies (paging, idempotency keys, login throttling) that every layer relies on.
//! It must never depend on a web framework, a database driver, an async runtime or Redis: a CI
//! step (`.ci/check-layers`) fails the build if it does.

pub mod audit;
pub mod auth;
pub mod authz;
pub mod business_days;
pub mod case;
pub mod dispatch;
pub mod grants;
pub mod idempotency;
pub mod ids;
pub mod mfa;
pub mod paging;
pub mod passwords;
pub mod person;
pub mod reference;
pub mod reporting;
pub mod sign_in;
pub mod tasks;
pub mod tenant;
pub mod transfer;
pub mod user;
pub mod validation;
pub mod vqrp;

pub use ids::*;
pub use validation::{FieldError, ValidationErrors};
