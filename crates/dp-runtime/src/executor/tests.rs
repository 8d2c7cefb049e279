use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Deserialize;
use serde_json::json;

use super::*;
use crate::nodes::{Node, NodeRegistry, Services, register_builtin_nodes};
use crate::tools::{ToolsConfig, builtin_tools};

/// Records events and checkpoints.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<EventKind>>,
    checkpoints: Mutex<Vec<Checkpoint>>,
}

impl EventSink for Recorder {
    fn emit(&self, event: EventKind) {
        self.events.lock().unwrap().push(event);
    }
    fn checkpoint(&self, checkpoint: &Checkpoint) {
        self.checkpoints.lock().unwrap().push(checkpoint.clone());
    }
}

impl Recorder {
    /// `(node, attempt, status)` of each node's finished events.
    fn finished(&self) -> Vec<(String, u32, StepStatus)> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|event| match event {
                EventKind::Finished {
                    node: Some(node),
                    attempt,
                    status,
                    ..
                } => Some((node.clone(), *attempt, *status)),
                _ => None,
            })
            .collect()
    }
}

/// What the test nodes saw: runs per node, start and end instants, concurrency.
#[derive(Default)]
struct Probe {
    runs: Mutex<HashMap<String, u32>>,
    spans: Mutex<HashMap<String, (Instant, Instant)>>,
    now: AtomicUsize,
    most: AtomicUsize,
}

/// Sleeps `ms`, fails its first `fail` attempts (retryably), outputs its input plus its id.
struct Work(Arc<Probe>);

#[derive(Deserialize)]
struct WorkConfig {
    #[serde(default)]
    ms: u64,
    #[serde(default)]
    fail: u32,
}

impl Node for Work {
    const KIND: &'static str = "work";
    type Config = WorkConfig;

    fn check(&self, _config: &WorkConfig) -> Result<(), String> {
        Ok(())
    }

    async fn run(
        &self,
        config: &WorkConfig,
        input: Value,
        ctx: &NodeContext,
    ) -> Result<NodeOutcome, NodeError> {
        let probe = &self.0;
        *probe.runs.lock().unwrap().entry(ctx.node.clone()).or_default() += 1;
        let now = probe.now.fetch_add(1, Ordering::SeqCst) + 1;
        probe.most.fetch_max(now, Ordering::SeqCst);
        let start = Instant::now();
        tokio::time::sleep(Duration::from_millis(config.ms)).await;
        probe.now.fetch_sub(1, Ordering::SeqCst);
        probe
            .spans
            .lock()
            .unwrap()
            .insert(ctx.node.clone(), (start, Instant::now()));
        if ctx.attempt <= config.fail {
            return Err(NodeError::retryable(format!("attempt {} fails", ctx.attempt)));
        }
        ctx.count("items", 1);
        Ok(NodeOutcome::Done(json!({"node": ctx.node, "input": input})))
    }
}

/// Spins for `spin_ms` of its thread's CPU, and reports `elsewhere_ms` of CPU spent on another thread.
struct Busy;

#[derive(Deserialize)]
struct BusyConfig {
    spin_ms: u64,
    elsewhere_ms: u64,
}

impl Node for Busy {
    const KIND: &'static str = "busy";
    type Config = BusyConfig;

    fn check(&self, _config: &BusyConfig) -> Result<(), String> {
        Ok(())
    }

    async fn run(
        &self,
        config: &BusyConfig,
        _input: Value,
        ctx: &NodeContext,
    ) -> Result<NodeOutcome, NodeError> {
        let started = crate::cpu::thread_time();
        while crate::cpu::thread_time().saturating_sub(started) < Duration::from_millis(config.spin_ms) {
            std::hint::black_box(());
        }
        ctx.cpu(Duration::from_millis(config.elsewhere_ms));
        Ok(NodeOutcome::Done(Value::Null))
    }
}

