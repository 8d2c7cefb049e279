//! The `openai` provider: async-openai against any OpenAI-compatible base URL.
//!
//! async-openai itself tries a 429 (except `insufficient_quota`, which is final), a 5xx or a failed
//! connection again, up to three times, with exponential backoff from 100 ms (or the `Retry-After` the
//! server sent). What still fails is a retryable node error, so the node's own `retry` takes over.

use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    CreateChatCompletionRequest, ResponseFormat,
};
use protocol::TokenUsage;

use super::{ChatAnswer, ChatFuture, ChatRequest, LlmError, LlmProvider};

/// Where the provider sends requests.
#[derive(Clone, Debug)]
pub struct OpenAiSettings {
    /// `https://api.openai.com/v1`, `http://localhost:11434/v1`, …
    pub base_url: String,
    pub api_key: String,
}

#[derive(Debug)]
pub struct OpenAi {
    client: Client<OpenAIConfig>,
}

impl OpenAi {
    #[must_use]
    pub fn new(settings: OpenAiSettings) -> Self {
        let config = OpenAIConfig::new()
            .with_api_base(settings.base_url.trim_end_matches('/'))
            .with_api_key(settings.api_key.clone());
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self {
            client: Client::with_config(config).with_http_client(http),
        }
    }

    async fn once(&self, request: &ChatRequest) -> Result<ChatAnswer, (bool, String)> {
        let mut messages: Vec<ChatCompletionRequestMessage> = Vec::new();
        if let Some(system) = &request.system {
            messages.push(
                ChatCompletionRequestSystemMessage {
                    content: system.as_str().into(),
                    name: None,
                }
                .into(),
            );
        }
        messages.push(ChatCompletionRequestUserMessage::from(request.prompt.as_str()).into());
        let body = CreateChatCompletionRequest {
            model: request.model.clone(),
            messages,
            response_format: request.json.then_some(ResponseFormat::JsonObject),
            temperature: request.temperature,
            max_completion_tokens: request.max_tokens,
            ..CreateChatCompletionRequest::default()
        };
        let answer = self
            .client
            .chat()
            .create(body)
            .await
            .map_err(|error| match error {
                OpenAIError::ApiError(api) => {
                    let status = api.status_code.as_u16();
                    let retry = status == 429 || status == 408 || api.status_code.is_server_error();
                    (
                        retry,
                        format!("the model server answered {status}: {}", api.api_error.message),
                    )
                }
                OpenAIError::Reqwest(error) => (true, format!("the model server is unreachable: {error}")),
                OpenAIError::JSONDeserialize(error, _) => (
                    false,
                    format!("the model server's answer is not a chat completion: {error}"),
                ),
                other => (false, other.to_string()),
            })?;
        let text = answer
            .choices
            .into_iter()
            .next()
            .and_then(|choice| choice.message.content)
            .ok_or_else(|| (false, "the model answered with no text".to_owned()))?;
        let usage = answer.usage.map_or_else(TokenUsage::default, |usage| TokenUsage {
            prompt: u64::from(usage.prompt_tokens),
            completion: u64::from(usage.completion_tokens),
        });
        Ok(ChatAnswer {
            cpu: std::time::Duration::ZERO,
            text,
            model: answer.model,
            usage,
        })
    }
}

impl LlmProvider for OpenAi {
    fn chat(&self, request: ChatRequest) -> ChatFuture<'_> {
        Box::pin(async move {
            self.once(&request).await.map_err(|(retryable, message)| {
                if retryable {
                    LlmError::Unavailable(message)
                } else {
                    LlmError::Refused(message)
                }
            })
        })
    }
}
