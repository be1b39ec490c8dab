//! Transfers between agencies over HTTP: refused without the client's consent; with it, the
//! receiving agency reads exactly what was included and, on acceptance, holds its own client and
//! case under its own key; declined and withdrawn transfers leave nothing behind; each side sees
//! only its side, and both logs tell the story.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixtures::create_client;
use crate::helpers::{Agency, Session, TestApp, problem, spawn_app};

/// Two agencies: the sender with a worker and a consenting client's case, the receiver with a
/// supervisor and a case manager.
struct Scene {
    sender: Agency,
    worker: Session,
    case: Value,
    receiver: Agency,
    intake: Session,
    receiver_worker: Session,
}

async fn scene(app: &TestApp, consent: bool) -> Scene {
    let sender = app.create_agency().await;
    let worker = app.create_user(&sender, &["case_manager"]).await;
    let client = create_client(
        app,
        &worker.access_token,
        &json!({"given_name": "Odalys", "family_name": "Brennagh", "date_of_birth": "1991-06-14", "gender": "woman",
                "phone": "416-555-0142", "address": "12 Quillfeather Lane",
                "safe_contact": {"ok_to_call": true, "ok_to_text": false, "ok_to_voicemail": false}}),
    )
    .await;
    let body = json!({"client_id": client["id"], "victimization_types": ["intimate_partner_violence"], "referral_source": "police"});
    let case: Value = app.post("/api/v1/cases", Some(&worker.access_token), &body, StatusCode::CREATED).await;
    let base = format!("/api/v1/cases/{}", case["id"].as_str().unwrap());
    let plan = json!({"steps": ["Keep the go-bag at Marrowby's"], "emergency_contacts": [{"name": "Sister", "phone": "416-555-0103"}],
                      "safe_places": ["Library on Tamsin St"], "notes": "Code word: lanternfish"});
    let saved = app
        .client
        .put(app.url(&format!("{base}/safety-plan")))
        .bearer_auth(&worker.access_token)
        .json(&plan)
        .send()
        .await
        .unwrap();
    assert!(saved.status().is_success(), "{}", saved.status());
    if consent {
        let consent = json!({"scope": "share_with_other_agency", "granted": true});
        let made = app.post_json(&format!("{base}/consents"), Some(&worker.access_token), &consent).await;
        assert_eq!(made.status(), StatusCode::CREATED);
    }
    let receiver = app.create_agency().await;
    let intake = app.create_user(&receiver, &["supervisor"]).await;
    let receiver_worker = app.create_user(&receiver, &["case_manager"]).await;
    Scene { sender, worker, case, receiver, intake, receiver_worker }
}

async fn send(app: &TestApp, s: &Scene, include: &[&str]) -> reqwest::Response {
    let path = format!("/api/v1/cases/{}/transfers", s.case["id"].as_str().unwrap());
    let body = json!({"to_agency": s.receiver.slug, "reason": "Moving to be near family", "include": include});
    app.post_json(&path, Some(&s.worker.access_token), &body).await
}

async fn incoming(app: &TestApp, who: &Session) -> Vec<Value> {
    let page: Value =
        app.get("/api/v1/transfers?direction=incoming", Some(&who.access_token)).await.json().await.unwrap();
    page["items"].as_array().unwrap().clone()
}

async fn step(app: &TestApp, who: &Session, transfer: &Value, action: &str, body: &Value) -> reqwest::Response {
    let path = format!("/api/v1/transfers/{}/{action}", transfer["id"].as_str().unwrap());
    app.post_json(&path, Some(&who.access_token), body).await
}

