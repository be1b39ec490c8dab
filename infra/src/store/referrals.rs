//! Referrals made at the point of contact with police. The person's details are sealed as one
//! document; status changes are conditional updates, so two workers racing to accept cannot both
//! win, and the escalation deadline is a column so restarts and replicas lose none.

use chrono::{DateTime, NaiveDate, Utc};
use domain::case::VictimizationType;
use domain::dispatch::{ContactOutcome, ReferralStatus, Urgency};
use domain::person::SafeContact;
use domain::reporting::FactKind;
use domain::{PoliceDivisionId, TenantId, UserId};
use sea_orm::QueryTrait as _;
use sea_orm::sea_query::{Expr, ExprTrait as _, LockBehavior, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{DbResultExt, StoreError};
use crate::TenantTx;
use crate::crypto::TenantCipher;
use crate::entities::{contact_attempt, referral};

/// The person referred (all personal; sealed at rest).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralPerson {
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: Option<String>,
    /// Date of birth.
    pub date_of_birth: Option<NaiveDate>,
    /// Phone.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Preferred language.
    pub preferred_language: Option<String>,
    /// How to contact safely.
    pub safe_contact: SafeContact,
}

impl std::fmt::Debug for ReferralPerson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReferralPerson(..)")
    }
}

/// What a client record keeps of a referred person when the referral becomes a case: everything
/// the referral asked. A referral asks no gender or address, so the client starts without them.
impl From<ReferralPerson> for super::clients::ClientFields {
    fn from(person: ReferralPerson) -> Self {
        Self {
            given_name: person.given_name,
            family_name: person.family_name,
            date_of_birth: person.date_of_birth,
            gender: None,
            phone: person.phone,
            email: person.email,
            preferred_language: person.preferred_language,
            address: None,
            safe_contact: Some(person.safe_contact),
        }
    }
}

/// A referral with the person's details decrypted.
#[derive(Clone, Debug)]
pub struct Referral {
    /// Id.
    pub id: Uuid,
    /// The division it was made at.
    pub division_id: PoliceDivisionId,
    /// Program.
    pub program_id: Option<Uuid>,
    /// Who made it.
    pub created_by: UserId,
    /// Police occurrence number.
    pub occurrence_number: Option<String>,
    /// What happened.
    pub victimization_types: Vec<VictimizationType>,
    /// How soon.
    pub urgency: Urgency,
    /// The person (decrypted only when asked for).
    pub person: Option<ReferralPerson>,
    /// Whether the person agreed to be contacted.
    pub consent_to_contact: bool,
    /// Children involved.
    pub children_involved: Option<bool>,
    /// Notes.
    pub notes: Option<String>,
    /// Status.
    pub status: ReferralStatus,
    /// The on-duty worker it was assigned to.
    pub assigned_to: Option<UserId>,
    /// Who accepted it.
    pub accepted_by: Option<UserId>,
    /// When accepted.
    pub accepted_at: Option<DateTime<Utc>>,
    /// When the person was first reached.
    pub first_contact_at: Option<DateTime<Utc>>,
    /// When it escalates if not accepted.
    pub escalation_due_at: DateTime<Utc>,
    /// When it escalated.
    pub escalated_at: Option<DateTime<Utc>>,
    /// The case it became.
    pub case_id: Option<Uuid>,
    /// The client it became.
    pub client_id: Option<Uuid>,
    /// Version.
    pub version: i32,
    /// When made.
    pub created_at: DateTime<Utc>,
}

const PERSON: &str = "referrals.person";

fn from_model(m: referral::Model, cipher: Option<&TenantCipher>) -> Result<Referral, StoreError> {
    let (person, occurrence_number, notes) = match cipher {
        Some(c) => (
            Some(super::decode_json(PERSON, &c.open(PERSON, m.id, &m.person_sealed)?)?),
            c.open_opt("referrals.occurrence_number", m.id, m.occurrence_number_sealed.as_deref())?,
            c.open_opt("referrals.notes", m.id, m.notes_sealed.as_deref())?,
        ),
        None => (None, None, None),
    };
    Ok(Referral {
        id: m.id,
        division_id: PoliceDivisionId::from_uuid(m.division_id),
        program_id: m.program_id,
        created_by: UserId::from_uuid(m.created_by),
        occurrence_number,
        victimization_types: m
            .victimization_types
            .split(',')
            .map(|t| super::decode("referrals.victimization_types", t, VictimizationType::parse))
            .collect::<Result<_, _>>()?,
        urgency: super::decode("referrals.urgency", &m.urgency, Urgency::parse)?,
        person,
        consent_to_contact: m.consent_to_contact,
        children_involved: m.children_involved,
        notes,
        status: super::decode("referrals.status", &m.status, ReferralStatus::parse)?,
        assigned_to: m.assigned_to.map(UserId::from_uuid),
        accepted_by: m.accepted_by.map(UserId::from_uuid),
        accepted_at: m.accepted_at,
        first_contact_at: m.first_contact_at,
        escalation_due_at: m.escalation_due_at,
        escalated_at: m.escalated_at,
        case_id: m.case_id,
        client_id: m.client_id,
        version: m.version,
        created_at: m.created_at,
    })
}

