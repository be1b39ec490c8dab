//! Quarterly reports to the ministry: an agency drafts one for a fiscal quarter (its figures are
//! computed live while it is a draft), a supervisor submits it (the figures freeze, with a SHA-256
//! content hash), and a ministry analyst reads every agency's submitted reports and accepts them
//! or returns them with a reason. A returned quarter is drafted again as the next version; the
//! returned version stays readable as it was.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use domain::ValidationErrors;
use domain::audit::actions;
use domain::authz::{Action, Actor};
use domain::reporting::report::{self, ReportError, ReportStatus};
use domain::reporting::{Dimension, FiscalQuarter, Metric, ReleasePeriod};
use domain::tenant::TenantKind;
use infra::TenantTx;
use infra::store::aggregates::Agencies;
use infra::store::reports::{self, Readers, Report, ReportFilter};
use infra::store::{audit, tenants};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use utoipa::{IntoParams, ToSchema};

use super::aggregates::{AggregateTable, Asked, release_table, reporting_read_tx};
use super::{PageQuery, authorize};
use crate::audit_trail::entry;
use crate::error::{ApiError, Problem};
use crate::extract::{Authenticated, IdempotencyHeader, RequestMeta};
use crate::idempotency::{Begun, Created, Idempotent};
use crate::state::AppState;

/// The tables every report holds, for its agency and quarter: each metric's total, then the
/// breakdowns the ministry asks agencies for.
const CONTENTS: &[(Metric, &[Dimension])] = &[
    (Metric::ClientsServed, &[]),
    (Metric::CasesOpened, &[]),
    (Metric::CasesClosed, &[]),
    (Metric::Referrals, &[]),
    (Metric::Services, &[]),
    (Metric::VqrpPlusCents, &[]),
    (Metric::MinutesToAcceptP50, &[]),
    (Metric::MinutesToAcceptP90, &[]),
    (Metric::MinutesToFirstContactP50, &[]),
    (Metric::MinutesToFirstContactP90, &[]),
    (Metric::VqrpApplications, &[]),
    (Metric::VqrpApprovedCents, &[]),
    (Metric::VqrpPaidCents, &[]),
    (Metric::VqrpDaysToDecisionP50, &[]),
    (Metric::VqrpDaysToDecisionP90, &[]),
    (Metric::ClientsServed, &[Dimension::VictimizationType]),
    (Metric::ClientsServed, &[Dimension::Gender]),
    (Metric::ClientsServed, &[Dimension::AgeBand]),
    (Metric::CasesOpened, &[Dimension::Program]),
    (Metric::Services, &[Dimension::ServiceType]),
    (Metric::Referrals, &[Dimension::Division]),
    (Metric::Referrals, &[Dimension::Urgency]),
    (Metric::MinutesToAcceptP50, &[Dimension::Urgency]),
    // The expense category is the VQRP+ facts' service type.
    (Metric::VqrpApplications, &[Dimension::ServiceType]),
    (Metric::VqrpApprovedCents, &[Dimension::ServiceType]),
];

/// The figures of a report: de-identified tables with small cells withheld.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReportFigures {
    /// The agency's slug.
    pub agency: String,
    /// Ontario fiscal year, named for the calendar year it starts in (2026 runs from 1 April 2026).
    pub fiscal_year: i32,
    /// Fiscal quarter, 1 (April–June) to 4 (January–March).
    #[schema(minimum = 1, maximum = 4)]
    pub quarter: i32,
    /// First day of the quarter.
    pub from: NaiveDate,
    /// Last day of the quarter.
    pub to: NaiveDate,
    /// The tables (see the README for the list).
    pub tables: Vec<AggregateTable>,
}

/// The agency a report belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportAgency {
    /// Tenant id.
    pub id: uuid::Uuid,
    /// The agency's sign-in short name, e.g. `victim-services-toronto`.
    pub slug: String,
    /// The agency's display name.
    pub name: String,
}

