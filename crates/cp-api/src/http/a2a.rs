//! A2A: every deployment is an agent. `GET /a2a/{deployment}/.well-known/agent-card.json` is its card;
//! `POST /a2a/{deployment}` answers JSON-RPC 2.0 (`SendMessage`, `SendStreamingMessage`, `GetTask`,
//! `ListTasks`, `CancelTask`, `SubscribeToTask`, and their 0.3 names). A task is a run.
//!
//! Who may call: the org's members read (`GetTask`, `ListTasks`, `SubscribeToTask`, the card); its admins
//! and operators start and cancel. An outsider gets a 404, as everywhere.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use protocol::a2a::{
    CancelTaskRequest, ErrorCode, GetTaskRequest, JsonRpcError, JsonRpcResponse, LEGACY_PROTOCOL_VERSION,
    ListTasksRequest, ListTasksResponse, Method, PROTOCOL_VERSION, SendMessageRequest, SendMessageResponse,
    StreamResponse, SubscribeToTaskRequest, Task, TaskArtifactUpdateEvent, TaskState, TaskStatusUpdateEvent,
    VERSION_HEADER,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tracing::Instrument as _;

use super::openapi::{NotFound, ServerErrors, Unauthenticated};
use super::{AppState, actor_of};
use crate::auth::roles::{self, Operators, OrgMember};
use crate::db::{self, Id};
use crate::error::Error;
use crate::service::a2a;
use crate::service::runs::{self, NewRun, RunView, Selection};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/{deployment}/.well-known/agent-card.json", web::get().to(card))
        .route("/{deployment}", web::post().to(call));
}

/// How long a blocking `SendMessage` waits for its task to end or need input before answering with the
/// task as it stands (the caller then follows it with `GetTask` or `SubscribeToTask`).
const BLOCKING_WAIT: Duration = Duration::from_secs(300);
/// How often a waiting call looks for changes made on another replica.
const RECHECK: Duration = Duration::from_secs(1);
/// A comment line sent on a quiet stream this often, so proxies keep the connection.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Events read per query while streaming.
const PAGE: i64 = 200;
const DEFAULT_PAGE_SIZE: i32 = 50;

/// The deployment's Agent Card, built from the manifest of the version it runs.
#[utoipa::path(
    get,
    path = "/a2a/{deployment}/.well-known/agent-card.json",
    operation_id = "getAgentCard",
    tag = "a2a",
    params(("deployment" = uuid::Uuid, Path, description = "The deployment's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The A2A Agent Card (protocol 1.0)", body = Object),
        Unauthenticated,
        NotFound,
        ServerErrors,
    )
)]
async fn card(
    request: HttpRequest,
    _access: OrgMember,
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, Error> {
    let endpoint = format!("{}/a2a/{}", state.public_base(&request), *path);
    let mut pooled = state.pool.get().await?;
    let card = a2a::card(&mut pooled.conn(), Id(*path), &endpoint).await?;
    Ok(HttpResponse::Ok().json(card))
}

/// A JSON-RPC 2.0 call to the deployment's agent. Errors in the call itself (malformed JSON, an unknown
/// method, bad parameters, an unknown task) are JSON-RPC error objects; who may call is HTTP's (401,
/// 403, 404). `SendStreamingMessage` and `SubscribeToTask` answer with Server-Sent Events, one JSON-RPC
/// response per event, ending when the task does.
#[utoipa::path(
    post,
    path = "/a2a/{deployment}",
    operation_id = "callAgent",
    tag = "a2a",
    params(
        ("deployment" = uuid::Uuid, Path, description = "The deployment's id"),
        ("A2A-Version" = Option<String>, Header, description = "`1.0` (the default) or `0.3`"),
    ),
    request_body(content = Object, description = "A JSON-RPC 2.0 request", content_type = "application/json"),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A JSON-RPC response, or for the streaming methods an SSE stream of them",
         content((Object = "application/json"), (String = "text/event-stream"))),
        Unauthenticated,
        (status = 403, description = "The method needs the org's admin or operator role"),
        NotFound,
        ServerErrors,
    )
)]
async fn call(
    request: HttpRequest,
    access: OrgMember,
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
    body: Bytes,
) -> Result<HttpResponse, Error> {
    let call = match Call::read(&request, &body) {
        Ok(call) => call,
        Err((id, error)) => return Ok(answer(id, Err(error))),
    };
    let deployment = Id(*path);
    if matches!(
        call.method,
        Method::SendMessage | Method::SendStreamingMessage | Method::CancelTask
    ) {
        let mut pooled = state.pool.get().await?;
        roles::admit::<Operators>(&mut pooled.conn(), access.caller, access.org_id, "deployment").await?;
    }
    let caller = Caller {
        state: state.into_inner(),
        actor: actor_of(&request, Some(&access.caller)),
        org: access.org_id,
        deployment,
    };
    let id = call.id.clone();
    let reply = if matches!(call.method, Method::SendMessage | Method::SendStreamingMessage) {
        let span = crate::telemetry::run_request_span(&request, "/a2a/{deployment}");
        caller.dispatch(call).instrument(span).await
    } else {
        caller.dispatch(call).await
    };
    match reply {
        Ok(Reply::Result(result)) => Ok(answer(id, Ok(result))),
        Ok(Reply::Stream(response)) => Ok(response),
        Err(Failure::Rpc(error)) => Ok(answer(id, Err(error))),
        Err(Failure::Http(error)) => Err(error),
    }
}

