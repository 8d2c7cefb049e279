//! The agent manifest, typed.
//!
//! The JSON Schema of these types (derived, see [`crate::schema`]) is the structural contract; the
//! semantic rules that a schema cannot say live in [`crate::validate`].

use std::fmt;
use std::str::FromStr;

use protocol::Money;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::format::{
    AgentIdFormat, CpuFormat, DurationFormat, MemoryFormat, NameFormat, PriceFormat, ScopeFormat,
    SemverFormat,
};

/// An agent: what it is, the workflow it runs, the tools it may call, and what it costs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Reverse-DNS id, stable across versions: `com.aicloud.finops.billing-normalizer`.
    #[schemars(with = "AgentIdFormat")]
    pub id: String,
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
    /// Semantic version of this manifest.
    #[schemars(with = "SemverFormat")]
    pub version: semver::Version,
    #[schemars(length(min = 1, max = 4000))]
    pub description: String,
    #[schemars(with = "NameFormat")]
    pub category: String,
    #[serde(default)]
    #[schemars(with = "Vec<NameFormat>")]
    pub tags: Vec<String>,
    /// What the agent can do, for catalog search (`billing.normalize`).
    #[serde(default)]
    #[schemars(with = "Vec<NameFormat>")]
    pub capabilities: Vec<String>,
    /// JSON Schema a run's inputs must satisfy.
    #[serde(default = "any_object")]
    pub input_schema: Value,
    /// JSON Schema of what a run produces.
    #[serde(default = "any_object")]
    pub output_schema: Value,
    pub workflow: Workflow,
    #[serde(default)]
    pub tools: Vec<Tool>,
    #[serde(default)]
    pub memory: Memory,
    #[serde(default)]
    pub constraints: Vec<Constraint>,
    #[serde(default)]
    pub pricing: Pricing,
    #[serde(default)]
    pub runtime: Runtime,
    /// Skills advertised on the agent's A2A Agent Card.
    #[serde(default)]
    pub skills: Vec<Skill>,
}

fn any_object() -> Value {
    serde_json::json!({"type": "object"})
}

/// The workflow: a DAG of nodes joined by edges.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Workflow {
    pub nodes: Vec<Node>,
    #[serde(default)]
    pub edges: Vec<Edge>,
}

/// One step of a workflow; `kind` picks the node implementation, `config` is that kind's own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Node {
    #[schemars(with = "NameFormat")]
    pub id: String,
    /// A node kind the data plane knows (`llm`, `tool`, `transform`, … or a plugin's).
    #[schemars(length(min = 1, max = 64))]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub config: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    #[serde(default)]
    pub on_error: OnError,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Attempts in all, the first included.
    #[schemars(range(min = 1, max = 10))]
    pub max_attempts: u32,
    /// Wait before the second attempt; doubled for each one after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Duration>,
}

/// What a node's failure does to the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// The run fails.
    #[default]
    Fail,
    /// The run goes on; downstream nodes see the error as the node's output.
    Continue,
}

/// `from` runs before `to`; with `when`, `to` runs only if the condition holds on `from`'s output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Edge {
    #[schemars(with = "NameFormat")]
    pub from: String,
    #[schemars(with = "NameFormat")]
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
}

/// A tool the workflow may call, the permission scopes it needs, and how risky a call is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    #[schemars(with = "NameFormat")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Scopes an org must grant at install for calls to be allowed (`billing:read`).
    #[serde(default)]
    #[schemars(with = "Vec<ScopeFormat>")]
    pub scopes: Vec<String>,
    pub risk: Risk,
}

/// How much harm a tool call can do; remediation (changing a customer's systems) is `high` or above.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    Low,
    Medium,
    High,
    Critical,
}

/// A rule the platform enforces on every run of the agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Constraint {
    /// Calls to tools of `high` or `critical` risk wait for a human's approval.
    RequiresHumanApprovalForRemediation,
}

/// Memory the agent uses beyond its run: knowledge namespaces, retention and how much a context loads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Memory {
    /// Knowledge namespaces (level 3) searched for context, e.g. `cost_anomalies`.
    #[serde(default)]
    #[schemars(with = "Vec<NameFormat>")]
    pub knowledge: Vec<String>,
    #[serde(default)]
    pub ttl: MemoryTtl,
    /// Left out of the manifest's canonical form (and so of its digest) when nothing is set.
    #[serde(default, skip_serializing_if = "MemoryContext::is_default")]
    pub context: MemoryContext,
}

impl Memory {
    /// What a data plane applies of this section, sent with each task.
    #[must_use]
    pub fn applied(&self) -> protocol::AgentMemory {
        protocol::AgentMemory {
            task_ttl_secs: self.ttl.task.as_ref().map(|ttl| ttl.0.as_secs()),
            episode_ttl_secs: self.ttl.episode.as_ref().map(|ttl| ttl.0.as_secs()),
            task_top_k: self.context.tasks,
            knowledge_top_k: self.context.knowledge,
            knowledge_min_score: self.context.min_score,
            episode_top_k: self.context.episodes,
            budget_tokens: self.context.budget_tokens,
        }
    }
}

