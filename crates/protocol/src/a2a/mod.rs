//! Agent-to-agent: the hand-over message between agents of a workflow, and the A2A protocol 1.0 wire
//! types (JSON-RPC binding) every deployment speaks at `/a2a/{deployment}`.
//!
//! The A2A types follow the protocol's JSON form (the protobuf JSON mapping of `a2a.proto` 1.0): field
//! names in camelCase, enums as `TASK_STATE_…` / `ROLE_…`, one-ofs as single-key objects (`{"text": …}`,
//! `{"task": …}`). Version 0.3 spellings of states and roles (`completed`, `user`) are read too.

mod card;
mod handover;
mod rpc;
mod task;

pub use card::{
    AgentCapabilities, AgentCard, AgentInterface, AgentProvider, AgentSkill, ApiKeySecurityScheme,
    HttpAuthSecurityScheme, SecurityRequirement, SecurityScheme, StringList,
};
pub use handover::{A2aMessage, A2aStatus};
pub use rpc::{
    CancelTaskRequest, ErrorCode, GetTaskRequest, JsonRpcError, JsonRpcResponse, ListTasksRequest,
    ListTasksResponse, Method, SendMessageConfiguration, SendMessageRequest, SendMessageResponse,
    StreamResponse, SubscribeToTaskRequest,
};
pub use task::{
    Artifact, Message, Part, PartContent, Role, Task, TaskArtifactUpdateEvent, TaskState, TaskStatus,
    TaskStatusUpdateEvent,
};

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: &str = "1.0";
/// The earlier version whose method names are accepted too.
pub const LEGACY_PROTOCOL_VERSION: &str = "0.3";
/// The header a client names its protocol version in.
pub const VERSION_HEADER: &str = "A2A-Version";
/// Where an agent's card is served, relative to its base URL.
pub const AGENT_CARD_PATH: &str = ".well-known/agent-card.json";
/// The transport binding this crate describes.
pub const JSONRPC_BINDING: &str = "JSONRPC";