/// What a method answers: one result, or a stream of them.
enum Reply {
    Result(Value),
    Stream(HttpResponse),
}

fn to_value(value: impl serde::Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn answer(id: Value, outcome: Result<Value, JsonRpcError>) -> HttpResponse {
    HttpResponse::Ok().json(match outcome {
        Ok(result) => JsonRpcResponse::success(id, result),
        Err(error) => JsonRpcResponse::failure(id, error),
    })
}

/// Why a method did not answer: an error the caller made in the call (a JSON-RPC error object), or a
/// fault of ours (an HTTP problem).
enum Failure {
    Rpc(JsonRpcError),
    Http(Error),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        match error {
            Error::Validation(errors) => Self::Rpc(
                JsonRpcError::new(
                    ErrorCode::InvalidParams,
                    "the message breaks the agent's input schema",
                )
                .with_data(json!({ "errors": errors })),
            ),
            Error::BadRequest(detail) => Self::Rpc(JsonRpcError::new(ErrorCode::InvalidParams, detail)),
            Error::NotFound(detail) => Self::Rpc(JsonRpcError::new(ErrorCode::TaskNotFound, detail)),
            Error::Conflict(detail) => Self::Rpc(JsonRpcError::new(ErrorCode::InvalidRequest, detail)),
            other => Self::Http(other),
        }
    }
}

/// A call as read from the body.
struct Call {
    id: Value,
    method: Method,
    params: Value,
}

