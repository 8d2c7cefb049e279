//! The memory crate against the real embedded store and the real local model.

mod durability;
mod embedder;
mod isolation;
mod levels;
mod openai;
mod store;
mod support;
