//! The audit log's hash chain.
//!
//! Requests only append events; a sealer then links them, in the order it finds them, into a
//! per-tenant chain: `hash(n) = SHA-256(hash(n-1) ‖ n ‖ canonical(event n))`. Sealing behind the
//! requests keeps a tenant's writes from queueing on one chain head, and any later edit, deletion
//! or reordering of a sealed event breaks the chain at that link.

use sha2::{Digest, Sha256};

/// The hash before the first link.
pub const GENESIS: [u8; 32] = [0; 32];

/// Names of audited actions, stable because auditors search by them.
pub mod actions {
    /// A successful sign-in.
    pub const LOGIN_SUCCEEDED: &str = "auth.login_succeeded";
    /// A failed sign-in (wrong password, unknown account, inactive user or throttled).
    pub const LOGIN_FAILED: &str = "auth.login_failed";
    /// A refresh token was presented twice; its family was revoked.
    pub const REFRESH_REUSED: &str = "auth.refresh_reused";
    /// A sign-out.
    pub const LOGOUT: &str = "auth.logout";
    /// A tenant was created (recorded in the platform's log and the new tenant's).
    pub const TENANT_CREATED: &str = "tenant.created";
    /// A tenant's sign-in policy (`mfa_required`) was changed.
    pub const TENANT_POLICY_CHANGED: &str = "tenant.policy_changed";
    /// A user was created.
    pub const USER_CREATED: &str = "user.created";
    /// A user was changed.
    pub const USER_UPDATED: &str = "user.updated";
    /// A second person confirmed a grant of `supervisor` (`domain::grants`).
    pub const USER_ROLE_CONFIRMED: &str = "user.role_confirmed";
    /// A user changed their own password (every other session ended).
    pub const PASSWORD_CHANGED: &str = "user.password_changed";
    /// A password reset code was issued for a user (the code itself is never recorded).
    pub const PASSWORD_RESET_ISSUED: &str = "user.password_reset_issued";
    /// A reset code was redeemed and the password replaced (every session ended).
    pub const PASSWORD_RESET: &str = "user.password_reset";
    /// A sign-in's password was right and it waits for the second factor.
    pub const MFA_CHALLENGED: &str = "auth.mfa_challenged";
    /// A second factor was refused (a wrong, replayed or spent code).
    pub const MFA_FAILED: &str = "auth.mfa_failed";
    /// A user confirmed an authenticator (recovery codes issued).
    pub const MFA_ENROLLED: &str = "user.mfa_enrolled";
    /// A user removed their authenticator.
    pub const MFA_REMOVED: &str = "user.mfa_removed";
    /// A user ended one of their own sessions.
    pub const SESSION_ENDED: &str = "auth.session_ended";
    /// An admin ended every session of a user.
    pub const USER_SESSIONS_ENDED: &str = "user.sessions_ended";
    /// A reset code was refused (unknown, used, expired or wrong for this account).
    pub const PASSWORD_RESET_FAILED: &str = "auth.password_reset_failed";
    /// A police service was created.
    pub const POLICE_SERVICE_CREATED: &str = "police_service.created";
    /// A police division was created.
    pub const POLICE_DIVISION_CREATED: &str = "police_division.created";
    /// A program was created.
    pub const PROGRAM_CREATED: &str = "program.created";
    /// A community organisation was created.
    pub const ORGANIZATION_CREATED: &str = "organization.created";
    /// A client was created.
    pub const CLIENT_CREATED: &str = "client.created";
    /// A client's details were read (directly or as a search result).
    pub const CLIENT_READ: &str = "client.read";
    /// A client's details were changed.
    pub const CLIENT_UPDATED: &str = "client.updated";
    /// A case was opened.
    pub const CASE_CREATED: &str = "case.created";
    /// A case (or a record on it) was read.
    pub const CASE_READ: &str = "case.read";
    /// A case was changed (fields, status, or a record added).
    pub const CASE_UPDATED: &str = "case.updated";
    /// A case was closed.
    pub const CASE_CLOSED: &str = "case.closed";
    /// A case was reopened.
    pub const CASE_REOPENED: &str = "case.reopened";
    /// A quarterly report was drafted.
    pub const REPORT_DRAFTED: &str = "report.drafted";
    /// A quarterly report was submitted and its figures frozen.
    pub const REPORT_SUBMITTED: &str = "report.submitted";
    /// The ministry accepted a report (in the ministry's log).
    pub const REPORT_ACCEPTED: &str = "report.accepted";
    /// The ministry returned a report (in the ministry's log).
    pub const REPORT_RETURNED: &str = "report.returned";
    /// A task was made: by a person, or by the platform with the change that requires it.
    pub const TASK_CREATED: &str = "task.created";
    /// A task was changed (reassigned, its deadline moved, retitled).
    pub const TASK_UPDATED: &str = "task.updated";
    /// A task was completed: by a person, or by the platform when its reason went away.
    pub const TASK_COMPLETED: &str = "task.completed";
    /// A completed task was reopened.
    pub const TASK_REOPENED: &str = "task.reopened";
    /// A task (or a list holding it) was read.
    pub const TASK_READ: &str = "task.read";
    /// An overdue task was announced to its assignee.
    pub const TASK_OVERDUE_ANNOUNCED: &str = "task.overdue_announced";
    /// A task still overdue past the grace was announced to the supervisors.
    pub const TASK_OVERDUE_ESCALATED: &str = "task.overdue_escalated";
    /// A case was sent to another agency (in the sender's log, on the case).
    pub const TRANSFER_SENT: &str = "transfer.sent";
    /// Another agency sent a case (in the receiver's log; no person is named, the sender's
    /// agency is).
    pub const TRANSFER_RECEIVED: &str = "transfer.received";
    /// The receiver accepted a transfer and opened its client and case (in both logs).
    pub const TRANSFER_ACCEPTED: &str = "transfer.accepted";
    /// The receiver declined a transfer (in both logs).
    pub const TRANSFER_DECLINED: &str = "transfer.declined";
    /// The sender withdrew a pending transfer (in both logs).
    pub const TRANSFER_WITHDRAWN: &str = "transfer.withdrawn";
    /// A transfer was read (its payload is a person's record).
    pub const TRANSFER_READ: &str = "transfer.read";
    /// A create's stored answer was sent again for a retry with the same `Idempotency-Key`: it
    /// shows what the first answer showed, so it is audited as a read of the same record.
    pub const REQUEST_REPLAYED: &str = "request.replayed";
}

