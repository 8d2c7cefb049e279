//! The `cp-api` command line. Every flag is also an environment variable; no flag is needed for the
//! embedded default (SQLite under `./data`).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::billing::Period;
use crate::db::Database;

#[derive(Debug, Parser)]
#[command(name = "cp-api", version, about = "The agent marketplace's control plane")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (migrating the database first, unless --no-migrate).
    Serve(ServeArgs),
    /// Apply pending database migrations.
    Migrate(DatabaseArgs),
    /// Administration.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Invoices and payouts.
    Billing {
        #[command(subcommand)]
        command: BillingCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum BillingCommand {
    /// Close a month (UTC): charge subscription fees not yet charged for it, issue each org's invoice and
    /// each developer org's payout. Closing a month again issues nothing new.
    ClosePeriod(ClosePeriodArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ClosePeriodArgs {
    /// The month, as YYYY-MM (e.g. 2026-10); it must have ended.
    pub month: Period,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the audit log's hash chain; exit status 1 naming the first bad row if any was edited, deleted
    /// or reordered.
    Verify(DatabaseArgs),
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a platform admin, their org and an API key; print them once as JSON.
    Bootstrap(BootstrapArgs),
}

/// The database every subcommand that opens one shares.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Folder for embedded state (the SQLite database when no --database-url is given).
    #[arg(long, env = "CP_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// A `postgres://` URL; SQLite at <data-dir>/cp.sqlite when absent.
    #[arg(long, env = "CP_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

impl DatabaseArgs {
    #[must_use]
    pub fn database(&self) -> Database {
        Database::from_options(self.database_url.as_deref(), &self.data_dir)
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[arg(long, env = "CP_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Do not apply pending migrations at start-up.
    #[arg(long, env = "CP_NO_MIGRATE")]
    pub no_migrate: bool,
    /// Database connections this process keeps at most; requests beyond them wait their turn in order.
    #[arg(long, env = "CP_DB_POOL_SIZE", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub db_pool_size: u16,
    /// Catalog searches and listings this process runs at once (default: 2 per CPU core); the rest wait
    /// their turn in order, holding no database connection. Each keeps a database core busy, so a burst of
    /// them answers sooner in turns than all at once, and leaves connections for runs and claims.
    #[arg(long, env = "CP_SEARCH_CONCURRENCY", value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub search_concurrency: Option<u16>,
    /// Plugin node kinds submitted manifests may use, beside the built-ins (comma-separated).
    #[arg(long, env = "CP_EXTRA_NODE_KINDS", value_delimiter = ',')]
    pub extra_node_kinds: Vec<String>,
    /// Requests per second each credential (or, without one, each client address) may make; 0 turns
    /// rate limits off.
    #[arg(long, env = "CP_RATE_LIMIT", default_value_t = 50)]
    pub rate_limit: u32,
    /// Requests a credential may make at once before its steady rate applies.
    #[arg(long, env = "CP_RATE_LIMIT_BURST", default_value_t = 100)]
    pub rate_limit_burst: u32,
    /// How often a waiting long-poll claim looks for work unbidden (`1s`, `500ms`): the safety net under
    /// the wake-ups a queued run sends, and when lost leases are noticed.
    #[arg(long, env = "CP_CLAIM_RECHECK", default_value = "1s", value_parser = humantime::parse_duration)]
    pub claim_recheck: std::time::Duration,
    /// The URL clients and data planes reach this service at, e.g. `https://api.example.com`; BYOC
    /// bundles carry it. Without it, the address each request came in on.
    #[arg(long, env = "CP_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The access-token signing key, as hex (32 bytes or more), shared by every replica; without it, the
    /// key the first replica made and keeps in the database.
    #[arg(long, env = "CP_SIGNING_KEY", hide_env_values = true, value_parser = signing_key)]
    pub signing_key: Option<SigningKey>,
    /// How long a webhook receiver has to answer (`10s`).
    #[arg(long, env = "CP_WEBHOOK_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub webhook_timeout: std::time::Duration,
    /// The wait before a failed webhook delivery's first retry; each retry waits twice as long, up to
    /// `--webhook-retry-max`, for 24 hours.
    #[arg(long, env = "CP_WEBHOOK_RETRY_BASE", default_value = "5s", value_parser = humantime::parse_duration)]
    pub webhook_retry_base: std::time::Duration,
    /// The longest wait between two retries of a webhook delivery.
    #[arg(long, env = "CP_WEBHOOK_RETRY_MAX", default_value = "1h", value_parser = humantime::parse_duration)]
    pub webhook_retry_max: std::time::Duration,
    /// Refuse webhooks to loopback and private networks too (link-local and cloud metadata addresses are
    /// always refused): what a shared control plane should do.
    #[arg(long, env = "CP_WEBHOOK_DENY_PRIVATE")]
    pub webhook_deny_private: bool,
    /// How often the monthly billing schedule looks whether a month has begun (`1h`, `10m`): it then
    /// charges the new month's subscription fees and closes the month that ended.
    #[arg(long, env = "CP_BILLING_CHECK", default_value = "1h", value_parser = humantime::parse_duration)]
    pub billing_check: std::time::Duration,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// A signing key given on the command line; its bytes are never printed.
#[derive(Clone)]
pub struct SigningKey(pub Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(…)")
    }
}

fn signing_key(text: &str) -> Result<SigningKey, String> {
    let key = hex::decode(text.trim()).map_err(|error| format!("not hex: {error}"))?;
    if key.len() < 32 {
        return Err(format!("{} bytes; a signing key needs 32 or more", key.len()));
    }
    Ok(SigningKey(key))
}

#[derive(Debug, Clone, Args)]
pub struct BootstrapArgs {
    #[arg(long)]
    pub email: String,
    #[arg(long, env = "CP_ADMIN_PASSWORD", hide_env_values = true)]
    pub password: String,
    /// Name of the platform admin's org.
    #[arg(long)]
    pub org: String,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_signing_key_is_hex_of_32_bytes_or_more() {
        let key = "ab".repeat(32);
        let cli = Cli::parse_from(["cp-api", "serve", "--signing-key", &key]);
        let Command::Serve(args) = cli.command else {
            panic!("serve")
        };
        assert_eq!(args.signing_key.unwrap().0, vec![0xab; 32]);
        for bad in ["ab".repeat(31), "not hex".to_owned()] {
            assert!(
                Cli::try_parse_from(["cp-api", "serve", "--signing-key", &bad]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn close_period_takes_a_month_and_refuses_anything_else() {
        let cli = Cli::parse_from([
            "cp-api",
            "billing",
            "close-period",
            "2026-10",
            "--data-dir",
            "/tmp/x",
        ]);
        let Command::Billing {
            command: BillingCommand::ClosePeriod(args),
        } = cli.command
        else {
            panic!("billing close-period")
        };
        assert_eq!(args.month.to_string(), "2026-10");
        let refused = Cli::try_parse_from(["cp-api", "billing", "close-period", "2026-13"]).unwrap_err();
        assert!(refused.to_string().contains("YYYY-MM"), "{refused}");
    }

    #[test]
    fn the_database_defaults_to_sqlite_in_the_data_dir() {
        let cli = Cli::parse_from(["cp-api", "migrate", "--data-dir", "/tmp/x"]);
        let Command::Migrate(args) = cli.command else {
            panic!("migrate")
        };
        assert_eq!(
            args.database(),
            Database::Sqlite(PathBuf::from("/tmp/x/cp.sqlite"))
        );
        let url = "postgres://cp:secret@db:5432/cp";
        let cli = Cli::parse_from(["cp-api", "migrate", "--database-url", url]);
        let Command::Migrate(args) = cli.command else {
            panic!("migrate")
        };
        assert_eq!(args.database(), Database::Postgres(url.to_owned()));
        assert_eq!(args.database().describe(), "postgres://…@db:5432/cp");
    }
}
