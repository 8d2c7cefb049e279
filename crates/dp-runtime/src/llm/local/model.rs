//! The local model's GGUF file read into memory: its weights, and the tokenizer its metadata describes.
//!
//! The GGUF packaging of SmolLM2 ships no `tokenizer.json`, but the file itself carries the whole byte-level
//! BPE (`tokenizer.ggml.tokens`, `tokenizer.ggml.merges`) and names its pre-tokenizer (`smollm`: every digit
//! apart, then GPT-2's byte-level split), which is what the model's own `tokenizer.json` spells out. Building
//! the tokenizer from that keeps the model one file, with nothing else to fetch or keep in step.

use std::collections::HashMap;
use std::io::Cursor;
use std::path::Path;

use candle_core::Device;
use candle_core::quantized::gguf_file::{self, Content, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_transformers::models::quantized_llama::{MAX_SEQ_LEN, ModelWeights};
use tokenizers::Tokenizer;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;

use crate::llm::LlmError;

/// A loaded model: shared by every completion, each of which runs on its own clone of the weights (the
/// tensors are reference counted; only the attention cache is a completion's own).
#[derive(Debug)]
pub struct Model {
    pub weights: ModelWeights,
    pub tokenizer: Tokenizer,
    pub turn: TurnTokens,
    /// Tokens a completion may span, prompt included.
    pub context: usize,
}

/// The chat template's markers (ChatML) and the tokens that end an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TurnTokens {
    pub start: u32,
    pub end: u32,
    /// The end of the text as a whole, which a model may emit instead of the end of its turn.
    pub end_of_text: Option<u32>,
}

impl TurnTokens {
    pub fn ends_answer(&self, token: u32) -> bool {
        token == self.end || Some(token) == self.end_of_text
    }
}

fn unreadable(path: &Path, why: impl std::fmt::Display) -> LlmError {
    LlmError::Refused(format!("the local model {} is unreadable: {why}", path.display()))
}

/// Reads the GGUF file at `path`.
///
/// # Errors
///
/// `Refused` naming `just models` when the file is absent; `Refused` when it is not a llama-architecture GGUF
/// chat model with a byte-level BPE tokenizer.
pub fn load(path: &Path) -> Result<Model, LlmError> {
    let bytes = std::fs::read(path).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => LlmError::Refused(format!(
            "the local model is missing: {} (run `just models` to fetch it)",
            path.display()
        )),
        _ => unreadable(path, error),
    })?;
    let mut file = Cursor::new(bytes);
    let content = Content::read(&mut file).map_err(|error| unreadable(path, error))?;
    let (content, mut file) = with_fast_blocks(content, file).map_err(|error| unreadable(path, error))?;
    let tokenizer = tokenizer(&content.metadata).map_err(|error| unreadable(path, error))?;
    let id = |token: &str| {
        tokenizer
            .token_to_id(token)
            .ok_or_else(|| unreadable(path, format!("its vocabulary has no `{token}`")))
    };
    let turn = TurnTokens {
        start: id("<|im_start|>")?,
        end: id("<|im_end|>")?,
        end_of_text: tokenizer.token_to_id("<|endoftext|>"),
    };
    let trained = content
        .metadata
        .get("llama.context_length")
        .and_then(|value| value.to_u32().ok())
        .map_or(MAX_SEQ_LEN, |length| length as usize);
    let weights =
        ModelWeights::from_gguf(content, &mut file, &Device::Cpu).map_err(|error| unreadable(path, error))?;
    Ok(Model {
        weights,
        tokenizer,
        turn,
        context: trained.min(MAX_SEQ_LEN),
    })
}

/// Block types candle computes with scalar code only; Q8_0 it computes with AVX2 or NEON.
const SLOW_BLOCKS: [GgmlDType; 3] = [GgmlDType::Q4_1, GgmlDType::Q5_0, GgmlDType::Q5_1];

