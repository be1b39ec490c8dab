//! Clients: encrypted personal details, exact search through blind indexes, audited reads.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::at_rest;
use crate::fixtures::create_client;
use crate::helpers::{problem, spawn_app};

/// Distinctive values that must never appear at rest or in logs.
pub const CANARY_NAME: &str = "Zephyrine";
pub const CANARY_FAMILY: &str = "Quillfeather";
pub const CANARY_PHONE: &str = "+1 416 555 7391";

fn client_body() -> Value {
    json!({"given_name": CANARY_NAME, "family_name": CANARY_FAMILY, "date_of_birth": "1991-07-14", "gender": "woman",
           "phone": CANARY_PHONE, "email": "zephyrine@mail.example", "preferred_language": "Tagalog",
           "address": "12 Hidden Lane", "safe_contact": {"ok_to_call": true, "ok_to_text": false, "ok_to_voicemail": false, "notes": "Only after 6 pm"}})
}

/// An update reads the client once (with its visibility) and answers from the row the
/// conditional update returns.
#[tokio::test]
async fn updating_a_client_sends_the_database_a_fixed_number_of_statements() {
    let app = crate::helpers::spawn_quiet_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let client = create_client(&app, &worker.access_token, &client_body()).await;
    let location = format!("/api/v1/clients/{}", client["id"].as_str().unwrap());

    let before = app.state.db.statements_sent();
    let updated =
        app.patch_json(&location, &worker.access_token, Some("\"1\""), &json!({"phone": "416-555-0100"})).await;
    let sent = app.state.db.statements_sent() - before;
    assert_eq!(updated.status(), StatusCode::OK);
    let updated: Value = updated.json().await.unwrap();
    assert_eq!((updated["phone"].as_str(), updated["version"].as_i64()), (Some("416-555-0100"), Some(2)));
    // The client with its visibility, the update returning it, the audit event: 4 on PostgreSQL
    // (5 before, when the update was followed by a second read), 5 on SQLite (6 before).
    let expected = if crate::helpers::on_postgres() { 4 } else { 5 };
    assert_eq!(sent, expected, "statements for one PATCH /clients/{{id}}");
}

#[tokio::test]
async fn a_case_manager_records_reads_and_updates_a_client() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let response = app.post_json("/api/v1/clients", Some(&worker.access_token), &client_body()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers().get("etag").and_then(|v| v.to_str().ok()), Some("\"1\""));
    let location = response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap().to_owned();
    let client: Value = response.json().await.unwrap();
    assert_eq!(client["given_name"], CANARY_NAME);
    assert_eq!(client["date_of_birth"], "1991-07-14");
    assert_eq!(client["safe_contact"]["notes"], "Only after 6 pm");

    let read: Value = app.get(&location, Some(&worker.access_token)).await.json().await.unwrap();
    assert_eq!(read, client);

    let missing = app.patch_json(&location, &worker.access_token, None, &json!({"phone": null})).await;
    problem(missing, StatusCode::PRECONDITION_REQUIRED).await;
    let updated = app
        .patch_json(
            &location,
            &worker.access_token,
            Some("\"1\""),
            &json!({"phone": null, "preferred_language": "English"}),
        )
        .await;
    assert_eq!(updated.status(), StatusCode::OK);
    let updated: Value = updated.json().await.unwrap();
    assert_eq!(
        (updated["phone"].clone(), updated["preferred_language"].clone(), updated["version"].clone()),
        (Value::Null, json!("English"), json!(2))
    );
    assert_eq!(updated["family_name"], CANARY_FAMILY, "absent fields stay");
    problem(
        app.patch_json(&location, &worker.access_token, Some("\"1\""), &json!({"address": null})).await,
        StatusCode::PRECONDITION_FAILED,
    )
    .await;
}

#[tokio::test]
async fn invalid_client_fields_are_each_reported_without_echoing_values() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let body = json!({"given_name": " ", "date_of_birth": "2999-01-01", "gender": "unicorn", "phone": "call Zephyrine", "email": "not-an-email",
                      "safe_contact": {"ok_to_call": true, "ok_to_text": true, "ok_to_voicemail": true, "notes": "x".repeat(2001)}});
    let p = problem(
        app.post_json("/api/v1/clients", Some(&worker.access_token), &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, ["given_name", "date_of_birth", "gender", "phone", "email", "safe_contact.notes"]);
    assert!(!p.to_string().contains("Zephyrine"));
}

