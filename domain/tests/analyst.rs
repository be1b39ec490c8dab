//! The analyst: no sequence of answers discloses a withheld figure.
//!
//! What this proves, for random small fact sets of one scope and fiscal year and for named cases:
//! an analyst who asks the questions `GET /aggregates` accepts and puts every figure into one
//! exact linear system per metric cannot work out a withheld figure resting on 1 to t − 1 people,
//! nor the total of a small group of withheld cells. The questions (see [`ask_everything`]):
//! every period node (the year, 4 quarters, 12 months); every set of up to three dimensions that
//! [`answer::plan`] accepts, for every metric, and every other order of it for [`EVERY_ORDER`]
//! (all 821 orders for every metric are too slow in a debug build; the other orders are
//! checked to show exactly the same cells and figures as the first); and, pooled with the
//! ministry's, each agency's own questions ([`answer::plan_fixing`]) of three dimensions besides
//! the agency, the only ones that show cells the ministry cannot ask for.
//!
//! How (the attacker model):
//! - A row is identified by what it says, never by the release's keys: the period node (the
//!   question's period, made finer by the row's `month` or `fiscal_quarter` label) and the
//!   (plain dimension, label) pairs it names (an agency's own answers name that agency). Every
//!   answer showing a cell must show the same figure; the analyst keeps the union of all answers.
//! - A cell of a shape (period node and plain dimensions) some answer lists, that no answer shows,
//!   is a known zero: asking every question, every cell no answer shows is a known zero. A cell of
//!   a shape no answer lists is a free unknown.
//! - Relations, derived here from the cell identities alone (not from the release's code): a cell
//!   is the sum of the cells naming one more plain dimension (all its values; used where an answer
//!   lists that finer shape, so every part is known to the analyst), a quarter the sum of its
//!   three months, the year the sum of its quarters. One system per additive metric
//!   (clients_served is treated as additive, the stronger assumption); the unknowns are the
//!   withheld (and free) cells; it is reduced exactly, modulo the prime 2^61 − 1, to reduced row
//!   echelon form. A cell is determined iff a row of the RREF is its unit vector; its value is
//!   that row's right-hand side.
//! - The truth is computed naively from the raw facts (distinct subjects of each cell and family).
//!   The release protects each figure family with its own pattern, so a metric's figures are
//!   judged by the people of its own family. Findings: (a) a determined cell resting on 1..t−1
//!   people; (b) a relation whose total is known while its withheld parts together (the exact
//!   union of distinct people) rest on 1..t−1 people; (c) a published figure resting on 1..t−1
//!   people; (d) a published percentile with fewer than t values at or below, or at or above, its
//!   nearest rank (or not the nearest-rank value of the facts); and any two answers showing one
//!   cell differently, or a published figure other than the truth.
//!
//! The same checker ([`disclosures`], or an [`Analyst`] fed answer by answer) finds the disclosure
//! of the old behaviour, each answer protected on its own with [`domain::reporting::protect`]
//! (`the_old_per_answer_protection_is_caught`), so a pass is not a checker that finds nothing.
//!
//! What it does not cover: reasoning with bounds (counts are non-negative, a primary cell is
//! known to rest on 1..t−1 people, integer or interval reasoning on the system); relations
//! between families (clients ⊇ services' people); sums over sets of withheld cells other than
//! one relation's parts; comparing releases built at different times (facts added or corrected
//! between them); other scopes or fiscal years.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::BuildHasherDefault;

use chrono::{Datelike, NaiveDate};
use domain::reporting::release::answer::{self, AnswerRow};
use domain::reporting::release::{self, FactInput, Figure, Node, Release, Tabulation};
use domain::reporting::{Additivity, Cell, Dimension, FactKind, Metric, NOT_RECORDED, protect};
use proptest::prelude::*;

const THRESHOLD: i64 = 5;
const FISCAL_YEAR: i32 = 2026;

// ---------------------------------------------------------------------------------------------
// Facts, periods and labels (this file's own reading of them)
// ---------------------------------------------------------------------------------------------

/// The dimensions besides time, in this file's own order.
const PLAIN: [Dimension; 8] = [
    Dimension::Agency,
    Dimension::Program,
    Dimension::VictimizationType,
    Dimension::Division,
    Dimension::ServiceType,
    Dimension::Gender,
    Dimension::AgeBand,
    Dimension::Urgency,
];
const AGENCY: usize = 0;
const PROGRAM: usize = 1;
const VICTIMIZATION: usize = 2;
const DIVISION: usize = 3;
const SERVICE_TYPE: usize = 4;
const GENDER: usize = 5;
const AGE_BAND: usize = 6;

fn plain_pos(d: Dimension) -> Option<usize> {
    PLAIN.iter().position(|&p| p == d)
}

/// One fact as the facts table holds it.
#[derive(Clone, Debug)]
struct Fact {
    kind: FactKind,
    on: NaiveDate,
    /// By [`PLAIN`] position.
    plain: [Option<String>; 8],
    amount_cents: Option<i64>,
    minutes: Option<i64>,
    subject: String,
}

impl Fact {
    fn month(&self) -> u8 {
        u8::try_from((self.on.month() + 8) % 12).unwrap_or(0)
    }

    fn label(&self, d: usize) -> &str {
        self.plain[d].as_deref().unwrap_or(NOT_RECORDED)
    }
}

/// The calendar year and month of fiscal month `m` (0 = April).
fn calendar(m: u8) -> (i32, u32) {
    let month = (u32::from(m) + 3) % 12 + 1;
    (if m >= 9 { FISCAL_YEAR + 1 } else { FISCAL_YEAR }, month)
}

fn date(m: u8, day: u32) -> NaiveDate {
    let (year, month) = calendar(m);
    NaiveDate::from_ymd_opt(year, month, day).unwrap_or_else(|| panic!("no day {day} in month {m}"))
}

fn month_label(m: u8) -> String {
    let (year, month) = calendar(m);
    format!("{year}-{month:02}")
}

fn quarter_label(q: u8) -> String {
    format!("{FISCAL_YEAR}-Q{q}")
}

/// `2026-07` to its fiscal month, if it is one of the fiscal year's.
fn parse_month(label: &str) -> Option<u8> {
    let (year, month) = label.split_once('-')?;
    let (year, month): (i32, u32) = (year.parse().ok()?, month.parse().ok()?);
    let m = u8::try_from((month + 8) % 12).ok()?;
    ((1..=12).contains(&month) && calendar(m) == (year, month)).then_some(m)
}

/// `2026-Q3` to its quarter.
fn parse_quarter(label: &str) -> Option<u8> {
    let (year, q) = label.split_once("-Q")?;
    let (year, q): (i32, u8) = (year.parse().ok()?, q.parse().ok()?);
    (year == FISCAL_YEAR && (1..=4).contains(&q)).then_some(q)
}

fn within(month: u8, node: Node) -> bool {
    match node {
        Node::Year => true,
        Node::Quarter(q) => month / 3 + 1 == q,
        Node::Month(m) => month == m,
    }
}

fn children(node: Node) -> Vec<Node> {
    match node {
        Node::Year => (1..=4).map(Node::Quarter).collect(),
        Node::Quarter(q) => ((q - 1) * 3..q * 3).map(Node::Month).collect(),
        Node::Month(_) => Vec::new(),
    }
}

/// The most plain dimensions besides the agency a cell of `node` names (the agency does not
/// count: every cell exists for each agency too).
fn max_plain(node: Node) -> usize {
    if node == Node::Year { 3 } else { 2 }
}

fn all_periods() -> Vec<Node> {
    let mut out = vec![Node::Year];
    out.extend((1..=4).map(Node::Quarter));
    out.extend((0..12).map(Node::Month));
    out
}

/// Every set of 0 to 3 distinct dimensions, in [`Dimension::ALL`] order.
fn all_sets() -> Vec<Vec<Dimension>> {
    let n = Dimension::ALL.len();
    (0_usize..1 << n)
        .filter(|s| s.count_ones() <= 3)
        .map(|s| (0..n).filter(|i| s & (1 << i) != 0).map(|i| Dimension::ALL[i]).collect())
        .collect()
}

/// Every order of `set`.
fn permutations(set: &[Dimension]) -> Vec<Vec<Dimension>> {
    if set.len() <= 1 {
        return vec![set.to_vec()];
    }
    let mut out = Vec::new();
    for (i, &first) in set.iter().enumerate() {
        let rest: Vec<Dimension> = set.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, &d)| d).collect();
        for mut tail in permutations(&rest) {
            tail.insert(0, first);
            out.push(tail);
        }
    }
    out
}

/// Whether the API should accept `group_by` over `period`: at most three plain dimensions
/// besides the agency over the year, two once the question reaches a quarter or a month.
fn answerable(period: Node, group_by: &[Dimension]) -> bool {
    let plain = group_by.iter().filter(|&&d| plain_pos(d).is_some_and(|p| p != AGENCY)).count();
    let timeless = !group_by.contains(&Dimension::Month) && !group_by.contains(&Dimension::FiscalQuarterOf);
    plain <= if period == Node::Year && timeless { 3 } else { 2 }
}

// ---------------------------------------------------------------------------------------------
// Families and metrics (this file's own reading)
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fam {
    Clients,
    CasesOpened,
    CasesClosed,
    Referrals,
    Services,
    VqrpPlus,
    Accepts,
    FirstContacts,
    VqrpApplications,
    VqrpDecisions,
    VqrpPayments,
}

const FAMILIES: [Fam; 11] = [
    Fam::Clients,
    Fam::CasesOpened,
    Fam::CasesClosed,
    Fam::Referrals,
    Fam::Services,
    Fam::VqrpPlus,
    Fam::Accepts,
    Fam::FirstContacts,
    Fam::VqrpApplications,
    Fam::VqrpDecisions,
    Fam::VqrpPayments,
];

