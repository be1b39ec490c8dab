//! Releases that stay protected as facts arrive.
//!
//! One release is protected as a whole (`super::blocks`), but a year's release is rebuilt as
//! facts arrive, and an analyst who keeps both answers of a question asked before and after a
//! rebuild can subtract them. Were each build's blocks formed afresh, the difference could rest on
//! one new case, and two partitions of the same facts could be intersected. So a build continues
//! the last one's *lineage*:
//!
//! - every block of the last build is kept, with the same microcells: a block is never split;
//! - the facts that arrived since (a block's *delta*) are counted only when they are, by
//!   themselves, at least the threshold's people of the family; until then they wait, counted
//!   nowhere (the cells they fall in show what was counted before, or are withheld when nothing
//!   there is counted yet);
//! - microcells no block holds (coordinates new since the last build, or whose facts waited) are
//!   partitioned among themselves by the tree of `super::blocks`, counting their people; what the
//!   tree cannot place waits for the next build.
//!
//! Why every sequence of releases stays protected: call an *atom* the facts a block took in at one
//! build (its first facts, or a delta). Atoms are disjoint, and each rests on at least the
//! threshold's people. Every figure any release publishes is a sum over whole blocks, so over
//! whole atoms (a block's figure at build k is the sum of the atoms it took in up to k). Any
//! linear combination of figures from any releases (the same cell before and after, a margin less
//! its parts, a quarter less its months) is then a combination of atoms, and isolates nothing
//! smaller than one atom: never 1 to threshold − 1 people, never one person's value. Waiting facts
//! are in no figure at all.
//!
//! - once a month has closed, what still waits in it is merged: the waiting blocks and microcells
//!   of closed months are partitioned by the same tree within each agency, counting only their
//!   waiting people, and each group that rests on at least the threshold's people becomes one
//!   block that counts them.
//!
//! Merging keeps the argument: the merged block's figure is the blocks' figures before plus the
//! group's waiting facts, and the latter, one new atom, rest on at least the threshold's people.
//! Published figures are still sums of whole blocks, so of whole atoms.
//!
//! The price: a fact can wait, at most until its month closes (a closed month's late fact, until
//! the next build), unless fewer than the threshold's people of its agency wait in its family
//! across the year's closed months. A busy block takes in new facts within a build or two; merging coarsens blocks, so cells
//! that were published can become withheld once a quiet month closes. Waiting within an open
//! month rather than merging at once keeps that to once a month. Raising the threshold starts a
//! new lineage.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate};

use serde::{Deserialize, Serialize};

use super::blocks;
#[cfg(doc)]
use super::tabulate::Family;
use super::tabulate::{FAMILIES, Microcell, Tabulated};

/// What a year's next build keeps of its last one: every block, as the microcells it holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lineage {
    /// The threshold the blocks were formed with.
    pub threshold: i64,
    /// By plain dimension, the values the codes below index.
    pub dictionaries: [Vec<String>; 8],
    /// By family (in [`Family::ALL`] order), each microcell some block holds, as its fiscal month,
    /// its value codes and its block's number; sorted. A lineage stored before a family existed
    /// lists fewer: the newer families have no blocks yet.
    #[serde(deserialize_with = "families_or_fewer")]
    pub blocks: [Vec<Block>; FAMILIES],
    /// The number the next new block takes.
    pub next_block: u32,
}

/// One family's plan for a build: its blocks, each a number and the microcells it holds (indices
/// into the tabulation's), and for each microcell whether its new facts are counted from now on.
pub(super) struct FamilyPlan {
    pub(super) blocks: Vec<(u32, Vec<usize>)>,
    pub(super) takes_new: Vec<bool>,
    pub(super) next_block: u32,
}

/// For each microcell of `t`, the block the last build put it in for `family`, if any.
pub(super) fn previous_blocks(t: &Tabulated, previous: &Lineage, family: usize) -> Vec<Option<u32>> {
    let mut out = vec![None; t.microcells.len()];
    // The last build's codes to this tabulation's: facts are only ever added, so every value the
    // last build knew is still here.
    let recode: Vec<Vec<Option<u16>>> = (0..8)
        .map(|d| {
            previous.dictionaries[d]
                .iter()
                .map(|label| t.dictionaries[d].binary_search(label).ok().and_then(|code| u16::try_from(code).ok()))
                .collect()
        })
        .collect();
    for &(month, codes, block) in &previous.blocks[family] {
        let mut plain = [0_u16; 8];
        let mut known = true;
        for d in 0..8 {
            match recode[d].get(usize::from(codes[d])).copied().flatten() {
                Some(code) => plain[d] = code,
                None => known = false,
            }
        }
        if !known {
            continue;
        }
        if let Ok(i) = t.microcells.binary_search_by_key(&(month, plain), |m| (m.month, m.plain)) {
            out[i] = Some(block);
        }
    }
    out
}

