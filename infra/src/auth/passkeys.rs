//! Passkeys (WebAuthn Level 3) through `webauthn-rs`: the relying party this service is, and the
//! two ceremonies (registering a passkey, and proving one as a sign-in's second step). Each
//! ceremony is two requests; what the first leaves for the second (`webauthn-rs`' state, holding
//! the challenge the authenticator signs) is kept as JSON, sealed in the database by the store, so
//! any replica finishes what another began. The browser's JSON is read here, so a malformed one is
//! a refusal, never a panic.

use domain::UserId;
use sha2::{Digest, Sha256};
use webauthn_rs::prelude::{
    CreationChallengeResponse, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, RequestChallengeResponse, Url, Webauthn, WebauthnBuilder,
};

/// Why a ceremony failed. The caller is told only that it did; the reason goes to the log.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// The relying party id and origin do not fit together.
    #[error("relying party: {0}")]
    Settings(String),
    /// The browser's answer is not a credential of the expected shape.
    #[error("malformed credential")]
    Malformed,
    /// The credential does not answer this ceremony (wrong challenge, origin, signature, key...).
    #[error("refused: {0}")]
    Refused(String),
    /// The stored state cannot be read or written.
    #[error("state: {0}")]
    State(String),
}

/// This service as a WebAuthn relying party.
pub struct RelyingParty {
    webauthn: Webauthn,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty").finish_non_exhaustive()
    }
}

/// What the first request of a ceremony answers (the options for `navigator.credentials.create`
/// or `.get`, as JSON), and the state the second request needs.
#[derive(Debug)]
pub struct Begun {
    /// The options, as the browser takes them (`{"publicKey": {...}}`).
    pub options: serde_json::Value,
    /// The state, as JSON, to seal until the second request.
    pub state: String,
}

/// A passkey that proved a sign-in, and whether its stored copy must be updated (its counter).
#[derive(Debug)]
pub struct Proven {
    /// The keyed hash of its credential id, as stored.
    pub credential_hash: String,
    /// Whether the stored passkey changed (a signature counter moved on).
    pub changed: bool,
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, PasskeyError> {
    serde_json::to_string(value).map_err(|e| PasskeyError::State(e.to_string()))
}

fn value<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, PasskeyError> {
    serde_json::to_value(value).map_err(|e| PasskeyError::State(e.to_string()))
}

fn read<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, PasskeyError> {
    serde_json::from_str(text).map_err(|e| PasskeyError::State(e.to_string()))
}

/// The stored form of a passkey's credential id: a SHA-256, so the index finds it without
/// holding the id (which would tie the account to the device).
#[must_use]
pub fn credential_hash(passkey: &Passkey) -> String {
    hex::encode(Sha256::digest(passkey.cred_id().as_ref()))
}

/// A stored passkey, read back.
///
/// # Errors
/// [`PasskeyError::State`] when the JSON is not a passkey.
pub fn passkey_from_json(text: &str) -> Result<Passkey, PasskeyError> {
    read(text)
}

/// A passkey as JSON, to seal.
///
/// # Errors
/// [`PasskeyError::State`] when it does not serialise.
pub fn passkey_to_json(passkey: &Passkey) -> Result<String, PasskeyError> {
    json(passkey)
}

impl RelyingParty {
    /// The relying party `rp_id`, for pages served from `origin`.
    ///
    /// # Errors
    /// [`PasskeyError::Settings`] when `origin` is not a URL whose host is `rp_id` or under it.
    pub fn new(rp_id: &str, origin: &str) -> Result<Self, PasskeyError> {
        let origin = Url::parse(origin).map_err(|e| PasskeyError::Settings(e.to_string()))?;
        let webauthn = WebauthnBuilder::new(rp_id, &origin)
            .and_then(|b| b.rp_name("VCAO Platform").build())
            .map_err(|e| PasskeyError::Settings(e.to_string()))?;
        Ok(Self { webauthn })
    }

