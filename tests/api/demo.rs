//! `serve --demo`: the seeded system shows itself working to a newcomer signing in with the
//! passwords it hands over, and a second start adds nothing.

use std::collections::BTreeMap;

use chrono::{Datelike as _, Utc};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait as _, DbBackend, Statement};
use serde_json::Value;

use crate::helpers::{Session, TestApp, spawn_app_alone};

/// The demo's accounts from its passwords file: email → password.
fn passwords(dir: &std::path::Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(dir.join(api::demo::DEMO_PASSWORDS_FILE)).unwrap();
    text.lines()
        .filter(|l| l.trim_start().starts_with("tenant "))
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            (words[2].to_owned(), words[4].to_owned())
        })
        .collect()
}

async fn sign_in(app: &TestApp, accounts: &BTreeMap<String, String>, tenant: &str, local: &str) -> Session {
    let email = format!("{local}@{tenant}.example");
    app.first_session(tenant, &email, &accounts[&email]).await
}

fn items(page: &Value) -> &Vec<Value> {
    page["items"].as_array().unwrap()
}

#[tokio::test]
async fn the_demo_shows_every_part_of_the_system_working() {
    let app = spawn_app_alone("demo_shows_itself", |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let seeded = api::demo::seed_demo(&app.state.db, &app.state.keyring, dir.path()).await.unwrap();
    println!("demo seeded in {:.2} s", started.elapsed().as_secs_f64());
    assert_eq!(seeded, api::demo::Seeded::Created);
    let accounts = passwords(dir.path());
    assert_eq!(accounts.len(), 8, "{accounts:?}");

    // The case manager is on duty at 51 Division now.
    let worker = sign_in(&app, &accounts, "demo-agency", "casemanager").await;
    let d51 = app.division_id("51").await;
    let on_duty: Value = app
        .get_as(&format!("/api/v1/police-divisions/{d51}/on-duty"), Some(&worker.access_token), StatusCode::OK)
        .await;
    assert!(
        items(&on_duty).iter().any(|w| w["user_id"] == worker.user_id.to_string()),
        "the case manager is on duty at 51: {on_duty}"
    );

    // Referrals in every state.
    for status in ["pending", "accepted", "contacted", "converted"] {
        let page: Value =
            app.get_as(&format!("/api/v1/referrals?status={status}"), Some(&worker.access_token), StatusCode::OK).await;
        assert!(!items(&page).is_empty(), "a {status} referral: {page}");
    }

    // An open case with its records: notes, services (one VQRP+), consents, a safety plan.
    let open: Value = app.get_as("/api/v1/cases?status=open", Some(&worker.access_token), StatusCode::OK).await;
    assert_eq!(items(&open).len(), 2, "the converted case and the one being transferred: {open}");
    let mut rich = None;
    for case in items(&open) {
        let id = case["id"].as_str().unwrap();
        let notes: Value =
            app.get_as(&format!("/api/v1/cases/{id}/notes"), Some(&worker.access_token), StatusCode::OK).await;
        if !items(&notes).is_empty() {
            rich = Some(id.to_owned());
        }
    }
    let case = rich.expect("a case with notes");
    let services: Value =
        app.get_as(&format!("/api/v1/cases/{case}/services"), Some(&worker.access_token), StatusCode::OK).await;
    assert!(items(&services).iter().any(|s| s["service_type"] == "vqrp_plus"), "{services}");
    let consents: Value =
        app.get_as(&format!("/api/v1/cases/{case}/consents"), Some(&worker.access_token), StatusCode::OK).await;
    assert!(items(&consents).iter().any(|c| c["scope"] == "share_with_other_agency"), "{consents}");
    let _: Value =
        app.get_as(&format!("/api/v1/cases/{case}/safety-plan"), Some(&worker.access_token), StatusCode::OK).await;

    // VQRP+ applications in several statuses, and tasks of both kinds.
    let applications: Value = app.get_as("/api/v1/vqrp-applications", Some(&worker.access_token), StatusCode::OK).await;
    for status in ["draft", "submitted", "approved", "paid"] {
        assert!(items(&applications).iter().any(|a| a["status"] == status), "a {status} application: {applications}");
    }
    let tasks: Value = app.get_as("/api/v1/tasks", Some(&worker.access_token), StatusCode::OK).await;
    assert!(items(&tasks).iter().any(|t| t["kind"] == "manual"), "a manual task: {tasks}");
    assert!(items(&tasks).iter().any(|t| t["kind"] != "manual"), "a task of the platform's: {tasks}");

    // demo-north's supervisor has one transfer waiting.
    let north = sign_in(&app, &accounts, "demo-north", "supervisor").await;
    let incoming: Value =
        app.get_as("/api/v1/transfers?direction=incoming", Some(&north.access_token), StatusCode::OK).await;
    assert_eq!(items(&incoming).len(), 1, "{incoming}");
    assert_eq!(items(&incoming)[0]["status"], "pending", "{incoming}");

    // The history's backdated events seal into the agency's chain like any others.
    let admin = sign_in(&app, &accounts, "demo-agency", "admin").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let verified = loop {
        let verified: Value =
            app.get_as("/api/v1/audit-events/verify", Some(&admin.access_token), StatusCode::OK).await;
        if verified["unsealed"] == 0 || std::time::Instant::now() > deadline {
            break verified;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(verified["ok"], true, "{verified}");
    assert_eq!(verified["unsealed"], 0, "{verified}");
    assert!(verified["events_checked"].as_u64().unwrap() > 1000, "{verified}");

    // The ministry's year: published cells and withheld ones.
    app.refresh_figures().await;
    let analyst = sign_in(&app, &accounts, "demo-ministry", "analyst").await;
    let today = domain::reporting::ontario_date(Utc::now());
    let year = if today.month() >= 4 { today.year() } else { today.year() - 1 };
    let path =
        format!("/api/v1/aggregates?metric=cases_opened&from={year}-04-01&to={}-03-31&group_by=agency,month", year + 1);
    let figures: Value = app.get_as(&path, Some(&analyst.access_token), StatusCode::OK).await;
    let rows = figures["rows"].as_array().unwrap();
    assert!(rows.iter().any(|r| r["suppressed"] == false && r["value"].as_i64().is_some_and(|v| v >= 5)), "{figures}");
    assert!(rows.iter().any(|r| r["suppressed"] == true && r["value"].is_null()), "{figures}");
}

/// Rows of every table with a `tenant_id`, as each demo tenant sees them (row-level security
/// scopes them on PostgreSQL; on SQLite each count is the table's).
async fn row_counts(app: &TestApp) -> BTreeMap<String, i64> {
    let db = &app.state.db;
    let backend = db.backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT table_name AS name FROM information_schema.columns WHERE column_name = 'tenant_id' \
             AND table_schema = current_schema() ORDER BY 1"
        }
        _ => {
            "SELECT m.name AS name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND p.name = 'tenant_id' ORDER BY 1"
        }
    };
    let tables: Vec<String> = db
        .global()
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String>("", "name").unwrap())
        .collect();
    assert!(tables.len() > 20, "{tables:?}");
    let mut counts = BTreeMap::new();
    for slug in ["demo-agency", "demo-north", "demo-ministry"] {
        let tenant = infra::store::tenants::find_by_slug(db.global(), slug).await.unwrap();
        let tx = infra::db::begin_tenant_read_tx_for(db, tenant.id).await.unwrap();
        for table in &tables {
            let sql = format!("SELECT count(*) AS n FROM \"{table}\"");
            let row = tx.raw().query_one_raw(Statement::from_string(backend, sql)).await.unwrap().unwrap();
            counts.insert(format!("{slug}.{table}"), row.try_get::<i64>("", "n").unwrap());
        }
        tx.commit().await.unwrap();
    }
    counts
}

