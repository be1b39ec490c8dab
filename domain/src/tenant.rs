//! Tenants: the platform operator, the agencies and the ministry.

use serde::{Deserialize, Serialize};

use crate::validation::{TextError, bounded_text};

/// What kind of organisation a tenant is; it decides which roles its users may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantKind {
    /// The operator of the platform.
    Platform,
    /// One VCAO provider.
    Agency,
    /// The funding ministry.
    Ministry,
}

impl TenantKind {
    /// The stored and serialised name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Platform => "platform",
            Self::Agency => "agency",
            Self::Ministry => "ministry",
        }
    }

    /// Parses the stored name.
    ///
    /// # Errors
    /// [`UnknownTenantKind`] for any other string.
    pub fn parse(raw: &str) -> Result<Self, UnknownTenantKind> {
        match raw {
            "platform" => Ok(Self::Platform),
            "agency" => Ok(Self::Agency),
            "ministry" => Ok(Self::Ministry),
            _ => Err(UnknownTenantKind),
        }
    }
}

/// A tenant kind that does not exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be one of platform, agency, ministry")]
pub struct UnknownTenantKind;

/// The short name users type to sign in (`victim-services-toronto`): lowercase ASCII letters,
/// digits and single hyphens, 3 to 63 characters, so it is safe in URLs and log lines.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TenantSlug(String);

/// Why a slug was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SlugError {
    /// Wrong length.
    #[error("must be 3 to 63 characters")]
    Length,
    /// Characters outside the allowed set, or misplaced hyphens.
    #[error("must be lowercase letters, digits and single hyphens, not starting or ending with a hyphen")]
    Characters,
}

impl TenantSlug {
    /// Parses a slug exactly as given (sign-in compares slugs after lowercasing).
    ///
    /// # Errors
    /// [`SlugError`] when the slug breaks the rules above.
    pub fn parse(raw: &str) -> Result<Self, SlugError> {
        if !(3..=63).contains(&raw.len()) {
            return Err(SlugError::Length);
        }
        let allowed = raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !allowed || raw.starts_with('-') || raw.ends_with('-') || raw.contains("--") {
            return Err(SlugError::Characters);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The slug.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An organisation's display name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantName(String);

impl TenantName {
    /// Parses a name of 1 to 200 characters.
    ///
    /// # Errors
    /// [`TextError`] when empty, too long or holding control characters.
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        bounded_text(raw, crate::validation::limits::LABEL).map(Self)
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_the_rules() {
        for good in ["vst", "victim-services-toronto", "agency-42"] {
            assert!(TenantSlug::parse(good).is_ok(), "{good}");
        }
        let cases = [
            ("ab", SlugError::Length),
            ("Victim", SlugError::Characters),
            ("-abc", SlugError::Characters),
            ("abc-", SlugError::Characters),
            ("a--b", SlugError::Characters),
            ("a b c", SlugError::Characters),
        ];
        for (bad, expected) in cases {
            assert_eq!(TenantSlug::parse(bad), Err(expected), "{bad}");
        }
    }

    #[test]
    fn kinds_round_trip() {
        for kind in [TenantKind::Platform, TenantKind::Agency, TenantKind::Ministry] {
            assert_eq!(TenantKind::parse(kind.as_str()), Ok(kind));
        }
        assert!(TenantKind::parse("police").is_err());
    }
}
