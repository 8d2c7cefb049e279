//! One chat completion on a loaded model: the chat template, then a token at a time until the end of the
//! turn, `max_tokens`, or a stop.

use std::sync::atomic::{AtomicBool, Ordering};

use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use candle_transformers::utils::apply_repeat_penalty;

use super::model::Model;
use crate::llm::{ChatRequest, LlmError};

/// Tokens an answer may have when the node sets no `max_tokens`.
pub const DEFAULT_MAX_TOKENS: u32 = 256;

/// The system turn SmolLM2's own chat template adds when a conversation has none.
const DEFAULT_SYSTEM: &str = "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

/// Small models fall into loops under greedy decoding; recent tokens are made a little less likely.
const REPEAT_PENALTY: f32 = 1.1;
const REPEAT_WINDOW: usize = 64;

/// What a completion produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generation {
    pub text: String,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
}

fn failed(error: candle_core::Error) -> LlmError {
    LlmError::Refused(format!("the local model failed: {error}"))
}

fn encode(model: &Model, text: &str) -> Result<Vec<u32>, LlmError> {
    model
        .tokenizer
        .encode(text, false)
        .map(|encoding| encoding.get_ids().to_vec())
        .map_err(|error| LlmError::Refused(format!("the local model's tokenizer failed: {error}")))
}

/// The prompt's tokens in ChatML, ending where the assistant's turn starts (with `{` already written when a
/// JSON object is asked for: the answer can then only go on as one).
///
/// The turn markers are placed as tokens, never read from text, so a prompt that spells `<|im_end|>` cannot
/// end its turn early.
fn prompt_tokens(model: &Model, request: &ChatRequest) -> Result<Vec<u32>, LlmError> {
    let turn = model.turn;
    let system = request.system.as_deref().unwrap_or(DEFAULT_SYSTEM);
    let mut tokens = Vec::new();
    for (role, content) in [("system", system), ("user", request.prompt.as_str())] {
        tokens.push(turn.start);
        tokens.extend(encode(model, &format!("{role}\n{content}"))?);
        tokens.push(turn.end);
        tokens.extend(encode(model, "\n")?);
    }
    tokens.push(turn.start);
    tokens.extend(encode(model, "assistant\n")?);
    if request.json {
        tokens.extend(encode(model, "{")?);
    }
    Ok(tokens)
}

/// Runs one completion on the calling thread, checking `stop` between tokens.
///
/// # Errors
///
/// `Refused` when the prompt does not fit the model's context or the model fails; `Unavailable` when
/// `stop` was set.
pub fn generate(model: &Model, request: &ChatRequest, stop: &AtomicBool) -> Result<Generation, LlmError> {
    let prompt = prompt_tokens(model, request)?;
    let room = model.context.saturating_sub(prompt.len());
    if room == 0 {
        return Err(LlmError::Refused(format!(
            "the prompt is {} tokens; the local model reads at most {}",
            prompt.len(),
            model.context
        )));
    }
    let max_tokens = (request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS) as usize).min(room);
    let sampling = match request.temperature.map(f64::from) {
        Some(temperature) if temperature > 1e-7 => Sampling::All { temperature },
        _ => Sampling::ArgMax,
    };
    let mut sampler = LogitsProcessor::from_sampling(fastrand::u64(..), sampling);
    let mut weights = model.weights.clone();
    let device = Device::Cpu;

    let mut context = prompt.clone();
    let mut answer: Vec<u32> = Vec::new();
    let mut text = String::new();
    let mut input = prompt.clone();
    let mut position = 0;
    while answer.len() < max_tokens {
        if stop.load(Ordering::Relaxed) {
            return Err(LlmError::Unavailable("the completion was stopped".to_owned()));
        }
        let logits = Tensor::new(input.as_slice(), &device)
            .and_then(|tokens| tokens.unsqueeze(0))
            .and_then(|tokens| weights.forward(&tokens, position))
            .and_then(|logits| logits.squeeze(0))
            .map_err(failed)?;
        position += input.len();
        let recent = &context[context.len().saturating_sub(REPEAT_WINDOW)..];
        let logits = apply_repeat_penalty(&logits, REPEAT_PENALTY, recent).map_err(failed)?;
        let token = sampler.sample(&logits).map_err(failed)?;
        if model.turn.ends_answer(token) {
            break;
        }
        answer.push(token);
        context.push(token);
        text = decode(model, &answer)?;
        if request.json && first_object(&format!("{{{text}")).is_some() {
            break;
        }
        input = vec![token];
    }
    let text = if request.json {
        let whole = format!("{{{text}");
        first_object(&whole).map_or_else(|| whole.clone(), str::to_owned)
    } else {
        text.trim().to_owned()
    };
    Ok(Generation {
        text,
        prompt_tokens: prompt.len(),
        completion_tokens: answer.len(),
    })
}

fn decode(model: &Model, tokens: &[u32]) -> Result<String, LlmError> {
    model
        .tokenizer
        .decode(tokens, false)
        .map_err(|error| LlmError::Refused(format!("the local model's tokenizer failed: {error}")))
}

/// The first whole JSON object in `text`, by its balanced braces (strings and escapes respected); whether it
/// parses is the caller's to check.
pub fn first_object(text: &str) -> Option<&str> {
    let start = text.find('{')?;
    let mut depth = 0_usize;
    let mut in_string = false;
    let mut escaped = false;
    for (at, char) in text[start..].char_indices() {
        if in_string {
            match char {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match char {
            '"' => in_string = true,
            '{' => depth += 1,
            '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(&text[start..=start + at]);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_json_object_is_found_by_its_braces() {
        assert_eq!(
            first_object("Sure: {\"a\": {\"b\": \"}\"}} and more {\"c\": 1}"),
            Some("{\"a\": {\"b\": \"}\"}}")
        );
        assert_eq!(first_object(r#"{"quote": "\"}"}"#), Some(r#"{"quote": "\"}"}"#));
        assert_eq!(first_object("{\"open\": [1, 2"), None);
        assert_eq!(first_object("no object here"), None);
        assert_eq!(first_object("}{}"), Some("{}"));
    }
}
