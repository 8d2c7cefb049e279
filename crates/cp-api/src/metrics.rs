//! Prometheus metrics of the control plane, served at `GET /metrics` in Prometheus's text format.
//!
//! What the process measures as it goes — request durations by route, how long tasks waited to be claimed,
//! lease expiries, webhook attempts — lives in one process-wide registry; what the database knows — runs by
//! state, tasks queued and leased, webhook deliveries pending — is counted when scraped, so every replica
//! reports the same shared figures (aggregate those with `max`, not `sum`).

use std::sync::LazyLock;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use prometheus::core::Collector;
use prometheus::proto::MetricFamily;
use prometheus::{
    Encoder as _, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder, exponential_buckets,
};
use protocol::telemetry::metrics::MetricsExport;

use crate::db::{self, Pool};
use crate::error::Error;

/// The content type of what [`render`] writes: Prometheus's text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Every metric, registered once.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// By `method`, `route` (the route's pattern, `/api/v1/runs/{run}`, never the path) and `status`.
    pub requests: HistogramVec,
    /// Seconds from a task being queued to a data plane claiming it.
    pub task_wait: Histogram,
    pub lease_expiries: IntCounter,
    /// By `outcome`: `delivered`, `retry` or `failed`.
    pub webhook_attempts: IntCounterVec,
    runs: IntGaugeVec,
    tasks_queued: IntGauge,
    tasks_leased: IntGauge,
    webhooks_pending: IntGauge,
}

/// The process's metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// Buckets doubling from `start`.
fn doubling(start: f64, count: usize) -> Vec<f64> {
    exponential_buckets(start, 2.0, count).unwrap_or_default()
}

impl Metrics {
    fn new() -> Self {
        let registry = Registry::new();
        let requests = HistogramVec::new(
            HistogramOpts::new(
                "cp_http_request_duration_seconds",
                "How long the API took to answer, by method, route and status",
            )
            .buckets(doubling(0.000_25, 16)),
            &["method", "route", "status"],
        );
        let task_wait = Histogram::with_opts(
            HistogramOpts::new(
                "cp_task_wait_seconds",
                "How long tasks waited in the queue before a data plane claimed them",
            )
            .buckets(doubling(0.000_5, 20)),
        );
        let lease_expiries = IntCounter::new(
            "cp_lease_expiries_total",
            "Task leases that ran out before their data plane reported",
        );
        let webhook_attempts = IntCounterVec::new(
            Opts::new(
                "cp_webhook_attempts_total",
                "Attempts to deliver a webhook, by outcome",
            ),
            &["outcome"],
        );
        let runs = IntGaugeVec::new(Opts::new("cp_runs", "Runs by state"), &["state"]);
        let tasks_queued = IntGauge::new("cp_tasks_queued", "Tasks waiting for a data plane");
        let tasks_leased = IntGauge::new("cp_tasks_leased", "Tasks a data plane holds");
        let webhooks_pending = IntGauge::new(
            "cp_webhook_deliveries_pending",
            "Webhook deliveries not yet delivered or given up",
        );
        // The names and labels above are fixed and valid: they cannot fail to be made or registered.
        let (Ok(requests), Ok(task_wait), Ok(lease_expiries), Ok(webhook_attempts)) =
            (requests, task_wait, lease_expiries, webhook_attempts)
        else {
            unreachable!("metric definitions are valid")
        };
        let (Ok(runs), Ok(tasks_queued), Ok(tasks_leased), Ok(webhooks_pending)) =
            (runs, tasks_queued, tasks_leased, webhooks_pending)
        else {
            unreachable!("metric definitions are valid")
        };
        let collectors: [Box<dyn Collector>; 8] = [
            Box::new(requests.clone()),
            Box::new(task_wait.clone()),
            Box::new(lease_expiries.clone()),
            Box::new(webhook_attempts.clone()),
            Box::new(runs.clone()),
            Box::new(tasks_queued.clone()),
            Box::new(tasks_leased.clone()),
            Box::new(webhooks_pending.clone()),
        ];
        for collector in collectors {
            if let Err(error) = registry.register(collector) {
                tracing::error!(%error, "a metric could not be registered");
            }
        }
        Self {
            registry,
            requests,
            task_wait,
            lease_expiries,
            webhook_attempts,
            runs,
            tasks_queued,
            tasks_leased,
            webhooks_pending,
        }
    }

    /// Counts a webhook attempt's outcome.
    pub fn webhook_attempt(&self, outcome: &str) {
        self.webhook_attempts.with_label_values(&[outcome]).inc();
    }

    /// Observes how long a task waited to be claimed.
    pub fn task_waited(&self, waited: Duration) {
        self.task_wait.observe(waited.as_secs_f64());
    }
}

/// The metrics as text, with the database's figures counted now.
///
/// # Errors
///
/// Database errors.
pub async fn render(pool: &Pool) -> Result<String, Error> {
    let mut text = Vec::new();
    TextEncoder::new()
        .encode(&families(pool).await?, &mut text)
        .map_err(|error| Error::Internal(format!("encoding metrics: {error}")))?;
    let text =
        String::from_utf8(text).map_err(|error| Error::Internal(format!("encoding metrics: {error}")))?;
    Ok(text)
}

/// What the OTLP export sends: [`families`], or the process's own figures while the database cannot be
/// read.
pub async fn gathered(pool: &Pool) -> Vec<MetricFamily> {
    match families(pool).await {
        Ok(families) => families,
        Err(error) => {
            tracing::warn!(%error, "the database's figures are left out of this metrics export");
            METRICS.registry.gather()
        }
    }
}

/// The OTLP metrics export, when the environment names a collector.
pub fn export(pool: &Pool) -> Option<MetricsExport> {
    let pool = pool.clone();
    MetricsExport::from_env(crate::telemetry::SERVICE, move || {
        let pool = pool.clone();
        async move { gathered(&pool).await }
    })
}

/// The process's figures and the database's, read now.
///
/// # Errors
///
/// Database errors.
pub async fn families(pool: &Pool) -> Result<Vec<MetricFamily>, Error> {
    let metrics = &*METRICS;
    let mut pooled = pool.get().await?;
    let mut conn = pooled.conn();
    let counts = db::runs::count_by_state(&mut conn).await?;
    for state in db::runs::STATES {
        let count = counts
            .iter()
            .find(|(of, _)| of == state)
            .map_or(0, |(_, count)| *count);
        metrics.runs.with_label_values(&[*state]).set(count);
    }
    let (queued, leased) = db::tasks::count_by_lease(&mut conn).await?;
    metrics.tasks_queued.set(queued);
    metrics.tasks_leased.set(leased);
    metrics
        .webhooks_pending
        .set(db::webhooks::pending_count(&mut conn).await?);
    Ok(metrics.registry.gather())
}

/// Middleware timing each request under its route's pattern.
///
/// # Errors
///
/// The inner service's.
pub async fn time_requests(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = std::time::Instant::now();
    let method = request.method().to_string();
    let response = next.call(request).await?;
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    METRICS
        .requests
        .with_label_values(&[method.as_str(), route.as_str(), response.status().as_str()])
        .observe(started.elapsed().as_secs_f64());
    Ok(response)
}
