//! RFC 8725 negatives: every way of forging or bending an access token is refused, while the same
//! claims signed properly are accepted (so each refusal is for the reason tested).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, problem, spawn_app};

/// The app's generated signing key (from its data directory) as (kid, seed).
fn signing_key(app: &TestApp) -> (String, [u8; 32]) {
    let raw = std::fs::read(app.data_dir.path().join("jwt-keys.json")).unwrap();
    let set: Value = serde_json::from_slice(&raw).unwrap();
    let key = set["keys"].as_array().unwrap().last().unwrap();
    let seed: [u8; 32] = URL_SAFE_NO_PAD.decode(key["private_key"].as_str().unwrap()).unwrap().try_into().unwrap();
    (key["kid"].as_str().unwrap().to_owned(), seed)
}

fn pkcs8(seed: &[u8; 32]) -> Vec<u8> {
    let mut der = vec![0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
    der.extend_from_slice(seed);
    der
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn sign_eddsa(kid: &str, seed: &[u8; 32], claims: &Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(&pkcs8(seed))).unwrap()
}

fn unsigned(header: &Value, claims: &Value) -> String {
    format!("{}.{}.", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()))
}

async fn status_of(app: &TestApp, token: &str) -> StatusCode {
    app.get("/api/v1/me", Some(token)).await.status()
}

#[tokio::test]
async fn forged_and_bent_tokens_are_refused_while_a_proper_one_is_accepted() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let (kid, seed) = signing_key(&app);
    let claims = claims_of(&agency.admin.access_token);
    let now = chrono::Utc::now().timestamp();

    // Control: the same claims, re-signed with the real key, work.
    assert_eq!(status_of(&app, &sign_eddsa(&kid, &seed, &claims)).await, StatusCode::OK);

    let mut cases: Vec<(&str, String)> = Vec::new();
    cases.push(("alg none", unsigned(&json!({"alg": "none", "typ": "JWT", "kid": kid}), &claims)));
    let jwks: Value = app.get("/.well-known/jwks.json", None).await.json().await.unwrap();
    let public = URL_SAFE_NO_PAD.decode(jwks["keys"][0]["x"].as_str().unwrap()).unwrap();
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some(kid.clone());
    cases.push((
        "HS256 keyed with the public key bytes",
        jsonwebtoken::encode(&hs_header, &claims, &EncodingKey::from_secret(&public).unwrap()).unwrap(),
    ));
    cases.push((
        "HS256 keyed with the JWKS x value",
        jsonwebtoken::encode(
            &hs_header,
            &claims,
            &EncodingKey::from_secret(URL_SAFE_NO_PAD.encode(public).as_bytes()).unwrap(),
        )
        .unwrap(),
    ));
    let good = sign_eddsa(&kid, &seed, &claims);
    let mut tampered_sig = good.clone();
    let last = tampered_sig.pop().unwrap();
    tampered_sig.push(if last == 'A' { 'B' } else { 'A' });
    cases.push(("tampered signature", tampered_sig));
    let mut escalated = claims.clone();
    escalated["roles"] = json!(["agency_admin", "supervisor"]);
    let forged_payload = URL_SAFE_NO_PAD.encode(escalated.to_string());
    let parts: Vec<&str> = good.split('.').collect();
    cases.push(("payload changed under the old signature", format!("{}.{}.{}", parts[0], forged_payload, parts[2])));
    let mut expired = claims.clone();
    expired["exp"] = json!(now - 3600);
    expired["iat"] = json!(now - 4600);
    cases.push(("expired", sign_eddsa(&kid, &seed, &expired)));
    let mut wrong_aud = claims.clone();
    wrong_aud["aud"] = json!("someone-else");
    cases.push(("wrong audience", sign_eddsa(&kid, &seed, &wrong_aud)));
    let mut wrong_iss = claims.clone();
    wrong_iss["iss"] = json!("https://evil.example");
    cases.push(("wrong issuer", sign_eddsa(&kid, &seed, &wrong_iss)));
    cases.push(("unknown kid", sign_eddsa("no-such-key", &seed, &claims)));
    let mut no_kid = Header::new(Algorithm::EdDSA);
    no_kid.kid = None;
    cases.push(("no kid", jsonwebtoken::encode(&no_kid, &claims, &EncodingKey::from_ed_der(&pkcs8(&seed))).unwrap()));
    let mut no_exp = claims.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    cases.push(("missing exp", sign_eddsa(&kid, &seed, &no_exp)));
    let other_seed = [7_u8; 32];
    cases.push(("signed by another key under our kid", sign_eddsa(&kid, &other_seed, &claims)));
    cases.push(("not a JWT", "not-a-token".to_owned()));

    for (name, token) in cases {
        let response = app.get("/api/v1/me", Some(&token)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name} must be refused");
        problem(response, StatusCode::UNAUTHORIZED).await;
    }
}

