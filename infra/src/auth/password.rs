//! Password hashing with argon2id at OWASP's parameters (19 MiB, 2 passes, 1 lane). Hashing is
//! CPU-bound for ~20 ms, so it always runs on the blocking pool, never on an async worker.

use argon2::password_hash::PasswordHasher as _;
use argon2::password_hash::PasswordVerifier as _;
use argon2::{Algorithm, Argon2, Params, Version};
use domain::user::NewPassword;

/// Hashing could not be done.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed")]
pub struct HashError;

fn hasher() -> Result<Argon2<'static>, HashError> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(|_| HashError)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a new password into a PHC string (salt and parameters included).
///
/// # Errors
/// [`HashError`] when the blocking pool or the hasher fails.
pub async fn hash(password: NewPassword) -> Result<String, HashError> {
    tokio::task::spawn_blocking(move || {
        let argon2 = hasher()?;
        argon2.hash_password(password.expose().as_bytes()).map(|h| h.to_string()).map_err(|_| HashError)
    })
    .await
    .map_err(|_| HashError)?
}

/// A hash of a password nobody knows, checked when a sign-in names no account, so that an unknown
/// email costs the same time as a wrong password and cannot be told apart by timing.
const DECOY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$3P5Yqg3Oq5Sxq9V5p1fQm8I0Jm0kq1Jw5S2Zp6sG9aM";

/// True when `password` matches `phc` (or, with `None`, spends the same effort and says no).
///
/// # Errors
/// [`HashError`] when the blocking pool fails.
pub async fn verify(password: String, phc: Option<String>) -> Result<bool, HashError> {
    tokio::task::spawn_blocking(move || {
        let argon2 = hasher()?;
        let target = phc.as_deref().unwrap_or(DECOY_HASH);
        let matches = argon2.verify_password(password.as_bytes(), target).is_ok();
        Ok(matches && phc.is_some())
    })
    .await
    .map_err(|_| HashError)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_only_its_password() -> Result<(), HashError> {
        let password = NewPassword::parse("correct horse battery").map_err(|_| HashError)?;
        let phc = hash(password).await?;
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse battery".to_owned(), Some(phc.clone())).await?);
        assert!(!verify("wrong horse battery".to_owned(), Some(phc)).await?);
        assert!(!verify("anything".to_owned(), None).await?);
        Ok(())
    }

    #[test]
    fn the_decoy_is_a_real_hash_so_unknown_accounts_cost_full_time() {
        assert!(argon2::password_hash::phc::PasswordHash::new(DECOY_HASH).is_ok());
    }
}