#[tokio::test]
async fn search_finds_exact_matches_ignoring_case_and_spacing() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let ana = create_client(
        &app,
        &worker.access_token,
        &json!({"given_name": "Ana Maria", "family_name": "Silva", "date_of_birth": "1990-01-02"}),
    )
    .await;
    create_client(
        &app,
        &worker.access_token,
        &json!({"given_name": "Ana", "family_name": "Silva", "date_of_birth": "1985-05-05"}),
    )
    .await;
    create_client(&app, &worker.access_token, &json!({"given_name": "Anamaria", "family_name": "Silvas"})).await;

    let find = |query: &str| {
        let query = query.to_owned();
        let app = &app;
        let token = worker.access_token.clone();
        async move {
            let body: Value = app.get(&format!("/api/v1/clients?{query}"), Some(&token)).await.json().await.unwrap();
            body["items"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
        }
    };
    let ana_id = ana["id"].as_str().unwrap().to_owned();
    assert_eq!(find("given_name=%20%20ANA%20%20maria").await, std::slice::from_ref(&ana_id));
    assert_eq!(find("family_name=silva").await.len(), 2);
    assert_eq!(find("family_name=SILVA&date_of_birth=1990-01-02").await, std::slice::from_ref(&ana_id));
    assert_eq!(find("given_name=an").await.len(), 0, "no prefix matching");
    let none = app.get("/api/v1/clients", Some(&worker.access_token)).await;
    problem(none, StatusCode::UNPROCESSABLE_ENTITY).await;

    // Every search result read is in the audit log.
    let events: Value = app
        .get(&format!("/api/v1/audit-events?resource_id={ana_id}&limit=200"), Some(&agency.admin.access_token))
        .await
        .json()
        .await
        .unwrap();
    let reads = events["items"].as_array().unwrap().iter().filter(|e| e["action"] == "client.read").count();
    assert_eq!(reads, 3);
}

#[tokio::test]
async fn every_client_read_is_audited_in_the_same_transaction() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let client = create_client(&app, &worker.access_token, &client_body()).await;
    let id = client["id"].as_str().unwrap();
    for _ in 0..2 {
        assert_eq!(
            app.get(&format!("/api/v1/clients/{id}"), Some(&worker.access_token)).await.status(),
            StatusCode::OK
        );
    }
    let events: Value = app
        .get(&format!("/api/v1/audit-events?resource_id={id}"), Some(&agency.admin.access_token))
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = events["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["client.read", "client.read", "client.created"]);
    assert!(events["items"].as_array().unwrap().iter().all(|e| e["actor_id"] == json!(worker.user_id)));
    assert!(!events.to_string().contains(CANARY_NAME));
}

