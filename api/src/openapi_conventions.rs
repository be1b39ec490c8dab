//! The conventions every operation shares (api-contract.md, "Conventions"), stated once and added
//! to the document after the routes are collected, so no handler has to repeat them and none can
//! forget one: `X-Request-Id` on every response, `Location` on every 201, the problem responses
//! of bodies (400, 413, 415), of idempotent creates (409 in flight, 422 key reused), of signed-in
//! routes (401) and of everything (500).

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Response};

fn string_header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .description(Some(description))
        .build()
}

fn problem(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
            )
            .header("X-Request-Id", string_header("The request's id, echoed when the client sent one"))
            .build(),
    )
}

fn has_parameter(op: &Operation, name: &str) -> bool {
    op.parameters.iter().flatten().any(|p| matches!(p, RefOr::T(p) if p.name.eq_ignore_ascii_case(name)))
}

/// Adds `status` unless the operation already documents it; if it does, appends `also` to its
/// description so the shared meaning is still written down.
fn ensure(op: &mut Operation, status: &str, description: &str, also: Option<&str>) {
    match op.responses.responses.get_mut(status) {
        None => {
            op.responses.responses.insert(status.to_owned(), problem(description));
        }
        Some(RefOr::T(existing)) => {
            // A handler that already explains the idempotency case keeps its own words.
            if let Some(also) = also
                && !existing.description.contains("Idempotency-Key")
            {
                existing.description = format!("{}; or {also}", existing.description);
            }
        }
        Some(RefOr::Ref(_)) => {}
    }
}

fn apply_to(op: &mut Operation, signed_in: bool) {
    let idempotent = has_parameter(op, "Idempotency-Key");
    if op.request_body.is_some() {
        ensure(op, "400", "The body is not valid JSON", None);
        ensure(op, "413", "The body is larger than 1 MiB", None);
        ensure(op, "415", "The body is not application/json", None);
    }
    if idempotent {
        let in_flight = "a request with the same Idempotency-Key is still in flight (retry shortly)";
        ensure(op, "409", &format!("Conflict: {in_flight}"), Some(in_flight));
        let reused = "the Idempotency-Key was used with a different request (`idempotency_key_reused`)";
        ensure(op, "422", &format!("Unprocessable: {reused}"), Some(reused));
    }
    if signed_in {
        ensure(op, "401", "No valid access token", None);
    }
    ensure(op, "500", "An unexpected failure; the body holds only the request id to report", None);
    for (status, response) in &mut op.responses.responses {
        let RefOr::T(response) = response else { continue };
        response
            .headers
            .entry("X-Request-Id".to_owned())
            .or_insert_with(|| RefOr::T(string_header("The request's id, echoed when the client sent one")));
        if status == "201" {
            response
                .headers
                .entry("Location".to_owned())
                .or_insert_with(|| RefOr::T(string_header("Where the created resource can be read")));
        }
    }
}

/// Applies the shared conventions to every operation of `doc`.
pub fn apply(doc: &mut OpenApi) {
    for (path, item) in &mut doc.paths.paths {
        let signed_in =
            path.starts_with("/api/v1/") && !path.ends_with("/auth/login") && !path.ends_with("/auth/refresh");
        for op in
            [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete].into_iter().flatten()
        {
            apply_to(op, signed_in);
        }
    }
}
