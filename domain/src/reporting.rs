//! Ministry reporting rules: Ontario's fiscal quarters, response-time percentiles, and small-cell
//! suppression with complementary suppression, so that no withheld count of people can be worked
//! out from the totals published beside it.

use chrono::{Datelike, NaiveDate};

/// A quarter of Ontario's fiscal year, which starts on 1 April: fiscal year 2026, quarter 1 is
/// April to June 2026; quarter 4 is January to March 2027.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FiscalQuarter {
    year: i32,
    quarter: u8,
}

/// A fiscal quarter that does not exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("quarter must be 1 to 4 and fiscal_year 2000 to 2100")]
pub struct QuarterError;

impl FiscalQuarter {
    /// Builds a quarter.
    ///
    /// # Errors
    /// [`QuarterError`] outside quarter 1–4 or fiscal years 2000–2100.
    pub fn new(year: i32, quarter: u8) -> Result<Self, QuarterError> {
        if (1..=4).contains(&quarter) && (2000..=2100).contains(&year) {
            Ok(Self { year, quarter })
        } else {
            Err(QuarterError)
        }
    }

    /// The quarter a day falls in.
    #[must_use]
    pub fn of(day: NaiveDate) -> Self {
        let (year, quarter) = match day.month() {
            4..=6 => (day.year(), 1),
            7..=9 => (day.year(), 2),
            10..=12 => (day.year(), 3),
            _ => (day.year() - 1, 4),
        };
        Self { year, quarter }
    }

    /// The fiscal year (named for the calendar year it starts in).
    #[must_use]
    pub const fn year(self) -> i32 {
        self.year
    }

    /// The quarter, 1 to 4.
    #[must_use]
    pub const fn quarter(self) -> u8 {
        self.quarter
    }

    /// The first day of the quarter and the first day after it.
    #[must_use]
    pub fn range(self) -> (NaiveDate, NaiveDate) {
        let (year, month) = match self.quarter {
            1 => (self.year, 4),
            2 => (self.year, 7),
            3 => (self.year, 10),
            _ => (self.year + 1, 1),
        };
        let start = NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(NaiveDate::MIN);
        let end = start.checked_add_months(chrono::Months::new(3)).unwrap_or(NaiveDate::MAX);
        (start, end)
    }

    /// `2026-Q1`.
    #[must_use]
    pub fn label(self) -> String {
        format!("{}-Q{}", self.year, self.quarter)
    }
}

/// The `p`-th percentile (0 < p ≤ 100) of `values` by the nearest-rank method: the smallest value
/// with at least p % of values at or below it. `None` for no values.
#[must_use]
pub fn percentile(values: &mut [i64], p: u8) -> Option<i64> {
    if values.is_empty() || p == 0 || p > 100 {
        return None;
    }
    values.sort_unstable();
    let rank = (usize::from(p) * values.len()).div_ceil(100);
    values.get(rank.saturating_sub(1)).copied()
}

/// The smallest count of people that may be published (the ministry may raise it, never lower it).
pub const DEFAULT_THRESHOLD: i64 = 5;

/// A table of counts of people with its row, column and grand totals, as published together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CountTable {
    /// `cells[row][column]`, all rows the same length.
    pub cells: Vec<Vec<i64>>,
}

/// Which values of a [`CountTable`] are withheld.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suppression {
    /// Withheld interior cells.
    pub cells: Vec<Vec<bool>>,
    /// Withheld row totals.
    pub row_totals: Vec<bool>,
    /// Withheld column totals.
    pub column_totals: Vec<bool>,
    /// Whether the grand total is withheld.
    pub grand_total: bool,
}

impl CountTable {
    fn shape(&self) -> (usize, usize) {
        (self.cells.len(), self.cells.first().map_or(0, Vec::len))
    }

    /// Row totals.
    #[must_use]
    pub fn row_totals(&self) -> Vec<i64> {
        self.cells.iter().map(|r| r.iter().sum()).collect()
    }

    /// Column totals.
    #[must_use]
    pub fn column_totals(&self) -> Vec<i64> {
        let (_, cols) = self.shape();
        (0..cols).map(|c| self.cells.iter().map(|r| r[c]).sum()).collect()
    }
}

