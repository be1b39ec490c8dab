//! Referrals at the point of contact: made at a division, delivered over SSE to every worker on
//! duty there at once, accepted once, contacted (only with consent), converted once, escalated when
//! nobody accepts in time, and replayed to reconnecting streams.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{on_shift, referral_body};
use crate::helpers::{Agency, Session, TestApp, problem, spawn_app, spawn_app_sharing};

const SOON: Duration = Duration::from_secs(1);

async fn refer(app: &TestApp, who: &Session, body: &Value) -> Value {
    let response = app.post_json("/api/v1/referrals", Some(&who.access_token), body).await;
    assert_eq!(response.status(), StatusCode::CREATED, "referral");
    response.json().await.unwrap()
}

struct Desk {
    agency: Agency,
    division: Uuid,
    liaison: Session,
    on_duty: Session,
    supervisor: Session,
}

async fn desk(app: &TestApp) -> Desk {
    let agency = app.create_agency().await;
    let division = app.division_id("51").await;
    let liaison = app.create_user(&agency, &["police_liaison"]).await;
    let on_duty = app.create_user(&agency, &["case_manager"]).await;
    let supervisor = app.create_user(&agency, &["supervisor"]).await;
    on_shift(app, &agency, &on_duty, division).await;
    Desk { agency, division, liaison, on_duty, supervisor }
}

/// Two agencies, each with a desk at 51 Division and a referral made there: for tests of what
/// reaches one agency and not the other. Answers the first agency's referral.
async fn two_desks_with_a_referral_each(app: &TestApp) -> (Desk, Desk, Value) {
    let (a, b) = (desk(app).await, desk(app).await);
    let referral = refer(app, &a.liaison, &referral_body(a.division, true)).await;
    refer(app, &b.liaison, &referral_body(b.division, true)).await;
    (a, b, referral)
}

#[tokio::test]
async fn a_referral_reaches_every_worker_on_duty_there_within_a_second_and_nobody_else() {
    let app = spawn_app().await;
    let d = desk(&app).await;
    let second_on_duty = app.create_user(&d.agency, &["case_manager"]).await;
    on_shift(&app, &d.agency, &second_on_duty, d.division).await;
    let off_duty = app.create_user(&d.agency, &["case_manager"]).await;
    let elsewhere = app.create_user(&d.agency, &["case_manager"]).await;
    on_shift(&app, &d.agency, &elsewhere, app.division_id("14").await).await;
    let other = app.create_agency().await;
    let other_worker = app.create_user(&other, &["case_manager"]).await;
    on_shift(&app, &other, &other_worker, d.division).await;

    let mut streams = Vec::new();
    for who in [&d.on_duty, &second_on_duty, &off_duty, &elsewhere, &other_worker] {
        streams.push(app.events(&who.access_token, None).await);
    }
    let started = std::time::Instant::now();
    let referral = refer(&app, &d.liaison, &referral_body(d.division, true)).await;
    for stream in &mut streams[..2] {
        let event = stream.next_within(SOON).await.expect("the on-duty worker hears of it within a second");
        assert_eq!(event.kind, "referral.created");
        assert_eq!(event.data["referral_id"], referral["id"]);
        assert!(!event.data.to_string().contains("Marisol"), "events carry ids, not people");
    }
    assert!(started.elapsed() < SOON * 2);
    for stream in &mut streams[2..] {
        assert_eq!(stream.next_within(Duration::from_millis(300)).await, None, "nobody else hears of it");
    }
    assert_eq!(referral["status"], "pending");
    let assigned = referral["assigned_to"].clone();
    assert!(assigned == json!(d.on_duty.user_id) || assigned == json!(second_on_duty.user_id));
}

