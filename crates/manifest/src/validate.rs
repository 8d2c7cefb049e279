//! The rules a schema cannot say: the workflow is a DAG of known node kinds over declared tools, names are
//! unique, retention is within limits, and the embedded JSON Schemas are themselves valid.
//!
//! The rules read the document's values directly rather than the typed model, so a mistake the structural
//! pass reports (a misspelt field in one node) does not hide the mistakes these rules find elsewhere.

use std::collections::HashMap;

use protocol::FieldError;
use serde_json::{Map, Value};

use crate::limits::{MAX_TTL, MIN_TTL};
use crate::model::{Duration, Edge, Node, OnError, Workflow, tools_called};
use crate::path::{Path, SourceMap};
use crate::schema;

struct Checker<'a> {
    source_map: &'a SourceMap,
    errors: Vec<FieldError>,
}

impl Checker<'_> {
    fn error(&mut self, path: &Path, message: impl Into<String>) {
        self.errors.push(self.source_map.error(path, message));
    }
}

/// Every semantic error of a manifest document.
pub(crate) fn semantic_errors(
    document: &Value,
    node_kinds: &[&str],
    source_map: &SourceMap,
) -> Vec<FieldError> {
    let mut checker = Checker {
        source_map,
        errors: Vec::new(),
    };
    let root = Path::root();

    let tool_names = strings_at(document, &["tools"], "name");
    unique(&mut checker, &root.key("tools"), &tool_names, "name", "tool");
    let namespaces: Vec<Option<&str>> = document
        .get("memory")
        .and_then(|memory| memory.get("knowledge"))
        .and_then(Value::as_array)
        .map(|items| items.iter().map(Value::as_str).collect())
        .unwrap_or_default();
    check_workflow(
        &mut checker,
        document.get("workflow"),
        node_kinds,
        &Declared {
            tools: &tool_names,
            namespaces: &namespaces,
        },
    );
    unique(
        &mut checker,
        &root.key("skills"),
        &strings_at(document, &["skills"], "id"),
        "id",
        "skill",
    );
    check_memory(&mut checker, document.get("memory"));
    for key in ["input_schema", "output_schema"] {
        if let Some(schema) = document.get(key) {
            check_json_schema(&mut checker, &root.key(key), schema);
        }
    }
    checker.errors
}

/// For the list at `list_path`, each item's string field `field` (`None` where it is missing or not a string).
fn strings_at<'a>(document: &'a Value, list_path: &[&str], field: &str) -> Vec<Option<&'a str>> {
    let list = list_path.iter().try_fold(document, |value, key| value.get(key));
    list.and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|item| item.get(field).and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default()
}

fn unique(checker: &mut Checker<'_>, list: &Path, names: &[Option<&str>], field: &str, what: &str) {
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (index, name) in names.iter().enumerate() {
        let Some(name) = name else { continue };
        if let Some(earlier) = first.get(name) {
            let message = format!(
                "duplicate {what} {field} {name:?} (first at {})",
                list.index(*earlier)
            );
            checker.error(&list.index(index).key(field), message);
        } else {
            first.insert(name, index);
        }
    }
}

/// What the manifest declares that its workflow's nodes may use.
struct Declared<'a> {
    tools: &'a [Option<&'a str>],
    /// `memory.knowledge`.
    namespaces: &'a [Option<&'a str>],
}

fn check_workflow(
    checker: &mut Checker<'_>,
    workflow: Option<&Value>,
    node_kinds: &[&str],
    declared: &Declared<'_>,
) {
    let Some(workflow) = workflow else { return };
    let nodes_at = Path::root().key("workflow").key("nodes");
    let edges_at = Path::root().key("workflow").key("edges");
    let node_values = workflow
        .get("nodes")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let edge_values = workflow
        .get("edges")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let ids = strings_at(workflow, &["nodes"], "id");

    if node_values.is_empty() && workflow.get("nodes").is_some_and(Value::is_array) {
        checker.error(&nodes_at, "a workflow needs at least one node");
    }
    unique(checker, &nodes_at, &ids, "id", "node");
    for (index, node) in node_values.iter().enumerate() {
        let at = nodes_at.index(index);
        if let Some(kind) = node.get("kind").and_then(Value::as_str)
            && !node_kinds.contains(&kind)
        {
            checker.error(&at.key("kind"), format!("unknown node kind {kind:?}"));
        }
        if let Some(config) = node.get("config").and_then(Value::as_object) {
            check_tool_uses(checker, &at.key("config"), config, declared.tools);
            let kind = node.get("kind").and_then(Value::as_str);
            check_namespace_uses(checker, &at.key("config"), kind, config, declared.namespaces);
        }
    }

    let mut seen: HashMap<(&str, &str), usize> = HashMap::new();
    let mut edges = Vec::with_capacity(edge_values.len());
    for (index, edge) in edge_values.iter().enumerate() {
        let at = edges_at.index(index);
        let (Some(from), Some(to)) = (
            edge.get("from").and_then(Value::as_str),
            edge.get("to").and_then(Value::as_str),
        ) else {
            continue;
        };
        for (end, id) in [("from", from), ("to", to)] {
            if !ids.contains(&Some(id)) {
                checker.error(&at.key(end), format!("no node has the id {id:?}"));
            }
        }
        if let Some(earlier) = seen.insert((from, to), index) {
            checker.error(
                &at,
                format!(
                    "duplicate edge {from} -> {to} (first at {})",
                    edges_at.index(earlier)
                ),
            );
        }
        edges.push((
            index,
            Edge {
                from: from.to_owned(),
                to: to.to_owned(),
                when: None,
            },
        ));
    }
    check_cycles(checker, &ids, edges, &edges_at);
}

