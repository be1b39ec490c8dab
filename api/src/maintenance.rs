//! Operator commands that change keys: `vcao rotate-master-key`.

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
