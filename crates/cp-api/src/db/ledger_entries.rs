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

/// The insert of an entry, unless its journal has one for the account, to make with other writes.
pub fn inserting_once(entry: &LedgerEntry) -> impl super::writes::Write + '_ {
    diesel::insert_into(ledger_entries::table)
        .values(entry)
        .on_conflict_do_nothing()
}

/// Writes a journal's entries in one statement.
///
/// # Errors
///
/// Database errors.
pub async fn insert_all(conn: &mut Conn<'_>, entries: &[LedgerEntry]) -> QueryResult<()> {
    match conn {
        // One shape per count of entries: a journal has three.
        Conn::Postgres(c) => super::Prepared(diesel::insert_into(ledger_entries::table).values(entries))
            .execute(&mut **c)
            .await
            .map(drop),
        // SQLite's inserts are calls into the same process: one by one costs nothing more.
        Conn::Sqlite(c) => {
            for entry in entries {
                super::Prepared(diesel::insert_into(ledger_entries::table).values(entry))
                    .execute(&mut **c)
                    .await?;
            }
            Ok(())
        }
    }
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

/// Every journal whose entries do not sum to zero, with the sum (none, when the books are sound).
///
/// # Errors
///
/// Database errors.
pub async fn unbalanced(conn: &mut Conn<'_>) -> QueryResult<Vec<(Id, i128)>> {
    let entries: Vec<(Id, i64)> = on_backend!(conn, |c| ledger_entries::table
        .select((ledger_entries::journal_id, ledger_entries::amount_micros))
        .load(c)
        .await)?;
    let mut sums = std::collections::BTreeMap::<Id, i128>::new();
    for (journal, amount) in entries {
        *sums.entry(journal).or_default() += i128::from(amount);
    }
    Ok(sums.into_iter().filter(|(_, sum)| *sum != 0).collect())
}
