//! What a sign-in must finish first (`domain::sign_in`): a password someone else set is changed
//! before anything else, a tenant that requires a second factor makes its users enrol one, and the
//! token either step answers with reaches nothing else. The tenant's policy is set by a platform
//! admin for any tenant and by the tenant's own admin for theirs.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{INITIAL_PASSWORD, PASSWORD, TestApp, problem, spawn_app, unique_slug};

async fn login_body(app: &TestApp, tenant: &str, email: &str, password: &str) -> Value {
    let response = app.login_raw(tenant, email, password).await;
    assert_eq!(response.status(), StatusCode::OK, "login of {email}");
    response.json().await.unwrap()
}

/// A new agency as `POST /tenants` makes one by default (a second factor required), with its
/// admin's email.
async fn agency_with_default_policy(app: &TestApp) -> (String, String, Value) {
    let platform = app.platform_admin().await;
    let slug = unique_slug("policy");
    let email = format!("admin@{slug}.example");
    let body = json!({"slug": slug, "name": "Default policy", "kind": "agency",
                      "admin": {"email": email, "display_name": "Admin", "password": INITIAL_PASSWORD}});
    let tenant: Value = app.post("/api/v1/tenants", Some(&platform.access_token), &body, StatusCode::CREATED).await;
    (slug, email, tenant)
}

#[tokio::test]
async fn a_password_set_by_someone_else_is_changed_at_first_sign_in_and_nothing_else_is_reachable() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let email = format!("new@{}.example", agency.slug);
    let body = json!({"email": email, "display_name": "New", "roles": ["case_manager"], "password": INITIAL_PASSWORD});
    app.post::<Value>("/api/v1/users", Some(&agency.admin.access_token), &body, StatusCode::CREATED).await;

    let setup = login_body(&app, &agency.slug, &email, INITIAL_PASSWORD).await;
    assert_eq!((&setup["password_change_required"], &setup["mfa_enrolment_required"]), (&json!(true), &json!(false)));
    assert!(setup.get("refresh_token").is_none(), "nothing to refresh: {setup}");
    let token = setup["access_token"].as_str().unwrap();
    let me: Value = app.get_as("/api/v1/me", Some(token), StatusCode::OK).await;
    assert_eq!(me["email"], email.as_str());
    for path in ["/api/v1/cases", "/api/v1/clients", "/api/v1/me/sessions", "/api/v1/referrals"] {
        let refused = problem(app.get(path, Some(token)).await, StatusCode::FORBIDDEN).await;
        assert_eq!(refused["code"], "password_change_required", "{path}");
    }
    let enrol = problem(app.post_json("/api/v1/me/mfa/totp", Some(token), &json!({})).await, StatusCode::FORBIDDEN);
    assert_eq!(enrol.await["code"], "password_change_required", "enrolment waits for the user's own password");
    let same = json!({"current_password": INITIAL_PASSWORD, "new_password": INITIAL_PASSWORD});
    problem(app.post_json("/api/v1/me/password", Some(token), &same).await, StatusCode::UNPROCESSABLE_ENTITY).await;

    let change = json!({"current_password": INITIAL_PASSWORD, "new_password": PASSWORD});
    assert_eq!(app.post_json("/api/v1/me/password", Some(token), &change).await.status(), StatusCode::NO_CONTENT);
    problem(app.get("/api/v1/me", Some(token)).await, StatusCode::UNAUTHORIZED).await;
    problem(app.login_raw(&agency.slug, &email, INITIAL_PASSWORD).await, StatusCode::UNAUTHORIZED).await;
    let session = app.login(&agency.slug, &email, PASSWORD).await;
    app.get_as::<Value>("/api/v1/cases", Some(&session.access_token), StatusCode::OK).await;

    // The audit log says which sign-ins were setups.
    let events: Value =
        app.get_as("/api/v1/audit-events?limit=200", Some(&agency.admin.access_token), StatusCode::OK).await;
    let setups = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "auth.login_succeeded" && e["details"]["setup"] == "password_change")
        .count();
    assert_eq!(setups, 2, "the admin's first sign-in and the new user's");
}

#[tokio::test]
async fn a_new_tenant_requires_a_second_factor_which_its_admin_enrols_at_first_sign_in() {
    let app = spawn_app().await;
    let (slug, email, tenant) = agency_with_default_policy(&app).await;
    assert_eq!(tenant["mfa_required"], true, "the default: {tenant}");

    let setup = app.first_sign_in(&slug, &email, INITIAL_PASSWORD).await;
    assert_eq!((&setup["password_change_required"], &setup["mfa_enrolment_required"]), (&json!(false), &json!(true)));
    assert!(setup.get("refresh_token").is_none());
    let token = setup["access_token"].as_str().unwrap();
    app.get_as::<Value>("/api/v1/me", Some(token), StatusCode::OK).await;
    for path in ["/api/v1/users", "/api/v1/cases", "/api/v1/audit-events"] {
        let refused = problem(app.get(path, Some(token)).await, StatusCode::FORBIDDEN).await;
        assert_eq!(refused["code"], "mfa_enrolment_required", "{path}");
    }
    let change = json!({"current_password": PASSWORD, "new_password": "yet another passphrase"});
    let refused = problem(app.post_json("/api/v1/me/password", Some(token), &change).await, StatusCode::FORBIDDEN);
    assert_eq!(refused.await["code"], "mfa_enrolment_required");

    let (session, codes) = app.enrol_then_sign_in(&slug, &email, &setup).await;
    assert_eq!(codes.len(), 9);
    problem(app.get("/api/v1/me", Some(token)).await, StatusCode::UNAUTHORIZED).await;
    app.get_as::<Value>("/api/v1/users", Some(&session.access_token), StatusCode::OK).await;
    let again = login_body(&app, &slug, &email, PASSWORD).await;
    assert_eq!(again["mfa_required"], true, "from now on the password alone is not enough");
}

