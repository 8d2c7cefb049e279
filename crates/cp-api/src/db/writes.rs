//! Several writes of a transaction made at once: on PostgreSQL as one statement, each write a
//! data-modifying `WITH` part of it, so they cost one round trip instead of one each; on SQLite, which is in
//! the process and has no round trips, one after another.
//!
//! For writes that return nothing and touch different rows (PostgreSQL runs the parts of one statement on
//! one snapshot, so no part sees another's rows, and the order of their effects is not defined); foreign
//! keys between them hold, as PostgreSQL checks them when the statement ends.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;
use diesel_async::RunQueryDsl;

use super::{Conn, Prepared};

/// A write that returns nothing: an `INSERT`, `UPDATE` or `DELETE` built for either engine, or a
/// [`Notice`].
pub trait Write: Sync {
    /// The statement on PostgreSQL, if it makes one there.
    fn postgres(&self) -> Option<&(dyn QueryFragment<Pg> + Sync)>;
    /// The statement on SQLite, if it makes one there.
    fn sqlite(&self) -> Option<&(dyn QueryFragment<Sqlite> + Sync)>;
    /// Whether it is a [`Notice`].
    fn is_notice(&self) -> bool {
        false
    }
}

impl<T> Write for T
where
    T: QueryFragment<Pg> + QueryFragment<Sqlite> + Sync,
{
    fn postgres(&self) -> Option<&(dyn QueryFragment<Pg> + Sync)> {
        Some(self)
    }

    fn sqlite(&self) -> Option<&(dyn QueryFragment<Sqlite> + Sync)> {
        Some(self)
    }
}

/// A `NOTIFY` sent when the transaction commits, on PostgreSQL; nothing on SQLite, which wakes its
/// waiters in the process. At most one to a statement, which it ends (a `SELECT` in a `WITH` part that
/// nothing reads is not run).
#[derive(Debug)]
pub struct Notice {
    pub channel: &'static str,
    pub payload: String,
}

impl QueryFragment<Pg> for Notice {
    fn walk_ast<'b>(&'b self, mut pass: AstPass<'_, 'b, Pg>) -> diesel::QueryResult<()> {
        pass.push_sql("SELECT pg_notify(");
        pass.push_bind_param::<Text, _>(self.channel)?;
        pass.push_sql(", ");
        pass.push_bind_param::<Text, _>(&self.payload)?;
        pass.push_sql(")");
        Ok(())
    }
}

impl Write for Notice {
    fn postgres(&self) -> Option<&(dyn QueryFragment<Pg> + Sync)> {
        Some(self)
    }

    fn sqlite(&self) -> Option<&(dyn QueryFragment<Sqlite> + Sync)> {
        None
    }

    fn is_notice(&self) -> bool {
        true
    }
}

/// The writes, then a last statement (a query that returns rows, or the last write), as one PostgreSQL
/// statement: `WITH w0 AS (…), w1 AS (…) <last>`. The last sees the database as it was before the writes
/// (one snapshot).
pub struct Then<'a, Q> {
    writes: Vec<&'a (dyn QueryFragment<Pg> + Sync)>,
    query: Q,
}

impl<Q> std::fmt::Debug for Then<'_, Q> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} writes, then a query", self.writes.len())
    }
}

impl<'a, Q> Then<'a, Q> {
    /// `writes` (no [`Notice`] among them: a notice ends a statement), then `query`.
    ///
    /// # Errors
    ///
    /// A notice among the writes.
    pub fn new(writes: &[&'a dyn Write], query: Q) -> diesel::QueryResult<Self> {
        if writes.iter().any(|write| write.is_notice()) {
            return Err(diesel::result::Error::QueryBuilderError(
                "a notice ends its statement".into(),
            ));
        }
        Ok(Self {
            writes: writes.iter().filter_map(|write| write.postgres()).collect(),
            query,
        })
    }
}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Then<'_, Q> {
    fn walk_ast<'b>(&'b self, mut pass: AstPass<'_, 'b, Pg>) -> diesel::QueryResult<()> {
        for (index, part) in self.writes.iter().enumerate() {
            pass.push_sql(if index == 0 { "WITH " } else { ", " });
            pass.push_sql(&format!("w{index} AS ("));
            part.walk_ast(pass.reborrow())?;
            pass.push_sql(")");
        }
        if !self.writes.is_empty() {
            pass.push_sql(" ");
        }
        self.query.walk_ast(pass.reborrow())
    }
}

