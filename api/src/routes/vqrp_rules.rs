//! VQRP+'s rules as reference data: every version, with the day it takes effect. Read by anyone
//! signed in (a worker's form shows the caps); a new version is added by a platform admin when the
//! program publishes one. Versions are never edited: applications stay judged by the rules of the
//! day they were made.

use actix_web::{HttpResponse, get, post, web};
use chrono::NaiveDate;
use domain::ValidationErrors;
use domain::authz::Action;
use domain::vqrp::{CategoryRule, RuleVersion, TimeLimit};
use infra::store::vqrp as store;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::authorize;
use crate::error::{ApiError, Problem};
use crate::extract::Authenticated;
use crate::state::AppState;

/// One expense category's rules.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VqrpCategory {
    /// Its code, lower-case letters and underscores (`counselling`).
    pub code: String,
    /// The most the program pays for it, in cents.
    #[serde(deserialize_with = "crate::whole_numbers::required")]
    pub cap_cents: i64,
    /// How long after the crime one may apply: `days` or `months`.
    #[schema(example = "days")]
    pub time_limit_unit: String,
    /// How many of them.
    #[serde(deserialize_with = "crate::whole_numbers::required")]
    pub time_limit: i64,
    /// Ontario business days a complete submission may wait for its decision.
    #[serde(deserialize_with = "crate::whole_numbers::required")]
    pub decision_business_days: i64,
}

/// A version of the program's rules.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"version": 2, "effective_from": "2027-04-01", "categories": [
    {"code": "counselling", "cap_cents": 150000, "time_limit_unit": "months", "time_limit": 6, "decision_business_days": 5}]}))]
pub struct VqrpRuleVersion {
    /// Its number: higher than every version before it.
    #[serde(deserialize_with = "crate::whole_numbers::required")]
    pub version: i64,
    /// The first day it applies (Ontario's date): not before today, and after the latest version's.
    pub effective_from: NaiveDate,
    /// The categories it funds, each once.
    #[schema(min_items = 1)]
    pub categories: Vec<VqrpCategory>,
}

/// Every version of the rules.
#[derive(Debug, Serialize, ToSchema)]
pub struct VqrpRuleList {
    /// Oldest first; the one in force is the latest whose `effective_from` has come.
    pub items: Vec<VqrpRuleVersion>,
}

fn to_response(v: RuleVersion) -> VqrpRuleVersion {
    VqrpRuleVersion {
        version: i64::from(v.version),
        effective_from: v.effective_from,
        categories: v
            .categories
            .into_iter()
            .map(|c| {
                let (unit, count) = match c.time_limit {
                    TimeLimit::Days(d) => ("days", d),
                    TimeLimit::Months(m) => ("months", m),
                };
                VqrpCategory {
                    code: c.code,
                    cap_cents: c.cap_cents,
                    time_limit_unit: unit.to_owned(),
                    time_limit: i64::from(count),
                    decision_business_days: i64::from(c.decision_business_days),
                }
            })
            .collect(),
    }
}

/// List VQRP+'s rules.
///
/// Every version of the program's rules: the caps, time limits and decision windows per expense category, and the
/// day each version took effect.
#[utoipa::path(
    tag = "vqrp",
    operation_id = "list_vqrp_rules",
    responses(
        (status = 200, description = "The versions", body = VqrpRuleList),
    ),
    security(("bearer" = []))
)]
#[get("/vqrp-rules")]
pub async fn list_rules(state: web::Data<AppState>, caller: Authenticated) -> Result<HttpResponse, ApiError> {
    authorize(&caller.0, Action::ReadReferenceData)?;
    let tx = infra::db::begin_tenant_read_tx(&state.db, &caller.0).await?;
    let versions = store::rule_versions(tx.raw()).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(VqrpRuleList { items: versions.into_iter().map(to_response).collect() }))
}

/// Add a version of VQRP+'s rules.
///
/// Platform admins, when the program publishes new rules: a version number above the latest, taking effect on a day
/// not before today and after the latest version's, with each category once (a code of lower-case letters and
/// underscores, a cap of 1 to 10,000,000 cents, a time limit of 1 to 3,650 days or 1 to 120 months, 1 to 60 business
/// days for the decision). Applications made before it keep the rules they were judged by.
#[utoipa::path(
    tag = "vqrp",
    operation_id = "add_vqrp_rules",
    request_body = VqrpRuleVersion,
    responses(
        (status = 201, description = "Added", body = VqrpRuleVersion, headers(("Location" = String, description = "The list of versions"))),
        (status = 403, description = "Not a platform admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The version number is taken", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/vqrp-rules")]
pub async fn add_rules(
    state: web::Data<AppState>,
    caller: Authenticated,
    body: web::Json<VqrpRuleVersion>,
) -> Result<HttpResponse, ApiError> {
    authorize(&caller.0, Action::ManageReferenceData)?;
    let body = body.into_inner();
    let tx = infra::db::begin_tenant_tx(&state.db, &caller.0).await?;
    let latest = store::rule_versions(tx.raw()).await?.into_iter().last();
    let mut e = ValidationErrors::default();
    let version = i32::try_from(body.version).ok().filter(|v| latest.as_ref().is_none_or(|l| *v > l.version));
    if version.is_none() {
        e.add("version", "must be higher than the latest version");
    }
    let today = domain::reporting::ontario_date(chrono::Utc::now());
    if body.effective_from < today || latest.as_ref().is_some_and(|l| body.effective_from <= l.effective_from) {
        e.add("effective_from", "must not be before today, and after the latest version's");
    }
    if body.categories.is_empty() {
        e.add("categories", "must name at least one category");
    }
    let mut categories = Vec::with_capacity(body.categories.len());
    for (i, c) in body.categories.iter().enumerate() {
        let at = |field: &str| format!("categories[{i}].{field}");
        let code_ok = (1..=64).contains(&c.code.len())
            && c.code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            && !body.categories[..i].iter().any(|o| o.code == c.code);
        if !code_ok {
            e.add(at("code"), "must be 1 to 64 lower-case letters and underscores, each code once");
        }
        if !(1..=10_000_000).contains(&c.cap_cents) {
            e.add(at("cap_cents"), "must be 1 to 10,000,000");
        }
        let limit = u32::try_from(c.time_limit).ok();
        let time_limit = match (c.time_limit_unit.as_str(), limit) {
            ("days", Some(d @ 1..=3650)) => Some(TimeLimit::Days(d)),
            ("months", Some(m @ 1..=120)) => Some(TimeLimit::Months(m)),
            _ => {
                e.add(at("time_limit"), "must be 1 to 3,650 days or 1 to 120 months");
                None
            }
        };
        let decision = u32::try_from(c.decision_business_days).ok().filter(|d| (1..=60).contains(d));
        if decision.is_none() {
            e.add(at("decision_business_days"), "must be 1 to 60");
        }
        if let (Some(time_limit), Some(decision_business_days)) = (time_limit, decision) {
            categories.push(CategoryRule {
                code: c.code.clone(),
                cap_cents: c.cap_cents,
                time_limit,
                decision_business_days,
            });
        }
    }
    let version =
        e.finish(|| Some(RuleVersion { version: version?, effective_from: body.effective_from, categories }))?;
    store::add_rule_version(tx.raw(), &version).await?;
    tx.commit().await?;
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::LOCATION, "/api/v1/vqrp-rules"))
        .json(to_response(version)))
}