#[tokio::test]
async fn an_agency_admin_sets_their_own_policy_and_a_platform_admin_any_but_the_platforms() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let other = app.create_agency().await;
    let supervisor = app.create_user(&agency, &["supervisor"]).await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let path = format!("/api/v1/tenants/{}", agency.id);
    let admin = &agency.admin.access_token;

    let read = app.get(&path, Some(admin)).await;
    assert_eq!(read.status(), StatusCode::OK);
    let etag = read.headers().get("etag").unwrap().to_str().unwrap().to_owned();
    let current: Value = read.json().await.unwrap();
    assert_eq!(current["mfa_required"], false);
    let on = json!({"mfa_required": true});
    problem(app.patch_json(&path, admin, None, &on).await, StatusCode::PRECONDITION_REQUIRED).await;
    for (who, token) in
        [("a supervisor", &supervisor.access_token), ("another agency's admin", &other.admin.access_token)]
    {
        let refused = app.patch_json(&path, token, Some(&etag), &on).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{who}");
        assert_eq!(app.get(&path, Some(token)).await.status(), StatusCode::FORBIDDEN, "{who} reads it");
    }
    let updated = app.patch_json(&path, admin, Some(&etag), &on).await;
    assert_eq!(updated.status(), StatusCode::OK);
    let updated: Value = updated.json().await.unwrap();
    assert_eq!((&updated["mfa_required"], &updated["version"]), (&json!(true), &json!(2)));
    problem(app.patch_json(&path, admin, Some(&etag), &on).await, StatusCode::PRECONDITION_FAILED).await;

    // A session already open goes on; the worker's next sign-in may only enrol.
    app.get_as::<Value>("/api/v1/cases", Some(&worker.access_token), StatusCode::OK).await;
    let next = login_body(&app, &agency.slug, &worker.email, PASSWORD).await;
    assert_eq!(next["mfa_enrolment_required"], true, "{next}");

    // The platform admin sets any tenant's, but never turns the platform's off.
    let platform = app.platform_admin().await;
    let other_path = format!("/api/v1/tenants/{}", other.id);
    let off: Value = app
        .patch_json(&other_path, &platform.access_token, Some("\"1\""), &json!({"mfa_required": true}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(off["mfa_required"], true);
    let me: Value = app.get_as("/api/v1/me", Some(&platform.access_token), StatusCode::OK).await;
    let platform_path = format!("/api/v1/tenants/{}", me["tenant"]["id"].as_str().unwrap());
    let read: Value = app.get_as(&platform_path, Some(&platform.access_token), StatusCode::OK).await;
    assert_eq!(read["mfa_required"], true, "the platform's admins always need a second factor");
    let version = format!("\"{}\"", read["version"]);
    let off = json!({"mfa_required": false});
    let refused = app.patch_json(&platform_path, &platform.access_token, Some(&version), &off).await;
    assert_eq!(problem(refused, StatusCode::UNPROCESSABLE_ENTITY).await["errors"][0]["field"], "mfa_required");
    // Both logs say so: the agency's (by the platform) and the platform's.
    let events: Value =
        app.get_as("/api/v1/audit-events?limit=200", Some(&other.admin.access_token), StatusCode::OK).await;
    assert!(
        events["items"].as_array().unwrap().iter().any(|e| e["action"] == "tenant.policy_changed"),
        "the agency's log holds the change the platform made"
    );
}

#[tokio::test]
async fn the_demo_says_how_to_sign_in_under_its_policy_and_it_works() {
    let app = crate::helpers::spawn_app_alone("demo_sign_in", |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    api::demo::seed_demo(&app.state.db, &app.state.keyring, dir.path()).await.unwrap();
    let text = std::fs::read_to_string(dir.path().join(api::demo::DEMO_PASSWORDS_FILE)).unwrap();
    for words in ["password_change_required", "POST /api/v1/me/password", "do not require a second factor"] {
        assert!(text.contains(words), "the demo's note says {words:?}:\n{text}");
    }
    let line = text.lines().find(|l| l.contains("admin@demo-agency.example")).unwrap();
    let password = line.split_whitespace().last().unwrap();
    let setup = app.first_sign_in("demo-agency", "admin@demo-agency.example", password).await;
    assert!(setup["refresh_token"].is_string(), "the demo's policy: a password is enough: {setup}");
    // A second start adds nothing and says where the passwords went.
    api::demo::seed_demo(&app.state.db, &app.state.keyring, dir.path()).await.unwrap();
}
