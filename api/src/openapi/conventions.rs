//! The conventions every operation shares (api-contract.md, "Conventions"), stated once and added
//! to the document after the routes are collected, so no handler has to repeat them and none can
//! forget one: `X-Request-Id` on every response, `Location` on every 201, the problem responses
//! of bodies (400, 413, 415, 422 invalid fields), of ids in the path (404), of `If-Match` (412,
//! 428), of idempotent creates (409 in flight, 422 key reused), of signed-in routes (401, and the
//! 403 of a token that may only finish an account's setup), of
//! everything (500) and of everything that reads the database (503). A handler writes only the
//! statuses with a meaning of its own (who may call it: 403; its conflicts: 409). It also
//! tidies what generated clients trip over: list items refer to their named schema instead of
//! copying it, response fields the service always sends are `required`, optional headers are plain
//! strings, and sign-in needs no token.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ArrayItems, ObjectBuilder, Schema, SchemaType, Type};
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

/// What a path's id names, from the segment before its first `{…}`: `/api/v1/police-divisions/{id}`
/// names a police division.
fn resource_of(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').collect();
    let at = segments.iter().position(|s| s.starts_with('{'))?;
    let plural = segments.get(at.checked_sub(1)?)?;
    Some(plural.strip_suffix('s').unwrap_or(plural).replace('-', " "))
}

fn apply_to(op: &mut Operation, path: &str, signed_in: bool, uses_database: bool) {
    let idempotent = has_parameter(op, "Idempotency-Key");
    if op.request_body.is_some() {
        ensure(op, "400", "The body is not valid JSON", None);
        ensure(op, "413", "The body is larger than 1 MiB", None);
        ensure(op, "415", "The body is not application/json", None);
        ensure(op, "422", "Invalid fields (`validation_failed`: the problem's `errors` name each field and why)", None);
    }
    if let Some(resource) = resource_of(path) {
        // The same answer whether it does not exist or the caller may not see it (another tenant's,
        // a restricted case): a 404 tells nobody which.
        let missing = format!("No {resource} with this id that you may see (`not_found`)");
        ensure(op, "404", &missing, None);
    }
    if has_parameter(op, "If-Match") {
        ensure(op, "428", "No `If-Match`: send the `ETag` you read (`precondition_required`)", None);
        ensure(
            op,
            "412",
            "`If-Match` is not the current version: it changed since you read it (`precondition_failed`)",
            None,
        );
    }
    if idempotent {
        let in_flight = "a request with the same Idempotency-Key is still in flight (retry shortly)";
        ensure(op, "409", &format!("Conflict: {in_flight}"), Some(in_flight));
        let reused = "the Idempotency-Key was used with a different request (`idempotency_key_reused`)";
        ensure(op, "422", &format!("Unprocessable: {reused}"), Some(reused));
    }
    if signed_in {
        ensure(op, "401", "No valid access token", None);
        // Any signed-in route answers a setup token so (`domain::sign_in`), those it serves included
        // when the token waits for the other step.
        let setup = "a token that may only finish setting the account up (`password_change_required`: change the \
                     password; `mfa_enrolment_required`: enrol a second factor)";
        match op.responses.responses.get_mut("403") {
            Some(RefOr::T(existing)) => existing.description = format!("{}; or {setup}", existing.description),
            Some(RefOr::Ref(_)) => {}
            None => {
                op.responses.responses.insert("403".to_owned(), problem(&format!("Forbidden: {setup}")));
            }
        }
    }
    let has_query = op
        .parameters
        .iter()
        .flatten()
        .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == utoipa::openapi::path::ParameterIn::Query));
    if has_query {
        ensure(op, "422", "A bad query parameter (the problem's `errors` name it)", None);
    }
    ensure(op, "500", "An unexpected failure (`internal`); report the `X-Request-Id` to the operators", None);
    if uses_database {
        ensure(op, "503", "The database cannot be reached (`unavailable`); retry after `Retry-After` seconds", None);
    }
    for (status, response) in &mut op.responses.responses {
        let RefOr::T(response) = response else { continue };
        response
            .headers
            .entry("X-Request-Id".to_owned())
            .or_insert_with(|| RefOr::T(string_header("The request's id, echoed when the client sent one")));
        if status == "429" || (status == "503" && uses_database) {
            response
                .headers
                .entry("Retry-After".to_owned())
                .or_insert_with(|| RefOr::T(string_header("Seconds to wait before trying again")));
        }
        if idempotent && status.starts_with('2') {
            response.headers.entry("Idempotent-Replayed".to_owned()).or_insert_with(|| {
                RefOr::T(string_header(
                    "`true` when this answer replays an earlier request with the same Idempotency-Key",
                ))
            });
        }
        if status == "201" {
            response
                .headers
                .entry("Location".to_owned())
                .or_insert_with(|| RefOr::T(string_header("Where the created resource can be read")));
        }
    }
}

