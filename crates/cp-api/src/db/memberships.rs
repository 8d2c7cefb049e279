//! Who belongs to which org, and in what role.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::{memberships, orgs, users};
use super::{Conn, Id, Time, on_backend};
use crate::auth::roles::Role;

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

/// The user's role in the org, if they are a member.
///
/// # Errors
///
/// Database errors.
pub async fn role(conn: &mut Conn<'_>, org_id: Id, user_id: Id) -> QueryResult<Option<Role>> {
    let role: Option<String> = on_backend!(conn, |c| memberships::table
        .find((org_id, user_id))
        .select(memberships::role)
        .first(c)
        .await
        .optional())?;
    // The check constraint admits only known roles.
    Ok(role.and_then(|role| role.parse().ok()))
}

/// A row that belongs to an org, as a route names it.
#[derive(Debug, Clone, Copy)]
pub enum Owned {
    Deployment(Id),
    Run(Id),
}

/// The org that owns `owned`, and the user's role in it (`None` when not a member), in one statement;
/// `None` when there is no such row.
///
/// # Errors
///
/// Database errors.
pub async fn in_org_of(
    conn: &mut Conn<'_>,
    owned: Owned,
    user_id: Id,
) -> QueryResult<Option<(Id, Option<Role>)>> {
    use super::schema::{deployments, runs};
    macro_rules! org_and_role {
        ($table:ident, $id:expr) => {
            on_backend!(conn, |c| $table::table
                .left_join(
                    memberships::table.on(memberships::org_id
                        .eq($table::org_id)
                        .and(memberships::user_id.eq(user_id))),
                )
                .filter($table::id.eq($id))
                .select(($table::org_id, memberships::role.nullable()))
                .first::<(Id, Option<String>)>(c)
                .await
                .optional())
        };
    }
    let found = match owned {
        Owned::Deployment(id) => org_and_role!(deployments, id)?,
        Owned::Run(id) => org_and_role!(runs, id)?,
    };
    // The check constraint admits only known roles.
    Ok(found.map(|(org, role)| (org, role.and_then(|role| role.parse().ok()))))
}

/// The org's members with their emails, oldest first.
///
/// # Errors
///
/// Database errors.
pub async fn of_org(conn: &mut Conn<'_>, org_id: Id) -> QueryResult<Vec<(Membership, String)>> {
    on_backend!(conn, |c| memberships::table
        .inner_join(users::table)
        .filter(memberships::org_id.eq(org_id))
        .order(memberships::created_at.asc())
        .select((Membership::as_select(), users::email))
        .load(c)
        .await)
}

/// # Errors
///
/// Database errors; `NotFound` when the user is not a member.
pub async fn set_role(conn: &mut Conn<'_>, org_id: Id, user_id: Id, role: Role) -> QueryResult<()> {
    let updated = on_backend!(conn, |c| diesel::update(
        memberships::table.find((org_id, user_id))
    )
    .set(memberships::role.eq(role.as_str()))
    .execute(c)
    .await)?;
    if updated == 0 {
        Err(diesel::result::Error::NotFound)
    } else {
        Ok(())
    }
}

/// # Errors
///
/// Database errors; `NotFound` when the user is not a member.
pub async fn remove(conn: &mut Conn<'_>, org_id: Id, user_id: Id) -> QueryResult<()> {
    let deleted = on_backend!(conn, |c| diesel::delete(
        memberships::table.find((org_id, user_id))
    )
    .execute(c)
    .await)?;
    if deleted == 0 {
        Err(diesel::result::Error::NotFound)
    } else {
        Ok(())
    }
}

/// How many admins the org has.
///
/// # Errors
///
/// Database errors.
pub async fn admin_count(conn: &mut Conn<'_>, org_id: Id) -> QueryResult<i64> {
    on_backend!(conn, |c| memberships::table
        .filter(memberships::org_id.eq(org_id))
        .filter(memberships::role.eq(Role::Admin.as_str()))
        .count()
        .get_result(c)
        .await)
}
