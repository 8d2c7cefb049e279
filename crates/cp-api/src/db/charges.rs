//! Charges: one per run that completed, in integer micro-dollars.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::charges;
use super::{Conn, Id, Time, on_backend};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = charges)]
pub struct Charge {
    pub run_id: Id,
    pub org_id: Id,
    pub developer_org_id: Id,
    pub deployment_id: Id,
    pub agent: String,
    pub base_micros: i64,
    pub unit: Option<String>,
    pub unit_count: i64,
    pub units_micros: i64,
    pub cpu_ms: i64,
    pub compute_micros: i64,
    pub total_micros: i64,
    /// Basis points.
    pub developer_share: i32,
    pub developer_micros: i64,
    pub platform_micros: i64,
    pub charged_at: Time,
}

/// The insert of the charge, unless the run has one, to make with other writes.
pub fn inserting_once(charge: &Charge) -> impl super::writes::Write + '_ {
    diesel::insert_into(charges::table)
        .values(charge)
        .on_conflict_do_nothing()
}

/// # Errors
///
/// Database errors.
pub async fn of_run(conn: &mut Conn<'_>, run: Id) -> QueryResult<Option<Charge>> {
    on_backend!(conn, |c| charges::table
        .find(run)
        .select(Charge::as_select())
        .first(c)
        .await
        .optional())
}

/// What the org was charged since `since`, in micro-dollars.
///
/// # Errors
///
/// Database errors.
pub async fn spent_since(conn: &mut Conn<'_>, org: Id, since: Time) -> QueryResult<i64> {
    on_backend!(conn, |c| charges::table
        .filter(charges::org_id.eq(org))
        .filter(charges::charged_at.ge(since))
        .select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "CAST(COALESCE(SUM(total_micros), 0) AS BIGINT)"
        ))
        .get_result(c)
        .await)
}

/// Charges made in `[from, until)`: the org's when `org` is given, else every org's; oldest first.
///
/// # Errors
///
/// Database errors.
pub async fn of_org_between(
    conn: &mut Conn<'_>,
    org: Option<Id>,
    from: Time,
    until: Time,
) -> QueryResult<Vec<Charge>> {
    on_backend!(conn, |c| {
        let mut query = charges::table
            .filter(charges::charged_at.ge(from))
            .filter(charges::charged_at.lt(until))
            .order((charges::charged_at, charges::run_id))
            .select(Charge::as_select())
            .into_boxed();
        if let Some(org) = org {
            query = query.filter(charges::org_id.eq(org));
        }
        query.load(c).await
    })
}

/// The charges a developer org earned from in `[from, until)`.
///
/// # Errors
///
/// Database errors.
pub async fn of_developer_between(
    conn: &mut Conn<'_>,
    developer_org: Id,
    from: Time,
    until: Time,
) -> QueryResult<Vec<Charge>> {
    on_backend!(conn, |c| charges::table
        .filter(charges::developer_org_id.eq(developer_org))
        .filter(charges::charged_at.ge(from))
        .filter(charges::charged_at.lt(until))
        .order((charges::charged_at, charges::run_id))
        .select(Charge::as_select())
        .load(c)
        .await)
}
