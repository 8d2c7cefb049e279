//! The queue's hot table: each queued or leased task, one per unfinished run. The claim is the one query
//! here whose SQL differs between the engines: PostgreSQL claims with `FOR UPDATE SKIP LOCKED`, so
//! concurrent claimers on every replica take disjoint tasks without waiting on each other; SQLite's
//! `BEGIN IMMEDIATE` transactions (see [`super::transaction`]) already run one writer at a time, so there a
//! plain select-then-update in the claim's transaction is exact.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};
use diesel_async::RunQueryDsl;

use super::deployments::Deployment;
use super::runs::Run;
use super::schema::{data_planes, deployments, runs, tasks};
use super::sql_types::{Timestamptz, Uuid};
use super::{Conn, Id, Time, on_backend};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, QueryableByName, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = tasks, treat_none_as_null = true)]
pub struct Task {
    /// This delivery's id: a task put back after a lost lease gets a new one.
    pub id: Id,
    pub run_id: Id,
    pub deployment_id: Id,
    pub priority: i32,
    /// 1 for the first delivery.
    pub attempt: i32,
    pub max_attempts: i32,
    /// The data-plane instance holding the lease, if any.
    pub leased_by: Option<String>,
    pub lease_expires_at: Option<Time>,
    pub cancel_requested: bool,
    pub last_seq: i64,
    pub created_at: Time,
}

impl Task {
    /// A new, unleased delivery of the run numbered `attempt`, with `max_attempts` in all.
    #[must_use]
    pub fn queued(run: &super::runs::Run, attempt: i32, max_attempts: i32, now: Time) -> Self {
        Self {
            id: Id::new(),
            run_id: run.id,
            deployment_id: run.deployment_id,
            priority: run.priority,
            attempt,
            max_attempts,
            leased_by: None,
            lease_expires_at: None,
            cancel_requested: false,
            last_seq: 0,
            created_at: now,
        }
    }
}

/// # Errors
///
/// Database errors.
pub async fn insert(conn: &mut Conn<'_>, task: &Task) -> QueryResult<()> {
    super::writes::write_all(conn, &[&inserting(task)]).await
}

/// The insert of a task, to make with other writes.
pub fn inserting(task: &Task) -> impl super::writes::Write + '_ {
    diesel::insert_into(tasks::table).values(task)
}

/// # Errors
///
/// Database errors.
pub async fn update(conn: &mut Conn<'_>, task: &Task) -> QueryResult<()> {
    on_backend!(conn, |c| super::Prepared(
        diesel::update(tasks::table.find(task.id)).set(task)
    )
    .execute(c)
    .await
    .map(drop))
}

/// Puts a task back for its next delivery: a new id (so whoever held the last one can no longer report
/// on it), attempt + 1, unleased, its event numbering restarted; the new delivery.
///
/// # Errors
///
/// Database errors.
pub async fn redeliver(conn: &mut Conn<'_>, task: &Task) -> QueryResult<Task> {
    let next = Task {
        id: Id::new(),
        attempt: task.attempt + 1,
        leased_by: None,
        lease_expires_at: None,
        last_seq: 0,
        ..task.clone()
    };
    on_backend!(conn, |c| super::Prepared(
        diesel::update(tasks::table.find(task.id)).set((tasks::id.eq(next.id), &next))
    )
    .execute(c)
    .await)?;
    Ok(next)
}

/// # Errors
///
/// Database errors.
pub async fn delete(conn: &mut Conn<'_>, id: Id) -> QueryResult<()> {
    super::writes::write_all(conn, &[&deleting(id)]).await
}

/// The delete of a task, to make with other writes.
pub fn deleting(id: Id) -> impl super::writes::Write {
    diesel::delete(tasks::table.find(id))
}

/// # Errors
///
/// Database errors.
pub async fn find(conn: &mut Conn<'_>, id: Id) -> QueryResult<Option<Task>> {
    on_backend!(conn, |c| tasks::table
        .find(id)
        .select(Task::as_select())
        .first(c)
        .await
        .optional())
}

/// A task as a data plane's report finds it: with its run, and whether a run it started (over A2A) has
/// remediated.
#[derive(Debug, Clone)]
pub struct Held {
    pub task: Task,
    pub run: Run,
    pub child_remediated: bool,
}

/// The task with its run, in one statement.
///
/// # Errors
///
/// Database errors.
pub async fn find_with_run(conn: &mut Conn<'_>, id: Id) -> QueryResult<Option<Held>> {
    let child_remediated = diesel::dsl::sql::<diesel::sql_types::Bool>(
        "EXISTS (SELECT 1 FROM runs AS child WHERE child.parent_run_id = runs.id \
         AND child.state = 'remediated')",
    );
    // Raw SQL in a statement keeps diesel from caching it: prepared here, as its text never changes.
    let found: Option<(Task, Run, bool)> = on_backend!(conn, |c| super::Prepared(
        tasks::table
            .inner_join(runs::table)
            .filter(tasks::id.eq(id))
            .select((Task::as_select(), Run::as_select(), child_remediated.clone()))
            .limit(1)
    )
    .get_result(c)
    .await
    .optional())?;
    Ok(found.map(|(task, run, child_remediated)| Held {
        task,
        run,
        child_remediated,
    }))
}

