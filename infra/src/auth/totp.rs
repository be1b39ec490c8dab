//! TOTP (RFC 6238) as authenticator apps use it: SHA-1, 6 digits, 30-second steps, one step of
//! clock skew either way (`totp-rs`). The secret is 160 random bits (RFC 4226's recommendation).
//! `totp-rs` says which step a code matched; the caller accepts each step once
//! (`domain::mfa::accepts_step`).

use totp_rs::{Algorithm, Builder, Secret, Totp};

/// A secret's length in bytes.
pub const SECRET_BYTES: usize = 20;

/// A new secret.
///
/// # Errors
/// When the operating system has no randomness to give.
pub fn new_secret() -> Result<[u8; SECRET_BYTES], getrandom::Error> {
    super::random_bytes::<SECRET_BYTES>()
}

fn totp(secret: &[u8]) -> Option<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(Secret::from(secret.to_vec()))
        .build()
        .ok()
}

/// The step `code` matches at `unix_seconds` (within one step either way), if any. Spaces in
/// the code (as some apps show it) are ignored.
#[must_use]
pub fn matched_step(secret: &[u8], code: &str, unix_seconds: u64) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    totp(secret)?.check(&code, unix_seconds)
}

/// The code for `unix_seconds` (what an authenticator shows; tests and the demo use it).
#[must_use]
pub fn code_at(secret: &[u8], unix_seconds: u64) -> Option<String> {
    totp(secret).map(|t| t.generate(unix_seconds).to_string())
}

/// The code for `unix_seconds` of a secret given in base32, as an app computes it from what it was
/// shown (tests and clients use it).
#[must_use]
pub fn code_from_base32(secret: &str, unix_seconds: u64) -> Option<String> {
    let bytes = Secret::try_from_base32(secret).ok()?;
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(bytes)
        .build()
        .ok()
        .map(|t| t.generate(unix_seconds).to_string())
}

/// The secret in base32, as people type it into an app.
#[must_use]
pub fn base32(secret: &[u8]) -> String {
    Secret::from(secret.to_vec()).to_base32()
}

/// The `otpauth://` URI an app reads from a QR code, written here (the crate's `otpauth` feature
/// would bring the `url` crate for this one format): issuer and account percent-encoded.
#[must_use]
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let (issuer, account) = (encode(issuer), encode(account));
    format!(
        "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm=SHA1&digits=6&period=30",
        base32(secret)
    )
}

/// Percent-encodes all but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a test fails loudly")]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1: the secret "12345678901234567890" gives 94287082 at 59 s
    /// (the last six digits, as 6-digit apps show).
    #[test]
    fn the_rfc_test_vector_holds() {
        let secret = b"12345678901234567890";
        assert_eq!(code_at(secret, 59).unwrap(), "287082");
        assert_eq!(matched_step(secret, "287082", 59), Some(1));
        assert_eq!(matched_step(secret, "287 082", 59 + 30), Some(1), "one step late still matches its step");
        assert_eq!(matched_step(secret, "287082", 59 + 90), None, "three steps late does not");
        assert_eq!(matched_step(secret, "28708", 59), None);
        assert_eq!(matched_step(secret, "28708a", 59), None);
    }

    #[test]
    fn the_uri_names_issuer_and_account_encoded() {
        let uri = otpauth_uri("VCAO Platform", "ana@vst.example", b"12345678901234567890");
        assert!(
            uri.starts_with("otpauth://totp/VCAO%20Platform:ana%40vst.example?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
            "{uri}"
        );
        assert!(uri.ends_with("&issuer=VCAO%20Platform&algorithm=SHA1&digits=6&period=30"));
    }
}
