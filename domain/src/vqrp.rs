//! VQRP+ (the Victim Quick Response Program+): emergency funds an agency applies for on a
//! survivor's behalf, and the program's rules for them.
//!
//! The rules are the program's, and the program changes them: each expense category's cap, the
//! time limit from the crime, and how many business days a complete application may wait for a
//! decision are **versioned reference data with effective dates** ([`RuleVersion`]), read from the
//! database, never constants. An application is judged by the version in force on the day it is
//! made. What stays here is what does not change with a version: how the checks combine, the
//! eligibility checklist, and the life of an application (draft, submitted, approved or declined,
//! paid, withdrawn).

use chrono::{Months, NaiveDate};

use crate::business_days::add_business_days;
use crate::case::VictimizationType;

crate::case::name_enum!(
    /// Where an application stands.
    ApplicationStatus,
    "draft, submitted, approved, declined, paid, withdrawn" {
        Draft => "draft",
        Submitted => "submitted",
        Approved => "approved",
        Declined => "declined",
        Paid => "paid",
        Withdrawn => "withdrawn",
    }
);

crate::case::name_enum!(
    /// To whom the crime was reported.
    ReportedTo,
    "police, community_agency, not_reported" {
        Police => "police",
        CommunityAgency => "community_agency",
        NotReported => "not_reported",
    }
);

crate::case::name_enum!(
    /// A supervisor's decision.
    Decision,
    "approved, declined" {
        Approved => "approved",
        Declined => "declined",
    }
);

crate::case::name_enum!(
    /// Who a payment went to.
    Payee,
    "vendor, client" {
        Vendor => "vendor",
        Client => "client",
    }
);

/// How long after the crime an application may be made, as a rule version states it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "unit", content = "count")]
pub enum TimeLimit {
    /// Calendar days.
    Days(u32),
    /// Calendar months (6 months after 31 August is the last day of February).
    Months(u32),
}

impl TimeLimit {
    /// The last day an application for a crime on `crime_date` is on time.
    #[must_use]
    pub fn last_day(self, crime_date: NaiveDate) -> NaiveDate {
        match self {
            Self::Days(days) => crime_date + chrono::Duration::days(i64::from(days)),
            Self::Months(months) => crime_date.checked_add_months(Months::new(months)).unwrap_or(NaiveDate::MAX),
        }
    }
}

/// One expense category's rules in one version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CategoryRule {
    /// The category's code, e.g. `counselling`.
    pub code: String,
    /// The most the program pays for it, in cents.
    pub cap_cents: i64,
    /// How long after the crime one may apply.
    pub time_limit: TimeLimit,
    /// Business days a complete submission may wait for the decision.
    pub decision_business_days: u32,
}

/// The program's rules from `effective_from` until the next version's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleVersion {
    /// Its number, increasing.
    pub version: i32,
    /// The first day it applies (Ontario's date).
    pub effective_from: NaiveDate,
    /// The categories it funds.
    pub categories: Vec<CategoryRule>,
}

impl RuleVersion {
    /// The rule for `code`, if this version funds it.
    #[must_use]
    pub fn category(&self, code: &str) -> Option<&CategoryRule> {
        self.categories.iter().find(|c| c.code == code)
    }
}

/// The version in force on `day`: the latest that took effect by then.
#[must_use]
pub fn version_in_force(versions: &[RuleVersion], day: NaiveDate) -> Option<&RuleVersion> {
    versions.iter().filter(|v| v.effective_from <= day).max_by_key(|v| (v.effective_from, v.version))
}

/// The program's eligibility checklist, as the worker records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Eligibility {
    /// To whom the crime was reported.
    pub reported_to: ReportedTo,
    /// The crime happened in Ontario.
    pub crime_in_ontario: bool,
    /// No other source (insurance, another program, the offender) pays for this expense.
    pub no_other_source_of_funds: bool,
    /// The applicant is the victim, a family member or a witness, as the program defines them.
    pub applicant_eligible: bool,
}

