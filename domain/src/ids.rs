//! Typed identifiers. Every id is a UUID v7 (time-ordered, index-friendly, no sequences to share
//! between database nodes); serial numbers are never exposed.

use uuid::Uuid;

/// Declares a newtype identifier over a UUID v7.
#[macro_export]
macro_rules! define_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(uuid::Uuid);

        impl $name {
            /// A new, time-ordered id.
            #[must_use]
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }
            /// Wraps an id read from storage or a request path.
            #[must_use]
            pub const fn from_uuid(id: uuid::Uuid) -> Self {
                Self(id)
            }
            /// The underlying UUID.
            #[must_use]
            pub const fn as_uuid(&self) -> uuid::Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<$name> for uuid::Uuid {
            fn from(id: $name) -> uuid::Uuid {
                id.0
            }
        }
    };
}

define_id!(
    /// A tenant: the platform operator, an agency or the ministry.
    TenantId
);
define_id!(
    /// A user account inside one tenant.
    UserId
);
define_id!(
    /// A police service (reference data shared by all tenants).
    PoliceServiceId
);
define_id!(
    /// A police division (reference data shared by all tenants).
    PoliceDivisionId
);
define_id!(
    /// A sign-in session: the family of refresh tokens that one login starts.
    SessionId
);
define_id!(
    /// An audit event.
    AuditEventId
);

/// The smallest UUID v7 whose timestamp is `millis`: every id made at or after that instant
/// sorts at or above it. Used to bound scans of time-ordered ids.
#[must_use]
pub fn uuid_v7_floor(millis: u64) -> Uuid {
    let mut bytes = [0_u8; 16];
    let ts = millis.to_be_bytes();
    bytes[..6].copy_from_slice(&ts[2..8]);
    bytes[6] = 0x70; // version 7, random bits zero
    bytes[8] = 0x80; // RFC 4122 variant
    Uuid::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_version_7_and_time_ordered() {
        let a = UserId::new();
        let b = UserId::new();
        assert_eq!(a.as_uuid().get_version_num(), 7);
        assert!(a <= b);
    }

    #[test]
    fn the_floor_sorts_below_ids_made_after_it() {
        let now = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or_default();
        let floor = uuid_v7_floor(now - 1);
        assert!(floor < Uuid::now_v7());
        assert!(uuid_v7_floor(now + 60_000) > Uuid::now_v7());
    }
}
