//! A cache of revoked sessions. The `sessions` table is the truth; this cache only lets a replica
//! refuse a revoked token without asking the database. A miss means "ask the database", never
//! "allowed", so a lost or flushed cache cannot let a revoked token through.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use domain::SessionId;

use super::OptionalRedis;

/// Revoked sessions, shared through Redis when it answers.
#[derive(Clone, Debug)]
pub struct RevocationCache {
    redis: Option<OptionalRedis>,
    memory: Arc<Mutex<HashMap<SessionId, Instant>>>,
}

fn key(redis: &OptionalRedis, session: SessionId) -> String {
    redis.key(&format!("revoked:{}", session.as_uuid().simple()))
}

impl RevocationCache {
    /// A cache, shared through `redis` when given.
    #[must_use]
    pub fn new(redis: Option<OptionalRedis>) -> Self {
        Self { redis, memory: Arc::new(Mutex::new(HashMap::new())) }
    }

    /// Remembers that `session` is revoked for `ttl` (until its tokens would have expired anyway).
    pub async fn revoke(&self, session: SessionId, ttl: Duration) {
        if let Ok(mut map) = self.memory.lock() {
            let now = Instant::now();
            map.retain(|_, until| *until > now);
            map.insert(session, now + ttl);
        }
        if let Some(redis) = &self.redis {
            let seconds = ttl.as_secs().max(1);
            let _: Option<()> =
                redis.run(redis::cmd("SET").arg(key(redis, session)).arg(1).arg("EX").arg(seconds)).await;
        }
    }

    /// True when known revoked; false means "not known here", and the database decides.
    pub async fn is_known_revoked(&self, session: SessionId) -> bool {
        let local = self.memory.lock().ok().and_then(|m| m.get(&session).copied()).is_some_and(|u| u > Instant::now());
        if local {
            return true;
        }
        if let Some(redis) = &self.redis {
            return redis.run::<bool>(redis::cmd("EXISTS").arg(key(redis, session))).await.unwrap_or(false);
        }
        false
    }
}
