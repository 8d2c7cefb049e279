//! Runs: one per request to run a deployment, with its inputs, outcome, usage and latest checkpoint.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::runs;
use super::{Conn, Id, Time, on_backend};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = runs, treat_none_as_null = true)]
pub struct Run {
    pub id: Id,
    pub org_id: Id,
    pub deployment_id: Id,
    /// `queued`, `running`, `awaiting_approval`, `succeeded`, `failed`, `cancelled` or `remediated`.
    pub state: String,
    /// JSON.
    pub inputs: String,
    /// JSON, once succeeded.
    pub outputs: Option<String>,
    pub priority: i32,
    pub deadline: Option<Time>,
    pub idempotency_key: Option<String>,
    /// SHA-256 of the request's canonical JSON, to tell a retry from another request reusing the key.
    pub request_digest: String,
    pub failure_reason: Option<String>,
    /// JSON `protocol::Usage`, once finished.
    pub usage: Option<String>,
    /// Deliveries so far.
    pub attempts: i32,
    pub finished_by_task: Option<Id>,
    /// JSON `protocol::Checkpoint`: the last one a data plane reported.
    pub checkpoint: Option<String>,
    pub created_by: Id,
    pub created_at: Time,
    pub started_at: Option<Time>,
    pub finished_at: Option<Time>,
    /// The most the run may be charged, in micro-dollars.
    pub max_charge_micros: Option<i64>,
    /// The W3C `traceparent` of the request that started the run, when traces are exported.
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
    /// The run that started this one over A2A, when its caller named it.
    pub parent_run_id: Option<Id>,
    /// The agent version the run runs: its deployment's when the run was created. Every delivery of the
    /// run (retries and resumptions too) runs this version, and its charge is priced by it. Unset only on
    /// runs stored before versions were recorded at creation and never claimed since.
    pub version: Option<String>,
}

/// The states of a run that can still change.
pub const UNFINISHED: [&str; 3] = ["queued", "running", "awaiting_approval"];

impl Run {
    /// Whether the run has ended (succeeded, failed, cancelled or remediated).
    #[must_use]
    pub fn is_finished(&self) -> bool {
        !UNFINISHED.contains(&self.state.as_str())
    }
}

/// The insert of a run, to make with other writes: a unique violation when the deployment has a run with
/// the idempotency key already.
pub fn inserting(run: &Run) -> impl super::writes::Write + '_ {
    diesel::insert_into(runs::table).values(run)
}

/// # Errors
///
/// Database errors.
pub async fn update(conn: &mut Conn<'_>, run: &Run) -> QueryResult<()> {
    super::writes::write_all(conn, &[&updating(run)]).await
}

/// The update of a run, to make with other writes.
pub fn updating(run: &Run) -> impl super::writes::Write + '_ {
    diesel::update(runs::table.find(run.id)).set(run)
}

/// # Errors
///
/// `NotFound` when there is no such run.
pub async fn find(conn: &mut Conn<'_>, id: Id) -> QueryResult<Run> {
    on_backend!(conn, |c| runs::table
        .find(id)
        .select(Run::as_select())
        .first(c)
        .await)
}

/// The runs this one started over A2A, oldest first.
///
/// # Errors
///
/// Database errors.
pub async fn children(conn: &mut Conn<'_>, parent: Id) -> QueryResult<Vec<Run>> {
    on_backend!(conn, |c| runs::table
        .filter(runs::parent_run_id.eq(parent))
        .order(runs::created_at.asc())
        .select(Run::as_select())
        .load(c)
        .await)
}

/// The run a deployment made with this idempotency key, if any.
///
/// # Errors
///
/// Database errors.
pub async fn by_idempotency_key(conn: &mut Conn<'_>, deployment: Id, key: &str) -> QueryResult<Option<Run>> {
    on_backend!(conn, |c| runs::table
        .filter(runs::deployment_id.eq(deployment))
        .filter(runs::idempotency_key.eq(key))
        .select(Run::as_select())
        .first(c)
        .await
        .optional())
}

/// Which of an org's runs to list.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Runs in any of these states (all when empty).
    pub states: Vec<String>,
    pub deployment: Option<Id>,
    /// Only runs created before this one (keyset: newest first).
    pub before: Option<(Time, Id)>,
    pub limit: i64,
}

/// An org's runs, newest first.
///
/// # Errors
///
/// Database errors.
pub async fn of_org(conn: &mut Conn<'_>, org: Id, filter: &RunFilter) -> QueryResult<Vec<Run>> {
    on_backend!(conn, |c| {
        let mut query = runs::table
            .filter(runs::org_id.eq(org))
            .order((runs::created_at.desc(), runs::id.desc()))
            .limit(filter.limit)
            .select(Run::as_select())
            .into_boxed();
        if !filter.states.is_empty() {
            query = query.filter(runs::state.eq_any(filter.states.clone()));
        }
        if let Some(deployment) = filter.deployment {
            query = query.filter(runs::deployment_id.eq(deployment));
        }
        if let Some((at, id)) = filter.before {
            // The bound on `created_at` alone is what an index range scan can start from, in a generic plan too.
            query = query.filter(runs::created_at.le(at));
            query = query.filter(
                runs::created_at
                    .lt(at)
                    .or(runs::created_at.eq(at).and(runs::id.lt(id))),
            );
        }
        query.load(c).await
    })
}

