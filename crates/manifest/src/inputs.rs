//! Checking a run's inputs against the manifest's input schema.

use jsonschema::Validator;
use serde_json::Value;

use crate::model::Manifest;
use crate::path::{Path, SourceMap};
use crate::{Error, invalid, schema};

/// A manifest's input schema, compiled once, to check many runs' inputs.
#[derive(Debug)]
pub struct InputValidator(Validator);

impl Manifest {
    /// Compiles the input schema.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] at `input_schema` when the schema does not compile (a validated manifest's
    /// always does).
    pub fn input_validator(&self) -> Result<InputValidator, Error> {
        schema::options()
            .build(&self.input_schema)
            .map(InputValidator)
            .map_err(|error| {
                let message = format!("not a usable JSON Schema: {error}");
                invalid(vec![protocol::FieldError::new("input_schema", message)])
            })
    }
}

impl InputValidator {
    /// Checks a run's inputs, with the same error shape as a manifest's: paths under `inputs`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with every way the inputs break the schema.
    pub fn check(&self, inputs: &Value) -> Result<(), Error> {
        let errors = schema::field_errors(
            self.0.iter_errors(inputs),
            inputs,
            &Path::root().key("inputs"),
            &SourceMap::default(),
        );
        if errors.is_empty() {
            Ok(())
        } else {
            Err(invalid(errors))
        }
    }
}
