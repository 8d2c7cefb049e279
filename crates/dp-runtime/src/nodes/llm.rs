//! `llm`: one chat completion through an [`LlmProvider`].
//!
//! Config: `model`, `prompt` (with `${pointer}` filled from the node's input, see
//! [`crate::executor::expr`]), optional `system`, `provider` (default `openai`), `temperature`,
//! `max_tokens`, and `response_format`: `text` (the default; the output is `{"text", "model"}`) or `json`
//! (the answer must be a JSON object holding every key in `required`; it is the output). Token usage is
//! recorded for billing. A garbled JSON answer fails the attempt as retryable, so the node's `retry` applies.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Node, NodeContext, NodeError, NodeOutcome, fill_text as fill};
use crate::executor::expr::Template;
use crate::llm::{ChatRequest, LlmError, LlmProvider};

pub struct LlmNode {
    providers: BTreeMap<String, Arc<dyn LlmProvider>>,
    model: Option<String>,
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
    #[serde(default = "openai")]
    pub provider: String,
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
}

fn openai() -> String {
    "openai".to_owned()
}

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

impl Node for LlmNode {
    const KIND: &'static str = "llm";
    type Config = LlmConfig;

    fn check(&self, config: &LlmConfig) -> Result<(), String> {
        if !self.providers.contains_key(&config.provider) {
            return Err(format!(
                "no LLM provider `{}` is configured on this data plane (for `openai`, set --llm-base-url)",
                config.provider
            ));
        }
        for text in std::iter::once(&config.prompt).chain(config.system.as_ref()) {
            Template::parse(&Value::String(text.clone())).map_err(|error| format!("prompt: {error}"))?;
        }
        Ok(())
    }

    async fn run(
        &self,
        config: &LlmConfig,
        input: Value,
        ctx: &NodeContext,
    ) -> Result<NodeOutcome, NodeError> {
        let provider = self
            .providers
            .get(&config.provider)
            .ok_or_else(|| NodeError::fatal(format!("no LLM provider `{}`", config.provider)))?;
        let prompt =
            fill(&config.prompt, &input).map_err(|error| NodeError::fatal(format!("prompt: {error}")))?;
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
        let answer = provider.chat(request).await.map_err(|error| match error {
            LlmError::Unavailable(message) => NodeError::retryable(message),
            LlmError::Refused(message) => NodeError::fatal(message),
        })?;
        ctx.tokens(answer.usage);
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
