//! The task queue as data planes see it: register, heartbeat, claim by long-poll, post events and
//! checkpoints, complete or fail. A claim is a lease that heartbeats extend; a lease that runs out puts the
//! task back (under a new delivery id, attempt + 1, with the run's last checkpoint) until the run's
//! attempts are spent, when the run fails with the reason kept.
//!
//! Waiting claims wake when a run is queued: on PostgreSQL on every replica, the one that queued it
//! included, through `NOTIFY` in the transaction that queues the run and a `LISTEN`ing connection per
//! replica ([`listener`]); on SQLite, and while the listener is away, in this process directly. They also
//! look again every [`RECHECK`], which notices lost leases and covers a notification lost while the
//! listener reconnects.

pub mod listener;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use chrono::Utc;
use protocol::{
    AgentRef, Checkpoint, Completion, EventBatch, EventKind, Failure, Heartbeat, HeartbeatAck, Lease,
    LeaseExtension, Registration, RegistrationAck, RunEvent, TaskEnvelope, TraceContext,
};
use serde::Serialize;

use crate::auth::data_plane::DataPlaneCaller;
use crate::bus;
use crate::db::runs::Run;
use crate::db::tasks::Task;
use crate::db::{self, Conn, Id, Time};
use crate::error::Error;
use crate::service::catalog::stored_manifest;
use crate::service::runs::usage_json;

/// How long a claim holds a task without a heartbeat.
pub const LEASE: Duration = Duration::from_secs(60);
/// How often a data plane should heartbeat: well inside the lease.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);
/// The longest a claim may wait for work.
pub const MAX_WAIT: Duration = Duration::from_secs(60);
/// The most tasks one claim may take.
pub const MAX_BATCH: i64 = 100;
/// How often a waiting claim looks again without being woken.
pub const RECHECK: Duration = Duration::from_secs(1);
const MAX_INSTANCE_ID_BYTES: usize = 200;

/// Wakes whoever waits for something to change (live event streams wait on runs this way): all of them.
#[derive(Debug, Default)]
pub struct Wake {
    notify: tokio::sync::Notify,
}

impl Wake {
    /// Tells every waiter to look again.
    pub fn work_arrived(&self) {
        self.notify.notify_waiters();
    }

    /// A future that completes at the next [`Wake::work_arrived`]; enable it before looking, so nothing
    /// that arrives in between is missed.
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }
}

/// Wakes claims waiting on a deployment: one per queued task, so a run wakes one claim rather than every
/// claim of every deployment, each of which would look and all but one find nothing.
///
/// One wake per task is enough: every transaction that queues a task announces it, a woken claim takes at
/// least the task that woke it unless another claim took that one first (one wake, one task either way),
/// and a claim listens before it looks, so a task queued while it looks wakes it. Claims do not pass a wake
/// on after a full batch: with one task each, that sent a second claim to find nothing for every task. A
/// claim that fails after it was woken, and so strands its wake, is covered by the [`RECHECK`].
///
/// While the PostgreSQL listener is connected it wakes this replica's claims too, from the replica's own
/// `NOTIFY`, so a task queued here is not announced twice (a second wake sends a claim to look and find
/// nothing).
#[derive(Debug)]
pub struct TaskWake {
    deployments: std::sync::Mutex<HashMap<Id, Arc<tokio::sync::Notify>>>,
    recheck: Duration,
    listening: std::sync::atomic::AtomicBool,
}

impl Default for TaskWake {
    fn default() -> Self {
        Self::with_recheck(RECHECK)
    }
}

