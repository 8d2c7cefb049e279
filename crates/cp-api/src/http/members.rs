//! `/api/v1/orgs/{org}/members`: who belongs to an org, managed by its admins.

use actix_web::{HttpRequest, HttpResponse, web};
use protocol::FieldError;
use serde::Deserialize;

use super::{AppState, actor_of};
use crate::auth::roles::{OrgAdmin, OrgMember, Role};
use crate::db::Id;
use crate::error::Error;
use crate::service::accounts;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orgs/{org}/members", web::get().to(list))
        .route("/orgs/{org}/members", web::post().to(add))
        .route("/orgs/{org}/members/{user}", web::patch().to(change_role))
        .route("/orgs/{org}/members/{user}", web::delete().to(remove));
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewMember {
    email: String,
    role: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleChange {
    role: String,
}

fn role(text: &str) -> Result<Role, Error> {
    text.parse()
        .map_err(|message: String| Error::Validation(vec![FieldError::new("role", message)]))
}

async fn list(access: OrgMember, state: web::Data<AppState>) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let members = accounts::members(&mut pooled.conn(), access.org_id).await?;
    Ok(HttpResponse::Ok().json(protocol::Page {
        items: members,
        next_cursor: None,
    }))
}

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
    Ok(HttpResponse::Ok().json(serde_json::json!({"user_id": path.1, "role": role})))
}

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
