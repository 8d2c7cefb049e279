//! Approvals: `GET /api/v1/orgs/{org}/approvals`, `POST /api/v1/orgs/{org}/approvals/{approval}/approve`
//! and `…/reject`.

use actix_web::{HttpRequest, HttpResponse, web};

use super::openapi::{BadRequest, BodyErrors, Conflict, Forbidden, NotFound, ServerErrors, Unauthenticated};
use super::{AppState, actor_of};
use crate::auth::roles::{OrgApprover, OrgMember};
use crate::db::Id;
use crate::error::Error;
use crate::service::approvals::{self, ApprovalQuery, ApprovalView, Decision};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orgs/{org}/approvals", web::get().to(list))
        .route(
            "/orgs/{org}/approvals/{approval}/approve",
            web::post().to(approve),
        )
        .route("/orgs/{org}/approvals/{approval}/reject", web::post().to(reject));
}

/// The org's approvals, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/approvals",
    operation_id = "listApprovals",
    tag = "approvals",
    params(("org" = uuid::Uuid, Path, description = "The org's id"), ApprovalQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of approvals", body = protocol::Page<ApprovalView>),
        BadRequest,
        Unauthenticated,
        NotFound,
        ServerErrors,
    )
)]
async fn list(
    access: OrgMember,
    state: web::Data<AppState>,
    query: web::Query<ApprovalQuery>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    Ok(HttpResponse::Ok().json(approvals::list(&mut pooled.conn(), access.org_id, &query).await?))
}

/// Approves: the run resumes from its checkpoint (the org's admins and approvers). Final.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/approvals/{approval}/approve",
    operation_id = "approve",
    tag = "approvals",
    params(
        ("org" = uuid::Uuid, Path, description = "The org's id"),
        ("approval" = uuid::Uuid, Path, description = "The approval's id"),
    ),
    request_body(content = Decision, description = "An optional comment"),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The approval, approved", body = ApprovalView),
        BodyErrors,
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        ServerErrors,
    )
)]
async fn approve(
    request: HttpRequest,
    access: OrgApprover,
    state: web::Data<AppState>,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
    body: Option<web::Json<Decision>>,
) -> Result<HttpResponse, Error> {
    decide(&request, access, &state, path.1, true, body).await
}

/// Rejects: the run ends `failed` with the comment (the org's admins and approvers). Final.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/approvals/{approval}/reject",
    operation_id = "reject",
    tag = "approvals",
    params(
        ("org" = uuid::Uuid, Path, description = "The org's id"),
        ("approval" = uuid::Uuid, Path, description = "The approval's id"),
    ),
    request_body(content = Decision, description = "Why (required)"),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The approval, rejected", body = ApprovalView),
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
    access: OrgApprover,
    state: web::Data<AppState>,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
    body: Option<web::Json<Decision>>,
) -> Result<HttpResponse, Error> {
    decide(&request, access, &state, path.1, false, body).await
}

async fn decide(
    request: &HttpRequest,
    access: OrgApprover,
    state: &AppState,
    approval: uuid::Uuid,
    approve: bool,
    body: Option<web::Json<Decision>>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let actor = actor_of(request, Some(&access.caller));
    let decision = body.map(web::Json::into_inner).unwrap_or_default();
    let decided = approvals::decide(
        &mut pooled.conn(),
        actor,
        access.org_id,
        Id(approval),
        approve,
        decision,
    )
    .await?;
    if approve {
        state.wake.task_queued(Id(decided.deployment_id));
    }
    state.run_changed.work_arrived();
    Ok(HttpResponse::Ok().json(decided))
}
