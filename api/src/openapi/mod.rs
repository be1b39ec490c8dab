//! The OpenAPI document. Paths and schemas are collected from the route registration
//! (`utoipa-actix-web`); this adds the document's info, servers, tags and security scheme, and
//! the passes that run over the collected document, each the one home of its rules:
//!
//! - [`conventions`]: what every operation shares (problem responses, headers, `required`);
//! - [`enums`]: the domain's closed sets of names as `enum`s;
//! - [`text`]: the domain's text rules as `pattern`, `minLength`, `maxLength`;
//! - [`examples`]: an example for every JSON response, from its schema.

pub mod conventions;
pub mod enums;
pub mod examples;
pub mod text;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{Problem, ProblemField};

/// Document-level metadata.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "VCAO Platform API",
        description = "Multi-tenant service for Ontario's Victim Crisis Assistance agencies, their workers embedded at \
police divisions, and the ministry that funds them. Errors are application/problem+json (RFC 9457) with a stable `code`. \
Lists are cursor-paginated (`limit`, `cursor` → `next_cursor`). Creates accept `Idempotency-Key`; updates require `If-Match`.",
        contact(name = "VCAO Platform team", email = "platform@vcao.example"),
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    servers((url = "/", description = "This server")),
    tags(
        (name = "auth", description = "Sign-in, tokens and the caller's profile"),
        (name = "platform", description = "Tenants (platform admins)"),
        (name = "reference", description = "Police services and divisions"),
        (name = "users", description = "An agency's users (agency admins)"),
        (name = "audit", description = "The tenant's audit log and its hash chain"),
        (name = "programs", description = "Programs an agency runs (Exit Route, VCAO, VQRP+)"),
        (name = "organizations", description = "Community organisations an agency refers people to"),
        (name = "clients", description = "The people an agency helps; personal fields encrypted at rest"),
        (name = "cases", description = "Cases and everything recorded on them"),
        (name = "vqrp", description = "VQRP+ emergency-fund applications on cases: made, submitted, decided, paid"),
        (name = "tasks", description = "Tasks and deadlines: a worker's day, made by people or by the platform's rules"),
        (name = "transfers", description = "Cases transferred between agencies with the client's consent, and the directory of agencies"),
        (name = "embedding", description = "Workers posted at police divisions, their shifts, and who is on duty"),
        (name = "referrals", description = "Referrals at the point of contact with police, and the event stream"),
        (name = "settings", description = "The agency's settings (escalation windows)"),
        (name = "reporting", description = "De-identified figures and quarterly reports to the ministry"),
        (name = "operations", description = "Health, metrics and keys (no auth)"),
    ),
    components(schemas(Problem, ProblemField)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// The whole document, as served at `/openapi.json` and printed by `vcao openapi`: the routes as
/// the server registers them, then each pass.
#[must_use]
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = crate::startup::collected_document();
    conventions::apply(&mut doc);
    enums::apply(&mut doc);
    text::apply(&mut doc);
    examples::apply(&mut doc);
    doc
}
