//! Calling another installed agent through the control plane's A2A endpoint,
//! `POST {control plane}/a2a/{deployment}` (JSON-RPC 2.0, A2A 1.0).
//!
//! The call is made as an org member that may start runs of the target deployment (an org API key with
//! the operator role): a data plane's own credential only reaches its deployment's tasks.

use std::time::Duration;

use protocol::a2a::{Message, Part, Role, SendMessageRequest, SendMessageResponse, Task};
use serde::Serialize;
use serde_json::{Value, json};

/// An A2A caller of the control plane.
#[derive(Clone, Debug)]
pub struct A2aClient {
    base: String,
    token: String,
    http: reqwest::Client,
}

/// Why an A2A call failed, and whether trying again may help.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct A2aError {
    pub message: String,
    pub retryable: bool,
}

impl A2aClient {
    #[must_use]
    pub fn new(base: &str, token: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    async fn call<T: Serialize>(
        &self,
        deployment: &str,
        method: &str,
        params: &T,
    ) -> Result<Value, A2aError> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let mut request = self
            .http
            .post(format!("{}/a2a/{deployment}", self.base))
            .bearer_auth(&self.token)
            .header("A2A-Version", "1.0");
        // The child run joins this node's trace.
        for (name, value) in crate::telemetry::trace_headers() {
            request = request.header(name, value);
        }
        let answer = request
            .json(&body)
            .timeout(Duration::from_secs(330))
            .send()
            .await
            .map_err(|error| A2aError {
                message: format!("the control plane is unreachable: {error}"),
                retryable: true,
            })?;
        let status = answer.status();
        let value: Value = answer.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let detail = value["detail"].as_str().unwrap_or("no detail").to_owned();
            return Err(A2aError {
                message: format!("the control plane answered {status}: {detail}"),
                retryable: status.is_server_error() || status.as_u16() == 429,
            });
        }
        if let Some(error) = value.get("error").filter(|error| !error.is_null()) {
            return Err(A2aError {
                message: format!(
                    "the agent answered error {}: {}",
                    error["code"],
                    error["message"].as_str().unwrap_or_default()
                ),
                retryable: false,
            });
        }
        Ok(value.get("result").cloned().unwrap_or(Value::Null))
    }

    /// Sends `inputs` as a data part and waits for the task the message starts to end — also while it
    /// waits for a human's input (an approval), looking less often then, up to every 15 seconds; the caller
    /// bounds the wait. The same `message_id` twice is the same task, so a retried call does not start a
    /// second run. `parent_run`, the run calling, goes in the message's `parentRunId` metadata: the control
    /// plane records the new run as its child (a parent whose child remediated has remediated too).
    ///
    /// # Errors
    ///
    /// [`A2aError`] when the call failed, or the task's answer is not understood.
    pub async fn send_and_wait(
        &self,
        deployment: &str,
        message_id: &str,
        parent_run: Option<&str>,
        inputs: Value,
    ) -> Result<Task, A2aError> {
        let request = SendMessageRequest {
            message: Message {
                message_id: message_id.to_owned(),
                context_id: None,
                task_id: None,
                role: Role::User,
                parts: vec![Part::data(inputs)],
                metadata: parent_run
                    .map(|run| std::iter::once(("parentRunId".to_owned(), json!(run))).collect()),
                reference_task_ids: Vec::new(),
            },
            configuration: None,
            metadata: None,
            tenant: None,
        };
        let answer = self.call(deployment, "SendMessage", &request).await?;
        let mut task = match serde_json::from_value::<SendMessageResponse>(answer) {
            Ok(SendMessageResponse::Task(task)) => task,
            Ok(SendMessageResponse::Message(_)) | Err(_) => {
                return Err(A2aError {
                    message: "the agent did not answer with a task".to_owned(),
                    retryable: false,
                });
            }
        };
        let mut wait = Duration::from_secs(1);
        while !task.status.state.is_terminal() {
            tokio::time::sleep(wait).await;
            if task.status.state == protocol::a2a::TaskState::InputRequired {
                wait = (wait * 2).min(Duration::from_secs(15));
            }
            let answer = self.call(deployment, "GetTask", &json!({"id": task.id})).await?;
            task = serde_json::from_value(answer).map_err(|error| A2aError {
                message: format!("the agent's task is not understood: {error}"),
                retryable: false,
            })?;
        }
        Ok(task)
    }
}
