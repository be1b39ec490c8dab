//! Cases, their victimization types (one row each, so the type filter is an index lookup) and
//! their status history (reasons encrypted: they may name people).

use chrono::{DateTime, Utc};
use domain::authz::CaseScope;
use domain::case::{CaseStatus, ReferralSource, RiskLevel, VictimizationType};
use domain::{PoliceDivisionId, UserId};
use sea_orm::QueryTrait as _;
use sea_orm::sea_query::{Expr, ExprTrait as _, Query};
use sea_orm::{ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use super::clients::CaseClient;
use super::programs::Program;
use super::reference::PoliceDivision;
use super::{DbResultExt, StoreError};
use crate::TenantTx;
use crate::crypto::TenantCipher;
use crate::entities::{case, case_status_change, case_victimization_type};

/// A case as the service sees it.
#[derive(Clone, Debug)]
pub struct Case {
    /// Id.
    pub id: Uuid,
    /// The client.
    pub client_id: Uuid,
    /// Open or closed.
    pub status: CaseStatus,
    /// What happened.
    pub victimization_types: Vec<VictimizationType>,
    /// Who referred.
    pub referral_source: ReferralSource,
    /// Program.
    pub program_id: Option<Uuid>,
    /// Police division.
    pub division_id: Option<PoliceDivisionId>,
    /// Assigned worker.
    pub assigned_to: Option<UserId>,
    /// Visible only to the assigned worker and supervisors.
    pub restricted: bool,
    /// Latest assessed risk.
    pub risk_level: Option<RiskLevel>,
    /// When opened.
    pub opened_at: DateTime<Utc>,
    /// When closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// Optimistic-concurrency version.
    pub version: i32,
}

fn types_from_storage(stored: &str) -> Result<Vec<VictimizationType>, StoreError> {
    stored.split(',').map(|t| super::decode("cases.victimization_types", t, VictimizationType::parse)).collect()
}

fn types_to_storage(types: &[VictimizationType]) -> String {
    types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(",")
}

impl TryFrom<case::Model> for Case {
    type Error = StoreError;

    fn try_from(m: case::Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: m.id,
            client_id: m.client_id,
            status: super::decode("cases.status", &m.status, CaseStatus::parse)?,
            victimization_types: types_from_storage(&m.victimization_types)?,
            referral_source: super::decode("cases.referral_source", &m.referral_source, ReferralSource::parse)?,
            program_id: m.program_id,
            division_id: m.division_id.map(PoliceDivisionId::from_uuid),
            assigned_to: m.assigned_to.map(UserId::from_uuid),
            restricted: m.restricted,
            risk_level: super::decode_opt("cases.risk_level", m.risk_level.as_deref(), RiskLevel::parse)?,
            opened_at: m.opened_at,
            closed_at: m.closed_at,
            version: m.version,
        })
    }
}

/// A case about to be opened. Its references are the rows they name, already read (which checks
/// them and gives its reporting fact their codes without reading them again).
#[derive(Clone, Debug)]
pub struct NewCase {
    /// The client.
    pub client: CaseClient,
    /// What happened (non-empty).
    pub victimization_types: Vec<VictimizationType>,
    /// Who referred.
    pub referral_source: ReferralSource,
    /// Program.
    pub program: Option<Program>,
    /// Police division.
    pub division: Option<PoliceDivision>,
    /// Assigned worker.
    pub assigned_to: Option<UserId>,
    /// Restricted.
    pub restricted: bool,
}