/// Why an application may not be made, or may not change as asked. Each names the field a form
/// should point at.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No version of the rules is in force on that day, or it does not fund the category.
    #[error("is not a category the program funds on {0}")]
    UnknownCategory(NaiveDate),
    /// More than the category's cap.
    #[error("is over the category's cap of {cap_cents} cents")]
    OverCap {
        /// The cap.
        cap_cents: i64,
    },
    /// Not a positive amount.
    #[error("must be more than 0")]
    NotPositive,
    /// After the time limit, and no reason for an extension given.
    #[error("the time limit for this category ended on {last_day}; give an extension_reason to apply later")]
    Late {
        /// The last day on time.
        last_day: NaiveDate,
    },
    /// A crime in the future.
    #[error("is after today")]
    CrimeInFuture,
    /// An item of the checklist fails.
    #[error("{0}")]
    Ineligible(&'static str),
}

impl Refusal {
    /// The request field the refusal is about.
    #[must_use]
    pub const fn field(&self) -> &'static str {
        match self {
            Self::UnknownCategory(_) => "expense_category",
            Self::OverCap { .. } | Self::NotPositive => "requested_cents",
            Self::Late { .. } => "extension_reason",
            Self::CrimeInFuture => "crime_date",
            Self::Ineligible(_) => "eligibility",
        }
    }
}

/// Checks the eligibility checklist against the case's victimization types: reported to the
/// police, or, for intimate partner violence, human trafficking and sexual assault, to a
/// community agency; in Ontario; no other source of funds; an eligible applicant.
///
/// # Errors
/// [`Refusal::Ineligible`] naming the item.
pub fn check_eligibility(eligibility: Eligibility, victimization: &[VictimizationType]) -> Result<(), Refusal> {
    let community_agency_suffices = victimization.iter().any(|v| {
        matches!(
            v,
            VictimizationType::IntimatePartnerViolence
                | VictimizationType::HumanTraffickingSexual
                | VictimizationType::HumanTraffickingLabour
                | VictimizationType::SexualAssault
        )
    });
    match eligibility.reported_to {
        ReportedTo::Police => {}
        ReportedTo::CommunityAgency if community_agency_suffices => {}
        ReportedTo::CommunityAgency => {
            return Err(Refusal::Ineligible(
                "reported_to: a community agency suffices only for intimate partner violence, human trafficking and sexual assault",
            ));
        }
        ReportedTo::NotReported => {
            return Err(Refusal::Ineligible(
                "reported_to: the crime must be reported to the police or a community agency",
            ));
        }
    }
    if !eligibility.crime_in_ontario {
        return Err(Refusal::Ineligible("crime_in_ontario: the program funds crimes in Ontario"));
    }
    if !eligibility.no_other_source_of_funds {
        return Err(Refusal::Ineligible("no_other_source_of_funds: another source pays first"));
    }
    if !eligibility.applicant_eligible {
        return Err(Refusal::Ineligible(
            "applicant_eligible: the applicant must be the victim, a family member or a witness",
        ));
    }
    Ok(())
}

/// What the rules say of one application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Judged {
    /// The rule version it is judged by.
    pub rule_version: i32,
    /// The category's cap, in cents.
    pub cap_cents: i64,
    /// The last day it was on time.
    pub last_day: NaiveDate,
    /// Whether it came after that, with a reason.
    pub extended: bool,
    /// Business days the decision may take once submitted.
    pub decision_business_days: u32,
}

/// The application's facts that the rules judge.
#[derive(Clone, Copy, Debug)]
pub struct Application<'a> {
    /// The expense category's code.
    pub category: &'a str,
    /// When the crime happened.
    pub crime_date: NaiveDate,
    /// Ontario's date the application is made.
    pub applied_on: NaiveDate,
    /// What is asked for, in cents.
    pub requested_cents: i64,
    /// Why it comes after the time limit, when it does.
    pub extension_reason: Option<&'a str>,
}

