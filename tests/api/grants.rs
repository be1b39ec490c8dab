//! Who may give whom which role: nobody changes their own roles, a grant of `supervisor` takes a
//! second person, and lifting a case's restriction is a supervisor's decision.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixtures::open_case;
use crate::helpers::{INITIAL_PASSWORD, PASSWORD, Session, TestApp, problem, spawn_app};

async fn user(app: &TestApp, admin: &Session, id: uuid::Uuid) -> Value {
    app.get(&format!("/api/v1/users/{id}"), Some(&admin.access_token)).await.json().await.unwrap()
}

fn etag(user: &Value) -> String {
    format!("\"{}\"", user["version"])
}

/// The attack as it was: an agency admin gives themselves `supervisor` and reads a restricted case.
#[tokio::test]
async fn an_admin_cannot_give_themselves_supervisor_and_read_restricted_cases() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let restricted = open_case(&app, &worker, json!({"restricted": true, "assigned_to": worker.user_id})).await;
    let admin = &agency.admin;
    let me = user(&app, admin, admin.user_id).await;
    let path = format!("/api/v1/users/{}", admin.user_id);
    for roles in [json!(["agency_admin", "supervisor"]), json!(["supervisor"]), json!(["case_manager"])] {
        let response = app.patch_json(&path, &admin.access_token, Some(&etag(&me)), &json!({"roles": roles})).await;
        let body = problem(response, StatusCode::FORBIDDEN).await;
        assert!(body["detail"].as_str().unwrap().contains("own roles"), "{body}");
    }
    // Nothing changed; other fields of one's own account still may.
    let after = user(&app, admin, admin.user_id).await;
    assert_eq!((after["roles"].clone(), after["version"].clone()), (json!(["agency_admin"]), me["version"].clone()));
    let renamed = json!({"display_name": "Still Admin", "roles": ["agency_admin"]});
    assert_eq!(app.patch_json(&path, &admin.access_token, Some(&etag(&me)), &renamed).await.status(), StatusCode::OK);

    // A second account the admin makes with supervisor does not read it either until confirmed.
    let email = format!("puppet@{}.example", agency.slug);
    let body = json!({"email": email, "display_name": "Puppet", "roles": ["supervisor"], "password": INITIAL_PASSWORD});
    let created: Value = app.post_json("/api/v1/users", Some(&admin.access_token), &body).await.json().await.unwrap();
    assert_eq!((created["roles"].clone(), created["pending_roles"].clone()), (json!([]), json!(["supervisor"])));
    let puppet = app.first_session(&agency.slug, &email, INITIAL_PASSWORD).await;
    let case_path = format!("/api/v1/cases/{}", restricted["id"].as_str().unwrap());
    problem(app.get(&case_path, Some(&puppet.access_token)).await, StatusCode::FORBIDDEN).await;
    let me: Value = app.get("/api/v1/me", Some(&puppet.access_token)).await.json().await.unwrap();
    assert_eq!(me["roles"], json!([]));
}

