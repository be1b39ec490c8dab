//! Transfers between agencies: the sender's row (`transfers_out`) and the receiver's
//! (`transfers_in`), each in its own agency (migration `m20261207_000021`).
//!
//! A function here reads or writes the rows of the transaction's current tenant only. A route that
//! must touch the other side moves its transaction there with `TenantTx::switch_tenant`, makes the
//! one change the other side needs, and moves back: the receiver's row is written in the
//! receiver's scope, sealed with the receiver's key, so nothing is read across agencies and no
//! policy admits another agency's rows.

use chrono::{DateTime, NaiveDate, Utc};
use domain::case::{RiskLevel, VictimizationType};
use domain::person::{Gender, SafeContact};
use domain::transfer::{Part, TransferStatus};
use domain::{TenantId, UserId};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::safety_plans::PlanContent;
use super::{DbResultExt, StoreError};
use crate::TenantTx;
use crate::crypto::TenantCipher;
use crate::entities::{transfer_in, transfer_out};

const REASON_OUT: &str = "transfers_out.reason";
const REASON_IN: &str = "transfers_in.reason";
const PAYLOAD: &str = "transfers_in.payload";
const DECLINE: &str = "transfers_in.decline_reason";

/// Who the client is: always part of a transfer.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: Option<String>,
    /// Date of birth.
    pub date_of_birth: Option<NaiveDate>,
    /// Gender.
    pub gender: Option<Gender>,
    /// Preferred language.
    pub preferred_language: Option<String>,
}

/// How to reach the client, when `contact` is included.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// Phone.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// How the client may safely be contacted.
    pub safe_contact: Option<SafeContact>,
}

/// What travels: exactly the parts the sender included, and the case's victimization types.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// Who the client is.
    pub identity: Identity,
    /// How to reach them (`contact`).
    pub contact: Option<Contact>,
    /// The case's victimization types (always: a case has at least one, and they are codes).
    pub victimization_types: Vec<VictimizationType>,
    /// The case's risk level (`risk_level`).
    pub risk_level: Option<RiskLevel>,
    /// The case's safety plan (`safety_plan`).
    pub safety_plan: Option<PlanContent>,
    /// Whether the case was restricted: a protection, not a fact about the person, so it always
    /// travels and the receiving case starts restricted too.
    pub restricted: bool,
}

/// A payload is a person's record: its debug form names nothing of it.
impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Payload(..)")
    }
}

/// The sender's side of a transfer.
#[derive(Clone, Debug)]
pub struct Outgoing {
    /// Id (the same on both sides).
    pub id: Uuid,
    /// The case sent.
    pub case_id: Uuid,
    /// The receiving agency.
    pub to_tenant: TenantId,
    /// What was included.
    pub include: Vec<Part>,
    /// Why.
    pub reason: String,
    /// Where it stands.
    pub status: TransferStatus,
    /// Who sent it.
    pub created_by: UserId,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it was accepted, declined or withdrawn.
    pub settled_at: Option<DateTime<Utc>>,
    /// Version for `ETag`.
    pub version: i32,
}

/// The receiver's side of a transfer.
#[derive(Clone, Debug)]
pub struct Incoming {
    /// Id (the same on both sides).
    pub id: Uuid,
    /// The sending agency.
    pub from_tenant: TenantId,
    /// What was included.
    pub include: Vec<Part>,
    /// Why it was sent.
    pub reason: String,
    /// What travelled, until the transfer is settled.
    pub payload: Option<Payload>,
    /// Where it stands.
    pub status: TransferStatus,
    /// When it arrived.
    pub created_at: DateTime<Utc>,
    /// When it was settled.
    pub settled_at: Option<DateTime<Utc>>,
    /// Who accepted or declined it.
    pub settled_by: Option<UserId>,
    /// Why it was declined.
    pub decline_reason: Option<String>,
    /// The case it opened here, once accepted.
    pub case_id: Option<Uuid>,
    /// Version for `ETag`.
    pub version: i32,
}

fn include_to_storage(parts: &[Part]) -> String {
    parts.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(",")
}

fn include_from_storage(column: &'static str, raw: &str) -> Result<Vec<Part>, StoreError> {
    raw.split(',').filter(|p| !p.is_empty()).map(|p| super::decode(column, p, Part::parse)).collect()
}

fn read_out(cipher: &TenantCipher, m: transfer_out::Model) -> Result<Outgoing, StoreError> {
    Ok(Outgoing {
        id: m.id,
        case_id: m.case_id,
        to_tenant: TenantId::from_uuid(m.to_tenant_id),
        include: include_from_storage("transfers_out.include", &m.include)?,
        reason: cipher.open(REASON_OUT, m.id, &m.reason_sealed)?,
        status: super::decode("transfers_out.status", &m.status, TransferStatus::parse)?,
        created_by: UserId::from_uuid(m.created_by),
        created_at: m.created_at,
        settled_at: m.settled_at,
        version: m.version,
    })
}

