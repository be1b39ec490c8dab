//! Protection of a whole release at once, one figure family at a time: the microcells (each distinct month and value of every
//! plain dimension the facts fall at) are partitioned into blocks that each rest on no one or on
//! at least `threshold` people of the family, and a cell is published exactly when it is a union
//! of whole blocks. Every other cell is withheld, in every metric of the family.
//!
//! Why this holds against any sequence of questions: every published figure is a sum over whole
//! blocks, so any linear combination of published figures (any difference of periods, any margin
//! less its published parts, any set of answers solved together) is a combination of block
//! totals. Whatever the analyst works out rests on whole blocks, each of at least `threshold`
//! people, or on none: never on 1 to `threshold − 1` people, never one person's value. A withheld
//! cell cuts through some block, so it is not such a combination and cannot be worked out. The
//! argument holds even for an analyst who knows which microcells have facts, which is more than
//! the answers tell.
//!
//! How blocks are formed (deterministic: the same facts give the same blocks): the microcells are
//! arranged in a tree by agency, quarter, month, program, victimization type, gender, age band,
//! service type, division and urgency, most useful first. Going up from the leaves, each node
//! keeps its children's safe blocks and gathers what they could not place (their remainders)
//! into one. A safe remainder becomes a block; an unsafe one is merged with the node's smallest
//! blocks until it is safe, or, if even the whole node is not, is passed up. So a block straddles
//! the least useful dimensions it can, and the figures an analyst uses most (agency by quarter and
//! month, by program and victimization type) stay published wherever they rest on enough people.
//! What the root cannot place rests on fewer than `threshold` people in some family across the
//! whole year: it is counted nowhere yet, and waits for more facts (`super::lineage`).

use super::lattice::{CellKey, Node};
use super::tabulate::{Microcell, keys_into};

/// The order of the tree: `Some(d)` is plain dimension `d` (agency 0, program 1, victimization
/// type 2, division 3, service type 4, gender 5, age band 6, urgency 7); `None` at the second
/// and third levels are the quarter and the month.
const ORDER: [Level; 10] = [
    Level::Plain(0),
    Level::Quarter,
    Level::Month,
    Level::Plain(1),
    Level::Plain(2),
    Level::Plain(5),
    Level::Plain(6),
    Level::Plain(4),
    Level::Plain(3),
    Level::Plain(7),
];

#[derive(Clone, Copy)]
enum Level {
    Plain(usize),
    Quarter,
    Month,
}

fn coordinate(m: &Microcell, level: Level) -> u16 {
    match level {
        Level::Plain(d) => m.plain[d],
        Level::Quarter => u16::from(m.month / 3),
        Level::Month => u16::from(m.month),
    }
}

/// Distinct people of a group in one family, counted up to the threshold: `None` once it reaches
/// it (only "at least the threshold" matters).
type Capped = Option<Vec<u32>>;

#[derive(Clone, Debug)]
struct Group {
    members: Vec<usize>,
    people: Vec<Capped>,
}

impl Group {
    fn of(i: usize, p: &[u32], threshold: usize) -> Self {
        Self { members: vec![i], people: vec![if p.len() >= threshold { None } else { Some(p.to_vec()) }] }
    }

    /// Safe: in every family, no one or at least the threshold.
    fn safe(&self) -> bool {
        self.people.iter().all(|p| p.as_ref().is_none_or(Vec::is_empty))
    }

    fn absorb(&mut self, other: Self, threshold: usize) {
        self.members.extend(other.members);
        for (mine, theirs) in self.people.iter_mut().zip(other.people) {
            *mine = match (mine.take(), theirs) {
                (None, _) | (_, None) => None,
                (Some(mut a), Some(b)) => {
                    a.extend(b);
                    a.sort_unstable();
                    a.dedup();
                    if a.len() >= threshold { None } else { Some(a) }
                }
            };
        }
    }
}

