//! Consents recorded on a case, and the outbound referrals that depend on them.

use chrono::{DateTime, Utc};
use domain::UserId;
use domain::case::{ConsentRecord, ConsentScope};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use super::{DbResultExt, StoreError};
use crate::TenantTx;
use crate::crypto::TenantCipher;
use crate::entities::{consent, outbound_referral};

/// A consent decision.
#[derive(Clone, Debug)]
pub struct Consent {
    /// Id.
    pub id: Uuid,
    /// The case.
    pub case_id: Uuid,
    /// What it covers.
    pub scope: ConsentScope,
    /// Given or withdrawn.
    pub granted: bool,
    /// When it lapses.
    pub expires_at: Option<DateTime<Utc>>,
    /// Notes.
    pub notes: Option<String>,
    /// Who recorded it.
    pub recorded_by: UserId,
    /// When recorded.
    pub created_at: DateTime<Utc>,
}

impl Consent {
    /// The decision as the domain rule reads it.
    #[must_use]
    pub fn record(&self) -> ConsentRecord {
        ConsentRecord {
            scope: self.scope,
            granted: self.granted,
            recorded_at: self.created_at,
            expires_at: self.expires_at,
        }
    }
}

fn open_consent(cipher: &TenantCipher, m: consent::Model) -> Result<Consent, StoreError> {
    Ok(Consent {
        notes: cipher.open_opt("consents.notes", m.id, m.notes_sealed.as_deref())?,
        id: m.id,
        case_id: m.case_id,
        scope: super::decode("consents.scope", &m.scope, ConsentScope::parse)?,
        granted: m.granted,
        expires_at: m.expires_at,
        recorded_by: UserId::from_uuid(m.recorded_by),
        created_at: m.created_at,
    })
}

/// Records a consent decision.
///
/// # Errors
/// [`StoreError`] on database or encryption failure.
#[expect(clippy::too_many_arguments, reason = "one value per column of the consent")]
pub async fn insert(
    tx: &TenantTx,
    cipher: &TenantCipher,
    case_id: Uuid,
    scope: ConsentScope,
    granted: bool,
    expires_at: Option<DateTime<Utc>>,
    notes: Option<&str>,
    by: UserId,
) -> Result<Consent, StoreError> {
    let id = Uuid::now_v7();
    let model = consent::ActiveModel {
        tenant_id: Set(tx.tenant_id().as_uuid()),
        id: Set(id),
        case_id: Set(case_id),
        scope: Set(scope.as_str().to_owned()),
        granted: Set(granted),
        expires_at: Set(expires_at),
        notes_sealed: Set(cipher.seal_opt("consents.notes", id, notes)?),
        recorded_by: Set(by.as_uuid()),
        created_at: Set(crate::db::now()),
    }
    .insert(tx.raw())
    .await
    .store()?;
    open_consent(cipher, model)
}

/// Every consent decision of a case, newest first (a case has few).
///
/// # Errors
/// [`StoreError`] on database or decryption failure.
pub async fn list(tx: &TenantTx, cipher: &TenantCipher, case_id: Uuid) -> Result<Vec<Consent>, StoreError> {
    consent::Entity::find()
        .filter(consent::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(consent::Column::CaseId.eq(case_id))
        .order_by_desc(consent::Column::Id)
        .all(tx.raw())
        .await
        .store()?
        .into_iter()
        .map(|m| open_consent(cipher, m))
        .collect()
}

/// The decisions of a case for the consent rule, without decrypting notes.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn records(tx: &TenantTx, case_id: Uuid) -> Result<Vec<ConsentRecord>, StoreError> {
    let rows = consent::Entity::find()
        .filter(consent::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(consent::Column::CaseId.eq(case_id))
        .all(tx.raw())
        .await
        .store()?;
    rows.into_iter()
        .map(|m| {
            Ok(ConsentRecord {
                scope: super::decode("consents.scope", &m.scope, ConsentScope::parse)?,
                granted: m.granted,
                recorded_at: m.created_at,
                expires_at: m.expires_at,
            })
        })
        .collect()
}

/// A referral out to a community organisation.
#[derive(Clone, Debug)]
pub struct OutboundReferral {
    /// Id.
    pub id: Uuid,
    /// The case.
    pub case_id: Uuid,
    /// The organisation.
    pub organization_id: Uuid,
    /// The service asked for.
    pub service: String,
    /// Notes.
    pub notes: Option<String>,
    /// Who made it.
    pub created_by: UserId,
    /// When.
    pub created_at: DateTime<Utc>,
}

fn open_referral(cipher: &TenantCipher, m: outbound_referral::Model) -> Result<OutboundReferral, StoreError> {
    Ok(OutboundReferral {
        notes: cipher.open_opt("outbound_referrals.notes", m.id, m.notes_sealed.as_deref())?,
        id: m.id,
        case_id: m.case_id,
        organization_id: m.organization_id,
        service: m.service,
        created_by: UserId::from_uuid(m.created_by),
        created_at: m.created_at,
    })
}

/// Records a referral out (the caller has checked consent).
///
/// # Errors
/// [`StoreError`] on database or encryption failure.
pub async fn insert_referral(
    tx: &TenantTx,
    cipher: &TenantCipher,
    case_id: Uuid,
    organization_id: Uuid,
    service: &str,
    notes: Option<&str>,
    by: UserId,
) -> Result<OutboundReferral, StoreError> {
    let id = Uuid::now_v7();
    let model = outbound_referral::ActiveModel {
        tenant_id: Set(tx.tenant_id().as_uuid()),
        id: Set(id),
        case_id: Set(case_id),
        organization_id: Set(organization_id),
        service: Set(service.to_owned()),
        notes_sealed: Set(cipher.seal_opt("outbound_referrals.notes", id, notes)?),
        created_by: Set(by.as_uuid()),
        created_at: Set(crate::db::now()),
    }
    .insert(tx.raw())
    .await
    .store()?;
    open_referral(cipher, model)
}

/// A page of a case's referrals out.
///
/// # Errors
/// [`StoreError`] on database or decryption failure.
pub async fn list_referrals(
    tx: &TenantTx,
    cipher: &TenantCipher,
    case_id: Uuid,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<OutboundReferral>, StoreError> {
    let mut query = outbound_referral::Entity::find()
        .filter(outbound_referral::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(outbound_referral::Column::CaseId.eq(case_id))
        .order_by_asc(outbound_referral::Column::Id)
        .limit(limit);
    if let Some(after) = after {
        query = query.filter(outbound_referral::Column::Id.gt(after));
    }
    query.all(tx.raw()).await.store()?.into_iter().map(|m| open_referral(cipher, m)).collect()
}
