//! Users, their roles and professions, and the credentials rules.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::tenant::TenantKind;
use crate::validation::{TextError, bounded_text};

/// A sign-in email address, normalised to lowercase so lookups are case-insensitive.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl std::fmt::Debug for EmailAddress {
    // Email addresses are personal information: never print them in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmailAddress(..)")
    }
}

/// Why an email address was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be an email address of at most 254 characters")]
pub struct EmailError;

impl EmailAddress {
    /// Parses `local@domain.tld`, trimmed and lowercased. Deliberately simple: the address is a
    /// sign-in name, not a mailbox we deliver to.
    ///
    /// # Errors
    /// [`EmailError`] when the shape is wrong.
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let email = raw.trim().to_lowercase();
        if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EmailError);
        }
        let (local, domain) = email.split_once('@').ok_or(EmailError)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
            && !domain.contains("..");
        if local.is_empty() || local.len() > 64 || !domain_ok {
            return Err(EmailError);
        }
        Ok(Self(email))
    }

    /// The normalised address.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A person's name as shown to colleagues.
#[derive(Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl std::fmt::Debug for DisplayName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DisplayName(..)")
    }
}

impl DisplayName {
    /// Parses a name of 1 to 200 characters.
    ///
    /// # Errors
    /// [`TextError`] when empty, too long or holding control characters.
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        bounded_text(raw, crate::validation::limits::LABEL).map(Self)
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password that satisfies the platform's policy. The value is kept only until it is
/// hashed; `Debug` never shows it.
#[derive(Clone)]
pub struct NewPassword(String);

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(..)")
    }
}

/// Why a new password was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be 12 to 128 characters")]
pub struct PasswordError;

impl NewPassword {
    /// NIST SP 800-63B: length matters, composition rules do not. 12 characters at least, 128 at
    /// most (argon2 cost must not be an attacker's lever).
    ///
    /// # Errors
    /// [`PasswordError`] when too short or too long.
    pub fn parse(raw: &str) -> Result<Self, PasswordError> {
        let count = raw.chars().count();
        if !(12..=128).contains(&count) {
            return Err(PasswordError);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The password, for the hasher only.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// What a user may do. A user holds one or more roles, all fitting their tenant's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Creates tenants and manages reference data.
    PlatformAdmin,
    /// Manages an agency's users, postings, shifts and organisations; reads the audit log.
    AgencyAdmin,
    /// Sees every case of the agency and submits ministry reports.
    Supervisor,
    /// Works cases and referrals.
    CaseManager,
    /// Creates referrals at their own police division.
    PoliceLiaison,
    /// Reads cross-agency aggregates and submitted reports.
    MinistryAnalyst,
    /// Manages a ministry tenant's users (its analysts and admins) and reads its audit log.
    MinistryAdmin,
}

impl Role {
    /// Every role, in a stable order.
    pub const ALL: [Self; 7] = [
        Self::PlatformAdmin,
        Self::AgencyAdmin,
        Self::Supervisor,
        Self::CaseManager,
        Self::PoliceLiaison,
        Self::MinistryAnalyst,
        Self::MinistryAdmin,
    ];

    /// The stored and serialised name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PlatformAdmin => "platform_admin",
            Self::AgencyAdmin => "agency_admin",
            Self::Supervisor => "supervisor",
            Self::CaseManager => "case_manager",
            Self::PoliceLiaison => "police_liaison",
            Self::MinistryAnalyst => "ministry_analyst",
            Self::MinistryAdmin => "ministry_admin",
        }
    }

    /// Parses a role name.
    ///
    /// # Errors
    /// [`UnknownRole`] for any other string.
    pub fn parse(raw: &str) -> Result<Self, UnknownRole> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw).ok_or(UnknownRole)
    }

    /// The tenant kind whose users may hold this role.
    #[must_use]
    pub const fn tenant_kind(self) -> TenantKind {
        match self {
            Self::PlatformAdmin => TenantKind::Platform,
            Self::MinistryAnalyst | Self::MinistryAdmin => TenantKind::Ministry,
            Self::AgencyAdmin | Self::Supervisor | Self::CaseManager | Self::PoliceLiaison => TenantKind::Agency,
        }
    }
}

/// A role name that does not exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "must be one of platform_admin, agency_admin, supervisor, case_manager, police_liaison, ministry_analyst, ministry_admin"
)]
pub struct UnknownRole;

/// A non-empty set of roles that all fit one tenant kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleSet(BTreeSet<Role>);

/// Why a set of roles was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RoleSetError {
    /// No role at all.
    #[error("must name at least one role")]
    Empty,
    /// A name that is not a role.
    #[error(
        "must be one of platform_admin, agency_admin, supervisor, case_manager, police_liaison, ministry_analyst, ministry_admin"
    )]
    Unknown,
    /// A role of another kind of tenant (a ministry analyst in an agency, say).
    #[error("includes a role that a {0} tenant's users cannot hold")]
    WrongTenantKind(&'static str),
}

impl RoleSet {
    /// Parses role names for a user of a tenant of `kind`.
    ///
    /// # Errors
    /// [`RoleSetError`] when empty, unknown or of another tenant kind.
    pub fn parse<S: AsRef<str>>(names: &[S], kind: TenantKind) -> Result<Self, RoleSetError> {
        let mut roles = BTreeSet::new();
        for name in names {
            let role = Role::parse(name.as_ref()).map_err(|_| RoleSetError::Unknown)?;
            if role.tenant_kind() != kind {
                return Err(RoleSetError::WrongTenantKind(kind.as_str()));
            }
            roles.insert(role);
        }
        if roles.is_empty() {
            return Err(RoleSetError::Empty);
        }
        Ok(Self(roles))
    }

