//! `dp-runtime validate`: what an agent developer runs before publishing.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use manifest::{Format, limits};

use crate::nodes::BUILTIN_NODE_KINDS;

/// Validates each file, writing one line per error (or one `ok` line per valid manifest) to `out`.
/// Returns whether every file is valid.
pub fn validate_files(paths: &[PathBuf], out: &mut impl Write) -> bool {
    let mut all_valid = true;
    for path in paths {
        let lines = match validate_file(path) {
            Ok(line) => vec![line],
            Err(lines) => {
                all_valid = false;
                lines
            }
        };
        for line in lines {
            // A closed pipe (`| head`) must not turn into a panic.
            if writeln!(out, "{line}").is_err() {
                return all_valid;
            }
        }
    }
    all_valid
}

fn validate_file(path: &Path) -> Result<String, Vec<String>> {
    let shown = path.display();
    let source = read_bounded(path).map_err(|error| vec![format!("{shown}: cannot read: {error}")])?;
    match manifest::parse(&source, Format::of_path(path), BUILTIN_NODE_KINDS) {
        Ok(manifest) => Ok(format!(
            "{shown}: ok {} {} {}",
            manifest.id,
            manifest.version,
            manifest.digest()
        )),
        Err(error) => Err(error
            .errors()
            .iter()
            .map(|error| {
                if error.line.is_some() {
                    format!("{shown}:{error}")
                } else {
                    format!("{shown}: {error}")
                }
            })
            .collect()),
    }
}

/// Reads at most one byte past the manifest limit, so a huge file costs no more than a small one; the
/// parser then reports it as too large.
fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut source = Vec::new();
    std::fs::File::open(path)?
        .take(limits::MAX_BYTES as u64 + 1)
        .read_to_end(&mut source)?;
    Ok(source)
}
