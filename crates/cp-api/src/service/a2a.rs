//! Every deployment as an A2A agent: its card from the manifest, its runs as tasks, a message's parts as
//! a run's inputs.

use std::collections::BTreeMap;

use protocol::a2a::{
    AgentCapabilities, AgentCard, AgentInterface, AgentProvider, AgentSkill, Artifact,
    HttpAuthSecurityScheme, JSONRPC_BINDING, Message, PROTOCOL_VERSION, Part, PartContent, Role,
    SecurityRequirement, SecurityScheme, StringList, Task, TaskState, TaskStatus,
};
use serde_json::{Map, Value, json};

use crate::db::{self, Conn, Id};
use crate::error::Error;
use crate::service::catalog::stored_manifest;
use crate::service::runs::RunView;

/// The name of the one artifact a task has: the run's outputs.
pub const OUTPUTS_ARTIFACT: &str = "outputs";

/// The card of a deployment, whose JSON-RPC endpoint is `endpoint`.
///
/// # Errors
///
/// [`Error::NotFound`] when there is no such deployment.
pub async fn card(conn: &mut Conn<'_>, deployment: Id, endpoint: &str) -> Result<AgentCard, Error> {
    let deployment = db::deployments::find(conn, deployment).await?;
    let agent = db::agents::find(conn, deployment.agent).await?;
    let version = db::agent_versions::find(conn, agent.id, &deployment.version)
        .await?
        .ok_or_else(|| Error::Internal(format!("deployment {} runs a missing version", deployment.id.0)))?;
    let manifest = stored_manifest(&version)?;
    let publisher = db::orgs::find(conn, agent.owner_org_id).await?;
    let bearer = "bearer".to_owned();
    Ok(AgentCard {
        name: manifest.name,
        description: manifest.description,
        supported_interfaces: vec![AgentInterface {
            url: endpoint.to_owned(),
            protocol_binding: JSONRPC_BINDING.to_owned(),
            protocol_version: PROTOCOL_VERSION.to_owned(),
        }],
        provider: Some(AgentProvider {
            organization: publisher.name,
            url: endpoint.to_owned(),
        }),
        version: manifest.version.to_string(),
        documentation_url: None,
        capabilities: AgentCapabilities {
            streaming: true,
            push_notifications: false,
            extended_agent_card: false,
        },
        security_schemes: BTreeMap::from([(
            bearer.clone(),
            SecurityScheme::HttpAuthSecurityScheme(HttpAuthSecurityScheme {
                description: Some(
                    "An API key of the marketplace (`amk_…`) or an access token from /api/v1/auth/login"
                        .to_owned(),
                ),
                scheme: "Bearer".to_owned(),
                bearer_format: None,
            }),
        )]),
        security_requirements: vec![SecurityRequirement {
            schemes: BTreeMap::from([(bearer, StringList::default())]),
        }],
        default_input_modes: vec!["application/json".to_owned(), "text/plain".to_owned()],
        default_output_modes: vec!["application/json".to_owned()],
        skills: manifest
            .skills
            .into_iter()
            .map(|skill| AgentSkill {
                id: skill.id,
                name: skill.name,
                description: skill.description,
                tags: skill.tags,
                examples: skill.examples,
            })
            .collect(),
    })
}

/// The task state of a run state.
#[must_use]
pub fn task_state(run_state: &str) -> TaskState {
    match run_state {
        "queued" => TaskState::Submitted,
        "running" => TaskState::Working,
        "awaiting_approval" => TaskState::InputRequired,
        "succeeded" | "remediated" => TaskState::Completed,
        "failed" => TaskState::Failed,
        "cancelled" => TaskState::Canceled,
        _ => TaskState::Unspecified,
    }
}

/// The run states a task state covers.
#[must_use]
pub fn run_states(state: TaskState) -> &'static [&'static str] {
    match state {
        TaskState::Submitted => &["queued"],
        TaskState::Working => &["running"],
        TaskState::InputRequired => &["awaiting_approval"],
        TaskState::Completed => &["succeeded", "remediated"],
        TaskState::Failed => &["failed"],
        TaskState::Canceled => &["cancelled"],
        TaskState::Unspecified | TaskState::Rejected | TaskState::AuthRequired => &[],
    }
}

/// A message from the agent.
#[must_use]
pub fn agent_message(id: String, task: &str, text: String) -> Message {
    Message {
        message_id: id,
        context_id: Some(task.to_owned()),
        task_id: Some(task.to_owned()),
        role: Role::Agent,
        parts: vec![Part::text(text)],
        metadata: None,
        reference_task_ids: Vec::new(),
    }
}

