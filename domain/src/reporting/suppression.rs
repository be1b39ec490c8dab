//! Small-cell suppression for grouped tables of any number of dimensions.
//!
//! A published table is its interior cells (one per combination of the grouped dimensions) and
//! every margin: for each subset of the dimensions, the totals over the others, down to the grand
//! total. An analyst gets each margin either in the same answer or by asking again with fewer
//! dimensions, so all of them are treated as published together.
//!
//! Two rules protect people:
//! - **Primary suppression.** A cell whose figure rests on 1 to `threshold − 1` distinct people is
//!   withheld. This applies to every metric: counts of people (`clients_served`), counts of events
//!   (cases, referrals, services: each about a person, and a person can have several), sums of
//!   money and response-time percentiles. A cell of nobody is published: zero identifies no one.
//! - **Complementary suppression** (additive metrics only: counts and sums). Further cells are
//!   withheld until no withheld value can be computed exactly from the published ones through the
//!   table's relations (each margin equals the sum of the cells one level finer). The test is
//!   exact linear algebra: a withheld value is exposed when its unit vector lies in the row space
//!   of the relations restricted to the withheld values.
//!
//! Percentiles are not additive (no total is a sum of its parts), so only primary suppression
//! applies to them. Distinct counts of people are not exactly additive either (one person can be
//! in two cells); they are protected as if they were, which is the stronger assumption.

use std::collections::HashMap;

/// The smallest number of people a published figure may rest on (the ministry may raise it,
/// never lower it).
pub const DEFAULT_THRESHOLD: i64 = 5;

/// One cell of a grouped table, interior or margin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    /// One entry per grouped dimension: the value's code, or `None` where the cell totals over
    /// that dimension. All `Some` is an interior cell; all `None` is the grand total.
    pub key: Vec<Option<u32>>,
    /// The figure.
    pub value: i64,
    /// How many distinct people the figure rests on.
    pub people: i64,
}

impl Cell {
    /// True for a total over at least one dimension.
    #[must_use]
    pub fn is_margin(&self) -> bool {
        self.key.iter().any(Option::is_none)
    }
}

/// Whether a metric's margins are sums of their parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Additivity {
    /// Counts and sums: complementary suppression applies.
    Additive,
    /// Percentiles: only primary suppression applies.
    NotAdditive,
}

/// A relation "cell `total` equals the sum of cells `parts`".
#[derive(Debug)]
struct Relation {
    total: usize,
    parts: Vec<usize>,
}

impl Relation {
    fn members(&self) -> impl Iterator<Item = (usize, f64)> + '_ {
        std::iter::once((self.total, 1.0)).chain(self.parts.iter().map(|&p| (p, -1.0)))
    }
}

/// Every relation of the table: each margin, along each dimension it totals over, equals the sum
/// of the cells that name a value for that dimension and agree with it elsewhere. Cells absent
/// from the table are known zeros and drop out.
fn relations(cells: &[Cell]) -> Vec<Relation> {
    let index: HashMap<&[Option<u32>], usize> = cells.iter().enumerate().map(|(i, c)| (c.key.as_slice(), i)).collect();
    let mut parts: HashMap<(usize, usize), Vec<usize>> = HashMap::new();
    for (j, cell) in cells.iter().enumerate() {
        for d in 0..cell.key.len() {
            if cell.key[d].is_some() {
                let mut parent = cell.key.clone();
                parent[d] = None;
                if let Some(&p) = index.get(parent.as_slice()) {
                    parts.entry((p, d)).or_default().push(j);
                }
            }
        }
    }
    let mut out: Vec<Relation> = parts.into_iter().map(|((total, _), parts)| Relation { total, parts }).collect();
    out.sort_by_key(|r| (r.total, r.parts.first().copied()));
    out
}

/// Arithmetic modulo the Mersenne prime 2^61 − 1: exact, and fast enough for tables of thousands
/// of cells.
mod field {
    pub const P: u64 = (1 << 61) - 1;

