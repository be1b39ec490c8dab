//! Rotating the master key re-wraps tenant keys without touching rows: every client still decrypts
//! and is still found by search; the old key alone no longer opens anything.

use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::clients::create_client;
use crate::helpers::{PASSWORD, spawn_app_sharing, spawn_app_with, test_settings};

fn key(byte: u8) -> SecretString {
    use base64::Engine as _;
    SecretString::from(base64::engine::general_purpose::STANDARD.encode([byte; 32]))
}

#[tokio::test]
async fn after_rotating_the_master_key_every_client_decrypts_and_is_found() {
    let (old, new) = (key(11), key(22));
    let app = spawn_app_with(|s| s.master_key = Some(old.clone())).await;
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
    settings.master_key = Some(new.clone());
    settings.previous_master_key = Some(old.clone());
    let report = api::maintenance::rotate_master_key(&settings).await.unwrap();
    assert!(report.rewrapped >= 1, "{report:?}");
    assert!(!report.unknown_master.iter().any(|t| t.as_uuid() == agency.id));

    // A service holding only the new key reads and finds the client.
    let rotated = spawn_app_sharing(&app, |s| s.master_key = Some(new.clone())).await;
    let worker = rotated.login(&agency.slug, &worker.email, PASSWORD).await;
    let read: Value = rotated.get(&path, Some(&worker.access_token)).await.json().await.unwrap();
    assert_eq!((read["given_name"].as_str(), read["phone"].as_str()), (Some("Rotaria"), Some("416-555-0123")));
    let found: Value =
        rotated.get("/api/v1/clients?family_name=KEYES", Some(&worker.access_token)).await.json().await.unwrap();
    assert_eq!(found["items"][0]["id"], client["id"]);

    // A service holding only the old key can no longer open this tenant's data.
    let stale = spawn_app_sharing(&app, |s| s.master_key = Some(old.clone())).await;
    let worker = stale.login(&agency.slug, &worker.email, PASSWORD).await;
    assert_eq!(stale.get(&path, Some(&worker.access_token)).await.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn the_generated_development_key_rotates_in_place() {
    let app = spawn_app_with(|_| {}).await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let client = create_client(&app, &worker.access_token, &json!({"given_name": "Devina"})).await;
    let before = std::fs::read_to_string(app.data_dir.path().join("master.key")).unwrap();
    let settings = test_settings(app.data_dir.path());
    let report = api::maintenance::rotate_master_key(&settings).await.unwrap();
    assert!(report.rewrapped >= 1);
    let after = std::fs::read_to_string(app.data_dir.path().join("master.key")).unwrap();
    assert_ne!(before, after);
    if !crate::helpers::on_postgres() {
        // On the shared test database other tests' tenants use other development keys, which
        // this rotation reports and keeps the previous key for; alone, nothing needs it.
        assert!(report.unknown_master.is_empty());
        assert!(!app.data_dir.path().join("master.key.previous").exists(), "the old key is gone once nothing needs it");
    }
    let rotated = spawn_app_sharing(&app, |_| {}).await;
    let worker = rotated.login(&agency.slug, &worker.email, PASSWORD).await;
    let read: Value = rotated
        .get(&format!("/api/v1/clients/{}", client["id"].as_str().unwrap()), Some(&worker.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["given_name"], "Devina");
}
