//! A realistic PostgreSQL data set for the request benchmarks: agency tenants provisioned the way
//! the service does (tenant row, users, programs, a wrapped data key), then cases with their
//! clients, notes, services, reporting facts and audit events, written in large batches inside
//! tenant transactions as the runtime role (row-level security applies).
//!
//! Personal fields are sealed with each tenant's own [`infra::crypto::TenantCipher`] (AES-256-GCM,
//! bound to column and row) and searchable names get its blind indexes, exactly as
//! `infra::store::clients`, `notes` and `case_records` do; reporting facts carry the same keyed
//! pseudonyms as `infra::store::facts`; audit events are written already sealed into each tenant's
//! hash chain (`domain::audit::link_hash`), so the service's sealer has nothing to catch up on.
//!
//! Usage (see `bench/requests_data.sh`, which creates the database first):
//! `DATABASE_URL=postgres://postgres@127.0.0.1:5432/vcao_perf VCAO_MASTER_KEY=… VCAO_DATA_DIR=/tmp/x \
//!  cargo run --release -p infra --example generate_cases`
//! Knobs (environment): `BENCH_CASES` (1,000,000), `BENCH_TENANTS` (50), `BENCH_WORKERS` (tenants
//! written at once, 3), `BENCH_BATCH` (cases per transaction, 1,000), `BENCH_SEED` (1),
//! `BENCH_PASSWORD` (every user's password, `bench-password-1234`).
//!
//! Simplifications, stated: every case's activity (its client, notes, services, reads) is dated
//! inside the case's own time slot, so audit events come in id order without sorting across
//! batches; closing is recorded on the case and as a fact, without a status-change row or event.

use std::error::Error;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use domain::TenantId;
use domain::audit::{AuditRecord, GENESIS, actions, link_hash};
use domain::person::{SafeContact, age_band, search_form};
use domain::reporting::{FactKind, FiscalQuarter, month_label, ontario_date};
use domain::tenant::{TenantKind, TenantName, TenantSlug};
use domain::user::{DisplayName, EmailAddress, NewPassword, Role, RoleSet};
use infra::config::Settings;
use infra::crypto::{Keyring, MasterKey, TenantCipher};
use infra::db::{Db, begin_tenant_tx_for};
use infra::entities::{
    audit_event, audit_seal, case, case_victimization_type, client, note, police_division, reporting_fact, service,
};
use infra::store::{programs, tenant_keys, tenants, users};
use sea_orm::{ConnectionTrait, EntityTrait, Set};
use uuid::{NoContext, Timestamp, Uuid};

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// splitmix64: small, seeded, good enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[usize::try_from(self.below(items.len() as u64)).unwrap_or(0)]
    }
}

const GIVEN: &[&str] = &[
    "Amara", "Chloe", "Fatima", "Grace", "Hana", "Isabelle", "Jasmine", "Kayla", "Leila", "Maya", "Nadia", "Olivia",
    "Priya", "Sofia", "Tara", "Zoe", "Aiden", "Ben", "Daniel", "Ethan", "Liam", "Noah", "Omar", "Ravi",
];
const FAMILY: &[&str] = &[
    "Smith",
    "Tremblay",
    "Martin",
    "Roy",
    "Wilson",
    "Macdonald",
    "Gagnon",
    "Johnson",
    "Taylor",
    "Brown",
    "Singh",
    "Nguyen",
    "Li",
    "Patel",
    "Campbell",
    "Anderson",
    "Lee",
    "White",
    "Clarke",
    "Bouchard",
    "Ahmed",
    "Cardinal",
];
const TYPES: &[&str] = &[
    "intimate_partner_violence",
    "intimate_partner_violence",
    "intimate_partner_violence",
    "sexual_assault",
    "sexual_assault",
    "other_violent_crime",
    "other_violent_crime",
    "human_trafficking_sexual",
    "human_trafficking_labour",
    "homicide_bereavement",
    "other",
];
const SOURCES: &[&str] =
    &["police", "police", "police", "self", "community_organization", "hospital", "court", "other"];
