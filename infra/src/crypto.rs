//! Encryption of personal fields at rest.
//!
//! - A **master key** (`VCAO_MASTER_KEY`, 32 bytes base64; a generated development key in the data
//!   directory otherwise, with a loud warning) only wraps tenant keys; it never touches a row.
//! - Each tenant has a **data key**, stored wrapped (AES-256-GCM) in `tenant_keys`. From it two
//!   keys are derived: one encrypts fields (AES-256-GCM, random 96-bit nonce), one computes blind
//!   indexes (HMAC-SHA-256) for exact search without decrypting rows.
//! - Every ciphertext is bound to its tenant, table column and row through the AEAD's associated
//!   data, so a value copied into another row or tenant does not decrypt.
//! - Rotating the master key re-wraps the tenant keys; rows are not touched.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use domain::TenantId;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::auth::random_bytes;

/// Something went wrong with keys or ciphertexts. Never carries the plaintext.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// A key is not 32 bytes of base64.
    #[error("key: {0}")]
    Key(&'static str),
    /// A ciphertext did not authenticate (wrong key, wrong place, or tampered).
    #[error("ciphertext does not authenticate")]
    Open,
    /// Encryption failed.
    #[error("encryption failed")]
    Seal,
    /// A wrapped tenant key names a master key this process does not hold.
    #[error("tenant key is wrapped by master key {0}, which is not configured")]
    UnknownMaster(String),
    /// No randomness.
    #[error("no randomness")]
    Random,
    /// Reading or writing the development key file failed.
    #[error("master key file: {0}")]
    Io(#[from] std::io::Error),
}

/// A master key and its public id (the first 8 bytes of its SHA-256, in hex).
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    key: [u8; 32],
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey").field("id", &self.id).finish_non_exhaustive()
    }
}

impl MasterKey {
    /// Reads 32 bytes of standard base64.
    ///
    /// # Errors
    /// [`CryptoError::Key`] otherwise.
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| CryptoError::Key("not base64"))?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::Key("must decode to 32 bytes"))?;
        Ok(Self::from_bytes(key))
    }

    fn from_bytes(key: [u8; 32]) -> Self {
        let id = hex::encode(&Sha256::digest(key)[..8]);
        Self { id, key }
    }

    /// A new random key.
    ///
    /// # Errors
    /// [`CryptoError::Random`].
    pub fn generate() -> Result<Self, CryptoError> {
        random_bytes::<32>().map(Self::from_bytes).map_err(|_| CryptoError::Random)
    }

    /// The key as base64, to hand to an operator once.
    #[must_use]
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.key)
    }

    /// The public id stored beside each wrapped tenant key.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A keyed pseudonym of `value` for `purpose` (128 bits, hex): the same on every replica that
    /// holds this master key, and not computable without it, so a list of likely emails or
    /// addresses cannot be hashed to find one. For keys kept outside the database that must not
    /// hold personal data (the failed-login counters in Redis). A new master key gives new
    /// pseudonyms.
    ///
    /// # Errors
    /// [`CryptoError::Key`] if the keyed hash cannot be made (it takes any key length).
    pub fn pseudonym(&self, purpose: &[u8], value: &str) -> Result<String, CryptoError> {
        let key = derive(&self.key, purpose)?;
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).map_err(|_| CryptoError::Key("hmac"))?;
        mac.update(value.as_bytes());
        Ok(hex::encode(&mac.finalize().into_bytes()[..16]))
    }

    /// Loads the development key from `data_dir/master.key`, creating it (mode 0600) if missing.
    ///
    /// # Errors
    /// [`CryptoError`] when the file cannot be read or written or holds no valid key.
    pub fn load_or_generate_dev(data_dir: &Path) -> Result<Self, CryptoError> {
        let path = data_dir.join("master.key");
        if path.exists() {
            return Self::from_base64(&std::fs::read_to_string(&path)?);
        }
        let key = Self::generate()?;
        write_private(&path, &key.to_base64())?;
        Ok(key)
    }

    /// Replaces the development key file (used by `vcao rotate-master-key`), keeping the old one
    /// as `master.key.previous` until every tenant key is re-wrapped.
    ///
    /// # Errors
    /// [`CryptoError::Io`].
    pub fn store_dev(data_dir: &Path, current: &Self, previous: Option<&Self>) -> Result<(), CryptoError> {
        match previous {
            Some(old) => write_private(&data_dir.join("master.key.previous"), &old.to_base64())?,
            None => {
                let _ = std::fs::remove_file(data_dir.join("master.key.previous"));
            }
        }
        write_private(&data_dir.join("master.key"), &current.to_base64())
    }

    /// The previous development key, while a rotation is unfinished.
    ///
    /// # Errors
    /// [`CryptoError`] when the file exists but holds no valid key.
    pub fn load_previous_dev(data_dir: &Path) -> Result<Option<Self>, CryptoError> {
        let path = data_dir.join("master.key.previous");
        if !path.exists() {
            return Ok(None);
        }
        Self::from_base64(&std::fs::read_to_string(path)?).map(Some)
    }

    fn cipher(&self) -> Result<Aes256Gcm, CryptoError> {
        Aes256Gcm::new_from_slice(&self.key).map_err(|_| CryptoError::Key("wrong length"))
    }

    /// Wraps a tenant's data key.
    ///
    /// # Errors
    /// [`CryptoError`].
    pub fn wrap(&self, tenant: TenantId, data_key: &[u8; 32]) -> Result<Vec<u8>, CryptoError> {
        seal_raw(&self.cipher()?, &wrap_aad(tenant), data_key)
    }

    /// Unwraps a tenant's data key.
    ///
    /// # Errors
    /// [`CryptoError::Open`] when it was wrapped by another key or for another tenant.
    pub fn unwrap(&self, tenant: TenantId, wrapped: &[u8]) -> Result<[u8; 32], CryptoError> {
        let plain = open_raw(&self.cipher()?, &wrap_aad(tenant), wrapped)?;
        plain.try_into().map_err(|_| CryptoError::Open)
    }
}