/// The fields of one audit event that the chain protects. Ids and names only: never personal
/// information, so the log itself can be shown to an auditor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    /// The event's id (UUID v7, as text).
    pub id: String,
    /// When it happened, RFC 3339 with microseconds, UTC.
    pub occurred_at: String,
    /// Who did it, if anyone signed in.
    pub actor_id: Option<String>,
    /// What was done (see [`actions`]).
    pub action: String,
    /// The kind of record it was done to.
    pub resource_type: String,
    /// The record, if one.
    pub resource_id: Option<String>,
    /// The client address it came from.
    pub client_ip: Option<String>,
    /// The request that did it.
    pub request_id: Option<String>,
    /// Extra, non-personal detail as compact JSON.
    pub details: String,
}

impl AuditRecord {
    /// An unambiguous byte form: each field length-prefixed, absent fields marked, so no two
    /// different records can share a form.
    #[must_use]
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        let fields: [Option<&str>; 9] = [
            Some(&self.id),
            Some(&self.occurred_at),
            self.actor_id.as_deref(),
            Some(&self.action),
            Some(&self.resource_type),
            self.resource_id.as_deref(),
            self.client_ip.as_deref(),
            self.request_id.as_deref(),
            Some(&self.details),
        ];
        for field in fields {
            match field {
                None => out.push(0),
                Some(text) => {
                    out.push(1);
                    out.extend_from_slice(&(text.len() as u64).to_be_bytes());
                    out.extend_from_slice(text.as_bytes());
                }
            }
        }
        out
    }
}

/// The hash of link `seq` (1-based) that follows `previous`.
#[must_use]
pub fn link_hash(previous: &[u8; 32], seq: u64, record: &AuditRecord) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(previous);
    hasher.update(seq.to_be_bytes());
    hasher.update(record.canonical_bytes());
    hasher.finalize().into()
}

