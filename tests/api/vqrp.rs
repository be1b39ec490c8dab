//! VQRP+ applications over HTTP: made on a case and judged by the program's rules in force (caps,
//! time limits and extensions, the eligibility checklist), submitted with a decision due in
//! Ontario business days, decided by a supervisor, paid in parts, withdrawn; hidden with their case.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixtures::open_case;
use crate::helpers::{Session, TestApp, problem, spawn_app};

fn today() -> chrono::NaiveDate {
    domain::reporting::ontario_date(chrono::Utc::now())
}

fn days_ago(days: i64) -> String {
    (today() - chrono::Duration::days(days)).to_string()
}

fn application(category: &str, crime_days_ago: i64, cents: i64) -> Value {
    json!({"expense_category": category, "crime_date": days_ago(crime_days_ago), "reported_to": "police",
           "requested_cents": cents,
           "eligibility": {"crime_in_ontario": true, "no_other_source_of_funds": true, "applicant_eligible": true}})
}

async fn apply(app: &TestApp, who: &Session, case: &Value, body: &Value) -> reqwest::Response {
    let path = format!("/api/v1/cases/{}/vqrp-applications", case["id"].as_str().unwrap());
    app.post_json(&path, Some(&who.access_token), body).await
}

async fn act(app: &TestApp, who: &Session, application: &Value, action: &str, body: &Value) -> reqwest::Response {
    let path = format!("/api/v1/vqrp-applications/{}/{action}", application["id"].as_str().unwrap());
    app.post_json(&path, Some(&who.access_token), body).await
}

