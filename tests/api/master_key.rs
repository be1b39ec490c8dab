//! Rotating the master key re-wraps tenant keys without touching rows: every client still decrypts
//! and is still found by search; the old key alone no longer opens anything.

use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::fixtures::create_client;
use crate::helpers::{PASSWORD, own_postgres_database, spawn_app_sharing, spawn_app_with, test_settings};

/// On PostgreSQL a database of the test's own: a rotation re-wraps every tenant's key it finds,
/// the platform tenant's too, and the other tests' services share the suite's database and its
/// master key. `keep` is the master key the test's services start with.
async fn own_settings(purpose: &str) -> impl Fn(&mut infra::config::Settings, Option<SecretString>) + Clone {
    let own = own_postgres_database(purpose).await;
    move |s: &mut infra::config::Settings, keep: Option<SecretString>| {
        s.master_key = keep;
        if own.is_some() {
            s.database_url.clone_from(&own);
        }
    }
}

fn key(byte: u8) -> SecretString {
    use base64::Engine as _;
    SecretString::from(base64::engine::general_purpose::STANDARD.encode([byte; 32]))
}

#[tokio::test]
async fn after_rotating_the_master_key_every_client_decrypts_and_is_found() {
    let (old, new) = (key(11), key(22));
    let own = own_settings("rotation").await;
    let app = spawn_app_with(|s| own(s, Some(old.clone()))).await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let client = create_client(
        &app,
        &worker.access_token,
        &json!({"given_name": "Rotaria", "family_name": "Keyes", "phone": "416-555-0123"}),
    )
    .await;
    let path = format!("/api/v1/clients/{}", client["id"].as_str().unwrap());

    let mut settings = test_settings(app.data_dir.path());
    own(&mut settings, Some(new.clone()));
    settings.previous_master_key = Some(old.clone());
    let report = api::maintenance::rotate_master_key(&settings).await.unwrap();
    assert!(report.rewrapped >= 1, "{report:?}");
    assert!(!report.unknown_master.iter().any(|t| t.as_uuid() == agency.id));

    // A service holding only the new key reads and finds the client.
    let rotated = spawn_app_sharing(&app, |s| own(s, Some(new.clone()))).await;
    let worker = rotated.login(&agency.slug, &worker.email, PASSWORD).await;
    let read: Value = rotated.get(&path, Some(&worker.access_token)).await.json().await.unwrap();
    assert_eq!((read["given_name"].as_str(), read["phone"].as_str()), (Some("Rotaria"), Some("416-555-0123")));
    let found: Value =
        rotated.get("/api/v1/clients?family_name=KEYES", Some(&worker.access_token)).await.json().await.unwrap();
    assert_eq!(found["items"][0]["id"], client["id"]);

    // A service holding only the old key can no longer open this tenant's data.
    // Not even sign in: a session's user agent is sealed with the tenant's key (`500`, the cause
    // logged: the service is misconfigured, not the caller).
    let stale = spawn_app_sharing(&app, |s| own(s, Some(old.clone()))).await;
    let refused = stale.login_raw(&agency.slug, &worker.email, PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn the_generated_development_key_rotates_in_place() {
    // The generated key: no configured one.
    let own = own_settings("dev_rotation").await;
    let app = spawn_app_with(|s| own(s, None)).await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let client = create_client(&app, &worker.access_token, &json!({"given_name": "Devina"})).await;
    let before = std::fs::read_to_string(app.data_dir.path().join("master.key")).unwrap();
    let mut settings = test_settings(app.data_dir.path());
    own(&mut settings, None);
    let report = api::maintenance::rotate_master_key(&settings).await.unwrap();
    assert!(report.rewrapped >= 1);
    let after = std::fs::read_to_string(app.data_dir.path().join("master.key")).unwrap();
    assert_ne!(before, after);
    // Alone with its database, nothing needs the old key afterwards.
    assert!(report.unknown_master.is_empty(), "{report:?}");
    assert!(!app.data_dir.path().join("master.key.previous").exists(), "the old key is gone once nothing needs it");
    let rotated = spawn_app_sharing(&app, |s| own(s, None)).await;
    let worker = rotated.login(&agency.slug, &worker.email, PASSWORD).await;
    let read: Value = rotated
        .get(&format!("/api/v1/clients/{}", client["id"].as_str().unwrap()), Some(&worker.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["given_name"], "Devina");
}