/// A report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportResponse {
    /// The report's id, assigned by the server; each version of a quarter's report has its own.
    pub id: uuid::Uuid,
    /// The agency the report belongs to.
    pub agency: ReportAgency,
    /// Ontario fiscal year (2026 runs from 1 April 2026 to 31 March 2027).
    pub fiscal_year: i32,
    /// Quarter, 1 (April–June) to 4 (January–March).
    #[schema(minimum = 1, maximum = 4)]
    pub quarter: i32,
    /// 1, then one more for each redraft after a return.
    pub report_version: i32,
    /// `draft`, `submitted`, `accepted` or `returned`.
    pub status: String,
    /// The figures: frozen once submitted; for a draft, computed now (absent from lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub figures: Option<ReportFigures>,
    /// True once submitted: the figures never change again.
    pub figures_frozen: bool,
    /// SHA-256 (hex) of the frozen figures serialised as compact JSON with object keys sorted.
    pub content_hash: Option<String>,
    /// Who drafted it (shown to the agency only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prepared_by: Option<uuid::Uuid>,
    /// Who submitted it (shown to the agency only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submitted_by: Option<uuid::Uuid>,
    /// When a supervisor submitted it (UTC); null while a draft.
    pub submitted_at: Option<DateTime<Utc>>,
    /// When the ministry accepted or returned it (UTC); null until then.
    pub reviewed_at: Option<DateTime<Utc>>,
    /// Why the ministry returned it; null unless returned.
    pub return_reason: Option<String>,
    /// When the report was drafted (UTC, set by the server).
    pub created_at: DateTime<Utc>,
}

/// A page of reports (figures left out: read one report for them).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportPage {
    /// The reports on this page, oldest first, without `figures`.
    pub items: Vec<ReportResponse>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// `POST /reports`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"fiscal_year": 2026, "quarter": 2}))]
#[serde(deny_unknown_fields)]
pub struct CreateReportRequest {
    /// Ontario fiscal year (named for the calendar year it starts in).
    #[serde(deserialize_with = "crate::whole_numbers::required")]
    pub fiscal_year: i32,
    /// Quarter, 1 to 4.
    #[serde(deserialize_with = "crate::whole_numbers::required")]
    #[schema(minimum = 1, maximum = 4)]
    pub quarter: u8,
}

/// `POST /reports/{id}/return`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"reason": "Referrals by division look incomplete for October; please check division 51."}))]
#[serde(deny_unknown_fields)]
pub struct ReturnReportRequest {
    /// What needs correcting (about the figures; never name a person).
    pub reason: String,
}

/// `?fiscal_year=&quarter=&status=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// Only this fiscal year.
    pub fiscal_year: Option<i32>,
    /// Only this quarter.
    #[param(minimum = 1, maximum = 4)]
    pub quarter: Option<i32>,
    /// Only this status.
    pub status: Option<String>,
}

fn readers_of(actor: &Actor) -> Readers {
    if actor.tenant_kind == TenantKind::Ministry { Readers::Ministry } else { Readers::OwnAgency }
}

fn report_error(e: ReportError) -> ApiError {
    ApiError::Conflict(e.to_string())
}

fn quarter_of(report: &Report) -> Result<FiscalQuarter, ApiError> {
    u8::try_from(report.quarter)
        .ok()
        .and_then(|q| FiscalQuarter::new(report.fiscal_year, q).ok())
        .ok_or_else(|| ApiError::Internal("stored report has an impossible quarter".to_owned()))
}

/// A report's figures, read now from its fiscal year's protected release: the cells that fix
/// the agency, the same cells (withheld alike) the ministry reads when it groups by agency, so a
/// report set beside the ministry's tables gives nothing away that the tables keep. Read in `tx`
/// (the agency's own); the handlers make sure the release exists first
/// ([`crate::releases::ensure_built`]), so a missing one is a 503.
async fn compute_figures(state: &AppState, tx: &TenantTx, report: &Report) -> Result<ReportFigures, ApiError> {
    let quarter = quarter_of(report)?;
    let (from, until) = quarter.range();
    let to = until.pred_opt().unwrap_or(until);
    let agency = tenants::get(tx.raw(), report.tenant_id).await?;
    let mut tables = Vec::with_capacity(CONTENTS.len());
    for (metric, group_by) in CONTENTS {
        let asked = Asked {
            metric: *metric,
            period: ReleasePeriod::Quarter(quarter),
            group_by: group_by.to_vec(),
            agencies: Agencies::One(report.tenant_id),
        };
        tables.push(release_table(state, tx, &asked).await?.ok_or(ApiError::Unavailable)?.0);
    }
    Ok(ReportFigures {
        agency: agency.slug,
        fiscal_year: report.fiscal_year,
        quarter: report.quarter,
        from,
        to,
        tables,
    })
}