/// Forms the blocks of `order` (microcell indices sorted by the tree's coordinates) at `depth`:
/// the safe blocks, and what is left unsafe.
fn form<'p>(
    micro: &[Microcell],
    order: &[usize],
    depth: usize,
    people: &dyn Fn(usize) -> &'p [u32],
    threshold: usize,
) -> (Vec<Group>, Option<Group>) {
    if depth == ORDER.len() || order.len() == 1 {
        let mut group = Group::of(order[0], people(order[0]), threshold);
        for &i in &order[1..] {
            group.absorb(Group::of(i, people(i), threshold), threshold);
        }
        return if group.safe() { (vec![group], None) } else { (Vec::new(), Some(group)) };
    }
    let level = ORDER[depth];
    let mut blocks = Vec::new();
    let mut remainder: Option<Group> = None;
    let mut start = 0;
    while start < order.len() {
        let value = coordinate(&micro[order[start]], level);
        let len = order[start..].iter().take_while(|&&i| coordinate(&micro[i], level) == value).count();
        let (child_blocks, child_rest) = form(micro, &order[start..start + len], depth + 1, people, threshold);
        blocks.extend(child_blocks);
        if let Some(rest) = child_rest {
            match &mut remainder {
                Some(r) => r.absorb(rest, threshold),
                None => remainder = Some(rest),
            }
        }
        start += len;
    }
    let Some(mut rest) = remainder else { return (blocks, None) };
    if rest.safe() {
        blocks.push(rest);
        return (blocks, None);
    }
    // Merge with this node's smallest blocks until safe, if the node as a whole is.
    let mut whole = rest.clone();
    for block in &blocks {
        whole.absorb(block.clone(), threshold);
    }
    if !whole.safe() {
        return (blocks, Some(rest));
    }
    blocks.sort_by_key(|b| (b.members.len(), b.members.first().copied()));
    while !rest.safe() {
        if blocks.is_empty() {
            break;
        }
        rest.absorb(blocks.remove(0), threshold);
    }
    blocks.push(rest);
    (blocks, None)
}

/// Partitions the microcells `members` (indices into `micro`) into blocks that each rest on at
/// least `threshold` of the people `people(i)` gives for each microcell, as the tree above forms
/// them. Returns the blocks, and what could not be placed (resting on fewer than `threshold`
/// people however it is grouped).
pub(super) fn partition<'p>(
    micro: &[Microcell],
    mut members: Vec<usize>,
    people: &dyn Fn(usize) -> &'p [u32],
    threshold: i64,
) -> (Vec<Vec<usize>>, Vec<usize>) {
    let threshold = usize::try_from(threshold).unwrap_or(usize::MAX).max(1);
    if members.is_empty() {
        return (Vec::new(), Vec::new());
    }
    members.sort_by_key(|&i| ORDER.map(|l| coordinate(&micro[i], l)));
    let (blocks, rest) = form(micro, &members, 0, people, threshold);
    (blocks.into_iter().map(|b| b.members).collect(), rest.map(|r| r.members).unwrap_or_default())
}

/// Which of `cells` (sorted by key) are withheld for a family partitioned into `blocks` (each a
/// number and a set of indices into `micro`): those that cut through a block, holding some of
/// its microcells but not all.
#[must_use]
pub(super) fn withheld(cells: &[CellKey], micro: &[Microcell], blocks: &[(u32, Vec<usize>)]) -> Vec<bool> {
    let mut out = vec![false; cells.len()];
    // The keys to withhold, gathered in batches and marked in key order: sorted lookups walk
    // `cells` forwards, where one lookup per key at random would miss the cache every time.
    let mut cut: Vec<CellKey> = Vec::new();
    let mut keys = Vec::new();
    for (_, block) in blocks {
        let Some(&head) = block.first() else { continue };
        let first = &micro[head];
        let mut varies: u8 = 0;
        let (mut months, mut quarters) = (false, false);
        for &i in &block[1..] {
            let m = &micro[i];
            for d in 0..8 {
                if m.plain[d] != first.plain[d] {
                    varies |= 1 << d;
                }
            }
            months |= m.month != first.month;
            quarters |= m.month / 3 != first.month / 3;
        }
        if varies == 0 && !months {
            // One coordinate: every cell holds all of the block or none of it.
            continue;
        }
        for &i in block {
            let m = &micro[i];
            keys_into(m.month, &m.plain, &mut keys);
            cut.extend(keys.iter().copied().filter(|key| {
                key.mask() & varies != 0
                    || match key.node() {
                        Node::Month(_) => months,
                        Node::Quarter(_) => quarters,
                        Node::Year => false,
                    }
            }));
        }
        if cut.len() >= BATCH {
            mark(cells, &mut cut, &mut out);
        }
    }
    mark(cells, &mut cut, &mut out);
    out
}

/// How many keys to withhold are gathered before they are marked (128 MiB of keys).
const BATCH: usize = 1 << 24;

/// Marks `cut`'s keys in `out` (by position in `cells`) and empties it.
fn mark(cells: &[CellKey], cut: &mut Vec<CellKey>, out: &mut [bool]) {
    cut.sort_unstable();
    cut.dedup();
    let mut from = 0;
    for key in cut.drain(..) {
        from += cells[from..].partition_point(|c| *c < key);
        if cells.get(from) == Some(&key) {
            out[from] = true;
        }
    }
}