/// # Errors
///
/// Database errors.
pub async fn of_run(conn: &mut Conn<'_>, run: Id) -> QueryResult<Option<Task>> {
    on_backend!(conn, |c| tasks::table
        .filter(tasks::run_id.eq(run))
        .select(Task::as_select())
        .first(c)
        .await
        .optional())
}

/// What a claim on a deployment would find, looked up in one statement without a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claimable {
    /// Tasks wait for a data plane.
    pub queued: bool,
    /// Leases ran out (their tasks go back, or their runs fail).
    pub lost: bool,
}

/// What a claim looks at first, in one statement without a transaction: the deployment, the capabilities
/// the instance registered with (a JSON array; none when it never did), and what there is to claim
/// (tasks waiting, or leases that ran out before `now`).
///
/// # Errors
///
/// `NotFound` when there is no such deployment.
pub async fn claim_view(
    conn: &mut Conn<'_>,
    deployment: Id,
    instance: &str,
    now: Time,
) -> QueryResult<(Deployment, Option<String>, Claimable)> {
    let (found, capabilities, queued, lost) = on_backend!(conn, |c| deployments::table
        .left_join(
            data_planes::table.on(data_planes::deployment_id
                .eq(deployments::id)
                .and(data_planes::instance_id.eq(instance))),
        )
        .filter(deployments::id.eq(deployment))
        .select((
            Deployment::as_select(),
            data_planes::capabilities.nullable(),
            diesel::dsl::exists(
                tasks::table
                    .filter(tasks::deployment_id.eq(deployment))
                    .filter(tasks::leased_by.is_null()),
            ),
            diesel::dsl::exists(lost_leases(deployment, now)),
        ))
        .first(c)
        .await)?;
    Ok((found, capabilities, Claimable { queued, lost }))
}

/// How many dead row versions (of tasks claimed or finished) the table holds, as PostgreSQL's statistics
/// last counted them; 0 on SQLite, whose deleted rows leave nothing for a claim to step over.
///
/// # Errors
///
/// Database errors.
pub async fn dead_rows(conn: &mut Conn<'_>) -> QueryResult<i64> {
    match conn {
        Conn::Postgres(c) => {
            diesel::select(diesel::dsl::sql::<BigInt>(
                "COALESCE((SELECT n_dead_tup FROM pg_stat_user_tables WHERE relid = 'tasks'::regclass), 0)",
            ))
            .get_result(&mut **c)
            .await
        }
        Conn::Sqlite(_) => Ok(0),
    }
}

/// Vacuums the table on PostgreSQL, unless a vacuum of it is already under way; nothing on SQLite.
/// Whether it asked for one. Not in a transaction. It leaves the table's empty end pages in place: giving
/// them back takes a lock that stops every claim, and a vacuum of a busy queue waited up to seconds for it.
///
/// # Errors
///
/// Database errors.
pub async fn vacuum(conn: &mut Conn<'_>) -> QueryResult<bool> {
    match conn {
        Conn::Postgres(c) => {
            diesel_async::SimpleAsyncConnection::batch_execute(
                &mut **c,
                "VACUUM (SKIP_LOCKED, TRUNCATE false) tasks",
            )
            .await?;
            Ok(true)
        }
        Conn::Sqlite(_) => Ok(false),
    }
}

/// The deployment's leased tasks whose lease ran out before `now`.
#[diesel::dsl::auto_type]
fn lost_leases(deployment: Id, now: Time) -> _ {
    tasks::table
        .filter(tasks::deployment_id.eq(deployment))
        .filter(tasks::leased_by.is_not_null())
        .filter(tasks::lease_expires_at.lt(now))
}

/// A deployment's tasks whose lease ran out before `now`.
///
/// # Errors
///
/// Database errors.
pub async fn expired(conn: &mut Conn<'_>, deployment: Id, now: Time) -> QueryResult<Vec<Task>> {
    on_backend!(conn, |c| lost_leases(deployment, now)
        .select(Task::as_select())
        .load(c)
        .await)
}

/// The versions of the runs of the deployment's unleased tasks, each once.
///
/// # Errors
///
/// Database errors.
pub async fn queued_versions(conn: &mut Conn<'_>, deployment: Id) -> QueryResult<Vec<Option<String>>> {
    on_backend!(conn, |c| tasks::table
        .inner_join(runs::table)
        .filter(tasks::deployment_id.eq(deployment))
        .filter(tasks::leased_by.is_null())
        .select(runs::version)
        .distinct()
        .load(c)
        .await)
}

