//! Field-level validation errors, collected so a client learns every invalid field at once.

use serde::Serialize;

/// One invalid field: which one, and what is wrong with it (never the value itself, which may
/// be personal information).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field's name as the client sent it (`admin.email` for nested fields).
    pub field: String,
    /// What is wrong, in words a client developer can show.
    pub message: String,
}

/// All invalid fields of one request.
#[derive(Clone, Debug, Default, PartialEq, Eq, thiserror::Error)]
#[error("{} invalid field(s)", .0.len())]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    /// Records one invalid field.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError { field: field.into(), message: message.into() });
    }

    /// Parses a value and records its error under `field`, returning `None` when invalid.
    pub fn check<T, E: std::fmt::Display>(&mut self, field: &str, parsed: Result<T, E>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(e) => {
                self.add(field, e.to_string());
                None
            }
        }
    }

    /// True when nothing was recorded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A single-field error.
    #[must_use]
    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = Self::default();
        errors.add(field, message);
        errors
    }

    /// `Ok(value)` when no error was recorded.
    ///
    /// # Errors
    /// Returns `self` when any field was invalid.
    pub fn finish<T>(self, value: impl FnOnce() -> Option<T>) -> Result<T, Self> {
        if !self.is_empty() {
            return Err(self);
        }
        value().ok_or(self)
    }
}

/// How long each kind of free text may be, in characters (white space around it included): the
/// one home of each limit. The checks below and in `person` and `case` read them, and so does the
/// OpenAPI document (`api::openapi::text`), so a limit changes in one place.
pub mod limits {
    /// A person's given or family name, a child's, an emergency contact's.
    pub const PERSON_NAME: usize = 100;
    /// A one-line name: a program, an organisation, a service referred to, a police service or
    /// division, a tenant, a user's display name, a program's funder.
    pub const LABEL: usize = 200;
    /// A short one-line word: an organisation's kind; a preferred language.
    pub const SHORT_LABEL: usize = 64;
    /// A police service's short name (`TPS`).
    pub const SHORT_NAME: usize = 32;
    /// A safety plan's step or safe place (one line); an address.
    pub const PLAN_ITEM: usize = 500;
    /// Safe-contact notes; why a case was closed or reopened; why a report was returned.
    pub const REASON: usize = 2_000;
    /// Notes on a record (newlines allowed).
    pub const NOTE: usize = 20_000;
}

/// Trims a free-text value and checks its length in characters. The limit counts the text as sent,
/// white space around it included, as the OpenAPI document's `maxLength` does.
///
/// # Errors
/// [`TextError`] when the trimmed text is empty, or the text is longer than `max`.
pub fn bounded_text(raw: &str, max: usize) -> Result<String, TextError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(TextError::Empty);
    }
    if raw.chars().count() > max {
        return Err(TextError::TooLong(max));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(TextError::ControlCharacters);
    }
    Ok(trimmed.to_owned())
}

/// Why a free-text value was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Nothing but white space.
    #[error("must not be empty")]
    Empty,
    /// More characters than allowed.
    #[error("must be at most {0} characters")]
    TooLong(usize),
    /// Tabs, newlines or other control characters.
    #[error("must not contain control characters")]
    ControlCharacters,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_text_trims_and_limits() {
        assert_eq!(bounded_text("  Toronto ", 10), Ok("Toronto".to_owned()));
        assert_eq!(bounded_text("   ", 10), Err(TextError::Empty));
        assert_eq!(bounded_text("abcdef", 5), Err(TextError::TooLong(5)));
        assert_eq!(bounded_text(" abcde ", 5), Err(TextError::TooLong(5)), "white space around counts");
        assert_eq!(bounded_text("a\nb", 5), Err(TextError::ControlCharacters));
    }

    #[test]
    fn finish_reports_every_field() {
        let mut errors = ValidationErrors::default();
        errors.add("email", "bad");
        errors.add("name", "bad");
        let result: Result<(), _> = errors.finish(|| Some(()));
        assert_eq!(result.map_err(|e| e.0.len()), Err(2));
    }
}
