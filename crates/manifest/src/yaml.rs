//! A bounded YAML loader: saphyr's event stream into a JSON value, with where each value starts.
//!
//! Loading into JSON keeps one validation path for YAML and JSON manifests. The loader enforces the
//! [limits](crate::limits) as it goes, so a hostile document is refused before it costs memory: an alias
//! counts every node and byte it copies, and nesting stops at [`MAX_DEPTH`].
//!
//! Scalars resolve by the YAML 1.2 core schema (`true`, `null`, `12`, `1.5`; quoted scalars are strings).

use std::collections::HashMap;

use protocol::FieldError;
use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};
use serde_json::{Map, Number, Value};

use crate::limits::{MAX_DEPTH, MAX_NODES, MAX_TEXT_BYTES};
use crate::path::{Location, Path, SourceMap};

/// A loaded document. `errors` may be non-empty beside a value when the problems were local (a duplicate
/// key), so validation can go on and report more; without a value, they are why loading stopped.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    pub value: Option<Value>,
    pub source_map: SourceMap,
    pub errors: Vec<FieldError>,
}

pub(crate) fn load(text: &str) -> Loaded {
    let mut loader = Loader::default();
    let outcome = loader.run(text);
    let Loader {
        source_map,
        mut errors,
        root,
        ..
    } = loader;
    match outcome {
        Err(fatal) => {
            errors.push(fatal);
            Loaded {
                value: None,
                source_map,
                errors,
            }
        }
        Ok(()) if root.is_none() => {
            errors.push(FieldError::new("", "the document is empty"));
            Loaded {
                value: None,
                source_map,
                errors,
            }
        }
        Ok(()) => Loaded {
            value: root,
            source_map,
            errors,
        },
    }
}

/// What the next node of the stream is.
enum Slot {
    Root,
    Item(Path),
    Key,
    Value(Path),
}

enum Container {
    Sequence(Vec<Value>),
    /// The entries, and the key whose value comes next (with whether it repeats an earlier key).
    Mapping(Map<String, Value>, Option<(String, bool)>),
}

struct Frame {
    container: Container,
    path: Path,
    anchor: usize,
    budget_at_start: Budget,
}

/// What a subtree costs, so an alias to it is charged the same again.
#[derive(Clone, Copy, Debug, Default)]
struct Budget {
    nodes: usize,
    bytes: usize,
}

#[derive(Default)]
struct Loader {
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Value, Budget)>,
    spent: Budget,
    documents: usize,
    root: Option<Value>,
    source_map: SourceMap,
    errors: Vec<FieldError>,
}

fn location(span: &Span) -> Location {
    Location {
        line: u32::try_from(span.start.line()).unwrap_or(u32::MAX),
        column: u32::try_from(span.start.col().saturating_add(1)).unwrap_or(u32::MAX),
    }
}

fn error_at(span: &Span, path: &Path, message: impl Into<String>) -> FieldError {
    let at = location(span);
    FieldError {
        path: path.to_string(),
        message: message.into(),
        line: Some(at.line),
        column: Some(at.column),
    }
}

impl Loader {
    fn run(&mut self, text: &str) -> Result<(), FieldError> {
        for event in Parser::new_from_str(text) {
            let (event, span) = event.map_err(|e| FieldError {
                path: String::new(),
                message: format!("invalid YAML: {}", e.info()),
                line: u32::try_from(e.marker().line()).ok(),
                column: u32::try_from(e.marker().col().saturating_add(1)).ok(),
            })?;
            self.event(event, &span)?;
        }
        Ok(())
    }

