//! The audit log: events are listed to agency admins, chained by the sealer, and any edit or
//! deletion made behind the service's back is reported at the first broken link.

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

use infra::store::audit::SealPass;

use crate::helpers::{
    TestApp, on_postgres, own_postgres_database, prepared_statements_like, problem, spawn_app, spawn_app_with,
};

async fn verify(app: &TestApp, token: &str) -> Value {
    let response = app.get("/api/v1/audit-events/verify", Some(token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// A connection as the database owner, which can do what the service's runtime role cannot.
async fn owner_connection(app: &TestApp) -> sea_orm::DatabaseConnection {
    let url = if on_postgres() {
        std::env::var("DATABASE_URL").unwrap()
    } else {
        format!("sqlite://{}?mode=rw", app.data_dir.path().join("vcao.sqlite").display())
    };
    Database::connect(url).await.unwrap()
}

/// Runs `sql` as the owner; on SQLite first drops the append-only triggers, as an intruder with
/// file access would.
async fn tamper(app: &TestApp, sql: &str, event_id: Uuid) {
    let conn = owner_connection(app).await;
    let backend = conn.get_database_backend();
    if backend == DbBackend::Sqlite {
        conn.execute_unprepared("DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;")
            .await
            .unwrap();
    }
    let placeholder = if backend == DbBackend::Postgres { "$1" } else { "?" };
    let stmt = Statement::from_sql_and_values(backend, sql.replace("$1", placeholder), [event_id.into()]);
    let result = conn.execute_raw(stmt).await.unwrap();
    assert_eq!(result.rows_affected(), 1, "the tamper hit one row");
}

async fn user_created_events(app: &TestApp, token: &str) -> Vec<Value> {
    let page: Value =
        app.get("/api/v1/audit-events?resource_type=user&limit=200", Some(token)).await.json().await.unwrap();
    let mut events: Vec<Value> = page["items"].as_array().unwrap().clone();
    events.reverse(); // oldest first
    events
}

#[tokio::test]
async fn changes_are_listed_with_who_what_when_and_from_where() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let response = app
        .client
        .get(app.url(&format!("/api/v1/audit-events?resource_id={}", worker.user_id)))
        .bearer_auth(&agency.admin.access_token)
        .send()
        .await
        .unwrap();
    let page: Value = response.json().await.unwrap();
    // Newest first: the user's own first password change, then their creation.
    let items = page["items"].as_array().unwrap();
    assert_eq!(items[0]["action"], "user.password_changed");
    let event = items.iter().find(|e| e["action"] == "user.created").unwrap();
    assert_eq!(event["actor_id"], json!(agency.admin.user_id));
    assert_eq!(event["resource_type"], "user");
    assert_eq!(event["client_ip"], "127.0.0.1");
    assert!(event["request_id"].as_str().is_some());
    assert!(event["occurred_at"].as_str().is_some());
    assert!(!event.to_string().contains(&worker.email), "no personal data in the log");

    let logins: Value = app
        .get(
            &format!("/api/v1/audit-events?actor_id={}&resource_type=session", worker.user_id),
            Some(&agency.admin.access_token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(logins["items"].as_array().unwrap().iter().any(|e| e["action"] == "auth.login_succeeded"));
}

#[tokio::test]
async fn an_untouched_chain_verifies() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    for _ in 0..3 {
        app.create_user(&agency, &["case_manager"]).await;
    }
    let result = verify(&app, &agency.admin.access_token).await;
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["first_broken"], Value::Null);
    assert_eq!(result["unsealed"], 0);
    // tenant.created, three user.created, and a login and a failed-or-successful session each.
    assert!(result["events_checked"].as_u64().unwrap() >= 7, "{result}");
}

/// A burst of more events than the sealer takes in one pass (1,000), all within its look-back
/// window, is sealed completely: no pass may be filled with events already sealed.
#[tokio::test]
async fn a_burst_of_events_larger_than_a_sealing_pass_is_sealed_completely() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let tenant = domain::TenantId::from_uuid(agency.id);
    let tx = infra::db::begin_tenant_tx_for(&app.state.db, tenant).await.unwrap();
    let burst = (0..2_500)
        .map(|_| infra::store::audit::AuditEntry {
            actor_id: None,
            action: domain::audit::actions::CASE_READ,
            resource_type: "case",
            resource_id: Some(Uuid::now_v7()),
            client_ip: None,
            request_id: None,
            details: json!({}),
        })
        .collect();
    infra::store::audit::record_many(&tx, burst).await.unwrap();
    tx.commit().await.unwrap();
    // The background sealer runs too; whoever seals, a few passes must finish the burst.
    for _ in 0..10 {
        if infra::store::audit::seal_pending(&app.state.db, tenant, SealPass::Fresh).await.unwrap() == 0 {
            break;
        }
    }
    let result = verify(&app, &agency.admin.access_token).await;
    assert_eq!(result["unsealed"], 0, "{result}");
    assert_eq!(result["ok"], true, "{result}");
    assert!(result["events_checked"].as_u64().unwrap() >= 2_500, "{result}");
}

/// Verification (which seals what is pending first) finds the chain whole and nothing unsealed.
async fn verifies_with_nothing_unsealed(app: &TestApp, token: &str) {
    let result = verify(app, token).await;
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["unsealed"], 0, "{result}");
}

