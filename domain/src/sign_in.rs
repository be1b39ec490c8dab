//! Where a sign-in leads once the password is right: to the second factor, to a session, or to a
//! token that may only finish setting the account up (a password someone else set must be
//! changed; a tenant that requires a second factor makes a user without one enrol first).
//!
//! The order is the point. A user with a second factor always proves it before anything else: a
//! stolen password alone must never be enough to change that password, which a setup token could
//! otherwise do. Only an account with no factor yet is sent to enrol, and only once its password
//! is the user's own.

use serde::{Deserialize, Serialize};

use crate::authz::Actor;
use crate::ids::TenantId;
use crate::tenant::TenantKind;
use crate::user::Role;

/// What an account must do before it gets a full session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingSetup {
    /// The password was set by someone else: change it (`POST /me/password`).
    PasswordChange,
    /// The tenant requires a second factor and the user has none: enrol one.
    MfaEnrolment,
}

impl PendingSetup {
    /// The stable name, as a token's claim and a problem's `code` carry it.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::PasswordChange => "password_change_required",
            Self::MfaEnrolment => "mfa_enrolment_required",
        }
    }

    /// Whether a token issued for this setup may make `call`: reading one's profile and signing
    /// out always, and the one change the setup waits for. Nothing else: a setup token reads no
    /// case, no person and no figure.
    #[must_use]
    pub const fn permits(self, call: SetupCall) -> bool {
        matches!(
            (self, call),
            (_, SetupCall::ReadProfile | SetupCall::SignOut)
                | (Self::PasswordChange, SetupCall::ChangePassword)
                | (Self::MfaEnrolment, SetupCall::EnrolSecondFactor)
        )
    }
}

/// The calls a setup token may be allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetupCall {
    /// `GET /me`.
    ReadProfile,
    /// `POST /auth/logout`.
    SignOut,
    /// `POST /me/password`.
    ChangePassword,
    /// Enrolling and confirming an authenticator or a passkey.
    EnrolSecondFactor,
}

/// What the sign-in needs to know of the account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Account {
    /// The user has a confirmed authenticator or passkey.
    pub has_second_factor: bool,
    /// The password was set by someone else.
    pub password_change_required: bool,
    /// The tenant's kind.
    pub tenant_kind: TenantKind,
    /// The tenant's `mfa_required` setting.
    pub tenant_requires_mfa: bool,
}

/// What a sign-in answers next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// The second step (`POST /auth/mfa`): no token yet.
    SecondFactor,
    /// A token that may only finish this setup; no refresh token.
    Setup(PendingSetup),
    /// A full session.
    Session,
}

/// Whether users of this tenant need a second factor: platform admins always (they create
/// tenants and reset others' access), everyone else when their tenant says so.
#[must_use]
pub fn second_factor_required(kind: TenantKind, tenant_requires_mfa: bool) -> bool {
    kind == TenantKind::Platform || tenant_requires_mfa
}

/// Whether `actor` may read and set `tenant`'s `mfa_required`: a platform admin for any tenant, a
/// tenant's own admin (an agency's, a ministry's) for their own.
#[must_use]
pub fn may_set_mfa_policy(actor: &Actor, tenant: TenantId) -> bool {
    actor.has(Role::PlatformAdmin) || (actor.tenant_id == tenant && actor.is_tenant_admin())
}

/// Why a tenant of `kind` may not have `mfa_required` set to `value`, if it may not: the
/// platform's admins always need a second factor, so the platform's setting cannot be turned off.
///
/// # Errors
/// The reason, for the caller.
pub fn check_mfa_policy(kind: TenantKind, value: bool) -> Result<(), &'static str> {
    if kind == TenantKind::Platform && !value {
        return Err("cannot be false for the platform: its admins always need a second factor");
    }
    Ok(())
}

