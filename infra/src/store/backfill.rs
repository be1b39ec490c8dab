//! Backdated history: closed cases written as if they had happened over past months, with their
//! clients, services, reporting facts and audit events. Only `serve --demo` writes these (its
//! year of history behind the ministry's figures); nothing else may, since the rows bypass the
//! stores' own checks.
//!
//! Written the way `infra/examples/generate_cases.rs` writes its data set: entities inserted
//! directly in large statements, personal fields sealed with the tenant's cipher and searchable
//! ones indexed as [`super::clients`] does, facts with [`super::facts`]' keyed pseudonyms and
//! dimensions. Audit events are written unsealed, dated when they happened, for the sealer to link
//! in id order like any other; so call this only for a tenant none of whose events is sealed yet
//! (a tenant made in the same transaction), or the sealer would never reach them.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::audit::actions;
use domain::person::{age_band, search_form};
use domain::reporting::{FactKind, FiscalQuarter, month_label, ontario_date};
use sea_orm::{EntityTrait, Set};
use uuid::{NoContext, Timestamp, Uuid};

use super::StoreError;
use super::facts::pseudonym;
use crate::TenantTx;
use crate::crypto::TenantCipher;
use crate::entities::{audit_event, case, case_victimization_type, client, reporting_fact, service};

/// A case that was opened and closed in the past.
#[derive(Clone)]
pub struct PastCase {
    /// The client's given name (sealed).
    pub given_name: String,
    /// The client's family name (sealed, indexed).
    pub family_name: String,
    /// The client's date of birth (sealed, indexed).
    pub date_of_birth: Option<NaiveDate>,
    /// The client's gender code.
    pub gender: String,
    /// The case's one victimization type code.
    pub victimization_type: String,
    /// Who referred (`police`, `self`…).
    pub referral_source: String,
    /// The program's id and code.
    pub program: (Uuid, String),
    /// The police division's id and code, for a case from a police referral.
    pub division: Option<(Uuid, String)>,
    /// The worker assigned, who did everything on it.
    pub worker: Uuid,
    /// When opened.
    pub opened_at: DateTime<Utc>,
    /// When closed.
    pub closed_at: DateTime<Utc>,
    /// The referral it came from, as facts only.
    pub referral: Option<PastReferral>,
    /// Services delivered.
    pub services: Vec<PastService>,
}

/// The referral behind a past case: its facts (made, accepted, first contact), no row.
#[derive(Clone, Copy)]
pub struct PastReferral {
    /// Its urgency code.
    pub urgency: &'static str,
    /// When made.
    pub made_at: DateTime<Utc>,
    /// Whole minutes from made to accepted.
    pub minutes_to_accept: i64,
    /// Whole minutes from made to first contact.
    pub minutes_to_first_contact: i64,
}

/// A service delivered on a past case. A `vqrp_plus` service's money also gets the facts of the
/// application behind it (submitted five days before, decided in three business days, paid).
#[derive(Clone)]
pub struct PastService {
    /// The service type code.
    pub service_type: String,
    /// When delivered.
    pub delivered_at: DateTime<Utc>,
    /// Minutes spent.
    pub minutes: i32,
    /// Money spent (`vqrp_plus`).
    pub amount_cents: Option<i64>,
}

/// An id of UUID v7 form dated `at`, so rows sort by when they happened, as the service's ids do.
fn uuid_at(at: DateTime<Utc>) -> Uuid {
    let ms = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    Uuid::new_v7(Timestamp::from_unix(NoContext, ms / 1000, u32::try_from(ms % 1000).unwrap_or(0) * 1_000_000))
}

#[derive(Default)]
struct Rows {
    clients: Vec<client::ActiveModel>,
    cases: Vec<case::ActiveModel>,
    types: Vec<case_victimization_type::ActiveModel>,
    services: Vec<service::ActiveModel>,
    facts: Vec<reporting_fact::ActiveModel>,
    events: Vec<audit_event::ActiveModel>,
}

/// What every fact of one case shares.
struct Profile<'a> {
    tenant: Uuid,
    case: &'a PastCase,
    subject: String,
}

