//! Organisations: the tenants.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::orgs;
use super::{Conn, Id, Time, on_backend};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = orgs)]
pub struct Org {
    pub id: Id,
    pub name: String,
    pub created_at: Time,
    /// Approving an approval of a run one started oneself is refused.
    pub forbid_self_approval: bool,
    /// Runs the org may start per UTC month; none: unlimited.
    pub monthly_run_quota: Option<i64>,
    /// What the org may be charged per UTC month, in micro-dollars; none: unlimited.
    pub monthly_spend_cap_micros: Option<i64>,
}

/// # Errors
///
/// A unique violation when the name is taken.
pub async fn insert(conn: &mut Conn<'_>, org: &Org) -> QueryResult<()> {
    on_backend!(conn, |c| diesel::insert_into(orgs::table)
        .values(org)
        .execute(c)
        .await
        .map(drop))
}

/// # Errors
///
/// `NotFound` when there is no such org.
pub async fn find(conn: &mut Conn<'_>, id: Id) -> QueryResult<Org> {
    on_backend!(conn, |c| orgs::table
        .find(id)
        .select(Org::as_select())
        .first(c)
        .await)
}

/// # Errors
///
/// Database errors.
pub async fn set_limits(
    conn: &mut Conn<'_>,
    id: Id,
    quota: Option<i64>,
    cap: Option<i64>,
) -> QueryResult<()> {
    on_backend!(conn, |c| diesel::update(orgs::table.find(id))
        .set((
            orgs::monthly_run_quota.eq(quota),
            orgs::monthly_spend_cap_micros.eq(cap)
        ))
        .execute(c)
        .await
        .map(drop))
}

/// Takes the org's row for the rest of the transaction (on PostgreSQL; a SQLite transaction here holds the
/// write lock already), so checks of its limits and what they count cannot interleave.
///
/// # Errors
///
/// Database errors.
pub async fn lock(conn: &mut Conn<'_>, id: Id) -> QueryResult<()> {
    if let Conn::Postgres(c) = conn {
        orgs::table
            .find(id)
            .select(orgs::id)
            .for_update()
            .first::<Id>(&mut **c)
            .await?;
    }
    Ok(())
}

/// # Errors
///
/// Database errors.
pub async fn set_forbid_self_approval(conn: &mut Conn<'_>, id: Id, forbid: bool) -> QueryResult<()> {
    on_backend!(conn, |c| diesel::update(orgs::table.find(id))
        .set(orgs::forbid_self_approval.eq(forbid))
        .execute(c)
        .await
        .map(drop))
}
