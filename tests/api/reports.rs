//! Quarterly reports: drafted by an agency, submitted by its supervisor (figures frozen with a
//! content hash), read, accepted or returned by the ministry, redrafted as a new version.

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::fixtures::open_case;
use crate::helpers::{Agency, Session, TestApp, problem, spawn_app_alone};

/// The fiscal quarter today falls in (Ontario's year starts 1 April).
fn this_quarter() -> (i32, u8) {
    let q = domain::reporting::FiscalQuarter::of(domain::reporting::ontario_date(Utc::now()));
    (q.year(), q.quarter())
}

struct Parties {
    agency: Agency,
    supervisor: Session,
    worker: Session,
    ministry: Agency,
}

async fn parties(app: &TestApp) -> Parties {
    let agency = app.create_agency().await;
    let supervisor = app.create_user(&agency, &["supervisor"]).await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let ministry = app.create_tenant("ministry").await;
    Parties { agency, supervisor, worker, ministry }
}

async fn draft(app: &TestApp, who: &Session) -> Value {
    app.refresh_figures().await;
    let (fiscal_year, quarter) = this_quarter();
    let response = app
        .post_json("/api/v1/reports", Some(&who.access_token), &json!({"fiscal_year": fiscal_year, "quarter": quarter}))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED, "draft");
    response.json().await.unwrap()
}

async fn act(app: &TestApp, who: &Session, report: &Value, step: &str, body: &Value) -> reqwest::Response {
    app.refresh_figures().await;
    app.post_json(&format!("/api/v1/reports/{}/{step}", report["id"].as_str().unwrap()), Some(&who.access_token), body)
        .await
}

async fn read(app: &TestApp, who: &Session, report: &Value) -> reqwest::Response {
    app.refresh_figures().await;
    app.get(&format!("/api/v1/reports/{}", report["id"].as_str().unwrap()), Some(&who.access_token)).await
}

fn table<'a>(report: &'a Value, metric: &str) -> &'a Value {
    report["figures"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["metric"] == metric && t["group_by"] == json!([]))
        .unwrap()
}

fn sha256_of_canonical(figures: &Value) -> String {
    // serde_json's Value keeps keys sorted: its compact text is the canonical form.
    hex::encode(Sha256::digest(figures.to_string().as_bytes()))
}