/// Panics when it runs.
struct Panics;

impl Node for Panics {
    const KIND: &'static str = "panics";
    type Config = WorkConfig;

    fn check(&self, _config: &WorkConfig) -> Result<(), String> {
        Ok(())
    }

    async fn run(
        &self,
        _config: &WorkConfig,
        _input: Value,
        _ctx: &NodeContext,
    ) -> Result<NodeOutcome, NodeError> {
        panic!("a bug in a node")
    }
}

fn registry(probe: &Arc<Probe>) -> NodeRegistry {
    let mut registry = NodeRegistry::new();
    let tools = builtin_tools(&ToolsConfig::default());
    register_builtin_nodes(
        &mut registry,
        &Services {
            tools: Arc::new(tools),
            ..Services::default()
        },
    );
    registry.register(Work(Arc::clone(probe)));
    registry.register(Panics);
    registry.register(Busy);
    registry
}

fn plan(probe: &Arc<Probe>, workflow: Value) -> Arc<Plan> {
    Arc::new(Plan::from_json(&workflow, &registry(probe)).unwrap())
}

fn request(plan: &Arc<Plan>, checkpoint: Option<Checkpoint>) -> RunRequest {
    RunRequest {
        plan: Arc::clone(plan),
        inputs: json!({"period": "2025-11"}),
        checkpoint,
        run: RunContext {
            granted_permissions: vec!["billing:read".into()],
            ..RunContext::default()
        },
        cancel: CancellationToken::new(),
    }
}

async fn run(plan: &Arc<Plan>, checkpoint: Option<Checkpoint>) -> (RunOutcome, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let outcome = Executor::new(8)
        .run(request(plan, checkpoint), recorder.clone())
        .await;
    (outcome, recorder)
}

