//! A year behind the ministry's figures: closed cases of both demo agencies spread over the last
//! twelve months, with their clients, services, referral and VQRP+ facts dated in the past, so
//! the release builder (`crate::releases`) has a fiscal year to publish, with cells to withhold.
//! This module decides what the year holds; `infra::store::backfill` writes it (and says what it
//! simplifies: no notes, and referrals and VQRP+ applications as facts only).
//!
//! Volumes: 449 cases at `demo-agency` (18 to 45 a month) and 247 at `demo-north`, whose thin
//! months (2 to 4 cases) are the cells the release withholds, with the cells that would give them
//! away. Seeded from a fixed number, so every demo has the same shape.

use chrono::{DateTime, Datelike as _, Duration, NaiveDate, TimeZone as _, Utc};
use domain::user::Role;
use infra::TenantTx;
use infra::store::backfill::{self, PastCase, PastReferral, PastService};

use super::people::{Demo, Tenant};

/// Cases opened per month at `demo-agency`, oldest month first (the last is the current month).
const AGENCY_MONTHS: [u64; 12] = [34, 38, 41, 36, 45, 39, 37, 42, 35, 40, 44, 18];
/// The same at `demo-north`: thin months (the current one among them, so every fiscal year the
/// demo is started in has one), whose cells the release withholds.
const NORTH_MONTHS: [u64; 12] = [31, 3, 30, 35, 2, 31, 36, 4, 30, 4, 38, 3];

const TYPES: &[&str] = &[
    "intimate_partner_violence",
    "intimate_partner_violence",
    "intimate_partner_violence",
    "sexual_assault",
    "other_violent_crime",
    "human_trafficking_sexual",
    "human_trafficking_labour",
    "homicide_bereavement",
];
const SOURCES: &[&str] = &["police", "police", "police", "self", "community_organization", "hospital", "court"];
const GENDERS: &[&str] = &["woman", "woman", "woman", "man", "man", "non_binary", "two_spirit"];
const SERVICES: &[&str] = &[
    "crisis_intervention",
    "safety_planning",
    "emotional_support",
    "practical_assistance",
    "court_support",
    "accompaniment",
    "follow_up",
];
const URGENCIES: &[&str] = &["immediate", "immediate", "same_day", "routine"];

/// splitmix64, seeded: the same history every time, without a dependency.
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
    fn pick(&mut self, items: &[&'static str]) -> &'static str {
        items.get(usize::try_from(self.below(items.len() as u64)).unwrap_or(0)).copied().unwrap_or_default()
    }
    /// A whole number from `from` to `from + span - 1`.
    fn between(&mut self, from: u64, span: u64) -> i64 {
        i64::try_from(from + self.below(span)).unwrap_or(0)
    }
}

/// Writes both agencies' history; `tx` is in `demo-agency`'s scope and is left there. Returns
/// the rows written.
///
/// # Errors
/// When the database or the cipher fails.
pub async fn seed(tx: &mut TenantTx, demo: &Demo) -> anyhow::Result<usize> {
    let d = &demo.divisions;
    let now = infra::db::now();
    let divisions = [(d.d51.id.as_uuid(), d.d51.code.clone()), (d.d52.id.as_uuid(), d.d52.code.clone())];
    let cases = year(&demo.agency, &AGENCY_MONTHS, &divisions, 1000, 17, now)?;
    let mut written = backfill::write(tx, &demo.agency.cipher, &cases).await?;
    tx.switch_tenant(demo.north.id).await?;
    let divisions = [(d.d14.id.as_uuid(), d.d14.code.clone()), (d.d52.id.as_uuid(), d.d52.code.clone())];
    let cases = year(&demo.north, &NORTH_MONTHS, &divisions, 5000, 23, now)?;
    written += backfill::write(tx, &demo.north.cipher, &cases).await?;
    tx.switch_tenant(demo.agency.id).await?;
    Ok(written)
}

/// The first instant of the month `back` months before `now`'s (UTC).
fn month_start(now: DateTime<Utc>, back: u32) -> DateTime<Utc> {
    let months = now.year() * 12 + i32::try_from(now.month0()).unwrap_or(0) - i32::try_from(back).unwrap_or(0);
    let month = u32::try_from(months.rem_euclid(12)).unwrap_or(0) + 1;
    Utc.with_ymd_and_hms(months.div_euclid(12), month, 1, 0, 0, 0).single().unwrap_or(now)
}

/// One agency's year: `months[i]` cases opened in the month `11 - i` months back, each closed
/// within 45 days and before now.
fn year(
    t: &Tenant,
    months: &[u64; 12],
    divisions: &[(uuid::Uuid, String); 2],
    first_number: u64,
    seed: u64,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<PastCase>> {
    let mut rng = Rng(seed);
    let workers = [t.user(Role::CaseManager)?.id.as_uuid(), t.user(Role::Supervisor)?.id.as_uuid()];
    let program = t.programs.first().ok_or_else(|| anyhow::anyhow!("no program"))?;
    let latest = now - Duration::hours(2);
    let mut cases = Vec::new();
    let mut number = first_number;
    for (back, count) in (0..12_u32).rev().zip(months) {
        let start = month_start(now, back);
        let end = if back == 0 { latest } else { month_start(now, back - 1) };
        let span = u64::try_from((end - start).num_minutes().max(1)).unwrap_or(1);
        for _ in 0..*count {
            number += 1;
            let opened = Ord::min(start + Duration::minutes(rng.between(0, span)), latest);
            let closed = Ord::min(opened + Duration::days(rng.between(1, 45)), now - Duration::hours(1));
            let closed = Ord::max(closed, opened + Duration::minutes(1));
            let source = rng.pick(SOURCES);
            let police = source == "police";
            let referral = police.then(|| {
                let made_at = opened - Duration::minutes(rng.between(60, 180));
                let minutes_to_accept = rng.between(1, 40);
                PastReferral {
                    urgency: rng.pick(URGENCIES),
                    made_at,
                    minutes_to_accept,
                    minutes_to_first_contact: minutes_to_accept + rng.between(5, 50),
                }
            });
            let span = u64::try_from((closed - opened).num_minutes().max(2)).unwrap_or(2);
            let mut services = Vec::new();
            for _ in 0..1 + rng.below(2) {
                services.push(PastService {
                    service_type: rng.pick(SERVICES).to_owned(),
                    delivered_at: opened + Duration::minutes(rng.between(1, span - 1)),
                    minutes: i32::try_from(rng.between(15, 120)).unwrap_or(30),
                    amount_cents: None,
                });
            }
            if rng.chance(10) {
                services.push(PastService {
                    service_type: "vqrp_plus".to_owned(),
                    delivered_at: opened + Duration::minutes(rng.between(1, span - 1)),
                    minutes: 20,
                    amount_cents: Some(rng.between(10_000, 90_000)),
                });
            }
            let birth = NaiveDate::from_ymd_opt(1950 + i32::try_from(rng.below(55)).unwrap_or(0), 1, 1)
                .map(|d| d + Duration::days(rng.between(0, 365)));
            cases.push(PastCase {
                given_name: format!("Demo Client {number}"),
                family_name: "Synthetic".to_owned(),
                date_of_birth: birth,
                gender: rng.pick(GENDERS).to_owned(),
                victimization_type: rng.pick(TYPES).to_owned(),
                referral_source: source.to_owned(),
                program: (program.id, program.code.clone()),
                division: police.then(|| divisions[usize::from(rng.chance(30))].clone()),
                worker: workers[usize::from(rng.chance(20))],
                opened_at: opened,
                closed_at: closed,
                referral,
                services,
            });
        }
    }
    Ok(cases)
}
