//! How a data plane ends a task: a completion or a failure, each with the usage billing needs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The task finished; `outputs` match the manifest's output schema.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Completion {
    pub outputs: Value,
    #[serde(default)]
    pub usage: Usage,
}

/// The task could not finish.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Failure {
    /// Why, for a human: the node, the field, the cause.
    pub reason: String,
    /// The node that failed, when one did.
    pub node: Option<String>,
    /// Whether another attempt may succeed (a lost dependency) or not (bad inputs).
    pub retryable: bool,
    #[serde(default)]
    pub usage: Usage,
}

/// What a run consumed, the basis of its charge.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct Usage {
    /// CPU time, in milliseconds (billed per CPU-hour).
    pub cpu_ms: u64,
    /// Wall-clock time, in milliseconds.
    pub wall_ms: u64,
    /// Counted units by name (`record`, `page`, …), billed per unit.
    pub units: BTreeMap<String, u64>,
    pub tokens: TokenUsage,
}

/// LLM tokens, as the provider reported them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct TokenUsage {
    pub prompt: u64,
    pub completion: u64,
}
