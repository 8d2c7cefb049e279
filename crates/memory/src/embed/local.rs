//! all-MiniLM-L6-v2 run in-process on the CPU with candle.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::Embedder;
use crate::{Error, Result};

/// Tokens the model reads per text, counting `[CLS]` and `[SEP]`: the length all-MiniLM-L6-v2 was trained on
/// (its position table has 512, but quality past 256 is not what was measured). Longer texts are truncated:
/// their tail does not shape the vector.
pub const MAX_TOKENS: usize = 256;

/// Bytes of a text the tokenizer sees. 256 WordPiece tokens never span more than this, so cutting here (at a
/// character boundary) changes no vector and keeps a huge text from costing time.
pub const MAX_INPUT_BYTES: usize = 64 * 1024;

/// Texts run through the model together; bounds memory for large batches.
const BATCH: usize = 32;

const MODEL: &str = "all-MiniLM-L6-v2";
const DIMENSION: usize = 384;

/// The offline default `Embedder`: all-MiniLM-L6-v2 (384 dims), mean pooling, L2 normalisation.
///
/// Reads `model.safetensors`, `tokenizer.json` and `config.json` from a directory that `just models` fills;
/// nothing is downloaded at run time. Cheap to clone.
#[derive(Clone)]
pub struct LocalEmbedder {
    inner: Arc<Inner>,
}

struct Inner {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
}

impl std::fmt::Debug for LocalEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalEmbedder")
            .field("model", &MODEL)
            .finish_non_exhaustive()
    }
}

impl LocalEmbedder {
    /// The directory the model is read from: `MEMORY_MODEL_DIR` when set, else
    /// `data/models/all-MiniLM-L6-v2` under the current directory.
    #[must_use]
    pub fn default_dir() -> PathBuf {
        std::env::var_os("MEMORY_MODEL_DIR")
            .map_or_else(|| PathBuf::from("data/models/all-MiniLM-L6-v2"), PathBuf::from)
    }

    /// Loads the model from `default_dir()`.
    ///
    /// # Errors
    ///
    /// As `open`.
    pub fn open_default() -> Result<Self> {
        Self::open(Self::default_dir())
    }

    /// Loads the model from `dir`.
    ///
    /// # Errors
    ///
    /// `Error::ModelMissing` (naming `just models`) when a file is absent; `Error::Model` or
    /// `Error::Tokenizer` when one is unreadable.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let read = |file: &str| {
            let path = dir.join(file);
            std::fs::read(&path).map_err(|error| match error.kind() {
                std::io::ErrorKind::NotFound => Error::ModelMissing { path },
                _ => Error::Model(format!("{}: {error}", path.display())),
            })
        };
        let weights = read("model.safetensors")?;
        let tokenizer = read("tokenizer.json")?;
        let config = read("config.json")?;

        let config: Config =
            serde_json::from_slice(&config).map_err(|error| Error::Model(format!("config.json: {error}")))?;
        let device = Device::Cpu;
        let model = BertModel::load(
            VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)?,
            &config,
        )?;
        let mut tokenizer = Tokenizer::from_bytes(&tokenizer)
            .map_err(|error| Error::Tokenizer(format!("tokenizer.json: {error}")))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|error| Error::Tokenizer(error.to_string()))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..PaddingParams::default()
        }));
        Ok(Self {
            inner: Arc::new(Inner {
                model,
                tokenizer,
                device,
            }),
        })
    }

    /// Embeds on the calling thread (the model is CPU-bound; async callers use `Embedder::embed`).
    ///
    /// # Errors
    ///
    /// When the model fails.
    pub fn embed_blocking(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(BATCH) {
            vectors.extend(self.inner.embed_batch(batch)?);
        }
        Ok(vectors)
    }
}

impl Inner {
    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let cut: Vec<&str> = texts.iter().map(|text| cut(text)).collect();
        let encodings = self
            .tokenizer
            .encode_batch(cut, true)
            .map_err(|error| Error::Tokenizer(error.to_string()))?;
        let rows = encodings.len();
        let width = encodings.first().map_or(0, |encoding| encoding.len());
        let mut ids = Vec::with_capacity(rows * width);
        let mut types = Vec::with_capacity(rows * width);
        let mut mask = Vec::with_capacity(rows * width);
        for encoding in &encodings {
            ids.extend_from_slice(encoding.get_ids());
            types.extend_from_slice(encoding.get_type_ids());
            mask.extend_from_slice(encoding.get_attention_mask());
        }
        let shape = (rows, width);
        let ids = Tensor::from_vec(ids, shape, &self.device)?;
        let types = Tensor::from_vec(types, shape, &self.device)?;
        let mask = Tensor::from_vec(mask, shape, &self.device)?;

        let hidden = self.model.forward(&ids, &types, Some(&mask))?;
        // Mean over the real tokens only: padding must not dilute a short text's vector.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        let normalised = mean.broadcast_div(&norms)?;
        Ok(normalised.to_vec2::<f32>()?)
    }
}

/// The first `MAX_INPUT_BYTES` of a text, cut at a character boundary.
pub(crate) fn cut(text: &str) -> &str {
    if text.len() <= MAX_INPUT_BYTES {
        return text;
    }
    let mut end = MAX_INPUT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl Embedder for LocalEmbedder {
    fn model(&self) -> &str {
        MODEL
    }

    fn dimension(&self) -> usize {
        DIMENSION
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
        let this = self.clone();
        crate::cpu::blocking(move || {
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            this.embed_blocking(&texts)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_texts_are_cut_at_a_character_boundary() {
        let text = "é".repeat(MAX_INPUT_BYTES);
        let kept = cut(&text);
        assert!(kept.len() <= MAX_INPUT_BYTES && kept.len() >= MAX_INPUT_BYTES - 1);
        assert!(kept.chars().all(|c| c == 'é'));
        assert_eq!(cut("short"), "short");
    }

    #[test]
    fn a_missing_model_names_the_command_that_fetches_it() {
        let error = LocalEmbedder::open("/nonexistent/model/dir")
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(error.contains("just models"), "{error}");
        assert!(error.contains("model.safetensors"), "{error}");
    }
}