#[tokio::test]
async fn a_worker_applies_a_supervisor_decides_and_payments_follow() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let supervisor = app.create_user(&agency, &["supervisor"]).await;
    let case = open_case(&app, &worker, json!({})).await;

    let made = apply(&app, &worker, &case, &application("counselling", 10, 80_000)).await;
    assert_eq!(made.status(), StatusCode::CREATED);
    let made: Value = made.json().await.unwrap();
    assert_eq!(
        (&made["status"], &made["rule_version"], &made["cap_cents"]),
        (&json!("draft"), &json!(1), &json!(100_000))
    );
    assert_eq!(made["extended"], false);
    assert_eq!(made["decision_due"], Value::Null);

    let submitted: Value = act(&app, &worker, &made, "submit", &json!({})).await.json().await.unwrap();
    assert_eq!(submitted["status"], "submitted");
    let due = domain::vqrp::decision_due(today(), 5);
    assert_eq!(submitted["decision_due"], json!(due.to_string()), "5 Ontario business days for counselling");
    problem(act(&app, &worker, &made, "submit", &json!({})).await, StatusCode::CONFLICT).await;

    // The worker who applied does not decide; a supervisor does, with a reason.
    let approve = json!({"decision": "approved", "approved_cents": 60_000, "reason": "Two sessions booked."});
    problem(act(&app, &worker, &made, "decide", &approve).await, StatusCode::FORBIDDEN).await;
    let over = json!({"decision": "approved", "approved_cents": 80_001, "reason": "More."});
    let refused = problem(act(&app, &supervisor, &made, "decide", &over).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(refused["errors"][0]["field"], "approved_cents");
    let decided: Value = act(&app, &supervisor, &made, "decide", &approve).await.json().await.unwrap();
    assert_eq!((&decided["status"], &decided["approved_cents"]), (&json!("approved"), &json!(60_000)));
    assert_eq!(decided["decided_by"], json!(supervisor.user_id));
    assert_eq!(decided["decision_reason"], "Two sessions booked.");

    let pay = |cents: i64, payee: &str| json!({"paid_cents": cents, "payee": payee, "paid_on": today().to_string()});
    let first = act(&app, &worker, &made, "payments", &pay(20_000, "vendor")).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    assert_eq!(
        (&first["application"]["status"], &first["application"]["paid_cents"]),
        (&json!("approved"), &json!(20_000))
    );
    let too_much =
        problem(act(&app, &worker, &made, "payments", &pay(40_001, "client")).await, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(too_much.await["errors"][0]["field"], "paid_cents");
    let rest: Value = act(&app, &worker, &made, "payments", &pay(40_000, "client")).await.json().await.unwrap();
    assert_eq!(rest["application"]["status"], "paid");
    problem(act(&app, &worker, &made, "payments", &pay(1, "client")).await, StatusCode::CONFLICT).await;

    let paid: Value =
        app.get_as("/api/v1/vqrp-applications?status=paid", Some(&worker.access_token), StatusCode::OK).await;
    assert_eq!(paid["items"].as_array().unwrap().len(), 1);
    let waiting: Value =
        app.get_as("/api/v1/vqrp-applications?status=submitted", Some(&worker.access_token), StatusCode::OK).await;
    assert_eq!(waiting["items"], json!([]));
    let one = app
        .get(&format!("/api/v1/vqrp-applications/{}", made["id"].as_str().unwrap()), Some(&worker.access_token))
        .await;
    assert_eq!(one.headers().get("etag").unwrap().to_str().unwrap(), format!("\"{}\"", rest["application"]["version"]));
}

#[tokio::test]
async fn caps_time_limits_and_the_checklist_are_refused_clearly_and_change_nothing() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let ipv = open_case(&app, &worker, json!({})).await;
    let other = open_case(&app, &worker, json!({"victimization_types": ["other_violent_crime"]})).await;

    let field = async |case: &Value, body: Value| -> String {
        let body = problem(apply(&app, &worker, case, &body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        body["errors"][0]["field"].as_str().unwrap().to_owned()
    };
    assert_eq!(field(&ipv, application("funeral", 10, 500_001)).await, "requested_cents", "over the $5,000 cap");
    assert_eq!(field(&ipv, application("funeral", 10, 0)).await, "requested_cents");
    assert_eq!(field(&ipv, application("yacht", 10, 100)).await, "expense_category");
    assert_eq!(
        field(&ipv, application("immediate_safety", 46, 10_000)).await,
        "extension_reason",
        "45 days have passed"
    );
    assert_eq!(field(&ipv, application("counselling", -1, 10_000)).await, "crime_date");
    let mut unreported = application("counselling", 10, 10_000);
    unreported["reported_to"] = json!("not_reported");
    assert_eq!(field(&ipv, unreported).await, "eligibility");
    let mut community = application("counselling", 10, 10_000);
    community["reported_to"] = json!("community_agency");
    assert_eq!(
        field(&other, community.clone()).await,
        "eligibility",
        "a community agency suffices only for some crimes"
    );
    let mut other_funds = application("counselling", 10, 10_000);
    other_funds["eligibility"]["no_other_source_of_funds"] = json!(false);
    assert_eq!(field(&ipv, other_funds).await, "eligibility");
    let list: Value = app.get_as("/api/v1/vqrp-applications", Some(&worker.access_token), StatusCode::OK).await;
    assert_eq!(list["items"], json!([]), "no refusal left anything behind");

    // The same, rightly: for intimate partner violence a community agency suffices; late with a reason.
    assert_eq!(apply(&app, &worker, &ipv, &community).await.status(), StatusCode::CREATED);
    let mut late = application("immediate_safety", 46, 10_000);
    late["extension_reason"] = json!("In hospital for six weeks after the assault.");
    let late: Value = apply(&app, &worker, &ipv, &late).await.json().await.unwrap();
    assert_eq!(
        (&late["extended"], &late["extension_reason"]),
        (&json!(true), &json!("In hospital for six weeks after the assault."))
    );
    assert_eq!(late["last_day"], json!(days_ago(1)));
    let withdrawn: Value = act(&app, &worker, &late, "withdraw", &json!({})).await.json().await.unwrap();
    assert_eq!(withdrawn["status"], "withdrawn");
    problem(act(&app, &worker, &late, "submit", &json!({})).await, StatusCode::CONFLICT).await;
}

#[tokio::test]
async fn an_application_is_seen_only_with_its_case() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let supervisor = app.create_user(&agency, &["supervisor"]).await;
    let restricted = open_case(&app, &supervisor, json!({"restricted": true, "assigned_to": supervisor.user_id})).await;
    let hidden: Value =
        apply(&app, &supervisor, &restricted, &application("counselling", 3, 10_000)).await.json().await.unwrap();
    let path = format!("/api/v1/vqrp-applications/{}", hidden["id"].as_str().unwrap());
    problem(app.get(&path, Some(&worker.access_token)).await, StatusCode::NOT_FOUND).await;
    problem(act(&app, &worker, &hidden, "submit", &json!({})).await, StatusCode::NOT_FOUND).await;
    let list: Value = app.get_as("/api/v1/vqrp-applications", Some(&worker.access_token), StatusCode::OK).await;
    assert_eq!(list["items"], json!([]));
    let other = app.create_agency().await;
    let their_worker = app.create_user(&other, &["case_manager"]).await;
    problem(app.get(&path, Some(&their_worker.access_token)).await, StatusCode::NOT_FOUND).await;
    app.get_as::<Value>(&path, Some(&supervisor.access_token), StatusCode::OK).await;
}

#[tokio::test]
async fn the_free_text_of_an_application_is_sealed_at_rest() {
    let app = spawn_app().await;
    let mark = crate::at_rest::WalMark::now();
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let supervisor = app.create_user(&agency, &["supervisor"]).await;
    let case = open_case(&app, &worker, json!({})).await;
    let mut body = application("immediate_safety", 50, 20_000);
    body["notes"] = json!("Locksmith Wrenbury changes the locks on Tuesday");
    body["extension_reason"] = json!("Stayed at Marrowfield shelter without a phone");
    let made: Value = apply(&app, &worker, &case, &body).await.json().await.unwrap();
    act(&app, &worker, &made, "submit", &json!({})).await;
    let decide = json!({"decision": "declined", "reason": "Covered by Thistlegate insurance"});
    assert_eq!(act(&app, &supervisor, &made, "decide", &decide).await.status(), StatusCode::OK);
    let sources = crate::at_rest::sources(&app, &mark);
    crate::at_rest::assert_no_canaries(&sources, &worker.email, &["Wrenbury", "Marrowfield", "Thistlegate"]);
}

#[tokio::test]
async fn a_new_version_of_the_rules_applies_from_its_day_and_never_to_earlier_applications() {
    // Rule versions are every tenant's: a database of its own, so no other test meets version 2.
    let app = crate::helpers::spawn_app_alone("vqrp_rule_versions", |_| {}).await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let case = open_case(&app, &worker, json!({})).await;
    let rules: Value = app.get_as("/api/v1/vqrp-rules", Some(&worker.access_token), StatusCode::OK).await;
    assert_eq!(rules["items"].as_array().unwrap().len(), 1);
    let counselling = rules["items"][0]["categories"].as_array().unwrap().iter().find(|c| c["code"] == "counselling");
    assert_eq!(counselling.unwrap()["cap_cents"], 100_000);
    let before: Value = apply(&app, &worker, &case, &application("counselling", 5, 90_000)).await.json().await.unwrap();
    problem(
        apply(&app, &worker, &case, &application("counselling", 5, 120_000)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    let v2 = json!({"version": 2, "effective_from": today().to_string(), "categories": [
        {"code": "counselling", "cap_cents": 150_000, "time_limit_unit": "months", "time_limit": 6, "decision_business_days": 5}]});
    problem(app.post_json("/api/v1/vqrp-rules", Some(&agency.admin.access_token), &v2).await, StatusCode::FORBIDDEN)
        .await;
    let platform = app.platform_admin().await;
    let mut bad = v2.clone();
    bad["version"] = json!(1);
    bad["categories"][0]["time_limit_unit"] = json!("weeks");
    let refused = problem(
        app.post_json("/api/v1/vqrp-rules", Some(&platform.access_token), &bad).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    );
    let fields: Vec<String> =
        refused.await["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect();
    assert_eq!(fields, ["version", "categories[0].time_limit"]);
    assert_eq!(
        app.post_json("/api/v1/vqrp-rules", Some(&platform.access_token), &v2).await.status(),
        StatusCode::CREATED
    );

    let after: Value = apply(&app, &worker, &case, &application("counselling", 5, 120_000)).await.json().await.unwrap();
    assert_eq!((&after["rule_version"], &after["cap_cents"]), (&json!(2), &json!(150_000)));
    problem(apply(&app, &worker, &case, &application("funeral", 5, 1_000)).await, StatusCode::UNPROCESSABLE_ENTITY)
        .await;
    let earlier: Value = app
        .get_as(
            &format!("/api/v1/vqrp-applications/{}", before["id"].as_str().unwrap()),
            Some(&worker.access_token),
            StatusCode::OK,
        )
        .await;
    assert_eq!((&earlier["rule_version"], &earlier["cap_cents"]), (&json!(1), &json!(100_000)));
}

#[tokio::test]
async fn parallel_payments_never_pay_more_than_approved_and_the_maker_does_not_decide() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let maker = app.create_user(&agency, &["supervisor"]).await;
    let other = app.create_user(&agency, &["supervisor"]).await;
    let case = open_case(&app, &maker, json!({})).await;
    let made: Value = apply(&app, &maker, &case, &application("counselling", 3, 60_000)).await.json().await.unwrap();
    act(&app, &maker, &made, "submit", &json!({})).await;
    let approve = json!({"decision": "approved", "reason": "Sessions booked."});
    let own = problem(act(&app, &maker, &made, "decide", &approve).await, StatusCode::FORBIDDEN).await;
    assert!(own["detail"].as_str().unwrap().contains("other than the one who made it"), "{own}");
    assert_eq!(act(&app, &other, &made, "decide", &approve).await.status(), StatusCode::OK);

    // Four payments of 40,000 at once on 60,000 approved: one is recorded, the rest refused.
    let pay = json!({"paid_cents": 40_000, "payee": "vendor", "paid_on": today().to_string()});
    let burst = futures_util::future::join_all((0..4).map(|_| act(&app, &maker, &made, "payments", &pay))).await;
    let statuses: Vec<StatusCode> = burst.iter().map(reqwest::Response::status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| [StatusCode::CREATED, StatusCode::CONFLICT, StatusCode::UNPROCESSABLE_ENTITY].contains(s))
    );
    let path = format!("/api/v1/vqrp-applications/{}", made["id"].as_str().unwrap());
    let now: Value = app.get_as(&path, Some(&maker.access_token), StatusCode::OK).await;
    assert_eq!((&now["paid_cents"], &now["status"]), (&json!(40_000), &json!("approved")));
}

/// The facts of `agency`'s VQRP+ applications, oldest first: (kind, category, amount, business days).
async fn vqrp_facts(
    app: &TestApp,
    agency: &crate::helpers::Agency,
) -> Vec<(String, Option<String>, Option<i64>, Option<i64>, String)> {
    use infra::entities::reporting_fact;
    use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _};
    let tenant = domain::TenantId::from_uuid(agency.id);
    let tx = infra::db::begin_tenant_read_tx_for(&app.state.db, tenant).await.unwrap();
    let rows = reporting_fact::Entity::find()
        .filter(reporting_fact::Column::TenantId.eq(agency.id))
        .filter(reporting_fact::Column::Kind.starts_with("vqrp_"))
        .order_by_asc(reporting_fact::Column::Id)
        .all(tx.raw())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    rows.into_iter().map(|f| (f.kind, f.service_type, f.amount_cents, f.business_days, f.subject)).collect()
}

/// Each step of an application is one fact for the ministry, written with the step: the category
/// as its service type, the money approved and paid, the business days the decision took, and the
/// client's pseudonym; a refused step writes nothing.
#[tokio::test]
async fn each_step_of_an_application_is_a_de_identified_fact_for_the_ministry() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let supervisor = app.create_user(&agency, &["supervisor"]).await;
    let case = open_case(&app, &worker, json!({})).await;
    let made: Value = apply(&app, &worker, &case, &application("funeral", 30, 400_000)).await.json().await.unwrap();
    assert!(vqrp_facts(&app, &agency).await.is_empty(), "a draft is not yet an application to the program");
    act(&app, &worker, &made, "submit", &json!({})).await;
    let approve = json!({"decision": "approved", "approved_cents": 300_000, "reason": "Funeral home invoice."});
    assert_eq!(act(&app, &supervisor, &made, "decide", &approve).await.status(), StatusCode::OK);
    let pay = |cents: i64| json!({"paid_cents": cents, "payee": "vendor", "paid_on": today().to_string()});
    assert_eq!(act(&app, &worker, &made, "payments", &pay(100_000)).await.status(), StatusCode::CREATED);
    problem(act(&app, &worker, &made, "payments", &pay(200_001)).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(act(&app, &worker, &made, "payments", &pay(200_000)).await.status(), StatusCode::CREATED);

    let facts = vqrp_facts(&app, &agency).await;
    type Shape<'a> = (&'a str, Option<&'a str>, Option<i64>, Option<i64>);
    let shape: Vec<Shape<'_>> = facts.iter().map(|f| (f.0.as_str(), f.1.as_deref(), f.2, f.3)).collect();
    let funeral = Some("funeral");
    assert_eq!(
        shape,
        vec![
            ("vqrp_application_submitted", funeral, None, None),
            ("vqrp_application_decided", funeral, Some(300_000), Some(0)),
            ("vqrp_payment", funeral, Some(100_000), None),
            ("vqrp_payment", funeral, Some(200_000), None),
        ],
        "decided the day it was submitted: 0 business days; the refused payment left no fact"
    );
    // One person throughout, as a pseudonym: never the case's or the client's id.
    assert!(facts.iter().all(|f| f.4 == facts[0].4 && f.4.len() == 32));
    for id in [&case["id"], &case["client_id"], &made["id"]] {
        assert!(!facts[0].4.contains(&id.as_str().unwrap().replace('-', "")[..12]));
    }
}

/// Business days over HTTP across Ontario's holiday weekend of 2026: submitted on Thursday
/// 24 December, a decision in 3 business days skips Christmas (Friday), the weekend and Boxing
/// Day observed on Monday 28 December, so it is due Thursday 31 December; in 5 it also skips New
/// Year's Day and the next weekend: Tuesday 5 January. The service's calendar stands on the day
/// (`api::calendar`, which only code in the process can move).
#[tokio::test]
async fn a_decision_is_due_in_business_days_across_a_holiday_weekend() {
    let app = spawn_app().await;
    let thursday = chrono::NaiveDate::from_ymd_opt(2026, 12, 24).unwrap();
    app.state.calendar.stand_on(thursday);
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let case = open_case(&app, &worker, json!({})).await;
    for (category, due) in [("immediate_safety", "2026-12-31"), ("counselling", "2027-01-05")] {
        let mut body = application(category, 0, 50_000);
        body["crime_date"] = json!("2026-12-20");
        let made = apply(&app, &worker, &case, &body).await;
        assert_eq!(made.status(), StatusCode::CREATED, "{category}");
        let made: Value = made.json().await.unwrap();
        let submitted: Value = act(&app, &worker, &made, "submit", &json!({})).await.json().await.unwrap();
        assert_eq!(submitted["decision_due"], json!(due), "{category}");
    }
}
