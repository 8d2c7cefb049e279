//! One trace across the control plane and the data plane, and both planes' metrics: a real OTLP/gRPC
//! receiver on 127.0.0.1 (the official protobufs) collects what the control plane (in this process, through
//! its telemetry and metrics modules) and two `dp-runtime serve` processes (pointed at it by
//! `OTEL_EXPORTER_OTLP_ENDPOINT`) export while a run asks an LLM and hands over to a child run over A2A.

use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::metrics::v1::{Metric, ResourceMetrics, metric::Data};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span};
use protocol::telemetry::metrics::MetricsExport;
use serde_json::json;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::cp::Cp;
use crate::llm::{Script, completion, serve};

/// What the receiver was sent.
#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Vec<ResourceSpans>>>, Arc<Mutex<Vec<ResourceMetrics>>>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.lock().unwrap().extend(request.into_inner().resource_spans);
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

#[tonic::async_trait]
impl MetricsService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.1
            .lock()
            .unwrap()
            .extend(request.into_inner().resource_metrics);
        Ok(tonic::Response::new(ExportMetricsServiceResponse {
            partial_success: None,
        }))
    }
}

/// An OTLP/gRPC trace and metrics receiver on 127.0.0.1; its URL.
async fn receiver(receiver: Receiver) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(receiver.clone()))
            .add_service(MetricsServiceServer::new(receiver))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    url
}

/// The last export's metric of each name, by the service that sent it.
fn last_metric(receiver: &Receiver, service: &str, name: &str) -> Option<Metric> {
    let exports = receiver.1.lock().unwrap();
    exports
        .iter()
        .filter(|resource| {
            resource
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .any(|attribute| {
                    attribute.key == "service.name"
                        && attribute.value.as_ref().and_then(|value| value.value.as_ref())
                            == Some(&Any::StringValue(service.to_owned()))
                })
        })
        .flat_map(|resource| &resource.scope_metrics)
        .flat_map(|scope| &scope.metrics)
        .rfind(|metric| metric.name == name)
        .cloned()
}

/// A histogram's count where a data point's attribute `key` is `value`.
fn histogram_count(metric: &Metric, key: &str, value: &str) -> u64 {
    let Some(Data::Histogram(histogram)) = &metric.data else {
        panic!("not a histogram: {metric:?}")
    };
    histogram
        .data_points
        .iter()
        .filter(|point| {
            point.attributes.iter().any(|attribute| {
                attribute.key == key
                    && attribute.value.as_ref().and_then(|v| v.value.as_ref())
                        == Some(&Any::StringValue(value.to_owned()))
            })
        })
        .map(|point| point.count)
        .sum()
}

/// A span with the service that sent it.
struct Seen {
    service: String,
    span: Span,
}

impl Seen {
    fn attribute(&self, key: &str) -> Option<Any> {
        self.span
            .attributes
            .iter()
            .find(|attribute| attribute.key == key)
            .and_then(|attribute| attribute.value.clone())
            .and_then(|value| value.value)
    }

    fn text(&self, key: &str) -> Option<String> {
        match self.attribute(key) {
            Some(Any::StringValue(text)) => Some(text),
            _ => None,
        }
    }

    fn number(&self, key: &str) -> Option<i64> {
        match self.attribute(key) {
            Some(Any::IntValue(number)) => Some(number),
            _ => None,
        }
    }
}

fn seen(receiver: &Receiver) -> Vec<Seen> {
    let mut spans = Vec::new();
    for resource in receiver.0.lock().unwrap().iter() {
        let service = resource
            .resource
            .iter()
            .flat_map(|resource| &resource.attributes)
            .find(|attribute| attribute.key == "service.name")
            .and_then(|attribute| attribute.value.clone())
            .and_then(|value| value.value);
        let Some(Any::StringValue(service)) = service else {
            panic!("spans without a service name: {resource:?}")
        };
        for scope in &resource.scope_spans {
            for span in &scope.spans {
                spans.push(Seen {
                    service: service.clone(),
                    span: span.clone(),
                });
            }
        }
    }
    spans
}

fn named<'a>(spans: &'a [Seen], service: &str, name: &str) -> Vec<&'a Seen> {
    spans
        .iter()
        .filter(|seen| seen.service == service && seen.span.name == name)
        .collect()
}

/// A `dp-runtime serve` process, killed if the test ends before [`terminate`] stops it.
struct DataPlane(Option<Child>);

