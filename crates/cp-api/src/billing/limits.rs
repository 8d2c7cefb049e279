//! An org's monthly limits — how many runs it may start and what it may spend per UTC month — and a run's
//! maximum charge, checked before a run is queued: a run that would break one is refused, saying which
//! limit and when it resets, and nothing is written. Against the spend cap, runs still queued or under way
//! count as spending at least their price per run.

use std::collections::HashMap;

use protocol::Money;

use super::Period;
use crate::db::deployments::Deployment;
use crate::db::orgs::Org;
use crate::db::{self, Conn, Id, Time};
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
        let (held, unfinished) = held_for_unfinished(tx, org.id).await?;
        if spent.saturating_add(held).saturating_add(least.micros()) > cap {
            let runs = if unfinished == 1 { "run" } else { "runs" };
            let held = (unfinished > 0).then(|| {
                format!(
                    "${} held for {unfinished} unfinished {runs}",
                    Money::from_micros(held)
                )
            });
            let this = (least.micros() > 0).then(|| format!("this run costs at least ${least}"));
            let what = match (held, this) {
                (Some(held), Some(this)) => format!(", {held} and {this}"),
                (Some(one), None) | (None, Some(one)) => format!(" and {one}"),
                (None, None) => String::new(),
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

/// What the org's unfinished runs will cost at least (each its version's price per run), and how many
/// there are: a spend cap counts them as spent, so runs queued at once cannot together pass it.
async fn held_for_unfinished(tx: &mut Conn<'_>, org: Id) -> Result<(i64, i64), Error> {
    let unfinished = db::runs::unfinished_of_org(tx, org).await?;
    if unfinished.is_empty() {
        return Ok((0, 0));
    }
    let deployments: HashMap<Id, Deployment> = db::deployments::of_org(tx, org, true)
        .await?
        .into_iter()
        .map(|deployment| (deployment.id, deployment))
        .collect();
    let (mut held, mut count) = (0_i64, 0_i64);
    for (deployment, version, runs) in unfinished {
        let deployment = deployments
            .get(&deployment)
            .ok_or_else(|| Error::Internal(format!("a run of the org has no deployment {}", deployment.0)))?;
        let version = crate::queue::run_version(version.as_deref(), deployment);
        let parts = crate::queue::published_version(tx, deployment.agent, version).await?;
        let least = parts.pricing.per_run.unwrap_or(Money::ZERO).micros();
        held = held.saturating_add(least.saturating_mul(runs));
        count = count.saturating_add(runs);
    }
    Ok((held, count))
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