/// The canonical text of figures (compact JSON, object keys sorted) and its SHA-256.
fn canonical(figures: &ReportFigures) -> Result<(String, String), ApiError> {
    // `serde_json::Value` keeps object keys in a sorted map, so this text is canonical.
    let value = serde_json::to_value(figures).map_err(|e| ApiError::Internal(e.to_string()))?;
    let text = value.to_string();
    let hash = hex::encode(Sha256::digest(text.as_bytes()));
    Ok((text, hash))
}

async fn respond(
    state: &AppState,
    tx: &TenantTx,
    readers: Readers,
    report: Report,
    with_figures: bool,
) -> Result<ReportResponse, ApiError> {
    let figures = match (&report.figures, with_figures) {
        (_, false) => None,
        (Some(frozen), true) => Some(serde_json::from_str(frozen).map_err(|e| ApiError::Internal(e.to_string()))?),
        (None, true) => Some(compute_figures(state, tx, &report).await?),
    };
    let agency = tenants::get(tx.raw(), report.tenant_id).await?;
    let agency_view = readers == Readers::OwnAgency;
    Ok(ReportResponse {
        id: report.id,
        agency: ReportAgency { id: agency.id.as_uuid(), slug: agency.slug, name: agency.name },
        fiscal_year: report.fiscal_year,
        quarter: report.quarter,
        report_version: report.report_version,
        status: report.status.as_str().to_owned(),
        figures,
        figures_frozen: report.figures.is_some(),
        content_hash: report.content_hash,
        prepared_by: agency_view.then(|| report.prepared_by.as_uuid()),
        submitted_by: report.submitted_by.filter(|_| agency_view).map(|u| u.as_uuid()),
        submitted_at: report.submitted_at,
        reviewed_at: report.reviewed_at,
        return_reason: report.return_reason,
        created_at: report.created_at,
    })
}

/// Draft a quarterly report.
///
/// Drafts the agency's report for an Ontario fiscal quarter that has begun (the fiscal year starts 1 April:
/// `fiscal_year: 2026, quarter: 1` is April–June 2026). While a draft, its figures are computed on each read. A
/// quarter has one report at a time; after the ministry returns it, drafting again makes the next version.
/// Supervisors and agency admins.
#[utoipa::path(
    tag = "reporting",
    operation_id = "create_report",
    request_body = CreateReportRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried request safe")),
    responses(
        (status = 201, description = "The draft, with its figures as they stand now", body = ReportResponse),
        (status = 403, description = "Not an agency supervisor or admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The quarter already has a report that is not returned", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such fiscal quarter, or it has not begun", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/reports")]
pub async fn create_report(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    idempotency: IdempotencyHeader,
    body: web::Json<CreateReportRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::PrepareReports)?;
    let mut e = ValidationErrors::default();
    let quarter = e.check("quarter", FiscalQuarter::new(body.fiscal_year, body.quarter));
    if let Some(q) = quarter
        && q.range().0 > domain::reporting::ontario_date(Utc::now())
    {
        e.add("quarter", "has not begun yet");
    }
    e.finish(|| Some(()))?;
    // The draft's figures are read from the year's release: before the transaction, which on
    // SQLite holds the writer a first build would need.
    crate::releases::ensure_built(&state, body.fiscal_year).await?;
    let idempotent = Idempotent::new(idempotency, &actor, "create_report", &*body)?;
    let tx = match idempotent.begin(&state, &actor, &meta).await? {
        Begun::Replay(replay) => return replay.answer().await,
        Begun::Proceed(tx) => tx,
    };
    let quarter = i32::from(body.quarter);
    let newest = reports::newest_of_quarter(&tx, body.fiscal_year, quarter).await?;
    let version = report::next_version(newest.map(|r| (r.report_version, r.status))).map_err(report_error)?;
    let draft = reports::insert_draft(&tx, body.fiscal_year, quarter, version, actor.user_id).await?;
    let details =
        serde_json::json!({ "fiscal_year": draft.fiscal_year, "quarter": draft.quarter, "report_version": version });
    audit::record(&tx, entry(&actor, &meta, actions::REPORT_DRAFTED, "report", Some(draft.id), details)).await?;
    let location = format!("/api/v1/reports/{}", draft.id);
    let body = respond(&state, &tx, Readers::OwnAgency, draft, true).await?;
    idempotent.finish(tx, &actor, Created::new(&body, location)?).await
}

