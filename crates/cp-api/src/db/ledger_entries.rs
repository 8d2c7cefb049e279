//! The double-entry ledger: each journal's entries sum to zero.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::ledger_entries;
use super::{Conn, Id, Time, on_backend};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = ledger_entries)]
pub struct LedgerEntry {
    pub journal_id: Id,
    /// `customer:<org>`, `developer:<org>` or `platform`.
    pub account: String,
    /// Negative for a debit.
    pub amount_micros: i64,
    pub at: Time,
}

/// # Errors
///
/// Database errors.
pub async fn insert(conn: &mut Conn<'_>, entry: &LedgerEntry) -> QueryResult<()> {
    on_backend!(conn, |c| diesel::insert_into(ledger_entries::table)
        .values(entry)
        .execute(c)
        .await
        .map(drop))
}

/// A journal's entries.
///
/// # Errors
///
/// Database errors.
pub async fn of_journal(conn: &mut Conn<'_>, journal: Id) -> QueryResult<Vec<LedgerEntry>> {
    on_backend!(conn, |c| ledger_entries::table
        .filter(ledger_entries::journal_id.eq(journal))
        .select(LedgerEntry::as_select())
        .load(c)
        .await)
}