    pub fn mul(a: u64, b: u64) -> u64 {
        let wide = u128::from(a) * u128::from(b);
        // a, b < P, so wide < 2^122: its low 61 bits and the rest each fit in a u64, and their
        // sum is below 2P. (2^61 ≡ 1 mod P, so the high part folds onto the low one.)
        #[expect(clippy::cast_possible_truncation, reason = "both halves are below 2^61, see above")]
        let (low, high) = (wide as u64 & P, (wide >> 61) as u64);
        let folded = low + high;
        if folded >= P { folded - P } else { folded }
    }

    pub fn add(a: u64, b: u64) -> u64 {
        let sum = a + b;
        if sum >= P { sum - P } else { sum }
    }

    pub fn neg(a: u64) -> u64 {
        if a == 0 { 0 } else { P - a }
    }

    pub fn inverse(a: u64) -> u64 {
        // Fermat: a^(P−2).
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

    /// From a coefficient of a relation (±1).
    pub fn from_sign(negative: bool) -> u64 {
        if negative { P - 1 } else { 1 }
    }
}

/// The withheld cells whose values the published cells and the relations determine exactly.
///
/// Published values are constants, so each relation restricted to the withheld cells is a linear
/// equation in them, and a withheld value is determined exactly when every solution of the
/// homogeneous system gives it zero. See [`Elimination`].
fn exposed_by(relations: &[Relation], withheld: &[bool]) -> Vec<usize> {
    let mut system = Elimination::new(withheld.len());
    for relation in relations {
        system.add(relation, |cell| withheld[cell]);
    }
    system.determined(|cell| withheld[cell])
}

/// A system of relations restricted to unknown (withheld) cells, reduced row by row by sparse
/// Gaussian elimination in exact arithmetic modulo a 61-bit prime. Columns are cell positions.
/// Cloned, it can take more rows without redoing the ones it holds: the look-ahead of
/// [`complements`] solves many systems that differ only in a few relations.
///
/// Which unknowns are determined is then read off two random solutions (random values for the
/// free unknowns, back-substituted): an unknown that is zero in both is determined. That set is
/// a property of the system, whatever the order of its rows. Error can only go the safe way,
/// except if the prime divides every largest minor of the system, a chance of about 2^-61: a
/// value that only happens to be zero (chance 2^-61 each) is treated as determined and hidden
/// further.
#[derive(Clone)]
struct Elimination {
    /// (pivot column, row with the pivot's coefficient 1). A row is zero on the pivot columns of
    /// rows made before it.
    basis: Vec<(usize, Vec<(usize, u64)>)>,
    /// By column: the basis row whose pivot it is.
    pivot_row: Vec<Option<usize>>,
    // Scratch for one row at a time (all zero / false / empty between rows).
    dense: Vec<u64>,
    seen: Vec<bool>,
    touched: Vec<usize>,
}

impl Elimination {
    fn new(columns: usize) -> Self {
        Self {
            basis: Vec::new(),
            pivot_row: vec![None; columns],
            dense: vec![0; columns],
            seen: vec![false; columns],
            touched: Vec::new(),
        }
    }

