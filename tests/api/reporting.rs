//! Ministry reporting: de-identified facts written with the changes, `GET /aggregates` on known
//! data (each metric and dimension, on SQLite and PostgreSQL), suppression as published, CSV,
//! who sees which agencies, and bad questions.

use chrono::{Datelike as _, Duration, NaiveDate, Utc};
use domain::TenantId;
use domain::reporting::{Dimension, FactKind, Metric};
use infra::entities::reporting_fact;
use infra::store::aggregates::{self, Agencies, Question, RawCell};
use reqwest::StatusCode;
use sea_orm::{EntityTrait, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{create_client, on_shift, open_case};
use crate::helpers::{Agency, Session, TestApp, problem, spawn_app_alone, unique_slug};

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// A fact as the stores would write it; `dims` are (victimization_type, gender, service_type).
fn fact(
    tenant: TenantId,
    kind: &str,
    on: NaiveDate,
    subject: &str,
    dims: (&str, Option<&str>, Option<&str>),
    amount: Option<i64>,
    minutes: Option<i64>,
) -> reporting_fact::ActiveModel {
    let quarter = domain::reporting::FiscalQuarter::of(on);
    reporting_fact::ActiveModel {
        tenant_id: Set(tenant.as_uuid()),
        id: Set(Uuid::now_v7()),
        kind: Set(kind.to_owned()),
        occurred_on: Set(on),
        fiscal_quarter: Set(quarter.label()),
        month: Set(domain::reporting::month_label(on)),
        program: Set(Some("EXIT".to_owned())),
        victimization_type: Set(Some(dims.0.to_owned())),
        division: Set(Some("51".to_owned())),
        service_type: Set(dims.2.map(str::to_owned)),
        urgency: Set(None),
        gender: Set(dims.1.map(str::to_owned)),
        age_band: Set(Some("25-34".to_owned())),
        amount_cents: Set(amount),
        minutes: Set(minutes),
        business_days: Set(None),
        subject: Set(subject.to_owned()),
    }
}

async fn seed_known_facts(app: &TestApp) -> TenantId {
    // A real agency: the ministry's figures name agencies by slug.
    let tenant = TenantId::from_uuid(app.create_agency().await.id);
    let mut rows = Vec::new();
    let ipv = "intimate_partner_violence";
    for i in 1..=7 {
        let vt = if i <= 4 { ipv } else { "sexual_assault" };
        let gender = match i {
            1..=5 => Some("woman"),
            6 => Some("man"),
            _ => None,
        };
        rows.push(fact(tenant, "case_opened", day(2026, 5, 10), &format!("s{i}"), (vt, gender, None), None, None));
    }
    for i in 1..=6 {
        let amount = Some(100 * i);
        rows.push(fact(
            tenant,
            "service_delivered",
            day(2026, 8, 1),
            &format!("s{i}"),
            (ipv, Some("woman"), Some("vqrp_plus")),
            amount,
            None,
        ));
    }
    for _ in 0..2 {
        rows.push(fact(
            tenant,
            "service_delivered",
            day(2026, 8, 2),
            "s1",
            (ipv, Some("woman"), Some("follow_up")),
            None,
            Some(30),
        ));
    }
    for i in 1..=10 {
        rows.push(fact(
            tenant,
            "referral_accepted",
            day(2026, 6, 1),
            &format!("r{i}"),
            (ipv, None, None),
            None,
            Some(5 * i),
        ));
    }
    for i in 1..=7 {
        rows.push(fact(
            tenant,
            "referral_first_contact",
            day(2026, 6, 1),
            &format!("r{i}"),
            (ipv, None, None),
            None,
            Some(i),
        ));
    }
    rows.push(fact(tenant, "case_closed", day(2026, 9, 30), "s1", (ipv, Some("woman"), None), None, None));
    // VQRP+ applications, their category as the service type: five counselling applications
    // submitted and decided in 1 to 5 business days (s5 declined), three paid; one funeral
    // application still undecided.
    for i in 1..=5 {
        let subject = format!("s{i}");
        let counselling = (ipv, Some("woman"), Some("counselling"));
        rows.push(fact(tenant, "vqrp_application_submitted", day(2026, 7, 6), &subject, counselling, None, None));
        let approved = if i == 5 { 0 } else { 10_000 * i };
        let mut decided =
            fact(tenant, "vqrp_application_decided", day(2026, 7, 10), &subject, counselling, Some(approved), None);
        decided.business_days = Set(Some(i));
        rows.push(decided);
        if i <= 3 {
            rows.push(fact(tenant, "vqrp_payment", day(2026, 8, 3), &subject, counselling, Some(5_000 * i), None));
        }
    }
    let funeral = (ipv, Some("woman"), Some("funeral"));
    rows.push(fact(tenant, "vqrp_application_submitted", day(2026, 7, 7), "s6", funeral, None, None));
    // Outside the period asked about.
    rows.push(fact(tenant, "case_opened", day(2025, 1, 1), "s9", (ipv, Some("woman"), None), None, None));
    let tx = infra::db::begin_tenant_tx_for(&app.state.db, tenant).await.unwrap();
    reporting_fact::Entity::insert_many(rows).exec_without_returning(tx.raw()).await.unwrap();
    tx.commit().await.unwrap();
    tenant
}

async fn ask(app: &TestApp, tenant: TenantId, metric: Metric, group_by: &[Dimension]) -> Vec<RawCell> {
    let question = Question {
        metric,
        group_by: group_by.to_vec(),
        from: day(2026, 4, 1),
        to: day(2027, 3, 31),
        agencies: Agencies::One(tenant),
    };
    let tx = infra::db::begin_tenant_read_tx_for(&app.state.db, tenant).await.unwrap();
    let cells = aggregates::compute(&tx, &question).await.unwrap();
    tx.commit().await.unwrap();
    cells
}

/// The value of the cell with exactly these dimension values (`None`: totalled over).
fn value_at(cells: &[RawCell], key: &[Option<&str>]) -> Option<i64> {
    let key: Vec<Option<String>> = key.iter().map(|k| k.map(str::to_owned)).collect();
    cells.iter().find(|c| c.key == key).and_then(|c| c.value)
}

#[tokio::test]
async fn every_metric_is_computed_in_sql_on_known_facts() {
    let app = spawn_app_alone("every_metric_is_computed_in_sql_on_known", |_| {}).await;
    let t = seed_known_facts(&app).await;

    // People: distinct subjects with a case opened or a service delivered in the period.
    let served = ask(&app, t, Metric::ClientsServed, &[]).await;
    assert_eq!(value_at(&served, &[]), Some(7));
    let by_quarter = ask(&app, t, Metric::ClientsServed, &[Dimension::FiscalQuarterOf]).await;
    assert_eq!(value_at(&by_quarter, &[Some("2026-Q1")]), Some(7));
    assert_eq!(value_at(&by_quarter, &[Some("2026-Q2")]), Some(6));
    assert_eq!(value_at(&by_quarter, &[None]), Some(7), "a person served in two quarters is one person");

    let opened = ask(&app, t, Metric::CasesOpened, &[Dimension::VictimizationType]).await;
    assert_eq!(value_at(&opened, &[Some("intimate_partner_violence")]), Some(4));
    assert_eq!(value_at(&opened, &[Some("sexual_assault")]), Some(3));
    assert_eq!(value_at(&opened, &[None]), Some(7), "the old case is outside the period");
    let by_gender = ask(&app, t, Metric::CasesOpened, &[Dimension::Gender]).await;
    assert_eq!(value_at(&by_gender, &[Some("woman")]), Some(5));
    assert_eq!(value_at(&by_gender, &[Some("not_recorded")]), Some(1));
    let by_month =
        ask(&app, t, Metric::CasesOpened, &[Dimension::Month, Dimension::Program, Dimension::Division]).await;
    assert_eq!(value_at(&by_month, &[Some("2026-05"), Some("EXIT"), Some("51")]), Some(7));
    assert_eq!(by_month.len(), 8, "one cell and seven margins: {by_month:?}");
    assert_eq!(value_at(&ask(&app, t, Metric::CasesClosed, &[]).await, &[]), Some(1));

    let services = ask(&app, t, Metric::Services, &[Dimension::ServiceType]).await;
    assert_eq!(value_at(&services, &[Some("vqrp_plus")]), Some(6));
    assert_eq!(value_at(&services, &[Some("follow_up")]), Some(2));
    assert_eq!(services.iter().find(|c| c.key == [Some("follow_up".to_owned())]).unwrap().people, 1);
    assert_eq!(value_at(&ask(&app, t, Metric::VqrpPlusCents, &[]).await, &[]), Some(2100));
    let age = ask(&app, t, Metric::VqrpPlusCents, &[Dimension::AgeBand]).await;
    assert_eq!(value_at(&age, &[Some("25-34")]), Some(2100));

    // Nearest rank: of 5, 10 … 50 minutes, p50 is the 5th (25), p90 the 9th (45).
    assert_eq!(value_at(&ask(&app, t, Metric::MinutesToAcceptP50, &[]).await, &[]), Some(25));
    assert_eq!(value_at(&ask(&app, t, Metric::MinutesToAcceptP90, &[]).await, &[]), Some(45));
    let contact = ask(&app, t, Metric::MinutesToFirstContactP50, &[Dimension::Urgency]).await;
    assert_eq!(value_at(&contact, &[Some("not_recorded")]), Some(4));
    assert_eq!(value_at(&contact, &[None]), Some(4));
    assert_eq!(value_at(&ask(&app, t, Metric::MinutesToFirstContactP90, &[]).await, &[]), Some(7));
    assert_eq!(value_at(&ask(&app, t, Metric::Referrals, &[]).await, &[]), Some(0), "no referral_created facts");

    // VQRP+ applications by category, and their money and decision times.
    let applications = ask(&app, t, Metric::VqrpApplications, &[Dimension::ServiceType]).await;
    assert_eq!(value_at(&applications, &[Some("counselling")]), Some(5));
    assert_eq!(value_at(&applications, &[Some("funeral")]), Some(1));
    assert_eq!(value_at(&applications, &[None]), Some(6));
    assert_eq!(
        value_at(&ask(&app, t, Metric::VqrpApprovedCents, &[]).await, &[]),
        Some(100_000),
        "s5's decline adds 0"
    );
    assert_eq!(value_at(&ask(&app, t, Metric::VqrpPaidCents, &[]).await, &[]), Some(30_000));
    // Nearest rank of 1 … 5 business days: p50 the 3rd, p90 the 5th.
    assert_eq!(value_at(&ask(&app, t, Metric::VqrpDaysToDecisionP50, &[]).await, &[]), Some(3));
    assert_eq!(value_at(&ask(&app, t, Metric::VqrpDaysToDecisionP90, &[]).await, &[]), Some(5));
    assert_eq!(value_at(&ask(&app, t, Metric::Services, &[]).await, &[]), Some(8), "applications are not services");
    assert_eq!(value_at(&ask(&app, t, Metric::ClientsServed, &[]).await, &[]), Some(7), "nor people served");

    // Another tenant's question sees none of it.
    assert_eq!(value_at(&ask(&app, TenantId::new(), Metric::CasesOpened, &[]).await, &[]), Some(0));
}

/// A small deterministic generator, so a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }

    fn pick<'a>(&mut self, values: &[&'a str]) -> &'a str {
        values[usize::try_from(self.below(values.len() as u64)).unwrap()]
    }

    fn maybe<'a>(&mut self, values: &[&'a str]) -> Option<&'a str> {
        (self.below(4) != 0).then(|| self.pick(values))
    }
}

