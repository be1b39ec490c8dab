//! Changing and resetting passwords: who may issue a reset, what a reset code looks like, and
//! when a new password is refused beyond the policy of [`crate::auth::NewPassword`].
//!
//! A reset code is handed from an administrator to a person, often by phone, so it is typed:
//! 16 characters of Crockford's base32 (80 random bits), shown in groups of four. Read back with
//! any case, spacing or hyphens, and with the letters people confuse with digits (O, I, L) taken
//! as those digits. It lives 24 hours, works once, and is stored only as a keyed hash.

use crate::authz::Actor;
use crate::ids::UserId;
use crate::user::{Role, RoleSet};

/// How long a reset code works, in hours.
pub const RESET_CODE_TTL_HOURS: i64 = 24;

/// How many random bytes a reset code holds (80 bits: 16 base32 characters).
pub const RESET_CODE_BYTES: usize = 10;

/// Crockford's base32 alphabet: no I, L, O or U.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The code to show for `bytes`: `XXXX-XXXX-XXXX-XXXX`.
#[must_use]
pub fn format_reset_code(bytes: [u8; RESET_CODE_BYTES]) -> String {
    let mut bits: u128 = 0;
    for byte in bytes {
        bits = (bits << 8) | u128::from(byte);
    }
    let mut out = String::with_capacity(19);
    for i in 0..16 {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        let index = usize::try_from((bits >> (75 - 5 * i)) & 0x1f).unwrap_or(0);
        out.push(char::from(ALPHABET[index]));
    }
    out
}

/// A code as typed, in the one form its hash is taken of (16 characters of the alphabet), or
/// `None` when it cannot be a code.
#[must_use]
pub fn normalize_reset_code(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(16);
    for c in raw.chars() {
        let c = match c.to_ascii_uppercase() {
            ' ' | '-' | '\t' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !ALPHABET.contains(&u8::try_from(c).ok()?) {
            return None;
        }
        out.push(c);
    }
    (out.len() == 16).then_some(out)
}

/// Why a reset may not be issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResetRefused {
    /// Nobody issues a reset for themselves: they change their password while signed in.
    #[error("change your own password with POST /api/v1/me/password")]
    Own,
    /// A case worker's reset (a case manager's or a supervisor's) is issued by a supervisor, not by
    /// an administrator, who could otherwise redeem it, sign in as them and read the restricted
    /// cases assigned to them, which admins may not.
    #[error("a case manager's or supervisor's password is reset by a supervisor of the agency")]
    CaseWorkerByAdmin,
    /// The caller's roles issue no reset for this user.
    #[error(
        "only the tenant's admin (for users who work no cases) or a supervisor (for case managers and supervisors) issues a reset"
    )]
    NotAllowed,
}

/// Whether `actor` may reset `target`'s credentials (issue a password reset code, remove a lost
/// second factor), whose roles (requested `supervisor` included, as it may be confirmed later)
/// are `target_roles`. Whoever could then sign in as the target sees what the target sees, so the
/// one who resets must already see it: a supervisor sees every case, so a supervisor resets case
/// workers; the tenant's admin resets everyone else.
///
/// # Errors
/// [`ResetRefused`].
pub fn may_reset_credentials(actor: &Actor, target: UserId, target_roles: &RoleSet) -> Result<(), ResetRefused> {
    if target == actor.user_id {
        return Err(ResetRefused::Own);
    }
    let works_cases = target_roles.contains(Role::Supervisor) || target_roles.contains(Role::CaseManager);
    if works_cases && actor.has(Role::Supervisor) {
        return Ok(());
    }
    if actor.is_tenant_admin() {
        return if works_cases { Err(ResetRefused::CaseWorkerByAdmin) } else { Ok(()) };
    }
    Err(ResetRefused::NotAllowed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{SessionId, TenantId};
    use crate::tenant::TenantKind;

    fn roles(names: &[&str]) -> RoleSet {
        RoleSet::parse(names, TenantKind::Agency).unwrap_or_else(|e| panic!("{e}"))
    }

    fn actor(names: &[&str]) -> Actor {
        Actor {
            tenant_id: TenantId::from_uuid(uuid::Uuid::nil()),
            tenant_kind: TenantKind::Agency,
            user_id: UserId::from_uuid(uuid::Uuid::from_u128(1)),
            roles: roles(names),
            session_id: SessionId::from_uuid(uuid::Uuid::nil()),
        }
    }

    #[test]
    fn codes_read_back_whatever_their_spacing_case_and_look_alikes() {
        let code = format_reset_code([0xff, 0x00, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0]);
        assert_eq!(code.len(), 19);
        let plain = code.replace('-', "");
        assert_eq!(normalize_reset_code(&code).as_deref(), Some(plain.as_str()));
        assert_eq!(normalize_reset_code(&format!(" {} ", code.to_lowercase())).as_deref(), Some(plain.as_str()));
        assert_eq!(normalize_reset_code("0000 1111 0000 1111"), normalize_reset_code("oooo-IIII-OOOO-llll"));
        assert_eq!(normalize_reset_code("0000-1111-0000-111"), None, "15 characters");
        assert_eq!(normalize_reset_code("0000-1111-0000-111U"), None, "U is not in the alphabet");
        assert_eq!(normalize_reset_code("0000-1111-0000-111é"), None);
    }

    #[test]
    fn different_bytes_make_different_codes() {
        let a = format_reset_code([0; RESET_CODE_BYTES]);
        let b = format_reset_code([0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(a, "0000-0000-0000-0000");
        assert_eq!(b, "0000-0000-0000-0001");
        assert_eq!(format_reset_code([0xff; RESET_CODE_BYTES]), "ZZZZ-ZZZZ-ZZZZ-ZZZZ");
    }

    #[test]
    fn whoever_issues_a_reset_already_sees_what_its_target_sees() {
        let admin = actor(&["agency_admin"]);
        let supervisor = actor(&["supervisor"]);
        let other = UserId::from_uuid(uuid::Uuid::from_u128(2));
        let worker = roles(&["case_manager"]);
        let supervises = roles(&["supervisor", "case_manager"]);
        let staff = roles(&["agency_admin"]);
        let liaison = roles(&["police_liaison"]);
        assert_eq!(may_reset_credentials(&admin, other, &worker), Err(ResetRefused::CaseWorkerByAdmin));
        assert_eq!(may_reset_credentials(&admin, other, &supervises), Err(ResetRefused::CaseWorkerByAdmin));
        assert_eq!(may_reset_credentials(&admin, other, &staff), Ok(()));
        assert_eq!(may_reset_credentials(&admin, other, &liaison), Ok(()));
        assert_eq!(may_reset_credentials(&supervisor, other, &supervises), Ok(()));
        assert_eq!(may_reset_credentials(&supervisor, other, &worker), Ok(()));
        assert_eq!(may_reset_credentials(&supervisor, other, &liaison), Err(ResetRefused::NotAllowed));
        assert_eq!(may_reset_credentials(&admin, admin.user_id, &staff), Err(ResetRefused::Own));
        assert_eq!(may_reset_credentials(&actor(&["case_manager"]), other, &liaison), Err(ResetRefused::NotAllowed));
    }
}
