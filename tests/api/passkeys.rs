//! Passkeys (WebAuthn) as a second factor, driven by a software authenticator (kanidm's
//! `SoftPasskey`, which signs as a platform authenticator would): registration, sign-in with it,
//! each challenge answered once, answers bound to this origin and to the user's own passkeys,
//! enrolment under the tenant's policy, and removal.

use reqwest::StatusCode;
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use crate::helpers::{PASSWORD, Session, TestApp, problem, spawn_app};

/// The origin the test service is configured for (`VCAO_WEBAUTHN_ORIGIN`'s default).
const ORIGIN: &str = "http://localhost:8080";

type Authenticator = WebauthnAuthenticator<SoftPasskey>;

fn authenticator() -> Authenticator {
    // `true`: the key says the user was verified (a PIN or a fingerprint), as a passkey must.
    WebauthnAuthenticator::new(SoftPasskey::new(true))
}

fn origin(url: &str) -> Url {
    Url::parse(url).unwrap()
}

/// The browser's answer to a registration's options, made by `key` at `at`.
async fn registration_answer(app: &TestApp, token: &str, key: &mut Authenticator, at: &str) -> Value {
    let options: Value =
        app.post("/api/v1/me/mfa/webauthn/registration", Some(token), &json!({}), StatusCode::OK).await;
    let options: CreationChallengeResponse =
        serde_json::from_value(json!({"publicKey": options["publicKey"]})).unwrap();
    serde_json::to_value(key.do_registration(origin(at), options).unwrap()).unwrap()
}

/// Registers a passkey made by `key` for the holder of `token`; the answer.
async fn register(app: &TestApp, token: &str, key: &mut Authenticator) -> Value {
    let credential = registration_answer(app, token, key, ORIGIN).await;
    let body = json!({"credential": credential});
    app.post("/api/v1/me/mfa/webauthn/registration/finish", Some(token), &body, StatusCode::CREATED).await
}

/// A sign-in's first step: its `mfa_token`, after checking it offers `webauthn`.
async fn mfa_token(app: &TestApp, slug: &str, email: &str) -> String {
    let challenge: Value = app.login_raw(slug, email, PASSWORD).await.json().await.unwrap();
    assert_eq!(challenge["mfa_required"], true, "{challenge}");
    assert!(challenge["methods"].as_array().unwrap().contains(&json!("webauthn")), "{challenge}");
    challenge["mfa_token"].as_str().unwrap().to_owned()
}

/// The browser's answer to a sign-in's options, made by `key`.
async fn sign_in_answer(app: &TestApp, mfa_token: &str, key: &mut Authenticator) -> Value {
    let options: Value =
        app.post("/api/v1/auth/mfa/webauthn/options", None, &json!({"mfa_token": mfa_token}), StatusCode::OK).await;
    let options: RequestChallengeResponse = serde_json::from_value(json!({"publicKey": options["publicKey"]})).unwrap();
    serde_json::to_value(key.do_authentication(origin(ORIGIN), options).unwrap()).unwrap()
}

async fn complete(app: &TestApp, mfa_token: &str, credential: &Value) -> reqwest::Response {
    app.post_json("/api/v1/auth/mfa/webauthn", None, &json!({"mfa_token": mfa_token, "credential": credential})).await
}

#[tokio::test]
async fn a_worker_registers_a_passkey_and_signs_in_with_it_each_answer_once() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let mut key = authenticator();

    let registered = register(&app, &worker.access_token, &mut key).await;
    assert_eq!(registered["recovery_codes"].as_array().unwrap().len(), 10, "the first factor comes with codes");
    let listed: Value =
        app.get_as("/api/v1/me/mfa/webauthn/passkeys", Some(&worker.access_token), StatusCode::OK).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["items"][0]["id"], registered["id"]);
    assert_eq!(listed["items"][0]["last_used_at"], Value::Null);

    let token = mfa_token(&app, &agency.slug, &worker.email).await;
    let answer = sign_in_answer(&app, &token, &mut key).await;
    let signed_in = complete(&app, &token, &answer).await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    let tokens: Value = signed_in.json().await.unwrap();
    let session = app.session_from(&tokens, &worker.email).await;
    app.get_as::<Value>("/api/v1/cases", Some(&session.access_token), StatusCode::OK).await;
    // Replayed: the token and the challenge are spent.
    problem(complete(&app, &token, &answer).await, StatusCode::UNAUTHORIZED).await;
    // An answer to an earlier challenge does not answer a later one.
    let token = mfa_token(&app, &agency.slug, &worker.email).await;
    let stale = sign_in_answer(&app, &token, &mut key).await;
    let _fresh = sign_in_answer(&app, &token, &mut key).await;
    problem(complete(&app, &token, &stale).await, StatusCode::UNAUTHORIZED).await;
    // A recovery code stands in for the passkey.
    let token = mfa_token(&app, &agency.slug, &worker.email).await;
    let code = registered["recovery_codes"][0].as_str().unwrap();
    let by_code = app.post_json("/api/v1/auth/mfa", None, &json!({"mfa_token": token, "code": code})).await;
    assert_eq!(by_code.status(), StatusCode::OK);
    let listed: Value =
        app.get_as("/api/v1/me/mfa/webauthn/passkeys", Some(&session.access_token), StatusCode::OK).await;
    assert!(listed["items"][0]["last_used_at"].is_string(), "{listed}");
}

