//! Workflow node kinds: the [`Node`] trait, the one registry of kinds, and the built-ins (one file each).
//!
//! A kind is a type implementing [`Node`] with its own serde `Config`; [`register_builtin_nodes`] is the one
//! list of built-in kinds. A workflow's node configs are read into each kind's `Config` when the plan is
//! built, so a bad config fails the whole workflow up front, with the node's path, before anything runs.

pub mod a2a;
pub mod approval;
pub mod llm;
pub mod memory_search;
pub mod memory_write;
pub mod tool;
pub mod transform;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use protocol::{DeploymentId, OrgId, RunId, TokenUsage};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub use manifest::BUILTIN_NODE_KINDS;

use crate::client::a2a::A2aClient;
use crate::executor::expr::Template;
use crate::llm::LlmProvider;
use crate::memory_service::MemoryService;
use crate::tools::ToolRegistry;

/// A workflow node kind.
///
/// `run` gets the node's config (read once per plan), its input (built from the run's scope by the
/// node's `input` template, see [`crate::executor::expr`]) and the context of this attempt.
pub trait Node: Send + Sync + 'static {
    /// The `kind` manifests name it by.
    const KIND: &'static str;
    /// The node's `config` (without `input`, which the executor reads).
    type Config: DeserializeOwned + Send + Sync + 'static;

    /// Checks a config beyond its shape (a tool that exists, a model that is served), when the plan is built.
    ///
    /// # Errors
    ///
    /// What is wrong, for a human.
    fn check(&self, config: &Self::Config) -> Result<(), String>;

    /// Runs one attempt.
    fn run(
        &self,
        config: &Self::Config,
        input: Value,
        ctx: &NodeContext,
    ) -> impl Future<Output = Result<NodeOutcome, NodeError>> + Send;
}

/// What an attempt produced.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeOutcome {
    /// The node's output, for the nodes downstream.
    Done(Value),
    /// The run must wait for a human's decision before this node can do its work.
    Suspend(ApprovalRequest),
}

/// What a suspended node needs approved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRequest {
    /// What will be done once approved (the tool and its input, for a tool call).
    pub action: Value,
    /// What it will change or cost, as far as the node can tell.
    pub impact: Value,
    pub reason: String,
}

/// Why an attempt failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct NodeError {
    pub message: String,
    /// Whether another attempt may succeed (a timeout, a 503), or not (a refused scope, bad input).
    pub retryable: bool,
}

impl NodeError {
    #[must_use]
    pub fn retryable(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: true,
        }
    }

    #[must_use]
    pub fn fatal(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: false,
        }
    }
}

/// The run a node works for.
#[derive(Clone, Debug, Default)]
pub struct RunContext {
    pub run_id: Option<RunId>,
    pub org_id: Option<OrgId>,
    pub deployment_id: Option<DeploymentId>,
    /// Scopes the org granted at install; tools needing others are refused.
    pub granted_permissions: Vec<String>,
    /// The node whose approval brought this task (a resumed run), which may now do its work.
    pub approved_node: Option<String>,
    /// The agent's id (`com.aicloud.finops.billing-normalizer`): with the org, whose memory the run uses.
    pub agent: Option<String>,
    /// What the agent's manifest says about its memory: how long what the run writes is kept.
    pub memory: protocol::AgentMemory,
}

/// One attempt of one node.
#[derive(Debug)]
pub struct NodeContext {
    pub node: String,
    pub attempt: u32,
    pub run: Arc<RunContext>,
    /// Cancelled when the run is; long-running nodes should watch it.
    pub cancel: CancellationToken,
    meter: Mutex<Meter>,
}

#[derive(Debug, Default)]
struct Meter {
    counters: BTreeMap<String, u64>,
    tokens: TokenUsage,
    cpu: Duration,
}

impl NodeContext {
    #[must_use]
    pub fn new(node: String, attempt: u32, run: Arc<RunContext>, cancel: CancellationToken) -> Self {
        Self {
            node,
            attempt,
            run,
            cancel,
            meter: Mutex::new(Meter::default()),
        }
    }

    /// Whether a human approved this node's action (the task resumes after that approval).
    #[must_use]
    pub fn approved(&self) -> bool {
        self.run.approved_node.as_deref() == Some(self.node.as_str())
    }

    /// Adds `count` to a named counter of this step (`records`), billed as units.
    pub fn count(&self, name: &str, count: u64) {
        let mut meter = self.meter.lock().unwrap_or_else(PoisonError::into_inner);
        *meter.counters.entry(name.to_owned()).or_default() += count;
    }

    /// Records LLM tokens this step used.
    pub fn tokens(&self, used: TokenUsage) {
        let mut meter = self.meter.lock().unwrap_or_else(PoisonError::into_inner);
        meter.tokens.prompt += used.prompt;
        meter.tokens.completion += used.completion;
    }

    /// The counters and tokens recorded so far.
    #[must_use]
    pub fn metered(&self) -> (BTreeMap<String, u64>, TokenUsage, Duration) {
        let meter = self.meter.lock().unwrap_or_else(PoisonError::into_inner);
        (meter.counters.clone(), meter.tokens, meter.cpu)
    }

