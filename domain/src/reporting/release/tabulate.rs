//! Facts to cells: every cell of the lattice a fact falls in, with each figure family's events,
//! distinct people, money and response-time percentiles.
//!
//! One pass per shape of cell (a level and a set of dimensions): each fact of a family becomes
//! its cell's key with the person and the figures, the pass sorts them by key and person, and
//! each run of one key is a cell: its facts, its distinct people (the person changes), its money,
//! and (sorted by minutes) its nearest-rank percentiles. Exact, with no set or counter per cell,
//! and sorting a compact array is far kinder to the cache than a hash map of millions of cells
//! (a tenth of the time of the hash map this replaced). The shapes are independent, so they run
//! on every core.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};

use super::lattice::{CellKey, Level, Node, PLAIN, masks};
use super::parallel::on_every_core;
use crate::reporting::{Dimension, FactKind, FiscalQuarter, Metric, NOT_RECORDED};

/// The facts one figure family reads. Every metric reads one family; a family's cells are
/// protected together with every other family's (one pattern per release).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// Cases opened and services delivered: the people served.
    Clients,
    /// Cases opened.
    CasesOpened,
    /// Cases closed.
    CasesClosed,
    /// Referrals made.
    Referrals,
    /// Services delivered.
    Services,
    /// VQRP+ services, with their money.
    VqrpPlus,
    /// Referrals accepted, with the minutes it took.
    Accepts,
    /// First contacts, with the minutes from the referral.
    FirstContacts,
    /// VQRP+ applications submitted.
    VqrpApplications,
    /// VQRP+ decisions, with the amount approved (0 when declined) and the business days taken.
    VqrpDecisions,
    /// VQRP+ payments, with their money.
    VqrpPayments,
}

/// A set of families: bit `f` for `Family::ALL[f]`. Stored with each fact a release counts, so
/// a family keeps its bit for good: new families go at the end of [`Family::ALL`].
pub type FamilyMask = u16;

/// The number of families.
pub const FAMILIES: usize = Family::ALL.len();

/// The service type whose services carry VQRP+ money.
pub const VQRP_PLUS: &str = "vqrp_plus";

impl Family {
    /// Every family, in the order a release keeps them.
    pub const ALL: [Self; 11] = [
        Self::Clients,
        Self::CasesOpened,
        Self::CasesClosed,
        Self::Referrals,
        Self::Services,
        Self::VqrpPlus,
        Self::Accepts,
        Self::FirstContacts,
        Self::VqrpApplications,
        Self::VqrpDecisions,
        Self::VqrpPayments,
    ];

    /// The family a metric reads.
    #[must_use]
    pub const fn of(metric: Metric) -> Self {
        match metric {
            Metric::ClientsServed => Self::Clients,
            Metric::CasesOpened => Self::CasesOpened,
            Metric::CasesClosed => Self::CasesClosed,
            Metric::Referrals => Self::Referrals,
            Metric::Services => Self::Services,
            Metric::VqrpPlusCents => Self::VqrpPlus,
            Metric::MinutesToAcceptP50 | Metric::MinutesToAcceptP90 => Self::Accepts,
            Metric::MinutesToFirstContactP50 | Metric::MinutesToFirstContactP90 => Self::FirstContacts,
            Metric::VqrpApplications => Self::VqrpApplications,
            Metric::VqrpApprovedCents | Metric::VqrpDaysToDecisionP50 | Metric::VqrpDaysToDecisionP90 => {
                Self::VqrpDecisions
            }
            Metric::VqrpPaidCents => Self::VqrpPayments,
        }
    }