/// Plans `family`'s part of a build: keeps the last build's blocks (`previous[i]` for each
/// microcell), lets each take in its new facts when they are at least `threshold` people, and
/// partitions the microcells no block holds.
pub(super) fn plan_family(
    micro: &[Microcell],
    family: usize,
    previous: &[Option<u32>],
    next_block: u32,
    threshold: i64,
    closed_months: u8,
) -> FamilyPlan {
    let enough = usize::try_from(threshold).unwrap_or(usize::MAX).max(1);
    let mut takes_new = vec![false; micro.len()];
    let mut kept: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    let mut free = Vec::new();
    for (i, m) in micro.iter().enumerate() {
        match previous[i] {
            Some(block) => kept.entry(block).or_default().push(i),
            None if m.has(family) => free.push(i),
            None => {}
        }
    }
    // Blocks whose new facts wait: (number, their new people), for the merge below.
    let mut waiting_blocks: Vec<(u32, usize)> = Vec::new();
    for (&number, members) in &kept {
        match new_people(micro, members, family, enough) {
            0 => {}
            n if n >= enough => {
                for &i in members {
                    takes_new[i] = true;
                }
            }
            _ => waiting_blocks.push((number, members.iter().copied().min().unwrap_or(0))),
        }
    }
    // A microcell no block holds has no counted facts (they would be in a block), unless the
    // lineage was lost: then its counted people are placed with the new, to be safe.
    let people: Vec<Vec<u32>> = free
        .iter()
        .map(|&i| {
            let m = &micro[i];
            let mut all = m.counted[family].clone();
            all.extend_from_slice(&m.new[family]);
            all.sort_unstable();
            all.dedup();
            all
        })
        .collect();
    let position: std::collections::HashMap<usize, usize> = free.iter().enumerate().map(|(k, &i)| (i, k)).collect();
    let lookup = |i: usize| -> &[u32] { position.get(&i).map_or(&[][..], |&k| people[k].as_slice()) };
    let (formed, waiting_free) = blocks::partition(micro, free.clone(), &lookup, threshold);
    let mut next = next_block;
    let mut new_blocks: Vec<Vec<usize>> = formed;
    new_blocks.extend(merge_closed_waiting(
        micro,
        family,
        &mut kept,
        &waiting_blocks,
        waiting_free,
        &lookup,
        threshold,
        closed_months,
    ));
    let mut blocks: Vec<(u32, Vec<usize>)> = kept.into_iter().collect();
    for members in new_blocks {
        for &i in &members {
            takes_new[i] = true;
        }
        blocks.push((next, members));
        next += 1;
    }
    FamilyPlan { blocks, takes_new, next_block: next }
}

/// How many months of `fiscal_year` have closed on `today` (an Ontario date): 12 for a past
/// year, none for a future one.
#[must_use]
pub fn closed_months(fiscal_year: i32, today: NaiveDate) -> u8 {
    let month = super::Node::fiscal_month(today.month());
    let year_of_today = if month >= 9 { today.year() - 1 } else { today.year() };
    match fiscal_year.cmp(&year_of_today) {
        std::cmp::Ordering::Less => 12,
        std::cmp::Ordering::Equal => month,
        std::cmp::Ordering::Greater => 0,
    }
}

/// What waits in a closed month, as one unit of the merge: a kept block whose new facts wait, or a
/// microcell no block holds.
struct Waiting {
    /// The kept block's number, if it is one.
    block: Option<u32>,
    /// Its microcells.
    members: Vec<usize>,
    /// Its waiting people.
    people: Vec<u32>,
}

/// The waiting of closed months, merged: the kept blocks whose new facts wait (`waiting_blocks`,
/// each a number and its first microcell) and the microcells the partition could not place
/// (`waiting_free`, their people from `free_people`), when all their months are closed, grouped by
/// the tree within each agency, counting only their waiting people. Each group of at least
/// `threshold` people becomes a new block (its old blocks are taken out of `kept`); the rest waits.
#[expect(clippy::too_many_arguments, reason = "one plan's parts, borrowed from plan_family")]
fn merge_closed_waiting<'p>(
    micro: &[Microcell],
    family: usize,
    kept: &mut BTreeMap<u32, Vec<usize>>,
    waiting_blocks: &[(u32, usize)],
    waiting_free: Vec<usize>,
    free_people: &dyn Fn(usize) -> &'p [u32],
    threshold: i64,
    closed_months: u8,
) -> Vec<Vec<usize>> {
    let closed = |members: &[usize]| members.iter().all(|&i| micro[i].month < closed_months);
    // What still waits in closed months, each unit placed in the tree at one of its microcells
    // (a block's first) and counting its waiting people only.
    let mut units: HashMap<usize, Waiting> = HashMap::new();
    for &(number, first) in waiting_blocks {
        let Some(members) = kept.get(&number) else { continue };
        if closed(members) {
            let mut people: Vec<u32> = members.iter().flat_map(|&i| micro[i].new[family].iter().copied()).collect();
            people.sort_unstable();
            people.dedup();
            units.insert(first, Waiting { block: Some(number), members: members.clone(), people });
        }
    }
    for i in waiting_free {
        if closed(&[i]) {
            units.insert(i, Waiting { block: None, members: vec![i], people: free_people(i).to_vec() });
        }
    }
    let mut merged_blocks = Vec::new();
    // Within each agency only: a block across two agencies would withhold both agencies' totals
    // for the rest of the year, the figures funding is accounted by.
    let mut by_agency: BTreeMap<u16, Vec<usize>> = BTreeMap::new();
    for &first in units.keys() {
        by_agency.entry(micro[first].plain[0]).or_default().push(first);
    }
    let unit_people = |i: usize| -> &[u32] { units.get(&i).map_or(&[][..], |u| u.people.as_slice()) };
    for agency_units in by_agency.into_values() {
        let (merged, _still_waiting) = blocks::partition(micro, agency_units, &unit_people, threshold);
        for group in merged {
            let mut members = Vec::new();
            for first in group {
                if let Some(unit) = units.get(&first) {
                    if let Some(number) = unit.block {
                        kept.remove(&number);
                    }
                    members.extend_from_slice(&unit.members);
                }
            }
            members.sort_unstable();
            merged_blocks.push(members);
        }
    }
    merged_blocks
}

