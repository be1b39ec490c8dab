//! Start-up: `Application::build` opens the database, bootstraps, loads keys, binds (port 0 in
//! tests) and starts background work (`crate::background`); `run_until_stopped` serves until a
//! signal.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};
use infra::Db;
use infra::auth::keys::{self, KeyRing, KeySource};
use infra::auth::tokens::TokenService;
use infra::cache::OptionalRedis;
use infra::config::Settings;
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

/// The OpenAPI document as the routes' annotations give it, from the same registration the server
/// uses (`crate::openapi::document` adds the passes).
#[must_use]
pub fn collected_document() -> utoipa::openapi::OpenApi {
    let (_, doc) = App::new()
        .into_utoipa_app()
        .openapi(crate::openapi::ApiDoc::openapi())
        .service(utoipa_actix_web::scope("/api/v1").configure(crate::routes::configure_v1))
        .service(crate::routes::ops::health_live)
        .service(crate::routes::ops::health_ready)
        .service(crate::routes::ops::metrics)
        .service(crate::routes::ops::jwks)
        .split_for_parts();
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
        crate::bootstrap::ensure_vqrp_rules(&db).await?;
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
        let metrics = crate::metrics::Metrics::new()?;
        let state = AppState::new(db, tokens, keyring, redis, metrics, settings);
        let server = server(listener, state.clone())?;
        crate::background::spawn_all(&state);
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
    let doc = crate::openapi::document();
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
        .wrap(actix_web::middleware::from_fn(crate::middleware::cors))
        .wrap(actix_web::middleware::from_fn(crate::middleware::request_context))
    })
    .listen(listener)?
    .shutdown_timeout(10)
    .run();
    Ok(server)
}