/// A referral about to be made (validated).
#[derive(Clone, Debug)]
pub struct NewReferral {
    /// Division.
    pub division_id: PoliceDivisionId,
    /// Program.
    pub program_id: Option<Uuid>,
    /// Maker.
    pub created_by: UserId,
    /// Occurrence number.
    pub occurrence_number: Option<String>,
    /// Types.
    pub victimization_types: Vec<VictimizationType>,
    /// Urgency.
    pub urgency: Urgency,
    /// The person.
    pub person: ReferralPerson,
    /// Consent to contact.
    pub consent_to_contact: bool,
    /// Children involved.
    pub children_involved: Option<bool>,
    /// Notes.
    pub notes: Option<String>,
    /// Assignee.
    pub assigned_to: Option<UserId>,
    /// When made.
    pub created_at: DateTime<Utc>,
    /// Escalation deadline.
    pub escalation_due_at: DateTime<Utc>,
    /// The codes of its program and division, for its reporting fact (the caller has read them
    /// when checking the references).
    pub codes: super::facts::Codes,
}

/// The statuses of a referral still on its worker's plate (counted when choosing whom to assign).
pub(super) fn open_statuses() -> [&'static str; 2] {
    [ReferralStatus::Pending.as_str(), ReferralStatus::Accepted.as_str()]
}

/// Makes a referral and its reporting fact, both appended (`TenantTx::append`): written with the
/// transaction's next statement or its commit.
///
/// # Errors
/// [`StoreError`] on encryption failure.
pub fn queue_insert(tx: &TenantTx, cipher: &TenantCipher, new: NewReferral) -> Result<Referral, StoreError> {
    let id = Uuid::now_v7();
    let person = super::encode_json(PERSON, &new.person)?;
    let model = referral::Model {
        tenant_id: tx.tenant_id().as_uuid(),
        id,
        division_id: new.division_id.as_uuid(),
        program_id: new.program_id,
        created_by: new.created_by.as_uuid(),
        occurrence_number_sealed: cipher.seal_opt(
            "referrals.occurrence_number",
            id,
            new.occurrence_number.as_deref(),
        )?,
        victimization_types: new.victimization_types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(","),
        urgency: new.urgency.as_str().to_owned(),
        person_sealed: cipher.seal(PERSON, id, &person)?,
        consent_to_contact: new.consent_to_contact,
        children_involved: new.children_involved,
        notes_sealed: cipher.seal_opt("referrals.notes", id, new.notes.as_deref())?,
        status: ReferralStatus::Pending.as_str().to_owned(),
        assigned_to: new.assigned_to.map(|u| u.as_uuid()),
        accepted_by: None,
        accepted_at: None,
        first_contact_at: None,
        escalation_due_at: new.escalation_due_at,
        escalated_at: None,
        case_id: None,
        client_id: None,
        version: 1,
        created_at: new.created_at,
        updated_at: new.created_at,
    };
    tx.append(referral::Entity::insert(referral::ActiveModel::from(model.clone())).into_query());
    // The referral as made, with the sealed fields as given (nothing to decrypt).
    let referral = Referral {
        person: Some(new.person),
        occurrence_number: new.occurrence_number,
        notes: new.notes,
        ..from_model(model, None)?
    };
    let profile = profile(&referral);
    super::facts::referral_fact(tx, cipher, &profile, new.codes, FactKind::ReferralCreated, referral.created_at);
    Ok(referral)
}

fn profile(referral: &Referral) -> super::facts::ReferralProfile<'_> {
    super::facts::ReferralProfile {
        id: referral.id,
        division_id: referral.division_id.as_uuid(),
        program_id: referral.program_id,
        victimization_type: referral.victimization_types.first().map(|t| t.as_str()),
        urgency: referral.urgency.as_str(),
        date_of_birth: referral.person.as_ref().and_then(|p| p.date_of_birth),
        created_at: referral.created_at,
    }
}

/// Writes the de-identified fact of a referral's milestone. `referral` must carry the person
/// (read with the cipher) so the age band can be taken.
async fn record_fact(
    tx: &TenantTx,
    cipher: &TenantCipher,
    referral: &Referral,
    kind: FactKind,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    super::facts::referral_milestone(tx, cipher, &profile(referral), kind, at).await
}

