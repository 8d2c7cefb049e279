//! Values the control plane makes for itself once and every replica shares.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::settings;
use super::{Conn, on_backend};

/// The value named `name`, storing `make()` first if there is none yet (the first replica to ask wins).
///
/// # Errors
///
/// Database errors.
pub async fn get_or_init(
    conn: &mut Conn<'_>,
    name: &str,
    make: impl FnOnce() -> Vec<u8>,
) -> QueryResult<Vec<u8>> {
    let fresh = make();
    on_backend!(conn, |c| {
        diesel::insert_into(settings::table)
            .values((settings::name.eq(name), settings::value.eq(&fresh)))
            .on_conflict_do_nothing()
            .execute(c)
            .await?;
        settings::table.find(name).select(settings::value).first(c).await
    })
}

/// The value named `name`, if one is stored.
///
/// # Errors
///
/// Database errors.
pub async fn get(conn: &mut Conn<'_>, name: &str) -> QueryResult<Option<Vec<u8>>> {
    on_backend!(conn, |c| settings::table
        .find(name)
        .select(settings::value)
        .first(c)
        .await
        .optional())
}

/// Stores `value` as the value named `name`, replacing any.
///
/// # Errors
///
/// Database errors.
pub async fn set(conn: &mut Conn<'_>, name: &str, value: &[u8]) -> QueryResult<()> {
    on_backend!(conn, |c| diesel::insert_into(settings::table)
        .values((settings::name.eq(name), settings::value.eq(value)))
        .on_conflict(settings::name)
        .do_update()
        .set(settings::value.eq(value))
        .execute(c)
        .await
        .map(drop))
}
