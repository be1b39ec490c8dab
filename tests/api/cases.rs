//! Cases: opening, reading, listing with filters, updating with ETags, closing and reopening,
//! restricted cases, and the access log.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{create_client, open_case};
use crate::helpers::{Agency, Session, TestApp, problem, spawn_app};

struct Team {
    agency: Agency,
    supervisor: Session,
    worker: Session,
    colleague: Session,
}

async fn team(app: &TestApp) -> Team {
    let agency = app.create_agency().await;
    let supervisor = app.create_user(&agency, &["supervisor"]).await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let colleague = app.create_user(&agency, &["case_manager"]).await;
    Team { agency, supervisor, worker, colleague }
}

fn ids(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_case_manager_opens_reads_and_lists_a_case() {
    let app = spawn_app().await;
    let t = team(&app).await;
    let division = app.division_id("51").await;
    let program: Value = app
        .post_json(
            "/api/v1/programs",
            Some(&t.agency.admin.access_token),
            &json!({"code": "exit-route", "name": "Exit Route"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let client = create_client(&app, &t.worker.access_token, &json!({"given_name": "Lena"})).await;
    let body = json!({"client_id": client["id"], "victimization_types": ["human_trafficking_sexual", "sexual_assault"],
                      "referral_source": "police", "program_id": program["id"], "division_id": division, "assigned_to": t.worker.user_id});
    let response = app.post_json("/api/v1/cases", Some(&t.worker.access_token), &body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers().get("etag").and_then(|v| v.to_str().ok()), Some("\"1\""));
    let location = response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap().to_owned();
    let case: Value = response.json().await.unwrap();
    assert_eq!(case["status"], "open");
    assert_eq!(case["victimization_types"], json!(["human_trafficking_sexual", "sexual_assault"]));
    assert_eq!(
        (case["restricted"].clone(), case["risk_level"].clone(), case["closed_at"].clone()),
        (json!(false), Value::Null, Value::Null)
    );
    assert_eq!(case["program_id"], program["id"]);

    let read = app.get(&location, Some(&t.worker.access_token)).await;
    assert_eq!(read.headers().get("etag").and_then(|v| v.to_str().ok()), Some("\"1\""));
    assert_eq!(read.json::<Value>().await.unwrap(), case);
    let list: Value = app.get("/api/v1/cases", Some(&t.worker.access_token)).await.json().await.unwrap();
    assert_eq!(list["items"], json!([case]));
}

#[tokio::test]
async fn lists_filter_by_status_assignee_type_and_division_and_paginate() {
    let app = spawn_app().await;
    let t = team(&app).await;
    let d51 = app.division_id("51").await;
    let d14 = app.division_id("14").await;
    let a = open_case(&app, &t.worker, json!({"assigned_to": t.worker.user_id, "division_id": d51})).await;
    let b = open_case(&app, &t.worker, json!({"assigned_to": t.colleague.user_id, "division_id": d14, "victimization_types": ["human_trafficking_labour"]})).await;
    let c = open_case(
        &app,
        &t.worker,
        json!({"division_id": d51, "victimization_types": ["human_trafficking_labour", "other"]}),
    )
    .await;
    app.post_json(
        &format!("/api/v1/cases/{}/close", c["id"].as_str().unwrap()),
        Some(&t.supervisor.access_token),
        &json!({"reason": "Moved away"}),
    )
    .await;
    let token = &t.worker.access_token;
    let app = &app;
    let get = |q: String| async move {
        app.get(&format!("/api/v1/cases?{q}"), Some(token)).await.json::<Value>().await.unwrap()
    };
    let id = |v: &Value| v["id"].as_str().unwrap().to_owned();
    assert_eq!(ids(&get("status=open".into()).await), [id(&a), id(&b)]);
    assert_eq!(ids(&get("status=closed".into()).await), [id(&c)]);
    assert_eq!(ids(&get(format!("assigned_to={}", t.colleague.user_id)).await), [id(&b)]);
    assert_eq!(ids(&get("victimization_type=human_trafficking_labour".into()).await), [id(&b), id(&c)]);
    assert_eq!(ids(&get(format!("division_id={d51}")).await), [id(&a), id(&c)]);
    assert_eq!(ids(&get(format!("division_id={d51}&status=open")).await), [id(&a)]);
    let first = get("limit=2".into()).await;
    assert_eq!(ids(&first), [id(&a), id(&b)]);
    let rest = get(format!("limit=2&cursor={}", first["next_cursor"].as_str().unwrap())).await;
    assert_eq!((ids(&rest), rest["next_cursor"].clone()), (vec![id(&c)], Value::Null));
    for bad in ["status=pending", "victimization_type=robbery", "limit=0"] {
        problem(app.get(&format!("/api/v1/cases?{bad}"), Some(token)).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
}

#[tokio::test]
async fn invalid_or_foreign_references_are_refused_field_by_field() {
    let app = spawn_app().await;
    let t = team(&app).await;
    let other = app.create_agency().await;
    let other_worker = app.create_user(&other, &["case_manager"]).await;
    let foreign_client = create_client(&app, &other_worker.access_token, &json!({"given_name": "Elsewhere"})).await;
    let foreign_program: Value = app
        .post_json("/api/v1/programs", Some(&other.admin.access_token), &json!({"code": "theirs", "name": "Theirs"}))
        .await
        .json()
        .await
        .unwrap();
    let liaison = app.create_user(&t.agency, &["police_liaison"]).await;
    let body = json!({"client_id": foreign_client["id"], "victimization_types": [], "referral_source": "psychic",
                      "program_id": foreign_program["id"], "division_id": Uuid::now_v7(), "assigned_to": liaison.user_id});
    let p = problem(
        app.post_json("/api/v1/cases", Some(&t.worker.access_token), &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(
        fields,
        ["victimization_types", "referral_source", "client_id", "program_id", "division_id", "assigned_to"]
    );
    let none: Value = app.get("/api/v1/cases", Some(&t.supervisor.access_token)).await.json().await.unwrap();
    assert_eq!(none["items"], json!([]), "nothing was created");
}

#[tokio::test]
async fn updates_need_if_match_and_a_stale_version_is_refused() {
    let app = spawn_app().await;
    let t = team(&app).await;
    let case = open_case(&app, &t.worker, json!({})).await;
    let path = format!("/api/v1/cases/{}", case["id"].as_str().unwrap());
    problem(
        app.patch_json(&path, &t.worker.access_token, None, &json!({"risk_level": "high"})).await,
        StatusCode::PRECONDITION_REQUIRED,
    )
    .await;
    let updated = app
        .patch_json(
            &path,
            &t.worker.access_token,
            Some("\"1\""),
            &json!({"risk_level": "high", "assigned_to": t.colleague.user_id, "victimization_types": ["other"]}),
        )
        .await;
    assert_eq!(updated.status(), StatusCode::OK);
    assert_eq!(updated.headers().get("etag").and_then(|v| v.to_str().ok()), Some("\"2\""));
    let updated: Value = updated.json().await.unwrap();
    assert_eq!(
        (updated["risk_level"].as_str(), updated["assigned_to"].clone()),
        (Some("high"), json!(t.colleague.user_id))
    );
    let by_type: Value =
        app.get("/api/v1/cases?victimization_type=other", Some(&t.worker.access_token)).await.json().await.unwrap();
    assert_eq!(ids(&by_type), [case["id"].as_str().unwrap()]);
    problem(
        app.patch_json(&path, &t.worker.access_token, Some("\"1\""), &json!({"risk_level": null})).await,
        StatusCode::PRECONDITION_FAILED,
    )
    .await;
    let bad = app
        .patch_json(
            &path,
            &t.worker.access_token,
            Some("\"2\""),
            &json!({"risk_level": "apocalyptic", "victimization_types": []}),
        )
        .await;
    assert_eq!(problem(bad, StatusCode::UNPROCESSABLE_ENTITY).await["errors"].as_array().unwrap().len(), 2);
    let cleared = app
        .patch_json(&path, &t.worker.access_token, Some("\"2\""), &json!({"risk_level": null, "assigned_to": null}))
        .await;
    let cleared: Value = cleared.json().await.unwrap();
    assert_eq!((cleared["risk_level"].clone(), cleared["assigned_to"].clone()), (Value::Null, Value::Null));
}

#[tokio::test]
async fn supervisors_close_and_reopen_with_a_reason() {
    let app = spawn_app().await;
    let t = team(&app).await;
    let case = open_case(&app, &t.worker, json!({})).await;
    let id = case["id"].as_str().unwrap();
    let close = format!("/api/v1/cases/{id}/close");
    problem(
        app.post_json(&close, Some(&t.worker.access_token), &json!({"reason": "Done"})).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    problem(
        app.post_json(&close, Some(&t.supervisor.access_token), &json!({"reason": "  "})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        app.post_json(&close, Some(&t.supervisor.access_token), &json!({})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let closed =
        app.post_json(&close, Some(&t.supervisor.access_token), &json!({"reason": "Safety plan in place"})).await;
    assert_eq!(closed.status(), StatusCode::OK);
    let closed: Value = closed.json().await.unwrap();
    assert_eq!(closed["status"], "closed");
    assert!(closed["closed_at"].as_str().is_some());
    problem(
        app.post_json(&close, Some(&t.supervisor.access_token), &json!({"reason": "Again"})).await,
        StatusCode::CONFLICT,
    )
    .await;
    let reopened = app
        .post_json(
            &format!("/api/v1/cases/{id}/reopen"),
            Some(&t.supervisor.access_token),
            &json!({"reason": "New incident"}),
        )
        .await;
    let reopened: Value = reopened.json().await.unwrap();
    assert_eq!((reopened["status"].as_str(), reopened["closed_at"].clone()), (Some("open"), Value::Null));
    problem(
        app.post_json(&format!("/api/v1/cases/{id}/reopen"), Some(&t.supervisor.access_token), &json!({"reason": "x"}))
            .await,
        StatusCode::CONFLICT,
    )
    .await;
}

#[tokio::test]
async fn restricted_cases_exist_only_for_their_worker_and_supervisors() {
    let app = spawn_app().await;
    let t = team(&app).await;
    let client =
        create_client(&app, &t.worker.access_token, &json!({"given_name": "Hidden", "family_name": "Person"})).await;
    let body = json!({"client_id": client["id"], "victimization_types": ["human_trafficking_sexual"], "referral_source": "self",
                      "assigned_to": t.worker.user_id, "restricted": true});
    let case: Value = app.post_json("/api/v1/cases", Some(&t.worker.access_token), &body).await.json().await.unwrap();
    let open = open_case(&app, &t.worker, json!({})).await;
    let path = format!("/api/v1/cases/{}", case["id"].as_str().unwrap());
    let client_path = format!("/api/v1/clients/{}", client["id"].as_str().unwrap());

    for who in [&t.worker, &t.supervisor] {
        assert_eq!(app.get(&path, Some(&who.access_token)).await.status(), StatusCode::OK);
        let list: Value = app.get("/api/v1/cases", Some(&who.access_token)).await.json().await.unwrap();
        assert_eq!(ids(&list).len(), 2);
        assert_eq!(app.get(&client_path, Some(&who.access_token)).await.status(), StatusCode::OK);
    }
    // The colleague: not found, as if it did not exist, and absent from lists, counts and searches.
    let hidden = problem(app.get(&path, Some(&t.colleague.access_token)).await, StatusCode::NOT_FOUND).await;
    let missing = problem(
        app.get(&format!("/api/v1/cases/{}", Uuid::now_v7()), Some(&t.colleague.access_token)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(hidden, missing);
    let list: Value = app.get("/api/v1/cases?limit=200", Some(&t.colleague.access_token)).await.json().await.unwrap();
    assert_eq!(ids(&list), [open["id"].as_str().unwrap()]);
    problem(app.get(&client_path, Some(&t.colleague.access_token)).await, StatusCode::NOT_FOUND).await;
    let search: Value =
        app.get("/api/v1/clients?given_name=hidden", Some(&t.colleague.access_token)).await.json().await.unwrap();
    assert_eq!(search["items"], json!([]));
    problem(
        app.patch_json(&path, &t.colleague.access_token, Some("\"1\""), &json!({"restricted": false})).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let on_hidden = json!({"client_id": client["id"], "victimization_types": ["other"], "referral_source": "self"});
    let p = problem(
        app.post_json("/api/v1/cases", Some(&t.colleague.access_token), &on_hidden).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "client_id");
    // The worker the restricted case is assigned to sees the client, and may open another case.
    let response = app.post_json("/api/v1/cases", Some(&t.worker.access_token), &on_hidden).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn another_agencys_case_is_not_found_and_other_roles_are_forbidden() {
    let app = spawn_app().await;
    let t = team(&app).await;
    let case = open_case(&app, &t.worker, json!({})).await;
    let path = format!("/api/v1/cases/{}", case["id"].as_str().unwrap());
    let other = app.create_agency().await;
    let foreign_supervisor = app.create_user(&other, &["supervisor"]).await;
    let foreign = problem(app.get(&path, Some(&foreign_supervisor.access_token)).await, StatusCode::NOT_FOUND).await;
    let missing = problem(
        app.get(&format!("/api/v1/cases/{}", Uuid::now_v7()), Some(&foreign_supervisor.access_token)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(foreign, missing);
    problem(
        app.post_json(&format!("{path}/close"), Some(&foreign_supervisor.access_token), &json!({"reason": "x"})).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(app.get(&format!("{path}/access-log"), Some(&other.admin.access_token)).await, StatusCode::NOT_FOUND).await;

    let liaison = app.create_user(&t.agency, &["police_liaison"]).await;
    let ministry = app.create_tenant("ministry").await;
    for token in [&t.agency.admin.access_token, &liaison.access_token, &ministry.admin.access_token] {
        problem(app.get(&path, Some(token)).await, StatusCode::FORBIDDEN).await;
        problem(app.get("/api/v1/cases", Some(token)).await, StatusCode::FORBIDDEN).await;
        let body = json!({"client_id": case["client_id"], "victimization_types": ["other"], "referral_source": "self"});
        problem(app.post_json("/api/v1/cases", Some(token), &body).await, StatusCode::FORBIDDEN).await;
    }
}

#[tokio::test]
async fn the_access_log_shows_who_read_and_changed_a_case() {
    let app = spawn_app().await;
    let t = team(&app).await;
    let case = open_case(&app, &t.worker, json!({})).await;
    let path = format!("/api/v1/cases/{}", case["id"].as_str().unwrap());
    app.get(&path, Some(&t.colleague.access_token)).await;
    app.patch_json(&path, &t.supervisor.access_token, Some("\"1\""), &json!({"risk_level": "moderate"})).await;
    for reader in [&t.supervisor, &t.agency.admin] {
        let log: Value = app.get(&format!("{path}/access-log"), Some(&reader.access_token)).await.json().await.unwrap();
        let entries: Vec<(String, String)> = log["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["action"].as_str().unwrap().to_owned(), e["actor_id"].as_str().unwrap().to_owned()))
            .collect();
        assert_eq!(
            entries,
            [
                ("case.updated".to_owned(), t.supervisor.user_id.to_string()),
                ("case.read".to_owned(), t.colleague.user_id.to_string()),
                ("case.created".to_owned(), t.worker.user_id.to_string()),
            ]
        );
    }
    problem(app.get(&format!("{path}/access-log"), Some(&t.worker.access_token)).await, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn a_worker_is_told_over_the_event_stream_when_a_case_is_assigned_to_them() {
    let app = spawn_app().await;
    let t = team(&app).await;
    let mut stream = app.events(&t.colleague.access_token, None).await;
    let case = open_case(&app, &t.worker, json!({})).await;
    let path = format!("/api/v1/cases/{}", case["id"].as_str().unwrap());
    app.patch_json(&path, &t.supervisor.access_token, Some("\"1\""), &json!({"assigned_to": t.colleague.user_id}))
        .await;
    let event = stream.next_within(std::time::Duration::from_secs(1)).await.expect("told within a second");
    assert_eq!((event.kind.as_str(), event.data["case_id"].clone()), ("case.assigned", case["id"].clone()));
    // Re-saving without changing the assignee tells nobody again.
    app.patch_json(&path, &t.supervisor.access_token, Some("\"2\""), &json!({"risk_level": "low"})).await;
    assert_eq!(stream.next_within(std::time::Duration::from_millis(300)).await, None);
}

/// The store's SQL filter (`infra::store::cases::visible`) answers as the domain's rule
/// (`domain::authz::CaseScope::sees`) for every combination of restriction and assignment, for a
/// case manager it is assigned to, another case manager and a supervisor: read and listed exactly
/// when the rule says so.
#[tokio::test]
async fn who_sees_a_case_follows_the_domain_rule_for_every_restriction_and_assignment() {
    use domain::authz::{Actor, CaseScope};
    use domain::user::{Role, RoleSet};
    let app = spawn_app().await;
    let t = team(&app).await;
    let actor = |who: &Session, role: Role| Actor {
        tenant_id: domain::TenantId::from_uuid(t.agency.id),
        tenant_kind: domain::tenant::TenantKind::Agency,
        user_id: domain::UserId::from_uuid(who.user_id),
        roles: RoleSet::one(role),
        session_id: domain::SessionId::new(),
    };
    let viewers =
        [(&t.worker, Role::CaseManager), (&t.colleague, Role::CaseManager), (&t.supervisor, Role::Supervisor)];
    let mut made = 0;
    for restricted in [false, true] {
        for assignee in [None, Some(&t.worker), Some(&t.colleague)] {
            let mut extra = json!({ "restricted": restricted });
            if let Some(who) = assignee {
                extra["assigned_to"] = json!(who.user_id);
            }
            let client = create_client(&app, &t.supervisor.access_token, &json!({"given_name": "Rule"})).await;
            let mut body =
                json!({"client_id": client["id"], "victimization_types": ["other"], "referral_source": "self"});
            body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            let response = app.post_json("/api/v1/cases", Some(&t.supervisor.access_token), &body).await;
            if response.status() == StatusCode::UNPROCESSABLE_ENTITY {
                continue; // a combination the service refuses to make
            }
            assert_eq!(response.status(), StatusCode::CREATED, "{body}");
            made += 1;
            let case: Value = response.json().await.unwrap();
            let id = case["id"].as_str().unwrap();
            let assigned = assignee.map(|w| domain::UserId::from_uuid(w.user_id));
            for (who, role) in viewers {
                let sees = CaseScope::of(&actor(who, role)).sees(restricted, assigned);
                let read = app.get(&format!("/api/v1/cases/{id}"), Some(&who.access_token)).await.status();
                assert_eq!(read == StatusCode::OK, sees, "read {case} as {role:?} {}", who.email);
                let list: Value =
                    app.get("/api/v1/cases?limit=200", Some(&who.access_token)).await.json().await.unwrap();
                assert_eq!(ids(&list).iter().any(|c| c == id), sees, "list {case} as {role:?} {}", who.email);
            }
        }
    }
    assert!(made >= 5, "only {made} combinations could be made");
}