#[tokio::test]
async fn a_supervisor_grant_is_confirmed_by_another_supervisor_and_audited() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let supervisor = app.create_user(&agency, &["supervisor"]).await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let colleague = app.create_user(&agency, &["case_manager"]).await;
    let restricted = open_case(&app, &colleague, json!({"restricted": true, "assigned_to": colleague.user_id})).await;
    let admin = &agency.admin;
    let path = format!("/api/v1/users/{}", worker.user_id);
    let before = user(&app, admin, worker.user_id).await;
    let promote = json!({"roles": ["case_manager", "supervisor"]});
    let asked: Value =
        app.patch_json(&path, &admin.access_token, Some(&etag(&before)), &promote).await.json().await.unwrap();
    assert_eq!(
        (asked["roles"].clone(), asked["pending_roles"].clone()),
        (json!(["case_manager"]), json!(["supervisor"]))
    );

    let confirm = format!("{path}/supervisor-confirmation");
    // Not the admin (no supervisor), not the grantee, not a colleague without the role.
    let worker = app.login(&agency.slug, &worker.email, PASSWORD).await;
    for who in [admin, &worker, &colleague] {
        problem(app.post_json(&confirm, Some(&who.access_token), &json!({})).await, StatusCode::FORBIDDEN).await;
    }
    let confirmed = app.post_json(&confirm, Some(&supervisor.access_token), &json!({})).await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let confirmed: Value = confirmed.json().await.unwrap();
    assert_eq!(
        (confirmed["roles"].clone(), confirmed["pending_roles"].clone()),
        (json!(["supervisor", "case_manager"]), json!([]))
    );
    problem(app.post_json(&confirm, Some(&supervisor.access_token), &json!({})).await, StatusCode::CONFLICT).await;

    // The grantee's sessions ended; signed in again, the role is in effect.
    problem(app.get("/api/v1/me", Some(&worker.access_token)).await, StatusCode::UNAUTHORIZED).await;
    let worker = app.login(&agency.slug, &worker.email, PASSWORD).await;
    let case_path = format!("/api/v1/cases/{}", restricted["id"].as_str().unwrap());
    assert_eq!(app.get(&case_path, Some(&worker.access_token)).await.status(), StatusCode::OK);

    let log: Value = app
        .get(
            &format!("/api/v1/audit-events?resource_type=user&resource_id={}", worker.user_id),
            Some(&admin.access_token),
        )
        .await
        .json()
        .await
        .unwrap();
    let events = log["items"].as_array().unwrap();
    let requested =
        events.iter().find(|e| e["action"] == "user.updated" && e["details"]["pending_roles"] == "supervisor");
    assert_eq!(requested.unwrap()["actor_id"], json!(admin.user_id));
    let granted = events.iter().find(|e| e["action"] == "user.role_confirmed").expect("the confirmation is audited");
    assert_eq!(granted["actor_id"], json!(supervisor.user_id));
    assert_eq!(granted["details"]["requested_by"], json!(admin.user_id));
}

#[tokio::test]
async fn the_operator_confirms_an_agencys_first_supervisor() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let email = format!("first-supervisor@{}.example", agency.slug);
    let body = json!({"email": email, "display_name": "First", "roles": ["supervisor"], "password": INITIAL_PASSWORD});
    let created: Value =
        app.post_json("/api/v1/users", Some(&agency.admin.access_token), &body).await.json().await.unwrap();
    assert_eq!(created["pending_roles"], json!(["supervisor"]));
    api::maintenance::confirm_supervisor_in(&app.state.db, &agency.slug, &email).await.unwrap();
    let first = app.first_session(&agency.slug, &email, INITIAL_PASSWORD).await;
    let me: Value = app.get("/api/v1/me", Some(&first.access_token)).await.json().await.unwrap();
    assert_eq!(me["roles"], json!(["supervisor"]));
    assert!(api::maintenance::confirm_supervisor_in(&app.state.db, &agency.slug, &email).await.is_err(), "once");
}

#[tokio::test]
async fn only_a_supervisor_lifts_a_cases_restriction() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let supervisor = app.create_user(&agency, &["supervisor"]).await;
    let case = open_case(&app, &worker, json!({"restricted": true, "assigned_to": worker.user_id})).await;
    let path = format!("/api/v1/cases/{}", case["id"].as_str().unwrap());
    let lift = json!({"restricted": false});
    let refused =
        problem(app.patch_json(&path, &worker.access_token, Some("\"1\""), &lift).await, StatusCode::FORBIDDEN).await;
    assert!(refused["detail"].as_str().unwrap().contains("supervisor"));
    // The worker may still change what is theirs to change, and restrict an unrestricted case.
    let risk = json!({"risk_level": "high"});
    assert_eq!(app.patch_json(&path, &worker.access_token, Some("\"1\""), &risk).await.status(), StatusCode::OK);
    let lifted = app.patch_json(&path, &supervisor.access_token, Some("\"2\""), &lift).await;
    assert_eq!(lifted.status(), StatusCode::OK);
    assert_eq!(lifted.json::<Value>().await.unwrap()["restricted"], false);
}
