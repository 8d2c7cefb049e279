//! Metrics over OTLP/gRPC: the Prometheus registries each service keeps for its `/metrics` page, pushed to
//! the collector that `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` (else `OTEL_EXPORTER_OTLP_ENDPOINT`) names,
//! every `OTEL_METRIC_EXPORT_INTERVAL` milliseconds (default 60 s) and once more on shutdown.
//!
//! The figures are converted as OpenTelemetry's Prometheus compatibility rules describe, all cumulative
//! from the process's start: a counter becomes a monotonic sum named without its `_total`, a gauge a
//! gauge, a histogram a histogram with the same bounds (per-bucket counts, the last bucket open-ended),
//! a summary a summary; labels become attributes, and `_seconds` and `_bytes` names get the units `s`
//! and `By`. The SDK's metrics side has no way to take in figures another library keeps (no producer
//! interface in 0.33, and its asynchronous instruments cannot report histograms), so this module builds
//! the OTLP messages from the registries itself and sends them with the generated OTLP client.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    self as otlp, AggregationTemporality, metric::Data, number_data_point, summary_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prometheus::proto::{Metric, MetricFamily, MetricType};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The variable naming a collector for metrics only (the general [`super::ENDPOINT`] is used without it).
pub const METRICS_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT";
/// Milliseconds between two exports.
pub const INTERVAL: &str = "OTEL_METRIC_EXPORT_INTERVAL";

/// The collector metrics go to, when the environment names one.
#[must_use]
pub fn endpoint() -> Option<String> {
    [METRICS_ENDPOINT, super::ENDPOINT].iter().find_map(|name| {
        std::env::var(name)
            .ok()
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    })
}

/// `OTEL_METRIC_EXPORT_INTERVAL` (milliseconds, above 0), else the specification's 60 s.
#[must_use]
pub fn interval() -> Duration {
    std::env::var(INTERVAL)
        .ok()
        .and_then(|ms| ms.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map_or(Duration::from_secs(60), Duration::from_millis)
}

/// One export: every family as OTLP metrics of `service`, cumulative since `start`, read at `now`.
#[must_use]
pub fn request(
    families: &[MetricFamily],
    service: &str,
    start: SystemTime,
    now: SystemTime,
) -> ExportMetricsServiceRequest {
    let times = Times {
        start: nanos(start),
        now: nanos(now),
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![otlp::ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![text("service.name", service)],
                ..Resource::default()
            }),
            scope_metrics: vec![otlp::ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: service.to_owned(),
                    ..InstrumentationScope::default()
                }),
                metrics: families
                    .iter()
                    .filter_map(|family| metric(family, times))
                    .collect(),
                ..otlp::ScopeMetrics::default()
            }],
            ..otlp::ResourceMetrics::default()
        }],
    }
}

#[derive(Clone, Copy)]
struct Times {
    start: u64,
    now: u64,
}

fn nanos(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |since| u64::try_from(since.as_nanos()).unwrap_or(u64::MAX))
}

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

fn attributes(point: &Metric) -> Vec<KeyValue> {
    point
        .get_label()
        .iter()
        .map(|label| text(label.name(), label.value()))
        .collect()
}

fn number(point: &Metric, value: f64, times: Times) -> otlp::NumberDataPoint {
    otlp::NumberDataPoint {
        attributes: attributes(point),
        start_time_unix_nano: times.start,
        time_unix_nano: times.now,
        value: Some(number_data_point::Value::AsDouble(value)),
        ..otlp::NumberDataPoint::default()
    }
}

fn histogram(point: &Metric, times: Times) -> otlp::HistogramDataPoint {
    let figures = point.get_histogram();
    let mut explicit_bounds = Vec::new();
    let mut bucket_counts = Vec::new();
    let mut below = 0;
    // Prometheus counts each bucket with those below it; OTLP counts each on its own, plus an open last one.
    for bucket in figures.get_bucket() {
        if bucket.upper_bound().is_infinite() {
            continue;
        }
        explicit_bounds.push(bucket.upper_bound());
        bucket_counts.push(bucket.cumulative_count().saturating_sub(below));
        below = bucket.cumulative_count();
    }
    bucket_counts.push(figures.get_sample_count().saturating_sub(below));
    otlp::HistogramDataPoint {
        attributes: attributes(point),
        start_time_unix_nano: times.start,
        time_unix_nano: times.now,
        count: figures.get_sample_count(),
        sum: Some(figures.get_sample_sum()),
        bucket_counts,
        explicit_bounds,
        ..otlp::HistogramDataPoint::default()
    }
}

