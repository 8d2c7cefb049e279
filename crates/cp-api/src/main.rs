use clap::Parser;
use cp_api::cli::Cli;

fn main() {
    let _ = Cli::parse();
}
