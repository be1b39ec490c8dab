//! VQRP+ applications and payments, and the program's rule versions. The rules themselves are
//! `domain::vqrp`; this stores what they decided. Free text (notes, the reasons for an extension
//! and for a decision) is sealed; an application is found only through a case the caller may see.

use chrono::{DateTime, NaiveDate, Utc};
use domain::UserId;
use domain::authz::CaseScope;
use domain::reporting::ontario_date;
use domain::vqrp::{ApplicationStatus, CategoryRule, Eligibility, Payee, ReportedTo, RuleVersion, TimeLimit};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, Set,
};
use uuid::Uuid;

use super::facts::{self, VqrpMilestone};
use super::{DbResultExt, StoreError};
use crate::TenantTx;
use crate::crypto::TenantCipher;
use crate::entities::{case, vqrp_application, vqrp_payment, vqrp_rule_version};

const NOTES: &str = "vqrp_applications.notes";
const EXTENSION: &str = "vqrp_applications.extension_reason";
const DECISION: &str = "vqrp_applications.decision_reason";

/// A category as a version stores it.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredCategory {
    code: String,
    cap_cents: i64,
    time_limit: TimeLimit,
    decision_business_days: u32,
}

/// Every version of the program's rules, oldest first.
///
/// # Errors
/// [`StoreError`] on database failure or unreadable rows.
pub async fn rule_versions(conn: &impl ConnectionTrait) -> Result<Vec<RuleVersion>, StoreError> {
    let rows =
        vqrp_rule_version::Entity::find().order_by_asc(vqrp_rule_version::Column::Version).all(conn).await.store()?;
    rows.into_iter()
        .map(|row| {
            let stored: Vec<StoredCategory> = super::decode_json("vqrp_rule_versions.categories", &row.categories)?;
            let categories = stored
                .into_iter()
                .map(|c| CategoryRule {
                    code: c.code,
                    cap_cents: c.cap_cents,
                    time_limit: c.time_limit,
                    decision_business_days: c.decision_business_days,
                })
                .collect();
            Ok(RuleVersion { version: row.version, effective_from: row.effective_from, categories })
        })
        .collect()
}

/// Adds a version of the rules.
///
/// # Errors
/// [`StoreError::Conflict`] when the version number is taken.
pub async fn add_rule_version(conn: &impl ConnectionTrait, version: &RuleVersion) -> Result<(), StoreError> {
    let stored: Vec<StoredCategory> = version
        .categories
        .iter()
        .map(|c| StoredCategory {
            code: c.code.clone(),
            cap_cents: c.cap_cents,
            time_limit: c.time_limit,
            decision_business_days: c.decision_business_days,
        })
        .collect();
    vqrp_rule_version::ActiveModel {
        id: Set(Uuid::now_v7()),
        version: Set(version.version),
        effective_from: Set(version.effective_from),
        categories: Set(super::encode_json("vqrp_rule_versions.categories", &stored)?),
        created_at: Set(crate::db::now()),
    }
    .insert(conn)
    .await
    .store()?;
    Ok(())
}

/// Seeds `seed` when no version exists yet (a fresh database). Safe when replicas start together:
/// the loser of the race on the version number finds it there.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn ensure_rules(conn: &impl ConnectionTrait, seed: &RuleVersion) -> Result<(), StoreError> {
    if vqrp_rule_version::Entity::find().count(conn).await.store()? > 0 {
        return Ok(());
    }
    match add_rule_version(conn, seed).await {
        Err(StoreError::Conflict { .. }) | Ok(()) => Ok(()),
        Err(e) => Err(e),
    }
}

