//! Scheduler overhead per node: 10,000 no-op nodes as a chain and as a wide fan-out (one root, 9,998
//! leaves, one join), run by the executor on a current-thread runtime with a sink that keeps nothing.
//! Everything but the nodes' own work is measured: readiness, spawning, input building, events,
//! checkpoints. The figures go to `target/bench/dp-scheduler.json` for `just bench`; the target is
//! ≤ 2 µs per node.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use dp_runtime::executor::{EventSink, Executor, Plan, RunOutcome, RunRequest};
use dp_runtime::nodes::{Node, NodeContext, NodeError, NodeOutcome, NodeRegistry, RunContext};
use protocol::{Checkpoint, EventKind};
use serde::Deserialize;
use serde_json::{Value, json};

const NODES: usize = 10_000;
const TARGET_NS: f64 = 2_000.0;

#[derive(Debug)]
struct Noop;

#[derive(Debug, Deserialize)]
struct NoConfig {}

impl Node for Noop {
    const KIND: &'static str = "noop";
    type Config = NoConfig;

    fn check(&self, _config: &NoConfig) -> Result<(), String> {
        Ok(())
    }

    async fn run(
        &self,
        _config: &NoConfig,
        _input: Value,
        _ctx: &NodeContext,
    ) -> Result<NodeOutcome, NodeError> {
        Ok(NodeOutcome::Done(Value::Null))
    }
}

struct Discard;

impl EventSink for Discard {
    fn emit(&self, _event: EventKind) {}
    fn checkpoint(&self, _checkpoint: &Checkpoint) {}
}

fn node(id: usize) -> Value {
    json!({"id": format!("n{id}"), "kind": "noop"})
}

fn chain() -> Value {
    json!({
        "nodes": (0..NODES).map(node).collect::<Vec<_>>(),
        "edges": (1..NODES).map(|i| json!({"from": format!("n{}", i - 1), "to": format!("n{i}")})).collect::<Vec<_>>(),
    })
}

fn fan_out() -> Value {
    let last = NODES - 1;
    let mut edges = Vec::with_capacity(2 * NODES);
    for i in 1..last {
        edges.push(json!({"from": "n0", "to": format!("n{i}")}));
        edges.push(json!({"from": format!("n{i}"), "to": format!("n{last}")}));
    }
    json!({"nodes": (0..NODES).map(node).collect::<Vec<_>>(), "edges": edges})
}

fn plan(workflow: &Value) -> Arc<Plan> {
    let mut registry = NodeRegistry::new();
    registry.register(Noop);
    #[expect(clippy::unwrap_used, reason = "a benchmark's setup failing is its report")]
    Arc::new(Plan::from_json(workflow, &registry).unwrap())
}

async fn run_once(plan: &Arc<Plan>, executor: Executor) {
    let request = RunRequest {
        plan: Arc::clone(plan),
        inputs: json!({}),
        checkpoint: None,
        run: RunContext::default(),
        cancel: tokio_util::sync::CancellationToken::new(),
    };
    let outcome = executor.run(request, Arc::new(Discard)).await;
    assert!(matches!(outcome, RunOutcome::Succeeded { .. }), "{outcome:?}");
}

#[expect(clippy::expect_used, reason = "a benchmark without a runtime cannot run")]
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn scheduler(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("dp");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    for (name, workflow, executor) in [
        ("scheduler_chain_10k", chain(), Executor::new(8)),
        ("scheduler_fan_out_10k", fan_out(), Executor::new(64)),
    ] {
        let plan = plan(&workflow);
        group.bench_function(name, |b| b.iter(|| rt.block_on(run_once(&plan, executor))));
    }
    group.finish();
}

/// Per-node figures for the report, from a few runs of each shape (the fastest kept).
fn figures() {
    let rt = runtime();
    let mut figures = Vec::new();
    for (name, workflow, executor) in [
        ("dp/scheduler_chain_per_node", chain(), Executor::new(8)),
        ("dp/scheduler_fan_out_per_node", fan_out(), Executor::new(64)),
    ] {
        let plan = plan(&workflow);
        let best = (0..5)
            .map(|_| {
                let started = Instant::now();
                rt.block_on(run_once(&plan, executor));
                started.elapsed()
            })
            .min()
            .unwrap_or_default();
        #[expect(clippy::cast_precision_loss, reason = "nanoseconds of a run fit an f64 well")]
        let per_node = best.as_nanos() as f64 / NODES as f64;
        figures.push(json!({
            "name": name, "value": per_node / 1000.0, "unit": "µs", "target": "≤ 2 µs",
            "pass": per_node <= TARGET_NS,
            "baseline": format!("{NODES} no-op nodes in {:.1} ms", best.as_secs_f64() * 1000.0),
        }));
    }
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../bench");
    let written = std::fs::create_dir_all(&out).and_then(|()| {
        std::fs::write(
            out.join("dp-scheduler.json"),
            serde_json::to_string_pretty(&figures).unwrap_or_default(),
        )
    });
    if let Err(error) = written {
        eprintln!("cannot write the figures: {error}");
    }
    for figure in &figures {
        println!("{figure}");
    }
}

criterion_group!(benches, scheduler);

fn main() {
    benches();
    figures();
    Criterion::default().configure_from_args().final_summary();
}
