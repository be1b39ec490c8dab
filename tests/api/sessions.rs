//! Sessions people manage: a user lists their own live sessions (when, what signed in) and ends
//! one; an agency admin ends every session of a user; the user agent is sealed at rest.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{PASSWORD, TestApp, spawn_app};

/// Signs `email` in with `user_agent`, returning the access token.
async fn sign_in_with(app: &TestApp, slug: &str, email: &str, user_agent: &str) -> String {
    let body = serde_json::json!({"tenant": slug, "email": email, "password": PASSWORD});
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("User-Agent", user_agent)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn my_sessions(app: &TestApp, token: &str) -> Vec<Value> {
    let list: Value = app.get_as("/api/v1/me/sessions", Some(token), StatusCode::OK).await;
    list["items"].as_array().unwrap().clone()
}

async fn end(app: &TestApp, token: &str, path: &str) -> StatusCode {
    app.client.delete(app.url(path)).bearer_auth(token).send().await.unwrap().status()
}

#[tokio::test]
async fn a_user_sees_their_sessions_and_ends_one() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let phone = sign_in_with(&app, &agency.slug, &worker.email, "Phone Browser/1.0").await;
    let desk = sign_in_with(&app, &agency.slug, &worker.email, "Desk Browser/2.0").await;

    let seen = my_sessions(&app, &desk).await;
    assert_eq!(seen.len(), 3, "the fixture's sign-in and these two: {seen:?}");
    let current: Vec<&Value> = seen.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["user_agent"], "Desk Browser/2.0");
    let phone_session = seen.iter().find(|s| s["user_agent"] == "Phone Browser/1.0").unwrap();
    let at = |v: &Value| v.as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    assert!(at(&seen[0]["created_at"]) >= at(&seen[2]["created_at"]), "newest first");
    for s in &seen {
        assert!(s.get("refresh_token").is_none() && s.get("access_token").is_none(), "no secrets: {s}");
        assert!(at(&s["last_used_at"]) >= at(&s["created_at"]));
    }

    let path = format!("/api/v1/me/sessions/{}", phone_session["id"].as_str().unwrap());
    assert_eq!(end(&app, &desk, &path).await, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/v1/me", Some(&phone)).await.status(), StatusCode::UNAUTHORIZED, "the phone is signed out");
    assert_eq!(app.get("/api/v1/me", Some(&desk)).await.status(), StatusCode::OK);
    assert_eq!(my_sessions(&app, &desk).await.len(), 2);
    assert_eq!(end(&app, &desk, &path).await, StatusCode::NOT_FOUND, "already ended");

    // Another user's session, here or in another agency, is not one's to end.
    let colleague = app.create_user(&agency, &["case_manager"]).await;
    let theirs = my_sessions(&app, &colleague.access_token).await;
    let their_path = format!("/api/v1/me/sessions/{}", theirs[0]["id"].as_str().unwrap());
    assert_eq!(end(&app, &desk, &their_path).await, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/v1/me", Some(&colleague.access_token)).await.status(), StatusCode::OK);

    // Ending the current session signs out.
    let own = my_sessions(&app, &desk).await.into_iter().find(|s| s["current"] == true).unwrap();
    assert_eq!(
        end(&app, &desk, &format!("/api/v1/me/sessions/{}", own["id"].as_str().unwrap())).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get("/api/v1/me", Some(&desk)).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_admin_ends_every_session_of_a_user_of_the_agency() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let second = sign_in_with(&app, &agency.slug, &worker.email, "Second/1.0").await;
    let path = format!("/api/v1/users/{}/sessions", worker.user_id);

    assert_eq!(end(&app, &worker.access_token, &path).await, StatusCode::FORBIDDEN, "not an admin");
    let other = app.create_agency().await;
    assert_eq!(end(&app, &other.admin.access_token, &path).await, StatusCode::NOT_FOUND, "another agency's user");
    assert_eq!(app.get("/api/v1/me", Some(&second)).await.status(), StatusCode::OK);

    assert_eq!(end(&app, &agency.admin.access_token, &path).await, StatusCode::NO_CONTENT);
    for token in [&worker.access_token, &second] {
        assert_eq!(app.get("/api/v1/me", Some(token)).await.status(), StatusCode::UNAUTHORIZED);
    }
    app.login(&agency.slug, &worker.email, PASSWORD).await;
    let events: Value =
        app.get_as("/api/v1/audit-events?limit=200", Some(&agency.admin.access_token), StatusCode::OK).await;
    let ended = events["items"].as_array().unwrap().iter().find(|e| e["action"] == "user.sessions_ended").unwrap();
    assert_eq!(ended["details"]["sessions_ended"], 2);
}

#[tokio::test]
async fn the_user_agent_is_sealed_at_rest() {
    let app = spawn_app().await;
    let mark = crate::at_rest::WalMark::now();
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let canary = "Zebulonia Browser/9.9 (the agent a person's device names)";
    let token = sign_in_with(&app, &agency.slug, &worker.email, canary).await;
    assert!(my_sessions(&app, &token).await.iter().any(|s| s["user_agent"] == canary));
    let sources = crate::at_rest::sources(&app, &mark);
    crate::at_rest::assert_no_canaries(&sources, &worker.email, &["Zebulonia"]);
}
