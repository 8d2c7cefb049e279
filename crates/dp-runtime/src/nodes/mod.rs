//! Workflow node kinds.

pub use manifest::BUILTIN_NODE_KINDS;