/// The values of a table as one vector: cells row by row, then row totals, column totals, grand
/// total; and the linear relations that hold between them (each a list of (index, coefficient)
/// summing to zero).
fn system(table: &CountTable) -> (Vec<i64>, Vec<Vec<(usize, f64)>>) {
    let (rows, cols) = table.shape();
    let mut values: Vec<i64> = table.cells.iter().flatten().copied().collect();
    values.extend(table.row_totals());
    values.extend(table.column_totals());
    values.push(table.row_totals().iter().sum());
    let cell = |r: usize, c: usize| r * cols + c;
    let row_total = |r: usize| rows * cols + r;
    let col_total = |c: usize| rows * cols + rows + c;
    let grand = rows * cols + rows + cols;
    let mut relations = Vec::new();
    for r in 0..rows {
        let mut eq: Vec<(usize, f64)> = (0..cols).map(|c| (cell(r, c), 1.0)).collect();
        eq.push((row_total(r), -1.0));
        relations.push(eq);
    }
    for c in 0..cols {
        let mut eq: Vec<(usize, f64)> = (0..rows).map(|r| (cell(r, c), 1.0)).collect();
        eq.push((col_total(c), -1.0));
        relations.push(eq);
    }
    let mut eq: Vec<(usize, f64)> = (0..rows).map(|r| (row_total(r), 1.0)).collect();
    eq.push((grand, -1.0));
    relations.push(eq);
    let mut eq: Vec<(usize, f64)> = (0..cols).map(|c| (col_total(c), 1.0)).collect();
    eq.push((grand, -1.0));
    relations.push(eq);
    (values, relations)
}

fn rank(mut m: Vec<Vec<f64>>) -> usize {
    let cols = m.first().map_or(0, Vec::len);
    let mut rank = 0;
    for col in 0..cols {
        let Some(pivot) = (rank..m.len()).find(|&r| m[r][col].abs() > 1e-9) else { continue };
        m.swap(rank, pivot);
        let pivot_row = m[rank].clone();
        for (r, row) in m.iter_mut().enumerate() {
            if r != rank && row[col].abs() > 1e-9 {
                let factor = row[col] / pivot_row[col];
                for (value, pivot_value) in row.iter_mut().zip(&pivot_row).skip(col) {
                    *value -= factor * pivot_value;
                }
            }
        }
        rank += 1;
    }
    rank
}

/// The withheld values (by index) that the published values and the table's relations determine
/// exactly. Published values are constants; a withheld one is determined when its unit vector lies
/// in the row space of the relations restricted to the withheld values.
fn determined(relations: &[Vec<(usize, f64)>], withheld: &[usize]) -> Vec<usize> {
    let position = |i: usize| withheld.iter().position(|&w| w == i);
    let matrix: Vec<Vec<f64>> = relations
        .iter()
        .map(|eq| {
            let mut row = vec![0.0; withheld.len()];
            for &(i, coef) in eq {
                if let Some(p) = position(i) {
                    row[p] += coef;
                }
            }
            row
        })
        .filter(|row| row.iter().any(|v| v.abs() > 1e-9))
        .collect();
    let base = rank(matrix.clone());
    withheld
        .iter()
        .enumerate()
        .filter(|(p, _)| {
            let mut extended = matrix.clone();
            let mut unit = vec![0.0; withheld.len()];
            unit[*p] = 1.0;
            extended.push(unit);
            rank(extended) == base
        })
        .map(|(_, &i)| i)
        .collect()
}

