//! Signing keys for access tokens: Ed25519 (EdDSA), each with a `kid`, published as a JWKS.
//!
//! Where keys come from: `VCAO_JWT_KEYS` (JSON in the environment), else `VCAO_JWT_KEYS_FILE`,
//! else `jwt-keys.json` in the data directory, generated on first start with a loud warning.
//! Rotation: add a new key and mark the old one `retired_at`; the newest unretired key signs, and a
//! retired key stays in the JWKS (and keeps verifying) until every token it signed has expired.

use std::collections::HashMap;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde::{Deserialize, Serialize};

/// The stored form of a key set.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySetFile {
    /// The keys, oldest first.
    pub keys: Vec<StoredKey>,
}

/// One stored key.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredKey {
    /// The key id put in token headers.
    pub kid: String,
    /// The Ed25519 private seed, base64url without padding (32 bytes).
    pub private_key: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it stopped signing, if it has.
    #[serde(default)]
    pub retired_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

/// Keys could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or writing the key file failed.
    #[error("key file: {0}")]
    Io(#[from] std::io::Error),
    /// The key set is not valid JSON of the expected shape.
    #[error("key set: {0}")]
    Format(#[from] serde_json::Error),
    /// A key is not a 32-byte Ed25519 seed, or no key may sign.
    #[error("key set: {0}")]
    Invalid(String),
    /// No randomness for a new key.
    #[error("no randomness: {0}")]
    Random(#[from] getrandom::Error),
}

struct SigningKey {
    kid: String,
    encoding: EncodingKey,
}

/// A key that verifies, until its cut-off when it was retired.
struct VerifyingKey {
    decoding: DecodingKey,
    /// The public key, as the JWKS lists it.
    x: String,
    /// Past this moment nothing it signed is still valid (retired + token lifetime + a minute).
    cut_off: Option<DateTime<Utc>>,
}

/// The keys in use: one signs, all live ones verify. Whether a retired key is still live is
/// decided at every verification, not once at start: a process started just after a retirement
/// would otherwise accept the retired key's tokens for as long as it runs.
pub struct KeyRing {
    signing: SigningKey,
    verifying: HashMap<String, VerifyingKey>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing").field("signing_kid", &self.signing.kid).finish_non_exhaustive()
    }
}

/// PKCS#8 v1 wrapping of an Ed25519 seed (RFC 8410): a fixed 16-byte prefix, then the seed.
fn pkcs8_der(seed: &[u8; 32]) -> Vec<u8> {
    const PREFIX: [u8; 16] =
        [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
    let mut der = PREFIX.to_vec();
    der.extend_from_slice(seed);
    der
}

impl KeyRing {
    /// Builds the ring from a key set, keeping retired keys only while tokens they signed may live.
    ///
    /// # Errors
    /// [`KeyError::Invalid`] when a key is malformed or none may sign.
    pub fn from_set(set: &KeySetFile, token_ttl: Duration, now: DateTime<Utc>) -> Result<Self, KeyError> {
        let mut signing = None;
        let mut verifying = HashMap::new();
        for key in &set.keys {
            let seed: [u8; 32] = URL_SAFE_NO_PAD
                .decode(&key.private_key)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| KeyError::Invalid(format!("key {} is not a 32-byte base64url seed", key.kid)))?;
            if key.kid.is_empty() || key.kid.len() > 64 {
                return Err(KeyError::Invalid("kid must be 1 to 64 characters".to_owned()));
            }
            let cut_off = key.retired_at.map(|retired| retired + token_ttl + Duration::minutes(1));
            if cut_off.is_some_and(|cut_off| cut_off <= now) {
                continue;
            }
            let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key().to_bytes();
            let x = URL_SAFE_NO_PAD.encode(public);
            let decoding =
                DecodingKey::from_ed_components(&x).map_err(|e| KeyError::Invalid(format!("key {}: {e}", key.kid)))?;
            verifying.insert(key.kid.clone(), VerifyingKey { decoding, x, cut_off });
            let newer =
                signing.as_ref().is_none_or(|(created, _): &(DateTime<Utc>, SigningKey)| key.created_at >= *created);
            if key.retired_at.is_none() && newer {
                // The newest unretired key (by created_at) signs.
                let signer = SigningKey { kid: key.kid.clone(), encoding: EncodingKey::from_ed_der(&pkcs8_der(&seed)) };
                signing = Some((key.created_at, signer));
            }
        }
        let (_, signing) = signing.ok_or_else(|| KeyError::Invalid("no unretired key to sign with".to_owned()))?;
        Ok(Self { signing, verifying })
    }

    /// The signing key's id and key.
    pub(crate) fn signer(&self) -> (&str, &EncodingKey) {
        (&self.signing.kid, &self.signing.encoding)
    }

    /// The verifying key for `kid` and its cut-off, if live `now`.
    pub(crate) fn verifier(&self, kid: &str, now: DateTime<Utc>) -> Option<(&DecodingKey, Option<DateTime<Utc>>)> {
        let key = self.verifying.get(kid)?;
        key.cut_off.is_none_or(|cut_off| now < cut_off).then_some((&key.decoding, key.cut_off))
    }

    /// The public keys live `now`, as a JWKS document (sorted by `kid`, so it reads the same each time).
    #[must_use]
    pub fn jwks(&self, now: DateTime<Utc>) -> serde_json::Value {
        let mut live: Vec<(&String, &VerifyingKey)> =
            self.verifying.iter().filter(|(_, k)| k.cut_off.is_none_or(|cut_off| now < cut_off)).collect();
        live.sort_by_key(|(kid, _)| *kid);
        let keys: Vec<serde_json::Value> = live
            .into_iter()
            .map(|(kid, k)| {
                serde_json::json!({ "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": kid, "x": k.x })
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }
}

/// A new key, not yet retired.
///
/// # Errors
/// [`KeyError::Random`] when the OS has no randomness.
pub fn generate_key(now: DateTime<Utc>) -> Result<StoredKey, KeyError> {
    let seed = super::random_bytes::<32>()?;
    let tag = super::random_bytes::<4>()?;
    Ok(StoredKey {
        kid: format!("{}-{}", now.format("%Y%m%d"), hex::encode(tag)),
        private_key: URL_SAFE_NO_PAD.encode(seed),
        created_at: now,
        retired_at: None,
    })
}

/// Where the key set came from, so start-up can warn about generated development keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// `VCAO_JWT_KEYS`.
    Environment,
    /// `VCAO_JWT_KEYS_FILE`.
    File,
    /// Generated into the data directory.
    Generated,
}

/// Loads the key set the settings name, generating one into `data_dir` when none is configured.
///
/// # Errors
/// [`KeyError`] when the configured set cannot be read or is invalid.
pub fn load(env_json: Option<&str>, file: Option<&Path>, data_dir: &Path) -> Result<(KeySetFile, KeySource), KeyError> {
    if let Some(json) = env_json {
        return Ok((serde_json::from_str(json)?, KeySource::Environment));
    }
    if let Some(path) = file {
        return Ok((serde_json::from_slice(&std::fs::read(path)?)?, KeySource::File));
    }
    let path = data_dir.join("jwt-keys.json");
    if path.exists() {
        return Ok((serde_json::from_slice(&std::fs::read(&path)?)?, KeySource::Generated));
    }
    let set = KeySetFile { keys: vec![generate_key(Utc::now())?] };
    write_private(&path, &set)?;
    Ok((set, KeySource::Generated))
}

/// Retires the signing key of the data directory's set and adds a new one (`vcao rotate-signing-key`).
///
/// # Errors
/// [`KeyError`] when the file cannot be read or written.
pub fn rotate_generated(data_dir: &Path) -> Result<String, KeyError> {
    let path = data_dir.join("jwt-keys.json");
    let mut set: KeySetFile =
        if path.exists() { serde_json::from_slice(&std::fs::read(&path)?)? } else { KeySetFile::default() };
    let now = Utc::now();
    for key in &mut set.keys {
        key.retired_at.get_or_insert(now);
    }
    let key = generate_key(now)?;
    let kid = key.kid.clone();
    set.keys.push(key);
    write_private(&path, &set)?;
    Ok(kid)
}

/// Writes a key set readable by its owner only, atomically (write then rename).
fn write_private(path: &Path, set: &KeySetFile) -> Result<(), KeyError> {
    use std::io::Write as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(&serde_json::to_vec_pretty(set)?)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retired_keys_verify_until_their_tokens_expire() -> Result<(), KeyError> {
        let now = Utc::now();
        let mut old = generate_key(now - Duration::hours(1))?;
        old.retired_at = Some(now - Duration::minutes(5));
        let mut ancient = generate_key(now - Duration::days(2))?;
        ancient.retired_at = Some(now - Duration::days(1));
        let new = generate_key(now)?;
        let set = KeySetFile { keys: vec![ancient.clone(), old.clone(), new.clone()] };
        let ring = KeyRing::from_set(&set, Duration::minutes(15), now)?;
        assert_eq!(ring.signer().0, new.kid);
        assert!(ring.verifier(&old.kid, now).is_some());
        assert!(ring.verifier(&ancient.kid, now).is_none());
        assert_eq!(ring.jwks(now)["keys"].as_array().map(Vec::len), Some(2));
        Ok(())
    }

    /// The ring was built while the old key was live; past its cut-off the same ring refuses it
    /// and stops listing it, without a restart.
    #[test]
    fn a_retired_key_stops_verifying_at_its_cut_off_in_a_running_process() -> Result<(), KeyError> {
        let now = Utc::now();
        let mut old = generate_key(now - Duration::hours(1))?;
        old.retired_at = Some(now - Duration::minutes(1));
        let new = generate_key(now)?;
        let ring = KeyRing::from_set(&KeySetFile { keys: vec![old.clone(), new] }, Duration::minutes(15), now)?;
        assert!(ring.verifier(&old.kid, now).is_some());
        let later = now + Duration::minutes(16);
        assert!(ring.verifier(&old.kid, later).is_none(), "15 min of tokens + 1 min after retirement");
        assert_eq!(ring.jwks(later)["keys"].as_array().map(Vec::len), Some(1));
        Ok(())
    }

    #[test]
    fn a_set_without_a_signing_key_is_refused() -> Result<(), KeyError> {
        let mut key = generate_key(Utc::now())?;
        key.retired_at = Some(Utc::now());
        let set = KeySetFile { keys: vec![key] };
        assert!(KeyRing::from_set(&set, Duration::minutes(15), Utc::now()).is_err());
        Ok(())
    }

    #[test]
    fn configured_key_sets_win_over_the_generated_one() -> Result<(), KeyError> {
        let dir = tempfile::tempdir()?;
        let set = KeySetFile { keys: vec![generate_key(Utc::now())?] };
        let json = serde_json::to_string(&set)?;
        let file = dir.path().join("keys.json");
        std::fs::write(&file, &json)?;
        let (from_env, source) = load(Some(&json), Some(&file), dir.path())?;
        assert_eq!((source, from_env.keys[0].kid.clone()), (KeySource::Environment, set.keys[0].kid.clone()));
        let (from_file, source) = load(None, Some(&file), dir.path())?;
        assert_eq!((source, from_file.keys[0].kid.clone()), (KeySource::File, set.keys[0].kid.clone()));
        assert!(!dir.path().join("jwt-keys.json").exists(), "nothing is generated when keys are configured");
        assert!(load(Some("{\"keys\": 5}"), None, dir.path()).is_err());
        Ok(())
    }

    #[test]
    fn generated_keys_persist_and_rotate() -> Result<(), KeyError> {
        let dir = tempfile::tempdir()?;
        let (first, source) = load(None, None, dir.path())?;
        assert_eq!(source, KeySource::Generated);
        let (again, _) = load(None, None, dir.path())?;
        assert_eq!(first.keys[0].kid, again.keys[0].kid);
        let new_kid = rotate_generated(dir.path())?;
        let (rotated, _) = load(None, None, dir.path())?;
        assert_eq!(rotated.keys.len(), 2);
        assert!(rotated.keys[0].retired_at.is_some());
        assert_eq!(rotated.keys[1].kid, new_kid);
        Ok(())
    }
}
