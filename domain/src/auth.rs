//! Sign-in policy: token lifetimes and the throttle on failed logins.

/// How long an access token lives. Short, so a stolen token is worth little and a rotated
/// signing key leaves the key set soon.
pub const ACCESS_TOKEN_TTL_SECONDS: i64 = 15 * 60;

/// How long a sign-in session lives from sign-in; refreshing does not extend it, so a stolen
/// refresh token is worth at most this long.
pub const REFRESH_TOKEN_TTL_SECONDS: i64 = 12 * 60 * 60;

/// The tenant slug a sign-in names, as the tenant is looked up: surrounding space dropped,
/// lower case. The one normalisation both the look-up and the throttle use, so `" Demo-Agency\t"`
/// is the same account to both.
#[must_use]
pub fn canonical_slug(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// The account a sign-in names, as the throttle counts it: the canonical slug and the email as
/// [`crate::user::EmailAddress::parse`] reads it (an email that does not parse names no account,
/// and is counted under its trimmed, lower-cased text).
#[must_use]
pub fn canonical_account(tenant: &str, email: &str) -> String {
    let email = crate::user::EmailAddress::parse(email)
        .map_or_else(|_| email.trim().to_lowercase(), |parsed| parsed.as_str().to_owned());
    format!("{}\0{email}", canonical_slug(tenant))
}

/// Sign-in limits. Failures count, not successes, so legitimate users are unaffected while a
/// guesser is stopped: each attempt is counted before its password is checked (so parallel
/// guesses cannot all slip under the limit) and given back when it succeeds. Once a limit is
/// reached even the right password answers 429 until the window passes, or the throttle would
/// leak which guess was right.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginThrottle {
    /// Failures allowed per account (tenant + email) per window.
    pub per_account: u32,
    /// Failures allowed per client address per window (an office behind one NAT shares it).
    pub per_address: u32,
    /// The window, in seconds.
    pub window_seconds: u64,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self { per_account: 5, per_address: 30, window_seconds: 15 * 60 }
    }
}

impl LoginThrottle {
    /// True when the failures already counted allow another attempt.
    #[must_use]
    pub const fn allows(&self, account_failures: u32, address_failures: u32) -> bool {
        account_failures < self.per_account && address_failures < self.per_address
    }

    /// True when an attempt whose counts (this attempt included) are these may be checked.
    #[must_use]
    pub const fn admits(&self, account_attempts: u32, address_attempts: u32) -> bool {
        self.allows(account_attempts.saturating_sub(1), address_attempts.saturating_sub(1))
    }
}

/// Whether the `n`th throttled attempt of a window is written to the audit log: the 1st, 2nd,
/// 4th, 8th... each row saying how many there were. A flood of a million refused attempts writes
/// about twenty rows, not a million, and the log still shows when it began and how large it grew.
#[must_use]
pub const fn audits_throttled_attempt(n: u32) -> bool {
    n.is_power_of_two()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_throttle_stops_at_either_limit() {
        let t = LoginThrottle { per_account: 5, per_address: 30, window_seconds: 900 };
        assert!(t.allows(0, 0));
        assert!(t.allows(4, 29));
        assert!(!t.allows(5, 0));
        assert!(!t.allows(0, 30));
        assert!(t.admits(5, 30) && !t.admits(6, 1) && !t.admits(1, 31));
    }

    #[test]
    fn spacing_and_case_name_the_same_account() {
        let one = canonical_account("demo-agency", "Ana@VST.example");
        for tenant in [" demo-agency", "demo-agency\t", "DEMO-AGENCY", "\n Demo-Agency \r"] {
            for email in ["ana@vst.example", " ANA@vst.example\t", "Ana@Vst.Example "] {
                assert_eq!(canonical_account(tenant, email), one, "{tenant:?} {email:?}");
            }
        }
        assert_ne!(
            canonical_account("demo-agency", "ana@vst.example"),
            canonical_account("demo-agenc", "yana@vst.example")
        );
    }

    #[test]
    fn throttled_attempts_are_audited_at_powers_of_two() {
        let audited: Vec<u32> = (1..=1000).filter(|n| audits_throttled_attempt(*n)).collect();
        assert_eq!(audited, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]);
    }
}