fn read_in(cipher: &TenantCipher, m: transfer_in::Model) -> Result<Incoming, StoreError> {
    let payload = cipher
        .open_opt(PAYLOAD, m.id, m.payload_sealed.as_deref())?
        .map(|json| super::decode_json(PAYLOAD, &json))
        .transpose()?;
    Ok(Incoming {
        id: m.id,
        from_tenant: TenantId::from_uuid(m.from_tenant_id),
        include: include_from_storage("transfers_in.include", &m.include)?,
        reason: cipher.open(REASON_IN, m.id, &m.reason_sealed)?,
        payload,
        status: super::decode("transfers_in.status", &m.status, TransferStatus::parse)?,
        created_at: m.created_at,
        settled_at: m.settled_at,
        settled_by: m.settled_by.map(UserId::from_uuid),
        decline_reason: cipher.open_opt(DECLINE, m.id, m.decline_reason_sealed.as_deref())?,
        case_id: m.case_id,
        version: m.version,
    })
}

/// A transfer about to be sent.
#[derive(Clone, Debug)]
pub struct NewTransfer {
    /// Its id, the same on both sides.
    pub id: Uuid,
    /// The case.
    pub case_id: Uuid,
    /// The receiving agency.
    pub to_tenant: TenantId,
    /// The sending agency.
    pub from_tenant: TenantId,
    /// What is included.
    pub include: Vec<Part>,
    /// Why.
    pub reason: String,
    /// Who sends it.
    pub by: UserId,
    /// When.
    pub at: DateTime<Utc>,
}

/// Records the sender's side, in the sender's scope, sealed with the sender's key.
///
/// # Errors
/// [`StoreError`].
pub async fn insert_outgoing(tx: &TenantTx, cipher: &TenantCipher, new: &NewTransfer) -> Result<Outgoing, StoreError> {
    let model = transfer_out::ActiveModel {
        tenant_id: Set(tx.tenant_id().as_uuid()),
        id: Set(new.id),
        case_id: Set(new.case_id),
        to_tenant_id: Set(new.to_tenant.as_uuid()),
        include: Set(include_to_storage(&new.include)),
        reason_sealed: Set(cipher.seal(REASON_OUT, new.id, &new.reason)?),
        status: Set(TransferStatus::Pending.as_str().to_owned()),
        created_by: Set(new.by.as_uuid()),
        created_at: Set(new.at),
        settled_at: Set(None),
        version: Set(1),
    }
    .insert(tx.raw())
    .await
    .store()?;
    read_out(cipher, model)
}

/// Delivers the receiver's side: call with the transaction in the receiver's scope and the
/// receiver's cipher, which seals the reason and the payload so that only the receiver opens them.
///
/// # Errors
/// [`StoreError`].
pub async fn deliver(
    tx: &TenantTx,
    receiver: &TenantCipher,
    new: &NewTransfer,
    payload: &Payload,
) -> Result<(), StoreError> {
    let json = super::encode_json(PAYLOAD, payload)?;
    transfer_in::ActiveModel {
        tenant_id: Set(tx.tenant_id().as_uuid()),
        id: Set(new.id),
        from_tenant_id: Set(new.from_tenant.as_uuid()),
        include: Set(include_to_storage(&new.include)),
        reason_sealed: Set(receiver.seal(REASON_IN, new.id, &new.reason)?),
        payload_sealed: Set(Some(receiver.seal(PAYLOAD, new.id, &json)?)),
        status: Set(TransferStatus::Pending.as_str().to_owned()),
        created_at: Set(new.at),
        settled_at: Set(None),
        settled_by: Set(None),
        decline_reason_sealed: Set(None),
        case_id: Set(None),
        version: Set(1),
    }
    .insert(tx.raw())
    .await
    .store()?;
    Ok(())
}

/// The sender's side of a transfer, if this agency sent it.
///
/// # Errors
/// [`StoreError`].
pub async fn find_outgoing(tx: &TenantTx, cipher: &TenantCipher, id: Uuid) -> Result<Option<Outgoing>, StoreError> {
    let model = transfer_out::Entity::find_by_id((tx.tenant_id().as_uuid(), id)).one(tx.raw()).await.store()?;
    model.map(|m| read_out(cipher, m)).transpose()
}

/// The receiver's side of a transfer, if this agency received it.
///
/// # Errors
/// [`StoreError`].
pub async fn find_incoming(tx: &TenantTx, cipher: &TenantCipher, id: Uuid) -> Result<Option<Incoming>, StoreError> {
    let model = transfer_in::Entity::find_by_id((tx.tenant_id().as_uuid(), id)).one(tx.raw()).await.store()?;
    model.map(|m| read_in(cipher, m)).transpose()
}

