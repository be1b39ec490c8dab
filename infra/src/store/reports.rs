//! Quarterly reports to the ministry. Figures are written once, when the report is submitted,
//! by an update that only matches a draft: nothing can change them afterwards.
//!
//! An agency reads its own reports in any status. The ministry (a transaction widened to all
//! agencies) reads every agency's reports that are not drafts, and reviews submitted ones.

use chrono::{DateTime, Utc};
use domain::reporting::report::ReportStatus;
use domain::{TenantId, UserId};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use super::{DbResultExt, StoreError};
use crate::TenantTx;
use crate::entities::report;

/// A report as stored.
#[derive(Clone, Debug)]
pub struct Report {
    /// The agency it belongs to.
    pub tenant_id: TenantId,
    /// Id.
    pub id: Uuid,
    /// Fiscal year (named for the calendar year it starts in).
    pub fiscal_year: i32,
    /// Quarter, 1 to 4.
    pub quarter: i32,
    /// 1 for the first report of the quarter; each redraft after a return adds one.
    pub report_version: i32,
    /// Status.
    pub status: ReportStatus,
    /// The frozen figures (canonical JSON), once submitted.
    pub figures: Option<String>,
    /// SHA-256 of `figures`, hex.
    pub content_hash: Option<String>,
    /// Who drafted it.
    pub prepared_by: UserId,
    /// Who submitted it.
    pub submitted_by: Option<UserId>,
    /// When.
    pub submitted_at: Option<DateTime<Utc>>,
    /// The ministry analyst who reviewed it.
    pub reviewed_by: Option<UserId>,
    /// When.
    pub reviewed_at: Option<DateTime<Utc>>,
    /// Why it was returned.
    pub return_reason: Option<String>,
    /// Optimistic-concurrency version of the row.
    pub version: i32,
    /// When drafted.
    pub created_at: DateTime<Utc>,
}

impl TryFrom<report::Model> for Report {
    type Error = StoreError;

    fn try_from(m: report::Model) -> Result<Self, StoreError> {
        Ok(Self {
            tenant_id: TenantId::from_uuid(m.tenant_id),
            id: m.id,
            fiscal_year: m.fiscal_year,
            quarter: m.quarter,
            report_version: m.report_version,
            status: super::decode("reports.status", &m.status, ReportStatus::parse)?,
            figures: m.figures,
            content_hash: m.content_hash,
            prepared_by: UserId::from_uuid(m.prepared_by),
            submitted_by: m.submitted_by.map(UserId::from_uuid),
            submitted_at: m.submitted_at,
            reviewed_by: m.reviewed_by.map(UserId::from_uuid),
            reviewed_at: m.reviewed_at,
            return_reason: m.return_reason,
            version: m.version,
            created_at: m.created_at,
        })
    }
}

/// Whose reports a reader sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readers {
    /// The transaction's agency: all its reports.
    OwnAgency,
    /// The ministry: every agency's reports except drafts.
    Ministry,
}

fn visible(tx: &TenantTx, readers: Readers) -> Condition {
    match readers {
        Readers::OwnAgency => Condition::all().add(report::Column::TenantId.eq(tx.tenant_id().as_uuid())),
        Readers::Ministry => Condition::all().add(report::Column::Status.ne(ReportStatus::Draft.as_str())),
    }
}

/// The newest report of a quarter, if any (for choosing the next version).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn newest_of_quarter(tx: &TenantTx, fiscal_year: i32, quarter: i32) -> Result<Option<Report>, StoreError> {
    report::Entity::find()
        .filter(report::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(report::Column::FiscalYear.eq(fiscal_year))
        .filter(report::Column::Quarter.eq(quarter))
        .order_by_desc(report::Column::ReportVersion)
        .one(tx.raw())
        .await
        .store()?
        .map(Report::try_from)
        .transpose()
}

