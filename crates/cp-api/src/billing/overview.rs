//! What an org sees of its billing, and what the platform earned.

use protocol::Money;
use serde::Serialize;

use super::invoices::{InvoiceView, draft};
use super::lines::{Line, lines, totals};
use super::period::Period;
use super::subscriptions::{SubscriptionView, of_org};
use crate::db::{self, Conn, Id};
use crate::error::Error;

/// One run's charge in the month's list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChargeLine {
    pub run_id: uuid::Uuid,
    pub deployment_id: uuid::Uuid,
    pub agent: String,
    #[schema(value_type = String)]
    pub total: Money,
    pub charged_at: chrono::DateTime<chrono::Utc>,
}

/// An invoice in a list, without its lines.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InvoiceSummary {
    pub id: uuid::Uuid,
    pub period: String,
    pub state: String,
    #[schema(value_type = String)]
    pub total: Money,
    pub issued_at: chrono::DateTime<chrono::Utc>,
}

/// An org's billing: the month in progress (its usage as a draft invoice and its charges), its
/// subscriptions and its invoices.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BillingView {
    /// The month in progress, `YYYY-MM` (UTC).
    pub period: String,
    /// Runs charged this month.
    pub runs: usize,
    /// This month's usage so far, as the invoice it would become.
    pub usage: InvoiceView,
    /// This month's run charges, newest first.
    pub charges: Vec<ChargeLine>,
    pub subscriptions: Vec<SubscriptionView>,
    /// Issued invoices, newest period first.
    pub invoices: Vec<InvoiceSummary>,
}

/// The org's billing for the month in progress.
///
/// # Errors
///
/// Database errors; overflowing sums.
pub async fn billing(conn: &mut Conn<'_>, org: Id, period: Period) -> Result<BillingView, Error> {
    let charges = db::charges::of_org_between(conn, Some(org), period.start(), period.end()).await?;
    let usage = draft(conn, org, period).await?;
    let invoices = db::invoices::of_org(conn, org)
        .await?
        .into_iter()
        .map(|invoice| InvoiceSummary {
            id: invoice.id.0,
            period: invoice.period,
            state: invoice.state,
            total: Money::from_micros(invoice.total_micros),
            issued_at: invoice.issued_at.0,
        })
        .collect();
    Ok(BillingView {
        period: period.to_string(),
        runs: charges.len(),
        usage,
        charges: charges
            .iter()
            .rev()
            .map(|charge| ChargeLine {
                run_id: charge.run_id.0,
                deployment_id: charge.deployment_id.0,
                agent: charge.agent.clone(),
                total: Money::from_micros(charge.total_micros),
                charged_at: charge.charged_at.0,
            })
            .collect(),
        subscriptions: of_org(conn, org).await?,
        invoices,
    })
}

/// What the platform earned in a period: every org's charges and fees, split.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RevenueView {
    pub period: String,
    /// What customers were charged.
    #[schema(value_type = String)]
    pub billed: Money,
    /// The developers' part.
    #[schema(value_type = String)]
    pub developer: Money,
    /// The platform's part: its revenue.
    #[schema(value_type = String)]
    pub platform: Money,
    /// By agent and charge kind.
    pub lines: Vec<Line>,
}

/// The platform's revenue in `period`.
///
/// # Errors
///
/// Database errors; overflowing sums.
pub async fn revenue(conn: &mut Conn<'_>, period: Period) -> Result<RevenueView, Error> {
    let charges = db::charges::of_org_between(conn, None, period.start(), period.end()).await?;
    let fees = db::subscriptions::charges_of_period(conn, None, &period.to_string()).await?;
    let lines = lines(&charges, &fees)?;
    let (billed, developer, platform) = totals(&lines)?;
    Ok(RevenueView {
        period: period.to_string(),
        billed,
        developer,
        platform,
        lines,
    })
}
