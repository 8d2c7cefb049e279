//! The DAG executor: a workflow becomes a [`Plan`] (a petgraph graph of prepared nodes, every config,
//! template and condition checked up front) and [`Executor::run`] runs it.
//!
//! A node runs once all its predecessors are resolved and at least one incoming edge is *active* (its
//! source ran and its `when`, if any, holds); a node with incoming edges none of which is active is
//! skipped, and so, in turn, are the nodes only it leads to. Ready nodes run concurrently, at most
//! `max_concurrency` at once, polled by the run's own task (a node with heavy CPU work does it on a blocking
//! thread); a node that panics fails the run. Each attempt has the node's timeout; a retryable failure is tried again
//! after the node's backoff, doubled each time, up to `retry.max_attempts` attempts in all. A node that
//! fails for good fails the run (`on_error: fail`) or gives `{"error": reason}` as its output
//! (`on_error: continue`). After each finished node the sink gets a [`Checkpoint`] holding every finished
//! node's output; a run given a checkpoint takes those outputs as they are and runs only the rest.
//!
//! A node without an `input` template gets `{"inputs": …, "<predecessor id>": output, …}`: the run's inputs
//! and its direct predecessors' outputs.
//!
//! The run's outputs are the outputs of its *final* nodes (those without outgoing edges) that ran: the one
//! output itself when there is one such node, else an object of them by node id.

pub mod expr;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt as _, StreamExt as _};
use manifest::{OnError, Workflow};
use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use protocol::{Checkpoint, EventKind, FieldError, LogLevel, NodeOutput, StepStatus, TokenUsage, Usage};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use self::expr::{Condition, Scope, Template, split_pointer};
use crate::nodes::{
    ApprovalRequest, NodeContext, NodeError, NodeOutcome, NodeRegistry, PreparedNode, RunContext,
};

/// A workflow that cannot run: every problem found, each with its path.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", .errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct PlanError {
    pub errors: Vec<FieldError>,
}

/// A node ready to run.
pub struct PlannedNode {
    pub id: String,
    pub kind: String,
    input: Option<Template>,
    runner: Arc<dyn PreparedNode>,
    max_attempts: u32,
    backoff: Duration,
    timeout: Option<Duration>,
    on_error: OnError,
    timers: crate::metrics::NodeTimers,
}

impl fmt::Debug for PlannedNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlannedNode")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("max_attempts", &self.max_attempts)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A checked workflow: nodes with their configs read, edges with their conditions parsed.
#[derive(Debug)]
pub struct Plan {
    nodes: Vec<PlannedNode>,
    /// Node weights index `nodes`; edge weights are the edges' conditions.
    graph: DiGraph<usize, Option<Condition>>,
    /// Each node's direct predecessors, once each, in id order (the order of a checkpoint's nodes).
    predecessors: Vec<Vec<usize>>,
}

impl Plan {
    /// Checks a workflow sent as JSON (a task envelope's `workflow`).
    ///
    /// # Errors
    ///
    /// [`PlanError`] with every problem found.
    pub fn from_json(workflow: &Value, registry: &NodeRegistry) -> Result<Self, PlanError> {
        let workflow: Workflow = serde_json::from_value(workflow.clone()).map_err(|error| PlanError {
            errors: vec![FieldError::new("workflow", error.to_string())],
        })?;
        Self::build(&workflow, registry)
    }

