//! Runs as an org sees them: start one (idempotently), read it with its node timeline, list, cancel.

use chrono::{DateTime, Utc};
use protocol::{EventKind, FieldError, Money, Page, RunEvent};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::billing::limits;
use crate::db::deployments::Deployment;
use crate::db::orgs::Org;
use crate::db::runs::{Run, RunFilter};
use crate::db::tasks::Task;
use crate::db::{self, Conn, Id, Time};
use crate::error::Error;
use crate::service::audit::{self, Actor, Entry};
use crate::service::keyset;

/// Deliveries a task gets before its run fails.
pub const MAX_ATTEMPTS: i32 = 3;
/// Priorities run from this low to this high (higher is claimed first).
pub const PRIORITIES: std::ops::RangeInclusive<i32> = -100..=100;
const MAX_IDEMPOTENCY_KEY_BYTES: usize = 255;

/// A request to run a deployment.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRun {
    #[serde(default = "empty_object")]
    pub inputs: Value,
    #[serde(default)]
    pub priority: i32,
    pub deadline: Option<DateTime<Utc>>,
    /// The most the run may be charged, in dollars (`"5.00"`); refused before it is queued when the agent's
    /// price per run is higher.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "5.00")]
    pub max_charge: Option<Money>,
    /// The run that started this one over A2A (set by the A2A endpoint, from the message's `parentRunId`
    /// metadata; a run of the same org).
    #[serde(skip)]
    pub parent_run: Option<Id>,
}

fn empty_object() -> Value {
    json!({})
}

/// One finished step of a run, from its events.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Step {
    pub node: Option<String>,
    pub attempt: u32,
    pub status: protocol::StepStatus,
    pub duration_ms: u64,
    pub message: Option<String>,
    pub finished_at: DateTime<Utc>,
}

/// A run as its org sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunView {
    pub id: uuid::Uuid,
    pub org_id: uuid::Uuid,
    pub deployment_id: uuid::Uuid,
    pub state: String,
    pub inputs: Value,
    pub outputs: Option<Value>,
    pub priority: i32,
    pub deadline: Option<DateTime<Utc>>,
    pub failure_reason: Option<String>,
    pub usage: Option<Value>,
    /// The most the run may be charged, when its caller set it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub max_charge: Option<Money>,
    pub attempts: i32,
    /// The agent version the run runs: its deployment's when it was created, whatever the deployment was
    /// upgraded or rolled back to since (its charge is priced by it).
    pub version: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The run that started this one over A2A.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_run_id: Option<uuid::Uuid>,
    /// The runs this one started over A2A (only on a single run's view).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub child_runs: Option<Vec<ChildRun>>,
    /// The nodes that finished, in order (only on a single run's view).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Vec<Step>>,
    /// What the run cost and how the charge splits, once it completed (only on a single run's view).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<crate::billing::ChargeView>,
}

/// A run another run started over A2A.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChildRun {
    pub id: uuid::Uuid,
    pub deployment_id: uuid::Uuid,
    pub state: String,
}

fn parsed(text: &str, what: &str) -> Result<Value, Error> {
    serde_json::from_str(text)
        .map_err(|error| Error::Internal(format!("stored {what} does not read back: {error}")))
}

impl RunView {
    pub(crate) fn of(run: &Run) -> Result<Self, Error> {
        Ok(Self {
            id: run.id.0,
            org_id: run.org_id.0,
            deployment_id: run.deployment_id.0,
            state: run.state.clone(),
            inputs: parsed(&run.inputs, "inputs")?,
            outputs: run
                .outputs
                .as_deref()
                .map(|text| parsed(text, "outputs"))
                .transpose()?,
            priority: run.priority,
            deadline: run.deadline.map(|at| at.0),
            failure_reason: run.failure_reason.clone(),
            usage: run
                .usage
                .as_deref()
                .map(|text| parsed(text, "usage"))
                .transpose()?,
            max_charge: run.max_charge_micros.map(Money::from_micros),
            attempts: run.attempts,
            version: run.version.clone(),
            created_at: run.created_at.0,
            started_at: run.started_at.map(|at| at.0),
            finished_at: run.finished_at.map(|at| at.0),
            parent_run_id: run.parent_run_id.map(|id| id.0),
            child_runs: None,
            timeline: None,
            cost: None,
        })
    }
}

