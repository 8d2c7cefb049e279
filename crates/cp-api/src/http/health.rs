//! Health: `/health/live` (the process answers), `/health/ready` and `/health` (the database answers too).

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::AppState;
use crate::error::Error;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(ready))
        .route("/health/ready", web::get().to(ready))
        .route("/health/live", web::get().to(live));
}

async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, Error> {
    if state.pool.is_ready().await {
        Ok(HttpResponse::Ok().json(json!({"status": "ok", "database": "ok"})))
    } else {
        Err(Error::Unavailable("the database is not reachable".to_owned()))
    }
}
