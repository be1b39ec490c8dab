//! Prometheus metrics, hand-rolled to keep the dependency tree small. Labels are route patterns
//! (`/api/v1/users/{id}`), methods and statuses: never ids, never personal information.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The label of a request method: a standard one, or `other`.
fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"];
    KNOWN.into_iter().find(|m| *m == method).unwrap_or("other")
}

/// Latency buckets in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    total: u64,
}

/// The service's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    /// Failed sign-ins.
    pub login_failures: AtomicU64,
    /// Sign-ins refused by the throttle.
    pub login_throttled: AtomicU64,
    /// Access tokens refused.
    pub tokens_rejected: AtomicU64,
    /// Audit events sealed into chains.
    pub audit_sealed: AtomicU64,
}

impl Metrics {
    /// Records one request. The method label is one of the methods HTTP defines or `other`, so
    /// `curl -X ANYTHING` cannot add a series; routes are patterns (or `unmatched`) and statuses
    /// are numbers, so every label is from a fixed set.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let method = method_label(method);
        if let Ok(mut map) = self.requests.lock() {
            *map.entry((method.to_owned(), route.to_owned(), status)).or_default() += 1;
        }
        if let Ok(mut map) = self.latency.lock() {
            let h = map.entry(route.to_owned()).or_default();
            for (i, bound) in BUCKETS.iter().enumerate() {
                if seconds <= *bound {
                    h.counts[i] += 1;
                }
            }
            h.sum += seconds;
            h.total += 1;
        }
    }

    /// The text exposition format; `redis_fallbacks` is read from the Redis handle and
    /// `db_statements` from the pool.
    #[must_use]
    pub fn render(&self, redis_fallbacks: u64, redis_up: Option<bool>, db_statements: u64) -> String {
        let mut out = String::new();
        out.push_str("# HELP vcao_http_requests_total HTTP requests by method, route pattern and status.\n");
        out.push_str("# TYPE vcao_http_requests_total counter\n");
        if let Ok(map) = self.requests.lock() {
            for ((method, route, status), n) in map.iter() {
                let _ = writeln!(
                    out,
                    "vcao_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP vcao_http_request_duration_seconds Request latency by route pattern.\n");
        out.push_str("# TYPE vcao_http_request_duration_seconds histogram\n");
        if let Ok(map) = self.latency.lock() {
            for (route, h) in map.iter() {
                for (i, bound) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "vcao_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {}",
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    out,
                    "vcao_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                    h.total
                );
                let _ = writeln!(out, "vcao_http_request_duration_seconds_sum{{route=\"{route}\"}} {}", h.sum);
                let _ = writeln!(out, "vcao_http_request_duration_seconds_count{{route=\"{route}\"}} {}", h.total);
            }
        }
        let counters = [
            ("vcao_login_failures_total", "Failed sign-ins.", &self.login_failures),
            ("vcao_login_throttled_total", "Sign-ins refused by the failed-login throttle.", &self.login_throttled),
            ("vcao_tokens_rejected_total", "Access tokens refused.", &self.tokens_rejected),
            ("vcao_audit_events_sealed_total", "Audit events linked into tenant hash chains.", &self.audit_sealed),
        ];
        for (name, help, value) in counters {
            let _ =
                writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", value.load(Ordering::Relaxed));
        }
        let _ = writeln!(
            out,
            "# HELP vcao_redis_fallbacks_total Redis calls answered by the in-process fallback.\n# TYPE vcao_redis_fallbacks_total counter\nvcao_redis_fallbacks_total {redis_fallbacks}"
        );
        let _ = writeln!(
            out,
            "# HELP vcao_db_statements_total SQL statements sent to the database (not counting BEGIN, SET LOCAL and COMMIT).\n# TYPE vcao_db_statements_total counter\nvcao_db_statements_total {db_statements}"
        );
        if let Some(up) = redis_up {
            let _ = writeln!(
                out,
                "# HELP vcao_redis_up Whether Redis answered the last readiness probe.\n# TYPE vcao_redis_up gauge\nvcao_redis_up {}",
                u8::from(up)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_methods_share_one_series() {
        let metrics = Metrics::default();
        for method in ["ANYTHING", "BREW", "get", "X-1", "GET"] {
            metrics.observe(method, "unmatched", 404, 0.001);
        }
        let text = metrics.render(0, None, 0);
        let series: Vec<&str> = text.lines().filter(|l| l.starts_with("vcao_http_requests_total{")).collect();
        assert_eq!(series.len(), 2, "{series:?}");
        assert!(text.contains("method=\"other\",route=\"unmatched\",status=\"404\"} 4"), "{text}");
        assert!(!text.contains("ANYTHING") && !text.contains("BREW"));
    }
}