/// Drafts a report.
///
/// # Errors
/// [`StoreError::Conflict`] on `reports.quarter` when another draft of the same version won.
pub async fn insert_draft(
    tx: &TenantTx,
    fiscal_year: i32,
    quarter: i32,
    report_version: i32,
    by: UserId,
) -> Result<Report, StoreError> {
    let now = crate::db::now();
    let model = report::ActiveModel {
        tenant_id: Set(tx.tenant_id().as_uuid()),
        id: Set(Uuid::now_v7()),
        fiscal_year: Set(fiscal_year),
        quarter: Set(quarter),
        report_version: Set(report_version),
        status: Set(ReportStatus::Draft.as_str().to_owned()),
        figures: Set(None),
        content_hash: Set(None),
        prepared_by: Set(by.as_uuid()),
        submitted_by: Set(None),
        submitted_at: Set(None),
        reviewed_by: Set(None),
        reviewed_at: Set(None),
        return_reason: Set(None),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(tx.raw())
    .await
    .map_err(|e| match StoreError::from_db(e) {
        StoreError::Conflict { .. } => StoreError::Conflict { constraint: "reports.quarter" },
        other => other,
    })?;
    Report::try_from(model)
}

/// One report the reader may see.
///
/// # Errors
/// [`StoreError::NotFound`] when there is none (a draft, for the ministry).
pub async fn get(tx: &TenantTx, readers: Readers, id: Uuid) -> Result<Report, StoreError> {
    report::Entity::find()
        .filter(report::Column::Id.eq(id))
        .filter(visible(tx, readers))
        .one(tx.raw())
        .await
        .store()?
        .map(Report::try_from)
        .ok_or(StoreError::NotFound)?
}

/// Filters of the report list.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReportFilter {
    /// Only this fiscal year.
    pub fiscal_year: Option<i32>,
    /// Only this quarter.
    pub quarter: Option<i32>,
    /// Only this status.
    pub status: Option<ReportStatus>,
}

/// A page of reports the reader may see, oldest first.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn list(
    tx: &TenantTx,
    readers: Readers,
    filter: ReportFilter,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Report>, StoreError> {
    let mut query = report::Entity::find().filter(visible(tx, readers));
    if let Some(year) = filter.fiscal_year {
        query = query.filter(report::Column::FiscalYear.eq(year));
    }
    if let Some(quarter) = filter.quarter {
        query = query.filter(report::Column::Quarter.eq(quarter));
    }
    if let Some(status) = filter.status {
        query = query.filter(report::Column::Status.eq(status.as_str()));
    }
    if let Some(after) = after {
        query = query.filter(report::Column::Id.gt(after));
    }
    let rows = query.order_by_asc(report::Column::Id).limit(limit).all(tx.raw()).await.store()?;
    rows.into_iter().map(Report::try_from).collect()
}

/// Freezes a draft's figures and marks it submitted; only a draft matches.
///
/// # Errors
/// [`StoreError::Conflict`] on `reports.status` when it is no longer a draft.
pub async fn submit(tx: &TenantTx, id: Uuid, figures: &str, content_hash: &str, by: UserId) -> Result<(), StoreError> {
    let now = crate::db::now();
    let result = report::Entity::update_many()
        .col_expr(report::Column::Status, Expr::value(ReportStatus::Submitted.as_str()))
        .col_expr(report::Column::Figures, Expr::value(figures))
        .col_expr(report::Column::ContentHash, Expr::value(content_hash))
        .col_expr(report::Column::SubmittedBy, Expr::value(by.as_uuid()))
        .col_expr(report::Column::SubmittedAt, Expr::value(now))
        .col_expr(report::Column::Version, Expr::col(report::Column::Version).add(1))
        .col_expr(report::Column::UpdatedAt, Expr::value(now))
        .filter(report::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(report::Column::Id.eq(id))
        .filter(report::Column::Status.eq(ReportStatus::Draft.as_str()))
        .exec(tx.raw())
        .await
        .store()?;
    if result.rows_affected == 1 { Ok(()) } else { Err(StoreError::Conflict { constraint: "reports.status" }) }
}

/// Records the ministry's review of a submitted report (any agency's: the transaction is widened);
/// only a submitted report matches, and the figures are not touched.
///
/// # Errors
/// [`StoreError::Conflict`] on `reports.status` when it is no longer submitted.
pub async fn review(
    tx: &TenantTx,
    id: Uuid,
    to: ReportStatus,
    reason: Option<&str>,
    by: UserId,
) -> Result<(), StoreError> {
    let now = crate::db::now();
    let result = report::Entity::update_many()
        .col_expr(report::Column::Status, Expr::value(to.as_str()))
        .col_expr(report::Column::ReviewedBy, Expr::value(by.as_uuid()))
        .col_expr(report::Column::ReviewedAt, Expr::value(now))
        .col_expr(report::Column::ReturnReason, Expr::value(reason.map(str::to_owned)))
        .col_expr(report::Column::Version, Expr::col(report::Column::Version).add(1))
        .col_expr(report::Column::UpdatedAt, Expr::value(now))
        .filter(report::Column::Id.eq(id))
        .filter(report::Column::Status.eq(ReportStatus::Submitted.as_str()))
        .exec(tx.raw())
        .await
        .store()?;
    if result.rows_affected == 1 { Ok(()) } else { Err(StoreError::Conflict { constraint: "reports.status" }) }
}
