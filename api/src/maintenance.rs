//! Operator commands: `vcao rotate-master-key`, `vcao add-platform-admin` (the way back in), and
//! `vcao confirm-supervisor`, the operator's
//! confirmation of an agency's first supervisor (`domain::grants`).

use infra::Db;
use infra::config::Settings;
use infra::crypto::{Keyring, MasterKey};
use infra::store::tenant_keys::{self, Rewrapped};

/// Re-wraps every tenant's data key under the current master key.
///
/// - With `VCAO_MASTER_KEY` set: it is the new key, and `VCAO_PREVIOUS_MASTER_KEY` must name the
///   old one. Afterwards, remove `VCAO_PREVIOUS_MASTER_KEY` from every replica.
/// - With the generated development key: a new key is made, the old one kept as
///   `master.key.previous` until every tenant key is re-wrapped, then removed.
///
/// Personal data rows are not touched: their data keys do not change, only how they are wrapped.
///
/// # Errors
/// When the database or a key cannot be used.
pub async fn rotate_master_key(settings: &Settings) -> anyhow::Result<Rewrapped> {
    let db = Db::open(settings).await?;
    let report = if settings.master_key.is_some() {
        if settings.previous_master_key.is_none() {
            anyhow::bail!("set VCAO_PREVIOUS_MASTER_KEY to the key being replaced (VCAO_MASTER_KEY is the new one)");
        }
        let (keyring, _) = settings.keyring()?;
        tenant_keys::rewrap_all(&db, &keyring).await?
    } else {
        let old = MasterKey::load_or_generate_dev(&settings.data_dir)?;
        // A rotation interrupted earlier left its new key current and the old one as previous.
        let previous = MasterKey::load_previous_dev(&settings.data_dir)?;
        let (current, previous) = match previous {
            Some(previous) => (old, previous),
            None => (MasterKey::generate()?, old),
        };
        MasterKey::store_dev(&settings.data_dir, &current, Some(&previous))?;
        let keyring = Keyring::new(current.clone(), Some(previous));
        let report = tenant_keys::rewrap_all(&db, &keyring).await?;
        if report.unknown_master.is_empty() {
            MasterKey::store_dev(&settings.data_dir, &current, None)?;
        }
        report
    };
    db.close().await?;
    Ok(report)
}

/// Confirms the `supervisor` grant an agency admin requested for `email` at the tenant `slug`: the
/// second person for an agency with no supervisor yet to confirm it. Audited in the tenant, with
/// no actor and `confirmed_by: operator`; ends the user's sessions.
///
/// # Errors
/// When the tenant or user is unknown, nothing waits for confirmation, or the database fails.
pub async fn confirm_supervisor(settings: &Settings, slug: &str, email: &str) -> anyhow::Result<()> {
    let db = Db::open(settings).await?;
    let confirmed = confirm_supervisor_in(&db, slug, email).await;
    db.close().await?;
    confirmed
}

/// [`confirm_supervisor`] on an open database.
///
/// # Errors
/// As [`confirm_supervisor`].
#[expect(clippy::disallowed_methods, reason = "an operator command, for no signed-in caller")]
pub async fn confirm_supervisor_in(db: &Db, slug: &str, email: &str) -> anyhow::Result<()> {
    use infra::store::{audit, sessions, tenants, users};
    let email = domain::user::EmailAddress::parse(email).map_err(|e| anyhow::anyhow!("email: {e}"))?;
    let tenant = tenants::find_by_slug(db.global(), &domain::auth::canonical_slug(slug))
        .await
        .map_err(|e| anyhow::anyhow!("tenant {slug}: {e}"))?;
    let tx = infra::db::begin_tenant_tx_for(db, tenant.id).await?;
    let (user, _) = users::find_credentials(&tx, &email).await.map_err(|e| anyhow::anyhow!("user: {e}"))?;
    let requested_by = user.grants.requested_by;
    let confirmed = domain::grants::confirm_supervisor_by_operator(&user.grants)
        .map_err(|e| anyhow::anyhow!("{e}; an agency admin requests it first"))?;
    let changes = users::UserChanges { roles: Some(confirmed), ..users::UserChanges::default() };
    let updated = users::update(&tx, user.id, user.version, changes).await?;
    let ended = sessions::revoke_all_for_user(&tx, user.id, "user_changed").await?;
    let details = serde_json::json!({
        "role": "supervisor",
        "requested_by": requested_by,
        "confirmed_by": "operator",
        "version": updated.version,
        "sessions_ended": ended.len(),
    });
    let event = audit::AuditEntry {
        actor_id: None,
        action: domain::audit::actions::USER_ROLE_CONFIRMED,
        resource_type: "user",
        resource_id: Some(user.id.as_uuid()),
        client_ip: None,
        request_id: None,
        details,
    };
    audit::record(&tx, event).await?;
    tx.commit().await?;
    Ok(())
}

