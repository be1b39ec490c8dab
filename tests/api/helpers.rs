//! Spawning the service on port 0 with fresh state, and typed helpers per endpoint.
//!
//! Backend: SQLite in a temporary directory, unless `DATABASE_URL` names a PostgreSQL database
//! (then every test shares it, each with its own tenants). Redis: only when `REDIS_URL` is set, with
//! a namespace per test so counters never leak between tests. `TEST_LOG=1` shows the logs.

use std::time::Duration;

use api::Application;
use infra::config::Settings;
use reqwest::{Client, Response, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};
use uuid::Uuid;

/// The bootstrap platform admin's password in every test database (set by the operator's settings,
/// so changed at first sign-in; each test app signs in as a platform admin of its own instead,
/// [`TestApp::platform_admin`]).
pub const PLATFORM_PASSWORD: &str = "platform-admin-test-password";
/// The password the helpers' admins give the users they create: someone else's, so each user's
/// first sign-in may only change it.
pub const INITIAL_PASSWORD: &str = "initial password from the admin";
/// The password every user the helpers create chose at that first sign-in.
pub const PASSWORD: &str = "correct horse battery staple";

/// A running service and what a test needs to talk to it.
pub struct TestApp {
    pub address: String,
    pub client: Client,
    pub state: api::state::AppState,
    /// The Redis namespace, for a second app that must share wake-ups with this one.
    pub redis_namespace: String,
    /// Keeps the SQLite file and generated keys alive for the test's duration (shared by apps
    /// started with [`spawn_app_sharing`]).
    pub data_dir: std::sync::Arc<tempfile::TempDir>,
    /// When set, [`TestApp::post_json`] sends a fresh `Idempotency-Key` (starting with
    /// [`KEY_CANARY`]) with every request, so a test sees every create through the stored-answer path.
    keyed_posts: std::sync::atomic::AtomicBool,
    /// This app's platform admin, set up and signed in once (argon2 costs a fixture every call
    /// otherwise).
    platform: tokio::sync::OnceCell<PlatformAdmin>,
    /// The seeded police divisions, by code, read once.
    divisions: tokio::sync::OnceCell<Vec<(String, Uuid)>>,
}

/// The start of every key [`TestApp::key_every_post`] sends: a client may put anything in a key,
/// so the canary tests look for it at rest too.
pub const KEY_CANARY: &str = "Quillfeather";

/// The master key of every test service on the suite's PostgreSQL database (32 bytes of 0x5a).
const SUITE_MASTER_KEY: &str = "WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=";

/// True when the suite runs on PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var("DATABASE_URL").is_ok_and(|u| u.starts_with("postgres"))
}

/// Settings for a fresh test app.
pub fn test_settings(data_dir: &std::path::Path) -> Settings {
    let mut settings = Settings {
        bind: "127.0.0.1:0".to_owned(),
        data_dir: data_dir.to_path_buf(),
        bootstrap_admin_password: Some(SecretString::from(PLATFORM_PASSWORD.to_owned())),
        database_max_connections: 5,
        // Per-address limits are exercised by their own test; the rest of the suite shares 127.0.0.1.
        login_max_failures_per_address: 10_000,
        audit_seal_interval_ms: 200,
        escalation_sweep_interval_ms: 100,
        // Tests build the figures when they ask for them (`refresh_figures`): a background round
        // cut off when its test ends would hold a year on the shared database for a lease.
        release_refresh_seconds: 240,
        redis_namespace: format!("test-{}", Uuid::now_v7().simple()),
        ..Settings::default()
    };
    if let Ok(url) = std::env::var("DATABASE_URL") {
        settings.database_url = Some(SecretString::from(url));
        // The tests' services share one database, and so the platform tenant and its data key,
        // as a deployment's replicas do: they share its master key too. (On SQLite each test has
        // a database, and its generated key, of its own.)
        settings.master_key = Some(SecretString::from(SUITE_MASTER_KEY.to_owned()));
    }
    if let Ok(url) = std::env::var("REDIS_URL") {
        settings.redis_url = Some(SecretString::from(url));
    }
    settings
}

