//! Credentials: password hashing, signing keys and access tokens, and opaque refresh tokens.

pub mod keys;
pub mod passkeys;
pub mod password;
pub mod tokens;
pub mod totp;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// `n` bytes from the operating system's CSPRNG.
///
/// # Errors
/// When the operating system has no randomness to give (never expected on Linux).
pub fn random_bytes<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut bytes = [0_u8; N];
    getrandom::fill(&mut bytes)?;
    Ok(bytes)
}

/// SHA-256 of an opaque token. Refresh tokens are 256 random bits, so a fast hash is enough: there
/// is nothing to brute-force, and a stolen database does not yield usable tokens.
#[must_use]
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A new `mfa_token`: `mfa1.<tenant>.<256 random bits>`, naming its tenant as refresh tokens do.
///
/// # Errors
/// When the operating system has no randomness to give.
pub fn new_mfa_token(tenant: domain::TenantId) -> Result<String, getrandom::Error> {
    let secret = random_bytes::<32>()?;
    Ok(format!("mfa1.{}.{}", tenant.as_uuid().simple(), URL_SAFE_NO_PAD.encode(secret)))
}

/// The tenant an `mfa_token` belongs to, if it has the shape this service issues.
#[must_use]
pub fn mfa_token_tenant(token: &str) -> Option<domain::TenantId> {
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("mfa1"), Some(tenant), Some(secret), None) if secret.len() == 43 => {
            uuid::Uuid::try_parse(tenant).ok().map(domain::TenantId::from_uuid)
        }
        _ => None,
    }
}

/// A new password reset code, as shown once (`domain::passwords::format_reset_code`).
///
/// # Errors
/// When the operating system has no randomness to give.
pub fn new_reset_code() -> Result<String, getrandom::Error> {
    Ok(domain::passwords::format_reset_code(random_bytes::<{ domain::passwords::RESET_CODE_BYTES }>()?))
}

/// The stored form of a reset code: a keyed hash (the master key's pseudonym) of the tenant and the
/// code as normalised, so a copy of the database cannot even try codes; `None` for text that
/// cannot be a code.
///
/// # Errors
/// [`crate::crypto::CryptoError`] when the hash cannot be made.
pub fn reset_code_hash(
    master: &crate::crypto::MasterKey,
    tenant: domain::TenantId,
    raw: &str,
) -> Result<Option<String>, crate::crypto::CryptoError> {
    typed_code_hash(master, b"vcao:password-reset:v1", tenant, raw)
}

/// The stored form of an MFA recovery code (the same typed form as reset codes), as
/// [`reset_code_hash`] for its own purpose.
///
/// # Errors
/// [`crate::crypto::CryptoError`] when the hash cannot be made.
pub fn recovery_code_hash(
    master: &crate::crypto::MasterKey,
    tenant: domain::TenantId,
    raw: &str,
) -> Result<Option<String>, crate::crypto::CryptoError> {
    typed_code_hash(master, b"vcao:mfa-recovery:v1", tenant, raw)
}

fn typed_code_hash(
    master: &crate::crypto::MasterKey,
    purpose: &[u8],
    tenant: domain::TenantId,
    raw: &str,
) -> Result<Option<String>, crate::crypto::CryptoError> {
    let Some(code) = domain::passwords::normalize_reset_code(raw) else { return Ok(None) };
    master.pseudonym(purpose, &format!("{}:{code}", tenant.as_uuid())).map(Some)
}

/// A new refresh token: `rt1.<tenant id>.<256 random bits>`. The tenant id lets the service open
/// the right tenant transaction before looking the token up; it is no secret.
///
/// # Errors
/// When the operating system has no randomness to give.
pub fn new_refresh_token(tenant: domain::TenantId) -> Result<String, getrandom::Error> {
    let secret = random_bytes::<32>()?;
    Ok(format!("rt1.{}.{}", tenant.as_uuid().simple(), URL_SAFE_NO_PAD.encode(secret)))
}

/// The tenant a refresh token belongs to, if it has the shape this service issues.
#[must_use]
pub fn refresh_token_tenant(token: &str) -> Option<domain::TenantId> {
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("rt1"), Some(tenant), Some(secret), None) if secret.len() == 43 => {
            uuid::Uuid::try_parse(tenant).ok().map(domain::TenantId::from_uuid)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_carry_their_tenant() {
        let tenant = domain::TenantId::new();
        let token = new_refresh_token(tenant).unwrap_or_default();
        assert_eq!(refresh_token_tenant(&token), Some(tenant));
        assert_eq!(refresh_token_tenant("rt1.nonsense.x"), None);
        assert_eq!(refresh_token_tenant(""), None);
        assert_ne!(token_hash(&token), token_hash("other"));
    }
}
