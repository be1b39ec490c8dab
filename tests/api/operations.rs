//! Health, metrics, the OpenAPI document and the offline docs page.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn liveness_and_readiness_answer() {
    let app = spawn_app().await;
    assert_eq!(app.get("/health/live", None).await.json::<Value>().await.unwrap()["status"], "ok");
    let ready: Value = app.get("/health/ready", None).await.json().await.unwrap();
    assert_eq!(ready["database"], "up");
    let expected_redis = if std::env::var("REDIS_URL").is_ok() { "up" } else { "not_configured" };
    assert_eq!(ready["redis"], expected_redis);
    assert_eq!(ready["status"], "ready");
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern_without_ids() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    app.get(&format!("/api/v1/users/{}", agency.admin.user_id), Some(&agency.admin.access_token)).await;
    let text = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        text.contains("vcao_http_requests_total{method=\"GET\",route=\"/api/v1/users/{id}\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(text.contains("vcao_http_request_duration_seconds_bucket"));
    assert!(!text.contains(&agency.admin.user_id.to_string()), "no ids in metrics");
    assert!(!text.contains(&agency.admin.email), "no personal data in metrics");
}

#[tokio::test]
async fn the_openapi_document_is_served_and_the_docs_page_works_offline() {
    let app = spawn_app().await;
    let doc: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/v1/auth/login"]["post"].is_object());
    let page = app.get("/docs/", None).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"));
    // Every script and stylesheet the page needs comes from this server, not a CDN.
    assert!(!html.contains("https://"), "no external assets");
    for asset in ["/docs/swagger-ui.css", "/docs/swagger-ui-bundle.js", "/docs/swagger-initializer.js"] {
        assert_eq!(app.get(asset, None).await.status(), StatusCode::OK, "{asset}");
    }
    let initializer = app.get("/docs/swagger-initializer.js", None).await.text().await.unwrap();
    assert!(initializer.contains("/openapi.json"));
    assert_eq!(app.get("/docs", None).await.status(), StatusCode::PERMANENT_REDIRECT);
}

/// Client teams build from the committed `openapi/openapi.json` (and CI checks it against the
/// released contract), so it must be exactly what the service serves.
#[tokio::test]
async fn the_committed_openapi_document_is_the_served_one() {
    let app = spawn_app().await;
    let served: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi/openapi.json");
    let committed: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert!(
        served == committed,
        "openapi/openapi.json is stale: run `cargo run -q -p api --bin vcao -- openapi > openapi/openapi.json`"
    );
}