/// How many of an org's runs the filter's states and deployment select (its keyset and limit aside).
///
/// # Errors
///
/// Database errors.
pub async fn count_of_org(conn: &mut Conn<'_>, org: Id, filter: &RunFilter) -> QueryResult<i64> {
    on_backend!(conn, |c| {
        let mut query = runs::table.filter(runs::org_id.eq(org)).count().into_boxed();
        if !filter.states.is_empty() {
            query = query.filter(runs::state.eq_any(filter.states.clone()));
        }
        if let Some(deployment) = filter.deployment {
            query = query.filter(runs::deployment_id.eq(deployment));
        }
        query.get_result(c).await
    })
}

/// Runs of a deployment still queued or under way.
///
/// # Errors
///
/// Database errors.
pub async fn unfinished_of_deployment(conn: &mut Conn<'_>, deployment: Id) -> QueryResult<Vec<Run>> {
    on_backend!(conn, |c| runs::table
        .filter(runs::deployment_id.eq(deployment))
        .filter(runs::state.eq_any(UNFINISHED))
        .select(Run::as_select())
        .load(c)
        .await)
}

/// How many of the org's runs are still queued or under way, by deployment and version.
///
/// # Errors
///
/// Database errors.
pub async fn unfinished_of_org(conn: &mut Conn<'_>, org: Id) -> QueryResult<Vec<(Id, Option<String>, i64)>> {
    use diesel::dsl::count_star;
    on_backend!(conn, |c| runs::table
        .filter(runs::org_id.eq(org))
        .filter(runs::state.eq_any(UNFINISHED))
        .group_by((runs::deployment_id, runs::version))
        .select((runs::deployment_id, runs::version, count_star()))
        .load(c)
        .await)
}

/// The run a task delivery finished, if one did.
///
/// # Errors
///
/// Database errors.
pub async fn by_finishing_task(conn: &mut Conn<'_>, task: Id) -> QueryResult<Option<Run>> {
    on_backend!(conn, |c| runs::table
        .filter(runs::finished_by_task.eq(task))
        .select(Run::as_select())
        .first(c)
        .await
        .optional())
}

/// Marks these runs running as their delivery numbered `attempt` (started at `now` unless they started
/// before), and makes `writes` (on PostgreSQL in the same statement); the runs, in no particular order. One
/// round trip for a whole claim.
///
/// # Errors
///
/// Database errors.
pub async fn start_all(
    conn: &mut Conn<'_>,
    ids: &[Id],
    attempt: i32,
    now: Time,
    writes: &[&dyn super::writes::Write],
) -> QueryResult<Vec<Run>> {
    use diesel::dsl::sql;
    use diesel::sql_types::Nullable;

    use super::sql_types::Timestamptz;
    // The statement's selection is built per engine.
    macro_rules! start {
        ($which:expr) => {
            diesel::update(runs::table.filter($which))
                .set((
                    runs::state.eq("running"),
                    runs::attempts.eq(attempt),
                    runs::started_at.eq(sql::<Nullable<Timestamptz>>("COALESCE(started_at, ")
                        .bind::<Timestamptz, _>(now)
                        .sql(")")),
                ))
                .returning(Run::as_returning())
        };
    }
    match conn {
        Conn::Postgres(c) => {
            macro_rules! start_with_writes {
                ($which:expr) => {
                    super::Prepared(super::writes::Then::new(writes, start!($which))?)
                        .load(&mut **c)
                        .await
                };
            }
            // `= ANY($n)` leaves PostgreSQL guessing how many runs there are, so it plans each time for the
            // values it is given; a claim of one names its run, and is planned once.
            match ids {
                [id] => start_with_writes!(runs::id.eq(*id)),
                _ => start_with_writes!(runs::id.eq_any(ids)),
            }
        }
        // On SQLite `IN (…)` has one shape per count of ids; a claim takes at most `MAX_BATCH`.
        Conn::Sqlite(c) => {
            let started = super::Prepared(start!(runs::id.eq_any(ids)))
                .load(&mut **c)
                .await?;
            super::writes::write_all(&mut Conn::Sqlite(c), writes).await?;
            Ok(started)
        }
    }
}

/// How many runs the org started since `since`.
///
/// # Errors
///
/// Database errors.
pub async fn started_since(conn: &mut Conn<'_>, org: Id, since: Time) -> QueryResult<i64> {
    on_backend!(conn, |c| runs::table
        .filter(runs::org_id.eq(org))
        .filter(runs::created_at.ge(since))
        .count()
        .get_result(c)
        .await)
}

/// Every state a run can be in.
pub const STATES: &[&str] = &[
    "queued",
    "running",
    "awaiting_approval",
    "succeeded",
    "failed",
    "cancelled",
    "remediated",
];

/// How many runs are in each state (states with none left out).
///
/// # Errors
///
/// Database errors.
pub async fn count_by_state(conn: &mut Conn<'_>) -> QueryResult<Vec<(String, i64)>> {
    on_backend!(conn, |c| runs::table
        .group_by(runs::state)
        .select((runs::state, diesel::dsl::count_star()))
        .load(c)
        .await)
}