impl Call {
    /// The call, or the id to answer with and what is wrong with it.
    fn read(request: &HttpRequest, body: &[u8]) -> Result<Self, (Value, JsonRpcError)> {
        let invalid =
            |id: &Value, detail: &str| (id.clone(), JsonRpcError::new(ErrorCode::InvalidRequest, detail));
        let value: Value = serde_json::from_slice(body).map_err(|error| {
            (
                Value::Null,
                JsonRpcError::new(ErrorCode::ParseError, format!("the body is not JSON: {error}")),
            )
        })?;
        let Value::Object(mut fields) = value else {
            return Err(invalid(
                &Value::Null,
                "a call is one JSON object (batches are not supported)",
            ));
        };
        let id = match fields.remove("id") {
            Some(id @ (Value::String(_) | Value::Number(_))) => id,
            Some(_) => return Err(invalid(&Value::Null, "\"id\" must be a string or a number")),
            None => {
                return Err(invalid(
                    &Value::Null,
                    "every call needs an \"id\": notifications are not answered here",
                ));
            }
        };
        if fields.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            return Err(invalid(&id, "\"jsonrpc\" must be \"2.0\""));
        }
        let Some(name) = fields.get("method").and_then(Value::as_str) else {
            return Err(invalid(&id, "\"method\" must be a string"));
        };
        let Some(method) = Method::from_name(name) else {
            return Err((
                id,
                JsonRpcError::new(
                    ErrorCode::MethodNotFound,
                    format!(
                        "no method {name:?}; this agent answers SendMessage, SendStreamingMessage, GetTask, \
                         ListTasks, CancelTask and SubscribeToTask"
                    ),
                ),
            ));
        };
        if let Some(version) = request.headers().get(VERSION_HEADER) {
            let version = version.to_str().unwrap_or_default();
            if version != PROTOCOL_VERSION && version != LEGACY_PROTOCOL_VERSION {
                return Err((
                    id,
                    JsonRpcError::new(
                        ErrorCode::VersionNotSupported,
                        format!("A2A version {version:?} is not spoken here; use {PROTOCOL_VERSION}"),
                    ),
                ));
            }
        }
        let params = fields.remove("params").unwrap_or_else(|| json!({}));
        if !params.is_object() {
            return Err((
                id,
                JsonRpcError::new(ErrorCode::InvalidParams, "\"params\" must be an object"),
            ));
        }
        Ok(Self { id, method, params })
    }

    fn params<T: DeserializeOwned>(&self) -> Result<T, Failure> {
        serde_json::from_value(self.params.clone()).map_err(|error| {
            Failure::Rpc(JsonRpcError::new(
                ErrorCode::InvalidParams,
                format!("bad params for {}: {error}", self.method.name()),
            ))
        })
    }
}

/// A caller of one deployment's agent.
struct Caller {
    state: Arc<AppState>,
    actor: crate::service::audit::Actor,
    org: Id,
    deployment: Id,
}

impl Caller {
    async fn dispatch(self, call: Call) -> Result<Reply, Failure> {
        let result = match call.method {
            Method::SendMessage => to_value(self.send(call.params()?, true).await?),
            Method::GetTask => to_value(self.get(call.params()?).await?),
            Method::ListTasks => to_value(self.list(call.params()?).await?),
            Method::CancelTask => to_value(self.cancel(call.params()?).await?),
            Method::SendStreamingMessage => match self.send(call.params()?, false).await? {
                SendMessageResponse::Task(task) => {
                    return Ok(Reply::Stream(stream(self, call.id, Some(task), None)));
                }
                other => to_value(other),
            },
            Method::SubscribeToTask => {
                let request: SubscribeToTaskRequest = call.params()?;
                let run = self.subscribable(&request.id).await?;
                return Ok(Reply::Stream(stream(self, call.id, None, Some(run))));
            }
        };
        Ok(Reply::Result(result))
    }

    /// Starts a run from the message (its id is the idempotency key: the same message twice is one
    /// task) and, when `may_wait` and the caller did not ask to return at once, waits for it to end or
    /// need input.
    async fn send(
        &self,
        request: SendMessageRequest,
        may_wait: bool,
    ) -> Result<SendMessageResponse, Failure> {
        let message = &request.message;
        if message.task_id.is_some() {
            return Err(Failure::Rpc(JsonRpcError::new(
                ErrorCode::UnsupportedOperation,
                "each message starts a task: continuing one is not supported (approvals are decided at \
                 /api/v1/orgs/{org}/approvals)",
            )));
        }
        let inputs = a2a::inputs(message)?;
        let configuration = request.configuration.unwrap_or_default();
        let (mut run, created) = {
            let mut pooled = self.state.pool.get().await?;
            let run = NewRun {
                inputs,
                priority: 0,
                deadline: None,
                max_charge: None,
                parent_run: a2a::parent_run(&mut pooled.conn(), self.org, message).await?,
            };
            runs::create(
                &mut pooled.conn(),
                self.actor.clone(),
                self.deployment,
                Some(&message.message_id),
                run,
            )
            .await
            .map_err(|error| match error {
                Error::Conflict(detail) if detail.contains("Idempotency-Key") => {
                    Failure::Rpc(JsonRpcError::new(
                        ErrorCode::InvalidParams,
                        format!(
                            "message {:?} was sent before with other content",
                            message.message_id
                        ),
                    ))
                }
                other => other.into(),
            })?
        };
        if created {
            self.state.wake.task_queued(self.deployment);
        }
        if may_wait && configuration.waits() {
            run = self.settled(Id(run.id), BLOCKING_WAIT).await?;
        }
        Ok(SendMessageResponse::Task(a2a::task(
            &run,
            configuration.history_length,
        )))
    }

