//! The poller: registers with the control plane, runs N task slots that long-poll for work, heartbeats
//! the leases it holds, and reports each task's end. It only ever calls out.
//!
//! When the control plane is unreachable every call is retried with exponential backoff and jitter; work
//! in hand goes on (events wait in memory and are posted when it is back). On shutdown the slots start no
//! new long poll (one in flight ends within `wait`), running tasks get `shutdown_grace` to finish, and the
//! rest are cancelled and handed back as retryable failures, once no poll of this instance is in flight,
//! so another data plane resumes them from their last checkpoint.

mod batch;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use protocol::{Completion, Failure, Heartbeat, Registration, RegistrationAck, TaskEnvelope, TaskId};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use self::batch::{BatchSettings, Batcher};
use crate::client::{Backoff, ClientError, ControlPlane, Suspension, SuspensionApproval};
use crate::executor::{Executor, Plan, RunOutcome, RunRequest};
use crate::nodes::{NodeRegistry, RunContext};

/// How the poller behaves.
#[derive(Clone, Debug)]
pub struct PollerConfig {
    /// Stable for the life of the process (the pod name).
    pub instance_id: String,
    /// Tasks run at once.
    pub slots: u32,
    /// How long one claim waits for work.
    pub wait: Duration,
    /// Events are posted at least this often…
    pub batch_every: Duration,
    /// …or as soon as this many are waiting.
    pub batch_max: usize,
    /// Nodes of one run running at once.
    pub node_concurrency: usize,
    /// On shutdown, how long running tasks may go on before they are handed back.
    pub shutdown_grace: Duration,
    /// Longest wait between tries when the control plane is unreachable.
    pub backoff_max: Duration,
    /// Capabilities to advertise (node kinds and tools).
    pub capabilities: Vec<String>,
}

impl PollerConfig {
    #[must_use]
    pub fn new(instance_id: String) -> Self {
        Self {
            instance_id,
            slots: 4,
            wait: Duration::from_secs(25),
            batch_every: Duration::from_millis(200),
            batch_max: 100,
            node_concurrency: 8,
            shutdown_grace: Duration::from_secs(30),
            backoff_max: Duration::from_secs(30),
            capabilities: Vec::new(),
        }
    }
}

pub use crate::metrics::Metrics;

/// A task this instance holds.
struct Held {
    stop: CancellationToken,
    cancelled_by_control_plane: Arc<AtomicBool>,
}

/// Runs tasks for one control plane until shut down.
pub struct Poller {
    client: Arc<ControlPlane>,
    registry: Arc<NodeRegistry>,
    config: PollerConfig,
    metrics: Arc<Metrics>,
    held: Mutex<HashMap<TaskId, Held>>,
    plans: Mutex<HashMap<String, Arc<Plan>>>,
    shutting_down: AtomicBool,
    /// Slots waiting in a long poll now.
    polling: AtomicUsize,
    poll_ended: Notify,
}

impl std::fmt::Debug for Poller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Poller {
    #[must_use]
    pub fn new(
        client: Arc<ControlPlane>,
        registry: Arc<NodeRegistry>,
        config: PollerConfig,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        Arc::new(Self {
            client,
            registry,
            config,
            metrics,
            held: Mutex::new(HashMap::new()),
            plans: Mutex::new(HashMap::new()),
            shutting_down: AtomicBool::new(false),
            polling: AtomicUsize::new(0),
            poll_ended: Notify::new(),
        })
    }