/// An audit event with the given id, written as a transaction that drew its id that long ago and
/// commits only now would write it.
async fn commit_event_with_id(app: &TestApp, tenant: domain::TenantId, id: Uuid) {
    use infra::entities::audit_event;
    use sea_orm::{EntityTrait as _, Set};
    let tx = infra::db::begin_tenant_tx_for(&app.state.db, tenant).await.unwrap();
    let row = audit_event::ActiveModel {
        tenant_id: Set(tenant.as_uuid()),
        id: Set(id),
        occurred_at: Set(chrono::Utc::now()),
        actor_id: Set(None),
        action: Set("test.late_commit".into()),
        resource_type: Set("case".into()),
        resource_id: Set(None),
        client_ip: Set(None),
        request_id: Set(None),
        details: Set("{}".into()),
    };
    audit_event::Entity::insert(row).exec_without_returning(tx.raw()).await.unwrap();
    tx.commit().await.unwrap();
}

/// A v7 id drawn `ago` before now.
fn id_drawn_ago(ago: std::time::Duration) -> Uuid {
    let at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap() - ago;
    Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, at.as_secs(), at.subsec_nanos()))
}

/// A sealed agency with the background sealer held off, so the test decides every pass.
async fn sealed_agency_without_background_sealing() -> (TestApp, domain::TenantId, String) {
    let app = spawn_app_with(|s| s.audit_seal_interval_ms = 60_000).await;
    let agency = app.create_agency().await;
    let tenant = domain::TenantId::from_uuid(agency.id);
    while infra::store::audit::seal_pending(&app.state.db, tenant, SealPass::LateCommits).await.unwrap() > 0 {}
    (app, tenant, agency.admin.access_token.clone())
}

/// One tenant's line of the sealer's backlog, read as the sealer reads it.
async fn backlog_of(app: &TestApp, tenant: domain::TenantId) -> infra::store::audit::AuditBacklog {
    let backlog = infra::store::audit::backlog(&app.state.db).await.unwrap();
    backlog.into_iter().find(|line| line.tenant_id == tenant).expect("every tenant has a line")
}

