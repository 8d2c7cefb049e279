//! The manifest's JSON Schema, derived from the typed model, and the one place that turns JSON Schema
//! validation errors into field errors (for manifests and for run inputs alike).

use std::sync::LazyLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{ValidationError, Validator};
use protocol::FieldError;
use schemars::generate::SchemaSettings;
use serde_json::Value;

use crate::format::{FORMATS, explain};
use crate::model::Manifest;
use crate::path::{Path, SourceMap};

/// The JSON Schema of a manifest (draft 2020-12), for editors and for the structural pass.
///
/// Optional fields are simply not required: an explicit `null` is refused, so the schema allows exactly
/// what the typed model reads.
#[must_use]
pub fn manifest_schema() -> Value {
    let generator = SchemaSettings::draft2020_12().into_generator();
    let mut schema = generator.into_root_schema_for::<Manifest>().to_value();
    drop_null(&mut schema);
    schema
}

static MANIFEST_VALIDATOR: LazyLock<Validator> = LazyLock::new(|| {
    #[expect(
        clippy::expect_used,
        reason = "the schema is derived from our own types; a unit test compiles it"
    )]
    options()
        .build(&manifest_schema())
        .expect("the derived manifest schema compiles")
});

/// Options for validating against a schema: our formats, checked.
pub(crate) fn options() -> jsonschema::ValidationOptions<'static> {
    FORMATS.iter().fold(
        jsonschema::options().should_validate_formats(true),
        |options, (name, check)| {
            let check = *check;
            options.with_format(*name, move |text: &str| check(text).is_ok())
        },
    )
}

/// Every structural error of a manifest document.
pub(crate) fn structural_errors(document: &Value, source_map: &SourceMap) -> Vec<FieldError> {
    field_errors(
        MANIFEST_VALIDATOR.iter_errors(document),
        document,
        &Path::root(),
        source_map,
    )
}

/// Field errors for JSON Schema validation errors of `instance`, with paths under `prefix`.
pub(crate) fn field_errors<'a>(
    errors: impl Iterator<Item = ValidationError<'a>>,
    instance: &Value,
    prefix: &Path,
    source_map: &SourceMap,
) -> Vec<FieldError> {
    let mut found = Vec::new();
    for error in errors {
        let at = prefix.join_pointer(error.instance_path().as_str(), instance);
        match error.kind() {
            ValidationErrorKind::Required { property } => {
                let field = property
                    .as_str()
                    .map_or_else(|| property.to_string(), str::to_owned);
                found.push(source_map.error(&at.key(&field), "missing required field"));
            }
            ValidationErrorKind::AdditionalProperties { unexpected }
            | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
                found.extend(
                    unexpected
                        .iter()
                        .map(|field| source_map.error(&at.key(field), "unknown field")),
                );
            }
            _ => found.push(source_map.error(&at, describe(&error))),
        }
    }
    found
}

fn describe(error: &ValidationError<'_>) -> String {
    let instance = error.instance();
    match error.kind() {
        ValidationErrorKind::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(ty) => ty.to_string(),
                TypeKind::Multiple(types) => types
                    .iter()
                    .map(|ty| ty.to_string())
                    .collect::<Vec<_>>()
                    .join(" or "),
            };
            let hint = if expected == "string" && instance.is_number() {
                " (quote it)"
            } else {
                ""
            };
            format!("expected {expected}, found {}{hint}", shown(instance))
        }
        ValidationErrorKind::Enum { options } => {
            let choices = options.as_array().map_or_else(
                || options.to_string(),
                |choices| choices.iter().map(plain).collect::<Vec<_>>().join(", "),
            );
            format!("unknown value {}; expected one of: {choices}", shown(instance))
        }
        ValidationErrorKind::Constant { expected_value } => {
            format!("unknown value {}; expected {expected_value}", shown(instance))
        }
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            best_alternative(context, instance)
        }
        ValidationErrorKind::Format { format } => instance
            .as_str()
            .and_then(|text| explain(format, text))
            .unwrap_or_else(|| format!("{} is not a valid {format}", shown(instance))),
        // The validator's own wording for the kinds not reworded here ("3 is less than the minimum of 1").
        _ => error.to_string(),
    }
}

/// Says why no alternative of an `anyOf` / `oneOf` matched: the allowed values when the alternatives are
/// all constants, else the first failure of an alternative that at least had the right type (the one the
/// author most likely meant), else the types that would do.
fn best_alternative(alternatives: &[Vec<ValidationError<'static>>], instance: &Value) -> String {
    let failures = || alternatives.iter().flatten();
    let allowed: Option<Vec<String>> = failures()
        .map(|error| match error.kind() {
            ValidationErrorKind::Constant { expected_value } => Some(vec![plain(expected_value)]),
            ValidationErrorKind::Enum { options } => Some(
                options
                    .as_array()
                    .map(|all| all.iter().map(plain).collect())
                    .unwrap_or_default(),
            ),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()
        .map(|lists| lists.concat());
    if let Some(allowed) = allowed.filter(|allowed| !allowed.is_empty()) {
        return format!(
            "unknown value {}; expected one of: {}",
            shown(instance),
            allowed.join(", ")
        );
    }
    if let Some(meant) = failures().find(|error| !matches!(error.kind(), ValidationErrorKind::Type { .. })) {
        return describe(meant);
    }
    format!("{} is not any of the allowed forms", shown(instance))
}

fn plain(value: &Value) -> String {
    value.as_str().map_or_else(|| value.to_string(), str::to_owned)
}

fn shown(value: &Value) -> String {
    let kind = match value {
        // An empty YAML value (`edges:` with nothing after it) reads as null.
        Value::Null => return "nothing (null)".to_owned(),
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => return "an array".to_owned(),
        Value::Object(_) => return "an object".to_owned(),
    };
    let mut text = value.to_string();
    if text.len() > 60 {
        text.truncate(text.floor_char_boundary(57));
        text.push_str("...");
    }
    format!("{kind} {text}")
}

/// Removes `null` from every `type` list and `anyOf`, as the typed model never reads `null`.
fn drop_null(schema: &mut Value) {
    match schema {
        Value::Object(object) => {
            if let Some(Value::Array(types)) = object.get_mut("type") {
                types.retain(|ty| ty != "null");
                if let [single] = types.as_slice() {
                    let single = single.clone();
                    object.insert("type".to_owned(), single);
                }
            }
            if let Some(Value::Array(alternatives)) = object.get_mut("anyOf") {
                alternatives.retain(|alternative| alternative.get("type").is_none_or(|ty| ty != "null"));
                if let [Value::Object(single)] = alternatives.as_slice() {
                    let single = single.clone();
                    object.remove("anyOf");
                    object.extend(single);
                }
            }
            object.values_mut().for_each(drop_null);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_null),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_derived_schema_compiles_and_forbids_null() {
        let schema = manifest_schema();
        assert!(!schema.to_string().contains("\"null\""), "{schema}");
        LazyLock::force(&MANIFEST_VALIDATOR);
    }
}
