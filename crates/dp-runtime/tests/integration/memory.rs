//! The `memory_search` and `memory_write` nodes over the real embedded store (SQLite + sqlite-vec in a
//! fresh folder) and the real local model (`just models` fetches it into `data/models`).

use std::path::PathBuf;
use std::sync::Arc;

use dp_runtime::executor::{EventSink, Executor, Plan, RunOutcome, RunRequest};
use dp_runtime::memory_service::{Backend, EmbedderSettings, MemoryService, MemorySettings};
use dp_runtime::nodes::{RunContext, Services, builtin_registry};
use protocol::OrgId;
use serde_json::{Value, json};

/// The model folder: `MEMORY_MODEL_DIR`, else the workspace's `data/models` that `just models` fills.
pub fn model_dir() -> PathBuf {
    std::env::var_os("MEMORY_MODEL_DIR").map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../data/models/all-MiniLM-L6-v2"
            ))
        },
        PathBuf::from,
    )
}

/// Memory in a fresh folder, with the local model from `model_dir`; opened at its first use.
pub fn memory_in(dir: &tempfile::TempDir, model_dir: PathBuf) -> Services {
    let settings = MemorySettings {
        backend: Backend::Sqlite,
        data_dir: dir.path().to_owned(),
        qdrant_url: None,
        qdrant_api_key: None,
        embedder: EmbedderSettings::Local { model_dir },
    };
    Services {
        memory: Some(Arc::new(MemoryService::new(settings))),
        ..Services::default()
    }
}

struct Quiet;

impl EventSink for Quiet {
    fn emit(&self, _event: protocol::EventKind) {}
    fn checkpoint(&self, _checkpoint: &protocol::Checkpoint) {}
}

/// Runs a one-node workflow as `agent` of `org`.
async fn run_node(
    services: &Services,
    org: OrgId,
    agent: &str,
    kind: &str,
    config: Value,
    inputs: Value,
) -> RunOutcome {
    let workflow = json!({"nodes": [{"id": "step", "kind": kind, "config": config}]});
    let plan = Plan::from_json(&workflow, &builtin_registry(services)).unwrap();
    let request = RunRequest {
        plan: Arc::new(plan),
        inputs,
        checkpoint: None,
        run: RunContext {
            org_id: Some(org),
            agent: Some(agent.to_owned()),
            ..RunContext::default()
        },
        cancel: tokio_util::sync::CancellationToken::new(),
    };
    Executor::default().run(request, Arc::new(Quiet)).await
}

fn succeeded(outcome: RunOutcome) -> Value {
    match outcome {
        RunOutcome::Succeeded { outputs, .. } => outputs,
        other => panic!("the run did not succeed: {other:?}"),
    }
}

fn failure(outcome: RunOutcome) -> (String, bool) {
    match outcome {
        RunOutcome::Failed {
            node,
            reason,
            retryable,
            ..
        } => {
            assert_eq!(node.as_deref(), Some("step"));
            (reason, retryable)
        }
        other => panic!("the run did not fail: {other:?}"),
    }
}

const AGENT: &str = "com.aicloud.finops.anomaly-detector";

fn remember(text: &str) -> (Value, Value) {
    (
        json!({
            "namespace": "cost_anomalies",
            "text": "$/inputs/text",
            "metadata": {"period": "$/inputs/period", "source": "detector"},
        }),
        json!({"text": text, "period": "2025-11"}),
    )
}

fn search(query: &str) -> (Value, Value) {
    (
        json!({"query": "${/inputs/query}", "namespace": "cost_anomalies", "top_k": 3}),
        json!({"query": query}),
    )
}

