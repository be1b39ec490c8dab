//! How long complementary suppression (`domain::reporting::protect`) takes on tables shaped like
//! the ministry's questions, with many small cells (a benchmark, not a test).
//! Run: `cargo run --release -p domain --example suppression`

use std::collections::HashMap;
use std::time::{Duration, Instant};

use domain::reporting::{Additivity, Cell, protect};

/// Every cell and margin of a table of `sizes`, interior values drawn by a fixed generator:
/// `zero_pct` % empty, `small_pct` % of 1 to 4 people, the rest 5 to 204.
fn table(sizes: &[u32], seed: u64, small_pct: u64, zero_pct: u64) -> Vec<Cell> {
    let mut state = seed | 1;
    let mut draw = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut keys: Vec<Vec<u32>> = vec![Vec::new()];
    for &size in sizes {
        keys = keys.into_iter().flat_map(|k| (0..size).map(move |v| [k.as_slice(), &[v]].concat())).collect();
    }
    let dims = sizes.len();
    let mut totals: HashMap<Vec<Option<u32>>, i64> = HashMap::new();
    for key in keys {
        let r = draw() % 100;
        let value = if r < zero_pct {
            continue;
        } else if r < zero_pct + small_pct {
            (draw() % 4 + 1) as i64
        } else {
            (draw() % 200 + 5) as i64
        };
        for mask in 0..(1_u32 << dims) {
            let margin = (0..dims).map(|d| if mask & (1 << d) == 0 { Some(key[d]) } else { None }).collect();
            *totals.entry(margin).or_default() += value;
        }
    }
    let mut cells: Vec<Cell> = totals.into_iter().map(|(key, value)| Cell { key, value, people: value }).collect();
    cells.sort_by(|a, b| a.key.cmp(&b.key));
    cells
}

fn main() {
    // victimization type × gender × age band; agency × fiscal quarter; agency × month; agency.
    for sizes in [&[12, 5, 8][..], &[50, 8], &[50, 24], &[50]] {
        let cells = table(sizes, 0x9e37_79b9_7f4a_7c15, 40, 15);
        let mut times: Vec<Duration> = Vec::new();
        let mut withheld = 0;
        for _ in 0..5 {
            let start = Instant::now();
            withheld = protect(&cells, 5, Additivity::Additive).iter().filter(|&&w| w).count();
            times.push(start.elapsed());
        }
        times.sort();
        println!("{sizes:?}: {} cells, {withheld} withheld, median {:?} of 5", cells.len(), times[2]);
    }
}