/// Facts of every kind for `tenant` in fiscal 2041 (a year no other test writes), spread over
/// every dimension, about people known to this agency only (as real subjects are).
async fn seed_varied_facts(app: &TestApp, tenant: TenantId, rng: &mut Lcg, count: usize) {
    seed_varied_facts_in(app, tenant, rng, count, 2041).await;
}

/// [`seed_varied_facts`] in fiscal year `year`.
async fn seed_varied_facts_in(app: &TestApp, tenant: TenantId, rng: &mut Lcg, count: usize, year: i32) {
    let kinds = FactKind::ALL;
    let rows: Vec<reporting_fact::ActiveModel> = (0..count)
        .map(|_| {
            let kind = kinds[usize::try_from(rng.below(kinds.len() as u64)).unwrap()];
            let on = day(year, 4, 1) + Duration::days(i64::try_from(rng.below(365)).unwrap());
            let service = kind == FactKind::ServiceDelivered;
            let vqrp = matches!(kind, FactKind::VqrpSubmitted | FactKind::VqrpDecided | FactKind::VqrpPaid);
            let money = service || matches!(kind, FactKind::VqrpDecided | FactKind::VqrpPaid);
            let minutes = matches!(kind, FactKind::ReferralAccepted | FactKind::ReferralFirstContact);
            let days = kind == FactKind::VqrpDecided;
            reporting_fact::ActiveModel {
                tenant_id: Set(tenant.as_uuid()),
                id: Set(Uuid::now_v7()),
                kind: Set(kind.as_str().to_owned()),
                occurred_on: Set(on),
                fiscal_quarter: Set(domain::reporting::FiscalQuarter::of(on).label()),
                month: Set(domain::reporting::month_label(on)),
                program: Set(rng.maybe(&["EXIT", "VQRP"]).map(str::to_owned)),
                victimization_type: Set(rng
                    .maybe(&["intimate_partner_violence", "human_trafficking"])
                    .map(str::to_owned)),
                division: Set(rng.maybe(&["14", "51", "52"]).map(str::to_owned)),
                service_type: Set(if vqrp {
                    Some(rng.pick(&["counselling", "funeral"]).to_owned())
                } else {
                    service.then(|| rng.pick(&["vqrp_plus", "follow_up"]).to_owned())
                }),
                urgency: Set(rng.maybe(&["immediate", "today"]).map(str::to_owned)),
                gender: Set(rng.maybe(&["woman", "man", "non_binary"]).map(str::to_owned)),
                age_band: Set(rng.maybe(&["18-24", "25-34", "65+"]).map(str::to_owned)),
                amount_cents: Set(money.then(|| i64::try_from(rng.below(50_000)).unwrap())),
                minutes: Set(minutes.then(|| i64::try_from(rng.below(240)).unwrap())),
                business_days: Set(days.then(|| i64::try_from(rng.below(12)).unwrap())),
                subject: Set(format!("{tenant}:{}", rng.below(40))),
            }
        })
        .collect();
    let tx = infra::db::begin_tenant_tx_for(&app.state.db, tenant).await.unwrap();
    reporting_fact::Entity::insert_many(rows).exec_without_returning(tx.raw()).await.unwrap();
    tx.commit().await.unwrap();
}

