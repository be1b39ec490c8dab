//! A person's details as a case manager records them, and the normal forms used for exact search.
//! Every value here is personal information: it is encrypted at rest and never logged.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::case::name_enum;

name_enum!(
    /// Gender as the person describes it, in the categories the ministry reports.
    Gender,
    "woman, man, non_binary, two_spirit, another_gender, prefer_not_to_say" {
        Woman => "woman",
        Man => "man",
        NonBinary => "non_binary",
        TwoSpirit => "two_spirit",
        AnotherGender => "another_gender",
        PreferNotToSay => "prefer_not_to_say",
    }
);

/// Why a personal value was refused. Messages never repeat the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PersonError {
    /// Empty after trimming.
    #[error("must not be empty")]
    Empty,
    /// Too long.
    #[error("must be at most {0} characters")]
    TooLong(usize),
    /// Control characters.
    #[error("must not contain control characters")]
    Control,
    /// Not a phone number.
    #[error("must be a phone number of 7 to 15 digits")]
    Phone,
    /// A birth date in the future or before 1900.
    #[error("must be a date between 1900-01-01 and today")]
    BirthDate,
    /// Not an email address.
    #[error("must be an email address")]
    Email,
}

fn text(raw: &str, max: usize) -> Result<String, PersonError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(PersonError::Empty);
    }
    if raw.chars().count() > max {
        return Err(PersonError::TooLong(max));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(PersonError::Control);
    }
    Ok(trimmed.to_owned())
}

/// A given or family name, 1 to 100 characters.
///
/// # Errors
/// [`PersonError`].
pub fn name(raw: &str) -> Result<String, PersonError> {
    text(raw, crate::validation::limits::PERSON_NAME)
}

/// The longest phone number accepted, in characters (all ASCII), separators included.
pub const PHONE_MAX_CHARS: u32 = 32;

/// A phone number: digits with optional `+`, spaces, dots, dashes and parentheses; 7 to 15 digits.
///
/// # Errors
/// [`PersonError::Phone`].
pub fn phone(raw: &str) -> Result<String, PersonError> {
    let trimmed = raw.trim();
    let allowed = trimmed.chars().all(|c| c.is_ascii_digit() || " +-.()".contains(c));
    let digits = trimmed.chars().filter(char::is_ascii_digit).count();
    if !allowed || !(7..=15).contains(&digits) || raw.chars().count() > PHONE_MAX_CHARS as usize {
        return Err(PersonError::Phone);
    }
    Ok(trimmed.to_owned())
}

/// An email address of a client (checked loosely; it is only stored, never used to sign in).
///
/// # Errors
/// [`PersonError::Email`].
pub fn email(raw: &str) -> Result<String, PersonError> {
    crate::user::EmailAddress::parse(raw).map(|e| e.as_str().to_owned()).map_err(|_| PersonError::Email)
}

/// A date of birth between 1900-01-01 and `today`.
///
/// # Errors
/// [`PersonError::BirthDate`].
pub fn date_of_birth(date: NaiveDate, today: NaiveDate) -> Result<NaiveDate, PersonError> {
    let earliest = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN);
    if date < earliest || date > today { Err(PersonError::BirthDate) } else { Ok(date) }
}

/// Free text up to `max` characters (addresses, languages, safe-contact notes).
///
/// # Errors
/// [`PersonError`].
pub fn free_text(raw: &str, max: usize) -> Result<String, PersonError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(PersonError::Empty);
    }
    if raw.chars().count() > max {
        return Err(PersonError::TooLong(max));
    }
    Ok(trimmed.to_owned())
}

/// The normal form of a name for exact, case-insensitive search: trimmed, lowercased, inner white
/// space collapsed to one space. `"  Ana  MARIA "` and `"ana maria"` find each other.
#[must_use]
pub fn search_form(name: &str) -> String {
    name.split_whitespace().map(str::to_lowercase).collect::<Vec<_>>().join(" ")
}

/// How a person may be contacted safely: an abuser may watch the phone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafeContact {
    /// Calling is safe.
    pub ok_to_call: bool,
    /// Texting is safe.
    pub ok_to_text: bool,
    /// Leaving a voicemail is safe.
    pub ok_to_voicemail: bool,
    /// Anything else a worker must know (encrypted).
    pub notes: Option<String>,
}

/// An age band for de-identified figures (no date of birth ever leaves the personal tables).
#[must_use]
pub fn age_band(date_of_birth: Option<NaiveDate>, on: NaiveDate) -> &'static str {
    let Some(dob) = date_of_birth else { return "unknown" };
    let mut age = on.year() - dob.year();
    if (on.month(), on.day()) < (dob.month(), dob.day()) {
        age -= 1;
    }
    match age {
        i32::MIN..=11 => "0-11",
        12..=17 => "12-17",
        18..=24 => "18-24",
        25..=34 => "25-34",
        35..=44 => "35-44",
        45..=54 => "45-54",
        55..=64 => "55-64",
        _ => "65+",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn search_forms_ignore_case_and_spacing() {
        assert_eq!(search_form("  Ana  MARIA "), "ana maria");
        assert_eq!(search_form("Zoë"), "zoë");
        assert_eq!(search_form("O'Neil"), search_form("o'neil"));
    }

    #[test]
    fn phones_and_birth_dates_are_checked() {
        assert!(phone("+1 (416) 555-0199").is_ok());
        assert_eq!(phone("call me"), Err(PersonError::Phone));
        assert_eq!(phone("12345"), Err(PersonError::Phone));
        assert!(phone("+1 (416) 555-0199 ext 12").is_err(), "letters");
        assert!(phone(&format!("416{}5550199", " ".repeat(22))).is_ok(), "32 characters");
        assert_eq!(phone(&format!("416{}5550199", " ".repeat(23))), Err(PersonError::Phone), "33 characters");
        let today = day(2026, 11, 28);
        assert!(date_of_birth(day(1990, 5, 1), today).is_ok());
        assert_eq!(date_of_birth(day(2027, 1, 1), today), Err(PersonError::BirthDate));
        assert_eq!(date_of_birth(day(1899, 12, 31), today), Err(PersonError::BirthDate));
    }

    #[test]
    fn age_bands_turn_on_birthdays() {
        let on = day(2026, 6, 15);
        assert_eq!(age_band(Some(day(2008, 6, 15)), on), "18-24");
        assert_eq!(age_band(Some(day(2008, 6, 16)), on), "12-17");
        assert_eq!(age_band(Some(day(1950, 1, 1)), on), "65+");
        assert_eq!(age_band(None, on), "unknown");
    }
}
