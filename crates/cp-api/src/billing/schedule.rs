//! The monthly schedule `cp-api serve` runs: at the start of each month, charge the subscription fees of
//! the new period and close the one that ended.
//!
//! It wakes every `check` (an hour by default) rather than sleeping until the 1st, so a replica started
//! mid-month, or one that was down on the 1st, catches up at once; once it has closed a month (or found it
//! closed) it does not read that month again. Both steps are idempotent, so every
//! replica may run the schedule: whichever comes first writes, the others find nothing new.

use std::time::Duration;

use super::close::close_period;
use super::payment::Manual;
use super::period::Period;
use super::subscriptions::charge_period;
use crate::db;

/// Runs the schedule until the process ends.
pub async fn run(pool: db::Pool, check: Duration) {
    let mut ticks = tokio::time::interval(check);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The last period this process closed, or found closed: no need to read its charges again.
    let mut closed_last: Option<Period> = None;
    loop {
        ticks.tick().await;
        let period = Period::current();
        match charge_period(&pool, period).await {
            Ok(0) => {}
            Ok(charged) => tracing::info!(%period, charged, "subscription fees charged"),
            Err(error) => tracing::warn!(%period, %error, "charging subscription fees failed"),
        }
        let ended = period.previous();
        if closed_last == Some(ended) {
            continue;
        }
        match close_period(&pool, ended, &Manual).await {
            Ok(closed) if closed.is_empty() => closed_last = Some(ended),
            Ok(closed) => {
                closed_last = Some(ended);
                tracing::info!(
                    period = %ended,
                    invoices = closed.invoices_issued.len(),
                    payouts = closed.payouts_made.len(),
                    fees = closed.fees_charged,
                    "period closed"
                );
            }
            Err(error) => tracing::warn!(period = %ended, %error, "closing the period failed"),
        }
    }
}