/// Adds a platform admin with a generated password, handed over once (`bootstrap::reveal_once`,
/// to `platform-admin-<email>.txt` in the data directory): the way back in for an operator whose
/// platform admins have all lost their second factor and recovery codes (one platform admin
/// removes another's, `DELETE /users/{id}/mfa`, but nobody their own). Like every account, it
/// changes its password at first sign-in, then enrols a factor. Audited in the platform's log with
/// no actor and `added_by: operator`.
///
/// # Errors
/// When the email is taken or invalid, or the database or the hasher fails.
pub async fn add_platform_admin(settings: &Settings, email: &str) -> anyhow::Result<()> {
    let db = Db::open(settings).await?;
    let password = crate::bootstrap::generate_password()?;
    let added = add_platform_admin_in(&db, email, &password).await;
    db.close().await?;
    added?;
    let file = format!("platform-admin-{}.txt", email.replace(['/', '\\'], "_"));
    let text = format!("Platform admin added: tenant `platform`, email {email}, password {password}\n");
    crate::bootstrap::reveal_once(&settings.data_dir, &file, &text)
}

/// [`add_platform_admin`] on an open database, with the password given.
///
/// # Errors
/// As [`add_platform_admin`].
#[expect(clippy::disallowed_methods, reason = "an operator command, for no signed-in caller")]
pub async fn add_platform_admin_in(db: &Db, email: &str, password: &str) -> anyhow::Result<domain::UserId> {
    use domain::user::{DisplayName, EmailAddress, NewPassword, Role, RoleSet};
    use infra::store::{audit, tenants, users};
    let email = EmailAddress::parse(email).map_err(|e| anyhow::anyhow!("email: {e}"))?;
    let password = NewPassword::parse(password).map_err(|e| anyhow::anyhow!("password: {e}"))?;
    let hash = infra::auth::password::hash(password).await?;
    let platform =
        tenants::find_by_slug(db.global(), "platform").await.map_err(|e| anyhow::anyhow!("platform: {e}"))?;
    let tx = infra::db::begin_tenant_tx_for(db, platform.id).await?;
    let new = users::NewUser {
        email,
        display_name: DisplayName::parse("Platform Admin").map_err(|e| anyhow::anyhow!("{e}"))?,
        roles: RoleSet::one(Role::PlatformAdmin),
        supervisor_requested_by: None,
        division_id: None,
        profession: None,
        password_hash: hash,
        password_change_required: true,
    };
    let user = users::insert(&tx, new).await.map_err(|e| anyhow::anyhow!("user: {e}"))?;
    let event = audit::AuditEntry {
        actor_id: None,
        action: domain::audit::actions::USER_CREATED,
        resource_type: "user",
        resource_id: Some(user.id.as_uuid()),
        client_ip: None,
        request_id: None,
        details: serde_json::json!({ "roles": ["platform_admin"], "added_by": "operator" }),
    };
    audit::record(&tx, event).await?;
    tx.commit().await?;
    Ok(user.id)
}
