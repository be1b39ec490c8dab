//! Exit Route dispatch: who is on duty where, referrals made at the point of contact with police,
//! their lifecycle, fair assignment and escalation windows.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::UserId;
use crate::case::name_enum;

name_enum!(
    /// How soon the person needs a worker.
    Urgency,
    "immediate, same_day, routine" {
        Immediate => "immediate",
        SameDay => "same_day",
        Routine => "routine",
    }
);

name_enum!(
    /// Where a referral stands.
    ReferralStatus,
    "pending, accepted, contacted, declined, unable_to_reach, converted" {
        Pending => "pending",
        Accepted => "accepted",
        Contacted => "contacted",
        Declined => "declined",
        UnableToReach => "unable_to_reach",
        Converted => "converted",
    }
);

name_enum!(
    /// What happened when a worker tried to reach the person.
    ContactOutcome,
    "reached, no_answer, declined, unsafe_to_contact" {
        Reached => "reached",
        NoAnswer => "no_answer",
        Declined => "declined",
        UnsafeToContact => "unsafe_to_contact",
    }
);

/// Why a referral cannot move as asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReferralError {
    /// Someone accepted it already.
    #[error("the referral was already accepted")]
    AlreadyAccepted,
    /// It must be accepted first.
    #[error("the referral must be accepted first")]
    NotAccepted,
    /// The person did not consent to be contacted.
    #[error("the person did not consent to be contacted")]
    ConsentRequired,
    /// It was converted already.
    #[error("the referral was already converted")]
    AlreadyConverted,
    /// It is closed (declined).
    #[error("the referral is closed")]
    Closed,
}

/// The status after accepting.
///
/// # Errors
/// [`ReferralError::AlreadyAccepted`] unless pending.
pub fn accept(status: ReferralStatus) -> Result<ReferralStatus, ReferralError> {
    match status {
        ReferralStatus::Pending => Ok(ReferralStatus::Accepted),
        ReferralStatus::Converted => Err(ReferralError::AlreadyConverted),
        _ => Err(ReferralError::AlreadyAccepted),
    }
}

/// The status after a contact attempt with `outcome`; `None` means unchanged.
///
/// # Errors
/// [`ReferralError::ConsentRequired`] when the person did not consent to contact;
/// [`ReferralError::NotAccepted`] before acceptance; [`ReferralError::Closed`] after a decline or conversion.
pub fn contact(
    status: ReferralStatus,
    consent_to_contact: bool,
    outcome: ContactOutcome,
) -> Result<ReferralStatus, ReferralError> {
    if !consent_to_contact {
        return Err(ReferralError::ConsentRequired);
    }
    match status {
        ReferralStatus::Pending => Err(ReferralError::NotAccepted),
        ReferralStatus::Declined | ReferralStatus::Converted => Err(ReferralError::Closed),
        ReferralStatus::Accepted | ReferralStatus::Contacted | ReferralStatus::UnableToReach => Ok(match outcome {
            ContactOutcome::Reached => ReferralStatus::Contacted,
            ContactOutcome::Declined => ReferralStatus::Declined,
            ContactOutcome::NoAnswer | ContactOutcome::UnsafeToContact => {
                if status == ReferralStatus::Contacted {
                    status
                } else {
                    ReferralStatus::UnableToReach
                }
            }
        }),
    }
}

/// Checks that a referral may be converted into a client and a case.
///
/// # Errors
/// [`ReferralError`] unless accepted, contacted or unable to reach.
pub fn convert(status: ReferralStatus) -> Result<ReferralStatus, ReferralError> {
    match status {
        ReferralStatus::Accepted | ReferralStatus::Contacted | ReferralStatus::UnableToReach => {
            Ok(ReferralStatus::Converted)
        }
        ReferralStatus::Pending => Err(ReferralError::NotAccepted),
        ReferralStatus::Converted => Err(ReferralError::AlreadyConverted),
        ReferralStatus::Declined => Err(ReferralError::Closed),
    }
}

/// Minutes a referral of each urgency may wait for acceptance before supervisors are alerted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EscalationWindows {
    /// For `immediate`.
    pub immediate: i32,
    /// For `same_day`.
    pub same_day: i32,
    /// For `routine`.
    pub routine: i32,
}

impl Default for EscalationWindows {
    fn default() -> Self {
        Self { immediate: 15, same_day: 4 * 60, routine: 3 * 24 * 60 }
    }
}

/// A window outside 1 minute to 14 days.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be between 1 and 20160 minutes")]
pub struct WindowError;

impl EscalationWindows {
    /// Checks one window.
    ///
    /// # Errors
    /// [`WindowError`].
    pub fn check(minutes: i32) -> Result<i32, WindowError> {
        if (1..=20_160).contains(&minutes) { Ok(minutes) } else { Err(WindowError) }
    }

    /// When a referral of `urgency` made at `created_at` escalates.
    #[must_use]
    pub fn deadline(&self, urgency: Urgency, created_at: DateTime<Utc>) -> DateTime<Utc> {
        let minutes = match urgency {
            Urgency::Immediate => self.immediate,
            Urgency::SameDay => self.same_day,
            Urgency::Routine => self.routine,
        };
        created_at + Duration::minutes(i64::from(minutes))
    }
}

/// Why a shift or posting was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// It ends before (or when) it starts.
    #[error("must be after the start")]
    EndsBeforeStart,
    /// A shift longer than a day.
    #[error("a shift lasts at most 24 hours")]
    TooLong,
}

