//! Tabulated cells to a protected release: one suppression pattern for every cell of the lattice
//! and every figure family, and the figure each metric shows in each cell.

use super::lattice::CellKey;
use super::lineage::{self, Lineage};
use super::parallel::on_every_core;
use super::tabulate::{FAMILIES, Family, FamilyMask, Tabulated, Tally, rank};
use crate::reporting::{Measure, Metric};

/// One cell of a release.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleasedCell {
    /// Its key.
    pub key: CellKey,
    /// Each family's figures, in [`Family::ALL`] order.
    pub tallies: [Tally; FAMILIES],
    /// By family (in [`Family::ALL`] order): withheld in every metric of that family.
    pub withheld: [bool; FAMILIES],
}

/// What a metric shows in a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Figure {
    /// The metric has no facts there and the cell is published: answers leave it out (a zero
    /// identifies no one).
    Absent,
    /// The figure.
    Value(i64),
    /// Withheld.
    Withheld,
}

/// A protected release of one scope and fiscal year.
#[derive(Clone, Debug)]
pub struct Release {
    /// The fiscal year.
    pub fiscal_year: i32,
    /// The fewest people a published figure rests on.
    pub threshold: i64,
    /// By plain dimension, its values in sorted order (a key's codes index these).
    pub dictionaries: [Vec<String>; 8],
    /// Every cell, sorted by key.
    pub cells: Vec<ReleasedCell>,
}

/// Whether the nearest-rank `p`-th percentile of `n` values may be published: at least
/// `threshold` values at or below it and at least `threshold` at or above it. Otherwise it is an
/// extreme or close to one (with 5 to 9 values, the p90 is the largest: one person's minutes),
/// and the person it belongs to stands out. A p50 needs 9 values at the default threshold of 5,
/// a p90 needs 40.
#[must_use]
pub fn percentile_publishable(n: u32, p: u32, threshold: i64) -> bool {
    let r = rank(n, p);
    n > 0 && i64::from(r) >= threshold && i64::from(n - r + 1) >= threshold
}

impl ReleasedCell {
    /// What `metric` shows here.
    #[must_use]
    pub fn figure(&self, metric: Metric, threshold: i64) -> Figure {
        let family = Family::of(metric).index();
        let tally = self.tallies[family];
        if !tally.present() {
            return Figure::Absent;
        }
        // Facts here, none counted yet: withheld, as a cell resting on too few people is.
        if tally.events == 0 || self.withheld[family] {
            return Figure::Withheld;
        }
        match metric.measure() {
            Measure::DistinctPeople => Figure::Value(i64::from(tally.people)),
            Measure::Events => Figure::Value(i64::from(tally.events)),
            Measure::SumOfAmounts => Figure::Value(tally.sum),
            Measure::Percentile(p) => {
                let value = if p >= 90 { tally.p90 } else { tally.p50 };
                match value {
                    Some(v) if percentile_publishable(tally.events, u32::from(p), threshold) => {
                        Figure::Value(i64::from(v))
                    }
                    _ => Figure::Withheld,
                }
            }
        }
    }
}

/// A release, and what the next build of its year needs.
#[derive(Clone, Debug)]
pub struct Built {
    /// The release.
    pub release: Release,
    /// Its blocks, for the next build.
    pub lineage: Lineage,
    /// For each fact (in the order they were pushed), the families whose figures count it from
    /// now on (bits in [`Family::ALL`] order): the next build's `FactInput::counted`.
    pub counted: Vec<FamilyMask>,
    /// How many (fact, family) pairs wait, counted nowhere yet.
    pub waiting: usize,
}

/// Protects a year's facts as its first release ([`build_after`] with no lineage, the year
/// closed).
#[must_use]
pub fn build(tabulated: Tabulated, threshold: i64) -> Release {
    build_after(tabulated, threshold, None, 12).release
}

/// Protects a year's facts, continuing `previous` (the last build's lineage, see
/// [`super::lineage`]): which facts each family counts, and which cells are withheld, family by
/// family (see [`super::blocks`]). Every metric of a family (the p50 and p90 of the same minutes)
/// shares its pattern. Families count different facts (cases, services, money, minutes), so no
/// figure of one is a sum of another's: one pattern for all would withhold, say, every year
/// total of cases opened because a single case was closed that year, and protect no one more.
/// Without a lineage, or with one formed under another threshold, the facts are protected afresh.
/// `closed_months` is how many months of the year have closed
/// ([`lineage::closed_months`]): what waits in them is merged.
#[must_use]
pub fn build_after(mut tabulated: Tabulated, threshold: i64, previous: Option<&Lineage>, closed_months: u8) -> Built {
    let previous = previous.filter(|p| p.threshold == threshold);
    if previous.is_none() {
        tabulated.forget_counted();
    }
    let next_block = previous.map_or(0, |p| p.next_block);
    // The families are planned and protected independently, on every core.
    let t = &tabulated;
    let plans = on_every_core(FAMILIES, |f| {
        let before = previous.map_or_else(|| vec![None; t.microcells.len()], |p| lineage::previous_blocks(t, p, f));
        lineage::plan_family(&t.microcells, f, &before, next_block, threshold, closed_months)
    });
    let counted = tabulated.counted_after(|family, microcell| plans[family].takes_new[microcell]);
    let waiting = counted
        .iter()
        .zip(tabulated.admitted())
        .map(|(counted, admitted)| (admitted & !counted).count_ones() as usize)
        .sum();
    let cells = tabulated.cells(&counted);
    let keys: Vec<CellKey> = cells.iter().map(|(k, _)| *k).collect();
    let by_family =
        on_every_core(FAMILIES, |f| super::blocks::withheld(&keys, &tabulated.microcells, &plans[f].blocks));
    let lineage = lineage::next_lineage(&tabulated, threshold, &plans);
    let cells = cells
        .into_iter()
        .enumerate()
        .map(|(i, (key, tallies))| ReleasedCell { key, tallies, withheld: std::array::from_fn(|f| by_family[f][i]) })
        .collect();
    let release =
        Release { fiscal_year: tabulated.fiscal_year, threshold, dictionaries: tabulated.dictionaries, cells };
    Built { release, lineage, counted, waiting }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_percentile_needs_threshold_values_on_each_side_of_its_rank() {
        // p90 of 5 to 9 values is the largest: never published.
        assert!((5..=9).all(|n| !percentile_publishable(n, 90, 5)));
        assert!(!percentile_publishable(39, 90, 5));
        assert!(percentile_publishable(40, 90, 5));
        assert!(!percentile_publishable(8, 50, 5));
        assert!(percentile_publishable(9, 50, 5));
        assert!(!percentile_publishable(0, 50, 5));
    }
}
