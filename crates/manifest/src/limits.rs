//! Bounds on what the parser accepts, so no input can take unbounded time or memory.
//!
//! A real manifest is a few kilobytes with a few hundred values nested a dozen deep; these limits leave two
//! orders of magnitude of room above that and stop hostile input (huge documents, deep nesting, YAML alias
//! "billion laughs") early, with an error that says which limit was hit.

/// Largest manifest source accepted, in bytes.
pub const MAX_BYTES: usize = 1024 * 1024;

/// Deepest nesting of mappings and sequences.
pub const MAX_DEPTH: usize = 64;

/// Most values in the loaded document, counting every copy an alias makes.
pub const MAX_NODES: usize = 100_000;

/// Most bytes of scalar text in the loaded document, counting every copy an alias makes.
pub const MAX_TEXT_BYTES: usize = 4 * MAX_BYTES;

/// Shortest retention a manifest may set for task summaries and episodes.
pub const MIN_TTL: std::time::Duration = std::time::Duration::from_secs(60 * 60);

/// Longest retention a manifest may set for task summaries and episodes.
pub const MAX_TTL: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 60 * 60);
