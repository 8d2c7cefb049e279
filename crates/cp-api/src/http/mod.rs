//! The HTTP surface: one module per resource, each with a `configure` that mounts its routes.

pub mod health;
pub mod me;

use actix_web::{HttpRequest, web};

use crate::db;
use crate::error::Error;

/// Largest request body accepted, in bytes: a manifest's limit plus room for its envelope.
pub const MAX_BODY_BYTES: usize = 2 * manifest::limits::MAX_BYTES;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub pool: db::Pool,
}

/// Mounts every route and makes every error, the framework's own included, a problem+json answer.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(MAX_BODY_BYTES)
            .error_handler(|error, _| json_error(&error).into()),
    )
    .app_data(web::PayloadConfig::default().limit(MAX_BODY_BYTES))
    .app_data(
        web::QueryConfig::default().error_handler(|error, _| Error::BadRequest(error.to_string()).into()),
    )
    .app_data(web::PathConfig::default().error_handler(|error, _| Error::NotFound(error.to_string()).into()))
    .configure(health::configure)
    .service(web::scope("/api/v1").configure(me::configure))
    .default_service(web::to(not_found));
}

fn json_error(error: &actix_web::error::JsonPayloadError) -> Error {
    use actix_web::error::JsonPayloadError;
    match error {
        JsonPayloadError::OverflowKnownLength { length, limit } => {
            Error::PayloadTooLarge(format!("the body is {length} bytes; the limit is {limit}"))
        }
        JsonPayloadError::Overflow { limit } => {
            Error::PayloadTooLarge(format!("the body is over {limit} bytes"))
        }
        JsonPayloadError::ContentType => Error::BadRequest("send the body as application/json".to_owned()),
        other => Error::BadRequest(format!("the body is not valid JSON: {other}")),
    }
}

async fn not_found(request: HttpRequest) -> Result<actix_web::HttpResponse, Error> {
    Err(Error::NotFound(format!(
        "no route for {} {}",
        request.method(),
        request.path()
    )))
}
