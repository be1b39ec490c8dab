//! Passwords: changing one's own (the others' sessions end, the old password stops at once), reset
//! codes issued by an admin (or a supervisor for a supervisor) and redeemed once, within a day, by
//! the user; the throttle counts every password and code checked; codes are never at rest.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, problem, spawn_app};

const NEW_PASSWORD: &str = "a longer passphrase of mine";

async fn change(app: &TestApp, token: &str, current: &str, new: &str) -> reqwest::Response {
    app.post_json("/api/v1/me/password", Some(token), &json!({"current_password": current, "new_password": new})).await
}

async fn redeem(app: &TestApp, tenant: &str, email: &str, code: &str, new: &str) -> reqwest::Response {
    let body = json!({"tenant": tenant, "email": email, "reset_code": code, "new_password": new});
    app.post_json("/api/v1/auth/password-reset", None, &body).await
}

#[tokio::test]
async fn a_user_changes_their_password_and_every_other_session_ends() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let elsewhere = app.login(&agency.slug, &worker.email, PASSWORD).await;

    // Refusals change nothing.
    let wrong = problem(
        change(&app, &worker.access_token, "not my password!!", NEW_PASSWORD).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(wrong["errors"][0]["field"], "current_password");
    let same =
        problem(change(&app, &worker.access_token, PASSWORD, PASSWORD).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(same["errors"][0]["field"], "new_password");
    let short =
        problem(change(&app, &worker.access_token, PASSWORD, "too short").await, StatusCode::UNPROCESSABLE_ENTITY)
            .await;
    assert_eq!(short["errors"][0]["field"], "new_password");
    assert_eq!(app.get("/api/v1/me", Some(&elsewhere.access_token)).await.status(), StatusCode::OK);

    let changed = change(&app, &worker.access_token, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/v1/me", Some(&worker.access_token)).await.status(),
        StatusCode::OK,
        "this session goes on"
    );
    assert_eq!(
        app.get("/api/v1/me", Some(&elsewhere.access_token)).await.status(),
        StatusCode::UNAUTHORIZED,
        "every other session ends"
    );
    let refreshed =
        app.post_json("/api/v1/auth/refresh", None, &json!({"refresh_token": elsewhere.refresh_token})).await;
    assert_eq!(refreshed.status(), StatusCode::UNAUTHORIZED, "and its refresh token with it");
    assert_eq!(app.login_raw(&agency.slug, &worker.email, PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    app.login(&agency.slug, &worker.email, NEW_PASSWORD).await;

    let actions = audit_actions(&app, &agency.admin.access_token).await;
    assert!(actions.contains(&"user.password_changed".to_owned()), "{actions:?}");
}

#[tokio::test]
async fn guessing_the_current_password_is_throttled_like_a_sign_in() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    // A stolen access token does not give unlimited guesses at the password behind it.
    let mut statuses = Vec::new();
    for i in 0..7 {
        statuses.push(change(&app, &worker.access_token, &format!("guess number {i}!"), NEW_PASSWORD).await.status());
    }
    assert_eq!(&statuses[..5], &[StatusCode::UNPROCESSABLE_ENTITY; 5], "{statuses:?}");
    assert_eq!(&statuses[5..], &[StatusCode::TOO_MANY_REQUESTS; 2], "{statuses:?}");
    // The right password is refused too while the window lasts, and at sign-in as well.
    assert_eq!(
        change(&app, &worker.access_token, PASSWORD, NEW_PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(app.login_raw(&agency.slug, &worker.email, PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);
}

async fn issue(app: &TestApp, token: &str, user: &str) -> reqwest::Response {
    app.post_json(&format!("/api/v1/users/{user}/password-reset"), Some(token), &json!({})).await
}

async fn audit_actions(app: &TestApp, admin_token: &str) -> Vec<String> {
    let events: Value = app.get("/api/v1/audit-events?limit=200", Some(admin_token)).await.json().await.unwrap();
    events["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_supervisor_issues_a_reset_code_the_worker_redeems_once() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let supervisor = app.create_user(&agency, &["supervisor"]).await;
    let signed_in = app.login(&agency.slug, &worker.email, PASSWORD).await;

    let issued = issue(&app, &supervisor.access_token, &worker.user_id.to_string()).await;
    assert_eq!(issued.status(), StatusCode::CREATED);
    assert!(issued.headers().get("location").is_some());
    let issued: Value = issued.json().await.unwrap();
    let code = issued["reset_code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 19, "{code}");
    let expires: chrono::DateTime<chrono::Utc> = issued["expires_at"].as_str().unwrap().parse().unwrap();
    let hours = (expires - chrono::Utc::now()).num_minutes() as f64 / 60.0;
    assert!((23.9..=24.0).contains(&hours), "valid 24 hours: {hours}");
    // Issuing does not lock the user out: they may be mid-shift.
    assert_eq!(app.get("/api/v1/me", Some(&signed_in.access_token)).await.status(), StatusCode::OK);

    // Wrong codes, another account's email, the current password: refused, nothing changes.
    // The last character changed (to another of the alphabet, whatever it was).
    let typo = format!("{}{}", &code[..18], if code.ends_with('X') { 'Y' } else { 'X' });
    assert_eq!(redeem(&app, &agency.slug, &worker.email, &typo, NEW_PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    let admin_email = agency.admin.email.clone();
    assert_eq!(redeem(&app, &agency.slug, &admin_email, &code, NEW_PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    let current = redeem(&app, &agency.slug, &worker.email, &code, PASSWORD).await;
    assert_eq!(problem(current, StatusCode::UNPROCESSABLE_ENTITY).await["errors"][0]["field"], "new_password");

    // Typed as a person would: lower case, spaces for hyphens.
    let typed = code.to_lowercase().replace('-', " ");
    let redeemed =
        redeem(&app, &format!(" {} ", agency.slug.to_uppercase()), &worker.email, &typed, NEW_PASSWORD).await;
    assert_eq!(redeemed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/v1/me", Some(&signed_in.access_token)).await.status(),
        StatusCode::UNAUTHORIZED,
        "sessions end"
    );
    assert_eq!(app.login_raw(&agency.slug, &worker.email, PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    app.login(&agency.slug, &worker.email, NEW_PASSWORD).await;
    // Single use.
    let again = redeem(&app, &agency.slug, &worker.email, &code, "yet another passphrase").await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);

    // A newer code replaces an older one.
    let first: Value = issue(&app, &supervisor.access_token, &worker.user_id.to_string()).await.json().await.unwrap();
    let second: Value = issue(&app, &supervisor.access_token, &worker.user_id.to_string()).await.json().await.unwrap();
    let old = first["reset_code"].as_str().unwrap();
    assert_eq!(
        redeem(&app, &agency.slug, &worker.email, old, "a third passphrase here").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let new = second["reset_code"].as_str().unwrap();
    assert_eq!(
        redeem(&app, &agency.slug, &worker.email, new, "a third passphrase here").await.status(),
        StatusCode::NO_CONTENT
    );

    let actions = audit_actions(&app, &agency.admin.access_token).await;
    for action in ["user.password_reset_issued", "user.password_reset", "auth.password_reset_failed"] {
        assert!(actions.contains(&action.to_owned()), "{action} in {actions:?}");
    }
}

#[tokio::test]
async fn who_may_issue_a_reset_for_whom() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let supervisor = app.create_user(&agency, &["supervisor"]).await;
    let other_supervisor = app.create_user(&agency, &["supervisor"]).await;
    let liaison = app.create_user(&agency, &["police_liaison"]).await;
    let admin = &agency.admin.access_token;
    let id = |s: &crate::helpers::Session| s.user_id.to_string();

    // An admin could redeem a case worker's code and read the restricted cases assigned to them,
    // which admins may not: refused. A supervisor, who sees every case already, issues those.
    assert_eq!(issue(&app, admin, &id(&worker)).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(issue(&app, admin, &id(&supervisor)).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(issue(&app, &other_supervisor.access_token, &id(&supervisor)).await.status(), StatusCode::CREATED);
    assert_eq!(issue(&app, &supervisor.access_token, &id(&worker)).await.status(), StatusCode::CREATED);
    // The admin resets those who work no cases; a supervisor does not.
    assert_eq!(issue(&app, admin, &id(&liaison)).await.status(), StatusCode::CREATED);
    assert_eq!(issue(&app, &supervisor.access_token, &id(&liaison)).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(issue(&app, &worker.access_token, &id(&liaison)).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        issue(&app, admin, &agency.admin.user_id.to_string()).await.status(),
        StatusCode::FORBIDDEN,
        "not one's own"
    );
    // Another agency's admin or supervisor: as if the user did not exist.
    let other = app.create_agency().await;
    assert_eq!(issue(&app, &other.admin.access_token, &id(&liaison)).await.status(), StatusCode::NOT_FOUND);
    let their_supervisor = app.create_user(&other, &["supervisor"]).await;
    assert_eq!(issue(&app, &their_supervisor.access_token, &id(&worker)).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(issue(&app, admin, &uuid::Uuid::now_v7().to_string()).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn guessing_reset_codes_is_throttled_and_codes_are_never_at_rest() {
    let app = spawn_app().await;
    let mark = crate::at_rest::WalMark::now();
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let supervisor = app.create_user(&agency, &["supervisor"]).await;
    let issued: Value = issue(&app, &supervisor.access_token, &worker.user_id.to_string()).await.json().await.unwrap();
    let code = issued["reset_code"].as_str().unwrap().to_owned();

    // The code is nowhere the database keeps bytes (only its keyed hash), the audit log included.
    let plain = code.replace('-', "");
    let sources = crate::at_rest::sources(&app, &mark);
    crate::at_rest::assert_no_canaries(&sources, &worker.email, &[code.as_str(), plain.as_str()]);

    let mut statuses = Vec::new();
    for i in 0..6 {
        let guess = format!("0000-0000-0000-000{i}");
        statuses.push(redeem(&app, &agency.slug, &worker.email, &guess, NEW_PASSWORD).await.status());
    }
    assert_eq!(&statuses[..5], &[StatusCode::UNAUTHORIZED; 5], "{statuses:?}");
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS);
    // Even the right code waits for the window: the throttle decides before any check.
    assert_eq!(
        redeem(&app, &agency.slug, &worker.email, &code, NEW_PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}
