//! The data-plane instances serving each deployment.

use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::RunQueryDsl;

use super::schema::data_planes;
use super::{Conn, Id, Time, on_backend};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = data_planes)]
pub struct DataPlane {
    pub deployment_id: Id,
    pub instance_id: String,
    pub version: String,
    /// JSON array.
    pub capabilities: String,
    pub concurrency: i32,
    pub registered_at: Time,
    pub last_seen_at: Time,
}

/// Records a registration (again, after a restart).
///
/// # Errors
///
/// Database errors.
pub async fn register(conn: &mut Conn<'_>, instance: &DataPlane) -> QueryResult<()> {
    on_backend!(conn, |c| diesel::insert_into(data_planes::table)
        .values(instance)
        .on_conflict((data_planes::deployment_id, data_planes::instance_id))
        .do_update()
        .set((
            data_planes::version.eq(excluded(data_planes::version)),
            data_planes::capabilities.eq(excluded(data_planes::capabilities)),
            data_planes::concurrency.eq(excluded(data_planes::concurrency)),
            data_planes::registered_at.eq(excluded(data_planes::registered_at)),
            data_planes::last_seen_at.eq(excluded(data_planes::last_seen_at)),
        ))
        .execute(c)
        .await
        .map(drop))
}

/// Notes that an instance reported in; false when it never registered.
///
/// # Errors
///
/// Database errors.
pub async fn seen(conn: &mut Conn<'_>, deployment: Id, instance: &str, at: Time) -> QueryResult<bool> {
    on_backend!(conn, |c| diesel::update(
        data_planes::table.find((deployment, instance))
    )
    .set(data_planes::last_seen_at.eq(at))
    .execute(c)
    .await
    .map(|rows| rows > 0))
}
