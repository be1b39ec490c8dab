//! The agency's settings: escalation windows per urgency.

use actix_web::{HttpResponse, get, patch, web};
use domain::ValidationErrors;
use domain::authz::Action;
use domain::dispatch::EscalationWindows;
use infra::db::begin_tenant_tx;
use infra::store::settings::{self, Settings};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::authorize;
use crate::error::{ApiError, Problem};
use crate::extract::{Authenticated, IfMatch, with_etag};
use crate::state::AppState;

/// Minutes a referral may wait for acceptance before supervisors are alerted.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct EscalationMinutes {
    /// For `immediate` (default 15).
    #[schema(minimum = 1, maximum = 20160)]
    #[serde(deserialize_with = "crate::whole_numbers::required")]
    pub immediate: i32,
    /// For `same_day` (default 240).
    #[schema(minimum = 1, maximum = 20160)]
    #[serde(deserialize_with = "crate::whole_numbers::required")]
    pub same_day: i32,
    /// For `routine` (default 4320).
    #[schema(minimum = 1, maximum = 20160)]
    #[serde(deserialize_with = "crate::whole_numbers::required")]
    pub routine: i32,
}

/// The agency's settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettingsResponse {
    /// Minutes a referral of each urgency may wait for acceptance before supervisors are alerted.
    pub escalation_minutes: EscalationMinutes,
    /// Version for `If-Match` (0 while the defaults were never changed).
    pub version: i32,
}

/// Changes to the settings.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"escalation_minutes": {"immediate": 10, "same_day": 180, "routine": 2880}}))]
pub struct UpdateSettingsRequest {
    /// The new windows: all three urgencies are required and replace the current values.
    pub escalation_minutes: EscalationMinutes,
}

fn respond(s: Settings) -> HttpResponse {
    let body = SettingsResponse {
        escalation_minutes: EscalationMinutes {
            immediate: s.windows.immediate,
            same_day: s.windows.same_day,
            routine: s.windows.routine,
        },
        version: s.version,
    };
    with_etag(HttpResponse::Ok(), s.version, &body)
}

/// Read the agency's settings.
///
/// The escalation windows (minutes) for each urgency, with the `ETag` for `If-Match`. Agency admins and
/// supervisors.
#[utoipa::path(
    tag = "settings",
    operation_id = "get_settings",
    responses(
        (status = 200, description = "The settings", body = SettingsResponse, headers(("ETag" = String, description = "Version for If-Match"))),
        (status = 403, description = "Not an agency admin or supervisor", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/settings")]
pub async fn get_settings(state: web::Data<AppState>, caller: Authenticated) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ReadSettings)?;
    let tx = begin_tenant_tx(&state.db, &actor).await?;
    let current = settings::get(&tx).await?;
    tx.commit().await?;
    Ok(respond(current))
}

/// Change the escalation windows.
///
/// Agency admins only. Requires `If-Match`: without it `428`, stale `412`. Applies to referrals made afterwards.
#[utoipa::path(
    tag = "settings",
    operation_id = "update_settings",
    request_body = UpdateSettingsRequest,
    params(("If-Match" = String, Header, description = "The ETag last read")),
    responses(
        (status = 200, description = "Updated", body = SettingsResponse, headers(("ETag" = String, description = "New version"))),
        (status = 403, description = "Not an agency admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A window out of range", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/settings")]
pub async fn update_settings(
    state: web::Data<AppState>,
    caller: Authenticated,
    if_match: IfMatch,
    body: web::Json<UpdateSettingsRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ManageSettings)?;
    let m = &body.escalation_minutes;
    let mut e = ValidationErrors::default();
    let immediate = e.check("escalation_minutes.immediate", EscalationWindows::check(m.immediate));
    let same_day = e.check("escalation_minutes.same_day", EscalationWindows::check(m.same_day));
    let routine = e.check("escalation_minutes.routine", EscalationWindows::check(m.routine));
    let windows =
        e.finish(|| Some(EscalationWindows { immediate: immediate?, same_day: same_day?, routine: routine? }))?;
    let tx = begin_tenant_tx(&state.db, &actor).await?;
    let updated = settings::update(&tx, if_match.version()?, windows).await?;
    tx.commit().await?;
    Ok(respond(updated))
}
