//! The expression syntax: how a node's input is built and how an edge's `when` is decided.
//!
//! Both read the run's *scope*: a JSON object with the run's inputs under `inputs` and each finished
//! node's output under its id (`{"inputs": {...}, "fetch": {...}, "normalize": [...]}`). Places in the
//! scope are JSON pointers (RFC 6901): `/inputs/period`, `/fetch/exports/0/records`.
//!
//! **Templates** (a node's `config.input`) are JSON values in which strings are read as follows:
//!
//! | string              | becomes                                                            |
//! |---------------------|--------------------------------------------------------------------|
//! | `"$/inputs/period"` | the value at that pointer; a missing value is an error naming it    |
//! | `"$?/remediate/done"` | the value at that pointer, or `null` when it is missing          |
//! | `"$"`               | the whole scope                                                     |
//! | `"normalized-${/inputs/period}"` | the string with each `${pointer}` replaced by the value's text (strings as they are, anything else as JSON) |
//! | `"$$literal"`       | the string `$literal` (a leading `$$` escapes the `$`)              |
//! | anything else       | itself                                                              |
//!
//! Objects and arrays are walked, so `{"source": "$/inputs/billing_source", "period": "$/inputs/period"}`
//! builds an object from two inputs.
//!
//! **Conditions** (an edge's `when`) are `OPERAND`, or `OPERAND OP JSON`, where `OPERAND` is a pointer
//! (`/detect/count`), optionally prefixed by `#` for its length (`#/recommend/actions`: elements of an
//! array, entries of an object, characters of a string), `OP` is one of `== != > >= < <=`, and `JSON` a
//! JSON literal (`0`, `"terminate"`, `true`, `null`). A lone operand is true unless it is missing, `null`,
//! `false`, `0`, `""`, `[]` or `{}`. A missing operand compares as `null`. Numbers compare as numbers,
//! strings as strings; `>`-like comparisons of anything else are false.
//!
//! JSON pointers were chosen over jq: they cover selecting and assembling data, which is what wiring nodes
//! together needs, with no interpreter to ship or to secure; reshaping belongs in a `transform` node.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;

/// Why an expression could not be read or evaluated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExprError {
    #[error("`{0}` is not a JSON pointer: it must be empty or start with `/`")]
    NotAPointer(String),
    #[error("nothing at `{0}`")]
    Missing(String),
    #[error("`{text}` is not a condition: {reason}")]
    BadCondition { text: String, reason: String },
    #[error("`{0}` has an unclosed `${{`")]
    Unclosed(String),
}

/// What expressions read: the run's inputs and finished nodes' outputs, by JSON pointer.
pub trait Scope {
    /// The value at `pointer` (the empty pointer: the whole scope, built on demand).
    fn lookup(&self, pointer: &str) -> Option<Cow<'_, Value>>;
}

impl Scope for Value {
    fn lookup(&self, pointer: &str) -> Option<Cow<'_, Value>> {
        self.pointer(pointer).map(Cow::Borrowed)
    }
}

/// Splits `/node/rest…` into the unescaped first token (`node`) and the pointer into its value (`/rest…`).
#[must_use]
pub fn split_pointer(pointer: &str) -> Option<(Cow<'_, str>, &str)> {
    let rest = pointer.strip_prefix('/')?;
    let (head, tail) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, ""),
    };
    let head = if head.contains('~') {
        Cow::Owned(head.replace("~1", "/").replace("~0", "~"))
    } else {
        Cow::Borrowed(head)
    };
    Some((head, tail))
}

