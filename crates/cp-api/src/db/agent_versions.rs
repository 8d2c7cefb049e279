//! Versions of an agent: each with its manifest (canonical JSON), digest and review state.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::agent_versions;
use super::{Conn, Id, Time, on_backend};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = agent_versions, treat_none_as_null = true)]
pub struct AgentVersion {
    pub id: Id,
    pub agent: Id,
    pub version: String,
    /// `draft`, `in_review`, `published`, `rejected` or `deprecated`.
    pub state: String,
    pub manifest: String,
    pub digest: String,
    pub submitted_by: Id,
    pub created_at: Time,
    pub updated_at: Time,
    pub reviewed_by: Option<Id>,
    pub reviewed_at: Option<Time>,
    pub rejection_reason: Option<String>,
    pub published_at: Option<Time>,
}

/// # Errors
///
/// A unique violation when the agent has the version already.
pub async fn insert(conn: &mut Conn<'_>, version: &AgentVersion) -> QueryResult<()> {
    on_backend!(conn, |c| diesel::insert_into(agent_versions::table)
        .values(version)
        .execute(c)
        .await
        .map(drop))
}

/// # Errors
///
/// Database errors.
pub async fn update(conn: &mut Conn<'_>, version: &AgentVersion) -> QueryResult<()> {
    on_backend!(conn, |c| diesel::update(agent_versions::table.find(version.id))
        .set(version)
        .execute(c)
        .await
        .map(drop))
}

/// # Errors
///
/// Database errors.
pub async fn delete(conn: &mut Conn<'_>, id: Id) -> QueryResult<()> {
    on_backend!(conn, |c| diesel::delete(agent_versions::table.find(id))
        .execute(c)
        .await
        .map(drop))
}

/// # Errors
///
/// Database errors; `None` when the agent has no such version.
pub async fn find(conn: &mut Conn<'_>, agent: Id, version: &str) -> QueryResult<Option<AgentVersion>> {
    on_backend!(conn, |c| agent_versions::table
        .filter(agent_versions::agent.eq(agent))
        .filter(agent_versions::version.eq(version))
        .select(AgentVersion::as_select())
        .first(c)
        .await
        .optional())
}

/// Every version of the agent, oldest first.
///
/// # Errors
///
/// Database errors.
pub async fn of_agent(conn: &mut Conn<'_>, agent: Id) -> QueryResult<Vec<AgentVersion>> {
    on_backend!(conn, |c| agent_versions::table
        .filter(agent_versions::agent.eq(agent))
        .order(agent_versions::created_at.asc())
        .select(AgentVersion::as_select())
        .load(c)
        .await)
}
