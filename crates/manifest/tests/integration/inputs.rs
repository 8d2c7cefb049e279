//! A run's inputs are checked against the manifest's input schema, with the same error shape.

use manifest::Format;
use serde_json::json;

use crate::{KINDS, example};

fn validator() -> manifest::InputValidator {
    let manifest = manifest::parse(&example("billing-normalizer.yaml"), Format::Yaml, KINDS).unwrap();
    manifest.input_validator().unwrap()
}

#[test]
fn good_inputs_pass() {
    validator()
        .check(&json!({"billing_source": "file://examples/finops/data", "period": "2025-11"}))
        .unwrap();
}

#[test]
fn every_input_error_is_reported_with_its_path() {
    let error = validator()
        .check(&json!({"billing_source": "", "period": "2025/11", "colour": "blue"}))
        .unwrap_err();
    let lines: Vec<String> = error.errors().iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "inputs.billing_source: \"\" is shorter than 1 character",
            "inputs.period: \"2025/11\" does not match \"^[0-9]{4}-(0[1-9]|1[0-2])$\"",
            "inputs.colour: unknown field",
        ]
    );
    let missing = validator().check(&json!({})).unwrap_err();
    let paths: Vec<&str> = missing.errors().iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["inputs.billing_source", "inputs.period"]);
    let not_an_object = validator().check(&json!([1, 2])).unwrap_err();
    assert_eq!(
        not_an_object.to_string(),
        "inputs: expected object, found an array"
    );
}
