//! `approval`: the run waits for a human. The first time the node runs it suspends the run with what
//! needs deciding; when a human approves, the control plane queues the run again and the node, now
//! approved, passes its input on.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApprovalRequest, Node, NodeContext, NodeError, NodeOutcome};

#[derive(Clone, Copy, Debug, Default)]
pub struct Approval;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalConfig {
    /// What the reviewer is asked, shown with the node's input as the action.
    pub reason: String,
    /// What approving changes, for the reviewer.
    #[serde(default)]
    pub impact: Value,
}

impl Node for Approval {
    const KIND: &'static str = "approval";
    type Config = ApprovalConfig;

    fn check(&self, config: &ApprovalConfig) -> Result<(), String> {
        if config.reason.trim().is_empty() {
            return Err("`reason` must say what the reviewer decides".to_owned());
        }
        Ok(())
    }

    async fn run(
        &self,
        config: &ApprovalConfig,
        input: Value,
        ctx: &NodeContext,
    ) -> Result<NodeOutcome, NodeError> {
        if ctx.approved() {
            return Ok(NodeOutcome::Done(json!({"approved": true, "input": input})));
        }
        Ok(NodeOutcome::Suspend(ApprovalRequest {
            action: input,
            impact: config.impact.clone(),
            reason: config.reason.clone(),
        }))
    }
}