fn summary(point: &Metric, times: Times) -> otlp::SummaryDataPoint {
    let figures = point.get_summary();
    otlp::SummaryDataPoint {
        attributes: attributes(point),
        start_time_unix_nano: times.start,
        time_unix_nano: times.now,
        count: figures.sample_count(),
        sum: figures.sample_sum(),
        quantile_values: figures
            .get_quantile()
            .iter()
            .map(|quantile| summary_data_point::ValueAtQuantile {
                quantile: quantile.quantile(),
                value: quantile.value(),
            })
            .collect(),
        ..otlp::SummaryDataPoint::default()
    }
}

fn metric(family: &MetricFamily, times: Times) -> Option<otlp::Metric> {
    let points = family.get_metric();
    let cumulative = AggregationTemporality::Cumulative as i32;
    let mut name = family.name();
    let data = match family.get_field_type() {
        MetricType::COUNTER => {
            name = name.strip_suffix("_total").unwrap_or(name);
            Data::Sum(otlp::Sum {
                data_points: points
                    .iter()
                    .map(|point| number(point, point.get_counter().get_value(), times))
                    .collect(),
                aggregation_temporality: cumulative,
                is_monotonic: true,
            })
        }
        MetricType::GAUGE => Data::Gauge(otlp::Gauge {
            data_points: points
                .iter()
                .map(|point| number(point, point.get_gauge().get_value(), times))
                .collect(),
        }),
        // Only the protobuf exposition has them; neither service's registry makes any.
        MetricType::UNTYPED => return None,
        MetricType::HISTOGRAM => Data::Histogram(otlp::Histogram {
            data_points: points.iter().map(|point| histogram(point, times)).collect(),
            aggregation_temporality: cumulative,
        }),
        MetricType::SUMMARY => Data::Summary(otlp::Summary {
            data_points: points.iter().map(|point| summary(point, times)).collect(),
        }),
    };
    let unit = if name.ends_with("_seconds") {
        "s"
    } else if name.ends_with("_bytes") {
        "By"
    } else {
        ""
    };
    Some(otlp::Metric {
        name: name.to_owned(),
        description: family.help().to_owned(),
        unit: unit.to_owned(),
        data: Some(data),
        ..otlp::Metric::default()
    })
}

/// The export running in the background; [`MetricsExport::shutdown`] sends the last figures.
#[derive(Debug)]
#[must_use = "shut it down on exit, or the last figures are lost"]
pub struct MetricsExport {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl MetricsExport {
    /// Exports every `every` to `endpoint` (an OTLP/gRPC collector's URL) what `gather` reads, as
    /// `service`. Call inside a Tokio runtime: the gRPC channel lives on it, and connects on first use.
    ///
    /// # Errors
    ///
    /// `endpoint` is not a URL.
    pub fn spawn<G, F>(
        endpoint: &str,
        service: String,
        every: Duration,
        gather: G,
    ) -> Result<Self, tonic::transport::Error>
    where
        G: Fn() -> F + Send + 'static,
        F: Future<Output = Vec<MetricFamily>> + Send,
    {
        let channel = tonic::transport::Endpoint::from_shared(endpoint.to_owned())?
            .timeout(Duration::from_secs(10))
            .connect_lazy();
        let mut client = MetricsServiceClient::new(channel);
        let (stop, mut stopped) = oneshot::channel();
        let started = SystemTime::now();
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                let last = tokio::select! {
                    _ = ticks.tick() => false,
                    _ = &mut stopped => true,
                };
                let families = gather().await;
                match client
                    .export(request(&families, &service, started, SystemTime::now()))
                    .await
                {
                    Ok(_) if failing => {
                        tracing::info!("metrics reach the collector again");
                        failing = false;
                    }
                    Ok(_) => {}
                    // Said once per outage: the collector may be down for a while.
                    Err(status) if !failing => {
                        tracing::warn!(code = ?status.code(), message = status.message(), "metrics could not be exported");
                        failing = true;
                    }
                    Err(_) => {}
                }
                if last {
                    break;
                }
            }
        });
        Ok(Self {
            stop: Some(stop),
            task,
        })
    }

    /// Starts the export when the environment names a collector, as [`super::service_name`]`(service)`;
    /// a malformed endpoint is logged and nothing is exported.
    pub fn from_env<G, F>(service: &str, gather: G) -> Option<Self>
    where
        G: Fn() -> F + Send + 'static,
        F: Future<Output = Vec<MetricFamily>> + Send,
    {
        let endpoint = endpoint()?;
        match Self::spawn(&endpoint, super::service_name(service), interval(), gather) {
            Ok(export) => Some(export),
            Err(error) => {
                tracing::warn!(%error, %endpoint, "metrics are not exported: the OTLP endpoint is not a URL");
                None
            }
        }
    }

    /// Sends the figures as they are now, then stops (waiting at most 10 s for the collector).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), &mut self.task).await;
    }
}