/// An optional header parameter is a string when sent; "absent" is not a null value.
fn plain_string_headers(op: &mut Operation) {
    for parameter in op.parameters.iter_mut().flatten() {
        if let RefOr::T(parameter) = parameter
            && parameter.parameter_in == utoipa::openapi::path::ParameterIn::Header
            && let Some(RefOr::T(Schema::Object(object))) = &mut parameter.schema
            && matches!(&object.schema_type, SchemaType::Array(types) if types.contains(&Type::Null))
        {
            object.schema_type = SchemaType::new(Type::String);
            if parameter.name == "Idempotency-Key" {
                // What `domain::idempotency::IdempotencyKey::parse` accepts.
                object.min_length = Some(1);
                object.max_length = Some(255);
                object.pattern = Some("^[\\x20-\\x7E]+$".to_owned());
            }
        }
    }
}

/// `Page_X` copies `X` inline; point its items at `X` so clients get one type per resource.
fn page_items_by_reference(doc: &mut OpenApi) {
    let Some(components) = &mut doc.components else { return };
    let names: Vec<String> = components.schemas.keys().cloned().collect();
    for (name, schema) in &mut components.schemas {
        let Some(item) = name.strip_prefix("Page_") else { continue };
        if !names.iter().any(|n| n == item) {
            continue;
        }
        if let RefOr::T(Schema::Object(page)) = schema
            && let Some(RefOr::T(Schema::Array(items))) = page.properties.get_mut("items")
        {
            items.items = ArrayItems::RefOrSchema(Box::new(RefOr::Ref(Ref::from_schema_name(item))));
        }
    }
}

/// Fields of response schemas the service leaves out when empty (`skip_serializing_if`); every
/// other field of a response-only schema is always sent, null or not.
const SOMETIMES_ABSENT: &[(&str, &str)] = &[
    ("Problem", "errors"),
    ("ReportResponse", "figures"),
    ("ReportResponse", "prepared_by"),
    ("ReportResponse", "submitted_by"),
];

/// The component names a serialised piece of the document refers to.
fn schema_refs(json: &str) -> Vec<String> {
    json.split("#/components/schemas/").skip(1).filter_map(|rest| rest.split('"').next()).map(str::to_owned).collect()
}

/// Schemas that appear in a request body (directly or through a reference) keep serde's notion
/// of required; the others are responses, whose fields are present unless listed above.
fn response_fields_required(doc: &mut OpenApi) {
    let Some(components) = &doc.components else { return };
    let mut in_requests: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    let mut queue: Vec<String> = Vec::new();
    for item in doc.paths.paths.values() {
        for op in [&item.get, &item.post, &item.put, &item.patch, &item.delete].into_iter().flatten() {
            if let Some(body) = &op.request_body {
                queue.extend(schema_refs(&serde_json::to_string(body).unwrap_or_default()));
            }
        }
    }
    while let Some(name) = queue.pop() {
        if in_requests.insert(name.clone())
            && let Some(schema) = components.schemas.get(&name)
        {
            queue.extend(schema_refs(&serde_json::to_string(schema).unwrap_or_default()));
        }
    }
    let Some(components) = &mut doc.components else { return };
    for (name, schema) in &mut components.schemas {
        if in_requests.contains(name) || name == "AggregateRow" {
            continue; // AggregateRow names only the dimensions a row is grouped by
        }
        if let RefOr::T(Schema::Object(object)) = schema {
            object.required = object
                .properties
                .keys()
                .filter(|field| !SOMETIMES_ABSENT.contains(&(name.as_str(), field.as_str())))
                .cloned()
                .collect();
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
            apply_to(op, path, signed_in, path.starts_with("/api/v1/"));
            plain_string_headers(op);
            if !signed_in && path.starts_with("/api/v1/") {
                op.security = None; // sign-in and refresh take no token
            }
        }
    }
    page_items_by_reference(doc);
    response_fields_required(doc);
}
