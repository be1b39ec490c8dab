//! Redis is optional and never a point of failure: the service starts without it, keeps serving
//! when it goes away (in-process fallbacks, database as the truth), and uses it again when it
//! returns. Each test runs its own private `redis-server` so it can stop it.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use infra::cache::{OptionalRedis, WakeBus};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, spawn_app_with};

/// Every request here must finish well within this, or the service hung on Redis.
const NO_HANG: Duration = Duration::from_secs(10);

struct PrivateRedis {
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    fn start_on(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (apt-get install redis-server); .ci/run installs it");
        let redis = Self { port, child: Some(child) };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return redis;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("private redis-server did not start on {port}");
    }

    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Self::start_on(port)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn ready(app: &TestApp) -> Value {
    let response = tokio::time::timeout(NO_HANG, app.get("/health/ready", None)).await.expect("readiness answered");
    assert_eq!(response.status(), StatusCode::OK, "the database is up, so the service is ready or degraded");
    response.json().await.unwrap()
}

/// Whether readiness reports Redis up again within 10 s (the service reconnects by itself).
async fn redis_comes_back(app: &TestApp) -> bool {
    for _ in 0..50 {
        if ready(app).await["redis"] == "up" {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

/// Signs in, reads /me, signs out and checks the old token is refused: all without hanging.
async fn full_round(app: &TestApp, tenant: &str, email: &str) {
    let session = tokio::time::timeout(NO_HANG, app.login(tenant, email, PASSWORD)).await.expect("login answered");
    let me =
        tokio::time::timeout(NO_HANG, app.get("/api/v1/me", Some(&session.access_token))).await.expect("me answered");
    assert_eq!(me.status(), StatusCode::OK);
    let out =
        tokio::time::timeout(NO_HANG, app.post_json("/api/v1/auth/logout", Some(&session.access_token), &json!({})))
            .await
            .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let after = tokio::time::timeout(NO_HANG, app.get("/api/v1/me", Some(&session.access_token))).await.unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_service_starts_and_serves_with_redis_unreachable() {
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let app = spawn_app_with(|s| s.redis_url = Some(format!("redis://127.0.0.1:{closed_port}").into())).await;
    let health = ready(&app).await;
    assert_eq!((health["status"].as_str(), health["redis"].as_str()), (Some("degraded"), Some("down")));
    let agency = app.create_agency().await;
    full_round(&app, &agency.slug, &agency.admin.email).await;
    // The failed-login throttle still works from the in-process counter.
    for _ in 0..5 {
        assert_eq!(
            app.login_raw(&agency.slug, &agency.admin.email, "wrong wrong wrong").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        app.login_raw(&agency.slug, &agency.admin.email, PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains("vcao_redis_up 0"));
}

#[tokio::test]
async fn the_service_rides_out_redis_going_away_and_coming_back() {
    let mut redis = PrivateRedis::start();
    let port = redis.port;
    let app = spawn_app_with(|s| s.redis_url = Some(redis.url().into())).await;
    assert_eq!(ready(&app).await["redis"], "up");
    let agency = app.create_agency().await;
    full_round(&app, &agency.slug, &agency.admin.email).await;

    // A session revoked while Redis is up, checked again once Redis is gone: the database decides.
    let revoked = app.login(&agency.slug, &agency.admin.email, PASSWORD).await;
    app.post_json("/api/v1/auth/logout", Some(&revoked.access_token), &json!({})).await;

    redis.stop();
    let health = ready(&app).await;
    assert_eq!((health["status"].as_str(), health["redis"].as_str()), (Some("degraded"), Some("down")));
    full_round(&app, &agency.slug, &agency.admin.email).await;
    let stale = tokio::time::timeout(NO_HANG, app.get("/api/v1/me", Some(&revoked.access_token))).await.unwrap();
    assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);
    let user = tokio::time::timeout(
        NO_HANG,
        app.post_json(
            "/api/v1/users",
            Some(&agency.admin.access_token),
            &json!({
        "email": "during-outage@x.example", "display_name": "D", "roles": ["case_manager"], "password": PASSWORD}),
        ),
    )
    .await
    .unwrap();
    assert_eq!(user.status(), StatusCode::CREATED);

    // Redis returns on the same address: the service uses it again without a restart.
    let _back = PrivateRedis::start_on(port);
    let recovered = redis_comes_back(&app).await;
    assert!(recovered, "readiness reports Redis up again");
    full_round(&app, &agency.slug, &agency.admin.email).await;
}

#[tokio::test]
async fn wake_ups_cross_replicas_through_redis_and_stay_local_without_it() {
    let redis = PrivateRedis::start();
    let a = WakeBus::new(Some(OptionalRedis::new(&redis.url(), "wake-test").unwrap()));
    let b = WakeBus::new(Some(OptionalRedis::new(&redis.url(), "wake-test").unwrap()));
    let mut on_b = b.subscribe();
    // The relay subscribes in the background; publish until it has.
    let mut received = None;
    for _ in 0..50 {
        a.publish("referral.created").await;
        if let Ok(Ok(topic)) = tokio::time::timeout(Duration::from_millis(100), on_b.recv()).await {
            received = Some(topic);
            break;
        }
    }
    assert_eq!(received.as_deref(), Some("referral.created"));

    let unreachable = WakeBus::new(Some(OptionalRedis::new("redis://127.0.0.1:1", "wake-test").unwrap()));
    let mut local = unreachable.subscribe();
    tokio::time::timeout(NO_HANG, unreachable.publish("audit")).await.expect("publish never hangs");
    assert_eq!(tokio::time::timeout(NO_HANG, local.recv()).await.unwrap().unwrap(), "audit");
}

/// Redis stopped and started again while clients keep working: every request is answered within
/// [`NO_HANG`], none with a 5xx, requests go on while Redis is away, and it is used again without
/// a restart. The load touches everything the service keeps in Redis: the session revocation
/// check on every request, the failed-login counters, idempotent creates and cached figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopping_and_starting_under_load_causes_no_hang_and_no_5xx() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

    let mut redis = PrivateRedis::start();
    let port = redis.port;
    let app = Arc::new(spawn_app_with(|s| s.redis_url = Some(redis.url().into())).await);
    let agency = app.create_agency().await;
    let worker = app.create_user(&agency, &["case_manager"]).await;
    let (slug, admin_token) = (agency.slug.clone(), agency.admin.access_token.clone());

    // 0: Redis up, 1: stopped, 2: back.
    let phase = Arc::new(AtomicU8::new(0));
    let running = Arc::new(AtomicBool::new(true));
    let mut load = Vec::new();
    for task in 0..4_u32 {
        let (app, phase, running) = (Arc::clone(&app), Arc::clone(&phase), Arc::clone(&running));
        let (token, admin_token, slug) = (worker.access_token.clone(), admin_token.clone(), slug.clone());
        load.push(tokio::spawn(async move {
            let mut answered: Vec<(u8, u16, &'static str)> = Vec::new();
            let mut n = 0_u32;
            while running.load(Ordering::Relaxed) {
                n += 1;
                let at = phase.load(Ordering::Relaxed);
                let (what, request) = match n % 4 {
                    0 => ("me", app.client.get(app.url("/api/v1/me")).bearer_auth(&token)),
                    1 => (
                        "create",
                        app.client
                            .post(app.url("/api/v1/clients"))
                            .bearer_auth(&token)
                            .header("Idempotency-Key", format!("redis-load-{task}-{n}"))
                            .json(&json!({"given_name": "Load"})),
                    ),
                    2 => (
                        "failed login",
                        app.client.post(app.url("/api/v1/auth/login")).json(
                            &json!({"tenant": slug, "email": format!("nobody-{task}@x.example"), "password": "wrong password here"}),
                        ),
                    ),
                    _ => (
                        "aggregates",
                        app.client
                            .get(app.url("/api/v1/aggregates?metric=clients_served&from=2026-04-01&to=2027-03-31"))
                            .bearer_auth(&admin_token),
                    ),
                };
                let response = tokio::time::timeout(NO_HANG, request.send())
                    .await
                    .unwrap_or_else(|_| panic!("{what} hung while Redis phase was {at}"))
                    .unwrap();
                answered.push((at, response.status().as_u16(), what));
            }
            answered
        }));
    }
    let settle = Duration::from_millis(1500);
    tokio::time::sleep(settle).await;
    redis.stop();
    phase.store(1, Ordering::Relaxed);
    tokio::time::sleep(settle).await;
    let _back = PrivateRedis::start_on(port);
    phase.store(2, Ordering::Relaxed);
    let recovered = redis_comes_back(&app).await;
    tokio::time::sleep(settle).await;
    running.store(false, Ordering::Relaxed);
    let mut answered = Vec::new();
    for task in load {
        answered.extend(task.await.unwrap());
    }
    assert!(recovered, "readiness reports Redis up again without a restart");
    for phase in 0..=2 {
        let count = answered.iter().filter(|(at, _, _)| *at == phase).count();
        assert!(count >= 8, "only {count} requests answered in phase {phase}");
    }
    let server_errors: Vec<_> = answered.iter().filter(|(_, status, _)| *status >= 500).collect();
    assert!(server_errors.is_empty(), "5xx under a Redis outage: {server_errors:?}");
    let unexpected: Vec<_> = answered
        .iter()
        .filter(|(_, status, what)| match *what {
            "me" | "aggregates" => *status != 200,
            "create" => *status != 201,
            _ => !matches!(*status, 401 | 429),
        })
        .collect();
    assert!(unexpected.is_empty(), "unexpected answers: {unexpected:?}");
}
