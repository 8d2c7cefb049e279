//! Every manifest under `tests/invalid/` fails with exactly the errors in its `.errors` file, one per line.
//! `UPDATE_EXPECTED=1` rewrites the `.errors` files from what the parser says (review the diff).

use std::path::{Path, PathBuf};

use manifest::Format;

use crate::KINDS;

fn corpus() -> Vec<PathBuf> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml" || ext == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_invalid_manifest_fails_with_its_recorded_errors() {
    let update = std::env::var_os("UPDATE_EXPECTED").is_some();
    let files = corpus();
    assert!(files.len() >= 20, "the corpus has {} manifests", files.len());
    let mut mismatches = Vec::new();
    for file in &files {
        let source = std::fs::read(file).unwrap();
        let actual = match manifest::parse(&source, Format::of_path(file), KINDS) {
            Ok(manifest) => format!("(valid: {})\n", manifest.id),
            Err(error) => format!("{error}\n"),
        };
        let expected_path =
            file.with_extension(format!("{}.errors", file.extension().unwrap().to_str().unwrap()));
        if update {
            std::fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if actual != expected {
            mismatches.push(format!(
                "{}\n--- expected\n{expected}--- actual\n{actual}",
                file.display()
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
