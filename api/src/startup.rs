//! Start-up: `Application::build` opens the database, bootstraps, loads keys, binds (port 0 in
//! tests) and starts background work; `run_until_stopped` serves until a signal.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::Ordering;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};
use infra::Db;
use infra::auth::keys::{self, KeyRing, KeySource};
use infra::auth::tokens::TokenService;
use infra::cache::OptionalRedis;
use infra::config::Settings;
use infra::store::audit::SealPass;
use secrecy::ExposeSecret as _;
use utoipa::OpenApi as _;
use utoipa_actix_web::AppExt as _;
use utoipa_swagger_ui::SwaggerUi;

use crate::error::{ApiError, extraction};
use crate::state::AppState;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A built, bound, not yet running service.
pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application").field("port", &self.port).finish_non_exhaustive()
    }
}

/// The OpenAPI document, built from the same registration the server uses.
#[must_use]
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = App::new()
        .into_utoipa_app()
        .openapi(crate::openapi::ApiDoc::openapi())
        .service(utoipa_actix_web::scope("/api/v1").configure(crate::routes::configure_v1))
        .service(crate::routes::ops::health_live)
        .service(crate::routes::ops::health_ready)
        .service(crate::routes::ops::metrics)
        .service(crate::routes::ops::jwks)
        .split_for_parts();
    crate::openapi_conventions::apply(&mut doc);
    crate::schema_enums::apply(&mut doc);
    crate::schema_text::apply(&mut doc);
    crate::openapi_examples::apply(&mut doc);
    doc
}

impl Application {
    /// Opens everything the service needs and binds its listener.
    ///
    /// # Errors
    /// When the settings, database, keys or listener cannot be used.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        // jsonwebtoken panics at first use without a crypto provider; fail at start instead.
        if !infra::auth::tokens::crypto_ready() {
            anyhow::bail!("jsonwebtoken has no crypto provider (the rust_crypto feature must be on)");
        }
        let db = Db::open(&settings).await?;
        crate::bootstrap::ensure_platform(&db, &settings).await?;
        let tokens = token_service(&settings)?;
        let (keyring, generated_master) = settings.keyring()?;
        if generated_master {
            tracing::warn!(
                dir = %settings.data_dir.display(),
                "USING A DEVELOPMENT MASTER KEY generated into the data directory; personal data is only as safe as that file. Set VCAO_MASTER_KEY in production"
            );
        }
        let redis = match &settings.redis_url {
            Some(url) => Some(OptionalRedis::new(url.expose_secret(), &settings.redis_namespace)?),
            None => None,
        };
        let listener = TcpListener::bind(&settings.bind)?;
        let port = listener.local_addr()?.port();
        let state = AppState::new(db, tokens, keyring, redis, settings);
        let server = server(listener, state.clone())?;
        spawn_audit_sealer(state.clone());
        spawn_escalation_sweeper(state.clone());
        Ok(Self { port, server, state })
    }

    /// The bound port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state (tests reach the database through it).
    #[must_use]
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGINT or SIGTERM, then drains in-flight requests.
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

fn token_service(settings: &Settings) -> anyhow::Result<TokenService> {
    let (set, source) = keys::load(
        settings.jwt_keys.as_ref().map(|k| k.expose_secret()),
        settings.jwt_keys_file.as_deref(),
        &settings.data_dir,
    )?;
    if source == KeySource::Generated {
        tracing::warn!(
            dir = %settings.data_dir.display(),
            "USING A DEVELOPMENT SIGNING KEY generated into the data directory; set VCAO_JWT_KEYS_FILE or VCAO_JWT_KEYS in production"
        );
    }
    let ring =
        KeyRing::from_set(&set, chrono::Duration::seconds(domain::auth::ACCESS_TOKEN_TTL_SECONDS), chrono::Utc::now())?;
    Ok(TokenService::new(ring, settings.jwt_issuer.clone(), settings.jwt_audience.clone()))
}

