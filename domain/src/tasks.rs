//! Tasks and deadlines: what a worker must do by when, on a case (or, for a referral not yet a
//! case, on the referral).
//!
//! A task is made by a person (`manual`, free-text title) or by the platform, in the same
//! transaction as the change that requires it (a VQRP+ application submitted, a consent with an
//! expiry recorded, a referral accepted, a safety plan with a review date saved). A system task
//! has a fixed title (no personal information), a `kind` and the id of what it is about
//! (`source_id`), one per source, and is completed by the platform when its reason goes away.
//!
//! What lives here: the names, the due dates each rule sets and who a system task goes to, what a
//! change of a task may do, and whose tasks a caller may list. No I/O.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use uuid::Uuid;

use crate::UserId;
use crate::case::name_enum;
use crate::dispatch::Urgency;
use crate::validation::{TextError, bounded_text};

name_enum!(
    /// Where a task stands.
    TaskStatus,
    "open, completed" {
        Open => "open",
        Completed => "completed",
    }
);

name_enum!(
    /// Who made a task, and why.
    TaskKind,
    "manual, vqrp_decision, consent_expiry, referral_first_contact, safety_plan_review" {
        Manual => "manual",
        VqrpDecision => "vqrp_decision",
        ConsentExpiry => "consent_expiry",
        ReferralFirstContact => "referral_first_contact",
        SafetyPlanReview => "safety_plan_review",
    }
);

impl TaskKind {
    /// The fixed title of a system task (platform text, never personal information); `None` for a
    /// manual task, whose title its maker writes.
    #[must_use]
    pub const fn system_title(self) -> Option<&'static str> {
        match self {
            Self::Manual => None,
            Self::VqrpDecision => Some("VQRP+ decision due"),
            Self::ConsentExpiry => Some("Consent expires soon: renew or record its withdrawal"),
            Self::ReferralFirstContact => Some("First contact attempt due"),
            Self::SafetyPlanReview => Some("Safety plan review due"),
        }
    }
}

/// A task's title: 1 to 200 characters, one line (`domain::validation::limits::LABEL`; white
/// space around it is trimmed and counts toward the limit, as the OpenAPI document's
/// `maxLength` does).
///
/// # Errors
/// [`TextError`].
pub fn title(raw: &str) -> Result<String, TextError> {
    bounded_text(raw, crate::validation::limits::LABEL)
}

/// How long before a consent lapses its renewal task is due: two weeks leaves a worker time to
/// reach the person safely (by the contact methods they allow, which may be few) and record the
/// renewal or the withdrawal before the consent stops covering the work that depends on it
/// (sharing with police or a community organisation, leaving voicemail).
pub const CONSENT_RENEWAL_LEAD_DAYS: i64 = 14;

/// How long after a referral is accepted the first contact attempt is due, by its urgency. The
/// programs set no figure of their own yet, so these are the platform's, until agencies hold them
/// as settings beside their escalation windows:
/// - `immediate`: 1 hour. Exit Route meets the person while they are still with police;
/// - `same_day`: 12 hours, the rest of the day's shifts;
/// - `routine`: 3 days, the default routine acceptance window again.
#[must_use]
pub fn first_contact_window(urgency: Urgency) -> Duration {
    match urgency {
        Urgency::Immediate => Duration::hours(1),
        Urgency::SameDay => Duration::hours(12),
        Urgency::Routine => Duration::days(3),
    }
}

/// The last second of `day` in Ontario (23:59:59 Eastern time, daylight or standard), as UTC: a
/// deadline set as a day (a decision due, a review date) is met any time that day.
#[must_use]
pub fn end_of_ontario_day(day: NaiveDate) -> DateTime<Utc> {
    let next = day.succ_opt().unwrap_or(day);
    let midnight = next.and_hms_opt(0, 0, 0).map_or(DateTime::<Utc>::MIN_UTC, |t| t.and_utc());
    // Ontario is UTC−4 in daylight time and UTC−5 otherwise; the clocks change at 2 a.m., never
    // at midnight, so exactly one of the two is the next day's first second.
    [4, 5]
        .into_iter()
        .map(|hours| midnight + Duration::hours(hours))
        .find(|start| {
            crate::reporting::ontario_date(*start) == next
                && crate::reporting::ontario_date(*start - Duration::seconds(1)) == day
        })
        .unwrap_or(midnight + Duration::hours(5))
        - Duration::seconds(1)
}