#[tokio::test]
async fn independent_branches_overlap_in_time() {
    let probe = Arc::new(Probe::default());
    let plan = plan(
        &probe,
        json!({
            "nodes": [
                {"id": "a", "kind": "work"},
                {"id": "b", "kind": "work", "config": {"ms": 150}},
                {"id": "c", "kind": "work", "config": {"ms": 150}},
                {"id": "d", "kind": "work", "config": {}, }
            ],
            "edges": [{"from": "a", "to": "b"}, {"from": "a", "to": "c"}, {"from": "b", "to": "d"}, {"from": "c", "to": "d"}]
        }),
    );
    let (outcome, _) = run(&plan, None).await;
    assert!(matches!(outcome, RunOutcome::Succeeded { .. }), "{outcome:?}");
    let spans = probe.spans.lock().unwrap();
    let (b, c, d, a) = (spans["b"], spans["c"], spans["d"], spans["a"]);
    assert!(
        b.0 < c.1 && c.0 < b.1,
        "b and c ran one after the other: {b:?} {c:?}"
    );
    assert!(a.1 <= b.0 && a.1 <= c.0, "b and c started before a ended");
    assert!(d.0 >= b.1 && d.0 >= c.1, "d started before both its inputs ended");
    assert_eq!(probe.most.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn concurrency_is_bounded() {
    let probe = Arc::new(Probe::default());
    let nodes: Vec<Value> = (0..6)
        .map(|i| json!({"id": format!("n{i}"), "kind": "work", "config": {"ms": 30}}))
        .collect();
    let plan = plan(&probe, json!({"nodes": nodes}));
    let recorder = Arc::new(Recorder::default());
    let outcome = Executor::new(2).run(request(&plan, None), recorder).await;
    let RunOutcome::Succeeded { outputs, usage } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(probe.most.load(Ordering::SeqCst), 2);
    assert_eq!(
        outputs.as_object().unwrap().len(),
        6,
        "six final nodes, six outputs"
    );
    assert_eq!(usage.units["items"], 6);
}

#[tokio::test]
async fn a_failing_node_is_retried_then_succeeds() {
    let probe = Arc::new(Probe::default());
    let plan = plan(
        &probe,
        json!({"nodes": [{"id": "flaky", "kind": "work", "config": {"fail": 2}, "retry": {"max_attempts": 3, "backoff": "10ms"}}]}),
    );
    let (outcome, recorder) = run(&plan, None).await;
    let RunOutcome::Succeeded { outputs, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(outputs["node"], "flaky");
    assert_eq!(
        recorder.finished(),
        [
            ("flaky".to_owned(), 1, StepStatus::Failed),
            ("flaky".to_owned(), 2, StepStatus::Failed),
            ("flaky".to_owned(), 3, StepStatus::Succeeded)
        ]
    );
    assert_eq!(recorder.checkpoints.lock().unwrap()[0].nodes["flaky"].attempt, 3);
}

#[tokio::test]
async fn attempts_run_out_and_the_run_fails_naming_the_node() {
    let probe = Arc::new(Probe::default());
    let plan = plan(
        &probe,
        json!({"nodes": [{"id": "flaky", "kind": "work", "config": {"fail": 5}, "retry": {"max_attempts": 2, "backoff": "1ms"}}]}),
    );
    let (outcome, _) = run(&plan, None).await;
    let RunOutcome::Failed { node, reason, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(node.as_deref(), Some("flaky"));
    assert_eq!(reason, "attempt 2 fails");
}

#[tokio::test]
async fn on_error_continue_hands_the_error_on() {
    let probe = Arc::new(Probe::default());
    let plan = plan(
        &probe,
        json!({
            "nodes": [
                {"id": "bad", "kind": "work", "config": {"fail": 1}, "on_error": "continue"},
                {"id": "next", "kind": "transform", "config": {"input": "$/bad/error"}}
            ],
            "edges": [{"from": "bad", "to": "next"}]
        }),
    );
    let (outcome, _) = run(&plan, None).await;
    let RunOutcome::Succeeded { outputs, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(outputs, json!("attempt 1 fails"));
}

#[tokio::test]
async fn a_timeout_ends_the_attempt() {
    let probe = Arc::new(Probe::default());
    let plan = plan(
        &probe,
        json!({"nodes": [{"id": "slow", "kind": "work", "config": {"ms": 5000}, "timeout": "50ms"}]}),
    );
    let (outcome, _) = run(&plan, None).await;
    let RunOutcome::Failed {
        reason, retryable, ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(reason, "timed out after 50ms");
    assert!(retryable);
}

#[tokio::test]
async fn resuming_from_a_checkpoint_does_not_run_finished_nodes_again() {
    let probe = Arc::new(Probe::default());
    let workflow = |fail: u32| {
        json!({
            "nodes": [
                {"id": "a", "kind": "work"},
                {"id": "b", "kind": "work", "config": {"fail": fail, "input": "$/a"}},
                {"id": "c", "kind": "transform", "config": {"input": {"from_b": "$/b/node", "from_a": "$/a/node"}}}
            ],
            "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}]
        })
    };
    let (first, recorder) = run(&plan(&probe, workflow(1)), None).await;
    assert!(matches!(first, RunOutcome::Failed { .. }), "{first:?}");
    let checkpoint = recorder.checkpoints.lock().unwrap().last().cloned().unwrap();
    assert_eq!(checkpoint.nodes.keys().collect::<Vec<_>>(), ["a"]);
    assert_eq!(checkpoint.usage.units["items"], 1, "what `a` counted");

    let (second, recorder) = run(&plan(&probe, workflow(0)), Some(checkpoint)).await;
    let RunOutcome::Succeeded { outputs, usage } = second else {
        panic!("{second:?}")
    };
    assert_eq!(outputs, json!({"from_a": "a", "from_b": "b"}));
    assert_eq!(
        usage.units["items"], 2,
        "the usage of the nodes before the checkpoint is carried into the run's"
    );
    assert_eq!(probe.runs.lock().unwrap()["a"], 1, "a ran again");
    assert_eq!(probe.runs.lock().unwrap()["b"], 2);
    let ran: Vec<String> = recorder.finished().into_iter().map(|(node, ..)| node).collect();
    assert_eq!(ran, ["b", "c"]);
}

#[tokio::test]
async fn edge_conditions_choose_branches_and_skips_propagate() {
    let probe = Arc::new(Probe::default());
    let plan = plan(
        &probe,
        json!({
            "nodes": [
                {"id": "count", "kind": "transform", "config": {"op": "length", "input": [1, 2, 3]}},
                {"id": "many", "kind": "work"},
                {"id": "few", "kind": "work"},
                {"id": "after_few", "kind": "work"},
                {"id": "join", "kind": "work"}
            ],
            "edges": [
                {"from": "count", "to": "many", "when": "/count > 2"},
                {"from": "count", "to": "few", "when": "/count <= 2"},
                {"from": "few", "to": "after_few"},
                {"from": "many", "to": "join"},
                {"from": "after_few", "to": "join"}
            ]
        }),
    );
    let (outcome, recorder) = run(&plan, None).await;
    assert!(matches!(outcome, RunOutcome::Succeeded { .. }), "{outcome:?}");
    let runs = probe.runs.lock().unwrap();
    assert_eq!(runs.get("many"), Some(&1));
    assert_eq!(runs.get("few"), None);
    assert_eq!(runs.get("after_few"), None);
    assert_eq!(runs.get("join"), Some(&1), "one active input is enough");
    let skipped: Vec<String> = recorder
        .finished()
        .into_iter()
        .filter(|(_, _, status)| *status == StepStatus::Skipped)
        .map(|(node, ..)| node)
        .collect();
    assert_eq!(skipped, ["few", "after_few"]);
}

#[tokio::test]
async fn cancellation_stops_running_nodes_promptly() {
    let probe = Arc::new(Probe::default());
    let plan = plan(
        &probe,
        json!({"nodes": [{"id": "long", "kind": "work", "config": {"ms": 60000}}]}),
    );
    let request = request(&plan, None);
    let cancel = request.cancel.clone();
    let recorder = Arc::new(Recorder::default());
    let running = tokio::spawn(async move { Executor::new(4).run(request, recorder).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    cancel.cancel();
    let outcome = tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(outcome, RunOutcome::Cancelled { .. }), "{outcome:?}");
    assert!(
        !probe.spans.lock().unwrap().contains_key("long"),
        "the node ran to its end"
    );
}

#[tokio::test]
async fn a_missing_input_fails_the_run_naming_node_and_field() {
    let probe = Arc::new(Probe::default());
    let plan = plan(
        &probe,
        json!({
            "nodes": [
                {"id": "a", "kind": "transform", "config": {"input": {"rows": 3}}},
                {"id": "b", "kind": "transform", "config": {"input": "$/a/records"}}
            ],
            "edges": [{"from": "a", "to": "b"}]
        }),
    );
    let (outcome, _) = run(&plan, None).await;
    let RunOutcome::Failed {
        node,
        reason,
        retryable,
        ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(node.as_deref(), Some("b"));
    assert_eq!(reason, "its input: nothing at `/a/records`");
    assert!(!retryable);
}

#[test]
fn a_plan_reports_every_problem_at_once() {
    let probe = Arc::new(Probe::default());
    let error = Plan::from_json(
        &json!({
            "nodes": [
                {"id": "a", "kind": "teleport"},
                {"id": "b", "kind": "tool", "config": {"tool": "no.such.tool"}},
                {"id": "c", "kind": "transform", "config": {"input": "$nope", "op": "sum"}},
                {"id": "d", "kind": "work"},
                {"id": "e", "kind": "work"}
            ],
            "edges": [
                {"from": "d", "to": "e", "when": "d.count > 0"},
                {"from": "e", "to": "d"},
                {"from": "d", "to": "zz"}
            ]
        }),
        &registry(&probe),
    )
    .unwrap_err();
    let paths: Vec<&str> = error.errors.iter().map(|error| error.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "workflow.nodes[0].kind",
            "workflow.nodes[1].config",
            "workflow.nodes[2].config.input",
            "workflow.nodes[2].config",
            "workflow.edges[0].when",
            "workflow.edges[2].to",
            "workflow.edges[1]"
        ],
        "{error}"
    );
    assert!(error.errors[0].message.contains("unknown node kind `teleport`"));
    assert!(error.errors[1].message.contains("unknown tool `no.such.tool`"));
    assert!(
        error.errors[6].message.contains("closes a cycle: d → e → d"),
        "{error}"
    );
}

#[tokio::test]
async fn a_tool_without_its_granted_scope_is_refused_before_it_runs() {
    let probe = Arc::new(Probe::default());
    let plan = plan(
        &probe,
        json!({"nodes": [{"id": "store", "kind": "tool", "config": {"tool": "reports.write", "input": {"name": "x", "records": []}}}]}),
    );
    let (outcome, _) = run(&plan, None).await;
    let RunOutcome::Failed {
        reason, retryable, ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        reason,
        "tool `reports.write` needs the permission `reports:write` which the org did not \
         grant at install; nothing was run"
    );
    assert!(!retryable);
}

#[tokio::test]
async fn a_risky_tool_suspends_and_runs_once_approved() {
    let probe = Arc::new(Probe::default());
    let plan = plan(
        &probe,
        json!({
            "nodes": [
                {"id": "before", "kind": "work"},
                {"id": "fix", "kind": "tool", "config": {"tool": "cloud.remediate", "input": {"actions": [{"action": "terminate", "resource": "i-123"}]}}}
            ],
            "edges": [{"from": "before", "to": "fix"}]
        }),
    );
    let mut request = request(&plan, None);
    request.run.granted_permissions.push("cloud.compute:write".into());
    let recorder = Arc::new(Recorder::default());
    let outcome = Executor::default().run(request, recorder.clone()).await;
    let RunOutcome::Suspended {
        node,
        approval,
        checkpoint,
        ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(node, "fix");
    assert_eq!(approval.action["tool"], "cloud.remediate");
    assert_eq!(
        approval.reason,
        "tool `cloud.remediate` is of high risk and needs a human's approval"
    );
    assert_eq!(checkpoint.state[AWAITING_APPROVAL]["node"], "fix");
    let stored = recorder.checkpoints.lock().unwrap().last().cloned().unwrap();
    assert_eq!(stored, checkpoint, "the suspended state is checkpointed too");

    let mut request = super::tests::request(&plan, Some(checkpoint));
    request.run.granted_permissions.push("cloud.compute:write".into());
    let outcome = Executor::default()
        .run(request, Arc::new(Recorder::default()))
        .await;
    let RunOutcome::Succeeded { outputs, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(outputs, json!({"done": ["terminate i-123"]}));
    assert_eq!(probe.runs.lock().unwrap()["before"], 1);
}

#[tokio::test]
async fn without_a_template_a_node_gets_the_inputs_and_its_direct_predecessors_outputs() {
    let probe = Arc::new(Probe::default());
    let plan = plan(
        &probe,
        json!({
            "nodes": [{"id": "a", "kind": "work"}, {"id": "b", "kind": "work"}, {"id": "c", "kind": "work"}],
            "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}]
        }),
    );
    let (outcome, _) = run(&plan, None).await;
    let RunOutcome::Succeeded { outputs, .. } = outcome else {
        panic!("{outcome:?}")
    };
    let input = outputs["input"].as_object().unwrap();
    assert_eq!(input.keys().collect::<Vec<_>>(), ["b", "inputs"]);
    assert_eq!(input["inputs"], json!({"period": "2025-11"}));
    assert_eq!(input["b"]["node"], "b");
}

#[tokio::test]
async fn a_wide_join_gets_every_branch_that_ran_and_none_that_was_skipped() {
    let probe = Arc::new(Probe::default());
    // 60 branches (more than a lookup each is worth), every third one skipped by its condition; ids in
    // an order that is neither numeric nor the order of the edges.
    let branches: Vec<String> = (0..60).map(|i| format!("b{}", (i * 37) % 60)).collect();
    let mut nodes =
        vec![json!({"id": "root", "kind": "transform", "config": {"op": "length", "input": [1]}})];
    let mut edges = Vec::new();
    for (i, id) in branches.iter().enumerate() {
        nodes.push(json!({"id": id, "kind": "work"}));
        let when = if i % 3 == 0 { "/root > 5" } else { "/root == 1" };
        edges.push(json!({"from": "root", "to": id, "when": when}));
        edges.push(json!({"from": id, "to": "join"}));
    }
    nodes.push(json!({"id": "join", "kind": "work"}));
    let plan = plan(&probe, json!({"nodes": nodes, "edges": edges}));
    let (outcome, _) = run(&plan, None).await;
    let RunOutcome::Succeeded { outputs, .. } = outcome else {
        panic!("{outcome:?}")
    };
    let input = outputs["input"].as_object().unwrap();
    let mut expected: Vec<&str> = branches
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 0)
        .map(|(_, id)| id.as_str())
        .chain(["inputs"])
        .collect();
    expected.sort_unstable();
    assert_eq!(input.keys().map(String::as_str).collect::<Vec<_>>(), expected);
    for id in &expected[..expected.len() - 1] {
        assert_eq!(input[*id]["node"], *id, "{id}'s own output");
    }
}
#[tokio::test]
async fn a_node_that_panics_fails_the_run_and_its_siblings_still_finish() {
    let probe = Arc::new(Probe::default());
    let plan = plan(
        &probe,
        json!({
            "nodes": [
                {"id": "bug", "kind": "panics"},
                {"id": "slow", "kind": "work", "config": {"ms": 50}},
                {"id": "after", "kind": "work"}
            ],
            "edges": [{"from": "bug", "to": "after"}]
        }),
    );
    let (outcome, recorder) = run(&plan, None).await;
    let RunOutcome::Failed { reason, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(reason, "a node panicked: a bug in a node");
    let finished: Vec<String> = recorder.finished().into_iter().map(|(node, ..)| node).collect();
    assert_eq!(
        finished,
        ["slow"],
        "the sibling ran to its end; nothing after the panic ran"
    );
}

#[tokio::test]
async fn cpu_time_is_counted_in_the_usage_and_carried_by_checkpoints() {
    let probe = Arc::new(Probe::default());
    let plan = plan(
        &probe,
        json!({
            "nodes": [
                {"id": "spin", "kind": "busy", "config": {"spin_ms": 30, "elsewhere_ms": 0}},
                {"id": "offload", "kind": "busy", "config": {"spin_ms": 0, "elsewhere_ms": 40}}
            ],
            "edges": [{"from": "spin", "to": "offload"}]
        }),
    );
    let (outcome, recorder) = run(&plan, None).await;
    let RunOutcome::Succeeded { usage, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        (70..200).contains(&usage.cpu_ms),
        "30 ms polled here and 40 elsewhere: {usage:?}"
    );
    let last = recorder.checkpoints.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        last.usage.cpu_ms, 40,
        "a checkpoint counts what nodes spent elsewhere"
    );

    let (resumed, _) = run(&plan, Some(last)).await;
    let RunOutcome::Succeeded { usage, .. } = resumed else {
        panic!("{resumed:?}")
    };
    assert!(
        (40..100).contains(&usage.cpu_ms),
        "an earlier delivery's count carries over: {usage:?}"
    );
}
