//! Invoices: each org's bill for a closed period, `issued` when the period closes, then `paid` or
//! `void`. The month in progress shows as a `draft` that is computed, not stored.
//!
//! An invoice holds the org's run charges whose `charged_at` falls in the period and the subscription
//! fees charged for it, as a line per agent and charge kind ([`super::lines`]). One invoice per org and
//! period (a unique key), written with its lines in one transaction: closing a period again writes
//! nothing.

use protocol::Money;
use serde::Serialize;

use super::lines::{Kind, Line, lines, totals};
use super::payment::{Collection, PaymentProvider};
use super::period::Period;
use crate::db::invoices::{Invoice, InvoiceLine};
use crate::db::{self, Conn, Id, Time};
use crate::error::Error;

/// An invoice as its org sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InvoiceView {
    /// None for the draft of the month in progress.
    pub id: Option<uuid::Uuid>,
    pub org_id: uuid::Uuid,
    /// `YYYY-MM`, a calendar month in UTC.
    pub period: String,
    /// `draft`, `issued`, `paid` or `void`.
    pub state: String,
    /// What the org pays: the sum of the lines.
    #[schema(value_type = String)]
    pub total: Money,
    /// The developers' part of the total.
    #[schema(value_type = String)]
    pub developer: Money,
    /// The platform's part of the total.
    #[schema(value_type = String)]
    pub platform: Money,
    pub issued_at: Option<chrono::DateTime<chrono::Utc>>,
    pub paid_at: Option<chrono::DateTime<chrono::Utc>>,
    pub voided_at: Option<chrono::DateTime<chrono::Utc>>,
    pub payment_reference: Option<String>,
    pub lines: Vec<Line>,
}

