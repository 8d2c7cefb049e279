#![expect(clippy::unwrap_used, reason = "in tests a panic is the failure report")]

mod corpus;
mod digest;
mod examples;
mod inputs;
mod robustness;

/// The node kinds of a data plane with one plugin kind (`sql`) beside the built-ins.
pub const KINDS: &[&str] = &[
    "llm",
    "tool",
    "transform",
    "memory_search",
    "memory_write",
    "approval",
    "a2a",
    "sql",
];

pub fn example(name: &str) -> Vec<u8> {
    let path = format!("{}/../../examples/finops/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}