#[tokio::test]
async fn what_one_org_remembers_its_runs_find_and_another_orgs_runs_never_do() {
    let dir = tempfile::tempdir().unwrap();
    let services = memory_in(&dir, model_dir());
    let (acme, globex) = (OrgId::new(), OrgId::new());

    for text in [
        "EC2 spend in us-east-1 tripled on 2025-11-14: an idle GPU cluster was left running",
        "The quarterly BigQuery commitment renewed on 2025-11-01",
    ] {
        let (config, inputs) = remember(text);
        let written = succeeded(run_node(&services, acme, AGENT, "memory_write", config, inputs).await);
        assert_eq!(written["level"], "knowledge");
        assert_eq!(written["namespace"], "cost_anomalies");
        assert!(
            written["id"].as_str().is_some_and(|id| id.len() == 36),
            "{written}"
        );
    }

    let (config, inputs) = search("idle GPU instances running up compute costs");
    let found = succeeded(
        run_node(
            &services,
            acme,
            AGENT,
            "memory_search",
            config.clone(),
            inputs.clone(),
        )
        .await,
    );
    assert_eq!(found["query"], "idle GPU instances running up compute costs");
    assert_eq!(found["count"], 2);
    let best = &found["hits"][0];
    assert!(
        best["text"].as_str().unwrap().contains("idle GPU cluster"),
        "{found:#}"
    );
    assert_eq!(best["level"], "knowledge");
    assert_eq!(best["namespace"], "cost_anomalies");
    assert_eq!(
        best["metadata"],
        json!({"period": "2025-11", "source": "detector"})
    );
    assert!(best["score"].as_f64().unwrap() > found["hits"][1]["score"].as_f64().unwrap());

    let elsewhere = succeeded(
        run_node(
            &services,
            globex,
            AGENT,
            "memory_search",
            config.clone(),
            inputs.clone(),
        )
        .await,
    );
    assert_eq!(
        elsewhere["count"], 0,
        "another org's run found acme's memory: {elsewhere:#}"
    );
    assert_eq!(elsewhere["hits"], json!([]));

    let strict = json!({"query": "idle GPU instances", "namespace": "cost_anomalies", "min_score": 0.99});
    let none = succeeded(run_node(&services, acme, AGENT, "memory_search", strict, json!({})).await);
    assert_eq!(none["count"], 0);
}

#[tokio::test]
async fn task_summaries_are_the_agents_own_and_knowledge_is_the_orgs() {
    let dir = tempfile::tempdir().unwrap();
    let services = memory_in(&dir, model_dir());
    let org = OrgId::new();
    let summary = json!({"level": "task", "text": "Normalized 15,000 line items of November 2025 billing"});
    let written = succeeded(
        run_node(
            &services,
            org,
            "com.aicloud.finops.billing-normalizer",
            "memory_write",
            summary,
            json!({}),
        )
        .await,
    );
    assert_eq!(written["level"], "task");
    assert_eq!(written["namespace"], Value::Null);

    let query = json!({"query": "November billing", "level": ["task", "episode"]});
    let own = succeeded(
        run_node(
            &services,
            org,
            "com.aicloud.finops.billing-normalizer",
            "memory_search",
            query.clone(),
            json!({}),
        )
        .await,
    );
    assert_eq!(own["count"], 1);
    assert_eq!(own["hits"][0]["level"], "task");
    let other_agent = succeeded(run_node(&services, org, AGENT, "memory_search", query, json!({})).await);
    assert_eq!(other_agent["count"], 0, "{other_agent:#}");
}

#[tokio::test]
async fn bad_input_fails_the_node_with_its_reason_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let services = memory_in(&dir, model_dir());
    let org = OrgId::new();

    let (config, inputs) = search("   ");
    let (reason, retryable) = failure(run_node(&services, org, AGENT, "memory_search", config, inputs).await);
    assert_eq!(reason, "the query is empty: there is nothing to search by");
    assert!(!retryable);

    let (config, inputs) = remember("");
    let (reason, _) = failure(run_node(&services, org, AGENT, "memory_write", config, inputs).await);
    assert_eq!(reason, "the text is empty: there is nothing to remember");

    let huge = "An anomaly. ".repeat(6_000);
    let (config, inputs) = remember(&huge);
    let (reason, retryable) = failure(run_node(&services, org, AGENT, "memory_write", config, inputs).await);
    assert_eq!(
        reason,
        "the text is 72000 bytes; memory keeps texts of at most 65536 bytes (summarize it, or write its parts separately)"
    );
    assert!(!retryable);

    let (config, inputs) = search("an anomaly");
    let found = succeeded(run_node(&services, org, AGENT, "memory_search", config, inputs).await);
    assert_eq!(found["count"], 0, "a refused write was kept: {found:#}");

    let missing = json!({"query": "${/inputs/nothing}", "namespace": "cost_anomalies"});
    let (reason, _) = failure(run_node(&services, org, AGENT, "memory_search", missing, json!({})).await);
    assert_eq!(reason, "query: nothing at `/inputs/nothing`");
}