/// Withholds every count of people from 1 to `threshold - 1` (primary suppression; zero is
/// published, as it identifies nobody), then withholds further values (complementary
/// suppression) until no withheld value can be computed exactly from the published values and
/// the table's row, column and grand totals. Complements are chosen smallest first, so as little
/// as possible is hidden; a total is withheld only when its line has nothing left to hide.
#[must_use]
pub fn suppress(table: &CountTable, threshold: i64) -> Suppression {
    let (rows, cols) = table.shape();
    let (values, relations) = system(table);
    let primary = |v: i64| v > 0 && v < threshold;
    let mut withheld: Vec<bool> = values.iter().map(|&v| primary(v)).collect();
    let interior = rows * cols;
    loop {
        let hidden: Vec<usize> = (0..values.len()).filter(|&i| withheld[i]).collect();
        let exposed = determined(&relations, &hidden);
        if exposed.is_empty() {
            break;
        }
        // Candidates: published values sharing a relation with an exposed one. Hide the one that
        // leaves the fewest values exposed (greedy look-ahead); among equals an interior cell
        // before a total, then the smallest, so as little as possible is hidden.
        let mut candidates: Vec<usize> = relations
            .iter()
            .filter(|eq| eq.iter().any(|&(k, _)| exposed.contains(&k)))
            .flat_map(|eq| eq.iter().map(|&(k, _)| k))
            .filter(|&k| !withheld[k])
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        let best = candidates.into_iter().min_by_key(|&j| {
            let mut trial = hidden.clone();
            trial.push(j);
            (determined(&relations, &trial).len(), j >= interior, values[j], j)
        });
        match best {
            Some(j) => withheld[j] = true,
            None => {
                withheld.iter_mut().for_each(|w| *w = true);
                break;
            }
        }
    }
    Suppression {
        cells: (0..rows).map(|r| (0..cols).map(|c| withheld[r * cols + c]).collect()).collect(),
        row_totals: (0..rows).map(|r| withheld[rows * cols + r]).collect(),
        column_totals: (0..cols).map(|c| withheld[rows * cols + rows + c]).collect(),
        grand_total: withheld[rows * cols + rows + cols],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn fiscal_quarters_start_in_april() {
        assert_eq!(FiscalQuarter::of(day(2026, 4, 1)), FiscalQuarter { year: 2026, quarter: 1 });
        assert_eq!(FiscalQuarter::of(day(2026, 12, 31)), FiscalQuarter { year: 2026, quarter: 3 });
        assert_eq!(FiscalQuarter::of(day(2027, 3, 31)), FiscalQuarter { year: 2026, quarter: 4 });
        let q4 = FiscalQuarter { year: 2026, quarter: 4 };
        assert_eq!(q4.range(), (day(2027, 1, 1), day(2027, 4, 1)));
        assert_eq!(FiscalQuarter { year: 2026, quarter: 1 }.range(), (day(2026, 4, 1), day(2026, 7, 1)));
        assert_eq!(q4.label(), "2026-Q4");
        assert!(FiscalQuarter::new(2026, 5).is_err());
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut minutes = vec![30, 5, 10, 20, 15];
        assert_eq!(percentile(&mut minutes, 50), Some(15));
        assert_eq!(percentile(&mut minutes, 90), Some(30));
        assert_eq!(percentile(&mut minutes, 100), Some(30));
        assert_eq!(percentile(&mut [], 50), None);
        assert_eq!(percentile(&mut [7], 50), Some(7));
    }

    #[test]
    fn a_lone_small_cell_gets_a_complement_in_its_row_and_column() {
        let table = CountTable { cells: vec![vec![2, 40, 30], vec![25, 35, 45]] };
        let s = suppress(&table, 5);
        assert!(s.cells[0][0]);
        assert!(s.cells[0].iter().filter(|c| **c).count() >= 2, "{s:?}");
        assert!(s.cells.iter().filter(|r| r[0]).count() >= 2, "{s:?}");
        // The least that works: a rectangle of four cells, every total still published.
        assert_eq!(s.cells.iter().flatten().filter(|c| **c).count(), 4, "{s:?}");
        assert!(!s.grand_total && !s.row_totals.iter().any(|t| *t) && !s.column_totals.iter().any(|t| *t), "{s:?}");
    }

    #[test]
    fn large_counts_and_zeros_are_published() {
        let table = CountTable { cells: vec![vec![0, 40], vec![25, 35]] };
        let s = suppress(&table, 5);
        assert!(s.cells.iter().flatten().all(|c| !c));
    }

    /// Checks the two promises on one table.
    fn holds(table: &CountTable, threshold: i64) -> Result<(), String> {
        let s = suppress(table, threshold);
        let (values, relations) = system(table);
        let mut withheld: Vec<bool> = s.cells.iter().flatten().copied().collect();
        withheld.extend(&s.row_totals);
        withheld.extend(&s.column_totals);
        withheld.push(s.grand_total);
        for (i, &v) in values.iter().enumerate() {
            if v > 0 && v < threshold && !withheld[i] {
                return Err(format!("value {v} at {i} published"));
            }
        }
        let hidden: Vec<usize> = (0..values.len()).filter(|&i| withheld[i]).collect();
        let exposed = determined(&relations, &hidden);
        if exposed.is_empty() { Ok(()) } else { Err(format!("withheld values {exposed:?} can be computed")) }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn no_small_count_is_published_and_no_withheld_count_can_be_recovered(
            rows in 1_usize..5,
            cols in 1_usize..5,
            seed in proptest::collection::vec(0_i64..40, 16),
            threshold in 5_i64..8,
        ) {
            let cells = (0..rows).map(|r| (0..cols).map(|c| seed[(r * 4 + c) % seed.len()]).collect()).collect();
            let table = CountTable { cells };
            prop_assert_eq!(holds(&table, threshold), Ok(()));
        }
    }
}