    /// Its position in [`Family::ALL`].
    #[must_use]
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|&f| f == self).unwrap_or(0)
    }

    fn admits(self, kind: FactKind, vqrp: bool, minutes: Option<i64>) -> bool {
        match self {
            Self::Clients => matches!(kind, FactKind::CaseOpened | FactKind::ServiceDelivered),
            Self::CasesOpened => kind == FactKind::CaseOpened,
            Self::CasesClosed => kind == FactKind::CaseClosed,
            Self::Referrals => kind == FactKind::ReferralCreated,
            Self::Services => kind == FactKind::ServiceDelivered,
            Self::VqrpPlus => kind == FactKind::ServiceDelivered && vqrp,
            Self::Accepts => kind == FactKind::ReferralAccepted && minutes.is_some(),
            Self::FirstContacts => kind == FactKind::ReferralFirstContact && minutes.is_some(),
            Self::VqrpApplications => kind == FactKind::VqrpSubmitted,
            Self::VqrpDecisions => kind == FactKind::VqrpDecided && minutes.is_some(),
            Self::VqrpPayments => kind == FactKind::VqrpPaid,
        }
    }

    /// Whether its figures include percentiles of the facts' durations.
    const fn has_durations(self) -> bool {
        matches!(self, Self::Accepts | Self::FirstContacts | Self::VqrpDecisions)
    }
}

/// One family's figures in one cell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Facts (cases, services, referrals...).
    pub events: u32,
    /// Distinct people (pseudonymous subjects).
    pub people: u32,
    /// Money, in cents.
    pub sum: i64,
    /// Nearest-rank median of the durations (minutes or business days; those families only).
    pub p50: Option<i32>,
    /// Nearest-rank 90th percentile of the durations.
    pub p90: Option<i32>,
    /// Facts of the family here that the release does not count yet (they wait until they can
    /// be published safely, `super::lineage`): the cell has facts even when `events` is 0.
    pub pending: u32,
}

impl Tally {
    /// Whether any fact of the family falls here, counted or waiting.
    #[must_use]
    pub const fn present(&self) -> bool {
        self.events > 0 || self.pending > 0
    }
}

/// One fact as the release reads it. `plain[d]` is the value for `PLAIN[d]` (the agency as its
/// tenant id), `None` where the fact has none (grouped as `not_recorded`).
#[derive(Clone, Copy, Debug)]
pub struct FactInput<'a> {
    /// What happened.
    pub kind: FactKind,
    /// The Ontario date.
    pub occurred_on: NaiveDate,
    /// The plain dimensions' values.
    pub plain: [Option<&'a str>; 8],
    /// VQRP+ money.
    pub amount_cents: Option<i64>,
    /// The duration percentiles read: a referral's response minutes, or the business days a
    /// VQRP+ decision took.
    pub minutes: Option<i64>,
    /// The person's pseudonym.
    pub subject: &'a str,
    /// The families (bits in [`Family::ALL`] order) whose figures already count this fact: set by
    /// an earlier build of the year's release, which never takes a fact back.
    pub counted: FamilyMask,
}

/// A fact that cannot be tabulated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TabulateError {
    /// Its date is not in the release's fiscal year.
    #[error("a fact of {0} is outside the fiscal year")]
    OutsideYear(NaiveDate),
    /// A dimension has more distinct values than a key can hold.
    #[error("dimension {0} has more than 65,536 distinct values")]
    TooManyValues(&'static str),
}

#[derive(Clone, Copy)]
pub(super) struct Row {
    pub(super) kind: FactKind,
    pub(super) month: u8,
    pub(super) plain: [u16; 8],
    amount: i64,
    pub(super) minutes: Option<i64>,
    pub(super) subject: u32,
    /// The families an earlier build counts it in.
    pub(super) counted: FamilyMask,
}

/// Facts of one scope and fiscal year, gathered for tabulation.
#[derive(Debug)]
pub struct Tabulation {
    fiscal_year: i32,
    values: [HashMap<String, u16>; 8],
    subjects: HashMap<String, u32>,
    rows: Vec<Row>,
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Row").field("kind", &self.kind).field("month", &self.month).finish_non_exhaustive()
    }
}

/// The facts of a year, coded: the sorted dictionary of each plain dimension's values, and the
/// microcells the facts fall at. [`Tabulated::cells`] tallies them.
#[derive(Clone, Debug)]
pub struct Tabulated {
    /// The fiscal year.
    pub fiscal_year: i32,
    /// By plain dimension, its values in sorted order: a key's value code indexes this.
    pub dictionaries: [Vec<String>; 8],
    /// Every distinct full coordinate facts fall at (a month and a value of every plain
    /// dimension), sorted, with the people of each family there: what protection partitions.
    pub microcells: Vec<Microcell>,
    /// The facts, in the order they were pushed.
    pub(super) rows: Vec<Row>,
    /// For each fact (in push order), the families that admit it (bits in [`Family::ALL`] order).
    pub(super) admitted: Vec<FamilyMask>,
}