impl TaskWake {
    /// Waiting claims that look again unbidden every `recheck`.
    #[must_use]
    pub fn with_recheck(recheck: Duration) -> Self {
        Self {
            deployments: std::sync::Mutex::default(),
            recheck,
            listening: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn of(&self, deployment: Id) -> Arc<tokio::sync::Notify> {
        let mut deployments = self
            .deployments
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(deployments.entry(deployment).or_default())
    }

    /// This replica queued a task for the deployment (and committed): wake one of its waiting claims (or the
    /// next to wait), unless the listener will, on hearing the transaction's `NOTIFY`.
    pub fn task_queued(&self, deployment: Id) {
        if !self.listening.load(std::sync::atomic::Ordering::Acquire) {
            self.announced(deployment);
        }
    }

    /// A task was queued for the deployment on some replica (the listener heard its `NOTIFY`).
    pub fn announced(&self, deployment: Id) {
        self.of(deployment).notify_one();
    }

    /// Whether the listener is connected and hears every `NOTIFY`, this replica's own included.
    pub fn set_listening(&self, listening: bool) {
        self.listening
            .store(listening, std::sync::atomic::Ordering::Release);
    }

    /// Anything may have been queued (after the listener lost its connection): wake every waiting claim.
    pub fn any_queued(&self) {
        let deployments = self
            .deployments
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for notify in deployments.values() {
            notify.notify_waiters();
        }
    }
}

fn lease_until() -> Time {
    Time(Utc::now() + chrono::Duration::from_std(LEASE).unwrap_or_default())
}

fn check_instance(instance: &str) -> Result<(), Error> {
    if instance.is_empty() || instance.len() > MAX_INSTANCE_ID_BYTES || instance.chars().any(char::is_control)
    {
        return Err(Error::Validation(vec![protocol::FieldError::new(
            "instance_id",
            format!("must be 1 to {MAX_INSTANCE_ID_BYTES} bytes without control characters"),
        )]));
    }
    Ok(())
}

/// Records a data-plane instance and marks its deployment ready.
///
/// # Errors
///
/// [`Error::Validation`] for a bad instance id or concurrency.
pub async fn register(
    conn: &mut Conn<'_>,
    caller: DataPlaneCaller,
    registration: &Registration,
) -> Result<RegistrationAck, Error> {
    check_instance(&registration.instance_id)?;
    if !(1..=1024).contains(&registration.concurrency) {
        return Err(Error::Validation(vec![protocol::FieldError::new(
            "concurrency",
            "must be 1 to 1024 task slots",
        )]));
    }
    let concurrency = i32::try_from(registration.concurrency).unwrap_or(1024);
    let capabilities = serde_json::to_string(&registration.capabilities).unwrap_or_default();
    db::transaction(conn, async |tx| {
        let now = Time::now();
        db::data_planes::register(
            tx,
            &db::data_planes::DataPlane {
                deployment_id: caller.deployment_id,
                instance_id: registration.instance_id.clone(),
                version: registration.version.clone(),
                capabilities: capabilities.clone(),
                concurrency,
                registered_at: now,
                last_seen_at: now,
            },
        )
        .await?;
        ready(tx, caller.deployment_id, now).await?;
        Ok(RegistrationAck {
            deployment_id: caller.deployment_id.0.into(),
            heartbeat_interval_ms: u64::try_from(HEARTBEAT_INTERVAL.as_millis()).unwrap_or(u64::MAX),
            lease_ms: u64::try_from(LEASE.as_millis()).unwrap_or(u64::MAX),
        })
    })
    .await
}

/// Extends the leases the instance still holds; tells it which of its tasks to stop (cancelled, or no
/// longer its own).
///
/// # Errors
///
/// [`Error::Conflict`] when the instance never registered.
pub async fn heartbeat(
    conn: &mut Conn<'_>,
    caller: DataPlaneCaller,
    heartbeat: &Heartbeat,
) -> Result<HeartbeatAck, Error> {
    check_instance(&heartbeat.instance_id)?;
    let held: Vec<Id> = heartbeat.tasks.iter().map(|task| Id::from(*task)).collect();
    db::transaction(conn, async |tx| {
        if !db::data_planes::seen(tx, caller.deployment_id, &heartbeat.instance_id, Time::now()).await? {
            return Err(Error::Conflict(format!(
                "instance {:?} has not registered: register first",
                heartbeat.instance_id
            )));
        }
        ready(tx, caller.deployment_id, Time::now()).await?;
        let until = lease_until();
        let kept = db::tasks::extend(tx, caller.deployment_id, &heartbeat.instance_id, &held, until).await?;
        let mut ack = HeartbeatAck::default();
        for task in &held {
            match kept.iter().find(|kept| kept.id == *task) {
                Some(kept) if !kept.cancel_requested => ack.leases.push(LeaseExtension {
                    task_id: task.0.into(),
                    expires_at: until.0,
                }),
                _ => ack.cancelled.push(task.0.into()),
            }
        }
        Ok(ack)
    })
    .await
}

/// A deployment whose data planes all went quiet for this long is `degraded`.
pub const QUIET: Duration = Duration::from_secs(3 * HEARTBEAT_INTERVAL.as_secs());

/// Marks `degraded` the ready deployments whose data planes stopped reporting for [`QUIET`]; the
/// deployments marked. (A heartbeat or registration makes one `ready` again.)
///
/// # Errors
///
/// Database errors.
pub async fn mark_quiet_deployments(conn: &mut Conn<'_>) -> Result<Vec<Id>, Error> {
    let now = Utc::now();
    let stale_before = Time(now - chrono::Duration::from_std(QUIET).unwrap_or_default());
    db::transaction(conn, async |tx| {
        let marked = db::deployments::mark_degraded(tx, stale_before, Time(now)).await?;
        let mut changes = Vec::with_capacity(marked.len());
        for (deployment, org) in &marked {
            tracing::warn!(deployment = %deployment.0, "no data plane reported lately; the deployment is degraded");
            changes.push(bus::deployment(*org, *deployment, "degraded"));
        }
        bus::publish(tx, &changes).await?;
        Ok(marked.into_iter().map(|(deployment, _)| deployment).collect())
    })
    .await
}

/// Marks the deployment ready, and says so on the bus when it was not.
async fn ready(tx: &mut Conn<'_>, deployment: Id, now: Time) -> Result<(), Error> {
    if let Some(org) = db::deployments::mark_ready(tx, deployment, now).await? {
        bus::publish(tx, &[bus::deployment(org, deployment, "ready")]).await?;
    }
    Ok(())
}

/// Every `period`, until the process ends, runs `job` on a pooled connection; a failure is logged as
/// `what` failing, and the next period tries again.
async fn every(
    pool: db::Pool,
    period: Duration,
    what: &str,
    mut job: impl AsyncFnMut(&mut Conn<'_>) -> Result<(), Error>,
) {
    let mut ticks = tokio::time::interval(period);
    loop {
        ticks.tick().await;
        let done = match pool.get().await {
            Ok(mut pooled) => job(&mut pooled.conn()).await,
            Err(error) => Err(error),
        };
        if let Err(error) = done {
            tracing::warn!(%error, "{what} failed");
        }
    }
}

/// Every [`HEARTBEAT_INTERVAL`], until the process ends, marks quiet deployments degraded and expires the
/// approvals whose time ran out.
pub async fn watch_deployments(pool: db::Pool) {
    every(
        pool,
        HEARTBEAT_INTERVAL,
        "checking the deployments' data planes and the approvals' deadlines",
        async |conn| {
            mark_quiet_deployments(conn).await?;
            crate::service::approvals::expire(conn).await.map(drop)
        },
    )
    .await;
}

/// How many dead row versions of tasks are left for autovacuum before the control plane vacuums them.
pub const DEAD_TASKS: i64 = 2000;
/// How often the tasks table's dead rows are counted.
const VACUUM_CHECK: Duration = Duration::from_secs(5);

/// Vacuums the tasks table when it holds more than `threshold` dead row versions; whether it did (never
/// on SQLite).
///
/// # Errors
///
/// Database errors.
pub async fn vacuum_tasks(conn: &mut Conn<'_>, threshold: i64) -> Result<bool, Error> {
    if db::tasks::dead_rows(conn).await? <= threshold {
        return Ok(false);
    }
    Ok(db::tasks::vacuum(conn).await?)
}

/// Every [`VACUUM_CHECK`], until the process ends, vacuums the tasks table once more than [`DEAD_TASKS`]
/// dead versions wait (PostgreSQL only). Each claim leaves one and each finished task another, and every
/// claim and look before it steps over the dead versions still indexed. Autovacuum visits a database at
/// most once a minute, in which a busy queue leaves tens of thousands: the claim slowed fivefold between
/// its visits (`cargo bench --bench queue`). The table holds only unfinished tasks, so a vacuum is quick.
pub async fn keep_tasks_vacuumed(pool: db::Pool) {
    every(pool, VACUUM_CHECK, "vacuuming the tasks table", async |conn| {
        vacuum_tasks(conn, DEAD_TASKS).await.map(drop)
    })
    .await;
}

/// Puts back the deployment's tasks whose lease ran out, or fails their runs when no attempt is left.
async fn recover_lost_leases(tx: &mut Conn<'_>, deployment: Id) -> Result<(), Error> {
    for task in db::tasks::expired(tx, deployment, Time::now()).await? {
        crate::metrics::METRICS.lease_expiries.inc();
        let holder = task.leased_by.clone().unwrap_or_default();
        if task.attempt >= task.max_attempts || task.cancel_requested {
            db::tasks::delete(tx, task.id).await?;
            let mut run = db::runs::find(tx, task.run_id).await?;
            if task.cancel_requested {
                run.state = "cancelled".to_owned();
            } else {
                run.state = "failed".to_owned();
                run.failure_reason = Some(format!(
                    "the lease ran out on each of {} attempts (last held by {holder:?})",
                    task.attempt
                ));
            }
            run.finished_at = Some(Time::now());
            db::runs::update(tx, &run).await?;
            bus::publish(tx, &[bus::run(&run)]).await?;
        } else {
            let next = db::tasks::redeliver(tx, &task).await?;
            tracing::info!(task = %task.id.0, next = %next.id.0, %holder, "lease lost; task put back");
        }
    }
    Ok(())
}

/// What every task of one agent version carries, derived from its manifest.
#[derive(Debug)]
pub(crate) struct VersionParts {
    pub(crate) agent: AgentRef,
    workflow: serde_json::Value,
    pub(crate) pricing: manifest::Pricing,
    /// The manifest's input schema, compiled: it checks each run's inputs.
    pub(crate) inputs: manifest::InputValidator,
    /// The publishing org, which earns the developer's share.
    developer_org: Id,
    /// The manifest's retention and context sizes, for the data plane.
    memory: protocol::AgentMemory,
    /// The node kinds and tools a data plane must advertise to run the workflow.
    needs: BTreeSet<String>,
}

/// Parts of published versions already read, by (agent, version). A published version never changes
/// (deprecating it changes only its state), so an entry never goes stale; there are as many as versions
/// in use.
static VERSIONS: LazyLock<Mutex<VersionCache>> = LazyLock::new(Mutex::default);

/// Version parts by (agent, version).
type VersionCache = HashMap<(Id, String), Arc<VersionParts>>;

/// The parts of a published version (every deployment runs one), read and compiled once per process.
///
/// # Errors
///
/// [`Error::Internal`] for a version that is missing or does not read back; database errors.
pub(crate) async fn published_version(
    tx: &mut Conn<'_>,
    agent: Id,
    version: &str,
) -> Result<Arc<VersionParts>, Error> {
    let key = (agent, version.to_owned());
    if let Some(parts) = VERSIONS.lock().unwrap_or_else(PoisonError::into_inner).get(&key) {
        return Ok(Arc::clone(parts));
    }
    let listing = db::agents::find(tx, agent).await?;
    let stored = db::agent_versions::find(tx, agent, version)
        .await?
        .ok_or_else(|| Error::Internal(format!("{} has no version {version}", listing.agent_id)))?;
    let manifest = stored_manifest(&stored)?;
    let workflow = serde_json::to_value(&manifest.workflow)
        .map_err(|error| Error::Internal(format!("workflow: {error}")))?;
    let parts = Arc::new(VersionParts {
        agent: AgentRef {
            id: listing.agent_id,
            version: stored.version.clone(),
            manifest_digest: stored.digest.clone(),
        },
        workflow,
        inputs: manifest.input_validator()?,
        memory: manifest.memory.applied(),
        needs: manifest.needs(),
        pricing: manifest.pricing,
        developer_org: listing.owner_org_id,
    });
    VERSIONS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(key, Arc::clone(&parts));
    Ok(parts)
}

/// What every task of one claim shares: they are all of the caller's deployment.
struct Claimed {
    deployment: Id,
    granted_permissions: Vec<String>,
}

/// The envelope a data plane needs to run (or resume) a claimed task of a run of `version`.
fn envelope(
    claimed: &Claimed,
    version: &VersionParts,
    task: &Task,
    run: &Run,
) -> Result<TaskEnvelope, Error> {
    let internal = |what: &str, error: serde_json::Error| Error::Internal(format!("{what}: {error}"));
    Ok(TaskEnvelope {
        task_id: task.id.0.into(),
        run_id: run.id.0.into(),
        deployment_id: claimed.deployment.0.into(),
        org_id: run.org_id.0.into(),
        agent: version.agent.clone(),
        attempt: u32::try_from(task.attempt).unwrap_or(1),
        max_attempts: u32::try_from(task.max_attempts).unwrap_or(1),
        lease: Lease {
            expires_at: task.lease_expires_at.map_or_else(Utc::now, |at| at.0),
        },
        workflow: version.workflow.clone(),
        inputs: serde_json::from_str(&run.inputs).map_err(|e| internal("inputs", e))?,
        granted_permissions: claimed.granted_permissions.clone(),
        checkpoint: run
            .checkpoint
            .as_deref()
            .map(serde_json::from_str::<Checkpoint>)
            .transpose()
            .map_err(|e| internal("checkpoint", e))?,
        trace: run.traceparent.clone().map(|traceparent| TraceContext {
            traceparent,
            tracestate: run.tracestate.clone(),
        }),
        preferences_version: 0,
        memory: version.memory.clone(),
    })
}

/// Of the versions the deployment's queued runs run, those the instance can: all of them (`None`) unless it
/// registered with capabilities that lack a node kind or tool one of them needs. An instance that never
/// registered, or advertised nothing, is taken to run anything.
async fn runnable_versions(
    tx: &mut Conn<'_>,
    caller: DataPlaneCaller,
    advertised: Option<&str>,
) -> Result<Option<Vec<String>>, Error> {
    let Some(advertised) = advertised else {
        return Ok(None);
    };
    let capabilities: BTreeSet<String> = serde_json::from_str(advertised)
        .map_err(|error| Error::Internal(format!("stored capabilities: {error}")))?;
    if capabilities.is_empty() {
        return Ok(None);
    }
    let mut runnable = Vec::new();
    let mut all = true;
    // Every run records its version when it is created.
    for version in db::tasks::queued_versions(tx, caller.deployment_id)
        .await?
        .into_iter()
        .flatten()
    {
        if published_version(tx, caller.agent, &version)
            .await?
            .needs
            .is_subset(&capabilities)
        {
            runnable.push(version);
        } else {
            all = false;
        }
    }
    Ok((!all).then_some(runnable))
}

/// One claim: put back lost leases, lease up to `max` tasks, start their runs. It looks first, in one
/// statement with the deployment it needs anyway, so a claim that finds nothing (as most claims of idle
/// data planes do) costs that statement and no transaction.
async fn claim_once(
    conn: &mut Conn<'_>,
    caller: DataPlaneCaller,
    instance: &str,
    max: i64,
) -> Result<Vec<TaskEnvelope>, Error> {
    let (deployment, advertised, claimable) =
        db::tasks::claim_view(conn, caller.deployment_id, instance, Time::now()).await?;
    if !claimable.queued && !claimable.lost {
        return Ok(Vec::new());
    }
    let (envelopes, waits) = db::transaction(conn, async |tx| {
        if claimable.lost {
            recover_lost_leases(tx, caller.deployment_id).await?;
        }
        let versions = runnable_versions(tx, caller, advertised.as_deref()).await?;
        if versions.as_ref().is_some_and(Vec::is_empty) {
            return Ok((Vec::new(), Vec::new()));
        }
        let claimed = db::tasks::claim(
            tx,
            caller.deployment_id,
            instance,
            max,
            lease_until(),
            versions.as_deref(),
        )
        .await?;
        if claimed.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let shared = Claimed {
            deployment: deployment.id,
            granted_permissions: deployment
                .granted_permissions()
                .map_err(|error| Error::Internal(format!("permissions: {error}")))?,
        };
        let now = Time::now();
        // One statement per attempt number among the tasks (nearly always one), each saying its runs
        // started (a deployment's runs are its org's).
        let mut runs: HashMap<Id, Run> = HashMap::with_capacity(claimed.len());
        let mut attempts: Vec<i32> = claimed.iter().map(|task| task.attempt).collect();
        attempts.sort_unstable();
        attempts.dedup();
        for attempt in attempts {
            let ids: Vec<Id> = claimed
                .iter()
                .filter(|task| task.attempt == attempt)
                .map(|task| task.run_id)
                .collect();
            let changes: Vec<_> = ids
                .iter()
                .map(|run| bus::run_state(deployment.org_id, *run, deployment.id, "running", None))
                .collect();
            let mut writes = db::writes::Writes::default();
            for change in &changes {
                writes.add(db::changes::inserting(change));
            }
            for run in db::runs::start_all(tx, &ids, attempt, now, &writes.all()).await? {
                runs.insert(run.id, run);
            }
        }
        let mut envelopes = Vec::with_capacity(claimed.len());
        let mut waits = Vec::with_capacity(claimed.len());
        for task in &claimed {
            waits.push((now.0 - task.created_at.0).to_std().unwrap_or_default());
            let run = runs
                .get(&task.run_id)
                .ok_or_else(|| Error::Internal(format!("the run of task {} is missing", task.id.0)))?;
            let version = published_version(
                tx,
                deployment.agent,
                run_version(run.version.as_deref(), &deployment),
            )
            .await?;
            envelopes.push(envelope(&shared, &version, task, run)?);
        }
        Ok((envelopes, waits))
    })
    .await?;
    for waited in waits {
        crate::metrics::METRICS.task_waited(waited);
    }
    Ok(envelopes)
}

/// Claims up to `max` of the deployment's tasks for `instance`, waiting up to `wait` for one to arrive.
///
/// # Errors
///
/// [`Error::Validation`] for `max` or `wait` out of range or a bad instance id.
pub async fn next(
    pool: &db::Pool,
    wake: &TaskWake,
    caller: DataPlaneCaller,
    instance: &str,
    max: i64,
    wait: Duration,
) -> Result<Vec<TaskEnvelope>, Error> {
    check_instance(instance)?;
    if !(1..=MAX_BATCH).contains(&max) {
        return Err(Error::Validation(vec![protocol::FieldError::new(
            "max",
            format!("{max} is outside 1..={MAX_BATCH}"),
        )]));
    }
    if wait > MAX_WAIT {
        return Err(Error::Validation(vec![protocol::FieldError::new(
            "wait",
            format!("at most {}s", MAX_WAIT.as_secs()),
        )]));
    }
    let deadline = tokio::time::Instant::now() + wait;
    let notify = wake.of(caller.deployment_id);
    loop {
        // Listen before looking, so a task queued in between still wakes this claim.
        let woken = notify.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let claimed = {
            let mut pooled = pool.get().await?;
            claim_once(&mut pooled.conn(), caller, instance, max).await?
        };
        let now = tokio::time::Instant::now();
        if !claimed.is_empty() || now >= deadline {
            return Ok(claimed);
        }
        // Woken, or time to look again (for lost leases, or a notification lost on the way).
        let _ = tokio::time::timeout(wake.recheck.min(deadline - now), woken).await;
    }
}

/// What an event post stored, and whether the run was cancelled meanwhile.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventsAck {
    /// Events stored by this post (a repeated one is not stored again).
    pub stored: u64,
    /// The last sequence number stored for this task.
    pub last_seq: u64,
    /// Stop: the run was cancelled.
    pub cancel: bool,
}

/// The task if this deployment holds it.
async fn held(tx: &mut Conn<'_>, caller: DataPlaneCaller, id: Id) -> Result<Option<db::tasks::Held>, Error> {
    Ok(db::tasks::find_with_run(tx, id)
        .await?
        .filter(|held| held.task.deployment_id == caller.deployment_id))
}

fn no_task(id: Id) -> Error {
    Error::NotFound(format!(
        "no task {} held by this deployment (a lost lease puts a task back under a new id)",
        id.0
    ))
}

/// Stores a batch of events, each once by its sequence number, and the latest checkpoint.
///
/// # Errors
///
/// [`Error::NotFound`] for a task this deployment does not hold; [`Error::Validation`] for a batch that
/// skips a sequence number (nothing of it is stored).
pub async fn events(
    conn: &mut Conn<'_>,
    caller: DataPlaneCaller,
    id: Id,
    batch: EventBatch,
) -> Result<EventsAck, Error> {
    db::transaction(conn, async |tx| {
        let db::tasks::Held {
            mut task, mut run, ..
        } = held(tx, caller, id).await?.ok_or_else(|| no_task(id))?;
        let mut events = batch.events.clone();
        events.sort_by_key(|event| event.seq);
        let mut stored = Vec::new();
        for event in &events {
            let seq = i64::try_from(event.seq).unwrap_or(i64::MAX);
            if seq <= task.last_seq {
                continue;
            }
            if seq != task.last_seq + 1 {
                return Err(Error::Validation(vec![protocol::FieldError::new(
                    "events",
                    format!(
                        "event {seq} came before event {}; send the batch again with it",
                        task.last_seq + 1
                    ),
                )]));
            }
            let body =
                serde_json::to_value(event).map_err(|error| Error::Internal(format!("event: {error}")))?;
            stored.push(db::run_events::StoredEvent {
                run_id: run.id,
                attempt: task.attempt,
                seq,
                at: Time(event.at),
                kind: body["type"].as_str().unwrap_or("unknown").to_owned(),
                body: body.to_string(),
            });
            if let EventKind::Checkpoint { checkpoint } = &event.kind {
                run.checkpoint = Some(serde_json::to_string(checkpoint).unwrap_or_default());
            }
            task.last_seq = seq;
        }
        db::run_events::insert_all(tx, &stored).await?;
        if !stored.is_empty()
            && !task.cancel_requested
            && let Some(max) = run.max_charge_micros
            && past_max_charge(tx, caller, &run, max).await?
        {
            // As the run's caller asked: stopped before it costs more; charged at most its maximum.
            task.cancel_requested = true;
            run.failure_reason = Some(format!(
                "{STOPPED_AT_MAX_CHARGE} of ${}",
                protocol::Money::from_micros(max)
            ));
        }
        if !stored.is_empty() {
            db::tasks::update(tx, &task).await?;
            db::runs::update(tx, &run).await?;
        }
        Ok(EventsAck {
            stored: u64::try_from(stored.len()).unwrap_or(u64::MAX),
            last_seq: u64::try_from(task.last_seq).unwrap_or_default(),
            cancel: task.cancel_requested,
        })
    })
    .await
}

/// The start of the reason a run stopped at its maximum charge has.
const STOPPED_AT_MAX_CHARGE: &str = "stopped: its charge reached its max_charge";

/// Whether what the run's finished steps counted so far prices above `max`.
async fn past_max_charge(
    tx: &mut Conn<'_>,
    caller: DataPlaneCaller,
    run: &db::runs::Run,
    max: i64,
) -> Result<bool, Error> {
    let mut used = protocol::Usage::default();
    for event in db::run_events::finished_of_run(tx, run.id).await? {
        let Ok(RunEvent {
            kind: EventKind::Finished { counters, .. },
            ..
        }) = serde_json::from_str::<RunEvent>(&event.body)
        else {
            continue;
        };
        for (name, count) in counters {
            let total = used.units.entry(name).or_default();
            *total = total.saturating_add(count);
        }
    }
    let version = version_ran(tx, caller, run).await?;
    Ok(match crate::billing::price(&version.pricing, &used) {
        Ok(price) => price.total.micros() > max,
        // Past what can be counted: past any maximum.
        Err(_) => true,
    })
}

/// The version a run of the deployment runs, given the version the run recorded: the one it was created
/// under (for a run stored before runs recorded it, the deployment's).
pub(crate) fn run_version<'a>(
    recorded: Option<&'a str>,
    deployment: &'a db::deployments::Deployment,
) -> &'a str {
    recorded.unwrap_or(&deployment.version)
}

