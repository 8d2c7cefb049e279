//! An org's monthly limits — how many runs it may start and what it may spend per UTC month — and a run's
//! maximum charge, checked before a run is queued: a run that would break one is refused, saying which
//! limit and when it resets, and nothing is written.

use protocol::Money;

use super::Period;
use crate::db::orgs::Org;
use crate::db::{self, Conn, Time};
use crate::error::Error;

/// Checks, inside the transaction that would queue it, that one more run of the org — charged at least
/// `least` — keeps within the org's monthly limits. The org's row stays locked until the transaction ends,
/// so two runs at once cannot both take the last one.
///
/// # Errors
///
/// [`Error::TooManyRequests`] when the run quota is used up; [`Error::PaymentRequired`] when the spend cap
/// would be passed; both say when the month resets.
pub async fn check_org(tx: &mut Conn<'_>, org: &Org, least: Money, now: Time) -> Result<(), Error> {
    if org.monthly_run_quota.is_none() && org.monthly_spend_cap_micros.is_none() {
        return Ok(());
    }
    db::orgs::lock(tx, org.id).await?;
    let month = Period::containing(now.0);
    let (since, resets) = (month.start(), month.end().0);
    let retry_after = u64::try_from((resets - now.0).num_seconds()).unwrap_or(0).max(1);
    if let Some(quota) = org.monthly_run_quota {
        let started = db::runs::started_since(tx, org.id, since).await?;
        if started >= quota {
            return Err(Error::TooManyRequests {
                detail: format!(
                    "the org's monthly run quota of {quota} is used up ({started} runs this month); it resets at {}",
                    resets.to_rfc3339()
                ),
                retry_after,
            });
        }
    }
    if let Some(cap) = org.monthly_spend_cap_micros {
        let runs = db::charges::spent_since(tx, org.id, since).await?;
        let spent = runs.saturating_add(db::subscriptions::fees_since(tx, org.id, since).await?);
        if spent.saturating_add(least.micros()) > cap {
            let what = if least.micros() > 0 {
                format!(" and this run costs at least ${least}")
            } else {
                String::new()
            };
            return Err(Error::PaymentRequired(format!(
                "the org's monthly spend cap of ${} would be passed: ${} spent this month{what}; it resets at {}",
                Money::from_micros(cap),
                Money::from_micros(spent),
                resets.to_rfc3339()
            )));
        }
    }
    Ok(())
}

/// Checks a run's maximum charge against the least the run can cost.
///
/// # Errors
///
/// [`Error::PaymentRequired`] when the run cannot be run for so little.
pub fn check_max_charge(max: Money, least: Money) -> Result<(), Error> {
    if least > max {
        return Err(Error::PaymentRequired(format!(
            "max_charge ${max} is below this agent's price of ${least} per run"
        )));
    }
    Ok(())
}
