//! First start and demo data: the platform tenant with its admin, and `serve --demo`'s tenants.
#![expect(clippy::disallowed_methods, reason = "no one is signed in yet: the tenants and admins are made here")]

use domain::TenantId;
use domain::tenant::{TenantKind, TenantName, TenantSlug};
use domain::user::{DisplayName, EmailAddress, NewPassword, Role, RoleSet};
use infra::Db;
use infra::auth::password;
use infra::config::Settings;
use infra::db::begin_tenant_tx_for;
use infra::store::{reference, tenants, users};
use secrecy::ExposeSecret as _;

/// Where a generated platform-admin password is written (in the data directory, owner-only).
pub const BOOTSTRAP_PASSWORD_FILE: &str = "bootstrap-admin-password.txt";

/// Where the demo users' generated passwords are written (in the data directory, owner-only).
pub const DEMO_PASSWORDS_FILE: &str = "demo-passwords.txt";

/// Hands generated credentials to the operator without a log ever holding them. Standard output
/// of a service is usually a log (a container's is kept by the engine for as long as the
/// container), so the text goes to a file only its owner can read (created anew, mode 0600), and
/// to the screen only when standard output is a terminal; otherwise one line says where the file
/// is.
///
/// # Errors
/// When the file exists already or cannot be written.
pub fn reveal_once(data_dir: &std::path::Path, file: &str, text: &str) -> anyhow::Result<()> {
    use std::io::{IsTerminal as _, Write as _};
    let path = data_dir.join(file);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut out = options.open(&path).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?;
    out.write_all(text.as_bytes())?;
    out.sync_all()?;
    if std::io::stdout().is_terminal() {
        println!("\n{text}(also in {}, readable by you only; delete it once noted)\n", path.display());
    } else {
        println!("Generated credentials written to {} (owner-only); read and delete it.", path.display());
    }
    Ok(())
}

/// A password for a generated account: 24 characters from an unambiguous alphabet (~137 bits).
///
/// # Errors
/// When the OS has no randomness.
pub fn generate_password() -> anyhow::Result<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let bytes = infra::auth::random_bytes::<24>()?;
    Ok(bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect())
}

/// Creates the platform tenant and its admin when the database has none. Safe when replicas
/// start together: the loser of the race on the slug finds the tenant there.
///
/// # Errors
/// When the database or the hasher fails.
pub async fn ensure_platform(db: &Db, settings: &Settings) -> anyhow::Result<()> {
    if tenants::find_by_slug(db.global(), "platform").await.is_ok() {
        return Ok(());
    }
    let (password, generated) = match &settings.bootstrap_admin_password {
        Some(p) => (p.expose_secret().to_owned(), false),
        None => (generate_password()?, true),
    };
    let email =
        EmailAddress::parse(&settings.bootstrap_admin_email).map_err(|e| anyhow::anyhow!("bootstrap email: {e}"))?;
    match create_tenant_with_user(
        db,
        "platform",
        "VCAO Platform",
        TenantKind::Platform,
        email,
        "Platform Admin",
        Role::PlatformAdmin,
        &password,
        true,
    )
    .await
    {
        Ok(_) => {}
        Err(e) if tenants::find_by_slug(db.global(), "platform").await.is_ok() => {
            tracing::info!(error = %e, "platform tenant created concurrently by another replica");
            return Ok(());
        }
        Err(e) => return Err(e),
    }
    if generated {
        let text = format!(
            "Platform admin created: tenant `platform`, email {}, password {password}\n(set VCAO_BOOTSTRAP_ADMIN_PASSWORD to choose it)\nThe first sign-in changes this password, the next enrols a second factor (platform admins always need one): see the README, \"First sign-in\".\n",
            settings.bootstrap_admin_email
        );
        reveal_once(&settings.data_dir, BOOTSTRAP_PASSWORD_FILE, &text)?;
    } else {
        tracing::info!("platform admin created from the bootstrap settings");
    }
    Ok(())
}

/// Seeds VQRP+'s rules (`domain::vqrp::seed_rules`) when the database has no version of them yet.
///
/// # Errors
/// When the database fails.
pub async fn ensure_vqrp_rules(db: &Db) -> anyhow::Result<()> {
    infra::store::vqrp::ensure_rules(db.global(), &domain::vqrp::seed_rules()).await?;
    Ok(())
}