/// The sealer asks once a round which tenants have events waiting and opens a transaction only
/// there: a tenant with a new event is named, one whose events are all sealed is not, and the
/// look-back is swept only while the newest sealed event is recent.
#[tokio::test]
async fn the_sealers_backlog_names_the_tenants_with_events_waiting_and_no_others() {
    let (app, busy, _) = sealed_agency_without_background_sealing().await;
    let quiet = domain::TenantId::from_uuid(app.create_agency().await.id);
    while infra::store::audit::seal_pending(&app.state.db, quiet, SealPass::LateCommits).await.unwrap() > 0 {}
    let event = Uuid::now_v7();
    commit_event_with_id(&app, busy, event).await;

    assert!(backlog_of(&app, busy).await.fresh_waiting, "a new event waits");
    let quiet_line = backlog_of(&app, quiet).await;
    assert!(!quiet_line.fresh_waiting, "all of the quiet tenant's events are sealed");
    assert!(quiet_line.newest_sealed.is_some(), "creating the agency was audited and sealed");

    assert_eq!(infra::store::audit::seal_pending(&app.state.db, busy, SealPass::Fresh).await.unwrap(), 1);
    let busy_line = backlog_of(&app, busy).await;
    assert!(!busy_line.fresh_waiting);
    assert_eq!(busy_line.newest_sealed, Some(event));
    let now = chrono::Utc::now();
    assert!(busy_line.late_commits_possible(now), "just sealed: a late commit may still come");
    assert!(
        !busy_line.late_commits_possible(now + chrono::Duration::minutes(13)),
        "sealed longer ago than the look-back and two minutes: none can"
    );
}