/// The parts of the version a run of the caller's deployment runs, which an upgrade of the deployment
/// since does not change.
async fn version_ran(
    tx: &mut Conn<'_>,
    caller: DataPlaneCaller,
    run: &db::runs::Run,
) -> Result<Arc<VersionParts>, Error> {
    match &run.version {
        Some(version) => published_version(tx, caller.agent, version).await,
        None => {
            let deployment = db::deployments::find(tx, run.deployment_id).await?;
            published_version(
                tx,
                deployment.agent,
                run_version(run.version.as_deref(), &deployment),
            )
            .await
        }
    }
}

/// Bills the run what it used under the pricing of the version it ran (held to its maximum charge).
async fn charge(
    tx: &mut Conn<'_>,
    caller: DataPlaneCaller,
    run: &db::runs::Run,
    used: &protocol::Usage,
) -> Result<Option<crate::billing::Bill>, Error> {
    let version = version_ran(tx, caller, run).await?;
    let seller = crate::billing::Seller {
        developer_org: version.developer_org,
        agent: &version.agent.id,
        pricing: &version.pricing,
    };
    crate::billing::charge(tx, run, used, &seller).await
}

/// How a task ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    Completed(Completion),
    Failed(Failure),
    /// The run waits for a human: it resumes from the checkpoint once approved.
    Suspended(protocol::Suspension),
}

