//! Data-plane registration and heartbeats.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{DeploymentId, TaskId};

/// Sent by a data plane when it starts: who it is and what it can run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Registration {
    /// Stable for the life of the process (e.g. the pod name).
    pub instance_id: String,
    /// The `dp-runtime` version.
    pub version: String,
    /// Node kinds and tools (`tool:<name>`) this instance can run: it is handed only runs whose workflow
    /// needs nothing else. Empty: anything.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Task slots.
    pub concurrency: u32,
}

/// The capability that says a data plane has `tool` (`tool:<name>`), beside the node kinds it runs.
#[must_use]
pub fn tool_capability(tool: &str) -> String {
    format!("tool:{tool}")
}

/// The control plane's answer to a registration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegistrationAck {
    pub deployment_id: DeploymentId,
    pub heartbeat_interval_ms: u64,
    pub lease_ms: u64,
}

/// Sent every `heartbeat_interval_ms`: the tasks this instance holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Heartbeat {
    pub instance_id: String,
    #[serde(default)]
    pub tasks: Vec<TaskId>,
}

/// The leases extended, and the tasks to stop because their runs were cancelled.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeartbeatAck {
    #[serde(default)]
    pub leases: Vec<LeaseExtension>,
    #[serde(default)]
    pub cancelled: Vec<TaskId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LeaseExtension {
    pub task_id: TaskId,
    pub expires_at: DateTime<Utc>,
}
