//! `tool`: calls a named tool from the data plane's [`ToolRegistry`] with the node's input.
//!
//! Before anything runs, the call is refused unless the org granted every scope the tool needs (the task
//! envelope's `granted_permissions`); a tool of `high` or `critical` risk suspends the run for a human's
//! approval and runs once approved.

use std::sync::Arc;

use manifest::Risk;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApprovalRequest, Node, NodeContext, NodeError, NodeOutcome};
use crate::tools::ToolRegistry;

#[derive(Clone, Debug)]
pub struct ToolNode {
    tools: Arc<ToolRegistry>,
}

impl ToolNode {
    #[must_use]
    pub fn new(tools: Arc<ToolRegistry>) -> Self {
        Self { tools }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolConfig {
    pub tool: String,
}

impl Node for ToolNode {
    const KIND: &'static str = "tool";
    type Config = ToolConfig;

    fn check(&self, config: &ToolConfig) -> Result<(), String> {
        if self.tools.get(&config.tool).is_none() {
            return Err(format!(
                "unknown tool `{}` (this data plane offers: {})",
                config.tool,
                self.tools.names().join(", ")
            ));
        }
        Ok(())
    }

    async fn run(
        &self,
        config: &ToolConfig,
        input: Value,
        ctx: &NodeContext,
    ) -> Result<NodeOutcome, NodeError> {
        let tool = self
            .tools
            .get(&config.tool)
            .ok_or_else(|| NodeError::fatal(format!("unknown tool `{}`", config.tool)))?;
        let missing: Vec<&str> = tool
            .scopes()
            .iter()
            .copied()
            .filter(|scope| !ctx.run.granted_permissions.iter().any(|granted| granted == scope))
            .collect();
        if !missing.is_empty() {
            return Err(NodeError::fatal(format!(
                "tool `{}` needs the permission {} which the org did not grant at install; nothing was run",
                config.tool,
                missing
                    .iter()
                    .map(|scope| format!("`{scope}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if tool.risk() >= Risk::High && !ctx.approved() {
            return Ok(NodeOutcome::Suspend(ApprovalRequest {
                action: json!({"tool": config.tool, "input": input}),
                impact: json!({"risk": tool.risk(), "scopes": tool.scopes()}),
                reason: format!(
                    "tool `{}` is of {} risk and needs a human's approval",
                    config.tool,
                    risk_name(tool.risk())
                ),
            }));
        }
        tool.call(input, ctx).await.map(NodeOutcome::Done)
    }
}

fn risk_name(risk: Risk) -> &'static str {
    match risk {
        Risk::Low => "low",
        Risk::Medium => "medium",
        Risk::High => "high",
        Risk::Critical => "critical",
    }
}
