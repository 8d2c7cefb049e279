//! API keys for scripts: found by their public prefix, checked against the hash of their secret.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::{api_keys, users};
use super::{Conn, Id, Time, on_backend};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys)]
pub struct ApiKey {
    pub id: Id,
    pub user_id: Id,
    pub name: String,
    pub prefix: String,
    /// SHA-256 of the secret part.
    pub secret_hash: Vec<u8>,
    pub created_at: Time,
    pub last_used_at: Option<Time>,
    pub revoked_at: Option<Time>,
}

/// # Errors
///
/// A unique violation when the prefix is taken.
pub async fn insert(conn: &mut Conn<'_>, key: &ApiKey) -> QueryResult<()> {
    on_backend!(conn, |c| super::Prepared(
        diesel::insert_into(api_keys::table).values(key)
    )
    .execute(c)
    .await
    .map(drop))
}

/// The key with this prefix, revoked or not, and whether its owner is a platform admin: what a request
/// made with it needs, in one query.
///
/// # Errors
///
/// `NotFound` when no key has the prefix.
pub async fn by_prefix_with_owner(conn: &mut Conn<'_>, prefix: &str) -> QueryResult<(ApiKey, bool)> {
    on_backend!(conn, |c| api_keys::table
        .inner_join(users::table)
        .filter(api_keys::prefix.eq(prefix))
        .select((ApiKey::as_select(), users::is_platform_admin))
        .first(c)
        .await)
}

/// # Errors
///
/// Database errors.
pub async fn touch(conn: &mut Conn<'_>, id: Id, at: Time) -> QueryResult<()> {
    on_backend!(conn, |c| super::Prepared(
        diesel::update(api_keys::table.find(id)).set(api_keys::last_used_at.eq(at))
    )
    .execute(c)
    .await
    .map(drop))
}

/// A user's keys, newest first.
///
/// # Errors
///
/// Database errors.
pub async fn of_user(conn: &mut Conn<'_>, user_id: Id) -> QueryResult<Vec<ApiKey>> {
    on_backend!(conn, |c| api_keys::table
        .filter(api_keys::user_id.eq(user_id))
        .order(api_keys::created_at.desc())
        .select(ApiKey::as_select())
        .load(c)
        .await)
}

/// Revokes one of the user's keys; a key of someone else's is `NotFound`.
///
/// # Errors
///
/// `NotFound` when the user has no such key.
pub async fn revoke(conn: &mut Conn<'_>, user_id: Id, id: Id, at: Time) -> QueryResult<()> {
    let key: ApiKey = on_backend!(conn, |c| api_keys::table
        .find(id)
        .filter(api_keys::user_id.eq(user_id))
        .select(ApiKey::as_select())
        .first(c)
        .await)?;
    if key.revoked_at.is_some() {
        return Ok(());
    }
    on_backend!(conn, |c| super::Prepared(
        diesel::update(api_keys::table.find(id)).set(api_keys::revoked_at.eq(at))
    )
    .execute(c)
    .await)
    .map(drop)
}
