//! `kill -9` of the real `vcao` binary in the middle of a write load, with clients that retry
//! with the same `Idempotency-Key` until answered: every create answered 2xx is in the database
//! afterwards, and no retry made a duplicate.

#![expect(clippy::unwrap_used, reason = "a test fails loudly")]

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "platform-admin-test-password";
const PASSWORD: &str = "correct horse battery staple";
const WRITERS: usize = 4;
const CREATES_PER_WRITER: usize = 30;

fn start(dir: &std::path::Path, port: u16) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vcao"));
    command
        .arg("serve")
        .env("VCAO_DATA_DIR", dir)
        .env("VCAO_BIND", format!("127.0.0.1:{port}"))
        .env("VCAO_BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "warn")
        .env_remove("REDIS_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if std::env::var("DATABASE_URL").is_err() {
        command.env_remove("DATABASE_URL");
    }
    command.spawn().unwrap()
}

async fn wait_until_up(client: &reqwest::Client, base: &str) {
    for _ in 0..600 {
        if client.get(format!("{base}/health/ready")).send().await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the service did not start");
}

async fn post(client: &reqwest::Client, url: String, token: Option<&str>, body: &Value) -> Value {
    let mut request = client.post(url).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.unwrap()
}

/// Creates one client, retrying with the same key and body until the service answers 2xx.
async fn create_until_answered(client: &reqwest::Client, base: &str, token: &str, key: &str) -> String {
    let body = json!({"given_name": format!("Crash {key}")});
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
            // 409: the first attempt is still in flight; 5xx: the service is going down. Retry.
            assert!(
                response.status().as_u16() == 409 || response.status().is_server_error(),
                "unexpected {}",
                response.status()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_load_loses_no_acknowledged_write_and_retries_make_no_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let mut service = start(dir.path(), port);
    wait_until_up(&client, &base).await;

    let login = |tenant: String, email: String, password: &'static str| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let body = json!({"tenant": tenant, "email": email, "password": password});
            post(&client, format!("{base}/api/v1/auth/login"), None, &body).await["access_token"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let platform = login("platform".into(), "admin@platform.local".into(), ADMIN_PASSWORD).await;
    let slug = format!("crash-{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
    let admin_email = format!("admin@{slug}.example");
    let tenant = post(
        &client,
        format!("{base}/api/v1/tenants"),
        Some(&platform),
        &json!({"slug": slug, "name": "Crash test agency", "kind": "agency",
                "admin": {"email": admin_email, "display_name": "Admin", "password": PASSWORD}}),
    )
    .await;
    let admin = login(slug.clone(), admin_email, PASSWORD).await;
    let worker_email = format!("worker@{slug}.example");
    post(
        &client,
        format!("{base}/api/v1/users"),
        Some(&admin),
        &json!({"email": worker_email, "display_name": "Worker", "roles": ["case_manager"], "password": PASSWORD}),
    )
    .await;
    let token = login(slug.clone(), worker_email, PASSWORD).await;

    // Writers create clients as fast as they can, each retrying until answered.
    let acknowledged: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (client, base, token, acknowledged) =
            (client.clone(), base.clone(), token.clone(), Arc::clone(&acknowledged));
        writers.push(tokio::spawn(async move {
            for n in 0..CREATES_PER_WRITER {
                let key = format!("crash-{w}-{n}");
                let id = create_until_answered(&client, &base, &token, &key).await;
                acknowledged.lock().unwrap().insert(key, id);
            }
        }));
    }
    // Kill the service mid-load, twice (after a fifth and after half of the creates were
    // answered), and bring it back on the same data.
    for share in [5, 2] {
        let total = WRITERS * CREATES_PER_WRITER;
        while acknowledged.lock().unwrap().len() < total / share {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let at_kill = acknowledged.lock().unwrap().len();
        assert!(at_kill < total, "the load was still running when the service was killed");
        service.kill().unwrap(); // SIGKILL: no drain, no shutdown hooks
        service.wait().unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        service = start(dir.path(), port);
    }
    for writer in writers {
        writer.await.unwrap();
    }
    wait_until_up(&client, &base).await;

    // Every acknowledged create is readable, and one key made one client.
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert_eq!(acknowledged.len(), WRITERS * CREATES_PER_WRITER);
    let ids: HashSet<&String> = acknowledged.values().collect();
    assert_eq!(ids.len(), acknowledged.len(), "two keys answered with the same client");
    for id in &ids {
        let response = client.get(format!("{base}/api/v1/clients/{id}")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(response.status(), 200, "acknowledged client {id} is missing");
    }
    let mut settings =
        infra::config::Settings { data_dir: dir.path().to_path_buf(), ..infra::config::Settings::default() };
    if let Ok(url) = std::env::var("DATABASE_URL") {
        settings.database_url = Some(secrecy::SecretString::from(url));
    }
    let db = infra::Db::open(&settings).await.unwrap();
    let tenant_id = domain::TenantId::from_uuid(tenant["id"].as_str().unwrap().parse().unwrap());
    let tx = infra::db::begin_tenant_read_tx_for(&db, tenant_id).await.unwrap();
    let stored = infra::store::clients::count(&tx).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(stored, acknowledged.len() as u64, "retries with the same Idempotency-Key made duplicates");
    service.kill().unwrap();
    service.wait().unwrap();
}
