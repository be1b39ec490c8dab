//! Short-lived answers to expensive read-only questions (ministry aggregates), kept in Redis.
//!
//! Each entry's key names the scope it was computed for (one tenant's id, or every agency), so
//! one tenant's entry can never answer another's question. Entries expire after a fixed time and
//! are never refreshed in place, so an answer is never staler than that time. With Redis unset
//! or down nothing is cached and every question is computed.

use sha2::{Digest as _, Sha256};

use super::OptionalRedis;

/// A cache of serialised answers.
#[derive(Clone, Debug)]
pub struct AnswerCache {
    redis: Option<OptionalRedis>,
    ttl_seconds: u64,
}

/// Whose data an answer was computed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerScope {
    /// One tenant's.
    Tenant(domain::TenantId),
    /// Every agency's (the ministry's view).
    AllAgencies,
}

impl AnswerCache {
    /// A cache over `redis` whose entries live `ttl_seconds` (0: nothing is cached).
    #[must_use]
    pub fn new(redis: Option<OptionalRedis>, ttl_seconds: u64) -> Self {
        Self { redis: redis.filter(|_| ttl_seconds > 0), ttl_seconds }
    }

    /// How long entries live, in seconds.
    #[must_use]
    pub fn ttl_seconds(&self) -> u64 {
        self.ttl_seconds
    }

    fn key(redis: &OptionalRedis, kind: &str, scope: AnswerScope, question: &str) -> String {
        let scope = match scope {
            AnswerScope::Tenant(id) => id.as_uuid().to_string(),
            AnswerScope::AllAgencies => "all_agencies".to_owned(),
        };
        let digest = hex::encode(Sha256::digest(question.as_bytes()));
        redis.key(&format!("answers:{kind}:{scope}:{digest}"))
    }

    /// The cached answer, if any.
    pub async fn get(&self, kind: &str, scope: AnswerScope, question: &str) -> Option<String> {
        let redis = self.redis.as_ref()?;
        redis.run::<Option<String>>(redis::cmd("GET").arg(Self::key(redis, kind, scope, question))).await.flatten()
    }

    /// Keeps an answer for the cache's lifetime (best effort: a Redis failure only costs a miss).
    pub async fn put(&self, kind: &str, scope: AnswerScope, question: &str, answer: &str) {
        if let Some(redis) = &self.redis {
            let key = Self::key(redis, kind, scope, question);
            let _: Option<()> = redis.run(redis::cmd("SET").arg(key).arg(answer).arg("EX").arg(self.ttl_seconds)).await;
        }
    }
}
