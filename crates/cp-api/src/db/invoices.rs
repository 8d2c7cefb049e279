//! Invoices: an org's bill for one period, with a line per agent and charge kind.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::{invoice_lines, invoices};
use super::{Conn, Id, Time, on_backend};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = invoices)]
pub struct Invoice {
    pub id: Id,
    pub org_id: Id,
    /// `YYYY-MM`.
    pub period: String,
    /// `draft`, `issued`, `paid` or `void`.
    pub state: String,
    pub total_micros: i64,
    pub issued_at: Time,
    pub paid_at: Option<Time>,
    pub voided_at: Option<Time>,
    pub payment_reference: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = invoice_lines)]
pub struct InvoiceLine {
    pub invoice_id: Id,
    pub agent: String,
    /// `base`, `units`, `compute` or `subscription`.
    pub kind: String,
    pub quantity: i64,
    pub unit: Option<String>,
    pub amount_micros: i64,
    pub developer_micros: i64,
    pub platform_micros: i64,
}

/// Inserts the invoice unless the org has one for its period; whether it did.
///
/// # Errors
///
/// Database errors.
pub async fn insert_once(conn: &mut Conn<'_>, invoice: &Invoice) -> QueryResult<bool> {
    on_backend!(conn, |c| diesel::insert_into(invoices::table)
        .values(invoice)
        .on_conflict_do_nothing()
        .execute(c)
        .await
        .map(|inserted| inserted > 0))
}

/// One line (one by one: SQLite cannot batch rows into a table with defaults).
///
/// # Errors
///
/// Database errors.
pub async fn insert_line(conn: &mut Conn<'_>, line: &InvoiceLine) -> QueryResult<()> {
    on_backend!(conn, |c| diesel::insert_into(invoice_lines::table)
        .values(line)
        .execute(c)
        .await
        .map(drop))
}

/// # Errors
///
/// `NotFound` when there is no such invoice.
pub async fn find(conn: &mut Conn<'_>, id: Id) -> QueryResult<Invoice> {
    on_backend!(conn, |c| invoices::table
        .find(id)
        .select(Invoice::as_select())
        .first(c)
        .await)
}

/// An invoice's lines, by agent then kind.
///
/// # Errors
///
/// Database errors.
pub async fn lines(conn: &mut Conn<'_>, invoice: Id) -> QueryResult<Vec<InvoiceLine>> {
    on_backend!(conn, |c| invoice_lines::table
        .filter(invoice_lines::invoice_id.eq(invoice))
        .order((invoice_lines::agent, invoice_lines::kind))
        .select(InvoiceLine::as_select())
        .load(c)
        .await)
}

/// The org's invoices, newest period first.
///
/// # Errors
///
/// Database errors.
pub async fn of_org(conn: &mut Conn<'_>, org: Id) -> QueryResult<Vec<Invoice>> {
    on_backend!(conn, |c| invoices::table
        .filter(invoices::org_id.eq(org))
        .order(invoices::period.desc())
        .select(Invoice::as_select())
        .load(c)
        .await)
}

/// Every org's invoice for the period.
///
/// # Errors
///
/// Database errors.
pub async fn of_period(conn: &mut Conn<'_>, period: &str) -> QueryResult<Vec<Invoice>> {
    on_backend!(conn, |c| invoices::table
        .filter(invoices::period.eq(period))
        .order(invoices::org_id)
        .select(Invoice::as_select())
        .load(c)
        .await)
}

/// Moves an `issued` invoice to `paid` (with the payment's reference) or `void`; whether it was issued.
///
/// # Errors
///
/// Database errors.
pub async fn settle(
    conn: &mut Conn<'_>,
    id: Id,
    paid: Option<Option<String>>,
    at: Time,
) -> QueryResult<bool> {
    on_backend!(conn, |c| {
        let issued = invoices::table.find(id).filter(invoices::state.eq("issued"));
        let updated = match &paid {
            Some(reference) => {
                diesel::update(issued)
                    .set((
                        invoices::state.eq("paid"),
                        invoices::paid_at.eq(at),
                        invoices::payment_reference.eq(reference),
                    ))
                    .execute(c)
                    .await?
            }
            None => {
                diesel::update(issued)
                    .set((invoices::state.eq("void"), invoices::voided_at.eq(at)))
                    .execute(c)
                    .await?
            }
        };
        Ok(updated > 0)
    })
}