const GENDERS: &[&str] =
    &["woman", "woman", "woman", "woman", "man", "man", "non_binary", "two_spirit", "another_gender"];
/// The expense categories of VQRP+ rule version 1 (`domain::vqrp::seed_rules`).
const VQRP_CATEGORIES: &[&str] =
    &["immediate_safety", "crime_scene_cleanup", "transportation_accommodation", "counselling", "funeral"];
const SERVICES: &[&str] = &[
    "crisis_intervention",
    "safety_planning",
    "emotional_support",
    "practical_assistance",
    "court_support",
    "accompaniment",
    "transportation",
    "emergency_shelter_referral",
    "vqrp_plus",
    "referral_to_community",
    "follow_up",
];
const LANGUAGES: &[&str] = &["en", "en", "en", "fr", "ar", "pa", "zh", "es", "tl"];
const NOTE_TEXT: &[&str] = &[
    "Called client; safety plan reviewed and updated. Client staying with sister for now.",
    "Accompanied client to bail hearing. Next court date confirmed; client informed of victim impact statement.",
    "Client reports no further contact from the accused. Follow-up booked in two weeks.",
    "Arranged emergency transportation and a hotel night through VQRP+. Receipts filed.",
    "Client asked about counselling options; referral to community agency sent with consent.",
];

fn uuid_at(at: DateTime<Utc>) -> Uuid {
    let ms = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    Uuid::new_v7(Timestamp::from_unix(NoContext, ms / 1000, u32::try_from(ms % 1000).unwrap_or(0) * 1_000_000))
}

fn pseudonym(cipher: &TenantCipher, id: Uuid) -> String {
    // As infra::store::facts: 128 bits of the tenant-keyed hash of `client:<id>`.
    let mac = cipher.blind_index("reporting.subject", &format!("client:{id}"));
    hex::encode(mac.get(..16).unwrap_or(&mac))
}

/// One tenant as provisioned, and what its bulk rows point at.
struct Tenant {
    id: TenantId,
    number: usize,
    cases: u64,
    workers: Vec<Uuid>,
    programs: Vec<(Uuid, String)>,
}

/// Everything one batch writes.
#[derive(Default)]
struct Batch {
    clients: Vec<client::ActiveModel>,
    cases: Vec<case::ActiveModel>,
    types: Vec<case_victimization_type::ActiveModel>,
    notes: Vec<note::ActiveModel>,
    services: Vec<service::ActiveModel>,
    facts: Vec<reporting_fact::ActiveModel>,
    events: Vec<audit_event::ActiveModel>,
    seals: Vec<audit_seal::ActiveModel>,
}

/// The tenant's audit chain so far.
struct Chain {
    seq: i64,
    previous: [u8; 32],
}

struct Event<'a> {
    at: DateTime<Utc>,
    actor: Uuid,
    action: &'static str,
    resource: Option<(&'static str, Uuid)>,
    details: &'a serde_json::Value,
}

