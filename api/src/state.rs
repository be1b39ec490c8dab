//! What every handler can reach: the database, token service, caches and settings.

use std::sync::Arc;
use std::time::Duration;

use domain::auth::LoginThrottle;
use infra::Db;
use infra::auth::tokens::TokenService;
use infra::cache::{AnswerCache, FailureCounter, OptionalRedis, RevocationCache, WakeBus};
use infra::config::Settings;

use crate::metrics::Metrics;

impl AppState {
    /// The caller's tenant cipher, for sealing and opening personal fields.
    ///
    /// Call it before beginning the request's transaction: the first call for a tenant in this
    /// process reads (or makes) the key in a transaction of its own, and on SQLite that waits for
    /// any writing transaction the caller already holds.
    ///
    /// # Errors
    /// When the tenant key cannot be read, made or unwrapped.
    pub async fn cipher(
        &self,
        tenant: domain::TenantId,
    ) -> Result<Arc<infra::crypto::TenantCipher>, crate::error::ApiError> {
        Ok(infra::store::tenant_keys::cipher(&self.db, &self.keyring, tenant).await?)
    }

    /// Forgets the tokens of sessions that just ended (after their transaction committed), so this
    /// replica refuses them before any other work; the database refuses them anyway. Remembered
    /// for an access token's life, after which none of them verifies.
    pub fn forget_sessions(&self, ended: impl IntoIterator<Item = domain::SessionId>) {
        let life = std::time::Duration::from_secs(domain::auth::ACCESS_TOKEN_TTL_SECONDS.unsigned_abs());
        for session in ended {
            self.revocations.revoke(session, life);
        }
    }
}

/// Shared application state, cloned into every worker.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The runtime connection pool.
    pub db: Db,
    /// Issues and verifies access tokens.
    pub tokens: Arc<TokenService>,
    /// Redis, when configured.
    pub redis: Option<OptionalRedis>,
    /// Failed logins per account and per address.
    pub login_failures: FailureCounter,
    /// The failed-login policy.
    pub throttle: LoginThrottle,
    /// Revoked sessions.
    pub revocations: RevocationCache,
    /// Wake-ups for background work and streams.
    pub bus: WakeBus,
    /// Short-lived aggregate answers.
    pub answers: AnswerCache,
    /// Prometheus counters.
    pub metrics: Arc<Metrics>,
    /// Settings as loaded.
    pub settings: Arc<Settings>,
    /// Master keys and the tenants' unwrapped field ciphers.
    pub keyring: Arc<infra::crypto::Keyring>,
    /// Today, for the program's rules (`crate::calendar`).
    pub calendar: crate::calendar::Calendar,
}

impl AppState {
    /// Builds the state around an open database and a token service.
    #[must_use]
    pub fn new(
        db: Db,
        tokens: TokenService,
        keyring: infra::crypto::Keyring,
        redis: Option<OptionalRedis>,
        metrics: Metrics,
        settings: Settings,
    ) -> Self {
        let throttle = settings.login_throttle();
        Self {
            db,
            tokens: Arc::new(tokens),
            login_failures: FailureCounter::new(redis.clone(), Duration::from_secs(throttle.window_seconds)),
            throttle,
            revocations: RevocationCache::new(),
            bus: WakeBus::new(redis.clone()),
            answers: AnswerCache::new(redis.clone(), settings.aggregate_cache_seconds),
            redis,
            metrics: Arc::new(metrics),
            settings: Arc::new(settings),
            keyring: Arc::new(keyring),
            calendar: crate::calendar::Calendar::default(),
        }
    }
}