    /// Checks a workflow and prepares every node.
    ///
    /// # Errors
    ///
    /// [`PlanError`] with every problem found: unknown kinds, configs a kind refuses, malformed templates and
    /// conditions, duplicate ids, edges to nowhere, cycles.
    pub fn build(workflow: &Workflow, registry: &NodeRegistry) -> Result<Self, PlanError> {
        let mut errors = Vec::new();
        let mut graph = DiGraph::with_capacity(workflow.nodes.len(), workflow.edges.len());
        let mut by_id: HashMap<&str, NodeIndex> = HashMap::with_capacity(workflow.nodes.len());
        let mut nodes = Vec::with_capacity(workflow.nodes.len());
        for (index, node) in workflow.nodes.iter().enumerate() {
            let path = format!("workflow.nodes[{index}]");
            if by_id.contains_key(node.id.as_str()) {
                errors.push(FieldError::new(
                    format!("{path}.id"),
                    format!("`{}` is used twice", node.id),
                ));
                continue;
            }
            let mut config = node.config.clone();
            let input = match config
                .remove("input")
                .map(|input| Template::parse(&input))
                .transpose()
            {
                Ok(input) => input,
                Err(error) => {
                    errors.push(FieldError::new(format!("{path}.config.input"), error.to_string()));
                    None
                }
            };
            let runner = match registry.prepare(&node.kind, Value::Object(config)) {
                Ok(runner) => runner,
                Err(message) => {
                    let field = if registry.kinds().contains(&node.kind.as_str()) {
                        "config"
                    } else {
                        "kind"
                    };
                    errors.push(FieldError::new(format!("{path}.{field}"), message));
                    continue;
                }
            };
            by_id.insert(node.id.as_str(), graph.add_node(nodes.len()));
            nodes.push(PlannedNode {
                id: node.id.clone(),
                kind: node.kind.clone(),
                timers: crate::metrics::NODES.timers(&node.kind),
                input,
                runner,
                max_attempts: node.retry.as_ref().map_or(1, |retry| retry.max_attempts.max(1)),
                backoff: node
                    .retry
                    .as_ref()
                    .and_then(|retry| retry.backoff)
                    .map_or(Duration::from_millis(200), |backoff| backoff.0),
                timeout: node.timeout.map(|timeout| timeout.0),
                on_error: node.on_error,
            });
        }
        // Every declared id, prepared or not: an edge to a node whose config is wrong is not an edge to nowhere.
        let declared: HashSet<&str> = workflow.nodes.iter().map(|node| node.id.as_str()).collect();
        for (index, edge) in workflow.edges.iter().enumerate() {
            let path = format!("workflow.edges[{index}]");
            let condition = match edge.when.as_deref().map(Condition::parse).transpose() {
                Ok(condition) => condition,
                Err(error) => {
                    errors.push(FieldError::new(format!("{path}.when"), error.to_string()));
                    None
                }
            };
            let from = by_id.get(edge.from.as_str());
            let to = by_id.get(edge.to.as_str());
            let known = |id: &str| declared.contains(id);
            if !known(&edge.from) {
                errors.push(FieldError::new(
                    format!("{path}.from"),
                    format!("no node `{}`", edge.from),
                ));
            }
            if !known(&edge.to) {
                errors.push(FieldError::new(
                    format!("{path}.to"),
                    format!("no node `{}`", edge.to),
                ));
            }
            if let (Some(from), Some(to)) = (from, to) {
                graph.add_edge(*from, *to, condition);
            }
        }
        if petgraph::algo::is_cyclic_directed(&graph) {
            for cycle in workflow.cycles() {
                let ids: Vec<&str> = cycle
                    .nodes
                    .iter()
                    .map(|index| workflow.nodes[*index].id.as_str())
                    .collect();
                errors.push(FieldError::new(
                    format!("workflow.edges[{}]", cycle.closing_edge),
                    format!("closes a cycle: {}", ids.join(" → ")),
                ));
            }
        }
        let predecessors = graph
            .node_indices()
            .map(|handle| {
                let mut from: Vec<usize> = graph
                    .neighbors_directed(handle, Direction::Incoming)
                    .map(|source| graph[source])
                    .collect();
                from.sort_unstable_by(|a, b| nodes[*a].id.cmp(&nodes[*b].id));
                from.dedup();
                from
            })
            .collect();
        if errors.is_empty() {
            Ok(Self {
                nodes,
                graph,
                predecessors,
            })
        } else {
            Err(PlanError { errors })
        }
    }

    /// The nodes, in declaration order.
    #[must_use]
    pub fn nodes(&self) -> &[PlannedNode] {
        &self.nodes
    }
}

/// Where a run's events go: the poller batches them to the control plane, `run-local` prints them.
pub trait EventSink: Send + Sync {
    /// A step event (started, finished, log).
    fn emit(&self, event: EventKind);
    /// The run's durable state after a finished node. The sink copies what it keeps.
    fn checkpoint(&self, checkpoint: &Checkpoint);
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub enum RunOutcome {
    Succeeded {
        outputs: Value,
        usage: Usage,
    },
    /// `reason` is the failing node's own message; `node` names it.
    Failed {
        node: Option<String>,
        reason: String,
        retryable: bool,
        usage: Usage,
    },
    /// A node waits for a human; `checkpoint` is what the run resumes from once approved.
    Suspended {
        node: String,
        approval: ApprovalRequest,
        checkpoint: Checkpoint,
        usage: Usage,
    },
    Cancelled {
        usage: Usage,
    },
}

/// What [`Executor::run`] needs for one run.
#[derive(Debug)]
pub struct RunRequest {
    pub plan: Arc<Plan>,
    pub inputs: Value,
    pub checkpoint: Option<Checkpoint>,
    pub run: RunContext,
    pub cancel: CancellationToken,
}

/// Runs plans; cheap to clone and share.
#[derive(Clone, Copy, Debug)]
pub struct Executor {
    max_concurrency: usize,
}

impl Default for Executor {
    fn default() -> Self {
        Self::new(8)
    }
}

/// Checkpoint state key naming the node a suspended run waits on.
pub const AWAITING_APPROVAL: &str = "awaiting_approval";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Waiting,
    Running,
    Done,
    Skipped,
}