/// What follows a right password.
#[must_use]
pub fn after_password(account: Account) -> Next {
    if account.has_second_factor {
        Next::SecondFactor
    } else if account.password_change_required {
        Next::Setup(PendingSetup::PasswordChange)
    } else if second_factor_required(account.tenant_kind, account.tenant_requires_mfa) {
        Next::Setup(PendingSetup::MfaEnrolment)
    } else {
        Next::Session
    }
}

/// What follows a right second factor.
#[must_use]
pub fn after_second_factor(account: Account) -> Next {
    if account.password_change_required { Next::Setup(PendingSetup::PasswordChange) } else { Next::Session }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(has_second_factor: bool, password_change_required: bool, kind: TenantKind, policy: bool) -> Account {
        Account { has_second_factor, password_change_required, tenant_kind: kind, tenant_requires_mfa: policy }
    }

    #[test]
    fn a_second_factor_is_proven_before_anything_else() {
        for change in [false, true] {
            for policy in [false, true] {
                let a = account(true, change, TenantKind::Agency, policy);
                assert_eq!(after_password(a), Next::SecondFactor, "a stolen password must not reach a setup token");
            }
        }
        assert_eq!(
            after_second_factor(account(true, true, TenantKind::Agency, true)),
            Next::Setup(PendingSetup::PasswordChange)
        );
        assert_eq!(after_second_factor(account(true, false, TenantKind::Agency, true)), Next::Session);
    }

    #[test]
    fn a_password_someone_else_set_is_changed_before_enrolling() {
        let a = account(false, true, TenantKind::Agency, true);
        assert_eq!(after_password(a), Next::Setup(PendingSetup::PasswordChange));
        let a = account(false, false, TenantKind::Agency, true);
        assert_eq!(after_password(a), Next::Setup(PendingSetup::MfaEnrolment));
        let a = account(false, false, TenantKind::Agency, false);
        assert_eq!(after_password(a), Next::Session);
    }

    #[test]
    fn platform_admins_always_need_a_second_factor() {
        let a = account(false, false, TenantKind::Platform, false);
        assert_eq!(after_password(a), Next::Setup(PendingSetup::MfaEnrolment));
        assert!(!second_factor_required(TenantKind::Ministry, false));
        assert!(second_factor_required(TenantKind::Ministry, true));
    }

    #[test]
    fn the_platform_sets_any_tenants_policy_and_a_tenants_admin_its_own() {
        let agency = TenantId::new();
        let actor = |kind, role| Actor {
            tenant_id: agency,
            tenant_kind: kind,
            user_id: crate::UserId::new(),
            roles: crate::user::RoleSet::one(role),
            session_id: crate::SessionId::new(),
        };
        let platform = Actor { tenant_id: TenantId::new(), ..actor(TenantKind::Platform, Role::PlatformAdmin) };
        assert!(may_set_mfa_policy(&platform, agency));
        assert!(may_set_mfa_policy(&actor(TenantKind::Agency, Role::AgencyAdmin), agency));
        assert!(!may_set_mfa_policy(&actor(TenantKind::Agency, Role::AgencyAdmin), TenantId::new()));
        assert!(!may_set_mfa_policy(&actor(TenantKind::Agency, Role::Supervisor), agency));
        assert!(check_mfa_policy(TenantKind::Platform, false).is_err());
        assert!(
            check_mfa_policy(TenantKind::Platform, true).is_ok() && check_mfa_policy(TenantKind::Agency, false).is_ok()
        );
    }

    #[test]
    fn a_setup_token_permits_only_its_own_step() {
        use SetupCall::*;
        let password = PendingSetup::PasswordChange;
        let enrolment = PendingSetup::MfaEnrolment;
        assert!(password.permits(ChangePassword) && !password.permits(EnrolSecondFactor));
        assert!(enrolment.permits(EnrolSecondFactor) && !enrolment.permits(ChangePassword));
        for setup in [password, enrolment] {
            assert!(setup.permits(ReadProfile) && setup.permits(SignOut));
        }
    }
}
