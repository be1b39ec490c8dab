//! `serve --demo`: a system that shows itself working. Two agencies and the ministry with their
//! users (passwords handed over once, `bootstrap::reveal_once`), workers posted and on shift at
//! Toronto divisions, referrals in every state, cases with their records, VQRP+ applications,
//! tasks, a pending transfer between the agencies, and a year of closed cases behind the
//! ministry's figures. Everything is obviously synthetic ("Demo Client 17").
//!
//! All of it is written in ONE transaction (moved between the demo tenants with
//! `TenantTx::switch_tenant`, as tenant provisioning and transfers do), so a failure halfway
//! leaves nothing: there is no half demo for the next start to skip, and "demo-agency exists" is
//! a complete marker. The cost is that this transaction holds SQLite's write turn for the few
//! seconds it takes, at start-up, before the service answers anyone.
//!
//! Only `main.rs`'s `serve --demo` calls [`seed_demo`]; it must never run otherwise.
#![expect(
    clippy::disallowed_methods,
    reason = "no one is signed in yet: the demo tenants and their data are made here"
)]

mod casework;
mod history;
mod people;

use std::path::Path;

use domain::authz::Actor;
use infra::Db;
use infra::crypto::Keyring;
use infra::db::begin_tenant_tx_for;
use infra::store::{reference, tenants};

use crate::bootstrap::reveal_once;
use crate::extract::RequestMeta;

/// Where the demo users' generated passwords are written (in the data directory, owner-only).
pub const DEMO_PASSWORDS_FILE: &str = "demo-passwords.txt";

/// How to sign in under the demo's policy, printed with the demo's passwords.
const DEMO_SIGN_IN: &str = "\
How to sign in (POST /api/v1/auth/login {tenant, email, password}):
  - These passwords were made for you, so each user's first sign-in answers `password_change_required: true`
    with a token that can only call POST /api/v1/me/password {current_password, new_password}. Change it,
    then sign in again with the new one.
  - The demo tenants do not require a second factor (a real tenant does unless its creator turns it off:
    PATCH /api/v1/tenants/{id} {mfa_required}). The platform admin always needs one: after changing the
    password, the sign-in answers `mfa_enrolment_required: true`; enrol with POST /api/v1/me/mfa/totp and
    POST /api/v1/me/mfa/totp/confirm {code}, keep the recovery codes, and sign in again with a code
    (POST /api/v1/auth/mfa {mfa_token, code}).
  - casemanager@demo-agency.example is on shift at 51 Division now: a referral the liaison makes there
    reaches them at once (GET /api/v1/events).
";

/// What a seeding did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seeded {
    /// The demo was made now.
    Created,
    /// It existed already; nothing was written.
    AlreadyThere,
}

/// The request metadata of everything the demo writes: the audit log says it was the seeding.
fn meta() -> RequestMeta {
    RequestMeta { request_id: Some("demo-seed".to_owned()), client_ip: None, user_agent: None }
}

/// Seeds the demo once (see the module's header) and hands the passwords over with
/// [`reveal_once`]. Does nothing when `demo-agency` exists.
///
/// # Errors
/// When the database, the hasher or the randomness fails (nothing is left written then), or when
/// the passwords file exists already in `data_dir` (checked first, so no password is lost).
pub async fn seed_demo(db: &Db, keyring: &Keyring, data_dir: &Path) -> anyhow::Result<Seeded> {
    if tenants::find_by_slug(db.global(), people::AGENCY).await.is_ok() {
        println!(
            "Demo tenants already exist ({}, {}, {}); their passwords were written to {} when they were made.",
            people::AGENCY,
            people::NORTH,
            people::MINISTRY,
            data_dir.join(DEMO_PASSWORDS_FILE).display()
        );
        return Ok(Seeded::AlreadyThere);
    }
    let file = data_dir.join(DEMO_PASSWORDS_FILE);
    if file.exists() {
        anyhow::bail!(
            "{} exists but the demo tenants do not (a data directory reused with another database?): move it away and start again",
            file.display()
        );
    }
    let started = std::time::Instant::now();
    let divisions = reference::list_divisions(db.global(), None, None, None, 500).await?;
    let accounts = people::Accounts::generate().await?;
    let mut tx = begin_tenant_tx_for(db, accounts.ids[0]).await?;
    let demo = people::seed(&mut tx, keyring, &accounts, &divisions).await?;
    casework::seed(&mut tx, &demo).await?;
    let rows = history::seed(&mut tx, &demo).await?;
    tx.commit().await?;
    tracing::info!(elapsed_ms = started.elapsed().as_millis(), history_rows = rows, "demo seeded");
    reveal_once(data_dir, DEMO_PASSWORDS_FILE, &accounts.listing(DEMO_SIGN_IN))?;
    Ok(Seeded::Created)
}

/// An actor for a demo user: the stores and the routes' helpers take one for the audit entries.
fn actor(tenant: &people::Tenant, user: &people::User) -> Actor {
    Actor {
        tenant_id: tenant.id,
        tenant_kind: domain::tenant::TenantKind::Agency,
        user_id: user.id,
        roles: domain::user::RoleSet::one(user.role),
        session_id: domain::SessionId::new(),
    }
}
