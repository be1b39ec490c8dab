//! Services delivered, risk assessments and children recorded on a case. Free text is sealed.

use chrono::{DateTime, Utc};
use domain::UserId;
use domain::case::{AmountCents, RiskLevel, RiskTool, ServiceType};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use super::{DbResultExt, StoreError};
use crate::TenantTx;
use crate::crypto::TenantCipher;
use crate::entities::{child, risk_assessment, service};

/// A service delivered.
#[derive(Clone, Debug)]
pub struct Service {
    /// Id.
    pub id: Uuid,
    /// The case.
    pub case_id: Uuid,
    /// What kind.
    pub service_type: ServiceType,
    /// When delivered.
    pub delivered_at: DateTime<Utc>,
    /// Minutes spent.
    pub minutes: Option<i32>,
    /// Money spent (VQRP+).
    pub amount_cents: Option<i64>,
    /// Notes.
    pub notes: Option<String>,
    /// Who recorded it.
    pub recorded_by: UserId,
    /// When recorded.
    pub created_at: DateTime<Utc>,
}

/// A service about to be recorded (already validated).
#[derive(Clone, Debug)]
pub struct NewService {
    /// What kind.
    pub service_type: ServiceType,
    /// When delivered.
    pub delivered_at: DateTime<Utc>,
    /// Minutes spent.
    pub minutes: Option<i32>,
    /// Money spent.
    pub amount_cents: Option<AmountCents>,
    /// Notes.
    pub notes: Option<String>,
}

fn open_service(cipher: &TenantCipher, m: service::Model) -> Result<Service, StoreError> {
    Ok(Service {
        notes: cipher.open_opt("services.notes", m.id, m.notes_sealed.as_deref())?,
        id: m.id,
        case_id: m.case_id,
        service_type: super::decode("services.service_type", &m.service_type, ServiceType::parse)?,
        delivered_at: m.delivered_at,
        minutes: m.minutes,
        amount_cents: m.amount_cents,
        recorded_by: UserId::from_uuid(m.recorded_by),
        created_at: m.created_at,
    })
}

/// Records a service and its de-identified fact.
///
/// # Errors
/// [`StoreError`] on database or encryption failure.
pub async fn insert_service(
    tx: &TenantTx,
    cipher: &TenantCipher,
    case_id: Uuid,
    new: NewService,
    by: UserId,
) -> Result<Service, StoreError> {
    let id = Uuid::now_v7();
    let model = service::ActiveModel {
        tenant_id: Set(tx.tenant_id().as_uuid()),
        id: Set(id),
        case_id: Set(case_id),
        service_type: Set(new.service_type.as_str().to_owned()),
        delivered_at: Set(new.delivered_at),
        minutes: Set(new.minutes),
        amount_cents: Set(new.amount_cents.map(AmountCents::get)),
        notes_sealed: Set(cipher.seal_opt("services.notes", id, new.notes.as_deref())?),
        recorded_by: Set(by.as_uuid()),
        created_at: Set(crate::db::now()),
    }
    .insert(tx.raw())
    .await
    .store()?;
    super::facts::service_delivered(
        tx,
        cipher,
        case_id,
        &model.service_type,
        model.delivered_at,
        model.minutes,
        model.amount_cents,
    )
    .await?;
    open_service(cipher, model)
}