/// This agency's transfers out, oldest first, after the cursor.
///
/// # Errors
/// [`StoreError`].
pub async fn list_outgoing(
    tx: &TenantTx,
    cipher: &TenantCipher,
    status: Option<TransferStatus>,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Outgoing>, StoreError> {
    let mut query = transfer_out::Entity::find().filter(transfer_out::Column::TenantId.eq(tx.tenant_id().as_uuid()));
    if let Some(status) = status {
        query = query.filter(transfer_out::Column::Status.eq(status.as_str()));
    }
    if let Some(after) = after {
        query = query.filter(transfer_out::Column::Id.gt(after));
    }
    let rows = query.order_by_asc(transfer_out::Column::Id).limit(limit).all(tx.raw()).await.store()?;
    rows.into_iter().map(|m| read_out(cipher, m)).collect()
}

/// This agency's transfers in, oldest first, after the cursor.
///
/// # Errors
/// [`StoreError`].
pub async fn list_incoming(
    tx: &TenantTx,
    cipher: &TenantCipher,
    status: Option<TransferStatus>,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Incoming>, StoreError> {
    let mut query = transfer_in::Entity::find().filter(transfer_in::Column::TenantId.eq(tx.tenant_id().as_uuid()));
    if let Some(status) = status {
        query = query.filter(transfer_in::Column::Status.eq(status.as_str()));
    }
    if let Some(after) = after {
        query = query.filter(transfer_in::Column::Id.gt(after));
    }
    let rows = query.order_by_asc(transfer_in::Column::Id).limit(limit).all(tx.raw()).await.store()?;
    rows.into_iter().map(|m| read_in(cipher, m)).collect()
}

/// Settles the sender's side (in the sender's scope) if it is still pending and, when the
/// receiver settles it, if it was sent to `receiver`: `false` when it was settled meanwhile.
///
/// # Errors
/// [`StoreError`].
pub async fn settle_outgoing(
    tx: &TenantTx,
    id: Uuid,
    receiver: Option<TenantId>,
    to: TransferStatus,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut update = transfer_out::Entity::update_many()
        .col_expr(transfer_out::Column::Status, Expr::value(to.as_str()))
        .col_expr(transfer_out::Column::SettledAt, Expr::value(Some(at)))
        .col_expr(transfer_out::Column::Version, Expr::col(transfer_out::Column::Version).add(1))
        .filter(transfer_out::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(transfer_out::Column::Id.eq(id))
        .filter(transfer_out::Column::Status.eq(TransferStatus::Pending.as_str()));
    if let Some(receiver) = receiver {
        update = update.filter(transfer_out::Column::ToTenantId.eq(receiver.as_uuid()));
    }
    Ok(update.exec(tx.raw()).await.store()?.rows_affected == 1)
}

/// How the receiver's side is settled.
#[derive(Clone, Debug)]
pub struct Settlement {
    /// Accepted, declined or withdrawn.
    pub to: TransferStatus,
    /// When.
    pub at: DateTime<Utc>,
    /// Who accepted or declined it (none when the sender withdrew it).
    pub by: Option<UserId>,
    /// Why it was declined.
    pub decline_reason: Option<String>,
    /// The case it opened.
    pub case_id: Option<Uuid>,
}

/// Settles the receiver's side (in the receiver's scope) if it is still pending and, when the
/// sender withdraws it, if it came from `sender`; its payload is erased. `false` when it was
/// settled meanwhile.
///
/// # Errors
/// [`StoreError`].
pub async fn settle_incoming(
    tx: &TenantTx,
    cipher: &TenantCipher,
    id: Uuid,
    sender: Option<TenantId>,
    settlement: &Settlement,
) -> Result<bool, StoreError> {
    let reason = settlement.decline_reason.as_deref();
    let mut update = transfer_in::Entity::update_many()
        .col_expr(transfer_in::Column::Status, Expr::value(settlement.to.as_str()))
        .col_expr(transfer_in::Column::SettledAt, Expr::value(Some(settlement.at)))
        .col_expr(transfer_in::Column::SettledBy, Expr::value(settlement.by.map(|u| u.as_uuid())))
        .col_expr(transfer_in::Column::DeclineReasonSealed, Expr::value(cipher.seal_opt(DECLINE, id, reason)?))
        .col_expr(transfer_in::Column::CaseId, Expr::value(settlement.case_id))
        .col_expr(transfer_in::Column::PayloadSealed, Expr::value(Option::<Vec<u8>>::None))
        .col_expr(transfer_in::Column::Version, Expr::col(transfer_in::Column::Version).add(1))
        .filter(transfer_in::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(transfer_in::Column::Id.eq(id))
        .filter(transfer_in::Column::Status.eq(TransferStatus::Pending.as_str()));
    if let Some(sender) = sender {
        update = update.filter(transfer_in::Column::FromTenantId.eq(sender.as_uuid()));
    }
    Ok(update.exec(tx.raw()).await.store()?.rows_affected == 1)
}