async fn actions_in_log(app: &TestApp, admin: &Session, transfer_id: &str) -> Vec<String> {
    let path = format!("/api/v1/audit-events?resource_id={transfer_id}&limit=200");
    let page: Value = app.get(&path, Some(&admin.access_token)).await.json().await.unwrap();
    page["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn without_the_clients_consent_nothing_is_sent() {
    let app = spawn_app().await;
    let s = scene(&app, false).await;
    let refused = problem(send(&app, &s, &["identity"]).await, StatusCode::CONFLICT).await;
    assert_eq!(refused["code"], "consent_required");
    assert!(incoming(&app, &s.intake).await.is_empty());
    let out: Value =
        app.get("/api/v1/transfers?direction=outgoing", Some(&s.worker.access_token)).await.json().await.unwrap();
    assert_eq!(out["items"], json!([]));
}

#[tokio::test]
async fn what_to_send_and_to_whom_is_checked_and_refusals_change_nothing() {
    let app = spawn_app().await;
    let s = scene(&app, true).await;
    let path = format!("/api/v1/cases/{}/transfers", s.case["id"].as_str().unwrap());
    for (body, field) in [
        (json!({"to_agency": s.receiver.slug, "reason": "Moving", "include": ["contact"]}), "include"),
        (json!({"to_agency": s.receiver.slug, "reason": "Moving", "include": ["identity", "notes"]}), "include"),
        (json!({"to_agency": s.receiver.slug, "reason": " ", "include": ["identity"]}), "reason"),
        (json!({"to_agency": "no-such-agency", "reason": "Moving", "include": ["identity"]}), "to_agency"),
        (json!({"to_agency": s.sender.slug, "reason": "Moving", "include": ["identity"]}), "to_agency"),
    ] {
        let refused =
            problem(app.post_json(&path, Some(&s.worker.access_token), &body).await, StatusCode::UNPROCESSABLE_ENTITY)
                .await;
        assert_eq!(refused["errors"][0]["field"], field, "{body}");
    }
    assert!(incoming(&app, &s.intake).await.is_empty());
}

#[tokio::test]
async fn an_accepted_transfer_opens_the_client_and_case_with_exactly_what_was_included() {
    let app = spawn_app().await;
    let s = scene(&app, true).await;
    let mut stream = app.events(&s.intake.access_token, None).await;
    let sent = send(&app, &s, &["identity", "safety_plan"]).await;
    assert_eq!(sent.status(), StatusCode::CREATED);
    let sent: Value = sent.json().await.unwrap();
    assert_eq!((&sent["direction"], &sent["status"]), (&json!("outgoing"), &json!("pending")));
    assert_eq!(sent["payload"], Value::Null, "the sender's side holds no payload");
    assert_eq!(sent["to_agency"]["slug"], json!(s.receiver.slug));

    // The receiver's supervisors see exactly the included parts; its case managers see nothing.
    let listed = incoming(&app, &s.intake).await;
    assert_eq!(listed.len(), 1);
    let payload = &listed[0]["payload"];
    assert_eq!(listed[0]["from_agency"]["slug"], json!(s.sender.slug));
    assert_eq!(payload["client"]["given_name"], "Odalys");
    assert_eq!(payload["client"]["date_of_birth"], "1991-06-14");
    for left_behind in ["phone", "address", "email", "safe_contact"] {
        assert_eq!(payload["client"][left_behind], Value::Null, "{left_behind} was not included");
    }
    assert_eq!(payload["risk_level"], Value::Null);
    assert_eq!(payload["safety_plan"]["notes"], "Code word: lanternfish");
    assert_eq!(payload["victimization_types"], json!(["intimate_partner_violence"]));
    let announced = stream.next_within(std::time::Duration::from_secs(10)).await.expect("an event");
    assert_eq!((announced.kind.as_str(), &announced.data["transfer_id"]), ("transfer.received", &sent["id"]));
    drop(stream);
    problem(
        app.get("/api/v1/transfers?direction=incoming", Some(&s.receiver_worker.access_token)).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let by_id = format!("/api/v1/transfers/{}", sent["id"].as_str().unwrap());
    problem(app.get(&by_id, Some(&s.receiver_worker.access_token)).await, StatusCode::NOT_FOUND).await;

    let accepted = step(&app, &s.intake, &sent, "accept", &json!({})).await;
    assert_eq!(accepted.status(), StatusCode::OK);
    let accepted: Value = accepted.json().await.unwrap();
    assert_eq!(accepted["status"], "accepted");
    assert_eq!(accepted["payload"], Value::Null, "erased once settled");
    let new_case = accepted["case_id"].as_str().unwrap().to_owned();
    problem(step(&app, &s.intake, &sent, "accept", &json!({})).await, StatusCode::CONFLICT).await;

    // The receiver's own case and client, read with its own key.
    let case: Value =
        app.get(&format!("/api/v1/cases/{new_case}"), Some(&s.intake.access_token)).await.json().await.unwrap();
    assert_eq!(case["assigned_to"], json!(s.intake.user_id));
    assert_eq!(case["victimization_types"], json!(["intimate_partner_violence"]));
    let client_path = format!("/api/v1/clients/{}", case["client_id"].as_str().unwrap());
    let client: Value = app.get(&client_path, Some(&s.intake.access_token)).await.json().await.unwrap();
    assert_eq!((&client["given_name"], &client["family_name"]), (&json!("Odalys"), &json!("Brennagh")));
    assert_eq!(client["phone"], Value::Null);
    let plan: Value = app
        .get(&format!("/api/v1/cases/{new_case}/safety-plan"), Some(&s.intake.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(plan["safe_places"], json!(["Library on Tamsin St"]));

    // The sender sees the status only, and nothing of the receiver's case.
    let theirs: Value = app.get(&by_id, Some(&s.worker.access_token)).await.json().await.unwrap();
    assert_eq!((&theirs["status"], &theirs["payload"]), (&json!("accepted"), &Value::Null));
    assert_eq!(theirs["case_id"], s.case["id"], "the sender's own case");
    problem(app.get(&format!("/api/v1/cases/{new_case}"), Some(&s.worker.access_token)).await, StatusCode::NOT_FOUND)
        .await;

    // Both logs: the receiver's names no one of the sender's staff.
    let id = sent["id"].as_str().unwrap();
    let receiver_log = actions_in_log(&app, &s.receiver.admin, id).await;
    assert!(
        receiver_log.contains(&"transfer.received".to_owned())
            && receiver_log.contains(&"transfer.accepted".to_owned()),
        "{receiver_log:?}"
    );
    let sender_log = actions_in_log(&app, &s.sender.admin, id).await;
    assert!(sender_log.contains(&"transfer.accepted".to_owned()), "{sender_log:?}");
}

#[tokio::test]
async fn a_declined_transfer_tells_the_sender_only_that_it_was_declined() {
    let app = spawn_app().await;
    let s = scene(&app, true).await;
    let sent: Value = send(&app, &s, &["identity", "contact", "risk_level"]).await.json().await.unwrap();
    problem(step(&app, &s.intake, &sent, "decline", &json!({"reason": ""})).await, StatusCode::UNPROCESSABLE_ENTITY)
        .await;
    let declined =
        step(&app, &s.intake, &sent, "decline", &json!({"reason": "Outside our catchment: Kestrelmoor"})).await;
    assert_eq!(declined.status(), StatusCode::OK);
    let declined: Value = declined.json().await.unwrap();
    assert_eq!((&declined["status"], &declined["payload"]), (&json!("declined"), &Value::Null));
    assert_eq!(declined["decline_reason"], "Outside our catchment: Kestrelmoor");
    let theirs: Value = app
        .get(&format!("/api/v1/transfers/{}", sent["id"].as_str().unwrap()), Some(&s.worker.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["status"], "declined");
    assert!(!theirs.to_string().contains("Kestrelmoor"), "the reason stays with the receiver: {theirs}");
    problem(step(&app, &s.worker, &sent, "withdraw", &json!({})).await, StatusCode::CONFLICT).await;
    // Both logs: the sender's on the case (sent) and the transfer (declined), the receiver's on the transfer.
    let id = sent["id"].as_str().unwrap();
    let case_log = actions_in_log(&app, &s.sender.admin, s.case["id"].as_str().unwrap()).await;
    assert!(case_log.contains(&"transfer.sent".to_owned()), "{case_log:?}");
    assert!(actions_in_log(&app, &s.sender.admin, id).await.contains(&"transfer.declined".to_owned()));
    let receiver_log = actions_in_log(&app, &s.receiver.admin, id).await;
    assert!(
        receiver_log.contains(&"transfer.received".to_owned())
            && receiver_log.contains(&"transfer.declined".to_owned()),
        "{receiver_log:?}"
    );
}

#[tokio::test]
async fn a_withdrawn_transfer_erases_the_receivers_copy_and_cannot_be_accepted() {
    let app = spawn_app().await;
    let s = scene(&app, true).await;
    let sent: Value = send(&app, &s, &["identity", "contact"]).await.json().await.unwrap();
    let withdrawn = step(&app, &s.worker, &sent, "withdraw", &json!({})).await;
    assert_eq!(withdrawn.status(), StatusCode::OK);
    assert_eq!(withdrawn.json::<Value>().await.unwrap()["status"], "withdrawn");
    let listed = incoming(&app, &s.intake).await;
    assert_eq!((&listed[0]["status"], &listed[0]["payload"]), (&json!("withdrawn"), &Value::Null));
    problem(step(&app, &s.intake, &sent, "accept", &json!({})).await, StatusCode::CONFLICT).await;
    problem(step(&app, &s.worker, &sent, "withdraw", &json!({})).await, StatusCode::CONFLICT).await;
    // The receiver cannot withdraw it, nor the sender accept it: each step is one side's.
    problem(step(&app, &s.worker, &sent, "accept", &json!({})).await, StatusCode::FORBIDDEN).await;
    let receivers_log = actions_in_log(&app, &s.receiver.admin, sent["id"].as_str().unwrap()).await;
    assert!(receivers_log.contains(&"transfer.withdrawn".to_owned()), "{receivers_log:?}");
}

#[tokio::test]
async fn what_travels_is_sealed_at_rest_on_both_sides() {
    let app = spawn_app().await;
    let mark = crate::at_rest::WalMark::now();
    let s = scene(&app, true).await;
    let sent: Value = send(&app, &s, &["identity", "safety_plan"]).await.json().await.unwrap();
    assert_eq!(step(&app, &s.intake, &sent, "accept", &json!({})).await.status(), StatusCode::OK);
    let sources = crate::at_rest::sources(&app, &mark);
    crate::at_rest::assert_no_canaries(
        &sources,
        &s.worker.email,
        &["Odalys", "Brennagh", "lanternfish", "Tamsin", "Moving to be near"],
    );
}

#[tokio::test]
async fn the_directory_lists_agencies_by_slug_and_name_only() {
    let app = spawn_app().await;
    let s = scene(&app, false).await;
    let page: Value = app.get("/api/v1/agencies", Some(&s.worker.access_token)).await.json().await.unwrap();
    let items = page["items"].as_array().unwrap();
    let receiver = items.iter().find(|a| a["slug"] == json!(s.receiver.slug)).expect("the receiver is listed");
    let mut keys: Vec<&String> = receiver.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["name", "slug"]);
    assert!(items.iter().all(|a| a["slug"] != "platform"), "only agencies");
    problem(app.get("/api/v1/agencies", Some(&s.sender.admin.access_token)).await, StatusCode::FORBIDDEN).await;
}

/// The receiver accepting while the sender withdraws: one of them wins, the other is told so
/// (`409`, never a deadlock's 500), and both sides agree on the outcome.
#[tokio::test]
async fn an_acceptance_and_a_withdrawal_at_once_settle_it_one_way() {
    let app = spawn_app().await;
    let s = scene(&app, true).await;
    for _ in 0..4 {
        let sent: Value = send(&app, &s, &["identity"]).await.json().await.unwrap();
        let empty = json!({});
        let (accepted, withdrawn) = tokio::join!(
            step(&app, &s.intake, &sent, "accept", &empty),
            step(&app, &s.worker, &sent, "withdraw", &empty),
        );
        let statuses = [accepted.status(), withdrawn.status()];
        assert!(
            statuses == [StatusCode::OK, StatusCode::CONFLICT] || statuses == [StatusCode::CONFLICT, StatusCode::OK],
            "{statuses:?}"
        );
        let path = format!("/api/v1/transfers/{}", sent["id"].as_str().unwrap());
        let theirs: Value = app.get(&path, Some(&s.worker.access_token)).await.json().await.unwrap();
        let ours: Value = app.get(&path, Some(&s.intake.access_token)).await.json().await.unwrap();
        let expected = if statuses[0] == StatusCode::OK { "accepted" } else { "withdrawn" };
        assert_eq!((theirs["status"].as_str(), ours["status"].as_str()), (Some(expected), Some(expected)));
    }
}
