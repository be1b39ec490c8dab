//! A Redis connection that degrades: every call has a short timeout, and after a failure a
//! breaker stays open for a cooldown so that callers fall back at once instead of queueing on a
//! dead server. The connection manager reconnects in the background.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{FromRedisValue, RedisResult};

/// What `/health/ready` says about Redis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedisState {
    /// Not configured: in-process twins serve (one replica only).
    NotConfigured,
    /// Answering.
    Up,
    /// Configured but not answering: degraded to in-process twins.
    Down,
}

/// A shared, failure-tolerant handle on Redis.
#[derive(Clone)]
pub struct OptionalRedis {
    client: redis::Client,
    manager: ConnectionManager,
    open_until_ms: Arc<AtomicU64>,
    fallbacks: Arc<AtomicU64>,
    namespace: Arc<str>,
}

impl std::fmt::Debug for OptionalRedis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OptionalRedis").finish_non_exhaustive()
    }
}

const OP_TIMEOUT: Duration = Duration::from_millis(300);
const COOLDOWN_MS: u64 = 1000;

fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0)
}

impl OptionalRedis {
    /// Prepares a connection without connecting: start-up never waits for Redis.
    ///
    /// # Errors
    /// Only for a malformed URL.
    pub fn new(url: &str, namespace: &str) -> RedisResult<Self> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(250)))
            .set_response_timeout(Some(Duration::from_millis(250)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        Ok(Self {
            client,
            manager,
            open_until_ms: Arc::new(AtomicU64::new(0)),
            fallbacks: Arc::new(AtomicU64::new(0)),
            namespace: namespace.into(),
        })
    }

    /// A key (or channel) inside this deployment's namespace, so deployments (and test runs)
    /// sharing one Redis never read each other's keys.
    #[must_use]
    pub fn key(&self, suffix: &str) -> String {
        format!("{}:{suffix}", self.namespace)
    }

    /// Runs a command; `None` means Redis is unavailable and the caller uses its fallback.
    pub async fn run<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> Option<T> {
        if now_ms() < self.open_until_ms.load(Ordering::Relaxed) {
            self.fallbacks.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let mut conn = self.manager.clone();
        match tokio::time::timeout(OP_TIMEOUT, cmd.query_async::<T>(&mut conn)).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(e)) => {
                self.trip(&e.to_string());
                None
            }
            Err(_) => {
                self.trip("timed out");
                None
            }
        }
    }

    /// Runs a Lua script; `None` when Redis is unavailable.
    pub async fn run_script<T: FromRedisValue>(
        &self,
        script: &redis::Script,
        keys: &[&str],
        args: &[u64],
    ) -> Option<T> {
        if now_ms() < self.open_until_ms.load(Ordering::Relaxed) {
            self.fallbacks.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let mut invocation = script.prepare_invoke();
        for key in keys {
            invocation.key(*key);
        }
        for arg in args {
            invocation.arg(*arg);
        }
        let mut conn = self.manager.clone();
        match tokio::time::timeout(OP_TIMEOUT, invocation.invoke_async::<T>(&mut conn)).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(e)) => {
                self.trip(&e.to_string());
                None
            }
            Err(_) => {
                self.trip("timed out");
                None
            }
        }
    }

    fn trip(&self, why: &str) {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        let was_closed = self.open_until_ms.swap(now_ms() + COOLDOWN_MS, Ordering::Relaxed) < now_ms();
        if was_closed {
            tracing::warn!(reason = why, "redis unavailable; using in-process fallbacks");
        }
    }

    /// Pings Redis (for readiness), bypassing the breaker so recovery is noticed.
    pub async fn state(&self) -> RedisState {
        let mut conn = self.manager.clone();
        let ping = redis::cmd("PING");
        match tokio::time::timeout(OP_TIMEOUT, ping.query_async::<String>(&mut conn)).await {
            Ok(Ok(_)) => {
                self.open_until_ms.store(0, Ordering::Relaxed);
                RedisState::Up
            }
            _ => RedisState::Down,
        }
    }

    /// How many calls fell back to the in-process twin so far (a metric).
    #[must_use]
    pub fn fallback_count(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// A fresh client for a dedicated pub/sub connection.
    #[must_use]
    pub fn client(&self) -> &redis::Client {
        &self.client
    }
}
