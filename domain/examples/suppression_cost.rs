//! How long suppression takes on tables the size the ministry asks for. Run with
//! `cargo run --release -p domain --example suppression_cost`. Figures are in docs/benchmarks.md.

use std::collections::HashMap;
use std::time::Instant;

use domain::reporting::{Additivity, Cell, protect};

/// A table with every margin from interior counts drawn by a small deterministic generator; about
/// `small_share` of the cells hold 1 to 4 people.
fn table(sizes: &[u32], small_share: f64, seed: u64) -> Vec<Cell> {
    let mut state = seed;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let dims = sizes.len();
    let mut keys: Vec<Vec<u32>> = vec![Vec::new()];
    for &size in sizes {
        keys = keys.into_iter().flat_map(|k| (0..size).map(move |v| [k.clone(), vec![v]].concat())).collect();
    }
    let mut totals: HashMap<Vec<Option<u32>>, i64> = HashMap::new();
    for key in keys {
        let roll = (next() % 10_000) as f64 / 10_000.0;
        let value = if roll < small_share { 1 + (next() % 4) as i64 } else { 5 + (next() % 400) as i64 };
        for mask in 0..(1_u32 << dims) {
            let k = (0..dims).map(|d| if mask & (1 << d) == 0 { Some(key[d]) } else { None }).collect();
            *totals.entry(k).or_default() += value;
        }
    }
    totals.into_iter().map(|(key, value)| Cell { key, value, people: value }).collect()
}

fn main() {
    for (name, sizes, small) in [
        ("agency × quarter (50 × 8)", vec![50, 8], 0.05),
        ("agency × month (50 × 24)", vec![50, 24], 0.10),
        ("agency × month, many small (50 × 24)", vec![50, 24], 0.40),
        ("victimization × gender × age band (7 × 5 × 9)", vec![7, 5, 9], 0.20),
        ("agency × quarter × age band (50 × 8 × 9)", vec![50, 8, 9], 0.20),
        ("agency × month × division (50 × 24 × 17)", vec![50, 24, 17], 0.30),
    ] {
        let cells = table(&sizes, small, 0x9e37_79b9_7f4a_7c15);
        let started = Instant::now();
        let withheld = protect(&cells, 5, Additivity::Additive);
        let took = started.elapsed();
        let hidden = withheld.iter().filter(|w| **w).count();
        println!("{name}: {} cells, {hidden} withheld, {:.1} ms", cells.len(), took.as_secs_f64() * 1000.0);
    }
}