impl Fam {
    fn admits(self, fact: &Fact) -> bool {
        let k = fact.kind;
        match self {
            Self::Clients => k == FactKind::CaseOpened || k == FactKind::ServiceDelivered,
            Self::CasesOpened => k == FactKind::CaseOpened,
            Self::CasesClosed => k == FactKind::CaseClosed,
            Self::Referrals => k == FactKind::ReferralCreated,
            Self::Services => k == FactKind::ServiceDelivered,
            Self::VqrpPlus => {
                k == FactKind::ServiceDelivered && fact.plain[SERVICE_TYPE].as_deref() == Some("vqrp_plus")
            }
            Self::Accepts => k == FactKind::ReferralAccepted && fact.minutes.is_some(),
            Self::FirstContacts => k == FactKind::ReferralFirstContact && fact.minutes.is_some(),
            Self::VqrpApplications => k == FactKind::VqrpSubmitted,
            Self::VqrpDecisions => k == FactKind::VqrpDecided && fact.minutes.is_some(),
            Self::VqrpPayments => k == FactKind::VqrpPaid,
        }
    }

    fn index(self) -> usize {
        FAMILIES.iter().position(|&f| f == self).unwrap_or(0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reads {
    People,
    Events,
    Cents,
    Percentile(u32),
}

fn family(metric: Metric) -> Fam {
    match metric {
        Metric::ClientsServed => Fam::Clients,
        Metric::CasesOpened => Fam::CasesOpened,
        Metric::CasesClosed => Fam::CasesClosed,
        Metric::Referrals => Fam::Referrals,
        Metric::Services => Fam::Services,
        Metric::VqrpPlusCents => Fam::VqrpPlus,
        Metric::MinutesToAcceptP50 | Metric::MinutesToAcceptP90 => Fam::Accepts,
        Metric::MinutesToFirstContactP50 | Metric::MinutesToFirstContactP90 => Fam::FirstContacts,
        Metric::VqrpApplications => Fam::VqrpApplications,
        Metric::VqrpApprovedCents | Metric::VqrpDaysToDecisionP50 | Metric::VqrpDaysToDecisionP90 => Fam::VqrpDecisions,
        Metric::VqrpPaidCents => Fam::VqrpPayments,
    }
}

fn reads(metric: Metric) -> Reads {
    match metric {
        Metric::ClientsServed => Reads::People,
        Metric::CasesOpened | Metric::CasesClosed | Metric::Referrals | Metric::Services | Metric::VqrpApplications => {
            Reads::Events
        }
        Metric::VqrpPlusCents | Metric::VqrpApprovedCents | Metric::VqrpPaidCents => Reads::Cents,
        Metric::MinutesToAcceptP50 | Metric::MinutesToFirstContactP50 | Metric::VqrpDaysToDecisionP50 => {
            Reads::Percentile(50)
        }
        Metric::MinutesToAcceptP90 | Metric::MinutesToFirstContactP90 | Metric::VqrpDaysToDecisionP90 => {
            Reads::Percentile(90)
        }
    }
}

fn metric_pos(metric: Metric) -> usize {
    Metric::ALL.iter().position(|&m| m == metric).unwrap_or_else(|| panic!("{metric:?}"))
}

/// The nearest rank (1-based) of the `p`-th percentile of `n` values.
fn nearest_rank(n: usize, p: u32) -> usize {
    (n * p as usize).div_ceil(100)
}

fn small(people: usize) -> bool {
    people > 0 && i64::try_from(people).unwrap_or(i64::MAX) < THRESHOLD
}

fn describe(people: &[usize; FAMILIES.len()]) -> String {
    let named: Vec<String> =
        FAMILIES.iter().zip(people).filter(|(_, n)| **n > 0).map(|(f, n)| format!("{f:?}={n}")).collect();
    named.join(",")
}

// ---------------------------------------------------------------------------------------------
// Cells as the analyst names them
// ---------------------------------------------------------------------------------------------

/// FNV-1a: the default hasher is slow in a debug build, and these maps hold millions of lookups.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }

    fn write_u8(&mut self, v: u8) {
        self.write_u64(u64::from(v));
    }

    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0 ^ v).wrapping_mul(0x100_0000_01b3).rotate_left(29);
    }

    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }

    fn write_isize(&mut self, v: isize) {
        self.write_u64(v as u64);
    }
}

type Map<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;
type Set<K> = HashSet<K, BuildHasherDefault<Fnv>>;

/// No label: the cell totals over that dimension.
const ALL_VALUES: u32 = u32::MAX;

/// A cell as rows name it: a period node and, by [`PLAIN`] position, the label it names
/// (interned, see [`Names`]) or [`ALL_VALUES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct CellId {
    node: Node,
    labels: [u32; 8],
}

impl CellId {
    fn mask(self) -> u8 {
        (0..8).filter(|&d| self.labels[d] != ALL_VALUES).fold(0, |m, d| m | (1 << d))
    }

    /// How many plain dimensions besides the agency it names.
    fn counted(self) -> usize {
        (0..8).filter(|&d| d != AGENCY && self.labels[d] != ALL_VALUES).count()
    }

    fn names(self, d: usize) -> bool {
        self.labels[d] != ALL_VALUES
    }

    fn without(mut self, d: usize) -> Self {
        self.labels[d] = ALL_VALUES;
        self
    }

    fn at(mut self, node: Node) -> Self {
        self.node = node;
        self
    }
}

/// The labels seen, interned.
#[derive(Default)]
struct Names {
    names: Vec<String>,
    ids: Map<String, u32>,
}