/// A task the platform makes, decided here from the change that requires it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemTask {
    /// Why.
    pub kind: TaskKind,
    /// What it is about: the application, the consent, the referral, or the case (its plan).
    pub source_id: Uuid,
    /// Which version of the source: a safety plan's (each saved version with a review date has
    /// its own task); 1 for sources that make one task in their life.
    pub source_version: i32,
    /// The case, if the source is on one (a referral is not yet).
    pub case_id: Option<Uuid>,
    /// Who must do it.
    pub assigned_to: UserId,
    /// By when.
    pub due_at: DateTime<Utc>,
}

impl SystemTask {
    /// A submitted VQRP+ application's decision, due the day the rules say (end of that Ontario
    /// day). It goes to the application's maker, not the case's worker: the maker always exists
    /// (a case may be unassigned), knows the application, and is who chases the decision; a
    /// decision still missing past the grace reaches the supervisors (`task.overdue_escalated`),
    /// who decide.
    #[must_use]
    pub fn vqrp_decision(application_id: Uuid, case_id: Uuid, maker: UserId, decision_due: NaiveDate) -> Self {
        Self {
            kind: TaskKind::VqrpDecision,
            source_id: application_id,
            source_version: 1,
            case_id: Some(case_id),
            assigned_to: maker,
            due_at: end_of_ontario_day(decision_due),
        }
    }

    /// The renewal of a consent that lapses at `expires_at`, due [`CONSENT_RENEWAL_LEAD_DAYS`]
    /// before then, but not before `now` (a consent that lapses sooner is due at once). It goes to
    /// the case's worker, or to whoever recorded the consent when the case has none.
    #[must_use]
    pub fn consent_expiry(
        consent_id: Uuid,
        case_id: Uuid,
        case_worker: Option<UserId>,
        recorded_by: UserId,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            kind: TaskKind::ConsentExpiry,
            source_id: consent_id,
            source_version: 1,
            case_id: Some(case_id),
            assigned_to: case_worker.unwrap_or(recorded_by),
            due_at: (expires_at - Duration::days(CONSENT_RENEWAL_LEAD_DAYS)).max(now),
        }
    }

    /// The first contact attempt on an accepted referral, for the worker who accepted it, due
    /// [`first_contact_window`] after acceptance.
    #[must_use]
    pub fn first_contact(referral_id: Uuid, accepted_by: UserId, urgency: Urgency, accepted_at: DateTime<Utc>) -> Self {
        Self {
            kind: TaskKind::ReferralFirstContact,
            source_id: referral_id,
            source_version: 1,
            case_id: None,
            assigned_to: accepted_by,
            due_at: accepted_at + first_contact_window(urgency),
        }
    }

    /// The review of version `plan_version` of a case's safety plan, due at the end of its review
    /// day. It goes to the case's worker, or to whoever saved the plan when the case has none.
    #[must_use]
    pub fn safety_plan_review(
        case_id: Uuid,
        plan_version: i32,
        case_worker: Option<UserId>,
        saved_by: UserId,
        review_on: NaiveDate,
    ) -> Self {
        Self {
            kind: TaskKind::SafetyPlanReview,
            source_id: case_id,
            source_version: plan_version,
            case_id: Some(case_id),
            assigned_to: case_worker.unwrap_or(saved_by),
            due_at: end_of_ontario_day(review_on),
        }
    }

    /// Its fixed title.
    #[must_use]
    pub fn title(&self) -> &'static str {
        self.kind.system_title().unwrap_or("Task")
    }
}

