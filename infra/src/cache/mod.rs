//! Redis and its in-process twins. Redis shares sign-in attempt counts and wake-ups between
//! replicas and caches ministry answers; revocations are this replica's memory only (the database
//! is asked on every request anyway). The database stays the source of truth. With Redis unset
//! (the embedded default) or down, each adapter falls back to its in-process twin at once and
//! never waits on Redis.

pub mod answers;
pub mod bus;
pub mod failures;
pub mod redis;
pub mod revocation;

pub use self::answers::{AnswerCache, AnswerScope};
pub use self::bus::{WakeBus, events_topic};
pub use self::failures::FailureCounter;
pub use self::redis::{OptionalRedis, RedisState};
pub use self::revocation::RevocationCache;