/// A node's input, read once when the plan is built and evaluated for each run.
#[derive(Clone, Debug, PartialEq)]
pub enum Template {
    Literal(Value),
    Pointer { pointer: String, optional: bool },
    Interpolated(Vec<Piece>),
    Array(Vec<Template>),
    Object(Vec<(String, Template)>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Piece {
    Text(String),
    Pointer(String),
}

fn check_pointer(pointer: &str) -> Result<String, ExprError> {
    if pointer.is_empty() || pointer.starts_with('/') {
        Ok(pointer.to_owned())
    } else {
        Err(ExprError::NotAPointer(pointer.to_owned()))
    }
}

impl Template {
    /// Reads a template.
    ///
    /// # Errors
    ///
    /// A reference that is not a JSON pointer, or an unclosed `${`.
    pub fn parse(value: &Value) -> Result<Self, ExprError> {
        Ok(match value {
            Value::String(text) => Self::parse_string(text)?,
            Value::Array(items) => Self::Array(items.iter().map(Self::parse).collect::<Result<_, _>>()?),
            Value::Object(entries) => Self::Object(
                entries
                    .iter()
                    .map(|(key, value)| Ok((key.clone(), Self::parse(value)?)))
                    .collect::<Result<_, ExprError>>()?,
            ),
            other => Self::Literal(other.clone()),
        })
    }

    fn parse_string(text: &str) -> Result<Self, ExprError> {
        if let Some(rest) = text.strip_prefix("$$") {
            return Ok(Self::Literal(Value::String(format!("${rest}"))));
        }
        if let Some(pointer) = text.strip_prefix("$?") {
            return Ok(Self::Pointer {
                pointer: check_pointer(pointer)?,
                optional: true,
            });
        }
        if let Some(pointer) = text.strip_prefix('$')
            && !pointer.starts_with('{')
        {
            return Ok(Self::Pointer {
                pointer: check_pointer(pointer)?,
                optional: false,
            });
        }
        if !text.contains("${") {
            return Ok(Self::Literal(Value::String(text.to_owned())));
        }
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            if start > 0 {
                pieces.push(Piece::Text(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| ExprError::Unclosed(text.to_owned()))?;
            pieces.push(Piece::Pointer(check_pointer(&after[..end])?));
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        Ok(Self::Interpolated(pieces))
    }

    /// The value of the template over `scope`.
    ///
    /// # Errors
    ///
    /// [`ExprError::Missing`] naming the first required pointer with nothing behind it.
    pub fn eval(&self, scope: &impl Scope) -> Result<Value, ExprError> {
        Ok(match self {
            Self::Literal(value) => value.clone(),
            Self::Pointer { pointer, optional } => match scope.lookup(pointer) {
                Some(value) => value.into_owned(),
                None if *optional => Value::Null,
                None => return Err(ExprError::Missing(pointer.clone())),
            },
            Self::Interpolated(pieces) => {
                let mut text = String::new();
                for piece in pieces {
                    match piece {
                        Piece::Text(part) => text.push_str(part),
                        Piece::Pointer(pointer) => match scope.lookup(pointer).as_deref() {
                            Some(Value::String(part)) => text.push_str(part),
                            Some(other) => text.push_str(&other.to_string()),
                            None => return Err(ExprError::Missing(pointer.clone())),
                        },
                    }
                }
                Value::String(text)
            }
            Self::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| item.eval(scope))
                    .collect::<Result<_, _>>()?,
            ),
            Self::Object(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(key, value)| Ok((key.clone(), value.eval(scope)?)))
                    .collect::<Result<_, ExprError>>()?,
            ),
        })
    }
}

/// An edge's `when`.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pointer: String,
    length: bool,
    compare: Option<(Op, Value)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Eq => "==",
            Self::Ne => "!=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Lt => "<",
            Self::Le => "<=",
        })
    }
}

impl Condition {
    /// Reads a condition.
    ///
    /// # Errors
    ///
    /// [`ExprError::BadCondition`] saying what is wrong.
    pub fn parse(text: &str) -> Result<Self, ExprError> {
        let bad = |reason: &str| ExprError::BadCondition {
            text: text.to_owned(),
            reason: reason.to_owned(),
        };
        let trimmed = text.trim();
        let (operand, rest) = trimmed.split_once(char::is_whitespace).unwrap_or((trimmed, ""));
        let (length, pointer) = match operand.strip_prefix('#') {
            Some(pointer) => (true, pointer),
            None => (false, operand),
        };
        let pointer = pointer.strip_prefix('$').unwrap_or(pointer);
        if !pointer.starts_with('/') {
            return Err(bad("it must start with a JSON pointer such as `/node/field`"));
        }
        let rest = rest.trim();
        if rest.is_empty() {
            return Ok(Self {
                pointer: pointer.to_owned(),
                length,
                compare: None,
            });
        }
        let ops = [
            ("==", Op::Eq),
            ("!=", Op::Ne),
            (">=", Op::Ge),
            ("<=", Op::Le),
            (">", Op::Gt),
            ("<", Op::Lt),
        ];
        let (op, literal) = ops
            .iter()
            .find_map(|(token, op)| rest.strip_prefix(token).map(|literal| (*op, literal.trim())))
            .ok_or_else(|| bad("expected one of == != > >= < <= after the pointer"))?;
        let literal: Value =
            serde_json::from_str(literal).map_err(|_| bad("the right-hand side must be a JSON literal"))?;
        Ok(Self {
            pointer: pointer.to_owned(),
            length,
            compare: Some((op, literal)),
        })
    }