    /// Adds `relation` restricted to the cells `unknown` admits (nothing if it names none).
    fn add(&mut self, relation: &Relation, unknown: impl Fn(usize) -> bool) {
        let Self { basis, pivot_row, dense, seen, touched } = self;
        for (cell, coef) in relation.members() {
            if unknown(cell) {
                if dense[cell] == 0 {
                    touched.push(cell);
                }
                dense[cell] = field::add(dense[cell], field::from_sign(coef < 0.0));
            }
        }
        if touched.is_empty() {
            return;
        }
        // Eliminate every entry in a column that already has a pivot. Entries added by the
        // subtraction are pushed to `touched` and visited in turn (a column can be pushed again
        // after it was cleared; it is then visited again).
        let mut i = 0;
        while i < touched.len() {
            let c = touched[i];
            i += 1;
            let factor = dense[c];
            if factor == 0 {
                continue;
            }
            if let Some(b) = pivot_row[c] {
                for &(k, v) in &basis[b].1 {
                    if dense[k] == 0 {
                        touched.push(k);
                    }
                    dense[k] = field::add(dense[k], field::neg(field::mul(factor, v)));
                }
            }
        }
        // What is left, each column once. The reduced row is the same whatever the order of
        // elimination (being zero on every pivot column determines it); its pivot is its smallest
        // column.
        let mut remaining: Vec<(usize, u64)> = Vec::new();
        for &c in touched.iter() {
            if !seen[c] {
                seen[c] = true;
                if dense[c] != 0 {
                    remaining.push((c, dense[c]));
                }
            }
        }
        for &c in touched.iter() {
            dense[c] = 0;
            seen[c] = false;
        }
        touched.clear();
        if let Some(&(pivot, value)) = remaining.iter().min_by_key(|&&(c, _)| c) {
            let scale = field::inverse(value);
            for entry in &mut remaining {
                entry.1 = field::mul(entry.1, scale);
            }
            pivot_row[pivot] = Some(basis.len());
            basis.push((pivot, remaining));
        }
    }

    /// The unknown cells (those `unknown` admits) that every solution gives zero, in order.
    fn determined(&self, unknown: impl Fn(usize) -> bool) -> Vec<usize> {
        let columns = self.pivot_row.len();
        let free: Vec<usize> = (0..columns).filter(|&c| unknown(c) && self.pivot_row[c].is_none()).collect();
        let mut state: u64 = 0x2545_f491_4f6c_dd1d ^ (columns as u64);
        let mut draw = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            1 + state % (field::P - 1)
        };
        let mut zero_in_all = vec![true; columns];
        let mut x = vec![0_u64; columns];
        for _ in 0..2 {
            for &c in &free {
                x[c] = draw();
            }
            // Pivots solved last-made first: a row's other columns are free or pivots of rows made
            // after it.
            for (pivot, row) in self.basis.iter().rev() {
                let mut sum = 0;
                for &(c, v) in row {
                    if c != *pivot {
                        sum = field::add(sum, field::mul(v, x[c]));
                    }
                }
                x[*pivot] = field::neg(sum);
            }
            for (c, value) in x.iter().enumerate() {
                if *value != 0 {
                    zero_in_all[c] = false;
                }
            }
        }
        (0..columns).filter(|&c| unknown(c) && zero_in_all[c]).collect()
    }
}

