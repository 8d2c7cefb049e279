//! Runs: `POST /api/v1/deployments/{deployment}/runs`, `GET /api/v1/runs/{run}` (and its events),
//! `GET /api/v1/orgs/{org}/runs`, `POST /api/v1/runs/{run}/cancel`.

use actix_web::{HttpRequest, HttpResponse, web};

use super::{AppState, actor_of};
use crate::auth::roles::{OrgMember, OrgOperator};
use crate::db::Id;
use crate::error::Error;
use crate::service::runs::{self, NewRun, RunQuery};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/deployments/{deployment}/runs", web::post().to(create))
        .route("/orgs/{org}/runs", web::get().to(list))
        .route("/runs/{run}", web::get().to(get))
        .route("/runs/{run}/events", web::get().to(events))
        .route("/runs/{run}/cancel", web::post().to(cancel));
}

/// Starts a run: 201 with the new run, or 200 with the run an earlier request with the same
/// `Idempotency-Key` started.
async fn create(
    request: HttpRequest,
    access: OrgOperator,
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
    body: web::Json<NewRun>,
) -> Result<HttpResponse, Error> {
    let key = match request.headers().get("idempotency-key") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| Error::BadRequest("the Idempotency-Key must be visible ASCII".to_owned()))?,
        ),
    };
    let mut pooled = state.pool.get().await?;
    let actor = actor_of(&request, Some(&access.caller));
    let (run, created) = runs::create(&mut pooled.conn(), actor, Id(*path), key, body.into_inner()).await?;
    if created {
        state.wake.work_arrived();
        Ok(HttpResponse::Created().json(run))
    } else {
        Ok(HttpResponse::Ok().json(run))
    }
}

async fn list(
    access: OrgMember,
    state: web::Data<AppState>,
    query: web::Query<RunQuery>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    Ok(HttpResponse::Ok().json(runs::list(&mut pooled.conn(), access.org_id, &query).await?))
}

async fn get(
    _access: OrgMember,
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    Ok(HttpResponse::Ok().json(runs::get(&mut pooled.conn(), Id(*path)).await?))
}

async fn events(
    _access: OrgMember,
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let items = runs::events(&mut pooled.conn(), Id(*path)).await?;
    Ok(HttpResponse::Ok().json(protocol::Page {
        items,
        next_cursor: None,
    }))
}

async fn cancel(
    request: HttpRequest,
    access: OrgOperator,
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let actor = actor_of(&request, Some(&access.caller));
    Ok(HttpResponse::Ok().json(runs::cancel(&mut pooled.conn(), actor, Id(*path)).await?))
}
