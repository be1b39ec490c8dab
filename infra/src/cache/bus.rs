//! Wake-ups between request handlers and background work (and, with Redis, between replicas).
//! A wake-up says "look again", never carries data: a lost one delays work, it never loses it.

use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::sync::broadcast;

use super::OptionalRedis;

/// Publishes and receives wake-up topics.
#[derive(Clone, Debug)]
pub struct WakeBus {
    local: broadcast::Sender<String>,
    redis: Option<OptionalRedis>,
}

impl WakeBus {
    /// A bus; with `redis`, a supervisor task relays Redis messages into this process and
    /// reconnects with backoff when Redis goes away.
    #[must_use]
    pub fn new(redis: Option<OptionalRedis>) -> Self {
        let (local, _) = broadcast::channel(1024);
        if let Some(redis) = &redis {
            tokio::spawn(relay(redis.client().clone(), redis.key("wake"), local.clone()));
        }
        Self { local, redis }
    }

    /// Wakes every subscriber here and, with Redis, on every replica.
    pub async fn publish(&self, topic: &str) {
        // Local first: this process never depends on Redis to hear itself.
        let _ = self.local.send(topic.to_owned());
        if let Some(redis) = &self.redis {
            let _: Option<i64> = redis.run(redis::cmd("PUBLISH").arg(redis.key("wake")).arg(topic)).await;
        }
    }

    /// A receiver of topics published from now on.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.local.subscribe()
    }
}

/// The wake-up topic of a tenant's event streams: published after a commit that queued events
/// for its users (referrals, assignments, escalations), heard by every open stream of the tenant.
#[must_use]
pub fn events_topic(tenant: domain::TenantId) -> String {
    format!("events:{tenant}")
}

async fn relay(client: redis::Client, channel: String, local: broadcast::Sender<String>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                if pubsub.subscribe(&channel).await.is_ok() {
                    backoff = Duration::from_millis(100);
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        if let Ok(topic) = message.get_payload::<String>() {
                            let _ = local.send(topic);
                        }
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "redis pub/sub unavailable; retrying"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}