impl Names {
    fn id(&mut self, label: &str) -> u32 {
        if let Some(&id) = self.ids.get(label) {
            return id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(ALL_VALUES - 1);
        self.names.push(label.to_owned());
        self.ids.insert(label.to_owned(), id);
        id
    }

    fn get(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("?", String::as_str)
    }

    fn show(&self, cell: CellId) -> String {
        let mut out = match cell.node {
            Node::Year => format!("FY{FISCAL_YEAR}"),
            Node::Quarter(q) => quarter_label(q),
            Node::Month(m) => month_label(m),
        };
        for (d, dimension) in PLAIN.iter().enumerate() {
            if cell.names(d) {
                out.push_str(&format!(" {}={}", dimension.as_str(), self.get(cell.labels[d])));
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// The truth, read naively from the facts
// ---------------------------------------------------------------------------------------------

struct Truth {
    facts: Vec<Fact>,
    /// For each fact, the families whose figures count it (bits in `FAMILIES` order): a fact
    /// waiting to be counted (`release::lineage`) is in no figure, so in no truth of one.
    counted: Vec<u16>,
}

impl Truth {
    /// Every fact counted.
    fn all(facts: &[Fact]) -> Self {
        Self { facts: facts.to_vec(), counted: vec![u16::MAX; facts.len()] }
    }

    fn in_cell(fact: &Fact, cell: CellId, names: &Names) -> bool {
        within(fact.month(), cell.node) && (0..8).all(|d| !cell.names(d) || fact.label(d) == names.get(cell.labels[d]))
    }

    fn facts<'a>(&'a self, cell: CellId, fam: Fam, names: &'a Names) -> impl Iterator<Item = &'a Fact> + 'a {
        self.facts
            .iter()
            .zip(&self.counted)
            .filter(move |(f, counted)| {
                fam.admits(f) && *counted & (1 << fam.index()) != 0 && Self::in_cell(f, cell, names)
            })
            .map(|(f, _)| f)
    }

    /// Distinct people of `fam` in the union of `cells`.
    fn people_in(&self, cells: &[CellId], fam: Fam, names: &Names) -> usize {
        let subjects: BTreeSet<&str> =
            cells.iter().flat_map(|&c| self.facts(c, fam, names).map(|f| f.subject.as_str())).collect();
        subjects.len()
    }

    /// Distinct people of each family in the union of `cells`.
    fn people(&self, cells: &[CellId], names: &Names) -> [usize; FAMILIES.len()] {
        std::array::from_fn(|i| self.people_in(cells, FAMILIES[i], names))
    }

    fn minutes(&self, cell: CellId, fam: Fam, names: &Names) -> Vec<i64> {
        let mut out: Vec<i64> = self.facts(cell, fam, names).filter_map(|f| f.minutes).collect();
        out.sort_unstable();
        out
    }

    /// What `metric` truly is in `cell` (a percentile: its nearest-rank value, 0 if none).
    fn value(&self, cell: CellId, metric: Metric, names: &Names) -> i64 {
        let fam = family(metric);
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        match reads(metric) {
            Reads::People => count(self.people_in(&[cell], fam, names)),
            Reads::Events => count(self.facts(cell, fam, names).count()),
            Reads::Cents => self.facts(cell, fam, names).map(|f| f.amount_cents.unwrap_or(0)).sum(),
            Reads::Percentile(p) => {
                let minutes = self.minutes(cell, fam, names);
                let r = nearest_rank(minutes.len(), p);
                if r == 0 { 0 } else { minutes[r - 1] }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Exact linear algebra modulo 2^61 − 1
// ---------------------------------------------------------------------------------------------

const P: u64 = (1 << 61) - 1;

fn mul(a: u64, b: u64) -> u64 {
    u64::try_from(u128::from(a) * u128::from(b) % u128::from(P)).unwrap_or(0)
}

fn add(a: u64, b: u64) -> u64 {
    (a + b) % P
}

fn neg(a: u64) -> u64 {
    (P - a) % P
}

fn inverse(a: u64) -> u64 {
    let (mut base, mut exp, mut out) = (a, P - 2, 1);
    while exp > 0 {
        if exp & 1 == 1 {
            out = mul(out, base);
        }
        base = mul(base, base);
        exp >>= 1;
    }
    out
}

fn field(v: i64) -> u64 {
    u64::try_from(v.rem_euclid(i64::try_from(P).unwrap_or(i64::MAX))).unwrap_or(0)
}

/// A value read back from the field (values above P / 2 are negative).
fn signed(v: u64) -> i64 {
    let v = i64::try_from(v).unwrap_or(i64::MAX);
    let p = i64::try_from(P).unwrap_or(i64::MAX);
    if v > p / 2 { v - p } else { v }
}

/// A sparse row: (column, coefficient) sorted by column, and its right-hand sides (one per
/// metric sharing the system).
#[derive(Clone, Debug)]
struct Row {
    entries: Vec<(usize, u64)>,
    rhs: Vec<u64>,
}

fn axpy(acc: &mut [u64], f: u64, x: &[u64]) {
    for (a, &v) in acc.iter_mut().zip(x) {
        *a = add(*a, mul(f, v));
    }
}

/// The reduced row echelon form of `rows` over `columns` unknowns: its nonzero rows, each with
/// coefficient 1 on its pivot and 0 on every other row's pivot.
fn rref(columns: usize, rows: Vec<Row>) -> Vec<Row> {
    // Forward: each new row is reduced against every pivot so far, so it holds no earlier pivot
    // column; its smallest column becomes its pivot.
    let mut pivot_row: Vec<Option<usize>> = vec![None; columns];
    let mut basis: Vec<Row> = Vec::new();
    let mut dense = vec![0_u64; columns];
    let mut heap: std::collections::BinaryHeap<std::cmp::Reverse<usize>> = std::collections::BinaryHeap::new();
    let mut queued = vec![false; columns];
    for row in rows {
        let mut rhs = row.rhs;
        for &(c, v) in &row.entries {
            dense[c] = add(dense[c], v);
            if !queued[c] {
                queued[c] = true;
                heap.push(std::cmp::Reverse(c));
            }
        }
        let mut kept: Vec<(usize, u64)> = Vec::new();
        while let Some(std::cmp::Reverse(c)) = heap.pop() {
            queued[c] = false;
            let factor = dense[c];
            dense[c] = 0;
            if factor == 0 {
                continue;
            }
            match pivot_row[c] {
                Some(b) => {
                    let f = neg(factor);
                    for &(k, v) in &basis[b].entries[1..] {
                        dense[k] = add(dense[k], mul(f, v));
                        if !queued[k] {
                            queued[k] = true;
                            heap.push(std::cmp::Reverse(k));
                        }
                    }
                    axpy(&mut rhs, f, &basis[b].rhs);
                }
                None => kept.push((c, factor)),
            }
        }
        // `kept` is in ascending column order: the heap yields the smallest column first, and
        // eliminating a column only adds larger ones (a basis row's pivot is its smallest).
        if let Some(&(pivot, lead)) = kept.first() {
            let scale = inverse(lead);
            let entries = kept.into_iter().map(|(c, v)| (c, mul(v, scale))).collect();
            let rhs = rhs.into_iter().map(|v| mul(v, scale)).collect();
            pivot_row[pivot] = Some(basis.len());
            basis.push(Row { entries, rhs });
        }
    }
    // Backward: a row holds pivots only of rows made after it; those are reduced first, so they
    // hold their pivot and free columns only.
    for b in (0..basis.len()).rev() {
        let mut rhs = basis[b].rhs.clone();
        let mut touched: Vec<usize> = Vec::new();
        for &(c, v) in &basis[b].entries {
            dense[c] = v;
            touched.push(c);
        }
        let others: Vec<usize> = basis[b].entries[1..].iter().map(|e| e.0).collect();
        for c in others {
            let Some(o) = pivot_row[c] else { continue };
            let factor = dense[c];
            if factor == 0 {
                continue;
            }
            let f = neg(factor);
            for &(k, v) in &basis[o].entries {
                touched.push(k);
                dense[k] = add(dense[k], mul(f, v));
            }
            axpy(&mut rhs, f, &basis[o].rhs);
        }
        touched.sort_unstable();
        touched.dedup();
        let mut entries = Vec::new();
        for c in touched {
            if dense[c] != 0 {
                entries.push((c, dense[c]));
            }
            dense[c] = 0;
        }
        basis[b] = Row { entries, rhs };
    }
    basis
}

// ---------------------------------------------------------------------------------------------
// The analyst
// ---------------------------------------------------------------------------------------------

/// One answer as the analyst receives it: the question and its rows.
#[derive(Clone, Debug)]
struct PublishedAnswer {
    /// The agency whose own figures these are (its leads' answers), or `None` for the ministry's.
    agency: Option<String>,
    metric: Metric,
    period: Node,
    group_by: Vec<Dimension>,
    rows: Vec<AnswerRow>,
}

/// Everything heard so far, by metric.
struct Analyst {
    names: Names,
    shown: Vec<Map<CellId, Figure>>,
    /// (node, mask, agency or [`ALL_VALUES`]): the shapes an answer lists in full.
    covered: Vec<Set<(Node, u8, u32)>>,
    wrong: Vec<String>,
}

/// What the analyst found.
#[derive(Debug, Default)]
struct Report {
    findings: Vec<String>,
    /// Every withheld (or free) cell a system determines, by metric, with its value.
    determined: Vec<(Metric, CellId, i64)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Value(i64),
    Zero,
    Withheld,
    Free,
}

impl Status {
    fn known(self) -> Option<i64> {
        match self {
            Self::Value(v) => Some(v),
            Self::Zero => Some(0),
            Self::Withheld | Self::Free => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Along {
    Plain(usize),
    Time,
}

/// A figure, comparable.
fn figure_key(figure: Figure) -> (u8, i64) {
    match figure {
        Figure::Absent => (0, 0),
        Figure::Value(v) => (1, v),
        Figure::Withheld => (2, 0),
    }
}

/// What the analyst finds in `answers`.
fn disclosures(answers: &[PublishedAnswer], truth: &Truth) -> Vec<String> {
    let mut analyst = Analyst::new();
    for a in answers {
        analyst.hear(a);
    }
    analyst.report(truth).findings
}

impl Analyst {
    fn new() -> Self {
        let n = Metric::ALL.len();
        Self {
            names: Names::default(),
            shown: vec![Map::default(); n],
            covered: vec![Set::default(); n],
            wrong: Vec::new(),
        }
    }

    fn note(&mut self, finding: String) {
        if self.wrong.len() < 50 {
            self.wrong.push(finding);
        }
    }

    /// The cell of `node` naming `labels`.
    fn cell(&mut self, node: Node, labels: &[(usize, &str)]) -> CellId {
        let mut id = CellId { node, labels: [ALL_VALUES; 8] };
        for &(d, l) in labels {
            id.labels[d] = self.names.id(l);
        }
        id
    }

    /// Takes in an answer.
    fn hear(&mut self, a: &PublishedAnswer) {
        self.hear_keeping(a, false);
    }

    /// Takes in an answer; returns what it shows, sorted, if `keep`.
    fn hear_keeping(&mut self, a: &PublishedAnswer, keep: bool) -> Vec<(CellId, (u8, i64))> {
        let m = metric_pos(a.metric);
        let n = a.group_by.len();
        let agency = a.agency.as_deref().map_or(ALL_VALUES, |agency| self.names.id(agency));
        // The shapes it lists in full: one per subset of its dimensions.
        for subset in 0..(1_usize << n) {
            let named = || (0..n).filter(move |i| subset & (1 << i) != 0).map(|i| a.group_by[i]);
            let fixed: u8 = if a.agency.is_some() { 1 << AGENCY } else { 0 };
            let mask = named().filter_map(plain_pos).fold(fixed, |m, d| m | (1 << d));
            if named().any(|d| d == Dimension::Month) {
                for month in 0..12 {
                    if within(month, a.period) {
                        self.covered[m].insert((Node::Month(month), mask, agency));
                    }
                }
            } else if named().any(|d| d == Dimension::FiscalQuarterOf) && a.period == Node::Year {
                for q in 1..=4 {
                    self.covered[m].insert((Node::Quarter(q), mask, agency));
                }
            } else {
                self.covered[m].insert((a.period, mask, agency));
            }
        }
        let mut out = Vec::new();
        for row in &a.rows {
            let id = match self.identify(a, row, agency) {
                Ok(id) => id,
                Err(e) => {
                    self.note(e);
                    continue;
                }
            };
            if keep {
                out.push((id, figure_key(row.figure)));
            }
            if row.figure == Figure::Absent {
                let name = self.names.show(id);
                self.note(format!("{:?} shows {name} as absent", a.metric));
            }
            match self.shown[m].get(&id).copied() {
                None => {
                    self.shown[m].insert(id, row.figure);
                }
                Some(before) if before == row.figure => {}
                Some(before) => {
                    let name = self.names.show(id);
                    self.note(format!(
                        "{:?} shows {name} as {before:?} and, by {:?} over {:?} ({:?}), as {:?}",
                        a.metric, a.group_by, a.period, a.agency, row.figure
                    ));
                    if matches!(row.figure, Figure::Value(_)) && before == Figure::Withheld {
                        self.shown[m].insert(id, row.figure);
                    }
                }
            }
        }
        out.sort_unstable();
        out
    }

    /// The cell a row names: the question's period made finer by the row's month or quarter
    /// label, and its plain labels (an agency's own answers name the agency).
    fn identify(&mut self, a: &PublishedAnswer, row: &AnswerRow, agency: u32) -> Result<CellId, String> {
        if row.labels.len() != a.group_by.len() {
            return Err(format!("a row of {:?} has {} labels", a.group_by, row.labels.len()));
        }
        let mut id = CellId { node: a.period, labels: [ALL_VALUES; 8] };
        let (mut month, mut quarter) = (None, None);
        for (&d, label) in a.group_by.iter().zip(&row.labels) {
            let Some(label) = label else { continue };
            match d {
                Dimension::Month => month = Some(parse_month(label).ok_or_else(|| format!("month {label}"))?),
                Dimension::FiscalQuarterOf => {
                    quarter = Some(parse_quarter(label).ok_or_else(|| format!("quarter {label}"))?)
                }
                plain => id.labels[plain_pos(plain).ok_or("a plain dimension")?] = self.names.id(label),
            }
        }
        if agency != ALL_VALUES {
            if id.names(AGENCY) && id.labels[AGENCY] != agency {
                return Err(format!("{:?}'s answer shows another agency's row", a.agency));
            }
            id.labels[AGENCY] = agency;
        }
        id.node = match (month, quarter) {
            (Some(m), q) => {
                if !within(m, a.period) || q.is_some_and(|q| q != m / 3 + 1) {
                    return Err(format!("row month {m} outside {:?} or its quarter", a.period));
                }
                Node::Month(m)
            }
            (None, Some(q)) => match a.period {
                Node::Year => Node::Quarter(q),
                p if p.quarter() == Some(q) => p,
                p => return Err(format!("row quarter {q} outside {p:?}")),
            },
            (None, None) => a.period,
        };
        Ok(id)
    }

    fn is_covered(&self, m: usize, node: Node, mask: u8, agency: u32) -> bool {
        self.covered[m].contains(&(node, mask, ALL_VALUES))
            || (agency != ALL_VALUES && self.covered[m].contains(&(node, mask, agency)))
    }

    fn status(&self, m: usize, id: CellId) -> Status {
        match self.shown[m].get(&id) {
            Some(Figure::Value(v)) => Status::Value(*v),
            Some(Figure::Withheld) => Status::Withheld,
            Some(Figure::Absent) => Status::Zero,
            None if self.is_covered(m, id.node, id.mask(), id.labels[AGENCY]) => Status::Zero,
            None => Status::Free,
        }
    }

    /// Every relation the analyst can write for metric `m`: (total, parts).
    fn relations(&self, m: usize) -> Vec<(CellId, Vec<CellId>)> {
        let shown = &self.shown[m];
        let agencies: BTreeSet<u32> = shown
            .keys()
            .map(|id| id.labels[AGENCY])
            .chain(self.covered[m].iter().map(|c| c.2))
            .filter(|&a| a != ALL_VALUES)
            .collect();
        let mut index: Map<(CellId, usize), Vec<CellId>> = Map::default();
        let mut keys: Set<(CellId, Along)> = Set::default();
        for &id in shown.keys() {
            for d in 0..8 {
                if id.names(d) {
                    index.entry((id.without(d), d)).or_default().push(id);
                    keys.insert((id.without(d), Along::Plain(d)));
                } else if d == AGENCY || id.counted() < max_plain(id.node) {
                    keys.insert((id, Along::Plain(d)));
                }
            }
            match id.node {
                Node::Month(mm) => {
                    keys.insert((id.at(Node::Quarter(mm / 3 + 1)), Along::Time));
                }
                Node::Quarter(_) => {
                    keys.insert((id.at(Node::Year), Along::Time));
                    keys.insert((id, Along::Time));
                }
                Node::Year => {
                    keys.insert((id, Along::Time));
                }
            }
        }
        let mut out = Vec::new();
        for (total, along) in keys {
            match along {
                Along::Plain(d) => {
                    // Only where answers list that finer shape in full: then every part with facts
                    // is shown, and the others are zeros.
                    let mask = total.mask() | (1 << d);
                    let complete = if d == AGENCY {
                        self.is_covered(m, total.node, mask, ALL_VALUES)
                            || (!agencies.is_empty()
                                && agencies.iter().all(|&a| self.is_covered(m, total.node, mask, a)))
                    } else {
                        self.is_covered(m, total.node, mask, total.labels[AGENCY])
                    };
                    if !complete {
                        continue;
                    }
                    let mut parts = index.remove(&(total, d)).unwrap_or_default();
                    parts.sort_unstable();
                    out.push((total, parts));
                }
                Along::Time => {
                    // A quarter or month cell names at most two plain dimensions besides the agency.
                    if total.counted() > 2 {
                        continue;
                    }
                    out.push((total, children(total.node).into_iter().map(|n| total.at(n)).collect()));
                }
            }
        }
        out.sort_unstable();
        out
    }

    fn report(&self, truth: &Truth) -> Report {
        let names = &self.names;
        let mut report = Report { findings: self.wrong.clone(), ..Report::default() };
        let mut people_of: Map<(CellId, usize), usize> = Map::default();
        let mut people = |id: CellId, fam: Fam| {
            *people_of.entry((id, fam.index())).or_insert_with(|| truth.people_in(&[id], fam, names))
        };
        // (c) and (d): what is published.
        for (m, &metric) in Metric::ALL.iter().enumerate() {
            let fam = family(metric);
            let mut published: Vec<(CellId, i64)> = self.shown[m]
                .iter()
                .filter_map(|(id, f)| if let Figure::Value(v) = f { Some((*id, *v)) } else { None })
                .collect();
            published.sort_unstable();
            for (id, value) in published {
                if small(people(id, fam)) {
                    report.findings.push(format!(
                        "(c) {metric:?} publishes {} = {value}, resting on {}",
                        names.show(id),
                        describe(&truth.people(&[id], names))
                    ));
                }
                if let Reads::Percentile(pct) = reads(metric) {
                    let minutes = truth.minutes(id, fam, names);
                    let (n, r) = (minutes.len(), nearest_rank(minutes.len(), pct));
                    let t = usize::try_from(THRESHOLD).unwrap_or(usize::MAX);
                    if r == 0 || r < t || n + 1 - r < t {
                        report.findings.push(format!(
                            "(d) {metric:?} publishes {} = {value} of {n} values (rank {r}): near an extreme",
                            names.show(id)
                        ));
                    } else if minutes[r - 1] != value {
                        report.findings.push(format!(
                            "{metric:?} publishes {} = {value}, not {}",
                            names.show(id),
                            minutes[r - 1]
                        ));
                    }
                } else {
                    let truly = truth.value(id, metric, names);
                    if truly != value {
                        report
                            .findings
                            .push(format!("{metric:?} publishes {} = {value}, truly {truly}", names.show(id)));
                    }
                }
            }
        }
        // (a) and (b): one exact system per additive metric. Metrics whose systems have the same
        // unknowns and coefficients are reduced together, each with its own right-hand side.
        let mut unions: Map<(Vec<CellId>, usize), usize> = Map::default();
        type System = (Vec<CellId>, Vec<Vec<(usize, u64)>>, Vec<Metric>, Vec<Vec<u64>>);
        let mut systems: Vec<System> = Vec::new();
        for (m, &metric) in Metric::ALL.iter().enumerate() {
            if matches!(reads(metric), Reads::Percentile(_)) {
                continue;
            }
            let fam = family(metric);
            let relations = self.relations(m);
            let mut statuses: Map<CellId, Status> = Map::default();
            let mut status = |id: CellId| *statuses.entry(id).or_insert_with(|| self.status(m, id));
            let mut unknowns: Vec<CellId> = relations
                .iter()
                .flat_map(|(total, parts)| std::iter::once(*total).chain(parts.iter().copied()))
                .filter(|&id| status(id).known().is_none())
                .collect();
            unknowns.sort_unstable();
            unknowns.dedup();
            let columns: Map<CellId, usize> = unknowns.iter().enumerate().map(|(i, &id)| (id, i)).collect();
            let mut entries_of: Vec<Vec<(usize, u64)>> = Vec::new();
            let mut rhs_of: Vec<u64> = Vec::new();
            for (total, parts) in &relations {
                let mut entries: Vec<(usize, u64)> = Vec::new();
                let mut rhs = 0_u64;
                for (id, coef) in std::iter::once((*total, 1_i64)).chain(parts.iter().map(|&p| (p, -1_i64))) {
                    match status(id).known() {
                        Some(v) => rhs = add(rhs, field(-coef * v)),
                        None => entries.push((columns[&id], field(coef))),
                    }
                }
                entries.sort_unstable();
                if !entries.is_empty() {
                    entries_of.push(entries);
                    rhs_of.push(rhs);
                }
                // (b): the withheld parts of a relation whose total is known.
                if status(*total).known().is_some() {
                    let hidden: Vec<CellId> = parts.iter().copied().filter(|&p| status(p).known().is_none()).collect();
                    if !hidden.is_empty() {
                        let union = *unions
                            .entry((hidden.clone(), fam.index()))
                            .or_insert_with(|| truth.people_in(&hidden, fam, names));
                        if small(union) {
                            let shown: Vec<String> = hidden.iter().map(|&h| names.show(h)).collect();
                            report.findings.push(format!(
                                "(b) {metric:?}: {} is known, its withheld parts [{}] rest on {}",
                                names.show(*total),
                                shown.join("; "),
                                describe(&truth.people(&hidden, names))
                            ));
                        }
                    }
                }
            }
            match systems.iter_mut().find(|(u, e, _, _)| *u == unknowns && *e == entries_of) {
                Some((_, _, metrics, rhs)) => {
                    metrics.push(metric);
                    rhs.push(rhs_of);
                }
                None => systems.push((unknowns, entries_of, vec![metric], vec![rhs_of])),
            }
        }
        for (unknowns, entries_of, metrics, rhs_by_metric) in systems {
            let rows: Vec<Row> = entries_of
                .into_iter()
                .enumerate()
                .map(|(r, entries)| Row { entries, rhs: rhs_by_metric.iter().map(|rhs| rhs[r]).collect() })
                .collect();
            for row in rref(unknowns.len(), rows) {
                let [(c, _)] = row.entries[..] else { continue };
                let id = unknowns[c];
                for (k, &metric) in metrics.iter().enumerate() {
                    let value = signed(row.rhs[k]);
                    if small(people(id, family(metric))) {
                        report.findings.push(format!(
                            "(a) {metric:?}: withheld {} is worked out as {value} (truly {}), resting on {}",
                            names.show(id),
                            truth.value(id, metric, names),
                            describe(&truth.people(&[id], names))
                        ));
                    }
                    report.determined.push((metric, id, value));
                }
            }
        }
        report
    }
}

// ---------------------------------------------------------------------------------------------
// Asking: the release, and the old per-answer protection
// ---------------------------------------------------------------------------------------------

fn build_release(facts: &[Fact]) -> Release {
    build_after(facts, &[], None, 12).release
}

/// The release of `facts` after a build whose lineage is `previous` and which counted the first
/// `counted.len()` facts as `counted` says (the rest are new), with `closed` months of the year
/// closed.
fn build_after(facts: &[Fact], counted: &[u16], previous: Option<&release::Lineage>, closed: u8) -> release::Built {
    let mut t = Tabulation::new(FISCAL_YEAR);
    for (i, f) in facts.iter().enumerate() {
        let mut plain: [Option<&str>; 8] = [None; 8];
        for (i, d) in release::PLAIN.iter().enumerate() {
            plain[i] = f.plain[plain_pos(*d).unwrap_or_else(|| panic!("{d:?}"))].as_deref();
        }
        let input = FactInput {
            kind: f.kind,
            occurred_on: f.on,
            plain,
            amount_cents: f.amount_cents,
            minutes: f.minutes,
            subject: &f.subject,
            counted: counted.get(i).copied().unwrap_or(0),
        };
        t.push(&input).unwrap_or_else(|e| panic!("{e}"));
    }
    release::build_after(t.finish(), THRESHOLD, previous, closed)
}

/// Asks the release questions, as `GET /aggregates` answers them.
struct Asker<'r> {
    release: &'r Release,
    chunks: std::collections::BTreeMap<(release::Level, u8), Vec<answer::ChunkCell>>,
    agency_index: usize,
}

impl<'r> Asker<'r> {
    fn new(release: &'r Release) -> Self {
        let agency_index = release::PLAIN.iter().position(|&d| d == Dimension::Agency).unwrap_or(0);
        Self { release, chunks: answer::chunks(release), agency_index }
    }

    fn agencies(&self) -> Vec<String> {
        self.release.dictionaries[self.agency_index].clone()
    }

    /// `None` where the API refuses the question. `agency`: that agency's leads' question (its
    /// own figures), else the ministry's.
    fn ask(
        &self,
        agency: Option<&str>,
        period: Node,
        group_by: &[Dimension],
        metrics: &[Metric],
    ) -> Option<Vec<PublishedAnswer>> {
        let (slices, code) = match agency {
            None => (answer::plan(period, group_by).ok()?, None),
            Some(a) => {
                let code = self.release.dictionaries[self.agency_index].iter().position(|v| v == a)?;
                (answer::plan_fixing(period, group_by, answer::AGENCY_BIT).ok()?, Some(u16::try_from(code).ok()?))
            }
        };
        let chunk = |level, mask| self.chunks.get(&(level, mask)).map_or(&[][..], Vec::as_slice);
        let answers = metrics.iter().map(|&metric| PublishedAnswer {
            agency: agency.map(str::to_owned),
            metric,
            period,
            group_by: group_by.to_vec(),
            rows: answer::rows_where(
                &slices,
                group_by,
                metric,
                self.release.fiscal_year,
                &self.release.dictionaries,
                chunk,
                |cell| code.is_none_or(|c| cell.key.value(self.agency_index) == Some(c)),
            ),
        });
        Some(answers.collect())
    }
}

/// The metrics asked in every order of a question's dimensions (the money and a percentile);
/// every metric is asked in one order of every set. Asking all 821 orders for all ten metrics
/// takes several seconds per fact set in a debug build; the other orders are instead checked to
/// show the very same cells and figures as the first.
const EVERY_ORDER: [Metric; 2] = [Metric::VqrpPlusCents, Metric::MinutesToAcceptP90];

/// Feeds the analyst the answers of the release:
/// - the ministry's: every period, every set of up to three dimensions for every metric, and
///   every other order of each set for [`EVERY_ORDER`];
/// - each agency's own (its leads'): every period, every set of three dimensions besides the
///   agency, for every metric with facts in the release. (Its smaller questions are the
///   ministry's with `agency` added: the same cells. Metrics without facts answer nothing.)
///
/// Returns what is wrong with the answers as answers: a question refused that should be
/// answered or the reverse, two orders answering differently.
fn ask_everything(release: &Release, analyst: &mut Analyst) -> Vec<String> {
    let asker = Asker::new(release);
    let mut findings = Vec::new();
    let sets = all_sets();
    for period in all_periods() {
        for set in &sets {
            let Some(answers) = asker.ask(None, period, set, Metric::ALL) else {
                if answerable(period, set) {
                    findings.push(format!("{set:?} over {period:?} is refused"));
                }
                continue;
            };
            if !answerable(period, set) {
                findings.push(format!("{set:?} over {period:?} is answered: finer than the release"));
            }
            let mut first = Vec::new();
            for answer in &answers {
                let keep = EVERY_ORDER.contains(&answer.metric);
                let shown = analyst.hear_keeping(answer, keep);
                if keep {
                    first.push((answer.metric, shown));
                }
            }
            for order in permutations(set).into_iter().skip(1) {
                let Some(answers) = asker.ask(None, period, &order, &EVERY_ORDER) else {
                    findings.push(format!("{order:?} over {period:?} is refused, {set:?} is not"));
                    continue;
                };
                for answer in &answers {
                    let shown = analyst.hear_keeping(answer, true);
                    if !first.iter().any(|(m, c)| *m == answer.metric && *c == shown) {
                        findings
                            .push(format!("{:?} by {order:?} over {period:?} differs from by {set:?}", answer.metric));
                    }
                }
            }
        }
    }
    let with_facts: Vec<Metric> = Metric::ALL
        .iter()
        .copied()
        .filter(|&m| {
            let f = release::Family::of(m).index();
            release.cells.iter().any(|c| c.tallies[f].events > 0)
        })
        .collect();
    let threes: Vec<&Vec<Dimension>> =
        sets.iter().filter(|s| s.len() == 3 && !s.contains(&Dimension::Agency)).collect();
    for agency in asker.agencies() {
        for period in all_periods() {
            for &set in &threes {
                let Some(answers) = asker.ask(Some(&agency), period, set, &with_facts) else {
                    if answerable(period, set) {
                        findings.push(format!("{set:?} over {period:?} is refused to {agency}"));
                    }
                    continue;
                };
                if !answerable(period, set) {
                    findings.push(format!("{set:?} over {period:?} is answered to {agency}: finer than the release"));
                }
                for answer in &answers {
                    analyst.hear(answer);
                }
            }
        }
    }
    findings
}

/// The release of `facts`, and the analyst's report on everything it answers.
fn analyse_release(facts: &[Fact]) -> (Release, Analyst, Report) {
    let built = build_after(facts, &[], None, 12);
    let release = built.release;
    let mut analyst = Analyst::new();
    let wrong = ask_everything(&release, &mut analyst);
    let mut report = analyst.report(&Truth { facts: facts.to_vec(), counted: built.counted });
    report.findings.extend(wrong);
    (release, analyst, report)
}

/// The old behaviour: one question's table (interior and every margin, keys coded in the order
/// asked) protected on its own with the per-table rule.
fn ask_old(facts: &[Fact], period: Node, group_by: &[Dimension], metric: Metric) -> PublishedAnswer {
    let fam = family(metric);
    let admitted: Vec<&Fact> = facts.iter().filter(|f| fam.admits(f) && within(f.month(), period)).collect();
    let coordinate = |f: &Fact, d: Dimension| -> String {
        match d {
            Dimension::Month => month_label(f.month()),
            Dimension::FiscalQuarterOf => quarter_label(f.month() / 3 + 1),
            plain => f.label(plain_pos(plain).unwrap_or(0)).to_owned(),
        }
    };
    let dictionaries: Vec<Vec<String>> = group_by
        .iter()
        .map(|&d| admitted.iter().map(|f| coordinate(f, d)).collect::<BTreeSet<String>>().into_iter().collect())
        .collect();
    let code = |i: usize, value: &str| -> u32 {
        u32::try_from(dictionaries[i].iter().position(|v| v == value).unwrap_or(0)).unwrap_or(0)
    };
    let n = group_by.len();
    let mut tallies: HashMap<Vec<Option<u32>>, Vec<&Fact>> = HashMap::new();
    for f in &admitted {
        let full: Vec<u32> = group_by.iter().enumerate().map(|(i, &d)| code(i, &coordinate(f, d))).collect();
        for subset in 0..(1_usize << n) {
            let key = (0..n).map(|i| (subset & (1 << i) != 0).then_some(full[i])).collect();
            tallies.entry(key).or_default().push(f);
        }
    }
    let mut cells: Vec<Cell> = tallies
        .into_iter()
        .map(|(key, fs)| {
            let people =
                i64::try_from(fs.iter().map(|f| f.subject.as_str()).collect::<BTreeSet<_>>().len()).unwrap_or(0);
            let value = match reads(metric) {
                Reads::People => people,
                Reads::Events => i64::try_from(fs.len()).unwrap_or(i64::MAX),
                Reads::Cents => fs.iter().map(|f| f.amount_cents.unwrap_or(0)).sum(),
                Reads::Percentile(p) => {
                    let mut minutes: Vec<i64> = fs.iter().filter_map(|f| f.minutes).collect();
                    minutes.sort_unstable();
                    minutes[nearest_rank(minutes.len(), p).max(1) - 1]
                }
            };
            Cell { key, value, people }
        })
        .collect();
    cells.sort_by(|a, b| a.key.cmp(&b.key));
    let additivity =
        if matches!(reads(metric), Reads::Percentile(_)) { Additivity::NotAdditive } else { Additivity::Additive };
    let withheld = protect(&cells, THRESHOLD, additivity);
    let rows = cells
        .iter()
        .zip(withheld)
        .map(|(cell, w)| AnswerRow {
            labels: cell.key.iter().enumerate().map(|(i, k)| k.map(|c| dictionaries[i][c as usize].clone())).collect(),
            figure: if w { Figure::Withheld } else { Figure::Value(cell.value) },
            interior: cell.key.iter().all(Option::is_some),
        })
        .collect();
    PublishedAnswer { agency: None, metric, period, group_by: group_by.to_vec(), rows }
}

// ---------------------------------------------------------------------------------------------
// Fact builders
// ---------------------------------------------------------------------------------------------

const GENDERS: [&str; 3] = ["man", "non_binary", "woman"];
const AGES: [&str; 3] = ["18_24", "25_44", "45_64"];
const PROGRAMS: [&str; 2] = ["court_support", "vqrp"];

struct Person<'a> {
    subject: &'a str,
    agency: &'a str,
    gender: &'a str,
    age: &'a str,
}

fn fact(kind: FactKind, on: NaiveDate, who: &Person<'_>, program: &str, service_type: Option<&str>) -> Fact {
    let mut plain: [Option<String>; 8] = Default::default();
    plain[AGENCY] = Some(who.agency.to_owned());
    plain[PROGRAM] = Some(program.to_owned());
    plain[DIVISION] = Some("toronto".to_owned());
    plain[SERVICE_TYPE] = service_type.map(str::to_owned);
    plain[GENDER] = Some(who.gender.to_owned());
    plain[AGE_BAND] = Some(who.age.to_owned());
    Fact { kind, on, plain, amount_cents: None, minutes: None, subject: who.subject.to_owned() }
}

fn vqrp_service(on: NaiveDate, who: &Person<'_>, cents: i64) -> Fact {
    let mut f = fact(FactKind::ServiceDelivered, on, who, "vqrp", Some("vqrp_plus"));
    f.amount_cents = Some(cents);
    f
}

/// A VQRP+ application's fact (`kind` submitted, decided or paid) for an expense category,
/// which the facts hold as the service type.
fn vqrp_application(kind: FactKind, on: NaiveDate, who: &Person<'_>, category: &str, cents: i64, days: i64) -> Fact {
    let mut f = fact(kind, on, who, "vqrp", Some(category));
    f.amount_cents = (kind != FactKind::VqrpSubmitted).then_some(cents);
    f.minutes = (kind == FactKind::VqrpDecided).then_some(days);
    f
}

fn accepted(on: NaiveDate, who: &Person<'_>, minutes: i64) -> Fact {
    let mut f = fact(FactKind::ReferralAccepted, on, who, "court_support", None);
    f.minutes = Some(minutes);
    f
}

/// A generated fact set: indices into small pools (reduced modulo their sizes, so it shrinks
/// well).
#[derive(Clone, Debug)]
struct Spec {
    months: Vec<u8>,
    genders: usize,
    ages: usize,
    pool: usize,
    victimization: bool,
    /// By subject: (gender, age band).
    people: Vec<(usize, usize)>,
    facts: Vec<FactSpec>,
}

#[derive(Clone, Debug)]
struct FactSpec {
    subject: usize,
    kind: u8,
    month: usize,
    day: u32,
    program: usize,
    amount: i64,
    minutes: i64,
    /// A fact recorded with another gender than the person's other facts.
    gender: Option<usize>,
}

fn spec() -> impl Strategy<Value = Spec> {
    // April to September, January and March: quarters 1, 2 and 4, several months in a quarter.
    let months = proptest::sample::subsequence(vec![0_u8, 1, 2, 3, 4, 5, 9, 11], 2..=4);
    let kind = prop_oneof![
        3 => Just(0_u8), 3 => Just(1_u8), 2 => Just(2_u8), 2 => Just(3_u8),
        1 => Just(4_u8), 1 => Just(5_u8), 1 => Just(6_u8),
    ];
    let fact = (
        0_usize..24,
        kind,
        0_usize..4,
        1_u32..=28,
        0_usize..2,
        1_i64..400,
        1_i64..600,
        proptest::option::weighted(0.1, 0_usize..3),
    )
        .prop_map(|(subject, kind, month, day, program, amount, minutes, gender)| FactSpec {
            subject,
            kind,
            month,
            day,
            program,
            amount: amount * 25,
            minutes,
            gender,
        });
    (
        months,
        2_usize..=3,
        2_usize..=3,
        6_usize..=24,
        any::<bool>(),
        proptest::collection::vec((0_usize..3, 0_usize..3), 24),
        proptest::collection::vec(fact, 8..=40),
    )
        .prop_map(|(months, genders, ages, pool, victimization, people, facts)| Spec {
            months,
            genders,
            ages,
            pool,
            victimization,
            people,
            facts,
        })
}

impl Spec {
    fn facts(&self) -> Vec<Fact> {
        self.facts
            .iter()
            .map(|s| {
                let subject = s.subject % self.pool;
                let (gender, age) = self.people[subject];
                let name = format!("s{subject}");
                // A pseudonym is keyed with its own agency's key: a person is in one agency.
                let who = Person {
                    subject: &name,
                    agency: if subject.is_multiple_of(2) { "agency-a" } else { "agency-b" },
                    gender: GENDERS[s.gender.unwrap_or(gender) % self.genders],
                    age: AGES[age % self.ages],
                };
                let on = date(self.months[s.month % self.months.len()], s.day);
                let program = PROGRAMS[s.program];
                let mut f = match s.kind {
                    0 => vqrp_service(on, &who, s.amount),
                    1 => fact(FactKind::ServiceDelivered, on, &who, program, Some("counselling")),
                    2 => fact(FactKind::CaseOpened, on, &who, program, None),
                    4..=6 => {
                        let kind = [FactKind::VqrpSubmitted, FactKind::VqrpDecided, FactKind::VqrpPaid]
                            [usize::from(s.kind - 4)];
                        let category = ["counselling", "funeral"][s.program];
                        vqrp_application(kind, on, &who, category, s.amount, s.minutes % 15)
                    }
                    _ => {
                        let mut f = accepted(on, &who, s.minutes);
                        f.plain[PROGRAM] = Some(program.to_owned());
                        f
                    }
                };
                if self.victimization {
                    f.plain[VICTIMIZATION] = Some("intimate_partner_violence".to_owned());
                }
                f
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(24) })]

    /// Every question of a random release, every figure into one system: nothing small leaks.
    #[test]
    fn no_sequence_of_answers_discloses_a_small_figure(spec in spec()) {
        let (_, _, report) = analyse_release(&spec.facts());
        prop_assert!(report.findings.is_empty(), "{:#?}", report.findings);
    }
}

/// The elimination finds exactly the unknowns the system fixes, with their values.
#[test]
fn the_elimination_finds_exactly_the_determined_unknowns() {
    // x0 + x1 = 7, x1 = 3, x2 + x3 = 5, x3 − x4 = 1: x0 = 4 and x1 = 3 are fixed, x2..x4 are not.
    let row = |entries: &[(usize, i64)], rhs: i64| Row {
        entries: entries.iter().map(|&(c, v)| (c, field(v))).collect(),
        rhs: vec![field(rhs)],
    };
    let rows =
        vec![row(&[(0, 1), (1, 1)], 7), row(&[(1, 1)], 3), row(&[(2, 1), (3, 1)], 5), row(&[(3, 1), (4, -1)], 1)];
    let mut fixed: Vec<(usize, i64)> = rref(5, rows)
        .into_iter()
        .filter_map(|r| if let [(c, _)] = r.entries[..] { Some((c, signed(r.rhs[0]))) } else { None })
        .collect();
    fixed.sort_unstable();
    assert_eq!(fixed, vec![(0, 4), (1, 3)]);
}

/// Ten VQRP+ services on 10 April 2026 (five women, five men) and one man's on 11 May.
fn overlapping_periods() -> Vec<Fact> {
    let mut out = Vec::new();
    for i in 0..10 {
        let subject = format!("p{i}");
        let gender = if i < 5 { "woman" } else { "man" };
        let who = Person { subject: &subject, agency: "agency-a", gender, age: "25_44" };
        out.push(vqrp_service(date(0, 10), &who, 10_000 + 125 * i));
    }
    let lone = Person { subject: "p10", agency: "agency-a", gender: "man", age: "25_44" };
    out.push(vqrp_service(date(1, 11), &lone, 4_321));
    out
}

/// The questions of the overlapping-periods attack: April, the first quarter and the year, in
/// total, by gender, by month, by month and gender, by quarter and gender.
fn overlapping_questions() -> Vec<(Node, Vec<Dimension>, Metric)> {
    let mut out = Vec::new();
    for period in [Node::Month(0), Node::Quarter(1), Node::Year] {
        for group_by in [
            vec![],
            vec![Dimension::Gender],
            vec![Dimension::Month],
            vec![Dimension::Month, Dimension::Gender],
            vec![Dimension::Gender, Dimension::Month],
            vec![Dimension::FiscalQuarterOf, Dimension::Gender],
        ] {
            for metric in [Metric::ClientsServed, Metric::Services, Metric::VqrpPlusCents] {
                out.push((period, group_by.clone(), metric));
            }
        }
    }
    out
}

/// Whether `report` works out the lone man's May service (1) or its amount (4,321 cents).
fn works_out_the_lone_man(report: &Report) -> bool {
    report.determined.iter().any(|&(metric, id, value)| {
        id.node == Node::Month(1)
            && ((metric == Metric::VqrpPlusCents && value == 4_321) || (metric == Metric::Services && value == 1))
    })
}

#[test]
fn overlapping_periods_do_not_give_away_the_lone_man() {
    let facts = overlapping_periods();
    let (_, analyst, report) = analyse_release(&facts);
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert!(!works_out_the_lone_man(&report), "{:?}", report.determined);
    // Nothing of May (one person) is published, in any metric.
    for (m, shown) in analyst.shown.iter().enumerate() {
        for (id, figure) in shown {
            assert!(
                id.node != Node::Month(1) || !matches!(figure, Figure::Value(_)),
                "{:?} publishes {}",
                Metric::ALL[m],
                analyst.names.show(*id)
            );
        }
    }
    // And the release is not empty: the quarter's and the year's totals are published.
    let mut analyst = analyst;
    let q1 = analyst.cell(Node::Quarter(1), &[]);
    let year = analyst.cell(Node::Year, &[]);
    let vqrp = &analyst.shown[metric_pos(Metric::VqrpPlusCents)];
    assert_eq!(vqrp.get(&q1), Some(&Figure::Value(10 * 10_000 + 125 * 45 + 4_321)));
    assert_eq!(vqrp.get(&year), vqrp.get(&q1));
}

/// The checker is not blind: each answer protected on its own (the old behaviour), April, the
/// first quarter and the year together give away the lone man's service and its amount. The
/// release answers the same questions without.
#[test]
fn the_old_per_answer_protection_is_caught() {
    let facts = overlapping_periods();
    let truth = Truth::all(&facts);
    let old: Vec<PublishedAnswer> = overlapping_questions()
        .into_iter()
        .map(|(period, group_by, metric)| ask_old(&facts, period, &group_by, metric))
        .collect();
    let findings = disclosures(&old, &truth);
    assert!(
        findings.iter().any(|f| f.starts_with("(a) VqrpPlusCents") && f.contains("2026-05") && f.contains("as 4321")),
        "{findings:#?}"
    );
    let mut analyst = Analyst::new();
    for answer in &old {
        analyst.hear(answer);
    }
    assert!(works_out_the_lone_man(&analyst.report(&truth)));
    // Each answer alone is safe: it is their combination.
    assert!(old.iter().all(|a| disclosures(std::slice::from_ref(a), &truth).iter().all(|f| !f.starts_with("(a)"))));

    let release = build_release(&facts);
    let asker = Asker::new(&release);
    let new: Vec<PublishedAnswer> = overlapping_questions()
        .into_iter()
        .flat_map(|(period, group_by, metric)| asker.ask(None, period, &group_by, &[metric]).unwrap_or_default())
        .collect();
    assert_eq!(new.len(), old.len());
    assert_eq!(disclosures(&new, &truth), Vec::<String>::new());
}

/// (gender, age band) counts of one month's services, one person each.
fn grid_facts(counts: &[[usize; 3]; 3], month: u8) -> Vec<Fact> {
    let mut out = Vec::new();
    for (g, row) in counts.iter().enumerate() {
        for (a, &n) in row.iter().enumerate() {
            for i in 0..n {
                let subject = format!("g{g}a{a}p{i}");
                let who = Person { subject: &subject, agency: "agency-a", gender: GENDERS[g], age: AGES[a] };
                out.push(fact(FactKind::ServiceDelivered, date(month, 15), &who, "court_support", Some("counselling")));
            }
        }
    }
    out
}

/// June 2026 by gender (man, non-binary, woman) and age band (18–24, 25–44, 45–64). Protected
/// table by table with ties broken by position, `gender,age_band` and `age_band,gender` withhold
/// different complements, and together give away the three men aged 25–44 (found by search over
/// such grids).
const REORDERED: [[usize; 3]; 3] = [[7, 3, 3], [6, 7, 5], [5, 7, 0]];

#[test]
fn reordered_dimensions_show_the_same_cells() {
    let facts = grid_facts(&REORDERED, 2);
    let truth = Truth::all(&facts);
    let orders = [[Dimension::Gender, Dimension::AgeBand], [Dimension::AgeBand, Dimension::Gender]];
    // The old behaviour: each order safe alone, the two together not.
    let old: Vec<PublishedAnswer> =
        orders.iter().map(|o| ask_old(&facts, Node::Month(2), o, Metric::Services)).collect();
    assert!(old.iter().all(|a| disclosures(std::slice::from_ref(a), &truth).is_empty()));
    let found = disclosures(&old, &truth);
    assert!(
        found.iter().any(|f| f.starts_with("(a) Services") && f.contains("gender=man age_band=25_44")),
        "{found:#?}"
    );

    // The release: both orders show the same cells with the same figures, for every metric, over
    // the month, its quarter and the year, and nothing can be worked out from all it answers.
    let release = build_release(&facts);
    let asker = Asker::new(&release);
    let mut analyst = Analyst::new();
    for period in [Node::Month(2), Node::Quarter(1), Node::Year] {
        let [first, second] = orders.map(|o| asker.ask(None, period, &o, Metric::ALL).unwrap_or_default());
        assert_eq!(first.len(), Metric::ALL.len());
        for (a, b) in first.iter().zip(&second) {
            assert_eq!(analyst.hear_keeping(a, true), analyst.hear_keeping(b, true), "{:?} over {period:?}", a.metric);
        }
    }
    let (_, _, report) = analyse_release(&facts);
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
}

/// Five to nine accepted referrals in a month (June to September, and January): the p90 of so
/// few is one person's minutes, withheld; and nothing else gives it away.
#[test]
fn the_percentile_of_few_is_withheld() {
    let mut facts = Vec::new();
    for (n, month) in [(5, 2), (6, 3), (7, 4), (8, 5), (9, 9)] {
        for i in 0..n {
            let subject = format!("m{month}p{i}");
            let gender = GENDERS[i % 3];
            let who = Person { subject: &subject, agency: "agency-a", gender, age: "25_44" };
            facts.push(accepted(
                date(month, 3 + u32::try_from(i).unwrap_or(0)),
                &who,
                15 * (i64::try_from(i).unwrap_or(0) + 1) + i64::from(month),
            ));
        }
    }
    let (_, analyst, report) = analyse_release(&facts);
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    let p90 = &analyst.shown[metric_pos(Metric::MinutesToAcceptP90)];
    for month in [2, 3, 4, 5, 9] {
        let id = CellId { node: Node::Month(month), labels: [ALL_VALUES; 8] };
        assert_eq!(p90.get(&id), Some(&Figure::Withheld), "{}", month_label(month));
    }
    // 35 values in all: no p90 anywhere (it needs 40).
    assert!(p90.values().all(|f| *f == Figure::Withheld), "{p90:?}");
}

// ---------------------------------------------------------------------------------------------
// Releases built as facts arrive (`release::lineage`)
// ---------------------------------------------------------------------------------------------

/// One build per batch, each continuing the last's lineage: the facts in the order they were
/// pushed (every batch's after the earlier ones'), and each build. Each batch comes with how many
/// months of the year have closed when it is built.
fn build_sequence(batches: &[(Vec<Fact>, u8)]) -> (Vec<Fact>, Vec<release::Built>) {
    let mut facts: Vec<Fact> = Vec::new();
    let mut builds: Vec<release::Built> = Vec::new();
    for (batch, closed) in batches {
        facts.extend(batch.iter().cloned());
        let last = builds.last();
        let built = build_after(&facts, last.map_or(&[][..], |b| &b.counted[..]), last.map(|b| &b.lineage), *closed);
        builds.push(built);
    }
    (facts, builds)
}

/// The fact's month and value codes in a release's (or lineage's) dictionaries.
fn coded(fact: &Fact, dictionaries: &[Vec<String>; 8]) -> (u8, [u16; 8]) {
    let mut codes = [0_u16; 8];
    for (i, d) in release::PLAIN.iter().enumerate() {
        let label = fact.label(plain_pos(*d).unwrap_or_else(|| panic!("{d:?}")));
        let code = dictionaries[i].binary_search_by(|v| v.as_str().cmp(label)).unwrap_or_else(|_| panic!("{label}"));
        codes[i] = u16::try_from(code).unwrap_or(u16::MAX);
    }
    (fact.month(), codes)
}

/// What the lineage argument rests on, checked from the facts: call an atom the facts of a family
/// one build took into one block. Every atom rests on at least the threshold's people, and every
/// figure any release of the sequence publishes counts whole atoms only (each atom taken in up to
/// then wholly in the cell or wholly out of it), and exactly the facts counted so far. Then every
/// figure is a sum over disjoint atoms, so every combination of figures of every release is one
/// too, and none isolates fewer people than an atom holds.
fn atom_findings(facts: &[Fact], builds: &[release::Built]) -> Vec<String> {
    let mut findings = Vec::new();
    for (f, fam) in FAMILIES.iter().enumerate() {
        // (build, block) of each counted fact of the family.
        let mut atom_of: Vec<Option<(usize, u32)>> = vec![None; facts.len()];
        for (k, built) in builds.iter().enumerate() {
            for (i, fact) in facts.iter().enumerate().take(built.counted.len()) {
                let before = if k == 0 { 0 } else { builds[k - 1].counted.get(i).copied().unwrap_or(0) };
                if built.counted[i] & (1 << f) != 0 && before & (1 << f) == 0 {
                    let (month, codes) = coded(fact, &built.lineage.dictionaries);
                    let block =
                        built.lineage.blocks[f].iter().find(|&&(m, c, _)| m == month && c == codes).map(|&(_, _, b)| b);
                    match block {
                        Some(b) => atom_of[i] = Some((k, b)),
                        None => findings.push(format!("{fam:?}: fact {i} counted at build {k} in no block")),
                    }
                }
            }
        }
        let mut atoms: HashMap<(usize, u32), Vec<usize>> = HashMap::new();
        for (i, atom) in atom_of.iter().enumerate() {
            if let Some(atom) = atom {
                atoms.entry(*atom).or_default().push(i);
            }
        }
        for (atom, members) in &atoms {
            let people: BTreeSet<&str> = members.iter().map(|&i| facts[i].subject.as_str()).collect();
            if i64::try_from(people.len()).unwrap_or(0) < THRESHOLD {
                findings.push(format!("{fam:?}: atom {atom:?} rests on {} people", people.len()));
            }
        }
        for (k, built) in builds.iter().enumerate() {
            let release = &built.release;
            let mut keys = Vec::new();
            let cells_of = |i: usize, keys: &mut Vec<release::CellKey>| {
                let (month, codes) = coded(&facts[i], &release.dictionaries);
                release::tabulate::keys_into(month, &codes, keys);
            };
            let mut counted_in: HashMap<release::CellKey, u32> = HashMap::new();
            let mut atom_parts: HashMap<(release::CellKey, (usize, u32)), usize> = HashMap::new();
            for (i, atom) in atom_of.iter().enumerate() {
                let Some(atom) = atom.filter(|a| a.0 <= k) else { continue };
                cells_of(i, &mut keys);
                for &key in &keys {
                    *counted_in.entry(key).or_default() += 1;
                    *atom_parts.entry((key, atom)).or_default() += 1;
                }
            }
            for cell in &release.cells {
                let tally = cell.tallies[f];
                if tally.events == 0 || cell.withheld[f] {
                    continue;
                }
                if counted_in.get(&cell.key).copied().unwrap_or(0) != tally.events {
                    findings.push(format!("{fam:?}: build {k} publishes {:?} counting other facts", cell.key));
                }
                for (atom, members) in atoms.iter().filter(|(a, _)| a.0 <= k) {
                    let inside = atom_parts.get(&(cell.key, *atom)).copied().unwrap_or(0);
                    if inside != 0 && inside != members.len() {
                        findings.push(format!("{fam:?}: build {k} publishes {:?}, cutting atom {atom:?}", cell.key));
                    }
                }
            }
        }
    }
    findings
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(24) })]

    /// Random facts arriving in three batches: every release publishes whole atoms only, every
    /// atom rests on enough people, and the last release on its own discloses nothing either.
    #[test]
    fn releases_built_as_facts_arrive_publish_only_whole_atoms(
        spec in spec(),
        cut in (0.2_f64..0.5, 0.5_f64..0.9),
        closing in proptest::collection::vec(0_u8..=12, 3),
    ) {
        let facts = spec.facts();
        let (a, b) = (
            (facts.len() as f64 * cut.0) as usize,
            (facts.len() as f64 * cut.1) as usize,
        );
        // Months close as the batches arrive: what waits in a closed month is merged.
        let mut closed = closing;
        closed.sort_unstable();
        let batches = vec![
            (facts[..a].to_vec(), closed[0]),
            (facts[a..b].to_vec(), closed[1]),
            (facts[b..].to_vec(), closed[2]),
        ];
        let (all, builds) = build_sequence(&batches);
        let findings = atom_findings(&all, &builds);
        prop_assert!(findings.is_empty(), "{:#?}", findings);
        let last = builds.last().map(|b| (b.release.clone(), b.counted.clone()));
        if let Some((release, counted)) = last {
            let mut analyst = Analyst::new();
            let mut found = ask_everything(&release, &mut analyst);
            found.extend(analyst.report(&Truth { facts: all.clone(), counted }).findings);
            prop_assert!(found.is_empty(), "{:#?}", found);
        }
    }
}

/// Person `i`'s counselling service, in agency A, on the 10th of fiscal month `month`.
fn counselled(i: usize, month: u8) -> Fact {
    let subject = format!("p{i}");
    let who = Person { subject: &subject, agency: "agency-a", gender: "woman", age: "25_44" };
    fact(FactKind::ServiceDelivered, date(month, 10), &who, "court_support", Some("counselling"))
}

/// Ten women's services in April, asked about; then one more woman's. Rebuilt afresh, the year's
/// total goes from 10 to 11 people and the difference is her. Continuing the lineage, she waits:
/// every figure stays as it was until four more new people join her, and then all five count.
#[test]
fn asking_again_after_one_new_case_learns_nothing_of_it() {
    let person = counselled;
    let first: Vec<Fact> = (0..10).map(|i| person(i, 0)).collect();
    let one_more = vec![person(10, 0)];
    let four_more: Vec<Fact> = (11..15).map(|i| person(i, 0)).collect();
    let total = |release: &Release| {
        let year = release.cells.iter().find(|c| c.key.node() == Node::Year && c.key.mask() == 0);
        year.map(|c| c.figure(Metric::ClientsServed, THRESHOLD))
    };

    // Afresh (the behaviour before the lineage): the difference of two totals is the new woman.
    let before = build_release(&first);
    let after = build_release(&[first.clone(), one_more.clone()].concat());
    assert_eq!((total(&before), total(&after)), (Some(Figure::Value(10)), Some(Figure::Value(11))));

    // Built in April, with no month closed yet.
    let (_, builds) = build_sequence(&[(first, 0), (one_more, 0), (four_more, 0)]);
    let shown = |b: &release::Built| -> Vec<(release::CellKey, Vec<Figure>)> {
        b.release.cells.iter().map(|c| (c.key, Metric::ALL.iter().map(|&m| c.figure(m, THRESHOLD)).collect())).collect()
    };
    assert_eq!(shown(&builds[0]), shown(&builds[1]), "one new person changes no figure");
    assert_eq!(builds[1].waiting, 2, "her service waits, in the clients and services families");
    assert_eq!(total(&builds[2].release), Some(Figure::Value(15)), "five new people count together");
    assert_eq!(builds[2].waiting, 0);
    let (all, builds) = build_sequence(&[
        ((0..10).map(|i| person(i, 0)).collect(), 0),
        (vec![person(10, 0)], 0),
        ((11..15).map(|i| person(i, 0)).collect(), 0),
    ]);
    assert!(atom_findings(&all, &builds).is_empty());
}

/// Ten people's services in each of April, May and June in one agency, then two more people's in
/// each month. While June is open the six wait, each pair in its month's block (two closed months
/// hold four waiting people, too few to merge). Once the quarter has closed, the three waiting
/// deltas are merged into one block across the months, six people together, and counted: the
/// quarter shows all 36 services and the months' totals are withheld from then on.
#[test]
fn what_waits_in_closed_months_is_merged_and_counted() {
    let person = counselled;
    let first: Vec<Fact> = (0..30).map(|i| person(i, (i / 10) as u8)).collect();
    // Two new people in each month: six wait, none of the months has five.
    let late: Vec<Fact> = (30..36).map(|i| person(i, ((i - 30) / 2) as u8)).collect();
    let quarter = |release: &Release| {
        let q1 = release.cells.iter().find(|c| c.key.node() == Node::Quarter(1) && c.key.mask() == 0);
        q1.map(|c| c.figure(Metric::Services, THRESHOLD))
    };
    let month = |release: &Release, m: u8| {
        let cell = release.cells.iter().find(|c| c.key.node() == Node::Month(m) && c.key.mask() == 0);
        cell.map(|c| c.figure(Metric::Services, THRESHOLD))
    };

    let (_, open) = build_sequence(&[(first.clone(), 0), (late.clone(), 2)]);
    assert_eq!(quarter(&open[1].release), Some(Figure::Value(30)), "in open months they wait");
    assert_eq!(open[1].waiting, 12, "six services, in the clients and services families");

    let (all, closed) = build_sequence(&[(first, 0), (late, 3)]);
    assert_eq!(quarter(&closed[1].release), Some(Figure::Value(36)), "once closed, all six count");
    assert_eq!(closed[1].waiting, 0);
    assert_eq!(month(&closed[1].release, 0), Some(Figure::Withheld), "the merged block spans the months");
    assert!(atom_findings(&all, &closed).is_empty());
    let mut analyst = Analyst::new();
    let mut found = ask_everything(&closed[1].release, &mut analyst);
    found.extend(analyst.report(&Truth { facts: all, counted: closed[1].counted.clone() }).findings);
    assert!(found.is_empty(), "{found:#?}");
}

/// Three people wait in each of two agencies' closed Aprils: six together, but merging across
/// the agencies would withhold both agencies' year totals for the rest of the year, so they wait,
/// and each agency's total stays published as it was.
#[test]
fn what_waits_is_never_merged_across_agencies() {
    let served = |i: usize, agency: &str| {
        let subject = format!("p{i}");
        let who = Person { subject: &subject, agency, gender: "woman", age: "25_44" };
        fact(FactKind::ServiceDelivered, date(0, 10), &who, "court_support", Some("counselling"))
    };
    let first: Vec<Fact> = (0..20).map(|i| served(i, if i < 10 { "agency-a" } else { "agency-b" })).collect();
    let late: Vec<Fact> = (20..26).map(|i| served(i, if i < 23 { "agency-a" } else { "agency-b" })).collect();
    let (_, builds) = build_sequence(&[(first, 12), (late, 12)]);
    let last = &builds[1];
    assert_eq!(last.waiting, 12, "six services wait, in the clients and services families");
    let agency_years: Vec<Figure> = last
        .release
        .cells
        .iter()
        .filter(|c| c.key.node() == Node::Year && c.key.mask() == release::lattice::AGENCY_BIT)
        .map(|c| c.figure(Metric::Services, THRESHOLD))
        .collect();
    assert_eq!(agency_years, vec![Figure::Value(10), Figure::Value(10)]);
}
