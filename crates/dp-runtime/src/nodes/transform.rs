//! `transform`: pure data shaping of the node's input (built by its `input` template), no side effects.
//!
//! `op` picks what is done to the input (default `identity`):
//!
//! - `identity`: the input itself (the template did the shaping);
//! - `length`: elements of an array, entries of an object, characters of a string;
//! - `flatten`: an array of arrays as one array;
//! - `merge`: an array of objects as one object, later keys winning;
//! - `sum` with `field`: the total of that field over an array of objects (decimal strings such as
//!   `"1.276500"` are added exactly, as micro-dollars, and the total is a decimal string);
//! - `group_sum` with `by` and `field`: those totals per value of `by`, as an object.

use std::collections::BTreeMap;

use protocol::Money;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Node, NodeContext, NodeError, NodeOutcome};

#[derive(Clone, Copy, Debug, Default)]
pub struct Transform;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    #[default]
    Identity,
    Length,
    Flatten,
    Merge,
    Sum,
    GroupSum,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformConfig {
    #[serde(default)]
    pub op: Op,
    pub field: Option<String>,
    pub by: Option<String>,
}

impl Node for Transform {
    const KIND: &'static str = "transform";
    type Config = TransformConfig;

    fn check(&self, config: &TransformConfig) -> Result<(), String> {
        match config.op {
            Op::Sum if config.field.is_none() => Err("`sum` needs `field`".to_owned()),
            Op::GroupSum if config.field.is_none() || config.by.is_none() => {
                Err("`group_sum` needs `by` and `field`".to_owned())
            }
            _ => Ok(()),
        }
    }

    async fn run(
        &self,
        config: &TransformConfig,
        input: Value,
        _ctx: &NodeContext,
    ) -> Result<NodeOutcome, NodeError> {
        apply(config, input)
            .map(NodeOutcome::Done)
            .map_err(NodeError::fatal)
    }
}

/// Applies a transform to a value.
///
/// # Errors
///
/// What in the input does not fit the operation.
pub fn apply(config: &TransformConfig, input: Value) -> Result<Value, String> {
    let field = config.field.as_deref().unwrap_or_default();
    Ok(match config.op {
        Op::Identity => input,
        Op::Length => Value::from(match &input {
            Value::Array(items) => items.len(),
            Value::Object(entries) => entries.len(),
            Value::String(text) => text.chars().count(),
            other => return Err(format!("`length` of {}", kind_of(other))),
        }),
        Op::Flatten => Value::Array(
            array(input)?
                .into_iter()
                .flat_map(|item| match item {
                    Value::Array(inner) => inner,
                    other => vec![other],
                })
                .collect(),
        ),
        Op::Merge => {
            let mut merged = Map::new();
            for (index, item) in array(input)?.into_iter().enumerate() {
                match item {
                    Value::Object(entries) => merged.extend(entries),
                    other => return Err(format!("item {index} is {}, not an object", kind_of(&other))),
                }
            }
            Value::Object(merged)
        }
        Op::Sum => {
            let mut total = Total::default();
            for (index, item) in array(input)?.iter().enumerate() {
                total.add(item.get(field), index, field)?;
            }
            total.value()
        }
        Op::GroupSum => {
            let by = config.by.as_deref().unwrap_or_default();
            let mut groups: BTreeMap<String, Total> = BTreeMap::new();
            for (index, item) in array(input)?.iter().enumerate() {
                let key = match item.get(by) {
                    Some(Value::String(key)) => key.clone(),
                    Some(other) => other.to_string(),
                    None => return Err(format!("item {index} has no `{by}`")),
                };
                groups
                    .entry(key)
                    .or_default()
                    .add(item.get(field), index, field)?;
            }
            Value::Object(
                groups
                    .into_iter()
                    .map(|(key, total)| (key, total.value()))
                    .collect(),
            )
        }
    })
}

fn array(input: Value) -> Result<Vec<Value>, String> {
    match input {
        Value::Array(items) => Ok(items),
        other => Err(format!("the input is {}, not an array", kind_of(&other))),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A sum of decimal strings (exact) or of numbers.
#[derive(Debug, Default)]
struct Total {
    micros: i64,
    float: f64,
    decimal: bool,
}

impl Total {
    fn add(&mut self, value: Option<&Value>, index: usize, field: &str) -> Result<(), String> {
        match value {
            Some(Value::String(text)) => {
                let amount: Money = text
                    .parse()
                    .map_err(|error| format!("item {index}.{field}: {error}"))?;
                self.micros = self
                    .micros
                    .checked_add(amount.micros())
                    .ok_or_else(|| format!("item {index}.{field}: the total overflows"))?;
                self.decimal = true;
            }
            Some(Value::Number(number)) => self.float += number.as_f64().unwrap_or_default(),
            Some(other) => {
                return Err(format!(
                    "item {index}.{field} is {}, not a number",
                    kind_of(other)
                ));
            }
            None => return Err(format!("item {index} has no `{field}`")),
        }
        Ok(())
    }

    fn value(&self) -> Value {
        if self.decimal {
            Value::String(Money::from_micros(self.micros).to_string())
        } else {
            serde_json::Number::from_f64(self.float).map_or(Value::Null, Value::Number)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(op: Value, input: Value) -> Result<Value, String> {
        let config: TransformConfig = serde_json::from_value(op).unwrap();
        apply(&config, input)
    }

    #[test]
    fn shapes_data() {
        let records = json!([
            {"service": "EC2", "cost": "1.250000"},
            {"service": "S3", "cost": "0.100000"},
            {"service": "EC2", "cost": "2.000001"}
        ]);
        assert_eq!(run(json!({}), json!(1)).unwrap(), json!(1));
        assert_eq!(run(json!({"op": "length"}), records.clone()).unwrap(), json!(3));
        assert_eq!(
            run(json!({"op": "sum", "field": "cost"}), records.clone()).unwrap(),
            json!("3.350001")
        );
        assert_eq!(
            run(
                json!({"op": "group_sum", "by": "service", "field": "cost"}),
                records
            )
            .unwrap(),
            json!({"EC2": "3.250001", "S3": "0.10"})
        );
        assert_eq!(
            run(json!({"op": "flatten"}), json!([[1], [2, 3], 4])).unwrap(),
            json!([1, 2, 3, 4])
        );
        assert_eq!(
            run(json!({"op": "merge"}), json!([{"a": 1}, {"b": 2, "a": 3}])).unwrap(),
            json!({"a": 3, "b": 2})
        );
    }

    #[test]
    fn says_what_does_not_fit() {
        assert_eq!(
            run(json!({"op": "sum", "field": "cost"}), json!([{"cost": "1"}, {}])).unwrap_err(),
            "item 1 has no `cost`"
        );
        assert_eq!(
            run(json!({"op": "flatten"}), json!({})).unwrap_err(),
            "the input is an object, not an array"
        );
        assert!(
            Transform
                .check(&serde_json::from_value(json!({"op": "sum"})).unwrap())
                .is_err()
        );
    }
}
