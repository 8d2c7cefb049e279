//! Webhooks, their outbox of deliveries, the attempts to deliver them, and how far the senders have read the
//! changes.

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;

use super::schema::{webhook_attempts, webhook_cursor, webhook_deliveries, webhooks};
use super::sql_types::Timestamptz;
use super::{Conn, Id, Time, on_backend};
use crate::db::changes::Cursor;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = webhooks, treat_none_as_null = true)]
pub struct Webhook {
    pub id: Id,
    pub org_id: Id,
    pub url: String,
    /// JSON array of event patterns.
    pub events: String,
    /// `json` or `slack`.
    pub format: String,
    pub description: Option<String>,
    /// `whsec_` and the base64 of the signing key.
    pub secret: String,
    pub active: bool,
    pub created_at: Time,
    pub updated_at: Time,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = webhook_deliveries)]
pub struct Delivery {
    pub id: Id,
    pub webhook_id: Id,
    pub org_id: Id,
    pub change_id: Option<i64>,
    pub event: String,
    /// The JSON event.
    pub body: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: Time,
    pub expires_at: Time,
    pub created_at: Time,
    pub delivered_at: Option<Time>,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_attempts)]
pub struct Attempt {
    pub id: Id,
    pub delivery_id: Id,
    pub attempt: i32,
    pub at: Time,
    pub status: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// # Errors
///
/// Database errors.
pub async fn insert(conn: &mut Conn<'_>, webhook: &Webhook) -> QueryResult<()> {
    on_backend!(conn, |c| diesel::insert_into(webhooks::table)
        .values(webhook)
        .execute(c)
        .await
        .map(drop))
}

/// # Errors
///
/// Database errors; `NotFound` when there is none.
pub async fn find(conn: &mut Conn<'_>, id: Id) -> QueryResult<Webhook> {
    on_backend!(conn, |c| webhooks::table
        .find(id)
        .select(Webhook::as_select())
        .first(c)
        .await)
}

/// An org's webhooks, oldest first.
///
/// # Errors
///
/// Database errors.
pub async fn of_org(conn: &mut Conn<'_>, org: Id) -> QueryResult<Vec<Webhook>> {
    on_backend!(conn, |c| webhooks::table
        .filter(webhooks::org_id.eq(org))
        .order((webhooks::created_at.asc(), webhooks::id.asc()))
        .select(Webhook::as_select())
        .load(c)
        .await)
}

/// The webhooks with these ids.
///
/// # Errors
///
/// Database errors.
pub async fn find_all(conn: &mut Conn<'_>, ids: &[Id]) -> QueryResult<Vec<Webhook>> {
    on_backend!(conn, |c| webhooks::table
        .filter(webhooks::id.eq_any(ids))
        .select(Webhook::as_select())
        .load(c)
        .await)
}

/// The active webhooks of these orgs.
///
/// # Errors
///
/// Database errors.
pub async fn active_of(conn: &mut Conn<'_>, orgs: &[Id]) -> QueryResult<Vec<Webhook>> {
    on_backend!(conn, |c| webhooks::table
        .filter(webhooks::org_id.eq_any(orgs))
        .filter(webhooks::active.eq(true))
        .select(Webhook::as_select())
        .load(c)
        .await)
}

/// # Errors
///
/// Database errors.
pub async fn update(conn: &mut Conn<'_>, webhook: &Webhook) -> QueryResult<()> {
    on_backend!(conn, |c| diesel::update(webhooks::table.find(webhook.id))
        .set(webhook)
        .execute(c)
        .await
        .map(drop))
}

/// Removes a webhook with its deliveries and their attempts.
///
/// # Errors
///
/// Database errors.
pub async fn delete(conn: &mut Conn<'_>, id: Id) -> QueryResult<()> {
    on_backend!(conn, |c| diesel::delete(webhooks::table.find(id))
        .execute(c)
        .await
        .map(drop))
}

/// Where the senders stand in `changes`; on PostgreSQL the row stays locked until the transaction ends, so
/// one sender at a time reads on.
///
/// # Errors
///
/// Database errors.
pub async fn cursor_for_update(conn: &mut Conn<'_>) -> QueryResult<Cursor> {
    let query = webhook_cursor::table
        .find(1)
        .select((webhook_cursor::tx, webhook_cursor::change_id));
    match conn {
        Conn::Postgres(c) => query.for_update().first(&mut **c).await,
        // A SQLite transaction here holds the write lock from its start.
        Conn::Sqlite(c) => query.first(&mut **c).await,
    }
}

/// # Errors
///
/// Database errors.
pub async fn set_cursor(conn: &mut Conn<'_>, (tx, change): Cursor) -> QueryResult<()> {
    on_backend!(conn, |c| super::Prepared(
        diesel::update(webhook_cursor::table.find(1))
            .set((webhook_cursor::tx.eq(tx), webhook_cursor::change_id.eq(change)))
    )
    .execute(c)
    .await
    .map(drop))
}

/// Adds deliveries to the outbox; one already there for the same webhook and change stays as it is.
///
/// # Errors
///
/// Database errors.
pub async fn enqueue(conn: &mut Conn<'_>, deliveries: &[Delivery]) -> QueryResult<()> {
    for delivery in deliveries {
        on_backend!(conn, |c| diesel::insert_into(webhook_deliveries::table)
            .values(delivery)
            .on_conflict_do_nothing()
            .execute(c)
            .await)?;
    }
    Ok(())
}

/// Takes up to `max` pending deliveries due by `now` and holds them until `until`: another sender (or this one
/// after a restart) takes a delivery again only once its hold has run out.
///
/// # Errors
///
/// Database errors.
pub async fn claim_due(conn: &mut Conn<'_>, now: Time, until: Time, max: i64) -> QueryResult<Vec<Delivery>> {
    match conn {
        Conn::Postgres(c) => {
            super::Prepared(
                diesel::sql_query(
                    // The due ids are picked once, as an array (see `tasks::claim`).
                    "UPDATE webhook_deliveries SET next_attempt_at = $1 WHERE id = ANY(ARRAY( \
                     SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= $2 \
                     ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)) RETURNING *",
                )
                .bind::<Timestamptz, _>(until)
                .bind::<Timestamptz, _>(now)
                .bind::<BigInt, _>(max),
            )
            .load(&mut **c)
            .await
        }
        Conn::Sqlite(c) => {
            let due: Vec<Delivery> = webhook_deliveries::table
                .filter(webhook_deliveries::state.eq("pending"))
                .filter(webhook_deliveries::next_attempt_at.le(now))
                .order(webhook_deliveries::next_attempt_at.asc())
                .limit(max)
                .select(Delivery::as_select())
                .load(&mut **c)
                .await?;
            let ids: Vec<Id> = due.iter().map(|delivery| delivery.id).collect();
            diesel::update(webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(&ids)))
                .set(webhook_deliveries::next_attempt_at.eq(until))
                .execute(&mut **c)
                .await?;
            Ok(due)
        }
    }
}

