//! Metrics in the Prometheus text exposition format (version 0.0.4): request counts and
//! latency histograms per route, booking conflicts, background job rounds and failures,
//! the notification queue's depth and the database pool's use.
//!
//! Labels are the HTTP method, the route's template as registered
//! (`/api/v1/appointments/{id}`: never an id, a query string or a body) and the status
//! class, so no health data can reach a label. Latencies are counted in whole microseconds
//! and printed as seconds without floating point.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use clinic_core::ports::QueueDepth;

/// Upper bounds of the latency buckets, in microseconds, with their `le` labels.
const BUCKETS: [(u64, &str); 11] = [
    (1_000, "0.001"),
    (2_500, "0.0025"),
    (5_000, "0.005"),
    (10_000, "0.01"),
    (25_000, "0.025"),
    (50_000, "0.05"),
    (100_000, "0.1"),
    (250_000, "0.25"),
    (500_000, "0.5"),
    (1_000_000, "1"),
    (2_500_000, "2.5"),
];

/// One route's counts.
#[derive(Default)]
struct RouteStats {
    /// Responses by status class: 1xx … 5xx.
    by_class: [u64; 5],
    /// Requests at or under each bucket's bound (cumulative when printed).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_micros: u64,
}

/// The database pool as a monitor sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolUsage {
    /// Connections open.
    pub open: u32,
    /// Of those, idle.
    pub idle: u32,
    /// The most the pool opens.
    pub max: u32,
}