/// List quarterly reports.
///
/// An agency's supervisors and admins see their own reports in any status; ministry analysts see every agency's
/// reports except drafts. Lists leave the figures out.
#[utoipa::path(
    tag = "reporting",
    operation_id = "list_reports",
    params(ReportQuery, PageQuery),
    responses(
        (status = 200, description = "A page of reports, oldest first (without figures)", body = ReportPage),
        (status = 403, description = "Not a ministry analyst, or an agency supervisor or admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/reports")]
pub async fn list_reports(
    state: web::Data<AppState>,
    caller: Authenticated,
    query: web::Query<ReportQuery>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ReadReports)?;
    let (limit, after) = page.parse()?;
    let mut e = ValidationErrors::default();
    let status = query.status.as_deref().map(|s| e.check("status", ReportStatus::parse(s)));
    if query.quarter.is_some_and(|q| !(1..=4).contains(&q)) {
        e.add("quarter", "must be 1 to 4");
    }
    e.finish(|| Some(()))?;
    let readers = readers_of(&actor);
    let filter = ReportFilter { fiscal_year: query.fiscal_year, quarter: query.quarter, status: status.flatten() };
    let tx = open(&state, &actor, readers).await?;
    let rows = reports::list(&tx, readers, filter, after, limit.get() + 1).await?;
    let (rows, next_cursor) = domain::paging::into_page(rows, limit, |r| r.id);
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        items.push(respond(&state, &tx, readers, row, false).await?);
    }
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(ReportPage { items, next_cursor }))
}

async fn open(state: &AppState, actor: &Actor, readers: Readers) -> Result<TenantTx, ApiError> {
    let agencies = if readers == Readers::Ministry { Agencies::All } else { Agencies::One(actor.tenant_id) };
    reporting_read_tx(state, actor, agencies).await
}

/// Read a quarterly report.
///
/// The report with its figures: frozen once submitted (check them against `content_hash`), computed now for a
/// draft. Drafts are invisible to the ministry (`404`).
#[utoipa::path(
    tag = "reporting",
    operation_id = "get_report",
    params(("id" = uuid::Uuid, Path, description = "Report id")),
    responses(
        (status = 200, description = "The report", body = ReportResponse),
        (status = 403, description = "Not a ministry analyst, or an agency supervisor or admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such report visible to you (drafts are invisible to the ministry)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/reports/{id}")]
pub async fn get_report(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ReadReports)?;
    let readers = readers_of(&actor);
    let tx = open(&state, &actor, readers).await?;
    let report = reports::get(&tx, readers, path.into_inner()).await?;
    let body = respond(&state, &tx, readers, report, true).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(body))
}

/// Submit a quarterly report.
///
/// Supervisors only. The figures are computed one last time and frozen; `content_hash` is the SHA-256 of the
/// figures as compact JSON with object keys sorted, so anyone can check they never changed. `409` unless the report
/// is a draft. Audited.
#[utoipa::path(
    tag = "reporting",
    operation_id = "submit_report",
    params(("id" = uuid::Uuid, Path, description = "Report id")),
    responses(
        (status = 200, description = "Submitted; the figures are frozen", body = ReportResponse),
        (status = 403, description = "Not a supervisor of the agency", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such report in your agency", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a draft", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/reports/{id}/submit")]
pub async fn submit_report(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::SubmitReports)?;
    let tx = infra::db::begin_tenant_tx(&state.db, &actor).await?;
    let draft = reports::get(&tx, Readers::OwnAgency, path.into_inner()).await?;
    report::submit(draft.status).map_err(report_error)?;
    let figures = compute_figures(&state, &tx, &draft).await?;
    let (text, hash) = canonical(&figures)?;
    match reports::submit(&tx, draft.id, &text, &hash, actor.user_id).await {
        Err(infra::StoreError::Conflict { .. }) => return Err(report_error(ReportError::NotDraft)),
        other => other?,
    }
    let details = serde_json::json!({ "content_hash": hash });
    audit::record(&tx, entry(&actor, &meta, actions::REPORT_SUBMITTED, "report", Some(draft.id), details)).await?;
    let submitted = reports::get(&tx, Readers::OwnAgency, draft.id).await?;
    let body = respond(&state, &tx, Readers::OwnAgency, submitted, true).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(body))
}