#[tokio::test]
async fn answers_from_another_origin_or_another_users_passkey_are_refused() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let ana = app.create_user(&agency, &["case_manager"]).await;
    let ben = app.create_user(&agency, &["case_manager"]).await;
    let (mut anas, mut bens_key) = (authenticator(), authenticator());

    // A page of another origin of the relying party's host (another application on another port)
    // asked the authenticator: the browser says so in the answer, and it is refused. (A page of an
    // unrelated site cannot even ask: the authenticator refuses it, as a browser does.)
    let phished = registration_answer(&app, &ana.access_token, &mut anas, "http://localhost:9090").await;
    let refused = app
        .post_json(
            "/api/v1/me/mfa/webauthn/registration/finish",
            Some(&ana.access_token),
            &json!({"credential": phished}),
        )
        .await;
    assert_eq!(problem(refused, StatusCode::UNPROCESSABLE_ENTITY).await["errors"][0]["field"], "credential");
    // The challenge was spent by that answer; junk is refused as clearly.
    let junk = json!({"credential": {"id": "x", "rawId": "x", "type": "public-key", "response": {}}});
    let spent = app.post_json("/api/v1/me/mfa/webauthn/registration/finish", Some(&ana.access_token), &junk).await;
    problem(spent, StatusCode::CONFLICT).await;
    register(&app, &ana.access_token, &mut anas).await;
    register(&app, &ben.access_token, &mut bens_key).await;

    // Ben's passkey cannot finish Ana's sign-in, even signing the very challenge Ana's sign-in got.
    let token = mfa_token(&app, &agency.slug, &ana.email).await;
    let options: Value =
        app.post("/api/v1/auth/mfa/webauthn/options", None, &json!({"mfa_token": token}), StatusCode::OK).await;
    let mut options: RequestChallengeResponse =
        serde_json::from_value(json!({"publicKey": options["publicKey"]})).unwrap();
    let bens_token = mfa_token(&app, &agency.slug, &ben.email).await;
    let bens: Value =
        app.post("/api/v1/auth/mfa/webauthn/options", None, &json!({"mfa_token": bens_token}), StatusCode::OK).await;
    let bens: RequestChallengeResponse = serde_json::from_value(json!({"publicKey": bens["publicKey"]})).unwrap();
    options.public_key.allow_credentials = bens.public_key.allow_credentials;
    let by_ben = bens_key.do_authentication(origin(ORIGIN), options).expect("Ben's key signs what it is asked");
    problem(complete(&app, &token, &serde_json::to_value(by_ben).unwrap()).await, StatusCode::UNAUTHORIZED).await;
    // A user without a passkey is told to use a code.
    let carl = app.create_user(&agency, &["case_manager"]).await;
    let enrolment: Value =
        app.post("/api/v1/me/mfa/totp", Some(&carl.access_token), &json!({}), StatusCode::CREATED).await;
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap();
    let code = infra::auth::totp::code_from_base32(enrolment["secret"].as_str().unwrap(), now).unwrap();
    app.post::<Value>("/api/v1/me/mfa/totp/confirm", Some(&carl.access_token), &json!({"code": code}), StatusCode::OK)
        .await;
    let challenge: Value = app.login_raw(&agency.slug, &carl.email, PASSWORD).await.json().await.unwrap();
    assert_eq!(challenge["methods"], json!(["totp"]));
    let body = json!({"mfa_token": challenge["mfa_token"]});
    problem(app.post_json("/api/v1/auth/mfa/webauthn/options", None, &body).await, StatusCode::CONFLICT).await;
}