fn sorted(mut cells: Vec<RawCell>) -> Vec<RawCell> {
    cells.sort_by(|a, b| a.key.cmp(&b.key));
    cells
}

/// PostgreSQL answers counts, sums and people with `GROUPING SETS`, and by agency computes the
/// margins over agencies as sums; the portable `UNION ALL` form (SQLite's, and the reference)
/// must give the very same cells for every metric, grouping and scope, in the same (key) order.
/// On SQLite both calls run the portable form, so there this checks that every combination is
/// answered, in order.
#[tokio::test]
async fn both_forms_of_the_aggregate_statement_give_the_same_cells() {
    let app = spawn_app_alone("both_forms_of_the_aggregate_statement_gi", |_| {}).await;
    let mut rng = Lcg(7);
    let (first, second) = (app.create_agency().await, app.create_agency().await);
    let (first, second) = (TenantId::from_uuid(first.id), TenantId::from_uuid(second.id));
    seed_varied_facts(&app, first, &mut rng, 400).await;
    seed_varied_facts(&app, second, &mut rng, 250).await;
    let groupings: [&[Dimension]; 8] = [
        &[],
        &[Dimension::Agency],
        &[Dimension::Agency, Dimension::Month],
        &[Dimension::Gender, Dimension::Agency, Dimension::Urgency],
        &[Dimension::VictimizationType, Dimension::Gender, Dimension::AgeBand],
        &[Dimension::FiscalQuarterOf, Dimension::ServiceType],
        &[Dimension::Division, Dimension::Program],
        &[Dimension::Month],
    ];
    for agencies in [Agencies::All, Agencies::One(first)] {
        for &metric in Metric::ALL {
            for group_by in groupings {
                let question = Question {
                    metric,
                    group_by: group_by.to_vec(),
                    from: day(2041, 4, 1),
                    to: day(2042, 3, 31),
                    agencies,
                };
                let tx = infra::db::begin_tenant_read_tx_for(&app.state.db, first).await.unwrap();
                if agencies == Agencies::All {
                    tx.widen_to_all_agencies().await.unwrap();
                }
                let answer = aggregates::compute(&tx, &question).await.unwrap();
                let reference = aggregates::compute_portable(&tx, &question).await.unwrap();
                tx.commit().await.unwrap();
                assert_eq!(answer, sorted(answer.clone()), "in key order: suppression's ties depend on it");
                assert_eq!(answer, reference, "{metric:?} by {group_by:?} for {agencies:?}");
                let total = answer.iter().find(|c| c.key.iter().all(Option::is_none)).expect("a grand total");
                assert!(total.people > 0, "{metric:?} by {group_by:?} for {agencies:?} found no facts");
            }
        }
    }
}

