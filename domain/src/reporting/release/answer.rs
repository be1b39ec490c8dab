//! Which cells of a release answer a question, and the rows they make. Nothing here computes a
//! figure: an answer only reads the release's cells, so every answer that shows a cell shows the
//! same figure, or withholds it.

use std::collections::BTreeMap;

use super::build::{Figure, Release};
pub use super::lattice::AGENCY_BIT;
use super::lattice::{CellKey, Level, Node, counted, plain_index};
use crate::reporting::{Dimension, FiscalQuarter, METRICS, Metric, ReleasePeriod};

/// The fiscal year and node of a release period.
#[must_use]
pub fn node_of(period: ReleasePeriod) -> (i32, Node) {
    match period {
        ReleasePeriod::Year(year) => (year, Node::Year),
        ReleasePeriod::Quarter(q) => (q.year(), Node::Quarter(q.quarter())),
        ReleasePeriod::Month { month, .. } => {
            (FiscalQuarter::of(period.first_day()).year(), Node::Month(Node::fiscal_month(month)))
        }
    }
}

/// A question finer than a release holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "over a fiscal quarter or month, group by at most two dimensions besides agency, month and fiscal_quarter \
     (ask over the fiscal year for three)"
)]
pub struct TooFine;

/// The cells of one margin of a question: those of `nodes` (all of one level) fixing the plain
/// dimensions of `mask`. `subset` has bit i set for `group_by[i]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slice {
    /// Which of the grouped dimensions it names.
    pub subset: usize,
    /// The nodes' level.
    pub level: Level,
    /// The plain dimensions it fixes.
    pub mask: u8,
    /// The nodes, within the period asked.
    pub nodes: Vec<Node>,
}

/// The slices answering `group_by` over `period`: one per subset of the dimensions (the full set
/// is the interior, every other a margin), finest first.
///
/// # Errors
/// [`TooFine`] when the interior would fix more dimensions than its level holds.
pub fn plan(period: Node, group_by: &[Dimension]) -> Result<Vec<Slice>, TooFine> {
    plan_fixing(period, group_by, 0)
}

/// [`plan`] for one agency's own figures: every slice also fixes the agency (`fixed` is
/// [`AGENCY_BIT`]), so its cells are the agency's.
///
/// # Errors
/// [`TooFine`], as [`plan`].
pub fn plan_fixing(period: Node, group_by: &[Dimension], fixed: u8) -> Result<Vec<Slice>, TooFine> {
    let n = group_by.len();
    let mut out = Vec::with_capacity(1 << n);
    for subset in (0..(1_usize << n)).rev() {
        let named: Vec<Dimension> = (0..n).filter(|i| subset & (1 << i) != 0).map(|i| group_by[i]).collect();
        let nodes: Vec<Node> = if named.contains(&Dimension::Month) {
            period.months().map(Node::Month).collect()
        } else if named.contains(&Dimension::FiscalQuarterOf) {
            match period {
                Node::Month(_) | Node::Quarter(_) => vec![period],
                Node::Year => (1..=4).map(Node::Quarter).collect(),
            }
        } else {
            vec![period]
        };
        let level = nodes.first().map_or(Level::Year, |n| n.level());
        let mask = named.iter().filter_map(|&d| plain_index(d)).fold(fixed, |m, d| m | (1 << d));
        if counted(mask) > level.max_plain() {
            return Err(TooFine);
        }
        out.push(Slice { subset, level, mask, nodes });
    }
    Ok(out)
}

/// A cell as answers read it: its key and what each metric shows (in [`Metric::ALL`] order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkCell {
    /// The key.
    pub key: CellKey,
    /// By metric.
    pub figures: [Figure; METRICS],
}

/// The cells of a release by (level, mask): what is stored and read together, one chunk per
/// margin shape, so an answer reads a few chunks and never the whole release.
#[must_use]
pub fn chunks(release: &Release) -> BTreeMap<(Level, u8), Vec<ChunkCell>> {
    let mut out: BTreeMap<(Level, u8), Vec<ChunkCell>> = BTreeMap::new();
    for cell in &release.cells {
        let figures = std::array::from_fn(|m| cell.figure(Metric::ALL[m], release.threshold));
        out.entry((cell.key.node().level(), cell.key.mask())).or_default().push(ChunkCell { key: cell.key, figures });
    }
    out
}

/// The position of `metric` in a [`ChunkCell`]'s figures.
#[must_use]
pub fn metric_index(metric: Metric) -> usize {
    Metric::ALL.iter().position(|&m| m == metric).unwrap_or(0)
}

