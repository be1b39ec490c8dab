//! Multi-factor sign-in: the rules of the second step.
//!
//! A sign-in with the right password of a user who has confirmed an authenticator answers with an
//! `mfa_token` instead of tokens; the second step presents it with a current TOTP code or one of
//! the user's ten recovery codes. A code is accepted once: a TOTP code only for a time step later
//! than the last one accepted (RFC 6238 section 5.2), a recovery code until it is used.

/// How long an `mfa_token` works, in seconds.
pub const MFA_TOKEN_TTL_SECONDS: i64 = 5 * 60;

/// How many recovery codes a confirmation issues.
pub const RECOVERY_CODES: usize = 10;

/// The second factors a user has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Factors {
    /// A confirmed authenticator (TOTP).
    pub totp: bool,
    /// At least one passkey.
    pub passkey: bool,
}

impl Factors {
    /// Whether a sign-in needs a second step.
    #[must_use]
    pub const fn any(self) -> bool {
        self.totp || self.passkey
    }

    /// The methods the second step accepts, as the sign-in lists them: `totp` (a code, at
    /// `POST /auth/mfa`) and `webauthn` (a passkey). A recovery code is accepted at
    /// `POST /auth/mfa` whichever the user has.
    #[must_use]
    pub fn methods(self) -> Vec<&'static str> {
        [(self.totp, "totp"), (self.passkey, "webauthn")].into_iter().filter(|(has, _)| *has).map(|(_, m)| m).collect()
    }
}

/// Whether a TOTP code that matched `step` may be accepted after `last` was: each step once, and
/// never one older than an accepted one (a code seen over a shoulder is spent once used).
#[must_use]
pub fn accepts_step(step: u64, last: Option<u64>) -> bool {
    last.is_none_or(|last| step > last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_methods_listed_are_the_factors_held() {
        assert!(Factors::default().methods().is_empty() && !Factors::default().any());
        assert_eq!(Factors { totp: true, passkey: false }.methods(), ["totp"]);
        assert_eq!(Factors { totp: true, passkey: true }.methods(), ["totp", "webauthn"]);
        assert_eq!(Factors { totp: false, passkey: true }.methods(), ["webauthn"]);
    }

    #[test]
    fn each_step_is_accepted_once_and_never_an_older_one() {
        assert!(accepts_step(10, None));
        assert!(accepts_step(11, Some(10)));
        assert!(!accepts_step(10, Some(10)), "a replay of the same code");
        assert!(!accepts_step(9, Some(10)), "the code before, still within the skew");
    }
}