#[test]
fn an_unknown_level_or_a_misplaced_namespace_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let services = memory_in(&dir, model_dir());
    let registry = builtin_registry(&services);
    let workflow = json!({"nodes": [
        {"id": "recall", "kind": "memory_search", "config": {"query": "q", "level": "facts"}},
        {"id": "prefs", "kind": "memory_search", "config": {"query": "q", "level": "preferences"}},
        {"id": "many", "kind": "memory_search", "config": {"query": "q", "top_k": 1000}},
        {"id": "remember", "kind": "memory_write", "config": {"text": "t", "level": "task", "namespace": "x"}},
        {"id": "orphan", "kind": "memory_write", "config": {"text": "t"}},
    ]});
    let errors: Vec<String> = Plan::from_json(&workflow, &registry)
        .unwrap_err()
        .errors
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errors,
        [
            "workflow.nodes[0].config: unknown level `facts` (one of task, knowledge, episode)",
            "workflow.nodes[1].config: unknown level `preferences` (one of task, knowledge, episode)",
            "workflow.nodes[2].config: `top_k` must be 1 to 100, not 1000",
            "workflow.nodes[3].config: `namespace` applies only to the knowledge level",
            "workflow.nodes[4].config: the knowledge level needs a `namespace`",
        ]
    );
}

#[tokio::test]
async fn a_missing_model_fails_only_the_memory_node_and_says_how_to_fetch_it() {
    let dir = tempfile::tempdir().unwrap();
    let services = memory_in(&dir, dir.path().join("no-model-here"));
    let org = OrgId::new();

    let plain = json!({"op": "length", "input": "$/inputs/items"});
    let counted = succeeded(
        run_node(
            &services,
            org,
            AGENT,
            "transform",
            plain,
            json!({"items": [1, 2, 3]}),
        )
        .await,
    );
    assert_eq!(counted, 3, "a workflow without memory nodes needed the model");

    let (config, inputs) = search("idle instances");
    let (reason, retryable) = failure(run_node(&services, org, AGENT, "memory_search", config, inputs).await);
    assert!(
        reason.starts_with("memory: the local embedding model is missing"),
        "{reason}"
    );
    assert!(reason.contains("no-model-here/model.safetensors"), "{reason}");
    assert!(reason.contains("just models"), "{reason}");
    assert!(!retryable);
}

/// An agent that recalls notes like its input, then remembers the input.
const NOTES: &str = r#"
id: com.example.notes.keeper
name: Note Keeper
version: 1.0.0
description: Recalls the notes nearest its input, then remembers the input.
category: productivity
capabilities: [notes.keep]
input_schema:
  type: object
  required: [note]
  properties:
    note: { type: string, minLength: 1 }
workflow:
  nodes:
    - id: recall
      kind: memory_search
      config: { query: "${/inputs/note}", namespace: notes }
    - id: remember
      kind: memory_write
      config: { text: $/inputs/note, namespace: notes }
    - id: result
      kind: transform
      config: { input: { recalled: $/recall/hits, remembered: $/remember/id } }
  edges:
    - { from: recall, to: remember }
    - { from: remember, to: result }
memory:
  knowledge: [notes]
"#;

