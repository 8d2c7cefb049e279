use std::process::ExitCode;

use clap::Parser;
use cp_api::cli::{AdminCommand, AuditCommand, BillingCommand, Cli, Command};

#[actix_web::main]
async fn main() -> ExitCode {
    let telemetry = cp_api::telemetry::init();
    let outcome = match Cli::parse().command {
        Command::Serve(args) => cp_api::serve(args).await,
        Command::Migrate(args) => cp_api::migrate(args).await,
        Command::Admin {
            command: AdminCommand::Bootstrap(args),
        } => cp_api::bootstrap(args).await,
        Command::Audit {
            command: AuditCommand::Verify(args),
        } => cp_api::verify_audit(args).await,
        Command::Billing {
            command: BillingCommand::ClosePeriod(args),
        } => cp_api::close_period(args).await,
    };
    telemetry.shutdown().await;
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