struct Shop {
    agency: Agency,
    supervisor: Session,
    worker: Session,
    program_code: String,
    program_id: Value,
}

async fn shop(app: &TestApp) -> Shop {
    let agency = app.create_agency().await;
    let supervisor = app.create_user(&agency, &["supervisor"]).await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    // A program code no other test uses, so the ministry's all-agency figures can be narrowed
    // to this test's data on a shared database.
    let program_code = unique_slug("exit-route");
    let program = app
        .post_json(
            "/api/v1/programs",
            Some(&agency.admin.access_token),
            &json!({"code": program_code, "name": "Exit Route"}),
        )
        .await;
    assert_eq!(program.status(), StatusCode::CREATED, "program");
    let program: Value = program.json().await.unwrap();
    Shop { agency, supervisor, worker, program_code, program_id: program["id"].clone() }
}

/// The fiscal month (a release period) the test's casework falls in: today's, in Ontario.
fn period() -> String {
    let today = domain::reporting::ontario_date(Utc::now());
    let month = domain::reporting::ReleasePeriod::Month { year: today.year(), month: today.month() };
    format!("from={}&to={}", month.first_day(), month.last_day())
}

async fn aggregates(app: &TestApp, who: &Session, query: &str) -> Value {
    app.refresh_figures().await;
    let response = app.get(&format!("/api/v1/aggregates?{}&{query}", period()), Some(&who.access_token)).await;
    assert_eq!(response.status(), StatusCode::OK, "aggregates {query}");
    response.json().await.unwrap()
}

