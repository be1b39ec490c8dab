//! Appends queued on a tenant transaction (`infra::db::TxConn`): an audit event, a fact, a new
//! case. They are read back in their own transaction, kept only when it commits, still refused
//! when they name a missing row, and written together: opening a case costs the database a fixed
//! number of statements.

use domain::TenantId;
use infra::StoreError;
use infra::db::begin_tenant_tx_for;
use infra::store::audit::{self, AuditEntry, AuditFilter};
use reqwest::StatusCode;
use sea_orm::sea_query::Query;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::create_client;
use crate::helpers::{on_postgres, prepared_statements_like, spawn_app, spawn_app_with};

fn entry(action: &'static str, marker: Uuid) -> AuditEntry {
    AuditEntry {
        actor_id: None,
        action,
        resource_type: "test",
        resource_id: Some(marker),
        client_ip: None,
        request_id: None,
        details: json!({}),
    }
}

async fn actions_on(app: &crate::helpers::TestApp, tenant: TenantId, marker: Uuid) -> Vec<String> {
    let tx = begin_tenant_tx_for(&app.state.db, tenant).await.unwrap();
    let filter = AuditFilter { resource_id: Some(marker), ..AuditFilter::default() };
    audit::list(&tx, &filter, None, 10).await.unwrap().into_iter().map(|e| e.action).collect()
}

/// A victimization type of a case that does not exist: refused by its foreign key.
fn type_of_a_missing_case(tenant: TenantId) -> sea_orm::sea_query::InsertStatement {
    use infra::entities::case_victimization_type::{Column, Entity};
    Query::insert()
        .into_table(Entity)
        .columns([Column::TenantId, Column::CaseId, Column::VictimizationType])
        .values_panic([tenant.as_uuid().into(), Uuid::now_v7().into(), "intimate_partner_violence".into()])
        .to_owned()
}

#[tokio::test]
async fn queued_appends_are_read_back_in_their_transaction_and_kept_only_when_it_commits() {
    let app = spawn_app().await;
    let tenant = TenantId::from_uuid(app.create_agency().await.id);
    let marker = Uuid::now_v7();

    let tx = begin_tenant_tx_for(&app.state.db, tenant).await.unwrap();
    audit::record(&tx, entry("test.kept", marker)).await.unwrap();
    let filter = AuditFilter { resource_id: Some(marker), ..AuditFilter::default() };
    let seen = audit::list(&tx, &filter, None, 10).await.unwrap();
    assert_eq!(seen.len(), 1, "a later read in the same transaction sees the queued row");
    audit::record(&tx, entry("test.kept.second", marker)).await.unwrap();
    tx.commit().await.unwrap();

    let tx = begin_tenant_tx_for(&app.state.db, tenant).await.unwrap();
    audit::record(&tx, entry("test.rolled_back", marker)).await.unwrap();
    drop(tx);

    let mut actions = actions_on(&app, tenant, marker).await;
    actions.sort();
    assert_eq!(actions, ["test.kept", "test.kept.second"], "the commit wrote both; the rollback nothing");
}

#[tokio::test]
async fn a_queued_append_naming_a_missing_row_is_a_reference_conflict_at_commit_and_writes_nothing() {
    let app = spawn_app().await;
    let tenant = TenantId::from_uuid(app.create_agency().await.id);
    let marker = Uuid::now_v7();

    let tx = begin_tenant_tx_for(&app.state.db, tenant).await.unwrap();
    audit::record(&tx, entry("test.with_a_bad_sibling", marker)).await.unwrap();
    tx.append(type_of_a_missing_case(tenant));
    let refused = tx.commit().await.unwrap_err();
    assert!(matches!(refused, StoreError::Conflict { constraint: "reference" }), "{refused:?}");
    assert!(actions_on(&app, tenant, marker).await.is_empty(), "nothing of that transaction was written");
}

#[tokio::test]
async fn a_transaction_whose_appends_failed_never_commits_even_when_the_error_was_caught() {
    let app = spawn_app().await;
    let tenant = TenantId::from_uuid(app.create_agency().await.id);
    let marker = Uuid::now_v7();

    let tx = begin_tenant_tx_for(&app.state.db, tenant).await.unwrap();
    audit::record(&tx, entry("test.lost", marker)).await.unwrap();
    tx.append(type_of_a_missing_case(tenant));
    // A read writes the queue first; it fails, and a careless caller ignores that.
    let filter = AuditFilter { resource_id: Some(marker), ..AuditFilter::default() };
    assert!(audit::list(&tx, &filter, None, 10).await.is_err(), "the queue's failure reaches the next statement");
    audit::record(&tx, entry("test.after_the_failure", marker)).await.unwrap();
    assert!(tx.commit().await.is_err(), "a transaction that lost appends cannot commit");
    assert!(actions_on(&app, tenant, marker).await.is_empty(), "nothing of that transaction was written");
}

