//! Idempotency keys, so a client (a police liaison on a bad connection, say) can retry a create.

/// How long a stored response is replayed, in seconds (24 h, as the contract says).
pub const REPLAY_WINDOW_SECONDS: i64 = 24 * 60 * 60;

/// A client-chosen key: 1 to 255 printable ASCII characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

/// Why a key was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be 1 to 255 printable ASCII characters")]
pub struct IdempotencyKeyError;

impl IdempotencyKey {
    /// Parses a header value.
    ///
    /// # Errors
    /// [`IdempotencyKeyError`] when empty, too long or not printable ASCII.
    pub fn parse(raw: &str) -> Result<Self, IdempotencyKeyError> {
        let printable = raw.bytes().all(|b| (0x20..=0x7e).contains(&b));
        if raw.is_empty() || raw.len() > 255 || !printable {
            return Err(IdempotencyKeyError);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The key.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keys_are_printable_ascii() {
        assert!(IdempotencyKey::parse("a").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
        assert!(IdempotencyKey::parse("tab\there").is_err());
        assert!(IdempotencyKey::parse("é").is_err());
    }

    proptest! {
        #[test]
        fn parsing_never_panics_and_accepts_only_the_alphabet(raw in ".{0,300}") {
            if let Ok(key) = IdempotencyKey::parse(&raw) {
                prop_assert!(key.as_str().bytes().all(|b| (0x20..=0x7e).contains(&b)));
                prop_assert!((1..=255).contains(&key.as_str().len()));
            }
        }
    }
}