    /// Starts registering a passkey for `user` (named `email`, shown as `display_name`), none of
    /// whose `existing` passkeys the authenticator may register again.
    ///
    /// # Errors
    /// [`PasskeyError`] when the options or state cannot be made.
    pub fn begin_registration(
        &self,
        user: UserId,
        email: &str,
        display_name: &str,
        existing: &[Passkey],
    ) -> Result<Begun, PasskeyError> {
        let exclude = existing.iter().map(|p| p.cred_id().clone()).collect::<Vec<_>>();
        let (options, state): (CreationChallengeResponse, PasskeyRegistration) = self
            .webauthn
            .start_passkey_registration(user.as_uuid(), email, display_name, Some(exclude))
            .map_err(|e| PasskeyError::Refused(e.to_string()))?;
        Ok(Begun { options: value(&options)?, state: json(&state)? })
    }

    /// Finishes a registration: the browser's `credential` against the `state` its first request
    /// left. The new passkey.
    ///
    /// # Errors
    /// [`PasskeyError::Malformed`] or [`PasskeyError::Refused`] when the credential does not
    /// answer the ceremony; [`PasskeyError::State`] when the state is unreadable.
    pub fn finish_registration(&self, credential: serde_json::Value, state: &str) -> Result<Passkey, PasskeyError> {
        let credential: RegisterPublicKeyCredential =
            serde_json::from_value(credential).map_err(|_| PasskeyError::Malformed)?;
        let state: PasskeyRegistration = read(state)?;
        self.webauthn.finish_passkey_registration(&credential, &state).map_err(|e| PasskeyError::Refused(e.to_string()))
    }

    /// Starts a sign-in's second step with one of `passkeys`.
    ///
    /// # Errors
    /// [`PasskeyError`] when the options or state cannot be made (no passkeys, say).
    pub fn begin_sign_in(&self, passkeys: &[Passkey]) -> Result<Begun, PasskeyError> {
        let (options, state): (RequestChallengeResponse, PasskeyAuthentication) =
            self.webauthn.start_passkey_authentication(passkeys).map_err(|e| PasskeyError::Refused(e.to_string()))?;
        Ok(Begun { options: value(&options)?, state: json(&state)? })
    }

    /// Finishes a sign-in's second step: the browser's `credential` against `state`. Updates the
    /// passkey among `passkeys` that signed (its counter), and says which it was.
    ///
    /// # Errors
    /// [`PasskeyError::Malformed`] or [`PasskeyError::Refused`] when the credential does not
    /// answer the ceremony.
    pub fn finish_sign_in(
        &self,
        credential: serde_json::Value,
        state: &str,
        passkeys: &mut [Passkey],
    ) -> Result<Proven, PasskeyError> {
        let credential: PublicKeyCredential =
            serde_json::from_value(credential).map_err(|_| PasskeyError::Malformed)?;
        let state: PasskeyAuthentication = read(state)?;
        let result = self
            .webauthn
            .finish_passkey_authentication(&credential, &state)
            .map_err(|e| PasskeyError::Refused(e.to_string()))?;
        let passkey = passkeys
            .iter_mut()
            .find(|p| p.cred_id() == result.cred_id())
            .ok_or_else(|| PasskeyError::Refused("not one of the user's passkeys".to_owned()))?;
        let changed = passkey.update_credential(&result).unwrap_or(false);
        Ok(Proven { credential_hash: credential_hash(passkey), changed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_must_be_the_relying_party_or_under_it() {
        assert!(RelyingParty::new("localhost", "http://localhost:8080").is_ok());
        assert!(RelyingParty::new("vcao.example", "https://app.vcao.example").is_ok());
        assert!(RelyingParty::new("vcao.example", "https://evil-vcao.example").is_err());
        assert!(RelyingParty::new("vcao.example", "not a url").is_err());
    }

    #[test]
    fn a_malformed_credential_is_refused_without_a_panic() -> Result<(), Box<dyn std::error::Error>> {
        let rp = RelyingParty::new("localhost", "http://localhost:8080")?;
        let begun = rp.begin_registration(UserId::new(), "a@b.example", "A", &[])?;
        for junk in [serde_json::json!({}), serde_json::json!("x"), serde_json::json!({"id": 1, "response": []})] {
            assert!(matches!(rp.finish_registration(junk, &begun.state), Err(PasskeyError::Malformed)));
        }
        Ok(())
    }
}
