//! Prometheus metrics of a data plane, served on its local health port at `GET /metrics` in Prometheus's
//! text format: this instance's task counters, and the process's node durations (by node kind and outcome)
//! and memory search latency.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use prometheus::core::Collector;
use prometheus::proto::MetricFamily;
use prometheus::{
    Encoder as _, Histogram, HistogramOpts, HistogramVec, IntCounter, IntGauge, Registry, TextEncoder,
    exponential_buckets,
};

/// An instance's counters.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub tasks_claimed: IntCounter,
    pub tasks_succeeded: IntCounter,
    pub tasks_failed: IntCounter,
    pub tasks_suspended: IntCounter,
    pub tasks_handed_back: IntCounter,
    pub tasks_running: IntGauge,
    pub events_posted: IntCounter,
    pub control_plane_errors: IntCounter,
    /// Whether the control plane accepted this instance (`dp_registered`).
    pub registered: AtomicBool,
    registered_gauge: IntGauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str| {
            let counter = IntCounter::new(name, help).unwrap_or_else(|_| unreachable!("a valid name"));
            register(&registry, Box::new(counter.clone()));
            counter
        };
        let gauge = |name: &str, help: &str| {
            let gauge = IntGauge::new(name, help).unwrap_or_else(|_| unreachable!("a valid name"));
            register(&registry, Box::new(gauge.clone()));
            gauge
        };
        Self {
            tasks_claimed: counter("dp_tasks_claimed_total", "Tasks claimed."),
            tasks_succeeded: counter("dp_tasks_succeeded_total", "Tasks completed."),
            tasks_failed: counter("dp_tasks_failed_total", "Tasks failed or cancelled."),
            tasks_suspended: counter("dp_tasks_suspended_total", "Tasks suspended for approval."),
            tasks_handed_back: counter("dp_tasks_handed_back_total", "Tasks handed back on shutdown."),
            tasks_running: gauge("dp_tasks_running", "Tasks running now."),
            events_posted: counter("dp_events_posted_total", "Step events the control plane stored."),
            control_plane_errors: counter(
                "dp_control_plane_errors_total",
                "Calls to the control plane that failed.",
            ),
            registered: AtomicBool::new(false),
            registered_gauge: gauge(
                "dp_registered",
                "Whether the control plane accepted this instance.",
            ),
            registry,
        }
    }
}

impl Metrics {
    /// This instance's counters and the process's histograms, as `/metrics` shows them and the OTLP
    /// export sends them.
    #[must_use]
    pub fn families(&self) -> Vec<MetricFamily> {
        self.registered_gauge
            .set(i64::from(self.registered.load(Ordering::Relaxed)));
        let mut families = self.registry.gather();
        families.extend(NODES.registry.gather());
        families
    }

    /// The Prometheus text exposition of [`Metrics::families`].
    #[must_use]
    pub fn render(&self) -> String {
        let mut text = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.families(), &mut text) {
            tracing::warn!(%error, "metrics could not be encoded");
        }
        String::from_utf8(text).unwrap_or_default()
    }
}

/// What nodes take, process-wide.
#[derive(Debug)]
pub struct NodeMetrics {
    registry: Registry,
    /// By `kind` and `status` (`succeeded`, `failed`, `suspended`): each attempt.
    pub duration: HistogramVec,
    /// Memory loads: the `memory_search` node's searches and the `llm` node's context.
    pub memory_load: Histogram,
}

/// The process's node metrics.
pub static NODES: LazyLock<NodeMetrics> = LazyLock::new(|| {
    let registry = Registry::new();
    let buckets = |start: f64, count: usize| exponential_buckets(start, 2.0, count).unwrap_or_default();
    let duration = HistogramVec::new(
        HistogramOpts::new(
            "dp_node_duration_seconds",
            "How long node attempts took, by node kind and outcome",
        )
        .buckets(buckets(0.000_1, 22)),
        &["kind", "status"],
    )
    .unwrap_or_else(|_| unreachable!("a valid definition"));
    let memory_load = Histogram::with_opts(
        HistogramOpts::new(
            "dp_memory_load_seconds",
            "How long loading from memory took (searches and LLM context)",
        )
        .buckets(buckets(0.000_25, 16)),
    )
    .unwrap_or_else(|_| unreachable!("a valid definition"));
    register(&registry, Box::new(duration.clone()));
    register(&registry, Box::new(memory_load.clone()));
    NodeMetrics {
        registry,
        duration,
        memory_load,
    }
});

impl NodeMetrics {
    /// The duration histograms of one node kind, looked up once (a plan holds them for each node).
    #[must_use]
    pub fn timers(&self, kind: &str) -> NodeTimers {
        let of = |status: &str| self.duration.with_label_values(&[kind, status]);
        NodeTimers {
            succeeded: of("succeeded"),
            suspended: of("suspended"),
            failed: of("failed"),
        }
    }
}

/// `dp_node_duration_seconds` of one node kind, by outcome.
#[derive(Clone, Debug)]
pub struct NodeTimers {
    succeeded: Histogram,
    suspended: Histogram,
    failed: Histogram,
}

impl NodeTimers {
    /// Observes one node attempt.
    pub fn attempt(&self, status: protocol::StepStatus, took: Duration) {
        let histogram = match status {
            protocol::StepStatus::Succeeded => &self.succeeded,
            protocol::StepStatus::Suspended => &self.suspended,
            _ => &self.failed,
        };
        histogram.observe(took.as_secs_f64());
    }
}

fn register(registry: &Registry, collector: Box<dyn Collector>) {
    if let Err(error) = registry.register(collector) {
        tracing::error!(%error, "a metric could not be registered");
    }
}