/// On PostgreSQL, a fresh database of this suite's own, named after the suite's and `purpose`
/// (dropped first if a former run left it), for a test that must be alone with its data: every
/// other test's service shares the suite's database, and their background audit sealers seal any
/// agency's events. `None` on SQLite, where every test app has a database file of its own.
pub async fn own_postgres_database(purpose: &str) -> Option<SecretString> {
    use sea_orm::ConnectionTrait as _;
    let url = std::env::var("DATABASE_URL").ok().filter(|u| u.starts_with("postgres"))?;
    let (server, suite_db) = url.rsplit_once('/').expect("a database URL names its database");
    let name = format!("{}_{purpose}", suite_db.split('?').next().unwrap_or(suite_db));
    let admin = sea_orm::Database::connect(format!("{server}/postgres")).await.expect("connect to postgres");
    admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await.expect("drop");
    admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.expect("create");
    admin.close().await.expect("close");
    Some(SecretString::from(format!("{server}/{name}")))
}

/// PostgreSQL: the statements the transaction's database session has prepared whose text is
/// `ILIKE pattern`, as their number and the start of each. The driver keeps what it prepares, per
/// connection; a test with one pooled connection sees here everything its service prepared.
pub async fn prepared_statements_like(tx: &infra::TenantTx, pattern: &str) -> (i64, Vec<String>) {
    use sea_orm::ConnectionTrait as _;
    let rows = tx
        .raw()
        .query_all_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT left(statement, 160) AS s FROM pg_prepared_statements WHERE statement ILIKE $1",
            [pattern.into()],
        ))
        .await
        .expect("pg_prepared_statements");
    let texts: Vec<String> = rows.iter().map(|row| row.try_get::<String>("", "s").expect("text")).collect();
    (i64::try_from(texts.len()).expect("a count"), texts)
}

/// Starts the service with the default test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the service after `adjust` has changed the test settings.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_in(std::sync::Arc::new(tempfile::tempdir().expect("temp dir")), adjust).await
}

/// Starts the service with its background rounds (the audit sealer, the escalation sweep) a
/// minute apart, for a test that counts what one request sends the database.
pub async fn spawn_quiet_app() -> TestApp {
    spawn_app_with(|s| {
        s.audit_seal_interval_ms = 60_000;
        s.escalation_sweep_interval_ms = 60_000;
    })
    .await
}

/// Starts a service alone with its data, for a test that reads the ministry's figures: on
/// PostgreSQL with a database of its own (named after `purpose`, which must be the test's own).
/// A year's release continues from its last build (`domain::reporting::release::lineage`), so on
/// the suite's shared database the figures would depend on when other tests' services built it.
pub async fn spawn_app_alone(purpose: &str, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let own = own_postgres_database(purpose).await;
    spawn_app_with(|s| {
        if let Some(url) = own {
            s.database_url = Some(url);
        }
        adjust(s);
    })
    .await
}

/// Starts a second service on the same data directory (and so the same SQLite file) as `other`.
pub async fn spawn_app_sharing(other: &TestApp, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_in(std::sync::Arc::clone(&other.data_dir), adjust).await
}

async fn spawn_in(data_dir: std::sync::Arc<tempfile::TempDir>, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    if std::env::var("TEST_LOG").is_ok() {
        api::telemetry::init(infra::config::LogFormat::Text, "info");
    }
    let mut settings = test_settings(data_dir.path());
    adjust(&mut settings);
    let redis_namespace = settings.redis_namespace.clone();
    let app = Application::build(settings).await.expect("the service builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped());
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    TestApp {
        address,
        client,
        state,
        redis_namespace,
        data_dir,
        keyed_posts: false.into(),
        platform: tokio::sync::OnceCell::new(),
        divisions: tokio::sync::OnceCell::new(),
    }
}

/// A signed-in user.
#[derive(Clone, Debug)]
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub user_id: Uuid,
    pub email: String,
}

/// A test app's own platform admin (on PostgreSQL every app shares the platform tenant, so each
/// adds one, as an operator would, rather than race the others for the bootstrap admin's factor).
pub struct PlatformAdmin {
    pub session: Session,
    /// Recovery codes not yet used, for further sign-ins within the same 30-second step.
    pub recovery_codes: std::sync::Mutex<Vec<String>>,
}

/// An agency made for one test, with its admin signed in.
#[derive(Clone, Debug)]
pub struct Agency {
    pub id: Uuid,
    pub slug: String,
    pub admin: Session,
}

/// A unique slug.
pub fn unique_slug(prefix: &str) -> String {
    format!("{prefix}-{}", &Uuid::now_v7().simple().to_string()[20..])
}

