//! Referral-to-SSE latency under load, against a running service.
//!
//! Usage: `cargo run --release -p integration-tests --example sse_latency -- <base-url> <platform-password> [referrals] [load-clients]`
//! (`bench/sse_latency.sh` starts a release service and runs this). Workers on duty hold SSE
//! streams; a police liaison makes referrals one after another while `load-clients` other clients
//! make referrals at another division as fast as they can. Latency is from just before the POST is
//! sent until each on-duty worker's stream has delivered the event.

#![expect(clippy::unwrap_used, reason = "a benchmark fails loudly")]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Mutex;

const PASSWORD: &str = "bench password 1234";

async fn post(client: &reqwest::Client, url: String, token: Option<&str>, body: Value) -> Value {
    let mut request = client.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.unwrap_or(Value::Null)
}

/// Signs an account in, through its first sign-ins: a password someone else set is changed (to the
/// same text with " (mine)" after it), and a platform admin enrols an authenticator and finishes
/// with a recovery code. Each account here signs in once.
async fn login(client: &reqwest::Client, base: &str, tenant: &str, email: &str, password: &str) -> String {
    let url = format!("{base}/api/v1/auth/login");
    let mut password = password.to_owned();
    for _ in 0..3 {
        let answer =
            post(client, url.clone(), None, json!({"tenant": tenant, "email": email, "password": password})).await;
        let token = answer["access_token"].as_str().map(str::to_owned);
        if answer["password_change_required"] == true {
            let chosen = format!("{password} (mine)");
            let change = json!({"current_password": password, "new_password": chosen});
            let response = client
                .post(format!("{base}/api/v1/me/password"))
                .bearer_auth(token.unwrap())
                .json(&change)
                .send()
                .await;
            assert_eq!(response.unwrap().status().as_u16(), 204);
            password = chosen;
        } else if answer["mfa_enrolment_required"] == true {
            let token = token.unwrap();
            let enrolment = post(client, format!("{base}/api/v1/me/mfa/totp"), Some(&token), json!({})).await;
            let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap();
            let code = infra::auth::totp::code_from_base32(enrolment["secret"].as_str().unwrap(), now).unwrap();
            let confirmed =
                post(client, format!("{base}/api/v1/me/mfa/totp/confirm"), Some(&token), json!({"code": code})).await;
            let challenge =
                post(client, url.clone(), None, json!({"tenant": tenant, "email": email, "password": password})).await;
            let body = json!({"mfa_token": challenge["mfa_token"], "code": confirmed["recovery_codes"][0]});
            return post(client, format!("{base}/api/v1/auth/mfa"), None, body).await["access_token"]
                .as_str()
                .unwrap()
                .to_owned();
        } else {
            return token.unwrap();
        }
    }
    panic!("{email} did not finish signing in");
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let base = args.get(1).cloned().unwrap_or_else(|| "http://127.0.0.1:18093".to_owned());
    let platform_password = args.get(2).cloned().unwrap_or_default();
    let referrals: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(200);
    let load_clients: usize = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(8);
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap();

    let platform = login(&client, &base, "platform", "admin@platform.local", &platform_password).await;
    let slug = format!("sse-{}", std::process::id());
    post(
        &client,
        format!("{base}/api/v1/tenants"),
        Some(&platform),
        json!({"slug": slug, "name": "SSE bench", "kind": "agency", "mfa_required": false,
        "admin": {"email": "admin@sse.example", "display_name": "Admin", "password": PASSWORD}}),
    )
    .await;
    let admin = login(&client, &base, &slug, "admin@sse.example", PASSWORD).await;
    let divisions: Value = client
        .get(format!("{base}/api/v1/police-divisions?limit=200"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let division =
        |code: &str| divisions["items"].as_array().unwrap().iter().find(|d| d["code"] == code).unwrap()["id"].clone();
    let (d51, d14) = (division("51"), division("14"));

    let mut make_user = Vec::new();
    for (email, roles, division) in [
        ("liaison@sse.example", json!(["police_liaison"]), d51.clone()),
        ("noise@sse.example", json!(["police_liaison"]), d14.clone()),
    ] {
        post(
            &client,
            format!("{base}/api/v1/users"),
            Some(&admin),
            json!({"email": email, "display_name": "L", "roles": roles, "password": PASSWORD, "division_id": division}),
        )
        .await;
        make_user.push(login(&client, &base, &slug, email, PASSWORD).await);
    }
    let (liaison, noise) = (make_user[0].clone(), make_user[1].clone());
    let now = chrono::Utc::now();
    let arrivals: Arc<Mutex<HashMap<String, Vec<Instant>>>> = Arc::default();
    let workers = 4;
    for n in 0..workers {
        let email = format!("worker{n}@sse.example");
        let user = post(
            &client,
            format!("{base}/api/v1/users"),
            Some(&admin),
            json!({"email": email, "display_name": "W", "roles": ["case_manager"], "password": PASSWORD}),
        )
        .await;
        post(
            &client,
            format!("{base}/api/v1/shifts"),
            Some(&admin),
            json!({"user_id": user["id"], "division_id": d51,
            "starts_at": now - chrono::Duration::hours(1), "ends_at": now + chrono::Duration::hours(8)}),
        )
        .await;
        let token = login(&client, &base, &slug, &email, PASSWORD).await;
        let mut stream = client.get(format!("{base}/api/v1/events")).bearer_auth(&token).send().await.unwrap();
        let arrivals = Arc::clone(&arrivals);
        tokio::spawn(async move {
            let mut buffer = String::new();
            while let Ok(Some(chunk)) = stream.chunk().await {
                let at = Instant::now();
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let block: String = buffer.drain(..end + 2).collect();
                    if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: "))
                        && let Ok(v) = serde_json::from_str::<Value>(data)
                        && let Some(id) = v["referral_id"].as_str()
                    {
                        arrivals.lock().await.entry(id.to_owned()).or_default().push(at);
                    }
                }
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let body = |division: &Value| {
        json!({"division_id": division, "victimization_types": ["other"], "urgency": "immediate", "consent_to_contact": true,
        "person": {"given_name": "Bench", "safe_contact": {"ok_to_call": true, "ok_to_text": false, "ok_to_voicemail": false}}})
    };
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let background = Arc::new(std::sync::atomic::AtomicU64::new(0));
    for _ in 0..load_clients {
        let (client, base, noise, stop, background, body) =
            (client.clone(), base.clone(), noise.clone(), Arc::clone(&stop), Arc::clone(&background), body(&d14));
        tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                post(&client, format!("{base}/api/v1/referrals"), Some(&noise), body.clone()).await;
                background.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
    }
    let mut sent = Vec::new();
    let started = Instant::now();
    for _ in 0..referrals {
        let t0 = Instant::now();
        let made = post(&client, format!("{base}/api/v1/referrals"), Some(&liaison), body(&d51)).await;
        sent.push((made["id"].as_str().unwrap().to_owned(), t0));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let arrivals = arrivals.lock().await;
    let mut latencies: Vec<f64> = Vec::new();
    let mut missing = 0;
    for (id, t0) in &sent {
        match arrivals.get(id) {
            Some(times) if times.len() == workers => {
                latencies.extend(times.iter().map(|t| (*t - *t0).as_secs_f64() * 1000.0))
            }
            _ => missing += 1,
        }
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "referrals measured: {}, deliveries: {} ({workers} workers on duty), missing or partial: {missing}",
        sent.len(),
        latencies.len()
    );
    println!(
        "background load: {load_clients} clients made {} referrals at another division in {elapsed:.1} s",
        background.load(std::sync::atomic::Ordering::Relaxed)
    );
    println!(
        "referral POST sent -> SSE event delivered: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(1.0)
    );
}
