//! `memory_write`: remember a text in the run's org (and agent) for later runs to find.
//!
//! Config: `text` (with `${pointer}` filled from the node's input; a value that is not a string is kept as
//! JSON), `level` (`knowledge`, the default, kept until deleted; `task`, a task summary kept 30 days;
//! `episode`, kept 90 days), `namespace` (required for knowledge, refused otherwise) and `metadata` (a
//! template like `input`, kept beside the text and returned with each hit). The output is `{"id", "level",
//! "namespace"}`. An empty text, or one over [`MAX_TEXT_BYTES`], fails the node: nothing is written.

use std::sync::Arc;

use memory::Level;
use serde::Deserialize;
use serde_json::{Value, json};

use super::memory_search::level_named;
use super::{Node, NodeContext, NodeError, NodeOutcome, fill_text};
use crate::executor::expr::Template;
use crate::memory_service::{MemoryService, node_error, scope_of};

/// The longest text one write keeps: what the embedder reads at most (`memory::MAX_INPUT_BYTES`, 64 KiB).
/// A longer text would be remembered by a vector of only its beginning.
pub const MAX_TEXT_BYTES: usize = memory::MAX_INPUT_BYTES;

/// The levels a workflow writes; session state is the run's own and preferences belong to the control plane.
const WRITABLE: [Level; 3] = [Level::Task, Level::Knowledge, Level::Episode];

#[derive(Clone, Debug)]
pub struct MemoryWrite {
    memory: Option<Arc<MemoryService>>,
}

impl MemoryWrite {
    #[must_use]
    pub fn new(memory: Option<Arc<MemoryService>>) -> Self {
        Self { memory }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryWriteConfig {
    pub text: String,
    #[serde(default = "knowledge")]
    pub level: String,
    pub namespace: Option<String>,
    #[serde(default)]
    pub metadata: Value,
}

fn knowledge() -> String {
    Level::Knowledge.name().to_owned()
}

impl MemoryWriteConfig {
    /// The level and, for knowledge, the namespace.
    fn target(&self) -> Result<(Level, Option<&str>), String> {
        let level = level_named(&self.level, &WRITABLE)?;
        match (level, self.namespace.as_deref()) {
            (Level::Knowledge, Some(namespace)) => Ok((level, Some(namespace))),
            (Level::Knowledge, None) => Err("the knowledge level needs a `namespace`".to_owned()),
            (_, Some(_)) => Err("`namespace` applies only to the knowledge level".to_owned()),
            (_, None) => Ok((level, None)),
        }
    }
}

impl Node for MemoryWrite {
    const KIND: &'static str = "memory_write";
    type Config = MemoryWriteConfig;

    fn check(&self, config: &MemoryWriteConfig) -> Result<(), String> {
        if self.memory.is_none() {
            return Err("memory is not configured on this data plane".to_owned());
        }
        config.target()?;
        Template::parse(&Value::String(config.text.clone())).map_err(|error| format!("text: {error}"))?;
        Template::parse(&config.metadata).map_err(|error| format!("metadata: {error}"))?;
        Ok(())
    }

    async fn run(
        &self,
        config: &MemoryWriteConfig,
        input: Value,
        ctx: &NodeContext,
    ) -> Result<NodeOutcome, NodeError> {
        let service = self
            .memory
            .as_ref()
            .ok_or_else(|| NodeError::fatal("memory is not configured on this data plane"))?;
        let (level, namespace) = config.target().map_err(NodeError::fatal)?;
        let text =
            fill_text(&config.text, &input).map_err(|error| NodeError::fatal(format!("text: {error}")))?;
        if text.trim().is_empty() {
            return Err(NodeError::fatal(
                "the text is empty: there is nothing to remember",
            ));
        }
        if text.len() > MAX_TEXT_BYTES {
            return Err(NodeError::fatal(format!(
                "the text is {} bytes; memory keeps texts of at most {MAX_TEXT_BYTES} bytes \
                 (summarize it, or write its parts separately)",
                text.len()
            )));
        }
        let metadata = Template::parse(&config.metadata)
            .and_then(|template| template.eval(&input))
            .map_err(|error| NodeError::fatal(format!("metadata: {error}")))?;
        let scope = scope_of(ctx, namespace)?;
        let memory = service.get().await.map_err(|error| node_error(&error))?;
        let (written, spent) = memory::cpu::spent_by(async {
            match (level, namespace) {
                (Level::Knowledge, Some(namespace)) => {
                    memory.write_knowledge(&scope, namespace, &text, metadata).await
                }
                (Level::Episode, _) => memory.write_episode(&scope, &text, metadata).await,
                _ => memory.write_task_summary(&scope, &text, metadata).await,
            }
        })
        .await;
        ctx.cpu(spent);
        let id = written.map_err(|error| node_error(&error))?;
        ctx.count("memory_writes", 1);
        Ok(NodeOutcome::Done(json!({
            "id": id,
            "level": level.name(),
            "namespace": namespace,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(value: Value) -> Result<(Level, Option<String>), String> {
        let config: MemoryWriteConfig = serde_json::from_value(value).map_err(|error| error.to_string())?;
        config
            .target()
            .map(|(level, namespace)| (level, namespace.map(str::to_owned)))
    }

    #[test]
    fn a_write_names_a_writable_level_and_a_namespace_only_for_knowledge() {
        assert_eq!(
            target(json!({"text": "t", "namespace": "cost_anomalies"})),
            Ok((Level::Knowledge, Some("cost_anomalies".to_owned())))
        );
        assert_eq!(
            target(json!({"text": "t", "level": "episode"})),
            Ok((Level::Episode, None))
        );
        assert_eq!(
            target(json!({"text": "t", "level": "session"})),
            Err("unknown level `session` (one of task, knowledge, episode)".to_owned())
        );
        assert_eq!(
            target(json!({"text": "t"})),
            Err("the knowledge level needs a `namespace`".to_owned())
        );
        assert_eq!(
            target(json!({"text": "t", "level": "task", "namespace": "x"})),
            Err("`namespace` applies only to the knowledge level".to_owned())
        );
    }
}
