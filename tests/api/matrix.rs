//! The route × role × tenant matrix, generated from the OpenAPI document so a new route is covered
//! without anyone adding it here: with no token every signed-in route answers 401; for every role
//! of another tenant, an agency's object answers exactly as an id that does not exist (404 when
//! the role may use the route, 403 when it may not), never 2xx and never 5xx; a session that ended
//! is refused (401) by every answer that needs data; and two updates sent with the same ETag never
//! both succeed.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{on_shift, open_case};
use crate::helpers::{Agency, PASSWORD, Session, TestApp, spawn_app};

/// The ids of agency A's records, by the first path segment that names them.
struct Owned {
    agency: Agency,
    by_resource: Vec<(&'static str, String)>,
    note_id: String,
}

async fn created(response: reqwest::Response, what: &str) -> Value {
    assert_eq!(response.status(), StatusCode::CREATED, "{what}");
    response.json().await.unwrap()
}

async fn seed_agency_a(app: &TestApp) -> Owned {
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let supervisor = app.create_user(&agency, &["supervisor"]).await;
    let admin = &agency.admin.access_token;
    let case = open_case(app, &worker, json!({})).await;
    let base = format!("/api/v1/cases/{}", case["id"].as_str().unwrap());
    let note = created(
        app.post_json(&format!("{base}/notes"), Some(&worker.access_token), &json!({"body": "Seen at 51"})).await,
        "note",
    )
    .await;
    let program = created(
        app.post_json("/api/v1/programs", Some(admin), &json!({"code": "exit-route", "name": "Exit Route"})).await,
        "program",
    )
    .await;
    let organization = created(
        app.post_json("/api/v1/organizations", Some(admin), &json!({"name": "Shelter", "kind": "shelter"})).await,
        "organization",
    )
    .await;
    let division = app.division_id("51").await;
    let shift = on_shift(app, &agency, &worker, division).await;
    let referral = created(
        app.post_json(
            "/api/v1/referrals",
            Some(&worker.access_token),
            &json!({"division_id": division, "victimization_types": ["other"], "urgency": "routine", "consent_to_contact": true,
                    "person": {"given_name": "Matrix", "safe_contact": {"ok_to_call": true, "ok_to_text": false, "ok_to_voicemail": false}}}),
        )
        .await,
        "referral",
    )
    .await;
    let q = domain::reporting::FiscalQuarter::of(domain::reporting::ontario_date(chrono::Utc::now()));
    let report = created(
        app.post_json(
            "/api/v1/reports",
            Some(&supervisor.access_token),
            &json!({"fiscal_year": q.year(), "quarter": q.quarter()}),
        )
        .await,
        "report",
    )
    .await;
    let vqrp = created(
        app.post_json(
            &format!("{base}/vqrp-applications"),
            Some(&worker.access_token),
            &json!({"expense_category": "counselling", "crime_date": (domain::reporting::ontario_date(chrono::Utc::now()) - chrono::Duration::days(1)).to_string(), "reported_to": "police",
                    "requested_cents": 10_000,
                    "eligibility": {"crime_in_ontario": true, "no_other_source_of_funds": true, "applicant_eligible": true}}),
        )
        .await,
        "VQRP+ application",
    )
    .await;
    let task = created(
        app.post_json(
            &format!("{base}/tasks"),
            Some(&worker.access_token),
            &json!({"title": "Call back", "due_at": (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339()}),
        )
        .await,
        "task",
    )
    .await;
    // A case sent to a third agency (never one of the matrix's other tenants).
    let consent = json!({"scope": "share_with_other_agency", "granted": true});
    created(app.post_json(&format!("{base}/consents"), Some(&worker.access_token), &consent).await, "consent").await;
    let receiver = app.create_agency().await;
    let transfer = created(
        app.post_json(
            &format!("{base}/transfers"),
            Some(&worker.access_token),
            &json!({"to_agency": receiver.slug, "reason": "Moving cities", "include": ["identity"]}),
        )
        .await,
        "transfer",
    )
    .await;
    let id = |v: &Value| v["id"].as_str().unwrap().to_owned();
    let sessions: Value = app.get("/api/v1/me/sessions", Some(&worker.access_token)).await.json().await.unwrap();
    let worker_session = id(&sessions["items"][0]);
    Owned {
        agency: agency.clone(),
        by_resource: vec![
            ("cases", id(&case)),
            ("clients", case["client_id"].as_str().unwrap().to_owned()),
            ("users", worker.user_id.to_string()),
            ("programs", id(&program)),
            ("organizations", id(&organization)),
            ("shifts", id(&shift)),
            ("referrals", id(&referral)),
            ("reports", id(&report)),
            ("vqrp-applications", id(&vqrp)),
            ("tasks", id(&task)),
            ("transfers", id(&transfer)),
            ("me", worker_session),
        ],
        note_id: id(&note),
    }
}

/// The request body of an operation: its schema's example, so validation passes and the
/// lookup is what answers.
fn example_body(doc: &Value, op: &Value) -> Option<Value> {
    let schema = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str()?;
    let name = schema.rsplit('/').next()?;
    Some(doc["components"]["schemas"][name]["example"].clone()).filter(|v| !v.is_null()).or(Some(json!({})))
}

async fn send(app: &TestApp, who: Option<&Session>, method: &Method, path: &str, body: Option<&Value>) -> StatusCode {
    let mut request = app.client.request(method.clone(), app.url(path));
    if let Some(who) = who {
        request = request.bearer_auth(&who.access_token);
    }
    if let Some(body) = body {
        request = request.header("If-Match", "\"1\"").json(body);
    }
    let response = request.send().await.expect("a response");
    response.status()
}

fn operations(doc: &Value) -> Vec<(String, Method, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/api/v1/") || path.starts_with("/api/v1/auth/") || path == "/api/v1/events" {
            continue; // sign-in routes take no token; the event stream never ends (tested on its own)
        }
        for (method, op) in item.as_object().unwrap() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            out.push((path.clone(), method, op.clone()));
        }
    }
    out
}

