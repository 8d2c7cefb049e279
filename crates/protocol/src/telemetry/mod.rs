//! What both services' OTLP export shares (feature `telemetry`): whether traces are on, the service name,
//! the tracing layer that turns spans into OpenTelemetry spans without the exporter's own, and the
//! [`metrics`] export.

pub mod metrics;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;

/// The variable that turns traces on (the OTLP/gRPC collector's URL, `http://otel-collector:4317`).
pub const ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// Whether `OTEL_EXPORTER_OTLP_ENDPOINT` (or its traces-only form) names a collector.
#[must_use]
pub fn enabled() -> bool {
    [ENDPOINT, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
        .iter()
        .any(|name| std::env::var(name).is_ok_and(|value| !value.trim().is_empty()))
}

/// The service name: `OTEL_SERVICE_NAME`, else `default`.
#[must_use]
pub fn service_name(default: &str) -> String {
    std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// The crates the exporter sends with: their spans are never exported (each export would make more).
const EXPORTER_CRATES: [&str; 8] = [
    "h2",
    "hyper",
    "hyper_util",
    "tonic",
    "tower",
    "opentelemetry",
    "opentelemetry_sdk",
    "opentelemetry_otlp",
];

fn of_the_exporter(target: &str) -> bool {
    EXPORTER_CRATES.iter().any(|name| {
        target
            .strip_prefix(name)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

/// The tracing layer that turns spans into OpenTelemetry spans of `provider`'s tracer `tracer`, the
/// exporter's own left out.
pub fn layer<S>(provider: &SdkTracerProvider, tracer: &'static str) -> impl Layer<S> + use<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(tracer))
        .with_filter(filter_fn(|metadata| !of_the_exporter(metadata.target())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exporters_own_spans_are_left_out() {
        for target in [
            "h2",
            "h2::codec",
            "tonic::transport",
            "hyper_util::client",
            "opentelemetry_sdk",
        ] {
            assert!(of_the_exporter(target), "{target}");
        }
        for target in ["h2o", "cp_api::http", "dp_runtime::nodes", "tonics"] {
            assert!(!of_the_exporter(target), "{target}");
        }
    }
}