/// An application as the service sees it.
#[derive(Clone, Debug)]
pub struct Application {
    /// Id.
    pub id: Uuid,
    /// The case.
    pub case_id: Uuid,
    /// Where it stands.
    pub status: ApplicationStatus,
    /// The category's code.
    pub expense_category: String,
    /// When the crime happened.
    pub crime_date: NaiveDate,
    /// The checklist.
    pub eligibility: Eligibility,
    /// Asked for.
    pub requested_cents: i64,
    /// Approved, once decided so.
    pub approved_cents: Option<i64>,
    /// Paid so far.
    pub paid_cents: i64,
    /// The rule version it was judged by.
    pub rule_version: i32,
    /// The category's cap in that version.
    pub cap_cents: i64,
    /// The last day it was on time.
    pub last_day: NaiveDate,
    /// Made after the time limit, with a reason.
    pub extended: bool,
    /// Business days the decision may take.
    pub decision_business_days: i32,
    /// Why it came late.
    pub extension_reason: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// Ontario's date it was made.
    pub applied_on: NaiveDate,
    /// When submitted.
    pub submitted_at: Option<DateTime<Utc>>,
    /// When the decision is due.
    pub decision_due: Option<NaiveDate>,
    /// When decided.
    pub decided_at: Option<DateTime<Utc>>,
    /// By whom.
    pub decided_by: Option<UserId>,
    /// Why.
    pub decision_reason: Option<String>,
    /// Who made it.
    pub created_by: UserId,
    /// Version for `ETag`.
    pub version: i32,
    /// When made.
    pub created_at: DateTime<Utc>,
}

fn read(cipher: &TenantCipher, m: vqrp_application::Model) -> Result<Application, StoreError> {
    Ok(Application {
        id: m.id,
        case_id: m.case_id,
        status: super::decode("vqrp_applications.status", &m.status, ApplicationStatus::parse)?,
        expense_category: m.expense_category,
        crime_date: m.crime_date,
        eligibility: Eligibility {
            reported_to: super::decode("vqrp_applications.reported_to", &m.reported_to, ReportedTo::parse)?,
            crime_in_ontario: m.crime_in_ontario,
            no_other_source_of_funds: m.no_other_source_of_funds,
            applicant_eligible: m.applicant_eligible,
        },
        requested_cents: m.requested_cents,
        approved_cents: m.approved_cents,
        paid_cents: m.paid_cents,
        rule_version: m.rule_version,
        cap_cents: m.cap_cents,
        last_day: m.last_day,
        extended: m.extended,
        decision_business_days: m.decision_business_days,
        extension_reason: cipher.open_opt(EXTENSION, m.id, m.extension_reason_sealed.as_deref())?,
        notes: cipher.open_opt(NOTES, m.id, m.notes_sealed.as_deref())?,
        applied_on: m.applied_on,
        submitted_at: m.submitted_at,
        decision_due: m.decision_due,
        decided_at: m.decided_at,
        decided_by: m.decided_by.map(UserId::from_uuid),
        decision_reason: cipher.open_opt(DECISION, m.id, m.decision_reason_sealed.as_deref())?,
        created_by: UserId::from_uuid(m.created_by),
        version: m.version,
        created_at: m.created_at,
    })
}

/// An application about to be made, already judged by the rules.
#[derive(Clone, Debug)]
pub struct NewApplication {
    /// The category's code.
    pub expense_category: String,
    /// When the crime happened.
    pub crime_date: NaiveDate,
    /// The checklist.
    pub eligibility: Eligibility,
    /// Asked for.
    pub requested_cents: i64,
    /// What the rules decided of it.
    pub judged: domain::vqrp::Judged,
    /// Why it comes late.
    pub extension_reason: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// Ontario's date it is made.
    pub applied_on: NaiveDate,
}

