//! The `cp-api` command line.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "cp-api", version, about = "The agent marketplace's control plane")]
pub struct Cli {}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
