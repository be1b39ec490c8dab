//! Tenants: platform admins create, list and read them; a tenant's admin reads their own.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{INITIAL_PASSWORD, PASSWORD, problem, spawn_app, unique_slug};

fn tenant_body(slug: &str, kind: &str) -> Value {
    json!({"slug": slug, "name": "Victim Services Somewhere", "kind": kind,
           "admin": {"email": format!("admin@{slug}.example"), "display_name": "Admin", "password": INITIAL_PASSWORD}})
}

#[tokio::test]
async fn a_platform_admin_creates_an_agency_whose_admin_can_sign_in() {
    let app = spawn_app().await;
    let platform = app.platform_admin().await;
    let slug = unique_slug("vst");
    let response = app.post_json("/api/v1/tenants", Some(&platform.access_token), &tenant_body(&slug, "agency")).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap().to_owned();
    let tenant: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/api/v1/tenants/{}", tenant["id"].as_str().unwrap()));
    assert_eq!(tenant["slug"], slug);
    assert_eq!(tenant["kind"], "agency");
    assert!(tenant["created_at"].as_str().is_some());

    let read: Value = app.get(&location, Some(&platform.access_token)).await.json().await.unwrap();
    assert_eq!(read, tenant);
    // The admin's password was the platform admin's choice, and the tenant requires a second
    // factor (the default): the first sign-ins change the one and enrol the other.
    let email = format!("admin@{slug}.example");
    let setup = app.first_sign_in(&slug, &email, INITIAL_PASSWORD).await;
    let (admin, _) = app.enrol_then_sign_in(&slug, &email, &setup).await;
    let me: Value = app.get("/api/v1/me", Some(&admin.access_token)).await.json().await.unwrap();
    assert_eq!(me["roles"], json!(["agency_admin"]));
}

#[tokio::test]
async fn a_ministry_tenants_first_user_runs_it_and_reads_its_figures() {
    let app = spawn_app().await;
    let ministry = app.create_tenant("ministry").await;
    let me: Value = app.get("/api/v1/me", Some(&ministry.admin.access_token)).await.json().await.unwrap();
    assert_eq!(me["roles"], json!(["ministry_analyst", "ministry_admin"]));
    assert_eq!(me["tenant"]["kind"], "ministry");
}

#[tokio::test]
async fn tenants_are_listed_with_cursor_pagination() {
    let app = spawn_app().await;
    let platform = app.platform_admin().await;
    app.create_agency().await;
    app.create_agency().await;
    let first: Value = app.get("/api/v1/tenants?limit=1", Some(&platform.access_token)).await.json().await.unwrap();
    assert_eq!(first["items"].as_array().unwrap().len(), 1);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second: Value = app
        .get(&format!("/api/v1/tenants?limit=1&cursor={cursor}"), Some(&platform.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(first["items"][0]["id"], second["items"][0]["id"]);
    let all: Value = app.get("/api/v1/tenants?limit=200", Some(&platform.access_token)).await.json().await.unwrap();
    assert!(all["items"].as_array().unwrap().len() >= 3);
}

#[tokio::test]
async fn creating_a_tenant_with_a_taken_slug_answers_409_and_changes_nothing() {
    let app = spawn_app().await;
    let platform = app.platform_admin().await;
    let slug = unique_slug("dup");
    let created = app.post_json("/api/v1/tenants", Some(&platform.access_token), &tenant_body(&slug, "agency")).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let mut again = tenant_body(&slug, "agency");
    again["admin"]["email"] = json!("second@dup.example");
    let body =
        problem(app.post_json("/api/v1/tenants", Some(&platform.access_token), &again).await, StatusCode::CONFLICT)
            .await;
    assert_eq!(body["code"], "conflict");
    // The second admin was rolled back with the tenant row.
    problem(app.login_raw(&slug, "second@dup.example", PASSWORD).await, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn invalid_tenant_fields_are_each_reported() {
    let app = spawn_app().await;
    let platform = app.platform_admin().await;
    let body = json!({"slug": "Bad Slug", "name": " ", "kind": "platform",
                      "admin": {"email": "nope", "display_name": "", "password": "short"}});
    let problem = problem(
        app.post_json("/api/v1/tenants", Some(&platform.access_token), &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let fields: Vec<&str> = problem["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, ["slug", "name", "kind", "admin.email", "admin.display_name", "admin.password"]);
    assert!(!problem.to_string().contains("short"), "values are never echoed back");
}

#[tokio::test]
async fn only_platform_admins_reach_tenants() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let supervisor = app.create_user(&agency, &["supervisor"]).await;
    let ministry = app.create_tenant("ministry").await;
    let body = tenant_body(&unique_slug("x"), "agency");
    for token in [&agency.admin.access_token, &supervisor.access_token, &ministry.admin.access_token] {
        problem(app.post_json("/api/v1/tenants", Some(token), &body).await, StatusCode::FORBIDDEN).await;
        problem(app.get("/api/v1/tenants", Some(token)).await, StatusCode::FORBIDDEN).await;
    }
    // A tenant's admin reads their own tenant (its sign-in policy), and nobody else's.
    let own = format!("/api/v1/tenants/{}", agency.id);
    assert_eq!(app.get(&own, Some(&agency.admin.access_token)).await.status(), StatusCode::OK);
    for token in [&supervisor.access_token, &ministry.admin.access_token] {
        problem(app.get(&own, Some(token)).await, StatusCode::FORBIDDEN).await;
    }
    problem(app.post_json("/api/v1/tenants", None, &body).await, StatusCode::UNAUTHORIZED).await;
    problem(app.get("/api/v1/tenants", None).await, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn an_unknown_tenant_id_answers_404() {
    let app = spawn_app().await;
    let platform = app.platform_admin().await;
    problem(
        app.get(&format!("/api/v1/tenants/{}", Uuid::now_v7()), Some(&platform.access_token)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(app.get("/api/v1/tenants/not-a-uuid", Some(&platform.access_token)).await, StatusCode::NOT_FOUND).await;
}
