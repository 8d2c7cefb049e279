//! Refresh tokens: stored hashed, rotated on use, revoked by family.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::refresh_tokens;
use super::{Conn, Id, Time, on_backend};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshToken {
    pub id: Id,
    pub user_id: Id,
    /// Every token rotated from the same login shares a family.
    pub family_id: Id,
    pub token_hash: Vec<u8>,
    pub created_at: Time,
    pub expires_at: Time,
    pub used_at: Option<Time>,
    pub revoked_at: Option<Time>,
}

/// # Errors
///
/// Database errors.
pub async fn insert(conn: &mut Conn<'_>, token: &RefreshToken) -> QueryResult<()> {
    on_backend!(conn, |c| diesel::insert_into(refresh_tokens::table)
        .values(token)
        .execute(c)
        .await
        .map(drop))
}

/// # Errors
///
/// `NotFound` for an unknown token.
pub async fn by_hash(conn: &mut Conn<'_>, hash: &[u8]) -> QueryResult<RefreshToken> {
    on_backend!(conn, |c| refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(hash))
        .select(RefreshToken::as_select())
        .first(c)
        .await)
}

/// Marks a token used, if it was not already; returns whether this call did it (so of two concurrent
/// refreshes with one token, exactly one wins).
///
/// # Errors
///
/// Database errors.
pub async fn mark_used(conn: &mut Conn<'_>, id: Id, at: Time) -> QueryResult<bool> {
    on_backend!(conn, |c| diesel::update(
        refresh_tokens::table
            .find(id)
            .filter(refresh_tokens::used_at.is_null())
    )
    .set(refresh_tokens::used_at.eq(at))
    .execute(c)
    .await
    .map(|updated| updated == 1))
}

/// # Errors
///
/// Database errors.
pub async fn revoke_family(conn: &mut Conn<'_>, family_id: Id, at: Time) -> QueryResult<usize> {
    on_backend!(conn, |c| diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null())
    )
    .set(refresh_tokens::revoked_at.eq(at))
    .execute(c)
    .await)
}
