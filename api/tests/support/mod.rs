//! What the real-binary fault tests share: starting `vcao serve`, provisioning an agency with a
//! case manager through the API, a write load of retrying clients, and the check that every
//! acknowledged create survived exactly once.

#![allow(dead_code, reason = "each test binary uses part of it")]

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

pub const ADMIN_PASSWORD: &str = "platform-admin-test-password";
/// What an admin gives the users they create; each changes it at first sign-in, to [`PASSWORD`].
pub const INITIAL_PASSWORD: &str = "initial password from the admin";
pub const PASSWORD: &str = "correct horse battery staple";

/// Starts `vcao serve` on `dir` and `port`, on `database_url` (None: embedded SQLite), without Redis.
pub fn start_service(dir: &std::path::Path, port: u16, database_url: Option<&str>) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vcao"));
    command
        .arg("serve")
        .env("VCAO_DATA_DIR", dir)
        .env("VCAO_BIND", format!("127.0.0.1:{port}"))
        .env("VCAO_BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD)
        // The suite's master key (tests/api/helpers.rs): on the shared PostgreSQL database every
        // service must open the same tenants' keys (a sign-in seals its user agent with them).
        .env("VCAO_MASTER_KEY", "WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=")
        .env("RUST_LOG", "warn")
        .env_remove("REDIS_URL")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    command.spawn().unwrap()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap()
}

/// The readiness answer: (HTTP status, body).
pub async fn readiness(client: &reqwest::Client, base: &str) -> Option<(u16, Value)> {
    let response = client.get(format!("{base}/health/ready")).send().await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.json().await.unwrap_or(Value::Null)))
}