/// The next cells to withhold so that fewer values stay exposed. A candidate is a published cell
/// sharing a relation with an exposed value; the best is an interior cell rather than a margin
/// (margins can be asked for on their own), then covers the most exposed values, then is the
/// smallest. In a small table with few exposed values one cell is chosen per round, looking
/// ahead (closing a rectangle rather than opening two); otherwise one per exposed value not yet
/// covered, so large tables need few rounds. Empty when nothing is left to hide.
fn complements(
    cells: &[Cell],
    relations: &[Relation],
    touching: &[Vec<usize>],
    withheld: &[bool],
    exposed: &[usize],
) -> Complements {
    const ONE_AT_A_TIME: usize = 16;
    const LOOK_AHEAD: usize = 8;
    // Beyond this many cells each look-ahead solve costs too much; choose in batches instead.
    const SMALL_TABLE: usize = 800;
    let neighbours = |e: usize| -> Vec<usize> {
        let mut out: Vec<usize> = touching[e]
            .iter()
            .flat_map(|&r| relations[r].members().map(|(i, _)| i))
            .filter(|&i| !withheld[i])
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    };
    let mut coverage: HashMap<usize, usize> = HashMap::new();
    let per_exposed: Vec<Vec<usize>> = exposed.iter().map(|&e| neighbours(e)).collect();
    for list in &per_exposed {
        for &i in list {
            *coverage.entry(i).or_default() += 1;
        }
    }
    let rank =
        |i: usize| (cells[i].is_margin(), std::cmp::Reverse(coverage.get(&i).copied().unwrap_or(0)), cells[i].value, i);
    if exposed.len() <= ONE_AT_A_TIME && cells.len() <= SMALL_TABLE {
        // Look ahead: of the best few by rank, the one that leaves the fewest values exposed
        // (the first in rank order among equals). None exposed cannot be beaten, so the trials
        // stop there.
        let mut candidates: Vec<usize> = coverage.keys().copied().collect();
        candidates.sort_by_key(|&i| rank(i));
        candidates.truncate(LOOK_AHEAD);
        // The trials differ only in the relations a candidate is in: the others are reduced once.
        let mut late = vec![false; relations.len()];
        for &i in &candidates {
            for &r in &touching[i] {
                late[r] = true;
            }
        }
        let mut common = Elimination::new(cells.len());
        for (relation, _) in relations.iter().zip(&late).filter(|(_, late)| !**late) {
            common.add(relation, |cell| withheld[cell]);
        }
        let mut best: Option<(usize, Vec<usize>)> = None;
        for i in candidates {
            let unknown = |cell: usize| withheld[cell] || cell == i;
            let mut system = common.clone();
            for (relation, _) in relations.iter().zip(&late).filter(|(_, late)| **late) {
                system.add(relation, unknown);
            }
            let left = system.determined(unknown);
            if best.as_ref().is_none_or(|(_, fewest)| left.len() < fewest.len()) {
                let done = left.is_empty();
                best = Some((i, left));
                if done {
                    break;
                }
            }
        }
        return match best {
            Some((i, left)) => Complements { cells: vec![i], exposed_after: Some(left) },
            None => Complements { cells: Vec::new(), exposed_after: None },
        };
    }
    let mut chosen: Vec<usize> = Vec::new();
    for list in &per_exposed {
        if list.iter().any(|i| chosen.contains(i)) {
            continue;
        }
        if let Some(best) = list.iter().copied().min_by_key(|&i| rank(i)) {
            chosen.push(best);
        }
    }
    if chosen.is_empty() {
        // Exposed values hidden only among hidden cells: widen to the smallest published cell.
        chosen.extend((0..cells.len()).filter(|&i| !withheld[i]).min_by_key(|&i| (cells[i].value, i)));
    }
    Complements { cells: chosen, exposed_after: None }
}

/// The cells [`complements`] chose, and what stays exposed once they are withheld when it
/// already solved that (a look-ahead trial), so the next round need not solve it again.
struct Complements {
    cells: Vec<usize>,
    exposed_after: Option<Vec<usize>>,
}

