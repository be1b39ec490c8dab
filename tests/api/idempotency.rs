//! Idempotency keys on creates: replays, mismatches and concurrent duplicates.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, problem, spawn_app};

fn user(email: &str) -> Value {
    json!({"email": email, "display_name": "Retry Me", "roles": ["case_manager"], "password": PASSWORD})
}

#[tokio::test]
async fn the_same_key_and_body_replay_the_first_response() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let send = || {
        app.client
            .post(app.url("/api/v1/users"))
            .bearer_auth(&agency.admin.access_token)
            .header("Idempotency-Key", "create-ana-1")
            .json(&user("ana@retry.example"))
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first_location = first.headers().get("location").cloned();
    let first_body: Value = first.json().await.unwrap();
    let second = send().await.unwrap();
    assert_eq!(second.status(), StatusCode::CREATED);
    assert_eq!(second.headers().get("location").cloned(), first_location);
    assert_eq!(second.json::<Value>().await.unwrap(), first_body);
    let list: Value = app.get("/api/v1/users?limit=200", Some(&agency.admin.access_token)).await.json().await.unwrap();
    let copies = list["items"].as_array().unwrap().iter().filter(|u| u["email"] == "ana@retry.example").count();
    assert_eq!(copies, 1);
}

#[tokio::test]
async fn the_same_key_with_another_body_answers_422() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let post = |body: Value| {
        app.client
            .post(app.url("/api/v1/users"))
            .bearer_auth(&agency.admin.access_token)
            .header("Idempotency-Key", "k-2")
            .json(&body)
            .send()
    };
    assert_eq!(post(user("one@retry.example")).await.unwrap().status(), StatusCode::CREATED);
    let body = problem(post(user("two@retry.example")).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["code"], "idempotency_key_reused");
    let list: Value = app.get("/api/v1/users?limit=200", Some(&agency.admin.access_token)).await.json().await.unwrap();
    assert!(list["items"].as_array().unwrap().iter().all(|u| u["email"] != "two@retry.example"));
}

#[tokio::test]
async fn keys_are_scoped_to_the_tenant() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let other = app.create_agency().await;
    for admin in [&agency.admin, &other.admin] {
        let response = app
            .client
            .post(app.url("/api/v1/users"))
            .bearer_auth(&admin.access_token)
            .header("Idempotency-Key", "shared-key")
            .json(&user("same@both.example"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
}

#[tokio::test]
async fn concurrent_requests_with_one_key_create_one_row() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let body = user("burst@retry.example");
    let requests = (0..8).map(|_| {
        app.client
            .post(app.url("/api/v1/users"))
            .bearer_auth(&agency.admin.access_token)
            .header("Idempotency-Key", "burst")
            .json(&body)
            .send()
    });
    let responses = futures_util::future::join_all(requests).await;
    let mut created_ids = Vec::new();
    for response in responses {
        let response = response.unwrap();
        match response.status() {
            StatusCode::CREATED => created_ids.push(response.json::<Value>().await.unwrap()["id"].clone()),
            StatusCode::CONFLICT => {
                problem(response, StatusCode::CONFLICT).await;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(!created_ids.is_empty());
    assert!(created_ids.windows(2).all(|w| w[0] == w[1]), "every 201 is the same user: {created_ids:?}");
    let list: Value = app.get("/api/v1/users?limit=200", Some(&agency.admin.access_token)).await.json().await.unwrap();
    let copies = list["items"].as_array().unwrap().iter().filter(|u| u["email"] == "burst@retry.example").count();
    assert_eq!(copies, 1);
}

#[tokio::test]
async fn a_malformed_key_answers_422() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let long = "k".repeat(256);
    for key in [long.as_str(), ""] {
        let response = app
            .client
            .post(app.url("/api/v1/users"))
            .bearer_auth(&agency.admin.access_token)
            .header("Idempotency-Key", key)
            .json(&user("k@retry.example"))
            .send()
            .await
            .unwrap();
        let body = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(body["errors"][0]["field"], "Idempotency-Key");
    }
}

#[tokio::test]
async fn a_retried_client_and_case_create_replay_instead_of_duplicating() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let post = |path: &'static str, key: &'static str, body: Value| {
        app.client
            .post(app.url(path))
            .bearer_auth(&worker.access_token)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let client_body = json!({"given_name": "Retry", "family_name": "Person"});
    let first: Value = post("/api/v1/clients", "client-1", client_body.clone()).await.unwrap().json().await.unwrap();
    let again: Value = post("/api/v1/clients", "client-1", client_body).await.unwrap().json().await.unwrap();
    assert_eq!(first, again);
    let found: Value =
        app.get("/api/v1/clients?family_name=person", Some(&worker.access_token)).await.json().await.unwrap();
    assert_eq!(found["items"].as_array().unwrap().len(), 1);

    let case_body = json!({"client_id": first["id"], "victimization_types": ["other"], "referral_source": "self"});
    let case: Value = post("/api/v1/cases", "case-1", case_body.clone()).await.unwrap().json().await.unwrap();
    let replay = post("/api/v1/cases", "case-1", case_body).await.unwrap();
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.json::<Value>().await.unwrap(), case);
    let cases: Value = app.get("/api/v1/cases", Some(&worker.access_token)).await.json().await.unwrap();
    assert_eq!(cases["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_same_key_on_another_case_is_refused_not_replayed() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let first = crate::cases::open_case(&app, &worker, json!({})).await;
    let second = crate::cases::open_case(&app, &worker, json!({})).await;
    let body = json!({"service_type": "follow_up", "delivered_at": chrono::Utc::now()});
    let post = |case: &Value| {
        app.client
            .post(app.url(&format!("/api/v1/cases/{}/services", case["id"].as_str().unwrap())))
            .bearer_auth(&worker.access_token)
            .header("Idempotency-Key", "same-key-different-case")
            .json(&body)
            .send()
    };
    assert_eq!(post(&first).await.unwrap().status(), StatusCode::CREATED);
    // The case is part of the request: answering with the first case's service would tell the
    // client a service was recorded on the second case when none was.
    let reused = problem(post(&second).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(reused["code"], "idempotency_key_reused");
    let services: Value = app
        .get(&format!("/api/v1/cases/{}/services", second["id"].as_str().unwrap()), Some(&worker.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(services["items"], json!([]));
}
