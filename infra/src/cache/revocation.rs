//! Sessions this replica revoked, remembered so their tokens are refused before any other work.
//! The `sessions` table is the truth, and every signed-in request's transaction asks it first
//! anyway (`db::begin_tenant_tx`), so this is only a local shortcut: a miss means "ask the
//! database", never "allowed". It used to be shared through Redis, which cost every request a
//! Redis round trip to learn what the database was about to say.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use domain::SessionId;

/// Sessions revoked through this replica, until their tokens would have expired anyway.
#[derive(Clone, Debug, Default)]
pub struct RevocationCache {
    memory: Arc<Mutex<HashMap<SessionId, Instant>>>,
}

impl RevocationCache {
    /// An empty cache.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Remembers that `session` is revoked for `ttl` (until its tokens would have expired anyway).
    pub fn revoke(&self, session: SessionId, ttl: Duration) {
        if let Ok(mut map) = self.memory.lock() {
            let now = Instant::now();
            map.retain(|_, until| *until > now);
            map.insert(session, now + ttl);
        }
    }

    /// True when known revoked here; false means "not known here", and the database decides.
    #[must_use]
    pub fn is_known_revoked(&self, session: SessionId) -> bool {
        self.memory.lock().ok().and_then(|m| m.get(&session).copied()).is_some_and(|until| until > Instant::now())
    }
}