/// A task as a change is decided from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskState {
    /// Why it exists.
    pub kind: TaskKind,
    /// Where it stands.
    pub status: TaskStatus,
    /// Who must do it.
    pub assigned_to: UserId,
    /// By when.
    pub due_at: DateTime<Utc>,
}

/// What a PATCH asks; `None` leaves a field alone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Patch {
    /// Complete (`completed`) or reopen (`open`).
    pub status: Option<TaskStatus>,
    /// Reassign.
    pub assigned_to: Option<UserId>,
    /// Move the deadline.
    pub due_at: Option<DateTime<Utc>>,
    /// Retitle (manual tasks only; already checked with [`title`]).
    pub title: Option<String>,
}

/// Who completed a task, when: set, cleared or left alone by a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Completion {
    /// Leave `completed_at` and `completed_by` as they are.
    Keep,
    /// Completed now, by this user.
    Set(DateTime<Utc>, UserId),
    /// Reopened: clear them.
    Clear,
}

/// A change decided from a task's state, for the store to apply conditionally.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The status it was decided from (the update applies only if it is still that).
    pub from: TaskStatus,
    /// The status after.
    pub to: TaskStatus,
    /// Completion stamp.
    pub completion: Completion,
    /// New assignee.
    pub assigned_to: Option<UserId>,
    /// New deadline.
    pub due_at: Option<DateTime<Utc>>,
    /// New title.
    pub title: Option<String>,
    /// Announce the overdue task again (to a new assignee, for a new deadline, once reopened).
    pub announce_again: bool,
    /// Tell the supervisors again when it is overdue past the grace (a new deadline, reopened).
    pub escalate_again: bool,
}

impl Change {
    /// The audit action of this change: `task.completed`, `task.reopened` or `task.updated`.
    #[must_use]
    pub fn action(&self) -> &'static str {
        match (self.from, self.to) {
            (TaskStatus::Open, TaskStatus::Completed) => crate::audit::actions::TASK_COMPLETED,
            (TaskStatus::Completed, TaskStatus::Open) => crate::audit::actions::TASK_REOPENED,
            _ => crate::audit::actions::TASK_UPDATED,
        }
    }

    /// The names of the fields it changes, for the audit log (names only, never values).
    #[must_use]
    pub fn fields(&self) -> Vec<&'static str> {
        let mut fields = Vec::new();
        if self.from != self.to {
            fields.push("status");
        }
        if self.assigned_to.is_some() {
            fields.push("assigned_to");
        }
        if self.due_at.is_some() {
            fields.push("due_at");
        }
        if self.title.is_some() {
            fields.push("title");
        }
        fields
    }
}

/// Why a change of a task is refused. Each names the field a form should point at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// An empty change.
    #[error("name at least one of status, assigned_to, due_at and title")]
    NothingToChange,
    /// A system task's title is the platform's.
    #[error("a system task's title is fixed")]
    TitleFixed,
    /// A deadline that has passed already.
    #[error("must be in the future")]
    DueInPast,
    /// Completing a completed task, or reopening an open one.
    #[error("the task is {0} already")]
    AlreadyThere(&'static str),
}

impl TaskError {
    /// The request field the refusal is about.
    #[must_use]
    pub const fn field(self) -> &'static str {
        match self {
            Self::NothingToChange => "body",
            Self::TitleFixed => "title",
            Self::DueInPast => "due_at",
            Self::AlreadyThere(_) => "status",
        }
    }
}

