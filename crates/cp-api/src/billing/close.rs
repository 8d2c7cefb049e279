//! Closing a period: charging any subscription fee not yet charged for it, issuing each org's invoice and
//! each developer org's payout. `cp-api billing close-period YYYY-MM` and the monthly schedule in
//! `cp-api serve` both run it.
//!
//! Only a period that has ended can close (its charges are final: a charge is stamped when it is made).
//! Every write is keyed (one fee per subscription and period, one invoice per org and period, one payout
//! per developer org and period) and made in its own transaction, so closing again — or on two replicas at
//! once — issues nothing new, and a close cut short is finished by the next.

use std::collections::BTreeMap;

use protocol::FieldError;
use serde::Serialize;

use super::invoices::{collect, issue};
use super::lines::{add, lines};
use super::payment::PaymentProvider;
use super::payouts::payout;
use super::period::Period;
use super::subscriptions::charge_period;
use crate::db::{self, Id, Time};
use crate::error::Error;

/// What closing a period did now (empty when it had been closed before).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Closed {
    pub period: String,
    /// Subscription fees charged now.
    pub fees_charged: usize,
    /// Invoices issued now, by id.
    pub invoices_issued: Vec<uuid::Uuid>,
    /// Payouts made now, by id.
    pub payouts_made: Vec<uuid::Uuid>,
}

impl Closed {
    /// Whether anything was written.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.fees_charged == 0 && self.invoices_issued.is_empty() && self.payouts_made.is_empty()
    }
}

/// Closes `period`, asking `provider` to collect each invoice issued now.
///
/// # Errors
///
/// [`Error::Validation`] for a period that has not ended; database errors; overflowing sums.
pub async fn close_period(
    pool: &db::Pool,
    period: Period,
    provider: &impl PaymentProvider,
) -> Result<Closed, Error> {
    if !period.has_ended_by(Time::now()) {
        return Err(Error::Validation(vec![FieldError::new(
            "month",
            format!("{period} has not ended yet; a period closes after its last day (UTC)"),
        )]));
    }
    let mut closed = Closed {
        period: period.to_string(),
        fees_charged: charge_period(pool, period).await?,
        ..Closed::default()
    };
    let mut pooled = pool.get().await?;
    let charges = db::charges::of_org_between(&mut pooled.conn(), None, period.start(), period.end()).await?;
    let fees = db::subscriptions::charges_of_period(&mut pooled.conn(), None, &period.to_string()).await?;

    let mut orgs: BTreeMap<Id, (Vec<_>, Vec<_>)> = BTreeMap::new();
    let mut earned: BTreeMap<Id, i64> = BTreeMap::new();
    for charge in &charges {
        orgs.entry(charge.org_id).or_default().0.push(charge.clone());
        let sum = earned.entry(charge.developer_org_id).or_default();
        *sum = add(*sum, charge.developer_micros)?;
    }
    for fee in &fees {
        orgs.entry(fee.org_id).or_default().1.push(fee.clone());
        let sum = earned.entry(fee.developer_org_id).or_default();
        *sum = add(*sum, fee.developer_micros)?;
    }

    for (org, (charges, fees)) in orgs {
        let lines = lines(&charges, &fees)?;
        if lines.is_empty() {
            continue;
        }
        let issued = db::transaction(&mut pooled.conn(), async |tx| {
            issue(tx, org, period, &lines).await
        })
        .await?;
        if let Some(invoice) = issued {
            closed.invoices_issued.push(invoice.id.0);
            if let Err(error) = collect(&mut pooled.conn(), &invoice, provider).await {
                tracing::warn!(invoice = %invoice.id.0, provider = provider.name(), %error, "collection failed; the invoice stays issued");
            }
        }
    }

    let carried: BTreeMap<Id, i64> = db::payouts::carried_into(&mut pooled.conn(), &period.to_string())
        .await?
        .into_iter()
        .map(|last| (last.developer_org_id, last.carried_out_micros))
        .collect();
    let developers: std::collections::BTreeSet<Id> = earned.keys().chain(carried.keys()).copied().collect();
    for developer in developers {
        let made = payout(
            developer,
            period,
            earned.get(&developer).copied().unwrap_or(0),
            carried.get(&developer).copied().unwrap_or(0),
        )?;
        if made.earned_micros == 0 && made.carried_in_micros == 0 {
            continue;
        }
        let fresh = db::transaction(&mut pooled.conn(), async |tx| {
            Ok(db::payouts::insert_once(tx, &made).await?)
        })
        .await?;
        if fresh {
            closed.payouts_made.push(made.id.0);
        }
    }
    Ok(closed)
}
