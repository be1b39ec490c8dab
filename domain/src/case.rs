//! Cases: what a case manager records about the help given to one client, and the rules on it.

use crate::validation::{TextError, bounded_text};

/// Declares a closed set of snake_case names with parsing and a stable string form.
macro_rules! name_enum {
    ($(#[$meta:meta])* $name:ident, $error:literal { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $(#[doc = $text] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The stored and serialised name.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            /// Parses a name.
            ///
            /// # Errors
            /// [`crate::case::UnknownName`] naming the allowed values.
            pub fn parse(raw: &str) -> Result<Self, crate::case::UnknownName> {
                Self::ALL.iter().copied().find(|v| v.as_str() == raw).ok_or(crate::case::UnknownName($error))
            }
        }
    };
}
pub(crate) use name_enum;

/// A name outside a closed set; the message lists the allowed values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be one of {0}")]
pub struct UnknownName(pub &'static str);

name_enum!(
    /// What happened to the person.
    VictimizationType,
    "human_trafficking_sexual, human_trafficking_labour, intimate_partner_violence, sexual_assault, homicide_bereavement, other_violent_crime, other" {
        HumanTraffickingSexual => "human_trafficking_sexual",
        HumanTraffickingLabour => "human_trafficking_labour",
        IntimatePartnerViolence => "intimate_partner_violence",
        SexualAssault => "sexual_assault",
        HomicideBereavement => "homicide_bereavement",
        OtherViolentCrime => "other_violent_crime",
        Other => "other",
    }
);

name_enum!(
    /// Who referred the person.
    ReferralSource,
    "police, self, community_organization, hospital, court, other" {
        Police => "police",
        SelfReferral => "self",
        CommunityOrganization => "community_organization",
        Hospital => "hospital",
        Court => "court",
        Other => "other",
    }
);

name_enum!(
    /// Whether the case is being worked.
    CaseStatus,
    "open, closed" {
        Open => "open",
        Closed => "closed",
    }
);

name_enum!(
    /// Assessed risk to the person.
    RiskLevel,
    "low, moderate, high, extreme" {
        Low => "low",
        Moderate => "moderate",
        High => "high",
        Extreme => "extreme",
    }
);

name_enum!(
    /// The instrument a risk assessment used.
    RiskTool,
    "odara, danger_assessment, b_safer, agency_tool" {
        Odara => "odara",
        DangerAssessment => "danger_assessment",
        BSafer => "b_safer",
        AgencyTool => "agency_tool",
    }
);

name_enum!(
    /// A kind of service delivered on a case.
    ServiceType,
    "crisis_intervention, safety_planning, emotional_support, practical_assistance, court_support, accompaniment, transportation, emergency_shelter_referral, vqrp_plus, referral_to_community, follow_up" {
        CrisisIntervention => "crisis_intervention",
        SafetyPlanning => "safety_planning",
        EmotionalSupport => "emotional_support",
        PracticalAssistance => "practical_assistance",
        CourtSupport => "court_support",
        Accompaniment => "accompaniment",
        Transportation => "transportation",
        EmergencyShelterReferral => "emergency_shelter_referral",
        VqrpPlus => "vqrp_plus",
        ReferralToCommunity => "referral_to_community",
        FollowUp => "follow_up",
    }
);

name_enum!(
    /// What a consent allows.
    ConsentScope,
    "contact_by_phone, contact_by_text, leave_voicemail, share_with_police, share_with_community_organization, share_with_other_agency" {
        ContactByPhone => "contact_by_phone",
        ContactByText => "contact_by_text",
        LeaveVoicemail => "leave_voicemail",
        ShareWithPolice => "share_with_police",
        ShareWithCommunityOrganization => "share_with_community_organization",
        ShareWithOtherAgency => "share_with_other_agency",
    }
);

/// Whether a user may hold cases: an active supervisor or case manager of the agency. Cases are
/// assigned only to them, whoever assigns.
#[must_use]
pub fn may_hold_cases(active: bool, roles: &crate::user::RoleSet) -> bool {
    active && (roles.contains(crate::user::Role::CaseManager) || roles.contains(crate::user::Role::Supervisor))
}

/// A non-empty set of victimization types, without repeats, in a stable order.
///
/// # Errors
/// The first unknown name, or "must name at least one" when empty.
pub fn victimization_types<S: AsRef<str>>(raw: &[S]) -> Result<Vec<VictimizationType>, UnknownName> {
    let mut types = raw.iter().map(|s| VictimizationType::parse(s.as_ref())).collect::<Result<Vec<_>, _>>()?;
    if types.is_empty() {
        return Err(UnknownName(
            "at least one of human_trafficking_sexual, human_trafficking_labour, intimate_partner_violence, sexual_assault, homicide_bereavement, other_violent_crime, other",
        ));
    }
    types.sort_unstable();
    types.dedup();
    Ok(types)
}

/// Why a status change was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// Closing a closed case.
    #[error("the case is already closed")]
    AlreadyClosed,
    /// Reopening an open case.
    #[error("the case is already open")]
    AlreadyOpen,
}

