//! What a data plane receives when it claims a task.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::{DeploymentId, OrgId, RunId, TaskId};
use crate::trace::TraceContext;

/// One claimed unit of work: everything a data plane needs to run (or resume) a workflow.
///
/// The envelope is self-contained so a data plane never reads control-plane state mid-run; the
/// `manifest_digest` lets it cache anything it derives from the manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskEnvelope {
    pub task_id: TaskId,
    pub run_id: RunId,
    pub deployment_id: DeploymentId,
    pub org_id: OrgId,
    pub agent: AgentRef,
    /// 1 for the first delivery; each lost lease adds one.
    pub attempt: u32,
    pub max_attempts: u32,
    pub lease: Lease,
    /// The manifest's `workflow` section (nodes and edges), as published.
    pub workflow: Value,
    /// The run's inputs, already checked against the manifest's input schema.
    pub inputs: Value,
    /// Permission scopes the org granted at install; tool calls outside them are refused.
    #[serde(default)]
    pub granted_permissions: Vec<String>,
    /// Where to resume from; absent on a first delivery.
    pub checkpoint: Option<Checkpoint>,
    pub trace: Option<TraceContext>,
    /// Version of the org's preferences (memory level 5) the data plane should have cached.
    pub preferences_version: u64,
    /// What the manifest's `memory` section says about retention and context sizes; absent when it says
    /// nothing (the data plane's defaults apply).
    #[serde(default, skip_serializing_if = "AgentMemory::is_default")]
    pub memory: AgentMemory,
}

/// The manifest's `memory` section as a data plane applies it. Each absent field takes the data plane's
/// default (task summaries kept 30 days, episodes 90; a context of 5 task summaries, 10 knowledge hits per
/// namespace at cosine similarity 0.7 or more, 3 episodes, in the 2,000 tokens an `llm` node's context
/// takes unless the node says otherwise).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentMemory {
    /// Seconds a task summary (level 2) is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_ttl_secs: Option<u64>,
    /// Seconds an episode (level 4) is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub episode_ttl_secs: Option<u64>,
    /// Past task summaries (level 2) per context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_top_k: Option<u32>,
    /// Knowledge hits (level 3) per namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knowledge_top_k: Option<u32>,
    /// The least cosine similarity a knowledge hit needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knowledge_min_score: Option<f64>,
    /// Past episodes (level 4) per context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub episode_top_k: Option<u32>,
    /// The context's size in tokens, when the node asking for it names none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_tokens: Option<u32>,
}

impl AgentMemory {
    /// Whether nothing is set.
    #[must_use]
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// The agent version a task runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentRef {
    /// Reverse-DNS agent id, e.g. `com.aicloud.finops.billing-normalizer`.
    pub id: String,
    pub version: String,
    /// `sha256:<hex>` over the manifest's canonical JSON.
    pub manifest_digest: String,
}

/// A claim on a task, valid until `expires_at` unless a heartbeat extends it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Lease {
    pub expires_at: DateTime<Utc>,
}

/// The durable state of a run after its last finished node.
///
/// A task delivered with a checkpoint skips the nodes in `nodes` and resumes with their outputs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Checkpoint {
    /// Sequence number of the event that carried this checkpoint.
    pub seq: u64,
    /// Finished nodes by node id.
    #[serde(default)]
    pub nodes: BTreeMap<String, NodeOutput>,
    /// The run's session state (memory level 1).
    #[serde(default)]
    pub state: Value,
    /// What the finished nodes consumed (units, tokens), so a run resumed from here is charged for them too.
    #[serde(default, skip_serializing_if = "is_nothing")]
    pub usage: crate::Usage,
}

fn is_nothing(usage: &crate::Usage) -> bool {
    *usage == crate::Usage::default()
}

/// What a finished node produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeOutput {
    pub output: Value,
    pub attempt: u32,
    pub finished_at: DateTime<Utc>,
}

/// The life of a run: `queued → running → (awaiting_approval → running)* → succeeded | failed | cancelled`,
/// or `remediated` when an approved remediation action ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Running,
    AwaitingApproval,
    Succeeded,
    Failed,
    Cancelled,
    Remediated,
    /// A state this build does not know, sent by a newer peer.
    #[serde(other)]
    Unknown,
}

impl RunStatus {
    /// Whether the run can change no more.
    #[must_use]
    pub fn is_terminal(self) -> bool {
        match self {
            Self::Succeeded | Self::Failed | Self::Cancelled | Self::Remediated => true,
            Self::Queued | Self::Running | Self::AwaitingApproval | Self::Unknown => false,
        }
    }
}
