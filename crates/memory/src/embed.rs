//! Turning texts into vectors: the `Embedder` trait and the offline default.

mod local;
mod openai;

use std::future::Future;

pub use local::{LocalEmbedder, MAX_INPUT_BYTES, MAX_TOKENS};
pub use openai::{OPENAI_MAX_TOKENS, OpenAiConfig, OpenAiEmbedder};

use crate::{Error, Result};

/// Turns texts into vectors of one model; vectors of different models are never compared.
pub trait Embedder: Send + Sync + 'static {
    /// The model's name, recorded with the collection its vectors go to.
    fn model(&self) -> &str;

    /// The length of every vector it returns.
    fn dimension(&self) -> usize;

    /// One vector per text, in order, each L2-normalised.
    ///
    /// # Errors
    ///
    /// When the model fails; never for a text's content (empty and huge texts are embedded, see the README).
    fn embed(&self, texts: Vec<String>) -> impl Future<Output = Result<Vec<Vec<f32>>>> + Send;
}

/// Bytes from outside (a file, a request body) as a text to remember, refusing what is not UTF-8 rather than
/// guessing.
///
/// # Errors
///
/// `Error::NotUtf8` with the offset of the first invalid byte.
pub fn text_from_bytes(bytes: &[u8]) -> Result<&str> {
    std::str::from_utf8(bytes).map_err(|error| Error::NotUtf8(error.valid_up_to()))
}