/// Which cells to withhold: `true` at position `i` means `cells[i]` is published as withheld.
///
/// Primary suppression first, then complements (see [`complements`]) in rounds until nothing
/// withheld is exposed. If exposed values remain with nothing left to hide, every cell is
/// withheld: nothing is published rather than something that gives a person away.
#[must_use]
pub fn protect(cells: &[Cell], threshold: i64, additivity: Additivity) -> Vec<bool> {
    let mut withheld: Vec<bool> = cells.iter().map(|c| c.people > 0 && c.people < threshold).collect();
    if additivity == Additivity::NotAdditive {
        return withheld;
    }
    let relations = relations(cells);
    let mut touching: Vec<Vec<usize>> = vec![Vec::new(); cells.len()];
    for (r, relation) in relations.iter().enumerate() {
        for (i, _) in relation.members() {
            touching[i].push(r);
        }
    }
    let mut solved: Option<Vec<usize>> = None;
    loop {
        let exposed = solved.take().unwrap_or_else(|| exposed_by(&relations, &withheld));
        if exposed.is_empty() {
            return withheld;
        }
        let chosen = complements(cells, &relations, &touching, &withheld, &exposed);
        if chosen.cells.is_empty() {
            return vec![true; cells.len()];
        }
        solved = chosen.exposed_after;
        for i in chosen.cells {
            withheld[i] = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reduces `m` to row echelon form in place and returns the pivot columns (floating point;
    /// the oracle only).
    fn echelon(m: &mut [Vec<f64>]) -> Vec<usize> {
        let cols = m.first().map_or(0, Vec::len);
        let mut pivots = Vec::new();
        let mut row = 0;
        for col in 0..cols {
            if row == m.len() {
                break;
            }
            let Some(best) = (row..m.len()).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs())) else { break };
            if m[best][col].abs() < 1e-9 {
                continue;
            }
            m.swap(row, best);
            let pivot = m[row][col];
            m[row].iter_mut().for_each(|v| *v /= pivot);
            let pivot_row = m[row].clone();
            for (r, other) in m.iter_mut().enumerate() {
                let factor = other[col];
                if r != row && factor.abs() > 1e-12 {
                    for (v, p) in other.iter_mut().zip(&pivot_row).skip(col) {
                        *v -= factor * p;
                    }
                }
            }
            pivots.push(col);
            row += 1;
        }
        pivots
    }

    /// A table with every margin, from interior counts (people = value: counts of people).
    fn cube(sizes: &[u32], value: impl Fn(&[u32]) -> i64) -> Vec<Cell> {
        let dims = sizes.len();
        let mut interior: Vec<(Vec<u32>, i64)> = vec![(Vec::new(), 0)];
        for &size in sizes {
            interior = interior
                .into_iter()
                .flat_map(|(key, _)| (0..size).map(move |v| (key.iter().copied().chain([v]).collect::<Vec<_>>(), 0)))
                .collect();
        }
        let mut totals: HashMap<Vec<Option<u32>>, i64> = HashMap::new();
        for (key, _) in &interior {
            let v = value(key);
            if v == 0 {
                continue; // absent: a known zero
            }
            for mask in 0..(1_u32 << dims) {
                let k: Vec<Option<u32>> =
                    (0..dims).map(|d| if mask & (1 << d) == 0 { Some(key[d]) } else { None }).collect();
                *totals.entry(k).or_default() += v;
            }
        }
        if totals.is_empty() {
            totals.insert(vec![None; dims], 0);
        }
        let mut cells: Vec<Cell> = totals.into_iter().map(|(key, value)| Cell { key, value, people: value }).collect();
        cells.sort_by(|a, b| a.key.cmp(&b.key));
        cells
    }

    /// The slow, obviously correct test: a withheld value is determined when adding its unit
    /// vector to the relations (restricted to withheld values) does not raise their rank.
    fn determined_slowly(cells: &[Cell], withheld: &[bool]) -> Vec<usize> {
        let relations = relations(cells);
        let hidden: Vec<usize> = (0..cells.len()).filter(|&i| withheld[i]).collect();
        let matrix: Vec<Vec<f64>> = relations
            .iter()
            .map(|r| {
                let mut row = vec![0.0; hidden.len()];
                for (i, coef) in r.members() {
                    if let Some(p) = hidden.iter().position(|&h| h == i) {
                        row[p] += coef;
                    }
                }
                row
            })
            .collect();
        let rank = |mut m: Vec<Vec<f64>>| echelon(&mut m).len();
        let base = rank(matrix.clone());
        (0..hidden.len())
            .filter(|&p| {
                let mut extended = matrix.clone();
                let mut unit = vec![0.0; hidden.len()];
                unit[p] = 1.0;
                extended.push(unit);
                rank(extended) == base
            })
            .map(|p| hidden[p])
            .collect()
    }

    fn holds(cells: &[Cell], threshold: i64) -> Result<(), String> {
        let withheld = protect(cells, threshold, Additivity::Additive);
        for (cell, &w) in cells.iter().zip(&withheld) {
            if cell.people > 0 && cell.people < threshold && !w {
                return Err(format!("{cell:?} published"));
            }
        }
        let exposed = determined_slowly(cells, &withheld);
        if exposed.is_empty() { Ok(()) } else { Err(format!("withheld cells {exposed:?} can be computed")) }
    }

    fn find<'a>(cells: &'a [Cell], withheld: &'a [bool], key: &[Option<u32>]) -> (i64, bool) {
        let i = cells.iter().position(|c| c.key == key).unwrap_or(usize::MAX);
        (cells.get(i).map_or(-1, |c| c.value), withheld.get(i).copied().unwrap_or(false))
    }

    #[test]
    fn a_lone_small_cell_gets_complements_in_its_row_and_column() {
        let values = [[2, 40, 30], [25, 35, 45]];
        let cells = cube(&[2, 3], |k| values[k[0] as usize][k[1] as usize]);
        let withheld = protect(&cells, 5, Additivity::Additive);
        assert!(find(&cells, &withheld, &[Some(0), Some(0)]).1);
        let interior_hidden = cells.iter().zip(&withheld).filter(|(c, w)| **w && !c.is_margin()).count();
        // The least that works: a rectangle of four cells, every total still published.
        assert_eq!(interior_hidden, 4, "{withheld:?}");
        assert!(cells.iter().zip(&withheld).all(|(c, w)| !c.is_margin() || !*w));
        assert_eq!(holds(&cells, 5), Ok(()));
    }

    #[test]
    fn large_counts_and_zeros_are_published() {
        let values = [[0, 40], [25, 35]];
        let cells = cube(&[2, 2], |k| values[k[0] as usize][k[1] as usize]);
        assert!(protect(&cells, 5, Additivity::Additive).iter().all(|w| !w));
    }

    #[test]
    fn one_dimension_needs_a_second_cell_hidden_beside_the_small_one() {
        let values = [3, 50, 20];
        let cells = cube(&[3], |k| values[k[0] as usize]);
        let withheld = protect(&cells, 5, Additivity::Additive);
        assert!(find(&cells, &withheld, &[Some(0)]).1);
        assert!(find(&cells, &withheld, &[Some(2)]).1, "the smallest other cell hides it");
        assert!(!find(&cells, &withheld, &[Some(1)]).1);
        assert!(!find(&cells, &withheld, &[None]).1, "the grand total stays published");
    }

    #[test]
    fn percentiles_get_primary_suppression_only() {
        let cells = vec![
            Cell { key: vec![Some(0)], value: 30, people: 2 },
            Cell { key: vec![Some(1)], value: 12, people: 40 },
            Cell { key: vec![None], value: 12, people: 42 },
        ];
        assert_eq!(protect(&cells, 5, Additivity::NotAdditive), vec![true, false, false]);
    }

    #[test]
    fn a_three_dimensional_table_is_protected_against_every_margin() {
        let cells = cube(&[3, 3, 2], |k| i64::from((k[0] * 7 + k[1] * 5 + k[2] * 3) % 11));
        assert_eq!(holds(&cells, 5), Ok(()));
    }

    /// The field's product is the exact product modulo P, at the edges too (the reduction folds
    /// the high bits onto the low ones and must not lose a carry).
    #[test]
    fn the_field_product_is_the_product_modulo_the_prime() {
        let edges =
            [0, 1, 2, 3, field::P - 1, field::P - 2, 1 << 60, (1 << 60) + 1, (1 << 61) - 3, 0x0123_4567_89ab_cdef];
        for &a in &edges {
            for &b in &edges {
                let exact = u128::from(a) * u128::from(b) % u128::from(field::P);
                assert_eq!(u128::from(field::mul(a, b)), exact, "{a} * {b}");
            }
        }
        let inverse = field::inverse(0x0123_4567_89ab_cdef);
        assert_eq!(field::mul(inverse, 0x0123_4567_89ab_cdef), 1);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn no_small_count_is_published_and_no_withheld_count_can_be_recovered(
            sizes in proptest::collection::vec(1_u32..5, 0..4),
            seed in proptest::collection::vec(0_i64..40, 64),
            threshold in 5_i64..8,
        ) {
            let cells = cube(&sizes, |k| {
                let at = k.iter().fold(0_usize, |acc, &v| acc * 5 + v as usize);
                // One cell in three is a small count, so suppression has work to do.
                let v = seed[at % seed.len()];
                if v % 3 == 0 { v % 7 } else { v }
            });
            prop_assert_eq!(holds(&cells, threshold), Ok(()));
        }
    }
}
