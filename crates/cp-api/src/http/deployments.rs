//! Installs and deployments: `/api/v1/orgs/{org}/install`, `/api/v1/orgs/{org}/deployments`,
//! `/api/v1/deployments/{deployment}` and a BYOC deployment's bundle.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::openapi::{
    BadRequest, BodyErrors, Conflict, Forbidden, Invalid, NotFound, ServerErrors, Unauthenticated,
};
use super::{AppState, actor_of};
use crate::auth::roles::{OrgMember, OrgOperator};
use crate::error::Error;
use crate::service::bundle::{self, BundleRequest};
use crate::service::installs::{self, DeploymentView, Install, Installed};

/// The header that carries a freshly rotated data-plane credential, beside a bundle.
pub const CREDENTIAL_HEADER: &str = "x-deployment-credential";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orgs/{org}/install", web::post().to(install))
        .route("/orgs/{org}/deployments", web::get().to(list))
        .route("/deployments/{deployment}", web::get().to(get))
        .route("/deployments/{deployment}", web::delete().to(uninstall))
        .route("/deployments/{deployment}/upgrade", web::post().to(upgrade))
        .route("/deployments/{deployment}/rollback", web::post().to(rollback))
        .route("/deployments/{deployment}/bundle", web::get().to(get_bundle));
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct BundleQuery {
    /// Issue a fresh data-plane credential, returned once in the `X-Deployment-Credential` header; the old
    /// one stops working.
    #[serde(default)]
    rotate_credential: bool,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Include uninstalled deployments.
    #[serde(default)]
    include_uninstalled: bool,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Upgrade {
    /// A published version.
    version: String,
    /// The scopes to grant; without them, the current grants the new version still asks for.
    granted_permissions: Option<Vec<String>>,
}

/// Installs a published version as a deployment (the org's admins and operators).
///
/// The answer holds the deployment's data-plane `credential`, shown this once.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/install",
    operation_id = "install",
    tag = "deployments",
    params(("org" = uuid::Uuid, Path, description = "The org's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "The new deployment, with its data-plane credential", body = Installed),
        BodyErrors,
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        ServerErrors,
    )
)]
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

/// The org's deployments.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/deployments",
    operation_id = "listDeployments",
    tag = "deployments",
    params(("org" = uuid::Uuid, Path, description = "The org's id"), ListQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The deployments", body = protocol::Page<DeploymentView>),
        Unauthenticated,
        NotFound,
        ServerErrors,
    )
)]
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

/// One deployment (any member of its org).
#[utoipa::path(
    get,
    path = "/api/v1/deployments/{deployment}",
    operation_id = "getDeployment",
    tag = "deployments",
    params(("deployment" = uuid::Uuid, Path, description = "The deployment's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The deployment", body = DeploymentView),
        Unauthenticated,
        NotFound,
        ServerErrors,
    )
)]
async fn get(
    _access: OrgMember,
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    Ok(HttpResponse::Ok().json(installs::get(&mut pooled.conn(), deployment_id(&path)).await?))
}

/// Moves a deployment to another published version (the org's admins and operators). Runs created from
/// then on run it; runs created before keep the version they were created under.
#[utoipa::path(
    post,
    path = "/api/v1/deployments/{deployment}/upgrade",
    operation_id = "upgradeDeployment",
    tag = "deployments",
    params(("deployment" = uuid::Uuid, Path, description = "The deployment's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The deployment, upgraded", body = DeploymentView),
        BodyErrors,
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        ServerErrors,
    )
)]
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

/// Returns a deployment to the version before its last upgrade (the org's admins and operators).
#[utoipa::path(
    post,
    path = "/api/v1/deployments/{deployment}/rollback",
    operation_id = "rollBackDeployment",
    tag = "deployments",
    params(("deployment" = uuid::Uuid, Path, description = "The deployment's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The deployment, rolled back", body = DeploymentView),
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        ServerErrors,
    )
)]
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

/// Uninstalls a deployment (the org's admins and operators).
///
/// Its runs are cancelled and its data-plane credential stops working; the deployment is kept for history.
#[utoipa::path(
    delete,
    path = "/api/v1/deployments/{deployment}",
    operation_id = "uninstall",
    tag = "deployments",
    params(("deployment" = uuid::Uuid, Path, description = "The deployment's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The deployment, uninstalled", body = DeploymentView),
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        ServerErrors,
    )
)]
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

/// A BYOC deployment's bundle (the org's admins and operators).
///
/// A `.tar.gz` with the data-plane Helm chart, its `values.yaml` for this deployment, the Terraform modules
/// with a `terraform.tfvars` for the cloud the install's `config.cloud` names (`gke`, `eks` or `aks`;
/// `eks` when none), and a README with the commands to install it. The credential is never inside; with
/// `rotate_credential=true` a fresh one comes in the `X-Deployment-Credential` header, shown this once.
#[utoipa::path(
    get,
    path = "/api/v1/deployments/{deployment}/bundle",
    operation_id = "getDeploymentBundle",
    tag = "deployments",
    params(("deployment" = uuid::Uuid, Path, description = "The deployment's id"), BundleQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The bundle, a gzipped tar archive", content_type = "application/gzip",
         body = Vec<u8>,
         headers(
             ("Content-Disposition" = String, description = "attachment; filename=\"byoc-<deployment>.tar.gz\""),
             ("X-Deployment-Credential" = String, description = "Only with rotate_credential=true: the fresh credential"),
         )),
        BadRequest,
        Invalid,
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        ServerErrors,
    )
)]
async fn get_bundle(
    request: HttpRequest,
    access: OrgOperator,
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
    query: web::Query<BundleQuery>,
) -> Result<HttpResponse, Error> {
    let control_plane_url = state.public_base(&request);
    let mut pooled = state.pool.get().await?;
    let actor = actor_of(&request, Some(&access.caller));
    let made = bundle::bundle(
        &mut pooled.conn(),
        actor,
        deployment_id(&path),
        BundleRequest {
            control_plane_url,
            rotate_credential: query.rotate_credential,
        },
    )
    .await?;
    let mut response = HttpResponse::Ok();
    response
        .content_type("application/gzip")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", made.file_name),
        ))
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"));
    if let Some(credential) = made.credential {
        response.insert_header((CREDENTIAL_HEADER, credential));
    }
    Ok(response.body(made.bytes))
}
