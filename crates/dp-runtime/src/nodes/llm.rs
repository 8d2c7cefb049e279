//! `llm`: one chat completion through an [`LlmProvider`].
//!
//! Config: `model`, `prompt` (with `${pointer}` filled from the node's input, see
//! [`crate::executor::expr`]), optional `system`, `provider` (`openai` or `local`; default `openai` when the
//! data plane has it, else `local`, so one manifest runs on a remote API or the local model), `temperature`,
//! `max_tokens`, and `response_format`: `text` (the default; the output is `{"text", "model"}`) or `json`
//! (the answer must be a JSON object holding every key in `required`; it is the output). Token usage is
//! recorded for billing. A garbled JSON answer fails the attempt as retryable, so the node's `retry` applies.
//!
//! `memory` (optional) starts the prompt with what the run's org and agent remember: the memory crate's
//! context (preferences, past task summaries and episodes, the named knowledge `namespaces`), searched by
//! `query` (filled like the prompt) and cut to `budget_tokens` (default: the manifest's
//! `memory.context.budget_tokens`, else 2,000). The manifest's other `memory.context` numbers size the
//! context's levels.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};
use tracing::Instrument as _;

use super::{Node, NodeContext, NodeError, NodeOutcome, fill_text as fill};
use crate::executor::expr::Template;
use crate::llm::{ChatRequest, LlmError, LlmProvider};
use crate::memory_service::{MemoryService, node_error, scope_of_namespaces};

pub struct LlmNode {
    providers: BTreeMap<String, Arc<dyn LlmProvider>>,
    model: Option<String>,
    memory: Option<Arc<MemoryService>>,
}

impl std::fmt::Debug for LlmNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmNode")
            .field("providers", &self.providers.keys().collect::<Vec<_>>())
            .field("model", &self.model)
            .finish()
    }
}

impl LlmNode {
    #[must_use]
    pub fn new(providers: BTreeMap<String, Arc<dyn LlmProvider>>) -> Self {
        Self {
            providers,
            model: None,
            memory: None,
        }
    }

    /// The memory a node's `memory` option reads.
    #[must_use]
    pub fn with_memory(mut self, memory: Option<Arc<MemoryService>>) -> Self {
        self.memory = memory;
        self
    }

    /// The provider a node uses: the one it names, else `openai` when configured, else `local`.
    #[must_use]
    pub fn provider_name<'a>(&self, config: &'a LlmConfig) -> &'a str {
        match config.provider.as_deref() {
            Some(name) => name,
            None if self.providers.contains_key("openai") => "openai",
            None => "local",
        }
    }

    /// Every node uses `model` instead of its manifest's, when set (the operator's `DP_LLM_MODEL`).
    #[must_use]
    pub fn with_model(mut self, model: Option<String>) -> Self {
        self.model = model.filter(|model| !model.is_empty());
        self
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseFormat {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    /// The provider by name; none: [`LlmNode::provider_name`] picks.
    pub provider: Option<String>,
    pub model: String,
    pub prompt: String,
    pub system: Option<String>,
    #[serde(default)]
    pub response_format: ResponseFormat,
    /// Keys a JSON answer must have.
    #[serde(default)]
    pub required: Vec<String>,
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
    /// Start the prompt with the memory context.
    pub memory: Option<MemoryContextConfig>,
}

/// What memory context an `llm` node's prompt starts with.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryContextConfig {
    /// What the context is searched by, with `${pointer}` filled from the node's input.
    pub query: String,
    /// Knowledge namespaces searched (declared under the manifest's `memory.knowledge`).
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Tokens the context may take; none: the manifest's `memory.context.budget_tokens`, else
    /// [`DEFAULT_BUDGET`].
    #[serde(default)]
    pub budget_tokens: Option<usize>,
}

/// A context's size in tokens when neither the node nor the manifest says.
pub const DEFAULT_BUDGET: usize = 2_000;

