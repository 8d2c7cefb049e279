//! `a2a`: calls another installed agent through the control plane, as a child run it waits for.
//!
//! Config: `deployment` (the target deployment's id, or `$/pointer` into the node's input), `agent` (its
//! name, for the record), optional `payload_ref` (`$/pointer` into the input) and `send` (a pointer into
//! the input: the part to send; default the whole input). What is sent is the message's data part: the
//! child run's inputs. The message id is the run's id and the node's, so
//! a retried or resumed node finds the same child run rather than starting another. The output carries the
//! hand-over's fields (`task_id`, `from`, `to`, `payload_ref`, `status`) and the child run's `outputs`. The
//! message names the calling run (`parentRunId` metadata), so the control plane records the child as its.
//! A child that waits for a human (an approval) keeps the node waiting, within the node's `timeout`. Without a
//! control plane and an A2A credential (`run-local`, or `serve` without `--a2a-token`) the node fails when it
//! is reached; a workflow whose `a2a` node a condition skips runs without them.

use std::sync::Arc;

use protocol::a2a::{PartContent, TaskState};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Node, NodeContext, NodeError, NodeOutcome};
use crate::client::a2a::A2aClient;
use crate::executor::expr::Template;

#[derive(Debug)]
pub struct A2aNode {
    client: Option<Arc<A2aClient>>,
}

impl A2aNode {
    #[must_use]
    pub fn new(client: Option<Arc<A2aClient>>) -> Self {
        Self { client }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct A2aConfig {
    pub deployment: String,
    pub agent: String,
    pub skill: Option<String>,
    pub payload_ref: Option<String>,
    /// A pointer into the input: what to send (default: the whole input).
    pub send: Option<String>,
}

fn resolve(text: &str, input: &Value) -> Result<Value, String> {
    Template::parse(&Value::String(text.to_owned()))
        .and_then(|template| template.eval(input))
        .map_err(|error| error.to_string())
}

fn status_name(state: TaskState) -> &'static str {
    match state {
        TaskState::Submitted => "submitted",
        TaskState::Working => "working",
        TaskState::Completed => "completed",
        TaskState::Failed => "failed",
        TaskState::Canceled => "canceled",
        TaskState::InputRequired => "input_required",
        TaskState::Rejected => "rejected",
        TaskState::AuthRequired => "auth_required",
        TaskState::Unspecified => "unknown",
    }
}

impl Node for A2aNode {
    const KIND: &'static str = "a2a";
    type Config = A2aConfig;

    fn check(&self, config: &A2aConfig) -> Result<(), String> {
        if let Some(pointer) = &config.send
            && !pointer.is_empty()
            && !pointer.starts_with('/')
        {
            return Err(format!("send: `{pointer}` is not a JSON pointer"));
        }
        for text in std::iter::once(&config.deployment).chain(config.payload_ref.as_ref()) {
            Template::parse(&Value::String(text.clone())).map_err(|error| error.to_string())?;
        }
        Ok(())
    }

    async fn run(
        &self,
        config: &A2aConfig,
        input: Value,
        ctx: &NodeContext,
    ) -> Result<NodeOutcome, NodeError> {
        let client = self.client.as_ref().ok_or_else(|| {
            NodeError::fatal(
                "a2a nodes need a control plane and an A2A credential (--a2a-token, DP_A2A_TOKEN)",
            )
        })?;
        let deployment = match resolve(&config.deployment, &input).map_err(NodeError::fatal)? {
            Value::String(id) => id,
            other => {
                return Err(NodeError::fatal(format!(
                    "deployment: {other} is not a deployment id"
                )));
            }
        };
        let payload_ref = config
            .payload_ref
            .as_deref()
            .map(|text| resolve(text, &input))
            .transpose()
            .map_err(NodeError::fatal)?;
        let message = match &config.send {
            Some(pointer) => input
                .pointer(pointer)
                .cloned()
                .ok_or_else(|| NodeError::fatal(format!("send: nothing at `{pointer}` in the input")))?,
            None => input,
        };
        let message_id = match ctx.run.run_id {
            Some(run) => format!("{run}:{}", ctx.node),
            None => format!("{}:{}", uuid::Uuid::now_v7(), ctx.node),
        };
        let parent_run = ctx.run.run_id.map(|run| run.to_string());
        let task = client
            .send_and_wait(&deployment, &message_id, parent_run.as_deref(), message)
            .await
            .map_err(|error| NodeError {
                message: format!("calling `{}`: {}", config.agent, error.message),
                retryable: error.retryable,
            })?;
        let reason = || {
            task.status
                .message
                .as_ref()
                .and_then(|message| {
                    message.parts.iter().find_map(|part| match &part.content {
                        PartContent::Text(text) => Some(text.clone()),
                        _ => None,
                    })
                })
                .unwrap_or_else(|| "no reason given".to_owned())
        };
        match task.status.state {
            TaskState::Completed => {}
            TaskState::InputRequired => {
                return Err(NodeError::fatal(format!(
                    "`{}` waits for a human's input ({}); its task is {}",
                    config.agent,
                    reason(),
                    task.id
                )));
            }
            state => {
                return Err(NodeError::fatal(format!(
                    "`{}` ended {}: {}",
                    config.agent,
                    status_name(state),
                    reason()
                )));
            }
        }
        let outputs = task
            .artifacts
            .iter()
            .flat_map(|artifact| &artifact.parts)
            .find_map(|part| match &part.content {
                PartContent::Data(data) => Some(data.clone()),
                _ => None,
            })
            .unwrap_or(Value::Null);
        Ok(NodeOutcome::Done(json!({
            "task_id": task.id,
            "from": ctx.run.deployment_id.map(|id| id.to_string()),
            "to": config.agent,
            "payload_ref": payload_ref,
            "status": status_name(task.status.state),
            "outputs": outputs,
        })))
    }
}
