//! The ministry never reaches personal information: every route of the OpenAPI document, with
//! every method, called by a ministry analyst with the ids of an agency's personal records, answers
//! without a name, a date of birth or a personal record's id; only the routes meant for the
//! ministry succeed; and no aggregate output holds anything but codes and figures.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::fixtures::{create_client, on_shift, open_case};
use crate::helpers::{Session, TestApp, spawn_app_alone};

const GIVEN: &str = "Ottoline";
const FAMILY: &str = "Brackenridge";
const BIRTH: &str = "1987-03-29";
const PHONE: &str = "416-555-0143";
const NOTE: &str = "Staying with her sister on Larchmount";
const REFERRED: &str = "Wilhelmina";

/// Routes a ministry analyst may use successfully; everything else must refuse.
const MINISTRY_ROUTES: &[&str] = &[
    "/.well-known/jwks.json",
    "/health/live",
    "/health/ready",
    "/metrics",
    "/api/v1/me",
    "/api/v1/events",
    "/api/v1/police-services",
    "/api/v1/police-divisions",
    "/api/v1/vqrp-rules",
    "/api/v1/aggregates",
    "/api/v1/reports",
    "/api/v1/reports/{id}",
    "/api/v1/reports/{id}/accept",
    "/api/v1/reports/{id}/return",
    "/api/v1/auth/login",
    "/api/v1/auth/refresh",
    "/api/v1/auth/logout",
    // The caller's own account: its password, sessions and authenticator.
    "/api/v1/auth/password-reset",
    "/api/v1/auth/mfa",
    "/api/v1/me/password",
    "/api/v1/me/sessions",
    "/api/v1/me/sessions/{id}",
    "/api/v1/me/mfa/totp",
    "/api/v1/me/mfa/totp/confirm",
    "/api/v1/me/mfa/webauthn/passkeys",
    "/api/v1/me/mfa/webauthn/registration",
    "/api/v1/auth/mfa/webauthn/options",
    "/api/v1/auth/mfa/webauthn",
];

struct Seeded {
    /// Ids of personal records (clients, cases, notes, referrals, services, VQRP+ applications).
    personal_ids: Vec<String>,
    /// Ids to try in `{id}` and `{note_id}`: the personal ones, and a submitted report.
    probe_ids: Vec<String>,
    note_id: String,
}

async fn seed(app: &TestApp) -> Seeded {
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let supervisor = app.create_user(&agency, &["supervisor"]).await;
    let token = &worker.access_token;
    let client = create_client(
        app,
        token,
        &json!({"given_name": GIVEN, "family_name": FAMILY, "date_of_birth": BIRTH, "phone": PHONE, "gender": "woman"}),
    )
    .await;
    let case = open_case(app, &worker, json!({"client_id": client["id"]})).await;
    let base = format!("/api/v1/cases/{}", case["id"].as_str().unwrap());
    let note: Value =
        app.post_json(&format!("{base}/notes"), Some(token), &json!({"body": NOTE})).await.json().await.unwrap();
    let service: Value = app
        .post_json(
            &format!("{base}/services"),
            Some(token),
            &json!({"service_type": "vqrp_plus", "delivered_at": chrono::Utc::now(), "amount_cents": 5000}),
        )
        .await
        .json()
        .await
        .unwrap();
    // A VQRP+ application, submitted, approved and paid: its facts are in every figure asked below.
    let today = domain::reporting::ontario_date(chrono::Utc::now());
    let application: Value = app
        .post_json(
            &format!("{base}/vqrp-applications"),
            Some(token),
            &json!({"expense_category": "counselling", "crime_date": (today - chrono::Duration::days(5)).to_string(),
                    "reported_to": "police", "requested_cents": 40_000, "notes": NOTE,
                    "eligibility": {"crime_in_ontario": true, "no_other_source_of_funds": true, "applicant_eligible": true}}),
        )
        .await
        .json()
        .await
        .unwrap();
    let steps = [
        (&worker, "submit", json!({})),
        (&supervisor, "decide", json!({"decision": "approved", "reason": NOTE})),
        (&worker, "payments", json!({"paid_cents": 40_000, "payee": "vendor", "paid_on": today.to_string()})),
    ];
    for (who, step, body) in steps {
        let path = format!("/api/v1/vqrp-applications/{}/{step}", application["id"].as_str().unwrap());
        assert!(app.post_json(&path, Some(&who.access_token), &body).await.status().is_success(), "{step}");
    }
    let division = app.division_id("51").await;
    on_shift(app, &agency, &worker, division).await;
    let referral: Value = app
        .post_json(
            "/api/v1/referrals",
            Some(token),
            &json!({"division_id": division, "victimization_types": ["sexual_assault"], "urgency": "routine", "consent_to_contact": true,
                    "person": {"given_name": REFERRED, "date_of_birth": BIRTH, "phone": PHONE,
                               "safe_contact": {"ok_to_call": true, "ok_to_text": false, "ok_to_voicemail": false}}}),
        )
        .await
        .json()
        .await
        .unwrap();
    let q = domain::reporting::FiscalQuarter::of(domain::reporting::ontario_date(chrono::Utc::now()));
    let report: Value = app
        .post_json(
            "/api/v1/reports",
            Some(&supervisor.access_token),
            &json!({"fiscal_year": q.year(), "quarter": q.quarter()}),
        )
        .await
        .json()
        .await
        .unwrap();
    let report_id = report["id"].as_str().unwrap().to_owned();
    let submit =
        app.post_json(&format!("/api/v1/reports/{report_id}/submit"), Some(&supervisor.access_token), &json!({})).await;
    assert_eq!(submit.status(), StatusCode::OK);
    let personal_ids: Vec<String> = [&client, &case, &note, &service, &referral, &application]
        .iter()
        .map(|v| v["id"].as_str().expect("an id").to_owned())
        .collect();
    let mut probe_ids = personal_ids.clone();
    probe_ids.push(report_id);
    Seeded { note_id: note["id"].as_str().unwrap().to_owned(), personal_ids, probe_ids }
}

