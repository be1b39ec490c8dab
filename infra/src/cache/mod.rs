//! Redis and its in-process twins. Redis makes limits, revocations and wake-ups shared between
//! replicas; the database stays the source of truth. With Redis unset (the embedded default) or
//! down, each adapter falls back to its in-process twin at once and never waits on Redis.

pub mod answers;
pub mod bus;
pub mod failures;
pub mod redis;
pub mod revocation;

pub use self::answers::{AnswerCache, AnswerScope};
pub use self::bus::WakeBus;
pub use self::failures::FailureCounter;
pub use self::redis::{OptionalRedis, RedisState};
pub use self::revocation::RevocationCache;