/// How much a memory context loads; each absent field takes the platform default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemoryContext {
    /// Past task summaries (level 2) per context: 1 to 50 (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 50))]
    pub tasks: Option<u32>,
    /// Knowledge hits (level 3) per namespace: 1 to 50 (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 50))]
    pub knowledge: Option<u32>,
    /// The least cosine similarity a knowledge hit needs: 0 to 1 (default 0.7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1))]
    pub min_score: Option<f64>,
    /// Past episodes (level 4) per context: 1 to 20 (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 20))]
    pub episodes: Option<u32>,
    /// The context's size in o200k tokens: 100 to 100,000 (default: what the `llm` node's `memory` option
    /// says, else 2,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 100, max = 100_000))]
    pub budget_tokens: Option<u32>,
}

impl MemoryContext {
    /// Whether nothing is set.
    #[must_use]
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// Retention overrides; absent means the platform default (task summaries 30 days, episodes 90 days).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemoryTtl {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub episode: Option<Duration>,
}

/// What a run costs; the parts add up, and none at all means the agent is free.
///
/// The seeds' normalizer: `per_run: "0.50"`, `per_unit: {unit: record, price: "0.001"}`,
/// `per_cpu_hour: "0.50"` — 15,000 records and 2 CPU-hours cost $16.50.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pricing {
    /// Base price of every run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<PriceFormat>")]
    pub per_run: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_unit: Option<UnitPrice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<PriceFormat>")]
    pub per_cpu_hour: Option<Money>,
    /// Monthly subscription fee, charged at the start of each period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<PriceFormat>")]
    pub monthly: Option<Money>,
}

impl Pricing {
    #[must_use]
    pub fn is_free(&self) -> bool {
        *self == Self::default()
    }
}

/// A price per counted unit (`record`, `page`, `token`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitPrice {
    #[schemars(with = "NameFormat")]
    pub unit: String,
    #[schemars(with = "PriceFormat")]
    pub price: Money,
}

/// Where and with what resources the data plane runs the agent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Runtime {
    /// Container image; absent means the stock `dp-runtime` image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    pub image: Option<String>,
    #[serde(default)]
    pub resources: Resources,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    #[serde(default = "default_cpu")]
    #[schemars(with = "CpuFormat")]
    pub cpu: String,
    #[serde(default = "default_memory")]
    #[schemars(with = "MemoryFormat")]
    pub memory: String,
}

impl Default for Resources {
    fn default() -> Self {
        Self {
            cpu: default_cpu(),
            memory: default_memory(),
        }
    }
}

fn default_cpu() -> String {
    "500m".to_owned()
}

fn default_memory() -> String {
    "512Mi".to_owned()
}

/// A skill on the agent's A2A Agent Card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Skill {
    #[schemars(with = "NameFormat")]
    pub id: String,
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub examples: Vec<String>,
}

/// A length of time, written for people: `30s`, `5m`, `30days`.
///
/// It is written back in its largest exact unit (`90d`, `36h`, `1500ms`), so every length has one
/// spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub std::time::Duration);

impl FromStr for Duration {
    type Err = humantime::DurationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        humantime::parse_duration(text).map(Self)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (seconds, nanos) = (self.0.as_secs(), self.0.subsec_nanos());
        if nanos != 0 {
            return if nanos % 1_000_000 == 0 {
                write!(f, "{}ms", self.0.as_millis())
            } else {
                write!(f, "{}ns", self.0.as_nanos())
            };
        }
        match seconds {
            0 => f.write_str("0s"),
            s if s % 86_400 == 0 => write!(f, "{}d", s / 86_400),
            s if s % 3_600 == 0 => write!(f, "{}h", s / 3_600),
            s if s % 60 == 0 => write!(f, "{}m", s / 60),
            s => write!(f, "{s}s"),
        }
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Duration {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        DurationFormat::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        DurationFormat::json_schema(generator)
    }
}

impl Manifest {
    /// Whether a call to `tool` must wait for a human, by the manifest's constraints.
    #[must_use]
    pub fn tool_needs_approval(&self, tool: &Tool) -> bool {
        self.constraints.iter().any(|constraint| match constraint {
            Constraint::RequiresHumanApprovalForRemediation => tool.risk >= Risk::High,
        })
    }

    /// The highest risk of any tool, for catalog filters; `low` for an agent without tools.
    #[must_use]
    pub fn risk(&self) -> Risk {
        self.tools.iter().map(|tool| tool.risk).max().unwrap_or(Risk::Low)
    }

    #[must_use]
    pub fn tool(&self, name: &str) -> Option<&Tool> {
        self.tools.iter().find(|tool| tool.name == name)
    }

    /// What a data plane must be able to run for this workflow, in the terms a data plane advertises its
    /// capabilities in: each node kind, and `tool:<name>` for each tool a node calls (`tool`, or `tools`
    /// an LLM node may call). Sorted, each once.
    #[must_use]
    pub fn needs(&self) -> std::collections::BTreeSet<String> {
        let mut needs = std::collections::BTreeSet::new();
        for node in &self.workflow.nodes {
            needs.insert(node.kind.clone());
            needs.extend(
                tools_called(&node.config).map(|(_, tool)| protocol::dataplane::tool_capability(tool)),
            );
        }
        needs
    }
}

/// The tools a node's config calls — `tool: name`, and each of `tools: [names]` — each with its index in
/// `tools` (none for `tool`).
pub(crate) fn tools_called(config: &Map<String, Value>) -> impl Iterator<Item = (Option<usize>, &str)> {
    let single = config
        .get("tool")
        .and_then(Value::as_str)
        .map(|name| (None, name));
    let listed = config
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(index, name)| name.as_str().map(|name| (Some(index), name)));
    single.into_iter().chain(listed)
}