#[actix_web::test]
async fn through_the_control_plane_each_orgs_runs_find_only_their_own_orgs_memory() {
    let cp = crate::cp::Cp::start().await;
    let market = cp.market().await;
    let agent = cp.publish(&market, NOTES).await;
    let acme = cp.user("ops@acme.example", "Acme").await;
    let globex = cp.user("ops@globex.example", "Globex").await;
    let at_acme = cp.install_into(&acme, &agent, &[]).await;
    let at_globex = cp.install_into(&globex, &agent, &[]).await;
    // One memory store for both data planes: only the org filter keeps them apart.
    let dir = tempfile::tempdir().unwrap();
    let memory = memory_in(&dir, model_dir()).memory;
    let dps = [
        crate::cp::Dp::start(crate::cp::DpSetup {
            memory: memory.clone(),
            ..crate::cp::DpSetup::new(&cp, &at_acme.credential, "dp-acme")
        }),
        crate::cp::Dp::start(crate::cp::DpSetup {
            memory: memory.clone(),
            ..crate::cp::DpSetup::new(&cp, &at_globex.credential, "dp-globex")
        }),
    ];
    let limit = std::time::Duration::from_secs(60);
    let note = json!({"note": "The staging GPU cluster idles every weekend"});
    let mut outputs = Vec::new();
    for at in [&at_acme, &at_globex, &at_acme] {
        let run = cp.start_run(at, note.clone()).await;
        let view = cp.wait_for(at, &run, "succeeded", limit).await;
        outputs.push(view["outputs"].clone());
    }
    assert_eq!(outputs[0]["recalled"], json!([]));
    assert_eq!(
        outputs[1]["recalled"],
        json!([]),
        "globex found acme's note: {:#}",
        outputs[1]
    );
    let recalled = outputs[2]["recalled"].as_array().unwrap();
    assert_eq!(recalled.len(), 1, "acme's second run: {:#}", outputs[2]);
    assert_eq!(recalled[0]["id"], outputs[0]["remembered"]);
    assert_eq!(recalled[0]["text"], "The staging GPU cluster idles every weekend");
    for dp in dps {
        dp.stop().await;
    }
}

#[tokio::test]
async fn what_a_run_writes_is_kept_as_long_as_its_manifest_says() {
    use memory::VectorStore as _;

    let dir = tempfile::tempdir().unwrap();
    let services = memory_in(&dir, model_dir());
    let org = OrgId::new();
    let mut kept = Vec::new();
    for (level, retention) in [
        (
            "task",
            protocol::AgentMemory {
                task_ttl_secs: Some(2 * 3600),
                ..Default::default()
            },
        ),
        (
            "episode",
            protocol::AgentMemory {
                episode_ttl_secs: Some(3 * 86_400),
                ..Default::default()
            },
        ),
        ("task", protocol::AgentMemory::default()),
    ] {
        let workflow = json!({"nodes": [{"id": "step", "kind": "memory_write",
            "config": {"level": level, "text": "rightsized an idle cluster in eu-west-1"}}]});
        let plan = Plan::from_json(&workflow, &builtin_registry(&services)).unwrap();
        let request = RunRequest {
            plan: Arc::new(plan),
            inputs: json!({}),
            checkpoint: None,
            run: RunContext {
                org_id: Some(org),
                agent: Some(AGENT.to_owned()),
                memory: retention,
                ..RunContext::default()
            },
            cancel: tokio_util::sync::CancellationToken::new(),
        };
        let written = succeeded(Executor::default().run(request, Arc::new(Quiet)).await);
        let id: uuid::Uuid = written["id"].as_str().unwrap().parse().unwrap();
        let memory = services.memory.as_ref().unwrap().get().await.unwrap();
        let point = memory
            .store()
            .get(memory.collection(), &org.to_string(), id)
            .await
            .unwrap()
            .unwrap();
        kept.push(point.expires_at.unwrap() - point.created_at);
    }
    let hours = |ms: i64| ms / 3_600_000;
    assert_eq!(
        kept.into_iter().map(hours).collect::<Vec<_>>(),
        [2, 3 * 24, 30 * 24],
        "the manifest's task and episode retention, then the default for a manifest that sets none"
    );
}
