//! Paths into a document (`workflow.nodes[2].kind`) and where each one starts in the source.

use std::collections::HashMap;
use std::fmt::{self, Write as _};

use protocol::FieldError;

/// A path into a document, written the way a reader points at a field: `workflow.nodes[2].kind`.
///
/// Keys that are not plain identifiers are quoted: `input_schema.properties["cost.usd"]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Path(String);

impl Path {
    #[must_use]
    pub fn root() -> Self {
        Self::default()
    }

    #[must_use]
    pub fn key(&self, key: &str) -> Self {
        let mut path = self.0.clone();
        let plain = !key.is_empty()
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'$');
        if plain {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(key);
        } else {
            let _ = write!(path, "[{key:?}]");
        }
        Self(path)
    }

    #[must_use]
    pub fn index(&self, index: usize) -> Self {
        let mut path = self.0.clone();
        let _ = write!(path, "[{index}]");
        Self(path)
    }

    /// This path extended by a JSON pointer (`/workflow/nodes/2/kind`) into `document`, which is read so
    /// that array indexes and numeric-looking keys are told apart.
    #[must_use]
    pub fn join_pointer(&self, pointer: &str, document: &serde_json::Value) -> Self {
        let mut path = self.clone();
        let mut value = Some(document);
        for token in pointer.split('/').skip(1) {
            let token = token.replace("~1", "/").replace("~0", "~");
            match (value, token.parse::<usize>()) {
                (Some(serde_json::Value::Array(items)), Ok(index)) => {
                    path = path.index(index);
                    value = items.get(index);
                }
                (current, _) => {
                    value = current.and_then(|v| v.get(&token));
                    path = path.key(&token);
                }
            }
        }
        path
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path one step up, or `None` at the root.
    #[must_use]
    pub fn parent(&self) -> Option<Self> {
        if self.0.is_empty() {
            return None;
        }
        let cut = if self.0.ends_with(']') {
            // `a[3]` or `a["x.y"]`: cut at the `[` that opens the last segment.
            self.last_bracket()
        } else {
            self.0.rfind('.').unwrap_or(0)
        };
        Some(Self(self.0[..cut].to_owned()))
    }

    fn last_bracket(&self) -> usize {
        let bytes = self.0.as_bytes();
        let mut in_quotes = false;
        let mut cut = 0;
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' if in_quotes => i += 1,
                b'"' => in_quotes = !in_quotes,
                b'[' if !in_quotes => cut = i,
                _ => {}
            }
            i += 1;
        }
        cut
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A 1-based line and column in the source text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    pub line: u32,
    pub column: u32,
}

/// Where each path of a document starts in its source, for errors that point at a line.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    starts: HashMap<Path, Location>,
}

impl SourceMap {
    pub(crate) fn record(&mut self, path: Path, location: Location) {
        self.starts.entry(path).or_insert(location);
    }

    /// Where `path` starts, or else where its nearest recorded ancestor does.
    #[must_use]
    pub fn locate(&self, path: &Path) -> Option<Location> {
        let mut current = Some(path.clone());
        while let Some(path) = current {
            if let Some(location) = self.starts.get(&path) {
                return Some(*location);
            }
            current = path.parent();
        }
        None
    }

    /// An error at `path`, with its line and column when the source has them.
    #[must_use]
    pub fn error(&self, path: &Path, message: impl Into<String>) -> FieldError {
        let mut error = FieldError::new(path.as_str(), message);
        if let Some(location) = self.locate(path) {
            error.line = Some(location.line);
            error.column = Some(location.column);
        }
        error
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn builds_readable_paths() {
        let path = Path::root().key("workflow").key("nodes").index(2).key("kind");
        assert_eq!(path.as_str(), "workflow.nodes[2].kind");
        assert_eq!(
            Path::root().key("properties").key("cost.usd").as_str(),
            "properties[\"cost.usd\"]"
        );
        assert_eq!(Path::root().index(0).as_str(), "[0]");
    }

    #[test]
    fn walks_up_to_the_parent() {
        let path = Path::root().key("a").key("x.y[0]").index(3);
        let up: Vec<String> = std::iter::successors(Some(path), Path::parent)
            .map(|p| p.0)
            .collect();
        assert_eq!(up, ["a[\"x.y[0]\"][3]", "a[\"x.y[0]\"]", "a", ""]);
    }

    #[test]
    fn reads_json_pointers_against_the_document() {
        let document = json!({"workflow": {"nodes": [{}, {}, {"kind": "x"}]}, "props": {"2": {}}});
        let root = Path::root();
        assert_eq!(
            root.join_pointer("/workflow/nodes/2/kind", &document).as_str(),
            "workflow.nodes[2].kind"
        );
        assert_eq!(root.join_pointer("/props/2", &document).as_str(), "props.2");
        assert_eq!(root.join_pointer("/a~1b", &document).as_str(), "[\"a/b\"]");
        assert_eq!(root.join_pointer("", &document).as_str(), "");
        assert_eq!(
            root.key("inputs").join_pointer("/0", &json!([1])).as_str(),
            "inputs[0]"
        );
    }
}
