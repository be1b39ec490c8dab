//! Staff for every tenant: a ministry's admin adds its analysts and admins, the platform's admins
//! add further platform admins, each tenant's first user holds its admin role, and nobody grants
//! roles of another kind of tenant or changes their own.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{INITIAL_PASSWORD, TestApp, problem, spawn_app_alone};

async fn add_user(app: &TestApp, token: &str, email: &str, roles: &[&str]) -> reqwest::Response {
    let body = json!({"email": email, "display_name": "New Staff", "roles": roles, "password": INITIAL_PASSWORD});
    app.post_json("/api/v1/users", Some(token), &body).await
}

#[tokio::test]
async fn a_ministry_admin_adds_an_analyst_who_then_reads_the_figures() {
    let app = spawn_app_alone("ministry_admin_adds_an_analyst", |_| {}).await;
    let ministry = app.create_tenant("ministry").await;
    let me: Value = app.get_as("/api/v1/me", Some(&ministry.admin.access_token), StatusCode::OK).await;
    let mut first_roles: Vec<&str> = me["roles"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    first_roles.sort_unstable();
    assert_eq!(first_roles, ["ministry_admin", "ministry_analyst"], "the first user runs the ministry and reads");

    let email = format!("analyst@{}.example", ministry.slug);
    let created = add_user(&app, &ministry.admin.access_token, &email, &["ministry_analyst"]).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let analyst = app.first_session(&ministry.slug, &email, INITIAL_PASSWORD).await;
    let figures = app
        .get("/api/v1/aggregates?metric=cases_opened&from=2026-04-01&to=2027-03-31", Some(&analyst.access_token))
        .await;
    assert_eq!(figures.status(), StatusCode::OK, "the new analyst reads the ministry's figures");
    // An analyst manages nobody; a second admin can.
    let refused =
        add_user(&app, &analyst.access_token, &format!("x@{}.example", ministry.slug), &["ministry_analyst"]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let admin_email = format!("admin2@{}.example", ministry.slug);
    assert_eq!(
        add_user(&app, &ministry.admin.access_token, &admin_email, &["ministry_admin"]).await.status(),
        StatusCode::CREATED
    );
    let second = app.first_session(&ministry.slug, &admin_email, INITIAL_PASSWORD).await;
    let listed: Value = app.get_as("/api/v1/users", Some(&second.access_token), StatusCode::OK).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 3);
    // A ministry admin grants no agency role, and does not read figures as an admin alone.
    let wrong =
        add_user(&app, &ministry.admin.access_token, &format!("cm@{}.example", ministry.slug), &["case_manager"]).await;
    assert_eq!(problem(wrong, StatusCode::UNPROCESSABLE_ENTITY).await["errors"][0]["field"], "roles");
    let as_admin_only = app
        .get("/api/v1/aggregates?metric=cases_opened&from=2026-04-01&to=2027-03-31", Some(&second.access_token))
        .await;
    assert_eq!(as_admin_only.status(), StatusCode::FORBIDDEN);
    // The ministry's admin issues a reset code for an analyst, who redeems it.
    let issued: Value = app
        .post(
            &format!("/api/v1/users/{}/password-reset", analyst.user_id),
            Some(&ministry.admin.access_token),
            &json!({}),
            StatusCode::CREATED,
        )
        .await;
    let redeem = json!({"tenant": ministry.slug, "email": email, "reset_code": issued["reset_code"], "new_password": "the analyst's new passphrase"});
    assert_eq!(app.post_json("/api/v1/auth/password-reset", None, &redeem).await.status(), StatusCode::NO_CONTENT);
    app.login(&ministry.slug, &email, "the analyst's new passphrase").await;
    // Nobody changes their own roles.
    let own = app
        .patch_json(
            &format!("/api/v1/users/{}", second.user_id),
            &second.access_token,
            Some("\"1\""),
            &json!({"roles": ["ministry_admin", "ministry_analyst"]}),
        )
        .await;
    assert_eq!(own.status(), StatusCode::FORBIDDEN);
    // Every grant is in the ministry's audit log, which its admin reads.
    let events: Value =
        app.get_as("/api/v1/audit-events?limit=200", Some(&ministry.admin.access_token), StatusCode::OK).await;
    let created = events["items"].as_array().unwrap().iter().filter(|e| e["action"] == "user.created").count();
    assert_eq!(created, 2);
}

#[tokio::test]
async fn platform_admins_add_further_platform_admins_and_nothing_else() {
    let app = spawn_app_alone("platform_admins_add_platform_admins", |_| {}).await;
    let platform = app.platform_admin().await;
    let email = format!("ops-{}@platform.local", &uuid::Uuid::now_v7().simple().to_string()[20..]);
    assert_eq!(add_user(&app, &platform.access_token, &email, &["platform_admin"]).await.status(), StatusCode::CREATED);
    // Every platform admin needs a second factor: the new one enrols at their first sign-ins.
    let setup = app.first_sign_in("platform", &email, INITIAL_PASSWORD).await;
    assert_eq!(setup["mfa_enrolment_required"], true, "{setup}");
    let (second, _) = app.enrol_then_sign_in("platform", &email, &setup).await;
    let tenant = app
        .post_json(
            "/api/v1/tenants",
            Some(&second.access_token),
            &json!({"slug": crate::helpers::unique_slug("agency"), "name": "Made by the second admin", "kind": "agency",
                    "admin": {"email": "first@made.example", "display_name": "First", "password": INITIAL_PASSWORD}}),
        )
        .await;
    assert_eq!(tenant.status(), StatusCode::CREATED, "the new platform admin runs the platform");
    let agency_role = add_user(&app, &platform.access_token, "cm@platform.local", &["case_manager"]).await;
    assert_eq!(agency_role.status(), StatusCode::UNPROCESSABLE_ENTITY, "no agency staff in the platform tenant");
    // An agency's admin still grants agency roles only.
    let agency = app.create_agency().await;
    let escalation =
        add_user(&app, &agency.admin.access_token, &format!("p@{}.example", agency.slug), &["platform_admin"]).await;
    assert_eq!(escalation.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