    fn event(&mut self, event: Event<'_>, span: &Span) -> Result<(), FieldError> {
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(error_at(
                        span,
                        &Path::root(),
                        "expected one YAML document, found several",
                    ));
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let path = match self.slot() {
                    Slot::Key => return self.key(&text, span),
                    Slot::Root => Path::root(),
                    Slot::Item(path) | Slot::Value(path) => path,
                };
                self.charge(
                    Budget {
                        nodes: 1,
                        bytes: text.len(),
                    },
                    span,
                )?;
                let value = self.scalar(&text, style, tag.as_deref(), &path, span);
                if anchor > 0 {
                    self.anchors.insert(
                        anchor,
                        (
                            value.clone(),
                            Budget {
                                nodes: 1,
                                bytes: text.len(),
                            },
                        ),
                    );
                }
                self.attach(value, &path, span);
            }
            Event::SequenceStart(anchor, tag) => {
                self.open(Container::Sequence(Vec::new()), anchor, tag, span)?
            }
            Event::MappingStart(anchor, tag) => {
                self.open(Container::Mapping(Map::new(), None), anchor, tag, span)?;
            }
            Event::SequenceEnd | Event::MappingEnd => self.close(span),
            Event::Alias(anchor) => {
                let path = self.value_path(span)?;
                let Some((value, cost)) = self.anchors.get(&anchor) else {
                    return Err(error_at(span, &path, "alias to an unknown anchor"));
                };
                let (value, cost) = (value.clone(), *cost);
                self.charge(cost, span)?;
                self.attach(value, &path, span);
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
        Ok(())
    }

    fn slot(&self) -> Slot {
        match self.stack.last() {
            None => Slot::Root,
            Some(Frame {
                container: Container::Sequence(items),
                path,
                ..
            }) => Slot::Item(path.index(items.len())),
            Some(Frame {
                container: Container::Mapping(_, None),
                ..
            }) => Slot::Key,
            Some(Frame {
                container: Container::Mapping(_, Some((key, _))),
                path,
                ..
            }) => Slot::Value(path.key(key)),
        }
    }

    /// The path of the node about to start, refusing a container or alias used as a mapping key.
    fn value_path(&self, span: &Span) -> Result<Path, FieldError> {
        match self.slot() {
            Slot::Root => Ok(Path::root()),
            Slot::Item(path) | Slot::Value(path) => Ok(path),
            Slot::Key => {
                let path = self
                    .stack
                    .last()
                    .map(|frame| frame.path.clone())
                    .unwrap_or_default();
                Err(error_at(span, &path, "mapping keys must be plain scalars"))
            }
        }
    }

    fn open(
        &mut self,
        container: Container,
        anchor: usize,
        tag: Option<std::borrow::Cow<'_, Tag>>,
        span: &Span,
    ) -> Result<(), FieldError> {
        let path = self.value_path(span)?;
        if self.stack.len() >= MAX_DEPTH {
            return Err(error_at(
                span,
                &Path::root(),
                format!("nesting is deeper than {MAX_DEPTH} levels"),
            ));
        }
        if let Some(tag) = tag.as_deref().filter(|tag| !tag.is_yaml_core_schema()) {
            self.errors
                .push(error_at(span, &path, format!("unsupported YAML tag {tag}")));
        }
        self.charge(Budget { nodes: 1, bytes: 0 }, span)?;
        if let Slot::Item(_) | Slot::Root = self.slot() {
            self.source_map.record(path.clone(), location(span));
        }
        self.stack.push(Frame {
            container,
            path,
            anchor,
            budget_at_start: self.spent,
        });
        Ok(())
    }

    fn close(&mut self, span: &Span) {
        let Some(frame) = self.stack.pop() else { return };
        let value = match frame.container {
            Container::Sequence(items) => Value::Array(items),
            Container::Mapping(entries, _) => Value::Object(entries),
        };
        if frame.anchor > 0 {
            let cost = Budget {
                nodes: self.spent.nodes - frame.budget_at_start.nodes + 1,
                bytes: self.spent.bytes - frame.budget_at_start.bytes,
            };
            self.anchors.insert(frame.anchor, (value.clone(), cost));
        }
        self.attach(value, &frame.path, span);
    }