/// Checks a new task's deadline: after `now`.
///
/// # Errors
/// [`TaskError::DueInPast`].
pub fn check_due(due_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<DateTime<Utc>, TaskError> {
    if due_at > now { Ok(due_at) } else { Err(TaskError::DueInPast) }
}

/// Decides what `patch` does to a task in `current` state, asked by `by` at `now`: completing
/// stamps who and when, reopening clears that; a new assignee, a new deadline or a reopening makes
/// the task announce itself again when overdue (and a new deadline or a reopening tells the
/// supervisors again past the grace).
///
/// # Errors
/// [`TaskError`]: an empty patch, a system task's title, a deadline in the past, completing a
/// completed task or reopening an open one.
pub fn decide(current: TaskState, patch: Patch, by: UserId, now: DateTime<Utc>) -> Result<Change, TaskError> {
    if patch == Patch::default() {
        return Err(TaskError::NothingToChange);
    }
    if patch.title.is_some() && current.kind != TaskKind::Manual {
        return Err(TaskError::TitleFixed);
    }
    if let Some(due) = patch.due_at {
        check_due(due, now)?;
    }
    let (to, completion) = match patch.status {
        None => (current.status, Completion::Keep),
        Some(asked) if asked == current.status => return Err(TaskError::AlreadyThere(asked.as_str())),
        Some(TaskStatus::Completed) => (TaskStatus::Completed, Completion::Set(now, by)),
        Some(TaskStatus::Open) => (TaskStatus::Open, Completion::Clear),
    };
    let reopened = current.status == TaskStatus::Completed && to == TaskStatus::Open;
    let reassigned = patch.assigned_to.is_some_and(|a| a != current.assigned_to);
    let moved = patch.due_at.is_some_and(|d| d != current.due_at);
    Ok(Change {
        from: current.status,
        to,
        completion,
        assigned_to: patch.assigned_to,
        due_at: patch.due_at,
        title: patch.title,
        announce_again: reopened || reassigned || moved,
        escalate_again: reopened || moved,
    })
}

/// What a task's assignee must see of the case it is on: whether it is restricted, and its worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaseAccess {
    /// Restricted: only its worker and supervisors see it.
    pub restricted: bool,
    /// The case's worker.
    pub assigned_to: Option<UserId>,
}

/// Whether `user` (active or not, holding `roles`) may be given a task on a case with `access`
/// (`None`: a referral's task, on no case): an active supervisor or case manager who can see the
/// case, so a task never points anyone at a restricted case they may not know of.
#[must_use]
pub fn may_hold(user: UserId, active: bool, roles: &crate::user::RoleSet, access: Option<CaseAccess>) -> bool {
    crate::case::may_hold_cases(active, roles)
        && access
            .is_none_or(|case| crate::authz::CaseScope::of_user(user, roles).sees(case.restricted, case.assigned_to))
}

/// Whose tasks a list asks for: `assigned_to=me` or a user's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Assignee {
    /// The caller.
    Me,
    /// This user.
    User(UserId),
}

impl Assignee {
    /// Parses `me` or a user's id.
    ///
    /// # Errors
    /// [`AssigneeError`] otherwise.
    pub fn parse(raw: &str) -> Result<Self, AssigneeError> {
        if raw == "me" {
            return Ok(Self::Me);
        }
        raw.parse::<Uuid>().map(|id| Self::User(UserId::from_uuid(id))).map_err(|_| AssigneeError)
    }
}

/// Neither `me` nor a user's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be `me` or a user's id")]
pub struct AssigneeError;

/// Only a supervisor lists another worker's tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("only a supervisor lists another worker's tasks")]
pub struct OthersTasks;

