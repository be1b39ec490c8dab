//! Programs and community organisations: agency admins create them, the agency reads them.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{problem, spawn_app};

#[tokio::test]
async fn an_agency_admin_creates_programs_that_the_agency_reads() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let body = json!({"code": "exit-route", "name": "Exit Route", "funder": "MCCSS"});
    let response = app.post_json("/api/v1/programs", Some(&agency.admin.access_token), &body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap().to_owned();
    let program: Value = response.json().await.unwrap();
    assert_eq!((program["code"].as_str(), program["funder"].as_str()), (Some("exit-route"), Some("MCCSS")));

    let liaison = app.create_user(&agency, &["police_liaison"]).await;
    let read: Value = app.get(&location, Some(&liaison.access_token)).await.json().await.unwrap();
    assert_eq!(read, program);
    let list: Value = app.get("/api/v1/programs", Some(&liaison.access_token)).await.json().await.unwrap();
    assert_eq!(list["items"], json!([program]));

    problem(app.post_json("/api/v1/programs", Some(&agency.admin.access_token), &body).await, StatusCode::CONFLICT)
        .await;
    let bad = app
        .post_json("/api/v1/programs", Some(&agency.admin.access_token), &json!({"code": "Exit Route!", "name": ""}))
        .await;
    let fields: Vec<String> = problem(bad, StatusCode::UNPROCESSABLE_ENTITY).await["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["code", "name"]);
}

#[tokio::test]
async fn programs_are_per_agency_and_admin_only_to_create() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let other = app.create_agency().await;
    let created: Value = app
        .post_json("/api/v1/programs", Some(&agency.admin.access_token), &json!({"code": "vcao", "name": "VCAO"}))
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let foreign = problem(
        app.get(&format!("/api/v1/programs/{id}"), Some(&other.admin.access_token)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let missing = problem(
        app.get(&format!("/api/v1/programs/{}", Uuid::now_v7()), Some(&other.admin.access_token)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(foreign, missing);
    // The same code is free in another agency.
    let again = app
        .post_json("/api/v1/programs", Some(&other.admin.access_token), &json!({"code": "vcao", "name": "VCAO"}))
        .await;
    assert_eq!(again.status(), StatusCode::CREATED);

    let supervisor = app.create_user(&agency, &["supervisor"]).await;
    problem(
        app.post_json("/api/v1/programs", Some(&supervisor.access_token), &json!({"code": "x", "name": "X"})).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let ministry = app.create_tenant("ministry").await;
    problem(app.get("/api/v1/programs", Some(&ministry.admin.access_token)).await, StatusCode::FORBIDDEN).await;
    problem(app.get("/api/v1/programs", None).await, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn organizations_are_created_by_admins_and_read_by_case_workers_of_the_agency_only() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let other = app.create_agency().await;
    let body = json!({"name": "Harbour Shelter", "kind": "shelter", "phone": "416-555-0100", "email": "intake@harbour.example"});
    let response = app.post_json("/api/v1/organizations", Some(&agency.admin.access_token), &body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let org: Value = response.json().await.unwrap();
    let case_manager = app.create_user(&agency, &["case_manager"]).await;
    let list: Value = app.get("/api/v1/organizations", Some(&case_manager.access_token)).await.json().await.unwrap();
    assert_eq!(list["items"], json!([org]));
    let path = format!("/api/v1/organizations/{}", org["id"].as_str().unwrap());
    problem(app.get(&path, Some(&other.admin.access_token)).await, StatusCode::NOT_FOUND).await;

    let liaison = app.create_user(&agency, &["police_liaison"]).await;
    problem(app.get("/api/v1/organizations", Some(&liaison.access_token)).await, StatusCode::FORBIDDEN).await;
    problem(
        app.post_json("/api/v1/organizations", Some(&case_manager.access_token), &body).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let bad = app
        .post_json(
            "/api/v1/organizations",
            Some(&agency.admin.access_token),
            &json!({"name": "", "kind": "x", "phone": "nope", "email": "bad"}),
        )
        .await;
    let fields: Vec<String> = problem(bad, StatusCode::UNPROCESSABLE_ENTITY).await["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["name", "phone", "email"]);
}