    fn key(&mut self, text: &str, span: &Span) -> Result<(), FieldError> {
        self.charge(
            Budget {
                nodes: 1,
                bytes: text.len(),
            },
            span,
        )?;
        let Some(Frame {
            container: Container::Mapping(entries, pending),
            path,
            ..
        }) = self.stack.last_mut()
        else {
            return Ok(());
        };
        let key_path = path.key(text);
        let repeated = entries.contains_key(text);
        if repeated {
            self.errors
                .push(error_at(span, &key_path, format!("duplicate key {text:?}")));
        } else {
            self.source_map.record(key_path, location(span));
        }
        *pending = Some((text.to_owned(), repeated));
        Ok(())
    }

    fn attach(&mut self, value: Value, path: &Path, span: &Span) {
        match self.stack.last_mut() {
            None => {
                self.source_map.record(path.clone(), location(span));
                self.root = Some(value);
            }
            Some(Frame {
                container: Container::Sequence(items),
                ..
            }) => {
                if !matches!(value, Value::Object(_) | Value::Array(_)) {
                    self.source_map.record(path.clone(), location(span));
                }
                items.push(value);
            }
            Some(Frame {
                container: Container::Mapping(entries, pending),
                ..
            }) => {
                if let Some((key, repeated)) = pending.take()
                    && !repeated
                {
                    entries.insert(key, value);
                }
            }
        }
    }

    fn charge(&mut self, cost: Budget, span: &Span) -> Result<(), FieldError> {
        self.spent.nodes = self.spent.nodes.saturating_add(cost.nodes);
        self.spent.bytes = self.spent.bytes.saturating_add(cost.bytes);
        if self.spent.nodes > MAX_NODES {
            let message = format!("the document has more than {MAX_NODES} values (each alias copy counts)");
            return Err(error_at(span, &Path::root(), message));
        }
        if self.spent.bytes > MAX_TEXT_BYTES {
            let message =
                format!("the document has more than {MAX_TEXT_BYTES} bytes of text (each alias copy counts)");
            return Err(error_at(span, &Path::root(), message));
        }
        Ok(())
    }

    fn scalar(
        &mut self,
        text: &str,
        style: ScalarStyle,
        tag: Option<&Tag>,
        path: &Path,
        span: &Span,
    ) -> Value {
        if let Some(tag) = tag {
            if !tag.is_yaml_core_schema() {
                self.errors
                    .push(error_at(span, path, format!("unsupported YAML tag {tag}")));
            } else if tag.suffix == "str" {
                return Value::String(text.to_owned());
            }
        }
        if style != ScalarStyle::Plain {
            return Value::String(text.to_owned());
        }
        match resolve_plain(text) {
            Ok(value) => value,
            Err(message) => {
                self.errors.push(error_at(span, path, message));
                Value::Null
            }
        }
    }
}

/// Resolves a plain scalar by the YAML 1.2 core schema.
fn resolve_plain(text: &str) -> Result<Value, String> {
    Ok(match text {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF" | ".nan"
        | ".NaN" | ".NAN" => return Err(format!("{text} is not a number JSON can hold")),
        _ => number(text).unwrap_or_else(|| Value::String(text.to_owned())),
    })
}