/// The background sealer, on its own, links what its backlog shows waiting: nobody calls a pass
/// here, and the agency's new event must be sealed within a few of its 200 ms rounds.
#[tokio::test]
async fn the_background_sealer_seals_what_its_backlog_shows_waiting() {
    let app = spawn_app().await;
    let tenant = domain::TenantId::from_uuid(app.create_agency().await.id);
    let event = Uuid::now_v7();
    commit_event_with_id(&app, tenant, event).await;
    for _ in 0..50 {
        let line = backlog_of(&app, tenant).await;
        if !line.fresh_waiting && line.newest_sealed == Some(event) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the background sealer left the event unsealed for 5 s: {:?}", backlog_of(&app, tenant).await);
}

/// The sealer writes a pass's links with statements whose text does not depend on the pass's
/// size. The driver keeps every statement it prepares, per connection, and one multi-row insert
/// per size made the service's memory grow under load. With one pooled connection (so one
/// database session to look into), passes of five sizes leave one prepared link insert on
/// PostgreSQL. SQLite writes a link at a time; there the passes are checked only for sealing.
/// On a database of its own: other tests' services would seal its events between its passes.
#[tokio::test]
async fn sealing_passes_of_any_size_prepare_one_statement_for_their_links() {
    let own_database = own_postgres_database("sealing_passes").await;
    let app = spawn_app_with(|s| {
        s.audit_seal_interval_ms = 60_000;
        s.database_max_connections = 1;
        if own_database.is_some() {
            s.database_url = own_database;
        }
    })
    .await;
    let tenant = domain::TenantId::from_uuid(app.create_agency().await.id);
    while infra::store::audit::seal_pending(&app.state.db, tenant, SealPass::LateCommits).await.unwrap() > 0 {}
    for size in [1, 2, 3, 5, 8] {
        for _ in 0..size {
            commit_event_with_id(&app, tenant, Uuid::now_v7()).await;
        }
        assert_eq!(infra::store::audit::seal_pending(&app.state.db, tenant, SealPass::Fresh).await.unwrap(), size);
    }
    let tx = infra::db::begin_tenant_read_tx_for(&app.state.db, tenant).await.unwrap();
    if on_postgres() {
        let (count, texts) = prepared_statements_like(&tx, "insert into%audit_seals%").await;
        assert_eq!(count, 1, "one link insert whatever the pass size: {texts:?}");
    }
    tx.commit().await.unwrap();
}

/// A transaction may commit its event after newer events were sealed. Passes for fresh events
/// start above the newest sealed one and so leave it; the late-commit pass, which the sealer runs
/// every minute and verification always, links it into the chain.
#[tokio::test]
async fn an_event_committed_after_newer_ones_were_sealed_is_sealed_by_the_late_commit_pass() {
    let (app, tenant, admin) = sealed_agency_without_background_sealing().await;
    commit_event_with_id(&app, tenant, Uuid::now_v7()).await;
    assert_eq!(infra::store::audit::seal_pending(&app.state.db, tenant, SealPass::Fresh).await.unwrap(), 1);

    let late = id_drawn_ago(std::time::Duration::from_secs(5));
    commit_event_with_id(&app, tenant, late).await;
    commit_event_with_id(&app, tenant, Uuid::now_v7()).await;
    assert_eq!(
        infra::store::audit::seal_pending(&app.state.db, tenant, SealPass::Fresh).await.unwrap(),
        1,
        "a fresh pass seals the new event and leaves the late one below the newest sealed"
    );
    assert_eq!(infra::store::audit::seal_pending(&app.state.db, tenant, SealPass::LateCommits).await.unwrap(), 1);
    assert_eq!(infra::store::audit::seal_pending(&app.state.db, tenant, SealPass::LateCommits).await.unwrap(), 0);

    verifies_with_nothing_unsealed(&app, &admin).await;
}

/// The sealer's sweep reads the look-back window a step at a time and finds a late commit on the
/// way; a sweep ends at the newest events and the next one starts over.
#[tokio::test]
async fn the_sealers_sweep_finds_a_late_commit_step_by_step() {
    let (app, tenant, admin) = sealed_agency_without_background_sealing().await;
    commit_event_with_id(&app, tenant, Uuid::now_v7()).await;
    assert_eq!(infra::store::audit::seal_pending(&app.state.db, tenant, SealPass::Fresh).await.unwrap(), 1);
    commit_event_with_id(&app, tenant, id_drawn_ago(std::time::Duration::from_secs(5))).await;

    let (mut sealed, mut steps, mut from) = (0, 0, None);
    loop {
        let (n, next) =
            infra::store::audit::sweep_late_commits(&app.state.db, tenant, from, std::time::Duration::from_secs(10))
                .await
                .unwrap();
        sealed += n;
        steps += 1;
        if next.is_none() {
            break;
        }
        assert!(next > from, "each step starts where the last one stopped");
        from = next;
    }
    assert_eq!(sealed, 1, "the late commit, once");
    // Ten minutes in steps of ten seconds, the last one open-ended.
    assert!((2..=62).contains(&steps), "{steps} steps");
    verifies_with_nothing_unsealed(&app, &admin).await;
}

/// The look-back has a limit (ten minutes before the newest sealed event): an event committed
/// later than that is never linked, and verification says so rather than passing over it.
#[tokio::test]
async fn an_event_committed_beyond_the_look_back_is_reported_unsealed() {
    let (app, tenant, admin) = sealed_agency_without_background_sealing().await;
    commit_event_with_id(&app, tenant, Uuid::now_v7()).await;
    commit_event_with_id(&app, tenant, id_drawn_ago(std::time::Duration::from_secs(11 * 60))).await;

    let result = verify(&app, &admin).await;
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["unsealed"], 1, "{result}");
}

#[tokio::test]
async fn editing_an_audit_row_is_reported_at_that_link() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    for _ in 0..3 {
        app.create_user(&agency, &["case_manager"]).await;
    }
    assert_eq!(verify(&app, &agency.admin.access_token).await["ok"], true);
    let events = user_created_events(&app, &agency.admin.access_token).await;
    let victim: Uuid = events[1]["id"].as_str().unwrap().parse().unwrap();

    tamper(&app, "UPDATE audit_events SET action = 'user.viewed' WHERE id = $1", victim).await;
    let result = verify(&app, &agency.admin.access_token).await;
    assert_eq!(result["ok"], false);
    assert_eq!(result["first_broken"]["event_id"], json!(victim.to_string()));
    assert_eq!(result["first_broken"]["reason"], "altered");
    assert_eq!(result["events_checked"].as_u64().unwrap() + 1, result["first_broken"]["seq"].as_u64().unwrap());
}