struct Scoped<'a> {
    inputs: &'a Value,
    nodes: &'a BTreeMap<String, NodeOutput>,
}

impl Scope for Scoped<'_> {
    fn lookup(&self, pointer: &str) -> Option<Cow<'_, Value>> {
        if pointer.is_empty() {
            let mut whole = Map::new();
            whole.insert("inputs".to_owned(), self.inputs.clone());
            for (id, output) in self.nodes {
                whole.insert(id.clone(), output.output.clone());
            }
            return Some(Cow::Owned(Value::Object(whole)));
        }
        let (head, rest) = split_pointer(pointer)?;
        let value = if head == "inputs" {
            self.inputs
        } else {
            &self.nodes.get(head.as_ref())?.output
        };
        value.pointer(rest).map(Cow::Borrowed)
    }
}

/// What one node's attempts came to.
struct Finished {
    index: usize,
    attempt: u32,
    result: Result<NodeOutcome, NodeError>,
    tokens: TokenUsage,
    counters: BTreeMap<String, u64>,
    /// CPU time its attempts spent on other threads.
    cpu: Duration,
}

impl RunOutcome {
    fn usage_mut(&mut self) -> &mut Usage {
        match self {
            Self::Succeeded { usage, .. }
            | Self::Failed { usage, .. }
            | Self::Suspended { usage, .. }
            | Self::Cancelled { usage } => usage,
        }
    }
}

impl Executor {
    #[must_use]
    pub fn new(max_concurrency: usize) -> Self {
        Self {
            max_concurrency: max_concurrency.max(1),
        }
    }

    /// Runs a plan to its end, a suspension, or cancellation. The usage's `cpu_ms` counts what this run's
    /// task spent polling its nodes and what they spent on other threads; a checkpoint's counts only the
    /// latter (and what earlier deliveries counted).
    pub async fn run(&self, request: RunRequest, sink: Arc<dyn EventSink>) -> RunOutcome {
        let (mut outcome, polling) = crate::cpu::metered(self.run_plan(request, sink)).await;
        let usage = outcome.usage_mut();
        usage.cpu_ms = usage.cpu_ms.saturating_add(millis(polling));
        outcome
    }