fn write_private(path: &Path, text: &str) -> Result<(), CryptoError> {
    use std::io::Write as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn wrap_aad(tenant: TenantId) -> Vec<u8> {
    let mut aad = b"vcao:tenant-key:v1:".to_vec();
    aad.extend_from_slice(tenant.as_uuid().as_bytes());
    aad
}

const FORMAT_V1: u8 = 1;

fn seal_raw(cipher: &Aes256Gcm, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let nonce_bytes = random_bytes::<12>().map_err(|_| CryptoError::Random)?;
    let nonce = Nonce::from(nonce_bytes);
    let sealed = cipher.encrypt(&nonce, Payload { msg: plaintext, aad }).map_err(|_| CryptoError::Seal)?;
    let mut out = Vec::with_capacity(1 + 12 + sealed.len());
    out.push(FORMAT_V1);
    out.extend_from_slice(&nonce_bytes);
    out.extend_from_slice(&sealed);
    Ok(out)
}

fn open_raw(cipher: &Aes256Gcm, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let (&version, rest) = sealed.split_first().ok_or(CryptoError::Open)?;
    if version != FORMAT_V1 || rest.len() < 12 + 16 {
        return Err(CryptoError::Open);
    }
    let (nonce_bytes, body) = rest.split_at(12);
    let nonce_array: [u8; 12] = nonce_bytes.try_into().map_err(|_| CryptoError::Open)?;
    cipher.decrypt(&Nonce::from(nonce_array), Payload { msg: body, aad }).map_err(|_| CryptoError::Open)
}

fn derive(data_key: &[u8; 32], purpose: &[u8]) -> Result<[u8; 32], CryptoError> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(data_key).map_err(|_| CryptoError::Key("hmac"))?;
    mac.update(purpose);
    Ok(mac.finalize().into_bytes().into())
}

/// One tenant's field cipher and blind-index key.
pub struct TenantCipher {
    tenant: TenantId,
    fields: Aes256Gcm,
    index_key: [u8; 32],
}

impl std::fmt::Debug for TenantCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantCipher").field("tenant", &self.tenant).finish_non_exhaustive()
    }
}