#[tokio::test]
async fn opening_a_case_sends_the_database_a_fixed_number_of_statements() {
    let app = crate::helpers::spawn_quiet_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let client = create_client(&app, &worker.access_token, &json!({"given_name": "Counted"})).await;
    let body = json!({"client_id": client["id"], "victimization_types": ["intimate_partner_violence", "sexual_assault"],
                      "referral_source": "police"});

    let before = app.state.db.statements_sent();
    let response = app.post_json("/api/v1/cases", Some(&worker.access_token), &body).await;
    let sent = app.state.db.statements_sent() - before;
    assert_eq!(response.status(), StatusCode::CREATED);
    // The client (visible to this worker?), then the case, its types, its fact and its audit
    // event: one statement on PostgreSQL, five on SQLite (no round trips there: the two types are
    // a row each), where the session check is a statement of its own. On PostgreSQL the check rides in the transaction's first
    // message with SET LOCAL; that message, BEGIN and COMMIT are not counted: 6 statements in 5
    // round trips in all.
    let expected = if on_postgres() { 2 } else { 7 };
    assert_eq!(sent, expected, "statements for one POST /cases");

    // Everything it wrote is there.
    let case: Value = response.json().await.unwrap();
    let id = case["id"].as_str().unwrap();
    let read = app.get(&format!("/api/v1/cases/{id}"), Some(&worker.access_token)).await;
    assert_eq!(read.status(), StatusCode::OK);
    let listed: Value = app
        .get("/api/v1/cases?victimization_type=sexual_assault", Some(&worker.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["id"], case["id"], "its types are searchable");
    let tenant = TenantId::from_uuid(agency.id);
    let actions = actions_on(&app, tenant, Uuid::parse_str(id).unwrap()).await;
    assert!(actions.iter().any(|a| a == "case.created"), "its audit event is there: {actions:?}");

    // With an Idempotency-Key: the key's lock (PostgreSQL) and look-up come first, and its stored
    // response joins the appends.
    let before = app.state.db.statements_sent();
    let keyed = app
        .client
        .post(app.url("/api/v1/cases"))
        .bearer_auth(&worker.access_token)
        .header("Idempotency-Key", "count-me-once")
        .json(&body)
        .send()
        .await
        .unwrap();
    let sent = app.state.db.statements_sent() - before;
    assert_eq!(keyed.status(), StatusCode::CREATED);
    let expected = if on_postgres() { 4 } else { 9 };
    assert_eq!(sent, expected, "statements for one POST /cases with an Idempotency-Key");

    // Naming a program, a division and an assignee too: the four references are read in one
    // statement (`infra::store::case_references`), so the count stays; on SQLite the assignment's
    // event is one more row.
    let program: Value = app
        .post(
            "/api/v1/programs",
            Some(&agency.admin.access_token),
            &json!({"code": "exit-route", "name": "Exit Route"}),
            StatusCode::CREATED,
        )
        .await;
    let mut named = body.clone();
    named["program_id"] = program["id"].clone();
    named["division_id"] = json!(app.division_id("51").await);
    named["assigned_to"] = json!(worker.user_id);
    let before = app.state.db.statements_sent();
    let case: Value = app.post("/api/v1/cases", Some(&worker.access_token), &named, StatusCode::CREATED).await;
    let sent = app.state.db.statements_sent() - before;
    assert_eq!(
        (case["program_id"].clone(), case["assigned_to"].clone()),
        (program["id"].clone(), json!(worker.user_id))
    );
    let expected = if on_postgres() { 2 } else { 8 };
    assert_eq!(sent, expected, "statements for one POST /cases naming a program, a division and an assignee");
}

/// Rows appended together (a search page's audit events, a referral's events for every worker on
/// duty, a case's types) are written with SQL whose text does not depend on how many there are:
/// the driver keeps every statement it prepares, per connection, and one multi-row insert per
/// count made memory grow with the variety of the traffic. With one pooled connection (one
/// database session to look into), batches of five sizes leave one prepared batch insert on
/// PostgreSQL, beside the single-event insert the sign-in made. Every row arrives with its
/// values, on both backends.
#[tokio::test]
async fn rows_appended_together_are_written_with_one_statement_text_whatever_their_number() {
    let app = spawn_app_with(|s| {
        s.audit_seal_interval_ms = 60_000;
        s.escalation_sweep_interval_ms = 60_000;
        s.database_max_connections = 1;
    })
    .await;
    let tenant = TenantId::from_uuid(app.create_agency().await.id);
    let marker = Uuid::now_v7();
    let mut expected = Vec::new();
    for size in [1_usize, 2, 3, 5, 8] {
        let tx = begin_tenant_tx_for(&app.state.db, tenant).await.unwrap();
        let entries: Vec<AuditEntry> = (0..size)
            .map(|n| AuditEntry {
                // Some values present, some absent, in the same batch.
                actor_id: (n % 2 == 0).then(Uuid::now_v7),
                client_ip: (n % 2 == 1).then(|| format!("192.0.2.{n}")),
                request_id: Some(format!("batch-{size}-{n}")),
                details: json!({"n": n, "quoted": "a \"b\" \\ c"}),
                ..entry("test.batched", marker)
            })
            .collect();
        expected
            .extend(entries.iter().map(|e| (e.request_id.clone(), e.actor_id, e.client_ip.clone(), e.details.clone())));
        audit::record_many(&tx, entries).await.unwrap();
        tx.commit().await.unwrap();
    }

    let tx = begin_tenant_tx_for(&app.state.db, tenant).await.unwrap();
    let filter = AuditFilter { resource_id: Some(marker), ..AuditFilter::default() };
    let stored = audit::list(&tx, &filter, None, 100).await.unwrap();
    let mut got: Vec<_> =
        stored.iter().map(|e| (e.request_id.clone(), e.actor_id, e.client_ip.clone(), e.details.clone())).collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, expected, "every row with its values");
    assert!(stored.iter().all(|e| e.action == "test.batched" && e.resource_type == "test"));
    let now = chrono::Utc::now();
    assert!(stored.iter().all(|e| (now - e.occurred_at).num_seconds() < 60), "times read back as written");

    if on_postgres() {
        let (count, texts) = prepared_statements_like(&tx, r#"insert into "audit_events"%"#).await;
        assert_eq!(count, 2, "the single event's insert and one for batches of any size: {texts:?}");
        assert_eq!(texts.iter().filter(|t| t.ends_with("SELECT")).count(), 1, "one batch insert: {texts:?}");
    }
    tx.commit().await.unwrap();
}