    async fn run_plan(&self, request: RunRequest, sink: Arc<dyn EventSink>) -> RunOutcome {
        let RunRequest {
            plan,
            inputs,
            checkpoint,
            mut run,
            cancel,
        } = request;
        let started = Instant::now();
        let resumed = checkpoint.unwrap_or_default();
        if run.approved_node.is_none() {
            run.approved_node = resumed
                .state
                .get(AWAITING_APPROVAL)
                .and_then(|waiting| waiting.get("node"))
                .and_then(Value::as_str)
                .map(str::to_owned);
        }
        let run = Arc::new(run);
        let graph = &plan.graph;
        let count = plan.nodes.len();
        let mut status = vec![Status::Waiting; count];
        let mut unresolved: Vec<usize> = graph
            .node_indices()
            .map(|handle| graph.edges_directed(handle, Direction::Incoming).count())
            .collect();
        let mut active_in = vec![false; count];
        let mut done = Checkpoint {
            seq: 0,
            nodes: BTreeMap::new(),
            state: Value::Object(Map::new()),
            usage: Usage::default(),
        };
        // What ran before this delivery is charged with the rest; `wall_ms` is this delivery's.
        let mut usage = Usage {
            wall_ms: 0,
            ..resumed.usage.clone()
        };
        let mut blocking_cpu = Duration::ZERO;
        let mut ready: VecDeque<usize> = (0..count).filter(|index| unresolved[*index] == 0).collect();
        // The running nodes' futures, polled by this run's own task: no task to spawn per node. A node with
        // heavy CPU work runs it on a blocking thread (as the local model and the embedder do).
        let mut running: FuturesUnordered<BoxFuture<'static, std::thread::Result<Finished>>> =
            FuturesUnordered::new();
        let mut suspended: Option<(String, ApprovalRequest)> = None;
        let mut failure: Option<(Option<String>, String, bool)> = None;

        loop {
            // Resolve what needs no running: resumed nodes, and nodes every incoming edge of which is inactive.
            while let Some(index) = ready.front().copied() {
                let node = &plan.nodes[index];
                let has_inputs = unresolved[index] == 0
                    && graph
                        .edges_directed(NodeIndex::new(index), Direction::Incoming)
                        .next()
                        .is_some();
                if has_inputs && !active_in[index] {
                    ready.pop_front();
                    status[index] = Status::Skipped;
                    sink.emit(EventKind::Finished {
                        node: Some(node.id.clone()),
                        attempt: 0,
                        status: StepStatus::Skipped,
                        duration_ms: 0,
                        message: Some("no incoming edge is active".to_owned()),
                        counters: BTreeMap::new(),
                    });
                    release(
                        &plan,
                        index,
                        &inputs,
                        &done.nodes,
                        false,
                        &mut unresolved,
                        &mut active_in,
                        &mut ready,
                    );
                    continue;
                }
                if let Some(output) = resumed.nodes.get(&node.id) {
                    ready.pop_front();
                    status[index] = Status::Done;
                    done.nodes.insert(node.id.clone(), output.clone());
                    sink.emit(EventKind::Log {
                        node: Some(node.id.clone()),
                        level: LogLevel::Info,
                        message: "finished before; its output is taken from the checkpoint".to_owned(),
                    });
                    release(
                        &plan,
                        index,
                        &inputs,
                        &done.nodes,
                        true,
                        &mut unresolved,
                        &mut active_in,
                        &mut ready,
                    );
                    continue;
                }
                if suspended.is_some() || failure.is_some() || running.len() >= self.max_concurrency {
                    break;
                }
                ready.pop_front();
                status[index] = Status::Running;
                let scope = Scoped {
                    inputs: &inputs,
                    nodes: &done.nodes,
                };
                let input = match &node.input {
                    Some(template) => template.eval(&scope),
                    None => Ok(direct_inputs(&plan, index, &inputs, &done.nodes)),
                };
                let input = match input {
                    Ok(input) => input,
                    Err(error) => {
                        let error = NodeError::fatal(format!("its input: {error}"));
                        sink.emit(EventKind::Finished {
                            node: Some(node.id.clone()),
                            attempt: 1,
                            status: StepStatus::Failed,
                            duration_ms: 0,
                            message: Some(error.message.clone()),
                            counters: BTreeMap::new(),
                        });
                        running.push(
                            std::future::ready(Ok(Finished {
                                index,
                                attempt: 1,
                                result: Err(error),
                                tokens: TokenUsage::default(),
                                counters: BTreeMap::new(),
                                cpu: Duration::ZERO,
                            }))
                            .boxed(),
                        );
                        continue;
                    }
                };
                running.push(
                    std::panic::AssertUnwindSafe(
                        attempts(
                            index,
                            Arc::clone(&plan),
                            input,
                            Arc::clone(&run),
                            cancel.child_token(),
                            Arc::clone(&sink),
                        )
                        .in_current_span(),
                    )
                    .catch_unwind()
                    .boxed(),
                );
            }
            if running.is_empty() {
                break;
            }
            let finished = tokio::select! {
                () = cancel.cancelled() => {
                    drop(running);
                    usage.wall_ms = millis(started.elapsed());
                    sink.emit(EventKind::Finished {
                        node: None, attempt: 0, status: StepStatus::Cancelled, duration_ms: usage.wall_ms,
                        message: Some("the run was cancelled".to_owned()), counters: BTreeMap::new(),
                    });
                    return RunOutcome::Cancelled { usage };
                }
                joined = running.next() => joined,
            };
            let Some(joined) = finished else { continue };
            let finished = match joined {
                Ok(finished) => finished,
                Err(panic) => {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|text| (*text).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "no message".to_owned());
                    failure.get_or_insert((None, format!("a node panicked: {what}"), true));
                    continue;
                }
            };
            usage.tokens.prompt += finished.tokens.prompt;
            usage.tokens.completion += finished.tokens.completion;
            blocking_cpu += finished.cpu;
            usage.cpu_ms = resumed.usage.cpu_ms.saturating_add(millis(blocking_cpu));
            for (name, value) in &finished.counters {
                *usage.units.entry(name.clone()).or_default() += value;
            }
            let node = &plan.nodes[finished.index];
            let output = match finished.result {
                Ok(NodeOutcome::Done(output)) => output,
                Ok(NodeOutcome::Suspend(approval)) => {
                    status[finished.index] = Status::Waiting;
                    suspended.get_or_insert((node.id.clone(), approval));
                    continue;
                }
                Err(error) if node.on_error == OnError::Continue => json!({"error": error.message}),
                Err(error) => {
                    status[finished.index] = Status::Waiting;
                    failure.get_or_insert((Some(node.id.clone()), error.message.clone(), error.retryable));
                    continue;
                }
            };
            status[finished.index] = Status::Done;
            done.nodes.insert(
                node.id.clone(),
                NodeOutput {
                    output,
                    attempt: finished.attempt,
                    finished_at: Utc::now(),
                },
            );
            done.usage = usage.clone();
            sink.checkpoint(&done);
            release(
                &plan,
                finished.index,
                &inputs,
                &done.nodes,
                true,
                &mut unresolved,
                &mut active_in,
                &mut ready,
            );
        }