impl TenantCipher {
    /// Derives the tenant's keys from its data key.
    ///
    /// # Errors
    /// [`CryptoError::Key`].
    pub fn new(tenant: TenantId, data_key: &[u8; 32]) -> Result<Self, CryptoError> {
        let fields = Aes256Gcm::new_from_slice(&derive(data_key, b"vcao:field-encryption:v1")?)
            .map_err(|_| CryptoError::Key("field key"))?;
        Ok(Self { tenant, fields, index_key: derive(data_key, b"vcao:blind-index:v1")? })
    }

    fn aad(&self, field: &str, row: Uuid) -> Vec<u8> {
        let mut aad = Vec::with_capacity(64);
        aad.extend_from_slice(self.tenant.as_uuid().as_bytes());
        aad.extend_from_slice(row.as_bytes());
        aad.extend_from_slice(field.as_bytes());
        aad
    }

    /// Encrypts `plaintext` for column `field` (`clients.given_name`) of row `row`.
    ///
    /// # Errors
    /// [`CryptoError`].
    pub fn seal(&self, field: &str, row: Uuid, plaintext: &str) -> Result<Vec<u8>, CryptoError> {
        seal_raw(&self.fields, &self.aad(field, row), plaintext.as_bytes())
    }

    /// Encrypts an optional value.
    ///
    /// # Errors
    /// [`CryptoError`].
    pub fn seal_opt(&self, field: &str, row: Uuid, plaintext: Option<&str>) -> Result<Option<Vec<u8>>, CryptoError> {
        plaintext.map(|p| self.seal(field, row, p)).transpose()
    }

    /// Decrypts what [`TenantCipher::seal`] made for the same field and row.
    ///
    /// # Errors
    /// [`CryptoError::Open`] for anything else.
    pub fn open(&self, field: &str, row: Uuid, sealed: &[u8]) -> Result<String, CryptoError> {
        let plain = open_raw(&self.fields, &self.aad(field, row), sealed)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Open)
    }

    /// Decrypts an optional value.
    ///
    /// # Errors
    /// [`CryptoError::Open`].
    pub fn open_opt(&self, field: &str, row: Uuid, sealed: Option<&[u8]>) -> Result<Option<String>, CryptoError> {
        sealed.map(|s| self.open(field, row, s)).transpose()
    }

    /// The blind index of an already normalised value for `field`: equal values give equal
    /// indexes within a tenant, and nothing about the value can be learned without the key.
    #[must_use]
    pub fn blind_index(&self, field: &str, normalised: &str) -> Vec<u8> {
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.index_key) else { return Vec::new() };
        mac.update(field.as_bytes());
        mac.update(&[0]);
        mac.update(normalised.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

/// The master keys this process holds and the tenant ciphers unwrapped so far.
pub struct Keyring {
    current: MasterKey,
    previous: Option<MasterKey>,
    cache: Mutex<HashMap<TenantId, Arc<TenantCipher>>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring").field("current", &self.current.id).finish_non_exhaustive()
    }
}

impl Keyring {
    /// A keyring over the current master key and, during a rotation, the previous one.
    #[must_use]
    pub fn new(current: MasterKey, previous: Option<MasterKey>) -> Self {
        Self { current, previous, cache: Mutex::new(HashMap::new()) }
    }

    /// The key that wraps new tenant keys.
    #[must_use]
    pub fn current(&self) -> &MasterKey {
        &self.current
    }

    /// The master key with this id, if held.
    #[must_use]
    pub fn master(&self, id: &str) -> Option<&MasterKey> {
        if self.current.id == id { Some(&self.current) } else { self.previous.as_ref().filter(|p| p.id == id) }
    }

    /// A cached cipher.
    #[must_use]
    pub fn cached(&self, tenant: TenantId) -> Option<Arc<TenantCipher>> {
        self.cache.lock().ok().and_then(|c| c.get(&tenant).cloned())
    }

