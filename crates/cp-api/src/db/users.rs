//! User accounts.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::users;
use super::{Conn, Id, Time, on_backend};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: Id,
    /// Lowercased.
    pub email: String,
    /// Argon2id, in PHC string form.
    pub password_hash: String,
    pub is_platform_admin: bool,
    pub created_at: Time,
}

/// # Errors
///
/// A unique violation when the email is taken.
pub async fn insert(conn: &mut Conn<'_>, user: &User) -> QueryResult<()> {
    on_backend!(conn, |c| diesel::insert_into(users::table)
        .values(user)
        .execute(c)
        .await
        .map(drop))
}

/// # Errors
///
/// `NotFound` when there is no such user.
pub async fn find(conn: &mut Conn<'_>, id: Id) -> QueryResult<User> {
    on_backend!(conn, |c| users::table
        .find(id)
        .select(User::as_select())
        .first(c)
        .await)
}

/// # Errors
///
/// `NotFound` when no user has the email (compared lowercased).
pub async fn by_email(conn: &mut Conn<'_>, email: &str) -> QueryResult<User> {
    let email = email.trim().to_lowercase();
    on_backend!(conn, |c| users::table
        .filter(users::email.eq(&email))
        .select(User::as_select())
        .first(c)
        .await)
}
