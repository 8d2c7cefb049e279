//! Step events to the control plane in batches: every `every` or `max` events, whichever comes first,
//! numbered from 1 per task with no gaps. A batch that cannot be posted is posted again (the control
//! plane stores each number once), so nothing is lost while the control plane is away.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Utc;
use protocol::{Checkpoint, EventBatch, EventKind, LogLevel, RunEvent, TaskId};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Metrics;
use crate::client::{Backoff, ClientError, ControlPlane};
use crate::executor::EventSink;

enum Message {
    Event(EventKind),
    Close,
}

/// The executor's side: events go into a channel, never blocking a node.
pub struct BatchSink {
    sender: mpsc::UnboundedSender<Message>,
}

impl EventSink for BatchSink {
    fn emit(&self, event: EventKind) {
        // After `Close` nobody reads; an event of a node aborted on cancellation may land here.
        let _ = self.sender.send(Message::Event(event));
    }

    fn checkpoint(&self, checkpoint: &Checkpoint) {
        let _ = self.sender.send(Message::Event(EventKind::Checkpoint {
            checkpoint: checkpoint.clone(),
        }));
    }
}

/// How the batcher ended.
#[derive(Clone, Copy, Debug, Default)]
pub struct Posted {
    /// The sequence number of the last checkpoint event.
    pub last_checkpoint: u64,
    /// Whether every event reached the control plane.
    pub delivered: bool,
}

pub struct Batcher {
    sender: mpsc::UnboundedSender<Message>,
    handle: JoinHandle<Posted>,
}

/// Settings of one task's batcher.
pub struct BatchSettings {
    pub every: Duration,
    pub max: usize,
    /// Cancelled when the control plane says the run was cancelled, or no longer knows the task.
    pub stop: CancellationToken,
    /// Set when the control plane asked to stop.
    pub cancelled_by_control_plane: Arc<AtomicBool>,
    /// Give up re-posting after this (the lease is long gone by then).
    pub give_up_after: Duration,
}

impl Batcher {
    pub fn start(
        client: Arc<ControlPlane>,
        task: TaskId,
        settings: BatchSettings,
        metrics: Arc<Metrics>,
    ) -> (Self, Arc<BatchSink>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let handle = tokio::spawn(run(client, task, settings, metrics, receiver));
        let sink = Arc::new(BatchSink {
            sender: sender.clone(),
        });
        (Self { sender, handle }, sink)
    }

    /// Posts what is left and ends.
    pub async fn finish(self) -> Posted {
        let _ = self.sender.send(Message::Close);
        self.handle.await.unwrap_or_default()
    }
}

async fn run(
    client: Arc<ControlPlane>,
    task: TaskId,
    settings: BatchSettings,
    metrics: Arc<Metrics>,
    mut receiver: mpsc::UnboundedReceiver<Message>,
) -> Posted {
    let mut seq = 0_u64;
    let mut pending: Vec<RunEvent> = Vec::new();
    let mut posted = Posted {
        last_checkpoint: 0,
        delivered: true,
    };
    let mut closing = false;
    while !closing {
        // Wait for a first event, then gather more until the batch is full or `every` has passed.
        if pending.is_empty() {
            match receiver.recv().await {
                Some(Message::Event(kind)) => push(&mut pending, &mut seq, &mut posted, kind),
                Some(Message::Close) | None => closing = true,
            }
        }
        let deadline = tokio::time::Instant::now() + settings.every;
        while !closing && pending.len() < settings.max {
            match tokio::time::timeout_at(deadline, receiver.recv()).await {
                Ok(Some(Message::Event(kind))) => push(&mut pending, &mut seq, &mut posted, kind),
                Ok(Some(Message::Close) | None) => closing = true,
                Err(_) => break,
            }
        }
        while !pending.is_empty() {
            let mut take = pending.len().min(settings.max);
            loop {
                let batch = EventBatch {
                    events: pending[..take].to_vec(),
                };
                match deliver(&client, task, &batch, &settings, &metrics).await {
                    Delivery::Stored => {
                        pending.drain(..take);
                        break;
                    }
                    Delivery::TooLarge if take > 1 => take /= 2,
                    Delivery::TooLarge => {
                        if let Some(event) = pending.first_mut() {
                            shrink(event);
                        }
                    }
                    Delivery::Lost => {
                        posted.delivered = false;
                        pending.clear();
                        settings.stop.cancel();
                        break;
                    }
                }
            }
            if !closing && pending.len() < settings.max {
                break;
            }
        }
    }
    posted
}

fn push(pending: &mut Vec<RunEvent>, seq: &mut u64, posted: &mut Posted, mut kind: EventKind) {
    *seq += 1;
    if let EventKind::Checkpoint { checkpoint } = &mut kind {
        checkpoint.seq = *seq;
        posted.last_checkpoint = *seq;
    }
    pending.push(RunEvent {
        seq: *seq,
        at: Utc::now(),
        kind,
    });
}

/// An event too large for the control plane (a checkpoint holding a big output) becomes a warning in its
/// place, so the numbering keeps no gap and the run goes on; a later checkpoint may fit again.
fn shrink(event: &mut RunEvent) {
    let size = serde_json::to_vec(&event.kind).map_or(0, |bytes| bytes.len());
    let (node, what) = match &event.kind {
        EventKind::Checkpoint { .. } => (None, "checkpoint"),
        EventKind::Log { node, .. } => (node.clone(), "log"),
        EventKind::Finished { node, .. } => (node.clone(), "finished"),
        EventKind::Started { node, .. } | EventKind::Metric { node, .. } => (node.clone(), "step"),
        EventKind::Unknown => (None, "unknown"),
    };
    event.kind = EventKind::Log {
        node,
        level: LogLevel::Warn,
        message: format!(
            "a {what} event of {size} bytes is over the control plane's size limit and was not stored"
        ),
    };
}

enum Delivery {
    Stored,
    TooLarge,
    Lost,
}

/// Posts one batch until it is stored, or the control plane refuses it or it could not be delivered in
/// time.
async fn deliver(
    client: &ControlPlane,
    task: TaskId,
    batch: &EventBatch,
    settings: &BatchSettings,
    metrics: &Metrics,
) -> Delivery {
    let mut backoff = Backoff::new(Duration::from_secs(5));
    let started = tokio::time::Instant::now();
    loop {
        match client.events(task, batch).await {
            Ok(ack) => {
                metrics.events_posted.inc_by(batch.events.len() as u64);
                if ack.cancel {
                    settings.cancelled_by_control_plane.store(true, Ordering::SeqCst);
                    settings.stop.cancel();
                }
                return Delivery::Stored;
            }
            Err(ClientError::Refused { status: 413, .. }) => return Delivery::TooLarge,
            Err(error) if error.is_transient() && started.elapsed() < settings.give_up_after => {
                metrics.control_plane_errors.inc();
                tracing::warn!(%task, %error, "posting events failed; trying again");
                tokio::time::sleep(backoff.next_wait()).await;
            }
            Err(error) => {
                metrics.control_plane_errors.inc();
                tracing::warn!(%task, %error, "events could not be posted; the task is dropped");
                return Delivery::Lost;
            }
        }
    }
}