        usage.wall_ms = millis(started.elapsed());
        if let Some((node, reason, retryable)) = failure {
            sink.emit(EventKind::Finished {
                node: None,
                attempt: 0,
                status: StepStatus::Failed,
                duration_ms: usage.wall_ms,
                message: Some(reason.clone()),
                counters: BTreeMap::new(),
            });
            return RunOutcome::Failed {
                node,
                reason,
                retryable,
                usage,
            };
        }
        if let Some((node, approval)) = suspended {
            if let Value::Object(state) = &mut done.state {
                state.insert(AWAITING_APPROVAL.to_owned(), json!({"node": node}));
            }
            // Stored as the run's checkpoint, the task queued after the approval carries it.
            done.usage = usage.clone();
            sink.checkpoint(&done);
            sink.emit(EventKind::Finished {
                node: None,
                attempt: 0,
                status: StepStatus::Suspended,
                duration_ms: usage.wall_ms,
                message: Some(format!("node `{node}` waits for approval: {}", approval.reason)),
                counters: BTreeMap::new(),
            });
            return RunOutcome::Suspended {
                node,
                approval,
                checkpoint: done,
                usage,
            };
        }
        let finals: Vec<usize> = (0..count)
            .filter(|index| {
                status[*index] == Status::Done
                    && graph
                        .edges_directed(NodeIndex::new(*index), Direction::Outgoing)
                        .next()
                        .is_none()
            })
            .collect();
        let outputs = match finals.as_slice() {
            [only] => done
                .nodes
                .get(&plan.nodes[*only].id)
                .map(|o| o.output.clone())
                .unwrap_or(Value::Null),
            many => Value::Object(
                many.iter()
                    .filter_map(|index| {
                        let id = &plan.nodes[*index].id;
                        done.nodes.get(id).map(|o| (id.clone(), o.output.clone()))
                    })
                    .collect(),
            ),
        };
        sink.emit(EventKind::Finished {
            node: None,
            attempt: 0,
            status: StepStatus::Succeeded,
            duration_ms: usage.wall_ms,
            message: None,
            counters: usage.units.clone(),
        });
        RunOutcome::Succeeded { outputs, usage }
    }
}

