//! Who may do what. Pure and table-tested: handlers ask [`may`] before touching storage.
//!
//! "Forbidden" (the role may not use the endpoint at all) maps to 403. Objects another tenant
//! owns never reach this table: they are simply not found (404), so ids cannot be probed.

use crate::ids::{SessionId, TenantId, UserId};
use crate::tenant::TenantKind;
use crate::user::{Role, RoleSet};

/// The signed-in caller, as the access token and its checks established.
#[derive(Clone, Debug)]
pub struct Actor {
    /// The caller's tenant; every query runs inside it.
    pub tenant_id: TenantId,
    /// The kind of that tenant.
    pub tenant_kind: TenantKind,
    /// The caller.
    pub user_id: UserId,
    /// The caller's roles when the token was issued.
    pub roles: RoleSet,
    /// The sign-in session (refresh family) the token belongs to.
    pub session_id: SessionId,
}

impl Actor {
    /// True when the caller holds `role`.
    #[must_use]
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(role)
    }

    /// Whether the caller is their own tenant's admin: an agency's, a ministry's or the platform's.
    #[must_use]
    pub fn is_tenant_admin(&self) -> bool {
        let role = match self.tenant_kind {
            TenantKind::Agency => Role::AgencyAdmin,
            TenantKind::Ministry => Role::MinistryAdmin,
            TenantKind::Platform => Role::PlatformAdmin,
        };
        self.has(role)
    }

    /// Whether the caller only refers: a police liaison without case-work roles, who makes
    /// referrals at their own division and sees only those they made, as status views.
    #[must_use]
    pub fn refers_only(&self) -> bool {
        self.has(Role::PoliceLiaison) && !self.has(Role::Supervisor) && !self.has(Role::CaseManager)
    }
}

/// Something a caller asks to do, named for the endpoint family it guards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Create, list or read tenants.
    ManageTenants,
    /// Create or change police services and divisions.
    ManageReferenceData,
    /// Read police services and divisions.
    ReadReferenceData,
    /// Create, list, read and change the users of one's own tenant.
    ManageUsers,
    /// Read the tenant's audit log and verify its chain.
    ReadAuditLog,
    /// Read one's own profile.
    ReadOwnProfile,
    /// Create programs and community organisations.
    ManageAgencySetup,
    /// Read the agency's programs.
    ReadPrograms,
    /// Read the agency's community organisations.
    ReadOrganizations,
    /// Clients, cases, notes, services, consents, assessments, safety plans, children, referrals out.
    WorkCases,
    /// Close and reopen cases.
    CloseCases,
    /// List the whole team's tasks, or another worker's (a supervisor's overview; a worker lists
    /// their own under `WorkCases`).
    ListTeamTasks,
    /// Lift `restricted` from a case: a supervisor's decision, not the worker's.
    LiftRestriction,
    /// Approve or decline a VQRP+ application: a supervisor's decision, not the applying worker's.
    DecideVqrp,
    /// Read, accept and decline the cases other agencies transfer in: a supervisor's intake
    /// decision (whoever may work a case may send one, with `WorkCases`).
    ReceiveTransfers,
    /// Confirm another user's requested `supervisor` role (`crate::grants`).
    ConfirmSupervisors,
    /// Reset another user's credentials: issue a password reset code, or remove a lost second
    /// factor (`crate::passwords::may_reset_credentials` says for whom).
    ResetCredentials,
    /// Read who read or changed a case.
    ReadAccessLog,
    /// Create postings and shifts.
    ManageEmbedding,
    /// Read postings, shifts and who is on duty.
    ReadEmbedding,
    /// Make a referral (a liaison at their own division, or agency staff).
    CreateReferral,
    /// Accept, contact and convert referrals.
    WorkReferrals,
    /// Change the agency's settings (escalation windows).
    ManageSettings,
    /// Read the agency's settings.
    ReadSettings,
    /// Read de-identified figures: one's own agency's, or every agency's for the ministry.
    ReadAggregates,
    /// Draft quarterly reports to the ministry.
    PrepareReports,
    /// Submit a drafted report (freezing its figures).
    SubmitReports,
    /// List and read reports: an agency its own, the ministry every submitted one.
    ReadReports,
    /// Accept or return submitted reports.
    ReviewReports,
}

/// Which cases a caller may see at all. Restricted cases are visible only to their assigned worker
/// and to supervisors; to anyone else they do not exist (404, absent from lists and counts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaseScope {
    /// Every case of the agency.
    All,
    /// Unrestricted cases, and restricted ones assigned to this user.
    UnrestrictedOrAssignedTo(UserId),
}

impl CaseScope {
    /// The scope of `actor`.
    #[must_use]
    pub fn of(actor: &Actor) -> Self {
        Self::of_user(actor.user_id, &actor.roles)
    }