fn server(listener: TcpListener, state: AppState) -> anyhow::Result<Server> {
    // Serialised once and shared: the document as a value is about 10 MiB in memory, and actix
    // clones this closure for every worker (five copies made half the idle memory).
    let doc = document();
    let doc_json = web::Bytes::from(serde_json::to_vec(&doc)?);
    let allowed = std::sync::Arc::new(crate::allowed_methods::AllowedMethods::of(&doc));
    drop(doc);
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        let (app, _) = App::new()
            .into_utoipa_app()
            .app_data(data.clone())
            .app_data(web::JsonConfig::default().limit(MAX_BODY_BYTES).error_handler(extraction::json))
            .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
            .app_data(web::QueryConfig::default().error_handler(extraction::query))
            .app_data(web::PathConfig::default().error_handler(extraction::path))
            .service(utoipa_actix_web::scope("/api/v1").configure(crate::routes::configure_v1))
            .service(crate::routes::ops::health_live)
            .service(crate::routes::ops::health_ready)
            .service(crate::routes::ops::metrics)
            .service(crate::routes::ops::jwks)
            .split_for_parts();
        let doc_json = doc_json.clone();
        let allowed = std::sync::Arc::clone(&allowed);
        app.route(
            "/openapi.json",
            web::get().to(move || {
                let body = doc_json.clone();
                async move { HttpResponse::Ok().content_type("application/json").body(body) }
            }),
        )
        .service(
            SwaggerUi::new("/docs/{_:.*}")
                // No third-party validator: it would send the document's address off the machine.
                .config(utoipa_swagger_ui::Config::new(["/openapi.json"]).validator_url("none")),
        )
        .route(
            "/docs",
            web::get()
                .to(|| async { HttpResponse::PermanentRedirect().insert_header(("Location", "/docs/")).finish() }),
        )
        // No route matched: a path of the document with another method is 405, anything else 404.
        .default_service(web::to(move |request: actix_web::HttpRequest| {
            let error = match allowed.allow(request.path()) {
                Some(allow) => ApiError::MethodNotAllowed(allow),
                None => ApiError::NotFound,
            };
            async move { Err::<HttpResponse, _>(error) }
        }))
        .wrap(actix_web::middleware::from_fn(crate::middleware::request_context))
    })
    .listen(listener)?
    .shutdown_timeout(10)
    .run();
    Ok(server)
}

/// Passes of the audit sealer one tenant may take in a row (see `spawn_audit_sealer`).
const CATCH_UP_PASSES: usize = 20;

/// Links new audit events into each tenant's chain, every interval. Not on the event bus's
/// wake-ups: those come with every referral, and a pass visits every tenant, so under load the
/// sealer ran without pause (in a test with two agencies, 9 extra statements followed each
/// referral); on the interval it seals whatever a second brought in one pass.
#[expect(clippy::disallowed_methods, reason = "the sealer works through every tenant, for no caller")]
fn spawn_audit_sealer(state: AppState) {
    let interval = Duration::from_millis(state.settings.audit_seal_interval_ms);
    tokio::spawn(async move {
        // Where each tenant's sweep for late commits has got to (`sweep_late_commits`): one step
        // per tenant per interval, a sixtieth of the look-back or ten intervals' worth if more,
        // so a sweep takes at most about a minute (a minute at the default interval of 1 s).
        let mut sweeps: HashMap<domain::TenantId, Option<uuid::Uuid>> = HashMap::new();
        let look_back = infra::store::audit::LATE_COMMIT_LOOK_BACK;
        let step = (look_back / 60).max(interval * 10).min(look_back);
        // When a pass last sealed something for each tenant. A late commit is older than an
        // event sealed before it, so a tenant with nothing sealed for longer than the look-back
        // and two sweeps has none left to find: its sweep is skipped (50 quiet agencies cost 9 %
        // of a core in fresh passes, 13–17 % with a sweep step each). Every tenant is swept that
        // long after start, for what another replica sealed before this one took over.
        let started = tokio::time::Instant::now();
        let mut last_sealed: HashMap<domain::TenantId, tokio::time::Instant> = HashMap::new();
        let sweep_while = look_back + Duration::from_secs(120);
        loop {
            tokio::time::sleep(interval).await;
            let tenants = match infra::store::tenants::all_ids(state.db.global()).await {
                Ok(ids) => ids,
                Err(e) => {
                    tracing::warn!(error = %e, "audit sealer could not list tenants");
                    continue;
                }
            };
            for tenant in tenants {
                // A full pass means more are waiting: catch up now (a busy tenant audits more than
                // a batch a second), but at most this many passes before the other tenants' turn.
                for _ in 0..CATCH_UP_PASSES {
                    match infra::store::audit::seal_pending(&state.db, tenant, SealPass::Fresh).await {
                        Ok(n) => {
                            state.metrics.audit_sealed.fetch_add(n, Ordering::Relaxed);
                            if n > 0 {
                                last_sealed.insert(tenant, tokio::time::Instant::now());
                            }
                            if n < infra::store::audit::SEAL_BATCH {
                                break;
                            }
                        }
                        Err(e) => {
                            tracing::warn!(tenant_id = %tenant, error = %e, "audit sealing failed; will retry");
                            break;
                        }
                    }
                }
                let active = started.elapsed() < sweep_while
                    || last_sealed.get(&tenant).is_some_and(|at| at.elapsed() < sweep_while);
                if !active {
                    sweeps.remove(&tenant);
                    continue;
                }
                let from = sweeps.get(&tenant).copied().flatten();
                match infra::store::audit::sweep_late_commits(&state.db, tenant, from, step).await {
                    Ok((n, next)) => {
                        state.metrics.audit_sealed.fetch_add(n, Ordering::Relaxed);
                        if n > 0 {
                            last_sealed.insert(tenant, tokio::time::Instant::now());
                        }
                        sweeps.insert(tenant, next);
                    }
                    Err(e) => tracing::warn!(tenant_id = %tenant, error = %e, "late-commit sweep failed; will retry"),
                }
            }
        }
    });
}

