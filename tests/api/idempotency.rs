//! Idempotency keys on creates: replays, mismatches and concurrent duplicates.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, problem, spawn_app};

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
    let first = crate::fixtures::open_case(&app, &worker, json!({})).await;
    let second = crate::fixtures::open_case(&app, &worker, json!({})).await;
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

/// A POST with `key`, as `token`.
async fn keyed(app: &TestApp, token: &str, key: &str, path: &str, body: &Value) -> reqwest::Response {
    let request = app.client.post(app.url(path)).bearer_auth(token).header("Idempotency-Key", key).json(body);
    request.send().await.unwrap()
}

/// The audit events of `kind` `id`, as the agency admin sees them, by action.
async fn audited(app: &TestApp, admin: &str, kind: &str, id: &str) -> Vec<Value> {
    let path = format!("/api/v1/audit-events?resource_type={kind}&resource_id={id}&limit=200");
    let page: Value = app.get(&path, Some(admin)).await.json().await.unwrap();
    page["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_replay_is_a_read_and_is_audited_as_one() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let body = json!({"given_name": "Replayed", "family_name": "Person"});
    let first = keyed(&app, &worker.access_token, "audit-me", "/api/v1/clients", &body).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let again = keyed(&app, &worker.access_token, "audit-me", "/api/v1/clients", &body).await;
    assert_eq!(again.headers().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    let id = first["id"].as_str().unwrap();
    let events = audited(&app, &agency.admin.access_token, "client", id).await;
    let replays: Vec<&Value> = events.iter().filter(|e| e["action"] == "request.replayed").collect();
    assert_eq!(replays.len(), 1, "one replay, one audit event: {events:?}");
    assert_eq!(replays[0]["actor_id"], json!(worker.user_id));
    assert_eq!(replays[0]["details"]["operation"], "create_client");
}

/// A replay shows what the first answer showed: when the caller may no longer see the record (its
/// case was restricted to someone else since), it is refused exactly as a read would be.
#[tokio::test]
async fn a_replay_of_what_the_caller_may_no_longer_see_answers_404() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let colleague = app.create_user(&agency, &["case_manager"]).await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let supervisor = app.create_user(&agency, &["supervisor"]).await;

    let client_body = json!({"given_name": "Soon", "family_name": "Hidden"});
    let created = keyed(&app, &colleague.access_token, "client-then-hidden", "/api/v1/clients", &client_body).await;
    let client: Value = created.json().await.unwrap();
    let case_body = json!({"client_id": client["id"], "victimization_types": ["other"], "referral_source": "self"});
    let created = keyed(&app, &colleague.access_token, "case-then-hidden", "/api/v1/cases", &case_body).await;
    let case: Value = created.json().await.unwrap();
    let notes = format!("/api/v1/cases/{}/notes", case["id"].as_str().unwrap());
    let note = json!({"body": "Said where she is staying"});
    assert_eq!(keyed(&app, &colleague.access_token, "note-then-hidden", &notes, &note).await.status(), 201);

    // The supervisor restricts the case to the worker: the colleague no longer sees it, nor its client.
    let path = format!("/api/v1/cases/{}", case["id"].as_str().unwrap());
    let restrict = json!({"restricted": true, "assigned_to": worker.user_id});
    let response = app.patch_json(&path, &supervisor.access_token, Some("\"1\""), &restrict).await;
    assert_eq!(response.status(), StatusCode::OK);

    let replays = [
        ("client-then-hidden", "/api/v1/clients", &client_body),
        ("case-then-hidden", "/api/v1/cases", &case_body),
        ("note-then-hidden", notes.as_str(), &note),
    ];
    for (key, path, body) in replays {
        let response = keyed(&app, &colleague.access_token, key, path, body).await;
        let body = problem(response, StatusCode::NOT_FOUND).await;
        assert!(!body.to_string().contains("staying") && !body.to_string().contains("Hidden"), "{body}");
    }
}

#[tokio::test]
async fn stored_answers_are_purged_after_the_replay_window() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let body = json!({"given_name": "Purged", "family_name": "Answer"});
    let first: Value =
        keyed(&app, &worker.access_token, "purge-me", "/api/v1/clients", &body).await.json().await.unwrap();
    let tenant = domain::TenantId::from_uuid(agency.id);
    let yesterday = chrono::Utc::now() - chrono::Duration::hours(1);
    assert_eq!(api::background::prune_idempotency_keys(&app.state, tenant, yesterday).await.unwrap(), 0);
    let later = chrono::Utc::now() + chrono::Duration::seconds(1);
    assert_eq!(api::background::prune_idempotency_keys(&app.state, tenant, later).await.unwrap(), 1);
    // Gone: the same key now makes a new client rather than replaying the first.
    let second = keyed(&app, &worker.access_token, "purge-me", "/api/v1/clients", &body).await;
    assert_eq!(second.status(), StatusCode::CREATED);
    assert!(second.headers().get("idempotent-replayed").is_none());
    assert_ne!(second.json::<Value>().await.unwrap()["id"], first["id"]);
}