/// A month and a value for every plain dimension, and the people each family has there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Microcell {
    /// Fiscal month, 0 (April) to 11.
    pub month: u8,
    /// Value codes, in `PLAIN` order.
    pub plain: [u16; 8],
    /// By family (in [`Family::ALL`] order), the distinct people (tabulation's subject numbers),
    /// sorted, of the facts an earlier build counts.
    pub counted: [Vec<u32>; FAMILIES],
    /// The same, of the facts no build counts yet.
    pub new: [Vec<u32>; FAMILIES],
}

impl Microcell {
    /// Whether the family has any fact here.
    #[must_use]
    pub fn has(&self, family: usize) -> bool {
        !self.counted[family].is_empty() || !self.new[family].is_empty()
    }
}

impl Tabulation {
    /// An empty tabulation of `fiscal_year`.
    #[must_use]
    pub fn new(fiscal_year: i32) -> Self {
        Self { fiscal_year, values: Default::default(), subjects: HashMap::new(), rows: Vec::new() }
    }

    /// Adds a fact.
    ///
    /// # Errors
    /// [`TabulateError`] for a fact outside the year, or a dimension with too many values.
    pub fn push(&mut self, fact: &FactInput<'_>) -> Result<(), TabulateError> {
        if FiscalQuarter::of(fact.occurred_on).year() != self.fiscal_year {
            return Err(TabulateError::OutsideYear(fact.occurred_on));
        }
        let mut plain = [0_u16; 8];
        for (d, value) in fact.plain.iter().enumerate() {
            let value = value.unwrap_or(NOT_RECORDED);
            let codes = &mut self.values[d];
            let next = codes.len();
            let code = match codes.get(value) {
                Some(&code) => code,
                None => {
                    let code = u16::try_from(next).map_err(|_| TabulateError::TooManyValues(PLAIN[d].as_str()))?;
                    codes.insert(value.to_owned(), code);
                    code
                }
            };
            plain[d] = code;
        }
        let next = u32::try_from(self.subjects.len()).unwrap_or(u32::MAX);
        let subject = *self.subjects.entry(fact.subject.to_owned()).or_insert(next);
        self.rows.push(Row {
            kind: fact.kind,
            month: Node::fiscal_month(fact.occurred_on.month()),
            plain,
            amount: fact.amount_cents.unwrap_or(0),
            minutes: fact.minutes,
            subject,
            counted: fact.counted,
        });
        Ok(())
    }

    /// How many facts it holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether it holds none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Tabulates every cell.
    #[must_use]
    pub fn finish(self) -> Tabulated {
        let Self { fiscal_year, values, subjects: _, mut rows } = self;
        // Codes in sorted order of the values, so keys (and the release) depend on the facts
        // alone, not on the order they were read in.
        let mut dictionaries: [Vec<String>; 8] = Default::default();
        let mut recode: [Vec<u16>; 8] = Default::default();
        for (d, codes) in values.into_iter().enumerate() {
            let mut sorted: Vec<(String, u16)> = codes.into_iter().collect();
            sorted.sort();
            recode[d] = vec![0; sorted.len()];
            for (new, (_, old)) in sorted.iter().enumerate() {
                recode[d][usize::from(*old)] = u16::try_from(new).unwrap_or(u16::MAX);
            }
            dictionaries[d] = sorted.into_iter().map(|(v, _)| v).collect();
        }
        for row in &mut rows {
            for d in 0..8 {
                row.plain[d] = recode[d][usize::from(row.plain[d])];
            }
        }
        let service_type = PLAIN.iter().position(|&d| d == Dimension::ServiceType).unwrap_or(4);
        let vqrp = dictionaries[service_type].iter().position(|v| v == VQRP_PLUS);
        let vqrp = vqrp.and_then(|c| u16::try_from(c).ok());
        let admitted: Vec<FamilyMask> = rows
            .iter()
            .map(|r| {
                Family::ALL.iter().enumerate().fold(0, |mask: FamilyMask, (f, family)| {
                    let admits = family.admits(r.kind, Some(r.plain[service_type]) == vqrp, r.minutes);
                    if admits { mask | (1 << f) } else { mask }
                })
            })
            .collect();
        // A family never counts a fact it does not admit.
        for (row, mask) in rows.iter_mut().zip(&admitted) {
            row.counted &= mask;
        }
        let microcells = microcells(&rows, &admitted);
        Tabulated { fiscal_year, dictionaries, microcells, rows, admitted }
    }
}

