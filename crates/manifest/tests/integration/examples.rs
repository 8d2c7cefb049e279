//! The FinOps pair parses, from YAML and from JSON, into what the files say.

use manifest::{Constraint, Format, Risk};
use protocol::Money;

use crate::{KINDS, example};

#[test]
fn the_billing_normalizer_reads_as_written() {
    let manifest = manifest::parse(&example("billing-normalizer.yaml"), Format::Yaml, KINDS).unwrap();
    assert_eq!(manifest.id, "com.aicloud.finops.billing-normalizer");
    assert_eq!(manifest.version, semver::Version::new(1, 0, 0));
    assert_eq!(manifest.workflow.nodes.len(), 6);
    let normalize = &manifest.workflow.nodes[1];
    assert_eq!(normalize.id, "normalize");
    assert_eq!(normalize.retry.as_ref().unwrap().max_attempts, 3);
    assert_eq!(normalize.timeout.unwrap().0, std::time::Duration::from_secs(120));
    assert!(manifest.workflow.cycles().is_empty());
    let pricing = &manifest.pricing;
    assert_eq!(pricing.per_run, Some(Money::from_micros(500_000)));
    assert_eq!(
        pricing
            .per_unit
            .as_ref()
            .map(|unit| (unit.unit.as_str(), unit.price.micros())),
        Some(("record", 1_000))
    );
    assert_eq!(pricing.per_cpu_hour, Some(Money::from_micros(500_000)));
    assert!(!pricing.is_free());
    assert_eq!(
        manifest.memory.knowledge,
        ["customer_environments", "cost_anomalies"]
    );
    assert_eq!(manifest.risk(), Risk::Low);
    assert_eq!(
        manifest.needs().into_iter().collect::<Vec<_>>(),
        [
            "a2a",
            "llm",
            "memory_search",
            "memory_write",
            "tool",
            "tool:billing.normalize",
            "transform"
        ]
    );
}

#[test]
fn the_anomaly_detector_puts_remediation_behind_a_human() {
    let manifest = manifest::parse(&example("anomaly-detector.yaml"), Format::Yaml, KINDS).unwrap();
    assert_eq!(
        manifest.constraints,
        [Constraint::RequiresHumanApprovalForRemediation]
    );
    let remediate = manifest.tool("cloud.remediate").unwrap();
    assert!(manifest.tool_needs_approval(remediate));
    assert!(!manifest.tool_needs_approval(manifest.tool("finops.detect_anomalies_in_report").unwrap()));
    assert_eq!(manifest.risk(), Risk::High);
    assert_eq!(manifest.pricing.monthly, Some(Money::from_micros(49_000_000)));
    let conditional = manifest
        .workflow
        .edges
        .iter()
        .find(|edge| edge.to == "remediate")
        .unwrap();
    assert!(conditional.when.is_some());
}

#[test]
fn a_manifest_written_back_as_json_parses_to_the_same_manifest() {
    for name in ["billing-normalizer.yaml", "anomaly-detector.yaml"] {
        let manifest = manifest::parse(&example(name), Format::Yaml, KINDS).unwrap();
        let json = serde_json::to_vec_pretty(&manifest).unwrap();
        let again =
            manifest::parse(&json, Format::Json, KINDS).unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(again, manifest);
    }
}

#[test]
fn node_kinds_are_the_callers() {
    let source = example("billing-normalizer.yaml");
    let without_llm: Vec<&str> = KINDS.iter().copied().filter(|kind| *kind != "llm").collect();
    let error = manifest::parse(&source, Format::Yaml, &without_llm).unwrap_err();
    assert_eq!(
        error.to_string(),
        "76:7: workflow.nodes[2].kind: unknown node kind \"llm\""
    );

    let plugin = String::from_utf8(source)
        .unwrap()
        .replacen("kind: transform", "kind: sql", 1);
    assert!(
        manifest::parse(plugin.as_bytes(), Format::Yaml, KINDS).is_ok(),
        "a plugin kind the caller knows"
    );
    assert!(manifest::parse(plugin.as_bytes(), Format::Yaml, &without_llm).is_err());
}

#[test]
fn the_published_schema_accepts_the_examples() {
    let schema = manifest::manifest_schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for name in ["billing-normalizer.yaml", "anomaly-detector.yaml"] {
        let manifest = manifest::parse(&example(name), Format::Yaml, KINDS).unwrap();
        assert!(
            validator.is_valid(&serde_json::to_value(&manifest).unwrap()),
            "{name}"
        );
    }
}
