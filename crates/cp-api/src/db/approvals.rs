//! Approvals: what a suspended run waits on, and who decided it.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::approvals;
use super::{Conn, Id, Time, on_backend};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = approvals, treat_none_as_null = true)]
pub struct Approval {
    pub id: Id,
    pub org_id: Id,
    pub run_id: Id,
    pub deployment_id: Id,
    /// The task delivery that suspended the run.
    pub task_id: Id,
    pub node: String,
    /// JSON.
    pub action: String,
    /// JSON.
    pub impact: String,
    pub reason: Option<String>,
    pub decider_role: String,
    /// `pending`, `approved`, `rejected` or `expired`.
    pub state: String,
    pub requested_at: Time,
    pub expires_at: Time,
    pub decided_by: Option<Id>,
    pub decided_at: Option<Time>,
    pub comment: Option<String>,
}

/// # Errors
///
/// Database errors.
pub async fn insert(conn: &mut Conn<'_>, approval: &Approval) -> QueryResult<()> {
    on_backend!(conn, |c| diesel::insert_into(approvals::table)
        .values(approval)
        .execute(c)
        .await
        .map(drop))
}

/// The approval a task delivery asked for, if it asked.
///
/// # Errors
///
/// Database errors.
pub async fn by_task(conn: &mut Conn<'_>, task: Id) -> QueryResult<Option<Approval>> {
    on_backend!(conn, |c| approvals::table
        .filter(approvals::task_id.eq(task))
        .select(Approval::as_select())
        .first(c)
        .await
        .optional())
}

/// A run's approvals, oldest first.
///
/// # Errors
///
/// Database errors.
pub async fn of_run(conn: &mut Conn<'_>, run: Id) -> QueryResult<Vec<Approval>> {
    on_backend!(conn, |c| approvals::table
        .filter(approvals::run_id.eq(run))
        .order(approvals::requested_at.asc())
        .select(Approval::as_select())
        .load(c)
        .await)
}
