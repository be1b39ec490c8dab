//! The quarterly report's life: an agency drafts it, its supervisor submits it (freezing the
//! figures), and the ministry accepts it or returns it with a reason. A returned report stays
//! readable as it was; the agency drafts the same quarter again as the next version.

use crate::case::name_enum;
use crate::validation::{TextError, bounded_text};

name_enum!(
    /// Where a report is in its life.
    ReportStatus,
    "draft, submitted, accepted, returned" {
        Draft => "draft",
        Submitted => "submitted",
        Accepted => "accepted",
        Returned => "returned",
    }
);

/// A step the report's status does not allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// Only drafts are submitted.
    #[error("only a draft can be submitted")]
    NotDraft,
    /// Only submitted reports are accepted or returned.
    #[error("only a submitted report can be accepted or returned")]
    NotSubmitted,
    /// The quarter already has a report that is not returned.
    #[error("this quarter already has a report that is a draft, submitted or accepted")]
    QuarterTaken,
}

impl ReportStatus {
    /// Whether the ministry may see a report in this status (never a draft).
    #[must_use]
    pub const fn visible_to_ministry(self) -> bool {
        !matches!(self, Self::Draft)
    }
}

/// The status a submission leads to.
///
/// # Errors
/// [`ReportError::NotDraft`].
pub const fn submit(from: ReportStatus) -> Result<ReportStatus, ReportError> {
    match from {
        ReportStatus::Draft => Ok(ReportStatus::Submitted),
        _ => Err(ReportError::NotDraft),
    }
}

/// The status a ministry review leads to (`accept` true: accepted; false: returned).
///
/// # Errors
/// [`ReportError::NotSubmitted`].
pub const fn review(from: ReportStatus, accept: bool) -> Result<ReportStatus, ReportError> {
    match (from, accept) {
        (ReportStatus::Submitted, true) => Ok(ReportStatus::Accepted),
        (ReportStatus::Submitted, false) => Ok(ReportStatus::Returned),
        _ => Err(ReportError::NotSubmitted),
    }
}

/// The version a new draft of a quarter gets, given the newest existing report of that quarter.
///
/// # Errors
/// [`ReportError::QuarterTaken`] unless there is none or the newest was returned.
pub fn next_version(newest: Option<(i32, ReportStatus)>) -> Result<i32, ReportError> {
    match newest {
        None => Ok(1),
        Some((version, ReportStatus::Returned)) => Ok(version + 1),
        Some(_) => Err(ReportError::QuarterTaken),
    }
}

/// Why the ministry returned a report: 1 to 2000 characters, about the figures (never a person).
///
/// # Errors
/// [`TextError`] when empty or too long.
pub fn return_reason(raw: &str) -> Result<String, TextError> {
    bounded_text(raw, crate::validation::limits::REASON)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_is_drafted_submitted_then_accepted_or_returned() {
        assert_eq!(submit(ReportStatus::Draft), Ok(ReportStatus::Submitted));
        assert_eq!(submit(ReportStatus::Submitted), Err(ReportError::NotDraft));
        assert_eq!(submit(ReportStatus::Returned), Err(ReportError::NotDraft));
        assert_eq!(review(ReportStatus::Submitted, true), Ok(ReportStatus::Accepted));
        assert_eq!(review(ReportStatus::Submitted, false), Ok(ReportStatus::Returned));
        assert_eq!(review(ReportStatus::Draft, true), Err(ReportError::NotSubmitted));
        assert_eq!(review(ReportStatus::Accepted, false), Err(ReportError::NotSubmitted));
        assert!(!ReportStatus::Draft.visible_to_ministry());
        assert!(ReportStatus::Returned.visible_to_ministry());
    }

    #[test]
    fn only_a_returned_report_makes_room_for_a_new_version() {
        assert_eq!(next_version(None), Ok(1));
        assert_eq!(next_version(Some((1, ReportStatus::Returned))), Ok(2));
        assert_eq!(next_version(Some((2, ReportStatus::Draft))), Err(ReportError::QuarterTaken));
        assert_eq!(next_version(Some((2, ReportStatus::Submitted))), Err(ReportError::QuarterTaken));
        assert_eq!(next_version(Some((3, ReportStatus::Accepted))), Err(ReportError::QuarterTaken));
        assert!(return_reason("").is_err());
        assert!(return_reason("Q2 referrals look low; please check division 51").is_ok());
    }
}