/// Cycles among the nodes and edges that are well-formed enough to have ids.
fn check_cycles(checker: &mut Checker<'_>, ids: &[Option<&str>], edges: Vec<(usize, Edge)>, edges_at: &Path) {
    let skeleton = |id: Option<&str>| Node {
        id: id.unwrap_or_default().to_owned(),
        kind: String::new(),
        description: None,
        config: Map::new(),
        retry: None,
        timeout: None,
        on_error: OnError::Fail,
    };
    let positions: Vec<usize> = edges.iter().map(|(index, _)| *index).collect();
    let workflow = Workflow {
        nodes: ids.iter().map(|id| skeleton(*id)).collect(),
        edges: edges.into_iter().map(|(_, edge)| edge).collect(),
    };
    for cycle in workflow.cycles() {
        let names: Vec<&str> = cycle
            .nodes
            .iter()
            .map(|index| workflow.nodes[*index].id.as_str())
            .collect();
        let message = format!("this edge closes a cycle: {}", names.join(" -> "));
        checker.error(&edges_at.index(positions[cycle.closing_edge]), message);
    }
}

/// Knowledge namespaces a node names must be declared under `memory.knowledge`: a memory node's `namespace`,
/// an `llm` node's `memory.namespaces`.
fn check_namespace_uses(
    checker: &mut Checker<'_>,
    config: &Path,
    kind: Option<&str>,
    values: &Map<String, Value>,
    declared: &[Option<&str>],
) {
    let mut check = |path: Path, namespace: &str| {
        if !declared.contains(&Some(namespace)) {
            checker.error(
                &path,
                format!("namespace {namespace:?} is not declared under memory.knowledge"),
            );
        }
    };
    match kind {
        Some("memory_search" | "memory_write") => {
            if let Some(Value::String(namespace)) = values.get("namespace") {
                check(config.key("namespace"), namespace);
            }
        }
        Some("llm") => {
            let names = values
                .get("memory")
                .and_then(|memory| memory.get("namespaces"))
                .and_then(Value::as_array);
            for (index, name) in names.into_iter().flatten().enumerate() {
                if let Value::String(namespace) = name {
                    check(config.key("memory").key("namespaces").index(index), namespace);
                }
            }
        }
        _ => {}
    }
}

/// Tools a node names in its config (`tool: name`, or `tools: [names]`) must be declared under `tools`.
fn check_tool_uses(
    checker: &mut Checker<'_>,
    config: &Path,
    values: &Map<String, Value>,
    tools: &[Option<&str>],
) {
    for (index, name) in tools_called(values) {
        if !tools.contains(&Some(name)) {
            let path = match index {
                None => config.key("tool"),
                Some(index) => config.key("tools").index(index),
            };
            checker.error(&path, format!("tool {name:?} is not declared under tools"));
        }
    }
}

fn check_memory(checker: &mut Checker<'_>, memory: Option<&Value>) {
    let Some(memory) = memory else { return };
    let at = Path::root().key("memory");
    let namespaces: Vec<Option<&str>> = memory
        .get("knowledge")
        .and_then(Value::as_array)
        .map(|items| items.iter().map(Value::as_str).collect())
        .unwrap_or_default();
    let knowledge = at.key("knowledge");
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (index, namespace) in namespaces.iter().enumerate() {
        let Some(namespace) = namespace else { continue };
        if let Some(earlier) = first.insert(namespace, index) {
            let message = format!(
                "duplicate namespace {namespace:?} (first at {})",
                knowledge.index(earlier)
            );
            checker.error(&knowledge.index(index), message);
        }
    }
    for level in ["task", "episode"] {
        let Some(text) = memory
            .get("ttl")
            .and_then(|ttl| ttl.get(level))
            .and_then(Value::as_str)
        else {
            continue;
        };
        if let Ok(ttl) = text.parse::<Duration>()
            && !(MIN_TTL..=MAX_TTL).contains(&ttl.0)
        {
            let message = format!(
                "retention {text:?} is outside the allowed {} to {}",
                Duration(MIN_TTL),
                Duration(MAX_TTL)
            );
            checker.error(&at.key("ttl").key(level), message);
        }
    }
}

/// A schema embedded in the manifest must itself be valid: by its meta-schema, every `pattern` a regular
/// expression, and then it must compile (which finds the rest, such as a `$ref` to nowhere).
fn check_json_schema(checker: &mut Checker<'_>, at: &Path, schema: &Value) {
    let meta = match jsonschema::meta::validator_for(schema) {
        Ok(meta) => meta,
        Err(error) => return checker.error(at, format!("not a usable JSON Schema: {error}")),
    };
    let before = checker.errors.len();
    let errors = schema::field_errors(meta.iter_errors(schema), schema, at, checker.source_map);
    checker.errors.extend(errors);
    check_patterns(checker, at, schema);
    if checker.errors.len() == before
        && let Err(error) = schema::options().build(schema)
    {
        checker.error(at, format!("not a usable JSON Schema: {error}"));
    }
}

/// Each `pattern` keyword compiled on its own, so a bad one is reported beside the meta-schema's errors.
fn check_patterns(checker: &mut Checker<'_>, at: &Path, schema: &Value) {
    match schema {
        Value::Object(entries) => {
            for (key, value) in entries {
                let here = at.key(key);
                if let (true, Some(pattern)) = (key == "pattern", value.as_str())
                    && schema::options()
                        .build(&serde_json::json!({ "pattern": pattern }))
                        .is_err()
                {
                    checker.error(&here, format!("{pattern:?} is not a valid regular expression"));
                }
                check_patterns(checker, &here, value);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                check_patterns(checker, &at.index(index), item);
            }
        }
        _ => {}
    }
}