#[tokio::test]
async fn deleting_an_audit_row_is_reported_at_that_link() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    app.create_user(&agency, &["case_manager"]).await;
    app.create_user(&agency, &["supervisor"]).await;
    assert_eq!(verify(&app, &agency.admin.access_token).await["ok"], true);
    let events = user_created_events(&app, &agency.admin.access_token).await;
    let victim: Uuid = events[0]["id"].as_str().unwrap().parse().unwrap();

    tamper(&app, "DELETE FROM audit_events WHERE id = $1", victim).await;
    let result = verify(&app, &agency.admin.access_token).await;
    assert_eq!(result["ok"], false);
    assert_eq!(result["first_broken"]["reason"], "missing");
    assert_eq!(result["first_broken"]["event_id"], json!(victim.to_string()));
}

#[tokio::test]
async fn the_runtime_role_cannot_rewrite_or_delete_audit_rows() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    // Seal what is there, so the tables hold rows to try on.
    assert_eq!(verify(&app, &agency.admin.access_token).await["ok"], true);
    let tenant = domain::TenantId::from_uuid(agency.id);
    let tx = infra::db::begin_tenant_tx_for(&app.state.db, tenant).await.unwrap();
    let backend = tx.raw().get_database_backend();
    let update = tx.raw().execute_unprepared("UPDATE audit_events SET action = 'rewritten'").await;
    assert!(update.is_err(), "UPDATE on audit_events must be refused for the runtime connection");
    drop(tx);
    let tx = infra::db::begin_tenant_tx_for(&app.state.db, tenant).await.unwrap();
    let delete = tx.raw().execute_unprepared("DELETE FROM audit_seals").await;
    assert!(delete.is_err(), "DELETE on audit_seals must be refused ({backend:?})");
}

#[tokio::test]
async fn only_a_tenants_admin_reads_its_audit_log() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let platform = app.platform_admin().await;
    let ministry = app.create_tenant("ministry").await;
    // A ministry's and the platform's admins read their own tenants' logs, and nothing of the agency's.
    for token in [&platform.access_token, &ministry.admin.access_token] {
        let page: Value = app.get_as("/api/v1/audit-events?limit=200", Some(token), StatusCode::OK).await;
        let foreign = agency.admin.user_id.to_string();
        assert!(page["items"].as_array().unwrap().iter().all(|e| e["actor_id"] != foreign.as_str()), "{page}");
    }
    let analyst = app.create_user(&ministry, &["ministry_analyst"]).await;
    let mut tokens = vec![analyst.access_token];
    for role in ["supervisor", "case_manager", "police_liaison"] {
        tokens.push(app.create_user(&agency, &[role]).await.access_token);
    }
    for token in &tokens {
        problem(app.get("/api/v1/audit-events", Some(token)).await, StatusCode::FORBIDDEN).await;
        problem(app.get("/api/v1/audit-events/verify", Some(token)).await, StatusCode::FORBIDDEN).await;
    }
    problem(app.get("/api/v1/audit-events", None).await, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn one_agency_never_sees_anothers_audit_events() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let other = app.create_agency().await;
    let foreign = app.create_user(&other, &["case_manager"]).await;
    let page: Value = app
        .get(&format!("/api/v1/audit-events?resource_id={}", foreign.user_id), Some(&agency.admin.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"], json!([]));
    let all: Value =
        app.get("/api/v1/audit-events?limit=200", Some(&agency.admin.access_token)).await.json().await.unwrap();
    assert!(all["items"].as_array().unwrap().iter().all(|e| e["resource_id"] != json!(foreign.user_id)));
}
