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

/// The methods a sign-in may continue with.
pub const METHODS: [&str; 1] = ["totp"];

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
    fn each_step_is_accepted_once_and_never_an_older_one() {
        assert!(accepts_step(10, None));
        assert!(accepts_step(11, Some(10)));
        assert!(!accepts_step(10, Some(10)), "a replay of the same code");
        assert!(!accepts_step(9, Some(10)), "the code before, still within the skew");
    }
}