pub async fn wait_until_ready(client: &reqwest::Client, base: &str) {
    for _ in 0..600 {
        if readiness(client, base).await.is_some_and(|(status, _)| status == 200) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the service did not become ready");
}

pub async fn post(client: &reqwest::Client, url: String, token: Option<&str>, body: &Value) -> Value {
    let mut request = client.post(url).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.unwrap()
}

/// An agency made through the API, and a case manager's access token in it.
pub struct Agency {
    pub tenant_id: domain::TenantId,
    pub token: String,
}

pub async fn provision_agency(
    client: &reqwest::Client,
    base: &str,
    dir: &std::path::Path,
    database_url: Option<&str>,
) -> Agency {
    let token = |answer: Value| answer["access_token"].as_str().unwrap().to_owned();
    let platform = platform_token(client, base, dir, database_url).await;
    let slug = format!("fault-{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
    let admin_email = format!("admin@{slug}.example");
    let tenant = post(
        client,
        format!("{base}/api/v1/tenants"),
        Some(&platform),
        &json!({"slug": slug, "name": "Fault test agency", "kind": "agency",
                "admin": {"email": admin_email, "display_name": "Admin", "password": INITIAL_PASSWORD},
                "mfa_required": false}),
    )
    .await;
    let admin = token(first_login(client, base, &slug, &admin_email, INITIAL_PASSWORD).await);
    let worker_email = format!("worker@{slug}.example");
    post(
        client,
        format!("{base}/api/v1/users"),
        Some(&admin),
        &json!({"email": worker_email, "display_name": "Worker", "roles": ["case_manager"], "password": INITIAL_PASSWORD}),
    )
    .await;
    Agency {
        tenant_id: domain::TenantId::from_uuid(tenant["id"].as_str().unwrap().parse().unwrap()),
        token: token(first_login(client, base, &slug, &worker_email, INITIAL_PASSWORD).await),
    }
}

/// Creates one client, retrying with the same key and body until the service answers 2xx. Only
/// 409 (the first attempt is still in flight), 5xx and connection errors may be retried.
pub async fn create_until_answered(client: &reqwest::Client, base: &str, token: &str, key: &str) -> String {
    let body = json!({"given_name": format!("Fault {key}")});
    loop {
        let attempt = client
            .post(format!("{base}/api/v1/clients"))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
            .await;
        if let Ok(response) = attempt {
            if response.status().is_success() {
                let created: Value = response.json().await.unwrap();
                return created["id"].as_str().unwrap().to_owned();
            }
            assert!(
                response.status().as_u16() == 409 || response.status().is_server_error(),
                "unexpected {}",
                response.status()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Idempotency keys acknowledged with a 2xx, and the client id each was answered with.
pub type Acknowledged = Arc<Mutex<HashMap<String, String>>>;

/// `writers` tasks that each create `per_writer` clients, one after another, as fast as answered.
pub fn start_writers(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    writers: usize,
    per_writer: usize,
) -> (Acknowledged, Vec<tokio::task::JoinHandle<()>>) {
    let acknowledged: Acknowledged = Arc::default();
    let handles = (0..writers)
        .map(|w| {
            let (client, base, token, acknowledged) =
                (client.clone(), base.to_owned(), token.to_owned(), Arc::clone(&acknowledged));
            tokio::spawn(async move {
                for n in 0..per_writer {
                    let key = format!("fault-{w}-{n}");
                    let id = create_until_answered(&client, &base, &token, &key).await;
                    acknowledged.lock().unwrap().insert(key, id);
                }
            })
        })
        .collect();
    (acknowledged, handles)
}

pub async fn wait_for_acknowledged(acknowledged: &Acknowledged, at_least: usize) {
    while acknowledged.lock().unwrap().len() < at_least {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Every acknowledged create is readable over HTTP, no two keys share a client, and the tenant
/// holds exactly as many clients as were acknowledged (a retry that made a second row would show).
pub async fn assert_each_acknowledged_once(
    client: &reqwest::Client,
    base: &str,
    agency: &Agency,
    acknowledged: &Acknowledged,
    expected: usize,
    dir: &std::path::Path,
    database_url: Option<&str>,
) {
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert_eq!(acknowledged.len(), expected);
    let ids: HashSet<&String> = acknowledged.values().collect();
    assert_eq!(ids.len(), acknowledged.len(), "two keys answered with the same client");
    for id in &ids {
        let response =
            client.get(format!("{base}/api/v1/clients/{id}")).bearer_auth(&agency.token).send().await.unwrap();
        assert_eq!(response.status(), 200, "acknowledged client {id} is missing");
    }
    let mut settings = infra::config::Settings { data_dir: dir.to_path_buf(), ..infra::config::Settings::default() };
    if let Some(url) = database_url {
        settings.database_url = Some(secrecy::SecretString::from(url.to_owned()));
    }
    let db = infra::Db::open(&settings).await.unwrap();
    #[expect(clippy::disallowed_methods, reason = "the test counts what the database holds, for no caller")]
    let tx = infra::db::begin_tenant_read_tx_for(&db, agency.tenant_id).await.unwrap();
    let stored = infra::store::clients::count(&tx).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(stored, expected as u64, "retries with the same Idempotency-Key made duplicates");
}

/// A platform admin of this test's own, signed in: added as an operator would
/// (`vcao add-platform-admin`, its generated password read from the file it writes), then taken
/// through the first sign-ins every platform admin makes (the password change, an authenticator)
/// and signed in with a recovery code. The bootstrap admin is shared by every test on the suite's
/// PostgreSQL database, so no test sets it up.
pub async fn platform_token(
    client: &reqwest::Client,
    base: &str,
    dir: &std::path::Path,
    database_url: Option<&str>,
) -> String {
    let email = format!("admin-{}@platform.local", uuid::Uuid::now_v7().simple());
    let mut command = Command::new(env!("CARGO_BIN_EXE_vcao"));
    command
        .args(["add-platform-admin", "--email", &email])
        .env("VCAO_DATA_DIR", dir)
        .env("VCAO_MASTER_KEY", "WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=")
        .env("RUST_LOG", "warn")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null());
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    assert!(command.status().unwrap().success(), "vcao add-platform-admin");
    let file = std::fs::read_to_string(dir.join(format!("platform-admin-{email}.txt"))).unwrap();
    let initial = file.split("password ").nth(1).unwrap().trim().to_owned();
    let setup = first_login(client, base, "platform", &email, &initial).await;
    assert_eq!(setup["mfa_enrolment_required"], true, "{setup}");
    let token = setup["access_token"].as_str().unwrap();
    let secret = post(client, format!("{base}/api/v1/me/mfa/totp"), Some(token), &json!({})).await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap();
    let code = infra::auth::totp::code_from_base32(&secret, now).unwrap();
    let confirmed =
        post(client, format!("{base}/api/v1/me/mfa/totp/confirm"), Some(token), &json!({"code": code})).await;
    let body = json!({"tenant": "platform", "email": email, "password": PASSWORD});
    let challenge = post(client, format!("{base}/api/v1/auth/login"), None, &body).await;
    let body = json!({"mfa_token": challenge["mfa_token"], "code": confirmed["recovery_codes"][0]});
    post(client, format!("{base}/api/v1/auth/mfa"), None, &body).await["access_token"].as_str().unwrap().to_owned()
}

/// The first sign-in of an account whose password `initial` someone else set: the token it answers
/// may only change the password, which becomes [`PASSWORD`]; then the answer of a sign-in with it.
pub async fn first_login(client: &reqwest::Client, base: &str, tenant: &str, email: &str, initial: &str) -> Value {
    let login = |password: &str| json!({"tenant": tenant, "email": email, "password": password});
    let setup = post(client, format!("{base}/api/v1/auth/login"), None, &login(initial)).await;
    assert_eq!(setup["password_change_required"], true, "{setup}");
    let change = json!({"current_password": initial, "new_password": PASSWORD});
    let response = client
        .post(format!("{base}/api/v1/me/password"))
        .bearer_auth(setup["access_token"].as_str().unwrap())
        .json(&change)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204, "password change of {email}");
    post(client, format!("{base}/api/v1/auth/login"), None, &login(PASSWORD)).await
}