#[expect(clippy::too_many_arguments, reason = "a private helper called with literal values")]
async fn create_tenant_with_user(
    db: &Db,
    slug: &str,
    name: &str,
    kind: TenantKind,
    email: EmailAddress,
    display_name: &str,
    role: Role,
    password: &str,
    mfa_required: bool,
) -> anyhow::Result<TenantId> {
    let tenant_id = TenantId::new();
    let slug = TenantSlug::parse(slug).map_err(|e| anyhow::anyhow!("slug: {e}"))?;
    let name = TenantName::parse(name).map_err(|e| anyhow::anyhow!("name: {e}"))?;
    let hash = password::hash(NewPassword::parse(password).map_err(|e| anyhow::anyhow!("password: {e}"))?).await?;
    let tx = begin_tenant_tx_for(db, tenant_id).await?;
    tenants::insert(tx.raw(), tenant_id, &slug, &name, kind, mfa_required).await?;
    users::insert(
        &tx,
        users::NewUser {
            supervisor_requested_by: None,
            email,
            display_name: DisplayName::parse(display_name).map_err(|e| anyhow::anyhow!("name: {e}"))?,
            roles: RoleSet::one(role),
            division_id: None,
            profession: None,
            password_hash: hash,
            // Generated or from the settings: the operator's, not the admin's own.
            password_change_required: true,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(tenant_id)
}

/// The demo tenants' sign-in policy: no second factor, so a newcomer can try every role with a
/// password alone. A real tenant is created requiring one (`POST /tenants`' default).
const DEMO_MFA_REQUIRED: bool = false;

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
";

/// Seeds a demo agency (admin, supervisor, case manager, police liaison at 51 Division) and a demo
/// ministry (analyst), and hands their passwords over once (`reveal_once`). Does nothing if they exist.
///
/// # Errors
/// When the database or the hasher fails.
pub async fn seed_demo(db: &Db, data_dir: &std::path::Path) -> anyhow::Result<()> {
    if tenants::find_by_slug(db.global(), "demo-agency").await.is_ok() {
        println!(
            "Demo tenants already exist (demo-agency, demo-ministry); their passwords were written to {} when they were made.",
            data_dir.join(DEMO_PASSWORDS_FILE).display()
        );
        return Ok(());
    }
    let email = |local: &str, domain: &str| {
        EmailAddress::parse(&format!("{local}@{domain}")).map_err(|e| anyhow::anyhow!("{e}"))
    };
    let mut lines = Vec::new();
    let admin_password = generate_password()?;
    let agency = create_tenant_with_user(
        db,
        "demo-agency",
        "Victim Services Demo Agency",
        TenantKind::Agency,
        email("admin", "demo-agency.example")?,
        "Agency Admin",
        Role::AgencyAdmin,
        &admin_password,
        DEMO_MFA_REQUIRED,
    )
    .await?;
    lines.push(("demo-agency", "admin@demo-agency.example".to_owned(), "agency_admin", admin_password));
    let division = reference::list_divisions(db.global(), None, None, None, 200)
        .await?
        .into_iter()
        .find(|d| d.code == "51")
        .map(|d| d.id);
    let tx = begin_tenant_tx_for(db, agency).await?;
    for (local, name, role) in [
        ("supervisor", "Sam Supervisor", Role::Supervisor),
        ("casemanager", "Casey Manager", Role::CaseManager),
        ("liaison", "Lee Liaison", Role::PoliceLiaison),
    ] {
        let password = generate_password()?;
        let hash = password::hash(NewPassword::parse(&password).map_err(|e| anyhow::anyhow!("{e}"))?).await?;
        users::insert(
            &tx,
            users::NewUser {
                supervisor_requested_by: None,
                email: email(local, "demo-agency.example")?,
                display_name: DisplayName::parse(name).map_err(|e| anyhow::anyhow!("{e}"))?,
                roles: RoleSet::one(role),
                division_id: if role == Role::PoliceLiaison { division } else { None },
                profession: None,
                password_hash: hash,
                password_change_required: true,
            },
        )
        .await?;
        lines.push(("demo-agency", format!("{local}@demo-agency.example"), role.as_str(), password));
    }
    tx.commit().await?;
    let analyst_password = generate_password()?;
    create_tenant_with_user(
        db,
        "demo-ministry",
        "Ministry (demo)",
        TenantKind::Ministry,
        email("analyst", "demo-ministry.example")?,
        "Mina Analyst",
        Role::MinistryAnalyst,
        &analyst_password,
        DEMO_MFA_REQUIRED,
    )
    .await?;
    lines.push(("demo-ministry", "analyst@demo-ministry.example".to_owned(), "ministry_analyst", analyst_password));
    let mut text = String::from("Demo users:\n");
    for (tenant, email, role, password) in lines {
        text.push_str(&format!("  tenant {tenant:<14} {email:<34} {role:<17} {password}\n"));
    }
    text.push_str(DEMO_SIGN_IN);
    reveal_once(data_dir, DEMO_PASSWORDS_FILE, &text)?;
    Ok(())
}
