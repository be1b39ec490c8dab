//! De-identified reporting facts, written in the same transaction as the change they record.
//!
//! A fact holds codes (program, victimization type, division, service type, urgency, gender, age
//! band), an Ontario date with its fiscal quarter and month, amounts and minutes, and a subject:
//! a keyed pseudonym of the person (HMAC with the tenant's index key), so distinct people can be
//! counted without any name, date of birth, free text or id of a personal row. Pseudonyms differ
//! between agencies, so a person served by two agencies is two service episodes.
//!
//! The functions here are called by the stores that make the changes (cases, services,
//! referrals, VQRP+ applications), never by handlers, so no path can change a case and forget its fact.

use chrono::{DateTime, NaiveDate, Utc};
use domain::PoliceDivisionId;
use domain::reporting::{FactKind, FiscalQuarter, month_label, ontario_date};
use sea_orm::QueryTrait as _;
use sea_orm::{EntityTrait, Set};
use uuid::Uuid;

use super::clients::CaseClient;
use super::{DbResultExt, StoreError, programs, reference};
use crate::TenantTx;
use crate::crypto::TenantCipher;
use crate::entities::{case, client, reporting_fact};

/// The dimension values of one fact; `None` is "not recorded".
#[derive(Clone, Debug, Default)]
struct Dimensions {
    program: Option<String>,
    victimization_type: Option<String>,
    division: Option<String>,
    service_type: Option<String>,
    urgency: Option<String>,
    gender: Option<String>,
    age_band: Option<String>,
}

/// What a fact measures besides being counted.
#[derive(Clone, Copy, Debug, Default)]
struct Measures {
    amount_cents: Option<i64>,
    minutes: Option<i64>,
    business_days: Option<i64>,
}

/// Appends the fact (`TenantTx::append`): it is written with the change's next statement or its
/// commit, in the same transaction.
fn write(tx: &TenantTx, kind: FactKind, at: DateTime<Utc>, dims: Dimensions, measures: Measures, subject: String) {
    write_on(tx, kind, ontario_date(at), dims, measures, subject);
}

/// [`write`] for a fact dated by a day of Ontario's calendar rather than an instant.
fn write_on(tx: &TenantTx, kind: FactKind, day: NaiveDate, dims: Dimensions, measures: Measures, subject: String) {
    tx.append(
        reporting_fact::Entity::insert(reporting_fact::ActiveModel {
            tenant_id: Set(tx.tenant_id().as_uuid()),
            id: Set(Uuid::now_v7()),
            kind: Set(kind.as_str().to_owned()),
            occurred_on: Set(day),
            fiscal_quarter: Set(FiscalQuarter::of(day).label()),
            month: Set(month_label(day)),
            program: Set(dims.program),
            victimization_type: Set(dims.victimization_type),
            division: Set(dims.division),
            service_type: Set(dims.service_type),
            urgency: Set(dims.urgency),
            gender: Set(dims.gender),
            age_band: Set(dims.age_band),
            amount_cents: Set(measures.amount_cents),
            minutes: Set(measures.minutes),
            business_days: Set(measures.business_days),
            subject: Set(subject),
        })
        .into_query(),
    );
}

/// The pseudonym of a person known to the agency as `what:id`: 128 bits of a keyed hash. The key
/// is the agency's own, so a person is a different subject in each agency: `store::aggregates`
/// relies on it to add distinct people up across agencies.
pub(super) fn pseudonym(cipher: &TenantCipher, what: &str, id: Uuid) -> String {
    let mac = cipher.blind_index("reporting.subject", &format!("{what}:{id}"));
    hex::encode(mac.get(..16).unwrap_or(&mac))
}

async fn program_code(tx: &TenantTx, id: Option<Uuid>) -> Result<Option<String>, StoreError> {
    match id {
        Some(id) => Ok(Some(programs::get(tx, id).await?.code)),
        None => Ok(None),
    }
}