#[tokio::test]
async fn clients_are_per_agency_and_only_case_workers_reach_them() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let other = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let foreign_worker = app.create_user(&other, &["supervisor"]).await;
    let client = create_client(&app, &worker.access_token, &client_body()).await;
    let path = format!("/api/v1/clients/{}", client["id"].as_str().unwrap());
    let foreign = problem(app.get(&path, Some(&foreign_worker.access_token)).await, StatusCode::NOT_FOUND).await;
    let missing = problem(
        app.get(&format!("/api/v1/clients/{}", Uuid::now_v7()), Some(&foreign_worker.access_token)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(foreign, missing);
    let searched: Value = app
        .get(&format!("/api/v1/clients?given_name={CANARY_NAME}"), Some(&foreign_worker.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(searched["items"], json!([]));
    problem(
        app.patch_json(&path, &foreign_worker.access_token, Some("\"1\""), &json!({"phone": null})).await,
        StatusCode::NOT_FOUND,
    )
    .await;

    let liaison = app.create_user(&agency, &["police_liaison"]).await;
    let ministry = app.create_tenant("ministry").await;
    for token in [&agency.admin.access_token, &liaison.access_token, &ministry.admin.access_token] {
        problem(app.get(&path, Some(token)).await, StatusCode::FORBIDDEN).await;
        problem(app.post_json("/api/v1/clients", Some(token), &client_body()).await, StatusCode::FORBIDDEN).await;
        problem(
            app.get(&format!("/api/v1/clients?given_name={CANARY_NAME}"), Some(token)).await,
            StatusCode::FORBIDDEN,
        )
        .await;
    }
}

#[tokio::test]
async fn personal_fields_never_reach_the_database_in_plaintext() {
    let wal = at_rest::WalMark::now();
    let app = spawn_app().await;
    // Every create sends an Idempotency-Key: its stored answer carries the client, and the key
    // itself may carry anything a client put in it.
    app.key_every_post();
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    create_client(&app, &worker.access_token, &client_body()).await;
    let canaries = [
        CANARY_NAME,
        CANARY_FAMILY,
        CANARY_PHONE,
        "Hidden Lane",
        "zephyrine@mail.example",
        "Only after 6 pm",
        crate::helpers::KEY_CANARY,
    ];
    at_rest::assert_no_canaries(&at_rest::sources(&app, &wal), "client.created", &canaries);
}

/// Redis holds counters, revocations and cached figures: none of them may carry personal data,
/// not even a staff email that failed to sign in. Runs where `REDIS_URL` is set.
#[tokio::test]
async fn redis_holds_no_personal_information() {
    use sha2::Digest as _;
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    create_client(&app, &worker.access_token, &client_body()).await;
    let search = format!("/api/v1/clients?given_name={CANARY_NAME}&family_name={CANARY_FAMILY}");
    assert_eq!(app.get(&search, Some(&worker.access_token)).await.status(), StatusCode::OK);
    let wrong =
        json!({"tenant": agency.slug, "email": "zephyrine@mail.example", "password": "not the password at all"});
    assert_eq!(app.post_json("/api/v1/auth/login", None, &wrong).await.status(), StatusCode::UNAUTHORIZED);
    app.post_json("/api/v1/auth/logout", Some(&worker.access_token), &json!({})).await;
    let Some(redis) = at_rest::redis_source(&app).await else {
        eprintln!("runs where REDIS_URL is set");
        return;
    };
    // Nor the address the failure came from, nor the unkeyed hash of the account, which anyone
    // holding a list of staff emails could compute and look for.
    let unkeyed = format!("{}\0zephyrine@mail.example", agency.slug);
    let unkeyed = hex::encode(&sha2::Sha256::digest(unkeyed.as_bytes())[..16]);
    let canaries = [CANARY_NAME, CANARY_FAMILY, CANARY_PHONE, "zephyrine", "mail.example", "127.0.0.1", &unkeyed];
    at_rest::assert_no_canaries(&[redis], "login:acct:", &canaries);
}

/// Visibility is decided before the page is cut: a hidden client neither ends a page (its id in
/// the cursor) nor makes the caller think more rows follow.
#[tokio::test]
async fn search_pages_and_cursors_carry_nothing_of_a_hidden_client() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let colleague = app.create_user(&agency, &["case_manager"]).await;
    let same = json!({"given_name": "Oriel", "family_name": "Samename"});
    let hidden = create_client(&app, &worker.access_token, &same).await;
    let body = json!({"client_id": hidden["id"], "victimization_types": ["other"], "referral_source": "self",
                      "assigned_to": worker.user_id, "restricted": true});
    assert_eq!(app.post_json("/api/v1/cases", Some(&worker.access_token), &body).await.status(), StatusCode::CREATED);
    let visible = create_client(&app, &worker.access_token, &same).await;
    let hidden_id: uuid::Uuid = hidden["id"].as_str().unwrap().parse().unwrap();

    let mut cursor: Option<String> = None;
    let mut seen = Vec::new();
    loop {
        let after = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
        let path = format!("/api/v1/clients?family_name=samename&limit=1{after}");
        let page: Value = app.get(&path, Some(&colleague.access_token)).await.json().await.unwrap();
        seen.extend(page["items"].as_array().unwrap().iter().map(|c| c["id"].clone()));
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        let Some(raw) = &cursor else { break };
        let decoded = domain::paging::Cursor::decode(raw).expect("a cursor of ours");
        assert_ne!(decoded.after, hidden_id, "the cursor names the hidden client");
    }
    assert_eq!(seen, [visible["id"].clone()]);
}
