//! Settings: defaults, then an optional TOML file (`VCAO_CONFIG_FILE`), then `VCAO_*` environment
//! variables (and the plain `DATABASE_URL` and `REDIS_URL`). Unknown keys are refused and every
//! value is validated before the service starts. Every setting is listed in the README.

use std::net::SocketAddr;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

/// Everything the service can be told.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on.
    pub bind: String,
    /// Where the embedded database, generated keys and other local state live.
    pub data_dir: PathBuf,
    /// Owner connection (migrations, role provisioning). Unset: SQLite in `data_dir`.
    pub database_url: Option<SecretString>,
    /// Runtime connection as a role that cannot bypass row-level security. Unset on PostgreSQL:
    /// `database_url` with the user replaced by `database_app_role`.
    pub database_app_url: Option<SecretString>,
    /// Name of the runtime role provisioned on PostgreSQL.
    pub database_app_role: String,
    /// Password given to the runtime role when it is provisioned (unset: none, for trust or peer auth).
    pub database_app_password: Option<SecretString>,
    /// Size of the runtime connection pool.
    pub database_max_connections: u32,
    /// Redis; unset means in-process replacements (one replica only).
    pub redis_url: Option<SecretString>,
    /// Prefix of every Redis key and channel; replicas of one deployment share it.
    pub redis_namespace: String,
    /// Master key wrapping every tenant's data key: 32 bytes, standard base64. Unset: a development
    /// key generated into `data_dir/master.key`, with a loud warning.
    pub master_key: Option<SecretString>,
    /// The master key being rotated away from, while `vcao rotate-master-key` runs.
    pub previous_master_key: Option<SecretString>,
    /// Email of the platform admin created on first start.
    pub bootstrap_admin_email: String,
    /// Password of that admin; unset means one is generated and printed once.
    pub bootstrap_admin_password: Option<SecretString>,
    /// The WebAuthn relying party id passkeys are bound to: the domain the frontend is served
    /// from (or a parent of it). Passkeys registered under one id do not work under another.
    pub webauthn_rp_id: String,
    /// The origin (scheme, host, port) the frontend's pages are served from, as the browser reports
    /// it in a passkey ceremony; its host must be the relying party id or under it.
    pub webauthn_origin: String,
    /// `iss` of the access tokens.
    pub jwt_issuer: String,
    /// `aud` of the access tokens.
    pub jwt_audience: String,
    /// A key set file (JSON, see README). Unset: keys generated into `data_dir`.
    pub jwt_keys_file: Option<PathBuf>,
    /// The same key set as JSON in the environment; wins over the file.
    pub jwt_keys: Option<SecretString>,
    /// Failed logins allowed per account per window.
    pub login_max_failures_per_account: u32,
    /// Failed logins allowed per client address per window.
    pub login_max_failures_per_address: u32,
    /// The failed-login window in seconds.
    pub login_failure_window_seconds: u64,
    /// Take the client address from `Forwarded`/`X-Forwarded-For` (only behind proxies that set it).
    pub trust_forwarded_for: bool,
    /// How many proxies in front of the service append to those headers: the client address is
    /// the entry this many from the right (1 to 5).
    pub trusted_proxy_hops: u8,
    /// The bearer token `/metrics` requires; without one, `/metrics` answers only to a scraper
    /// on this machine (a loopback connection carrying no forwarding header).
    pub metrics_token: Option<SecretString>,
    /// `text` for people, `json` for log collectors.
    pub log_format: LogFormat,
    /// How often, in milliseconds, the audit sealer links new events into the chain.
    pub audit_seal_interval_ms: u64,
    /// How often, in milliseconds, unaccepted referrals past their window are escalated.
    pub escalation_sweep_interval_ms: u64,
    /// How often, in milliseconds, overdue tasks are announced (to their assignee, and past the
    /// grace to the supervisors).
    pub task_sweep_interval_ms: u64,
    /// How long, in minutes, a task may stay overdue before the tenant's supervisors are told.
    pub task_overdue_grace_minutes: u32,
    /// The fewest people a published figure may rest on; 5 or more (it may only be raised).
    pub suppression_threshold: i64,
    /// How long, in seconds, an aggregate answer may be served from Redis (0: never cached).
    /// Figures are never staler than this.
    pub aggregate_cache_seconds: u64,
    /// How often, in seconds, the release builder looks for new facts and rebuilds the releases
    /// they land in (`api::releases`): the figures are at most this plus one build old.
    pub release_refresh_seconds: u64,
    /// How many days the event outbox keeps an event for streams to replay.
    pub event_retention_days: u32,
    /// Web origins (`https://app.example`, comma-separated) whose browser frontends may call the
    /// API across origins. Empty: no CORS headers, so only same-origin pages can.
    pub cors_allowed_origins: String,
}

