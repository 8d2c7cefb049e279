//! The data-plane protocol, `/api/v1/dp/…`: only a deployment's data-plane credential reaches it, and only
//! that deployment's tasks.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use protocol::{
    Completion, EventBatch, Failure, Heartbeat, HeartbeatAck, Registration, RegistrationAck, Suspension,
    TaskEnvelope,
};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::openapi::{BadRequest, BodyErrors, Conflict, Invalid, NotFound, ServerErrors, Unauthenticated};
use crate::auth::data_plane::DataPlaneCaller;
use crate::db::Id;
use crate::error::Error;
use crate::queue::{self, EventsAck, Outcome};
use crate::service::runs::RunView;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/dp")
            .route("/register", web::post().to(register))
            .route("/heartbeat", web::post().to(heartbeat))
            .route("/tasks/next", web::get().to(next))
            .route("/tasks/{task}/events", web::post().to(events))
            .route("/tasks/{task}/complete", web::post().to(complete))
            .route("/tasks/{task}/fail", web::post().to(fail))
            .route("/tasks/{task}/suspend", web::post().to(suspend)),
    );
}

/// Registers a data-plane instance of the credential's deployment.
#[utoipa::path(
    post,
    path = "/api/v1/dp/register",
    operation_id = "registerDataPlane",
    tag = "data-plane",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The deployment and its timings", body = RegistrationAck),
        BodyErrors,
        Unauthenticated,
        Conflict,
        ServerErrors,
    )
)]
async fn register(
    caller: DataPlaneCaller,
    state: web::Data<AppState>,
    body: web::Json<Registration>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    Ok(HttpResponse::Ok().json(queue::register(&mut pooled.conn(), caller, &body).await?))
}

/// Extends the leases of the tasks an instance holds, and names those to stop.
#[utoipa::path(
    post,
    path = "/api/v1/dp/heartbeat",
    operation_id = "heartbeat",
    tag = "data-plane",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The leases extended, and the tasks to stop", body = HeartbeatAck),
        BodyErrors,
        Unauthenticated,
        Conflict,
        ServerErrors,
    )
)]
async fn heartbeat(
    caller: DataPlaneCaller,
    state: web::Data<AppState>,
    body: web::Json<Heartbeat>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    Ok(HttpResponse::Ok().json(queue::heartbeat(&mut pooled.conn(), caller, &body).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct NextQuery {
    /// The claiming data-plane instance, as it registered.
    instance_id: String,
    /// How long to wait for work: `25s`, `500ms`, or seconds as a number; 0 (the default) looks once.
    wait: Option<String>,
    /// Most tasks to claim (default 1).
    max: Option<i64>,
}

/// The tasks claimed, each under a lease; empty when none came before the wait ended.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Claimed {
    tasks: Vec<TaskEnvelope>,
}

fn wait_of(text: Option<&str>) -> Result<Duration, Error> {
    let Some(text) = text else {
        return Ok(Duration::ZERO);
    };
    text.parse::<u64>()
        .map(Duration::from_secs)
        .or_else(|_| humantime::parse_duration(text))
        .map_err(|_| {
            Error::Validation(vec![protocol::FieldError::new(
                "wait",
                format!("{text:?} is not a duration like 25s or 500ms"),
            )])
        })
}

/// Claims tasks, holding the request until one is available or `wait` ends (then an empty list).
#[utoipa::path(
    get,
    path = "/api/v1/dp/tasks/next",
    operation_id = "claimTasks",
    tag = "data-plane",
    params(NextQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The tasks claimed", body = Claimed),
        BadRequest,
        Unauthenticated,
        Invalid,
        ServerErrors,
    )
)]
async fn next(
    caller: DataPlaneCaller,
    state: web::Data<AppState>,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, Error> {
    let wait = wait_of(query.wait.as_deref())?;
    let tasks = queue::next(
        &state.pool,
        &state.wake,
        caller,
        &query.instance_id,
        query.max.unwrap_or(1),
        wait,
    )
    .await?;
    Ok(HttpResponse::Ok().json(Claimed { tasks }))
}

/// Stores a batch of a held task's events, each once by its sequence number.
#[utoipa::path(
    post,
    path = "/api/v1/dp/tasks/{task}/events",
    operation_id = "postTaskEvents",
    tag = "data-plane",
    params(("task" = uuid::Uuid, Path, description = "The task's delivery id, from its envelope")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "What was stored, and whether to stop", body = EventsAck),
        BodyErrors,
        Unauthenticated,
        NotFound,
        ServerErrors,
    )
)]
async fn events(
    caller: DataPlaneCaller,
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
    body: web::Json<EventBatch>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let ack = queue::events(&mut pooled.conn(), caller, Id(*path), body.into_inner()).await?;
    if ack.stored > 0 {
        state.run_changed.work_arrived();
    }
    Ok(HttpResponse::Ok().json(ack))
}

/// Completes a held task; repeating it is harmless.
#[utoipa::path(
    post,
    path = "/api/v1/dp/tasks/{task}/complete",
    operation_id = "completeTask",
    tag = "data-plane",
    params(("task" = uuid::Uuid, Path, description = "The task's delivery id, from its envelope")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The run, finished", body = RunView),
        BodyErrors,
        Unauthenticated,
        NotFound,
        Conflict,
        ServerErrors,
    )
)]
async fn complete(
    caller: DataPlaneCaller,
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
    body: web::Json<Completion>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let outcome = Outcome::Completed(body.into_inner());
    let run = queue::finish(&mut pooled.conn(), caller, Id(*path), outcome).await?;
    state.run_changed.work_arrived();
    Ok(HttpResponse::Ok().json(run))
}

/// Suspends a held task until a human decides: the run waits on an approval (24 hours, then it
/// expires) and resumes from the checkpoint once approved. Repeating it is harmless.
#[utoipa::path(
    post,
    path = "/api/v1/dp/tasks/{task}/suspend",
    operation_id = "suspendTask",
    tag = "data-plane",
    params(("task" = uuid::Uuid, Path, description = "The task's delivery id, from its envelope")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The run, awaiting approval (or cancelled, when it was asked to stop)", body = RunView),
        BodyErrors,
        Unauthenticated,
        NotFound,
        Conflict,
        ServerErrors,
    )
)]
async fn suspend(
    caller: DataPlaneCaller,
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
    body: web::Json<Suspension>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let outcome = Outcome::Suspended(body.into_inner());
    let run = queue::finish(&mut pooled.conn(), caller, Id(*path), outcome).await?;
    state.run_changed.work_arrived();
    Ok(HttpResponse::Ok().json(run))
}

/// Fails a held task; a retryable failure with attempts left queues the run again.
#[utoipa::path(
    post,
    path = "/api/v1/dp/tasks/{task}/fail",
    operation_id = "failTask",
    tag = "data-plane",
    params(("task" = uuid::Uuid, Path, description = "The task's delivery id, from its envelope")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The run: failed, or queued again", body = RunView),
        BodyErrors,
        Unauthenticated,
        NotFound,
        Conflict,
        ServerErrors,
    )
)]
async fn fail(
    caller: DataPlaneCaller,
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
    body: web::Json<Failure>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let outcome = Outcome::Failed(body.into_inner());
    let run = queue::finish(&mut pooled.conn(), caller, Id(*path), outcome).await?;
    if run.state == "queued" {
        state.wake.task_queued(caller.deployment_id);
    }
    state.run_changed.work_arrived();
    Ok(HttpResponse::Ok().json(run))
}
