#![doc = include_str!("../README.md")]

mod clock;
mod context;
pub mod cpu;
mod embed;
mod error;
mod level;
mod point;
mod store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use context::{AgentScope, Context, ContextRequest, Item, Memory, MemoryConfig, Preferences, Recall};
pub use embed::{
    Embedder, LocalEmbedder, MAX_INPUT_BYTES, MAX_TOKENS, OPENAI_MAX_TOKENS, OpenAiConfig, OpenAiEmbedder,
    text_from_bytes,
};
pub use error::{Error, Result};
pub use level::Level;
pub use point::{Collection, Filter, Hit, Point, Search};
pub use store::{QdrantServer, SqliteOptions, SqliteVec, VectorStore};
