//! Who may give whom which role.
//!
//! - Nobody changes their own roles: an admin who could would hold whatever they liked.
//! - `supervisor` (which reads restricted cases, as agency admins may not) takes two people. An
//!   agency admin's grant is only a request: the role is stored but not in effect. A second person
//!   confirms it: a supervisor of the agency who is neither the requester nor the grantee, or, for
//!   an agency with no supervisor yet, the operator (`vcao confirm-supervisor`). Until then the user
//!   works with their other roles. Taking `supervisor` away needs one person and is at once.
//! - Every request, confirmation and change of roles is audited.

use crate::authz::Actor;
use crate::ids::UserId;
use crate::user::{Role, RoleSet};

/// Why a change of roles was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    /// The caller tried to change their own roles.
    #[error("nobody may change their own roles; ask another administrator")]
    OwnRoles,
    /// Only a supervisor confirms a supervisor.
    #[error("only a supervisor of the agency may confirm a supervisor")]
    NotASupervisor,
    /// The confirmer is the one who asked, or the one who would get the role.
    #[error("a grant of supervisor is confirmed by someone other than who asked for it and who receives it")]
    SamePerson,
    /// There is no request to confirm.
    #[error("this user has no supervisor grant waiting for confirmation")]
    NothingPending,
}

/// A user's roles as stored: those in effect, and whether `supervisor` is requested but not yet
/// confirmed (and by whom it was requested).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRoles {
    /// Every role named, the requested `supervisor` included.
    pub named: RoleSet,
    /// True while `supervisor` waits for its confirmation.
    pub supervisor_pending: bool,
    /// Who asked for it, while it waits.
    pub requested_by: Option<UserId>,
}

impl StoredRoles {
    /// The roles in effect: those named, less a `supervisor` still waiting.
    #[must_use]
    pub fn effective(&self) -> RoleSet {
        if self.supervisor_pending { self.named.without(Role::Supervisor) } else { self.named.clone() }
    }
}

/// What an administrator's request for `requested` roles for `target` stores.
///
/// # Errors
/// [`GrantError::OwnRoles`] when `target` is the caller and the roles would change.
pub fn request_roles(
    actor: &Actor,
    target: UserId,
    current: Option<&StoredRoles>,
    requested: RoleSet,
) -> Result<StoredRoles, GrantError> {
    let unchanged = current.is_some_and(|c| c.named == requested);
    if target == actor.user_id && !unchanged {
        return Err(GrantError::OwnRoles);
    }
    if let Some(current) = current.filter(|_| unchanged) {
        return Ok(current.clone());
    }
    let confirmed_before = current.is_some_and(|c| c.effective().contains(Role::Supervisor));
    let waiting_before = current.filter(|c| c.supervisor_pending).and_then(|c| c.requested_by);
    let pending = requested.contains(Role::Supervisor) && !confirmed_before;
    Ok(StoredRoles {
        named: requested,
        supervisor_pending: pending,
        requested_by: pending.then(|| waiting_before.unwrap_or(actor.user_id)),
    })
}

/// Checks that `actor` may confirm the `supervisor` grant waiting for `target`.
///
/// # Errors
/// [`GrantError`] when nothing waits, the caller is no supervisor, or is the requester or grantee.
pub fn confirm_supervisor(actor: &Actor, target: UserId, current: &StoredRoles) -> Result<StoredRoles, GrantError> {
    if !actor.has(Role::Supervisor) {
        return Err(GrantError::NotASupervisor);
    }
    if !current.supervisor_pending {
        return Err(GrantError::NothingPending);
    }
    if actor.user_id == target || current.requested_by == Some(actor.user_id) {
        return Err(GrantError::SamePerson);
    }
    confirm_supervisor_by_operator(current)
}