    /// The run once it has ended or needs input, or as it stands after `limit`.
    async fn settled(&self, run: Id, limit: Duration) -> Result<RunView, Error> {
        let until = tokio::time::Instant::now() + limit;
        loop {
            let wake = Arc::clone(&self.state.run_changed);
            let woken = wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let view = self.run(run).await?;
            let now = tokio::time::Instant::now();
            if view.finished_at.is_some() || view.state == "awaiting_approval" || now >= until {
                return Ok(view);
            }
            let _ = tokio::time::timeout(RECHECK.min(until - now), woken).await;
        }
    }

    async fn run(&self, run: Id) -> Result<RunView, Error> {
        let mut pooled = self.state.pool.get().await?;
        RunView::of(&db::runs::find(&mut pooled.conn(), run).await?)
    }

    /// The run a task id names, if it is one of this deployment's.
    async fn task_run(&self, task: &str) -> Result<RunView, Failure> {
        let not_found = || {
            Failure::Rpc(JsonRpcError::new(
                ErrorCode::TaskNotFound,
                format!("no task {task:?}"),
            ))
        };
        let id = uuid::Uuid::parse_str(task).map_err(|_| not_found())?;
        let mut pooled = self.state.pool.get().await?;
        let run = match db::runs::find(&mut pooled.conn(), Id(id)).await {
            Ok(run) => run,
            Err(diesel::result::Error::NotFound) => return Err(not_found()),
            Err(error) => return Err(Failure::Http(error.into())),
        };
        if run.deployment_id != self.deployment {
            return Err(not_found());
        }
        Ok(RunView::of(&run)?)
    }

    async fn get(&self, request: GetTaskRequest) -> Result<Task, Failure> {
        let run = self.task_run(&request.id).await?;
        Ok(a2a::task(&run, request.history_length))
    }