/// The distinct new people of `members` in `family`, counted up to `enough`.
fn new_people(micro: &[Microcell], members: &[usize], family: usize, enough: usize) -> usize {
    let mut seen: Vec<u32> = Vec::new();
    for &i in members {
        seen.extend_from_slice(&micro[i].new[family]);
        if seen.len() >= enough {
            seen.sort_unstable();
            seen.dedup();
            if seen.len() >= enough {
                return seen.len();
            }
        }
    }
    seen.sort_unstable();
    seen.dedup();
    seen.len()
}

/// The lineage a build leaves: its dictionaries, and each family's numbered blocks.
pub(super) fn next_lineage(t: &Tabulated, threshold: i64, plans: &[FamilyPlan]) -> Lineage {
    let mut blocks: [Vec<Block>; FAMILIES] = Default::default();
    for (f, plan) in plans.iter().enumerate() {
        let list = &mut blocks[f];
        for (number, members) in &plan.blocks {
            list.extend(members.iter().map(|&i| (t.microcells[i].month, t.microcells[i].plain, *number)));
        }
        list.sort_unstable();
    }
    let next_block = plans.iter().map(|p| p.next_block).max().unwrap_or(0);
    Lineage { threshold, dictionaries: t.dictionaries.clone(), blocks, next_block }
}

/// A microcell a block holds: its fiscal month, its value codes and the block's number.
pub type Block = (u8, [u16; 8], u32);

/// Reads the blocks of every family, the newest families empty when a lineage stored before them
/// lists fewer (a family's position never changes: see [`super::tabulate::FamilyMask`]).
fn families_or_fewer<'de, D: serde::Deserializer<'de>>(d: D) -> Result<[Vec<Block>; FAMILIES], D::Error> {
    let mut listed: Vec<Vec<Block>> = Vec::deserialize(d)?;
    if listed.len() > FAMILIES {
        return Err(serde::de::Error::invalid_length(listed.len(), &"at most one list per family"));
    }
    listed.resize(FAMILIES, Vec::new());
    let mut out: [Vec<Block>; FAMILIES] = Default::default();
    for (slot, blocks) in out.iter_mut().zip(listed) {
        *slot = blocks;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn months_close_as_the_fiscal_year_goes_by() {
        assert_eq!(closed_months(2026, on(2026, 4, 1)), 0, "April is open on its first day");
        assert_eq!(closed_months(2026, on(2026, 5, 1)), 1);
        assert_eq!(closed_months(2026, on(2027, 1, 15)), 9, "January is fiscal month 9");
        assert_eq!(closed_months(2026, on(2027, 3, 31)), 11);
        assert_eq!(closed_months(2026, on(2027, 4, 1)), 12, "a past year is closed");
        assert_eq!(closed_months(2027, on(2027, 3, 31)), 0, "a future year has nothing closed");
    }

    #[test]
    fn a_lineage_stored_before_the_newest_families_reads_with_their_blocks_empty() {
        let mut lineage = Lineage { threshold: 5, next_block: 3, ..Lineage::default() };
        lineage.blocks[0] = vec![(1, [0; 8], 1), (2, [1; 8], 2)];
        lineage.blocks[7] = vec![(4, [2; 8], 2)];
        let mut stored: serde_json::Value = serde_json::to_value(&lineage).unwrap_or_default();
        // As a build with eight families stored it.
        if let Some(blocks) = stored["blocks"].as_array_mut() {
            blocks.truncate(8);
        }
        let read: Lineage = serde_json::from_value(stored.clone()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read, lineage);
        // More lists than families is not a lineage this build made.
        if let Some(blocks) = stored["blocks"].as_array_mut() {
            blocks.resize(FAMILIES + 1, serde_json::json!([]));
        }
        assert!(serde_json::from_value::<Lineage>(stored).is_err());
    }
}
