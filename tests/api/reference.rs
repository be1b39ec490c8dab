//! Police services and divisions: seeded, effective-dated, managed by platform admins.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{problem, spawn_app};

#[tokio::test]
async fn a_fresh_database_holds_toronto_police_and_its_sixteen_divisions() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let liaison = app.create_user(&agency, &["police_liaison"]).await;
    let services: Value =
        app.get("/api/v1/police-services?limit=200", Some(&liaison.access_token)).await.json().await.unwrap();
    let tps = services["items"].as_array().unwrap().iter().find(|s| s["short_name"] == "TPS").unwrap().clone();
    assert_eq!(tps["name"], "Toronto Police Service");
    let divisions: Value = app
        .get(
            &format!("/api/v1/police-divisions?police_service_id={}&limit=200", tps["id"].as_str().unwrap()),
            Some(&liaison.access_token),
        )
        .await
        .json()
        .await
        .unwrap();
    let mut codes: Vec<&str> =
        divisions["items"].as_array().unwrap().iter().filter_map(|d| d["code"].as_str()).collect();
    codes.sort_unstable();
    assert_eq!(codes, ["11", "12", "13", "14", "22", "23", "31", "32", "33", "41", "42", "43", "51", "52", "53", "55"]);
}

#[tokio::test]
async fn platform_admins_add_services_and_effective_dated_divisions() {
    let app = spawn_app().await;
    let platform = app.platform_admin().await;
    let token = &platform.access_token;
    let response = app
        .post_json(
            "/api/v1/police-services",
            Some(token),
            &json!({"name": "Peel Regional Police", "short_name": "PRP"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(response.headers().get("location").is_some());
    let service: Value = response.json().await.unwrap();
    let service_id = service["id"].as_str().unwrap();

    let current = app
        .post_json("/api/v1/police-divisions", Some(token), &json!({"police_service_id": service_id, "name": "21 Division", "code": "21", "effective_from": "2020-01-01"}))
        .await;
    assert_eq!(current.status(), StatusCode::CREATED);
    let retired = app
        .post_json(
            "/api/v1/police-divisions",
            Some(token),
            &json!({"police_service_id": service_id, "name": "Old 12", "code": "12", "effective_from": "2000-01-01", "effective_to": "2010-01-01"}),
        )
        .await;
    assert_eq!(retired.status(), StatusCode::CREATED);

    let in_force: Value = app
        .get(&format!("/api/v1/police-divisions?police_service_id={service_id}"), Some(token))
        .await
        .json()
        .await
        .unwrap();
    let codes: Vec<&str> = in_force["items"].as_array().unwrap().iter().filter_map(|d| d["code"].as_str()).collect();
    assert_eq!(codes, ["21"]);
    let in_2005: Value = app
        .get(&format!("/api/v1/police-divisions?police_service_id={service_id}&on=2005-06-01"), Some(token))
        .await
        .json()
        .await
        .unwrap();
    let codes: Vec<&str> = in_2005["items"].as_array().unwrap().iter().filter_map(|d| d["code"].as_str()).collect();
    assert_eq!(codes, ["12"]);
    let all: Value = app
        .get(&format!("/api/v1/police-divisions?police_service_id={service_id}&include_all=true"), Some(token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 2);

    let duplicate = app
        .post_json(
            "/api/v1/police-divisions",
            Some(token),
            &json!({"police_service_id": service_id, "name": "Again", "code": "21", "effective_from": "2020-01-01"}),
        )
        .await;
    problem(duplicate, StatusCode::CONFLICT).await;
}

#[tokio::test]
async fn invalid_reference_data_is_refused_field_by_field() {
    let app = spawn_app().await;
    let platform = app.platform_admin().await;
    let token = &platform.access_token;
    let p = problem(
        app.post_json("/api/v1/police-services", Some(token), &json!({"name": "", "short_name": "X".repeat(40)})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, ["name", "short_name"]);
    let p = problem(
        app.post_json(
            "/api/v1/police-divisions",
            Some(token),
            &json!({"police_service_id": Uuid::now_v7(), "name": "N", "code": "5 1;", "effective_from": "2020-01-01", "effective_to": "2019-01-01"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, ["code", "effective_to"]);
    let p = problem(
        app.post_json(
            "/api/v1/police-divisions",
            Some(token),
            &json!({"police_service_id": Uuid::now_v7(), "name": "N", "code": "51"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "police_service_id");
}

#[tokio::test]
async fn only_platform_admins_manage_reference_data_but_everyone_signed_in_reads_it() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let case_manager = app.create_user(&agency, &["case_manager"]).await;
    let ministry = app.create_tenant("ministry").await;
    for token in [&agency.admin.access_token, &case_manager.access_token, &ministry.admin.access_token] {
        problem(
            app.post_json("/api/v1/police-services", Some(token), &json!({"name": "N", "short_name": "N"})).await,
            StatusCode::FORBIDDEN,
        )
        .await;
        problem(
            app.post_json(
                "/api/v1/police-divisions",
                Some(token),
                &json!({"police_service_id": Uuid::now_v7(), "name": "N", "code": "1"}),
            )
            .await,
            StatusCode::FORBIDDEN,
        )
        .await;
        assert_eq!(app.get("/api/v1/police-divisions", Some(token)).await.status(), StatusCode::OK);
        assert_eq!(app.get("/api/v1/police-services", Some(token)).await.status(), StatusCode::OK);
    }
    problem(app.get("/api/v1/police-divisions", None).await, StatusCode::UNAUTHORIZED).await;
}
