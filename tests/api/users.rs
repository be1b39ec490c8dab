//! Users of an agency: agency admins manage them; other tenants' users are not found.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{INITIAL_PASSWORD, problem, spawn_app};

fn user_body(email: &str, roles: &[&str]) -> Value {
    json!({"email": email, "display_name": "Ana Worker", "roles": roles, "password": INITIAL_PASSWORD, "profession": "social_worker"})
}

#[tokio::test]
async fn an_agency_admin_creates_reads_and_lists_users() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let token = &agency.admin.access_token;
    let response = app
        .post_json("/api/v1/users", Some(token), &user_body("Ana@Agency.example", &["case_manager", "supervisor"]))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers().get("etag").and_then(|v| v.to_str().ok()), Some("\"1\""));
    let location = response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap().to_owned();
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["email"], "ana@agency.example", "emails are normalised");
    // An admin's grant of supervisor waits for a second person (see `grants.rs`).
    assert_eq!(user["roles"], json!(["case_manager"]));
    assert_eq!(user["pending_roles"], json!(["supervisor"]));
    assert_eq!(user["profession"], "social_worker");
    assert_eq!(user["active"], true);
    assert_eq!(user["version"], 1);
    assert_eq!(user["division_id"], Value::Null);
    assert!(user.get("password").is_none() && user.get("password_hash").is_none());

    let read = app.get(&location, Some(token)).await;
    assert_eq!(read.headers().get("etag").and_then(|v| v.to_str().ok()), Some("\"1\""));
    assert_eq!(read.json::<Value>().await.unwrap(), user);

    let page: Value = app.get("/api/v1/users?limit=1", Some(token)).await.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let next = page["next_cursor"].as_str().unwrap();
    let page2: Value =
        app.get(&format!("/api/v1/users?limit=1&cursor={next}"), Some(token)).await.json().await.unwrap();
    assert_eq!(page2["items"][0]["id"], user["id"]);
    assert_eq!(page2["next_cursor"], Value::Null);
    // The new user can sign in, case-insensitively by email.
    app.first_session(&agency.slug, "ANA@agency.example", INITIAL_PASSWORD).await;
}