async fn division_code(tx: &TenantTx, id: Option<Uuid>) -> Result<Option<String>, StoreError> {
    match id {
        Some(id) => Ok(Some(reference::get_division(tx.raw(), PoliceDivisionId::from_uuid(id)).await?.code)),
        None => Ok(None),
    }
}

/// The codes of the program and division a fact is recorded under (of a case or a referral).
#[derive(Clone, Debug, Default)]
pub struct Codes {
    /// The program's code.
    pub program: Option<String>,
    /// The division's code.
    pub division: Option<String>,
}

/// The dimensions a case gives every fact about it, and its client's pseudonym, read from the
/// database.
async fn case_profile(
    tx: &TenantTx,
    cipher: &TenantCipher,
    case_id: Uuid,
    on: NaiveDate,
) -> Result<(Dimensions, String), StoreError> {
    let tenant = tx.tenant_id().as_uuid();
    let case = case::Entity::find_by_id((tenant, case_id)).one(tx.raw()).await.store()?.ok_or(StoreError::NotFound)?;
    let client = client::Entity::find_by_id((tenant, case.client_id))
        .one(tx.raw())
        .await
        .store()?
        .ok_or(StoreError::NotFound)?;
    let client = CaseClient::of(cipher, &client)?;
    let codes = Codes {
        program: program_code(tx, case.program_id).await?,
        division: division_code(tx, case.division_id).await?,
    };
    Ok(profile(cipher, &case, &client, codes, on))
}

/// The dimensions a case gives every fact about it, and its client's pseudonym. The age band is
/// taken on the day of the fact, so a client who turns 18 moves band in later facts.
fn profile(
    cipher: &TenantCipher,
    case: &case::Model,
    client: &CaseClient,
    codes: Codes,
    on: NaiveDate,
) -> (Dimensions, String) {
    let dims = Dimensions {
        program: codes.program,
        // A case can record several types; figures count it once, under the first recorded.
        victimization_type: case.victimization_types.split(',').find(|t| !t.is_empty()).map(str::to_owned),
        division: codes.division,
        gender: client.gender.clone(),
        age_band: Some(domain::person::age_band(client.date_of_birth, on).to_owned()),
        ..Dimensions::default()
    };
    (dims, pseudonym(cipher, "client", client.id))
}

/// A case was opened or closed (`kind` is `CaseOpened` or `CaseClosed`).
///
/// # Errors
/// [`StoreError`] on database or decryption failure; the change rolls back with it.
pub async fn case_milestone(
    tx: &TenantTx,
    cipher: &TenantCipher,
    case_id: Uuid,
    kind: FactKind,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let (dims, subject) = case_profile(tx, cipher, case_id, ontario_date(at)).await?;
    write(tx, kind, at, dims, Measures::default(), subject);
    Ok(())
}

/// A case was opened: [`case_milestone`] for the row being inserted, from what its creator read
/// (no statement of its own).
pub(super) fn case_opened(tx: &TenantTx, cipher: &TenantCipher, case: &case::Model, client: &CaseClient, codes: Codes) {
    let (dims, subject) = profile(cipher, case, client, codes, ontario_date(case.opened_at));
    write(tx, FactKind::CaseOpened, case.opened_at, dims, Measures::default(), subject);
}

/// A service was delivered on a case (dated when delivered, not when recorded).
///
/// # Errors
/// [`StoreError`] on database or decryption failure; the service rolls back with it.
pub async fn service_delivered(
    tx: &TenantTx,
    cipher: &TenantCipher,
    case_id: Uuid,
    service_type: &str,
    delivered_at: DateTime<Utc>,
    minutes: Option<i32>,
    amount_cents: Option<i64>,
) -> Result<(), StoreError> {
    let (mut dims, subject) = case_profile(tx, cipher, case_id, ontario_date(delivered_at)).await?;
    dims.service_type = Some(service_type.to_owned());
    let measures = Measures { amount_cents, minutes: minutes.map(i64::from), business_days: None };
    write(tx, FactKind::ServiceDelivered, delivered_at, dims, measures, subject);
    Ok(())
}

