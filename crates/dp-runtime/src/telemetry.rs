//! Logs, and traces over OTLP/gRPC when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//!
//! A task whose envelope carries the control plane's trace context runs in a span of that trace
//! ([`task_span`]); each node attempt is a child span, an `llm` node's completion a grandchild with the
//! OpenTelemetry GenAI attributes, and an `a2a` node's call sends the current span's `traceparent`
//! ([`trace_headers`]) so the child run joins the same trace. Every span passes through the [`Redactor`]
//! before it is exported, as log lines do. Without the variable no OTLP layer is installed and spans cost
//! what log spans cost.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use protocol::{TaskEnvelope, TraceContext};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::redact::{RedactingWriter, Redactor};

/// The service name traces carry unless `OTEL_SERVICE_NAME` says otherwise.
pub const SERVICE: &str = "dp-runtime";

/// The tracer provider while traces are exported; [`Telemetry::shutdown`] sends what is left.
#[derive(Debug, Default)]
#[must_use = "shut it down on exit, or the last spans are lost"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

/// A tracer provider exporting redacted spans to the collector the environment names, in batches.
///
/// Call inside a Tokio runtime: the gRPC channel lives on it.
///
/// # Errors
///
/// The exporter cannot be built (a malformed endpoint).
pub fn tracer_provider(
    service: &str,
    redactor: Arc<Redactor>,
) -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic().build()?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(Redacting::new(exporter, redactor))
        .with_resource(Resource::builder().with_service_name(service.to_owned()).build())
        .build())
}

