//! Prometheus metrics, kept in a `prometheus` registry. Labels are route patterns
//! (`/api/v1/users/{id}`), methods and statuses: never ids, never personal information.
//!
//! A request's cost is one look-up of its series (a read lock and a hash of its labels, no
//! allocation once the series exists) and atomic adds; the text is made only when scraped.

use prometheus::core::Collector;
use prometheus::{
    Encoder as _, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

/// The label of a request method: a standard one, or `other`.
fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"];
    KNOWN.into_iter().find(|m| *m == method).unwrap_or("other")
}

/// Latency buckets in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// The service's counters.
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    /// Failed sign-ins.
    pub login_failures: IntCounter,
    /// Sign-ins refused by the throttle.
    pub login_throttled: IntCounter,
    /// Access tokens refused.
    pub tokens_rejected: IntCounter,
    /// Audit events sealed into chains.
    pub audit_sealed: IntCounter,
}

impl Metrics {
    /// The service's metrics, registered.
    ///
    /// # Errors
    /// Only for a metric name or label the exposition format refuses (a bug in this module,
    /// caught by its tests).
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("vcao_http_requests_total", "HTTP requests by method, route pattern and status."),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("vcao_http_request_duration_seconds", "Request latency by route pattern.")
                .buckets(BUCKETS.to_vec()),
            &["route"],
        )?;
        let counter = |name: &str, help: &str| IntCounter::new(name, help);
        let metrics = Self {
            login_failures: counter("vcao_login_failures_total", "Failed sign-ins.")?,
            login_throttled: counter("vcao_login_throttled_total", "Sign-ins refused by the failed-login throttle.")?,
            tokens_rejected: counter("vcao_tokens_rejected_total", "Access tokens refused.")?,
            audit_sealed: counter("vcao_audit_events_sealed_total", "Audit events linked into tenant hash chains.")?,
            registry,
            requests,
            latency,
        };
        let collectors: [Box<dyn Collector>; 6] = [
            Box::new(metrics.requests.clone()),
            Box::new(metrics.latency.clone()),
            Box::new(metrics.login_failures.clone()),
            Box::new(metrics.login_throttled.clone()),
            Box::new(metrics.tokens_rejected.clone()),
            Box::new(metrics.audit_sealed.clone()),
        ];
        for collector in collectors {
            metrics.registry.register(collector)?;
        }
        Ok(metrics)
    }

    /// Records one request. The method label is one of the methods HTTP defines or `other`, so
    /// `curl -X ANYTHING` cannot add a series; routes are patterns (or `unmatched`) and statuses
    /// are numbers, so every label is from a fixed set.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let code = actix_web::http::StatusCode::from_u16(status);
        let status = code.as_ref().map_or("other", actix_web::http::StatusCode::as_str);
        self.requests.with_label_values(&[method_label(method), route, status]).inc();
        self.latency.with_label_values(&[route]).observe(seconds);
    }

    /// The text exposition format; `redis_fallbacks` is read from the Redis handle and
    /// `db_statements` from the pool, so they are reported as they stand at the scrape.
    #[must_use]
    pub fn render(&self, redis_fallbacks: u64, redis_up: Option<bool>, db_statements: u64) -> String {
        let mut families = self.registry.gather();
        let read_at_scrape = || -> prometheus::Result<Vec<prometheus::proto::MetricFamily>> {
            let fallbacks =
                IntCounter::new("vcao_redis_fallbacks_total", "Redis calls answered by the in-process fallback.")?;
            fallbacks.inc_by(redis_fallbacks);
            let statements = IntCounter::new(
                "vcao_db_statements_total",
                "SQL statements sent to the database (not counting BEGIN, SET LOCAL and COMMIT).",
            )?;
            statements.inc_by(db_statements);
            let mut out = fallbacks.collect();
            out.extend(statements.collect());
            if let Some(up) = redis_up {
                let gauge = IntGauge::new("vcao_redis_up", "Whether Redis answered the last readiness probe.")?;
                gauge.set(i64::from(up));
                out.extend(gauge.collect());
            }
            Ok(out)
        };
        match read_at_scrape() {
            Ok(more) => families.extend(more),
            Err(e) => tracing::warn!(error = %e, "could not report the scrape-time metrics"),
        }
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&families, &mut out) {
            tracing::warn!(error = %e, "could not encode the metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics() -> Metrics {
        Metrics::new().unwrap_or_else(|e| panic!("the metrics register: {e}"))
    }

    #[test]
    fn made_up_methods_share_one_series() {
        let metrics = metrics();
        for method in ["ANYTHING", "BREW", "get", "X-1", "GET"] {
            metrics.observe(method, "unmatched", 404, 0.001);
        }
        let text = metrics.render(0, None, 0);
        let series: Vec<&str> = text.lines().filter(|l| l.starts_with("vcao_http_requests_total{")).collect();
        assert_eq!(series.len(), 2, "{series:?}");
        assert!(text.contains("method=\"other\",route=\"unmatched\",status=\"404\"} 4"), "{text}");
        assert!(!text.contains("ANYTHING") && !text.contains("BREW"));
    }

    #[test]
    fn the_exposition_holds_every_series_with_its_type() {
        let metrics = metrics();
        metrics.observe("GET", "/api/v1/users/{id}", 200, 0.003);
        metrics.tokens_rejected.inc();
        let text = metrics.render(7, Some(false), 42);
        for line in [
            "# TYPE vcao_http_requests_total counter",
            "vcao_http_requests_total{method=\"GET\",route=\"/api/v1/users/{id}\",status=\"200\"} 1",
            "# TYPE vcao_http_request_duration_seconds histogram",
            "vcao_http_request_duration_seconds_bucket{route=\"/api/v1/users/{id}\",le=\"0.005\"} 1",
            "vcao_http_request_duration_seconds_bucket{route=\"/api/v1/users/{id}\",le=\"0.0025\"} 0",
            "vcao_http_request_duration_seconds_count{route=\"/api/v1/users/{id}\"} 1",
            "vcao_tokens_rejected_total 1",
            "vcao_login_failures_total 0",
            "vcao_redis_fallbacks_total 7",
            "vcao_db_statements_total 42",
            "# TYPE vcao_redis_up gauge",
            "vcao_redis_up 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing from\n{text}");
        }
        assert!(!metrics.render(0, None, 0).contains("vcao_redis_up"), "no Redis, no gauge");
    }
}
