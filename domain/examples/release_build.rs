//! Times a release build over synthetic facts: `cargo run --release -p domain --example release_build -- 20000`.
//! A third argument, `vqrp`, turns one fact in eight into a VQRP+ application's (submitted,
//! decided or paid), so the cost of their families can be set beside a build without them.
use std::time::Instant;

use chrono::NaiveDate;
use domain::reporting::FactKind;
use domain::reporting::release::{FactInput, Tabulation, build};

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let agencies: usize = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(5);
    let vqrp = std::env::args().nth(3).is_some_and(|a| a == "vqrp");
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |m: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % m
    };
    let pick = |v: u64, list: &[&'static str]| list[v as usize % list.len()];
    let agency_ids: Vec<String> = (0..agencies).map(|a| format!("agency-{a:03}")).collect();
    let subjects: Vec<String> = (0..n / 3 + 1).map(|s| format!("s{s}")).collect();
    let mut t = Tabulation::new(2026);
    let start = NaiveDate::from_ymd_opt(2026, 4, 1).unwrap_or_default();
    for _ in 0..n {
        let kind = match next(4) {
            0 => FactKind::CaseOpened,
            1 => FactKind::ServiceDelivered,
            2 => FactKind::ReferralCreated,
            _ => FactKind::ReferralAccepted,
        };
        let kind = if vqrp && next(8) == 0 {
            [FactKind::VqrpSubmitted, FactKind::VqrpDecided, FactKind::VqrpPaid][next(3) as usize]
        } else {
            kind
        };
        let application = matches!(kind, FactKind::VqrpSubmitted | FactKind::VqrpDecided | FactKind::VqrpPaid);
        let on = start + chrono::Days::new(next(365));
        let service = if application {
            Some(pick(
                next(5),
                &["immediate_safety", "crime_scene_cleanup", "transportation", "counselling", "funeral"],
            ))
        } else if kind == FactKind::ServiceDelivered {
            Some(pick(
                next(10),
                &[
                    "vqrp_plus",
                    "counselling",
                    "court_support",
                    "safety_planning",
                    "transport",
                    "interpretation",
                    "housing",
                    "legal",
                    "medical",
                    "other",
                ],
            ))
        } else {
            None
        };
        let plain = [
            Some(agency_ids[next(agencies as u64) as usize].as_str()),
            Some(pick(next(3), &["exit_route", "vcao", "vqrp"])),
            Some(pick(
                next(8),
                &["ipv", "human_trafficking", "sexual_assault", "homicide", "robbery", "assault", "hate", "other"],
            )),
            Some(pick(
                next(17),
                &["11", "12", "13", "14", "22", "23", "31", "32", "33", "41", "42", "43", "51", "52", "53", "54", "55"],
            )),
            service,
            Some(pick(next(4), &["woman", "man", "non_binary", "not_recorded"])),
            Some(pick(next(7), &["under_18", "18_24", "25_34", "35_44", "45_54", "55_64", "65_plus"])),
            Some(pick(next(3), &["immediate", "same_day", "routine"])),
        ];
        let subject = &subjects[next(subjects.len() as u64) as usize];
        let minutes = match kind {
            FactKind::ReferralAccepted => Some(next(240) as i64),
            FactKind::VqrpDecided => Some(next(10) as i64),
            _ => None,
        };
        let money = service == Some("vqrp_plus") || matches!(kind, FactKind::VqrpDecided | FactKind::VqrpPaid);
        let amount = money.then(|| next(100_000) as i64);
        t.push(&FactInput { kind, occurred_on: on, plain, amount_cents: amount, minutes, subject, counted: 0 })
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let t0 = Instant::now();
    let tab = t.finish();
    let t1 = Instant::now();
    let microcells = tab.microcells.len();
    let release = build(tab, 5);
    let t2 = Instant::now();
    println!(
        "facts {n} agencies {agencies}: {microcells} microcells, {} cells; coding {:?}, tabulating and protecting {:?}",
        release.cells.len(),
        t1 - t0,
        t2 - t1
    );
    // Per family: of the cells where it has facts, how many are published, overall and among
    // the agency-by-period totals (no other dimension).
    for (f, family) in domain::reporting::release::Family::ALL.iter().enumerate() {
        let with_facts: Vec<_> = release.cells.iter().filter(|c| c.tallies[f].events > 0).collect();
        let published = with_facts.iter().filter(|c| !c.withheld[f]).count();
        let agency_period: Vec<_> = with_facts.iter().filter(|c| c.key.mask() == 1).collect();
        let agency_published = agency_period.iter().filter(|c| !c.withheld[f]).count();
        println!(
            "  {family:?}: {published} of {} cells published; agency by period {agency_published} of {}",
            with_facts.len(),
            agency_period.len()
        );
    }
}
