#![doc = include_str!("../README.md")]

pub mod auth;
pub mod billing;
pub mod bus;
pub mod cli;
pub mod db;
pub mod error;
pub mod http;
pub mod metrics;
pub mod queue;
pub mod service;
pub mod telemetry;
pub mod webhooks;

use actix_web::{App, HttpServer, web};

use crate::cli::{BootstrapArgs, ClosePeriodArgs, DatabaseArgs, ServeArgs};
use crate::db::migrations::{self, Direction};
use crate::error::Error;
use crate::http::AppState;

/// `cp-api serve`: migrates (unless told not to), then serves until SIGTERM or Ctrl-C, finishing the
/// requests in flight.
///
/// # Errors
///
/// When the database cannot be reached or migrated, or the address cannot be bound.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let database = args.database.database();
    if !args.no_migrate {
        let applied = migrations::run(&database, Direction::Up).await?;
        tracing::info!(database = %database.describe(), applied = applied.len(), "migrations applied");
    }
    let pool = db::Pool::open(&database, usize::from(args.db_pool_size)).await?;
    let mut state = AppState::load(pool).await?;
    let mut kinds = state.node_kinds.as_ref().clone();
    kinds.extend(
        args.extra_node_kinds
            .iter()
            .map(|kind| kind.trim().to_owned())
            .filter(|kind| !kind.is_empty()),
    );
    state.node_kinds = std::sync::Arc::new(kinds);
    state.limiter = http::rate_limit::Limiter::new(http::rate_limit::RateLimit {
        per_second: args.rate_limit,
        burst: args.rate_limit_burst,
    })
    .map(std::sync::Arc::new);
    state.wake = std::sync::Arc::new(queue::TaskWake::with_recheck(args.claim_recheck));
    if let Some(searches) = args.search_concurrency {
        state.searches = std::sync::Arc::new(tokio::sync::Semaphore::new(usize::from(searches)));
    }
    if let Some(key) = &args.signing_key {
        state.signer = auth::token::Signer::new(key.0.clone());
    }
    state.public_url = args
        .public_url
        .as_deref()
        .map(|url| std::sync::Arc::from(url.trim_end_matches('/')));
    state.webhook_policy = webhooks::address::AddressPolicy {
        deny_private: args.webhook_deny_private,
    };
    let webhook_config = webhooks::Config {
        timeout: args.webhook_timeout,
        retry_base: args.webhook_retry_base,
        retry_max: args.webhook_retry_max,
        policy: state.webhook_policy,
        public_url: state.public_url.clone(),
    };
    webhooks::spawn(state.pool.clone(), webhook_config, state.run_changed.clone());
    queue::listener::spawn(&database, &state.wake);
    tokio::spawn(queue::watch_deployments(state.pool.clone()));
    if matches!(database, db::Database::Postgres(_)) {
        tokio::spawn(queue::keep_tasks_vacuumed(state.pool.clone()));
    }
    tokio::spawn(billing::schedule::run(state.pool.clone(), args.billing_check));
    let metrics_export = metrics::export(&state.pool);
    tracing::info!(bind = %args.bind, database = %database.describe(), "serving");
    HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(state.clone()))
            .configure(http::configure)
    })
    .bind(args.bind)?
    .shutdown_timeout(30)
    .run()
    .await?;
    if let Some(export) = metrics_export {
        export.shutdown().await;
    }
    Ok(())
}

/// `cp-api migrate`: applies pending migrations and prints their versions.
///
/// # Errors
///
/// When the database cannot be reached or a migration fails.
pub async fn migrate(args: DatabaseArgs) -> anyhow::Result<()> {
    let database = args.database();
    let applied = migrations::run(&database, Direction::Up).await?;
    if applied.is_empty() {
        println!("{}: up to date", database.describe());
    }
    for version in applied {
        println!("applied {version}");
    }
    Ok(())
}

/// `cp-api audit verify`: walks the audit log's hash chain.
///
/// # Errors
///
/// The first bad row, or database errors.
pub async fn verify_audit(args: DatabaseArgs) -> anyhow::Result<()> {
    let pool = db::Pool::open(&args.database(), 1).await?;
    let mut pooled = pool.get().await?;
    match service::audit::verify(&mut pooled.conn()).await {
        Ok(verified) => {
            let noun = if verified.rows == 1 { "row" } else { "rows" };
            println!("audit log intact: {} {noun}", verified.rows);
            Ok(())
        }
        Err(Error::Validation(errors)) => {
            anyhow::bail!(
                "audit log tampered: {}",
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        }
        Err(other) => Err(other.into()),
    }
}

/// `cp-api billing close-period YYYY-MM`: closes the month and prints what it issued; closing it again
/// prints that nothing was new.
///
/// # Errors
///
/// When the month has not ended, or the database fails.
pub async fn close_period(args: ClosePeriodArgs) -> anyhow::Result<()> {
    let pool = db::Pool::open(&args.database.database(), 1).await?;
    let closed = billing::close_period(&pool, args.month, &billing::Manual)
        .await
        .map_err(|error| match error {
            Error::Validation(errors) => anyhow::anyhow!(
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
            other => other.into(),
        })?;
    if closed.is_empty() {
        println!("{}: closed before; nothing new", closed.period);
    } else {
        println!(
            "{}: {} invoice(s) issued, {} payout(s) made, {} subscription fee(s) charged",
            closed.period,
            closed.invoices_issued.len(),
            closed.payouts_made.len(),
            closed.fees_charged
        );
    }
    Ok(())
}

/// `cp-api admin bootstrap`: migrates, creates the platform admin, their org and an API key, and prints
/// them once as one JSON object.
///
/// # Errors
///
/// When the input is invalid, the email or org is taken, or the database fails.
pub async fn bootstrap(args: BootstrapArgs) -> anyhow::Result<()> {
    let database = args.database.database();
    migrations::run(&database, Direction::Up).await?;
    let pool = db::Pool::open(&database, 1).await?;
    let mut pooled = pool.get().await?;
    let input = service::accounts::Bootstrap {
        email: args.email,
        password: args.password,
        org: args.org,
    };
    let created = service::accounts::bootstrap(&mut pooled.conn(), input)
        .await
        .map_err(|error| match error {
            Error::Validation(errors) => {
                anyhow::anyhow!(
                    errors
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            }
            other => other.into(),
        })?;
    println!("{}", serde_json::to_string(&created)?);
    Ok(())
}
