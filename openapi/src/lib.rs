//! Home of `openapi.json`, the committed OpenAPI document that client developers build from.
//!
//! The document is generated from the service's route registration (`api::openapi::document`);
//! the test in `tests/committed.rs` fails when the committed copy differs from what the service
//! serves, and prints the command that regenerates it:
//!
//! ```sh
//! cargo run -q -p api --bin vcao -- openapi > openapi/openapi.json
//! ```
