//! The `local` provider: a small GGUF chat model run in-process on the CPU with candle.
//!
//! The model is SmolLM2-135M-Instruct (Q4_1), which `just models` fetches into
//! `<data-dir>/models/SmolLM2-135M-Instruct/model.gguf`; nothing downloads at run time. It is read at the
//! first completion, not at start-up, so a data plane whose workflows never call it never pays for it; a
//! failed read is not kept, so once the model is fetched the next completion reads it.
//!
//! It serves whatever `model` a node names: there is one model here, and the answer says which. Generation
//! runs on a blocking thread, greedy unless the node sets a `temperature`, and stops at the end of the
//! model's turn or `max_tokens` (default [`DEFAULT_MAX_TOKENS`]). A JSON answer is started with `{` and cut
//! after the first whole object, which the `llm` node then checks like any provider's. When the node's
//! future is dropped (the run cancelled, the step timed out) generation stops before its next token.

mod generate;
mod model;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

pub use generate::{DEFAULT_MAX_TOKENS, first_object};
use model::Model;
use protocol::TokenUsage;

use super::{ChatAnswer, ChatFuture, ChatRequest, LlmError, LlmProvider};

/// The model's name: its folder under `<data-dir>/models`, and the `model` of every answer.
pub const MODEL: &str = "SmolLM2-135M-Instruct";

/// The model file in that folder.
pub const MODEL_FILE: &str = "model.gguf";

/// In-process completions on the local model.
#[derive(Clone, Debug)]
pub struct LocalLlm {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    dir: PathBuf,
    model: Mutex<Option<Arc<Model>>>,
}

impl LocalLlm {
    /// The provider for the model in `dir` (read at the first completion).
    #[must_use]
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            shared: Arc::new(Shared {
                dir: dir.into(),
                model: Mutex::new(None),
            }),
        }
    }

    /// The model's folder under a data directory: `<data-dir>/models/SmolLM2-135M-Instruct`.
    #[must_use]
    pub fn dir_in(data_dir: &Path) -> PathBuf {
        data_dir.join("models").join(MODEL)
    }

    /// The model file this provider reads.
    #[must_use]
    pub fn model_path(&self) -> PathBuf {
        self.shared.dir.join(MODEL_FILE)
    }

    /// Reads the model now unless it is read already, on the calling thread (it takes a while: callers in
    /// async code use a blocking thread).
    ///
    /// # Errors
    ///
    /// `Refused` naming `just models` when the model is missing, or saying why it is unreadable.
    pub fn load_blocking(&self) -> Result<(), LlmError> {
        self.shared.model().map(drop)
    }

    /// One completion on the calling thread; it stops before its next token once `stop` is set.
    ///
    /// # Errors
    ///
    /// As [`LocalLlm::load_blocking`]; `Refused` when the prompt is longer than the model reads or the model
    /// fails; `Unavailable` when stopped.
    pub fn chat_blocking(&self, request: &ChatRequest, stop: &AtomicBool) -> Result<ChatAnswer, LlmError> {
        let model = self.shared.model()?;
        let (generation, cpu) = crate::cpu::timed(|| generate::generate(&model, request, stop));
        let generation = generation?;
        Ok(ChatAnswer {
            cpu,
            text: generation.text,
            model: MODEL.to_owned(),
            usage: TokenUsage {
                prompt: generation.prompt_tokens as u64,
                completion: generation.completion_tokens as u64,
            },
        })
    }
}

impl Shared {
    /// The model, read at the first call. Completions waiting on the first read wait for it rather than
    /// read the file again.
    fn model(&self) -> Result<Arc<Model>, LlmError> {
        let mut slot = self.model.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(model) = slot.as_ref() {
            return Ok(Arc::clone(model));
        }
        let started = std::time::Instant::now();
        let model = Arc::new(model::load(&self.dir.join(MODEL_FILE))?);
        tracing::info!(
            model = MODEL,
            load_ms = started.elapsed().as_millis(),
            "local model read"
        );
        *slot = Some(Arc::clone(&model));
        Ok(model)
    }
}

/// Sets its flag when dropped: the completion's future went away, so its thread stops.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl LlmProvider for LocalLlm {
    fn chat(&self, request: ChatRequest) -> ChatFuture<'_> {
        let this = self.clone();
        Box::pin(async move {
            let stop = Arc::new(AtomicBool::new(false));
            let _stop_on_drop = StopOnDrop(Arc::clone(&stop));
            tokio::task::spawn_blocking(move || this.chat_blocking(&request, &stop))
                .await
                .map_err(|error| LlmError::Unavailable(format!("the local model stopped: {error}")))?
        })
    }
}