/// A page of a case's services, oldest first.
///
/// # Errors
/// [`StoreError`] on database or decryption failure.
pub async fn list_services(
    tx: &TenantTx,
    cipher: &TenantCipher,
    case_id: Uuid,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Service>, StoreError> {
    let mut query = service::Entity::find()
        .filter(service::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(service::Column::CaseId.eq(case_id))
        .order_by_asc(service::Column::Id)
        .limit(limit);
    if let Some(after) = after {
        query = query.filter(service::Column::Id.gt(after));
    }
    query.all(tx.raw()).await.store()?.into_iter().map(|m| open_service(cipher, m)).collect()
}

/// A risk assessment.
#[derive(Clone, Debug)]
pub struct RiskAssessment {
    /// Id.
    pub id: Uuid,
    /// The case.
    pub case_id: Uuid,
    /// Instrument.
    pub tool: RiskTool,
    /// Score, if the instrument gives one.
    pub score: Option<i32>,
    /// Level.
    pub level: RiskLevel,
    /// Notes.
    pub notes: Option<String>,
    /// Who assessed.
    pub assessor_id: UserId,
    /// When.
    pub created_at: DateTime<Utc>,
}

fn open_risk(cipher: &TenantCipher, m: risk_assessment::Model) -> Result<RiskAssessment, StoreError> {
    Ok(RiskAssessment {
        notes: cipher.open_opt("risk_assessments.notes", m.id, m.notes_sealed.as_deref())?,
        id: m.id,
        case_id: m.case_id,
        tool: super::decode("risk_assessments.tool", &m.tool, RiskTool::parse)?,
        score: m.score,
        level: super::decode("risk_assessments.level", &m.level, RiskLevel::parse)?,
        assessor_id: UserId::from_uuid(m.assessor_id),
        created_at: m.created_at,
    })
}

/// Records an assessment and makes its level the case's risk level.
///
/// # Errors
/// [`StoreError`] on database or encryption failure.
#[expect(clippy::too_many_arguments, reason = "one value per column of the assessment")]
pub async fn insert_risk_assessment(
    tx: &TenantTx,
    cipher: &TenantCipher,
    case_id: Uuid,
    tool: RiskTool,
    score: Option<i32>,
    level: RiskLevel,
    notes: Option<&str>,
    by: UserId,
) -> Result<RiskAssessment, StoreError> {
    let id = Uuid::now_v7();
    let model = risk_assessment::ActiveModel {
        tenant_id: Set(tx.tenant_id().as_uuid()),
        id: Set(id),
        case_id: Set(case_id),
        tool: Set(tool.as_str().to_owned()),
        score: Set(score),
        level: Set(level.as_str().to_owned()),
        notes_sealed: Set(cipher.seal_opt("risk_assessments.notes", id, notes)?),
        assessor_id: Set(by.as_uuid()),
        created_at: Set(crate::db::now()),
    }
    .insert(tx.raw())
    .await
    .store()?;
    super::cases::set_risk_level(tx, case_id, level).await?;
    open_risk(cipher, model)
}

/// A page of a case's assessments, oldest first.
///
/// # Errors
/// [`StoreError`] on database or decryption failure.
pub async fn list_risk_assessments(
    tx: &TenantTx,
    cipher: &TenantCipher,
    case_id: Uuid,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<RiskAssessment>, StoreError> {
    let mut query = risk_assessment::Entity::find()
        .filter(risk_assessment::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(risk_assessment::Column::CaseId.eq(case_id))
        .order_by_asc(risk_assessment::Column::Id)
        .limit(limit);
    if let Some(after) = after {
        query = query.filter(risk_assessment::Column::Id.gt(after));
    }
    query.all(tx.raw()).await.store()?.into_iter().map(|m| open_risk(cipher, m)).collect()
}

/// A child recorded on a case.
#[derive(Clone)]
pub struct Child {
    /// Id.
    pub id: Uuid,
    /// The case.
    pub case_id: Uuid,
    /// Given name.
    pub given_name: String,
    /// Year of birth.
    pub year_of_birth: Option<i32>,
    /// Notes.
    pub notes: Option<String>,
    /// When recorded.
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for Child {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Child").field("id", &self.id).finish_non_exhaustive()
    }
}

fn open_child(cipher: &TenantCipher, m: child::Model) -> Result<Child, StoreError> {
    Ok(Child {
        given_name: cipher.open("children.given_name", m.id, &m.given_name_sealed)?,
        notes: cipher.open_opt("children.notes", m.id, m.notes_sealed.as_deref())?,
        id: m.id,
        case_id: m.case_id,
        year_of_birth: m.year_of_birth,
        created_at: m.created_at,
    })
}

/// Records a child.
///
/// # Errors
/// [`StoreError`] on database or encryption failure.
pub async fn insert_child(
    tx: &TenantTx,
    cipher: &TenantCipher,
    case_id: Uuid,
    given_name: &str,
    year_of_birth: Option<i32>,
    notes: Option<&str>,
) -> Result<Child, StoreError> {
    let id = Uuid::now_v7();
    let model = child::ActiveModel {
        tenant_id: Set(tx.tenant_id().as_uuid()),
        id: Set(id),
        case_id: Set(case_id),
        given_name_sealed: Set(cipher.seal("children.given_name", id, given_name)?),
        year_of_birth: Set(year_of_birth),
        notes_sealed: Set(cipher.seal_opt("children.notes", id, notes)?),
        created_at: Set(crate::db::now()),
    }
    .insert(tx.raw())
    .await
    .store()?;
    open_child(cipher, model)
}

/// A page of a case's children.
///
/// # Errors
/// [`StoreError`] on database or decryption failure.
pub async fn list_children(
    tx: &TenantTx,
    cipher: &TenantCipher,
    case_id: Uuid,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Child>, StoreError> {
    let mut query = child::Entity::find()
        .filter(child::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(child::Column::CaseId.eq(case_id))
        .order_by_asc(child::Column::Id)
        .limit(limit);
    if let Some(after) = after {
        query = query.filter(child::Column::Id.gt(after));
    }
    query.all(tx.raw()).await.store()?.into_iter().map(|m| open_child(cipher, m)).collect()
}