#[tokio::test]
async fn no_token_is_401_and_another_tenants_objects_answer_as_if_they_did_not_exist() {
    let app = spawn_app().await;
    let owned = seed_agency_a(&app).await;
    let other = app.create_agency().await;
    let mut callers = vec![other.admin.clone()];
    for role in ["supervisor", "case_manager", "police_liaison"] {
        callers.push(app.create_user(&other, &[role]).await);
    }
    callers.push(app.create_tenant("ministry").await.admin);
    callers.push(app.platform_admin().await);
    let doc: Value = app.get("/openapi.json", None).await.json().await.unwrap();

    let mut checked = 0;
    for (template, method, op) in operations(&doc) {
        let body = example_body(&doc, &op);
        let unauthenticated =
            send(&app, None, &method, &template.replace("{id}", &Uuid::now_v7().to_string()), body.as_ref()).await;
        assert_eq!(unauthenticated, StatusCode::UNAUTHORIZED, "{method} {template} without a token");
        if !template.contains("{id}")
            || template.starts_with("/api/v1/police-divisions")
            || template.starts_with("/api/v1/tenants")
        {
            continue; // reference data and tenants are not any agency's objects
        }
        let resource = template.trim_start_matches("/api/v1/").split('/').next().unwrap();
        let Some((_, id)) = owned.by_resource.iter().find(|(r, _)| *r == resource) else {
            panic!("{template}: no seeded object for `{resource}`; add one to seed_agency_a");
        };
        let foreign = template.replace("{id}", id).replace("{note_id}", &owned.note_id);
        let missing =
            template.replace("{id}", &Uuid::now_v7().to_string()).replace("{note_id}", &Uuid::now_v7().to_string());
        for caller in &callers {
            let theirs = send(&app, Some(caller), &method, &foreign, body.as_ref()).await;
            let nobodys = send(&app, Some(caller), &method, &missing, body.as_ref()).await;
            assert!(
                !theirs.is_success() && !theirs.is_server_error(),
                "{method} {foreign} answered {theirs} to another tenant"
            );
            assert_eq!(
                theirs, nobodys,
                "{method} {template}: another tenant's object must look like a missing one ({})",
                caller.email
            );
            // 422 only where the example body is invalid for the caller's own tenant (an agency's roles
            // sent by a ministry's admin): refused before any object is looked up, as a missing one is.
            assert!(
                [StatusCode::NOT_FOUND, StatusCode::FORBIDDEN, StatusCode::UNPROCESSABLE_ENTITY].contains(&theirs),
                "{method} {template}: {theirs} for another tenant's object ({})",
                caller.email
            );
            checked += 1;
        }
    }
    assert!(checked > 150, "the matrix covered {checked} route × caller pairs");
}

#[tokio::test]
async fn two_updates_with_the_same_etag_never_both_succeed() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    // A supervisor: a restricted case stays visible to them, so the loser sees 412, not 404.
    let worker = app.create_user(&agency, &["supervisor"]).await;
    let case = open_case(&app, &worker, json!({})).await;
    let path = format!("/api/v1/cases/{}", case["id"].as_str().unwrap());
    let etag = format!("\"{}\"", case["version"]);
    let (first, second) = (json!({"restricted": true}), json!({"victimization_types": ["sexual_assault"]}));
    let one = app.patch_json(&path, &worker.access_token, Some(&etag), &first);
    let two = app.patch_json(&path, &worker.access_token, Some(&etag), &second);
    let (one, two) = tokio::join!(one, two);
    let statuses = [one.status(), two.status()];
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::PRECONDITION_FAILED).count(), 1, "{statuses:?}");
}