/// The server's counters; shared by the middleware, the jobs and `GET /metrics`.
#[derive(Default)]
pub struct Metrics {
    routes: Mutex<BTreeMap<(&'static str, String), RouteStats>>,
    booking_conflicts: AtomicU64,
    job_rounds: AtomicU64,
    job_failures: AtomicU64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// The method as a static label (anything unusual is `other`, so a client cannot grow the
/// label set).
fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Microseconds as seconds, `12.000345`.
fn seconds(micros: u64) -> String {
    format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

impl Metrics {
    /// Counts one answered request of `route` (its template).
    pub fn observe(&self, method: &'static str, route: &str, status: u16, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        // A refused booking or move because the time was taken: the rule every client races.
        if method == "POST" && route.starts_with("/api/v1/appointments") && status == 409 {
            self.booking_conflicts.fetch_add(1, Ordering::Relaxed);
        }
        let mut routes = self.routes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let stats = routes.entry((method, route.to_owned())).or_default();
        let class = usize::from((status / 100).clamp(1, 5)) - 1;
        stats.by_class[class] += 1;
        if let Some(i) = BUCKETS.iter().position(|(bound, _)| micros <= *bound) {
            stats.buckets[i] += 1;
        }
        stats.count += 1;
        stats.sum_micros = stats.sum_micros.saturating_add(micros);
    }

    /// Counts one round of background jobs, and whether it failed.
    pub fn job_round(&self, failed: bool) {
        self.job_rounds.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.job_failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The exposition text, with the queue and pool read just now (when known).
    #[must_use]
    pub fn render(&self, queue: Option<QueueDepth>, pool: Option<PoolUsage>) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP clinic_http_requests_total Requests answered, by route template and status class.\n");
        out.push_str("# TYPE clinic_http_requests_total counter\n");
        let routes = self.routes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for ((method, route), s) in routes.iter() {
            for (i, n) in s.by_class.iter().enumerate().filter(|(_, n)| **n > 0) {
                let _ = writeln!(
                    out,
                    "clinic_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{}xx\"}} {n}",
                    i + 1
                );
            }
        }
        out.push_str("# HELP clinic_http_request_duration_seconds Time to answer, by route template.\n");
        out.push_str("# TYPE clinic_http_request_duration_seconds histogram\n");
        for ((method, route), s) in routes.iter() {
            let labels = format!("method=\"{method}\",route=\"{route}\"");
            let mut cumulative = 0;
            for ((_, le), n) in BUCKETS.iter().zip(s.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "clinic_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "clinic_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "clinic_http_request_duration_seconds_sum{{{labels}}} {}",
                seconds(s.sum_micros)
            );
            let _ = writeln!(
                out,
                "clinic_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
        drop(routes);
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}\n");
        };
        counter(
            &mut out,
            "clinic_booking_conflicts_total",
            "Bookings and moves refused because the time was taken (409).",
            self.booking_conflicts.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "clinic_job_rounds_total",
            "Rounds of the background jobs (compliance sweep, notices, checkpoints).",
            self.job_rounds.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "clinic_job_failures_total",
            "Rounds of the background jobs that failed (retried next round).",
            self.job_failures.load(Ordering::Relaxed),
        );
        if let Some(q) = queue {
            out.push_str("# HELP clinic_notifications_queued Notifications in the queue, by state.\n");
            out.push_str("# TYPE clinic_notifications_queued gauge\n");
            for (state, n) in [("pending", q.pending), ("claimed", q.claimed), ("parked", q.parked)] {
                let _ = writeln!(out, "clinic_notifications_queued{{state=\"{state}\"}} {n}");
            }
        }
        if let Some(p) = pool {
            let gauge = |out: &mut String, name: &str, help: &str, v: u32| {
                let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}\n");
            };
            gauge(
                &mut out,
                "clinic_db_pool_connections",
                "Database connections open.",
                p.open,
            );
            gauge(
                &mut out,
                "clinic_db_pool_idle",
                "Open database connections idle.",
                p.idle,
            );
            gauge(
                &mut out,
                "clinic_db_pool_max",
                "The most connections the pool opens.",
                p.max,
            );
        }
        out
    }
}

/// Middleware counting every request that matched a route, under its template.
pub async fn track(State(metrics): State<std::sync::Arc<Metrics>>, req: Request, next: Next) -> Response {
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(req).await;
    metrics.observe(method, &route, response.status().as_u16(), started.elapsed());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_seconds_are_exact() {
        let m = Metrics::default();
        m.observe("GET", "/api/v1/slots", 200, Duration::from_micros(900));
        m.observe("GET", "/api/v1/slots", 200, Duration::from_micros(30_000));
        m.observe("GET", "/api/v1/slots", 503, Duration::from_secs(3));
        m.observe("POST", "/api/v1/appointments", 409, Duration::from_micros(2_000));
        m.job_round(false);
        m.job_round(true);
        let text = m.render(
            Some(QueueDepth {
                pending: 3,
                claimed: 1,
                parked: 0,
            }),
            Some(PoolUsage {
                open: 4,
                idle: 3,
                max: 32,
            }),
        );
        let has = |line: &str| assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        has(r#"clinic_http_requests_total{method="GET",route="/api/v1/slots",status="2xx"} 2"#);
        has(r#"clinic_http_requests_total{method="GET",route="/api/v1/slots",status="5xx"} 1"#);
        has(r#"clinic_http_request_duration_seconds_bucket{method="GET",route="/api/v1/slots",le="0.001"} 1"#);
        has(r#"clinic_http_request_duration_seconds_bucket{method="GET",route="/api/v1/slots",le="0.025"} 1"#);
        has(r#"clinic_http_request_duration_seconds_bucket{method="GET",route="/api/v1/slots",le="0.05"} 2"#);
        has(r#"clinic_http_request_duration_seconds_bucket{method="GET",route="/api/v1/slots",le="2.5"} 2"#);
        has(r#"clinic_http_request_duration_seconds_bucket{method="GET",route="/api/v1/slots",le="+Inf"} 3"#);
        has(r#"clinic_http_request_duration_seconds_sum{method="GET",route="/api/v1/slots"} 3.030900"#);
        has("clinic_booking_conflicts_total 1");
        has("clinic_job_rounds_total 2");
        has("clinic_job_failures_total 1");
        has(r#"clinic_notifications_queued{state="pending"} 3"#);
        has("clinic_db_pool_max 32");
    }

    #[test]
    fn unusual_methods_share_one_label() {
        assert_eq!(method_label(&axum::http::Method::from_bytes(b"BREW").unwrap()), "other");
        assert_eq!(method_label(&axum::http::Method::GET), "GET");
    }
}
