//! Reference data shared by every tenant: police services and their divisions.
//!
//! Divisions are effective-dated, not an enum: Toronto Police merges and redraws divisions, and
//! a referral made at "D51" in 2025 must still name the division as it was then.

use chrono::NaiveDate;

use crate::validation::{TextError, bounded_text};

/// When a service or division is in force: from a date, and optionally until (exclusive) a date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EffectivePeriod {
    /// First day in force.
    pub from: NaiveDate,
    /// First day no longer in force, if retired.
    pub to: Option<NaiveDate>,
}

/// A period that ends before it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be after effective_from")]
pub struct PeriodError;

impl EffectivePeriod {
    /// Builds a period whose end, if any, is after its start.
    ///
    /// # Errors
    /// [`PeriodError`] when `to` is not after `from`.
    pub fn new(from: NaiveDate, to: Option<NaiveDate>) -> Result<Self, PeriodError> {
        match to {
            Some(end) if end <= from => Err(PeriodError),
            _ => Ok(Self { from, to }),
        }
    }

    /// True when in force on `day`.
    #[must_use]
    pub fn includes(&self, day: NaiveDate) -> bool {
        self.from <= day && self.to.is_none_or(|end| day < end)
    }
}

/// A division's short code as police use it (`51`, `D51`, `TPS-14`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DivisionCode(String);

/// Why a division code was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be 1 to 16 letters, digits or hyphens")]
pub struct DivisionCodeError;

impl DivisionCode {
    /// Parses a code of 1 to 16 ASCII letters, digits or hyphens.
    ///
    /// # Errors
    /// [`DivisionCodeError`] otherwise.
    pub fn parse(raw: &str) -> Result<Self, DivisionCodeError> {
        let raw = raw.trim();
        let ok = (1..=16).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if ok { Ok(Self(raw.to_owned())) } else { Err(DivisionCodeError) }
    }

    /// The code.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A service's or division's name (1 to 200 characters).
///
/// # Errors
/// [`TextError`] when empty, too long or holding control characters.
pub fn reference_name(raw: &str) -> Result<String, TextError> {
    bounded_text(raw, crate::validation::limits::LABEL)
}

/// A police service's short name (`TPS`): 1 to 32 characters.
///
/// # Errors
/// [`TextError`] when empty, too long or holding control characters.
pub fn short_name(raw: &str) -> Result<String, TextError> {
    bounded_text(raw, crate::validation::limits::SHORT_NAME)
}

/// The divisions of Toronto Police Service that a fresh database is seeded with.
pub const TORONTO_DIVISIONS: [&str; 16] =
    ["11", "12", "13", "14", "22", "23", "31", "32", "33", "41", "42", "43", "51", "52", "53", "55"];

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn periods_include_their_start_and_exclude_their_end() {
        let period = EffectivePeriod::new(day(2020, 1, 1), Some(day(2026, 1, 1)));
        let Ok(period) = period else { panic!("valid period refused") };
        assert!(period.includes(day(2020, 1, 1)));
        assert!(period.includes(day(2025, 12, 31)));
        assert!(!period.includes(day(2026, 1, 1)));
        assert!(!period.includes(day(2019, 12, 31)));
        assert_eq!(EffectivePeriod::new(day(2020, 1, 1), Some(day(2020, 1, 1))), Err(PeriodError));
    }

    #[test]
    fn division_codes_are_short_and_plain() {
        assert!(DivisionCode::parse("51").is_ok());
        assert!(DivisionCode::parse("TPS-51").is_ok());
        assert!(DivisionCode::parse("").is_err());
        assert!(DivisionCode::parse("51; drop").is_err());
    }
}