    /// Records CPU time this step spent on other threads (blocking work); what the run's own task spends
    /// polling it is counted already.
    pub fn cpu(&self, spent: Duration) {
        let mut meter = self.meter.lock().unwrap_or_else(PoisonError::into_inner);
        meter.cpu += spent;
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A node with its config read: what the executor runs.
pub trait PreparedNode: Send + Sync {
    fn run<'a>(&'a self, input: Value, ctx: &'a NodeContext)
    -> BoxFuture<'a, Result<NodeOutcome, NodeError>>;
}

struct Prepared<N: Node> {
    node: Arc<N>,
    config: N::Config,
}

impl<N: Node> PreparedNode for Prepared<N> {
    fn run<'a>(
        &'a self,
        input: Value,
        ctx: &'a NodeContext,
    ) -> BoxFuture<'a, Result<NodeOutcome, NodeError>> {
        Box::pin(self.node.run(&self.config, input, ctx))
    }
}

trait Factory: Send + Sync {
    fn prepare(&self, config: Value) -> Result<Arc<dyn PreparedNode>, String>;
}

impl<N: Node> Factory for Arc<N> {
    fn prepare(&self, config: Value) -> Result<Arc<dyn PreparedNode>, String> {
        let config: N::Config = serde_json::from_value(config).map_err(|error| error.to_string())?;
        self.check(&config)?;
        Ok(Arc::new(Prepared {
            node: Arc::clone(self),
            config,
        }))
    }
}

/// The node kinds this data plane runs, by kind.
#[derive(Default)]
pub struct NodeRegistry {
    kinds: BTreeMap<&'static str, Box<dyn Factory>>,
}

impl fmt::Debug for NodeRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeRegistry")
            .field("kinds", &self.kinds.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl NodeRegistry {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a kind; a later registration of the same kind replaces the earlier one.
    pub fn register<N: Node>(&mut self, node: N) -> &mut Self {
        self.kinds.insert(N::KIND, Box::new(Arc::new(node)));
        self
    }

    /// The kinds registered, sorted.
    #[must_use]
    pub fn kinds(&self) -> Vec<&'static str> {
        self.kinds.keys().copied().collect()
    }

    /// Reads a node's config for its kind.
    ///
    /// # Errors
    ///
    /// An unknown kind, or a config the kind refuses.
    pub fn prepare(&self, kind: &str, config: Value) -> Result<Arc<dyn PreparedNode>, String> {
        let factory = self.kinds.get(kind).ok_or_else(|| {
            format!(
                "unknown node kind `{kind}` (this data plane runs: {})",
                self.kinds().join(", ")
            )
        })?;
        factory.prepare(config)
    }
}

/// What the built-in kinds need from the process.
#[derive(Clone, Default)]
pub struct Services {
    pub tools: Arc<ToolRegistry>,
    /// LLM providers by name (`openai`); an `llm` node's `provider` picks one.
    pub llm: BTreeMap<String, Arc<dyn LlmProvider>>,
    /// For `a2a` nodes: a caller of the control plane's A2A endpoints.
    pub a2a: Option<Arc<A2aClient>>,
    /// For `memory_search` and `memory_write` nodes (and `llm` nodes' `memory` context).
    pub memory: Option<Arc<MemoryService>>,
    /// The model every `llm` node uses instead of its manifest's (`DP_LLM_MODEL`); none: the manifest's.
    pub llm_model: Option<String>,
}

impl fmt::Debug for Services {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Services")
            .field("tools", &self.tools)
            .field("llm", &self.llm.keys().collect::<Vec<_>>())
            .field("a2a", &self.a2a.is_some())
            .field("memory", &self.memory)
            .field("llm_model", &self.llm_model)
            .finish()
    }
}

/// Registers every built-in kind: the one list of them.
pub fn register_builtin_nodes(registry: &mut NodeRegistry, services: &Services) {
    registry
        .register(transform::Transform)
        .register(tool::ToolNode::new(Arc::clone(&services.tools)))
        .register(
            llm::LlmNode::new(services.llm.clone())
                .with_model(services.llm_model.clone())
                .with_memory(services.memory.clone()),
        )
        .register(approval::Approval)
        .register(a2a::A2aNode::new(services.a2a.clone()))
        .register(memory_search::MemorySearch::new(services.memory.clone()))
        .register(memory_write::MemoryWrite::new(services.memory.clone()));
}

/// A config text with each `${pointer}` (or a whole `$/pointer`) filled from the node's input; a value that is
/// not a string is written as JSON.
pub(crate) fn fill_text(text: &str, input: &Value) -> Result<String, String> {
    match Template::parse(&Value::String(text.to_owned())).and_then(|template| template.eval(input)) {
        Ok(Value::String(text)) => Ok(text),
        Ok(other) => Ok(other.to_string()),
        Err(error) => Err(error.to_string()),
    }
}

/// A registry with every built-in kind.
#[must_use]
pub fn builtin_registry(services: &Services) -> NodeRegistry {
    let mut registry = NodeRegistry::new();
    register_builtin_nodes(&mut registry, services);
    registry
}
