//! The VCAO platform's HTTP service: routes, extractors, DTOs with their OpenAPI schemas,
//! problem+json errors, start-up and the `vcao` binary's commands.
//!
//! Status codes live here and nowhere else; business rules live in `domain`; queries in `infra`.

pub mod allowed_methods;
pub mod audit_trail;
pub mod background;
pub mod bootstrap;
pub mod calendar;
pub mod demo;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod maintenance;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod releases;
pub mod routes;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod whole_numbers;

pub use startup::Application;