impl TestApp {
    /// Runs a round of the release builder now, as the background one would within
    /// `VCAO_RELEASE_REFRESH_SECONDS`: the figures then include every fact written so far.
    /// On the suite's shared PostgreSQL database another test's app may hold a year to build it
    /// (or have held it when its test ended: then until its lease runs out); the round then skips
    /// it, and this waits for a round that skips nothing.
    pub async fn refresh_figures(&self) {
        let started = std::time::Instant::now();
        while started.elapsed() < api::releases::LEASE * 3 {
            let round = api::releases::refresh(&self.state).await.unwrap_or_else(|e| panic!("release refresh: {e}"));
            if round.skipped.is_empty() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the releases stayed held by another builder for three leases");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// From now on every [`TestApp::post_json`] carries a fresh `Idempotency-Key`.
    pub fn key_every_post(&self) {
        self.keyed_posts.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        let mut request = self.client.post(self.url(path)).json(body);
        if self.keyed_posts.load(std::sync::atomic::Ordering::Relaxed) {
            request = request.header("Idempotency-Key", format!("{KEY_CANARY}-{}", Uuid::new_v4()));
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request sent")
    }

    /// POSTs `body` as JSON, checks the answer is `expected`, and reads it as `T`: the way a new
    /// test should make a request whose answer it uses.
    pub async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        token: Option<&str>,
        body: &impl serde::Serialize,
        expected: StatusCode,
    ) -> T {
        let body = serde_json::to_value(body).expect("a JSON body");
        let response = self.post_json(path, token, &body).await;
        let status = response.status();
        let text = response.text().await.expect("a body");
        assert_eq!(status, expected, "POST {path}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("POST {path}: {e} in {text}"))
    }

    /// GETs `path`, checks the answer is `expected`, and reads it as `T`.
    pub async fn get_as<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        token: Option<&str>,
        expected: StatusCode,
    ) -> T {
        let response = self.get(path, token).await;
        let status = response.status();
        let text = response.text().await.expect("a body");
        assert_eq!(status, expected, "GET {path}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: {e} in {text}"))
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request sent")
    }

    pub async fn patch_json(&self, path: &str, token: &str, if_match: Option<&str>, body: &Value) -> Response {
        let mut request = self.client.patch(self.url(path)).bearer_auth(token).json(body);
        if let Some(tag) = if_match {
            request = request.header("If-Match", tag);
        }
        request.send().await.expect("request sent")
    }

    /// POST /auth/login, returning the raw response.
    pub async fn login_raw(&self, tenant: &str, email: &str, password: &str) -> Response {
        self.post_json("/api/v1/auth/login", None, &json!({"tenant": tenant, "email": email, "password": password}))
            .await
    }

    /// Signs in and returns the session; panics unless it succeeds with tokens.
    pub async fn login(&self, tenant: &str, email: &str, password: &str) -> Session {
        let response = self.login_raw(tenant, email, password).await;
        assert_eq!(response.status(), StatusCode::OK, "login of {email} at {tenant}");
        let body: Value = response.json().await.expect("json");
        self.session_from(&body, email).await
    }

    /// The session a token answer (of a sign-in or its second step) starts.
    pub async fn session_from(&self, body: &Value, email: &str) -> Session {
        let access_token = body["access_token"].as_str().unwrap_or_else(|| panic!("tokens, not {body}")).to_owned();
        let me: Value = self.get("/api/v1/me", Some(&access_token)).await.json().await.expect("json");
        Session {
            access_token,
            refresh_token: body["refresh_token"]
                .as_str()
                .unwrap_or_else(|| panic!("a full session, not {body}"))
                .to_owned(),
            user_id: me["id"].as_str().and_then(|s| s.parse().ok()).expect("user id"),
            email: email.to_owned(),
        }
    }

    /// Revokes `session` in the database only, as another replica would with Redis away: no
    /// cache of this replica hears of it, so only the database's session check can refuse it.
    pub async fn end_session_in_database_only(&self, session: &Session) {
        use base64::Engine as _;
        let payload = session.access_token.split('.').nth(1).expect("a JWT");
        let claims: Value =
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        let id = |claim: &str| -> Uuid { claims[claim].as_str().and_then(|s| s.parse().ok()).expect(claim) };
        let tenant = domain::TenantId::from_uuid(id("tid"));
        let tx = infra::db::begin_tenant_tx_for(&self.state.db, tenant).await.unwrap();
        infra::store::sessions::revoke(&tx, domain::SessionId::from_uuid(id("sid")), "test").await.unwrap();
        tx.commit().await.unwrap();
    }

    /// The first sign-in of a user whose password `initial` someone else set: the token it answers
    /// may only change the password, which it changes to [`PASSWORD`]; then a sign-in with it.
    /// Panics unless each step answers as the contract says.
    pub async fn first_sign_in(&self, tenant: &str, email: &str, initial: &str) -> Value {
        let response = self.login_raw(tenant, email, initial).await;
        assert_eq!(response.status(), StatusCode::OK, "first login of {email} at {tenant}");
        let setup: Value = response.json().await.expect("json");
        assert_eq!(setup["password_change_required"], true, "{setup}");
        assert!(setup.get("refresh_token").is_none(), "a setup token comes alone: {setup}");
        let token = setup["access_token"].as_str().expect("setup token");
        let body = json!({"current_password": initial, "new_password": PASSWORD});
        let changed = self.post_json("/api/v1/me/password", Some(token), &body).await;
        assert_eq!(changed.status(), StatusCode::NO_CONTENT, "first password change of {email}");
        let response = self.login_raw(tenant, email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "login of {email} at {tenant}");
        response.json().await.expect("json")
    }

    /// [`TestApp::first_sign_in`] for a user of a tenant that needs no second factor: the session.
    pub async fn first_session(&self, tenant: &str, email: &str, initial: &str) -> Session {
        let body = self.first_sign_in(tenant, email, initial).await;
        self.session_from(&body, email).await
    }

    /// This app's platform admin, signed in (a test that ends this session must sign in again with
    /// [`TestApp::platform_login`] rather than use this).
    pub async fn platform_admin(&self) -> Session {
        self.platform_account().await.session.clone()
    }

    /// A fresh session of this app's platform admin (its password, then a recovery code).
    pub async fn platform_login(&self) -> Session {
        self.sign_in_with_recovery(self.platform_account().await).await
    }

    /// Adds this app's platform admin as the operator would (`vcao add-platform-admin`), and takes
    /// it through its first sign-ins: the password change, then the second factor every platform
    /// admin needs.
    async fn platform_account(&self) -> &PlatformAdmin {
        self.platform
            .get_or_init(|| async {
                let email = format!("admin-{}@platform.local", Uuid::now_v7().simple());
                api::maintenance::add_platform_admin_in(&self.state.db, &email, INITIAL_PASSWORD).await.expect("added");
                let setup = self.first_sign_in("platform", &email, INITIAL_PASSWORD).await;
                assert_eq!(setup["mfa_enrolment_required"], true, "{setup}");
                let (session, codes) = self.enrol_then_sign_in("platform", &email, &setup).await;
                PlatformAdmin { session, recovery_codes: std::sync::Mutex::new(codes) }
            })
            .await
    }

    /// With the `setup` answer of a sign-in that waits for enrolment: enrols an authenticator,
    /// confirms it with its current code, and signs in again with a recovery code (the
    /// confirmation spent the current step's code). The session, and the recovery codes left.
    pub async fn enrol_then_sign_in(&self, tenant: &str, email: &str, setup: &Value) -> (Session, Vec<String>) {
        let token = setup["access_token"].as_str().expect("setup token");
        let enrolment: Value = self.post("/api/v1/me/mfa/totp", Some(token), &json!({}), StatusCode::CREATED).await;
        let secret = enrolment["secret"].as_str().expect("secret");
        let now = u64::try_from(chrono::Utc::now().timestamp()).expect("after 1970");
        let code = infra::auth::totp::code_from_base32(secret, now).expect("a code");
        let confirmed: Value =
            self.post("/api/v1/me/mfa/totp/confirm", Some(token), &json!({"code": code}), StatusCode::OK).await;
        let mut codes: Vec<String> = confirmed["recovery_codes"]
            .as_array()
            .expect("codes")
            .iter()
            .map(|c| c.as_str().expect("code").to_owned())
            .collect();
        let challenge: Value = self.login_raw(tenant, email, PASSWORD).await.json().await.expect("json");
        assert_eq!(challenge["mfa_required"], true, "{challenge}");
        let body = json!({"mfa_token": challenge["mfa_token"], "code": codes.pop()});
        let tokens: Value = self.post("/api/v1/auth/mfa", None, &body, StatusCode::OK).await;
        (self.session_from(&tokens, email).await, codes)
    }

    async fn sign_in_with_recovery(&self, admin: &PlatformAdmin) -> Session {
        let email = &admin.session.email;
        let code = admin.recovery_codes.lock().unwrap().pop().expect("a recovery code left");
        let challenge: Value = self.login_raw("platform", email, PASSWORD).await.json().await.unwrap();
        assert_eq!(challenge["mfa_required"], true, "{challenge}");
        let body = json!({"mfa_token": challenge["mfa_token"], "code": code});
        let tokens: Value = self.post("/api/v1/auth/mfa", None, &body, StatusCode::OK).await;
        self.session_from(&tokens, email).await
    }

    /// Creates a tenant of `kind` and signs its first admin in.
    pub async fn create_tenant(&self, kind: &str) -> Agency {
        let platform = self.platform_admin().await;
        let slug = unique_slug(kind);
        let email = format!("admin@{slug}.example");
        let response = self
            .post_json(
                "/api/v1/tenants",
                Some(&platform.access_token),
                &json!({"slug": slug, "name": format!("Test {slug}"), "kind": kind,
                        "admin": {"email": email, "display_name": "First Admin", "password": INITIAL_PASSWORD},
                        // The policy has tests of its own (tests/api/account_setup.rs); elsewhere a
                        // password is enough, as in a tenant whose admin turned the policy off.
                        "mfa_required": false}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "create tenant");
        let tenant: Value = response.json().await.expect("json");
        let admin = self.first_session(&slug, &email, INITIAL_PASSWORD).await;
        Agency { id: tenant["id"].as_str().and_then(|s| s.parse().ok()).expect("id"), slug, admin }
    }

    /// A fresh agency with its admin signed in.
    pub async fn create_agency(&self) -> Agency {
        self.create_tenant("agency").await
    }

    /// Creates a user with `roles` in `agency` (a division is added for police liaisons) and signs them in.
    pub async fn create_user(&self, agency: &Agency, roles: &[&str]) -> Session {
        let email =
            format!("{}-{}@{}.example", roles.join("-"), &Uuid::now_v7().simple().to_string()[24..], agency.slug);
        let mut body =
            json!({"email": email, "display_name": "Test User", "roles": roles, "password": INITIAL_PASSWORD});
        if roles.contains(&"police_liaison") {
            body["division_id"] = json!(self.division_id("51").await);
        }
        let response = self.post_json("/api/v1/users", Some(&agency.admin.access_token), &body).await;
        assert_eq!(response.status(), StatusCode::CREATED, "create user");
        if roles.contains(&"supervisor") {
            // The second person a supervisor grant needs (`domain::grants`): here the operator.
            api::maintenance::confirm_supervisor_in(&self.state.db, &agency.slug, &email).await.expect("confirmed");
        }
        self.first_session(&agency.slug, &email, INITIAL_PASSWORD).await
    }

    /// The id of a seeded Toronto division by code (the list is read once per app).
    pub async fn division_id(&self, code: &str) -> Uuid {
        let divisions = self
            .divisions
            .get_or_init(|| async {
                let platform = self.platform_admin().await;
                let path = "/api/v1/police-divisions?limit=200";
                let body: Value = self.get_as(path, Some(&platform.access_token), StatusCode::OK).await;
                let items = body["items"].as_array().cloned().unwrap_or_default();
                items
                    .iter()
                    .filter_map(|d| Some((d["code"].as_str()?.to_owned(), d["id"].as_str()?.parse().ok()?)))
                    .collect()
            })
            .await;
        divisions.iter().find(|(c, _)| c == code).map(|(_, id)| *id).expect("seeded division")
    }
}

/// Reads a problem+json body and checks its content type and status.
pub async fn problem(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status, "status");
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("problem json");
    assert_eq!(body["status"], status.as_u16());
    body
}

/// A Server-Sent Events stream read event by event.
pub struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

/// One event of a stream.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamEvent {
    pub id: String,
    pub kind: String,
    pub data: Value,
}