#[tokio::test]
async fn a_passkey_satisfies_the_tenants_policy_at_first_sign_in() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let path = format!("/api/v1/tenants/{}", agency.id);
    let on = json!({"mfa_required": true});
    assert_eq!(app.patch_json(&path, &agency.admin.access_token, Some("\"1\""), &on).await.status(), StatusCode::OK);

    let setup: Value = app.login_raw(&agency.slug, &worker.email, PASSWORD).await.json().await.unwrap();
    assert_eq!(setup["mfa_enrolment_required"], true, "{setup}");
    let restricted = setup["access_token"].as_str().unwrap();
    let mut key = authenticator();
    register(&app, restricted, &mut key).await;
    problem(app.get("/api/v1/me", Some(restricted)).await, StatusCode::UNAUTHORIZED).await;
    let token = mfa_token(&app, &agency.slug, &worker.email).await;
    let answer = sign_in_answer(&app, &token, &mut key).await;
    assert_eq!(complete(&app, &token, &answer).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn removing_the_last_passkey_takes_the_recovery_codes_with_it() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let mut key = authenticator();
    let registered = register(&app, &worker.access_token, &mut key).await;
    let path = format!("/api/v1/me/mfa/webauthn/passkeys/{}", registered["id"].as_str().unwrap());

    let wrong = remove(&app, &worker, &path, "not my password at all").await;
    assert_eq!(problem(wrong, StatusCode::UNPROCESSABLE_ENTITY).await["errors"][0]["field"], "current_password");
    let other = format!("/api/v1/me/mfa/webauthn/passkeys/{}", uuid::Uuid::now_v7());
    problem(remove(&app, &worker, &other, PASSWORD).await, StatusCode::NOT_FOUND).await;
    assert_eq!(remove(&app, &worker, &path, PASSWORD).await.status(), StatusCode::NO_CONTENT);
    let listed: Value =
        app.get_as("/api/v1/me/mfa/webauthn/passkeys", Some(&worker.access_token), StatusCode::OK).await;
    assert_eq!(listed["items"], json!([]));
    let tokens: Value = app.login_raw(&agency.slug, &worker.email, PASSWORD).await.json().await.unwrap();
    assert!(tokens["refresh_token"].is_string(), "the password alone again: {tokens}");
    // Another user's passkey is nobody else's to remove, and an admin removes a lost one with the rest.
    let other_worker = app.create_user(&agency, &["case_manager"]).await;
    let theirs = register(&app, &other_worker.access_token, &mut authenticator()).await;
    let theirs_path = format!("/api/v1/me/mfa/webauthn/passkeys/{}", theirs["id"].as_str().unwrap());
    problem(remove(&app, &worker, &theirs_path, PASSWORD).await, StatusCode::NOT_FOUND).await;
    let supervisor = app.create_user(&agency, &["supervisor"]).await;
    let lost = app
        .client
        .delete(app.url(&format!("/api/v1/users/{}/mfa", other_worker.user_id)))
        .bearer_auth(&supervisor.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(lost.status(), StatusCode::NO_CONTENT);
    let tokens: Value = app.login_raw(&agency.slug, &other_worker.email, PASSWORD).await.json().await.unwrap();
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
}

async fn remove(app: &TestApp, who: &Session, path: &str, password: &str) -> reqwest::Response {
    app.client
        .delete(app.url(path))
        .bearer_auth(&who.access_token)
        .json(&json!({"current_password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_passkey_is_sealed_at_rest() {
    let app = spawn_app().await;
    let mark = crate::at_rest::WalMark::now();
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let mut key = authenticator();
    let credential = registration_answer(&app, &worker.access_token, &mut key, ORIGIN).await;
    let id = credential["id"].as_str().unwrap().to_owned();
    let body = json!({"credential": credential});
    let registered: Value = app
        .post("/api/v1/me/mfa/webauthn/registration/finish", Some(&worker.access_token), &body, StatusCode::CREATED)
        .await;
    let codes: Vec<String> =
        registered["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    // The credential id ties the account to a device; in the stored JSON it is base64url.
    let mut canaries: Vec<&str> = vec![id.as_str()];
    canaries.extend(codes.iter().map(String::as_str));
    let sources = crate::at_rest::sources(&app, &mark);
    crate::at_rest::assert_no_canaries(&sources, &worker.email, &canaries);
}
