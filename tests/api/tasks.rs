//! Tasks and deadlines over HTTP: made on a case and listed as a worker's day, soonest first;
//! completed, reopened, reassigned and moved with `If-Match`; made by the platform with the change
//! that requires them (a VQRP+ submission, a consent that lapses, a referral accepted, a safety
//! plan's review date) and completed when their reason goes away; hidden with their case; titles
//! sealed at rest; announced once when overdue, however many replicas sweep, and to supervisors
//! only after the grace.

use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{open_case, referral_body};
use crate::helpers::{Agency, Session, TestApp, problem, spawn_app, spawn_app_sharing, spawn_app_with};

fn in_days(days: i64) -> String {
    (Utc::now() + chrono::Duration::days(days)).to_rfc3339()
}

fn id(value: &Value) -> &str {
    value["id"].as_str().unwrap()
}

async fn add_task(app: &TestApp, who: &Session, case: &Value, body: &Value) -> reqwest::Response {
    app.post_json(&format!("/api/v1/cases/{}/tasks", id(case)), Some(&who.access_token), body).await
}

async fn make_task(app: &TestApp, who: &Session, case: &Value, title: &str, due_in_days: i64) -> Value {
    let body = json!({"title": title, "due_at": in_days(due_in_days)});
    let response = add_task(app, who, case, &body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

async fn tasks(app: &TestApp, who: &Session, query: &str) -> Vec<Value> {
    let list: Value = app.get_as(&format!("/api/v1/tasks{query}"), Some(&who.access_token), StatusCode::OK).await;
    list["items"].as_array().unwrap().clone()
}

async fn task(app: &TestApp, who: &Session, task_id: &str) -> reqwest::Response {
    app.get(&format!("/api/v1/tasks/{task_id}"), Some(&who.access_token)).await
}

async fn patch_task(
    app: &TestApp,
    who: &Session,
    task: &Value,
    if_match: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    app.patch_json(&format!("/api/v1/tasks/{}", id(task)), &who.access_token, if_match, body).await
}

fn etag(value: &Value) -> String {
    format!("\"{}\"", value["version"])
}

/// The tasks of `kind` about `source`, as the caller lists them.
async fn system_tasks(app: &TestApp, who: &Session, kind: &str, source: &str) -> Vec<Value> {
    tasks(app, who, "?limit=200").await.into_iter().filter(|t| t["kind"] == kind && t["source_id"] == source).collect()
}

#[tokio::test]
async fn a_worker_adds_lists_completes_and_reopens_tasks_with_etags() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let colleague = app.create_user(&agency, &["case_manager"]).await;
    let case = open_case(&app, &worker, json!({})).await;

    let later = add_task(&app, &worker, &case, &json!({"title": "  Book court support  ", "due_at": in_days(5)})).await;
    assert_eq!(later.status(), StatusCode::CREATED);
    let location = later.headers().get("location").unwrap().to_str().unwrap().to_owned();
    let tag = later.headers().get("etag").unwrap().to_str().unwrap().to_owned();
    let later: Value = later.json().await.unwrap();
    assert_eq!(location, format!("/api/v1/tasks/{}", id(&later)));
    assert_eq!(tag, "\"1\"");
    assert_eq!(
        (&later["title"], &later["kind"], &later["status"], &later["assigned_to"], &later["case_id"]),
        (&json!("Book court support"), &json!("manual"), &json!("open"), &json!(worker.user_id), &case["id"])
    );
    assert_eq!((&later["overdue"], &later["source_id"]), (&json!(false), &Value::Null));
    let sooner = make_task(&app, &worker, &case, "Call back about the shelter bed", 1).await;
    let theirs = json!({"title": "Accompany to bail hearing", "due_at": in_days(2), "assigned_to": colleague.user_id});
    let theirs: Value = add_task(&app, &worker, &case, &theirs).await.json().await.unwrap();
    assert_eq!(theirs["assigned_to"], json!(colleague.user_id));

    // A worker's day: their own tasks, soonest first; paged.
    let day = tasks(&app, &worker, "").await;
    assert_eq!(day.iter().map(|t| t["id"].clone()).collect::<Vec<_>>(), [sooner["id"].clone(), later["id"].clone()]);
    assert_eq!(tasks(&app, &worker, "?assigned_to=me").await.len(), 2);
    let first: Value = app.get_as("/api/v1/tasks?limit=1", Some(&worker.access_token), StatusCode::OK).await;
    assert_eq!(first["items"][0]["id"], sooner["id"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let next: Value =
        app.get_as(&format!("/api/v1/tasks?limit=1&cursor={cursor}"), Some(&worker.access_token), StatusCode::OK).await;
    assert_eq!((&next["items"][0]["id"], &next["next_cursor"]), (&later["id"], &Value::Null));
    let due_soon = tasks(&app, &worker, &format!("?due_before={}", urlencode(&in_days(3)))).await;
    assert_eq!(due_soon.len(), 1);
    assert_eq!(tasks(&app, &colleague, "").await.len(), 1);

    // Complete with the ETag; a stale one changes nothing.
    problem(
        patch_task(&app, &worker, &sooner, None, &json!({"status": "completed"})).await,
        StatusCode::PRECONDITION_REQUIRED,
    )
    .await;
    let done = patch_task(&app, &worker, &sooner, Some(&etag(&sooner)), &json!({"status": "completed"})).await;
    assert_eq!(done.status(), StatusCode::OK);
    assert_eq!(done.headers().get("etag").unwrap().to_str().unwrap(), "\"2\"");
    let done: Value = done.json().await.unwrap();
    assert_eq!((&done["status"], &done["completed_by"]), (&json!("completed"), &json!(worker.user_id)));
    assert!(done["completed_at"].is_string());
    let stale = json!({"title": "Overwritten"});
    problem(patch_task(&app, &worker, &sooner, Some(&etag(&sooner)), &stale).await, StatusCode::PRECONDITION_FAILED)
        .await;
    let now: Value = task(&app, &worker, id(&sooner)).await.json().await.unwrap();
    assert_eq!((&now["title"], &now["version"]), (&json!("Call back about the shelter bed"), &json!(2)));
    problem(
        patch_task(&app, &worker, &done, Some(&etag(&done)), &json!({"status": "completed"})).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(tasks(&app, &worker, "?status=open").await.len(), 1);
    assert_eq!(tasks(&app, &worker, "?status=completed").await.len(), 1);

    // Reopen, reassign and move.
    let reopened: Value =
        patch_task(&app, &worker, &done, Some(&etag(&done)), &json!({"status": "open"})).await.json().await.unwrap();
    assert_eq!((&reopened["status"], &reopened["completed_at"]), (&json!("open"), &Value::Null));
    let moved = json!({"assigned_to": colleague.user_id, "due_at": in_days(4), "title": "Call the shelter"});
    let moved: Value = patch_task(&app, &worker, &reopened, Some(&etag(&reopened)), &moved).await.json().await.unwrap();
    assert_eq!(
        (&moved["assigned_to"], &moved["title"], &moved["version"]),
        (&json!(colleague.user_id), &json!("Call the shelter"), &json!(4))
    );
    assert_eq!(tasks(&app, &colleague, "").await.len(), 2);

    // Audited: each change by its name, never its title.
    let audit: Value = app
        .get_as(
            &format!("/api/v1/audit-events?resource_id={}&limit=200", id(&sooner)),
            Some(&agency.admin.access_token),
            StatusCode::OK,
        )
        .await;
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for action in ["task.created", "task.completed", "task.reopened", "task.updated", "task.read"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    assert!(!audit.to_string().contains("shelter"), "no title in the audit log");
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field_and_leaves_nothing_behind() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let case = open_case(&app, &worker, json!({})).await;
    let field = async |body: Value| -> String {
        let refused = problem(add_task(&app, &worker, &case, &body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(refused["code"], "validation_failed");
        refused["errors"][0]["field"].as_str().unwrap().to_owned()
    };
    assert_eq!(field(json!({"title": "   ", "due_at": in_days(1)})).await, "title");
    assert_eq!(field(json!({"title": "x".repeat(201), "due_at": in_days(1)})).await, "title");
    assert_eq!(field(json!({"title": "Call", "due_at": "next Tuesday"})).await, "due_at");
    assert_eq!(field(json!({"title": "Call", "due_at": in_days(-1)})).await, "due_at", "in the past");
    assert_eq!(
        field(json!({"title": "Call", "due_at": in_days(1), "assigned_to": Uuid::now_v7()})).await,
        "assigned_to"
    );
    let admin = json!({"title": "Call", "due_at": in_days(1), "assigned_to": agency.admin.user_id});
    assert_eq!(field(admin).await, "assigned_to", "an agency admin holds no cases");
    let other = app.create_agency().await;
    let stranger = app.create_user(&other, &["case_manager"]).await;
    let foreign = json!({"title": "Call", "due_at": in_days(1), "assigned_to": stranger.user_id});
    assert_eq!(field(foreign).await, "assigned_to", "another agency's worker");
    assert_eq!(field(json!({"title": "Call", "due_at": in_days(1), "colour": "red"})).await, "body");
    assert_eq!(tasks(&app, &worker, "").await, Vec::<Value>::new(), "no refusal left a task behind");

    let made = make_task(&app, &worker, &case, "Call", 1).await;
    let bad_patch = async |body: Value| -> String {
        let refused =
            problem(patch_task(&app, &worker, &made, Some("\"1\""), &body).await, StatusCode::UNPROCESSABLE_ENTITY)
                .await;
        refused["errors"][0]["field"].as_str().unwrap().to_owned()
    };
    assert_eq!(bad_patch(json!({"status": "done"})).await, "status");
    assert_eq!(bad_patch(json!({"due_at": "soon"})).await, "due_at");
    assert_eq!(bad_patch(json!({"assigned_to": Uuid::now_v7()})).await, "assigned_to");
    assert_eq!(bad_patch(json!({})).await, "body");
    for (query, named) in
        [("?assigned_to=someone", "assigned_to"), ("?status=late", "status"), ("?due_before=soon", "due_before")]
    {
        let listed = app.get(&format!("/api/v1/tasks{query}"), Some(&worker.access_token)).await;
        let refused = problem(listed, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(refused["errors"][0]["field"], named, "{query}");
    }
    let unchanged: Value = task(&app, &worker, id(&made)).await.json().await.unwrap();
    assert_eq!(unchanged["version"], 1);
}

#[tokio::test]
async fn a_retried_create_with_its_key_makes_one_task() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let case = open_case(&app, &worker, json!({})).await;
    let body = json!({"title": "Call the court", "due_at": in_days(2)});
    let send = || {
        app.client
            .post(app.url(&format!("/api/v1/cases/{}/tasks", id(&case))))
            .bearer_auth(&worker.access_token)
            .header("Idempotency-Key", "task-retry-1")
            .json(&body)
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let again = send().await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.json::<Value>().await.unwrap()["id"], first["id"]);
    assert_eq!(tasks(&app, &worker, "").await.len(), 1);
}

#[tokio::test]
async fn restricted_cases_and_other_agencies_keep_their_tasks_to_themselves() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let supervisor = app.create_user(&agency, &["supervisor"]).await;
    let restricted = open_case(&app, &supervisor, json!({"restricted": true, "assigned_to": supervisor.user_id})).await;
    let hidden = make_task(&app, &supervisor, &restricted, "Move her to the second safe house", 1).await;
    let path = format!("/api/v1/tasks/{}", id(&hidden));

    problem(app.get(&path, Some(&worker.access_token)).await, StatusCode::NOT_FOUND).await;
    problem(
        patch_task(&app, &worker, &hidden, Some("\"1\""), &json!({"status": "completed"})).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        add_task(&app, &worker, &restricted, &json!({"title": "Call", "due_at": in_days(1)})).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    // Nobody is pointed at a restricted case they may not know of.
    let to_worker = json!({"title": "Call", "due_at": in_days(1), "assigned_to": worker.user_id});
    let refused = problem(add_task(&app, &supervisor, &restricted, &to_worker).await, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.await["errors"][0]["field"], "assigned_to");
    let reassign = json!({"assigned_to": worker.user_id});
    let refused = problem(
        patch_task(&app, &supervisor, &hidden, Some("\"1\""), &reassign).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    );
    assert_eq!(refused.await["errors"][0]["field"], "assigned_to");

    // A worker lists only their own; a supervisor the team's, or one worker's.
    let open = open_case(&app, &worker, json!({})).await;
    let mine = make_task(&app, &worker, &open, "Call", 2).await;
    assert_eq!(
        tasks(&app, &worker, "").await.iter().map(|t| t["id"].clone()).collect::<Vec<_>>(),
        [mine["id"].clone()]
    );
    let others = format!("/api/v1/tasks?assigned_to={}", supervisor.user_id);
    problem(app.get(&others, Some(&worker.access_token)).await, StatusCode::FORBIDDEN).await;
    assert_eq!(tasks(&app, &supervisor, "").await.len(), 2, "the team's");
    assert_eq!(tasks(&app, &supervisor, &format!("?assigned_to={}", worker.user_id)).await.len(), 1);
    assert_eq!(tasks(&app, &supervisor, "?assigned_to=me").await.len(), 1);
    problem(app.get("/api/v1/tasks", Some(&agency.admin.access_token)).await, StatusCode::FORBIDDEN).await;

    // Another agency's people, and the ministry, see none of it.
    let other = app.create_agency().await;
    let stranger = app.create_user(&other, &["supervisor"]).await;
    problem(app.get(&path, Some(&stranger.access_token)).await, StatusCode::NOT_FOUND).await;
    problem(
        app.get(&format!("/api/v1/tasks/{}", id(&mine)), Some(&stranger.access_token)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(tasks(&app, &stranger, "").await, Vec::<Value>::new());
    let ministry = app.create_tenant("ministry").await;
    problem(app.get("/api/v1/tasks", Some(&ministry.admin.access_token)).await, StatusCode::FORBIDDEN).await;
    app.get_as::<Value>(&path, Some(&supervisor.access_token), StatusCode::OK).await;
}

#[tokio::test]
async fn a_vqrp_submission_makes_its_decision_task_and_the_decision_completes_it() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let supervisor = app.create_user(&agency, &["supervisor"]).await;
    let case = open_case(&app, &worker, json!({})).await;
    let today = domain::reporting::ontario_date(Utc::now());
    let apply = json!({"expense_category": "counselling", "crime_date": (today - chrono::Duration::days(3)).to_string(),
        "reported_to": "police", "requested_cents": 50_000,
        "eligibility": {"crime_in_ontario": true, "no_other_source_of_funds": true, "applicant_eligible": true}});
    let base = format!("/api/v1/cases/{}/vqrp-applications", id(&case));
    let act = async |application: &Value, action: &str, body: Value| {
        let path = format!("/api/v1/vqrp-applications/{}/{action}", id(application));
        let who = if action == "decide" { &supervisor } else { &worker };
        app.post::<Value>(&path, Some(&who.access_token), &body, StatusCode::OK).await
    };

    let decided: Value = app.post(&base, Some(&worker.access_token), &apply, StatusCode::CREATED).await;
    assert!(
        system_tasks(&app, &worker, "vqrp_decision", id(&decided)).await.is_empty(),
        "a draft waits for no decision"
    );
    let submitted = act(&decided, "submit", json!({})).await;
    let made = system_tasks(&app, &worker, "vqrp_decision", id(&decided)).await;
    assert_eq!(made.len(), 1, "the maker's task");
    let due = domain::tasks::end_of_ontario_day(submitted["decision_due"].as_str().unwrap().parse().unwrap());
    assert_eq!(made[0]["due_at"].as_str().unwrap().parse::<chrono::DateTime<Utc>>().unwrap(), due);
    assert_eq!(
        (&made[0]["title"], &made[0]["case_id"], &made[0]["created_by"]),
        (&json!("VQRP+ decision due"), &case["id"], &json!(worker.user_id))
    );
    assert_eq!(made[0]["status"], "open");
    // The same source never makes a second task: the unique key refuses it, and its transaction fails.
    let tx = infra::db::begin_tenant_tx_for(&app.state.db, domain::TenantId::from_uuid(agency.id)).await.unwrap();
    let cipher = app.state.cipher(domain::TenantId::from_uuid(agency.id)).await.unwrap();
    let again = domain::tasks::SystemTask::vqrp_decision(
        id(&decided).parse().unwrap(),
        id(&case).parse().unwrap(),
        domain::UserId::from_uuid(worker.user_id),
        today,
    );
    let worker_id = domain::UserId::from_uuid(worker.user_id);
    infra::store::tasks::queue_system(&tx, &cipher, &again, worker_id).unwrap();
    assert!(tx.commit().await.is_err(), "a second task for the same source");
    assert_eq!(system_tasks(&app, &worker, "vqrp_decision", id(&decided)).await.len(), 1);

    act(&decided, "decide", json!({"decision": "approved", "reason": "Sessions booked."})).await;
    let closed: Value = task(&app, &worker, id(&made[0])).await.json().await.unwrap();
    assert_eq!((&closed["status"], &closed["completed_by"]), (&json!("completed"), &json!(supervisor.user_id)));

    // Withdrawing an undecided submission completes it too.
    let withdrawn: Value = app.post(&base, Some(&worker.access_token), &apply, StatusCode::CREATED).await;
    act(&withdrawn, "submit", json!({})).await;
    act(&withdrawn, "withdraw", json!({})).await;
    let after = system_tasks(&app, &worker, "vqrp_decision", id(&withdrawn)).await;
    assert_eq!((after.len(), &after[0]["status"]), (1, &json!("completed")));
}

#[tokio::test]
async fn a_consent_that_lapses_makes_a_renewal_task_until_the_next_decision_of_its_scope() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let recorder = app.create_user(&agency, &["case_manager"]).await;
    let case = open_case(&app, &worker, json!({"assigned_to": worker.user_id})).await;
    let path = format!("/api/v1/cases/{}/consents", id(&case));
    let expires = Utc::now() + chrono::Duration::days(60);
    let grant = json!({"scope": "share_with_police", "granted": true, "expires_at": expires});
    let consent: Value = app.post(&path, Some(&recorder.access_token), &grant, StatusCode::CREATED).await;
    let forever = json!({"scope": "contact_by_phone", "granted": true});
    app.post::<Value>(&path, Some(&recorder.access_token), &forever, StatusCode::CREATED).await;

    let made = system_tasks(&app, &worker, "consent_expiry", id(&consent)).await;
    assert_eq!(made.len(), 1, "the case's worker gets it; a consent that never lapses makes none");
    let due = made[0]["due_at"].as_str().unwrap().parse::<chrono::DateTime<Utc>>().unwrap();
    let lead = expires - due;
    assert!(
        (lead - chrono::Duration::days(domain::tasks::CONSENT_RENEWAL_LEAD_DAYS)).num_seconds().abs() <= 1,
        "{lead}"
    );
    let supervisor = app.create_user(&agency, &["supervisor"]).await;
    assert_eq!(tasks(&app, &supervisor, "").await.len(), 1, "one task on the case in all");

    // Another scope's decision leaves it; a renewal of its scope completes it and makes its own.
    let other_scope = json!({"scope": "leave_voicemail", "granted": false});
    app.post::<Value>(&path, Some(&worker.access_token), &other_scope, StatusCode::CREATED).await;
    assert_eq!(system_tasks(&app, &worker, "consent_expiry", id(&consent)).await[0]["status"], "open");
    let renewal =
        json!({"scope": "share_with_police", "granted": true, "expires_at": expires + chrono::Duration::days(365)});
    let renewed: Value = app.post(&path, Some(&worker.access_token), &renewal, StatusCode::CREATED).await;
    assert_eq!(system_tasks(&app, &worker, "consent_expiry", id(&consent)).await[0]["status"], "completed");
    assert_eq!(system_tasks(&app, &worker, "consent_expiry", id(&renewed)).await[0]["status"], "open");
    // A withdrawal completes the renewal's and makes none.
    let withdrawal = json!({"scope": "share_with_police", "granted": false});
    let withdrawn: Value = app.post(&path, Some(&worker.access_token), &withdrawal, StatusCode::CREATED).await;
    assert_eq!(system_tasks(&app, &worker, "consent_expiry", id(&renewed)).await[0]["status"], "completed");
    assert!(system_tasks(&app, &worker, "consent_expiry", id(&withdrawn)).await.is_empty());
    assert!(tasks(&app, &worker, "?status=open").await.is_empty());
}

#[tokio::test]
async fn an_accepted_referral_makes_a_first_contact_task_that_the_attempt_completes() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let division = app.division_id("51").await;
    let refer = async |consent: bool| -> Value {
        app.post(
            "/api/v1/referrals",
            Some(&worker.access_token),
            &referral_body(division, consent),
            StatusCode::CREATED,
        )
        .await
    };
    let referral = refer(true).await;
    assert!(system_tasks(&app, &worker, "referral_first_contact", id(&referral)).await.is_empty());
    let accept = format!("/api/v1/referrals/{}/accept", id(&referral));
    let accepted: Value = app.post(&accept, Some(&worker.access_token), &json!({}), StatusCode::OK).await;
    let made = system_tasks(&app, &worker, "referral_first_contact", id(&referral)).await;
    assert_eq!(made.len(), 1);
    assert_eq!((&made[0]["case_id"], &made[0]["assigned_to"]), (&Value::Null, &json!(worker.user_id)));
    let due = made[0]["due_at"].as_str().unwrap().parse::<chrono::DateTime<Utc>>().unwrap();
    let accepted_at = accepted["accepted_at"].as_str().unwrap().parse::<chrono::DateTime<Utc>>().unwrap();
    assert_eq!(due - accepted_at, chrono::Duration::hours(1), "an immediate referral: within the hour");

    let attempt = format!("/api/v1/referrals/{}/contact-attempts", id(&referral));
    app.post::<Value>(&attempt, Some(&worker.access_token), &json!({"outcome": "no_answer"}), StatusCode::CREATED)
        .await;
    let closed = system_tasks(&app, &worker, "referral_first_contact", id(&referral)).await;
    assert_eq!((&closed[0]["status"], &closed[0]["completed_by"]), (&json!("completed"), &json!(worker.user_id)));

    // A person who did not consent to contact gets no contact task; a conversion completes one.
    let no_contact = refer(false).await;
    app.post::<Value>(
        &format!("/api/v1/referrals/{}/accept", id(&no_contact)),
        Some(&worker.access_token),
        &json!({}),
        StatusCode::OK,
    )
    .await;
    assert!(system_tasks(&app, &worker, "referral_first_contact", id(&no_contact)).await.is_empty());
    let converted = refer(true).await;
    app.post::<Value>(
        &format!("/api/v1/referrals/{}/accept", id(&converted)),
        Some(&worker.access_token),
        &json!({}),
        StatusCode::OK,
    )
    .await;
    app.post::<Value>(
        &format!("/api/v1/referrals/{}/convert", id(&converted)),
        Some(&worker.access_token),
        &json!({}),
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(system_tasks(&app, &worker, "referral_first_contact", id(&converted)).await[0]["status"], "completed");
}

#[tokio::test]
async fn a_safety_plan_review_date_makes_a_task_that_each_new_version_replaces() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let case = open_case(&app, &worker, json!({})).await;
    let path = format!("/api/v1/cases/{}/safety-plan", id(&case));
    let today = domain::reporting::ontario_date(Utc::now());
    let plan = |review: Option<chrono::NaiveDate>| json!({"steps": ["Keep phone charged"], "emergency_contacts": [], "safe_places": [], "review_on": review});
    let put = async |body: Value, if_match: Option<&str>| {
        let mut request = app.client.put(app.url(&path)).bearer_auth(&worker.access_token).json(&body);
        if let Some(tag) = if_match {
            request = request.header("If-Match", tag);
        }
        request.send().await.unwrap()
    };
    let past = put(plan(Some(today - chrono::Duration::days(1))), None).await;
    assert_eq!(problem(past, StatusCode::UNPROCESSABLE_ENTITY).await["errors"][0]["field"], "review_on");

    let first_day = today + chrono::Duration::days(30);
    let v1: Value = put(plan(Some(first_day)), None).await.json().await.unwrap();
    assert_eq!(v1["review_on"], json!(first_day.to_string()));
    let review = system_tasks(&app, &worker, "safety_plan_review", id(&case)).await;
    assert_eq!(review.len(), 1, "the saver's, the case having no worker");
    let due = review[0]["due_at"].as_str().unwrap().parse::<chrono::DateTime<Utc>>().unwrap();
    assert_eq!(due, domain::tasks::end_of_ontario_day(first_day));
    assert_eq!(review[0]["title"], "Safety plan review due");

    let second_day = today + chrono::Duration::days(60);
    let v2: Value = put(plan(Some(second_day)), Some("\"1\"")).await.json().await.unwrap();
    let both = system_tasks(&app, &worker, "safety_plan_review", id(&case)).await;
    let status_of = |t: &Value| {
        (
            t["status"].as_str().unwrap().to_owned(),
            t["due_at"].as_str().unwrap().parse::<chrono::DateTime<Utc>>().unwrap(),
        )
    };
    let mut statuses: Vec<_> = both.iter().map(status_of).collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [
            ("completed".to_owned(), domain::tasks::end_of_ontario_day(first_day)),
            ("open".to_owned(), domain::tasks::end_of_ontario_day(second_day))
        ]
    );
    put(plan(None), Some(&etag(&v2))).await;
    let after = system_tasks(&app, &worker, "safety_plan_review", id(&case)).await;
    assert!(after.iter().all(|t| t["status"] == "completed"), "a plan without a review date has no review task");
}

/// Moves a task's deadline `minutes` into the past, as time would.
async fn age_task(app: &TestApp, agency: &Agency, task: &Value, minutes: i64) {
    use sea_orm::{ConnectionTrait, Statement};
    let tx = infra::db::begin_tenant_tx_for(&app.state.db, domain::TenantId::from_uuid(agency.id)).await.unwrap();
    let backend = tx.raw().get_database_backend();
    let task_id: Uuid = id(task).parse().unwrap();
    let past = Utc::now() - chrono::Duration::minutes(minutes);
    let sql = if backend == sea_orm::DbBackend::Postgres {
        "UPDATE tasks SET due_at = $1 WHERE tenant_id = $2 AND id = $3"
    } else {
        "UPDATE tasks SET due_at = ? WHERE tenant_id = ? AND id = ?"
    };
    let changed = tx
        .raw()
        .execute_raw(Statement::from_sql_and_values(backend, sql, [past.into(), agency.id.into(), task_id.into()]))
        .await
        .unwrap();
    assert_eq!(changed.rows_affected(), 1);
    tx.commit().await.unwrap();
}

/// Every event of the user's stream from the start, by kind.
async fn events_of(app: &TestApp, who: &Session) -> Vec<crate::helpers::StreamEvent> {
    let mut stream = app.events(&who.access_token, Some(&Uuid::nil().to_string())).await;
    let mut events = Vec::new();
    while let Some(event) = stream.next_within(Duration::from_millis(500)).await {
        events.push(event);
    }
    events
}

async fn audit_actions(app: &TestApp, agency: &Agency, task: &Value) -> Vec<String> {
    let path = format!("/api/v1/audit-events?resource_id={}&limit=200", id(task));
    let audit: Value = app.get_as(&path, Some(&agency.admin.access_token), StatusCode::OK).await;
    audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect()
}

/// Waits (up to 5 s) until the task's audit log holds `action`.
async fn until_audited(app: &TestApp, agency: &Agency, task: &Value, action: &str) {
    for _ in 0..50 {
        if audit_actions(app, agency, task).await.iter().any(|a| a == action) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{action} never recorded");
}

#[tokio::test]
async fn an_overdue_task_is_announced_once_by_two_replicas_and_to_supervisors_only_after_the_grace() {
    // A sweeper that never runs stands for a service stopped before the deadline.
    let stopped = spawn_app_with(|s| s.task_sweep_interval_ms = 600_000).await;
    let agency = stopped.create_agency().await;
    let worker = stopped.create_user(&agency, &["case_manager"]).await;
    let supervisor = stopped.create_user(&agency, &["supervisor"]).await;
    let case = open_case(&stopped, &worker, json!({})).await;
    let overdue = make_task(&stopped, &worker, &case, "Call Aldermoor about the protection order", 1).await;
    let on_time = make_task(&stopped, &worker, &case, "Not yet", 3).await;
    age_task(&stopped, &agency, &overdue, 5).await;

    // Two replicas start after the deadline, sharing the database: one announcement, not two.
    let replica = |s: &mut infra::config::Settings| {
        s.task_sweep_interval_ms = 50;
        s.task_overdue_grace_minutes = 60;
    };
    let first = spawn_app_sharing(&stopped, replica).await;
    let second = spawn_app_sharing(&stopped, replica).await;
    until_audited(&first, &agency, &overdue, "task.overdue_announced").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let actions = audit_actions(&second, &agency, &overdue).await;
    assert_eq!(actions.iter().filter(|a| *a == "task.overdue_announced").count(), 1, "{actions:?}");
    assert!(!actions.iter().any(|a| a == "task.overdue_escalated"), "not before the grace: {actions:?}");
    assert!(audit_actions(&second, &agency, &on_time).await.iter().all(|a| !a.starts_with("task.overdue")));

    let told = events_of(&first, &worker).await;
    let told: Vec<_> = told.iter().filter(|e| e.kind.starts_with("task.")).collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].kind, "task.overdue");
    assert_eq!(
        (&told[0].data["task_id"], &told[0].data["kind"], &told[0].data["case_id"]),
        (&overdue["id"], &json!("manual"), &case["id"])
    );
    assert!(told[0].data["due_at"].is_string());
    assert!(!told[0].data.to_string().contains("Aldermoor"), "no title in an event");
    assert!(
        events_of(&first, &supervisor).await.iter().all(|e| !e.kind.starts_with("task.")),
        "supervisors wait for the grace"
    );
    let listed = tasks(&first, &worker, "?overdue=true").await;
    assert_eq!((listed.len(), &listed[0]["id"], &listed[0]["overdue"]), (1, &overdue["id"], &json!(true)));
    let team = tasks(&first, &supervisor, "?overdue=true").await;
    assert_eq!(team.len(), 1);

    // Still open past the grace: the supervisors are told, once; the worker not again.
    age_task(&stopped, &agency, &overdue, 61).await;
    until_audited(&first, &agency, &overdue, "task.overdue_escalated").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let actions = audit_actions(&second, &agency, &overdue).await;
    assert_eq!(actions.iter().filter(|a| *a == "task.overdue_escalated").count(), 1, "{actions:?}");
    assert_eq!(actions.iter().filter(|a| *a == "task.overdue_announced").count(), 1, "{actions:?}");
    let escalated: Vec<_> =
        events_of(&second, &supervisor).await.into_iter().filter(|e| e.kind.starts_with("task.")).collect();
    assert_eq!(escalated.len(), 1, "{escalated:?}");
    assert_eq!(
        (escalated[0].kind.as_str(), &escalated[0].data["assigned_to"]),
        ("task.overdue_escalated", &json!(worker.user_id))
    );
    assert!(!escalated[0].data.to_string().contains("Aldermoor"));
    assert_eq!(events_of(&second, &worker).await.iter().filter(|e| e.kind.starts_with("task.")).count(), 1);

    // Completed, it is no longer overdue and nothing more is announced.
    let current: Value = task(&first, &worker, id(&overdue)).await.json().await.unwrap();
    patch_task(&first, &worker, &current, Some(&etag(&current)), &json!({"status": "completed"})).await;
    assert!(tasks(&first, &worker, "?overdue=true").await.is_empty());
}

#[tokio::test]
async fn a_task_title_is_sealed_at_rest() {
    let app = spawn_app().await;
    let mark = crate::at_rest::WalMark::now();
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let case = open_case(&app, &worker, json!({})).await;
    let made = make_task(&app, &worker, &case, "Drive her to Quennellby Street after court", 1).await;
    let retitled = json!({"title": "Meet at the Orrinshaw clinic instead"});
    assert_eq!(patch_task(&app, &worker, &made, Some("\"1\""), &retitled).await.status(), StatusCode::OK);
    let back: Value = task(&app, &worker, id(&made)).await.json().await.unwrap();
    assert_eq!(back["title"], "Meet at the Orrinshaw clinic instead");
    let sources = crate::at_rest::sources(&app, &mark);
    crate::at_rest::assert_no_canaries(&sources, &worker.email, &["Quennellby", "Orrinshaw"]);
}

/// A supervisor sees the team's overdue tasks, soonest first and only theirs; a case manager
/// lists only their own, and asking for a colleague's is refused.
#[tokio::test]
async fn a_supervisor_sees_the_teams_overdue_tasks_and_a_case_manager_only_their_own() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let (casey, robin) =
        (app.create_user(&agency, &["case_manager"]).await, app.create_user(&agency, &["case_manager"]).await);
    let supervisor = app.create_user(&agency, &["supervisor"]).await;
    let case = open_case(&app, &casey, json!({})).await;
    let late = make_task(&app, &casey, &case, "Call back about the hearing", 1).await;
    let later = make_task(&app, &casey, &case, "Send the victim impact form", 3).await;
    let robins_case = open_case(&app, &robin, json!({})).await;
    let also_late = make_task(&app, &robin, &robins_case, "Confirm the shelter bed", 1).await;
    age_task(&app, &agency, &late, 90).await;
    age_task(&app, &agency, &also_late, 30).await;

    let overdue = tasks(&app, &supervisor, "?overdue=true").await;
    let ids: Vec<&str> = overdue.iter().map(id).collect();
    assert_eq!(ids, [id(&late), id(&also_late)], "the team's overdue tasks, soonest due first");
    assert!(overdue.iter().all(|t| t["overdue"] == json!(true)));
    let mine: Vec<String> = tasks(&app, &casey, "").await.iter().map(|t| id(t).to_owned()).collect();
    assert_eq!(mine, [id(&late).to_owned(), id(&later).to_owned()], "a case manager's own, not Robin's");
    let colleague = format!("/api/v1/tasks?assigned_to={}", robin.user_id);
    problem(app.get(&colleague, Some(&casey.access_token)).await, StatusCode::FORBIDDEN).await;
}