/// Checks a shift's times.
///
/// # Errors
/// [`ScheduleError`].
pub fn check_shift(starts_at: DateTime<Utc>, ends_at: DateTime<Utc>) -> Result<(), ScheduleError> {
    if ends_at <= starts_at {
        return Err(ScheduleError::EndsBeforeStart);
    }
    if ends_at - starts_at > Duration::hours(24) {
        return Err(ScheduleError::TooLong);
    }
    Ok(())
}

/// Checks a posting's dates (the end day is the last day of the posting).
///
/// # Errors
/// [`ScheduleError::EndsBeforeStart`].
pub fn check_posting(starts_on: NaiveDate, ends_on: Option<NaiveDate>) -> Result<(), ScheduleError> {
    match ends_on {
        Some(end) if end < starts_on => Err(ScheduleError::EndsBeforeStart),
        _ => Ok(()),
    }
}

/// A worker on duty who could take a referral.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The worker.
    pub user_id: UserId,
    /// Referrals assigned to them that are still pending or accepted.
    pub open_referrals: u32,
    /// When their current shift started.
    pub shift_started: DateTime<Utc>,
}

/// Chooses who gets a new referral: the on-duty worker with the fewest open referrals; among equals
/// the one whose shift started first (they have waited longest), then the lowest id (stable).
#[must_use]
pub fn choose_assignee(candidates: &[Candidate]) -> Option<UserId> {
    candidates.iter().min_by_key(|c| (c.open_referrals, c.shift_started, c.user_id)).map(|c| c.user_id)
}

/// An occurrence number as police give it: 1 to 32 letters, digits, hyphens or slashes.
///
/// # Errors
/// A message when malformed.
pub fn occurrence_number(raw: &str) -> Result<String, &'static str> {
    let raw = raw.trim();
    let ok = (1..=32).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'/');
    if ok { Ok(raw.to_owned()) } else { Err("must be 1 to 32 letters, digits, '-' or '/'") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_referral_is_accepted_once_and_converted_once() {
        assert_eq!(accept(ReferralStatus::Pending), Ok(ReferralStatus::Accepted));
        assert_eq!(accept(ReferralStatus::Accepted), Err(ReferralError::AlreadyAccepted));
        assert_eq!(convert(ReferralStatus::Pending), Err(ReferralError::NotAccepted));
        assert_eq!(convert(ReferralStatus::Contacted), Ok(ReferralStatus::Converted));
        assert_eq!(convert(ReferralStatus::Converted), Err(ReferralError::AlreadyConverted));
        assert_eq!(convert(ReferralStatus::Declined), Err(ReferralError::Closed));
    }

    #[test]
    fn contact_needs_consent_and_acceptance() {
        use ContactOutcome::*;
        use ReferralStatus::*;
        assert_eq!(contact(Accepted, false, Reached), Err(ReferralError::ConsentRequired));
        assert_eq!(contact(Pending, true, Reached), Err(ReferralError::NotAccepted));
        assert_eq!(contact(Accepted, true, Reached), Ok(Contacted));
        assert_eq!(contact(Accepted, true, NoAnswer), Ok(UnableToReach));
        assert_eq!(contact(UnableToReach, true, Reached), Ok(Contacted));
        assert_eq!(contact(Contacted, true, NoAnswer), Ok(Contacted));
        assert_eq!(contact(Accepted, true, ContactOutcome::Declined), Ok(ReferralStatus::Declined));
        assert_eq!(contact(ReferralStatus::Declined, true, Reached), Err(ReferralError::Closed));
    }

    #[test]
    fn deadlines_follow_the_urgency_window() {
        let windows = EscalationWindows::default();
        let t = Utc::now();
        assert_eq!(windows.deadline(Urgency::Immediate, t), t + Duration::minutes(15));
        assert_eq!(windows.deadline(Urgency::SameDay, t), t + Duration::minutes(240));
        assert!(EscalationWindows::check(0).is_err());
        assert!(EscalationWindows::check(20_161).is_err());
    }

    #[test]
    fn the_least_loaded_longest_waiting_worker_is_chosen() {
        let t = Utc::now();
        let (a, b, c) = (UserId::new(), UserId::new(), UserId::new());
        let candidates = [
            Candidate { user_id: a, open_referrals: 2, shift_started: t - Duration::hours(3) },
            Candidate { user_id: b, open_referrals: 1, shift_started: t - Duration::hours(1) },
            Candidate { user_id: c, open_referrals: 1, shift_started: t - Duration::hours(2) },
        ];
        assert_eq!(choose_assignee(&candidates), Some(c));
        assert_eq!(choose_assignee(&[]), None);
    }

    #[test]
    fn shifts_and_postings_are_checked() {
        let t = Utc::now();
        assert_eq!(check_shift(t, t), Err(ScheduleError::EndsBeforeStart));
        assert_eq!(check_shift(t, t + Duration::hours(25)), Err(ScheduleError::TooLong));
        assert!(check_shift(t, t + Duration::hours(8)).is_ok());
        let d = t.date_naive();
        assert!(check_posting(d, Some(d)).is_ok());
        assert!(check_posting(d, d.pred_opt()).is_err());
        assert!(occurrence_number("TPS-2026/123456").is_ok());
        assert!(occurrence_number("drop table").is_err());
    }
}