fn check(request: &NewRun, key: Option<&str>) -> Result<(), Error> {
    let mut errors = Vec::new();
    if !PRIORITIES.contains(&request.priority) {
        errors.push(FieldError::new(
            "priority",
            format!(
                "{} is outside {}..={}",
                request.priority,
                PRIORITIES.start(),
                PRIORITIES.end()
            ),
        ));
    }
    if request.deadline.is_some_and(|deadline| deadline <= Utc::now()) {
        errors.push(FieldError::new("deadline", "is in the past"));
    }
    if !request.inputs.is_object() {
        errors.push(FieldError::new("inputs", "must be a JSON object"));
    }
    if request.max_charge.is_some_and(|max| max < Money::ZERO) {
        errors.push(FieldError::new("max_charge", "is negative"));
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    if let Some(key) = key
        && (key.is_empty()
            || key.len() > MAX_IDEMPOTENCY_KEY_BYTES
            || !key.bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err(Error::BadRequest(format!(
            "the Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_BYTES} visible ASCII characters"
        )));
    }
    Ok(())
}

/// A deployment that can take runs, and its org.
async fn live(tx: &mut Conn<'_>, id: Id) -> Result<(Deployment, Org), Error> {
    let (deployment, org) = db::deployments::with_org(tx, id).await?;
    if deployment.state == "uninstalled" {
        return Err(Error::Conflict("the deployment is uninstalled".to_owned()));
    }
    Ok((deployment, org))
}

/// Starts a run of the deployment, or, for an idempotency key already used with the same request, returns
/// that run. The flag says whether the run is new.
///
/// # Errors
///
/// [`Error::Validation`] for inputs the manifest's schema refuses (each error with its path) or a bad
/// priority or deadline; [`Error::Conflict`] for a key used with another request, or an uninstalled
/// deployment.
pub async fn create(
    conn: &mut Conn<'_>,
    actor: Actor,
    deployment: Id,
    key: Option<&str>,
    request: NewRun,
) -> Result<(RunView, bool), Error> {
    check(&request, key)?;
    let digest = hex::encode(Sha256::digest(
        serde_json_canonicalizer::to_vec(&request)
            .map_err(|error| Error::Internal(format!("encoding the request: {error}")))?,
    ));
    let creator = actor
        .user
        .ok_or_else(|| Error::Internal("a run needs a user".to_owned()))?;
    let same_key = |existing: Run| {
        if existing.request_digest == digest {
            Ok((RunView::of(&existing)?, false))
        } else {
            Err(Error::Conflict(
                "this Idempotency-Key was used for a different request".to_owned(),
            ))
        }
    };
    let created = db::transaction(conn, async |tx| {
        let (deployment, org) = live(tx, deployment).await?;
        if let Some(key) = key
            && let Some(existing) = db::runs::by_idempotency_key(tx, deployment.id, key).await?
        {
            return same_key(existing);
        }
        let version = crate::queue::published_version(tx, deployment.agent, &deployment.version).await?;
        version.inputs.check(&request.inputs)?;
        let least = version.pricing.per_run.unwrap_or(Money::ZERO);
        if let Some(max) = request.max_charge {
            limits::check_max_charge(max, least)?;
        }
        let now = Time::now();
        let trace = crate::telemetry::current_trace_context();
        limits::check_org(tx, &org, least, now).await?;
        let run = Run {
            id: Id::new(),
            org_id: deployment.org_id,
            deployment_id: deployment.id,
            state: "queued".to_owned(),
            inputs: request.inputs.to_string(),
            outputs: None,
            priority: request.priority,
            deadline: request.deadline.map(Time),
            idempotency_key: key.map(str::to_owned),
            request_digest: digest.clone(),
            failure_reason: None,
            usage: None,
            attempts: 0,
            finished_by_task: None,
            checkpoint: None,
            created_by: creator,
            created_at: now,
            started_at: None,
            finished_at: None,
            max_charge_micros: request.max_charge.map(Money::micros),
            traceparent: trace.as_ref().map(|trace| trace.traceparent.clone()),
            tracestate: trace.and_then(|trace| trace.tracestate),
            parent_run_id: request.parent_run,
            version: Some(deployment.version.clone()),
        };
        // The run, its change, its task and the announcement, in one round trip.
        db::writes::write_all(
            tx,
            &[
                &db::runs::inserting(&run),
                &db::changes::inserting(&crate::bus::run(&run)),
                &db::tasks::inserting(&Task::queued(&run, 1, MAX_ATTEMPTS, now)),
                &db::tasks::announcing(deployment.id),
            ],
        )
        .await?;
        record(tx, &actor, &run, "run.create").await?;
        Ok((RunView::of(&run)?, true))
    })
    .await;
    match (created, key) {
        // Two requests with one key at once: the other committed first; answer as a retry would be.
        (Err(Error::Conflict(conflict)), Some(key)) => {
            match db::runs::by_idempotency_key(conn, deployment, key).await? {
                Some(existing) => same_key(existing),
                None => Err(Error::Conflict(conflict)),
            }
        }
        (result, _) => result,
    }
}

async fn record(tx: &mut Conn<'_>, actor: &Actor, run: &Run, action: &str) -> Result<(), Error> {
    audit::record(
        tx,
        Entry {
            actor: actor.user,
            org: Some(run.org_id),
            action,
            target: format!("run:{}", run.id.0),
            change: json!({"deployment_id": run.deployment_id.0, "state": run.state}),
            client_addr: actor.client_addr.clone(),
        },
    )
    .await
}

/// A run's events in order, as the data plane sent them.
///
/// # Errors
///
/// Database errors.
pub async fn events(conn: &mut Conn<'_>, id: Id) -> Result<Vec<Value>, Error> {
    db::run_events::of_run(conn, id)
        .await?
        .iter()
        .map(event_json)
        .collect()
}

/// A stored event as clients see it: as its data plane sent it, with the `attempt` it belongs to.
///
/// # Errors
///
/// [`Error::Internal`] when the stored event does not read back.
pub fn event_json(event: &db::run_events::StoredEvent) -> Result<Value, Error> {
    let mut body = parsed(&event.body, "event")?;
    body["attempt"] = json!(event.attempt);
    Ok(body)
}

/// One run, with its node timeline.
///
/// # Errors
///
/// [`Error::NotFound`] when there is none.
pub async fn get(conn: &mut Conn<'_>, id: Id) -> Result<RunView, Error> {
    let run = db::runs::find(conn, id).await?;
    let mut view = RunView::of(&run)?;
    let mut timeline = Vec::new();
    for stored in db::run_events::finished_of_run(conn, id).await? {
        let Ok(event) = serde_json::from_str::<RunEvent>(&stored.body) else {
            continue;
        };
        if let EventKind::Finished {
            node,
            attempt,
            status,
            duration_ms,
            message,
            ..
        } = event.kind
        {
            timeline.push(Step {
                node,
                attempt,
                status,
                duration_ms,
                message,
                finished_at: event.at,
            });
        }
    }
    view.timeline = Some(timeline);
    view.child_runs = Some(
        db::runs::children(conn, id)
            .await?
            .into_iter()
            .map(|child| ChildRun {
                id: child.id.0,
                deployment_id: child.deployment_id.0,
                state: child.state,
            })
            .collect(),
    );
    view.cost = crate::billing::charge_of(conn, id).await?;
    Ok(view)
}

/// Query parameters of an org's run list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RunQuery {
    pub state: Option<String>,
    pub deployment_id: Option<uuid::Uuid>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

const STATES: [&str; 7] = [
    "queued",
    "running",
    "awaiting_approval",
    "succeeded",
    "failed",
    "cancelled",
    "remediated",
];

/// An org's runs, newest first.
///
/// # Errors
///
/// [`Error::BadRequest`] for an unknown state, a bad cursor or a limit outside 1..=100.
pub async fn list(conn: &mut Conn<'_>, org: Id, query: &RunQuery) -> Result<Page<RunView>, Error> {
    if let Some(state) = &query.state
        && !STATES.contains(&state.as_str())
    {
        return Err(Error::BadRequest(format!(
            "state {state:?} is not one of: {}",
            STATES.join(", ")
        )));
    }
    let selection = Selection {
        states: query.state.iter().cloned().collect(),
        deployment: query.deployment_id.map(Id),
        cursor: query.cursor.as_deref(),
        limit: keyset::limit(query.limit)?,
    };
    select(conn, org, selection).await
}

/// Which of an org's runs to list.
#[derive(Debug, Clone, Default)]
pub struct Selection<'a> {
    /// Runs in any of these states (all when empty).
    pub states: Vec<String>,
    pub deployment: Option<Id>,
    /// Where the previous page ended.
    pub cursor: Option<&'a str>,
    pub limit: i64,
}