impl Tabulated {
    /// The families that admit each fact (in push order; bits in [`Family::ALL`] order).
    #[must_use]
    pub fn admitted(&self) -> &[FamilyMask] {
        &self.admitted
    }

    /// Treats every fact as new: a build without a lineage protects them afresh.
    pub(super) fn forget_counted(&mut self) {
        for row in &mut self.rows {
            row.counted = 0;
        }
        for m in &mut self.microcells {
            for f in 0..Family::ALL.len() {
                let counted = std::mem::take(&mut m.counted[f]);
                m.new[f].extend(counted);
                m.new[f].sort_unstable();
                m.new[f].dedup();
            }
        }
    }

    /// For each fact (push order), the families that count it after a build in which
    /// `takes_new(family, microcell)` says whether the microcell's new facts are counted.
    pub(super) fn counted_after(&self, takes_new: impl Fn(usize, usize) -> bool) -> Vec<FamilyMask> {
        self.rows
            .iter()
            .zip(&self.admitted)
            .map(|(row, admitted)| {
                let Ok(at) = self.microcells.binary_search_by_key(&(row.month, row.plain), |m| (m.month, m.plain))
                else {
                    return row.counted;
                };
                (0..Family::ALL.len()).fold(row.counted, |mask, f| {
                    if admitted & (1 << f) != 0 && takes_new(f, at) { mask | (1 << f) } else { mask }
                })
            })
            .collect()
    }

    /// Every cell the facts fall in, sorted by key, with each family's tally (in
    /// [`Family::ALL`] order): a fact adds to a family's figures where `counted[i]` (in push order)
    /// has the family's bit, and to its `pending` otherwise.
    #[must_use]
    pub fn cells(&self, counted: &[FamilyMask]) -> Vec<(CellKey, [Tally; FAMILIES])> {
        let families: Vec<(Family, Vec<(Row, bool)>)> = Family::ALL
            .iter()
            .enumerate()
            .map(|(f, &family)| {
                let rows = self
                    .rows
                    .iter()
                    .zip(&self.admitted)
                    .zip(counted)
                    .filter(|((_, admitted), _)| *admitted & (1 << f) != 0)
                    .map(|((row, _), counted)| (*row, counted & (1 << f) != 0))
                    .collect();
                (family, rows)
            })
            .collect();
        tabulate_shapes(&families)
    }
}

/// The distinct full coordinates of `rows`, in order, with each family's people, counted and new.
fn microcells(rows: &[Row], admitted: &[FamilyMask]) -> Vec<Microcell> {
    type People = ([Vec<u32>; FAMILIES], [Vec<u32>; FAMILIES]);
    let mut by_point: HashMap<(u8, [u16; 8]), People> = HashMap::new();
    for (row, admitted) in rows.iter().zip(admitted) {
        let (counted, new) = by_point.entry((row.month, row.plain)).or_default();
        for f in 0..Family::ALL.len() {
            if admitted & (1 << f) != 0 {
                if row.counted & (1 << f) != 0 { &mut counted[f] } else { &mut new[f] }.push(row.subject);
            }
        }
    }
    let mut out: Vec<Microcell> = by_point
        .into_iter()
        .map(|((month, plain), (mut counted, mut new))| {
            for list in counted.iter_mut().chain(new.iter_mut()) {
                list.sort_unstable();
                list.dedup();
            }
            Microcell { month, plain, counted, new }
        })
        .collect();
    out.sort_unstable_by_key(|m| (m.month, m.plain));
    out
}