/// How logs are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".to_owned(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            database_app_url: None,
            database_app_role: "vcao_app".to_owned(),
            database_app_password: None,
            database_max_connections: 16,
            redis_url: None,
            redis_namespace: "vcao".to_owned(),
            master_key: None,
            previous_master_key: None,
            bootstrap_admin_email: "admin@platform.local".to_owned(),
            bootstrap_admin_password: None,
            webauthn_rp_id: "localhost".to_owned(),
            webauthn_origin: "http://localhost:8080".to_owned(),
            jwt_issuer: "vcao-platform".to_owned(),
            jwt_audience: "vcao-api".to_owned(),
            jwt_keys_file: None,
            jwt_keys: None,
            login_max_failures_per_account: 5,
            login_max_failures_per_address: 30,
            login_failure_window_seconds: 900,
            trust_forwarded_for: false,
            trusted_proxy_hops: 1,
            metrics_token: None,
            log_format: LogFormat::Text,
            audit_seal_interval_ms: 1000,
            escalation_sweep_interval_ms: 1000,
            task_sweep_interval_ms: 10_000,
            task_overdue_grace_minutes: 1440,
            suppression_threshold: domain::reporting::DEFAULT_THRESHOLD,
            aggregate_cache_seconds: 60,
            release_refresh_seconds: 60,
            event_retention_days: 30,
            cors_allowed_origins: String::new(),
        }
    }
}

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or environment could not be read into settings.
    #[error("cannot read settings: {0}")]
    Read(#[from] config::ConfigError),
    /// A value is out of range or malformed.
    #[error("invalid setting {name}: {reason}")]
    Invalid {
        /// The setting's environment name.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl Settings {
    /// Reads defaults, then the file named by `VCAO_CONFIG_FILE`, then the environment.
    ///
    /// # Errors
    /// [`ConfigError`] when a source cannot be read or a value is invalid.
    pub fn load() -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder();
        if let Ok(path) = std::env::var("VCAO_CONFIG_FILE") {
            builder = builder.add_source(config::File::with_name(&path).required(true));
        }
        builder = builder.add_source(
            config::Environment::with_prefix("VCAO")
                .prefix_separator("_")
                .try_parsing(true)
                // The file's own path is not a setting of the service.
                .source(Some(std::env::vars().filter(|(k, _)| k != "VCAO_CONFIG_FILE").collect())),
        );
        for (env, key) in [("DATABASE_URL", "database_url"), ("REDIS_URL", "redis_url")] {
            if let Ok(value) = std::env::var(env)
                && !value.is_empty()
            {
                builder = builder.set_override(key, value)?;
            }
        }
        let settings: Self = builder.build()?.try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks values that types alone do not.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first bad setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |name, reason: &str| ConfigError::Invalid { name, reason: reason.to_owned() };
        if self.bind.parse::<SocketAddr>().is_err() {
            return Err(invalid("VCAO_BIND", "must be an address and port such as 127.0.0.1:8080"));
        }
        let role_ok = !self.database_app_role.is_empty()
            && self.database_app_role.len() <= 63
            && self.database_app_role.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && !self.database_app_role.as_bytes()[0].is_ascii_digit();
        if !role_ok {
            return Err(invalid("VCAO_DATABASE_APP_ROLE", "must be a lowercase SQL identifier"));
        }
        let namespace_ok = (1..=64).contains(&self.redis_namespace.len())
            && self.redis_namespace.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !namespace_ok {
            return Err(invalid("VCAO_REDIS_NAMESPACE", "must be 1 to 64 letters, digits, '-', '_' or '.'"));
        }
        if !(1..=1000).contains(&self.database_max_connections) {
            return Err(invalid("VCAO_DATABASE_MAX_CONNECTIONS", "must be 1 to 1000"));
        }
        if !(1..=5).contains(&self.trusted_proxy_hops) {
            return Err(invalid("VCAO_TRUSTED_PROXY_HOPS", "must be 1 to 5"));
        }
        if self.metrics_token.as_ref().is_some_and(|t| secrecy::ExposeSecret::expose_secret(t).len() < 16) {
            return Err(invalid("VCAO_METRICS_TOKEN", "must be at least 16 characters"));
        }
        if domain::user::EmailAddress::parse(&self.bootstrap_admin_email).is_err() {
            return Err(invalid("VCAO_BOOTSTRAP_ADMIN_EMAIL", "must be an email address"));
        }
        if let Some(password) = &self.bootstrap_admin_password {
            use secrecy::ExposeSecret as _;
            if domain::user::NewPassword::parse(password.expose_secret()).is_err() {
                return Err(invalid("VCAO_BOOTSTRAP_ADMIN_PASSWORD", "must be 12 to 128 characters"));
            }
        }
        for (name, key) in
            [("VCAO_MASTER_KEY", &self.master_key), ("VCAO_PREVIOUS_MASTER_KEY", &self.previous_master_key)]
        {
            use secrecy::ExposeSecret as _;
            if let Some(key) = key
                && crate::crypto::MasterKey::from_base64(key.expose_secret()).is_err()
            {
                return Err(invalid(name, "must be 32 bytes in standard base64 (openssl rand -base64 32)"));
            }
        }
        if crate::auth::passkeys::RelyingParty::new(&self.webauthn_rp_id, &self.webauthn_origin).is_err() {
            return Err(invalid(
                "VCAO_WEBAUTHN_ORIGIN",
                "must be an origin (https://host[:port]) whose host is VCAO_WEBAUTHN_RP_ID or under it",
            ));
        }
        if self.jwt_issuer.is_empty() || self.jwt_audience.is_empty() {
            return Err(invalid("VCAO_JWT_ISSUER", "issuer and audience must not be empty"));
        }
        if self.login_max_failures_per_account == 0 || self.login_max_failures_per_address == 0 {
            return Err(invalid("VCAO_LOGIN_MAX_FAILURES_PER_ACCOUNT", "limits must be at least 1"));
        }
        if !(10..=86_400).contains(&self.login_failure_window_seconds) {
            return Err(invalid("VCAO_LOGIN_FAILURE_WINDOW_SECONDS", "must be 10 to 86400"));
        }
        if !(10..=60_000).contains(&self.escalation_sweep_interval_ms) {
            return Err(invalid("VCAO_ESCALATION_SWEEP_INTERVAL_MS", "must be 10 to 60000"));
        }
        if !(10..=600_000).contains(&self.task_sweep_interval_ms) {
            return Err(invalid("VCAO_TASK_SWEEP_INTERVAL_MS", "must be 10 to 600000"));
        }
        if !(1..=43_200).contains(&self.task_overdue_grace_minutes) {
            return Err(invalid("VCAO_TASK_OVERDUE_GRACE_MINUTES", "must be 1 to 43200 (30 days)"));
        }
        if !(domain::reporting::DEFAULT_THRESHOLD..=1000).contains(&self.suppression_threshold) {
            return Err(invalid("VCAO_SUPPRESSION_THRESHOLD", "must be 5 to 1000: it may be raised, never lowered"));
        }
        if self.aggregate_cache_seconds > 3600 {
            return Err(invalid("VCAO_AGGREGATE_CACHE_SECONDS", "must be 0 to 3600"));
        }
        if !(1..=240).contains(&self.release_refresh_seconds) {
            return Err(invalid(
                "VCAO_RELEASE_REFRESH_SECONDS",
                "must be 1 to 240: figures are promised within 5 minutes",
            ));
        }
        if !(10..=60_000).contains(&self.audit_seal_interval_ms) {
            return Err(invalid("VCAO_AUDIT_SEAL_INTERVAL_MS", "must be 10 to 60000"));
        }
        if !(1..=3650).contains(&self.event_retention_days) {
            return Err(invalid("VCAO_EVENT_RETENTION_DAYS", "must be 1 to 3650"));
        }
        if !self.cors_origins().all(is_web_origin) {
            return Err(invalid(
                "VCAO_CORS_ALLOWED_ORIGINS",
                "must be origins such as https://app.example, comma-separated: a scheme, a host and an optional port, no path and no wildcard",
            ));
        }
        Ok(())
    }

    /// The origins of `cors_allowed_origins`, trimmed.
    pub fn cors_origins(&self) -> impl Iterator<Item = &str> {
        self.cors_allowed_origins.split(',').map(str::trim).filter(|o| !o.is_empty())
    }

    /// The keyring these settings describe, and whether its master key is a generated development key.
    ///
    /// # Errors
    /// [`crate::crypto::CryptoError`] when a key cannot be read or made.
    pub fn keyring(&self) -> Result<(crate::crypto::Keyring, bool), crate::crypto::CryptoError> {
        use crate::crypto::{Keyring, MasterKey};
        use secrecy::ExposeSecret as _;
        let (current, generated) = match &self.master_key {
            Some(key) => (MasterKey::from_base64(key.expose_secret())?, false),
            None => (MasterKey::load_or_generate_dev(&self.data_dir)?, true),
        };
        let previous = match &self.previous_master_key {
            Some(key) => Some(MasterKey::from_base64(key.expose_secret())?),
            None if generated => MasterKey::load_previous_dev(&self.data_dir)?,
            None => None,
        };
        Ok((Keyring::new(current, previous), generated))
    }

    /// The failed-login throttle these settings describe.
    #[must_use]
    pub fn login_throttle(&self) -> domain::auth::LoginThrottle {
        domain::auth::LoginThrottle {
            per_account: self.login_max_failures_per_account,
            per_address: self.login_max_failures_per_address,
            window_seconds: self.login_failure_window_seconds,
        }
    }
}

