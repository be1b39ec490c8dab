//! Multi-factor sign-in with an authenticator (TOTP): enrolment, confirmation with recovery codes,
//! the second step of a sign-in, codes accepted once, tokens bound to their user, throttling,
//! removal, and the secret and codes nowhere at rest.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Session, TestApp, problem, spawn_app};

fn now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap()
}

/// The code an app shows for `secret` at `offset` seconds from now.
fn code(secret: &str, offset: u64) -> String {
    infra::auth::totp::code_from_base32(secret, now() + offset).unwrap()
}

/// Enrols and confirms an authenticator for `who`; its secret and the recovery codes. The code of
/// the current step is spent: the next sign-in uses the next step's (within the skew).
async fn enrolled(app: &TestApp, who: &Session) -> (String, Vec<String>) {
    let enrolment: Value =
        app.post("/api/v1/me/mfa/totp", Some(&who.access_token), &json!({}), StatusCode::CREATED).await;
    let secret = enrolment["secret"].as_str().unwrap().to_owned();
    let confirmed: Value = app
        .post(
            "/api/v1/me/mfa/totp/confirm",
            Some(&who.access_token),
            &json!({"code": code(&secret, 0)}),
            StatusCode::OK,
        )
        .await;
    let codes =
        confirmed["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    (secret, codes)
}

async fn first_step(app: &TestApp, slug: &str, email: &str) -> Value {
    let response = app.login_raw(slug, email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn second_step(app: &TestApp, mfa_token: &str, code: &str) -> reqwest::Response {
    app.post_json("/api/v1/auth/mfa", None, &json!({"mfa_token": mfa_token, "code": code})).await
}

#[tokio::test]
async fn a_user_enrols_and_signs_in_with_a_code_from_the_authenticator() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;

    let enrolment: Value =
        app.post("/api/v1/me/mfa/totp", Some(&worker.access_token), &json!({}), StatusCode::CREATED).await;
    let secret = enrolment["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 32, "160 bits in base32");
    let uri = enrolment["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/VCAO%20Platform:") && uri.contains(&format!("secret={secret}")), "{uri}");
    // Not confirmed yet: a sign-in still gives tokens.
    assert!(first_step(&app, &agency.slug, &worker.email).await["access_token"].is_string());

    let wrong =
        app.post_json("/api/v1/me/mfa/totp/confirm", Some(&worker.access_token), &json!({"code": "000000"})).await;
    assert_eq!(problem(wrong, StatusCode::UNPROCESSABLE_ENTITY).await["errors"][0]["field"], "code");
    let now_code = code(&secret, 0);
    let confirmed: Value = app
        .post("/api/v1/me/mfa/totp/confirm", Some(&worker.access_token), &json!({"code": now_code}), StatusCode::OK)
        .await;
    assert_eq!(confirmed["recovery_codes"].as_array().unwrap().len(), 10);
    let again = app.post_json("/api/v1/me/mfa/totp", Some(&worker.access_token), &json!({})).await;
    assert_eq!(again.status(), StatusCode::CONFLICT, "confirmed: remove it before enrolling another");

    let challenge = first_step(&app, &agency.slug, &worker.email).await;
    assert_eq!(challenge["mfa_required"], true);
    assert_eq!(challenge["methods"], json!(["totp"]));
    assert!(challenge.get("access_token").is_none() && challenge.get("refresh_token").is_none(), "{challenge}");
    let token = challenge["mfa_token"].as_str().unwrap();
    assert_eq!(second_step(&app, token, "123456").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        second_step(&app, token, &now_code).await.status(),
        StatusCode::UNAUTHORIZED,
        "the confirmation's code is spent"
    );
    // The next step's code, kept: computed again later it could be the step after.
    let next_code = code(&secret, 30);
    let signed_in = second_step(&app, token, &next_code).await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    let tokens: Value = signed_in.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(app.get("/api/v1/me", Some(access)).await.status(), StatusCode::OK);
    // The mfa_token works once, and so does the code.
    assert_eq!(second_step(&app, token, &next_code).await.status(), StatusCode::UNAUTHORIZED);
    let next = first_step(&app, &agency.slug, &worker.email).await;
    let replay = second_step(&app, next["mfa_token"].as_str().unwrap(), &next_code).await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED, "a code is accepted once");

    let events: Value =
        app.get_as("/api/v1/audit-events?limit=200", Some(&agency.admin.access_token), StatusCode::OK).await;
    let actions: Vec<&str> =
        events["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for action in ["user.mfa_enrolled", "auth.mfa_challenged", "auth.mfa_failed"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}

#[tokio::test]
async fn recovery_codes_work_once_and_an_mfa_token_only_for_its_own_user() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let colleague = app.create_user(&agency, &["case_manager"]).await;
    let (_, codes) = enrolled(&app, &worker).await;
    let (_, their_codes) = enrolled(&app, &colleague).await;

    // A colleague's mfa_token with my recovery code, and mine with theirs: refused.
    let theirs = first_step(&app, &agency.slug, &colleague.email).await;
    let mine = first_step(&app, &agency.slug, &worker.email).await;
    let (their_token, my_token) = (theirs["mfa_token"].as_str().unwrap(), mine["mfa_token"].as_str().unwrap());
    assert_eq!(second_step(&app, their_token, &codes[0]).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(second_step(&app, my_token, &their_codes[0]).await.status(), StatusCode::UNAUTHORIZED);
    // An mfa_token bent to name another tenant.
    let other = app.create_agency().await;
    let bent = my_token.replacen(&agency.id.simple().to_string(), &other.id.simple().to_string(), 1);
    assert_ne!(bent, my_token);
    assert_eq!(second_step(&app, &bent, &codes[0]).await.status(), StatusCode::UNAUTHORIZED);
    // A token naming a tenant that does not exist: refused before any key is looked up.
    let nobody = uuid::Uuid::now_v7().simple().to_string();
    let invented = my_token.replacen(&agency.id.simple().to_string(), &nobody, 1);
    assert_eq!(second_step(&app, &invented, &codes[0]).await.status(), StatusCode::UNAUTHORIZED);

    // Typed as a person would, a recovery code signs in, once.
    let typed = codes[0].to_lowercase().replace('-', " ");
    assert_eq!(second_step(&app, my_token, &typed).await.status(), StatusCode::OK);
    let next = first_step(&app, &agency.slug, &worker.email).await;
    let next_token = next["mfa_token"].as_str().unwrap();
    assert_eq!(second_step(&app, next_token, &codes[0]).await.status(), StatusCode::UNAUTHORIZED, "spent");
    assert_eq!(second_step(&app, next_token, &codes[1]).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_second_step_is_throttled_like_a_sign_in() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let (_, codes) = enrolled(&app, &worker).await;
    let challenge = first_step(&app, &agency.slug, &worker.email).await;
    let token = challenge["mfa_token"].as_str().unwrap();
    let mut statuses = Vec::new();
    for guess in ["111111", "222222", "333333", "444444", "555555", "666666"] {
        statuses.push(second_step(&app, token, guess).await.status());
    }
    assert_eq!(&statuses[..5], &[StatusCode::UNAUTHORIZED; 5], "{statuses:?}");
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        second_step(&app, token, &codes[0]).await.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right code"
    );
}

#[tokio::test]
async fn removing_the_authenticator_needs_a_current_code() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let (secret, _) = enrolled(&app, &worker).await;
    let remove = |code: String| {
        app.client
            .delete(app.url("/api/v1/me/mfa/totp"))
            .bearer_auth(&worker.access_token)
            .json(&json!({"code": code}))
            .send()
    };
    assert_eq!(remove("000000".to_owned()).await.unwrap().status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(remove(code(&secret, 30)).await.unwrap().status(), StatusCode::NO_CONTENT);
    assert!(
        first_step(&app, &agency.slug, &worker.email).await["access_token"].is_string(),
        "the password alone again"
    );
    assert_eq!(remove(code(&secret, 30)).await.unwrap().status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_secret_and_the_recovery_codes_are_nowhere_at_rest() {
    let app = spawn_app().await;
    let mark = crate::at_rest::WalMark::now();
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let (secret, codes) = enrolled(&app, &worker).await;
    let plain: Vec<String> = codes.iter().map(|c| c.replace('-', "")).collect();
    let mut canaries: Vec<&str> = vec![secret.as_str()];
    canaries.extend(codes.iter().map(String::as_str));
    canaries.extend(plain.iter().map(String::as_str));
    let sources = crate::at_rest::sources(&app, &mark);
    crate::at_rest::assert_no_canaries(&sources, &worker.email, &canaries);
}

#[tokio::test]
async fn a_supervisor_removes_a_workers_lost_authenticator() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let supervisor = app.create_user(&agency, &["supervisor"]).await;
    enrolled(&app, &worker).await;
    let path = format!("/api/v1/users/{}/mfa", worker.user_id);
    let remove = |token: String| app.client.delete(app.url(&path)).bearer_auth(token).send();

    // The admin could then reset the worker's password and read their restricted cases: refused.
    assert_eq!(remove(agency.admin.access_token.clone()).await.unwrap().status(), StatusCode::FORBIDDEN);
    let other = app.create_agency().await;
    let their_supervisor = app.create_user(&other, &["supervisor"]).await;
    assert_eq!(remove(their_supervisor.access_token.clone()).await.unwrap().status(), StatusCode::NOT_FOUND);
    assert!(first_step(&app, &agency.slug, &worker.email).await["mfa_required"] == true);

    assert_eq!(remove(supervisor.access_token.clone()).await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/v1/me", Some(&worker.access_token)).await.status(),
        StatusCode::UNAUTHORIZED,
        "sessions end"
    );
    assert!(
        first_step(&app, &agency.slug, &worker.email).await["access_token"].is_string(),
        "the password alone again"
    );
    assert_eq!(remove(supervisor.access_token.clone()).await.unwrap().status(), StatusCode::NOT_FOUND, "none left");
}
