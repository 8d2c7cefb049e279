//! The digest names the content, not the spelling.

use manifest::Format;

use crate::{KINDS, example};

fn digest(source: &[u8], format: Format) -> String {
    manifest::parse(source, format, KINDS).unwrap().digest()
}

#[test]
fn the_same_content_has_the_same_digest_however_written() {
    let yaml = example("billing-normalizer.yaml");
    let original = digest(&yaml, Format::Yaml);
    assert!(
        original.starts_with("sha256:") && original.len() == 7 + 64,
        "{original}"
    );

    let manifest = manifest::parse(&yaml, Format::Yaml, KINDS).unwrap();
    let pretty_json = serde_json::to_vec_pretty(&manifest).unwrap();
    assert_eq!(digest(&pretty_json, Format::Json), original, "YAML or JSON");

    let text = String::from_utf8(yaml.clone()).unwrap();
    let reordered = format!(
        "{}\n{}",
        text.lines()
            .filter(|line| line.starts_with("category:"))
            .collect::<String>(),
        text.lines()
            .filter(|line| !line.starts_with("category:"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(digest(reordered.as_bytes(), Format::Yaml), original, "key order");

    let spelled_out = text
        .replace("per_run: \"0.50\"", "per_run: \"0.500000\"")
        .replace("backoff: 2s", "backoff: 2000ms");
    assert_ne!(spelled_out, text);
    assert_eq!(
        digest(spelled_out.as_bytes(), Format::Yaml),
        original,
        "amounts and durations have one spelling"
    );

    let defaults = text.replace("workflow:\n", "constraints: []\nworkflow:\n");
    assert_eq!(
        digest(defaults.as_bytes(), Format::Yaml),
        original,
        "defaults written out"
    );
}

#[test]
fn different_content_has_a_different_digest() {
    let text = String::from_utf8(example("billing-normalizer.yaml")).unwrap();
    let original = digest(text.as_bytes(), Format::Yaml);
    let cheaper = text.replace("per_run: \"0.50\"", "per_run: \"0.49\"");
    let renamed = text.replace("name: Billing Normalizer", "name: Billing Normaliser");
    assert_ne!(digest(cheaper.as_bytes(), Format::Yaml), original);
    assert_ne!(digest(renamed.as_bytes(), Format::Yaml), original);
}
