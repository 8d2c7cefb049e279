//! Health: `/health/live` (the process answers), `/health/ready` and `/health` (the database answers too);
//! `/metrics` for Prometheus.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use super::AppState;
use super::openapi::ServerErrors;
use crate::error::Error;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health))
        .route("/health/ready", web::get().to(ready))
        .route("/health/live", web::get().to(live))
        .route("/metrics", web::get().to(metrics));
}

/// Prometheus metrics, in Prometheus's text format (see [`crate::metrics`]).
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "health",
    responses(
        (status = 200, description = "The metrics", content_type = "text/plain", body = String),
        ServerErrors,
    )
)]
async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, Error> {
    let text = crate::metrics::render(&state.pool).await?;
    Ok(HttpResponse::Ok()
        .content_type(crate::metrics::CONTENT_TYPE)
        .body(text))
}

/// The process answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Live {
    #[schema(example = "ok")]
    status: &'static str,
}

/// The process and its database answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Ready {
    #[schema(example = "ok")]
    status: &'static str,
    #[schema(example = "ok")]
    database: &'static str,
}

/// Whether the process answers.
#[utoipa::path(
    get,
    path = "/health/live",
    operation_id = "live",
    tag = "health",
    responses(
        (status = 200, description = "The process answers", body = Live),
    )
)]
async fn live() -> HttpResponse {
    HttpResponse::Ok().json(Live { status: "ok" })
}

/// Whether the process and its database answer.
#[utoipa::path(
    get,
    path = "/health/ready",
    operation_id = "ready",
    tag = "health",
    responses(
        (status = 200, description = "The process and its database answer", body = Ready),
        ServerErrors,
    )
)]
async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, Error> {
    if state.pool.is_ready().await {
        Ok(HttpResponse::Ok().json(Ready {
            status: "ok",
            database: "ok",
        }))
    } else {
        Err(Error::Unavailable("the database is not reachable".to_owned()))
    }
}

/// Whether the process and its database answer (the same as `/health/ready`).
#[utoipa::path(
    get,
    path = "/health",
    operation_id = "health",
    tag = "health",
    responses(
        (status = 200, description = "The process and its database answer", body = Ready),
        ServerErrors,
    )
)]
async fn health(state: web::Data<AppState>) -> Result<HttpResponse, Error> {
    ready(state).await
}
