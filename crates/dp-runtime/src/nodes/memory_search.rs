//! `memory_search`: what the run's org and agent remember that is nearest a query, by meaning.
//!
//! Config: `query` (with `${pointer}` filled from the node's input, see [`crate::executor::expr`]), `level`
//! (one of `task`, `knowledge`, `episode`, or a list of them; default `knowledge`), `namespace` (knowledge
//! only; none: every namespace of the org), `top_k` (1 to 100, default 5) and `min_score` (cosine
//! similarity, -1 to 1). The output is `{"query", "count", "hits": [{"id", "text", "score", "level",
//! "namespace", "metadata", "created_at"}]}`, best first. The org and agent are the run's: a node never
//! reads another org's memory. An empty query fails the node; nothing found is not a failure.

use std::sync::Arc;

use memory::{Hit, Level, Recall};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Node, NodeContext, NodeError, NodeOutcome, fill_text};
use crate::executor::expr::Template;
use crate::memory_service::{MemoryService, node_error, scope_of};

/// The most hits one search returns.
pub const MAX_TOP_K: usize = 100;

#[derive(Clone, Debug)]
pub struct MemorySearch {
    memory: Option<Arc<MemoryService>>,
}

impl MemorySearch {
    #[must_use]
    pub fn new(memory: Option<Arc<MemoryService>>) -> Self {
        Self { memory }
    }
}

/// One level's name or several.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum LevelNames {
    One(String),
    Many(Vec<String>),
}

impl Default for LevelNames {
    fn default() -> Self {
        Self::One(Level::Knowledge.name().to_owned())
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemorySearchConfig {
    pub query: String,
    #[serde(default)]
    pub level: LevelNames,
    pub namespace: Option<String>,
    #[serde(default = "default_top_k")]
    pub top_k: usize,
    pub min_score: Option<f32>,
}

fn default_top_k() -> usize {
    5
}

/// A level a node may name: one searched by meaning (`searchable`) or one written to.
pub(crate) fn level_named(name: &str, allowed: &[Level]) -> Result<Level, String> {
    Level::from_name(name)
        .filter(|level| allowed.contains(level))
        .ok_or_else(|| {
            format!(
                "unknown level `{name}` (one of {})",
                allowed
                    .iter()
                    .map(|level| level.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

/// The levels searched by meaning; session state is the run's own and preferences are read by key.
const SEARCHABLE: [Level; 3] = [Level::Task, Level::Knowledge, Level::Episode];

impl MemorySearchConfig {
    fn levels(&self) -> Result<Vec<Level>, String> {
        let names = match &self.level {
            LevelNames::One(name) => std::slice::from_ref(name),
            LevelNames::Many(names) => names.as_slice(),
        };
        if names.is_empty() {
            return Err("`level` lists no level".to_owned());
        }
        let mut levels = Vec::with_capacity(names.len());
        for name in names {
            let level = level_named(name, &SEARCHABLE)?;
            if !levels.contains(&level) {
                levels.push(level);
            }
        }
        Ok(levels)
    }
}

fn hit_json(hit: Hit) -> Value {
    json!({
        "id": hit.point.id,
        "text": hit.point.text,
        "score": hit.score,
        "level": hit.point.level.name(),
        "namespace": hit.point.namespace,
        "metadata": hit.point.data,
        "created_at": hit.point.created_at,
    })
}

impl Node for MemorySearch {
    const KIND: &'static str = "memory_search";
    type Config = MemorySearchConfig;

    fn check(&self, config: &MemorySearchConfig) -> Result<(), String> {
        if self.memory.is_none() {
            return Err("memory is not configured on this data plane".to_owned());
        }
        let levels = config.levels()?;
        if config.namespace.is_some() && !levels.contains(&Level::Knowledge) {
            return Err("`namespace` applies only to the knowledge level".to_owned());
        }
        if !(1..=MAX_TOP_K).contains(&config.top_k) {
            return Err(format!("`top_k` must be 1 to {MAX_TOP_K}, not {}", config.top_k));
        }
        if let Some(score) = config.min_score
            && !(-1.0..=1.0).contains(&score)
        {
            return Err(format!(
                "`min_score` is a cosine similarity, -1 to 1, not {score}"
            ));
        }
        Template::parse(&Value::String(config.query.clone())).map_err(|error| format!("query: {error}"))?;
        Ok(())
    }

    async fn run(
        &self,
        config: &MemorySearchConfig,
        input: Value,
        ctx: &NodeContext,
    ) -> Result<NodeOutcome, NodeError> {
        let service = self
            .memory
            .as_ref()
            .ok_or_else(|| NodeError::fatal("memory is not configured on this data plane"))?;
        let levels = config.levels().map_err(NodeError::fatal)?;
        let query =
            fill_text(&config.query, &input).map_err(|error| NodeError::fatal(format!("query: {error}")))?;
        if query.trim().is_empty() {
            return Err(NodeError::fatal(
                "the query is empty: there is nothing to search by",
            ));
        }
        let scope = scope_of(ctx, config.namespace.as_deref())?;
        let memory = service.get().await.map_err(|error| node_error(&error))?;
        let recall = Recall {
            query: query.clone(),
            levels,
            namespace: config.namespace.clone(),
            limit: config.top_k,
            min_score: config.min_score,
        };
        let searching = std::time::Instant::now();
        let (hits, spent) = memory::cpu::spent_by(memory.recall(&scope, recall)).await;
        ctx.cpu(spent);
        crate::metrics::NODES
            .memory_load
            .observe(searching.elapsed().as_secs_f64());
        let hits = hits.map_err(|error| node_error(&error))?;
        ctx.count("memory_hits", u64::try_from(hits.len()).unwrap_or(u64::MAX));
        let hits: Vec<Value> = hits.into_iter().map(hit_json).collect();
        Ok(NodeOutcome::Done(json!({
            "query": query,
            "count": hits.len(),
            "hits": hits,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(value: Value) -> Result<MemorySearchConfig, serde_json::Error> {
        serde_json::from_value(value)
    }

    #[test]
    fn levels_are_one_or_many_searchable_names() {
        let one = config(json!({"query": "q", "level": "task"})).unwrap();
        assert_eq!(one.levels().unwrap(), vec![Level::Task]);
        let many = config(json!({"query": "q", "level": ["episode", "knowledge", "episode"]})).unwrap();
        assert_eq!(many.levels().unwrap(), vec![Level::Episode, Level::Knowledge]);
        let default = config(json!({"query": "q"})).unwrap();
        assert_eq!(default.levels().unwrap(), vec![Level::Knowledge]);
        assert_eq!(default.top_k, 5);
        for (bad, message) in [
            (
                json!("facts"),
                "unknown level `facts` (one of task, knowledge, episode)",
            ),
            (
                json!("preferences"),
                "unknown level `preferences` (one of task, knowledge, episode)",
            ),
            (json!([]), "`level` lists no level"),
        ] {
            let config = config(json!({"query": "q", "level": bad})).unwrap();
            assert_eq!(config.levels().unwrap_err(), message);
        }
    }
}
