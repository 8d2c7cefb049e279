//! A run's events, stored once each by (attempt, sequence number).

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::run_events;
use super::{Conn, Id, Time, on_backend};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = run_events)]
pub struct StoredEvent {
    pub run_id: Id,
    pub attempt: i32,
    pub seq: i64,
    pub at: Time,
    /// The event's `type`.
    pub kind: String,
    /// The event as the data plane sent it (JSON).
    pub body: String,
}

/// Stores a batch of events in one statement, each unless one with its run, attempt and sequence number is
/// stored already.
///
/// # Errors
///
/// Database errors.
pub async fn insert_all(conn: &mut Conn<'_>, events: &[StoredEvent]) -> QueryResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    match conn {
        Conn::Postgres(c) => diesel::insert_into(run_events::table)
            .values(events)
            .on_conflict_do_nothing()
            .execute(&mut **c)
            .await
            .map(drop),
        // SQLite's batch insert has no conflict clause; its inserts are cheap one by one.
        Conn::Sqlite(c) => {
            for event in events {
                diesel::insert_into(run_events::table)
                    .values(event)
                    .on_conflict_do_nothing()
                    .execute(&mut **c)
                    .await?;
            }
            Ok(())
        }
    }
}

/// A run's events in order.
///
/// # Errors
///
/// Database errors.
pub async fn of_run(conn: &mut Conn<'_>, run: Id) -> QueryResult<Vec<StoredEvent>> {
    on_backend!(conn, |c| run_events::table
        .filter(run_events::run_id.eq(run))
        .order((run_events::attempt.asc(), run_events::seq.asc()))
        .select(StoredEvent::as_select())
        .load(c)
        .await)
}

/// A run's `finished` events (one per node attempt), in order.
///
/// # Errors
///
/// Database errors.
pub async fn finished_of_run(conn: &mut Conn<'_>, run: Id) -> QueryResult<Vec<StoredEvent>> {
    on_backend!(conn, |c| run_events::table
        .filter(run_events::run_id.eq(run))
        .filter(run_events::kind.eq("finished"))
        .order((run_events::attempt.asc(), run_events::seq.asc()))
        .select(StoredEvent::as_select())
        .load(c)
        .await)
}

/// A run's events after (attempt, seq), in order, at most `limit`.
///
/// # Errors
///
/// Database errors.
pub async fn after(
    conn: &mut Conn<'_>,
    run: Id,
    attempt: i32,
    seq: i64,
    limit: i64,
) -> QueryResult<Vec<StoredEvent>> {
    on_backend!(conn, |c| run_events::table
        .filter(run_events::run_id.eq(run))
        // The bound on `attempt` alone is what an index range scan can start from, in a generic plan too.
        .filter(run_events::attempt.ge(attempt))
        .filter(
            run_events::attempt
                .gt(attempt)
                .or(run_events::attempt.eq(attempt).and(run_events::seq.gt(seq))),
        )
        .order((run_events::attempt.asc(), run_events::seq.asc()))
        .limit(limit)
        .select(StoredEvent::as_select())
        .load(c)
        .await)
}

/// The id (attempt, seq) of a run's latest event; (0, 0) when it has none.
///
/// # Errors
///
/// Database errors.
pub async fn latest(conn: &mut Conn<'_>, run: Id) -> QueryResult<(i32, i64)> {
    let found: QueryResult<Option<(i32, i64)>> = on_backend!(conn, |c| run_events::table
        .filter(run_events::run_id.eq(run))
        .order((run_events::attempt.desc(), run_events::seq.desc()))
        .select((run_events::attempt, run_events::seq))
        .first(c)
        .await
        .optional());
    Ok(found?.unwrap_or((0, 0)))
}
