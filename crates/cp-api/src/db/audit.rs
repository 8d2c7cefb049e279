//! The audit log's rows and its head.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::{audit_head, audit_log};
use super::{Conn, Id, Time, on_backend};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub seq: i64,
    pub at: Time,
    pub actor_user_id: Option<Id>,
    pub org_id: Option<Id>,
    pub action: String,
    pub target: String,
    pub change_digest: String,
    pub client_addr: Option<String>,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// Takes the next sequence number: returns it with the previous row's hash. The update holds the head row
/// until the transaction ends, so appenders queue here and the chain never forks.
///
/// # Errors
///
/// Database errors.
pub async fn advance_head(conn: &mut Conn<'_>) -> QueryResult<(i64, Vec<u8>)> {
    on_backend!(conn, |c| super::Prepared(
        diesel::update(audit_head::table.find(1))
            .set(audit_head::seq.eq(audit_head::seq + 1))
            .returning((audit_head::seq, audit_head::hash))
    )
    .get_result(c)
    .await)
}

/// # Errors
///
/// Database errors.
pub async fn append(conn: &mut Conn<'_>, row: &AuditRow) -> QueryResult<()> {
    on_backend!(conn, |c| {
        super::Prepared(diesel::insert_into(audit_log::table).values(row))
            .execute(c)
            .await?;
        super::Prepared(diesel::update(audit_head::table.find(1)).set(audit_head::hash.eq(&row.hash)))
            .execute(c)
            .await
            .map(drop)
    })
}

/// The head: the last sequence number and hash.
///
/// # Errors
///
/// Database errors.
pub async fn head(conn: &mut Conn<'_>) -> QueryResult<(i64, Vec<u8>)> {
    on_backend!(conn, |c| audit_head::table
        .find(1)
        .select((audit_head::seq, audit_head::hash))
        .first(c)
        .await)
}

/// Up to `limit` rows after `after`, in order; only `org`'s when given.
///
/// # Errors
///
/// Database errors.
pub async fn page(
    conn: &mut Conn<'_>,
    org: Option<Id>,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<AuditRow>> {
    on_backend!(conn, |c| {
        let mut query = audit_log::table.filter(audit_log::seq.gt(after)).into_boxed();
        if let Some(org) = org {
            query = query.filter(audit_log::org_id.eq(org));
        }
        query
            .order(audit_log::seq.asc())
            .limit(limit)
            .select(AuditRow::as_select())
            .load(c)
            .await
    })
}