/// The cells a fact (or microcell) of fiscal month `month` with `values` falls in, into `out`
/// (emptied first, so a loop reuses one buffer).
pub fn keys_into(month: u8, values: &[u16; 8], out: &mut Vec<CellKey>) {
    thread_local! {
        static LAYOUT: Layout = Layout::new();
    }
    LAYOUT.with(|layout| layout.keys(month, values, out));
}

/// The (node, mask) pairs a fact of month `m` falls in: 93 in the year, 37 in its quarter and
/// 37 in its month.
struct Layout {
    by_level: Vec<(Level, Vec<u8>)>,
}

impl Layout {
    fn new() -> Self {
        Self { by_level: Level::ALL.iter().map(|&l| (l, masks(l))).collect() }
    }

    fn keys(&self, month: u8, values: &[u16; 8], out: &mut Vec<CellKey>) {
        out.clear();
        for (level, masks) in &self.by_level {
            let node = node_at(*level, month);
            out.extend(masks.iter().map(|&mask| CellKey::new(node, mask, values)));
        }
    }
}

/// One fact as one shape of cell sees it: its cell, its person and its figures, and whether
/// the release counts it yet.
#[derive(Clone, Copy)]
struct Item {
    key: CellKey,
    counted: bool,
    subject: u32,
    minutes: i32,
    amount: i64,
}

/// Every cell of every shape, sorted by key, the shapes shared out among the cores.
fn tabulate_shapes(families: &[(Family, Vec<(Row, bool)>)]) -> Vec<(CellKey, [Tally; FAMILIES])> {
    let shapes: Vec<(Level, u8)> =
        Level::ALL.iter().flat_map(|&level| masks(level).into_iter().map(move |mask| (level, mask))).collect();
    let mut cells: Vec<(CellKey, [Tally; FAMILIES])> = on_every_core(shapes.len(), |job| {
        let (level, mask) = shapes[job];
        let mut out = Vec::new();
        tabulate_shape(level, mask, families, &mut Vec::new(), &mut out);
        out
    })
    .into_iter()
    .flatten()
    .collect();
    cells.sort_unstable_by_key(|(key, _)| *key);
    cells
}

/// The cells of one level and mask, appended to `out` (`items` is scratch space).
fn tabulate_shape(
    level: Level,
    mask: u8,
    families: &[(Family, Vec<(Row, bool)>)],
    items: &mut Vec<Item>,
    out: &mut Vec<(CellKey, [Tally; FAMILIES])>,
) {
    let mut shape: Vec<(CellKey, usize, Tally)> = Vec::new();
    for (family, rows) in families {
        items.clear();
        items.extend(rows.iter().map(|(r, counted)| Item {
            key: CellKey::new(node_at(level, r.month), mask, &r.plain),
            counted: *counted,
            subject: r.subject,
            minutes: i32::try_from(r.minutes.unwrap_or(0)).unwrap_or(i32::MAX),
            amount: r.amount,
        }));
        // Within a cell, the waiting facts first: the counted ones are then one run.
        items.sort_unstable_by_key(|i| (i.key, i.counted, i.subject));
        for cell in items.chunk_by_mut(|a, b| a.key == b.key) {
            let key = cell[0].key;
            let waiting = cell.iter().take_while(|i| !i.counted).count();
            let pending = u32::try_from(waiting).unwrap_or(u32::MAX);
            let run = &mut cell[waiting..];
            if run.is_empty() {
                shape.push((key, family.index(), Tally { pending, ..Tally::default() }));
                continue;
            }
            let events = u32::try_from(run.len()).unwrap_or(u32::MAX);
            let people = 1 + run.windows(2).filter(|w| w[0].subject != w[1].subject).count();
            let mut tally = Tally {
                events,
                people: u32::try_from(people).unwrap_or(u32::MAX),
                sum: run.iter().map(|i| i.amount).sum(),
                p50: None,
                p90: None,
                pending,
            };
            if family.has_durations() {
                run.sort_unstable_by_key(|i| i.minutes);
                let at =
                    |p| run.get(usize::try_from(rank(events, p)).unwrap_or(0).saturating_sub(1)).map(|i| i.minutes);
                tally.p50 = at(50);
                tally.p90 = at(90);
            }
            shape.push((key, family.index(), tally));
        }
    }
    shape.sort_unstable_by_key(|&(key, family, _)| (key, family));
    for same in shape.chunk_by(|a, b| a.0 == b.0) {
        let mut tallies = [Tally::default(); FAMILIES];
        for &(_, family, tally) in same {
            tallies[family] = tally;
        }
        out.push((same[0].0, tallies));
    }
}

