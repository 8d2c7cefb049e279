#![doc = include_str!("../README.md")]

pub mod a2a;
pub mod approval;
pub mod dataplane;
pub mod event;
pub mod ids;
pub mod money;
pub mod page;
pub mod problem;
pub mod report;
pub mod task;
#[cfg(feature = "telemetry")]
pub mod telemetry;
pub mod trace;

pub use a2a::{A2aMessage, A2aStatus};
pub use approval::{ApprovalRequest, Suspension};
pub use dataplane::{Heartbeat, HeartbeatAck, LeaseExtension, Registration, RegistrationAck};
pub use event::{EventBatch, EventKind, LogLevel, RunEvent, StepStatus};
pub use ids::{AgentVersionId, ApprovalId, DeploymentId, OrgId, RunId, TaskId, UserId};
pub use money::{Money, MoneyError};
pub use page::Page;
pub use problem::{FieldError, PROBLEM_JSON, Problem};
pub use report::{Completion, Failure, TokenUsage, Usage};
pub use task::{AgentMemory, AgentRef, Checkpoint, Lease, NodeOutput, RunStatus, TaskEnvelope};
pub use trace::TraceContext;