fn row<'a>(table: &'a Value, field: &str, value: &str) -> &'a Value {
    table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[field] == value)
        .unwrap_or_else(|| panic!("no {field}={value} in {table}"))
}

/// Six clients (four women, two men) with cases at divisions 51 (five) and 14 (one), a VQRP+
/// payment and a follow-up each, one case closed.
async fn casework(app: &TestApp, s: &Shop) -> Vec<Value> {
    let d51 = app.division_id("51").await;
    let d14 = app.division_id("14").await;
    let mut cases = Vec::new();
    for i in 0..6 {
        let gender = if i < 4 { "woman" } else { "man" };
        let client = create_client(
            app,
            &s.worker.access_token,
            &json!({"given_name": "Aggregate", "family_name": "Person", "gender": gender, "date_of_birth": "1990-01-15"}),
        )
        .await;
        let division = if i < 5 { d51 } else { d14 };
        let case = open_case(
            app,
            &s.worker,
            json!({"client_id": client["id"], "program_id": s.program_id, "division_id": division}),
        )
        .await;
        let path = format!("/api/v1/cases/{}/services", case["id"].as_str().unwrap());
        for body in [
            json!({"service_type": "vqrp_plus", "delivered_at": Utc::now(), "amount_cents": 10_000}),
            json!({"service_type": "follow_up", "delivered_at": Utc::now(), "minutes": 30}),
        ] {
            let response = app.post_json(&path, Some(&s.worker.access_token), &body).await;
            assert_eq!(response.status(), StatusCode::CREATED, "service");
        }
        cases.push(case);
    }
    let close = format!("/api/v1/cases/{}/close", cases[0]["id"].as_str().unwrap());
    let closed = app.post_json(&close, Some(&s.supervisor.access_token), &json!({"reason": "Goals met"})).await;
    assert_eq!(closed.status(), StatusCode::OK, "close");
    cases
}

#[tokio::test]
async fn casework_becomes_figures_with_small_cells_withheld() {
    let app = spawn_app_alone("casework_becomes_figures_with_small_cell", |_| {}).await;
    let s = shop(&app).await;
    casework(&app, &s).await;
    let sup = &s.supervisor;

    let total = aggregates(&app, sup, "metric=cases_opened").await;
    assert_eq!(total["rows"], json!([{"value": 6, "suppressed": false}]));
    assert_eq!(total["totals"], json!([]));
    assert_eq!(total["unit"], "events");
    assert_eq!(total["scope"], "agency");
    assert_eq!(total["suppression"], json!({"threshold": 5, "method": "primary_and_complementary"}));

    // Division 14 has one case: withheld, and so is division 51, or 6 − 5 would give it away.
    let by_division = aggregates(&app, sup, "metric=cases_opened&group_by=division").await;
    assert_eq!(row(&by_division, "division", "14")["suppressed"], true);
    assert_eq!(row(&by_division, "division", "14")["value"], Value::Null);
    assert_eq!(row(&by_division, "division", "51")["suppressed"], true);
    assert_eq!(by_division["totals"], json!([{"value": 6, "suppressed": false}]));

    let by_gender = aggregates(&app, sup, "metric=clients_served&group_by=gender").await;
    assert_eq!(by_gender["unit"], "people");
    assert_eq!(row(&by_gender, "gender", "man")["suppressed"], true);
    assert_eq!(row(&by_gender, "gender", "woman")["suppressed"], true);

    // Six people's services form one block (four women and two men cannot be told apart, so
    // the block spans gender and with it the service types below it in the release's tree): the
    // types are withheld and only the total, resting on the whole block, is published.
    let by_type = aggregates(&app, sup, "metric=services&group_by=service_type").await;
    assert_eq!(row(&by_type, "service_type", "vqrp_plus")["suppressed"], true);
    assert_eq!(row(&by_type, "service_type", "follow_up")["suppressed"], true);
    assert_eq!(by_type["totals"], json!([{"value": 12, "suppressed": false}]));
    let money = aggregates(&app, sup, "metric=vqrp_plus_cents&group_by=program,age_band").await;
    let cell = row(&money, "program", &s.program_code);
    assert_eq!((cell["age_band"].as_str(), cell["value"].as_i64()), (Some("35-44"), Some(60_000)));
    let months = aggregates(&app, sup, "metric=cases_opened&group_by=fiscal_quarter,month,victimization_type").await;
    assert_eq!(months["rows"].as_array().unwrap().len(), 1);
    assert_eq!(months["rows"][0]["victimization_type"], "intimate_partner_violence");
    assert_eq!(months["totals"].as_array().unwrap().len(), 7);

    // One closed case rests on one person: withheld, though it is the grand total.
    let closed = aggregates(&app, sup, "metric=cases_closed").await;
    assert_eq!(closed["rows"], json!([{"value": null, "suppressed": true}]));

    let agency = aggregates(&app, sup, "metric=cases_opened&group_by=agency").await;
    assert_eq!(agency["rows"], json!([{"agency": s.agency.slug, "value": 6, "suppressed": false}]));

    // The same table as CSV.
    let csv = app
        .client
        .get(app.url(&format!("/api/v1/aggregates?{}&metric=cases_opened&group_by=division", period())))
        .bearer_auth(&sup.access_token)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    assert_eq!(text, "row_type,division,value,suppressed\r\ncell,14,,true\r\ncell,51,,true\r\ntotal,,6,false\r\n");
}