/// Judges an application by the rules in force on the day it is made: the category is funded,
/// the amount positive and within the cap, the crime not in the future, and the application on
/// time or late with a reason.
///
/// # Errors
/// The first [`Refusal`].
pub fn judge(versions: &[RuleVersion], application: Application<'_>) -> Result<Judged, Refusal> {
    let version =
        version_in_force(versions, application.applied_on).ok_or(Refusal::UnknownCategory(application.applied_on))?;
    let rule = version.category(application.category).ok_or(Refusal::UnknownCategory(application.applied_on))?;
    if application.requested_cents <= 0 {
        return Err(Refusal::NotPositive);
    }
    if application.requested_cents > rule.cap_cents {
        return Err(Refusal::OverCap { cap_cents: rule.cap_cents });
    }
    if application.crime_date > application.applied_on {
        return Err(Refusal::CrimeInFuture);
    }
    let last_day = rule.time_limit.last_day(application.crime_date);
    let late = application.applied_on > last_day;
    if late && application.extension_reason.is_none_or(|r| r.trim().is_empty()) {
        return Err(Refusal::Late { last_day });
    }
    Ok(Judged {
        rule_version: version.version,
        cap_cents: rule.cap_cents,
        last_day,
        extended: late,
        decision_business_days: rule.decision_business_days,
    })
}

/// When the decision on an application submitted on `submitted_on` is due.
#[must_use]
pub fn decision_due(submitted_on: NaiveDate, decision_business_days: u32) -> NaiveDate {
    add_business_days(submitted_on, decision_business_days)
}

/// Why a status change is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// Not from this status.
    #[error("an application that is {0} cannot be {1}")]
    NotFrom(&'static str, &'static str),
    /// An approval over what was asked, or over the cap.
    #[error("approved_cents must be more than 0 and at most {0}")]
    ApprovedAmount(i64),
    /// A payment over what is left of the approval.
    #[error("paid_cents must be more than 0 and at most the {0} cents approved and not yet paid")]
    PaidAmount(i64),
    /// A decision needs a reason.
    #[error("a decision needs a reason")]
    Reason,
    /// The maker of an application does not decide it.
    #[error("an application is decided by a supervisor other than the one who made it")]
    OwnApplication,
}

/// Whether `decider` may decide an application `applicant` made: anyone but its maker, so no
/// supervisor approves the funds they asked for (a second person looks at every application).
///
/// # Errors
/// [`TransitionError::OwnApplication`].
pub fn may_decide(decider: crate::UserId, applicant: crate::UserId) -> Result<(), TransitionError> {
    if decider == applicant { Err(TransitionError::OwnApplication) } else { Ok(()) }
}

/// Submitting: only a draft.
///
/// # Errors
/// [`TransitionError::NotFrom`].
pub fn submit(status: ApplicationStatus) -> Result<ApplicationStatus, TransitionError> {
    match status {
        ApplicationStatus::Draft => Ok(ApplicationStatus::Submitted),
        other => Err(TransitionError::NotFrom(other.as_str(), "submitted")),
    }
}

/// Withdrawing: a draft or a submission not yet decided.
///
/// # Errors
/// [`TransitionError::NotFrom`].
pub fn withdraw(status: ApplicationStatus) -> Result<ApplicationStatus, TransitionError> {
    match status {
        ApplicationStatus::Draft | ApplicationStatus::Submitted => Ok(ApplicationStatus::Withdrawn),
        other => Err(TransitionError::NotFrom(other.as_str(), "withdrawn")),
    }
}

/// Deciding a submitted application: approving `approved_cents` (default: what was asked), at
/// most what was asked and the cap; or declining. Either needs a reason.
///
/// # Errors
/// [`TransitionError`].
pub fn decide(
    status: ApplicationStatus,
    decision: Decision,
    requested_cents: i64,
    cap_cents: i64,
    approved_cents: Option<i64>,
    reason: &str,
) -> Result<(ApplicationStatus, Option<i64>), TransitionError> {
    if status != ApplicationStatus::Submitted {
        return Err(TransitionError::NotFrom(status.as_str(), decision.as_str()));
    }
    if reason.trim().is_empty() {
        return Err(TransitionError::Reason);
    }
    match decision {
        Decision::Declined => Ok((ApplicationStatus::Declined, None)),
        Decision::Approved => {
            let most = requested_cents.min(cap_cents);
            let approved = approved_cents.unwrap_or(requested_cents);
            if approved <= 0 || approved > most {
                return Err(TransitionError::ApprovedAmount(most));
            }
            Ok((ApplicationStatus::Approved, Some(approved)))
        }
    }
}

