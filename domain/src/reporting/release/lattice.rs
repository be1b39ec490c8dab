//! The cells of a release and their keys: a period node of the fiscal year and values for up to
//! three plain dimensions, packed in one `u64` (so a release of millions of cells is a sorted
//! vector, not millions of small allocations).

use crate::reporting::Dimension;

/// The dimensions besides time, in the order a key holds them.
pub const PLAIN: [Dimension; 8] = [
    Dimension::Agency,
    Dimension::Program,
    Dimension::VictimizationType,
    Dimension::Division,
    Dimension::ServiceType,
    Dimension::Gender,
    Dimension::AgeBand,
    Dimension::Urgency,
];

/// Where `dimension` is in [`PLAIN`] (`None` for `month` and `fiscal_quarter`).
#[must_use]
pub fn plain_index(dimension: Dimension) -> Option<usize> {
    PLAIN.iter().position(|&d| d == dimension)
}

/// A period of the fiscal year: the year, a quarter (1 to 4) or a month (0 to 11, April first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Node {
    /// The fiscal year.
    Year,
    /// A fiscal quarter, 1 to 4.
    Quarter(u8),
    /// A month of the fiscal year, 0 (April) to 11 (March).
    Month(u8),
}

/// How fine a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// The year.
    Year,
    /// Quarters.
    Quarter,
    /// Months.
    Month,
}

impl Level {
    /// `year`, `quarter` or `month`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Year => "year",
            Self::Quarter => "quarter",
            Self::Month => "month",
        }
    }

    /// The most plain dimensions a cell of this level fixes: three in the year, two in a quarter
    /// or month (the period counts as the third).
    #[must_use]
    pub const fn max_plain(self) -> usize {
        match self {
            Self::Year => 3,
            Self::Quarter | Self::Month => 2,
        }
    }

    /// Every level, coarsest first.
    pub const ALL: [Self; 3] = [Self::Year, Self::Quarter, Self::Month];
}

impl Node {
    /// Its level.
    #[must_use]
    pub const fn level(self) -> Level {
        match self {
            Self::Year => Level::Year,
            Self::Quarter(_) => Level::Quarter,
            Self::Month(_) => Level::Month,
        }
    }

    /// The node it is part of (a month's quarter, a quarter's year).
    #[must_use]
    pub const fn parent(self) -> Option<Self> {
        match self {
            Self::Year => None,
            Self::Quarter(_) => Some(Self::Year),
            Self::Month(m) => Some(Self::Quarter(m / 3 + 1)),
        }
    }

    /// The quarter a month or quarter is in.
    #[must_use]
    pub const fn quarter(self) -> Option<u8> {
        match self {
            Self::Year => None,
            Self::Quarter(q) => Some(q),
            Self::Month(m) => Some(m / 3 + 1),
        }
    }

    /// The months of the node.
    pub fn months(self) -> impl Iterator<Item = u8> {
        let range = match self {
            Self::Year => 0..12,
            Self::Quarter(q) => (q - 1) * 3..q * 3,
            Self::Month(m) => m..m + 1,
        };
        range.into_iter()
    }

    /// Whether `self` lies within `other`.
    #[must_use]
    pub fn within(self, other: Self) -> bool {
        let mut node = Some(self);
        while let Some(n) = node {
            if n == other {
                return true;
            }
            node = n.parent();
        }
        false
    }

    /// The calendar month (1 to 12) and its calendar year of fiscal month `m` of `fiscal_year`.
    #[must_use]
    pub const fn calendar_month(fiscal_year: i32, m: u8) -> (i32, u32) {
        let month = (m as u32 + 3) % 12 + 1;
        (if m >= 9 { fiscal_year + 1 } else { fiscal_year }, month)
    }

    /// The fiscal month (0 to 11) of a calendar month (1 to 12).
    #[must_use]
    pub const fn fiscal_month(calendar_month: u32) -> u8 {
        ((calendar_month + 8) % 12) as u8
    }

    const fn code(self) -> u64 {
        match self {
            Self::Year => 0,
            Self::Quarter(q) => q as u64,
            Self::Month(m) => 5 + m as u64,
        }
    }

    const fn from_code(code: u64) -> Self {
        match code {
            0 => Self::Year,
            1..=4 => Self::Quarter(code as u8),
            _ => Self::Month((code - 5) as u8),
        }
    }
}

/// One cell's key: bits 0–4 the node, 5–12 the set of plain dimensions it fixes (bit `d` for
/// `PLAIN[d]`), then 16 bits per fixed dimension, in [`PLAIN`] order, for its value's code (an
/// index into the release's sorted dictionary of that dimension). Keys order by node, then by
/// dimensions, then by values: the same facts give the same order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellKey(pub u64);

const NODE_BITS: u32 = 5;
const MASK_BITS: u32 = 8;
const VALUE_BITS: u32 = 16;

