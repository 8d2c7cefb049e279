//! Who belongs to which org, and in what role.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::{memberships, orgs};
use super::{Conn, Id, Time, on_backend};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = memberships)]
pub struct Membership {
    pub org_id: Id,
    pub user_id: Id,
    /// One of `admin`, `developer`, `operator`, `approver`, `viewer` (a check constraint holds it).
    pub role: String,
    pub created_at: Time,
}

/// # Errors
///
/// A unique violation when the user is already a member.
pub async fn insert(conn: &mut Conn<'_>, membership: &Membership) -> QueryResult<()> {
    on_backend!(conn, |c| diesel::insert_into(memberships::table)
        .values(membership)
        .execute(c)
        .await
        .map(drop))
}

/// A user's memberships with each org's name, oldest first.
///
/// # Errors
///
/// Database errors.
pub async fn of_user(conn: &mut Conn<'_>, user_id: Id) -> QueryResult<Vec<(Membership, String)>> {
    on_backend!(conn, |c| memberships::table
        .inner_join(orgs::table)
        .filter(memberships::user_id.eq(user_id))
        .order(memberships::created_at.asc())
        .select((Membership::as_select(), orgs::name))
        .load(c)
        .await)
}
