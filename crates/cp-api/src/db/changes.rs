//! Changes of state an org can follow live, in the order readers may take them.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Bool;
use diesel_async::RunQueryDsl;

use super::schema::changes;
use super::{Conn, Id, Time, on_backend};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = changes)]
pub struct Change {
    pub id: i64,
    pub tx: i64,
    pub org_id: Id,
    pub topic: String,
    pub subject: Id,
    /// JSON.
    pub body: String,
    pub at: Time,
}

#[derive(Debug, Clone, PartialEq, Eq, Insertable)]
#[diesel(table_name = changes)]
pub struct NewChange {
    pub org_id: Id,
    pub topic: &'static str,
    pub subject: Id,
    pub body: String,
    pub at: Time,
}

/// The insert of one change, to make with other writes.
pub fn inserting(change: &NewChange) -> impl super::writes::Write + '_ {
    diesel::insert_into(changes::table).values(change)
}

/// On PostgreSQL: the change's transaction is older than every transaction still open, so nothing can commit
/// before it any more.
const SETTLED: &str = "tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint";

/// Where a reader stands: the (tx, id) of the last change it took.
pub type Cursor = (i64, i64);

/// # Errors
///
/// Database errors.
pub async fn insert(conn: &mut Conn<'_>, new: &[NewChange]) -> QueryResult<()> {
    if new.is_empty() {
        return Ok(());
    }
    match conn {
        // One shape per batch size, and batches are at most a claim's.
        Conn::Postgres(c) => super::Prepared(diesel::insert_into(changes::table).values(new))
            .execute(&mut **c)
            .await
            .map(drop),
        // SQLite's batch insert cannot leave `id` and `tx` to their defaults; its inserts are cheap one by one.
        Conn::Sqlite(c) => {
            for change in new {
                super::Prepared(diesel::insert_into(changes::table).values(change))
                    .execute(&mut **c)
                    .await?;
            }
            Ok(())
        }
    }
}

/// What to read: an org's changes, of one topic and subject when given.
#[derive(Debug, Clone, Copy)]
pub struct Filter<'a> {
    pub org: Id,
    pub topic: Option<&'a str>,
    pub subject: Option<Id>,
}

/// The org's changes after `cursor`, in order, at most `limit`. On PostgreSQL only those of transactions
/// older than every transaction still open: a change that commits later can then never sort before one
/// already read.
///
/// # Errors
///
/// Database errors.
pub async fn after(
    conn: &mut Conn<'_>,
    filter: Filter<'_>,
    cursor: Cursor,
    limit: i64,
) -> QueryResult<Vec<Change>> {
    let (tx, id) = cursor;
    let settled = matches!(conn, Conn::Postgres(_));
    on_backend!(conn, |c| {
        let mut query = changes::table
            .filter(changes::org_id.eq(filter.org))
            // The bound on `tx` alone is what an index range scan can start from, in a generic plan too.
            .filter(changes::tx.ge(tx))
            .filter(changes::tx.gt(tx).or(changes::tx.eq(tx).and(changes::id.gt(id))))
            .order((changes::tx.asc(), changes::id.asc()))
            .limit(limit)
            .select(Change::as_select())
            .into_boxed();
        if let Some(topic) = filter.topic {
            query = query.filter(changes::topic.eq(topic.to_owned()));
        }
        if let Some(subject) = filter.subject {
            query = query.filter(changes::subject.eq(subject));
        }
        if settled {
            query = query.filter(sql::<Bool>(SETTLED));
        }
        // One text per engine and set of filters: prepared once per connection.
        super::Prepared(query).load(c).await
    })
}

/// Every org's changes after `cursor`, in order, at most `limit`, settled as in [`after`].
///
/// # Errors
///
/// Database errors.
pub async fn all_after(conn: &mut Conn<'_>, cursor: Cursor, limit: i64) -> QueryResult<Vec<Change>> {
    let (tx, id) = cursor;
    let settled = matches!(conn, Conn::Postgres(_));
    on_backend!(conn, |c| {
        let mut query = changes::table
            // The bound on `tx` alone is what an index range scan can start from, in a generic plan too.
            .filter(changes::tx.ge(tx))
            .filter(changes::tx.gt(tx).or(changes::tx.eq(tx).and(changes::id.gt(id))))
            .order((changes::tx.asc(), changes::id.asc()))
            .limit(limit)
            .select(Change::as_select())
            .into_boxed();
        if settled {
            query = query.filter(sql::<Bool>(SETTLED));
        }
        // One text per engine and set of filters: prepared once per connection.
        super::Prepared(query).load(c).await
    })
}

/// The cursor after the org's newest settled change, to follow only what comes next (on PostgreSQL a
/// change of a transaction still open then may come once more).
///
/// # Errors
///
/// Database errors.
pub async fn latest(conn: &mut Conn<'_>, org: Id) -> QueryResult<Cursor> {
    let settled = matches!(conn, Conn::Postgres(_));
    let found: QueryResult<Option<Cursor>> = on_backend!(conn, |c| {
        let mut query = changes::table
            .filter(changes::org_id.eq(org))
            .order((changes::tx.desc(), changes::id.desc()))
            .select((changes::tx, changes::id))
            .into_boxed();
        if settled {
            query = query.filter(sql::<Bool>(SETTLED));
        }
        query.first(c).await.optional()
    });
    Ok(found?.unwrap_or((0, 0)))
}
