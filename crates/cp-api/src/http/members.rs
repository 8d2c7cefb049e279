//! `/api/v1/orgs/{org}/members`: who belongs to an org, managed by its admins.

use actix_web::{HttpRequest, HttpResponse, web};
use protocol::FieldError;
use serde::{Deserialize, Serialize};

use super::openapi::{BodyErrors, Conflict, Forbidden, NotFound, ServerErrors, Unauthenticated};
use super::{AppState, actor_of};
use crate::auth::roles::{OrgAdmin, OrgMember, Role};
use crate::db::Id;
use crate::error::Error;
use crate::service::accounts::{self, MemberView};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orgs/{org}/members", web::get().to(list))
        .route("/orgs/{org}/members", web::post().to(add))
        .route("/orgs/{org}/members/{user}", web::patch().to(change_role))
        .route("/orgs/{org}/members/{user}", web::delete().to(remove));
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewMember {
    /// An existing user's email.
    email: String,
    #[schema(value_type = Role)]
    role: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RoleChange {
    #[schema(value_type = Role)]
    role: String,
}

/// A member's new role.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct RoleChanged {
    user_id: uuid::Uuid,
    role: Role,
}

fn role(text: &str) -> Result<Role, Error> {
    text.parse()
        .map_err(|message: String| Error::Validation(vec![FieldError::new("role", message)]))
}

/// The org's members.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/members",
    operation_id = "listMembers",
    tag = "members",
    params(("org" = uuid::Uuid, Path, description = "The org's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The members", body = protocol::Page<MemberView>),
        Unauthenticated,
        NotFound,
        ServerErrors,
    )
)]
async fn list(access: OrgMember, state: web::Data<AppState>) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let members = accounts::members(&mut pooled.conn(), access.org_id).await?;
    Ok(HttpResponse::Ok().json(protocol::Page {
        items: members,
        next_cursor: None,
    }))
}

/// Adds an existing user to the org in a role (the org's admins).
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/members",
    operation_id = "addMember",
    tag = "members",
    params(("org" = uuid::Uuid, Path, description = "The org's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "The new member", body = MemberView),
        BodyErrors,
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        ServerErrors,
    )
)]
async fn add(
    request: HttpRequest,
    access: OrgAdmin,
    state: web::Data<AppState>,
    body: web::Json<NewMember>,
) -> Result<HttpResponse, Error> {
    let role = role(&body.role)?;
    let mut pooled = state.pool.get().await?;
    let actor = actor_of(&request, Some(&access.caller));
    let member = accounts::add_member(&mut pooled.conn(), actor, access.org_id, &body.email, role).await?;
    Ok(HttpResponse::Created().json(member))
}

/// Changes a member's role (the org's admins); the org always keeps an admin.
#[utoipa::path(
    patch,
    path = "/api/v1/orgs/{org}/members/{user}",
    operation_id = "changeMemberRole",
    tag = "members",
    params(
        ("org" = uuid::Uuid, Path, description = "The org's id"),
        ("user" = uuid::Uuid, Path, description = "The member's user id"),
    ),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The member's new role", body = RoleChanged),
        BodyErrors,
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        ServerErrors,
    )
)]
async fn change_role(
    request: HttpRequest,
    access: OrgAdmin,
    state: web::Data<AppState>,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
    body: web::Json<RoleChange>,
) -> Result<HttpResponse, Error> {
    let role = role(&body.role)?;
    let mut pooled = state.pool.get().await?;
    let actor = actor_of(&request, Some(&access.caller));
    accounts::change_role(&mut pooled.conn(), actor, access.org_id, Id(path.1), role).await?;
    Ok(HttpResponse::Ok().json(RoleChanged {
        user_id: path.1,
        role,
    }))
}

/// Removes a member from the org (the org's admins); the org always keeps an admin.
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/members/{user}",
    operation_id = "removeMember",
    tag = "members",
    params(
        ("org" = uuid::Uuid, Path, description = "The org's id"),
        ("user" = uuid::Uuid, Path, description = "The member's user id"),
    ),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "Removed"),
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        ServerErrors,
    )
)]
async fn remove(
    request: HttpRequest,
    access: OrgAdmin,
    state: web::Data<AppState>,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    accounts::remove_member(
        &mut pooled.conn(),
        actor_of(&request, Some(&access.caller)),
        access.org_id,
        Id(path.1),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