/// A browser origin as an `Origin` header carries it: `http` or `https`, a host of letters, digits,
/// dots and hyphens, and an optional port; nothing else, so it can be compared byte for byte.
fn is_web_origin(origin: &str) -> bool {
    let Some(rest) = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://")) else { return false };
    let (host, port) = rest.split_once(':').unwrap_or((rest, ""));
    !host.is_empty()
        && host.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && (port.is_empty() || (port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())))
        && !rest.ends_with(':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cors_origins_are_exact_origins() {
        for good in ["https://app.example", "http://localhost:5173", "https://a-b.c.example:8443"] {
            assert!(is_web_origin(good), "{good}");
        }
        for bad in
            ["*", "https://app.example/", "app.example", "https://", "https://App.example", "https://a:", "ftp://x"]
        {
            assert!(!is_web_origin(bad), "{bad}");
        }
        let s = Settings {
            cors_allowed_origins: " https://a.example , http://localhost:3000 ".into(),
            ..Settings::default()
        };
        assert!(s.validate().is_ok());
        assert_eq!(s.cors_origins().collect::<Vec<_>>(), ["https://a.example", "http://localhost:3000"]);
    }

    #[test]
    fn the_defaults_are_valid() {
        assert!(Settings::default().validate().is_ok());
    }

    #[test]
    fn bad_values_name_their_setting() {
        let cases: Vec<(Settings, &str)> = vec![
            (Settings { bind: "nowhere".into(), ..Settings::default() }, "VCAO_BIND"),
            (Settings { database_app_role: "app; drop".into(), ..Settings::default() }, "VCAO_DATABASE_APP_ROLE"),
            (Settings { database_max_connections: 0, ..Settings::default() }, "VCAO_DATABASE_MAX_CONNECTIONS"),
            (Settings { cors_allowed_origins: "*".into(), ..Settings::default() }, "VCAO_CORS_ALLOWED_ORIGINS"),
            (Settings { bootstrap_admin_email: "admin".into(), ..Settings::default() }, "VCAO_BOOTSTRAP_ADMIN_EMAIL"),
            (
                Settings { bootstrap_admin_password: Some("short".to_owned().into()), ..Settings::default() },
                "VCAO_BOOTSTRAP_ADMIN_PASSWORD",
            ),
        ];
        for (settings, name) in cases {
            match settings.validate() {
                Err(ConfigError::Invalid { name: got, .. }) => assert_eq!(got, name),
                other => panic!("{name}: expected invalid, got {other:?}"),
            }
        }
    }
}
