//! Access tokens: short-lived EdDSA JWTs. Verification pins the algorithm, refuses any header
//! parameter our tokens do not carry (keys offered by the token, `crit`), requires a known `kid`,
//! and checks `iss`, `aud`, `exp`, `nbf` and `iat` (RFC 8725's checklist).

use chrono::Utc;
use domain::auth::ACCESS_TOKEN_TTL_SECONDS;
use domain::sign_in::PendingSetup;
use domain::tenant::TenantKind;
use domain::user::RoleSet;
use domain::{SessionId, TenantId, UserId};
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};

use super::keys::KeyRing;

/// The claims of an access token, as the contract names them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user.
    pub sub: uuid::Uuid,
    /// The tenant.
    pub tid: uuid::Uuid,
    /// The tenant's kind.
    pub tkind: TenantKind,
    /// The user's roles.
    pub roles: Vec<String>,
    /// The sign-in session (refresh family); revoking it ends this token.
    pub sid: uuid::Uuid,
    /// This token's id.
    pub jti: uuid::Uuid,
    /// Issued at (seconds).
    pub iat: i64,
    /// Expires at (seconds).
    pub exp: i64,
    /// Issuer.
    pub iss: String,
    /// Audience: the service's, or for a setup token the service's with `#setup` appended, so a
    /// replica that predates setup tokens refuses them rather than reading one as a full token.
    pub aud: String,
    /// Set on a token that may only finish setting the account up (`domain::sign_in`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup: Option<PendingSetup>,
}

/// Why a token was refused. The client is told only "401"; the reason goes to the log and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a JWT at all, or a header that cannot be read.
    #[error("malformed")]
    Malformed,
    /// An algorithm other than EdDSA (`none`, HS256 with the public key, …).
    #[error("algorithm not allowed")]
    Algorithm,
    /// A header parameter our tokens never carry: `jku`, `x5u`, `jwk`, `x5c` (a key or a key's
    /// address offered by the token itself), `crit` (extensions we would have to understand),
    /// or a `typ` other than `JWT`.
    #[error("header not allowed")]
    Header,
    /// No `kid`, or one not in the key set.
    #[error("unknown key")]
    UnknownKey,
    /// Signature, expiry, issuer, audience or a required claim failed.
    #[error("invalid")]
    Invalid,
    /// Could not be signed.
    #[error("signing failed")]
    Signing,
}

/// True when jsonwebtoken has a crypto backend; without one it panics at first use, so start-up
/// checks this and refuses to run instead.
#[must_use]
pub fn crypto_ready() -> bool {
    jsonwebtoken::crypto::CryptoProvider::try_get_default().is_some()
}

/// Issues and verifies access tokens for one issuer and audience.
#[derive(Debug)]
pub struct TokenService {
    keys: KeyRing,
    issuer: String,
    audience: String,
    verified: VerifiedTokens,
}

/// Tokens whose signature and claims were already checked, with their claims, until they expire.
///
/// A client sends the same access token with every request for its 15 minutes, and checking an
/// Ed25519 signature was a fifth of the service's own CPU per request (docs/benchmarks.md). A
/// token's validity depends only on its exact bytes and the clock, so remembering the verdict for
/// the exact string is the same check; revocation is not cached here (every request still asks
/// the database about the session). Bounded: when full, expired entries go, and if that frees
/// nothing the whole map is dropped (it refills at one verification per token).
#[derive(Debug, Default)]
struct VerifiedTokens(std::sync::Mutex<std::collections::HashMap<String, (Claims, Option<i64>)>>);

/// The most tokens remembered: a few megabytes at most.
const VERIFIED_CAPACITY: usize = 4096;

impl VerifiedTokens {
    /// The claims of a token verified before, while it and its key's cut-off (if retired) hold.
    fn get(&self, token: &str, now: i64) -> Option<Claims> {
        let map = self.0.lock().ok()?;
        map.get(token)
            .filter(|(claims, cut_off)| claims.exp + CLOCK_LEEWAY_I64 > now && cut_off.is_none_or(|c| now < c))
            .map(|(claims, _)| claims.clone())
    }