/// The node of `level` a fact of fiscal month `month` falls in.
const fn node_at(level: Level, month: u8) -> Node {
    match level {
        Level::Year => Node::Year,
        Level::Quarter => Node::Quarter(month / 3 + 1),
        Level::Month => Node::Month(month),
    }
}

/// The nearest rank of the `p`-th percentile of `n` values (1-based).
#[must_use]
pub const fn rank(n: u32, p: u32) -> u32 {
    (n * p).div_ceil(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).unwrap_or_default()
    }

    fn fact<'a>(kind: FactKind, on: NaiveDate, gender: &'a str, subject: &'a str) -> FactInput<'a> {
        let mut plain = [None; 8];
        plain[0] = Some("agency-a");
        plain[5] = Some(gender);
        FactInput { kind, occurred_on: on, plain, amount_cents: None, minutes: None, subject, counted: 0 }
    }

    /// Every fact counted in every family that admits it.
    fn all_counted(t: &Tabulated) -> Vec<(CellKey, [Tally; FAMILIES])> {
        t.cells(t.admitted())
    }

    fn tally(t: &Tabulated, node: Node, mask: u8, values: [u16; 8], family: Family) -> Tally {
        let key = CellKey::new(node, mask, &values);
        all_counted(t).iter().find(|(k, _)| *k == key).map(|(_, tallies)| tallies[family.index()]).unwrap_or_default()
    }

    #[test]
    fn people_are_counted_once_per_cell_and_events_each_time() {
        let mut t = Tabulation::new(2026);
        for (on, gender, subject) in
            [(day(4, 10), "woman", "p1"), (day(4, 11), "woman", "p1"), (day(5, 1), "man", "p2")]
        {
            t.push(&fact(FactKind::ServiceDelivered, on, gender, subject)).unwrap_or_else(|e| panic!("{e}"));
        }
        let t = t.finish();
        assert_eq!(t.dictionaries[5], vec!["man".to_owned(), "woman".to_owned()]);
        let year = tally(&t, Node::Year, 0, [0; 8], Family::Services);
        assert_eq!((year.events, year.people), (3, 2));
        let april_women = tally(&t, Node::Month(0), 1 << 5, [0, 0, 0, 0, 0, 1, 0, 0], Family::Services);
        assert_eq!((april_women.events, april_women.people), (2, 1));
        assert_eq!(tally(&t, Node::Year, 0, [0; 8], Family::Clients).people, 2);
        assert_eq!(tally(&t, Node::Year, 0, [0; 8], Family::CasesOpened), Tally::default());
    }

    #[test]
    fn percentiles_are_the_nearest_rank_of_each_cell() {
        let mut t = Tabulation::new(2026);
        let subjects: Vec<String> = (0..10).map(|i| format!("p{i}")).collect();
        for (i, subject) in subjects.iter().enumerate() {
            let mut f = fact(FactKind::ReferralAccepted, day(6, 1), "woman", subject);
            f.minutes = Some(i64::try_from(10 - i).unwrap_or(0) * 3);
            t.push(&f).unwrap_or_else(|e| panic!("{e}"));
        }
        let t = t.finish();
        let q1 = tally(&t, Node::Quarter(1), 0, [0; 8], Family::Accepts);
        // Minutes 3, 6, ..., 30: the 5th is 15, the 9th is 27.
        assert_eq!((q1.events, q1.p50, q1.p90), (10, Some(15), Some(27)));
    }

    #[test]
    fn every_cell_agrees_with_counting_its_facts_one_by_one() {
        // Many facts over few values, so cells hold several people and several facts each.
        let mut state: u64 = 7;
        let mut next = move |m: u64| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % m
        };
        let kinds = [FactKind::CaseOpened, FactKind::ServiceDelivered, FactKind::ReferralAccepted];
        let genders = ["woman", "man", "non_binary"];
        let services = ["vqrp_plus", "counselling"];
        let subjects: Vec<String> = (0..40).map(|i| format!("p{i}")).collect();
        let mut t = Tabulation::new(2026);
        let mut facts = Vec::new();
        for _ in 0..400 {
            let kind = kinds[usize::try_from(next(3)).unwrap_or(0)];
            let mut f = fact(
                kind,
                day(4 + u32::try_from(next(6)).unwrap_or(0), 1),
                genders[usize::try_from(next(3)).unwrap_or(0)],
                &subjects[usize::try_from(next(40)).unwrap_or(0)],
            );
            if kind == FactKind::ServiceDelivered {
                f.plain[4] = Some(services[usize::try_from(next(2)).unwrap_or(0)]);
                f.amount_cents = (f.plain[4] == Some(VQRP_PLUS)).then(|| i64::try_from(next(1000)).unwrap_or(0));
            }
            f.minutes = (kind == FactKind::ReferralAccepted).then(|| i64::try_from(next(90)).unwrap_or(0));
            t.push(&f).unwrap_or_else(|e| panic!("{e}"));
            facts.push(f);
        }
        let t = t.finish();
        // Counted directly: each fact into every cell it falls in, people as a set.
        let code = |d: usize, v: Option<&str>| {
            let v = v.unwrap_or(NOT_RECORDED);
            u16::try_from(t.dictionaries[d].iter().position(|x| x == v).unwrap_or(0)).unwrap_or(0)
        };
        type Direct = (u32, std::collections::BTreeSet<String>, i64, Vec<i32>);
        let mut direct: HashMap<(CellKey, usize), Direct> = HashMap::new();
        let mut keys = Vec::new();
        for f in &facts {
            let values: [u16; 8] = std::array::from_fn(|d| code(d, f.plain[d]));
            let vqrp = f.plain[4] == Some(VQRP_PLUS);
            keys_into(Node::fiscal_month(f.occurred_on.month()), &values, &mut keys);
            for family in Family::ALL.iter().filter(|fam| fam.admits(f.kind, vqrp, f.minutes)) {
                for &key in &keys {
                    let cell = direct.entry((key, family.index())).or_default();
                    cell.0 += 1;
                    cell.1.insert(f.subject.to_owned());
                    cell.2 += f.amount_cents.unwrap_or(0);
                    cell.3.extend(f.minutes.map(|m| i32::try_from(m).unwrap_or(0)));
                }
            }
        }
        let mut seen = 0;
        for (key, tallies) in &all_counted(&t) {
            for family in Family::ALL {
                let tally = tallies[family.index()];
                let Some((events, people, sum, minutes)) = direct.get_mut(&(*key, family.index())) else {
                    assert_eq!(tally, Tally::default(), "{key:?} {family:?}");
                    continue;
                };
                seen += 1;
                minutes.sort_unstable();
                let at = |p| minutes.get(usize::try_from(rank(*events, p)).unwrap_or(0).wrapping_sub(1)).copied();
                let expected = Tally {
                    events: *events,
                    people: u32::try_from(people.len()).unwrap_or(0),
                    sum: *sum,
                    p50: if family.has_durations() { at(50) } else { None },
                    p90: if family.has_durations() { at(90) } else { None },
                    pending: 0,
                };
                assert_eq!(tally, expected, "{key:?} {family:?}");
            }
        }
        assert_eq!(seen, direct.len(), "every directly counted cell is tabulated");
    }

    #[test]
    fn a_fact_outside_the_year_is_refused() {
        let mut t = Tabulation::new(2026);
        let outside = fact(FactKind::CaseOpened, day(3, 31), "man", "p");
        assert_eq!(t.push(&outside), Err(TabulateError::OutsideYear(day(3, 31))));
        assert!(t.is_empty());
    }
}
