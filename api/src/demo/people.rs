//! The demo's tenants and people: `demo-agency` (as the README names it: admin, supervisor, case
//! manager, liaison at 51 Division), `demo-north` (admin, supervisor, case manager) and
//! `demo-ministry` (analyst); their data keys and programs; workers posted at Toronto divisions
//! with shifts covering the present, so a referral made at 51 now reaches the case manager.

use std::sync::Arc;

use chrono::Duration;
use domain::tenant::{TenantKind, TenantName, TenantSlug};
use domain::user::{DisplayName, EmailAddress, NewPassword, Role, RoleSet};
use domain::{TenantId, UserId};
use infra::TenantTx;
use infra::auth::password;
use infra::crypto::{Keyring, TenantCipher};
use infra::store::programs::{self, Program};
use infra::store::reference::PoliceDivision;
use infra::store::{embedding, tenant_keys, tenants, users};

use crate::bootstrap::generate_password;

/// The demo agency the README walks through.
pub const AGENCY: &str = "demo-agency";
/// The second agency, which receives a transfer.
pub const NORTH: &str = "demo-north";
/// The demo ministry.
pub const MINISTRY: &str = "demo-ministry";

/// The demo tenants' sign-in policy: no second factor, so a newcomer can try every role with a
/// password alone. A real tenant is created requiring one (`POST /tenants`' default).
const DEMO_MFA_REQUIRED: bool = false;

/// One demo account, with its password until it is handed over.
struct Account {
    tenant: &'static str,
    local: &'static str,
    name: &'static str,
    role: Role,
    password: String,
    hash: String,
}

/// Every demo account, hashed before the seeding's transaction opens (argon2 is slow on purpose;
/// no lock should wait for it), and the tenants' ids, chosen now.
pub struct Accounts {
    list: Vec<Account>,
    /// `demo-agency`, `demo-north`, `demo-ministry`.
    pub ids: [TenantId; 3],
}

const PEOPLE: [(&str, &str, &str, Role); 8] = [
    (AGENCY, "admin", "Agency Admin", Role::AgencyAdmin),
    (AGENCY, "supervisor", "Sam Supervisor", Role::Supervisor),
    (AGENCY, "casemanager", "Casey Manager", Role::CaseManager),
    (AGENCY, "liaison", "Lee Liaison", Role::PoliceLiaison),
    (NORTH, "admin", "North Admin", Role::AgencyAdmin),
    (NORTH, "supervisor", "Noor Supervisor", Role::Supervisor),
    (NORTH, "casemanager", "Nico Manager", Role::CaseManager),
    (MINISTRY, "analyst", "Mina Analyst", Role::MinistryAnalyst),
];

impl Accounts {
    /// Generates and hashes every password.
    ///
    /// # Errors
    /// When the OS has no randomness or the hasher fails.
    pub async fn generate() -> anyhow::Result<Self> {
        let mut list = Vec::new();
        for (tenant, local, name, role) in PEOPLE {
            let password = generate_password()?;
            let hash = password::hash(NewPassword::parse(&password).map_err(|e| anyhow::anyhow!("{e}"))?).await?;
            list.push(Account { tenant, local, name, role, password, hash });
        }
        Ok(Self { list, ids: [TenantId::new(), TenantId::new(), TenantId::new()] })
    }

    /// The text handed to the operator: one line per account, then `footer`.
    pub fn listing(&self, footer: &str) -> String {
        let mut text = String::from("Demo users:\n");
        for a in &self.list {
            let email = format!("{}@{}.example", a.local, a.tenant);
            text.push_str(&format!("  tenant {:<14} {email:<34} {:<17} {}\n", a.tenant, a.role.as_str(), a.password));
        }
        text.push_str(footer);
        text
    }
}

/// A demo user.
#[derive(Clone, Debug)]
pub struct User {
    pub id: UserId,
    pub role: Role,
}

/// A demo agency as seeded.
pub struct Tenant {
    pub id: TenantId,
    pub cipher: Arc<TenantCipher>,
    users: Vec<User>,
    /// Its programs, the first being the one most work is filed under.
    pub programs: Vec<Program>,
}

impl Tenant {
    /// The agency's (first) user with `role`.
    ///
    /// # Errors
    /// When it has none (a bug in [`PEOPLE`]).
    pub fn user(&self, role: Role) -> anyhow::Result<&User> {
        self.users.iter().find(|u| u.role == role).ok_or_else(|| anyhow::anyhow!("demo tenant has no {role:?}"))
    }
}

/// Toronto divisions the demo uses (reference data seeded by the migrations).
pub struct Divisions {
    pub d51: PoliceDivision,
    pub d14: PoliceDivision,
    pub d52: PoliceDivision,
}