    fn remember(&self, token: &str, claims: &Claims, cut_off: Option<i64>, now: i64) {
        let Ok(mut map) = self.0.lock() else { return };
        if map.len() >= VERIFIED_CAPACITY {
            map.retain(|_, (c, _)| c.exp + CLOCK_LEEWAY_I64 > now);
            if map.len() >= VERIFIED_CAPACITY {
                map.clear();
            }
        }
        map.insert(token.to_owned(), (claims.clone(), cut_off));
    }
}

impl TokenService {
    /// A service over `keys`.
    #[must_use]
    pub fn new(keys: KeyRing, issuer: String, audience: String) -> Self {
        Self { keys, issuer, audience, verified: VerifiedTokens::default() }
    }

    /// The public keys.
    #[must_use]
    pub fn jwks(&self) -> serde_json::Value {
        self.keys.jwks(Utc::now())
    }

    /// Signs an access token; returns it with its lifetime in seconds.
    ///
    /// # Errors
    /// [`TokenError::Signing`] when signing fails.
    pub fn issue(
        &self,
        user: UserId,
        tenant: TenantId,
        kind: TenantKind,
        roles: &RoleSet,
        session: SessionId,
    ) -> Result<(String, i64), TokenError> {
        self.issue_lasting(user, tenant, kind, roles, session, ACCESS_TOKEN_TTL_SECONDS)
    }

    /// [`Self::issue`] with another lifetime (the tests' short-lived tokens; never longer than
    /// the access token's, which the key cut-off assumes).
    ///
    /// # Errors
    /// [`TokenError::Signing`] when signing fails.
    pub fn issue_lasting(
        &self,
        user: UserId,
        tenant: TenantId,
        kind: TenantKind,
        roles: &RoleSet,
        session: SessionId,
        ttl_seconds: i64,
    ) -> Result<(String, i64), TokenError> {
        self.sign(user, tenant, kind, roles, session, ttl_seconds, None)
    }

    /// A token that may only finish `setup` (its `setup` claim and audience say so; the
    /// extractors refuse it everywhere else).
    ///
    /// # Errors
    /// [`TokenError::Signing`] when signing fails.
    pub fn issue_for_setup(
        &self,
        user: UserId,
        tenant: TenantId,
        kind: TenantKind,
        roles: &RoleSet,
        session: SessionId,
        setup: PendingSetup,
    ) -> Result<(String, i64), TokenError> {
        self.sign(user, tenant, kind, roles, session, ACCESS_TOKEN_TTL_SECONDS, Some(setup))
    }

    fn setup_audience(&self) -> String {
        format!("{}#setup", self.audience)
    }

    #[expect(clippy::too_many_arguments, reason = "the claims of a token, each named by its caller")]
    fn sign(
        &self,
        user: UserId,
        tenant: TenantId,
        kind: TenantKind,
        roles: &RoleSet,
        session: SessionId,
        ttl_seconds: i64,
        setup: Option<PendingSetup>,
    ) -> Result<(String, i64), TokenError> {
        let ttl_seconds = ttl_seconds.min(ACCESS_TOKEN_TTL_SECONDS);
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user.as_uuid(),
            tid: tenant.as_uuid(),
            tkind: kind,
            roles: roles.iter().map(|r| r.as_str().to_owned()).collect(),
            sid: session.as_uuid(),
            jti: uuid::Uuid::now_v7(),
            iat: now,
            exp: now + ttl_seconds,
            iss: self.issuer.clone(),
            aud: if setup.is_some() { self.setup_audience() } else { self.audience.clone() },
            setup,
        };
        let (kid, key) = self.keys.signer();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.to_owned());
        let token = jsonwebtoken::encode(&header, &claims, key).map_err(|_| TokenError::Signing)?;
        Ok((token, ttl_seconds))
    }

    /// Verifies a token and returns its claims.
    ///
    /// # Errors
    /// [`TokenError`] saying why it was refused.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        if token.len() > 4096 {
            return Err(TokenError::Malformed);
        }
        let at = Utc::now();
        let now = at.timestamp();
        if let Some(claims) = self.verified.get(token, now) {
            return Ok(claims);
        }
        let (claims, cut_off) = self.verify_signed(token, at)?;
        self.verified.remember(token, &claims, cut_off.map(|c| c.timestamp()), now);
        Ok(claims)
    }

    /// The full check of [`Self::verify`], without the memory of earlier verdicts; with the
    /// claims, the signing key's cut-off when it is retired.
    fn verify_signed(
        &self,
        token: &str,
        at: chrono::DateTime<Utc>,
    ) -> Result<(Claims, Option<chrono::DateTime<Utc>>), TokenError> {
        let now = at.timestamp();
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        // Pin the algorithm before touching keys: never let the token choose how it is checked.
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Algorithm);
        }
        if !header_is_ours(token) {
            return Err(TokenError::Header);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        // Decided now, at every verification: a key past its cut-off no longer verifies.
        let (key, cut_off) = self.keys.verifier(&kid, at).ok_or(TokenError::UnknownKey)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&self.issuer]);
        let setup_audience = self.setup_audience();
        validation.set_audience(&[&self.audience, &setup_audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = CLOCK_LEEWAY_SECONDS;
        validation.validate_nbf = true;
        let claims = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|_| TokenError::Invalid)?;
        // We issue `iat` as the moment of signing: one from the future was not issued by us.
        if claims.iat > now + CLOCK_LEEWAY_I64 {
            return Err(TokenError::Invalid);
        }
        // The audience and the claim must agree: neither alone makes a setup token full.
        if (claims.aud == setup_audience) != claims.setup.is_some() {
            return Err(TokenError::Invalid);
        }
        Ok((claims, cut_off))
    }
}

