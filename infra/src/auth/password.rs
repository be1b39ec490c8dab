//! Password hashing with argon2id at OWASP's parameters (19 MiB, 2 passes, 1 lane).
//!
//! Hashing is CPU-bound for ~20 ms and needs a 19 MiB buffer, so it runs on a fixed pool of one
//! thread per core, never on an async worker. A burst of sign-ins queues there instead of
//! spreading 19 MiB buffers over ever-new blocking threads (measured: 950 MiB to 1.2 GiB RSS under
//! 8 concurrent sign-ins on tokio's blocking pool, as each thread's allocator arena kept its own
//! buffer), and a login flood cannot take every core from other requests. The queue is bounded
//! too ([`QUEUE_PER_THREAD`] jobs a thread): beyond it a request is refused at once
//! ([`HashError::Busy`], answered 503 with `Retry-After`) rather than waiting in an ever longer
//! line that holds its memory and connection and answers after the client gave up.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::PasswordHasher as _;
use argon2::{Algorithm, Argon2, Params, Version};
use domain::user::NewPassword;

/// Hashing could not be done.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// The hasher or its threads failed.
    #[error("password hashing failed")]
    Failed,
    /// The queue is full: retry shortly.
    #[error("password hashing queue full")]
    Busy,
}

/// Jobs that may wait or run per hashing thread: 16 at about 20 ms each is a wait of at most a
/// third of a second, well inside any client's timeout; a flood beyond it is refused at once.
pub const QUEUE_PER_THREAD: usize = 16;

/// A bound on jobs queued or running.
struct Gate {
    in_queue: AtomicUsize,
    capacity: usize,
}

/// The gate of the hashing pool, sized on first use.
fn gate() -> &'static Gate {
    static GATE: OnceLock<Gate> = OnceLock::new();
    GATE.get_or_init(|| Gate { in_queue: AtomicUsize::new(0), capacity: capacity() })
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}

/// How many jobs the queue holds at most.
#[must_use]
pub fn capacity() -> usize {
    threads() * QUEUE_PER_THREAD
}

/// A place in the queue, given back when the job ends (or is dropped unrun).
struct Place(&'static Gate);

impl Gate {
    fn enter(&'static self) -> Result<Place, HashError> {
        self.in_queue
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.capacity).then_some(n + 1))
            .map(|_| Place(self))
            .map_err(|_| HashError::Busy)
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.0.in_queue.fetch_sub(1, Ordering::AcqRel);
    }
}

type Job = Box<dyn FnOnce() + Send + 'static>;

/// The queue of the hashing threads, started on first use.
fn pool() -> Option<&'static Mutex<mpsc::Sender<Job>>> {
    static POOL: OnceLock<Option<Mutex<mpsc::Sender<Job>>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..threads() {
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
    run_gated(gate(), work).await
}

/// [`run_limited`], through `gate`.
async fn run_gated<T: Send + 'static>(
    gate: &'static Gate,
    work: impl FnOnce() -> Result<T, HashError> + Send + 'static,
) -> Result<T, HashError> {
    let place = gate.enter()?;
    let (done, result) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let result = work();
        // Given back before the answer, so a caller that has its answer sees its place free.
        drop(place);
        let _ = done.send(result);
    });
    pool().ok_or(HashError::Failed)?.lock().map_err(|_| HashError::Failed)?.send(job).map_err(|_| HashError::Failed)?;
    result.await.map_err(|_| HashError::Failed)?
}

fn hasher() -> Result<Argon2<'static>, HashError> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(|_| HashError::Failed)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a new password into a PHC string (salt and parameters included).
///
/// # Errors
/// [`HashError`] when the blocking pool or the hasher fails.
pub async fn hash(password: NewPassword) -> Result<String, HashError> {
    run_limited(move || {
        let argon2 = hasher()?;
        argon2.hash_password(password.expose().as_bytes()).map(|h| h.to_string()).map_err(|_| HashError::Failed)
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
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(|_| HashError::Failed)?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).map_err(|_| HashError::Failed)?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).map_err(|_| HashError::Failed)?;
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
            .map_err(|_| HashError::Failed)
    })?;
    let difference = out.iter().zip(expected.as_bytes()).fold(0_u8, |acc, (a, b)| acc | (a ^ b));
    Ok(difference == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_only_its_password() -> Result<(), HashError> {
        let password = NewPassword::parse("correct horse battery").map_err(|_| HashError::Failed)?;
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
        let phc = hash(NewPassword::parse("correct horse battery").map_err(|_| HashError::Failed)?).await?;
        let real = PasswordHash::new(&phc).map_err(|_| HashError::Failed)?;
        let decoy = PasswordHash::new(DECOY_HASH).map_err(|_| HashError::Failed)?;
        assert_eq!(decoy.algorithm, real.algorithm);
        assert_eq!(decoy.version, real.version);
        assert_eq!(
            Params::try_from(&decoy).map_err(|_| HashError::Failed)?,
            Params::try_from(&real).map_err(|_| HashError::Failed)?
        );
        assert_eq!(decoy.hash.map(|h| h.len()), real.hash.map(|h| h.len()));
        assert_eq!(decoy.salt.map(|s| s.len()), real.salt.map(|s| s.len()));
        Ok(())
    }

    /// A flood beyond the queue is refused at once, not queued: of many verifications started
    /// together, at most the queue's capacity is accepted.
    #[tokio::test]
    async fn a_full_queue_refuses_rather_than_waits() {
        // A gate of its own, so the other tests' hashing does not share its places.
        static GATE: Gate = Gate { in_queue: AtomicUsize::new(0), capacity: 4 };
        let started: Vec<_> =
            (0..12).map(|_| run_gated(&GATE, || verify_with_reused_memory(b"a guess at it", DECOY_HASH))).collect();
        let results = futures_util::future::join_all(started).await;
        let busy = results.iter().filter(|r| **r == Err(HashError::Busy)).count();
        let done = results.iter().filter(|r| **r == Ok(false)).count();
        assert_eq!((done, busy), (4, 8), "{results:?}");
        assert_eq!(GATE.in_queue.load(Ordering::Acquire), 0, "every place was given back");
    }
}
