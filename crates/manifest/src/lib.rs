#![doc = include_str!("../README.md")]

mod digest;
mod format;
mod graph;
mod inputs;
pub mod limits;
mod model;
mod path;
mod schema;
mod validate;
mod yaml;

use std::fmt;

use protocol::FieldError;
use serde::Deserialize;
use serde_json::Value;

pub use graph::{Cycle, WorkflowGraph};
pub use inputs::InputValidator;
pub use model::{
    Constraint, Duration, Edge, Manifest, Memory, MemoryContext, MemoryTtl, Node, OnError, Pricing,
    Resources, Retry, Risk, Runtime, Skill, Tool, UnitPrice, Workflow,
};
pub use path::{Location, Path};
pub use schema::manifest_schema;

/// The node kinds every data plane runs. A control plane accepts these (and whatever plugin kinds its
/// operator adds); a data plane's node registry registers them.
pub const BUILTIN_NODE_KINDS: &[&str] = &[
    "llm",
    "tool",
    "transform",
    "memory_search",
    "memory_write",
    "approval",
    "a2a",
];

/// What went wrong with a manifest or a run's inputs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The document breaks one or more rules; every one found is listed, in source order.
    #[error("{}", Lines(.0))]
    Invalid(Vec<FieldError>),
}

impl Error {
    /// Every field error, in source order.
    #[must_use]
    pub fn errors(&self) -> &[FieldError] {
        match self {
            Self::Invalid(errors) => errors,
        }
    }
}

struct Lines<'a>(&'a [FieldError]);

impl fmt::Display for Lines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

/// How a manifest is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
}

impl Format {
    /// JSON for a `.json` file, YAML otherwise.
    #[must_use]
    pub fn of_path(path: &std::path::Path) -> Self {
        match path.extension().and_then(|ext| ext.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("json") => Self::Json,
            _ => Self::Yaml,
        }
    }
}

/// Parses and validates a manifest.
///
/// `node_kinds` are the workflow node kinds the caller can run (built-ins and plugins alike); a node of any
/// other kind is an error.
///
/// # Errors
///
/// [`Error::Invalid`] with every error found, each with its path and, for YAML, its line and column.
/// Any input, however malformed or large, gives `Ok` or errors, within the [limits](crate::limits).
pub fn parse(source: &[u8], format: Format, node_kinds: &[&str]) -> Result<Manifest, Error> {
    let (document, source_map, mut errors) = load(source, format)?;
    if !document.is_object() {
        errors.push(source_map.error(&Path::root(), "a manifest must be a mapping of fields"));
        return Err(invalid(errors));
    }
    errors.extend(schema::structural_errors(&document, &source_map));
    errors.extend(validate::semantic_errors(&document, node_kinds, &source_map));
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    Manifest::deserialize(&document).map_err(|error| invalid(vec![FieldError::new("", error.to_string())]))
}

fn load(source: &[u8], format: Format) -> Result<(Value, path::SourceMap, Vec<FieldError>), Error> {
    if source.len() > limits::MAX_BYTES {
        let message = format!(
            "the document is {} bytes; the limit is {} bytes",
            source.len(),
            limits::MAX_BYTES
        );
        return Err(invalid(vec![FieldError::new("", message)]));
    }
    let source = source.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(source);
    let text = std::str::from_utf8(source).map_err(|error| invalid(vec![not_utf8(source, &error)]))?;
    match format {
        Format::Yaml => {
            let loaded = yaml::load(text);
            match loaded.value {
                Some(value) => Ok((value, loaded.source_map, loaded.errors)),
                None => Err(invalid(loaded.errors)),
            }
        }
        Format::Json => {
            let value: Value = serde_json::from_str(text).map_err(|error| {
                // serde_json's message ends with the place, which the error carries separately.
                let message = error.to_string();
                let message = message
                    .rsplit_once(" at line ")
                    .map_or(message.as_str(), |(text, _)| text);
                let mut found = FieldError::new("", format!("invalid JSON: {message}"));
                found.line = u32::try_from(error.line()).ok().filter(|line| *line > 0);
                found.column = u32::try_from(error.column())
                    .ok()
                    .filter(|_| found.line.is_some());
                invalid(vec![found])
            })?;
            within_limits(&value)?;
            Ok((value, path::SourceMap::default(), Vec::new()))
        }
    }
}

/// The YAML loader enforces the limits as it reads; a JSON document is checked once parsed (serde_json
/// itself stops at 128 levels, so this walk is shallow).
fn within_limits(value: &Value) -> Result<(), Error> {
    let mut stack = vec![(value, 0_usize)];
    let mut nodes = 0_usize;
    while let Some((value, depth)) = stack.pop() {
        nodes += 1;
        if depth > limits::MAX_DEPTH {
            let message = format!("nesting is deeper than {} levels", limits::MAX_DEPTH);
            return Err(invalid(vec![FieldError::new("", message)]));
        }
        match value {
            Value::Array(items) => stack.extend(items.iter().map(|item| (item, depth + 1))),
            Value::Object(entries) => stack.extend(entries.values().map(|item| (item, depth + 1))),
            _ => {}
        }
    }
    if nodes > limits::MAX_NODES {
        let message = format!("the document has more than {} values", limits::MAX_NODES);
        return Err(invalid(vec![FieldError::new("", message)]));
    }
    Ok(())
}

fn not_utf8(source: &[u8], error: &std::str::Utf8Error) -> FieldError {
    let valid = &source[..error.valid_up_to()];
    let line_start = valid.iter().rposition(|b| *b == b'\n').map_or(0, |at| at + 1);
    let column = String::from_utf8_lossy(&valid[line_start..]).chars().count() + 1;
    FieldError {
        path: String::new(),
        message: format!("the document is not valid UTF-8 (byte {})", error.valid_up_to()),
        line: u32::try_from(valid.iter().filter(|b| **b == b'\n').count() + 1).ok(),
        column: u32::try_from(column).ok(),
    }
}

/// Errors in source order (those without a place keep their order, after those with one), duplicates
/// dropped.
fn invalid(mut errors: Vec<FieldError>) -> Error {
    errors.sort_by_key(|error| (error.line.unwrap_or(u32::MAX), error.column.unwrap_or(u32::MAX)));
    let mut seen = std::collections::HashSet::new();
    errors.retain(|error| seen.insert(error.clone()));
    Error::Invalid(errors)
}