/// Seconds of clock difference tolerated on `exp`, `nbf` and `iat`.
const CLOCK_LEEWAY_I64: i64 = 30;
/// The same, as jsonwebtoken takes it.
const CLOCK_LEEWAY_SECONDS: u64 = CLOCK_LEEWAY_I64.unsigned_abs();

/// The header parameters our tokens carry; `typ`, when present, is `JWT`.
const HEADER_PARAMETERS: [&str; 3] = ["alg", "typ", "kid"];

/// True when the token's header holds only [`HEADER_PARAMETERS`]. jsonwebtoken reads the header
/// into a struct that drops what it does not know (`crit` among them), so the raw JSON is read.
fn header_is_ours(token: &str) -> bool {
    use base64::Engine as _;
    let Some(encoded) = token.split('.').next() else { return false };
    let Ok(raw) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded) else { return false };
    let Ok(header) = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&raw) else { return false };
    header.keys().all(|name| HEADER_PARAMETERS.contains(&name.as_str()))
        && header.get("typ").is_none_or(|typ| typ.as_str() == Some("JWT"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::keys::{KeySetFile, generate_key};
    use domain::user::Role;

    fn service() -> Result<TokenService, Box<dyn std::error::Error>> {
        let set = KeySetFile { keys: vec![generate_key(Utc::now())?] };
        let ring = KeyRing::from_set(&set, chrono::Duration::minutes(15), Utc::now())?;
        Ok(TokenService::new(ring, "iss".into(), "aud".into()))
    }

    /// A case manager's token from `svc`, with its lifetime.
    fn case_manager_token(svc: &TokenService) -> Result<(String, i64), TokenError> {
        svc.issue(
            UserId::new(),
            TenantId::new(),
            TenantKind::Agency,
            &RoleSet::one(Role::CaseManager),
            SessionId::new(),
        )
    }

    #[test]
    fn a_token_round_trips_and_another_issuers_does_not() -> Result<(), Box<dyn std::error::Error>> {
        let svc = service()?;
        let (token, ttl) = case_manager_token(&svc)?;
        assert_eq!(ttl, ACCESS_TOKEN_TTL_SECONDS);
        assert_eq!(svc.verify(&token).map(|c| c.roles), Ok(vec!["case_manager".to_owned()]));
        let other = service()?;
        assert_eq!(other.verify(&token).err(), Some(TokenError::UnknownKey));
        assert_eq!(svc.verify("not.a.token").err(), Some(TokenError::Malformed));
        Ok(())
    }

    #[test]
    fn verdicts_are_remembered_for_the_exact_token_until_it_expires() -> Result<(), Box<dyn std::error::Error>> {
        let svc = service()?;
        let (token, _) = case_manager_token(&svc)?;
        let first = svc.verify(&token)?;
        assert_eq!(svc.verify(&token)?.jti, first.jti, "a remembered token verifies alike");
        let mut bent = token.clone();
        bent.insert(token.len() / 2, 'x');
        assert!(svc.verify(&bent).is_err(), "another string is checked in full");

        let remembered = VerifiedTokens::default();
        let now = Utc::now().timestamp();
        let claims = Claims { exp: now + 60, ..first };
        remembered.remember("token", &claims, None, now);
        assert!(remembered.get("token", now + 60 + CLOCK_LEEWAY_I64 - 1).is_some());
        assert!(remembered.get("token", now + 60 + CLOCK_LEEWAY_I64).is_none(), "expired, so checked in full again");
        assert!(remembered.get("other", now).is_none());
        // A token of a retired key is remembered only until the key's cut-off.
        remembered.remember("retired", &claims, Some(now + 10), now);
        assert!(remembered.get("retired", now + 9).is_some());
        assert!(remembered.get("retired", now + 10).is_none(), "past the key's cut-off, checked in full again");
        Ok(())
    }

    #[test]
    fn a_setup_token_says_so_and_neither_its_claim_nor_its_audience_alone_does()
    -> Result<(), Box<dyn std::error::Error>> {
        let svc = service()?;
        let roles = RoleSet::one(Role::CaseManager);
        let setup = PendingSetup::PasswordChange;
        let (token, _) =
            svc.issue_for_setup(UserId::new(), TenantId::new(), TenantKind::Agency, &roles, SessionId::new(), setup)?;
        let claims = svc.verify(&token)?;
        assert_eq!((claims.setup, claims.aud.as_str()), (Some(setup), "aud#setup"));
        // Signed with our own key, each half of the mark without the other is refused.
        let (kid, key) = svc.keys.signer();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.to_owned());
        let full_audience = Claims { aud: "aud".to_owned(), jti: uuid::Uuid::now_v7(), ..claims.clone() };
        let claim_only = jsonwebtoken::encode(&header, &full_audience, key)?;
        assert_eq!(svc.verify(&claim_only).err(), Some(TokenError::Invalid));
        let no_claim = Claims { setup: None, jti: uuid::Uuid::now_v7(), ..claims };
        let audience_only = jsonwebtoken::encode(&header, &no_claim, key)?;
        assert_eq!(svc.verify(&audience_only).err(), Some(TokenError::Invalid));
        Ok(())
    }

    #[test]
    fn the_memory_of_verdicts_stays_bounded() {
        let remembered = VerifiedTokens::default();
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: uuid::Uuid::nil(),
            tid: uuid::Uuid::nil(),
            tkind: TenantKind::Agency,
            roles: vec![],
            sid: uuid::Uuid::nil(),
            jti: uuid::Uuid::nil(),
            iat: now,
            exp: now + 900,
            iss: String::new(),
            aud: String::new(),
            setup: None,
        };
        for n in 0..(VERIFIED_CAPACITY * 2 + 1) {
            remembered.remember(&n.to_string(), &claims, None, now);
        }
        let size = remembered.0.lock().map(|m| m.len()).unwrap_or(usize::MAX);
        assert!(size <= VERIFIED_CAPACITY, "{size} entries");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Fuzzing the parser of untrusted tokens: any string, and any single-byte change of a
        /// valid token, is refused without a panic; only the untouched token verifies.
        #[test]
        fn no_bent_or_random_token_is_accepted(
            noise in "\\PC{0,300}",
            at in 0_usize..400,
            byte in 0_u8..128,
        ) {
            let svc = service().map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            proptest::prop_assert!(svc.verify(&noise).is_err());
            let (token, _) =
                case_manager_token(&svc).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            let mut bent = token.clone().into_bytes();
            let i = at % bent.len();
            if bent[i] != byte && byte.is_ascii_graphic() {
                bent[i] = byte;
                let bent = String::from_utf8_lossy(&bent).into_owned();
                // A base64url change can decode to the same bytes only in a final, padding-free
                // position's unused bits; anything else must fail.
                if let Ok(claims) = svc.verify(&bent) {
                    let original = svc.verify(&token).map(|c| c.jti);
                    proptest::prop_assert_eq!(Ok(claims.jti), original);
                }
            }
        }
    }
}
