//! Postings, shifts, who is on duty, and the agency's escalation settings.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::on_shift;
use crate::helpers::{problem, spawn_app};

#[tokio::test]
async fn postings_and_shifts_decide_who_is_on_duty() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let later = app.create_user(&agency, &["case_manager"]).await;
    let d51 = app.division_id("51").await;
    let d14 = app.division_id("14").await;
    let token = &agency.admin.access_token;

    let posting = app
        .post_json(
            "/api/v1/postings",
            Some(token),
            &json!({"user_id": worker.user_id, "division_id": d51, "starts_on": "2026-01-01"}),
        )
        .await;
    assert_eq!(posting.status(), StatusCode::CREATED);
    let postings: Value =
        app.get(&format!("/api/v1/postings?division_id={d51}"), Some(token)).await.json().await.unwrap();
    assert_eq!(postings["items"].as_array().unwrap().len(), 1);

    let shift = on_shift(&app, &agency, &worker, d51).await;
    let now = Utc::now();
    let future = json!({"user_id": later.user_id, "division_id": d51, "starts_at": now + Duration::hours(2), "ends_at": now + Duration::hours(10)});
    assert_eq!(app.post_json("/api/v1/shifts", Some(token), &future).await.status(), StatusCode::CREATED);

    let on_duty: Value = app
        .get(&format!("/api/v1/police-divisions/{d51}/on-duty"), Some(&worker.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(on_duty["items"].as_array().unwrap().len(), 1);
    assert_eq!(on_duty["items"][0]["user_id"], json!(worker.user_id));
    assert_eq!(on_duty["items"][0]["shift_id"], shift["id"]);
    let at = (now + Duration::hours(3)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let in_three_hours: Value =
        app.get(&format!("/api/v1/police-divisions/{d51}/on-duty?at={at}"), Some(token)).await.json().await.unwrap();
    assert_eq!(in_three_hours["items"].as_array().unwrap().len(), 2);
    let elsewhere: Value =
        app.get(&format!("/api/v1/police-divisions/{d14}/on-duty"), Some(token)).await.json().await.unwrap();
    assert_eq!(elsewhere["items"], json!([]));

    // Another agency's workers at the same division are not this agency's business.
    let other = app.create_agency().await;
    let theirs: Value = app
        .get(&format!("/api/v1/police-divisions/{d51}/on-duty"), Some(&other.admin.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["items"], json!([]));

    let shifts: Value = app.get(&format!("/api/v1/shifts?division_id={d51}"), Some(token)).await.json().await.unwrap();
    assert_eq!(shifts["items"].as_array().unwrap().len(), 2);
    let delete = app
        .client
        .delete(app.url(&format!("/api/v1/shifts/{}", shift["id"].as_str().unwrap())))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
    let none: Value =
        app.get(&format!("/api/v1/police-divisions/{d51}/on-duty"), Some(token)).await.json().await.unwrap();
    assert_eq!(none["items"], json!([]));
    let again = app
        .client
        .delete(app.url(&format!("/api/v1/shifts/{}", shift["id"].as_str().unwrap())))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    problem(again, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn overlapping_shifts_answer_409_and_backwards_ones_422() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let d51 = app.division_id("51").await;
    let d14 = app.division_id("14").await;
    on_shift(&app, &agency, &worker, d51).await;
    let now = Utc::now();
    let token = &agency.admin.access_token;
    let overlap = json!({"user_id": worker.user_id, "division_id": d14, "starts_at": now + Duration::hours(6), "ends_at": now + Duration::hours(9)});
    problem(app.post_json("/api/v1/shifts", Some(token), &overlap).await, StatusCode::CONFLICT).await;
    let adjacent = json!({"user_id": worker.user_id, "division_id": d14, "starts_at": now + Duration::hours(7), "ends_at": now + Duration::hours(9)});
    assert_eq!(app.post_json("/api/v1/shifts", Some(token), &adjacent).await.status(), StatusCode::CREATED);
    let backwards = json!({"user_id": worker.user_id, "division_id": d51, "starts_at": now + Duration::hours(20), "ends_at": now + Duration::hours(19)});
    assert_eq!(
        problem(app.post_json("/api/v1/shifts", Some(token), &backwards).await, StatusCode::UNPROCESSABLE_ENTITY).await
            ["errors"][0]["field"],
        "ends_at"
    );
    let liaison = app.create_user(&agency, &["police_liaison"]).await;
    let not_a_worker = json!({"user_id": liaison.user_id, "division_id": Uuid::now_v7(), "starts_at": now + Duration::days(2), "ends_at": now + Duration::days(2) + Duration::hours(1)});
    let fields: Vec<String> =
        problem(app.post_json("/api/v1/shifts", Some(token), &not_a_worker).await, StatusCode::UNPROCESSABLE_ENTITY)
            .await["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap().to_owned())
            .collect();
    assert_eq!(fields, ["user_id", "division_id"]);
}

#[tokio::test]
async fn embedding_is_managed_by_admins_and_read_by_staff_of_the_agency() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let liaison = app.create_user(&agency, &["police_liaison"]).await;
    let d51 = app.division_id("51").await;
    let now = Utc::now();
    let body =
        json!({"user_id": worker.user_id, "division_id": d51, "starts_at": now, "ends_at": now + Duration::hours(1)});
    problem(app.post_json("/api/v1/shifts", Some(&worker.access_token), &body).await, StatusCode::FORBIDDEN).await;
    problem(app.get("/api/v1/shifts", Some(&liaison.access_token)).await, StatusCode::FORBIDDEN).await;
    problem(
        app.get(&format!("/api/v1/police-divisions/{d51}/on-duty"), Some(&liaison.access_token)).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let shift = on_shift(&app, &agency, &worker, d51).await;
    let other = app.create_agency().await;
    let foreign = app
        .client
        .delete(app.url(&format!("/api/v1/shifts/{}", shift["id"].as_str().unwrap())))
        .bearer_auth(&other.admin.access_token)
        .send()
        .await
        .unwrap();
    problem(foreign, StatusCode::NOT_FOUND).await;
    let foreign_worker = json!({"user_id": worker.user_id, "division_id": d51, "starts_at": now + Duration::days(3), "ends_at": now + Duration::days(3) + Duration::hours(1)});
    let p = problem(
        app.post_json("/api/v1/shifts", Some(&other.admin.access_token), &foreign_worker).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "user_id");
}

#[tokio::test]
async fn escalation_windows_default_and_change_with_if_match() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let token = &agency.admin.access_token;
    let response = app.get("/api/v1/settings", Some(token)).await;
    assert_eq!(response.headers().get("etag").and_then(|v| v.to_str().ok()), Some("\"0\""));
    let settings: Value = response.json().await.unwrap();
    assert_eq!(settings["escalation_minutes"], json!({"immediate": 15, "same_day": 240, "routine": 4320}));
    let change = json!({"escalation_minutes": {"immediate": 10, "same_day": 120, "routine": 1440}});
    problem(app.patch_json("/api/v1/settings", token, None, &change).await, StatusCode::PRECONDITION_REQUIRED).await;
    let updated = app.patch_json("/api/v1/settings", token, Some("\"0\""), &change).await;
    assert_eq!(updated.status(), StatusCode::OK);
    assert_eq!(updated.json::<Value>().await.unwrap()["version"], 1);
    problem(app.patch_json("/api/v1/settings", token, Some("\"0\""), &change).await, StatusCode::PRECONDITION_FAILED)
        .await;
    let bad = json!({"escalation_minutes": {"immediate": 0, "same_day": 120, "routine": 99999}});
    assert_eq!(
        problem(app.patch_json("/api/v1/settings", token, Some("\"1\""), &bad).await, StatusCode::UNPROCESSABLE_ENTITY)
            .await["errors"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let supervisor = app.create_user(&agency, &["supervisor"]).await;
    assert_eq!(app.get("/api/v1/settings", Some(&supervisor.access_token)).await.status(), StatusCode::OK);
    problem(
        app.patch_json("/api/v1/settings", &supervisor.access_token, Some("\"1\""), &change).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    problem(app.get("/api/v1/settings", Some(&worker.access_token)).await, StatusCode::FORBIDDEN).await;
}
