//! A stored value this version cannot read fails the request loudly (500, the cause logged), and
//! is never read as a default: an unknown consent scope is not the widest one, an unreadable
//! referral status is not `pending` (acceptable again).

use reqwest::StatusCode;
use sea_orm::ConnectionTrait as _;
use serde_json::json;

use crate::fixtures::{on_shift, open_case};
use crate::helpers::{TestApp, problem, spawn_app};

/// Overwrites stored values in the agency's rows, as a bug, a bad migration or a newer binary might
/// (`sql` is an UPDATE without WHERE: the agency's rows are the test's own file on SQLite, and
/// named by tenant on the suite's shared PostgreSQL).
async fn corrupt(app: &TestApp, agency: uuid::Uuid, sql: &str) {
    let tx = infra::db::begin_tenant_tx_for(&app.state.db, domain::TenantId::from_uuid(agency)).await.unwrap();
    let sql =
        if crate::helpers::on_postgres() { format!("{sql} WHERE tenant_id = '{agency}'") } else { sql.to_owned() };
    tx.raw().execute_unprepared(&sql).await.unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn an_unreadable_referral_status_is_an_error_not_pending() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let division = app.division_id("51").await;
    let liaison = app.create_user(&agency, &["police_liaison"]).await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    on_shift(&app, &agency, &worker, division).await;
    let body = crate::fixtures::referral_body(division, true);
    let response = app.post_json("/api/v1/referrals", Some(&liaison.access_token), &body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let referral: serde_json::Value = response.json().await.unwrap();
    let path = format!("/api/v1/referrals/{}", referral["id"].as_str().unwrap());
    corrupt(&app, agency.id, "UPDATE referrals SET status = 'closed_by_v9'").await;

    problem(app.get(&path, Some(&worker.access_token)).await, StatusCode::INTERNAL_SERVER_ERROR).await;
    let accept = app.post_json(&format!("{path}/accept"), Some(&worker.access_token), &json!({})).await;
    let body = problem(accept, StatusCode::INTERNAL_SERVER_ERROR).await;
    assert!(!body.to_string().contains("closed_by_v9"), "the cause is logged, not sent: {body}");
}

#[tokio::test]
async fn an_unknown_consent_scope_is_an_error_not_the_widest_scope() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let org = json!({"name": "Harbour Shelter", "kind": "shelter"});
    let org: serde_json::Value =
        app.post_json("/api/v1/organizations", Some(&agency.admin.access_token), &org).await.json().await.unwrap();
    let case = open_case(&app, &worker, json!({})).await;
    let base = format!("/api/v1/cases/{}", case["id"].as_str().unwrap());
    let consent = json!({"scope": "share_with_police", "granted": true});
    assert_eq!(app.post_json(&format!("{base}/consents"), Some(&worker.access_token), &consent).await.status(), 201);
    corrupt(&app, agency.id, "UPDATE consents SET scope = 'share_with_everyone'").await;

    problem(app.get(&format!("{base}/consents"), Some(&worker.access_token)).await, StatusCode::INTERNAL_SERVER_ERROR)
        .await;
    let refer = json!({"organization_id": org["id"], "service": "emergency shelter"});
    let response = app.post_json(&format!("{base}/outbound-referrals"), Some(&worker.access_token), &refer).await;
    problem(response, StatusCode::INTERNAL_SERVER_ERROR).await;
    let list: serde_json::Value =
        app.get(&format!("{base}/outbound-referrals"), Some(&worker.access_token)).await.json().await.unwrap();
    assert_eq!(list["items"], json!([]), "no referral out was made on a guess");
}