#[tokio::test]
async fn a_duplicate_email_in_one_agency_is_409_but_another_agency_may_use_it() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let other = app.create_agency().await;
    let body = user_body("same@example.org", &["case_manager"]);
    assert_eq!(
        app.post_json("/api/v1/users", Some(&agency.admin.access_token), &body).await.status(),
        StatusCode::CREATED
    );
    let conflict =
        problem(app.post_json("/api/v1/users", Some(&agency.admin.access_token), &body).await, StatusCode::CONFLICT)
            .await;
    assert_eq!(conflict["code"], "conflict");
    assert_eq!(
        app.post_json("/api/v1/users", Some(&other.admin.access_token), &body).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn invalid_user_fields_are_each_reported() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let body = json!({"email": "x", "display_name": "", "roles": ["ministry_analyst"], "password": "short", "profession": "wizard"});
    let p = problem(
        app.post_json("/api/v1/users", Some(&agency.admin.access_token), &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, ["email", "display_name", "roles", "password", "profession"]);

    let liaison =
        json!({"email": "l@x.example", "display_name": "L", "roles": ["police_liaison"], "password": INITIAL_PASSWORD});
    let p = problem(
        app.post_json("/api/v1/users", Some(&agency.admin.access_token), &liaison).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "division_id");

    let mut unknown_division = liaison.clone();
    unknown_division["division_id"] = json!(Uuid::now_v7());
    let p = problem(
        app.post_json("/api/v1/users", Some(&agency.admin.access_token), &unknown_division).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "division_id");

    let mut with_division = liaison;
    with_division["division_id"] = json!(app.division_id("14").await);
    assert_eq!(
        app.post_json("/api/v1/users", Some(&agency.admin.access_token), &with_division).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn another_agencys_user_is_not_found_exactly_like_a_missing_one() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let other = app.create_agency().await;
    let foreign = app.create_user(&other, &["case_manager"]).await;
    let token = &agency.admin.access_token;
    let foreign_body =
        problem(app.get(&format!("/api/v1/users/{}", foreign.user_id), Some(token)).await, StatusCode::NOT_FOUND).await;
    let missing_body =
        problem(app.get(&format!("/api/v1/users/{}", Uuid::now_v7()), Some(token)).await, StatusCode::NOT_FOUND).await;
    assert_eq!(foreign_body, missing_body);
    let patch = app
        .patch_json(
            &format!("/api/v1/users/{}", foreign.user_id),
            token,
            Some("\"1\""),
            &json!({"display_name": "Mine now"}),
        )
        .await;
    assert_eq!(problem(patch, StatusCode::NOT_FOUND).await, missing_body);
    // And the list holds only this agency's users.
    let list: Value = app.get("/api/v1/users?limit=200", Some(token)).await.json().await.unwrap();
    assert!(list["items"].as_array().unwrap().iter().all(|u| u["id"] != json!(foreign.user_id)));
}

#[tokio::test]
async fn roles_other_than_a_tenants_admin_may_not_manage_users() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let target = app.create_user(&agency, &["case_manager"]).await;
    let ministry = app.create_tenant("ministry").await;
    let platform = app.platform_admin().await;
    // A ministry's and the platform's admins manage their own tenants' users: an agency's user is
    // not theirs to see, exactly as one that does not exist.
    for token in [&ministry.admin.access_token, &platform.access_token] {
        let path = format!("/api/v1/users/{}", target.user_id);
        problem(app.get(&path, Some(token)).await, StatusCode::NOT_FOUND).await;
        let patch = app.patch_json(&path, token, Some("\"1\""), &json!({"active": false})).await;
        problem(patch, StatusCode::NOT_FOUND).await;
        let listed: Value = app.get("/api/v1/users", Some(token)).await.json().await.unwrap();
        assert!(listed["items"].as_array().unwrap().iter().all(|u| u["id"] != json!(target.user_id)));
    }
    let mut tokens = Vec::new();
    for roles in [["supervisor"], ["case_manager"], ["police_liaison"]] {
        tokens.push(app.create_user(&agency, &roles).await.access_token);
    }
    for token in &tokens {
        problem(
            app.post_json("/api/v1/users", Some(token), &user_body("x@y.example", &["case_manager"])).await,
            StatusCode::FORBIDDEN,
        )
        .await;
        problem(app.get("/api/v1/users", Some(token)).await, StatusCode::FORBIDDEN).await;
        problem(app.get(&format!("/api/v1/users/{}", target.user_id), Some(token)).await, StatusCode::FORBIDDEN).await;
        let patch = app
            .patch_json(&format!("/api/v1/users/{}", target.user_id), token, Some("\"1\""), &json!({"active": false}))
            .await;
        problem(patch, StatusCode::FORBIDDEN).await;
    }
    problem(app.get("/api/v1/users", None).await, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn updates_need_if_match_and_refuse_stale_versions() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let path = format!("/api/v1/users/{}", worker.user_id);
    let token = &agency.admin.access_token;

    let missing = app.patch_json(&path, token, None, &json!({"display_name": "New Name"})).await;
    assert_eq!(problem(missing, StatusCode::PRECONDITION_REQUIRED).await["code"], "precondition_required");

    let updated = app
        .patch_json(&path, token, Some("\"1\""), &json!({"display_name": "New Name", "roles": ["supervisor"]}))
        .await;
    assert_eq!(updated.status(), StatusCode::OK);
    assert_eq!(updated.headers().get("etag").and_then(|v| v.to_str().ok()), Some("\"2\""));
    let body: Value = updated.json().await.unwrap();
    assert_eq!((body["display_name"].as_str(), body["version"].as_i64()), (Some("New Name"), Some(2)));
    assert_eq!((body["roles"].clone(), body["pending_roles"].clone()), (json!([]), json!(["supervisor"])));

    let stale = app.patch_json(&path, token, Some("\"1\""), &json!({"display_name": "Lost Update"})).await;
    assert_eq!(problem(stale, StatusCode::PRECONDITION_FAILED).await["code"], "precondition_failed");
    let current: Value = app.get(&path, Some(token)).await.json().await.unwrap();
    assert_eq!(current["display_name"], "New Name");

    // A role change ended the user's sessions: their old token (with old roles) no longer works.
    problem(app.get("/api/v1/me", Some(&worker.access_token)).await, StatusCode::UNAUTHORIZED).await;

    let invalid = app.patch_json(&path, token, Some("\"2\""), &json!({"roles": ["police_liaison"]})).await;
    assert_eq!(problem(invalid, StatusCode::UNPROCESSABLE_ENTITY).await["errors"][0]["field"], "division_id");
}

#[tokio::test]
async fn two_concurrent_updates_with_one_etag_let_exactly_one_win() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let path = format!("/api/v1/users/{}", worker.user_id);
    let (body_a, body_b) = (json!({"display_name": "Writer A"}), json!({"display_name": "Writer B"}));
    let (a, b) = tokio::join!(
        app.patch_json(&path, &agency.admin.access_token, Some("\"1\""), &body_a),
        app.patch_json(&path, &agency.admin.access_token, Some("\"1\""), &body_b),
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 412]);
}
