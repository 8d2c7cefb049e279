//! Run and step events a data plane posts while it works.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::task::Checkpoint;

/// A batch of events for one task, posted together.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventBatch {
    pub events: Vec<RunEvent>,
}

/// One event of a task.
///
/// `seq` counts from 1 per task and has no gaps; the control plane stores each `seq` once, so a batch
/// posted twice changes nothing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunEvent {
    pub seq: u64,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened. `node` is the workflow node's id, or absent for the run as a whole.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    Started {
        node: Option<String>,
        attempt: u32,
    },
    Finished {
        node: Option<String>,
        attempt: u32,
        status: StepStatus,
        duration_ms: u64,
        message: Option<String>,
        /// Named counts the step produced (`records: 15000`), summed into the run's usage.
        #[serde(default)]
        counters: BTreeMap<String, u64>,
    },
    Log {
        node: Option<String>,
        level: LogLevel,
        message: String,
    },
    Metric {
        node: Option<String>,
        name: String,
        value: f64,
        unit: Option<String>,
    },
    Checkpoint {
        checkpoint: Checkpoint,
    },
    /// An event type this build does not know, sent by a newer peer.
    #[serde(other)]
    Unknown,
}

/// How a step (or the run) ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Succeeded,
    Failed,
    Skipped,
    Suspended,
    Cancelled,
    #[serde(other)]
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    #[serde(other)]
    Unknown,
}
