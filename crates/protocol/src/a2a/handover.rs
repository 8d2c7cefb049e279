//! The hand-over message between the agents of a workflow.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One agent handing work to another, e.g. the billing normalizer passing normalized records to the
/// anomaly detector. The payload travels by reference, not inline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct A2aMessage {
    /// The task on the receiving side (opaque, as in A2A).
    pub task_id: String,
    /// Sender, as `Name:vVersion` (`BillingNormalizer:v1.0`).
    pub from: String,
    /// Receiver, as `Name:vVersion`.
    pub to: String,
    /// Where the payload lies (`gs://…`, `s3://…`, `file://…`, or a run output reference).
    pub payload_ref: String,
    pub status: A2aStatus,
    /// Free-form facts about the hand-over (`run_start`, `run_end`, …).
    #[serde(default)]
    pub meta: Map<String, Value>,
}

/// The A2A task states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum A2aStatus {
    Submitted,
    Working,
    InputRequired,
    AuthRequired,
    Completed,
    Canceled,
    Failed,
    Rejected,
    #[serde(other)]
    Unknown,
}