/// One sealed link as stored: its number, the hash recorded for it and the event it seals
/// (`None` when the event row is gone).
#[derive(Clone, Debug)]
pub struct StoredLink {
    /// 1-based position in the chain.
    pub seq: u64,
    /// The hash the sealer recorded.
    pub hash: Vec<u8>,
    /// The event as it reads now.
    pub record: Option<AuditRecord>,
}

/// Where a chain stops being trustworthy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Break {
    /// The first link that does not verify.
    pub seq: u64,
    /// The event it should seal, when known.
    pub event_id: Option<String>,
    /// Why.
    pub reason: BreakReason,
}

/// Why a link does not verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakReason {
    /// The event reads differently from when it was sealed.
    Altered,
    /// The sealed event is gone.
    Missing,
    /// A link number is skipped or repeated.
    OutOfSequence,
}

impl BreakReason {
    /// A stable name for the API.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Altered => "altered",
            Self::Missing => "missing",
            Self::OutOfSequence => "out_of_sequence",
        }
    }
}

/// Walks links in order from `previous` (the hash before `expected_seq`), returning the hash of the
/// last good link, or the first break.
///
/// # Errors
/// The first [`Break`] found.
pub fn verify_links<'a>(
    previous: [u8; 32],
    expected_seq: u64,
    links: impl IntoIterator<Item = &'a StoredLink>,
) -> Result<[u8; 32], Break> {
    let mut previous = previous;
    for (expected, link) in (expected_seq..).zip(links) {
        let event_id = link.record.as_ref().map(|r| r.id.clone());
        if link.seq != expected {
            return Err(Break { seq: expected, event_id, reason: BreakReason::OutOfSequence });
        }
        let Some(record) = &link.record else {
            return Err(Break { seq: link.seq, event_id, reason: BreakReason::Missing });
        };
        let hash = link_hash(&previous, link.seq, record);
        if hash.as_slice() != link.hash.as_slice() {
            return Err(Break { seq: link.seq, event_id, reason: BreakReason::Altered });
        }
        previous = hash;
    }
    Ok(previous)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: u32) -> AuditRecord {
        AuditRecord {
            id: format!("id-{n}"),
            occurred_at: "2026-11-28T00:00:00.000000Z".to_owned(),
            actor_id: Some("actor".to_owned()),
            action: actions::USER_CREATED.to_owned(),
            resource_type: "user".to_owned(),
            resource_id: None,
            client_ip: Some("127.0.0.1".to_owned()),
            request_id: None,
            details: "{}".to_owned(),
        }
    }

    fn chain(n: u32) -> Vec<StoredLink> {
        let mut previous = GENESIS;
        (1..=n)
            .map(|i| {
                let rec = record(i);
                let hash = link_hash(&previous, u64::from(i), &rec);
                previous = hash;
                StoredLink { seq: u64::from(i), hash: hash.to_vec(), record: Some(rec) }
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert!(verify_links(GENESIS, 1, &chain(5)).is_ok());
    }

    #[test]
    fn an_edit_breaks_the_chain_at_that_link() {
        let mut links = chain(5);
        if let Some(rec) = links[2].record.as_mut() {
            rec.action = "user.deleted".to_owned();
        }
        let broken = verify_links(GENESIS, 1, &links).err();
        assert_eq!(broken.map(|b| (b.seq, b.reason)), Some((3, BreakReason::Altered)));
    }

    #[test]
    fn a_deleted_event_or_link_is_found() {
        let mut links = chain(5);
        links[1].record = None;
        let broken = verify_links(GENESIS, 1, &links).err();
        assert_eq!(broken.map(|b| (b.seq, b.reason)), Some((2, BreakReason::Missing)));

        let mut links = chain(5);
        links.remove(3);
        let broken = verify_links(GENESIS, 1, &links).err();
        assert_eq!(broken.map(|b| (b.seq, b.reason)), Some((4, BreakReason::OutOfSequence)));
    }

    #[test]
    fn absent_and_empty_fields_hash_differently() {
        let mut a = record(1);
        let mut b = record(1);
        a.resource_id = None;
        b.resource_id = Some(String::new());
        assert_ne!(a.canonical_bytes(), b.canonical_bytes());
    }
}