/// The model with its slow blocks stored again as Q8_0.
///
/// SmolLM2's GGUF is Q4_1, which candle multiplies without SIMD: about ten times slower per token than
/// Q8_0 on the same CPU. Q8_0 holds every Q4_1 value within a 255th of its block's range, so the answers
/// barely change, for some 50 MB more memory and a moment at load.
fn with_fast_blocks(
    content: Content,
    mut file: Cursor<Vec<u8>>,
) -> candle_core::Result<(Content, Cursor<Vec<u8>>)> {
    if !content
        .tensor_infos
        .values()
        .any(|info| SLOW_BLOCKS.contains(&info.ggml_dtype))
    {
        return Ok((content, file));
    }
    let device = Device::Cpu;
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    let mut tensors = Vec::with_capacity(names.len());
    for name in names {
        let tensor = content.tensor(&mut file, name, &device)?;
        let tensor = if SLOW_BLOCKS.contains(&tensor.dtype()) {
            QTensor::quantize(&tensor.dequantize(&device)?, GgmlDType::Q8_0)?
        } else {
            tensor
        };
        tensors.push((name.as_str(), tensor));
    }
    let metadata: Vec<(&str, &Value)> = content
        .metadata
        .iter()
        .map(|(key, value)| (key.as_str(), value))
        .collect();
    let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(name, tensor)| (*name, tensor)).collect();
    let mut rewritten = Cursor::new(Vec::new());
    gguf_file::write(&mut rewritten, &metadata, &tensors)?;
    rewritten.set_position(0);
    let content = Content::read(&mut rewritten)?;
    Ok((content, rewritten))
}

fn text<'a>(metadata: &'a HashMap<String, Value>, key: &str) -> Result<&'a str, String> {
    metadata
        .get(key)
        .and_then(|value| value.to_string().ok())
        .map(String::as_str)
        .ok_or_else(|| format!("no `{key}` in its metadata"))
}

fn texts<'a>(metadata: &'a HashMap<String, Value>, key: &str) -> Result<Vec<&'a str>, String> {
    let values = metadata
        .get(key)
        .and_then(|value| value.to_vec().ok())
        .ok_or_else(|| format!("no `{key}` in its metadata"))?;
    values
        .iter()
        .map(|value| {
            value
                .to_string()
                .map(String::as_str)
                .map_err(|_| format!("`{key}` holds a value that is not text"))
        })
        .collect()
}

/// The byte-level BPE tokenizer the GGUF metadata describes.
fn tokenizer(metadata: &HashMap<String, Value>) -> Result<Tokenizer, String> {
    let model = text(metadata, "tokenizer.ggml.model")?;
    if model != "gpt2" {
        return Err(format!(
            "its tokenizer is `{model}`; only byte-level BPE (`gpt2`) is read"
        ));
    }
    let digits_apart = match metadata
        .get("tokenizer.ggml.pre")
        .and_then(|value| value.to_string().ok())
        .map(String::as_str)
    {
        Some("smollm") => true,
        Some("gpt2" | "default") | None => false,
        Some(other) => return Err(format!("its pre-tokenizer `{other}` is not one this reads")),
    };
    let vocab: Vocab = texts(metadata, "tokenizer.ggml.tokens")?
        .into_iter()
        .zip(0_u32..)
        .map(|(token, id)| (token.to_owned(), id))
        .collect();
    let merges = texts(metadata, "tokenizer.ggml.merges")?
        .into_iter()
        .map(|merge| {
            merge
                .split_once(' ')
                .map(|(left, right)| (left.to_owned(), right.to_owned()))
                .ok_or_else(|| format!("the merge `{merge}` is not two tokens"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|error| format!("its BPE tables: {error}"))?;
    let mut tokenizer = Tokenizer::new(bpe);
    let byte_level = ByteLevel::new(false, true, true);
    if digits_apart {
        tokenizer.with_pre_tokenizer(Some(Sequence::new(vec![
            Digits::new(true).into(),
            byte_level.into(),
        ])));
    } else {
        tokenizer.with_pre_tokenizer(Some(byte_level));
    }
    tokenizer.with_decoder(Some(ByteLevel::default()));
    Ok(tokenizer)
}