/// Recording a payment of `paid_cents` on an approved application of which `already_paid` is paid:
/// never more than what is approved; paid in full, the application is `paid`.
///
/// # Errors
/// [`TransitionError`].
pub fn pay(
    status: ApplicationStatus,
    approved_cents: i64,
    already_paid: i64,
    paid_cents: i64,
) -> Result<ApplicationStatus, TransitionError> {
    if status != ApplicationStatus::Approved {
        return Err(TransitionError::NotFrom(status.as_str(), "paid"));
    }
    let left = approved_cents - already_paid;
    if paid_cents <= 0 || paid_cents > left {
        return Err(TransitionError::PaidAmount(left));
    }
    Ok(if paid_cents == left { ApplicationStatus::Paid } else { ApplicationStatus::Approved })
}

/// The rules a fresh database starts with (version 1, in force from 1 April 2021), as the issue
/// that introduced VQRP+ applications stated the program's published figures. The program's
/// updates are added as new versions (`POST /api/v1/vqrp-rules`), never by editing these.
#[must_use]
pub fn seed_rules() -> RuleVersion {
    let rule = |code: &str, dollars: i64, time_limit, decision_business_days| CategoryRule {
        code: code.to_owned(),
        cap_cents: dollars * 100,
        time_limit,
        decision_business_days,
    };
    RuleVersion {
        version: 1,
        effective_from: NaiveDate::from_ymd_opt(2021, 4, 1).unwrap_or(NaiveDate::MIN),
        categories: vec![
            rule("immediate_safety", 1_000, TimeLimit::Days(45), 3),
            rule("crime_scene_cleanup", 1_500, TimeLimit::Days(45), 3),
            rule("transportation_accommodation", 1_000, TimeLimit::Days(45), 3),
            rule("counselling", 1_000, TimeLimit::Months(6), 5),
            rule("funeral", 5_000, TimeLimit::Months(12), 10),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    fn application(category: &str, crime: NaiveDate, on: NaiveDate, cents: i64) -> Application<'_> {
        Application { category, crime_date: crime, applied_on: on, requested_cents: cents, extension_reason: None }
    }

    #[test]
    fn caps_and_time_limits_come_from_the_version_in_force() {
        let v1 = seed_rules();
        let mut v2 = seed_rules();
        v2.version = 2;
        v2.effective_from = date(2026, 10, 1);
        v2.categories.iter_mut().filter(|c| c.code == "counselling").for_each(|c| c.cap_cents = 150_000);
        let versions = [v1, v2];
        let counselling = |on| application("counselling", date(2026, 9, 1), on, 120_000);
        assert_eq!(judge(&versions, counselling(date(2026, 9, 30))), Err(Refusal::OverCap { cap_cents: 100_000 }));
        assert_eq!(judge(&versions, counselling(date(2026, 10, 1))).map(|j| j.rule_version), Ok(2));
        assert_eq!(
            judge(&versions, application("funeral", date(2026, 1, 1), date(2026, 1, 2), 500_001)).map(|_| ()),
            Err(Refusal::OverCap { cap_cents: 500_000 })
        );
        assert_eq!(
            judge(&versions, application("yacht", date(2026, 1, 1), date(2026, 1, 2), 1)).map(|_| ()),
            Err(Refusal::UnknownCategory(date(2026, 1, 2)))
        );
        assert_eq!(
            judge(&versions, application("funeral", date(2026, 1, 1), date(2026, 1, 2), 0)).map(|_| ()),
            Err(Refusal::NotPositive)
        );
        assert!(
            judge(&versions, application("funeral", date(2020, 1, 1), date(2020, 1, 2), 1)).is_err(),
            "before any version"
        );
    }

    #[test]
    fn a_late_application_needs_a_reason() {
        let versions = [seed_rules()];
        // 45 days from 1 March is 15 April: on time that day, late the next.
        let on_time = application("immediate_safety", date(2026, 3, 1), date(2026, 4, 15), 50_000);
        assert_eq!(judge(&versions, on_time).map(|j| (j.last_day, j.extended)), Ok((date(2026, 4, 15), false)));
        let late = Application { applied_on: date(2026, 4, 16), ..on_time };
        assert_eq!(judge(&versions, late), Err(Refusal::Late { last_day: date(2026, 4, 15) }));
        let blank = Application { extension_reason: Some("  "), ..late };
        assert_eq!(judge(&versions, blank), Err(Refusal::Late { last_day: date(2026, 4, 15) }));
        let extended = Application { extension_reason: Some("in hospital until April"), ..late };
        assert_eq!(judge(&versions, extended).map(|j| j.extended), Ok(true));
        // Six months from 31 August is 28 February.
        let counselling = application("counselling", date(2026, 8, 31), date(2027, 2, 28), 1);
        assert_eq!(judge(&versions, counselling).map(|j| j.last_day), Ok(date(2027, 2, 28)));
        let future = application("counselling", date(2026, 9, 2), date(2026, 9, 1), 1);
        assert_eq!(judge(&versions, future), Err(Refusal::CrimeInFuture));
    }

    #[test]
    fn a_community_agency_report_suffices_only_for_some_crimes() {
        let ok = Eligibility {
            reported_to: ReportedTo::CommunityAgency,
            crime_in_ontario: true,
            no_other_source_of_funds: true,
            applicant_eligible: true,
        };
        assert!(check_eligibility(ok, &[VictimizationType::IntimatePartnerViolence]).is_ok());
        assert!(check_eligibility(ok, &[VictimizationType::HumanTraffickingLabour]).is_ok());
        assert!(check_eligibility(ok, &[VictimizationType::OtherViolentCrime]).is_err());
        let police = Eligibility { reported_to: ReportedTo::Police, ..ok };
        assert!(check_eligibility(police, &[VictimizationType::OtherViolentCrime]).is_ok());
        for bad in [
            Eligibility { reported_to: ReportedTo::NotReported, ..ok },
            Eligibility { crime_in_ontario: false, ..police },
            Eligibility { no_other_source_of_funds: false, ..police },
            Eligibility { applicant_eligible: false, ..police },
        ] {
            assert!(check_eligibility(bad, &[VictimizationType::SexualAssault]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_application_lives_draft_submitted_decided_paid() {
        use ApplicationStatus::*;
        assert_eq!(submit(Draft), Ok(Submitted));
        assert!(submit(Submitted).is_err());
        assert_eq!(decide(Submitted, Decision::Approved, 80_000, 100_000, None, "ok"), Ok((Approved, Some(80_000))));
        assert_eq!(
            decide(Submitted, Decision::Approved, 80_000, 100_000, Some(60_000), "part"),
            Ok((Approved, Some(60_000)))
        );
        assert_eq!(
            decide(Submitted, Decision::Approved, 80_000, 100_000, Some(90_000), "more"),
            Err(TransitionError::ApprovedAmount(80_000))
        );
        assert_eq!(decide(Submitted, Decision::Declined, 80_000, 100_000, None, " "), Err(TransitionError::Reason));
        assert_eq!(decide(Submitted, Decision::Declined, 80_000, 100_000, None, "other funds"), Ok((Declined, None)));
        assert!(decide(Draft, Decision::Approved, 1, 1, None, "x").is_err());
        assert_eq!(pay(Approved, 60_000, 0, 20_000), Ok(Approved));
        assert_eq!(pay(Approved, 60_000, 20_000, 40_000), Ok(Paid));
        assert_eq!(pay(Approved, 60_000, 20_000, 40_001), Err(TransitionError::PaidAmount(40_000)));
        assert!(pay(Declined, 1, 0, 1).is_err() && pay(Paid, 1, 1, 1).is_err());
        let (maker, other) = (crate::UserId::new(), crate::UserId::new());
        assert_eq!(may_decide(maker, maker), Err(TransitionError::OwnApplication));
        assert_eq!(may_decide(other, maker), Ok(()));
        assert_eq!(withdraw(Submitted), Ok(Withdrawn));
        assert!(withdraw(Approved).is_err());
    }

    #[test]
    fn the_decision_is_due_in_business_days() {
        // Submitted on the Friday before Victoria Day 2026, 3 business days: Thursday 21 May.
        assert_eq!(decision_due(date(2026, 5, 15), 3), date(2026, 5, 21));
    }
}
