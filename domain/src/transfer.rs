//! Transfers of a case to another agency, with the client's consent: what may travel, who may
//! send, and how a transfer moves from pending to accepted, declined or withdrawn.
//!
//! A transfer carries the minimum necessary, chosen by the worker: the parts named in `include`.
//! The client's identity always travels (the receiving agency opens a client record, which has at
//! least a given name), and so do the case's victimization types (a case has at least one; they
//! are codes that name no one). Everything else stays behind unless named.

use crate::case::{ConsentRecord, ConsentScope, consent_in_force, name_enum};

name_enum!(
    /// A part of a case that may travel with a transfer: `identity` (given and family name, date
    /// of birth, gender, preferred language), `contact` (phone, email, address and how the client
    /// may safely be contacted), the case's current `risk_level`, its `safety_plan`.
    Part,
    "identity, contact, risk_level, safety_plan" {
        Identity => "identity",
        Contact => "contact",
        RiskLevel => "risk_level",
        SafetyPlan => "safety_plan",
    }
);

name_enum!(
    /// Where a transfer stands.
    TransferStatus,
    "pending, accepted, declined, withdrawn" {
        Pending => "pending",
        Accepted => "accepted",
        Declined => "declined",
        Withdrawn => "withdrawn",
    }
);

name_enum!(
    /// Which side of a transfer a listing shows.
    Direction,
    "incoming, outgoing" {
        Incoming => "incoming",
        Outgoing => "outgoing",
    }
);

/// Why a transfer cannot be sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// `include` names an unknown part, or repeats one.
    #[error("{0}")]
    Include(String),
    /// `include` leaves out the identity.
    #[error("must include identity: the receiving agency opens a client record for the person")]
    NoIdentity,
    /// The receiver is the sender.
    #[error("a case is transferred to another agency, not to its own")]
    OwnAgency,
    /// No consent to share with another agency is in force.
    #[error("the client has no share_with_other_agency consent in force on this case")]
    NoConsent,
}

/// The parts `raw` names, each once, in a stable order; identity must be among them.
///
/// # Errors
/// [`SendError::Include`] for an unknown or repeated part, [`SendError::NoIdentity`].
pub fn parts<S: AsRef<str>>(raw: &[S]) -> Result<Vec<Part>, SendError> {
    let mut parts = Vec::new();
    for name in raw {
        let part = Part::parse(name.as_ref()).map_err(|e| SendError::Include(e.to_string()))?;
        if parts.contains(&part) {
            return Err(SendError::Include(format!("names {} twice", part.as_str())));
        }
        parts.push(part);
    }
    if !parts.contains(&Part::Identity) {
        return Err(SendError::NoIdentity);
    }
    parts.sort_unstable();
    Ok(parts)
}

/// Whether the case may be sent from `from` to `to` now: another agency, and the client's
/// consent to share with another agency in force (the newest record of that scope decides, and an
/// expired one does not count).
///
/// # Errors
/// [`SendError::OwnAgency`] or [`SendError::NoConsent`].
pub fn may_send(
    from: crate::TenantId,
    to: crate::TenantId,
    consents: &[ConsentRecord],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), SendError> {
    if from == to {
        return Err(SendError::OwnAgency);
    }
    if !consent_in_force(consents, ConsentScope::ShareWithOtherAgency, now) {
        return Err(SendError::NoConsent);
    }
    Ok(())
}

/// A step a transfer cannot take from where it stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a transfer that is {0} cannot be {1}")]
pub struct NotPending(pub &'static str, pub &'static str);

/// The status after `to`, taken from `current`: every step is from `pending`, once.
///
/// # Errors
/// [`NotPending`] when the transfer was already settled.
pub fn settle(current: TransferStatus, to: TransferStatus) -> Result<TransferStatus, NotPending> {
    match (current, to) {
        (TransferStatus::Pending, TransferStatus::Accepted | TransferStatus::Declined | TransferStatus::Withdrawn) => {
            Ok(to)
        }
        (current, to) => Err(NotPending(current.as_str(), to.as_str())),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};

    use super::*;
    use crate::TenantId;

    fn consent(granted: bool, expires_in_days: Option<i64>) -> ConsentRecord {
        ConsentRecord {
            scope: ConsentScope::ShareWithOtherAgency,
            granted,
            recorded_at: Utc::now() - Duration::days(1),
            expires_at: expires_in_days.map(|d| Utc::now() + Duration::days(d)),
        }
    }

    #[test]
    fn identity_always_travels_and_parts_are_named_once() {
        assert_eq!(parts(&["safety_plan", "identity"]), Ok(vec![Part::Identity, Part::SafetyPlan]));
        assert_eq!(parts(&["contact"]), Err(SendError::NoIdentity));
        assert_eq!(parts::<&str>(&[]), Err(SendError::NoIdentity));
        assert!(matches!(parts(&["identity", "notes"]), Err(SendError::Include(_))));
        assert!(matches!(parts(&["identity", "identity"]), Err(SendError::Include(_))));
    }

    #[test]
    fn a_case_goes_to_another_agency_only_with_consent_in_force() {
        let (a, b) = (TenantId::new(), TenantId::new());
        let now = Utc::now();
        assert_eq!(may_send(a, b, &[consent(true, None)], now), Ok(()));
        assert_eq!(may_send(a, a, &[consent(true, None)], now), Err(SendError::OwnAgency));
        assert_eq!(may_send(a, b, &[], now), Err(SendError::NoConsent));
        assert_eq!(may_send(a, b, &[consent(true, Some(-1))], now), Err(SendError::NoConsent), "expired");
        assert_eq!(may_send(a, b, &[consent(false, None)], now), Err(SendError::NoConsent), "refused");
    }

    #[test]
    fn a_transfer_settles_once() {
        use TransferStatus::{Accepted, Declined, Pending, Withdrawn};
        for to in [Accepted, Declined, Withdrawn] {
            assert_eq!(settle(Pending, to), Ok(to));
            for settled in [Accepted, Declined, Withdrawn] {
                assert!(settle(settled, to).is_err());
            }
        }
        assert!(settle(Pending, Pending).is_err());
    }
}