#[tokio::test]
async fn preconditions_are_checked_after_the_role_and_the_object() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let windows = json!({"escalation_minutes": {"immediate": 10, "same_day": 180, "routine": 2880}});
    // A role that may not change settings hears so, whatever it sends as If-Match.
    for tag in [None, Some("*"), Some("W/\"0\""), Some("garbage")] {
        let mut request =
            app.client.patch(app.url("/api/v1/settings")).bearer_auth(&worker.access_token).json(&windows);
        if let Some(tag) = tag {
            request = request.header("If-Match", tag);
        }
        assert_eq!(request.send().await.unwrap().status(), StatusCode::FORBIDDEN, "{tag:?}");
    }
    // Another tenant's case, or none, is not found, whatever the precondition.
    let other = app.create_agency().await;
    let stranger = app.create_user(&other, &["case_manager"]).await;
    let case = open_case(&app, &worker, json!({})).await;
    for path in [format!("/api/v1/cases/{}", case["id"].as_str().unwrap()), format!("/api/v1/cases/{}", Uuid::now_v7())]
    {
        for tag in [None, Some("*"), Some("garbage")] {
            let mut request =
                app.client.patch(app.url(&path)).bearer_auth(&stranger.access_token).json(&json!({"restricted": true}));
            if let Some(tag) = tag {
                request = request.header("If-Match", tag);
            }
            assert_eq!(request.send().await.unwrap().status(), StatusCode::NOT_FOUND, "{path} {tag:?}");
        }
    }
    // The owner: no tag or `*` is 428, a weak or foreign tag 412, the right strong tag 200.
    let path = format!("/api/v1/cases/{}", case["id"].as_str().unwrap());
    for (tag, status) in [
        (None, StatusCode::PRECONDITION_REQUIRED),
        (Some("*"), StatusCode::PRECONDITION_REQUIRED),
        (Some("W/\"1\""), StatusCode::PRECONDITION_FAILED),
        (Some("\"1\""), StatusCode::OK),
    ] {
        let mut request =
            app.client.patch(app.url(&path)).bearer_auth(&worker.access_token).json(&json!({"restricted": false}));
        if let Some(tag) = tag {
            request = request.header("If-Match", tag);
        }
        assert_eq!(request.send().await.unwrap().status(), status, "{tag:?}");
    }
}

/// Query strings for routes that refuse a request without them (the document's parameters carry
/// no examples), so the request reaches their data.
const QUERIES: &[(&str, &str)] = &[
    ("/api/v1/aggregates", "metric=cases_opened&from=2026-04-01&to=2027-03-31&group_by=agency"),
    ("/api/v1/clients", "family_name=Matrix"),
    ("/api/v1/transfers", "direction=outgoing"),
];