/// The operator's confirmation (`vcao confirm-supervisor`), the second person for an agency that
/// has no supervisor yet: the operator is neither requester nor grantee by construction.
///
/// # Errors
/// [`GrantError::NothingPending`] when no grant waits.
pub fn confirm_supervisor_by_operator(current: &StoredRoles) -> Result<StoredRoles, GrantError> {
    if !current.supervisor_pending {
        return Err(GrantError::NothingPending);
    }
    Ok(StoredRoles { named: current.named.clone(), supervisor_pending: false, requested_by: None })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{SessionId, TenantId};
    use crate::tenant::TenantKind;

    fn actor(roles: &[Role]) -> Actor {
        let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Actor {
            tenant_id: TenantId::new(),
            tenant_kind: TenantKind::Agency,
            user_id: UserId::new(),
            roles: RoleSet::parse(&names, TenantKind::Agency).unwrap_or_else(|_| RoleSet::one(Role::CaseManager)),
            session_id: SessionId::new(),
        }
    }

    fn roles(names: &[&str]) -> RoleSet {
        RoleSet::parse(names, TenantKind::Agency).unwrap_or_else(|_| RoleSet::one(Role::CaseManager))
    }

    #[test]
    fn nobody_changes_their_own_roles() {
        let admin = actor(&[Role::AgencyAdmin]);
        let mine = StoredRoles { named: roles(&["agency_admin"]), supervisor_pending: false, requested_by: None };
        let more = roles(&["agency_admin", "supervisor"]);
        assert_eq!(request_roles(&admin, admin.user_id, Some(&mine), more), Err(GrantError::OwnRoles));
        let fewer = roles(&["case_manager"]);
        assert_eq!(request_roles(&admin, admin.user_id, Some(&mine), fewer), Err(GrantError::OwnRoles));
        // Saving one's profile with the same roles is no change.
        assert_eq!(request_roles(&admin, admin.user_id, Some(&mine), mine.named.clone()), Ok(mine));
    }

    #[test]
    fn supervisor_waits_for_a_second_person() {
        let admin = actor(&[Role::AgencyAdmin]);
        let worker = UserId::new();
        let asked = request_roles(&admin, worker, None, roles(&["case_manager", "supervisor"]))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(asked.supervisor_pending);
        assert_eq!(asked.requested_by, Some(admin.user_id));
        assert!(!asked.effective().contains(Role::Supervisor));
        assert!(asked.effective().contains(Role::CaseManager));

        // The requester, the grantee and a non-supervisor cannot confirm; another supervisor can.
        let admin_supervisor = Actor { roles: roles(&["agency_admin", "supervisor"]), ..admin.clone() };
        assert_eq!(confirm_supervisor(&admin_supervisor, worker, &asked), Err(GrantError::SamePerson));
        let grantee = Actor { user_id: worker, roles: roles(&["supervisor"]), ..admin.clone() };
        assert_eq!(confirm_supervisor(&grantee, worker, &asked), Err(GrantError::SamePerson));
        assert_eq!(confirm_supervisor(&actor(&[Role::AgencyAdmin]), worker, &asked), Err(GrantError::NotASupervisor));
        let confirmed =
            confirm_supervisor(&actor(&[Role::Supervisor]), worker, &asked).unwrap_or_else(|e| panic!("{e}"));
        assert!(confirmed.effective().contains(Role::Supervisor));
        assert_eq!(
            confirm_supervisor(&actor(&[Role::Supervisor]), worker, &confirmed),
            Err(GrantError::NothingPending)
        );

        // Taking it away is at once; asking again waits again.
        let removed =
            request_roles(&admin, worker, Some(&confirmed), roles(&["case_manager"])).unwrap_or_else(|e| panic!("{e}"));
        assert!(!removed.supervisor_pending && !removed.effective().contains(Role::Supervisor));
        let again =
            request_roles(&admin, worker, Some(&removed), roles(&["supervisor"])).unwrap_or_else(|e| panic!("{e}"));
        assert!(again.supervisor_pending && again.effective().iter().next().is_none());
    }
}