/// How long an approval waits for a decision before it expires (and the run with it).
pub const APPROVAL_TTL: chrono::TimeDelta = chrono::TimeDelta::hours(24);
/// The org role that decides approvals (besides its admins).
pub const DECIDER_ROLE: &str = "approver";

/// Ends a task: its run succeeds, is put back for another attempt (a retryable failure with attempts
/// left), fails, waits for an approval (suspended: the task leaves the queue, the checkpoint and an
/// approval are stored), or, when it was asked to stop, is cancelled. Reporting the same end again
/// changes nothing.
///
/// # Errors
///
/// [`Error::NotFound`] for a task this deployment does not hold; [`Error::Conflict`] for one whose lease
/// was lost.
pub async fn finish(
    conn: &mut Conn<'_>,
    caller: DataPlaneCaller,
    id: Id,
    outcome: Outcome,
) -> Result<crate::service::runs::RunView, Error> {
    db::transaction(conn, async |tx| {
        let Some(db::tasks::Held {
            task,
            mut run,
            child_remediated,
        }) = held(tx, caller, id).await?
        else {
            // A repeated report: the run remembers which delivery finished it.
            return match db::runs::by_finishing_task(tx, id).await? {
                Some(run) if run.deployment_id == caller.deployment_id => {
                    crate::service::runs::RunView::of(&run)
                }
                _ => Err(no_task(id)),
            };
        };
        if task.leased_by.is_none() {
            return Err(Error::Conflict(
                "the task's lease was lost; it waits for another claim".to_owned(),
            ));
        }
        let now = Time::now();
        let stopped_at_max_charge = task.cancel_requested
            && run
                .failure_reason
                .as_deref()
                .is_some_and(|reason| reason.starts_with(STOPPED_AT_MAX_CHARGE));
        let usage = match &outcome {
            Outcome::Completed(completion) => Some(&completion.usage),
            Outcome::Failed(failure) => Some(&failure.usage),
            Outcome::Suspended(_) => None,
        };
        if let Some(usage) = usage {
            run.usage = Some(usage_json(usage));
        }
        let mut bill = None;
        match outcome {
            Outcome::Suspended(suspension) if !task.cancel_requested => {
                let request = suspension.approval;
                let approval = db::approvals::Approval {
                    id: Id::new(),
                    org_id: run.org_id,
                    run_id: run.id,
                    deployment_id: run.deployment_id,
                    task_id: task.id,
                    node: request.node,
                    action: request.action.to_string(),
                    impact: request.impact.to_string(),
                    reason: request.reason,
                    decider_role: DECIDER_ROLE.to_owned(),
                    state: "pending".to_owned(),
                    requested_at: now,
                    expires_at: Time(now.0 + APPROVAL_TTL),
                    decided_by: None,
                    decided_at: None,
                    comment: None,
                };
                db::approvals::insert(tx, &approval).await?;
                run.state = "awaiting_approval".to_owned();
                run.checkpoint = Some(serde_json::to_string(&suspension.checkpoint).unwrap_or_default());
                run.finished_by_task = Some(task.id);
                db::tasks::delete(tx, task.id).await?;
                db::runs::update(tx, &run).await?;
                bus::publish(tx, &[bus::run(&run), bus::approval(&approval)]).await?;
                return crate::service::runs::RunView::of(&run);
            }
            // Stopped at its maximum charge: it failed, and is charged what it used, at most the maximum.
            Outcome::Suspended(_) | Outcome::Failed(_) if stopped_at_max_charge => {
                run.state = "failed".to_owned();
                let used: protocol::Usage = run
                    .usage
                    .as_deref()
                    .and_then(|usage| serde_json::from_str(usage).ok())
                    .unwrap_or_default();
                bill = charge(tx, caller, &run, &used).await?;
            }
            // Asked to stop while it was asking for approval: it stops.
            Outcome::Suspended(_) => run.state = "cancelled".to_owned(),
            Outcome::Failed(failure)
                if failure.retryable && !task.cancel_requested && task.attempt < task.max_attempts =>
            {
                let next = db::tasks::redeliver(tx, &task).await?;
                db::tasks::announce(tx, next.deployment_id).await?;
                run.state = "queued".to_owned();
                run.failure_reason = Some(failure.reason);
                db::runs::update(tx, &run).await?;
                bus::publish(tx, &[bus::run(&run)]).await?;
                return crate::service::runs::RunView::of(&run);
            }
            Outcome::Failed(failure) => {
                run.state = if task.cancel_requested {
                    "cancelled"
                } else {
                    "failed"
                }
                .to_owned();
                run.failure_reason = Some(match failure.node {
                    Some(node) => format!("node {node}: {}", failure.reason),
                    None => failure.reason,
                });
            }
            Outcome::Completed(completion) => {
                // A run that finished what a human approved has remediated, and so has one whose child run
                // (over A2A) did. Resuming after an approval is a later delivery, so a first delivery needs
                // no look for its own approvals.
                let approved =
                    (run.attempts > 1 && db::approvals::any_approved(tx, run.id).await?) || child_remediated;
                run.state = if approved { "remediated" } else { "succeeded" }.to_owned();
                bill = charge(tx, caller, &run, &completion.usage).await?;
                run.outputs = Some(completion.outputs.to_string());
            }
        }
        run.finished_at = Some(now);
        run.finished_by_task = Some(task.id);
        // The task leaves the queue, the run ends and says so, and is charged, in one round trip.
        let change = bus::run(&run);
        let mut writes = db::writes::Writes::default();
        writes.add(db::tasks::deleting(task.id));
        writes.add(db::runs::updating(&run));
        writes.add(db::changes::inserting(&change));
        if let Some(bill) = &bill {
            bill.add_to(&mut writes);
        }
        writes.make(tx).await?;
        crate::service::runs::RunView::of(&run)
    })
    .await
}
