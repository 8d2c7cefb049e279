#![expect(clippy::unwrap_used, reason = "in tests a panic is the failure report")]

mod cp;
mod e2e;
mod llm;
mod local_llm;
mod memory;
mod traces;
mod validate;