impl TestApp {
    /// Opens `GET /events` for `token`, optionally resuming after `last_event_id`.
    pub async fn events(&self, token: &str, last_event_id: Option<&str>) -> EventStream {
        let mut request =
            self.client.get(self.url("/api/v1/events")).bearer_auth(token).timeout(Duration::from_secs(3600));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.expect("stream opened");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("text/event-stream"));
        EventStream { response, buffer: String::new() }
    }
}

impl EventStream {
    /// Everything the stream sends until the server ends it, within `wait`; `None` if it is still
    /// open then.
    pub async fn end_within(&mut self, wait: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.response.chunk()).await.ok()? {
                Ok(Some(chunk)) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(None) | Err(_) => return Some(std::mem::take(&mut self.buffer)),
            }
        }
    }

    /// The next event within `wait`, skipping comments and the retry hint; `None` on timeout.
    pub async fn next_within(&mut self, wait: Duration) -> Option<StreamEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut id = None;
                let mut kind = None;
                let mut data = None;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = Some(v.to_owned());
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        kind = Some(v.to_owned());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = serde_json::from_str(v).ok();
                    }
                }
                if let (Some(id), Some(kind), Some(data)) = (id, kind, data) {
                    return Some(StreamEvent { id, kind, data });
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await.ok()?.ok()??;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}