/// The run's status as a task status: its state, why (a failure's reason, an approval awaited), and
/// when it last changed.
#[must_use]
pub fn status(run: &RunView) -> TaskStatus {
    let id = run.id.to_string();
    let why = match (run.state.as_str(), &run.failure_reason) {
        (_, Some(reason)) => Some(reason.clone()),
        ("awaiting_approval", None) => Some("waiting for a human approval".to_owned()),
        _ => None,
    };
    TaskStatus {
        state: task_state(&run.state),
        message: why.map(|text| agent_message(format!("{id}-status"), &id, text)),
        timestamp: Some(run.finished_at.or(run.started_at).unwrap_or(run.created_at)),
    }
}

/// The run's outputs as the task's artifact.
#[must_use]
pub fn outputs_artifact(run: &RunView) -> Option<Artifact> {
    run.outputs.as_ref().map(|outputs| Artifact {
        artifact_id: OUTPUTS_ARTIFACT.to_owned(),
        name: Some(OUTPUTS_ARTIFACT.to_owned()),
        description: Some("The run's outputs".to_owned()),
        parts: vec![Part::data(outputs.clone())],
        metadata: None,
    })
}

/// The run as a task. The history is the message that started it (its inputs), unless `history_length`
/// is 0; the context is the task itself.
#[must_use]
pub fn task(run: &RunView, history_length: Option<i32>) -> Task {
    let id = run.id.to_string();
    let history = if history_length == Some(0) {
        Vec::new()
    } else {
        vec![Message {
            message_id: format!("{id}-inputs"),
            context_id: Some(id.clone()),
            task_id: Some(id.clone()),
            role: Role::User,
            parts: vec![Part::data(run.inputs.clone())],
            metadata: None,
            reference_task_ids: Vec::new(),
        }]
    };
    let mut metadata = Map::new();
    metadata.insert("deploymentId".to_owned(), json!(run.deployment_id));
    metadata.insert("runState".to_owned(), json!(run.state));
    metadata.insert("attempts".to_owned(), json!(run.attempts));
    if let Some(usage) = &run.usage {
        metadata.insert("usage".to_owned(), usage.clone());
    }
    Task {
        id: id.clone(),
        context_id: id,
        status: status(run),
        artifacts: outputs_artifact(run).into_iter().collect(),
        history,
        metadata: Some(metadata),
    }
}

/// The metadata key a caller names the run it calls from with (a UUID): the new run becomes that run's child.
pub const PARENT_RUN: &str = "parentRunId";

/// The run a message says it is sent from (its `parentRunId` metadata), which must be a run of `org`.
///
/// # Errors
///
/// [`Error::BadRequest`] when the metadata is not a UUID or names no run of the org.
pub async fn parent_run(conn: &mut Conn<'_>, org: Id, message: &Message) -> Result<Option<Id>, Error> {
    let Some(value) = message
        .metadata
        .as_ref()
        .and_then(|metadata| metadata.get(PARENT_RUN))
    else {
        return Ok(None);
    };
    let id = value
        .as_str()
        .and_then(|text| uuid::Uuid::parse_str(text).ok())
        .ok_or_else(|| {
            Error::BadRequest(format!("metadata.{PARENT_RUN}: {value} is not a run id (a UUID)"))
        })?;
    match db::runs::find(conn, Id(id)).await {
        Ok(run) if run.org_id == org => Ok(Some(run.id)),
        Ok(_) | Err(diesel::result::Error::NotFound) => Err(Error::BadRequest(format!(
            "metadata.{PARENT_RUN}: the org has no run {id}"
        ))),
        Err(other) => Err(other.into()),
    }
}

/// A run's inputs from a message: its `data` parts (objects) merged in order; without any, its text
/// parts joined by newlines — the inputs themselves when that text is a JSON object, else
/// `{"text": …}`.
///
/// # Errors
///
/// [`Error::Validation`] for a data part that is not an object, or a file part (raw bytes or a URL).
pub fn inputs(message: &Message) -> Result<Value, Error> {
    let mut data = Map::new();
    let mut saw_data = false;
    let mut texts = Vec::new();
    let mut errors = Vec::new();
    for (index, part) in message.parts.iter().enumerate() {
        match &part.content {
            PartContent::Data(Value::Object(fields)) => {
                saw_data = true;
                data.extend(fields.clone());
            }
            PartContent::Data(_) => errors.push(protocol::FieldError::new(
                format!("message.parts[{index}].data"),
                "must be a JSON object: it becomes the run's inputs",
            )),
            PartContent::Text(text) => texts.push(text.as_str()),
            PartContent::Raw(_) | PartContent::Url(_) => errors.push(protocol::FieldError::new(
                format!("message.parts[{index}]"),
                "files are not accepted; send the inputs as a data part",
            )),
        }
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    if saw_data {
        return Ok(Value::Object(data));
    }
    let text = texts.join("\n");
    Ok(match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(fields)) => Value::Object(fields),
        _ => json!({ "text": text }),
    })
}