/// Leases up to `max` of the deployment's unleased tasks to `instance` until `until`, highest priority
/// then oldest first; with `versions`, only tasks of runs of those agent versions.
///
/// # Errors
///
/// Database errors.
pub async fn claim(
    conn: &mut Conn<'_>,
    deployment: Id,
    instance: &str,
    max: i64,
    until: Time,
    versions: Option<&[String]>,
) -> QueryResult<Vec<Task>> {
    match (conn, versions) {
        // The ids to lease are picked once, as an array. As `id IN (SELECT … LIMIT … FOR UPDATE SKIP LOCKED)`,
        // a plan made while the table was nearly empty joins each task to a fresh run of the inner select,
        // which skips the rows this statement already leased: one claim then leased every queued task.
        (Conn::Postgres(c), None) => {
            super::Prepared(
                diesel::sql_query(
                    "UPDATE tasks SET leased_by = $1, lease_expires_at = $2 WHERE id = ANY(ARRAY( \
                     SELECT id FROM tasks WHERE deployment_id = $3 AND leased_by IS NULL \
                     ORDER BY priority DESC, created_at LIMIT $4 FOR UPDATE SKIP LOCKED)) RETURNING *",
                )
                .bind::<Text, _>(instance)
                .bind::<Timestamptz, _>(until)
                .bind::<Uuid, _>(deployment)
                .bind::<BigInt, _>(max),
            )
            .load(&mut **c)
            .await
        }
        (Conn::Postgres(c), Some(versions)) => {
            super::Prepared(
                diesel::sql_query(
                    "UPDATE tasks SET leased_by = $1, lease_expires_at = $2 WHERE id = ANY(ARRAY( \
                     SELECT tasks.id FROM tasks JOIN runs ON runs.id = tasks.run_id \
                     WHERE tasks.deployment_id = $3 AND tasks.leased_by IS NULL AND runs.version = ANY($5) \
                     ORDER BY tasks.priority DESC, tasks.created_at LIMIT $4 FOR UPDATE OF tasks SKIP LOCKED)) \
                     RETURNING *",
                )
                .bind::<Text, _>(instance)
                .bind::<Timestamptz, _>(until)
                .bind::<Uuid, _>(deployment)
                .bind::<BigInt, _>(max)
                .bind::<Array<Text>, _>(versions),
            )
            .load(&mut **c)
            .await
        }
        (Conn::Sqlite(c), versions) => {
            let mut queued = tasks::table
                .filter(tasks::deployment_id.eq(deployment))
                .filter(tasks::leased_by.is_null())
                .into_boxed();
            if let Some(versions) = versions {
                queued = queued.filter(
                    tasks::run_id.eq_any(
                        runs::table
                            .filter(runs::version.eq_any(versions))
                            .select(runs::id),
                    ),
                );
            }
            let ids: Vec<Id> = queued
                .order((tasks::priority.desc(), tasks::created_at.asc()))
                .limit(max)
                .select(tasks::id)
                .load(&mut **c)
                .await?;
            diesel::update(tasks::table.filter(tasks::id.eq_any(&ids)))
                .set((tasks::leased_by.eq(instance), tasks::lease_expires_at.eq(until)))
                .execute(&mut **c)
                .await?;
            tasks::table
                .filter(tasks::id.eq_any(&ids))
                .order((tasks::priority.desc(), tasks::created_at.asc()))
                .select(Task::as_select())
                .load(&mut **c)
                .await
        }
    }
}

/// Extends the leases `instance` holds on these tasks of the deployment; the tasks it still holds.
///
/// # Errors
///
/// Database errors.
pub async fn extend(
    conn: &mut Conn<'_>,
    deployment: Id,
    instance: &str,
    held: &[Id],
    until: Time,
) -> QueryResult<Vec<Task>> {
    on_backend!(conn, |c| {
        let mine = || {
            tasks::table
                .filter(tasks::deployment_id.eq(deployment))
                .filter(tasks::leased_by.eq(instance))
                .filter(tasks::id.eq_any(held))
        };
        diesel::update(mine())
            .set(tasks::lease_expires_at.eq(until))
            .execute(c)
            .await?;
        mine().select(Task::as_select()).load(c).await
    })
}

/// Announces, at commit, that the deployment has a task to claim.
///
/// # Errors
///
/// Database errors.
pub async fn announce(conn: &mut Conn<'_>, deployment: Id) -> QueryResult<()> {
    super::writes::write_all(conn, &[&announcing(deployment)]).await
}

/// The announcement that the deployment has a task to claim, to make with other writes.
#[must_use]
pub fn announcing(deployment: Id) -> super::writes::Notice {
    super::writes::Notice {
        channel: super::TASKS_CHANNEL,
        payload: deployment.0.to_string(),
    }
}

/// How many tasks wait for a data plane, and how many are leased.
///
/// # Errors
///
/// Database errors.
pub async fn count_by_lease(conn: &mut Conn<'_>) -> QueryResult<(i64, i64)> {
    let queued = on_backend!(conn, |c| tasks::table
        .filter(tasks::leased_by.is_null())
        .count()
        .get_result(c)
        .await)?;
    let leased = on_backend!(conn, |c| tasks::table
        .filter(tasks::leased_by.is_not_null())
        .count()
        .get_result(c)
        .await)?;
    Ok((queued, leased))
}