impl Batch {
    fn event(&mut self, tenant: Uuid, chain: &mut Chain, rng: &mut Rng, e: &Event<'_>) {
        let id = uuid_at(e.at);
        let details = e.details.to_string();
        let ip = format!("10.{}.{}.{}", rng.below(256), rng.below(256), rng.below(256));
        let request_id = Uuid::new_v4().to_string();
        let (kind, resource_id) = e.resource.map_or(("tenant", None), |(k, r)| (k, Some(r)));
        // As infra::store::audit's sealer: the canonical record of the event, linked in id order.
        let record = AuditRecord {
            id: id.to_string(),
            occurred_at: e.at.to_rfc3339_opts(SecondsFormat::Micros, true),
            actor_id: Some(e.actor.to_string()),
            action: e.action.to_owned(),
            resource_type: kind.to_owned(),
            resource_id: resource_id.map(|r: Uuid| r.to_string()),
            client_ip: Some(ip.clone()),
            request_id: Some(request_id.clone()),
            details: details.clone(),
        };
        chain.seq += 1;
        let hash = link_hash(&chain.previous, chain.seq.unsigned_abs(), &record);
        chain.previous = hash;
        self.events.push(audit_event::ActiveModel {
            tenant_id: Set(tenant),
            id: Set(id),
            occurred_at: Set(e.at),
            actor_id: Set(Some(e.actor)),
            action: Set(e.action.to_owned()),
            resource_type: Set(kind.to_owned()),
            resource_id: Set(resource_id),
            client_ip: Set(Some(ip)),
            request_id: Set(Some(request_id)),
            details: Set(details),
        });
        self.seals.push(audit_seal::ActiveModel {
            tenant_id: Set(tenant),
            seq: Set(chain.seq),
            event_id: Set(id),
            hash: Set(hash.to_vec()),
            sealed_at: Set(e.at + Duration::seconds(1)),
        });
    }
}