impl Profile<'_> {
    fn fact(&self, kind: FactKind, at: DateTime<Utc>) -> reporting_fact::ActiveModel {
        let day = ontario_date(at);
        reporting_fact::ActiveModel {
            tenant_id: Set(self.tenant),
            id: Set(uuid_at(at)),
            kind: Set(kind.as_str().to_owned()),
            occurred_on: Set(day),
            fiscal_quarter: Set(FiscalQuarter::of(day).label()),
            month: Set(month_label(day)),
            program: Set(Some(self.case.program.1.clone())),
            victimization_type: Set(Some(self.case.victimization_type.clone())),
            division: Set(self.case.division.as_ref().map(|d| d.1.clone())),
            service_type: Set(None),
            urgency: Set(None),
            gender: Set(Some(self.case.gender.clone())),
            age_band: Set(Some(age_band(self.case.date_of_birth, day).to_owned())),
            amount_cents: Set(None),
            minutes: Set(None),
            business_days: Set(None),
            subject: Set(self.subject.clone()),
        }
    }
}

/// Writes `cases` into `tx`'s tenant; returns the rows written.
///
/// # Errors
/// [`StoreError`] on database or encryption failure.
pub async fn write(tx: &TenantTx, cipher: &TenantCipher, cases: &[PastCase]) -> Result<usize, StoreError> {
    let tenant = tx.tenant_id().as_uuid();
    let mut rows = Rows::default();
    for past in cases {
        one(&mut rows, tenant, cipher, past)?;
    }
    let written = rows.clients.len()
        + rows.cases.len()
        + rows.types.len()
        + rows.services.len()
        + rows.facts.len()
        + rows.events.len();
    insert(tx, rows.clients).await?;
    insert(tx, rows.cases).await?;
    insert(tx, rows.types).await?;
    insert(tx, rows.services).await?;
    insert(tx, rows.facts).await?;
    insert(tx, rows.events).await?;
    Ok(written)
}

/// Inserts in statements of at most 500 rows (SQLite allows 32,766 bind parameters, PostgreSQL 65,535).
async fn insert<A>(tx: &TenantTx, items: Vec<A>) -> Result<(), StoreError>
where
    A: sea_orm::ActiveModelTrait + Send,
{
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let chunk: Vec<A> = items.by_ref().take(500).collect();
        <A::Entity as EntityTrait>::insert_many(chunk).exec_without_returning(tx.raw()).await?;
    }
    Ok(())
}