    /// Whether the condition holds over `scope`.
    #[must_use]
    pub fn holds(&self, scope: &impl Scope) -> bool {
        let found = scope.lookup(&self.pointer);
        let operand = if self.length {
            found.as_deref().and_then(length).map(Value::from)
        } else {
            found.map(Cow::into_owned)
        };
        match &self.compare {
            None => operand.as_ref().is_some_and(truthy),
            Some((op, literal)) => {
                let operand = operand.unwrap_or(Value::Null);
                match op {
                    Op::Eq => same(&operand, literal),
                    Op::Ne => !same(&operand, literal),
                    Op::Gt => order(&operand, literal) == Some(Ordering::Greater),
                    Op::Ge => matches!(
                        order(&operand, literal),
                        Some(Ordering::Greater | Ordering::Equal)
                    ),
                    Op::Lt => order(&operand, literal) == Some(Ordering::Less),
                    Op::Le => matches!(order(&operand, literal), Some(Ordering::Less | Ordering::Equal)),
                }
            }
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.length {
            f.write_str("#")?;
        }
        f.write_str(&self.pointer)?;
        if let Some((op, literal)) = &self.compare {
            write!(f, " {op} {literal}")?;
        }
        Ok(())
    }
}

fn length(value: &Value) -> Option<usize> {
    match value {
        Value::Array(items) => Some(items.len()),
        Value::Object(entries) => Some(entries.len()),
        Value::String(text) => Some(text.chars().count()),
        _ => None,
    }
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(flag) => *flag,
        Value::Number(number) => number.as_f64().is_some_and(|n| n != 0.0),
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(entries) => !entries.is_empty(),
    }
}

fn same(left: &Value, right: &Value) -> bool {
    match (left.as_f64(), right.as_f64()) {
        (Some(l), Some(r)) => l == r,
        _ => left == right,
    }
}

fn order(left: &Value, right: &Value) -> Option<Ordering> {
    match (left, right) {
        (Value::Number(l), Value::Number(r)) => l.as_f64()?.partial_cmp(&r.as_f64()?),
        (Value::String(l), Value::String(r)) => Some(l.cmp(r)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn scope() -> Value {
        json!({
            "inputs": {"period": "2025-11", "threshold": 3},
            "detect": {"anomalies": [{"service": "EC2"}], "count": 1, "level": "high"},
            "empty": {"items": []}
        })
    }

    fn eval(template: Value) -> Result<Value, ExprError> {
        Template::parse(&template)?.eval(&scope())
    }

    #[test]
    fn templates_select_assemble_and_interpolate() {
        assert_eq!(
            eval(json!({"period": "$/inputs/period", "first": "$/detect/anomalies/0/service", "n": 2}))
                .unwrap(),
            json!({"period": "2025-11", "first": "EC2", "n": 2})
        );
        assert_eq!(
            eval(json!(["$/inputs/threshold", "plain"])).unwrap(),
            json!([3, "plain"])
        );
        assert_eq!(
            eval(json!("normalized-${/inputs/period}-${/detect/count}")).unwrap(),
            json!("normalized-2025-11-1")
        );
        assert_eq!(eval(json!("$$5.00")).unwrap(), json!("$5.00"));
        assert_eq!(eval(json!("$?/remediate/done")).unwrap(), Value::Null);
        assert_eq!(eval(json!("$")).unwrap(), scope());
    }

    #[test]
    fn a_missing_value_is_named() {
        assert_eq!(
            eval(json!({"records": "$/normalize/records"})),
            Err(ExprError::Missing("/normalize/records".into()))
        );
        assert_eq!(
            eval(json!("x-${/nowhere}")),
            Err(ExprError::Missing("/nowhere".into()))
        );
    }

    #[test]
    fn malformed_templates_are_refused() {
        assert!(matches!(
            eval(json!("$inputs/period")),
            Err(ExprError::NotAPointer(_))
        ));
        assert!(matches!(eval(json!("a ${/inputs")), Err(ExprError::Unclosed(_))));
    }

    #[test]
    fn conditions() {
        let holds = |text: &str| Condition::parse(text).unwrap().holds(&scope());
        assert!(holds("/detect/count"));
        assert!(holds("/detect/count == 1"));
        assert!(holds("/detect/count >= 1"));
        assert!(!holds("/detect/count > 1"));
        assert!(holds("#/detect/anomalies > 0"));
        assert!(!holds("#/empty/items > 0"));
        assert!(!holds("/empty/items"));
        assert!(holds("/detect/level == \"high\""));
        assert!(holds("/detect/level != \"low\""));
        assert!(!holds("/nowhere"));
        assert!(holds("/nowhere == null"));
        assert!(
            !holds("/detect/level > 1"),
            "a string is not ordered against a number"
        );
        assert!(holds("$/inputs/threshold < 3.5"));
    }

    #[test]
    fn malformed_conditions_are_refused_with_a_reason() {
        for text in ["detect.count > 0", "/a ~ 1", "/a == not-json", ""] {
            let error = Condition::parse(text).unwrap_err();
            assert!(matches!(error, ExprError::BadCondition { .. }), "{text}: {error}");
        }
    }
}