/// Fails if `text` holds a personal value or a personal record's id.
fn assert_clean(what: &str, text: &str, seeded: &Seeded) {
    for needle in [GIVEN, FAMILY, BIRTH, PHONE, NOTE, REFERRED] {
        assert!(!text.contains(needle), "{what} holds personal information ({needle}): {text}");
    }
    for id in &seeded.personal_ids {
        assert!(!text.contains(id.as_str()), "{what} holds a personal record's id: {text}");
    }
}

async fn call(app: &TestApp, who: &Session, method: &Method, path: &str) -> (StatusCode, String) {
    let mut request = app.client.request(method.clone(), app.url(path)).bearer_auth(&who.access_token);
    if [Method::POST, Method::PUT, Method::PATCH].contains(method) {
        request = request.header("If-Match", "\"1\"").json(&json!({}));
    }
    let response = request.send().await.expect("a response");
    let status = response.status();
    let location = response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    if path.ends_with("/events") {
        // A stream: its headers are the answer; its body never ends.
        return (status, location);
    }
    (status, format!("{location}\n{}", response.text().await.unwrap_or_default()))
}

#[tokio::test]
async fn a_ministry_analyst_reaches_no_personal_field_on_any_route() {
    let app = spawn_app_alone("a_ministry_analyst_reaches_no_personal_f", |_| {}).await;
    let seeded = seed(&app).await;
    let ministry = app.create_tenant("ministry").await;
    // An analyst and nothing else (the ministry's first user also runs its tenant).
    let analyst = &app.create_user(&ministry, &["ministry_analyst"]).await;

    let doc: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    let mut paths: Vec<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    // Signing out ends the session the rest of the calls use: last.
    paths.sort_by_key(|p| p.ends_with("/logout"));
    let methods = [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE];
    let mut calls = 0;
    for template in &paths {
        let concrete: Vec<String> = if template.contains("{id}") {
            seeded
                .probe_ids
                .iter()
                .map(|id| template.replace("{id}", id).replace("{note_id}", &seeded.note_id))
                .collect()
        } else {
            vec![template.clone()]
        };
        for path in &concrete {
            for method in &methods {
                let (status, body) = call(&app, analyst, method, path).await;
                calls += 1;
                assert_clean(&format!("{method} {path} ({status})"), &body, &seeded);
                if status.is_success() {
                    assert!(
                        MINISTRY_ROUTES.contains(&template.as_str()),
                        "{method} {path} answered {status} to the ministry"
                    );
                }
            }
        }
    }
    assert!(calls > 300, "every route and method was called ({calls})");
}

#[tokio::test]
async fn aggregates_hold_codes_and_figures_only() {
    let app = spawn_app_alone("aggregates_hold_codes_and_figures_only", |_| {}).await;
    let seeded = seed(&app).await;
    let ministry = app.create_tenant("ministry").await;
    app.refresh_figures().await;
    // The fiscal year of today's casework (figures are released per fiscal month, quarter or year).
    let today = domain::reporting::ontario_date(chrono::Utc::now());
    let year = domain::reporting::ReleasePeriod::Year(domain::reporting::FiscalQuarter::of(today).year());
    let period = format!("from={}&to={}", year.first_day(), year.last_day());
    let dimensions = domain::reporting::Dimension::ALL;
    let uuid_shaped = |s: &str| s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4;
    for metric in domain::reporting::Metric::ALL {
        for (i, dimension) in dimensions.iter().enumerate() {
            // Each dimension alone, and with two others, cycling through them.
            let three = [dimension, &dimensions[(i + 3) % dimensions.len()], &dimensions[(i + 7) % dimensions.len()]];
            for group_by in
                [dimension.as_str().to_owned(), three.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(",")]
            {
                for accept in ["application/json", "text/csv"] {
                    let path = format!("/api/v1/aggregates?{period}&metric={}&group_by={group_by}", metric.as_str());
                    let response = app
                        .client
                        .get(app.url(&path))
                        .bearer_auth(&ministry.admin.access_token)
                        .header("Accept", accept)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), StatusCode::OK, "{path}");
                    let text = response.text().await.unwrap();
                    assert_clean(&path, &text, &seeded);
                    let words = text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'));
                    assert!(!words.into_iter().any(uuid_shaped), "{path} holds a record id: {text}");
                }
            }
        }
    }
}
