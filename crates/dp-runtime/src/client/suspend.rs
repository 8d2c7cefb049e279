//! Suspending a task for a human's approval: `POST /api/v1/dp/tasks/{task}/suspend`.
//!
//! Kept apart because the control plane's side of this call is new; its path and body live only here.
//! The body:
//!
//! ```json
//! {"checkpoint": {"seq": 7, "nodes": {...}, "state": {"awaiting_approval": {"node": "fix"}}},
//!  "approval": {"node": "fix", "action": {...}, "impact": {...}, "reason": "..."}}
//! ```
//!
//! The checkpoint's `state.awaiting_approval.node` names the waiting node; when the control plane queues
//! the run again after an approval, the task it delivers carries this checkpoint, and that node then runs
//! as approved (a rejection ends the run on the control plane, so no task comes back).

use protocol::{Checkpoint, TaskId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The body of a suspend call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Suspension {
    pub checkpoint: Checkpoint,
    pub approval: SuspensionApproval,
}

/// What a human must decide.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuspensionApproval {
    pub node: String,
    pub action: Value,
    pub impact: Value,
    pub reason: String,
}

pub(super) fn path(task: TaskId) -> String {
    format!("/api/v1/dp/tasks/{task}/suspend")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    #[test]
    fn the_body_is_checkpoint_and_approval() {
        let body = Suspension {
            checkpoint: Checkpoint {
                seq: 3,
                nodes: BTreeMap::new(),
                state: json!({"awaiting_approval": {"node": "fix"}}),
                usage: protocol::Usage::default(),
            },
            approval: SuspensionApproval {
                node: "fix".into(),
                action: json!({"tool": "cloud.remediate"}),
                impact: json!({"risk": "high"}),
                reason: "needs a human".into(),
            },
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({
                "checkpoint": {"seq": 3, "nodes": {}, "state": {"awaiting_approval": {"node": "fix"}}},
                "approval": {"node": "fix", "action": {"tool": "cloud.remediate"}, "impact": {"risk": "high"}, "reason": "needs a human"}
            })
        );
    }
}