impl Drop for DataPlane {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `dp-runtime serve` for a deployment, exporting traces to `otlp` (flushed on SIGTERM).
fn data_plane(cp: &Cp, credential: &str, otlp: &str, llm: &str, a2a_token: Option<&str>) -> DataPlane {
    let folder = std::env::temp_dir().join(format!("dp-traces-{}", uuid::Uuid::now_v7().simple()));
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_dp-runtime"));
    command
        .arg("serve")
        .env("DP_CONTROL_PLANE_URL", cp.base())
        .env("DP_TOKEN", credential)
        .env("DP_LISTEN", "127.0.0.1:0")
        .env("DP_DATA_DIR", folder.join("data"))
        .env("DP_REPORTS_ROOT", folder.join("reports"))
        .env("DP_LLM_BASE_URL", llm)
        .env("DP_LLM_API_KEY", "sk-test-key-that-is-secret")
        .env("DP_SHUTDOWN_GRACE", "5s")
        .env("DP_POLL_WAIT", "1s")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", otlp)
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("OTEL_METRIC_EXPORT_INTERVAL", "200")
        .env_remove("OTEL_SERVICE_NAME")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(token) = a2a_token {
        command.env("DP_A2A_TOKEN", token);
    }
    DataPlane(Some(command.spawn().unwrap()))
}

/// SIGTERM, then waits for the process to drain, flush its spans and exit.
async fn terminate(mut process: DataPlane) {
    let mut child = process.0.take().unwrap();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    for _ in 0..300 {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "dp-runtime exited with {status}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    panic!("dp-runtime did not exit within 30 s of SIGTERM");
}

const SUMMARIZER: &str = r#"
id: com.example.traces.summarizer
name: Summarizer
version: 1.0.0
description: Summarizes what it is sent with an LLM.
category: testing
workflow:
  nodes:
    - id: summarize
      kind: llm
      config: { model: gpt-4o-mini, prompt: "Summarize: ${/inputs/text}" }
"#;

const ASKER: &str = r#"
id: com.example.traces.asker
name: Asker
version: 1.0.0
description: Asks an LLM, then hands the answer to the summarizer over A2A.
category: testing
workflow:
  nodes:
    - id: ask
      kind: llm
      config: { model: gpt-4o-mini, prompt: "Say something about ${/inputs/topic}." }
    - id: handoff
      kind: a2a
      config:
        agent: com.example.traces.summarizer
        deployment: $/to
        send: /message
        input: { to: $/inputs/summarizer, message: { text: $/ask/text } }
      timeout: 1m
  edges:
    - { from: ask, to: handoff }
"#;

#[actix_web::test]
async fn one_trace_covers_a_run_across_both_planes_and_both_export_their_metrics() {
    let collected = Receiver::default();
    let otlp = receiver(collected.clone()).await;
    let provider = cp_api::telemetry::tracer_provider("cp-api", Some(&otlp)).unwrap();
    tracing_subscriber::registry()
        .with(protocol::telemetry::layer(&provider, cp_api::telemetry::SERVICE))
        .init();
    let telemetry = cp_api::telemetry::Telemetry::new(provider);

    let script = Arc::new(Script::default());
    script
        .answers
        .lock()
        .unwrap()
        .extend([completion("Clouds are cheap."), completion("Cheap clouds.")]);
    let (llm, llm_server) = serve(Arc::clone(&script));

    let cp = Cp::start().await;
    let pool = cp.state.pool.clone();
    let cp_metrics = MetricsExport::spawn(
        &otlp,
        "cp-api".to_owned(),
        Duration::from_millis(200),
        move || {
            let pool = pool.clone();
            async move { cp_api::metrics::gathered(&pool).await }
        },
    )
    .unwrap();
    let market = cp.market().await;
    let asker = cp.publish(&market, ASKER).await;
    let summarizer = cp.publish(&market, SUMMARIZER).await;
    let operator = cp.operator().await;
    let asking = cp.install_into(&operator, &asker, &[]).await;
    let summarizing = cp.install_into(&operator, &summarizer, &[]).await;
    let asking_dp = data_plane(&cp, &asking.credential, &otlp, &llm, Some(&operator.0));
    let summarizing_dp = data_plane(&cp, &summarizing.credential, &otlp, &llm, None);

    let run = cp
        .start_run(
            &asking,
            json!({"topic": "clouds", "summarizer": summarizing.deployment}),
        )
        .await;
    let view = cp
        .wait_for(&asking, &run, "succeeded", Duration::from_secs(60))
        .await;
    assert_eq!(view["outputs"]["status"], "completed", "{view:#}");
    assert_eq!(view["outputs"]["outputs"]["text"], "Cheap clouds.", "{view:#}");
    terminate(asking_dp).await;
    terminate(summarizing_dp).await;
    telemetry.shutdown().await;
    cp_metrics.shutdown().await;
    llm_server.stop(false).await;

    // Both planes' metrics, cumulative: the last export of each counts everything.
    let requests = last_metric(&collected, "cp-api", "cp_http_request_duration_seconds").unwrap();
    assert_eq!(requests.unit, "s");
    assert!(histogram_count(&requests, "route", "/api/v1/deployments/{deployment}/runs") >= 1);
    let Some(Data::Gauge(runs)) = last_metric(&collected, "cp-api", "cp_runs").unwrap().data else {
        panic!("cp_runs is not a gauge")
    };
    assert!(!runs.data_points.is_empty());
    let nodes = last_metric(&collected, "dp-runtime", "dp_node_duration_seconds").unwrap();
    assert_eq!(
        histogram_count(&nodes, "kind", "llm"),
        1,
        "each data plane ran one llm node"
    );
    let Some(Data::Sum(claimed)) = last_metric(&collected, "dp-runtime", "dp_tasks_claimed")
        .unwrap()
        .data
    else {
        panic!("dp_tasks_claimed is not a sum")
    };
    assert!(claimed.is_monotonic);

    let spans = seen(&collected);
    let names: Vec<(String, String)> = spans
        .iter()
        .map(|seen| (seen.service.clone(), seen.span.name.clone()))
        .collect();
    // Only the control plane's own spans: not those of the gRPC stack its exporter sends with.
    assert!(
        spans
            .iter()
            .filter(|seen| seen.service == "cp-api")
            .all(|seen| seen.span.name.starts_with("POST ")),
        "{names:?}"
    );
    let requests = named(&spans, "cp-api", "POST /api/v1/deployments/{deployment}/runs");
    assert_eq!(requests.len(), 1, "{names:?}");
    let request = requests[0];
    let trace = &request.span.trace_id;
    assert_eq!(trace.len(), 16);
    let in_trace = |seen: &&Seen| seen.span.trace_id == *trace;

    // The data planes' tasks, nodes and completions, and the A2A request that started the child run: one
    // trace.
    let tasks = named(&spans, "dp-runtime", "run task");
    assert_eq!(tasks.len(), 2, "{names:?}");
    assert!(tasks.iter().all(in_trace), "{names:?}");
    assert_eq!(
        tasks
            .iter()
            .filter(|task| task.span.parent_span_id == request.span.span_id)
            .count(),
        1,
        "the parent run's task is a child of the request that started it"
    );
    for node in ["node ask", "node handoff", "node summarize"] {
        let found = named(&spans, "dp-runtime", node);
        assert_eq!(found.len(), 1, "{node}: {names:?}");
        assert!(in_trace(&found[0]), "{node} is in another trace");
        assert_eq!(found[0].text("node.status").as_deref(), Some("succeeded"));
        assert_eq!(found[0].number("node.attempt"), Some(1));
    }
    assert_eq!(
        named(&spans, "dp-runtime", "node ask")[0]
            .text("node.kind")
            .as_deref(),
        Some("llm")
    );
    let handoff = named(&spans, "dp-runtime", "node handoff")[0];
    let calls = named(&spans, "cp-api", "POST /a2a/{deployment}");
    assert_eq!(calls.len(), 1, "{names:?}");
    assert!(in_trace(&calls[0]));
    let a2a_client_span = spans
        .iter()
        .find(|seen| seen.span.span_id == calls[0].span.parent_span_id)
        .unwrap();
    assert!(
        a2a_client_span.span.trace_id == *trace
            && (a2a_client_span.span.span_id == handoff.span.span_id
                || a2a_client_span.span.parent_span_id == handoff.span.span_id),
        "the A2A request is a child of the handoff node"
    );
    assert!(
        tasks
            .iter()
            .any(|task| task.span.parent_span_id == calls[0].span.span_id),
        "the child run's task is a child of the A2A request"
    );

    // The completions carry the GenAI semantic conventions' attributes.
    let chats = named(&spans, "dp-runtime", "chat gpt-4o-mini");
    assert_eq!(chats.len(), 2, "{names:?}");
    for chat in chats {
        assert!(in_trace(&chat));
        assert_eq!(chat.text("gen_ai.operation.name").as_deref(), Some("chat"));
        assert_eq!(chat.text("gen_ai.system").as_deref(), Some("openai"));
        assert_eq!(chat.text("gen_ai.provider.name").as_deref(), Some("openai"));
        assert_eq!(chat.text("gen_ai.request.model").as_deref(), Some("gpt-4o-mini"));
        assert_eq!(
            chat.text("gen_ai.response.model").as_deref(),
            Some("gpt-4o-mini-2024-07-18")
        );
        assert_eq!(chat.number("gen_ai.usage.input_tokens"), Some(42));
        assert_eq!(chat.number("gen_ai.usage.output_tokens"), Some(7));
    }

    // No secret of the data planes left in what they exported.
    let exported = format!("{:?}", collected.0.lock().unwrap());
    for secret in [
        asking.credential.as_str(),
        summarizing.credential.as_str(),
        operator.0.as_str(),
        "sk-test-key-that-is-secret",
    ] {
        assert!(!exported.contains(secret), "a secret was exported");
    }
}