/// Everything the later stages write against.
pub struct Demo {
    pub agency: Tenant,
    pub north: Tenant,
    pub divisions: Divisions,
}

fn division(all: &[PoliceDivision], code: &str) -> anyhow::Result<PoliceDivision> {
    all.iter()
        .find(|d| d.code == code)
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no police division {code} in the reference data"))
}

/// Makes the three tenants, their users and keys, the agencies' programs, postings and shifts.
/// `tx` starts in (and ends back in) `demo-agency`'s scope.
///
/// # Errors
/// When the database fails.
pub async fn seed(
    tx: &mut TenantTx,
    keyring: &Keyring,
    accounts: &Accounts,
    all_divisions: &[PoliceDivision],
) -> anyhow::Result<Demo> {
    let divisions = Divisions {
        d51: division(all_divisions, "51")?,
        d14: division(all_divisions, "14")?,
        d52: division(all_divisions, "52")?,
    };
    let [agency_id, north_id, ministry_id] = accounts.ids;
    let tenants_to_make = [
        (MINISTRY, ministry_id, "Ministry (demo)", TenantKind::Ministry),
        (NORTH, north_id, "Victim Services North (demo)", TenantKind::Agency),
        // Last, so the transaction ends in the scope it began in.
        (AGENCY, agency_id, "Victim Services Demo Agency", TenantKind::Agency),
    ];
    let mut made = Vec::new();
    for (slug, id, name, kind) in tenants_to_make {
        tx.switch_tenant(id).await?;
        let slug_parsed = TenantSlug::parse(slug).map_err(|e| anyhow::anyhow!("slug: {e}"))?;
        let name = TenantName::parse(name).map_err(|e| anyhow::anyhow!("name: {e}"))?;
        tenants::insert(tx.raw(), id, &slug_parsed, &name, kind, DEMO_MFA_REQUIRED).await?;
        let mut users_made = Vec::new();
        for a in accounts.list.iter().filter(|a| a.tenant == slug) {
            let user = users::insert(
                tx,
                users::NewUser {
                    supervisor_requested_by: None,
                    email: EmailAddress::parse(&format!("{}@{}.example", a.local, a.tenant))
                        .map_err(|e| anyhow::anyhow!("{e}"))?,
                    display_name: DisplayName::parse(a.name).map_err(|e| anyhow::anyhow!("{e}"))?,
                    roles: RoleSet::one(a.role),
                    division_id: (a.role == Role::PoliceLiaison).then_some(divisions.d51.id),
                    profession: None,
                    password_hash: a.hash.clone(),
                    // Generated here: the operator's, not the user's own.
                    password_change_required: true,
                },
            )
            .await?;
            users_made.push(User { id: user.id, role: a.role });
        }
        if kind == TenantKind::Agency {
            let cipher = tenant_keys::create_in(tx, keyring, id).await?;
            made.push(Tenant { id, cipher, users: users_made, programs: Vec::new() });
        }
    }
    let (Some(mut agency), Some(mut north)) = (made.pop(), made.pop()) else {
        anyhow::bail!("demo agencies not made");
    };
    // demo-agency (in scope now): Exit Route at 51 and 52.
    for (code, name) in [("exit-route", "Exit Route"), ("vqrp-plus", "VQRP+")] {
        agency.programs.push(programs::insert(tx, code.to_owned(), name.to_owned(), Some("MCCSS".to_owned())).await?);
    }
    let case_manager = agency.user(Role::CaseManager)?.id;
    let supervisor = agency.user(Role::Supervisor)?.id;
    post_on_shift(tx, case_manager, &divisions.d51).await?;
    post_on_shift(tx, supervisor, &divisions.d52).await?;
    tx.switch_tenant(north.id).await?;
    north.programs.push(programs::insert(tx, "general".to_owned(), "General".to_owned(), None).await?);
    let case_manager = north.user(Role::CaseManager)?.id;
    let supervisor = north.user(Role::Supervisor)?.id;
    post_on_shift(tx, case_manager, &divisions.d14).await?;
    post_on_shift(tx, supervisor, &divisions.d52).await?;
    tx.switch_tenant(agency.id).await?;
    Ok(Demo { agency, north, divisions })
}

/// Posts `worker` at `division` (from a month ago, open-ended) with a shift from two hours ago
/// to ten hours from now: on duty when the newcomer tries it.
async fn post_on_shift(tx: &TenantTx, worker: UserId, division: &PoliceDivision) -> anyhow::Result<()> {
    let now = infra::db::now();
    let today = domain::reporting::ontario_date(now);
    embedding::insert_posting(tx, worker, division.id, today - Duration::days(30), None).await?;
    embedding::insert_shift(tx, worker, division.id, now - Duration::hours(2), now + Duration::hours(10)).await?;
    Ok(())
}
