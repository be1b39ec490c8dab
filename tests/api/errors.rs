//! The problem+json contract for requests that never reach a handler, and request ids.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{problem, spawn_app};

#[tokio::test]
async fn an_unknown_route_answers_problem_json_404() {
    let app = spawn_app().await;
    for path in ["/api/v1/nothing-here", "/", "/api/v2/users"] {
        let body = problem(app.get(path, None).await, StatusCode::NOT_FOUND).await;
        assert_eq!(body["code"], "not_found");
        assert_eq!(body["type"], "urn:vcao:problem:not_found");
    }
}

/// Generated from the served document: every path, sent a method it does not have, answers 405
/// with an `Allow` header naming exactly the document's methods for it (before any sign-in: no
/// route was matched), and a path that does not exist stays 404.
#[tokio::test]
async fn a_path_of_the_document_with_another_method_answers_405_with_allow() {
    let app = spawn_app().await;
    let doc: serde_json::Value = app.get("/openapi.json", None).await.json().await.unwrap();
    let mut checked = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        let mut allowed: Vec<String> = item.as_object().unwrap().keys().map(|m| m.to_uppercase()).collect();
        allowed.sort();
        let Some(other) =
            ["DELETE", "GET", "PATCH", "POST", "PUT"].into_iter().find(|m| !allowed.iter().any(|a| a == m))
        else {
            continue;
        };
        let path = template.replace("{id}", &uuid::Uuid::now_v7().to_string()).replace("{note_id}", "1");
        let method = reqwest::Method::from_bytes(other.as_bytes()).unwrap();
        let response = app.client.request(method, app.url(&path)).send().await.unwrap();
        let allow = response.headers().get("allow").map(|v| v.to_str().unwrap().to_owned());
        let body = problem(response, StatusCode::METHOD_NOT_ALLOWED).await;
        assert_eq!(body["code"], "method_not_allowed", "{other} {template}");
        assert_eq!(allow, Some(allowed.join(", ")), "{other} {template}");
        checked += 1;
    }
    assert!(checked > 40, "only {checked} paths checked");
    let body =
        problem(app.client.delete(app.url("/api/v1/nothing-here")).send().await.unwrap(), StatusCode::NOT_FOUND).await;
    assert_eq!(body["code"], "not_found");
}

#[tokio::test]
async fn malformed_json_answers_400_and_a_wrong_shape_answers_422() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let response = app
        .client
        .post(app.url("/api/v1/users"))
        .bearer_auth(&agency.admin.access_token)
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(response, StatusCode::BAD_REQUEST).await["code"], "bad_request");
    let wrong_type =
        app.post_json("/api/v1/users", Some(&agency.admin.access_token), &json!({"email": 987_654_321})).await;
    let body = problem(wrong_type, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["code"], "validation_failed");
    assert!(!body.to_string().contains("987654321"), "the offending value is not echoed");
}

#[tokio::test]
async fn a_body_over_one_mebibyte_answers_413() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let huge = json!({"email": "a@b.example", "display_name": "x".repeat(1_100_000), "roles": [], "password": "p"});
    let response = app.post_json("/api/v1/users", Some(&agency.admin.access_token), &huge).await;
    assert_eq!(problem(response, StatusCode::PAYLOAD_TOO_LARGE).await["code"], "payload_too_large");
}

#[tokio::test]
async fn deeply_nested_json_is_refused_without_harm() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    // 100,000 levels: a recursive parser without a limit would overflow its stack.
    let depth = 100_000;
    let body = format!("{{\"email\": {}1{}}}", "[".repeat(depth), "]".repeat(depth));
    let response = app
        .client
        .post(app.url("/api/v1/users"))
        .bearer_auth(&agency.admin.access_token)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(
        [StatusCode::BAD_REQUEST, StatusCode::UNPROCESSABLE_ENTITY].contains(&response.status()),
        "{}",
        response.status()
    );
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    assert_eq!(app.get("/health/live", None).await.status(), StatusCode::OK, "the service is still up");
}

#[tokio::test]
async fn a_body_that_is_not_json_answers_415() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let response = app
        .client
        .post(app.url("/api/v1/users"))
        .bearer_auth(&agency.admin.access_token)
        .header("content-type", "text/plain")
        .body("email=a@b.example")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await["code"], "unsupported_media_type");
}