/// Escalates referrals nobody accepted within their window: marks them (claimed with
/// `FOR UPDATE SKIP LOCKED` on PostgreSQL, so replicas never double up) and notifies the agency's
/// supervisors. Deadlines are columns, so a referral due while the service was down escalates on
/// the first sweep after it starts.
#[expect(clippy::disallowed_methods, reason = "the escalation sweeper works through every tenant, for no caller")]
fn spawn_escalation_sweeper(state: AppState) {
    let interval = Duration::from_millis(state.settings.escalation_sweep_interval_ms);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            let tenants = match infra::store::tenants::all_ids(state.db.global()).await {
                Ok(ids) => ids,
                Err(e) => {
                    tracing::warn!(error = %e, "escalation sweeper could not list tenants");
                    continue;
                }
            };
            for tenant in tenants {
                match escalate_due(&state, tenant).await {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::info!(tenant_id = %tenant, escalated = n, "referrals escalated");
                        state.bus.publish(&crate::routes::referrals::events_topic(tenant)).await;
                    }
                    Err(e) => tracing::warn!(tenant_id = %tenant, error = %e, "escalation sweep failed; will retry"),
                }
            }
        }
    });
}

#[expect(clippy::disallowed_methods, reason = "the escalation sweeper works through every tenant, for no caller")]
async fn escalate_due(state: &AppState, tenant: domain::TenantId) -> Result<usize, infra::StoreError> {
    use infra::store::{audit, events, referrals, users};
    let tx = infra::db::begin_tenant_tx_for(&state.db, tenant).await?;
    let due = referrals::claim_due_escalations(&tx, infra::db::now(), 100).await?;
    if due.is_empty() {
        return Ok(0);
    }
    let supervisors = users::active_with_role(&tx, domain::user::Role::Supervisor).await?;
    for referral in &due {
        let payload = serde_json::json!({
            "referral_id": referral.id, "division_id": referral.division_id, "urgency": referral.urgency.as_str(),
        });
        events::publish(&tx, &supervisors, "referral.escalated", &payload).await?;
        let entry = audit::AuditEntry {
            actor_id: None,
            action: "referral.escalated",
            resource_type: "referral",
            resource_id: Some(referral.id),
            client_ip: None,
            request_id: None,
            details: serde_json::json!({ "supervisors_notified": supervisors.len() }),
        };
        audit::record(&tx, entry).await?;
    }
    tx.commit().await?;
    Ok(due.len())
}