/// Every signed-in route, for every role, with a session revoked in the database only (as another
/// replica would, with Redis away): the session check rides in the first message of the request's
/// transaction, so an answer that needs data is 401. The same request from a live session of the
/// same user says which answers need data: only a refusal that comes before any data (the role
/// may not use the route: 403; the input is bad: 400, 415, 422) may be the same for both. The
/// agency's callers ask about its own objects, so their live answers are mostly 2xx.
#[tokio::test]
async fn a_session_that_ended_is_refused_wherever_the_answer_needs_data() {
    let app = spawn_app().await;
    let owned = seed_agency_a(&app).await;
    let agency = &owned.agency;
    let ministry = app.create_tenant("ministry").await;
    let mut callers = vec![(agency.slug.clone(), agency.admin.email.clone(), true)];
    for role in ["supervisor", "case_manager", "police_liaison"] {
        callers.push((agency.slug.clone(), app.create_user(agency, &[role]).await.email, true));
    }
    callers.push((ministry.slug.clone(), ministry.admin.email.clone(), false));
    callers.push(("platform".to_owned(), app.platform_admin().await.email, false));
    let doc: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    let before_data = [
        StatusCode::BAD_REQUEST,
        StatusCode::FORBIDDEN,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        StatusCode::UNPROCESSABLE_ENTITY,
    ];

    let mut exercised = std::collections::BTreeSet::new();
    for (tenant, email, owns) in &callers {
        let (live, ended) = if tenant == "platform" {
            (app.platform_login().await, app.platform_login().await)
        } else {
            (app.login(tenant, email, PASSWORD).await, app.login(tenant, email, PASSWORD).await)
        };
        app.end_session_in_database_only(&ended).await;
        for (template, method, op) in operations(&doc) {
            let body = example_body(&doc, &op);
            let resource = template.trim_start_matches("/api/v1/").split('/').next().unwrap();
            let id = owned.by_resource.iter().find(|(r, _)| *owns && *r == resource).map(|(_, id)| id.clone());
            let path = template
                .replace("{id}", &id.unwrap_or_else(|| Uuid::now_v7().to_string()))
                .replace("{note_id}", if *owns { &owned.note_id } else { "0199a1b2-0000-7000-8000-000000000000" });
            let path = match QUERIES.iter().find(|(route, _)| *route == template) {
                Some((_, query)) => format!("{path}?{query}"),
                None => path,
            };
            // The live session first, so whatever it warms (a cache of aggregates) is there.
            let while_live = send(&app, Some(&live), &method, &path, body.as_ref()).await;
            let after_end = send(&app, Some(&ended), &method, &path, body.as_ref()).await;
            if before_data.contains(&while_live) && after_end == while_live {
                continue;
            }
            assert_eq!(after_end, StatusCode::UNAUTHORIZED, "{method} {path} ({email}): live {while_live}");
            exercised.insert(format!("{method} {template}"));
        }
        // The event stream, with and without Last-Event-ID: 401, not a stream that starts.
        for last in [None, Some(Uuid::now_v7())] {
            let mut request = app.client.get(app.url("/api/v1/events")).bearer_auth(&ended.access_token);
            if let Some(last) = last {
                request = request.header("Last-Event-ID", last.to_string());
            }
            assert_eq!(request.send().await.unwrap().status(), StatusCode::UNAUTHORIZED, "events {last:?}");
        }
    }
    // Every route needed data for at least one caller, so none passed only by refusing early.
    let missed: Vec<String> = operations(&doc)
        .into_iter()
        .map(|(template, method, _)| format!("{method} {template}"))
        .filter(|op| !exercised.contains(op))
        .collect();
    assert!(missed.is_empty(), "no caller's request needed data, so the check went untested: {missed:?}");
}

/// The calls each setup token may make (`domain::sign_in::PendingSetup::permits`); sign-out is
/// under `/auth/`, which [`operations`] leaves out.
const SETUP_CALLS: &[(&str, &str, &[&str])] = &[
    ("password_change_required", "GET /api/v1/me", &["POST /api/v1/me/password"]),
    (
        "mfa_enrolment_required",
        "GET /api/v1/me",
        &[
            "POST /api/v1/me/mfa/totp",
            "POST /api/v1/me/mfa/totp/confirm",
            "POST /api/v1/me/mfa/webauthn/registration",
            "POST /api/v1/me/mfa/webauthn/registration/finish",
        ],
    ),
];

#[tokio::test]
async fn a_setup_token_reaches_only_its_own_step_on_every_route() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let doc: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    // One account waiting for each step: a user whose password the admin set, and, once the
    // agency requires a second factor, a user who has changed it but has no factor.
    let email = format!("fresh@{}.example", agency.slug);
    let body = json!({"email": email, "display_name": "Fresh", "roles": ["case_manager"], "password": crate::helpers::INITIAL_PASSWORD});
    app.post::<Value>("/api/v1/users", Some(&agency.admin.access_token), &body, StatusCode::CREATED).await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let tenant = format!("/api/v1/tenants/{}", agency.id);
    let on = json!({"mfa_required": true});
    assert_eq!(app.patch_json(&tenant, &agency.admin.access_token, Some("\"1\""), &on).await.status(), StatusCode::OK);
    let setups = [
        app.login_raw(&agency.slug, &email, crate::helpers::INITIAL_PASSWORD).await,
        app.login_raw(&agency.slug, &worker.email, PASSWORD).await,
    ];
    let mut checked = 0;
    for (response, (code, always, own)) in setups.into_iter().zip(SETUP_CALLS) {
        let setup: Value = response.json().await.unwrap();
        assert_eq!(setup[*code], true, "{setup}");
        let token = setup["access_token"].as_str().unwrap();
        for (template, method, op) in operations(&doc) {
            let call = format!("{method} {template}");
            if call == *always || own.contains(&call.as_str()) {
                continue;
            }
            let path =
                template.replace("{id}", &Uuid::now_v7().to_string()).replace("{note_id}", &Uuid::now_v7().to_string());
            let mut request = app.client.request(method.clone(), app.url(&path)).bearer_auth(token);
            if let Some(body) = example_body(&doc, &op) {
                request = request.header("If-Match", "\"1\"").json(&body);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{call} with a {code} token");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["code"], *code, "{call}");
            checked += 1;
        }
        let stream = app.get("/api/v1/events", Some(token)).await;
        assert_eq!(stream.status(), StatusCode::FORBIDDEN, "the event stream");
    }
    assert!(checked > 100, "every route, twice: {checked}");
}
