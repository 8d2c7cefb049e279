use std::process::ExitCode;

use clap::Parser;
use dp_runtime::cli::{Cli, run};

fn main() -> ExitCode {
    run(Cli::parse())
}