/// Signs `header` and `claims` exactly as given (jsonwebtoken's `encode` would write its own header).
fn sign_raw(header: &Value, claims: &Value, seed: &[u8; 32]) -> String {
    let message =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let key = EncodingKey::from_ed_der(&pkcs8(seed));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::EdDSA).unwrap();
    format!("{message}.{signature}")
}

/// RFC 8725 §3.10 and RFC 7515 §4.1.11: a token may not bring its own key, or the address of one,
/// nor extensions the verifier must understand; and time claims from the future are refused.
/// Every token here carries a valid signature by the service's own key, so each is refused for
/// the header parameter or claim under test, not for its signature.
#[tokio::test]
async fn tokens_offering_keys_extensions_or_future_times_are_refused() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let (kid, seed) = signing_key(&app);
    let claims = claims_of(&agency.admin.access_token);
    let now = chrono::Utc::now().timestamp();
    let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": kid});

    // Controls: our own header shape, and the same without `typ`, verify.
    assert_eq!(status_of(&app, &sign_raw(&header, &claims, &seed)).await, StatusCode::OK);
    assert_eq!(status_of(&app, &sign_raw(&json!({"alg": "EdDSA", "kid": kid}), &claims, &seed)).await, StatusCode::OK);

    let jwks: Value = app.get("/.well-known/jwks.json", None).await.json().await.unwrap();
    let with = |name: &str, value: Value| {
        let mut h = header.clone();
        h[name] = value;
        h
    };
    let mut cases: Vec<(&str, String)> = vec![
        ("jku", sign_raw(&with("jku", json!("https://evil.example/jwks.json")), &claims, &seed)),
        ("x5u", sign_raw(&with("x5u", json!("https://evil.example/cert.pem")), &claims, &seed)),
        ("embedded jwk (our own public key)", sign_raw(&with("jwk", jwks["keys"][0].clone()), &claims, &seed)),
        ("x5c", sign_raw(&with("x5c", json!(["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"])), &claims, &seed)),
        ("crit naming an extension", sign_raw(&with("crit", json!(["exp"])), &claims, &seed)),
        ("crit with an unknown parameter", {
            let mut h = with("crit", json!(["vcao-ext"]));
            h["vcao-ext"] = json!(true);
            sign_raw(&h, &claims, &seed)
        }),
        ("typ other than JWT", sign_raw(&with("typ", json!("at+jwt+evil")), &claims, &seed)),
    ];
    let mut not_yet = claims.clone();
    not_yet["nbf"] = json!(now + 600);
    cases.push(("nbf ten minutes ahead", sign_raw(&header, &not_yet, &seed)));
    let mut future = claims.clone();
    future["iat"] = json!(now + 600);
    future["exp"] = json!(now + 900);
    cases.push(("iat ten minutes ahead", sign_raw(&header, &future, &seed)));

    for (name, token) in cases {
        let response = app.get("/api/v1/me", Some(&token)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name} must be refused");
        problem(response, StatusCode::UNAUTHORIZED).await;
    }
}

#[tokio::test]
async fn the_jwks_publishes_the_signing_key_and_it_verifies_tokens() {
    let app = spawn_app().await;
    let agency = app.create_agency().await;
    let jwks: Value = app.get("/.well-known/jwks.json", None).await.json().await.unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["alg"], "EdDSA");
    assert!(key.get("d").is_none(), "no private part is published");
    let header = jsonwebtoken::decode_header(&agency.admin.access_token).unwrap();
    assert_eq!(header.kid.as_deref(), key["kid"].as_str());
    let decoding = jsonwebtoken::DecodingKey::from_ed_components(key["x"].as_str().unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(Algorithm::EdDSA);
    validation.set_audience(&["vcao-api"]);
    validation.set_issuer(&["vcao-platform"]);
    let data = jsonwebtoken::decode::<Value>(&agency.admin.access_token, &decoding, &validation).unwrap();
    for claim in ["sub", "tid", "tkind", "roles", "jti", "iat", "exp", "iss", "aud"] {
        assert!(data.claims.get(claim).is_some(), "claim {claim}");
    }
}
