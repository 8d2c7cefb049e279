//! A data plane suspending a run until a human decides: the checkpoint to resume from and what needs
//! approval.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::task::Checkpoint;

/// Sent to `POST /api/v1/dp/tasks/{task}/suspend`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Suspension {
    /// Where the run resumes once approved.
    pub checkpoint: Checkpoint,
    pub approval: ApprovalRequest,
}

/// What a node wants a human to approve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApprovalRequest {
    /// The node that asks.
    pub node: String,
    /// What would be done (a tool call with its arguments, a remediation).
    pub action: Value,
    /// What the run found it would change (costs, resources affected).
    #[serde(default)]
    pub impact: Value,
    /// Why it needs a human, for the approver.
    #[serde(default)]
    pub reason: Option<String>,
}
