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

/// Reduces `m` to row echelon form in place and returns, for each pivot row, its pivot column.
fn echelon(m: &mut [Vec<f64>]) -> Vec<usize> {
    let cols = m.first().map_or(0, Vec::len);
    let mut pivots = Vec::new();
    let mut row = 0;
    for col in 0..cols {
        if row == m.len() {
            break;
        }
        // Partial pivoting: the largest entry keeps the arithmetic stable.
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

/// The withheld cells whose values the published cells and the relations determine exactly.
///
/// Published values are constants, so each relation restricted to the withheld cells is a linear
/// equation in them. In reduced row echelon form a withheld value is determined exactly when it
/// is a pivot whose row has no entry in a free column. Withheld cells that share no relation are
/// independent, so each connected group is solved on its own.
fn exposed_by(relations: &[Relation], withheld: &[bool]) -> Vec<usize> {
    let mut unknowns: Vec<usize> = Vec::new();
    let mut position: HashMap<usize, usize> = HashMap::new();
    let equations: Vec<Vec<usize>> = relations
        .iter()
        .map(|r| r.members().map(|(i, _)| i).filter(|&i| withheld[i]).collect::<Vec<_>>())
        .filter(|eq: &Vec<usize>| !eq.is_empty())
        .collect();
    for eq in &equations {
        for &i in eq {
            position.entry(i).or_insert_with(|| {
                unknowns.push(i);
                unknowns.len() - 1
            });
        }
    }
    // Group the unknowns that share equations (union-find).
    let mut parent: Vec<usize> = (0..unknowns.len()).collect();
    fn find(parent: &mut [usize], x: usize) -> usize {
        let mut root = x;
        while parent[root] != root {
            root = parent[root];
        }
        let mut node = x;
        while parent[node] != root {
            let next = parent[node];
            parent[node] = root;
            node = next;
        }
        root
    }
    for eq in &equations {
        let first = find(&mut parent, position[&eq[0]]);
        for &i in &eq[1..] {
            let other = find(&mut parent, position[&i]);
            parent[other] = first;
        }
    }
    let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
    for p in 0..unknowns.len() {
        let root = find(&mut parent, p);
        groups.entry(root).or_default().push(p);
    }
    let mut out = Vec::new();
    for members in groups.values() {
        let local: HashMap<usize, usize> = members.iter().enumerate().map(|(l, &p)| (unknowns[p], l)).collect();
        let mut matrix: Vec<Vec<f64>> = relations
            .iter()
            .filter(|r| r.members().any(|(i, _)| local.contains_key(&i)))
            .map(|r| {
                let mut row = vec![0.0; members.len()];
                for (i, coef) in r.members() {
                    if let Some(&l) = local.get(&i) {
                        row[l] += coef;
                    }
                }
                row
            })
            .collect();
        let pivots = echelon(&mut matrix);
        let free: Vec<usize> = (0..members.len()).filter(|c| !pivots.contains(c)).collect();
        for (row, &col) in pivots.iter().enumerate() {
            if free.iter().all(|&f| matrix[row][f].abs() < 1e-9) {
                out.push(unknowns[members[col]]);
            }
        }
    }
    out.sort_unstable();
    out
}

/// The next cells to withhold so that fewer values stay exposed. A candidate is a published cell
/// sharing a relation with an exposed value; the best is an interior cell rather than a margin
/// (margins can be asked for on their own), then covers the most exposed values, then is the
/// smallest. With few exposed values one cell is
/// chosen per round (closing a rectangle rather than opening two); with many, one per exposed
/// value not yet covered, so large tables need few rounds. Empty when nothing is left to hide.
fn complements(
    cells: &[Cell],
    relations: &[Relation],
    touching: &[Vec<usize>],
    withheld: &[bool],
    exposed: &[usize],
) -> Vec<usize> {
    const ONE_AT_A_TIME: usize = 16;
    const LOOK_AHEAD: usize = 8;
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
    if exposed.len() <= ONE_AT_A_TIME {
        // Look ahead: of the best few by rank, the one that leaves the fewest values exposed.
        let mut candidates: Vec<usize> = coverage.keys().copied().collect();
        candidates.sort_by_key(|&i| rank(i));
        candidates.truncate(LOOK_AHEAD);
        return candidates
            .into_iter()
            .min_by_key(|&i| {
                let mut trial = withheld.to_vec();
                trial[i] = true;
                (exposed_by(relations, &trial).len(), rank(i))
            })
            .into_iter()
            .collect();
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
    chosen
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
    loop {
        let exposed = exposed_by(&relations, &withheld);
        if exposed.is_empty() {
            return withheld;
        }
        let chosen = complements(cells, &relations, &touching, &withheld, &exposed);
        if chosen.is_empty() {
            return vec![true; cells.len()];
        }
        for i in chosen {
            withheld[i] = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
