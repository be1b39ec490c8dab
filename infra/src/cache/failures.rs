//! Counters of failures in a fixed window (failed logins per account and per address), shared
//! through Redis when it answers and kept in process otherwise.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::OptionalRedis;

/// The largest number of keys the in-process twin keeps; beyond it expired keys are dropped, then
/// the oldest, so an attacker cycling addresses cannot exhaust memory.
const MEMORY_CAP: usize = 100_000;

/// Counts failures per key within a window.
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

impl FailureCounter {
    /// A counter with the given window, shared through `redis` when given.
    #[must_use]
    pub fn new(redis: Option<OptionalRedis>, window: Duration) -> Self {
        Self { redis, memory: Arc::new(Mutex::new(HashMap::new())), window }
    }

    /// Failures counted for `key` in the current window.
    pub async fn get(&self, key: &str) -> u32 {
        if let Some(redis) = &self.redis {
            let value: Option<Option<u32>> = redis.run(redis::cmd("GET").arg(redis.key(key))).await;
            if let Some(count) = value {
                return count.unwrap_or(0);
            }
        }
        self.memory_get(key)
    }

    /// Counts one more failure for `key`; returns the new count.
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
}