/// The searchable copy of a case's types (`case_victimization_types`), replacing the old one.
async fn replace_types(tx: &TenantTx, case_id: Uuid, types: &[VictimizationType]) -> Result<(), StoreError> {
    case_victimization_type::Entity::delete_many()
        .filter(case_victimization_type::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(case_victimization_type::Column::CaseId.eq(case_id))
        .exec(tx.raw())
        .await
        .store()?;
    insert_types(tx, case_id, types);
    Ok(())
}

/// The searchable copy of a new case's types (nothing to replace yet), appended.
fn insert_types(tx: &TenantTx, case_id: Uuid, types: &[VictimizationType]) {
    if types.is_empty() {
        return;
    }
    let rows = types.iter().map(|t| case_victimization_type::ActiveModel {
        tenant_id: Set(tx.tenant_id().as_uuid()),
        case_id: Set(case_id),
        victimization_type: Set(t.as_str().to_owned()),
    });
    tx.append_rows(rows.collect());
}

/// Opens a case and records its de-identified fact. All three (the case, its types, the fact) are
/// appended (`TenantTx::append`): written with the transaction's next statement or its commit,
/// which answers [`StoreError::Conflict`] on `reference` if a referenced row has gone meanwhile.
///
/// # Errors
/// [`StoreError::Corrupt`] only if the case it made does not read back (a bug, never a guess).
pub fn queue_insert(tx: &TenantTx, cipher: &TenantCipher, new: NewCase) -> Result<Case, StoreError> {
    let id = Uuid::now_v7();
    let now = crate::db::now();
    let model = case::Model {
        tenant_id: tx.tenant_id().as_uuid(),
        id,
        client_id: new.client.id,
        status: CaseStatus::Open.as_str().to_owned(),
        victimization_types: types_to_storage(&new.victimization_types),
        referral_source: new.referral_source.as_str().to_owned(),
        program_id: new.program.as_ref().map(|p| p.id),
        division_id: new.division.as_ref().map(|d| d.id.as_uuid()),
        assigned_to: new.assigned_to.map(|u| u.as_uuid()),
        restricted: new.restricted,
        risk_level: None,
        opened_at: now,
        closed_at: None,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    tx.append(case::Entity::insert(case::ActiveModel::from(model.clone())).into_query());
    insert_types(tx, id, &new.victimization_types);
    let codes = super::facts::Codes { program: new.program.map(|p| p.code), division: new.division.map(|d| d.code) };
    super::facts::case_opened(tx, cipher, &model, &new.client, codes);
    Case::try_from(model)
}

/// The SQL form of `CaseScope::sees`: restricted cases only for the assigned worker (or everything).
pub(super) fn visible(scope: CaseScope) -> Condition {
    match scope {
        CaseScope::All => Condition::all(),
        CaseScope::UnrestrictedOrAssignedTo(me) => {
            Condition::any().add(case::Column::Restricted.eq(false)).add(case::Column::AssignedTo.eq(me.as_uuid()))
        }
    }
}

/// One case, if visible in `scope`. Another tenant's, missing and hidden look the same.
///
/// # Errors
/// [`StoreError::NotFound`].
pub async fn get(tx: &TenantTx, id: Uuid, scope: CaseScope) -> Result<Case, StoreError> {
    case::Entity::find()
        .filter(case::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(case::Column::Id.eq(id))
        .filter(visible(scope))
        .one(tx.raw())
        .await
        .store()?
        .map(Case::try_from)
        .ok_or(StoreError::NotFound)?
}

/// Filters of the case list.
#[derive(Clone, Debug, Default)]
pub struct CaseFilter {
    /// Only this status.
    pub status: Option<CaseStatus>,
    /// Only cases assigned to this worker.
    pub assigned_to: Option<UserId>,
    /// Only cases with this victimization type.
    pub victimization_type: Option<VictimizationType>,
    /// Only cases at this division.
    pub division_id: Option<PoliceDivisionId>,
}

/// A page of visible cases in id order.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn list(
    tx: &TenantTx,
    filter: &CaseFilter,
    scope: CaseScope,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Case>, StoreError> {
    let tenant = tx.tenant_id().as_uuid();
    let mut query = case::Entity::find()
        .filter(case::Column::TenantId.eq(tenant))
        .filter(visible(scope))
        .order_by_asc(case::Column::Id)
        .limit(limit);
    if let Some(after) = after {
        query = query.filter(case::Column::Id.gt(after));
    }
    if let Some(status) = filter.status {
        query = query.filter(case::Column::Status.eq(status.as_str()));
    }
    if let Some(worker) = filter.assigned_to {
        query = query.filter(case::Column::AssignedTo.eq(worker.as_uuid()));
    }
    if let Some(division) = filter.division_id {
        query = query.filter(case::Column::DivisionId.eq(division.as_uuid()));
    }
    if let Some(kind) = filter.victimization_type {
        let with_type = Query::select()
            .column(case_victimization_type::Column::CaseId)
            .from(case_victimization_type::Entity)
            .and_where(Expr::col(case_victimization_type::Column::TenantId).eq(tenant))
            .and_where(Expr::col(case_victimization_type::Column::VictimizationType).eq(kind.as_str()))
            .to_owned();
        query = query.filter(case::Column::Id.in_subquery(with_type));
    }
    query.all(tx.raw()).await.store()?.into_iter().map(Case::try_from).collect()
}

/// What a PATCH may change; `None` leaves a field alone.
#[derive(Clone, Debug, Default)]
pub struct CaseChanges {
    /// New assignment (`Some(None)` unassigns).
    pub assigned_to: Option<Option<UserId>>,
    /// New victimization types.
    pub victimization_types: Option<Vec<VictimizationType>>,
    /// Restrict or unrestrict.
    pub restricted: Option<bool>,
    /// New risk level (`Some(None)` clears).
    pub risk_level: Option<Option<RiskLevel>>,
}

/// Applies `changes` if the version is still `expected_version` (one conditional UPDATE).
///
/// # Errors
/// [`StoreError::NotFound`], [`StoreError::VersionMismatch`].
pub async fn update(tx: &TenantTx, id: Uuid, expected_version: i32, changes: CaseChanges) -> Result<Case, StoreError> {
    let mut update = case::Entity::update_many()
        .col_expr(case::Column::Version, Expr::col(case::Column::Version).add(1))
        .col_expr(case::Column::UpdatedAt, Expr::value(crate::db::now()))
        .filter(case::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(case::Column::Id.eq(id))
        .filter(case::Column::Version.eq(expected_version));
    if let Some(worker) = changes.assigned_to {
        update = update.col_expr(case::Column::AssignedTo, Expr::value(worker.map(|w| w.as_uuid())));
    }
    if let Some(types) = &changes.victimization_types {
        update = update.col_expr(case::Column::VictimizationTypes, Expr::value(types_to_storage(types)));
    }
    if let Some(restricted) = changes.restricted {
        update = update.col_expr(case::Column::Restricted, Expr::value(restricted));
    }
    if let Some(level) = changes.risk_level {
        update = update.col_expr(case::Column::RiskLevel, Expr::value(level.map(|l| l.as_str().to_owned())));
    }
    let Some(updated) = update.exec_with_returning(tx.raw()).await.store()?.into_iter().next() else {
        get(tx, id, CaseScope::All).await?;
        return Err(StoreError::VersionMismatch);
    };
    if let Some(types) = &changes.victimization_types {
        replace_types(tx, id, types).await?;
    }
    Case::try_from(updated)
}

/// Applies a status change the domain decided (`domain::case::close` or `reopen`) to `current`,
/// recording who and why (the reason sealed) and, on closing, the de-identified fact. Conditional
/// on the status still being the one it was decided from, so two supervisors closing at once
/// cannot both succeed; the row as changed comes back from the update (`RETURNING`).
///
/// # Errors
/// [`StoreError::Conflict`] on `cases.status` when the status changed meanwhile.
pub async fn change_status(
    tx: &TenantTx,
    cipher: &TenantCipher,
    current: &Case,
    to: CaseStatus,
    reason: &str,
    by: UserId,
) -> Result<Case, StoreError> {
    let (id, from) = (current.id, current.status);
    let now = crate::db::now();
    let closed_at = if to == CaseStatus::Closed { Some(now) } else { None };
    let changed = case::Entity::update_many()
        .col_expr(case::Column::Status, Expr::value(to.as_str()))
        .col_expr(case::Column::ClosedAt, Expr::value(closed_at))
        .col_expr(case::Column::Version, Expr::col(case::Column::Version).add(1))
        .col_expr(case::Column::UpdatedAt, Expr::value(now))
        .filter(case::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(case::Column::Id.eq(id))
        .filter(case::Column::Status.eq(from.as_str()))
        .exec_with_returning(tx.raw())
        .await
        .store()?
        .into_iter()
        .next()
        .ok_or(StoreError::Conflict { constraint: "cases.status" })?;
    let change_id = Uuid::now_v7();
    case_status_change::ActiveModel {
        tenant_id: Set(tx.tenant_id().as_uuid()),
        id: Set(change_id),
        case_id: Set(id),
        status: Set(to.as_str().to_owned()),
        reason_sealed: Set(cipher.seal("case_status_changes.reason", change_id, reason)?),
        changed_by: Set(by.as_uuid()),
        created_at: Set(now),
    }
    .insert(tx.raw())
    .await
    .store()?;
    if to == CaseStatus::Closed {
        super::facts::case_milestone(tx, cipher, id, domain::reporting::FactKind::CaseClosed, now).await?;
    }
    Case::try_from(changed)
}

/// Sets the case's risk level from its newest assessment.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn set_risk_level(tx: &TenantTx, id: Uuid, level: RiskLevel) -> Result<(), StoreError> {
    case::Entity::update_many()
        .col_expr(case::Column::RiskLevel, Expr::value(level.as_str()))
        .col_expr(case::Column::Version, Expr::col(case::Column::Version).add(1))
        .col_expr(case::Column::UpdatedAt, Expr::value(crate::db::now()))
        .filter(case::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(case::Column::Id.eq(id))
        .exec(tx.raw())
        .await
        .store()?;
    Ok(())
}
