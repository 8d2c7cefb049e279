//! The audit log's rows and its head.

use diesel::prelude::*;
use diesel::sql_types::{Binary, Nullable, Text};
use diesel_async::RunQueryDsl;
use sha2::{Digest as _, Sha256};

use super::schema::{audit_head, audit_log};
use super::sql_types::{Timestamptz, Uuid};
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

/// A row's hash: SHA-256 over the previous row's hash, the row's sequence number (8 bytes, big-endian) and
/// `covered`, the rest of what the row's hash covers. [`append`] on PostgreSQL computes the same in SQL.
#[must_use]
pub fn link(prev_hash: &[u8], seq: i64, covered: &[u8]) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    hasher.update(seq.to_be_bytes());
    hasher.update(covered);
    hasher.finalize().to_vec()
}

/// The one statement that appends a row on PostgreSQL: it advances the head (holding its row until the
/// transaction ends, so appenders queue here and the chain never forks), links the row with [`link`]'s
/// formula, and inserts it. `SET` reads the head as it was, so `prev_hash` keeps the link it replaces.
const APPEND: &str = "WITH head AS ( \
     UPDATE audit_head SET seq = seq + 1, prev_hash = hash, hash = sha256(hash || int8send(seq + 1) || $1) \
     WHERE id = 1 RETURNING seq, prev_hash, hash) \
     INSERT INTO audit_log (seq, at, actor_user_id, org_id, action, target, change_digest, client_addr, \
     prev_hash, hash) SELECT seq, $2, $3, $4, $5, $6, $7, $8, prev_hash, hash FROM head";

/// Appends `row` at the head of the chain, where `covered` is what its hash covers besides the link and
/// its sequence number; the chain sets the row's sequence number, previous hash and hash (whatever `row`
/// has in those is ignored). Call it last in a transaction: the head stays held until the end.
///
/// # Errors
///
/// Database errors; [`diesel::result::Error::NotFound`] when the head is missing.
pub async fn append(conn: &mut Conn<'_>, mut row: AuditRow, covered: &[u8]) -> QueryResult<()> {
    match conn {
        Conn::Postgres(c) => {
            let appended = super::Prepared(
                diesel::sql_query(APPEND)
                    .bind::<Binary, _>(covered)
                    .bind::<Timestamptz, _>(row.at)
                    .bind::<Nullable<Uuid>, _>(row.actor_user_id)
                    .bind::<Nullable<Uuid>, _>(row.org_id)
                    .bind::<Text, _>(&row.action)
                    .bind::<Text, _>(&row.target)
                    .bind::<Text, _>(&row.change_digest)
                    .bind::<Nullable<Text>, _>(&row.client_addr),
            )
            .execute(&mut **c)
            .await?;
            if appended != 1 {
                return Err(diesel::result::Error::NotFound);
            }
        }
        Conn::Sqlite(c) => {
            // One writer at a time: reading the head and writing it back cannot interleave with another.
            (row.seq, row.prev_hash) = diesel::update(audit_head::table.find(1))
                .set(audit_head::seq.eq(audit_head::seq + 1))
                .returning((audit_head::seq, audit_head::hash))
                .get_result(&mut **c)
                .await?;
            row.hash = link(&row.prev_hash, row.seq, covered);
            diesel::insert_into(audit_log::table)
                .values(&row)
                .execute(&mut **c)
                .await?;
            diesel::update(audit_head::table.find(1))
                .set((
                    audit_head::hash.eq(&row.hash),
                    audit_head::prev_hash.eq(&row.prev_hash),
                ))
                .execute(&mut **c)
                .await?;
        }
    }
    Ok(())
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
