//! Tabulated cells to a protected release: one suppression pattern for every cell of the lattice
//! and every figure family, and the figure each metric shows in each cell.

use super::lattice::CellKey;
use super::tabulate::{Family, Tabulated, Tally, rank};
use crate::reporting::{Measure, Metric};

/// One cell of a release.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleasedCell {
    /// Its key.
    pub key: CellKey,
    /// Each family's figures, in [`Family::ALL`] order.
    pub tallies: [Tally; 8],
    /// By family (in [`Family::ALL`] order): withheld in every metric of that family.
    pub withheld: [bool; 8],
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
        if tally.events == 0 {
            return Figure::Absent;
        }
        if self.withheld[family] {
            return Figure::Withheld;
        }
        match metric.measure() {
            Measure::DistinctPeople => Figure::Value(i64::from(tally.people)),
            Measure::Events => Figure::Value(i64::from(tally.events)),
            Measure::SumOfAmounts => Figure::Value(tally.sum),
            Measure::PercentileOfMinutes(p) => {
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

/// Protects tabulated cells: which are withheld, family by family (see [`super::blocks`]). Every
/// metric of a family (the p50 and p90 of the same minutes) shares its pattern. Families count
/// different facts (cases, services, money, minutes), so no figure of one is a sum of another's:
/// one pattern for all would withhold, say, every year total of cases opened because a single
/// case was closed that year, and protect no one more.
#[must_use]
pub fn build(tabulated: Tabulated, threshold: i64) -> Release {
    let Tabulated { fiscal_year, dictionaries, cells, microcells } = tabulated;
    let keys: Vec<CellKey> = cells.iter().map(|(k, _)| *k).collect();
    // The families are protected independently: one per core at a time.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(Family::ALL.len());
    let mut by_family: Vec<(usize, Vec<bool>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let f = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if f >= Family::ALL.len() {
                            break done;
                        }
                        done.push((f, super::blocks::withheld(&keys, &microcells, f, threshold)));
                    }
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    });
    by_family.sort_by_key(|(f, _)| *f);
    let by_family: Vec<Vec<bool>> = by_family.into_iter().map(|(_, w)| w).collect();
    let cells = cells
        .into_iter()
        .enumerate()
        .map(|(i, (key, tallies))| ReleasedCell { key, tallies, withheld: std::array::from_fn(|f| by_family[f][i]) })
        .collect();
    Release { fiscal_year, threshold, dictionaries, cells }
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
