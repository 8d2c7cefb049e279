//! The data-plane protocol, `/api/v1/dp/…`: only a deployment's data-plane credential reaches it, and only
//! that deployment's tasks.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use protocol::{Completion, EventBatch, Failure, Heartbeat, Registration};
use serde::Deserialize;

use super::AppState;
use crate::auth::data_plane::DataPlaneCaller;
use crate::db::Id;
use crate::error::Error;
use crate::queue::{self, Outcome};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/dp/register", web::post().to(register))
        .route("/dp/heartbeat", web::post().to(heartbeat))
        .route("/dp/tasks/next", web::get().to(next))
        .route("/dp/tasks/{task}/events", web::post().to(events))
        .route("/dp/tasks/{task}/complete", web::post().to(complete))
        .route("/dp/tasks/{task}/fail", web::post().to(fail));
}

async fn register(
    caller: DataPlaneCaller,
    state: web::Data<AppState>,
    body: web::Json<Registration>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    Ok(HttpResponse::Ok().json(queue::register(&mut pooled.conn(), caller, &body).await?))
}

async fn heartbeat(
    caller: DataPlaneCaller,
    state: web::Data<AppState>,
    body: web::Json<Heartbeat>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    Ok(HttpResponse::Ok().json(queue::heartbeat(&mut pooled.conn(), caller, &body).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NextQuery {
    instance_id: String,
    /// How long to wait for work: `25s`, `500ms`, or seconds as a number; 0 (the default) looks once.
    wait: Option<String>,
    max: Option<i64>,
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
    Ok(HttpResponse::Ok().json(serde_json::json!({ "tasks": tasks })))
}

async fn events(
    caller: DataPlaneCaller,
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
    body: web::Json<EventBatch>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    Ok(HttpResponse::Ok()
        .json(queue::events(&mut pooled.conn(), caller, Id(*path), body.into_inner()).await?))
}

async fn complete(
    caller: DataPlaneCaller,
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
    body: web::Json<Completion>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let outcome = Outcome::Completed(body.into_inner());
    Ok(HttpResponse::Ok().json(queue::finish(&mut pooled.conn(), caller, Id(*path), outcome).await?))
}

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
        state.wake.work_arrived();
    }
    Ok(HttpResponse::Ok().json(run))
}