fn one(rows: &mut Rows, tenant: Uuid, cipher: &TenantCipher, past: &PastCase) -> Result<(), StoreError> {
    let opened = past.opened_at;
    let client_id = uuid_at(opened - Duration::minutes(1));
    let dob = past.date_of_birth.map(|d| d.format("%Y-%m-%d").to_string());
    let seal = |col: &str, v: Option<&str>| cipher.seal_opt(&format!("clients.{col}"), client_id, v);
    rows.clients.push(client::ActiveModel {
        tenant_id: Set(tenant),
        id: Set(client_id),
        given_name_sealed: Set(cipher.seal("clients.given_name", client_id, &past.given_name)?),
        family_name_sealed: Set(seal("family_name", Some(&past.family_name))?),
        date_of_birth_sealed: Set(seal("date_of_birth", dob.as_deref())?),
        gender: Set(Some(past.gender.clone())),
        phone_sealed: Set(None),
        email_sealed: Set(None),
        preferred_language_sealed: Set(None),
        address_sealed: Set(None),
        safe_contact_sealed: Set(None),
        given_name_index: Set(cipher.blind_index("given_name", &search_form(&past.given_name))),
        family_name_index: Set(Some(cipher.blind_index("family_name", &search_form(&past.family_name)))),
        date_of_birth_index: Set(dob.as_deref().map(|d| cipher.blind_index("date_of_birth", d))),
        version: Set(1),
        created_at: Set(opened - Duration::minutes(1)),
        updated_at: Set(opened - Duration::minutes(1)),
    });
    let case_id = uuid_at(opened);
    rows.cases.push(case::ActiveModel {
        tenant_id: Set(tenant),
        id: Set(case_id),
        client_id: Set(client_id),
        status: Set("closed".to_owned()),
        victimization_types: Set(past.victimization_type.clone()),
        referral_source: Set(past.referral_source.clone()),
        program_id: Set(Some(past.program.0)),
        division_id: Set(past.division.as_ref().map(|d| d.0)),
        assigned_to: Set(Some(past.worker)),
        restricted: Set(false),
        risk_level: Set(None),
        opened_at: Set(opened),
        closed_at: Set(Some(past.closed_at)),
        // Opened, then closed: one change.
        version: Set(2),
        created_at: Set(opened),
        updated_at: Set(past.closed_at),
    });
    rows.types.push(case_victimization_type::ActiveModel {
        tenant_id: Set(tenant),
        case_id: Set(case_id),
        victimization_type: Set(past.victimization_type.clone()),
    });
    let profile = Profile { tenant, case: past, subject: pseudonym(cipher, "client", client_id) };
    rows.facts.push(profile.fact(FactKind::CaseOpened, opened));
    rows.facts.push(profile.fact(FactKind::CaseClosed, past.closed_at));
    let event =
        |at: DateTime<Utc>, action: &str, kind: &str, id: Uuid, details: serde_json::Value| audit_event::ActiveModel {
            tenant_id: Set(tenant),
            id: Set(uuid_at(at)),
            occurred_at: Set(at),
            actor_id: Set(Some(past.worker)),
            action: Set(action.to_owned()),
            resource_type: Set(kind.to_owned()),
            resource_id: Set(Some(id)),
            client_ip: Set(None),
            request_id: Set(None),
            details: Set(details.to_string()),
        };
    rows.events.push(event(
        opened - Duration::minutes(1),
        actions::CLIENT_CREATED,
        "client",
        client_id,
        serde_json::json!({}),
    ));
    let details = serde_json::json!({ "client_id": client_id, "restricted": false });
    rows.events.push(event(opened, actions::CASE_CREATED, "case", case_id, details));
    rows.events.push(event(past.closed_at, actions::CASE_CLOSED, "case", case_id, serde_json::json!({ "version": 2 })));

    if let Some(referral) = past.referral {
        // A referral's facts have their own subject and no gender: the person was not yet a client.
        let subject = pseudonym(cipher, "referral", Uuid::new_v4());
        for (kind, minutes) in [
            (FactKind::ReferralCreated, None),
            (FactKind::ReferralAccepted, Some(referral.minutes_to_accept)),
            (FactKind::ReferralFirstContact, Some(referral.minutes_to_first_contact)),
        ] {
            let mut fact = profile.fact(kind, referral.made_at + Duration::minutes(minutes.unwrap_or(0)));
            fact.subject = Set(subject.clone());
            fact.gender = Set(None);
            fact.urgency = Set(Some(referral.urgency.to_owned()));
            fact.minutes = Set(minutes);
            rows.facts.push(fact);
        }
    }

    for s in &past.services {
        let id = uuid_at(s.delivered_at);
        rows.services.push(service::ActiveModel {
            tenant_id: Set(tenant),
            id: Set(id),
            case_id: Set(case_id),
            service_type: Set(s.service_type.clone()),
            delivered_at: Set(s.delivered_at),
            minutes: Set(Some(s.minutes)),
            amount_cents: Set(s.amount_cents),
            notes_sealed: Set(None),
            recorded_by: Set(past.worker),
            created_at: Set(s.delivered_at),
        });
        let details = serde_json::json!({ "record": "service", "record_id": id });
        rows.events.push(event(s.delivered_at, actions::CASE_UPDATED, "case", case_id, details));
        let mut fact = profile.fact(FactKind::ServiceDelivered, s.delivered_at);
        fact.service_type = Set(Some(s.service_type.clone()));
        fact.minutes = Set(Some(i64::from(s.minutes)));
        fact.amount_cents = Set(s.amount_cents);
        rows.facts.push(fact);
        if let Some(amount) = s.amount_cents {
            // The application behind the money (facts only); its category is the facts' service type.
            for (kind, at, amount, days) in [
                (FactKind::VqrpSubmitted, s.delivered_at - Duration::days(5), None, None),
                (FactKind::VqrpDecided, s.delivered_at - Duration::days(2), Some(amount), Some(3)),
                (FactKind::VqrpPaid, s.delivered_at, Some(amount), None),
            ] {
                let mut fact = profile.fact(kind, at);
                fact.service_type = Set(Some("immediate_safety".to_owned()));
                fact.amount_cents = Set(amount);
                fact.business_days = Set(days);
                rows.facts.push(fact);
            }
        }
    }
    Ok(())
}