/// A JSON answer, read and checked.
fn read_json(text: &str, required: &[String]) -> Result<Value, NodeError> {
    // Models often fence JSON in a Markdown code block.
    let trimmed = text.trim();
    let unfenced = trimmed
        .strip_prefix("```json")
        .or_else(|| trimmed.strip_prefix("```"))
        .and_then(|rest| rest.strip_suffix("```"))
        .unwrap_or(trimmed);
    let value: Value = serde_json::from_str(unfenced.trim()).map_err(|error| {
        let shown: String = text.chars().take(200).collect();
        NodeError::retryable(format!("the model's answer is not JSON ({error}): {shown:?}"))
    })?;
    let Value::Object(entries) = &value else {
        return Err(NodeError::retryable("the model's JSON answer is not an object"));
    };
    let missing: Vec<&str> = required
        .iter()
        .filter(|key| !entries.contains_key(key.as_str()))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(NodeError::retryable(format!(
            "the model's JSON answer lacks {}",
            missing
                .iter()
                .map(|key| format!("`{key}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(value)
}

impl LlmNode {
    /// The memory context's text, within its budget (empty when memory holds nothing for the query).
    async fn context(
        &self,
        config: &MemoryContextConfig,
        input: &Value,
        ctx: &NodeContext,
    ) -> Result<String, NodeError> {
        let service = self
            .memory
            .as_ref()
            .ok_or_else(|| NodeError::fatal("memory is not configured on this data plane"))?;
        let query =
            fill(&config.query, input).map_err(|error| NodeError::fatal(format!("memory.query: {error}")))?;
        let scope = scope_of_namespaces(ctx, config.namespaces.clone())?;
        let memory = service.get().await.map_err(|error| node_error(&error))?;
        let request = memory::ContextRequest {
            query,
            budget_tokens: Some(config.budget_tokens.unwrap_or_else(|| {
                ctx.run
                    .memory
                    .budget_tokens
                    .and_then(|budget| usize::try_from(budget).ok())
                    .unwrap_or(DEFAULT_BUDGET)
            })),
            ..memory::ContextRequest::default()
        };
        let loading = std::time::Instant::now();
        let (context, spent) = memory::cpu::spent_by(memory.load_context(&scope, request)).await;
        ctx.cpu(spent);
        crate::metrics::NODES
            .memory_load
            .observe(loading.elapsed().as_secs_f64());
        let context = context.map_err(|error| node_error(&error))?;
        Ok(context.text)
    }
}

impl Node for LlmNode {
    const KIND: &'static str = "llm";
    type Config = LlmConfig;

    fn check(&self, config: &LlmConfig) -> Result<(), String> {
        let provider = self.provider_name(config);
        if !self.providers.contains_key(provider) {
            return Err(format!(
                "no LLM provider `{provider}` is configured on this data plane (`openai` needs --llm-base-url; \
                 `local` runs when it is not set)"
            ));
        }
        for text in std::iter::once(&config.prompt).chain(config.system.as_ref()) {
            Template::parse(&Value::String(text.clone())).map_err(|error| format!("prompt: {error}"))?;
        }
        if let Some(memory) = &config.memory {
            if self.memory.is_none() {
                return Err("memory: memory is not configured on this data plane".to_owned());
            }
            Template::parse(&Value::String(memory.query.clone()))
                .map_err(|error| format!("memory.query: {error}"))?;
            if memory.budget_tokens == Some(0) {
                return Err("memory.budget_tokens must be more than 0".to_owned());
            }
        }
        Ok(())
    }

    async fn run(
        &self,
        config: &LlmConfig,
        input: Value,
        ctx: &NodeContext,
    ) -> Result<NodeOutcome, NodeError> {
        let name = self.provider_name(config);
        let provider = self
            .providers
            .get(name)
            .ok_or_else(|| NodeError::fatal(format!("no LLM provider `{name}`")))?;
        let mut prompt =
            fill(&config.prompt, &input).map_err(|error| NodeError::fatal(format!("prompt: {error}")))?;
        if let Some(memory) = &config.memory {
            let context = self.context(memory, &input, ctx).await?;
            if !context.is_empty() {
                prompt = format!("{context}\n{prompt}");
            }
        }
        let system = config
            .system
            .as_deref()
            .map(|system| fill(system, &input))
            .transpose()
            .map_err(|error| NodeError::fatal(format!("system: {error}")))?;
        let request = ChatRequest {
            model: self.model.clone().unwrap_or_else(|| config.model.clone()),
            system,
            prompt,
            json: config.response_format == ResponseFormat::Json,
            temperature: config.temperature,
            max_tokens: config.max_tokens,
        };
        // The OpenTelemetry GenAI semantic conventions' client span.
        let span = tracing::info_span!(
            "chat",
            otel.name = format!("chat {}", request.model),
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            gen_ai.operation.name = "chat",
            gen_ai.system = name,
            gen_ai.provider.name = name,
            gen_ai.request.model = %request.model,
            gen_ai.request.temperature = request.temperature.map(f64::from),
            gen_ai.request.max_tokens = request.max_tokens.map(i64::from),
            gen_ai.response.model = tracing::field::Empty,
            gen_ai.usage.input_tokens = tracing::field::Empty,
            gen_ai.usage.output_tokens = tracing::field::Empty,
        );
        let answer = provider
            .chat(request)
            .instrument(span.clone())
            .await
            .map_err(|error| {
                span.record("otel.status_code", "error");
                match error {
                    LlmError::Unavailable(message) => NodeError::retryable(message),
                    LlmError::Refused(message) => NodeError::fatal(message),
                }
            })?;
        span.record("gen_ai.response.model", answer.model.as_str());
        // Signed: the OpenTelemetry layer exports unsigned fields as text, and the conventions want integers.
        span.record(
            "gen_ai.usage.input_tokens",
            i64::try_from(answer.usage.prompt).unwrap_or(i64::MAX),
        );
        span.record(
            "gen_ai.usage.output_tokens",
            i64::try_from(answer.usage.completion).unwrap_or(i64::MAX),
        );
        drop(span);
        ctx.tokens(answer.usage);
        ctx.cpu(answer.cpu);
        let output = match config.response_format {
            ResponseFormat::Text => json!({"text": answer.text, "model": answer.model}),
            ResponseFormat::Json => read_json(&answer.text, &config.required)?,
        };
        Ok(NodeOutcome::Done(output))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_answers_are_read_and_checked() {
        let required = vec!["recommendations".to_owned()];
        assert_eq!(
            read_json("```json\n{\"recommendations\": []}\n```", &required).unwrap(),
            json!({"recommendations": []})
        );
        let error = read_json("Sure! Here you go", &required).unwrap_err();
        assert!(
            error.message.starts_with("the model's answer is not JSON"),
            "{error}"
        );
        assert!(error.retryable);
        assert_eq!(
            read_json("{\"other\": 1}", &required).unwrap_err().message,
            "the model's JSON answer lacks `recommendations`"
        );
        assert_eq!(
            fill("Spend: ${/total}", &json!({"total": "12.50"})).unwrap(),
            "Spend: 12.50"
        );
    }
}