    /// Unwraps and caches a tenant's cipher.
    ///
    /// # Errors
    /// [`CryptoError`] when no held master key opens it.
    pub fn remember(
        &self,
        tenant: TenantId,
        master_id: &str,
        wrapped: &[u8],
    ) -> Result<Arc<TenantCipher>, CryptoError> {
        let master = self.master(master_id).ok_or_else(|| CryptoError::UnknownMaster(master_id.to_owned()))?;
        let cipher = Arc::new(TenantCipher::new(tenant, &master.unwrap(tenant, wrapped)?)?);
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(tenant, Arc::clone(&cipher));
        }
        Ok(cipher)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> Result<TenantCipher, CryptoError> {
        TenantCipher::new(TenantId::new(), &[9; 32])
    }

    #[test]
    fn pseudonyms_are_stable_per_key_and_purpose_and_not_a_plain_hash() -> Result<(), CryptoError> {
        use sha2::Digest as _;
        let one = MasterKey::generate()?;
        let other = MasterKey::generate()?;
        let p = one.pseudonym(b"purpose-a", "203.0.113.7")?;
        assert_eq!(p, one.pseudonym(b"purpose-a", "203.0.113.7")?, "the same on every replica with this key");
        assert_eq!(p.len(), 32);
        assert_ne!(p, one.pseudonym(b"purpose-b", "203.0.113.7")?, "another purpose, another pseudonym");
        assert_ne!(p, other.pseudonym(b"purpose-a", "203.0.113.7")?, "another key, another pseudonym");
        assert_ne!(p, one.pseudonym(b"purpose-a", "203.0.113.8")?);
        let plain = hex::encode(sha2::Sha256::digest(b"203.0.113.7"));
        assert!(!plain.starts_with(&p), "not the unkeyed hash anyone could compute");
        Ok(())
    }

    #[test]
    fn a_field_round_trips_only_in_its_own_place() -> Result<(), CryptoError> {
        let c = cipher()?;
        let row = Uuid::now_v7();
        let sealed = c.seal("clients.given_name", row, "Ana")?;
        assert!(!sealed.windows(3).any(|w| w == b"Ana"));
        assert_eq!(c.open("clients.given_name", row, &sealed)?, "Ana");
        assert!(c.open("clients.family_name", row, &sealed).is_err(), "another column");
        assert!(c.open("clients.given_name", Uuid::now_v7(), &sealed).is_err(), "another row");
        let other = TenantCipher::new(TenantId::new(), &[9; 32])?;
        assert!(other.open("clients.given_name", row, &sealed).is_err(), "another tenant");
        let mut tampered = sealed.clone();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        assert!(c.open("clients.given_name", row, &tampered).is_err());
        assert_ne!(c.seal("clients.given_name", row, "Ana")?, sealed, "fresh nonce each time");
        Ok(())
    }

    #[test]
    fn blind_indexes_match_equal_values_per_tenant_only() -> Result<(), CryptoError> {
        let c = cipher()?;
        assert_eq!(c.blind_index("given_name", "ana"), c.blind_index("given_name", "ana"));
        assert_ne!(c.blind_index("given_name", "ana"), c.blind_index("family_name", "ana"));
        let other = TenantCipher::new(TenantId::new(), &[8; 32])?;
        assert_ne!(c.blind_index("given_name", "ana"), other.blind_index("given_name", "ana"));
        Ok(())
    }

    #[test]
    fn tenant_keys_unwrap_only_with_their_master_and_tenant() -> Result<(), CryptoError> {
        let master = MasterKey::generate()?;
        let tenant = TenantId::new();
        let wrapped = master.wrap(tenant, &[5; 32])?;
        assert_eq!(master.unwrap(tenant, &wrapped)?, [5; 32]);
        assert!(master.unwrap(TenantId::new(), &wrapped).is_err());
        assert!(MasterKey::generate()?.unwrap(tenant, &wrapped).is_err());
        let ring = Keyring::new(MasterKey::generate()?, Some(master.clone()));
        assert!(ring.remember(tenant, master.id(), &wrapped).is_ok(), "the previous key still opens");
        assert!(matches!(ring.remember(tenant, "nope", &wrapped), Err(CryptoError::UnknownMaster(_))));
        assert_eq!(MasterKey::from_base64(&master.to_base64())?.id(), master.id());
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
        Ok(())
    }
}
