//! Payouts: what each developer org is paid for a closed period.
//!
//! A developer org earns its share of every charge and fee of the period (what [`super::lines`] gives
//! the developer). At close, its payout is those earnings plus what its last payout carried over; when
//! that reaches [`MINIMUM_PAYOUT`] ($100) it is `due` and paid in full, otherwise it is `carried_over` and
//! added to the next period's. One payout per developer org and period (a unique key).

use protocol::Money;
use serde::Serialize;

use super::lines::add;
use super::period::Period;
use crate::db::payouts::Payout;
use crate::db::{self, Conn, Id, Time};
use crate::error::Error;

/// The smallest payout paid: $100, in micro-dollars. Less is carried over.
pub const MINIMUM_PAYOUT: i64 = 100_000_000;

/// A payout as its developer org sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PayoutView {
    pub id: uuid::Uuid,
    /// `YYYY-MM`.
    pub period: String,
    /// The developer's share of the period's charges and fees.
    #[schema(value_type = String)]
    pub earned: Money,
    /// Carried over from earlier periods.
    #[schema(value_type = String)]
    pub carried_in: Money,
    /// Paid for this period: zero when carried over.
    #[schema(value_type = String)]
    pub amount: Money,
    /// Carried over to the next period.
    #[schema(value_type = String)]
    pub carried_out: Money,
    /// `carried_over`, `due` or `paid`.
    pub state: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub paid_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The transfer's reference, once paid.
    pub payment_reference: Option<String>,
}

impl From<&Payout> for PayoutView {
    fn from(payout: &Payout) -> Self {
        Self {
            id: payout.id.0,
            period: payout.period.clone(),
            earned: Money::from_micros(payout.earned_micros),
            carried_in: Money::from_micros(payout.carried_in_micros),
            amount: Money::from_micros(payout.amount_micros),
            carried_out: Money::from_micros(payout.carried_out_micros),
            state: payout.state.clone(),
            created_at: payout.created_at.0,
            paid_at: payout.paid_at.map(|at| at.0),
            payment_reference: payout.payment_reference.clone(),
        }
    }
}

/// The payout of `earned` plus `carried_in`: paid when it reaches the minimum, else carried over.
///
/// # Errors
///
/// [`Error::Validation`] when the sum would overflow.
pub fn payout(developer_org: Id, period: Period, earned: i64, carried_in: i64) -> Result<Payout, Error> {
    let owed = add(earned, carried_in)?;
    let (amount, carried_out, state) = if owed >= MINIMUM_PAYOUT {
        (owed, 0, "due")
    } else {
        (0, owed, "carried_over")
    };
    Ok(Payout {
        id: Id::new(),
        developer_org_id: developer_org,
        period: period.to_string(),
        earned_micros: earned,
        carried_in_micros: carried_in,
        amount_micros: amount,
        carried_out_micros: carried_out,
        state: state.to_owned(),
        created_at: Time::now(),
        paid_at: None,
        payment_reference: None,
    })
}

/// Records a `due` payout as paid (the transfer made outside), inside the caller's transaction; the
/// payout and its developer org.
///
/// # Errors
///
/// [`Error::NotFound`] for no such payout; [`Error::Conflict`] for one not `due`.
pub async fn mark_paid(
    tx: &mut Conn<'_>,
    id: Id,
    reference: Option<&str>,
) -> Result<(PayoutView, Id), Error> {
    let no_such = || Error::NotFound("no such payout".to_owned());
    let found = db::payouts::find(tx, id).await.map_err(|_| no_such())?;
    if !db::payouts::mark_paid(tx, id, reference, Time::now()).await? {
        return Err(Error::Conflict(format!(
            "the payout is {}; only a due payout can be paid",
            found.state
        )));
    }
    let paid = db::payouts::find(tx, id).await?;
    Ok((PayoutView::from(&paid), paid.developer_org_id))
}

/// A developer org's earnings: the month in progress so far, what is carried over, and its payouts.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EarningsView {
    /// The month in progress, `YYYY-MM`.
    pub period: String,
    /// The developer's share of this month's charges and fees so far.
    #[schema(value_type = String)]
    pub earned: Money,
    /// Carried over from closed periods, to be added to this month's payout.
    #[schema(value_type = String)]
    pub carried_over: Money,
    /// Payouts, newest period first.
    pub payouts: Vec<PayoutView>,
}

/// The developer org's earnings.
///
/// # Errors
///
/// Database errors; overflowing sums.
pub async fn earnings(conn: &mut Conn<'_>, developer_org: Id, period: Period) -> Result<EarningsView, Error> {
    let charges =
        db::charges::of_developer_between(conn, developer_org, period.start(), period.end()).await?;
    let fees = db::subscriptions::earned_in_period(conn, developer_org, &period.to_string()).await?;
    let mut earned = 0_i64;
    for developer in charges
        .iter()
        .map(|charge| charge.developer_micros)
        .chain(fees.iter().map(|fee| fee.developer_micros))
    {
        earned = add(earned, developer)?;
    }
    let payouts = db::payouts::of_developer(conn, developer_org).await?;
    let carried_over = payouts.first().map_or(0, |latest| latest.carried_out_micros);
    Ok(EarningsView {
        period: period.to_string(),
        earned: Money::from_micros(earned),
        carried_over: Money::from_micros(carried_over),
        payouts: payouts.iter().map(PayoutView::from).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_the_minimum_is_carried_over_and_at_it_paid_in_full() {
        let period: Period = "2026-10".parse().unwrap();
        let org = Id::new();
        let small = payout(org, period, 13_200_000, 0).unwrap();
        assert_eq!(
            (
                small.state.as_str(),
                small.amount_micros,
                small.carried_out_micros
            ),
            ("carried_over", 0, 13_200_000)
        );
        let crossing = payout(org, period.next(), 90_000_000, small.carried_out_micros).unwrap();
        assert_eq!(
            (
                crossing.state.as_str(),
                crossing.amount_micros,
                crossing.carried_out_micros
            ),
            ("due", 103_200_000, 0)
        );
        let exact = payout(org, period, MINIMUM_PAYOUT, 0).unwrap();
        assert_eq!(exact.state, "due");
        assert!(payout(org, period, i64::MAX, 1).is_err(), "overflow is refused");
    }
}