    async fn list(&self, request: ListTasksRequest) -> Result<ListTasksResponse, Failure> {
        let page_size = request.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=100).contains(&page_size) {
            return Err(Failure::Rpc(JsonRpcError::new(
                ErrorCode::InvalidParams,
                format!("pageSize {page_size} is outside 1..=100"),
            )));
        }
        let states: Vec<String> = match request.status {
            None | Some(TaskState::Unspecified) => Vec::new(),
            Some(state) => match a2a::run_states(state) {
                [] => return Ok(empty_list(page_size)),
                states => states.iter().map(|state| (*state).to_owned()).collect(),
            },
        };
        // The context of a task is the task itself.
        if let Some(context) = &request.context_id {
            let run = match self.task_run(context).await {
                Ok(run) => run,
                Err(Failure::Rpc(_)) => return Ok(empty_list(page_size)),
                Err(other) => return Err(other),
            };
            let wanted = (states.is_empty() || states.contains(&run.state))
                && request
                    .status_timestamp_after
                    .is_none_or(|after| a2a::status(&run).timestamp.is_some_and(|at| at > after));
            let tasks: Vec<Task> = wanted.then(|| self.listed(&run, &request)).into_iter().collect();
            return Ok(ListTasksResponse {
                total_size: i32::try_from(tasks.len()).unwrap_or(i32::MAX),
                tasks,
                next_page_token: String::new(),
                page_size,
            });
        }
        let mut pooled = self.state.pool.get().await?;
        let mut conn = pooled.conn();
        let filter = db::runs::RunFilter {
            states: states.clone(),
            deployment: Some(self.deployment),
            before: None,
            limit: 0,
        };
        let total = db::runs::count_of_org(&mut conn, self.org, &filter)
            .await
            .map_err(Error::from)?;
        let selection = Selection {
            states,
            deployment: Some(self.deployment),
            cursor: request.page_token.as_deref().filter(|token| !token.is_empty()),
            limit: i64::from(page_size),
        };
        let page = runs::select(&mut conn, self.org, selection).await?;
        let tasks = page
            .items
            .iter()
            // Applied to each page: a page may hold fewer tasks than pageSize.
            .filter(|run| {
                request
                    .status_timestamp_after
                    .is_none_or(|after| a2a::status(run).timestamp.is_some_and(|at| at > after))
            })
            .map(|run| self.listed(run, &request))
            .collect();
        Ok(ListTasksResponse {
            tasks,
            next_page_token: page.next_cursor.unwrap_or_default(),
            page_size,
            total_size: i32::try_from(total).unwrap_or(i32::MAX),
        })
    }

    /// A task as a list shows it: no history unless asked, artifacts unless declined.
    fn listed(&self, run: &RunView, request: &ListTasksRequest) -> Task {
        let mut task = a2a::task(run, Some(request.history_length.unwrap_or(0)));
        if request.include_artifacts == Some(false) {
            task.artifacts.clear();
        }
        task
    }

    async fn cancel(&self, request: CancelTaskRequest) -> Result<Task, Failure> {
        let run = self.task_run(&request.id).await?;
        let mut pooled = self.state.pool.get().await?;
        let cancelled = runs::cancel(&mut pooled.conn(), self.actor.clone(), Id(run.id))
            .await
            .map_err(|error| match error {
                Error::Conflict(detail) => {
                    Failure::Rpc(JsonRpcError::new(ErrorCode::TaskNotCancelable, detail))
                }
                other => other.into(),
            })?;
        self.state.run_changed.work_arrived();
        Ok(a2a::task(&cancelled, None))
    }

    /// The run to follow, unless its task has ended (there is nothing left to stream).
    async fn subscribable(&self, task: &str) -> Result<RunView, Failure> {
        let run = self.task_run(task).await?;
        if a2a::task_state(&run.state).is_terminal() {
            return Err(Failure::Rpc(JsonRpcError::new(
                ErrorCode::UnsupportedOperation,
                format!("task {task} has ended ({}); read it with GetTask", run.state),
            )));
        }
        Ok(run)
    }
}

fn empty_list(page_size: i32) -> ListTasksResponse {
    ListTasksResponse {
        tasks: Vec::new(),
        next_page_token: String::new(),
        page_size,
        total_size: 0,
    }
}

