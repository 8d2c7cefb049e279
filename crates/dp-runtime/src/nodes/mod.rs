//! Workflow node kinds.

/// The node kinds this build of the data plane can run; a manifest naming any other kind is refused at
/// validation, not at run time.
pub const BUILTIN_NODE_KINDS: &[&str] = &[
    "llm",
    "tool",
    "transform",
    "memory_search",
    "memory_write",
    "approval",
    "a2a",
];
