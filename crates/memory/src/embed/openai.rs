//! Embeddings from an OpenAI-compatible HTTP endpoint, batched and retried.

use std::sync::OnceLock;
use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::types::embeddings::{CreateEmbeddingRequest, EmbeddingInput};
use tiktoken_rs::CoreBPE;

use super::Embedder;
use crate::{Error, Result};

/// Tokens OpenAI's embedding models read per input (cl100k); longer texts are truncated to this.
pub const OPENAI_MAX_TOKENS: usize = 8191;

/// Where and how to reach an OpenAI-compatible embeddings endpoint.
#[derive(Clone)]
pub struct OpenAiConfig {
    /// The API's base URL, e.g. `https://api.openai.com/v1` or a local server's `http://127.0.0.1:8000/v1`.
    pub base_url: String,
    pub api_key: String,
    /// e.g. `text-embedding-3-small`.
    pub model: String,
    /// The length of the vectors the model returns (1536 for `text-embedding-3-small`).
    pub dimension: usize,
    /// Send `dimensions` in each request, for models that can shorten their vectors (`text-embedding-3-*`).
    pub request_dimension: bool,
    /// Texts per request.
    pub batch_size: usize,
    /// One request's time limit.
    pub timeout: Duration,
}

impl std::fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"<redacted>")
            .field("model", &self.model)
            .field("dimension", &self.dimension)
            .field("request_dimension", &self.request_dimension)
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}

impl OpenAiConfig {
    /// `text-embedding-3-small` (1536 dims) at `base_url`, with default batching and retries.
    #[must_use]
    pub fn new(base_url: impl Into<String>, api_key: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            api_key: api_key.into(),
            model: "text-embedding-3-small".to_owned(),
            dimension: 1536,
            request_dimension: false,
            batch_size: 128,
            timeout: Duration::from_secs(60),
        }
    }
}

/// An `Embedder` over any OpenAI-compatible endpoint (async-openai): batched, with 429 and 5xx retried with
/// exponential backoff.
///
/// The retries are async-openai's own: up to 3 after the first attempt, waiting 100 ms, 200 ms, 400 ms (at most
/// 8 s, or what a `Retry-After` header asks), on 429 (but not `insufficient_quota`), 5xx and failures to
/// connect. After them the error is `Error::Remote` with the last status.
///
/// Texts are cut to `OPENAI_MAX_TOKENS` cl100k tokens (OpenAI's limit; other servers may have lower ones) and
/// an empty text is sent as one space, which the API accepts where it refuses an empty string.
#[derive(Clone)]
pub struct OpenAiEmbedder {
    client: Client<OpenAIConfig>,
    config: OpenAiConfig,
}

impl std::fmt::Debug for OpenAiEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiEmbedder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl OpenAiEmbedder {
    /// # Errors
    ///
    /// `Error::Remote` when the HTTP client cannot be built.
    pub fn new(config: OpenAiConfig) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|error| remote(&config, None, &error.to_string()))?;
        let client = Client::build(
            http,
            OpenAIConfig::new()
                .with_api_base(config.base_url.trim_end_matches('/'))
                .with_api_key(config.api_key.clone()),
        );
        Ok(Self { client, config })
    }

    async fn embed_batch(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
        let expected = texts.len();
        let request = CreateEmbeddingRequest {
            model: self.config.model.clone(),
            input: EmbeddingInput::StringArray(texts),
            encoding_format: None,
            user: None,
            dimensions: self
                .config
                .request_dimension
                .then(|| u32::try_from(self.config.dimension).unwrap_or(u32::MAX)),
        };
        let response = self
            .client
            .embeddings()
            .create(request)
            .await
            .map_err(|error| remote(&self.config, status(&error), &error.to_string()))?;
        let mut data = response.data;
        if data.len() != expected {
            return Err(Error::EmbeddingCount {
                expected,
                got: data.len(),
            });
        }
        data.sort_by_key(|embedding| embedding.index);
        let mut vectors = Vec::with_capacity(expected);
        for embedding in data {
            if embedding.embedding.len() != self.config.dimension {
                return Err(Error::WrongDimension {
                    collection: format!("model {}", self.config.model),
                    expected: self.config.dimension,
                    got: embedding.embedding.len(),
                });
            }
            vectors.push(embedding.embedding);
        }
        Ok(vectors)
    }
}

impl Embedder for OpenAiEmbedder {
    fn model(&self) -> &str {
        &self.config.model
    }

    fn dimension(&self) -> usize {
        self.config.dimension
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
        let bpe = cl100k()?;
        let texts: Vec<String> = texts.into_iter().map(|text| fit(bpe, text)).collect();
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.config.batch_size.max(1)) {
            vectors.extend(self.embed_batch(batch.to_vec()).await?);
        }
        Ok(vectors)
    }
}

/// The HTTP status of a failed request, when it got that far.
fn status(error: &OpenAIError) -> Option<u16> {
    match error {
        OpenAIError::ApiError(response) => Some(response.status_code.as_u16()),
        OpenAIError::Reqwest(error) => error.status().map(|status| status.as_u16()),
        _ => None,
    }
}

fn remote(config: &OpenAiConfig, status: Option<u16>, message: &str) -> Error {
    Error::Remote {
        url: config.base_url.clone(),
        status,
        message: message.to_owned(),
    }
}

/// A text the API accepts: not empty, at most `OPENAI_MAX_TOKENS` tokens.
fn fit(bpe: &CoreBPE, text: String) -> String {
    if text.is_empty() {
        return " ".to_owned();
    }
    let cut = super::local::cut(&text);
    let tokens = bpe.encode_ordinary(cut);
    if tokens.len() <= OPENAI_MAX_TOKENS && cut.len() == text.len() {
        return text;
    }
    let kept = tokens.get(..OPENAI_MAX_TOKENS).unwrap_or(&tokens);
    match bpe.decode_bytes(kept) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => cut.to_owned(),
    }
}

fn cl100k() -> Result<&'static CoreBPE> {
    static BPE: OnceLock<std::result::Result<CoreBPE, String>> = OnceLock::new();
    BPE.get_or_init(|| tiktoken_rs::cl100k_base().map_err(|error| error.to_string()))
        .as_ref()
        .map_err(|error| Error::Tokenizer(format!("cl100k: {error}")))
}