    /// Registers, then claims and runs tasks until `shutdown` is cancelled and the running tasks have
    /// finished or been handed back.
    ///
    /// # Errors
    ///
    /// The control plane refused the registration (a wrong credential, an uninstalled deployment).
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) -> Result<(), ClientError> {
        let Some(ack) = self.register(&shutdown).await? else {
            return Ok(());
        };
        let heartbeats_end = CancellationToken::new();
        let heartbeats = tokio::spawn(Arc::clone(&self).heartbeats(ack, heartbeats_end.clone()));
        let mut slots = JoinSet::new();
        for _ in 0..self.config.slots.max(1) {
            slots.spawn(Arc::clone(&self).slot(shutdown.clone()));
        }
        let grace = {
            let poller = Arc::clone(&self);
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                shutdown.cancelled().await;
                poller.shutting_down.store(true, Ordering::SeqCst);
                tracing::info!(grace = ?poller.config.shutdown_grace, "shutting down: no more claims");
                tokio::time::sleep(poller.config.shutdown_grace).await;
                let held = poller.held.lock().unwrap_or_else(PoisonError::into_inner);
                for task in held.values() {
                    task.stop.cancel();
                }
            })
        };
        while slots.join_next().await.is_some() {}
        grace.abort();
        heartbeats_end.cancel();
        let _ = heartbeats.await;
        Ok(())
    }

    async fn register(&self, shutdown: &CancellationToken) -> Result<Option<RegistrationAck>, ClientError> {
        let registration = Registration {
            instance_id: self.config.instance_id.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            capabilities: self.config.capabilities.clone(),
            concurrency: self.config.slots.max(1),
        };
        let mut backoff = Backoff::new(self.config.backoff_max);
        loop {
            match self.client.register(&registration).await {
                Ok(ack) => {
                    self.metrics.registered.store(true, Ordering::Relaxed);
                    tracing::info!(deployment = %ack.deployment_id, instance = %self.config.instance_id, "registered");
                    return Ok(Some(ack));
                }
                Err(error) if error.is_transient() => {
                    self.metrics.control_plane_errors.inc();
                    let wait = backoff.next_wait();
                    tracing::warn!(%error, ?wait, "cannot register yet");
                    tokio::select! {
                        () = shutdown.cancelled() => return Ok(None),
                        () = tokio::time::sleep(wait) => {}
                    }
                }
                Err(error) => return Err(error),
            }
        }
    }

    async fn heartbeats(self: Arc<Self>, ack: RegistrationAck, end: CancellationToken) {
        let every = Duration::from_millis(ack.heartbeat_interval_ms.clamp(100, 60_000));
        loop {
            tokio::select! {
                () = end.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
            let tasks: Vec<TaskId> = self
                .held
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .keys()
                .copied()
                .collect();
            let heartbeat = Heartbeat {
                instance_id: self.config.instance_id.clone(),
                tasks,
            };
            match self.client.heartbeat(&heartbeat).await {
                Ok(ack) => {
                    let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
                    for task in &ack.cancelled {
                        if let Some(task) = held.get(task) {
                            task.cancelled_by_control_plane.store(true, Ordering::SeqCst);
                            task.stop.cancel();
                        }
                    }
                }
                Err(error) => {
                    self.metrics.control_plane_errors.inc();
                    tracing::warn!(%error, "heartbeat failed");
                }
            }
        }
    }

    async fn slot(self: Arc<Self>, shutdown: CancellationToken) {
        let mut backoff = Backoff::new(self.config.backoff_max);
        while !shutdown.is_cancelled() {
            // A long poll is not abandoned on shutdown: the control plane would go on waiting for it and
            // could hand it a task nobody runs until the lease runs out. It ends within `wait`, and what
            // it brings is run like any other task.
            self.polling.fetch_add(1, Ordering::SeqCst);
            let claimed = self
                .client
                .next(&self.config.instance_id, self.config.wait, 1)
                .await;
            self.polling.fetch_sub(1, Ordering::SeqCst);
            self.poll_ended.notify_waiters();
            match claimed {
                Ok(tasks) => {
                    backoff.reset();
                    for task in tasks {
                        self.run_task(task).await;
                    }
                }
                Err(error) => {
                    self.metrics.control_plane_errors.inc();
                    let wait = backoff.next_wait();
                    tracing::warn!(%error, ?wait, "claiming failed");
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(wait) => {}
                    }
                }
            }
        }
    }

    fn plan(&self, envelope: &TaskEnvelope) -> Result<Arc<Plan>, String> {
        let digest = &envelope.agent.manifest_digest;
        if let Some(plan) = self
            .plans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(digest)
        {
            return Ok(Arc::clone(plan));
        }
        let plan = Arc::new(
            Plan::from_json(&envelope.workflow, &self.registry)
                .map_err(|error| format!("the workflow cannot run on this data plane: {error}"))?,
        );
        self.plans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(digest.clone(), Arc::clone(&plan));
        Ok(plan)
    }

    /// Runs one task to its end and reports it, in a span of the run's trace.
    pub async fn run_task(&self, envelope: TaskEnvelope) {
        let span = crate::telemetry::task_span(&envelope);
        self.run_traced_task(envelope).instrument(span).await;
    }

    async fn run_traced_task(&self, envelope: TaskEnvelope) {
        let task = envelope.task_id;
        self.metrics.tasks_claimed.inc();
        self.metrics.tasks_running.inc();
        tracing::info!(%task, run = %envelope.run_id, attempt = envelope.attempt, "task claimed");
        let stop = CancellationToken::new();
        let by_control_plane = Arc::new(AtomicBool::new(false));
        self.held.lock().unwrap_or_else(PoisonError::into_inner).insert(
            task,
            Held {
                stop: stop.clone(),
                cancelled_by_control_plane: Arc::clone(&by_control_plane),
            },
        );
        let report = match self.plan(&envelope) {
            Err(reason) => Report::Fail(Failure {
                reason,
                node: None,
                retryable: false,
                usage: protocol::Usage::default(),
            }),
            Ok(plan) => {
                let (batcher, sink) = Batcher::start(
                    Arc::clone(&self.client),
                    task,
                    BatchSettings {
                        every: self.config.batch_every,
                        max: self.config.batch_max,
                        stop: stop.clone(),
                        cancelled_by_control_plane: Arc::clone(&by_control_plane),
                        give_up_after: Duration::from_secs(600),
                    },
                    Arc::clone(&self.metrics),
                );
                let request = RunRequest {
                    plan,
                    inputs: envelope.inputs,
                    checkpoint: envelope.checkpoint,
                    run: RunContext {
                        run_id: Some(envelope.run_id),
                        org_id: Some(envelope.org_id),
                        deployment_id: Some(envelope.deployment_id),
                        granted_permissions: envelope.granted_permissions,
                        approved_node: None,
                        agent: Some(envelope.agent.id.clone()),
                        memory: envelope.memory,
                    },
                    cancel: stop.clone(),
                };
                let outcome = Executor::new(self.config.node_concurrency)
                    .run(request, sink)
                    .await;
                let posted = batcher.finish().await;
                if posted.delivered {
                    self.report_of(
                        outcome,
                        posted.last_checkpoint,
                        by_control_plane.load(Ordering::SeqCst),
                    )
                } else {
                    Report::Dropped
                }
            }
        };
        self.deliver(task, report).await;
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&task);
        self.metrics.tasks_running.dec();
    }

    fn report_of(&self, outcome: RunOutcome, last_checkpoint: u64, by_control_plane: bool) -> Report {
        match outcome {
            RunOutcome::Succeeded { outputs, usage } => Report::Complete(Completion { outputs, usage }),
            RunOutcome::Failed {
                node,
                reason,
                retryable,
                usage,
            } => Report::Fail(Failure {
                reason,
                node,
                retryable,
                usage,
            }),
            RunOutcome::Suspended {
                node,
                approval,
                mut checkpoint,
                usage,
            } => {
                checkpoint.seq = last_checkpoint;
                Report::Suspend(
                    Suspension {
                        checkpoint,
                        approval: SuspensionApproval {
                            node,
                            action: approval.action,
                            impact: approval.impact,
                            reason: approval.reason,
                        },
                    },
                    usage,
                )
            }
            RunOutcome::Cancelled { usage }
                if by_control_plane || !self.shutting_down.load(Ordering::SeqCst) =>
            {
                Report::Fail(Failure {
                    reason: "the run was cancelled".to_owned(),
                    node: None,
                    retryable: false,
                    usage,
                })
            }
            RunOutcome::Cancelled { usage } => Report::HandBack(Failure {
                reason:
                    "the data plane shut down before the run finished; it resumes from its last checkpoint"
                        .to_owned(),
                node: None,
                retryable: true,
                usage,
            }),
        }
    }

    /// Reports a task's end, trying again while the control plane is unreachable.
    async fn deliver(&self, task: TaskId, report: Report) {
        if matches!(report, Report::HandBack(_)) {
            // Handed back while a slot of this instance still long-polls, the task could come straight
            // back to it, after it stopped running tasks; no new polls start once shutting down.
            while self.polling.load(Ordering::SeqCst) > 0 {
                let _ = tokio::time::timeout(Duration::from_millis(100), self.poll_ended.notified()).await;
            }
        }
        let mut backoff = Backoff::new(self.config.backoff_max);
        let started = tokio::time::Instant::now();
        loop {
            let result = match &report {
                Report::Complete(completion) => self.client.complete(task, completion).await,
                Report::Fail(failure) | Report::HandBack(failure) => self.client.fail(task, failure).await,
                Report::Suspend(suspension, usage) => match self.client.suspend(task, suspension).await {
                    Err(ClientError::Refused {
                        status: 404 | 405, ..
                    }) => {
                        let failure = Failure {
                            reason: format!(
                                "node `{}` needs a human's approval ({}), but this control plane cannot suspend runs",
                                suspension.approval.node, suspension.approval.reason
                            ),
                            node: Some(suspension.approval.node.clone()),
                            retryable: false,
                            usage: usage.clone(),
                        };
                        self.client.fail(task, &failure).await
                    }
                    other => other,
                },
                Report::Dropped => return,
            };
            match result {
                Ok(_) => {
                    let counter = match report {
                        Report::Complete(_) => &self.metrics.tasks_succeeded,
                        Report::Fail(_) => &self.metrics.tasks_failed,
                        Report::Suspend(..) => &self.metrics.tasks_suspended,
                        Report::HandBack(_) => &self.metrics.tasks_handed_back,
                        Report::Dropped => return,
                    };
                    counter.inc();
                    tracing::info!(%task, "task reported");
                    return;
                }
                Err(error) if error.is_transient() && started.elapsed() < Duration::from_secs(600) => {
                    self.metrics.control_plane_errors.inc();
                    let wait = backoff.next_wait();
                    tracing::warn!(%task, %error, ?wait, "reporting the task's end failed; trying again");
                    tokio::time::sleep(wait).await;
                }
                Err(error) => {
                    self.metrics.control_plane_errors.inc();
                    tracing::warn!(%task, %error, "the task's end could not be reported; its lease will run out");
                    return;
                }
            }
        }
    }
}

enum Report {
    Complete(Completion),
    Fail(Failure),
    Suspend(Suspension, protocol::Usage),
    HandBack(Failure),
    /// Its events were refused (the task is no longer ours): nothing to report.
    Dropped,
}
