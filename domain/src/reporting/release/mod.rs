//! The protected release: every figure the ministry (or an agency's leads) can be shown for one
//! scope and one Ontario fiscal year, tabulated once from the facts and protected once, so that
//! every answer is read from it and no sequence of answers can undo what one withholds.
//!
//! A release is a lattice of cells. A cell is a period node (the year, one of its quarters or one
//! of its months) and a value for each of a set of plain dimensions (every dimension but `month`
//! and `fiscal_quarter`, which are the node). Every question `GET /aggregates` accepts is a set of
//! these cells: `group_by=month,gender` over the year is the month × gender cells with their
//! margins (each month, each gender over the year, the year). So every answer, in any order of
//! its dimensions, for any metric, shows the same cell with the same figure or withholds it, and a
//! quarter is consistent with its months because they are cells of one lattice, related by sums.
//!
//! Cells fix at most three dimensions besides the agency, counting a period finer than the year as
//! one: over a quarter or a month, at most two ([`Level::max_plain`]). Finer tables are almost all
//! withheld, and they are what makes the joint protection expensive. The agency does not count,
//! so every cell exists for each agency as well: an agency's own figures (its leads' answers,
//! its quarterly reports) are the cells that fix it, in the same release as the ministry's, so
//! no figure an agency or the ministry sees can be set against another protected differently.
//!
//! Why one release per fiscal year, for every scope: its months, quarters and the year are linked
//! by sums, and an agency's cells by sums to the province's, so they are protected together;
//! fiscal years share no fact and no cell, so each is protected alone.
//!
//! - [`lattice`]: the cells and their keys.
//! - [`tabulate`]: facts to cells, with the distinct people of each figure family.
//! - [`answer`]: which cells answer a question.
//! - [`blocks`]: the protection, one pattern for every cell and metric.
//! - [`lineage`]: what a rebuild keeps of the last build, so that releases built as facts
//!   arrive can be set against each other and still disclose nothing.
//! - [`build`]: tabulation and protection together, the release.

pub mod answer;
pub mod lattice;
pub mod tabulate;

pub mod lineage;

mod blocks;
mod build;
mod parallel;

pub use build::{Built, Figure, Release, ReleasedCell, build, build_after};
pub use lattice::{CellKey, Level, Node, PLAIN};
pub use lineage::Lineage;
pub use tabulate::{FAMILIES, FactInput, Family, FamilyMask, Microcell, Tabulated, Tabulation, Tally};
