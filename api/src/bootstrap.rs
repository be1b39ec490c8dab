//! First start: the platform tenant with its admin, and the credential hand-over `crate::demo` shares.
#![expect(clippy::disallowed_methods, reason = "no one is signed in yet: the tenants and admins are made here")]

use domain::TenantId;
use domain::tenant::{TenantKind, TenantName, TenantSlug};
use domain::user::{DisplayName, EmailAddress, NewPassword, Role, RoleSet};
use infra::Db;
use infra::auth::password;
use infra::config::Settings;
use infra::db::begin_tenant_tx_for;
use infra::store::{tenants, users};
use secrecy::ExposeSecret as _;

/// Where a generated platform-admin password is written (in the data directory, owner-only).
pub const BOOTSTRAP_PASSWORD_FILE: &str = "bootstrap-admin-password.txt";

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
