//! LLM providers for the `llm` node: an [`LlmProvider`] answers one chat completion.
//!
//! `openai` speaks the OpenAI chat-completions API to any compatible server (OpenAI, vLLM, Ollama,
//! llama.cpp). `local` runs a small GGUF chat model (SmolLM2-135M-Instruct, which `just models` fetches)
//! in-process with candle, so a data plane answers `llm` nodes with no server and no key. `serve` and
//! `run-local` offer `openai` when `--llm-base-url` is set and `local` otherwise.

pub mod local;
pub mod openai;

use std::future::Future;
use std::pin::Pin;

use protocol::TokenUsage;

/// One chat completion to make.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatRequest {
    pub model: String,
    pub system: Option<String>,
    pub prompt: String,
    /// Ask for a JSON object (`response_format: json_object`).
    pub json: bool,
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
}

/// The model's answer.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatAnswer {
    pub text: String,
    pub model: String,
    pub usage: TokenUsage,
    /// CPU time the completion took on threads other than the caller's (the local model's generation);
    /// zero for a remote API.
    pub cpu: std::time::Duration,
}

/// Why a completion did not come.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    /// Rate limited, a server error, or unreachable, after the provider's own retries.
    #[error("{0}")]
    Unavailable(String),
    /// The request itself was refused (a bad model, a bad key): another try will not help.
    #[error("{0}")]
    Refused(String),
}

pub type ChatFuture<'a> = Pin<Box<dyn Future<Output = Result<ChatAnswer, LlmError>> + Send + 'a>>;

/// A source of chat completions.
pub trait LlmProvider: Send + Sync {
    fn chat(&self, request: ChatRequest) -> ChatFuture<'_>;
}
