//! The release builder behind the ministry's figures: background rounds keep the figures in step
//! with casework, and a year's lease makes one replica build it while a dead builder holds it for
//! no longer than a lease.

use std::time::{Duration, Instant};

use chrono::Utc;
use infra::store::releases::{self as store, BUILDER};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::open_case;
use crate::helpers::{Session, TestApp, spawn_app_alone};

/// This fiscal month's `from`/`to`, where the test's casework falls.
fn this_month() -> String {
    let today = domain::reporting::ontario_date(Utc::now());
    let month = domain::reporting::ReleasePeriod::Month {
        year: chrono::Datelike::year(&today),
        month: chrono::Datelike::month(&today),
    };
    format!("from={}&to={}", month.first_day(), month.last_day())
}

fn this_fiscal_year() -> i32 {
    domain::reporting::FiscalQuarter::of(domain::reporting::ontario_date(Utc::now())).year()
}

async fn cases_opened(app: &TestApp, supervisor: &Session) -> (StatusCode, Value) {
    let response = app
        .get(&format!("/api/v1/aggregates?{}&metric=cases_opened", this_month()), Some(&supervisor.access_token))
        .await;
    let status = response.status();
    (status, response.json().await.unwrap())
}

/// Asks until the agency's figure is `expected`, for up to `limit`; what it last saw otherwise.
async fn wait_for_cases_opened(app: &TestApp, supervisor: &Session, expected: i64, limit: Duration) -> Value {
    let started = Instant::now();
    loop {
        let (status, body) = cases_opened(app, supervisor).await;
        if status == StatusCode::OK && body["rows"][0]["value"] == expected {
            return body;
        }
        if started.elapsed() > limit {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn figures_follow_new_casework_without_anyone_asking_for_a_rebuild() {
    // Rounds every second; nothing here calls the builder itself.
    let app = spawn_app_alone("figures_follow_new_casework", |s| s.release_refresh_seconds = 1).await;
    let agency = app.create_agency().await;
    let supervisor = app.create_user(&agency, &["supervisor"]).await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    for _ in 0..5 {
        open_case(&app, &worker, json!({})).await;
    }
    let limit = Duration::from_secs(60);
    let body = wait_for_cases_opened(&app, &supervisor, 5, limit).await;
    assert_eq!(body["rows"][0]["value"], 5, "{body}");
    // Five more people: enough to be counted together (one alone would wait, `lineage`).
    for _ in 0..5 {
        open_case(&app, &worker, json!({})).await;
    }
    let body = wait_for_cases_opened(&app, &supervisor, 10, limit).await;
    assert_eq!(body["rows"][0]["value"], 10, "later cases reach the figures by the next round: {body}");
}

#[tokio::test]
async fn a_year_held_by_a_builder_that_died_is_taken_over_when_its_lease_runs_out() {
    // Alone with its data on PostgreSQL: the other tests' builders would take the year too.
    let app = spawn_app_alone("release_lease", |_| {}).await;
    let agency = app.create_agency().await;
    let supervisor = app.create_user(&agency, &["supervisor"]).await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    for _ in 0..5 {
        open_case(&app, &worker, json!({})).await;
    }
    let year = this_fiscal_year();

    // A replica took the year and died: its lease runs for two more seconds.
    let dead = Uuid::new_v4();
    let tx = infra::db::begin_tenant_tx_for(&app.state.db, BUILDER).await.unwrap();
    let now = infra::db::now();
    assert!(store::claim(&tx, year, dead, now, now + chrono::Duration::seconds(2)).await.unwrap());
    tx.commit().await.unwrap();

    let round = api::releases::refresh(&app.state).await.unwrap();
    assert_eq!(
        (round.built.clone(), round.skipped.clone()),
        (vec![], vec![year]),
        "the held year is left to its holder"
    );
    // The first question about the year waits for the lease to run out, then builds it.
    let asked = Instant::now();
    let (status, body) = cases_opened(&app, &supervisor).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rows"][0]["value"], 5, "{body}");
    assert!(asked.elapsed() >= Duration::from_millis(1_000), "it waited for the lease, not for the builder");
    let round = api::releases::refresh(&app.state).await.unwrap();
    assert_eq!(round, api::releases::Round::default(), "built once: nothing left to do");

    // The dead builder, back to life, can neither keep the lease nor overwrite the release.
    let tx = infra::db::begin_tenant_tx_for(&app.state.db, BUILDER).await.unwrap();
    let later = infra::db::now() + chrono::Duration::seconds(30);
    assert!(!store::renew_lease(&tx, year, dead, later).await.unwrap(), "its lease is gone");
    let stale = store::Built { facts: 1, threshold: 5, at: infra::db::now() };
    assert!(
        !store::save(&tx, dead, year, &stale, &[], &[], &domain::reporting::release::Lineage::default()).await.unwrap(),
        "a lost lease stores nothing"
    );
    tx.commit().await.unwrap();
    let body = wait_for_cases_opened(&app, &supervisor, 5, Duration::ZERO).await;
    assert_eq!(body["rows"][0]["value"], 5, "the release it would have replaced still answers: {body}");
}