#[tokio::test]
async fn seeding_the_demo_twice_adds_nothing() {
    // The background work that writes on its own (sealing, escalating, task sweeps) waits an hour,
    // so the counts move only if the seeding writes.
    let hour = 3_600_000;
    let app = spawn_app_alone("demo_twice", |s| {
        s.audit_seal_interval_ms = hour;
        s.escalation_sweep_interval_ms = hour;
        s.task_sweep_interval_ms = hour;
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let first = api::demo::seed_demo(&app.state.db, &app.state.keyring, dir.path()).await.unwrap();
    assert_eq!(first, api::demo::Seeded::Created);
    let before = row_counts(&app).await;
    assert!(before["demo-agency.cases"] > 400, "{before:?}");
    let passwords = std::fs::read(dir.path().join(api::demo::DEMO_PASSWORDS_FILE)).unwrap();

    let second = api::demo::seed_demo(&app.state.db, &app.state.keyring, dir.path()).await.unwrap();

    assert_eq!(second, api::demo::Seeded::AlreadyThere);
    assert_eq!(row_counts(&app).await, before);
    assert_eq!(std::fs::read(dir.path().join(api::demo::DEMO_PASSWORDS_FILE)).unwrap(), passwords);
}

#[tokio::test]
async fn a_seeding_that_fails_halfway_leaves_nothing_and_the_next_start_tries_again() {
    let app = spawn_app_alone("demo_fails_halfway", |_| {}).await;
    // Someone took the second agency's slug: the seeding fails after it made the ministry.
    let platform = app.platform_admin().await;
    let body = serde_json::json!({"slug": "demo-north", "name": "Taken", "kind": "agency",
        "admin": {"email": "admin@taken.example", "display_name": "First Admin", "password": "a long initial passphrase"}});
    let taken = app.post_json("/api/v1/tenants", Some(&platform.access_token), &body).await;
    assert_eq!(taken.status(), StatusCode::CREATED);
    let dir = tempfile::tempdir().unwrap();

    let failed = api::demo::seed_demo(&app.state.db, &app.state.keyring, dir.path()).await;

    assert!(failed.is_err(), "the slug is taken");
    let db = app.state.db.global();
    for slug in ["demo-agency", "demo-ministry"] {
        assert!(infra::store::tenants::find_by_slug(db, slug).await.is_err(), "{slug} rolled back");
    }
    assert!(!dir.path().join(api::demo::DEMO_PASSWORDS_FILE).exists(), "no passwords of nothing");
    // The next start is not fooled into skipping: it tries again (and fails again on the slug).
    assert!(api::demo::seed_demo(&app.state.db, &app.state.keyring, dir.path()).await.is_err());
}