impl InvoiceView {
    /// The invoice and its stored lines.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] for a line of an unknown kind; overflowing sums.
    pub fn of(invoice: &Invoice, stored: &[InvoiceLine]) -> Result<Self, Error> {
        let lines = stored
            .iter()
            .map(|line| {
                let kind = Kind::parse(&line.kind)
                    .ok_or_else(|| Error::Internal(format!("invoice line of kind {:?}", line.kind)))?;
                Ok(Line {
                    agent: line.agent.clone(),
                    kind,
                    quantity: line.quantity,
                    unit: line.unit.clone(),
                    amount: Money::from_micros(line.amount_micros),
                    developer: Money::from_micros(line.developer_micros),
                    platform: Money::from_micros(line.platform_micros),
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let (_, developer, platform) = totals(&lines)?;
        Ok(Self {
            id: Some(invoice.id.0),
            org_id: invoice.org_id.0,
            period: invoice.period.clone(),
            state: invoice.state.clone(),
            total: Money::from_micros(invoice.total_micros),
            developer,
            platform,
            issued_at: Some(invoice.issued_at.0),
            paid_at: invoice.paid_at.map(|at| at.0),
            voided_at: invoice.voided_at.map(|at| at.0),
            payment_reference: invoice.payment_reference.clone(),
            lines,
        })
    }

    /// The lines as CSV: a header, a row per line, and a `total` row.
    #[must_use]
    pub fn to_csv(&self) -> String {
        let mut csv = String::from("period,agent,kind,quantity,unit,amount,developer,platform\r\n");
        for line in &self.lines {
            csv.push_str(&row(&[
                &self.period,
                &line.agent,
                line.kind.as_str(),
                &line.quantity.to_string(),
                line.unit.as_deref().unwrap_or_default(),
                &line.amount.to_string(),
                &line.developer.to_string(),
                &line.platform.to_string(),
            ]));
        }
        csv.push_str(&row(&[
            &self.period,
            "total",
            "",
            "",
            "",
            &self.total.to_string(),
            &self.developer.to_string(),
            &self.platform.to_string(),
        ]));
        csv
    }
}

/// One CSV row (RFC 4180): fields with a comma, quote or line break are quoted.
fn row(fields: &[&str]) -> String {
    let quoted: Vec<String> = fields
        .iter()
        .map(|field| {
            if field.contains([',', '"', '\r', '\n']) {
                format!("\"{}\"", field.replace('"', "\"\""))
            } else {
                (*field).to_owned()
            }
        })
        .collect();
    format!("{}\r\n", quoted.join(","))
}

/// The org's charges and fees of `period` so far, as the lines of an invoice.
///
/// # Errors
///
/// Database errors; overflowing sums.
pub async fn lines_of(conn: &mut Conn<'_>, org: Id, period: Period) -> Result<Vec<Line>, Error> {
    let charges = db::charges::of_org_between(conn, Some(org), period.start(), period.end()).await?;
    let fees = db::subscriptions::charges_of_period(conn, Some(org), &period.to_string()).await?;
    lines(&charges, &fees)
}

/// The draft of the month in progress: what the org's invoice would hold if the period closed now.
///
/// # Errors
///
/// Database errors; overflowing sums.
pub async fn draft(conn: &mut Conn<'_>, org: Id, period: Period) -> Result<InvoiceView, Error> {
    let lines = lines_of(conn, org, period).await?;
    let (total, developer, platform) = totals(&lines)?;
    Ok(InvoiceView {
        id: None,
        org_id: org.0,
        period: period.to_string(),
        state: "draft".to_owned(),
        total,
        developer,
        platform,
        issued_at: None,
        paid_at: None,
        voided_at: None,
        payment_reference: None,
        lines,
    })
}

/// The org's invoice `id`.
///
/// # Errors
///
/// [`Error::NotFound`] for an invoice that is not the org's.
pub async fn find(conn: &mut Conn<'_>, org: Id, id: Id) -> Result<InvoiceView, Error> {
    let no_such = || Error::NotFound("no such invoice".to_owned());
    let invoice = db::invoices::find(conn, id).await.map_err(|_| no_such())?;
    if invoice.org_id != org {
        return Err(no_such());
    }
    let stored = db::invoices::lines(conn, id).await?;
    InvoiceView::of(&invoice, &stored)
}

/// Issues the org's invoice for `period` from its `lines` unless it has one; the invoice when issued now.
///
/// # Errors
///
/// Database errors; overflowing sums.
pub async fn issue(
    tx: &mut Conn<'_>,
    org: Id,
    period: Period,
    lines: &[Line],
) -> Result<Option<Invoice>, Error> {
    let (total, _, _) = totals(lines)?;
    let invoice = Invoice {
        id: Id::new(),
        org_id: org,
        period: period.to_string(),
        state: "issued".to_owned(),
        total_micros: total.micros(),
        issued_at: Time::now(),
        paid_at: None,
        voided_at: None,
        payment_reference: None,
    };
    if !db::invoices::insert_once(tx, &invoice).await? {
        return Ok(None);
    }
    for line in lines {
        db::invoices::insert_line(
            tx,
            &InvoiceLine {
                invoice_id: invoice.id,
                agent: line.agent.clone(),
                kind: line.kind.as_str().to_owned(),
                quantity: line.quantity,
                unit: line.unit.clone(),
                amount_micros: line.amount.micros(),
                developer_micros: line.developer.micros(),
                platform_micros: line.platform.micros(),
            },
        )
        .await?;
    }
    Ok(Some(invoice))
}

/// Asks `provider` to collect a just-issued invoice, and records the payment when it was made.
///
/// # Errors
///
/// Database errors; the provider's.
pub async fn collect(
    conn: &mut Conn<'_>,
    invoice: &Invoice,
    provider: &impl PaymentProvider,
) -> Result<(), Error> {
    if let Collection::Paid { reference } = provider.collect(invoice).await? {
        db::invoices::settle(conn, invoice.id, Some(Some(reference)), Time::now()).await?;
    }
    Ok(())
}

/// What a platform admin records about an issued invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// Paid, with the payment's reference if there is one.
    Paid(Option<String>),
    Void,
}

/// Marks an issued invoice paid or void, inside the caller's transaction.
///
/// # Errors
///
/// [`Error::NotFound`] for no such invoice; [`Error::Conflict`] for one not `issued`.
pub async fn settle(tx: &mut Conn<'_>, id: Id, settlement: Settlement) -> Result<InvoiceView, Error> {
    let no_such = || Error::NotFound("no such invoice".to_owned());
    let invoice = db::invoices::find(tx, id).await.map_err(|_| no_such())?;
    let paid = match settlement {
        Settlement::Paid(reference) => Some(reference),
        Settlement::Void => None,
    };
    if !db::invoices::settle(tx, id, paid, Time::now()).await? {
        return Err(Error::Conflict(format!(
            "the invoice is {}; only an issued invoice can be paid or voided",
            invoice.state
        )));
    }
    find(tx, invoice.org_id, id).await
}