#[tokio::test]
async fn assignment_goes_to_the_least_loaded_worker_on_duty_or_nobody() {
    let app = spawn_app().await;
    let d = desk(&app).await;
    let second = app.create_user(&d.agency, &["case_manager"]).await;
    on_shift(&app, &d.agency, &second, d.division).await;
    let first = refer(&app, &d.liaison, &referral_body(d.division, true)).await;
    let next = refer(&app, &d.liaison, &referral_body(d.division, true)).await;
    assert_ne!(first["assigned_to"], next["assigned_to"], "the second referral goes to the other worker");
    let quiet = app.division_id("14").await;
    let staff_referral = refer(&app, &d.on_duty, &referral_body(quiet, true)).await;
    assert_eq!(staff_referral["assigned_to"], Value::Null, "nobody on duty at 14 Division");
}

#[tokio::test]
async fn a_liaison_refers_only_at_their_division_and_sees_status_but_never_the_person() {
    let app = spawn_app().await;
    let d = desk(&app).await;
    let elsewhere = app.division_id("14").await;
    problem(
        app.post_json("/api/v1/referrals", Some(&d.liaison.access_token), &referral_body(elsewhere, true)).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let referral = refer(&app, &d.liaison, &referral_body(d.division, true)).await;
    let path = format!("/api/v1/referrals/{}", referral["id"].as_str().unwrap());
    let status_view: Value = app.get(&path, Some(&d.liaison.access_token)).await.json().await.unwrap();
    assert_eq!(status_view["status"], "pending");
    let text = status_view.to_string();
    assert!(!text.contains("Marisol") && !text.contains("person") && !text.contains("TPS-2026"), "{text}");
    let detail: Value = app.get(&path, Some(&d.on_duty.access_token)).await.json().await.unwrap();
    assert_eq!(detail["person"]["given_name"], "Marisol");
    assert_eq!(detail["occurrence_number"], "TPS-2026-4471");

    let colleague = app.create_user(&d.agency, &["police_liaison"]).await;
    problem(app.get(&path, Some(&colleague.access_token)).await, StatusCode::NOT_FOUND).await;
    let theirs: Value = app.get("/api/v1/referrals", Some(&colleague.access_token)).await.json().await.unwrap();
    assert_eq!(theirs["items"], json!([]));
    let mine: Value = app.get("/api/v1/referrals", Some(&d.liaison.access_token)).await.json().await.unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    problem(
        app.post_json(&format!("{path}/accept"), Some(&d.liaison.access_token), &json!({})).await,
        StatusCode::FORBIDDEN,
    )
    .await;

    let other = app.create_agency().await;
    let foreign = app.create_user(&other, &["supervisor"]).await;
    problem(app.get(&path, Some(&foreign.access_token)).await, StatusCode::NOT_FOUND).await;
    problem(
        app.post_json(&format!("{path}/accept"), Some(&foreign.access_token), &json!({})).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let ministry = app.create_tenant("ministry").await;
    problem(app.get("/api/v1/referrals", Some(&ministry.admin.access_token)).await, StatusCode::FORBIDDEN).await;
    let bad = json!({"division_id": d.division, "victimization_types": [], "urgency": "whenever", "consent_to_contact": true, "person": {"given_name": "", "safe_contact": {"ok_to_call": false, "ok_to_text": false, "ok_to_voicemail": false}}});
    let fields: Vec<String> = problem(
        app.post_json("/api/v1/referrals", Some(&d.liaison.access_token), &bad).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["victimization_types", "urgency", "person.given_name"]);
}

#[tokio::test]
async fn the_lifecycle_runs_accept_contact_convert_once_each() {
    let app = spawn_app().await;
    let d = desk(&app).await;
    let program: Value = app
        .post_json(
            "/api/v1/programs",
            Some(&d.agency.admin.access_token),
            &json!({"code": "exit-route", "name": "Exit Route"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let mut body = referral_body(d.division, true);
    body["program_id"] = program["id"].clone();
    let referral = refer(&app, &d.liaison, &body).await;
    let path = format!("/api/v1/referrals/{}", referral["id"].as_str().unwrap());
    let mut liaison_stream = app.events(&d.liaison.access_token, None).await;
    let mut worker_stream = app.events(&d.on_duty.access_token, None).await;

    let early = app
        .post_json(&format!("{path}/contact-attempts"), Some(&d.on_duty.access_token), &json!({"outcome": "reached"}))
        .await;
    problem(early, StatusCode::CONFLICT).await;
    problem(
        app.post_json(&format!("{path}/convert"), Some(&d.on_duty.access_token), &json!({})).await,
        StatusCode::CONFLICT,
    )
    .await;

    let accepted = app.post_json(&format!("{path}/accept"), Some(&d.on_duty.access_token), &json!({})).await;
    assert_eq!(accepted.status(), StatusCode::OK);
    let accepted: Value = accepted.json().await.unwrap();
    assert_eq!(
        (accepted["status"].as_str(), accepted["accepted_by"].clone()),
        (Some("accepted"), json!(d.on_duty.user_id))
    );
    assert!(accepted["accepted_at"].as_str().is_some());
    problem(
        app.post_json(&format!("{path}/accept"), Some(&d.supervisor.access_token), &json!({})).await,
        StatusCode::CONFLICT,
    )
    .await;
    let heard = liaison_stream.next_within(SOON).await.expect("the liaison hears it was accepted");
    assert_eq!(heard.kind, "referral.accepted");

    let missed = app
        .post_json(&format!("{path}/contact-attempts"), Some(&d.on_duty.access_token), &json!({"outcome": "no_answer"}))
        .await;
    assert_eq!(missed.json::<Value>().await.unwrap()["status"], "unable_to_reach");
    let reached = app
        .post_json(
            &format!("{path}/contact-attempts"),
            Some(&d.on_duty.access_token),
            &json!({"outcome": "reached", "notes": "Safe at a friend's"}),
        )
        .await;
    assert_eq!(reached.status(), StatusCode::CREATED);
    let reached: Value = reached.json().await.unwrap();
    assert_eq!(reached["status"], "contacted");
    assert!(reached["first_contact_at"].as_str().is_some());
    let timed: Value = app.get(&path, Some(&d.on_duty.access_token)).await.json().await.unwrap();
    assert!(timed["seconds_to_accept"].as_i64().is_some_and(|s| (0..60).contains(&s)));
    assert!(
        timed["seconds_to_first_contact"]
            .as_i64()
            .is_some_and(|s| s >= timed["seconds_to_accept"].as_i64().unwrap_or(0))
    );
    let bad = app
        .post_json(&format!("{path}/contact-attempts"), Some(&d.on_duty.access_token), &json!({"outcome": "telepathy"}))
        .await;
    problem(bad, StatusCode::UNPROCESSABLE_ENTITY).await;

    let converted = app.post_json(&format!("{path}/convert"), Some(&d.on_duty.access_token), &json!({})).await;
    assert_eq!(converted.status(), StatusCode::CREATED);
    let converted: Value = converted.json().await.unwrap();
    problem(
        app.post_json(&format!("{path}/convert"), Some(&d.on_duty.access_token), &json!({})).await,
        StatusCode::CONFLICT,
    )
    .await;
    let case: Value = app
        .get(&format!("/api/v1/cases/{}", converted["case_id"].as_str().unwrap()), Some(&d.on_duty.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!((case["program_id"].clone(), case["division_id"].clone()), (program["id"].clone(), json!(d.division)));
    assert_eq!(
        (case["assigned_to"].clone(), case["referral_source"].as_str()),
        (json!(d.on_duty.user_id), Some("police"))
    );
    let client: Value = app
        .get(&format!("/api/v1/clients/{}", converted["client_id"].as_str().unwrap()), Some(&d.on_duty.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!((client["given_name"].as_str(), client["phone"].as_str()), (Some("Marisol"), Some("416-555-0177")));
    let detail: Value = app.get(&path, Some(&d.on_duty.access_token)).await.json().await.unwrap();
    assert_eq!(
        (detail["status"].as_str(), detail["case_id"].clone()),
        (Some("converted"), converted["case_id"].clone())
    );
    let mut kinds = Vec::new();
    while let Some(event) = worker_stream.next_within(Duration::from_millis(500)).await {
        kinds.push(event.kind);
    }
    assert!(kinds.contains(&"case.assigned".to_owned()), "{kinds:?}");
}

#[tokio::test]
async fn without_consent_to_contact_no_worker_may_contact_the_person() {
    let app = spawn_app().await;
    let d = desk(&app).await;
    let referral = refer(&app, &d.liaison, &referral_body(d.division, false)).await;
    let path = format!("/api/v1/referrals/{}", referral["id"].as_str().unwrap());
    app.post_json(&format!("{path}/accept"), Some(&d.on_duty.access_token), &json!({})).await;
    for outcome in ["reached", "no_answer"] {
        let refused = app
            .post_json(&format!("{path}/contact-attempts"), Some(&d.on_duty.access_token), &json!({"outcome": outcome}))
            .await;
        assert_eq!(problem(refused, StatusCode::CONFLICT).await["code"], "consent_required");
    }
    let detail: Value = app.get(&path, Some(&d.on_duty.access_token)).await.json().await.unwrap();
    assert_eq!((detail["consent_to_contact"].clone(), detail["first_contact_at"].clone()), (json!(false), Value::Null));
}

#[tokio::test]
async fn a_retried_referral_with_the_same_key_creates_one_referral() {
    let app = spawn_app().await;
    let d = desk(&app).await;
    let body = referral_body(d.division, true);
    let post = || {
        app.client
            .post(app.url("/api/v1/referrals"))
            .bearer_auth(&d.liaison.access_token)
            .header("Idempotency-Key", "tps-4471")
            .json(&body)
            .send()
    };
    let first: Value = post().await.unwrap().json().await.unwrap();
    let retry = post().await.unwrap();
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(retry.json::<Value>().await.unwrap(), first);
    let mine: Value = app.get("/api/v1/referrals", Some(&d.liaison.access_token)).await.json().await.unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_reconnecting_stream_receives_exactly_the_events_it_missed() {
    let app = spawn_app().await;
    let d = desk(&app).await;
    let mut stream = app.events(&d.on_duty.access_token, None).await;
    refer(&app, &d.liaison, &referral_body(d.division, true)).await;
    let seen = stream.next_within(SOON).await.expect("first event");
    drop(stream);
    let missed_a = refer(&app, &d.liaison, &referral_body(d.division, true)).await;
    let missed_b = refer(&app, &d.liaison, &referral_body(d.division, true)).await;
    let mut resumed = app.events(&d.on_duty.access_token, Some(&seen.id)).await;
    let first = resumed.next_within(SOON).await.expect("missed event 1");
    let second = resumed.next_within(SOON).await.expect("missed event 2");
    assert_eq!(
        (first.data["referral_id"].clone(), second.data["referral_id"].clone()),
        (missed_a["id"].clone(), missed_b["id"].clone())
    );
    assert_eq!(resumed.next_within(Duration::from_millis(300)).await, None, "nothing twice, nothing extra");
    let bad = app
        .client
        .get(app.url("/api/v1/events"))
        .bearer_auth(&d.on_duty.access_token)
        .header("Last-Event-ID", "nonsense")
        .send()
        .await
        .unwrap();
    problem(bad, StatusCode::UNPROCESSABLE_ENTITY).await;
    problem(app.get("/api/v1/events", None).await, StatusCode::UNAUTHORIZED).await;
}

/// Moves a referral's escalation deadline into the past, as if its window had run out.
async fn make_overdue(app: &TestApp, agency: &Agency, referral: &Value) {
    use sea_orm::{ConnectionTrait, Statement};
    let tx = infra::db::begin_tenant_tx_for(&app.state.db, domain::TenantId::from_uuid(agency.id)).await.unwrap();
    let backend = tx.raw().get_database_backend();
    let id: Uuid = referral["id"].as_str().unwrap().parse().unwrap();
    let past = chrono::Utc::now() - chrono::Duration::minutes(1);
    let sql = if backend == sea_orm::DbBackend::Postgres {
        "UPDATE referrals SET escalation_due_at = $1 WHERE tenant_id = $2 AND id = $3"
    } else {
        "UPDATE referrals SET escalation_due_at = ? WHERE tenant_id = ? AND id = ?"
    };
    tx.raw()
        .execute_raw(Statement::from_sql_and_values(backend, sql, [past.into(), agency.id.into(), id.into()]))
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn an_unaccepted_referral_escalates_to_supervisors_once_even_with_two_sweepers() {
    // A sweeper that never runs stands for a service stopped before the deadline.
    let stopped = spawn_app_with_slow_sweeper().await;
    let d = desk(&stopped).await;
    let referral = refer(&stopped, &d.liaison, &referral_body(d.division, true)).await;
    make_overdue(&stopped, &d.agency, &referral).await;
    // Two services start after the deadline, sharing the database: one escalation, not two.
    let first = spawn_app_sharing(&stopped, |_| {}).await;
    let second = spawn_app_sharing(&stopped, |_| {}).await;
    let mut stream = first.events(&d.supervisor.access_token, None).await;
    let mut escalated = None;
    for _ in 0..50 {
        let detail: Value = first
            .get(&format!("/api/v1/referrals/{}", referral["id"].as_str().unwrap()), Some(&d.supervisor.access_token))
            .await
            .json()
            .await
            .unwrap();
        if detail["escalated_at"].is_string() {
            escalated = Some(detail);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let escalated = escalated.expect("the referral escalated after the deadline");
    assert_eq!(escalated["status"], "pending", "escalation leaves the status alone");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events: Value = second
        .get(
            &format!("/api/v1/audit-events?resource_id={}&limit=200", referral["id"].as_str().unwrap()),
            Some(&d.agency.admin.access_token),
        )
        .await
        .json()
        .await
        .unwrap();
    let escalations =
        events["items"].as_array().unwrap().iter().filter(|e| e["action"] == "referral.escalated").count();
    assert_eq!(escalations, 1, "exactly one escalation");
    // The supervisor's stream (opened after it happened) replays it from the start of time.
    drop(stream.next_within(Duration::from_millis(10)).await);
    let mut replay = first.events(&d.supervisor.access_token, Some(&Uuid::nil().to_string())).await;
    let event = replay.next_within(SOON).await.expect("supervisors are told");
    assert_eq!(
        (event.kind.as_str(), event.data["referral_id"].clone()),
        ("referral.escalated", referral["id"].clone())
    );
    assert_eq!(replay.next_within(Duration::from_millis(300)).await, None, "told once");
}

/// The sweeper asks once a round which agencies have a referral due and opens a transaction only
/// there: an agency with a referral past its deadline is named, one whose referral is not due yet
/// is not, and neither is once its referral has escalated. A database of its own: on the suite's
/// shared PostgreSQL every other test's service sweeps these agencies too, and one escalated the
/// referral before this test's own sweep could (a failure seen once in the full suite).
#[tokio::test]
async fn the_sweeper_visits_only_agencies_with_a_referral_past_its_deadline() {
    let app = crate::helpers::spawn_app_alone("the_sweeper_visits_only_agencies_with_a", |s| {
        s.escalation_sweep_interval_ms = 60_000;
    })
    .await;
    let (due, not_due, referral) = two_desks_with_a_referral_each(&app).await;
    let (tenant_due, tenant_not_due) =
        (domain::TenantId::from_uuid(due.agency.id), domain::TenantId::from_uuid(not_due.agency.id));
    let swept = || async {
        infra::store::referrals::tenants_with_due_escalations(&app.state.db, chrono::Utc::now()).await.unwrap()
    };

    let before = swept().await;
    assert!(!before.contains(&tenant_due) && !before.contains(&tenant_not_due), "nothing is due yet");
    make_overdue(&app, &due.agency, &referral).await;
    let after = swept().await;
    assert!(after.contains(&tenant_due), "the agency with an overdue referral is swept");
    assert!(!after.contains(&tenant_not_due), "the other agency is not");

    assert_eq!(api::background::escalate_due(&app.state, tenant_due).await.unwrap(), 1);
    assert!(!swept().await.contains(&tenant_due), "an escalated referral is not due again");
}

async fn spawn_app_with_slow_sweeper() -> TestApp {
    crate::helpers::spawn_app_with(|s| s.escalation_sweep_interval_ms = 60_000).await
}

#[tokio::test]
async fn a_referral_made_through_one_replica_reaches_a_stream_on_another() {
    if std::env::var("REDIS_URL").is_err() || !crate::helpers::on_postgres() {
        eprintln!("replicas share PostgreSQL and Redis; this test runs in the PostgreSQL + Redis pass of .ci/run");
        return;
    }
    let one = spawn_app().await;
    let two = spawn_app_sharing(&one, |s| s.redis_namespace = one.redis_namespace.clone()).await;
    let d = desk(&one).await;
    let worker = two.login(&d.agency.slug, &d.on_duty.email, crate::helpers::PASSWORD).await;
    let mut stream = two.events(&worker.access_token, None).await;
    // Let the second replica's Redis relay subscribe before publishing.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let referral = refer(&one, &d.liaison, &referral_body(d.division, true)).await;
    let event = stream.next_within(SOON).await.expect("delivered through Redis within a second");
    assert_eq!(event.data["referral_id"], referral["id"]);
}

#[tokio::test]
async fn a_retried_conversion_with_the_same_key_answers_with_the_same_case() {
    let app = spawn_app().await;
    let d = desk(&app).await;
    let referral = refer(&app, &d.liaison, &referral_body(d.division, true)).await;
    let path = format!("/api/v1/referrals/{}", referral["id"].as_str().unwrap());
    app.post_json(&format!("{path}/accept"), Some(&d.on_duty.access_token), &json!({})).await;
    let convert = || {
        app.client
            .post(app.url(&format!("{path}/convert")))
            .bearer_auth(&d.on_duty.access_token)
            .header("Idempotency-Key", "convert-once")
            .send()
    };
    let first = convert().await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let retry = convert().await.unwrap();
    assert_eq!(retry.status(), StatusCode::CREATED, "a retry is answered, not refused");
    assert_eq!(retry.json::<Value>().await.unwrap(), first);
    let cases: Value = app.get("/api/v1/cases", Some(&d.supervisor.access_token)).await.json().await.unwrap();
    assert_eq!(cases["items"].as_array().unwrap().len(), 1);
}

/// A replica that has not yet read an agency's key (just started, or the agency's first request
/// on it) loads the key while a request's transaction may already be open. On SQLite a second
/// writing transaction in the same process waits for the first: a handler that asked for the key
/// inside its transaction waited for itself, for ever. Every first request here must answer.
#[tokio::test]
async fn a_replica_that_has_not_read_the_agency_key_yet_accepts_referrals_and_opens_cases() {
    let app = spawn_app().await;
    let d = desk(&app).await;
    let referral = refer(&app, &d.liaison, &referral_body(d.division, true)).await;
    let client = crate::fixtures::create_client(&app, &d.on_duty.access_token, &json!({"given_name": "Fresh"})).await;
    let in_time = |what: &'static str| move |_| panic!("{what} did not answer within 10 s on a fresh replica");

    let fresh = spawn_app_sharing(&app, |_| {}).await;
    let accepted = tokio::time::timeout(
        Duration::from_secs(10),
        fresh.post_json(
            &format!("/api/v1/referrals/{}/accept", referral["id"].as_str().unwrap()),
            Some(&d.on_duty.access_token),
            &json!({}),
        ),
    )
    .await
    .unwrap_or_else(in_time("accept"));
    assert_eq!(accepted.status(), StatusCode::OK);

    let fresh = spawn_app_sharing(&app, |_| {}).await;
    let body = json!({"client_id": client["id"], "victimization_types": ["intimate_partner_violence"], "referral_source": "police"});
    let opened = tokio::time::timeout(
        Duration::from_secs(10),
        fresh.post_json("/api/v1/cases", Some(&d.on_duty.access_token), &body),
    )
    .await
    .unwrap_or_else(in_time("open a case"));
    assert_eq!(opened.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn making_a_referral_sends_the_database_a_fixed_number_of_statements() {
    let app = crate::helpers::spawn_quiet_app().await;
    let d = desk(&app).await;
    let second = app.create_user(&d.agency, &["case_manager"]).await;
    on_shift(&app, &d.agency, &second, d.division).await;
    refer(&app, &d.liaison, &referral_body(d.division, true)).await; // the agency key is loaded

    let before = app.state.db.statements_sent();
    let referral = refer(&app, &d.liaison, &referral_body(d.division, true)).await;
    let sent = app.state.db.statements_sent() - before;
    // The division, the liaison's posting, the windows and who is on duty with their open
    // referrals (one read); then the referral, its fact, the events and the audit event: one
    // statement on PostgreSQL, five on SQLite (no round trips there: an event a row, one for each
    // of the two on duty), where the session check is a statement of its own. On PostgreSQL the check rides in the transaction's first message with
    // SET LOCAL; that message, BEGIN and COMMIT are not counted: 6 statements in 5 round trips.
    let expected = if crate::helpers::on_postgres() { 2 } else { 7 };
    assert_eq!(sent, expected, "statements for one POST /referrals");
    // The first referral went to one of the two; this one to the other (fewest open).
    let assigned = referral["assigned_to"].clone();
    assert!(assigned == json!(d.on_duty.user_id) || assigned == json!(second.user_id));
}

/// Accepting and converting a referral: each reads the referral once, asks the domain for the
/// next status, and applies it conditional on the status it was decided from, answering from the
/// row the update returns (no second or third read of the same row).
#[tokio::test]
async fn accepting_and_converting_send_the_database_a_fixed_number_of_statements() {
    let app = crate::helpers::spawn_quiet_app().await;
    let d = desk(&app).await;
    refer(&app, &d.liaison, &referral_body(d.division, true)).await; // the agency key is loaded
    let referral = refer(&app, &d.liaison, &referral_body(d.division, true)).await;
    let path = format!("/api/v1/referrals/{}", referral["id"].as_str().unwrap());

    let before = app.state.db.statements_sent();
    let accepted = app.post_json(&format!("{path}/accept"), Some(&d.on_duty.access_token), &json!({})).await;
    let accept_sent = app.state.db.statements_sent() - before;
    assert_eq!(accepted.status(), StatusCode::OK);
    let accepted: Value = accepted.json().await.unwrap();
    assert_eq!(accepted["status"], "accepted");
    assert_eq!(accepted["accepted_by"], json!(d.on_duty.user_id), "the answer is the row as updated");

    let before = app.state.db.statements_sent();
    let converted = app.post_json(&format!("{path}/convert"), Some(&d.on_duty.access_token), &json!({})).await;
    let convert_sent = app.state.db.statements_sent() - before;
    assert_eq!(converted.status(), StatusCode::CREATED);
    // Accept: the referral, the update returning it; its fact, the events, the first-contact task
    // and the audit events are appended (4 on PostgreSQL, where appends ride with the next
    // statement or the commit; before the update returned the row, 6: the referral was read three
    // times). Convert: the referral, its division, the client, the update returning the referral,
    // the update completing the first-contact task, the appends (7). On SQLite every append is a
    // statement of its own and the session check is one more (9 and 13; before tasks, 7 and 11).
    let (accept, convert) = if crate::helpers::on_postgres() { (4, 7) } else { (9, 13) };
    assert_eq!((accept_sent, convert_sent), (accept, convert), "statements for accept and convert");
}

/// The event pruner deletes a tenant's events made before the cut-off, and only that tenant's:
/// another agency's events, and events after the cut-off, stay. The referral itself stays too.
#[tokio::test]
async fn the_event_pruner_deletes_one_tenants_old_events_and_nothing_else() {
    let app = spawn_app().await;
    let (a, b, referral) = two_desks_with_a_referral_each(&app).await;
    let latest = |d: &Desk| {
        let (tenant, user) = (domain::TenantId::from_uuid(d.agency.id), domain::UserId::from_uuid(d.on_duty.user_id));
        let db = &app.state.db;
        async move {
            let tx = infra::db::begin_tenant_tx_for(db, tenant).await.unwrap();
            let id = infra::store::events::latest_id(&tx, user).await.unwrap();
            tx.commit().await.unwrap();
            id
        }
    };
    let tenant_a = domain::TenantId::from_uuid(a.agency.id);
    let yesterday = chrono::Utc::now() - chrono::Duration::days(1);
    assert_eq!(api::background::prune_events(&app.state, tenant_a, yesterday).await.unwrap(), 0, "nothing that old");
    assert!(latest(&a).await.is_some());

    let later = chrono::Utc::now() + chrono::Duration::seconds(1);
    assert!(api::background::prune_events(&app.state, tenant_a, later).await.unwrap() >= 1);
    assert_eq!(latest(&a).await, None, "agency A's events are gone");
    assert!(latest(&b).await.is_some(), "agency B's are not");
    let path = format!("/api/v1/referrals/{}", referral["id"].as_str().unwrap());
    assert_eq!(app.get(&path, Some(&a.on_duty.access_token)).await.status(), StatusCode::OK, "the referral stays");
}

/// A referral's person, its notes and its contact attempts' notes are sealed at rest on every path,
/// the stored answers of idempotent creates included (every create here sends a key).
#[tokio::test]
async fn referrals_in_never_reach_the_database_in_plaintext() {
    use crate::at_rest;
    let wal = at_rest::WalMark::now();
    let app = spawn_app().await;
    app.key_every_post();
    let d = desk(&app).await;
    let mut body = referral_body(d.division, true);
    body["notes"] = json!("Met at Corvellan Station");
    let referral = refer(&app, &d.liaison, &body).await;
    let path = format!("/api/v1/referrals/{}", referral["id"].as_str().unwrap());
    app.post_json(&format!("{path}/accept"), Some(&d.on_duty.access_token), &json!({})).await;
    let attempt = json!({"outcome": "reached", "notes": "Sister Ysolde answered"});
    let response = app.post_json(&format!("{path}/contact-attempts"), Some(&d.on_duty.access_token), &attempt).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = app.post_json(&format!("{path}/convert"), Some(&d.on_duty.access_token), &json!({})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let canaries =
        ["Marisol", "Vantongeren", "416-555-0177", "blocked number", "Corvellan", "Ysolde", crate::helpers::KEY_CANARY];
    at_rest::assert_no_canaries(&at_rest::sources(&app, &wal), "case.created", &canaries);
}

/// A stream holds no more rights than the token it was opened with: it ends when that token
/// expires (after a `token_expired` event), and the client comes back with a fresh one.
#[tokio::test]
async fn an_event_stream_ends_when_its_access_token_expires() {
    use domain::{SessionId, TenantId, UserId};
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let claims = app.state.tokens.verify(&worker.access_token).unwrap();
    let roles = domain::user::RoleSet::from_storage(&claims.roles.join(","));
    let (short, _) = app
        .state
        .tokens
        .issue_lasting(
            UserId::from_uuid(claims.sub),
            TenantId::from_uuid(claims.tid),
            claims.tkind,
            &roles,
            SessionId::from_uuid(claims.sid),
            2,
        )
        .unwrap();
    let mut stream = app.events(&short, None).await;
    let rest = stream.end_within(Duration::from_secs(10)).await.expect("the stream ended with its token");
    assert!(rest.contains("event: token_expired"), "{rest:?}");
    // A fresh token opens it again.
    let mut again = app.events(&worker.access_token, None).await;
    assert!(again.end_within(Duration::from_secs(1)).await.is_none(), "a live token's stream stays open");
}