fn number(text: &str) -> Option<Value> {
    let radix = |prefix: &str, radix: u32| {
        text.strip_prefix(prefix)
            .filter(|digits| !digits.is_empty())
            .and_then(|digits| {
                u64::from_str_radix(digits, radix)
                    .ok()
                    .map(|n| Value::Number(n.into()))
            })
    };
    if let Some(value) = radix("0o", 8).or_else(|| radix("0x", 16)) {
        return Some(value);
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if unsigned.is_empty() {
        return None;
    }
    if unsigned.bytes().all(|b| b.is_ascii_digit()) {
        let unsigned_text = text.strip_prefix('+').unwrap_or(text);
        if let Ok(n) = unsigned_text.parse::<i64>() {
            return Some(Value::Number(n.into()));
        }
        if let Ok(n) = unsigned_text.parse::<u64>() {
            return Some(Value::Number(n.into()));
        }
    }
    let is_float = unsigned
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && unsigned
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'.')
        && unsigned.bytes().any(|b| b.is_ascii_digit());
    if !is_float {
        return None;
    }
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn value(text: &str) -> Value {
        let loaded = load(text);
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        loaded.value.unwrap()
    }

    fn errors(text: &str) -> Vec<String> {
        load(text).errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn resolves_scalars_by_the_core_schema() {
        let loaded = value(
            "a: 1\nb: -2\nc: 1.5\nd: true\ne: ~\nf: '1'\ng: 1.0.0\nh: 0x1f\ni: 0o17\nj: 1e3\nk: yes\nl: .5\n",
        );
        assert_eq!(
            loaded,
            json!({"a": 1, "b": -2, "c": 1.5, "d": true, "e": null, "f": "1", "g": "1.0.0", "h": 31, "i": 15,
                   "j": 1000.0, "k": "yes", "l": 0.5})
        );
        assert_eq!(
            value("big: 18446744073709551615"),
            json!({"big": 18_446_744_073_709_551_615_u64})
        );
        assert_eq!(value("s: !!str 12"), json!({"s": "12"}));
    }

    #[test]
    fn records_where_each_value_starts() {
        let loaded = load("name: x\nworkflow:\n  nodes:\n    - id: a\n      kind: llm\n    - id: b\n");
        let at = |path: Path| loaded.source_map.locate(&path).map(|l| (l.line, l.column));
        let nodes = Path::root().key("workflow").key("nodes");
        assert_eq!(at(Path::root().key("name")), Some((1, 1)));
        assert_eq!(at(nodes.index(0).key("kind")), Some((5, 7)));
        assert_eq!(at(nodes.index(1)), Some((6, 7)));
        assert_eq!(
            at(nodes.index(1).key("config").key("model")),
            Some((6, 7)),
            "falls back to the ancestor"
        );
    }

    #[test]
    fn expands_aliases_and_keeps_the_first_of_duplicate_keys() {
        assert_eq!(value("a: &x [1, 2]\nb: *x\n"), json!({"a": [1, 2], "b": [1, 2]}));
        let loaded = load("a: 1\nb: 2\na: 3\n");
        assert_eq!(loaded.value, Some(json!({"a": 1, "b": 2})));
        assert_eq!(errors("a: 1\nb: 2\na: 3\n"), ["3:1: a: duplicate key \"a\""]);
    }

    #[test]
    fn refuses_what_json_cannot_hold() {
        assert_eq!(
            errors("? [a]\n: 1\n"),
            ["1:3: mapping keys must be plain scalars"]
        );
        assert_eq!(
            errors("x: .nan\n"),
            ["1:4: x: .nan is not a number JSON can hold"]
        );
        assert_eq!(errors("x: !custom 1\n"), ["1:4: x: unsupported YAML tag !custom"]);
        assert_eq!(
            errors("a: 1\n---\nb: 2\n"),
            ["2:1: expected one YAML document, found several"]
        );
        assert_eq!(errors(""), ["the document is empty"]);
        assert_eq!(errors("x: *nowhere\n").len(), 1);
    }

    #[test]
    fn stops_alias_bombs_and_deep_nesting() {
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..10 {
            let previous = format!("*a{}", level - 1);
            let items = vec![previous; 10].join(", ");
            bomb.push_str(&format!("a{level}: &a{level} [{items}]\n"));
        }
        let found = errors(&bomb);
        assert_eq!(found.len(), 1);
        assert!(found[0].contains("more than 100000 values"), "{found:?}");

        let big = "x".repeat(1000);
        let mut wide = format!("a: &a {big}\nb: [");
        wide.push_str(&vec!["*a"; 5000].join(", "));
        wide.push_str("]\n");
        assert!(errors(&wide)[0].contains("bytes of text"), "{:?}", errors(&wide));

        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert_eq!(errors(&deep), ["1:65: nesting is deeper than 64 levels"]);
        // Deeper still, the parser's own flow-nesting limit answers first.
        let deeper = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(errors(&deeper), ["1:256: invalid YAML: recursion limit exceeded"]);
    }
}
