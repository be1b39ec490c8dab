//! Records on a case: notes and amendments, services, consents and referrals out, risk
//! assessments, the safety plan and children.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::at_rest;
use crate::fixtures::open_case;
use crate::helpers::{Session, TestApp, problem, spawn_app};

async fn post(app: &TestApp, who: &Session, path: &str, body: Value) -> reqwest::Response {
    app.post_json(path, Some(&who.access_token), &body).await
}

async fn created(app: &TestApp, who: &Session, path: &str, body: Value) -> Value {
    let response = post(app, who, path, body).await;
    assert_eq!(response.status(), StatusCode::CREATED, "POST {path}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn notes_are_kept_and_corrected_only_by_amendments() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let case = open_case(&app, &worker, json!({})).await;
    let base = format!("/api/v1/cases/{}", case["id"].as_str().unwrap());
    let note =
        created(&app, &worker, &format!("{base}/notes"), json!({"body": "Met at 51 Division.\nNeeds shelter."})).await;
    assert_eq!(
        (note["body"].as_str(), note["amends_note_id"].clone()),
        (Some("Met at 51 Division.\nNeeds shelter."), Value::Null)
    );
    let amendment = created(
        &app,
        &worker,
        &format!("{base}/notes/{}/amendments", note["id"].as_str().unwrap()),
        json!({"body": "It was 52 Division."}),
    )
    .await;
    assert_eq!(amendment["amends_note_id"], note["id"]);
    let list: Value = app.get(&format!("{base}/notes"), Some(&worker.access_token)).await.json().await.unwrap();
    assert_eq!(list["items"], json!([note, amendment]));

    problem(
        post(&app, &worker, &format!("{base}/notes"), json!({"body": "   "})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let other_case = open_case(&app, &worker, json!({})).await;
    let cross = format!(
        "/api/v1/cases/{}/notes/{}/amendments",
        other_case["id"].as_str().unwrap(),
        note["id"].as_str().unwrap()
    );
    problem(post(&app, &worker, &cross, json!({"body": "Wrong case"})).await, StatusCode::NOT_FOUND).await;
    // There is no way to edit or delete a note.
    let note_path = format!("{base}/notes/{}", note["id"].as_str().unwrap());
    assert_eq!(
        app.client.delete(app.url(&note_path)).bearer_auth(&worker.access_token).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn services_need_an_amount_for_vqrp_plus_and_no_future_dates() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let case = open_case(&app, &worker, json!({})).await;
    let path = format!("/api/v1/cases/{}/services", case["id"].as_str().unwrap());
    let now = chrono::Utc::now();
    let missing = post(&app, &worker, &path, json!({"service_type": "vqrp_plus", "delivered_at": now})).await;
    assert_eq!(problem(missing, StatusCode::UNPROCESSABLE_ENTITY).await["errors"][0]["field"], "amount_cents");
    let future = post(
        &app,
        &worker,
        &path,
        json!({"service_type": "follow_up", "delivered_at": now + chrono::Duration::days(1), "minutes": 2000}),
    )
    .await;
    let fields: Vec<String> = problem(future, StatusCode::UNPROCESSABLE_ENTITY).await["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["delivered_at", "minutes"]);
    let vqrp = created(
        &app,
        &worker,
        &path,
        json!({"service_type": "vqrp_plus", "delivered_at": now, "amount_cents": 25_000, "notes": "Hotel, 2 nights"}),
    )
    .await;
    assert_eq!((vqrp["amount_cents"].as_i64(), vqrp["notes"].as_str()), (Some(25_000), Some("Hotel, 2 nights")));
    created(&app, &worker, &path, json!({"service_type": "crisis_intervention", "delivered_at": now, "minutes": 45}))
        .await;
    let list: Value = app.get(&path, Some(&worker.access_token)).await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn granting_withdrawing_and_expiry_of_consent_decide_referrals_out() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let org =
        created(&app, &agency.admin, "/api/v1/organizations", json!({"name": "Harbour Shelter", "kind": "shelter"}))
            .await;
    let case = open_case(&app, &worker, json!({})).await;
    let base = format!("/api/v1/cases/{}", case["id"].as_str().unwrap());
    let referrals_path = format!("{base}/outbound-referrals");
    let refer =
        || post(&app, &worker, &referrals_path, json!({"organization_id": org["id"], "service": "emergency shelter"}));

    let refused = problem(refer().await, StatusCode::CONFLICT).await;
    assert_eq!(refused["code"], "consent_required");
    let share = "share_with_community_organization";
    created(&app, &worker, &format!("{base}/consents"), json!({"scope": "share_with_police", "granted": true})).await;
    problem(refer().await, StatusCode::CONFLICT).await;
    let granted = created(&app, &worker, &format!("{base}/consents"), json!({"scope": share, "granted": true})).await;
    assert_eq!(granted["in_force"], true);
    let referral = refer().await;
    assert_eq!(referral.status(), StatusCode::CREATED);
    let withdrawn = created(
        &app,
        &worker,
        &format!("{base}/consents"),
        json!({"scope": share, "granted": false, "notes": "Changed her mind"}),
    )
    .await;
    assert_eq!(withdrawn["in_force"], false);
    assert_eq!(problem(refer().await, StatusCode::CONFLICT).await["code"], "consent_required");

    let soon = chrono::Utc::now() + chrono::Duration::milliseconds(1500);
    created(&app, &worker, &format!("{base}/consents"), json!({"scope": share, "granted": true, "expires_at": soon}))
        .await;
    assert_eq!(refer().await.status(), StatusCode::CREATED);
    tokio::time::sleep(std::time::Duration::from_millis(1700)).await;
    assert_eq!(
        problem(refer().await, StatusCode::CONFLICT).await["code"],
        "consent_required",
        "an expired grant is not in force"
    );

    let consents: Value = app.get(&format!("{base}/consents"), Some(&worker.access_token)).await.json().await.unwrap();
    let items = consents["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(items[0]["scope"], share, "newest first");
    assert!(items.iter().all(|c| c["in_force"] == false || c["scope"] == "share_with_police"));
    let referrals: Value =
        app.get(&format!("{base}/outbound-referrals"), Some(&worker.access_token)).await.json().await.unwrap();
    assert_eq!(referrals["items"].as_array().unwrap().len(), 2);
    let unknown = post(
        &app,
        &worker,
        &format!("{base}/outbound-referrals"),
        json!({"organization_id": case["id"], "service": "x"}),
    )
    .await;
    assert_eq!(problem(unknown, StatusCode::UNPROCESSABLE_ENTITY).await["errors"][0]["field"], "organization_id");
    let past = post(
        &app,
        &worker,
        &format!("{base}/consents"),
        json!({"scope": share, "granted": true, "expires_at": "2020-01-01T00:00:00Z"}),
    )
    .await;
    problem(past, StatusCode::UNPROCESSABLE_ENTITY).await;
}

#[tokio::test]
async fn the_newest_risk_assessment_sets_the_case_risk_level() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let case = open_case(&app, &worker, json!({})).await;
    let base = format!("/api/v1/cases/{}", case["id"].as_str().unwrap());
    created(&app, &worker, &format!("{base}/risk-assessments"), json!({"tool": "odara", "score": 7, "level": "high"}))
        .await;
    let latest = created(
        &app,
        &worker,
        &format!("{base}/risk-assessments"),
        json!({"tool": "danger_assessment", "level": "extreme", "notes": "Threats with a weapon"}),
    )
    .await;
    assert_eq!(latest["assessor_id"], json!(worker.user_id));
    let read: Value = app.get(&base, Some(&worker.access_token)).await.json().await.unwrap();
    assert_eq!(read["risk_level"], "extreme");
    let bad = post(
        &app,
        &worker,
        &format!("{base}/risk-assessments"),
        json!({"tool": "gut_feeling", "level": "huge", "score": -1}),
    )
    .await;
    assert_eq!(problem(bad, StatusCode::UNPROCESSABLE_ENTITY).await["errors"].as_array().unwrap().len(), 3);
    let list: Value =
        app.get(&format!("{base}/risk-assessments"), Some(&worker.access_token)).await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_safety_plan_is_one_per_case_and_needs_if_match_once_it_exists() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let case = open_case(&app, &worker, json!({})).await;
    let path = format!("/api/v1/cases/{}/safety-plan", case["id"].as_str().unwrap());
    problem(app.get(&path, Some(&worker.access_token)).await, StatusCode::NOT_FOUND).await;
    let plan = json!({"steps": ["Keep phone charged"], "emergency_contacts": [{"name": "Sister", "phone": "416-555-0102"}], "safe_places": ["Library"], "notes": "Code word blue"});
    let put = |body: Value, tag: Option<&'static str>| {
        let mut request = app.client.put(app.url(&path)).bearer_auth(&worker.access_token).json(&body);
        if let Some(tag) = tag {
            request = request.header("If-Match", tag);
        }
        request.send()
    };
    let first = put(plan.clone(), None).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.headers().get("etag").and_then(|v| v.to_str().ok()), Some("\"1\""));
    problem(put(plan.clone(), None).await.unwrap(), StatusCode::PRECONDITION_REQUIRED).await;
    problem(put(plan.clone(), Some("\"7\"")).await.unwrap(), StatusCode::PRECONDITION_FAILED).await;
    let mut changed = plan.clone();
    changed["steps"] = json!(["Keep phone charged", "Pack a bag"]);
    let second = put(changed, Some("\"1\"")).await.unwrap();
    assert_eq!(second.status(), StatusCode::OK);
    let read: Value = app.get(&path, Some(&worker.access_token)).await.json().await.unwrap();
    assert_eq!((read["version"].as_i64(), read["steps"].as_array().map(Vec::len)), (Some(2), Some(2)));
    assert_eq!(read["emergency_contacts"][0]["name"], "Sister");
    let bad = put(
        json!({"steps": [""], "emergency_contacts": [{"name": "X", "phone": "nope"}], "safe_places": []}),
        Some("\"2\""),
    )
    .await
    .unwrap();
    let fields: Vec<String> = problem(bad, StatusCode::UNPROCESSABLE_ENTITY).await["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["steps[0]", "emergency_contacts[0].phone"]);
}

#[tokio::test]
async fn children_are_recorded_with_their_names_encrypted() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let case = open_case(&app, &worker, json!({})).await;
    let path = format!("/api/v1/cases/{}/children", case["id"].as_str().unwrap());
    let child = created(&app, &worker, &path, json!({"given_name": "Mirabeth", "year_of_birth": 2019})).await;
    assert_eq!(child["given_name"], "Mirabeth");
    problem(
        post(&app, &worker, &path, json!({"given_name": "", "year_of_birth": 1800})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let list: Value = app.get(&path, Some(&worker.access_token)).await.json().await.unwrap();
    assert_eq!(list["items"], json!([child]));
}

#[tokio::test]
async fn records_of_hidden_or_foreign_cases_are_not_found_and_other_roles_are_forbidden() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let colleague = app.create_user(&agency, &["case_manager"]).await;
    let restricted = open_case(&app, &worker, json!({"restricted": true, "assigned_to": worker.user_id})).await;
    let base = format!("/api/v1/cases/{}", restricted["id"].as_str().unwrap());
    let other = app.create_agency().await;
    let foreign = app.create_user(&other, &["supervisor"]).await;
    for who in [&colleague, &foreign] {
        for path in
            ["notes", "services", "consents", "risk-assessments", "children", "outbound-referrals", "safety-plan"]
        {
            problem(app.get(&format!("{base}/{path}"), Some(&who.access_token)).await, StatusCode::NOT_FOUND).await;
        }
        problem(post(&app, who, &format!("{base}/notes"), json!({"body": "Sneaky"})).await, StatusCode::NOT_FOUND)
            .await;
    }
    let liaison = app.create_user(&agency, &["police_liaison"]).await;
    for who in [&liaison, &agency.admin] {
        problem(app.get(&format!("{base}/notes"), Some(&who.access_token)).await, StatusCode::FORBIDDEN).await;
        problem(post(&app, who, &format!("{base}/notes"), json!({"body": "x"})).await, StatusCode::FORBIDDEN).await;
    }
    // The reads and changes that did happen are on the case's access log.
    created(&app, &worker, &format!("{base}/notes"), json!({"body": "Visible only to me"})).await;
    app.get(&format!("{base}/notes"), Some(&worker.access_token)).await;
    let log: Value =
        app.get(&format!("{base}/access-log"), Some(&agency.admin.access_token)).await.json().await.unwrap();
    let details: Vec<Value> = log["items"].as_array().unwrap().iter().map(|e| e["details"]["record"].clone()).collect();
    assert_eq!(details[..2], [json!("notes"), json!("note")]);
}

#[tokio::test]
async fn note_bodies_and_record_notes_never_reach_the_database_in_plaintext() {
    let wal = at_rest::WalMark::now();
    let app = spawn_app().await;
    app.key_every_post();
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let case = open_case(&app, &worker, json!({})).await;
    let base = format!("/api/v1/cases/{}", case["id"].as_str().unwrap());
    created(
        &app,
        &worker,
        &format!("{base}/notes"),
        json!({"body": "Spoke with Xanthippe Marlowgrove about the apartment"}),
    )
    .await;
    created(&app, &worker, &format!("{base}/children"), json!({"given_name": "Ottoline", "notes": "Tamsworthy"})).await;
    let now = chrono::Utc::now();
    let service =
        json!({"service_type": "vqrp_plus", "delivered_at": now, "amount_cents": 100, "notes": "Pellingrove"});
    created(&app, &worker, &format!("{base}/services"), service).await;
    let share = "share_with_community_organization";
    let consent = json!({"scope": share, "granted": true, "notes": "Gravenhollow"});
    created(&app, &worker, &format!("{base}/consents"), consent).await;
    let org = json!({"name": "Harbour Shelter", "kind": "shelter"});
    let org = created(&app, &agency.admin, "/api/v1/organizations", org).await;
    let out = json!({"organization_id": org["id"], "service": "emergency shelter", "notes": "Ashcombe"});
    created(&app, &worker, &format!("{base}/outbound-referrals"), out).await;
    let risk = json!({"tool": "danger_assessment", "level": "extreme", "notes": "Wrenfield"});
    created(&app, &worker, &format!("{base}/risk-assessments"), risk).await;
    let plan = json!({"steps": ["Stay at Brindlewood"], "emergency_contacts": [], "safe_places": []});
    app.client
        .put(app.url(&format!("{base}/safety-plan")))
        .bearer_auth(&worker.access_token)
        .json(&plan)
        .send()
        .await
        .unwrap();
    app.post_json(
        &format!("{base}/close"),
        Some(&app.create_user(&agency, &["supervisor"]).await.access_token),
        &json!({"reason": "Moved to Quaresfield"}),
    )
    .await;
    let canaries = [
        "Xanthippe",
        "Marlowgrove",
        "Ottoline",
        "Tamsworthy",
        "Pellingrove",
        "Gravenhollow",
        "Ashcombe",
        "Wrenfield",
        "Brindlewood",
        "Quaresfield",
        crate::helpers::KEY_CANARY,
    ];
    at_rest::assert_no_canaries(&at_rest::sources(&app, &wal), "case.created", &canaries);
}

#[tokio::test]
async fn a_retried_record_create_with_the_same_key_records_once() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let case = open_case(&app, &worker, json!({})).await;
    let base = format!("/api/v1/cases/{}", case["id"].as_str().unwrap());
    let send = |path: String, body: Value| {
        app.client
            .post(app.url(&path))
            .bearer_auth(&worker.access_token)
            .header("Idempotency-Key", "flaky-network")
            .json(&body)
            .send()
    };
    let note = json!({"body": "Called from the station"});
    let first: Value = send(format!("{base}/notes"), note.clone()).await.unwrap().json().await.unwrap();
    let again = send(format!("{base}/notes"), note).await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    let notes: Value = app.get(&format!("{base}/notes"), Some(&worker.access_token)).await.json().await.unwrap();
    assert_eq!(notes["items"].as_array().unwrap().len(), 1);
    // The same key for a different record is refused.
    let other = send(format!("{base}/notes"), json!({"body": "Something else"})).await.unwrap();
    assert_eq!(problem(other, StatusCode::UNPROCESSABLE_ENTITY).await["code"], "idempotency_key_reused");
}
