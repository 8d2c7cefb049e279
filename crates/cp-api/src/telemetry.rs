//! Logs, and traces over OTLP/gRPC when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//!
//! A request that starts a run runs inside a span ([`run_request_span`]) that joins the caller's trace when
//! the request carries a W3C `traceparent` (a data plane's `a2a` node starting a child run does); the run
//! keeps that span's context ([`current_trace_context`]) and the data plane gets it in the task envelope, so
//! one trace covers the request, the queue and the data plane's nodes. Without the variable no OTLP layer is
//! installed, spans have no OpenTelemetry context and nothing is stored or sent.

use std::collections::HashMap;

use actix_web::HttpRequest;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use protocol::TraceContext;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// The service name traces carry unless `OTEL_SERVICE_NAME` says otherwise.
pub const SERVICE: &str = "cp-api";

/// The tracer provider while traces are exported; [`Telemetry::shutdown`] sends what is left.
#[derive(Debug, Default)]
#[must_use = "shut it down on exit, or the last spans are lost"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

/// A tracer provider exporting in batches to `endpoint`, or to the collector the environment names.
///
/// Call inside a Tokio runtime: the gRPC channel lives on it.
///
/// # Errors
///
/// The exporter cannot be built (a malformed endpoint).
pub fn tracer_provider(
    service: &str,
    endpoint: Option<&str>,
) -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    let mut builder = opentelemetry_otlp::SpanExporter::builder().with_tonic();
    if let Some(endpoint) = endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    let exporter = builder.build()?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service.to_owned()).build())
        .build())
}

/// Installs the log subscriber (stderr, `RUST_LOG`, default `info`) and, when [`protocol::telemetry::enabled`], the OTLP
/// layer. Call inside a Tokio runtime.
pub fn init() -> Telemetry {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let (provider, failed) = if protocol::telemetry::enabled() {
        match tracer_provider(&protocol::telemetry::service_name(SERVICE), None) {
            Ok(provider) => (Some(provider), None),
            Err(error) => (None, Some(error)),
        }
    } else {
        (None, None)
    };
    let otel = provider
        .as_ref()
        .map(|provider| protocol::telemetry::layer(provider, SERVICE));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init();
    if let Some(error) = failed {
        tracing::warn!(%error, "traces are not exported: the OTLP exporter cannot be set up");
    }
    Telemetry { provider }
}

impl Telemetry {
    /// Telemetry over this provider (which the caller installed in a tracing layer).
    pub fn new(provider: SdkTracerProvider) -> Self {
        Self {
            provider: Some(provider),
        }
    }

    /// Exports the spans not sent yet and stops. The export blocks, so it runs on a blocking thread while
    /// the runtime goes on driving the gRPC channel.
    pub async fn shutdown(self) {
        let Some(provider) = self.provider else {
            return;
        };
        let done = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        if let Ok(Err(error)) = done {
            tracing::warn!(%error, "exporting the last spans failed");
        }
    }
}

struct Headers<'a>(&'a actix_web::http::header::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .keys()
            .map(actix_web::http::header::HeaderName::as_str)
            .collect()
    }
}

/// The remote parent a request names in `traceparent` (and `tracestate`), when it is well formed.
#[must_use]
pub fn remote_parent(headers: &actix_web::http::header::HeaderMap) -> Option<opentelemetry::Context> {
    let context = TraceContextPropagator::new().extract(&Headers(headers));
    context.span().span_context().is_valid().then_some(context)
}

/// The span a request that starts a run runs in, a child of the caller's trace when the request names
/// one; a malformed `traceparent` is ignored (the span starts a trace of its own).
#[must_use]
pub fn run_request_span(request: &HttpRequest, route: &'static str) -> Span {
    let span = tracing::info_span!(
        "run.create",
        otel.name = format!("POST {route}"),
        otel.kind = "server",
        http.request.method = "POST",
        http.route = route,
    );
    if let Some(parent) = remote_parent(request.headers()) {
        let _ = span.set_parent(parent);
    }
    span
}

/// The W3C trace context of the current span, when traces are exported.
#[must_use]
pub fn current_trace_context() -> Option<TraceContext> {
    let context = Span::current().context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut fields = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut fields);
    Some(TraceContext {
        traceparent: fields.remove("traceparent")?,
        tracestate: fields.remove("tracestate").filter(|state| !state.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
    use opentelemetry::trace::TraceId;
    use opentelemetry::trace::TracerProvider as _;

    use super::*;

    fn headers(traceparent: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("traceparent"),
            HeaderValue::from_str(traceparent).unwrap(),
        );
        headers
    }

    #[test]
    fn a_well_formed_traceparent_is_the_parent() {
        let parent = remote_parent(&headers(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ))
        .unwrap();
        let span = parent.span();
        assert_eq!(
            span.span_context().trace_id(),
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap()
        );
        assert!(span.span_context().is_remote());
    }

    #[test]
    fn a_malformed_traceparent_is_ignored() {
        for malformed in [
            "garbage",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "zz-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert!(remote_parent(&headers(malformed)).is_none(), "{malformed}");
        }
        assert!(remote_parent(&HeaderMap::new()).is_none());
    }

    #[test]
    fn a_malformed_traceparent_starts_a_trace_of_its_own() {
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let request = actix_web::test::TestRequest::post()
                .insert_header(("traceparent", "00-not-a-trace-01"))
                .to_http_request();
            let span = run_request_span(&request, "/api/v1/deployments/{deployment}/runs");
            let context = span.in_scope(current_trace_context).unwrap();
            assert!(context.traceparent.starts_with("00-"), "{context:?}");
            assert_eq!(context.traceparent.len(), 55, "{context:?}");

            let joined = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
            let request = actix_web::test::TestRequest::post()
                .insert_header(("traceparent", joined))
                .to_http_request();
            let span = run_request_span(&request, "/api/v1/deployments/{deployment}/runs");
            let context = span.in_scope(current_trace_context).unwrap();
            assert!(
                context
                    .traceparent
                    .starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
                "{context:?}"
            );
            assert_ne!(
                context.traceparent, joined,
                "the span is a child, with an id of its own"
            );
        });
        assert!(current_trace_context().is_none(), "no layer, no context");
    }
}