/// A page of an org's runs, newest first.
///
/// # Errors
///
/// [`Error::BadRequest`] for a bad cursor or a limit outside 1..=100.
pub async fn select(conn: &mut Conn<'_>, org: Id, selection: Selection<'_>) -> Result<Page<RunView>, Error> {
    let limit = keyset::limit(Some(selection.limit))?;
    let filter = RunFilter {
        states: selection.states,
        deployment: selection.deployment,
        before: selection.cursor.map(keyset::decode).transpose()?,
        limit: limit + 1,
    };
    let runs = db::runs::of_org(conn, org, &filter).await?;
    keyset::page(runs, limit, |run| (run.created_at, run.id), RunView::of)
}

/// Cancels a run: a queued one at once; a running one is told at its data plane's next heartbeat or event
/// post, and ends `cancelled` when the data plane reports it stopped.
///
/// # Errors
///
/// [`Error::Conflict`] for a run that has finished.
pub async fn cancel(conn: &mut Conn<'_>, actor: Actor, id: Id) -> Result<RunView, Error> {
    db::transaction(conn, async |tx| cancel_within(tx, &actor, id).await).await
}

/// [`cancel`], inside the caller's transaction.
async fn cancel_within(tx: &mut Conn<'_>, actor: &Actor, id: Id) -> Result<RunView, Error> {
    {
        let mut run = db::runs::find(tx, id).await?;
        if run.is_finished() {
            return Err(Error::Conflict(format!(
                "the run has finished: it is {}",
                run.state
            )));
        }
        match db::tasks::of_run(tx, id).await? {
            Some(mut task) if task.leased_by.is_some() => {
                task.cancel_requested = true;
                db::tasks::update(tx, &task).await?;
            }
            unleased => {
                if let Some(task) = unleased {
                    db::tasks::delete(tx, task.id).await?;
                }
                run.state = "cancelled".to_owned();
                run.finished_at = Some(Time::now());
                db::runs::update(tx, &run).await?;
                crate::bus::publish(tx, &[crate::bus::run(&run)]).await?;
            }
        }
        record(tx, actor, &run, "run.cancel").await?;
        RunView::of(&run)
    }
}

/// Cancels a deployment's queued runs (when it is uninstalled), inside the caller's transaction; running
/// ones are told to stop.
///
/// # Errors
///
/// Database errors.
pub async fn cancel_all(tx: &mut Conn<'_>, actor: &Actor, deployment: Id) -> Result<(), Error> {
    for run in db::runs::unfinished_of_deployment(tx, deployment).await? {
        cancel_within(tx, actor, run.id).await?;
    }
    Ok(())
}

/// The usage a data plane reported, as stored.
pub(crate) fn usage_json(usage: &protocol::Usage) -> String {
    serde_json::to_string(usage).unwrap_or_default()
}
