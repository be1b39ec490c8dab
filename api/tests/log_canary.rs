//! The real `vcao` binary, run with trace logging, never writes personal information to its log:
//! names, phone numbers and note text sent in bodies and query strings stay out of it.

#![expect(clippy::unwrap_used, reason = "a test fails loudly")]

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

mod support;

const CANARIES: [&str; 4] = ["Wrenfield", "Oswaldina", "416-555-8642", "the blue house by the ravine"];

struct Service {
    child: std::process::Child,
    base: String,
    client: reqwest::Client,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Service {
    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Value {
        let mut request = self.client.post(format!("{}{path}", self.base)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert!(response.status().is_success(), "POST {path}: {}", response.status());
        response.json().await.unwrap_or(Value::Null)
    }

    async fn get(&self, path: &str, token: &str) -> Value {
        let response = self.client.get(format!("{}{path}", self.base)).bearer_auth(token).send().await.unwrap();
        assert!(response.status().is_success(), "GET {path}: {}", response.status());
        response.json().await.unwrap()
    }

    async fn login(&self, tenant: &str, email: &str, password: &str) -> String {
        let body = self
            .post("/api/v1/auth/login", None, json!({"tenant": tenant, "email": email, "password": password}))
            .await;
        body["access_token"].as_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn trace_logs_hold_no_personal_information() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log_path = dir.path().join("service.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_vcao"));
    command
        .arg("serve")
        .env("VCAO_DATA_DIR", dir.path())
        .env("VCAO_BIND", format!("127.0.0.1:{port}"))
        .env("VCAO_BOOTSTRAP_ADMIN_PASSWORD", support::ADMIN_PASSWORD)
        // On the suite's shared PostgreSQL database the platform tenant's data key is wrapped under the
        // suite's master key (tests/api/helpers.rs): a sign-in seals its user agent with it.
        .env("VCAO_MASTER_KEY", SUITE_MASTER_KEY)
        .env("RUST_LOG", "trace")
        .env_remove("REDIS_URL")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log));
    if std::env::var("DATABASE_URL").is_err() {
        command.env_remove("DATABASE_URL");
    }
    let service = Service {
        child: command.spawn().unwrap(),
        base: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap(),
    };
    let mut up = false;
    for _ in 0..300 {
        if service.client.get(format!("{}/health/live", service.base)).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the service started; log:\n{}", std::fs::read_to_string(&log_path).unwrap_or_default());

    let database_url = std::env::var("DATABASE_URL").ok();
    let platform = support::platform_token(&service.client, &service.base, dir.path(), database_url.as_deref()).await;
    let slug = format!("canary-{}", &uuid_suffix());
    let password = "agency admin password";
    service
        .post(
            "/api/v1/tenants",
            Some(&platform),
            json!({"slug": slug, "name": "Canary Agency", "kind": "agency", "admin": {"email": "admin@canary.example", "display_name": "Admin", "password": password}, "mfa_required": false}),
        )
        .await;
    let token = |answer: Value| answer["access_token"].as_str().unwrap().to_owned();
    let first_login =
        |email: &'static str| support::first_login(&service.client, &service.base, &slug, email, password);
    let admin = token(first_login("admin@canary.example").await);
    service
        .post("/api/v1/users", Some(&admin), json!({"email": "cm@canary.example", "display_name": "Case Manager", "roles": ["case_manager"], "password": password}))
        .await;
    let worker = token(first_login("cm@canary.example").await);
    let client = service
        .post(
            "/api/v1/clients",
            Some(&worker),
            json!({"given_name": CANARIES[0], "family_name": CANARIES[1], "phone": CANARIES[2], "address": CANARIES[3]}),
        )
        .await;
    service.get(&format!("/api/v1/clients?given_name={}&family_name={}", CANARIES[0], CANARIES[1]), &worker).await;
    let case = service
        .post(
            "/api/v1/cases",
            Some(&worker),
            json!({"client_id": client["id"], "victimization_types": ["other"], "referral_source": "self"}),
        )
        .await;
    service
        .post(
            &format!("/api/v1/cases/{}/notes", case["id"].as_str().unwrap()),
            Some(&worker),
            json!({"body": format!("Met {} at {}", CANARIES[0], CANARIES[3])}),
        )
        .await;
    // A rejected request with personal data in it must not echo it into the log either.
    let _ = service
        .client
        .post(format!("{}/api/v1/clients", service.base))
        .bearer_auth(&worker)
        .json(&json!({"given_name": CANARIES[0], "phone": "call Oswaldina"}))
        .send()
        .await;

    // Passwords and reset codes are secrets too: a reset issued (by the admin, for a second admin:
    // a case worker's is a supervisor's to issue), redeemed, then a change.
    let second = json!({"email": "admin2@canary.example", "display_name": "Second Admin", "roles": ["agency_admin"], "password": password});
    let second = service.post("/api/v1/users", Some(&admin), second).await;
    let reset_path = format!("/api/v1/users/{}/password-reset", second["id"].as_str().unwrap());
    let issued = service.post(&reset_path, Some(&admin), json!({})).await;
    let code = issued["reset_code"].as_str().unwrap().to_owned();
    let redeem =
        json!({"tenant": slug, "email": "admin2@canary.example", "reset_code": code, "new_password": RESET_SECRET});
    service.post("/api/v1/auth/password-reset", None, redeem).await;
    let worker = service.login(&slug, "admin2@canary.example", RESET_SECRET).await;
    let change = json!({"current_password": RESET_SECRET, "new_password": CHANGED_SECRET});
    service.post("/api/v1/me/password", Some(&worker), change).await;
    let worker = service.login(&slug, "admin2@canary.example", CHANGED_SECRET).await;
    // An authenticator's secret and recovery codes, and a sign-in with its code.
    let enrolment = service.post("/api/v1/me/mfa/totp", Some(&worker), json!({})).await;
    let totp_secret = enrolment["secret"].as_str().unwrap().to_owned();
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap();
    let totp_code = |at: u64| infra::auth::totp::code_from_base32(&totp_secret, at).unwrap();
    let confirmed = service.post("/api/v1/me/mfa/totp/confirm", Some(&worker), json!({"code": totp_code(now)})).await;
    let recovery: Vec<String> =
        confirmed["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    let first = json!({"tenant": slug, "email": "admin2@canary.example", "password": CHANGED_SECRET});
    let challenge = service.post("/api/v1/auth/login", None, first).await;
    let mfa_token = challenge["mfa_token"].as_str().unwrap().to_owned();
    service.post("/api/v1/auth/mfa", None, json!({"mfa_token": mfa_token, "code": totp_code(now + 30)})).await;
    drop(service);

    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("request finished"), "the log was written at trace level:\n{log}");
    let mut secrets = vec![code.clone(), code.replace('-', ""), RESET_SECRET.to_owned(), CHANGED_SECRET.to_owned()];
    secrets.extend([password.to_owned(), totp_secret.clone(), mfa_token.clone()]);
    secrets.extend(recovery.iter().flat_map(|c| [c.clone(), c.replace('-', "")]));
    for canary in CANARIES.iter().copied().chain(secrets.iter().map(String::as_str)) {
        assert!(!log.contains(canary), "{canary} appears in the service log");
    }
}

/// The master key of every test service on the suite's PostgreSQL database (as in tests/api/helpers.rs).
const SUITE_MASTER_KEY: &str = "WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=";

/// The passwords the reset and the change set, looked for in the log.
const RESET_SECRET: &str = "Quintessa reset passphrase";
const CHANGED_SECRET: &str = "Quintessa changed passphrase";

fn uuid_suffix() -> String {
    format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos())
}