#[expect(clippy::too_many_lines, reason = "one case's rows, in the order the service writes them")]
#[expect(clippy::too_many_arguments, reason = "the tenant, its cipher, chain and slot, and the batch")]
fn one_case(
    t: &Tenant,
    cipher: &TenantCipher,
    divisions: &[(Uuid, String)],
    rng: &mut Rng,
    chain: &mut Chain,
    opened: DateTime<Utc>,
    slot_ms: i64,
    b: &mut Batch,
) -> Res<()> {
    let tenant = t.id.as_uuid();
    let step = Duration::milliseconds((slot_ms / 16).max(1));
    let worker = *rng.pick(&t.workers);
    // The client, sealed field by field as infra::store::clients does.
    let client_at = opened;
    let client_id = uuid_at(client_at);
    let seal = |col: &str, v: Option<&str>| cipher.seal_opt(&format!("clients.{col}"), client_id, v);
    let given = *rng.pick(GIVEN);
    let family = rng.chance(95).then(|| *rng.pick(FAMILY));
    let birth = rng.chance(80).then(|| {
        NaiveDate::from_ymd_opt(1940 + i32::try_from(rng.below(80)).unwrap_or(0), 1, 1)
            .map(|d| d + Duration::days(i64::try_from(rng.below(365)).unwrap_or(0)))
    });
    let birth = birth.flatten();
    let dob = birth.map(|d| d.format("%Y-%m-%d").to_string());
    let gender = rng.chance(92).then(|| (*rng.pick(GENDERS)).to_owned());
    let phone = rng.chance(75).then(|| format!("+1 416 555 {:04}", rng.below(10_000)));
    let email = rng.chance(40).then(|| format!("{}.{}@example.net", given.to_lowercase(), rng.below(100_000)));
    let language = rng.chance(50).then(|| *rng.pick(LANGUAGES));
    let address = rng.chance(50).then(|| format!("{} Queen St W, Toronto ON", 1 + rng.below(2000)));
    let safe = rng.chance(70).then(|| {
        let contact = SafeContact {
            ok_to_call: rng.chance(70),
            ok_to_text: rng.chance(50),
            ok_to_voicemail: rng.chance(30),
            notes: rng.chance(20).then(|| "Only call after 6 pm".to_owned()),
        };
        serde_json::to_string(&contact).unwrap_or_default()
    });
    b.clients.push(client::ActiveModel {
        tenant_id: Set(tenant),
        id: Set(client_id),
        given_name_sealed: Set(cipher.seal("clients.given_name", client_id, given)?),
        family_name_sealed: Set(seal("family_name", family)?),
        date_of_birth_sealed: Set(seal("date_of_birth", dob.as_deref())?),
        gender: Set(gender.clone()),
        phone_sealed: Set(seal("phone", phone.as_deref())?),
        email_sealed: Set(seal("email", email.as_deref())?),
        preferred_language_sealed: Set(seal("preferred_language", language)?),
        address_sealed: Set(seal("address", address.as_deref())?),
        safe_contact_sealed: Set(seal("safe_contact", safe.as_deref())?),
        given_name_index: Set(cipher.blind_index("given_name", &search_form(given))),
        family_name_index: Set(family.map(|n| cipher.blind_index("family_name", &search_form(n)))),
        date_of_birth_index: Set(dob.as_deref().map(|d| cipher.blind_index("date_of_birth", d))),
        version: Set(1),
        created_at: Set(client_at),
        updated_at: Set(client_at),
    });
    let empty = serde_json::json!({});
    b.event(
        tenant,
        chain,
        rng,
        &Event {
            at: client_at,
            actor: worker,
            action: actions::CLIENT_CREATED,
            resource: Some(("client", client_id)),
            details: &empty,
        },
    );

    // The case, its types and its opening fact, as infra::store::cases and facts do.
    let case_at = client_at + step;
    let case_id = uuid_at(case_at);
    let mut types = vec![*rng.pick(TYPES)];
    if rng.chance(20) {
        let second = *rng.pick(TYPES);
        if second != types[0] {
            types.push(second);
        }
    }
    let program = rng.chance(85).then(|| rng.pick(&t.programs).clone());
    let division = rng.chance(60).then(|| rng.pick(divisions).clone());
    let restricted = rng.chance(5);
    let assigned = rng.chance(90).then_some(worker);
    let closed_at = rng.chance(60).then(|| case_at + Duration::days(i64::try_from(1 + rng.below(240)).unwrap_or(1)));
    let closed_at = closed_at.filter(|c| *c < Utc::now());
    b.cases.push(case::ActiveModel {
        tenant_id: Set(tenant),
        id: Set(case_id),
        client_id: Set(client_id),
        status: Set(if closed_at.is_some() { "closed" } else { "open" }.to_owned()),
        victimization_types: Set(types.join(",")),
        referral_source: Set((*rng.pick(SOURCES)).to_owned()),
        program_id: Set(program.as_ref().map(|p| p.0)),
        division_id: Set(division.as_ref().map(|d| d.0)),
        assigned_to: Set(assigned),
        restricted: Set(restricted),
        risk_level: Set(rng.chance(40).then(|| (*rng.pick(&["low", "moderate", "high", "extreme"])).to_owned())),
        opened_at: Set(case_at),
        closed_at: Set(closed_at),
        version: Set(1),
        created_at: Set(case_at),
        updated_at: Set(closed_at.unwrap_or(case_at)),
    });
    for kind in &types {
        b.types.push(case_victimization_type::ActiveModel {
            tenant_id: Set(tenant),
            case_id: Set(case_id),
            victimization_type: Set((*kind).to_owned()),
        });
    }
    let subject = pseudonym(cipher, client_id);
    let fact = |kind: FactKind, at: DateTime<Utc>, service: Option<&str>, minutes, amount| {
        let day = ontario_date(at);
        reporting_fact::ActiveModel {
            tenant_id: Set(tenant),
            id: Set(uuid_at(at)),
            kind: Set(kind.as_str().to_owned()),
            occurred_on: Set(day),
            fiscal_quarter: Set(FiscalQuarter::of(day).label()),
            month: Set(month_label(day)),
            program: Set(program.as_ref().map(|p| p.1.clone())),
            victimization_type: Set(Some(types[0].to_owned())),
            division: Set(division.as_ref().map(|d| d.1.clone())),
            service_type: Set(service.map(str::to_owned)),
            urgency: Set(None),
            gender: Set(gender.clone()),
            age_band: Set(Some(age_band(birth, day).to_owned())),
            amount_cents: Set(amount),
            minutes: Set(minutes),
            business_days: Set(None),
            subject: Set(subject.clone()),
        }
    };
    b.facts.push(fact(FactKind::CaseOpened, case_at, None, None, None));
    if let Some(at) = closed_at {
        b.facts.push(fact(FactKind::CaseClosed, at, None, None, None));
    }
    let details = serde_json::json!({ "client_id": client_id, "restricted": restricted });
    b.event(
        tenant,
        chain,
        rng,
        &Event {
            at: case_at,
            actor: worker,
            action: actions::CASE_CREATED,
            resource: Some(("case", case_id)),
            details: &details,
        },
    );

    // Notes and services, each with its audit event (and a fact per service), then some reads.
    let mut at = case_at;
    let notes = rng.below(4); // 0–3, 1.5 on average
    let services = rng.below(3) + u64::from(rng.chance(20)); // 0–3, 1.2 on average
    for _ in 0..notes {
        at += step;
        let id = uuid_at(at);
        let text = *rng.pick(NOTE_TEXT);
        b.notes.push(note::ActiveModel {
            tenant_id: Set(tenant),
            id: Set(id),
            case_id: Set(case_id),
            body_sealed: Set(cipher.seal("notes.body", id, text)?),
            author_id: Set(worker),
            amends_note_id: Set(None),
            created_at: Set(at),
        });
        let details = serde_json::json!({ "record": "note", "record_id": id });
        b.event(
            tenant,
            chain,
            rng,
            &Event {
                at,
                actor: worker,
                action: actions::CASE_UPDATED,
                resource: Some(("case", case_id)),
                details: &details,
            },
        );
    }
    for _ in 0..services {
        at += step;
        let id = uuid_at(at);
        let kind = *rng.pick(SERVICES);
        let minutes = rng.chance(80).then(|| i32::try_from(15 + rng.below(180)).unwrap_or(30));
        let amount = (kind == "vqrp_plus").then(|| i64::try_from(5_000 + rng.below(200_000)).unwrap_or(80_000));
        b.services.push(service::ActiveModel {
            tenant_id: Set(tenant),
            id: Set(id),
            case_id: Set(case_id),
            service_type: Set(kind.to_owned()),
            delivered_at: Set(at),
            minutes: Set(minutes),
            amount_cents: Set(amount),
            notes_sealed: Set(cipher.seal_opt("services.notes", id, rng.chance(30).then_some("Receipts on file"))?),
            recorded_by: Set(worker),
            created_at: Set(at),
        });
        b.facts.push(fact(FactKind::ServiceDelivered, at, Some(kind), minutes.map(i64::from), amount));
        if let Some(amount) = amount {
            // The application behind the money: submitted, decided within its window and paid.
            let category = *rng.pick(VQRP_CATEGORIES);
            b.facts.push(fact(FactKind::VqrpSubmitted, at - chrono::Duration::days(7), Some(category), None, None));
            let mut decided =
                fact(FactKind::VqrpDecided, at - chrono::Duration::days(3), Some(category), None, Some(amount));
            decided.business_days = Set(Some(i64::try_from(1 + rng.below(9)).unwrap_or(3)));
            b.facts.push(decided);
            b.facts.push(fact(FactKind::VqrpPaid, at, Some(category), None, Some(amount)));
        }
        let details = serde_json::json!({ "record": "service", "record_id": id });
        b.event(
            tenant,
            chain,
            rng,
            &Event {
                at,
                actor: worker,
                action: actions::CASE_UPDATED,
                resource: Some(("case", case_id)),
                details: &details,
            },
        );
    }
    for _ in 0..rng.below(3) {
        at += step;
        b.event(
            tenant,
            chain,
            rng,
            &Event {
                at,
                actor: worker,
                action: actions::CASE_READ,
                resource: Some(("case", case_id)),
                details: &empty,
            },
        );
    }
    Ok(())
}

