//! Catalog listings: one per agent id, carrying its current published version's searchable fields and its
//! rating aggregates.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::agents;
use super::{Conn, Id, Time, on_backend};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, QueryableByName, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = agents)]
pub struct Agent {
    pub id: Id,
    pub agent_id: String,
    pub owner_org_id: Id,
    pub listed: bool,
    pub current_version: Option<String>,
    pub name: String,
    pub description: String,
    pub category: String,
    /// `|a|b|`
    pub tags: String,
    /// `|a|b|`
    pub capabilities: String,
    /// Tags and capabilities as words, for full-text search.
    pub keywords: String,
    pub pricing_model: String,
    pub price_micros: i64,
    pub risk: String,
    pub installs: i64,
    pub rating_count: i32,
    pub rating_sum: i32,
    pub rating_avg_milli: i32,
    pub stars_1: i32,
    pub stars_2: i32,
    pub stars_3: i32,
    pub stars_4: i32,
    pub stars_5: i32,
    pub created_at: Time,
    pub published_at: Option<Time>,
}

/// The fields a version's manifest decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingFields {
    pub name: String,
    pub description: String,
    pub category: String,
    pub tags: String,
    pub capabilities: String,
    pub keywords: String,
    pub pricing_model: String,
    pub price_micros: i64,
    pub risk: String,
}

/// # Errors
///
/// A unique violation when the agent id is taken.
pub async fn insert(conn: &mut Conn<'_>, agent: &Agent) -> QueryResult<()> {
    on_backend!(conn, |c| diesel::insert_into(agents::table)
        .values(agent)
        .execute(c)
        .await
        .map(drop))
}

/// # Errors
///
/// `NotFound` when no listing has the agent id.
pub async fn by_agent_id(conn: &mut Conn<'_>, agent_id: &str) -> QueryResult<Agent> {
    on_backend!(conn, |c| agents::table
        .filter(agents::agent_id.eq(agent_id))
        .select(Agent::as_select())
        .first(c)
        .await)
}

/// # Errors
///
/// Database errors.
pub async fn update(conn: &mut Conn<'_>, agent: &Agent) -> QueryResult<()> {
    on_backend!(conn, |c| diesel::update(agents::table.find(agent.id))
        .set(agent)
        .execute(c)
        .await
        .map(drop))
}

/// # Errors
///
/// Database errors.
pub async fn delete(conn: &mut Conn<'_>, id: Id) -> QueryResult<()> {
    on_backend!(conn, |c| diesel::delete(agents::table.find(id))
        .execute(c)
        .await
        .map(drop))
}

/// Counts a rating in the listing's aggregates, atomically (concurrent reviews all count): `added` stars
/// in, and `removed` stars out when a review changed its rating.
///
/// # Errors
///
/// Database errors.
pub async fn count_rating(conn: &mut Conn<'_>, id: Id, added: i32, removed: Option<i32>) -> QueryResult<()> {
    let (count, sum) = match removed {
        Some(old) => (0, added - old),
        None => (1, added),
    };
    on_backend!(conn, |c| {
        diesel::update(agents::table.find(id))
            .set((
                agents::rating_count.eq(agents::rating_count + count),
                agents::rating_sum.eq(agents::rating_sum + sum),
                agents::rating_avg_milli
                    .eq((agents::rating_sum + sum) * 1000 / (agents::rating_count + count)),
            ))
            .execute(c)
            .await?;
        for (stars, change) in [(Some(added), 1), (removed, -1)] {
            let Some(stars) = stars else { continue };
            let target = agents::table.find(id);
            match stars {
                1 => {
                    diesel::update(target)
                        .set(agents::stars_1.eq(agents::stars_1 + change))
                        .execute(c)
                        .await?
                }
                2 => {
                    diesel::update(target)
                        .set(agents::stars_2.eq(agents::stars_2 + change))
                        .execute(c)
                        .await?
                }
                3 => {
                    diesel::update(target)
                        .set(agents::stars_3.eq(agents::stars_3 + change))
                        .execute(c)
                        .await?
                }
                4 => {
                    diesel::update(target)
                        .set(agents::stars_4.eq(agents::stars_4 + change))
                        .execute(c)
                        .await?
                }
                _ => {
                    diesel::update(target)
                        .set(agents::stars_5.eq(agents::stars_5 + change))
                        .execute(c)
                        .await?
                }
            };
        }
        Ok(())
    })
}

/// Counts an install (`change` 1) or an uninstall (-1) in the listing, atomically.
///
/// # Errors
///
/// Database errors.
pub async fn count_install(conn: &mut Conn<'_>, id: Id, change: i64) -> QueryResult<()> {
    on_backend!(conn, |c| diesel::update(agents::table.find(id))
        .set(agents::installs.eq(agents::installs + change))
        .execute(c)
        .await
        .map(drop))
}

/// # Errors
///
/// `NotFound` when there is no such listing.
pub async fn find(conn: &mut Conn<'_>, id: Id) -> QueryResult<Agent> {
    on_backend!(conn, |c| agents::table
        .find(id)
        .select(Agent::as_select())
        .first(c)
        .await)
}