/// Records a draft application on `case_id`.
///
/// # Errors
/// [`StoreError`] on database or encryption failure.
pub async fn insert(
    tx: &TenantTx,
    cipher: &TenantCipher,
    case_id: Uuid,
    new: NewApplication,
    by: UserId,
) -> Result<Application, StoreError> {
    let id = Uuid::now_v7();
    let now = crate::db::now();
    let decision_days = i32::try_from(new.judged.decision_business_days).unwrap_or(i32::MAX);
    let row = vqrp_application::ActiveModel {
        tenant_id: Set(tx.tenant_id().as_uuid()),
        id: Set(id),
        case_id: Set(case_id),
        status: Set(ApplicationStatus::Draft.as_str().to_owned()),
        expense_category: Set(new.expense_category),
        crime_date: Set(new.crime_date),
        reported_to: Set(new.eligibility.reported_to.as_str().to_owned()),
        crime_in_ontario: Set(new.eligibility.crime_in_ontario),
        no_other_source_of_funds: Set(new.eligibility.no_other_source_of_funds),
        applicant_eligible: Set(new.eligibility.applicant_eligible),
        requested_cents: Set(new.requested_cents),
        approved_cents: Set(None),
        paid_cents: Set(0),
        rule_version: Set(new.judged.rule_version),
        cap_cents: Set(new.judged.cap_cents),
        last_day: Set(new.judged.last_day),
        extended: Set(new.judged.extended),
        decision_business_days: Set(decision_days),
        extension_reason_sealed: Set(cipher.seal_opt(EXTENSION, id, new.extension_reason.as_deref())?),
        notes_sealed: Set(cipher.seal_opt(NOTES, id, new.notes.as_deref())?),
        applied_on: Set(new.applied_on),
        submitted_at: Set(None),
        decision_due: Set(None),
        decided_at: Set(None),
        decided_by: Set(None),
        decision_reason_sealed: Set(None),
        created_by: Set(by.as_uuid()),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let model = row.insert(tx.raw()).await.store()?;
    read(cipher, model)
}

/// The ids of the cases visible in `scope`, as a subquery.
fn visible_cases(tx: &TenantTx, scope: CaseScope) -> sea_orm::sea_query::SelectStatement {
    case::Entity::find()
        .select_only()
        .column(case::Column::Id)
        .filter(case::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(super::cases::visible(scope))
        .into_query()
}

/// One application, if its case is visible in `scope`; missing, another tenant's and hidden look
/// the same.
///
/// # Errors
/// [`StoreError::NotFound`]; database or decryption failures.
pub async fn get(tx: &TenantTx, cipher: &TenantCipher, id: Uuid, scope: CaseScope) -> Result<Application, StoreError> {
    let row = vqrp_application::Entity::find()
        .filter(vqrp_application::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(vqrp_application::Column::Id.eq(id))
        .filter(vqrp_application::Column::CaseId.in_subquery(visible_cases(tx, scope)))
        .one(tx.raw())
        .await
        .store()?
        .ok_or(StoreError::NotFound)?;
    read(cipher, row)
}

/// Filters of the application list.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only this status.
    pub status: Option<ApplicationStatus>,
    /// Only those whose decision is due before this day.
    pub due_before: Option<NaiveDate>,
    /// Only this case's.
    pub case_id: Option<Uuid>,
}

/// A page of applications on visible cases, soonest decision first, then by id.
///
/// # Errors
/// [`StoreError`] on database or decryption failure.
pub async fn list(
    tx: &TenantTx,
    cipher: &TenantCipher,
    filter: &Filter,
    scope: CaseScope,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Application>, StoreError> {
    let mut query = vqrp_application::Entity::find()
        .filter(vqrp_application::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(vqrp_application::Column::CaseId.in_subquery(visible_cases(tx, scope)))
        .order_by_asc(vqrp_application::Column::Id)
        .limit(limit);
    if let Some(status) = filter.status {
        query = query.filter(vqrp_application::Column::Status.eq(status.as_str()));
    }
    if let Some(due) = filter.due_before {
        query = query.filter(vqrp_application::Column::DecisionDue.lt(due));
    }
    if let Some(case_id) = filter.case_id {
        query = query.filter(vqrp_application::Column::CaseId.eq(case_id));
    }
    if let Some(after) = after {
        query = query.filter(vqrp_application::Column::Id.gt(after));
    }
    query.all(tx.raw()).await.store()?.into_iter().map(|m| read(cipher, m)).collect()
}

/// A change of status, applied only if the application is still `from` (decided from that).
#[derive(Clone, Debug)]
pub struct Transition {
    /// The status it was decided from.
    pub from: ApplicationStatus,
    /// The status it goes to.
    pub to: ApplicationStatus,
    /// Set when submitted.
    pub submitted: Option<(DateTime<Utc>, NaiveDate)>,
    /// Set when decided: when, by whom, the amount approved and why.
    pub decided: Option<(DateTime<Utc>, UserId, Option<i64>, String)>,
    /// The new total paid.
    pub paid_cents: Option<i64>,
}

/// Applies `change` to the application, conditional on the version and status it was decided
/// from: the application as it now is, or [`StoreError::VersionMismatch`] when it moved on
/// meanwhile (a concurrent decision, or a concurrent payment, whose total this one would
/// otherwise overwrite).
///
/// # Errors
/// [`StoreError`].
pub async fn transition(
    tx: &TenantTx,
    cipher: &TenantCipher,
    id: Uuid,
    expected_version: i32,
    change: Transition,
) -> Result<Application, StoreError> {
    let mut update = vqrp_application::Entity::update_many()
        .col_expr(vqrp_application::Column::Status, Expr::value(change.to.as_str()))
        .col_expr(vqrp_application::Column::Version, Expr::col(vqrp_application::Column::Version).add(1))
        .col_expr(vqrp_application::Column::UpdatedAt, Expr::value(crate::db::now()))
        .filter(vqrp_application::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(vqrp_application::Column::Id.eq(id))
        .filter(vqrp_application::Column::Version.eq(expected_version))
        .filter(vqrp_application::Column::Status.eq(change.from.as_str()));
    if let Some((at, due)) = change.submitted {
        update = update
            .col_expr(vqrp_application::Column::SubmittedAt, Expr::value(Some(at)))
            .col_expr(vqrp_application::Column::DecisionDue, Expr::value(Some(due)));
    }
    if let Some((at, by, approved, reason)) = &change.decided {
        update = update
            .col_expr(vqrp_application::Column::DecidedAt, Expr::value(Some(*at)))
            .col_expr(vqrp_application::Column::DecidedBy, Expr::value(Some(by.as_uuid())))
            .col_expr(vqrp_application::Column::ApprovedCents, Expr::value(*approved))
            .col_expr(
                vqrp_application::Column::DecisionReasonSealed,
                Expr::value(Some(cipher.seal(DECISION, id, reason)?)),
            );
    }
    if let Some(paid) = change.paid_cents {
        update = update.col_expr(vqrp_application::Column::PaidCents, Expr::value(paid));
    }
    let Some(model) = update.exec_with_returning(tx.raw()).await.store()?.into_iter().next() else {
        return Err(StoreError::VersionMismatch);
    };
    let changed = read(cipher, model)?;
    record_fact(tx, cipher, &changed, &change).await?;
    Ok(changed)
}

/// The ministry's fact of a submission or a decision, written with it (`store::facts`).
async fn record_fact(
    tx: &TenantTx,
    cipher: &TenantCipher,
    application: &Application,
    change: &Transition,
) -> Result<(), StoreError> {
    let milestone = if let Some((at, _)) = change.submitted {
        VqrpMilestone::Submitted(ontario_date(at))
    } else if let Some((at, _, approved, _)) = &change.decided {
        let decided_on = ontario_date(*at);
        // Counted as the program counts its window: business days after the submission's day.
        let submitted_on = application.submitted_at.map_or(decided_on, ontario_date);
        let days = domain::business_days::business_days_between(submitted_on, decided_on);
        VqrpMilestone::Decided(decided_on, approved.unwrap_or(0), days)
    } else {
        return Ok(());
    };
    facts::vqrp_milestone(tx, cipher, application.case_id, &application.expense_category, milestone).await
}

/// A payment recorded.
#[derive(Clone, Debug)]
pub struct Payment {
    /// Id.
    pub id: Uuid,
    /// The application.
    pub application_id: Uuid,
    /// Paid.
    pub paid_cents: i64,
    /// To whom.
    pub payee: Payee,
    /// When.
    pub paid_on: NaiveDate,
    /// Who recorded it.
    pub recorded_by: UserId,
    /// When recorded.
    pub created_at: DateTime<Utc>,
}

/// Records a payment on an application, with its fact for the ministry's figures (dated the day
/// it was paid).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn insert_payment(
    tx: &TenantTx,
    cipher: &TenantCipher,
    application: &Application,
    paid_cents: i64,
    payee: Payee,
    paid_on: NaiveDate,
    by: UserId,
) -> Result<Payment, StoreError> {
    let model = vqrp_payment::ActiveModel {
        tenant_id: Set(tx.tenant_id().as_uuid()),
        id: Set(Uuid::now_v7()),
        application_id: Set(application.id),
        paid_cents: Set(paid_cents),
        payee: Set(payee.as_str().to_owned()),
        paid_on: Set(paid_on),
        recorded_by: Set(by.as_uuid()),
        created_at: Set(crate::db::now()),
    }
    .insert(tx.raw())
    .await
    .store()?;
    let milestone = VqrpMilestone::Paid(paid_on, paid_cents);
    facts::vqrp_milestone(tx, cipher, application.case_id, &application.expense_category, milestone).await?;
    Ok(Payment {
        id: model.id,
        application_id: model.application_id,
        paid_cents: model.paid_cents,
        payee: super::decode("vqrp_payments.payee", &model.payee, Payee::parse)?,
        paid_on: model.paid_on,
        recorded_by: UserId::from_uuid(model.recorded_by),
        created_at: model.created_at,
    })
}