/// What a referral gives each of its facts. The person on a referral is not yet a client, so
/// each referral is its own subject, and gender is not recorded.
pub struct ReferralProfile<'a> {
    /// The referral.
    pub id: Uuid,
    /// Its division.
    pub division_id: Uuid,
    /// Its program.
    pub program_id: Option<Uuid>,
    /// Its first victimization type.
    pub victimization_type: Option<&'a str>,
    /// Its urgency.
    pub urgency: &'a str,
    /// The person's date of birth, when given.
    pub date_of_birth: Option<NaiveDate>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// A referral reached a milestone: made (`ReferralCreated`), accepted or first contact (with the
/// whole minutes since it was made).
///
/// # Errors
/// [`StoreError`] on database failure; the change rolls back with it.
pub async fn referral_milestone(
    tx: &TenantTx,
    cipher: &TenantCipher,
    referral: &ReferralProfile<'_>,
    kind: FactKind,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let codes = Codes {
        program: program_code(tx, referral.program_id).await?,
        division: division_code(tx, Some(referral.division_id)).await?,
    };
    referral_fact(tx, cipher, referral, codes, kind, at);
    Ok(())
}

/// [`referral_milestone`] with the codes of the referral's program and division already read (a
/// referral being made: its maker checked them).
pub(super) fn referral_fact(
    tx: &TenantTx,
    cipher: &TenantCipher,
    referral: &ReferralProfile<'_>,
    codes: Codes,
    kind: FactKind,
    at: DateTime<Utc>,
) {
    let dims = Dimensions {
        program: codes.program,
        victimization_type: referral.victimization_type.map(str::to_owned),
        division: codes.division,
        urgency: Some(referral.urgency.to_owned()),
        age_band: Some(domain::person::age_band(referral.date_of_birth, ontario_date(at)).to_owned()),
        ..Dimensions::default()
    };
    let minutes = (kind != FactKind::ReferralCreated).then(|| (at - referral.created_at).num_minutes().max(0));
    let subject = pseudonym(cipher, "referral", referral.id);
    write(tx, kind, at, dims, Measures { amount_cents: None, minutes, business_days: None }, subject);
}

/// What happened to a VQRP+ application, as a fact about its case's client. The expense category
/// is the fact's service type: what the money was for.
#[derive(Clone, Copy, Debug)]
pub enum VqrpMilestone {
    /// Submitted for a decision, on this day.
    Submitted(NaiveDate),
    /// Decided on this day, with the amount approved (0 when declined) and the Ontario business
    /// days since it was submitted.
    Decided(NaiveDate, i64, u32),
    /// Money paid on this day.
    Paid(NaiveDate, i64),
}

/// Records a VQRP+ application's milestone for the ministry's figures, in the change's transaction.
///
/// # Errors
/// [`StoreError`] on database or decryption failure; the change rolls back with it.
pub async fn vqrp_milestone(
    tx: &TenantTx,
    cipher: &TenantCipher,
    case_id: Uuid,
    expense_category: &str,
    milestone: VqrpMilestone,
) -> Result<(), StoreError> {
    let (kind, day, measures) = match milestone {
        VqrpMilestone::Submitted(day) => (FactKind::VqrpSubmitted, day, Measures::default()),
        VqrpMilestone::Decided(day, approved, days) => {
            let measures =
                Measures { amount_cents: Some(approved), minutes: None, business_days: Some(i64::from(days)) };
            (FactKind::VqrpDecided, day, measures)
        }
        VqrpMilestone::Paid(day, cents) => {
            (FactKind::VqrpPaid, day, Measures { amount_cents: Some(cents), ..Measures::default() })
        }
    };
    let (mut dims, subject) = case_profile(tx, cipher, case_id, day).await?;
    dims.service_type = Some(expense_category.to_owned());
    write_on(tx, kind, day, dims, measures, subject);
    Ok(())
}
