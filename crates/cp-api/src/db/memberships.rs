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

/// The org that owns a deployment, and the user's role in it (`None` when not a member), in one statement;
/// `None` when there is no such deployment.
///
/// # Errors
///
/// Database errors.
pub async fn in_org_of_deployment(
    conn: &mut Conn<'_>,
    deployment: Id,
    user_id: Id,
) -> QueryResult<Option<(Id, Option<Role>)>> {
    use super::schema::deployments;
    let found: Option<(Id, Option<String>)> = on_backend!(conn, |c| deployments::table
        .left_join(
            memberships::table.on(memberships::org_id
                .eq(deployments::org_id)
                .and(memberships::user_id.eq(user_id))),
        )
        .filter(deployments::id.eq(deployment))
        .select((deployments::org_id, memberships::role.nullable()))
        .first(c)
        .await
        .optional())?;
    Ok(found.map(|(org, role)| (org, role.and_then(|role| role.parse().ok()))))
}

/// The org that owns a run, and the user's role in it (`None` when not a member), in one statement; `None`
/// when there is no such run.
///
/// # Errors
///
/// Database errors.
pub async fn in_org_of_run(
    conn: &mut Conn<'_>,
    run: Id,
    user_id: Id,
) -> QueryResult<Option<(Id, Option<Role>)>> {
    use super::schema::runs;
    let found: Option<(Id, Option<String>)> = on_backend!(conn, |c| runs::table
        .left_join(
            memberships::table.on(memberships::org_id
                .eq(runs::org_id)
                .and(memberships::user_id.eq(user_id))),
        )
        .filter(runs::id.eq(run))
        .select((runs::org_id, memberships::role.nullable()))
        .first(c)
        .await
        .optional())?;
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