/// One referral; the person's details are decrypted only when `cipher` is given.
///
/// # Errors
/// [`StoreError::NotFound`].
pub async fn get(tx: &TenantTx, cipher: Option<&TenantCipher>, id: Uuid) -> Result<Referral, StoreError> {
    let model = referral::Entity::find_by_id((tx.tenant_id().as_uuid(), id))
        .one(tx.raw())
        .await
        .store()?
        .ok_or(StoreError::NotFound)?;
    from_model(model, cipher)
}

/// Filters of the referral list.
#[derive(Clone, Debug, Default)]
pub struct ReferralFilter {
    /// Only this status.
    pub status: Option<ReferralStatus>,
    /// Only this division.
    pub division_id: Option<PoliceDivisionId>,
    /// Only referrals this user made (a police liaison sees no others).
    pub created_by: Option<UserId>,
}

/// A page of referrals, without the person's details.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn list(
    tx: &TenantTx,
    filter: &ReferralFilter,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Referral>, StoreError> {
    let mut query = referral::Entity::find()
        .filter(referral::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .order_by_asc(referral::Column::Id)
        .limit(limit);
    if let Some(status) = filter.status {
        query = query.filter(referral::Column::Status.eq(status.as_str()));
    }
    if let Some(division) = filter.division_id {
        query = query.filter(referral::Column::DivisionId.eq(division.as_uuid()));
    }
    if let Some(maker) = filter.created_by {
        query = query.filter(referral::Column::CreatedBy.eq(maker.as_uuid()));
    }
    if let Some(after) = after {
        query = query.filter(referral::Column::Id.gt(after));
    }
    query.all(tx.raw()).await.store()?.into_iter().map(|m| from_model(m, None)).collect()
}

/// Applies a status change the domain decided (`domain::dispatch`) to `referral`, with the given
/// column changes, only if its status is still the one the decision was made from: one
/// `UPDATE ... RETURNING`, so the row as changed comes back without reading it again (decrypted
/// when `cipher` is given). `None` when someone else moved it first.
async fn transition(
    tx: &TenantTx,
    cipher: Option<&TenantCipher>,
    referral: &Referral,
    to: ReferralStatus,
    set: Vec<(referral::Column, sea_orm::Value)>,
) -> Result<Option<Referral>, StoreError> {
    let mut update = referral::Entity::update_many()
        .col_expr(referral::Column::Status, Expr::value(to.as_str()))
        .col_expr(referral::Column::Version, Expr::col(referral::Column::Version).add(1))
        .col_expr(referral::Column::UpdatedAt, Expr::value(crate::db::now()))
        .filter(referral::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(referral::Column::Id.eq(referral.id))
        .filter(referral::Column::Status.eq(referral.status.as_str()));
    for (column, value) in set {
        update = update.col_expr(column, Expr::value(value));
    }
    let changed = update.exec_with_returning(tx.raw()).await.store()?;
    changed.into_iter().next().map(|m| from_model(m, cipher)).transpose()
}

/// Accepts `referral` (read with the cipher) for `by`, moving it to `next`
/// (`domain::dispatch::accept`), and records the minutes it waited. Returns it as accepted.
///
/// # Errors
/// [`StoreError::Conflict`] on `referrals.accepted` when it was no longer in the status it was
/// read in.
pub async fn accept(
    tx: &TenantTx,
    cipher: &TenantCipher,
    referral: &Referral,
    next: ReferralStatus,
    by: UserId,
    at: DateTime<Utc>,
) -> Result<Referral, StoreError> {
    let set = vec![
        (referral::Column::AcceptedBy, Some(by.as_uuid()).into()),
        (referral::Column::AcceptedAt, Some(at).into()),
    ];
    let accepted = transition(tx, Some(cipher), referral, next, set)
        .await?
        .ok_or(StoreError::Conflict { constraint: "referrals.accepted" })?;
    record_fact(tx, cipher, &accepted, FactKind::ReferralAccepted, at).await?;
    Ok(accepted)
}

/// Records a contact attempt on `referral` (read with the cipher) and moves it to `next`
/// (`domain::dispatch::contact`); the first `reached` sets `first_contact_at` and records the
/// minutes to first contact. Returns the attempt's id and the referral as changed.
///
/// # Errors
/// [`StoreError::Conflict`] on `referrals.status` when the status changed meanwhile.
#[expect(clippy::too_many_arguments, reason = "one value per column of the attempt")]
pub async fn record_contact(
    tx: &TenantTx,
    cipher: &TenantCipher,
    referral: &Referral,
    outcome: ContactOutcome,
    next: ReferralStatus,
    notes: Option<&str>,
    by: UserId,
    at: DateTime<Utc>,
) -> Result<(Uuid, Referral), StoreError> {
    let mut set = Vec::new();
    let first_contact = outcome == ContactOutcome::Reached && referral.first_contact_at.is_none();
    if first_contact {
        set.push((referral::Column::FirstContactAt, Some(at).into()));
    }
    let changed = transition(tx, Some(cipher), referral, next, set)
        .await?
        .ok_or(StoreError::Conflict { constraint: "referrals.status" })?;
    if first_contact {
        record_fact(tx, cipher, &changed, FactKind::ReferralFirstContact, at).await?;
    }
    let id = Uuid::now_v7();
    contact_attempt::ActiveModel {
        tenant_id: Set(tx.tenant_id().as_uuid()),
        id: Set(id),
        referral_id: Set(referral.id),
        outcome: Set(outcome.as_str().to_owned()),
        notes_sealed: Set(cipher.seal_opt("contact_attempts.notes", id, notes)?),
        attempted_by: Set(by.as_uuid()),
        created_at: Set(at),
    }
    .insert(tx.raw())
    .await
    .store()?;
    Ok((id, changed))
}

/// Marks `referral` converted into `case_id` and `client_id`, moving it to `next`
/// (`domain::dispatch::convert`) only from the status it was read in.
///
/// # Errors
/// [`StoreError::Conflict`] on `referrals.status` when it changed meanwhile.
pub async fn mark_converted(
    tx: &TenantTx,
    referral: &Referral,
    next: ReferralStatus,
    case_id: Uuid,
    client_id: Uuid,
) -> Result<Referral, StoreError> {
    let set =
        vec![(referral::Column::CaseId, Some(case_id).into()), (referral::Column::ClientId, Some(client_id).into())];
    transition(tx, None, referral, next, set).await?.ok_or(StoreError::Conflict { constraint: "referrals.status" })
}

/// The tenants with a referral due for escalation at `now` (pending, past its deadline, not yet
/// escalated), in one statement for all tenants, so the sweeper opens a transaction only where
/// there is one to claim. On PostgreSQL, `vcao_tenants_with_due_escalations` visits the tenants
/// under row-level security (migration 000009). "Due" is the condition [`claim_due_escalations`]
/// claims by; the migration's function spells it in SQL, so a change to one is a change to both.
///
/// # Errors
/// [`StoreError::Unexpected`] on database failure.
pub async fn tenants_with_due_escalations(db: &crate::db::Db, now: DateTime<Utc>) -> Result<Vec<TenantId>, StoreError> {
    let conn = db.global();
    let ids: Vec<Uuid> = if conn.get_database_backend() == DbBackend::Postgres {
        let rows = conn
            .query_all_raw(sea_orm::Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT t AS tenant_id FROM vcao_tenants_with_due_escalations($1) AS t",
                [now.into()],
            ))
            .await
            .store()?;
        rows.iter().map(|row| row.try_get("", "tenant_id")).collect::<Result<_, _>>().store()?
    } else {
        referral::Entity::find()
            .select_only()
            .column(referral::Column::TenantId)
            .distinct()
            .filter(referral::Column::Status.eq(ReferralStatus::Pending.as_str()))
            .filter(referral::Column::EscalatedAt.is_null())
            .filter(referral::Column::EscalationDueAt.lte(now))
            .into_tuple()
            .all(conn)
            .await
            .store()?
    };
    Ok(ids.into_iter().map(TenantId::from_uuid).collect())
}

/// Claims up to `limit` pending referrals whose escalation deadline has passed and marks them
/// escalated. On PostgreSQL the rows are locked with `FOR UPDATE SKIP LOCKED`, so two replicas
/// sweeping at once never claim the same referral; the conditional update guards SQLite too.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn claim_due_escalations(tx: &TenantTx, now: DateTime<Utc>, limit: u64) -> Result<Vec<Referral>, StoreError> {
    let mut query = referral::Entity::find()
        .filter(referral::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(referral::Column::Status.eq(ReferralStatus::Pending.as_str()))
        .filter(referral::Column::EscalatedAt.is_null())
        .filter(referral::Column::EscalationDueAt.lte(now))
        .order_by_asc(referral::Column::EscalationDueAt)
        .limit(limit);
    if tx.raw().get_database_backend() == DbBackend::Postgres {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let due = query.all(tx.raw()).await.store()?;
    let mut claimed = Vec::new();
    for model in due {
        let result = referral::Entity::update_many()
            .col_expr(referral::Column::EscalatedAt, Expr::value(Some(now)))
            .filter(referral::Column::TenantId.eq(tx.tenant_id().as_uuid()))
            .filter(referral::Column::Id.eq(model.id))
            .filter(referral::Column::EscalatedAt.is_null())
            .exec(tx.raw())
            .await
            .store()?;
        if result.rows_affected == 1 {
            claimed.push(from_model(model, None)?);
        }
    }
    Ok(claimed)
}
