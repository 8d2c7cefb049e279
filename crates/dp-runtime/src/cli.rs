//! The `dp-runtime` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "dp-runtime", version, about = "The agent marketplace's data plane")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check agent manifests and print every error, one per line; exit status 1 on any.
    Validate {
        /// Manifest files (YAML, or JSON for `.json`).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Print the JSON Schema of an agent manifest.
    ManifestSchema,
}

/// Runs a parsed command line.
#[must_use]
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Validate { paths } => {
            let mut out = std::io::stdout().lock();
            if crate::validate::validate_files(&paths, &mut out) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::ManifestSchema => {
            println!("{:#}", manifest::manifest_schema());
            ExitCode::SUCCESS
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