    /// A set of one role.
    #[must_use]
    pub fn one(role: Role) -> Self {
        Self(BTreeSet::from([role]))
    }

    /// The set less `role` (possibly empty: a user whose only role waits for confirmation).
    #[must_use]
    pub fn without(&self, role: Role) -> Self {
        let mut roles = self.0.clone();
        roles.remove(&role);
        Self(roles)
    }

    /// True when `role` is in the set.
    #[must_use]
    pub fn contains(&self, role: Role) -> bool {
        self.0.contains(&role)
    }

    /// The roles in a stable order.
    pub fn iter(&self) -> impl Iterator<Item = Role> + '_ {
        self.0.iter().copied()
    }

    /// Stored form: names joined by commas.
    #[must_use]
    pub fn to_storage(&self) -> String {
        self.iter().map(Role::as_str).collect::<Vec<_>>().join(",")
    }

    /// Reads the stored form, skipping names this version does not know (so an older binary
    /// reading a newer row grants less, never more).
    #[must_use]
    pub fn from_storage(stored: &str) -> Self {
        Self(stored.split(',').filter_map(|n| Role::parse(n).ok()).collect())
    }
}

/// What a person is, apart from what they may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Profession {
    /// A case manager by training.
    CaseManager,
    /// A social worker.
    SocialWorker,
    /// A crisis responder.
    CrisisResponder,
    /// A volunteer.
    Volunteer,
    /// Anything else.
    Other,
}

impl Profession {
    /// Every profession.
    pub const ALL: [Self; 5] =
        [Self::CaseManager, Self::SocialWorker, Self::CrisisResponder, Self::Volunteer, Self::Other];

    /// The stored and serialised name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CaseManager => "case_manager",
            Self::SocialWorker => "social_worker",
            Self::CrisisResponder => "crisis_responder",
            Self::Volunteer => "volunteer",
            Self::Other => "other",
        }
    }

    /// Parses a profession name.
    ///
    /// # Errors
    /// [`UnknownProfession`] for any other string.
    pub fn parse(raw: &str) -> Result<Self, UnknownProfession> {
        Self::ALL.into_iter().find(|p| p.as_str() == raw).ok_or(UnknownProfession)
    }
}

/// A profession name that does not exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be one of case_manager, social_worker, crisis_responder, volunteer, other")]
pub struct UnknownProfession;

/// A police liaison works at one division: without it they could refer anywhere.
///
/// # Errors
/// A message when the roles need a division and none is given.
pub fn check_division_requirement(roles: &RoleSet, has_division: bool) -> Result<(), &'static str> {
    if roles.contains(Role::PoliceLiaison) && !has_division {
        return Err("is required for a police_liaison");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(EmailAddress::parse(" Ana@Agency.CA ").map(|e| e.0), Ok("ana@agency.ca".to_owned()));
        for bad in ["", "ana", "ana@", "@agency.ca", "ana@agency", "a b@agency.ca", "ana@.ca", "ana@agency..ca"] {
            assert_eq!(EmailAddress::parse(bad), Err(EmailError), "{bad}");
        }
    }

    #[test]
    fn debug_output_hides_personal_values() {
        let email = EmailAddress::parse("ana@agency.ca").map(|e| format!("{e:?}"));
        assert_eq!(email, Ok("EmailAddress(..)".to_owned()));
        let password = NewPassword::parse("correct horse battery").map(|p| format!("{p:?}"));
        assert_eq!(password, Ok("NewPassword(..)".to_owned()));
    }

    #[test]
    fn passwords_need_twelve_characters() {
        assert!(NewPassword::parse("short").is_err());
        assert!(NewPassword::parse("twelve chars").is_ok());
        assert!(NewPassword::parse(&"x".repeat(129)).is_err());
    }

    #[test]
    fn role_sets_fit_the_tenant_kind() {
        let agency = RoleSet::parse(&["case_manager", "supervisor"], TenantKind::Agency);
        assert_eq!(agency.map(|r| r.to_storage()), Ok("supervisor,case_manager".to_owned()));
        assert_eq!(
            RoleSet::parse(&["ministry_analyst"], TenantKind::Agency),
            Err(RoleSetError::WrongTenantKind("agency"))
        );
        assert_eq!(RoleSet::parse::<&str>(&[], TenantKind::Agency), Err(RoleSetError::Empty));
        assert_eq!(RoleSet::parse(&["boss"], TenantKind::Agency), Err(RoleSetError::Unknown));
    }

    #[test]
    fn stored_roles_never_grant_unknown_names() {
        let roles = RoleSet::from_storage("case_manager,emperor");
        assert_eq!(roles.iter().collect::<Vec<_>>(), vec![Role::CaseManager]);
    }

    #[test]
    fn police_liaisons_need_a_division() {
        let liaison = RoleSet::one(Role::PoliceLiaison);
        assert!(check_division_requirement(&liaison, false).is_err());
        assert!(check_division_requirement(&liaison, true).is_ok());
        assert!(check_division_requirement(&RoleSet::one(Role::CaseManager), false).is_ok());
    }
}