impl<Q> QueryId for Then<'_, Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for Then<'_, Q> {
    type SqlType = Q::SqlType;
}

/// Writes gathered as a transaction goes, to make together ([`write_all`]) when it knows them all.
#[derive(Default)]
pub struct Writes<'a>(Vec<Box<dyn Write + Send + 'a>>);

impl<'a> Writes<'a> {
    pub fn add(&mut self, write: impl Write + Send + 'a) {
        self.0.push(Box::new(write));
    }

    /// Makes them, in one round trip on PostgreSQL.
    ///
    /// # Errors
    ///
    /// Database errors (none of them is made then).
    pub async fn make(self, conn: &mut Conn<'_>) -> diesel::QueryResult<()> {
        write_all(conn, &self.all()).await
    }

    /// Each of them, to make with a statement of the caller's.
    #[must_use]
    pub fn all(&self) -> Vec<&dyn Write> {
        self.0.iter().map(|write| &**write as &dyn Write).collect()
    }
}

impl std::fmt::Debug for Writes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} writes", self.0.len())
    }
}

/// Makes `writes`, in one round trip on PostgreSQL. Each keeps its statement prepared, as the shapes a
/// caller combines are few.
///
/// # Errors
///
/// Database errors (on PostgreSQL none of the writes is made then).
pub async fn write_all(conn: &mut Conn<'_>, writes: &[&dyn Write]) -> diesel::QueryResult<()> {
    match conn {
        Conn::Postgres(c) => match together(writes)? {
            Some(together) => Prepared(together).execute(&mut **c).await.map(drop),
            None => Ok(()),
        },
        Conn::Sqlite(c) => {
            for write in writes.iter().filter_map(|write| write.sqlite()) {
                Prepared(write).execute(&mut **c).await?;
            }
            Ok(())
        }
    }
}

/// The one PostgreSQL statement that makes `writes`, its notice (if any) last; none for no writes.
fn together<'a>(
    writes: &[&'a dyn Write],
) -> diesel::QueryResult<Option<Then<'a, &'a (dyn QueryFragment<Pg> + Sync)>>> {
    let (notices, others): (Vec<&dyn Write>, Vec<&dyn Write>) =
        writes.iter().partition(|write| write.is_notice());
    if notices.len() > 1 {
        return Err(diesel::result::Error::QueryBuilderError(
            "one notice to a statement".into(),
        ));
    }
    let mut parts: Vec<_> = others
        .into_iter()
        .chain(notices)
        .filter_map(Write::postgres)
        .collect();
    Ok(parts.pop().map(|last| Then {
        writes: parts,
        query: last,
    }))
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;

    use super::*;
    use crate::db::schema::tasks;
    use crate::db::{Id, TASKS_CHANNEL};

    fn sql(writes: &[&dyn Write]) -> String {
        let together = together(writes).unwrap().unwrap();
        diesel::debug_query::<Pg, _>(&together).to_string()
    }

    #[test]
    fn writes_become_with_parts_of_one_statement_with_binds_numbered_across_them() {
        let (first, second) = (Id::new(), Id::new());
        let text = sql(&[
            &diesel::delete(tasks::table.find(first)),
            &diesel::delete(tasks::table.find(second)),
        ]);
        assert!(
            text.starts_with(
                r#"WITH w0 AS (DELETE FROM "tasks" WHERE ("tasks"."id" = $1)) DELETE FROM "tasks" WHERE ("tasks"."id" = $2)"#
            ),
            "{text}"
        );
        let binds = text.split("-- binds: ").nth(1).unwrap();
        assert!(
            binds.find(&first.0.to_string()) < binds.find(&second.0.to_string()),
            "{text}"
        );
    }

    #[test]
    fn a_notice_ends_the_statement_and_is_alone() {
        let notice = Notice {
            channel: TASKS_CHANNEL,
            payload: "deployment".to_owned(),
        };
        let text = sql(&[&notice, &diesel::delete(tasks::table.find(Id::new()))]);
        assert!(
            text.starts_with(
                r#"WITH w0 AS (DELETE FROM "tasks" WHERE ("tasks"."id" = $1)) SELECT pg_notify($2, $3)"#
            ),
            "{text}"
        );
        assert!(together(&[&notice, &notice]).is_err());
        assert!(together(&[]).unwrap().is_none());
        let query = diesel::delete(tasks::table.find(Id::new()));
        assert!(Then::new(&[&notice], query).is_err());
    }
}
