//! The catalog: public reads under `/api/v1/agents`, developers' writes under `/api/v1/orgs/{org}/agents`,
//! publishing and rejecting by platform admins.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};
use manifest::Format;
use serde::Deserialize;

use super::openapi::{
    BadRequest, BodyErrors, Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge, ServerErrors,
    Unauthenticated, UnsupportedMediaType,
};
use super::{AppState, actor_of};
use crate::auth::roles::{OrgDeveloper, PlatformAdmin};
use crate::auth::{Caller, MaybeCaller};
use crate::db::Id;
use crate::error::Error;
use crate::service::browse::{self, AgentDetail, AgentSummary, CatalogQuery};
use crate::service::catalog::{self, VersionView};
use crate::service::reviews::{self, ReviewView};

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

/// Searches the catalog: published, listed agents.
#[utoipa::path(
    get,
    path = "/api/v1/agents",
    operation_id = "searchAgents",
    tag = "agents",
    params(CatalogQuery),
    responses(
        (status = 200, description = "A page of matching listings", body = protocol::Page<AgentSummary>),
        BadRequest,
        ServerErrors,
    )
)]
async fn list(state: web::Data<AppState>, query: web::Query<CatalogQuery>) -> Result<HttpResponse, Error> {
    // The turn comes first, so searches waiting for one hold no connection.
    let _turn = state
        .searches
        .acquire()
        .await
        .map_err(|_| Error::Unavailable("the service is shutting down".to_owned()))?;
    let mut pooled = state.pool.get().await?;
    Ok(HttpResponse::Ok().json(browse::list(&mut pooled.conn(), &query).await?))
}

/// An agent with its versions and current manifest; its owners and platform admins also see drafts.
#[utoipa::path(
    get,
    path = "/api/v1/agents/{agent_id}",
    operation_id = "getAgent",
    tag = "agents",
    params(
        ("agent_id" = String, Path, description = "The agent's reverse-DNS id"),
    ),
    security((), ("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The agent", body = AgentDetail),
        Unauthenticated,
        NotFound,
        ServerErrors,
    )
)]
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

/// Submits a manifest as a draft version (the org's admins and developers).
///
/// 201 for a new draft, 200 when the same content was already stored.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/agents",
    operation_id = "submitManifest",
    tag = "agents",
    params(("org" = uuid::Uuid, Path, description = "The org's id")),
    request_body(
        description = "An agent manifest, as YAML or JSON",
        content((String = "application/yaml"), (Object = "application/json")),
    ),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "A new draft version", body = VersionView),
        (status = 200, description = "The same content again: nothing changed", body = VersionView),
        BadRequest,
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        PayloadTooLarge,
        UnsupportedMediaType,
        Invalid,
        ServerErrors,
    )
)]
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

/// Submits a draft for review (the org's admins and developers).
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/agents/{agent_id}/versions/{version}/submit",
    operation_id = "submitVersionForReview",
    tag = "agents",
    params(
        ("org" = uuid::Uuid, Path, description = "The org's id"),
        ("agent_id" = String, Path, description = "The agent's reverse-DNS id"),
        ("version" = String, Path, description = "A semantic version", example = "1.0.0"),
    ),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The version, now in review", body = VersionView),
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        ServerErrors,
    )
)]
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

/// Deprecates a published version (the org's admins and developers); the previous one becomes current.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/agents/{agent_id}/versions/{version}/deprecate",
    operation_id = "deprecateVersion",
    tag = "agents",
    params(
        ("org" = uuid::Uuid, Path, description = "The org's id"),
        ("agent_id" = String, Path, description = "The agent's reverse-DNS id"),
        ("version" = String, Path, description = "A semantic version", example = "1.0.0"),
    ),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The version, now deprecated", body = VersionView),
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        ServerErrors,
    )
)]
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

/// Deletes a draft or rejected version (the org's admins and developers).
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/agents/{agent_id}/versions/{version}",
    operation_id = "deleteVersion",
    tag = "agents",
    params(
        ("org" = uuid::Uuid, Path, description = "The org's id"),
        ("agent_id" = String, Path, description = "The agent's reverse-DNS id"),
        ("version" = String, Path, description = "A semantic version", example = "1.0.0"),
    ),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        ServerErrors,
    )
)]
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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Publish {
    version: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Reject {
    version: String,
    reason: String,
}

/// Publishes a version under review (platform admins); it becomes the listing's current version.
#[utoipa::path(
    post,
    path = "/api/v1/agents/{agent_id}/publish",
    operation_id = "publishVersion",
    tag = "agents",
    params(
        ("agent_id" = String, Path, description = "The agent's reverse-DNS id"),
    ),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The version, now published", body = VersionView),
        BodyErrors,
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        ServerErrors,
    )
)]
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

/// Rejects a version under review, with the reason (platform admins).
#[utoipa::path(
    post,
    path = "/api/v1/agents/{agent_id}/reject",
    operation_id = "rejectVersion",
    tag = "agents",
    params(
        ("agent_id" = String, Path, description = "The agent's reverse-DNS id"),
    ),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The version, now rejected", body = VersionView),
        BodyErrors,
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        ServerErrors,
    )
)]
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ReviewsQuery {
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size.
    limit: Option<i64>,
}

/// A listed agent's reviews, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/agents/{agent_id}/reviews",
    operation_id = "listReviews",
    tag = "reviews",
    params(
        ReviewsQuery,
        ("agent_id" = String, Path, description = "The agent's reverse-DNS id"),
    ),
    responses(
        (status = 200, description = "A page of reviews", body = protocol::Page<ReviewView>),
        BadRequest,
        NotFound,
        ServerErrors,
    )
)]
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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ReviewBody {
    /// 1 to 5.
    #[schema(minimum = 1, maximum = 5)]
    stars: i32,
    /// At most 5000 characters.
    #[serde(default)]
    body: String,
}

/// Creates or edits the caller's review.
///
/// Members of an org with the agent installed may review it, except members of the publishing org.
#[utoipa::path(
    put,
    path = "/api/v1/agents/{agent_id}/reviews/mine",
    operation_id = "putMyReview",
    tag = "reviews",
    params(
        ("agent_id" = String, Path, description = "The agent's reverse-DNS id"),
    ),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "A new review", body = ReviewView),
        (status = 200, description = "The review, edited", body = ReviewView),
        BodyErrors,
        Unauthenticated,
        Forbidden,
        NotFound,
        ServerErrors,
    )
)]
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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Reply {
    body: String,
}

/// Replies to a review of the org's agent (the org's admins and developers).
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/agents/{agent_id}/reviews/{review}/reply",
    operation_id = "replyToReview",
    tag = "reviews",
    params(
        ("org" = uuid::Uuid, Path, description = "The org's id"),
        ("agent_id" = String, Path, description = "The agent's reverse-DNS id"),
        ("review" = uuid::Uuid, Path, description = "The review's id"),
    ),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The review, with its reply", body = ReviewView),
        BodyErrors,
        Unauthenticated,
        Forbidden,
        NotFound,
        ServerErrors,
    )
)]
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