/// Every report id the ministry can list, following the cursor (other tests' reports share the
/// database on PostgreSQL).
async fn ministry_list_ids(app: &TestApp, ministry: &Session) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/reports?limit=200&cursor={c}"),
            None => "/api/v1/reports?limit=200".to_owned(),
        };
        let page: Value = app.get(&path, Some(&ministry.access_token)).await.json().await.unwrap();
        for item in page["items"].as_array().unwrap() {
            assert_ne!(item["status"], "draft", "the ministry never lists drafts");
            ids.push(item["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
    }
}

#[tokio::test]
async fn a_report_is_drafted_submitted_frozen_returned_and_redrafted() {
    let app = spawn_app_alone("a_report_is_drafted_submitted_frozen_ret", |_| {}).await;
    let p = parties(&app).await;
    let analyst = &p.ministry.admin;
    for _ in 0..5 {
        open_case(&app, &p.worker, json!({})).await;
    }

    let first = draft(&app, &p.supervisor).await;
    assert_eq!((first["status"].as_str(), first["report_version"].as_i64()), (Some("draft"), Some(1)));
    assert_eq!(first["figures_frozen"], false);
    assert_eq!(table(&first, "cases_opened")["rows"][0]["value"], 5);
    assert_eq!(first["agency"]["slug"], p.agency.slug.as_str());

    // Drafts are invisible to the ministry.
    assert!(!ministry_list_ids(&app, analyst).await.contains(&first["id"].as_str().unwrap().to_owned()));
    problem(read(&app, analyst, &first).await, StatusCode::NOT_FOUND).await;
    problem(act(&app, analyst, &first, "accept", &json!({})).await, StatusCode::NOT_FOUND).await;

    let submitted = act(&app, &p.supervisor, &first, "submit", &json!({})).await;
    assert_eq!(submitted.status(), StatusCode::OK);
    let submitted: Value = submitted.json().await.unwrap();
    assert_eq!(submitted["status"], "submitted");
    assert_eq!(submitted["figures_frozen"], true);
    let hash = submitted["content_hash"].as_str().unwrap().to_owned();
    assert_eq!(sha256_of_canonical(&submitted["figures"]), hash);
    problem(act(&app, &p.supervisor, &first, "submit", &json!({})).await, StatusCode::CONFLICT).await;

    // Later casework does not change what was submitted (five more people: enough to be counted
    // by the next build; fewer would wait, `domain::reporting::release::lineage`).
    for _ in 0..5 {
        open_case(&app, &p.worker, json!({})).await;
    }
    let again: Value = read(&app, &p.supervisor, &first).await.json().await.unwrap();
    assert_eq!(again["figures"], submitted["figures"]);
    assert_eq!(again["content_hash"], hash.as_str());

    // The ministry reads it (without agency staff ids) and returns it.
    assert!(ministry_list_ids(&app, analyst).await.contains(&first["id"].as_str().unwrap().to_owned()));
    let seen: Value = read(&app, analyst, &first).await.json().await.unwrap();
    assert_eq!(seen["figures"], submitted["figures"]);
    assert!(seen.get("prepared_by").is_none() && seen.get("submitted_by").is_none(), "{seen}");
    let reason = json!({"reason": "Referrals by division look incomplete for October"});
    let returned = act(&app, analyst, &first, "return", &reason).await;
    assert_eq!(returned.status(), StatusCode::OK);
    let returned: Value = returned.json().await.unwrap();
    assert_eq!(returned["status"], "returned");
    problem(act(&app, analyst, &first, "accept", &json!({})).await, StatusCode::CONFLICT).await;

    // The quarter is drafted again as version 2; version 1 stays readable as it was.
    let second = draft(&app, &p.supervisor).await;
    assert_eq!(second["report_version"], 2);
    assert_eq!(table(&second, "cases_opened")["rows"][0]["value"], 10);
    let old: Value = read(&app, &p.supervisor, &first).await.json().await.unwrap();
    assert_eq!((old["status"].as_str(), old["return_reason"].as_str()), (Some("returned"), reason["reason"].as_str()));
    assert_eq!(old["figures"], submitted["figures"]);
    problem(
        app.post_json(
            "/api/v1/reports",
            Some(&p.supervisor.access_token),
            &json!({"fiscal_year": this_quarter().0, "quarter": this_quarter().1}),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;

    let resubmitted: Value = act(&app, &p.supervisor, &second, "submit", &json!({})).await.json().await.unwrap();
    assert_ne!(resubmitted["content_hash"], hash.as_str());
    let accepted = act(&app, analyst, &second, "accept", &json!({})).await;
    assert_eq!(accepted.status(), StatusCode::OK);
    let accepted: Value = accepted.json().await.unwrap();
    assert_eq!(accepted["status"], "accepted");
    assert_eq!(accepted["figures"], resubmitted["figures"]);

    let own: Value = app.get("/api/v1/reports", Some(&p.supervisor.access_token)).await.json().await.unwrap();
    let statuses: Vec<&str> = own["items"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["returned", "accepted"]);
    assert!(own["items"][0].get("figures").is_none(), "lists leave figures out");
}

#[tokio::test]
async fn each_role_may_do_only_its_part_and_bad_requests_change_nothing() {
    let app = spawn_app_alone("each_role_may_do_only_its_part_and_bad_r", |_| {}).await;
    let p = parties(&app).await;
    let (fiscal_year, quarter) = this_quarter();
    let body = json!({"fiscal_year": fiscal_year, "quarter": quarter});
    for who in [&p.worker, &p.ministry.admin] {
        problem(app.post_json("/api/v1/reports", Some(&who.access_token), &body).await, StatusCode::FORBIDDEN).await;
    }
    problem(app.get("/api/v1/reports", Some(&p.worker.access_token)).await, StatusCode::FORBIDDEN).await;
    for bad in
        [json!({"fiscal_year": fiscal_year, "quarter": 5}), json!({"fiscal_year": fiscal_year + 1, "quarter": quarter})]
    {
        problem(
            app.post_json("/api/v1/reports", Some(&p.supervisor.access_token), &bad).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let own: Value = app.get("/api/v1/reports", Some(&p.supervisor.access_token)).await.json().await.unwrap();
    assert_eq!(own["items"], json!([]), "refused requests drafted nothing");

    // An agency admin drafts; only a supervisor submits; only the ministry reviews.
    let report = draft(&app, &p.agency.admin).await;
    problem(act(&app, &p.agency.admin, &report, "submit", &json!({})).await, StatusCode::FORBIDDEN).await;
    problem(act(&app, &p.ministry.admin, &report, "submit", &json!({})).await, StatusCode::FORBIDDEN).await;
    assert_eq!(act(&app, &p.supervisor, &report, "submit", &json!({})).await.status(), StatusCode::OK);
    problem(act(&app, &p.supervisor, &report, "accept", &json!({})).await, StatusCode::FORBIDDEN).await;
    problem(
        act(&app, &p.ministry.admin, &report, "return", &json!({"reason": ""})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let still: Value = read(&app, &p.ministry.admin, &report).await.json().await.unwrap();
    assert_eq!(still["status"], "submitted");

    // Another agency sees none of it.
    let other = app.create_agency().await;
    problem(read(&app, &other.admin, &report).await, StatusCode::NOT_FOUND).await;
}
