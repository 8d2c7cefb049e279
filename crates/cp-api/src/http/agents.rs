//! The catalog: public reads under `/api/v1/agents`, developers' writes under `/api/v1/orgs/{org}/agents`,
//! publishing and rejecting by platform admins.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};
use manifest::Format;
use serde::Deserialize;

use super::{AppState, actor_of};
use crate::auth::roles::{OrgDeveloper, PlatformAdmin};
use crate::auth::{Caller, MaybeCaller};
use crate::db::Id;
use crate::error::Error;
use crate::service::browse::{self, CatalogQuery};
use crate::service::{catalog, reviews};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/agents", web::get().to(list))
        .route("/agents/{agent_id}", web::get().to(detail))
        .route("/agents/{agent_id}/publish", web::post().to(publish))
        .route("/agents/{agent_id}/reject", web::post().to(reject))
        .route("/agents/{agent_id}/reviews", web::get().to(list_reviews))
        .route("/agents/{agent_id}/reviews/mine", web::put().to(put_review))
        .route("/orgs/{org}/agents", web::post().to(submit))
        .route(
            "/orgs/{org}/agents/{agent_id}/versions/{version}/submit",
            web::post().to(submit_for_review),
        )
        .route(
            "/orgs/{org}/agents/{agent_id}/versions/{version}/deprecate",
            web::post().to(deprecate),
        )
        .route(
            "/orgs/{org}/agents/{agent_id}/versions/{version}",
            web::delete().to(delete_draft),
        )
        .route(
            "/orgs/{org}/agents/{agent_id}/reviews/{review}/reply",
            web::post().to(reply),
        );
}

async fn list(state: web::Data<AppState>, query: web::Query<CatalogQuery>) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    Ok(HttpResponse::Ok().json(browse::list(&mut pooled.conn(), &query).await?))
}

async fn detail(
    caller: MaybeCaller,
    state: web::Data<AppState>,
    agent_id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    Ok(HttpResponse::Ok().json(browse::detail(&mut pooled.conn(), caller.0, &agent_id).await?))
}

/// The manifest's format, from the body's content type.
fn format_of(request: &HttpRequest) -> Result<Format, Error> {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => Ok(Format::Json),
        "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" => Ok(Format::Yaml),
        _ => Err(Error::UnsupportedMediaType(format!(
            "send the manifest as application/yaml or application/json, not {:?}",
            content_type
        ))),
    }
}

async fn submit(
    request: HttpRequest,
    access: OrgDeveloper,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let format = format_of(&request)?;
    let kinds: Vec<&str> = state.node_kinds.iter().map(String::as_str).collect();
    let mut pooled = state.pool.get().await?;
    let actor = actor_of(&request, Some(&access.caller));
    let submitted = catalog::submit(&mut pooled.conn(), actor, access.org_id, &body, format, &kinds).await?;
    let mut response = if submitted.changed {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(response.json(submitted.version))
}

type VersionPath = web::Path<(uuid::Uuid, String, String)>;

async fn submit_for_review(
    request: HttpRequest,
    access: OrgDeveloper,
    state: web::Data<AppState>,
    path: VersionPath,
) -> Result<HttpResponse, Error> {
    let (_, agent_id, version) = path.into_inner();
    let mut pooled = state.pool.get().await?;
    let actor = actor_of(&request, Some(&access.caller));
    Ok(HttpResponse::Ok().json(
        catalog::submit_for_review(&mut pooled.conn(), actor, access.org_id, &agent_id, &version).await?,
    ))
}

async fn deprecate(
    request: HttpRequest,
    access: OrgDeveloper,
    state: web::Data<AppState>,
    path: VersionPath,
) -> Result<HttpResponse, Error> {
    let (_, agent_id, version) = path.into_inner();
    let mut pooled = state.pool.get().await?;
    let actor = actor_of(&request, Some(&access.caller));
    Ok(HttpResponse::Ok()
        .json(catalog::deprecate(&mut pooled.conn(), actor, access.org_id, &agent_id, &version).await?))
}

async fn delete_draft(
    request: HttpRequest,
    access: OrgDeveloper,
    state: web::Data<AppState>,
    path: VersionPath,
) -> Result<HttpResponse, Error> {
    let (_, agent_id, version) = path.into_inner();
    let mut pooled = state.pool.get().await?;
    let actor = actor_of(&request, Some(&access.caller));
    catalog::delete_draft(&mut pooled.conn(), actor, access.org_id, &agent_id, &version).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Publish {
    version: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Reject {
    version: String,
    reason: String,
}

async fn publish(
    request: HttpRequest,
    admin: PlatformAdmin,
    state: web::Data<AppState>,
    agent_id: web::Path<String>,
    body: web::Json<Publish>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let actor = actor_of(&request, Some(&admin.0));
    Ok(HttpResponse::Ok().json(catalog::publish(&mut pooled.conn(), actor, &agent_id, &body.version).await?))
}

async fn reject(
    request: HttpRequest,
    admin: PlatformAdmin,
    state: web::Data<AppState>,
    agent_id: web::Path<String>,
    body: web::Json<Reject>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let actor = actor_of(&request, Some(&admin.0));
    Ok(HttpResponse::Ok()
        .json(catalog::reject(&mut pooled.conn(), actor, &agent_id, &body.version, &body.reason).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewsQuery {
    cursor: Option<String>,
    limit: Option<i64>,
}

async fn list_reviews(
    state: web::Data<AppState>,
    agent_id: web::Path<String>,
    query: web::Query<ReviewsQuery>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let page = browse::reviews(
        &mut pooled.conn(),
        &agent_id,
        query.cursor.as_deref(),
        query.limit,
    )
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewBody {
    stars: i32,
    #[serde(default)]
    body: String,
}

async fn put_review(
    request: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    agent_id: web::Path<String>,
    body: web::Json<ReviewBody>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let actor = actor_of(&request, Some(&caller));
    let (review, created) =
        reviews::put(&mut pooled.conn(), actor, &agent_id, body.stars, &body.body).await?;
    let mut response = if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(response.json(review))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Reply {
    body: String,
}

async fn reply(
    request: HttpRequest,
    access: OrgDeveloper,
    state: web::Data<AppState>,
    path: web::Path<(uuid::Uuid, String, uuid::Uuid)>,
    body: web::Json<Reply>,
) -> Result<HttpResponse, Error> {
    let (_, agent_id, review) = path.into_inner();
    let mut pooled = state.pool.get().await?;
    let actor = actor_of(&request, Some(&access.caller));
    Ok(HttpResponse::Ok().json(
        reviews::reply(
            &mut pooled.conn(),
            actor,
            access.org_id,
            &agent_id,
            Id(review),
            &body.body,
        )
        .await?,
    ))
}