/// A generated platform-admin password never reaches standard output when that is not a terminal
/// (a container's log keeps it for ever): it is written to an owner-only file in the data
/// directory, and the output only says where.
#[tokio::test]
async fn the_generated_admin_password_goes_to_an_owner_only_file_not_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log_path = dir.path().join("service.log");
    let log = std::fs::File::create(&log_path).unwrap();
    // On SQLite, in a directory of its own: a fresh platform tenant, so a password is generated.
    let mut child = Command::new(env!("CARGO_BIN_EXE_vcao"))
        .arg("serve")
        .env("VCAO_DATA_DIR", dir.path())
        .env("VCAO_BIND", format!("127.0.0.1:{port}"))
        .env_remove("VCAO_BOOTSTRAP_ADMIN_PASSWORD")
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..300 {
        if client.get(format!("{base}/health/live")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let file = dir.path().join("bootstrap-admin-password.txt");
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    assert!(up, "the service started");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "owner-only");
    }
    let password = text.split("password ").nth(1).and_then(|rest| rest.split_whitespace().next()).unwrap();
    assert_eq!(password.len(), 24, "{text}");
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(!log.contains(password), "the password is in the service's output:\n{log}");
    assert!(log.contains("bootstrap-admin-password.txt"), "the output says where it is:\n{log}");
}