/// One row of an answer: a label per grouped dimension (`None` where the row totals over it),
/// and the figure (never [`Figure::Absent`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnswerRow {
    /// By `group_by` position.
    pub labels: Vec<Option<String>>,
    /// The figure.
    pub figure: Figure,
    /// True for an interior cell (every grouped dimension named).
    pub interior: bool,
}

/// The label of `dimension` in a cell: its value's text, the month (`2026-07`) or the quarter
/// (`2026-Q1`). The agency is its tenant id (callers show the slug).
#[must_use]
pub fn label(fiscal_year: i32, dictionaries: &[Vec<String>; 8], key: CellKey, dimension: Dimension) -> Option<String> {
    match dimension {
        Dimension::Month => match key.node() {
            Node::Month(m) => {
                let (year, month) = Node::calendar_month(fiscal_year, m);
                Some(format!("{year}-{month:02}"))
            }
            _ => None,
        },
        Dimension::FiscalQuarterOf => key.node().quarter().map(|q| format!("{fiscal_year}-Q{q}")),
        plain => {
            let d = plain_index(plain)?;
            key.value(d).and_then(|code| dictionaries[d].get(usize::from(code)).cloned())
        }
    }
}

/// The rows answering `metric` by `group_by` over `period`, from `chunk` (the cells of a level
/// and mask), in key order within each slice, interior first.
pub fn rows<'c>(
    slices: &[Slice],
    group_by: &[Dimension],
    metric: Metric,
    fiscal_year: i32,
    dictionaries: &[Vec<String>; 8],
    chunk: impl Fn(Level, u8) -> &'c [ChunkCell],
) -> Vec<AnswerRow> {
    rows_where(slices, group_by, metric, fiscal_year, dictionaries, chunk, |_| true)
}

/// [`rows`] of the cells `keep` admits (an agency's own: those fixing it).
pub fn rows_where<'c>(
    slices: &[Slice],
    group_by: &[Dimension],
    metric: Metric,
    fiscal_year: i32,
    dictionaries: &[Vec<String>; 8],
    chunk: impl Fn(Level, u8) -> &'c [ChunkCell],
    keep: impl Fn(&ChunkCell) -> bool,
) -> Vec<AnswerRow> {
    let m = metric_index(metric);
    let full = (1_usize << group_by.len()) - 1;
    let mut out = Vec::new();
    for slice in slices {
        for cell in chunk(slice.level, slice.mask) {
            if !slice.nodes.contains(&cell.key.node()) || cell.figures[m] == Figure::Absent || !keep(cell) {
                continue;
            }
            let labels =
                group_by
                    .iter()
                    .enumerate()
                    .map(|(i, &d)| {
                        if slice.subset & (1 << i) == 0 { None } else { label(fiscal_year, dictionaries, cell.key, d) }
                    })
                    .collect();
            out.push(AnswerRow { labels, figure: cell.figures[m], interior: slice.subset == full });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_question_is_its_interior_and_every_margin_down_to_the_period() {
        let slices = plan(Node::Year, &[Dimension::Month, Dimension::Gender]).unwrap_or_default();
        assert_eq!(slices.len(), 4);
        assert_eq!(slices[0].level, Level::Month);
        assert_eq!(slices[0].nodes.len(), 12);
        assert_eq!(slices[3], Slice { subset: 0, level: Level::Year, mask: 0, nodes: vec![Node::Year] });
        let quarters = plan(Node::Quarter(2), &[Dimension::FiscalQuarterOf]).unwrap_or_default();
        assert_eq!(quarters[0].nodes, vec![Node::Quarter(2)]);
    }

    #[test]
    fn three_plain_dimensions_are_for_the_year_only() {
        let three = [Dimension::Gender, Dimension::AgeBand, Dimension::Program];
        assert!(plan(Node::Year, &three).is_ok());
        assert_eq!(plan(Node::Quarter(1), &three), Err(TooFine));
        let with_agency = [Dimension::Agency, Dimension::Gender, Dimension::AgeBand];
        assert!(plan(Node::Month(3), &with_agency).is_ok(), "the agency does not count");
        assert_eq!(plan_fixing(Node::Quarter(1), &three, AGENCY_BIT), Err(TooFine));
        assert!(plan_fixing(Node::Year, &three, AGENCY_BIT).is_ok_and(|s| s.iter().all(|s| s.mask & AGENCY_BIT != 0)));
        assert_eq!(
            plan(Node::Year, &[Dimension::Month, Dimension::Gender, Dimension::AgeBand]).map(|s| s.len()),
            Ok(8)
        );
    }
}
