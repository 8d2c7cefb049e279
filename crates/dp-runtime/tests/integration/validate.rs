//! `dp-runtime validate` as an agent developer runs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn validate(paths: &[PathBuf]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dp-runtime"))
        .arg("validate")
        .args(paths)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn the_finops_examples_are_valid() {
    let examples = [
        repo().join("examples/finops/billing-normalizer.yaml"),
        repo().join("examples/finops/anomaly-detector.yaml"),
    ];
    let output = validate(&examples);
    let printed = stdout(&output);
    assert!(output.status.success(), "{printed}");
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 2, "{printed}");
    assert!(
        lines[0].contains(": ok com.aicloud.finops.billing-normalizer 1.0.0 sha256:"),
        "{printed}"
    );
    assert!(
        lines[1].contains(": ok com.aicloud.finops.anomaly-detector 1.1.0 sha256:"),
        "{printed}"
    );
    assert!(output.stderr.is_empty());
}

#[test]
fn every_error_of_the_invalid_corpus_is_printed_with_its_file_and_exit_status_1() {
    let corpus = repo().join("crates/manifest/tests/invalid");
    let mut checked = 0;
    for entry in std::fs::read_dir(&corpus).unwrap() {
        let path = entry.unwrap().path();
        let Some(recorded) = path
            .extension()
            .and_then(|ext| ext.to_str())
            .filter(|ext| *ext == "yaml" || *ext == "json")
        else {
            continue;
        };
        let expected = std::fs::read_to_string(path.with_extension(format!("{recorded}.errors"))).unwrap();
        let output = validate(std::slice::from_ref(&path));
        assert_eq!(output.status.code(), Some(1), "{}", path.display());
        let shown = path.display().to_string();
        let printed: Vec<String> = expected
            .lines()
            .map(|line| {
                let has_place = line.split(':').next().is_some_and(|n| n.parse::<u32>().is_ok());
                if has_place {
                    format!("{shown}:{line}")
                } else {
                    format!("{shown}: {line}")
                }
            })
            .collect();
        assert_eq!(stdout(&output).lines().collect::<Vec<_>>(), printed, "{shown}");
        checked += 1;
    }
    assert!(checked >= 20);
}

#[test]
fn a_mix_of_files_fails_when_any_does_and_reports_each() {
    let good = repo().join("examples/finops/billing-normalizer.yaml");
    let missing = repo().join("examples/finops/no-such-agent.yaml");
    let output = validate(&[good, missing]);
    assert_eq!(output.status.code(), Some(1));
    let printed = stdout(&output);
    assert!(printed.lines().next().unwrap().contains(": ok "), "{printed}");
    assert!(printed.contains("no-such-agent.yaml: cannot read: "), "{printed}");
}

#[test]
fn the_schema_command_prints_the_manifest_schema() {
    let output = Command::new(env!("CARGO_BIN_EXE_dp-runtime"))
        .arg("manifest-schema")
        .output()
        .unwrap();
    assert!(output.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(schema["title"], "Manifest");
    assert!(
        schema["required"]
            .as_array()
            .unwrap()
            .contains(&"workflow".into())
    );
}
