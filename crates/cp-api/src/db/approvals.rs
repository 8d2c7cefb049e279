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

/// # Errors
///
/// Database errors; `NotFound` when there is none.
pub async fn find(conn: &mut Conn<'_>, id: Id) -> QueryResult<Approval> {
    on_backend!(conn, |c| approvals::table
        .find(id)
        .select(Approval::as_select())
        .first(c)
        .await)
}

/// # Errors
///
/// Database errors.
pub async fn update(conn: &mut Conn<'_>, approval: &Approval) -> QueryResult<()> {
    on_backend!(conn, |c| diesel::update(approvals::table.find(approval.id))
        .set(approval)
        .execute(c)
        .await
        .map(drop))
}

/// Which of an org's approvals to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub state: Option<String>,
    pub run: Option<Id>,
    /// Only approvals of these deployments (an agent's, in the org).
    pub deployments: Option<Vec<Id>>,
    /// Only those asked for before this one (keyset: newest first).
    pub before: Option<(Time, Id)>,
    pub limit: i64,
}

/// An org's approvals, newest first.
///
/// # Errors
///
/// Database errors.
pub async fn of_org(conn: &mut Conn<'_>, org: Id, filter: &Filter) -> QueryResult<Vec<Approval>> {
    on_backend!(conn, |c| {
        let mut query = approvals::table
            .filter(approvals::org_id.eq(org))
            .order((approvals::requested_at.desc(), approvals::id.desc()))
            .limit(filter.limit)
            .select(Approval::as_select())
            .into_boxed();
        if let Some(state) = &filter.state {
            query = query.filter(approvals::state.eq(state.clone()));
        }
        if let Some(run) = filter.run {
            query = query.filter(approvals::run_id.eq(run));
        }
        if let Some(deployments) = &filter.deployments {
            query = query.filter(approvals::deployment_id.eq_any(deployments.clone()));
        }
        if let Some((at, id)) = filter.before {
            // The bound on `requested_at` alone is what an index range scan can start from, in a generic plan too.
            query = query.filter(approvals::requested_at.le(at));
            query = query.filter(
                approvals::requested_at
                    .lt(at)
                    .or(approvals::requested_at.eq(at).and(approvals::id.lt(id))),
            );
        }
        query.load(c).await
    })
}

/// Pending approvals whose time ran out by `now`.
///
/// # Errors
///
/// Database errors.
pub async fn expired(conn: &mut Conn<'_>, now: Time) -> QueryResult<Vec<Approval>> {
    on_backend!(conn, |c| approvals::table
        .filter(approvals::state.eq("pending"))
        .filter(approvals::expires_at.le(now))
        .limit(500)
        .select(Approval::as_select())
        .load(c)
        .await)
}

/// Whether a run had an approval granted (its completion then ends it `remediated`).
///
/// # Errors
///
/// Database errors.
pub async fn any_approved(conn: &mut Conn<'_>, run: Id) -> QueryResult<bool> {
    on_backend!(conn, |c| diesel::select(diesel::dsl::exists(
        approvals::table
            .filter(approvals::run_id.eq(run))
            .filter(approvals::state.eq("approved"))
    ))
    .get_result(c)
    .await)
}
