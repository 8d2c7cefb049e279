//! Payouts: what a developer org is paid for one period, or carries over to the next.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::payouts;
use super::{Conn, Id, Time, on_backend};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = payouts)]
pub struct Payout {
    pub id: Id,
    pub developer_org_id: Id,
    /// `YYYY-MM`.
    pub period: String,
    /// The developer's share of the period's charges.
    pub earned_micros: i64,
    /// Carried over from the period before.
    pub carried_in_micros: i64,
    /// Paid out for this period: zero when carried over.
    pub amount_micros: i64,
    pub carried_out_micros: i64,
    /// `carried_over`, `due` or `paid`.
    pub state: String,
    pub created_at: Time,
    pub paid_at: Option<Time>,
    /// The transfer's reference, once paid.
    pub payment_reference: Option<String>,
}

/// Inserts the payout unless the developer org has one for its period; whether it did.
///
/// # Errors
///
/// Database errors.
pub async fn insert_once(conn: &mut Conn<'_>, payout: &Payout) -> QueryResult<bool> {
    on_backend!(conn, |c| diesel::insert_into(payouts::table)
        .values(payout)
        .on_conflict_do_nothing()
        .execute(c)
        .await
        .map(|inserted| inserted > 0))
}

/// The developer org's payouts, newest period first.
///
/// # Errors
///
/// Database errors.
pub async fn of_developer(conn: &mut Conn<'_>, developer_org: Id) -> QueryResult<Vec<Payout>> {
    on_backend!(conn, |c| payouts::table
        .filter(payouts::developer_org_id.eq(developer_org))
        .order(payouts::period.desc())
        .select(Payout::as_select())
        .load(c)
        .await)
}

/// Each developer org's latest payout before `period` that carried something over.
///
/// # Errors
///
/// Database errors.
pub async fn carried_into(conn: &mut Conn<'_>, period: &str) -> QueryResult<Vec<Payout>> {
    let earlier: Vec<Payout> = on_backend!(conn, |c| payouts::table
        .filter(payouts::period.lt(period))
        .order((payouts::developer_org_id, payouts::period.desc()))
        .select(Payout::as_select())
        .load(c)
        .await)?;
    let mut latest: Vec<Payout> = Vec::new();
    for payout in earlier {
        if latest
            .last()
            .is_none_or(|last| last.developer_org_id != payout.developer_org_id)
        {
            latest.push(payout);
        }
    }
    latest.retain(|payout| payout.carried_out_micros > 0);
    Ok(latest)
}

/// Every payout of the period.
///
/// # Errors
///
/// Database errors.
pub async fn of_period(conn: &mut Conn<'_>, period: &str) -> QueryResult<Vec<Payout>> {
    on_backend!(conn, |c| payouts::table
        .filter(payouts::period.eq(period))
        .order(payouts::developer_org_id)
        .select(Payout::as_select())
        .load(c)
        .await)
}

/// # Errors
///
/// `NotFound` when there is no such payout.
pub async fn find(conn: &mut Conn<'_>, id: Id) -> QueryResult<Payout> {
    on_backend!(conn, |c| payouts::table
        .find(id)
        .select(Payout::as_select())
        .first(c)
        .await)
}

/// Marks a `due` payout paid; whether it was due.
///
/// # Errors
///
/// Database errors.
pub async fn mark_paid(conn: &mut Conn<'_>, id: Id, reference: Option<&str>, at: Time) -> QueryResult<bool> {
    on_backend!(conn, |c| diesel::update(
        payouts::table.find(id).filter(payouts::state.eq("due"))
    )
    .set((
        payouts::state.eq("paid"),
        payouts::paid_at.eq(at),
        payouts::payment_reference.eq(reference),
    ))
    .execute(c)
    .await
    .map(|updated| updated > 0))
}