#[tokio::test]
async fn referral_response_times_are_measured() {
    let app = spawn_app_alone("referral_response_times_are_measured", |_| {}).await;
    let s = shop(&app).await;
    let d51 = app.division_id("51").await;
    on_shift(&app, &s.agency, &s.worker, d51).await;
    for _ in 0..5 {
        let body = json!({"division_id": d51, "program_id": s.program_id, "victimization_types": ["human_trafficking_sexual"],
                          "urgency": "immediate", "consent_to_contact": true,
                          "person": {"given_name": "Referred", "date_of_birth": "2009-02-01", "phone": "416-555-0100",
                                     "safe_contact": {"ok_to_call": true, "ok_to_text": false, "ok_to_voicemail": false}}});
        let referral = app.post_json("/api/v1/referrals", Some(&s.worker.access_token), &body).await;
        assert_eq!(referral.status(), StatusCode::CREATED);
        let referral: Value = referral.json().await.unwrap();
        let path = format!("/api/v1/referrals/{}", referral["id"].as_str().unwrap());
        let accepted = app.post_json(&format!("{path}/accept"), Some(&s.worker.access_token), &json!({})).await;
        assert_eq!(accepted.status(), StatusCode::OK);
        let reached = app
            .post_json(
                &format!("{path}/contact-attempts"),
                Some(&s.worker.access_token),
                &json!({"outcome": "reached"}),
            )
            .await;
        assert_eq!(reached.status(), StatusCode::CREATED);
    }
    let referrals = aggregates(&app, &s.supervisor, "metric=referrals&group_by=urgency,age_band").await;
    assert_eq!(
        referrals["rows"],
        json!([{"urgency": "immediate", "age_band": "12-17", "value": 5, "suppressed": false}])
    );
    for metric in [
        "minutes_to_accept_p50",
        "minutes_to_accept_p90",
        "minutes_to_first_contact_p50",
        "minutes_to_first_contact_p90",
    ] {
        let table = aggregates(&app, &s.supervisor, &format!("metric={metric}&group_by=division")).await;
        assert_eq!(table["unit"], "minutes");
        assert_eq!(table["suppression"]["method"], "primary");
        // Five values: the p90 is the largest (one person's minutes) and the p50 has fewer than
        // five on either side of it, so both are withheld (`percentile_publishable`).
        assert_eq!(row(&table, "division", "51")["suppressed"], true, "{metric}: too few values");
        assert_eq!(row(&table, "division", "51")["value"], Value::Null, "{metric}");
    }
}