#[tokio::test]
async fn bad_paging_parameters_answer_422() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    for query in ["limit=0", "limit=201", "cursor=forged", "limit=abc"] {
        let response = app.get(&format!("/api/v1/users?{query}"), Some(&agency.admin.access_token)).await;
        assert_eq!(problem(response, StatusCode::UNPROCESSABLE_ENTITY).await["code"], "validation_failed", "{query}");
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_echoes_the_clients() {
    let app = spawn_app().await;
    let generated = app.get("/health/live", None).await;
    let id = generated.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    let echoed =
        app.client.get(app.url("/api/v1/nowhere")).header("X-Request-Id", "client-abc-123").send().await.unwrap();
    assert_eq!(echoed.headers().get("x-request-id").and_then(|v| v.to_str().ok()), Some("client-abc-123"));
    // An unsafe client id is replaced, not echoed into logs and headers.
    let replaced =
        app.client.get(app.url("/health/live")).header("X-Request-Id", "bad id <script>").send().await.unwrap();
    assert_ne!(replaced.headers().get("x-request-id").and_then(|v| v.to_str().ok()), Some("bad id <script>"));
}

#[tokio::test]
async fn api_responses_carry_security_headers_and_are_never_cached() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    // A success, a refusal before any handler (no token) and an unknown route: all the same.
    let responses = [
        app.get("/api/v1/me", Some(&agency.admin.access_token)).await,
        app.get("/api/v1/me", None).await,
        app.get("/api/v1/no-such-route", None).await,
    ];
    for response in &responses {
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let status = response.status();
        assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"), "{status}");
        assert_eq!(header("cache-control").as_deref(), Some("no-store"), "{status}");
        assert_eq!(header("x-frame-options").as_deref(), Some("DENY"), "{status}");
        assert_eq!(header("referrer-policy").as_deref(), Some("no-referrer"), "{status}");
        assert_eq!(
            header("strict-transport-security").as_deref(),
            Some("max-age=31536000; includeSubDomains"),
            "{status}"
        );
        assert_eq!(
            header("content-security-policy").as_deref(),
            Some("default-src 'none'; frame-ancestors 'none'"),
            "{status}"
        );
    }
    // The docs page may run its own scripts and styles, and nothing from elsewhere.
    let docs = app.get("/docs/", None).await;
    let csp = docs.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    for directive in csp.split(';') {
        let sources = directive.split_whitespace().skip(1);
        for source in sources {
            assert!(
                source.starts_with('\'') || source == "data:",
                "the docs page allows only itself and inline data, not {source} ({directive})"
            );
        }
    }
}

/// CORS for the configured origins only: a preflight from one is answered 204 with what a
/// frontend needs (its methods, the contract's request headers); its requests, errors included,
/// carry its exact origin and the readable headers; another origin, or a service with no origins
/// configured (the default), gets no CORS header at all.
#[tokio::test]
async fn cors_answers_the_configured_origins_and_nobody_else() {
    use crate::helpers::spawn_app_with;
    const APP: &str = "https://app.example";
    let app = spawn_app_with(|s| s.cors_allowed_origins = format!("{APP}, http://localhost:5173")).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/v1/cases"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "authorization, content-type, idempotency-key")
            .send()
    };
    let ok = preflight(APP).await.unwrap();
    assert_eq!(ok.status(), StatusCode::NO_CONTENT);
    let h = |r: &reqwest::Response, name: &str| r.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(h(&ok, "access-control-allow-origin").as_deref(), Some(APP));
    assert!(h(&ok, "access-control-allow-methods").unwrap().contains("POST"));
    let allowed = h(&ok, "access-control-allow-headers").unwrap().to_lowercase();
    for needed in ["authorization", "content-type", "idempotency-key", "if-match", "last-event-id"] {
        assert!(allowed.contains(needed), "{needed} in {allowed}");
    }
    assert_eq!(h(&ok, "access-control-allow-credentials"), None, "tokens are headers, never cookies");
    assert!(h(&ok, "x-request-id").is_some(), "the preflight passed through the request context");

    // An actual request, here refused: the frontend can still read the problem and its headers.
    let refused = app.client.get(app.url("/api/v1/me")).header("Origin", APP).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(h(&refused, "access-control-allow-origin").as_deref(), Some(APP));
    assert!(h(&refused, "access-control-expose-headers").unwrap().contains("ETag"));
    assert!(h(&refused, "vary").unwrap().contains("Origin"));

    // Another origin: no CORS header; its preflight is not answered as one (405: no route has OPTIONS).
    let other = preflight("https://evil.example").await.unwrap();
    assert_eq!(other.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(h(&other, "access-control-allow-origin"), None);
    let other = app.client.get(app.url("/api/v1/me")).header("Origin", "https://evil.example").send().await.unwrap();
    assert_eq!(h(&other, "access-control-allow-origin"), None);

    // The default: none at all.
    let plain = spawn_app().await;
    let none = plain.client.get(plain.url("/api/v1/me")).header("Origin", APP).send().await.unwrap();
    assert_eq!(h(&none, "access-control-allow-origin"), None);
}
