//! Sign-in policy: token lifetimes and the throttle on failed logins.

/// How long an access token lives. Short, so a stolen token is worth little and a rotated
/// signing key leaves the key set soon.
pub const ACCESS_TOKEN_TTL_SECONDS: i64 = 15 * 60;

/// How long a sign-in session lives from sign-in; refreshing does not extend it, so a stolen
/// refresh token is worth at most this long.
pub const REFRESH_TOKEN_TTL_SECONDS: i64 = 12 * 60 * 60;

/// Failed-login limits. Counting failures, not attempts, keeps legitimate users unaffected while
/// a guesser is stopped; once a limit is reached even the right password answers 429 until the
/// window passes, or the throttle would leak which guess was right.
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
    }
}