#[tokio::test]
async fn the_ministry_sees_every_agency_and_an_agency_only_itself() {
    let app = spawn_app_alone("the_ministry_sees_every_agency_and_an_ag", |_| {}).await;
    let s = shop(&app).await;
    casework(&app, &s).await;
    let ministry = app.create_tenant("ministry").await;

    let all = aggregates(&app, &ministry.admin, "metric=cases_opened&group_by=program,agency").await;
    assert_eq!(all["scope"], "all_agencies");
    let episodes = aggregates(&app, &ministry.admin, "metric=clients_served").await;
    assert_eq!(episodes["unit"], "service_episodes", "people across agencies are counted per agency");
    let ours: Vec<&Value> =
        all["rows"].as_array().unwrap().iter().filter(|r| r["program"] == s.program_code.as_str()).collect();
    assert_eq!(
        ours,
        vec![&json!({"program": s.program_code, "agency": s.agency.slug, "value": 6, "suppressed": false})]
    );

    let other = app.create_agency().await;
    let other_supervisor = app.create_user(&other, &["supervisor"]).await;
    let theirs = aggregates(&app, &other_supervisor, "metric=cases_opened&group_by=program").await;
    assert_eq!(theirs["rows"], json!([]));
    assert_eq!(theirs["totals"], json!([{"value": 0, "suppressed": false}]));

    for who in [&s.worker, &app.platform_admin().await] {
        let response =
            app.get(&format!("/api/v1/aggregates?{}&metric=cases_opened", period()), Some(&who.access_token)).await;
        problem(response, StatusCode::FORBIDDEN).await;
    }
}