/// Inserts in statements of at most `rows` rows (PostgreSQL allows 65,535 bind parameters).
async fn insert_chunked<A>(conn: &impl ConnectionTrait, items: Vec<A>, rows: usize) -> Res<()>
where
    A: sea_orm::ActiveModelTrait + Send,
{
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let chunk: Vec<A> = items.by_ref().take(rows).collect();
        <A::Entity as EntityTrait>::insert_many(chunk).exec_without_returning(conn).await?;
    }
    Ok(())
}

async fn provision(db: &Db, number: usize, cases: u64, password_hash: &str) -> Res<Tenant> {
    let id = TenantId::new();
    let tx = begin_tenant_tx_for(db, id).await?;
    let slug = TenantSlug::parse(&format!("bench-agency-{number:02}"))?;
    tenants::insert(
        tx.raw(),
        id,
        &slug,
        &TenantName::parse(&format!("Bench agency {number:02}"))?,
        TenantKind::Agency,
        false,
    )
    .await?;
    let mut workers = Vec::new();
    let staff: [(&str, Role); 5] = [
        ("admin", Role::AgencyAdmin),
        ("sup", Role::Supervisor),
        ("cm1", Role::CaseManager),
        ("cm2", Role::CaseManager),
        ("cm3", Role::CaseManager),
    ];
    for (who, role) in staff {
        let user = users::insert(
            &tx,
            users::NewUser {
                supervisor_requested_by: None,
                email: EmailAddress::parse(&format!("{who}@agency-{number:02}.example"))?,
                display_name: DisplayName::parse(&format!("{who} {number:02}"))?,
                roles: RoleSet::one(role),
                division_id: None,
                profession: None,
                password_hash: password_hash.to_owned(),
                // Synthetic accounts that the benchmark signs in thousands of times.
                password_change_required: false,
            },
        )
        .await?;
        if role != Role::AgencyAdmin {
            workers.push(user.id.as_uuid());
        }
    }
    let mut programs = Vec::new();
    for (code, name) in [("general", "General"), ("exit-route", "Exit Route"), ("vqrp-plus", "VQRP+")] {
        let p = programs::insert(&tx, code.to_owned(), name.to_owned(), None).await?;
        programs.push((p.id, p.code));
    }
    tx.commit().await?;
    Ok(Tenant { id, number, cases, workers, programs })
}