/// The status after closing.
///
/// # Errors
/// [`TransitionError::AlreadyClosed`].
pub const fn close(current: CaseStatus) -> Result<CaseStatus, TransitionError> {
    match current {
        CaseStatus::Open => Ok(CaseStatus::Closed),
        CaseStatus::Closed => Err(TransitionError::AlreadyClosed),
    }
}

/// The status after reopening.
///
/// # Errors
/// [`TransitionError::AlreadyOpen`].
pub const fn reopen(current: CaseStatus) -> Result<CaseStatus, TransitionError> {
    match current {
        CaseStatus::Closed => Ok(CaseStatus::Open),
        CaseStatus::Open => Err(TransitionError::AlreadyOpen),
    }
}

/// Why a case was closed or reopened: 1 to 2000 characters (stored encrypted: it may name people).
///
/// # Errors
/// [`TextError`].
pub fn reason(raw: &str) -> Result<String, TextError> {
    bounded_text(raw, crate::validation::limits::REASON)
}

/// Free-text notes on a record: up to 20,000 characters, newlines allowed (stored encrypted).
///
/// # Errors
/// [`NoteError`] when empty or too long.
pub fn note_text(raw: &str) -> Result<String, NoteError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(NoteError::Empty);
    }
    if raw.chars().count() > crate::validation::limits::NOTE {
        return Err(NoteError::TooLong);
    }
    Ok(trimmed.to_owned())
}

/// Why note text was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// Nothing but white space.
    #[error("must not be empty")]
    Empty,
    /// Over 20,000 characters.
    #[error("must be at most 20000 characters")]
    TooLong,
}

/// Money in cents: positive, at most $100,000 per service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AmountCents(i64);

/// An amount out of range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be between 1 and 10000000 cents")]
pub struct AmountError;

impl AmountCents {
    /// Parses a positive amount of at most 10,000,000 cents.
    ///
    /// # Errors
    /// [`AmountError`] otherwise.
    pub fn parse(raw: i64) -> Result<Self, AmountError> {
        if (1..=10_000_000).contains(&raw) { Ok(Self(raw)) } else { Err(AmountError) }
    }

    /// The amount.
    #[must_use]
    pub const fn get(self) -> i64 {
        self.0
    }
}

/// Minutes spent on a service: 1 to 1440 (a day).
///
/// # Errors
/// A message when out of range.
pub fn minutes(raw: i32) -> Result<i32, &'static str> {
    if (1..=1440).contains(&raw) { Ok(raw) } else { Err("must be between 1 and 1440") }
}

/// Checks a service's fields together: VQRP+ emergency funds need an amount.
///
/// # Errors
/// A message for `amount_cents` when a VQRP+ service has none.
pub fn check_service_amount(service: ServiceType, amount: Option<AmountCents>) -> Result<(), &'static str> {
    if service == ServiceType::VqrpPlus && amount.is_none() {
        return Err("is required for vqrp_plus");
    }
    Ok(())
}