/// What an attempt did to its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Tried again at this time.
    Retry(Time),
    /// Retries ran out.
    Failed,
}

/// Logs an attempt and moves its delivery on.
///
/// # Errors
///
/// Database errors.
pub async fn record(conn: &mut Conn<'_>, attempt: &Attempt, outcome: Outcome) -> QueryResult<()> {
    on_backend!(conn, |c| diesel::insert_into(webhook_attempts::table)
        .values(attempt)
        .execute(c)
        .await)?;
    let delivery = webhook_deliveries::table.find(attempt.delivery_id);
    let attempts = webhook_deliveries::attempts.eq(attempt.attempt);
    match outcome {
        Outcome::Delivered => on_backend!(conn, |c| diesel::update(delivery)
            .set((
                attempts,
                webhook_deliveries::state.eq("delivered"),
                webhook_deliveries::delivered_at.eq(Some(attempt.at)),
            ))
            .execute(c)
            .await),
        Outcome::Retry(at) => on_backend!(conn, |c| diesel::update(delivery)
            .set((attempts, webhook_deliveries::next_attempt_at.eq(at)))
            .execute(c)
            .await),
        Outcome::Failed => on_backend!(conn, |c| diesel::update(delivery)
            .set((attempts, webhook_deliveries::state.eq("failed")))
            .execute(c)
            .await),
    }
    .map(drop)
}

/// # Errors
///
/// Database errors; `NotFound` when there is none.
pub async fn find_delivery(conn: &mut Conn<'_>, id: Id) -> QueryResult<Delivery> {
    on_backend!(conn, |c| webhook_deliveries::table
        .find(id)
        .select(Delivery::as_select())
        .first(c)
        .await)
}

/// Which of a webhook's deliveries to list.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub state: Option<String>,
    /// Only those made before this one (keyset: newest first).
    pub before: Option<(Time, Id)>,
    pub limit: i64,
}

/// A webhook's deliveries, newest first.
///
/// # Errors
///
/// Database errors.
pub async fn deliveries_of(
    conn: &mut Conn<'_>,
    webhook: Id,
    filter: &DeliveryFilter,
) -> QueryResult<Vec<Delivery>> {
    on_backend!(conn, |c| {
        let mut query = webhook_deliveries::table
            .filter(webhook_deliveries::webhook_id.eq(webhook))
            .order((
                webhook_deliveries::created_at.desc(),
                webhook_deliveries::id.desc(),
            ))
            .limit(filter.limit)
            .select(Delivery::as_select())
            .into_boxed();
        if let Some(state) = &filter.state {
            query = query.filter(webhook_deliveries::state.eq(state.clone()));
        }
        if let Some((at, id)) = filter.before {
            // The bound on `created_at` alone is what an index range scan can start from, in a generic plan too.
            query = query.filter(webhook_deliveries::created_at.le(at));
            query = query.filter(
                webhook_deliveries::created_at
                    .lt(at)
                    .or(webhook_deliveries::created_at
                        .eq(at)
                        .and(webhook_deliveries::id.lt(id))),
            );
        }
        query.load(c).await
    })
}

/// A delivery's attempts, first first.
///
/// # Errors
///
/// Database errors.
pub async fn attempts_of(conn: &mut Conn<'_>, delivery: Id) -> QueryResult<Vec<Attempt>> {
    on_backend!(conn, |c| webhook_attempts::table
        .filter(webhook_attempts::delivery_id.eq(delivery))
        .order(webhook_attempts::attempt.asc())
        .select(Attempt::as_select())
        .load(c)
        .await)
}

/// Makes a delivery due again at `now`, with retries until `expires`.
///
/// # Errors
///
/// Database errors.
pub async fn redeliver(conn: &mut Conn<'_>, delivery: Id, now: Time, expires: Time) -> QueryResult<()> {
    on_backend!(conn, |c| diesel::update(webhook_deliveries::table.find(delivery))
        .set((
            webhook_deliveries::state.eq("pending"),
            webhook_deliveries::next_attempt_at.eq(now),
            webhook_deliveries::expires_at.eq(expires),
        ))
        .execute(c)
        .await
        .map(drop))
}

/// How many deliveries are waiting to be sent.
///
/// # Errors
///
/// Database errors.
pub async fn pending_count(conn: &mut Conn<'_>) -> QueryResult<i64> {
    on_backend!(conn, |c| webhook_deliveries::table
        .filter(webhook_deliveries::state.eq("pending"))
        .count()
        .get_result(c)
        .await)
}