async fn fill(
    db: Db,
    keyring: Arc<Keyring>,
    divisions: Arc<Vec<(Uuid, String)>>,
    t: Tenant,
    batch: u64,
    seed: u64,
) -> Res<(u64, u64)> {
    let cipher = tenant_keys::cipher(&db, &keyring, t.id).await?;
    let mut rng = Rng(seed ^ (t.number as u64).wrapping_mul(0xA24B_AED4_963E_E407));
    let mut chain = Chain { seq: 0, previous: GENESIS };
    // Cases opened over the last two years, evenly spaced with jitter; all of a case's activity
    // falls inside its slot, so events arrive in id order.
    let start = Utc::now() - Duration::days(730);
    let span_ms = Duration::days(729).num_milliseconds();
    let slot_ms = span_ms / i64::try_from(t.cases.max(1)).unwrap_or(1);
    let mut rows = 0_u64;
    let mut done = 0_u64;
    while done < t.cases {
        let n = batch.min(t.cases - done);
        let mut b = Batch::default();
        for i in done..done + n {
            let jitter = i64::try_from(rng.below(u64::try_from(slot_ms / 4).unwrap_or(1))).unwrap_or(0);
            let opened = start + Duration::milliseconds(i64::try_from(i).unwrap_or(0) * slot_ms + jitter);
            one_case(&t, &cipher, &divisions, &mut rng, &mut chain, opened, slot_ms, &mut b)?;
        }
        rows += (b.clients.len()
            + b.cases.len()
            + b.types.len()
            + b.notes.len()
            + b.services.len()
            + b.facts.len()
            + b.events.len()
            + b.seals.len()) as u64;
        let tx = begin_tenant_tx_for(&db, t.id).await?;
        // Bulk load only: the generator's transactions need not wait for the WAL flush.
        tx.raw().execute_unprepared("SET LOCAL synchronous_commit = off").await?;
        insert_chunked(tx.raw(), b.clients, 2_000).await?;
        insert_chunked(tx.raw(), b.cases, 2_000).await?;
        insert_chunked(tx.raw(), b.types, 5_000).await?;
        insert_chunked(tx.raw(), b.notes, 5_000).await?;
        insert_chunked(tx.raw(), b.services, 5_000).await?;
        insert_chunked(tx.raw(), b.facts, 3_000).await?;
        insert_chunked(tx.raw(), b.events, 5_000).await?;
        insert_chunked(tx.raw(), b.seals, 10_000).await?;
        tx.commit().await?;
        done += n;
    }
    Ok((t.cases, rows))
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.replace(['_', ','], "").parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() -> Res<()> {
    let total = env_u64("BENCH_CASES", 1_000_000);
    let tenant_count = usize::try_from(env_u64("BENCH_TENANTS", 50)).unwrap_or(50).max(1);
    let parallel = usize::try_from(env_u64("BENCH_WORKERS", 3)).unwrap_or(3).max(1);
    let batch = env_u64("BENCH_BATCH", 1_000).max(1);
    let seed = env_u64("BENCH_SEED", 1);
    let password = std::env::var("BENCH_PASSWORD").unwrap_or_else(|_| "bench-password-1234".to_owned());
    let began = Instant::now();

    let settings = Settings::load()?;
    let master = std::env::var("VCAO_MASTER_KEY").map_err(|_| "set VCAO_MASTER_KEY (a fixed key; see bench/)")?;
    let keyring = Arc::new(Keyring::new(MasterKey::from_base64(&master)?, None));
    let db = Db::open(&settings).await?;
    let password_hash = infra::auth::password::hash(NewPassword::parse(&password)?).await?;
    let divisions: Vec<(Uuid, String)> =
        police_division::Entity::find().all(db.global()).await?.into_iter().map(|d| (d.id, d.code)).collect();
    if divisions.is_empty() {
        return Err("no police divisions: the migrations seed them".into());
    }

    // Agency sizes: Zipf-like (the largest about a fifth of all cases), at least 20 cases each.
    let weights: Vec<f64> = (1..=tenant_count).map(|i| 1.0 / (i as f64)).collect();
    let sum: f64 = weights.iter().sum();
    let mut sizes: Vec<u64> = weights.iter().map(|w| ((w / sum) * total as f64).floor().max(20.0) as u64).collect();
    let assigned: u64 = sizes.iter().sum();
    sizes[0] = (sizes[0] + total).saturating_sub(assigned).max(20);
    let mut provisioned = Vec::new();
    for (i, cases) in sizes.iter().enumerate() {
        provisioned.push(provision(&db, i + 1, *cases, &password_hash).await?);
    }
    println!("provisioned {} tenants in {:.1} s", provisioned.len(), began.elapsed().as_secs_f64());

    let divisions = Arc::new(divisions);
    let permits = Arc::new(tokio::sync::Semaphore::new(parallel));
    let mut tasks = Vec::new();
    for t in provisioned {
        let permit = Arc::clone(&permits).acquire_owned().await?;
        let (db, keyring, divisions) = (db.clone(), Arc::clone(&keyring), Arc::clone(&divisions));
        let number = t.number;
        tasks.push(tokio::spawn(async move {
            let t0 = Instant::now();
            let result = fill(db, keyring, divisions, t, batch, seed).await;
            drop(permit);
            if let Ok((cases, rows)) = &result {
                println!("bench-agency-{number:02}: {cases} cases, {rows} rows in {:.1} s", t0.elapsed().as_secs_f64());
            }
            result
        }));
    }
    let (mut cases, mut rows) = (0, 0);
    for task in tasks {
        let (c, r) = task.await??;
        cases += c;
        rows += r;
    }
    let secs = began.elapsed().as_secs_f64();
    println!("done: {cases} cases, {rows} rows in {secs:.1} s ({:.0} rows/s)", rows as f64 / secs);
    Ok(())
}