impl Drop for MetricsExport {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};

    use super::*;

    fn registry() -> Registry {
        let registry = Registry::new();
        let requests =
            IntCounterVec::new(Opts::new("cp_requests_total", "Requests answered"), &["route"]).unwrap();
        requests.with_label_values(&["/a"]).inc_by(3);
        requests.with_label_values(&["/b"]).inc();
        let queued = IntGauge::new("cp_tasks_queued", "Tasks waiting").unwrap();
        queued.set(7);
        let durations = HistogramVec::new(
            HistogramOpts::new("dp_node_duration_seconds", "Node attempts").buckets(vec![0.1, 1.0]),
            &["kind"],
        )
        .unwrap();
        for seconds in [0.05, 0.5, 0.7, 5.0] {
            durations.with_label_values(&["llm"]).observe(seconds);
        }
        registry.register(Box::new(requests)).unwrap();
        registry.register(Box::new(queued)).unwrap();
        registry.register(Box::new(durations)).unwrap();
        registry
    }

    fn attribute(point: &[KeyValue], key: &str) -> String {
        let found = point.iter().find(|pair| pair.key == key).unwrap();
        match found.value.as_ref().and_then(|value| value.value.as_ref()) {
            Some(any_value::Value::StringValue(text)) => text.clone(),
            other => panic!("{key}: {other:?}"),
        }
    }

    #[test]
    fn prometheus_figures_become_cumulative_otlp_metrics() {
        let start = UNIX_EPOCH + Duration::from_secs(100);
        let now = UNIX_EPOCH + Duration::from_secs(160);
        let sent = request(&registry().gather(), "cp-api", start, now);
        let resource = &sent.resource_metrics[0];
        assert_eq!(
            attribute(&resource.resource.as_ref().unwrap().attributes, "service.name"),
            "cp-api"
        );
        let metrics = &resource.scope_metrics[0].metrics;
        let named = |name: &str| metrics.iter().find(|metric| metric.name == name).unwrap();

        let requests = named("cp_requests");
        assert_eq!(requests.description, "Requests answered");
        let Some(Data::Sum(sum)) = &requests.data else {
            panic!("{requests:?}")
        };
        assert!(sum.is_monotonic);
        assert_eq!(
            sum.aggregation_temporality,
            AggregationTemporality::Cumulative as i32
        );
        let by_route: Vec<(String, Option<number_data_point::Value>)> = sum
            .data_points
            .iter()
            .map(|point| (attribute(&point.attributes, "route"), point.value))
            .collect();
        assert_eq!(
            by_route,
            [
                ("/a".to_owned(), Some(number_data_point::Value::AsDouble(3.0))),
                ("/b".to_owned(), Some(number_data_point::Value::AsDouble(1.0)))
            ]
        );
        assert_eq!(sum.data_points[0].start_time_unix_nano, 100_000_000_000);
        assert_eq!(sum.data_points[0].time_unix_nano, 160_000_000_000);

        let Some(Data::Gauge(gauge)) = &named("cp_tasks_queued").data else {
            panic!("not a gauge")
        };
        assert_eq!(
            gauge.data_points[0].value,
            Some(number_data_point::Value::AsDouble(7.0))
        );

        let durations = named("dp_node_duration_seconds");
        assert_eq!(durations.unit, "s");
        let Some(Data::Histogram(histogram)) = &durations.data else {
            panic!("{durations:?}")
        };
        assert_eq!(
            histogram.aggregation_temporality,
            AggregationTemporality::Cumulative as i32
        );
        let point = &histogram.data_points[0];
        assert_eq!(attribute(&point.attributes, "kind"), "llm");
        assert_eq!(point.count, 4);
        assert!((point.sum.unwrap() - 6.25).abs() < 1e-9);
        assert_eq!(point.explicit_bounds, [0.1, 1.0]);
        assert_eq!(point.bucket_counts, [1, 2, 1], "≤ 0.1, ≤ 1, above");
    }
}