/// One recorded consent decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConsentRecord {
    /// What it covers.
    pub scope: ConsentScope,
    /// Given or withdrawn.
    pub granted: bool,
    /// When recorded (the newest per scope decides).
    pub recorded_at: chrono::DateTime<chrono::Utc>,
    /// When it lapses, if ever.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// True when consent for `scope` is in force at `now`: the newest record for the scope decides;
/// it must grant and must not have expired. An expired grant does not revive an older one.
#[must_use]
pub fn consent_in_force(records: &[ConsentRecord], scope: ConsentScope, now: chrono::DateTime<chrono::Utc>) -> bool {
    records
        .iter()
        .filter(|r| r.scope == scope)
        .max_by_key(|r| r.recorded_at)
        .is_some_and(|r| r.granted && r.expires_at.is_none_or(|e| e > now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, Utc};

    #[test]
    fn closed_sets_parse_their_names_only() {
        assert_eq!(ServiceType::parse("vqrp_plus"), Ok(ServiceType::VqrpPlus));
        assert_eq!(ReferralSource::parse("self"), Ok(ReferralSource::SelfReferral));
        assert!(ServiceType::parse("VQRP_PLUS").is_err());
        assert_eq!(ServiceType::ALL.len(), 11);
        assert_eq!(ConsentScope::ALL.len(), 6);
        for t in VictimizationType::ALL {
            assert_eq!(VictimizationType::parse(t.as_str()), Ok(*t));
        }
    }

    #[test]
    fn victimization_types_are_deduplicated_and_never_empty() {
        let types = victimization_types(&["other", "sexual_assault", "other"]);
        assert_eq!(types, Ok(vec![VictimizationType::SexualAssault, VictimizationType::Other]));
        assert!(victimization_types::<&str>(&[]).is_err());
        assert!(victimization_types(&["robbery"]).is_err());
    }

    #[test]
    fn cases_close_and_reopen_once() {
        assert_eq!(close(CaseStatus::Open), Ok(CaseStatus::Closed));
        assert_eq!(close(CaseStatus::Closed), Err(TransitionError::AlreadyClosed));
        assert_eq!(reopen(CaseStatus::Closed), Ok(CaseStatus::Open));
        assert_eq!(reopen(CaseStatus::Open), Err(TransitionError::AlreadyOpen));
    }

    #[test]
    fn vqrp_plus_needs_an_amount() {
        assert!(check_service_amount(ServiceType::VqrpPlus, None).is_err());
        assert!(check_service_amount(ServiceType::VqrpPlus, AmountCents::parse(5000).ok()).is_ok());
        assert!(check_service_amount(ServiceType::FollowUp, None).is_ok());
        assert!(AmountCents::parse(0).is_err());
        assert!(AmountCents::parse(10_000_001).is_err());
    }

    #[test]
    fn the_newest_consent_per_scope_decides_and_expiry_is_honoured() {
        let now = Utc::now();
        let share = ConsentScope::ShareWithCommunityOrganization;
        let record = |granted, ago: i64, expires: Option<i64>| ConsentRecord {
            scope: share,
            granted,
            recorded_at: now - Duration::minutes(ago),
            expires_at: expires.map(|m| now + Duration::minutes(m)),
        };
        assert!(!consent_in_force(&[], share, now));
        assert!(consent_in_force(&[record(true, 10, None)], share, now));
        assert!(!consent_in_force(&[record(true, 10, None), record(false, 5, None)], share, now), "withdrawn");
        assert!(consent_in_force(&[record(false, 10, None), record(true, 5, None)], share, now), "re-granted");
        assert!(!consent_in_force(&[record(true, 10, Some(-1))], share, now), "expired");
        assert!(!consent_in_force(&[record(true, 20, None), record(true, 10, Some(-1))], share, now), "no revival");
        assert!(!consent_in_force(&[record(true, 10, None)], ConsentScope::ShareWithPolice, now), "other scope");
    }
}
