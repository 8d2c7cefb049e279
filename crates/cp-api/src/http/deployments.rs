//! Installs and deployments: `/api/v1/orgs/{org}/install`, `/api/v1/orgs/{org}/deployments` and
//! `/api/v1/deployments/{deployment}`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::{AppState, actor_of};
use crate::auth::roles::{OrgMember, OrgOperator};
use crate::error::Error;
use crate::service::installs::{self, Install};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orgs/{org}/install", web::post().to(install))
        .route("/orgs/{org}/deployments", web::get().to(list))
        .route("/deployments/{deployment}", web::get().to(get))
        .route("/deployments/{deployment}", web::delete().to(uninstall))
        .route("/deployments/{deployment}/upgrade", web::post().to(upgrade))
        .route("/deployments/{deployment}/rollback", web::post().to(rollback));
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// Include uninstalled deployments.
    #[serde(default)]
    include_uninstalled: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Upgrade {
    version: String,
    granted_permissions: Option<Vec<String>>,
}

async fn install(
    request: HttpRequest,
    access: OrgOperator,
    state: web::Data<AppState>,
    body: web::Json<Install>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let actor = actor_of(&request, Some(&access.caller));
    let installed = installs::install(&mut pooled.conn(), actor, access.org_id, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(installed))
}

async fn list(
    access: OrgMember,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let items = installs::list(&mut pooled.conn(), access.org_id, query.include_uninstalled).await?;
    Ok(HttpResponse::Ok().json(protocol::Page {
        items,
        next_cursor: None,
    }))
}

/// The deployment the route names; the role extractor has already resolved it to an org the caller may act
/// in, so a well-formed id is certain here.
fn deployment_id(path: &web::Path<uuid::Uuid>) -> crate::db::Id {
    crate::db::Id(**path)
}

async fn get(
    _access: OrgMember,
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    Ok(HttpResponse::Ok().json(installs::get(&mut pooled.conn(), deployment_id(&path)).await?))
}

async fn upgrade(
    request: HttpRequest,
    access: OrgOperator,
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
    body: web::Json<Upgrade>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let actor = actor_of(&request, Some(&access.caller));
    let Upgrade {
        version,
        granted_permissions,
    } = body.into_inner();
    let upgraded = installs::upgrade(
        &mut pooled.conn(),
        actor,
        deployment_id(&path),
        &version,
        granted_permissions,
    )
    .await?;
    Ok(HttpResponse::Ok().json(upgraded))
}

async fn rollback(
    request: HttpRequest,
    access: OrgOperator,
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let actor = actor_of(&request, Some(&access.caller));
    Ok(HttpResponse::Ok().json(installs::rollback(&mut pooled.conn(), actor, deployment_id(&path)).await?))
}

async fn uninstall(
    request: HttpRequest,
    access: OrgOperator,
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let actor = actor_of(&request, Some(&access.caller));
    Ok(HttpResponse::Ok().json(installs::uninstall(&mut pooled.conn(), actor, deployment_id(&path)).await?))
}