/// An SSE stream of a task: first the task as it stands (`first`, or `run` read now), then a status
/// update for each node that finishes and each change of state, the outputs as an artifact, and the end.
fn stream(caller: Caller, id: Value, first: Option<Task>, run: Option<RunView>) -> HttpResponse {
    let Some(run_id) = first
        .as_ref()
        .and_then(|task| uuid::Uuid::parse_str(&task.id).ok())
        .or_else(|| run.as_ref().map(|run| run.id))
    else {
        return answer(
            id,
            Err(JsonRpcError::new(ErrorCode::Internal, "no task to stream")),
        );
    };
    let watch = Watch {
        caller,
        id,
        run: Id(run_id),
        task: run_id.to_string(),
        first: first.or_else(|| run.as_ref().map(|run| a2a::task(run, None))),
        sent_state: None,
        after: None,
        quiet_since: tokio::time::Instant::now(),
    };
    let body = futures_util::stream::unfold(Some(watch), |watch| async move {
        let mut watch = watch?;
        match watch.next().await {
            Ok((chunk, ended)) => Some((Ok::<_, Error>(chunk), (!ended).then_some(watch))),
            Err(error) => {
                let failure = JsonRpcResponse::<Value>::failure(
                    watch.id.clone(),
                    JsonRpcError::new(ErrorCode::Internal, error.to_string()),
                );
                Some((
                    Ok(Bytes::from(format!(
                        "event: error\ndata: {}\n\n",
                        to_value(failure)
                    ))),
                    None,
                ))
            }
        }
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body)
}

/// Where a task's stream stands.
struct Watch {
    caller: Caller,
    id: Value,
    run: Id,
    task: String,
    /// The task, to send before anything else.
    first: Option<Task>,
    /// The run state last sent.
    sent_state: Option<String>,
    /// The last run event looked at.
    after: Option<(i32, i64)>,
    quiet_since: tokio::time::Instant,
}

impl Watch {
    /// The next chunk to send, and whether the stream ends with it.
    async fn next(&mut self) -> Result<(Bytes, bool), Error> {
        loop {
            let wake = Arc::clone(&self.caller.state.run_changed);
            let woken = wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let mut items = Vec::new();
            let (run, events) = {
                let mut pooled = self.caller.state.pool.get().await?;
                let mut conn = pooled.conn();
                let after = match self.after {
                    Some(after) => after,
                    // Events before the stream began are history, not news.
                    None => db::run_events::latest(&mut conn, self.run).await?,
                };
                let events = db::run_events::after(&mut conn, self.run, after.0, after.1, PAGE).await?;
                self.after = Some(events.last().map_or(after, |last| (last.attempt, last.seq)));
                (RunView::of(&db::runs::find(&mut conn, self.run).await?)?, events)
            };
            if let Some(task) = self.first.take() {
                self.sent_state = task
                    .metadata
                    .as_ref()
                    .and_then(|metadata| metadata.get("runState"))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                items.push(StreamResponse::Task(task));
            }
            for event in &events {
                if let Ok(protocol::RunEvent {
                    kind:
                        protocol::EventKind::Finished {
                            node,
                            status,
                            duration_ms,
                            ..
                        },
                    ..
                }) = serde_json::from_str::<protocol::RunEvent>(&event.body)
                {
                    let node = node.unwrap_or_else(|| "the run".to_owned());
                    let mut status_now = a2a::status(&run);
                    status_now.state = TaskState::Working;
                    status_now.message = Some(a2a::agent_message(
                        format!("{}-{}-{}", self.task, event.attempt, event.seq),
                        &self.task,
                        format!(
                            "{node}: {} in {duration_ms} ms",
                            to_value(status).as_str().unwrap_or("done")
                        ),
                    ));
                    items.push(StreamResponse::StatusUpdate(TaskStatusUpdateEvent {
                        task_id: self.task.clone(),
                        context_id: self.task.clone(),
                        status: status_now,
                        metadata: Some(
                            [("event".to_owned(), runs::event_json(event)?)]
                                .into_iter()
                                .collect(),
                        ),
                    }));
                }
            }
            if self.sent_state.as_deref() != Some(run.state.as_str()) {
                if let Some(artifact) = a2a::outputs_artifact(&run) {
                    items.push(StreamResponse::ArtifactUpdate(TaskArtifactUpdateEvent {
                        task_id: self.task.clone(),
                        context_id: self.task.clone(),
                        artifact,
                        append: false,
                        last_chunk: true,
                        metadata: None,
                    }));
                }
                items.push(StreamResponse::StatusUpdate(TaskStatusUpdateEvent {
                    task_id: self.task.clone(),
                    context_id: self.task.clone(),
                    status: a2a::status(&run),
                    metadata: None,
                }));
                self.sent_state = Some(run.state.clone());
            }
            let ended = a2a::task_state(&run.state).is_terminal();
            if !items.is_empty() {
                self.quiet_since = tokio::time::Instant::now();
                let mut chunk = String::new();
                for item in items {
                    let response = JsonRpcResponse::success(self.id.clone(), item);
                    chunk.push_str(&format!("data: {}\n\n", to_value(response)));
                }
                return Ok((Bytes::from(chunk), ended));
            }
            if ended {
                return Ok((Bytes::new(), true));
            }
            if tokio::time::timeout(RECHECK, woken).await.is_err() && self.quiet_since.elapsed() >= KEEP_ALIVE
            {
                self.quiet_since = tokio::time::Instant::now();
                return Ok((Bytes::from_static(b": keep-alive\n\n"), false));
            }
        }
    }
}