    /// The scope of `user` holding `roles` (their effective roles): who may be given work on a
    /// case, as well as who is asking.
    #[must_use]
    pub fn of_user(user: UserId, roles: &RoleSet) -> Self {
        if roles.contains(Role::Supervisor) { Self::All } else { Self::UnrestrictedOrAssignedTo(user) }
    }

    /// True when a case with these attributes is visible in this scope.
    #[must_use]
    pub fn sees(self, restricted: bool, assigned_to: Option<UserId>) -> bool {
        match self {
            Self::All => true,
            Self::UnrestrictedOrAssignedTo(me) => !restricted || assigned_to == Some(me),
        }
    }
}

/// The answer to "may this caller do this?".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allow,
    /// The caller's roles do not allow it: 403.
    Forbidden,
}

fn ministry_analyst(actor: &Actor) -> bool {
    actor.tenant_kind == TenantKind::Ministry && actor.has(Role::MinistryAnalyst)
}

/// Decides whether `actor` may perform `action`.
#[must_use]
pub fn may(actor: &Actor, action: Action) -> Decision {
    let allowed = match action {
        Action::ManageTenants | Action::ManageReferenceData => actor.has(Role::PlatformAdmin),
        Action::ReadReferenceData | Action::ReadOwnProfile => true,
        // Every tenant has staff to run: its own admin manages its users and reads its audit log.
        Action::ManageUsers | Action::ReadAuditLog => actor.is_tenant_admin(),
        Action::ManageAgencySetup => actor.tenant_kind == TenantKind::Agency && actor.has(Role::AgencyAdmin),
        Action::ReadPrograms => actor.tenant_kind == TenantKind::Agency,
        Action::ReadOrganizations => {
            actor.has(Role::AgencyAdmin) || actor.has(Role::Supervisor) || actor.has(Role::CaseManager)
        }
        Action::WorkCases => actor.has(Role::Supervisor) || actor.has(Role::CaseManager),
        Action::CloseCases
        | Action::LiftRestriction
        | Action::DecideVqrp
        | Action::ListTeamTasks
        | Action::ReceiveTransfers => actor.has(Role::Supervisor),
        Action::ConfirmSupervisors => actor.tenant_kind == TenantKind::Agency && actor.has(Role::Supervisor),
        Action::ResetCredentials => {
            actor.is_tenant_admin() || (actor.tenant_kind == TenantKind::Agency && actor.has(Role::Supervisor))
        }
        Action::ReadAccessLog => actor.has(Role::Supervisor) || actor.has(Role::AgencyAdmin),
        Action::ManageEmbedding | Action::ManageSettings => actor.has(Role::AgencyAdmin),
        Action::ReadEmbedding => {
            actor.has(Role::AgencyAdmin) || actor.has(Role::Supervisor) || actor.has(Role::CaseManager)
        }
        Action::CreateReferral => {
            actor.has(Role::PoliceLiaison) || actor.has(Role::Supervisor) || actor.has(Role::CaseManager)
        }
        Action::WorkReferrals => actor.has(Role::Supervisor) || actor.has(Role::CaseManager),
        Action::ReadSettings => actor.has(Role::AgencyAdmin) || actor.has(Role::Supervisor),
        Action::ReadAggregates | Action::ReadReports => {
            let agency_lead = actor.tenant_kind == TenantKind::Agency
                && (actor.has(Role::Supervisor) || actor.has(Role::AgencyAdmin));
            agency_lead || ministry_analyst(actor)
        }
        Action::PrepareReports => {
            actor.tenant_kind == TenantKind::Agency && (actor.has(Role::Supervisor) || actor.has(Role::AgencyAdmin))
        }
        Action::SubmitReports => actor.tenant_kind == TenantKind::Agency && actor.has(Role::Supervisor),
        Action::ReviewReports => ministry_analyst(actor),
    };
    if allowed { Decision::Allow } else { Decision::Forbidden }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(kind: TenantKind, role: Role) -> Actor {
        Actor {
            tenant_id: TenantId::new(),
            tenant_kind: kind,
            user_id: UserId::new(),
            roles: RoleSet::one(role),
            session_id: SessionId::new(),
        }
    }

    #[test]
    fn restricted_cases_are_seen_by_supervisors_and_their_worker_only() {
        let worker = actor(TenantKind::Agency, Role::CaseManager);
        let other = UserId::new();
        let scope = CaseScope::of(&worker);
        assert!(scope.sees(false, None));
        assert!(scope.sees(true, Some(worker.user_id)));
        assert!(!scope.sees(true, Some(other)));
        assert!(!scope.sees(true, None));
        assert!(CaseScope::of(&actor(TenantKind::Agency, Role::Supervisor)).sees(true, Some(other)));
    }

    #[test]
    fn the_permission_table_holds() {
        use Action::*;
        use Decision::*;
        use Role::*;
        let table: &[(Role, Action, Decision)] = &[
            (PlatformAdmin, ManageTenants, Allow),
            (PlatformAdmin, ManageReferenceData, Allow),
            (PlatformAdmin, ManageUsers, Allow),
            (PlatformAdmin, ReadAuditLog, Allow),
            (MinistryAdmin, ManageUsers, Allow),
            (MinistryAdmin, ReadAuditLog, Allow),
            (MinistryAdmin, ReadAggregates, Forbidden),
            (MinistryAdmin, ManageAgencySetup, Forbidden),
            (MinistryAdmin, ManageTenants, Forbidden),
            (AgencyAdmin, ManageTenants, Forbidden),
            (AgencyAdmin, ManageReferenceData, Forbidden),
            (AgencyAdmin, ManageUsers, Allow),
            (AgencyAdmin, ReadAuditLog, Allow),
            (Supervisor, ManageUsers, Forbidden),
            (Supervisor, ReadAuditLog, Forbidden),
            (CaseManager, ManageUsers, Forbidden),
            (PoliceLiaison, ManageUsers, Forbidden),
            (PoliceLiaison, ReadReferenceData, Allow),
            (MinistryAnalyst, ManageUsers, Forbidden),
            (MinistryAnalyst, ManageTenants, Forbidden),
            (MinistryAnalyst, ReadOwnProfile, Allow),
            (AgencyAdmin, ManageAgencySetup, Allow),
            (Supervisor, ManageAgencySetup, Forbidden),
            (PoliceLiaison, ReadPrograms, Allow),
            (MinistryAnalyst, ReadPrograms, Forbidden),
            (PoliceLiaison, ReadOrganizations, Forbidden),
            (CaseManager, ReadOrganizations, Allow),
            (CaseManager, WorkCases, Allow),
            (Supervisor, WorkCases, Allow),
            (AgencyAdmin, WorkCases, Forbidden),
            (PoliceLiaison, WorkCases, Forbidden),
            (MinistryAnalyst, WorkCases, Forbidden),
            (PlatformAdmin, WorkCases, Forbidden),
            (CaseManager, CloseCases, Forbidden),
            (Supervisor, ListTeamTasks, Allow),
            (CaseManager, ListTeamTasks, Forbidden),
            (AgencyAdmin, ListTeamTasks, Forbidden),
            (MinistryAnalyst, ListTeamTasks, Forbidden),
            (Supervisor, CloseCases, Allow),
            (Supervisor, ReadAggregates, Allow),
            (AgencyAdmin, ReadAggregates, Allow),
            (CaseManager, ReadAggregates, Forbidden),
            (PoliceLiaison, ReadAggregates, Forbidden),
            (PlatformAdmin, ReadAggregates, Forbidden),
            (AgencyAdmin, PrepareReports, Allow),
            (AgencyAdmin, SubmitReports, Forbidden),
            (Supervisor, SubmitReports, Allow),
            (CaseManager, PrepareReports, Forbidden),
            (MinistryAnalyst, PrepareReports, Forbidden),
            (MinistryAnalyst, SubmitReports, Forbidden),
            (Supervisor, ReviewReports, Forbidden),
            (MinistryAnalyst, ReadAggregates, Allow),
            (MinistryAnalyst, ReadReports, Allow),
            (MinistryAnalyst, ReviewReports, Allow),
            (Supervisor, ReadAccessLog, Allow),
            (AgencyAdmin, ReadAccessLog, Allow),
            (CaseManager, ReadAccessLog, Forbidden),
            (AgencyAdmin, ManageEmbedding, Allow),
            (Supervisor, ManageEmbedding, Forbidden),
            (CaseManager, ReadEmbedding, Allow),
            (PoliceLiaison, ReadEmbedding, Forbidden),
            (PoliceLiaison, CreateReferral, Allow),
            (CaseManager, CreateReferral, Allow),
            (MinistryAnalyst, CreateReferral, Forbidden),
            (PoliceLiaison, WorkReferrals, Forbidden),
            (CaseManager, WorkReferrals, Allow),
            (AgencyAdmin, ManageSettings, Allow),
            (Supervisor, ManageSettings, Forbidden),
            (Supervisor, ReadSettings, Allow),
            (CaseManager, ReadSettings, Forbidden),
        ];
        for &(role, action, expected) in table {
            let actor = actor(role.tenant_kind(), role);
            assert_eq!(may(&actor, action), expected, "{role:?} {action:?}");
        }
    }
}
