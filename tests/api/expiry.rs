//! What lives for a while stops when its time is up: a reset code after 24 hours, an `mfa_token`
//! after 5 minutes, a passkey ceremony after 5 minutes. Waiting that long is no test, so the rows'
//! `expires_at` are moved into the past in the database, as time would move them; everything else
//! goes through HTTP.

use reqwest::StatusCode;
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::prelude::{CreationChallengeResponse, Url};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use crate::helpers::{PASSWORD, TestApp, problem, spawn_app};

/// Moves every `expires_at` of `table` in the tenant a second into the past.
async fn expire(app: &TestApp, table: &str, tenant: uuid::Uuid) {
    use sea_orm::ConnectionTrait as _;
    use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, Query};
    let past = chrono::Utc::now() - chrono::Duration::seconds(1);
    let tx = infra::db::begin_tenant_tx_for(&app.state.db, domain::TenantId::from_uuid(tenant)).await.unwrap();
    let update = Query::update()
        .table(Alias::new(table))
        .value(Alias::new("expires_at"), past)
        .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant))
        .to_owned();
    let backend = tx.raw().get_database_backend();
    let changed = tx.raw().execute_raw(backend.build(&update)).await.unwrap();
    assert!(changed.rows_affected() > 0, "{table} had a row to age");
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn an_expired_reset_code_is_refused_like_a_wrong_one() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let supervisor = app.create_user(&agency, &["supervisor"]).await;
    let issued: Value = app
        .post(
            &format!("/api/v1/users/{}/password-reset", worker.user_id),
            Some(&supervisor.access_token),
            &json!({}),
            StatusCode::CREATED,
        )
        .await;
    expire(&app, "password_resets", agency.id).await;
    let body = json!({"tenant": agency.slug, "email": worker.email, "reset_code": issued["reset_code"], "new_password": "a new passphrase for me"});
    problem(app.post_json("/api/v1/auth/password-reset", None, &body).await, StatusCode::UNAUTHORIZED).await;
    app.login(&agency.slug, &worker.email, PASSWORD).await;
}

#[tokio::test]
async fn an_expired_mfa_token_is_refused_and_spends_no_recovery_code() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let enrolment: Value =
        app.post("/api/v1/me/mfa/totp", Some(&worker.access_token), &json!({}), StatusCode::CREATED).await;
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap();
    let code = infra::auth::totp::code_from_base32(enrolment["secret"].as_str().unwrap(), now).unwrap();
    let confirmed: Value = app
        .post("/api/v1/me/mfa/totp/confirm", Some(&worker.access_token), &json!({"code": code}), StatusCode::OK)
        .await;
    let recovery = confirmed["recovery_codes"][0].clone();
    let challenge: Value = app.login_raw(&agency.slug, &worker.email, PASSWORD).await.json().await.unwrap();
    expire(&app, "mfa_challenges", agency.id).await;
    let body = json!({"mfa_token": challenge["mfa_token"], "code": recovery});
    problem(app.post_json("/api/v1/auth/mfa", None, &body).await, StatusCode::UNAUTHORIZED).await;
    // The code was not spent on the stale token: a fresh sign-in takes it.
    let challenge: Value = app.login_raw(&agency.slug, &worker.email, PASSWORD).await.json().await.unwrap();
    let body = json!({"mfa_token": challenge["mfa_token"], "code": recovery});
    assert_eq!(app.post_json("/api/v1/auth/mfa", None, &body).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_expired_passkey_ceremony_cannot_be_finished() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let mut key = WebauthnAuthenticator::new(SoftPasskey::new(true));
    let options: Value =
        app.post("/api/v1/me/mfa/webauthn/registration", Some(&worker.access_token), &json!({}), StatusCode::OK).await;
    let options: CreationChallengeResponse =
        serde_json::from_value(json!({"publicKey": options["publicKey"]})).unwrap();
    let credential = key.do_registration(Url::parse("http://localhost:8080").unwrap(), options).unwrap();
    expire(&app, "mfa_passkey_ceremonies", agency.id).await;
    let finish = app
        .post_json(
            "/api/v1/me/mfa/webauthn/registration/finish",
            Some(&worker.access_token),
            &json!({"credential": credential}),
        )
        .await;
    problem(finish, StatusCode::CONFLICT).await;
    let listed: Value =
        app.get_as("/api/v1/me/mfa/webauthn/passkeys", Some(&worker.access_token), StatusCode::OK).await;
    assert_eq!(listed["items"], json!([]));
}
