//! Ratings and reviews: one per user per agent.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::reviews;
use super::{Conn, Id, Time, on_backend};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = reviews, treat_none_as_null = true)]
pub struct Review {
    pub id: Id,
    pub agent: Id,
    pub user_id: Id,
    pub stars: i32,
    pub body: String,
    pub created_at: Time,
    pub updated_at: Time,
    pub reply: Option<String>,
    pub replied_at: Option<Time>,
}

/// # Errors
///
/// Database errors; `None` when the user has not reviewed the agent.
pub async fn of_user(conn: &mut Conn<'_>, agent: Id, user: Id) -> QueryResult<Option<Review>> {
    on_backend!(conn, |c| reviews::table
        .filter(reviews::agent.eq(agent))
        .filter(reviews::user_id.eq(user))
        .select(Review::as_select())
        .first(c)
        .await
        .optional())
}

/// # Errors
///
/// Database errors.
pub async fn find(conn: &mut Conn<'_>, agent: Id, id: Id) -> QueryResult<Review> {
    on_backend!(conn, |c| reviews::table
        .filter(reviews::agent.eq(agent))
        .filter(reviews::id.eq(id))
        .select(Review::as_select())
        .first(c)
        .await)
}

/// # Errors
///
/// A unique violation when the user has reviewed the agent already.
pub async fn insert(conn: &mut Conn<'_>, review: &Review) -> QueryResult<()> {
    on_backend!(conn, |c| diesel::insert_into(reviews::table)
        .values(review)
        .execute(c)
        .await
        .map(drop))
}

/// # Errors
///
/// Database errors.
pub async fn update(conn: &mut Conn<'_>, review: &Review) -> QueryResult<()> {
    on_backend!(conn, |c| diesel::update(reviews::table.find(review.id))
        .set(review)
        .execute(c)
        .await
        .map(drop))
}

/// The agent's reviews, newest first, after the cursor's review id (UUIDv7, so time-ordered).
///
/// # Errors
///
/// Database errors.
pub async fn of_agent(
    conn: &mut Conn<'_>,
    agent: Id,
    before: Option<Id>,
    limit: i64,
) -> QueryResult<Vec<Review>> {
    on_backend!(conn, |c| {
        let mut query = reviews::table.filter(reviews::agent.eq(agent)).into_boxed();
        if let Some(before) = before {
            query = query.filter(reviews::id.lt(before));
        }
        query
            .order(reviews::id.desc())
            .limit(limit)
            .select(Review::as_select())
            .load(c)
            .await
    })
}
