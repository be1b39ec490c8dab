//! What each way of signing in costs, against a running service: a password alone, a password
//! that must first be changed (the setup token), and a password then a passkey (a software
//! authenticator signs; its own time is not counted).
//!
//! Usage: `cargo run --release -p integration-tests --example sign_in_latency -- <base-url> <platform-password> [samples]`
//! (`bench/sign_in_latency.sh` starts a release service and runs this). Prints the median and p95
//! of each path, in milliseconds, requests one after another.

#![expect(clippy::unwrap_used, reason = "a benchmark fails loudly")]

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

const INITIAL: &str = "bench initial password";
const PASSWORD: &str = "bench chosen password";

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Value {
        let mut request = self.http.post(format!("{}/api/v1{path}", self.base)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
        response.json().await.unwrap_or(Value::Null)
    }

    async fn login(&self, tenant: &str, email: &str, password: &str) -> Value {
        self.post("/auth/login", None, json!({"tenant": tenant, "email": email, "password": password})).await
    }

    /// A user the agency's admin made, through their first sign-in: the session's token.
    async fn first_sign_in(&self, tenant: &str, email: &str, initial: &str) -> String {
        let setup = self.login(tenant, email, initial).await;
        let change = json!({"current_password": initial, "new_password": PASSWORD});
        self.post("/me/password", setup["access_token"].as_str(), change).await;
        self.login(tenant, email, PASSWORD).await["access_token"].as_str().unwrap().to_owned()
    }
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p95 = samples[(samples.len() * 95).div_ceil(100).saturating_sub(1)];
    println!(
        "{name:<48} n={:<3} median {:>6.1} ms  p95 {:>6.1} ms",
        samples.len(),
        ms(samples[samples.len() / 2]),
        ms(p95)
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let base = args.get(1).cloned().unwrap_or_else(|| "http://127.0.0.1:18094".to_owned());
    let platform_password = args.get(2).cloned().unwrap_or_default();
    let samples: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(30);
    let client = Client { http: reqwest::Client::new(), base };

    // The platform admin: password change, an authenticator, a recovery code.
    let setup = client.login("platform", "admin@platform.local", &platform_password).await;
    let change = json!({"current_password": platform_password, "new_password": PASSWORD});
    client.post("/me/password", setup["access_token"].as_str(), change).await;
    let setup = client.login("platform", "admin@platform.local", PASSWORD).await;
    let token = setup["access_token"].as_str().unwrap();
    let secret = client.post("/me/mfa/totp", Some(token), json!({})).await["secret"].as_str().unwrap().to_owned();
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap();
    let code = infra::auth::totp::code_from_base32(&secret, now).unwrap();
    let codes = client.post("/me/mfa/totp/confirm", Some(token), json!({"code": code})).await;
    let challenge = client.login("platform", "admin@platform.local", PASSWORD).await;
    let body = json!({"mfa_token": challenge["mfa_token"], "code": codes["recovery_codes"][0]});
    let platform = client.post("/auth/mfa", None, body).await["access_token"].as_str().unwrap().to_owned();

    // An agency with three users: a password alone, a password still to be changed, and a
    // password and a passkey.
    let slug = format!("latency-{}", std::process::id());
    let admin_email = "admin@latency.example";
    let tenant = json!({"slug": slug, "name": "Latency", "kind": "agency", "mfa_required": false,
                        "admin": {"email": admin_email, "display_name": "Admin", "password": INITIAL}});
    client.post("/tenants", Some(&platform), tenant).await;
    let admin = client.first_sign_in(&slug, admin_email, INITIAL).await;
    for who in ["plain", "passkey", "setup"] {
        let body = json!({"email": format!("{who}@latency.example"), "display_name": who, "roles": ["agency_admin"],
                          "password": INITIAL});
        client.post("/users", Some(&admin), body).await;
    }
    client.first_sign_in(&slug, "plain@latency.example", INITIAL).await;
    let passkey_user = client.first_sign_in(&slug, "passkey@latency.example", INITIAL).await;
    let origin = Url::parse("http://localhost:8080").unwrap();
    let mut key = WebauthnAuthenticator::new(SoftPasskey::new(true));
    let options = client.post("/me/mfa/webauthn/registration", Some(&passkey_user), json!({})).await;
    let options: CreationChallengeResponse =
        serde_json::from_value(json!({"publicKey": options["publicKey"]})).unwrap();
    let credential = key.do_registration(origin.clone(), options).unwrap();
    client.post("/me/mfa/webauthn/registration/finish", Some(&passkey_user), json!({"credential": credential})).await;

    let mut plain = Vec::new();
    let mut setup_token = Vec::new();
    let mut passkey = Vec::new();
    for _ in 0..samples {
        let at = Instant::now();
        let tokens = client.login(&slug, "plain@latency.example", PASSWORD).await;
        plain.push(at.elapsed());
        assert!(tokens["refresh_token"].is_string());

        let at = Instant::now();
        let setup = client.login(&slug, "setup@latency.example", INITIAL).await;
        setup_token.push(at.elapsed());
        assert_eq!(setup["password_change_required"], true);

        let at = Instant::now();
        let challenge = client.login(&slug, "passkey@latency.example", PASSWORD).await;
        let options =
            client.post("/auth/mfa/webauthn/options", None, json!({"mfa_token": challenge["mfa_token"]})).await;
        let server = at.elapsed();
        let options: RequestChallengeResponse =
            serde_json::from_value(json!({"publicKey": options["publicKey"]})).unwrap();
        let answer = key.do_authentication(origin.clone(), options).unwrap();
        let at = Instant::now();
        let body = json!({"mfa_token": challenge["mfa_token"], "credential": answer});
        let tokens = client.post("/auth/mfa/webauthn", None, body).await;
        passkey.push(server + at.elapsed());
        assert!(tokens["refresh_token"].is_string());
    }
    report("password alone (login)", plain);
    report("password to be changed (login -> setup token)", setup_token);
    report("password + passkey (login, options, complete)", passkey);
}