async fn review(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    id: uuid::Uuid,
    reason: Option<String>,
) -> Result<HttpResponse, ApiError> {
    authorize(actor, Action::ReviewReports)?;
    let tx = infra::db::begin_tenant_tx(&state.db, actor).await?;
    tx.widen_to_all_agencies().await?;
    let submitted = reports::get(&tx, Readers::Ministry, id).await?;
    let to = report::review(submitted.status, reason.is_none()).map_err(report_error)?;
    match reports::review(&tx, id, to, reason.as_deref(), actor.user_id).await {
        Err(infra::StoreError::Conflict { .. }) => return Err(report_error(ReportError::NotSubmitted)),
        other => other?,
    }
    let action = if to == ReportStatus::Accepted { actions::REPORT_ACCEPTED } else { actions::REPORT_RETURNED };
    let details = serde_json::json!({ "agency_id": submitted.tenant_id.as_uuid() });
    audit::record(&tx, entry(actor, meta, action, "report", Some(id), details)).await?;
    let reviewed = reports::get(&tx, Readers::Ministry, id).await?;
    let body = respond(state, &tx, Readers::Ministry, reviewed, true).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(body))
}

/// Accept a submitted report.
///
/// Ministry analysts only. `409` unless the report is submitted. Audited in the ministry's log.
#[utoipa::path(
    tag = "reporting",
    operation_id = "accept_report",
    params(("id" = uuid::Uuid, Path, description = "Report id")),
    responses(
        (status = 200, description = "Accepted", body = ReportResponse),
        (status = 403, description = "Not a ministry analyst", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such submitted report", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not submitted (already accepted or returned)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/reports/{id}/accept")]
pub async fn accept_report(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    review(&state, &caller.0, &meta, path.into_inner(), None).await
}

/// Return a submitted report.
///
/// Ministry analysts only: returns the report to its agency with a reason about the figures. The returned version
/// stays readable; the agency drafts the quarter again as the next version. Audited in the ministry's log.
#[utoipa::path(
    tag = "reporting",
    operation_id = "return_report",
    request_body = ReturnReportRequest,
    params(("id" = uuid::Uuid, Path, description = "Report id")),
    responses(
        (status = 200, description = "Returned", body = ReportResponse),
        (status = 403, description = "Not a ministry analyst", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such submitted report", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not submitted (already accepted or returned)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A missing or overlong reason", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/reports/{id}/return")]
pub async fn return_report(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
    body: web::Json<ReturnReportRequest>,
) -> Result<HttpResponse, ApiError> {
    authorize(&caller.0, Action::ReviewReports)?;
    let mut e = ValidationErrors::default();
    let reason = e.check("reason", report::return_reason(&body.reason));
    e.finish(|| Some(()))?;
    review(&state, &caller.0, &meta, path.into_inner(), reason).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canonical_form_sorts_keys_so_anyone_can_check_the_hash() {
        let figures = ReportFigures {
            agency: "a".into(),
            fiscal_year: 2026,
            quarter: 1,
            from: NaiveDate::default(),
            to: NaiveDate::default(),
            tables: vec![],
        };
        let (text, hash) = canonical(&figures).unwrap_or_default();
        assert_eq!(
            text,
            r#"{"agency":"a","fiscal_year":2026,"from":"1970-01-01","quarter":1,"tables":[],"to":"1970-01-01"}"#
        );
        assert_eq!(hash, hex::encode(Sha256::digest(text.as_bytes())));
    }
}