/// A node's input when it has no template: the run's inputs and its direct predecessors' outputs by id
/// (not every finished node's, which would make a long chain quadratic).
fn direct_inputs(plan: &Plan, index: usize, inputs: &Value, nodes: &BTreeMap<String, NodeOutput>) -> Value {
    let predecessors = &plan.predecessors[index];
    let mut scope = Vec::with_capacity(predecessors.len() + 1);
    scope.push(("inputs".to_owned(), inputs.clone()));
    let mut take = |id: &String, output: &NodeOutput| scope.push((id.clone(), output.output.clone()));
    if predecessors.len() > 32 {
        // A join of many: one walk through the finished nodes, both in id order, instead of a lookup each.
        let mut finished = nodes.iter().peekable();
        for id in predecessors.iter().map(|from| &plan.nodes[*from].id) {
            while finished.next_if(|(done, _)| *done < id).is_some() {}
            if let Some((_, output)) = finished.next_if(|(done, _)| *done == id) {
                take(id, output);
            }
        }
    } else {
        for id in predecessors.iter().map(|from| &plan.nodes[*from].id) {
            if let Some(output) = nodes.get(id) {
                take(id, output);
            }
        }
    }
    // Nearly sorted already, so building the map is close to linear.
    Value::Object(scope.into_iter().collect())
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A node resolved (`ran`: it has an output; else it was skipped): its outgoing edges become active or
/// not, and successors whose every predecessor is resolved become ready.
#[expect(
    clippy::too_many_arguments,
    reason = "the executor's loop state, split out of one function"
)]
fn release(
    plan: &Plan,
    index: usize,
    inputs: &Value,
    nodes: &BTreeMap<String, NodeOutput>,
    ran: bool,
    unresolved: &mut [usize],
    active_in: &mut [bool],
    ready: &mut VecDeque<usize>,
) {
    let scope = Scoped { inputs, nodes };
    for edge in plan
        .graph
        .edges_directed(NodeIndex::new(index), Direction::Outgoing)
    {
        let target = edge.target().index();
        if ran
            && edge
                .weight()
                .as_ref()
                .is_none_or(|condition| condition.holds(&scope))
        {
            active_in[target] = true;
        }
        unresolved[target] -= 1;
        if unresolved[target] == 0 {
            ready.push_back(target);
        }
    }
}

/// A node's attempts, with a started and a finished event for each.
async fn attempts(
    index: usize,
    plan: Arc<Plan>,
    mut input: Value,
    run: Arc<RunContext>,
    cancel: CancellationToken,
    sink: Arc<dyn EventSink>,
) -> Finished {
    let node = &plan.nodes[index];
    let mut attempt = 1;
    let mut tokens = TokenUsage::default();
    let mut cpu = Duration::ZERO;
    loop {
        sink.emit(EventKind::Started {
            node: Some(node.id.clone()),
            attempt,
        });
        let started = Instant::now();
        let span = tracing::info_span!(
            "node",
            otel.name = format!("node {}", node.id),
            node.id = %node.id,
            node.kind = %node.kind,
            // Signed: the OpenTelemetry layer exports unsigned fields as text.
            node.attempt = i64::from(attempt),
            node.status = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        );
        let ctx = NodeContext::new(node.id.clone(), attempt, Arc::clone(&run), cancel.clone());
        // The last attempt takes the input itself: no copy for the usual single attempt.
        let given = if attempt < node.max_attempts {
            input.clone()
        } else {
            std::mem::take(&mut input)
        };
        let work = node.runner.run(given, &ctx).instrument(span.clone());
        let result = match node.timeout {
            Some(limit) => match tokio::time::timeout(limit, work).await {
                Ok(result) => result,
                Err(_) => Err(NodeError::retryable(format!("timed out after {limit:?}"))),
            },
            None => work.await,
        };
        let (counters, used, spent) = ctx.metered();
        tokens.prompt += used.prompt;
        tokens.completion += used.completion;
        cpu += spent;
        let (status, message) = match &result {
            Ok(NodeOutcome::Done(_)) => (StepStatus::Succeeded, None),
            Ok(NodeOutcome::Suspend(approval)) => (StepStatus::Suspended, Some(approval.reason.clone())),
            Err(error) => (StepStatus::Failed, Some(error.message.clone())),
        };
        let outcome = match status {
            StepStatus::Succeeded => "succeeded",
            StepStatus::Suspended => "suspended",
            _ => "failed",
        };
        node.timers.attempt(status, started.elapsed());
        span.record("node.status", outcome);
        if status == StepStatus::Failed {
            span.record("otel.status_code", "error");
        }
        drop(span);
        sink.emit(EventKind::Finished {
            node: Some(node.id.clone()),
            attempt,
            status,
            duration_ms: millis(started.elapsed()),
            message,
            counters: if status == StepStatus::Succeeded {
                counters.clone()
            } else {
                BTreeMap::new()
            },
        });
        match result {
            Err(error) if error.retryable && attempt < node.max_attempts => {
                let wait = node.backoff.saturating_mul(1 << (attempt - 1).min(16));
                tokio::select! {
                    () = cancel.cancelled() => {}
                    () = tokio::time::sleep(wait) => {}
                }
                attempt += 1;
            }
            result => {
                return Finished {
                    index,
                    attempt,
                    result,
                    tokens,
                    counters,
                    cpu,
                };
            }
        }
    }
}