/// Whose tasks a caller's list shows: `None` for the whole team's. A caller who may list the
/// team's (a supervisor) gets the team's unless they name someone; anyone else gets their own,
/// and naming another worker is refused.
///
/// # Errors
/// [`OthersTasks`].
pub fn whose_tasks(may_list_team: bool, me: UserId, asked: Option<Assignee>) -> Result<Option<UserId>, OthersTasks> {
    match (asked, may_list_team) {
        (Some(Assignee::Me), _) => Ok(Some(me)),
        (Some(Assignee::User(user)), _) if user == me => Ok(Some(me)),
        (Some(Assignee::User(user)), true) => Ok(Some(user)),
        (None, true) => Ok(None),
        (None, false) => Ok(Some(me)),
        (Some(Assignee::User(_)), false) => Err(OthersTasks),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(y, m, d).and_then(|d| d.and_hms_opt(h, min, s)).map(|t| t.and_utc()).unwrap_or_default()
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn a_day_ends_at_midnight_eastern_time_daylight_or_not() {
        assert_eq!(end_of_ontario_day(day(2026, 7, 15)), utc(2026, 7, 16, 3, 59, 59), "EDT, UTC−4");
        assert_eq!(end_of_ontario_day(day(2026, 12, 15)), utc(2026, 12, 16, 4, 59, 59), "EST, UTC−5");
        // The days the clocks change: daylight time from 2 a.m. on 8 March 2026, until 2 a.m. on 1 November.
        assert_eq!(end_of_ontario_day(day(2026, 3, 8)), utc(2026, 3, 9, 3, 59, 59));
        assert_eq!(end_of_ontario_day(day(2026, 3, 7)), utc(2026, 3, 8, 4, 59, 59));
        assert_eq!(end_of_ontario_day(day(2026, 11, 1)), utc(2026, 11, 2, 4, 59, 59));
        assert_eq!(end_of_ontario_day(day(2026, 10, 31)), utc(2026, 11, 1, 3, 59, 59));
    }

    #[test]
    fn each_rule_sets_its_deadline_and_its_assignee() {
        let (maker, worker, other) = (UserId::new(), UserId::new(), UserId::new());
        let (source, case) = (Uuid::now_v7(), Uuid::now_v7());
        let vqrp = SystemTask::vqrp_decision(source, case, maker, day(2026, 5, 21));
        assert_eq!((vqrp.assigned_to, vqrp.due_at), (maker, utc(2026, 5, 22, 3, 59, 59)));
        assert_eq!(vqrp.title(), "VQRP+ decision due");

        let now = utc(2026, 6, 1, 12, 0, 0);
        let lapses = utc(2026, 9, 1, 0, 0, 0);
        let consent = SystemTask::consent_expiry(source, case, Some(worker), other, lapses, now);
        assert_eq!((consent.assigned_to, consent.due_at), (worker, utc(2026, 8, 18, 0, 0, 0)));
        let soon = SystemTask::consent_expiry(source, case, None, other, now + Duration::days(3), now);
        assert_eq!((soon.assigned_to, soon.due_at), (other, now), "lapsing within the lead: due at once");

        let contact = SystemTask::first_contact(source, worker, Urgency::Immediate, now);
        assert_eq!((contact.case_id, contact.due_at), (None, now + Duration::hours(1)));
        assert_eq!(SystemTask::first_contact(source, worker, Urgency::Routine, now).due_at, now + Duration::days(3));

        let plan = SystemTask::safety_plan_review(case, 3, None, other, day(2026, 12, 15));
        assert_eq!((plan.source_id, plan.source_version, plan.assigned_to), (case, 3, other));
        assert_eq!(plan.due_at, utc(2026, 12, 16, 4, 59, 59));
        assert!(TaskKind::ALL.iter().all(|k| k.system_title().is_some() == (*k != TaskKind::Manual)));
    }

    #[test]
    fn a_change_completes_reopens_reassigns_and_moves() {
        let (me, other) = (UserId::new(), UserId::new());
        let now = utc(2026, 6, 1, 12, 0, 0);
        let open = TaskState { kind: TaskKind::Manual, status: TaskStatus::Open, assigned_to: me, due_at: now };
        let complete = Patch { status: Some(TaskStatus::Completed), ..Patch::default() };
        let done = decide(open, complete.clone(), other, now);
        assert_eq!(
            done.as_ref().map(|c| (c.to, c.completion)),
            Ok((TaskStatus::Completed, Completion::Set(now, other)))
        );
        assert_eq!(done.map(|c| c.action()), Ok("task.completed"));
        let completed = TaskState { status: TaskStatus::Completed, ..open };
        assert_eq!(decide(completed, complete, me, now), Err(TaskError::AlreadyThere("completed")));
        let reopen = decide(completed, Patch { status: Some(TaskStatus::Open), ..Patch::default() }, me, now);
        assert_eq!(
            reopen.map(|c| (c.completion, c.announce_again, c.escalate_again, c.action())),
            Ok((Completion::Clear, true, true, "task.reopened"))
        );
        let reassign = decide(open, Patch { assigned_to: Some(other), ..Patch::default() }, me, now);
        assert_eq!(
            reassign.map(|c| (c.announce_again, c.escalate_again, c.fields())),
            Ok((true, false, vec!["assigned_to"]))
        );
        let later = now + Duration::days(1);
        let moved = decide(open, Patch { due_at: Some(later), ..Patch::default() }, me, now);
        assert_eq!(moved.map(|c| (c.announce_again, c.escalate_again)), Ok((true, true)));
        assert_eq!(decide(open, Patch { due_at: Some(now), ..Patch::default() }, me, now), Err(TaskError::DueInPast));
        assert_eq!(decide(open, Patch::default(), me, now), Err(TaskError::NothingToChange));
        let system = TaskState { kind: TaskKind::VqrpDecision, ..open };
        let retitle = Patch { title: Some("Call".to_owned()), ..Patch::default() };
        assert_eq!(decide(system, retitle.clone(), me, now), Err(TaskError::TitleFixed));
        assert_eq!(decide(open, retitle, me, now).map(|c| c.fields()), Ok(vec!["title"]));
    }

    #[test]
    fn a_worker_lists_their_own_tasks_and_a_supervisor_the_teams() {
        let (me, other) = (UserId::new(), UserId::new());
        assert_eq!(whose_tasks(false, me, None), Ok(Some(me)));
        assert_eq!(whose_tasks(false, me, Some(Assignee::Me)), Ok(Some(me)));
        assert_eq!(whose_tasks(false, me, Some(Assignee::User(me))), Ok(Some(me)));
        assert_eq!(whose_tasks(false, me, Some(Assignee::User(other))), Err(OthersTasks));
        assert_eq!(whose_tasks(true, me, None), Ok(None));
        assert_eq!(whose_tasks(true, me, Some(Assignee::User(other))), Ok(Some(other)));
        assert_eq!(Assignee::parse("me"), Ok(Assignee::Me));
        assert_eq!(Assignee::parse(&other.as_uuid().to_string()), Ok(Assignee::User(other)));
        assert_eq!(Assignee::parse("someone"), Err(AssigneeError));
    }

    #[test]
    fn a_task_goes_only_to_someone_who_may_hold_its_case() {
        use crate::user::{Role, RoleSet};
        let (worker, other) = (UserId::new(), UserId::new());
        let manager = RoleSet::one(Role::CaseManager);
        let supervisor = RoleSet::one(Role::Supervisor);
        let open = CaseAccess { restricted: false, assigned_to: Some(other) };
        let restricted = CaseAccess { restricted: true, assigned_to: Some(other) };
        assert!(may_hold(worker, true, &manager, Some(open)));
        assert!(may_hold(worker, true, &manager, None));
        assert!(!may_hold(worker, true, &manager, Some(restricted)), "a restricted case of someone else's");
        assert!(may_hold(other, true, &manager, Some(restricted)), "its own worker");
        assert!(may_hold(worker, true, &supervisor, Some(restricted)));
        assert!(!may_hold(worker, false, &manager, Some(open)), "inactive");
        assert!(!may_hold(worker, true, &RoleSet::one(Role::AgencyAdmin), Some(open)));
    }

    #[test]
    fn titles_are_one_line_of_at_most_200_characters() {
        assert_eq!(title("  Call the shelter back "), Ok("Call the shelter back".to_owned()));
        assert_eq!(title("   "), Err(TextError::Empty));
        assert_eq!(title(&"x".repeat(201)), Err(TextError::TooLong(200)));
        assert!(title(&"x".repeat(200)).is_ok());
    }
}