#[tokio::test]
async fn bad_questions_get_a_problem_naming_the_parameter() {
    let app = spawn_app_alone("bad_questions_get_a_problem_naming_the_p", |_| {}).await;
    let s = shop(&app).await;
    let token = &s.supervisor.access_token;
    for (query, field) in [
        ("from=2026-04-01&to=2026-06-30", "metric"),
        ("metric=names&from=2026-04-01&to=2026-06-30", "metric"),
        ("metric=services&to=2026-06-30", "from"),
        ("metric=services&from=2026-04-31&to=2026-06-30", "from"),
        ("metric=services&from=2026-06-30&to=2026-04-01", "to"),
        ("metric=services&from=2000-01-01&to=2026-04-01", "to"),
        ("metric=services&from=2026-04-01&to=2026-06-30&group_by=client_name", "group_by"),
        ("metric=services&from=2026-04-01&to=2026-06-30&group_by=agency,agency", "group_by"),
        ("metric=services&from=2026-04-01&to=2026-06-30&group_by=agency,month,gender,urgency", "group_by"),
        // Not a release period: the overlapping ranges of the attack, and a calendar year.
        ("metric=services&from=2026-04-10&to=2026-04-10", "from"),
        ("metric=services&from=2026-04-10&to=2026-05-11", "to"),
        ("metric=services&from=2026-01-01&to=2026-12-31", "from"),
    ] {
        let body = problem(
            app.get(&format!("/api/v1/aggregates?{query}"), Some(token)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
        assert!(fields.contains(&field), "{query}: {body}");
        if query.contains("04-10") || query.contains("12-31") || query.contains("2000-01-01") {
            assert_eq!(body["code"], "period_not_releasable", "{query}: {body}");
            assert!(body["detail"].as_str().unwrap().contains("fiscal month"), "{body}");
        }
    }
}

#[tokio::test]
async fn cached_answers_never_answer_another_tenant_and_expire() {
    let app = spawn_app_alone("cached_answers_never_answer_another_tena", |s| s.aggregate_cache_seconds = 1).await;
    let first = shop(&app).await;
    let second = shop(&app).await;
    for _ in 0..5 {
        open_case(&app, &first.worker, json!({})).await;
    }
    let question = "metric=cases_opened";
    let a1 = aggregates(&app, &first.supervisor, question).await;
    let a2 = aggregates(&app, &first.supervisor, question).await;
    let b = aggregates(&app, &second.supervisor, question).await;
    assert_eq!(a1["rows"][0]["value"], 5);
    assert_eq!(a2["rows"][0]["value"], 5);
    assert_eq!(b["rows"][0]["value"], 0, "the same question from another agency gets its own answer");
    if std::env::var("REDIS_URL").is_ok() {
        // With Redis the repeat is served from the cache, computed once.
        assert_eq!(a1["computed_at"], a2["computed_at"]);
    }
    // One more case is one new person: it waits, and no figure changes (else the difference of
    // two answers would be that person).
    open_case(&app, &first.worker, json!({})).await;
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let later = aggregates(&app, &first.supervisor, question).await;
    assert_eq!(later["rows"][0]["value"], 5, "a lone new case waits");
    for _ in 0..4 {
        open_case(&app, &first.worker, json!({})).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let later = aggregates(&app, &first.supervisor, question).await;
    assert_eq!(later["rows"][0]["value"], 10, "five new people count together, never staler than the cache's lifetime");
}

/// The same question with its dimensions in another order withholds the very same cells: the rules
/// see one canonical table, so two orders cannot be subtracted to recover a withheld cell (a
/// sequence that worked before: `gender,age_band` and `age_band,gender` withheld different cells).
#[tokio::test]
async fn the_same_question_in_any_dimension_order_gives_byte_identical_cells() {
    let app = spawn_app_alone("the_same_question_in_any_dimension_order", |_| {}).await;
    let agency = app.create_agency().await;
    let supervisor = app.create_user(&agency, &["supervisor"]).await;
    let tenant = TenantId::from_uuid(agency.id);
    // Many small fact sets (one fiscal year each), so that small cells and ties between candidate
    // complementary cells turn up.
    let years: Vec<i32> = (2041..2061).collect();
    for (n, year) in years.iter().enumerate() {
        let mut rng = Lcg(20_261_203 + n as u64);
        let count = 25 + usize::try_from(rng.below(60)).unwrap();
        seed_varied_facts_in(&app, tenant, &mut rng, count, *year).await;
    }
    let pairs =
        [("gender", "age_band"), ("program", "division"), ("victimization_type", "urgency"), ("gender", "division")];
    for year in years {
        for metric in ["cases_opened", "clients_served", "services", "vqrp_plus_cents"] {
            for (a, b) in pairs {
                let mut answers = Vec::new();
                for group_by in [format!("{a},{b}"), format!("{b},{a}")] {
                    let period = format!("from={year}-04-01&to={}-03-31", year + 1);
                    let path = format!("/api/v1/aggregates?metric={metric}&{period}&group_by={group_by}");
                    let table: Value = app.get(&path, Some(&supervisor.access_token)).await.json().await.unwrap();
                    let mut cells: Vec<String> = ["rows", "totals"]
                        .iter()
                        .flat_map(|part| {
                            table[part].as_array().unwrap().iter().map(Value::to_string).collect::<Vec<_>>()
                        })
                        .collect();
                    cells.sort();
                    answers.push(cells);
                }
                assert_eq!(answers[0], answers[1], "{metric} by {a},{b} against {b},{a} in {year}");
            }
        }
    }
}

/// The named sequence: a 3 × 3 table of people (found by search) whose withheld cells the old
/// rules chose by position, so `gender,victimization_type` and `victimization_type,gender` withheld
/// different cells, and the two answers together gave away a withheld one.
#[tokio::test]
async fn reordering_the_dimensions_of_a_tie_withholds_the_same_cells() {
    let app = spawn_app_alone("reordering_the_dimensions_of_a_tie_withh", |_| {}).await;
    let agency = app.create_agency().await;
    let supervisor = app.create_user(&agency, &["supervisor"]).await;
    let tenant = TenantId::from_uuid(agency.id);
    let people = [[6, 1, 5], [6, 2, 6], [5, 1, 6]];
    let genders = ["man", "non_binary", "woman"];
    let types = ["human_trafficking", "intimate_partner_violence", "other"];
    let mut rows = Vec::new();
    for (year, transposed) in [(2071, false), (2072, true)] {
        for (r, counts) in people.iter().enumerate() {
            for (c, &n) in counts.iter().enumerate() {
                let (g, t) = if transposed { (genders[c], types[r]) } else { (genders[r], types[c]) };
                for k in 0..n {
                    let subject = format!("{tenant}:{year}:{r}:{c}:{k}");
                    rows.push(fact(tenant, "case_opened", day(year, 6, 1), &subject, (t, Some(g), None), None, None));
                }
            }
        }
    }
    let tx = infra::db::begin_tenant_tx_for(&app.state.db, tenant).await.unwrap();
    reporting_fact::Entity::insert_many(rows).exec_without_returning(tx.raw()).await.unwrap();
    tx.commit().await.unwrap();
    for year in [2071, 2072] {
        for metric in ["cases_opened", "clients_served"] {
            let mut answers = Vec::new();
            for group_by in ["gender,victimization_type", "victimization_type,gender"] {
                let period = format!("from={year}-04-01&to={}-03-31", year + 1);
                let path = format!("/api/v1/aggregates?metric={metric}&{period}&group_by={group_by}");
                let table: Value = app.get(&path, Some(&supervisor.access_token)).await.json().await.unwrap();
                let mut withheld: Vec<String> = ["rows", "totals"]
                    .iter()
                    .flat_map(|part| table[part].as_array().unwrap().clone())
                    .filter(|cell| cell["suppressed"] == true)
                    .map(|cell| cell.to_string())
                    .collect();
                withheld.sort();
                answers.push(withheld);
            }
            assert!(!answers[0].is_empty(), "the table has small cells");
            assert_eq!(answers[0], answers[1], "{metric} in {year}");
        }
    }
}