impl CellKey {
    /// The key of `node` with `values[d]` for each plain dimension `d` in `mask`.
    #[must_use]
    pub fn new(node: Node, mask: u8, values: &[u16; 8]) -> Self {
        let mut key = node.code() | (u64::from(mask) << NODE_BITS);
        let mut shift = NODE_BITS + MASK_BITS;
        for (d, &value) in values.iter().enumerate() {
            if mask & (1 << d) != 0 {
                key |= u64::from(value) << shift;
                shift += VALUE_BITS;
            }
        }
        Self(key)
    }

    /// The node.
    #[must_use]
    pub const fn node(self) -> Node {
        Node::from_code(self.0 & ((1 << NODE_BITS) - 1))
    }

    /// The plain dimensions it fixes (bit `d` for `PLAIN[d]`).
    #[must_use]
    pub const fn mask(self) -> u8 {
        ((self.0 >> NODE_BITS) & 0xff) as u8
    }

    /// The code of its value for plain dimension `d`, if it fixes it.
    #[must_use]
    pub fn value(self, d: usize) -> Option<u16> {
        let mask = self.mask();
        if mask & (1 << d) == 0 {
            return None;
        }
        let before = (mask & ((1_u16 << d) - 1) as u8).count_ones();
        let shift = NODE_BITS + MASK_BITS + before * VALUE_BITS;
        Some(((self.0 >> shift) & 0xffff) as u16)
    }

    /// Every value, with zeros where it fixes none.
    #[must_use]
    pub fn values(self) -> [u16; 8] {
        std::array::from_fn(|d| self.value(d).unwrap_or(0))
    }

    /// The same cell totalled over plain dimension `d`.
    #[must_use]
    pub fn without(self, d: usize) -> Self {
        Self::new(self.node(), self.mask() & !(1 << d), &self.values())
    }

    /// The same values at another node.
    #[must_use]
    pub fn at(self, node: Node) -> Self {
        Self::new(node, self.mask(), &self.values())
    }

    /// How many dimensions it fixes, a finer period counting as more.
    #[must_use]
    pub fn fineness(self) -> u8 {
        let time = match self.node() {
            Node::Year => 0,
            Node::Quarter(_) => 1,
            Node::Month(_) => 2,
        };
        u8::try_from(self.mask().count_ones()).unwrap_or(u8::MAX) + time
    }
}

/// The bit of the agency in a mask.
pub const AGENCY_BIT: u8 = 1;

/// How many plain dimensions besides the agency a mask fixes: the agency does not count, so
/// every cell of the whole lattice exists for each agency too (an agency's own figures are the
/// cells that fix it, protected together with everyone else's).
#[must_use]
pub fn counted(mask: u8) -> usize {
    (mask & !AGENCY_BIT).count_ones() as usize
}

/// Every set of plain dimensions a cell of `level` may fix, as masks, fewest dimensions first.
#[must_use]
pub fn masks(level: Level) -> Vec<u8> {
    let mut out: Vec<u8> = (0..=u8::MAX).filter(|&m| counted(m) <= level.max_plain()).collect();
    out.sort_by_key(|m| (m.count_ones(), *m));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_pack_and_unpack_the_node_dimensions_and_values() {
        let values = [7, 0, 3, 0, 0, 65535, 0, 2];
        let key = CellKey::new(Node::Month(11), 0b1010_0001, &values);
        assert_eq!(key.node(), Node::Month(11));
        assert_eq!(key.mask(), 0b1010_0001);
        assert_eq!(key.value(0), Some(7));
        assert_eq!(key.value(5), Some(65535));
        assert_eq!(key.value(7), Some(2));
        assert_eq!(key.value(2), None, "not fixed: its value is not kept");
        assert_eq!(key.without(5), CellKey::new(Node::Month(11), 0b1000_0001, &values));
        assert_eq!(key.at(Node::Quarter(4)).node(), Node::Quarter(4));
        assert_eq!(key.fineness(), 5);
    }

    #[test]
    fn the_fiscal_year_runs_april_to_march() {
        assert_eq!(Node::calendar_month(2026, 0), (2026, 4));
        assert_eq!(Node::calendar_month(2026, 8), (2026, 12));
        assert_eq!(Node::calendar_month(2026, 9), (2027, 1));
        assert_eq!(Node::calendar_month(2026, 11), (2027, 3));
        assert!((1..=12).all(|m| Node::calendar_month(2026, Node::fiscal_month(m)).1 == m));
        assert_eq!(Node::Month(4).parent(), Some(Node::Quarter(2)));
        assert!(Node::Month(4).within(Node::Year));
        assert!(!Node::Month(4).within(Node::Quarter(1)));
        assert_eq!(Node::Quarter(2).months().collect::<Vec<_>>(), vec![3, 4, 5]);
    }

    #[test]
    fn a_year_cell_fixes_up_to_three_dimensions_and_a_month_or_quarter_two_besides_the_agency() {
        assert_eq!(PLAIN[0], Dimension::Agency);
        assert_eq!(masks(Level::Year).len(), 2 * (1 + 7 + 21 + 35));
        assert_eq!(masks(Level::Month).len(), 2 * (1 + 7 + 21));
        assert_eq!(masks(Level::Quarter).first(), Some(&0));
    }
}