/// Installs the log subscriber (stderr through the redactor, `RUST_LOG`, default `info`) and, when
/// [`enabled`], the OTLP layer. Call inside a Tokio runtime.
pub fn init(redactor: Arc<Redactor>) -> Telemetry {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer().with_writer(RedactingWriter::new(Arc::clone(&redactor)));
    let (provider, failed) = if protocol::telemetry::enabled() {
        match tracer_provider(&protocol::telemetry::service_name(SERVICE), redactor) {
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

/// The remote parent a task's envelope names, when its `traceparent` is well formed.
#[must_use]
pub fn remote_parent(trace: &TraceContext) -> Option<opentelemetry::Context> {
    let mut fields = HashMap::from([("traceparent".to_owned(), trace.traceparent.clone())]);
    if let Some(state) = &trace.tracestate {
        fields.insert("tracestate".to_owned(), state.clone());
    }
    let context = TraceContextPropagator::new().extract(&fields);
    context.span().span_context().is_valid().then_some(context)
}

/// The span a claimed task runs in: a child of the run's trace when the envelope carries one (a malformed
/// one is ignored: the task starts a trace of its own).
#[must_use]
pub fn task_span(envelope: &TaskEnvelope) -> Span {
    let span = tracing::info_span!(
        "task",
        otel.name = "run task",
        task.id = %envelope.task_id,
        run.id = %envelope.run_id,
        deployment.id = %envelope.deployment_id,
        agent.id = %envelope.agent.id,
        task.attempt = i64::from(envelope.attempt),
    );
    if let Some(parent) = envelope.trace.as_ref().and_then(remote_parent) {
        let _ = span.set_parent(parent);
    }
    span
}

/// `traceparent` (and `tracestate`) of the current span, for a call that should join its trace; none when
/// traces are not exported.
#[must_use]
pub fn trace_headers() -> Vec<(String, String)> {
    let context = Span::current().context();
    if !context.span().span_context().is_valid() {
        return Vec::new();
    }
    let mut fields = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut fields);
    fields
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .collect()
}

/// An exporter that redacts span names, string attributes, event texts and status descriptions first.
#[derive(Debug)]
pub struct Redacting<E> {
    inner: E,
    redactor: Arc<Redactor>,
}

impl<E> Redacting<E> {
    pub fn new(inner: E, redactor: Arc<Redactor>) -> Self {
        Self { inner, redactor }
    }
}

impl<E: SpanExporter> SpanExporter for Redacting<E> {
    fn export(&self, mut batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        for span in &mut batch {
            redact_span(&self.redactor, span);
        }
        self.inner.export(batch)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

fn redact_span(redactor: &Redactor, span: &mut SpanData) {
    span.name = redactor.text(&span.name).into();
    redact_attributes(redactor, &mut span.attributes);
    for event in &mut span.events.events {
        event.name = redactor.text(&event.name).into();
        redact_attributes(redactor, &mut event.attributes);
    }
    if let Status::Error { description } = &mut span.status {
        *description = redactor.text(description).into();
    }
}

fn redact_attributes(redactor: &Redactor, attributes: &mut [KeyValue]) {
    for attribute in attributes {
        match &mut attribute.value {
            Value::String(text) => *text = redactor.text(text.as_str()).into(),
            Value::Array(Array::String(texts)) => {
                for text in texts.iter_mut() {
                    *text = StringValue::from(redactor.text(text.as_str()));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TracerProvider as _;
    use std::sync::Mutex;

    use opentelemetry::trace::TraceId;
    use tracing::Instrument as _;

    use super::*;

    #[test]
    fn a_well_formed_traceparent_is_the_parent() {
        let parent = remote_parent(&TraceContext {
            traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
            tracestate: Some("vendor=1".to_owned()),
        })
        .unwrap();
        assert_eq!(
            parent.span().span_context().trace_id(),
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap()
        );
    }

    #[test]
    fn a_malformed_traceparent_is_ignored() {
        for malformed in [
            "",
            "garbage",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra-",
        ] {
            let trace = TraceContext {
                traceparent: malformed.to_owned(),
                tracestate: None,
            };
            assert!(remote_parent(&trace).is_none(), "{malformed:?}");
        }
    }

    /// Keeps what it is given.
    #[derive(Debug, Clone, Default)]
    struct Kept(Arc<Mutex<Vec<SpanData>>>);

    impl SpanExporter for Kept {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            self.0.lock().unwrap().extend(batch);
            Ok(())
        }
    }

    #[test]
    fn spans_are_redacted_before_they_are_exported() {
        let kept = Kept::default();
        let redactor = Arc::new(Redactor::new(["s3cr3t-value".to_owned()]));
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(Redacting::new(kept.clone(), redactor))
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "call",
                otel.name = "call with s3cr3t-value",
                prompt = "use key sk-abcdefghijklmnop please",
                otel.status_code = "error",
                otel.status_description = "denied for s3cr3t-value",
            );
            span.in_scope(|| tracing::info!(detail = "Bearer abcdefghijkl", "saw s3cr3t-value"));
        });
        provider.force_flush().unwrap();
        let spans = kept.0.lock().unwrap();
        let shown = format!("{spans:?}");
        assert_eq!(spans.len(), 1);
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
        assert!(!shown.contains("sk-abcdefghijklmnop"), "{shown}");
        assert!(!shown.contains("abcdefghijkl\""), "{shown}");
        assert_eq!(spans[0].name, "call with [REDACTED]");
        assert!(shown.contains("[REDACTED]"));
    }

    #[tokio::test]
    async fn a_task_with_a_trace_joins_it_and_calls_out_with_its_own_span() {
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let _default = tracing::subscriber::set_default(subscriber);
        let envelope: TaskEnvelope = serde_json::from_value(serde_json::json!({
            "task_id": uuid::Uuid::now_v7(), "run_id": uuid::Uuid::now_v7(),
            "deployment_id": uuid::Uuid::now_v7(), "org_id": uuid::Uuid::now_v7(),
            "agent": {"id": "com.example.a", "version": "1.0.0", "manifest_digest": "sha256:00"},
            "attempt": 1, "max_attempts": 3, "lease": {"expires_at": "2026-11-23T00:00:00Z"},
            "workflow": {}, "inputs": {}, "granted_permissions": [],
            "trace": {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
            "preferences_version": 0
        }))
        .unwrap();
        let headers = async { trace_headers() }.instrument(task_span(&envelope)).await;
        let traceparent = &headers.iter().find(|(name, _)| name == "traceparent").unwrap().1;
        assert!(
            traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{traceparent}"
        );
        assert!(!traceparent.contains("00f067aa0ba902b7"), "{traceparent}");
        assert!(trace_headers().is_empty(), "outside a span, nothing");
    }
}
