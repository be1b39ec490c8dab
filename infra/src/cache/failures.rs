//! Counters of attempts in a fixed window (sign-ins per account and per address), shared through
//! Redis when it answers and kept in process too.
//!
//! Not a rate-limiting crate (governor and the like): those limit requests per key in one process
//! and count every request; this counts attempts before the hash is checked, refunds successes,
//! survives a Redis outage and is shared across replicas through one `INCR`.
//!
//! An attempt is counted *before* the work it guards ([`FailureCounter::add`] answers the count
//! with this attempt in it, atomically: `INCR` in Redis, a mutex here), and given back with
//! [`FailureCounter::refund`] when it turned out not to be a failure. Counting after the password
//! check let a burst of parallel guesses all read the same low count: 60 at once got 40 checks
//! against a limit of 5. Counted first, at most the limit's worth of a burst is ever checked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::OptionalRedis;

/// The largest number of keys the in-process twin keeps; beyond it expired keys are dropped, then
/// the oldest, so an attacker cycling addresses cannot exhaust memory.
const MEMORY_CAP: usize = 100_000;

/// Counts attempts per key within a window.
#[derive(Clone, Debug)]
pub struct FailureCounter {
    redis: Option<OptionalRedis>,
    memory: Arc<Mutex<HashMap<String, (u32, Instant)>>>,
    window: Duration,
}

// INCR and set the expiry on the first increment, atomically.
const INCR_SCRIPT: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n";

// DECR a live counter, never below zero and never re-creating an expired one.
const REFUND_SCRIPT: &str = r"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then return redis.call('DECR', KEYS[1]) end
return 0";

impl FailureCounter {
    /// A counter with the given window, shared through `redis` when given.
    #[must_use]
    pub fn new(redis: Option<OptionalRedis>, window: Duration) -> Self {
        Self { redis, memory: Arc::new(Mutex::new(HashMap::new())), window }
    }

    /// Attempts counted for `key` in the current window.
    pub async fn get(&self, key: &str) -> u32 {
        if let Some(redis) = &self.redis {
            let value: Option<Option<u32>> = redis.run(redis::cmd("GET").arg(redis.key(key))).await;
            if let Some(count) = value {
                return count.unwrap_or(0);
            }
        }
        self.memory_get(key)
    }

    /// Counts one more attempt for `key`, atomically; returns the count with it included.
    pub async fn add(&self, key: &str) -> u32 {
        // Always count locally too, so that a Redis outage mid-attack does not reset the count.
        let local = self.memory_add(key);
        if let Some(redis) = &self.redis {
            let script = redis::Script::new(INCR_SCRIPT);
            let window_ms = u64::try_from(self.window.as_millis()).unwrap_or(u64::MAX);
            if let Some(count) = redis.run_script::<u32>(&script, &[&redis.key(key)], &[window_ms]).await {
                return count.max(local);
            }
        }
        local
    }

    /// Gives back an attempt counted by [`FailureCounter::add`] that was not a failure (a
    /// sign-in that succeeded). The window is not moved.
    pub async fn refund(&self, key: &str) {
        self.memory_refund(key);
        if let Some(redis) = &self.redis {
            let script = redis::Script::new(REFUND_SCRIPT);
            let _: Option<u32> = redis.run_script(&script, &[&redis.key(key)], &[]).await;
        }
    }

    fn memory_refund(&self, key: &str) {
        let Ok(mut map) = self.memory.lock() else { return };
        if let Some(entry) = map.get_mut(key) {
            entry.0 = entry.0.saturating_sub(1);
        }
    }

    fn memory_get(&self, key: &str) -> u32 {
        let Ok(map) = self.memory.lock() else { return 0 };
        map.get(key).filter(|(_, until)| *until > Instant::now()).map_or(0, |(n, _)| *n)
    }

    fn memory_add(&self, key: &str) -> u32 {
        let Ok(mut map) = self.memory.lock() else { return u32::MAX };
        let now = Instant::now();
        if map.len() >= MEMORY_CAP {
            map.retain(|_, (_, until)| *until > now);
            if map.len() >= MEMORY_CAP
                && let Some(oldest) = map.iter().min_by_key(|(_, (_, until))| *until).map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        let entry = map.entry(key.to_owned()).or_insert((0, now + self.window));
        if entry.1 <= now {
            *entry = (0, now + self.window);
        }
        entry.0 = entry.0.saturating_add(1);
        entry.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_in_process_twin_counts_and_forgets() {
        let counter = FailureCounter::new(None, Duration::from_millis(50));
        assert_eq!(counter.get("k").await, 0);
        assert_eq!(counter.add("k").await, 1);
        assert_eq!(counter.add("k").await, 2);
        assert_eq!(counter.get("k").await, 2);
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(counter.get("k").await, 0);
        assert_eq!(counter.add("k").await, 1);
    }

    #[tokio::test]
    async fn a_refund_gives_back_one_attempt_and_never_goes_below_zero() {
        let counter = FailureCounter::new(None, Duration::from_secs(60));
        counter.refund("k").await;
        assert_eq!(counter.get("k").await, 0);
        assert_eq!(counter.add("k").await, 1);
        assert_eq!(counter.add("k").await, 2);
        counter.refund("k").await;
        assert_eq!(counter.get("k").await, 1);
    }

    /// The count answered includes this attempt, so of N parallel attempts exactly one sees each
    /// of the counts 1..=N: a limit of L lets exactly L through.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn parallel_attempts_each_see_a_count_of_their_own() -> Result<(), tokio::task::JoinError> {
        let counter = FailureCounter::new(None, Duration::from_secs(60));
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let counter = counter.clone();
                tokio::spawn(async move { counter.add("k").await })
            })
            .collect();
        let mut seen = Vec::new();
        for task in tasks {
            seen.push(task.await?);
        }
        seen.sort_unstable();
        assert_eq!(seen, (1..=64).collect::<Vec<u32>>());
        Ok(())
    }
}
