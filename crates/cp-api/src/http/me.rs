//! `GET /api/v1/me`: who the credentials belong to, and their orgs.

use actix_web::{HttpResponse, web};
use protocol::{OrgId, UserId};
use serde::Serialize;

use super::AppState;
use super::openapi::{ServerErrors, Unauthenticated};
use crate::auth::Caller;
use crate::db;
use crate::error::Error;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/me", web::get().to(me));
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Me {
    id: UserId,
    email: String,
    is_platform_admin: bool,
    memberships: Vec<MembershipView>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct MembershipView {
    org_id: OrgId,
    org_name: String,
    #[schema(value_type = crate::auth::roles::Role)]
    role: String,
}

/// Who the credential belongs to, and the orgs they are a member of.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    operation_id = "me",
    tag = "me",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The caller", body = Me),
        Unauthenticated,
        ServerErrors,
    )
)]
async fn me(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let mut conn = pooled.conn();
    let user = db::users::find(&mut conn, caller.user_id).await?;
    let memberships = db::memberships::of_user(&mut conn, caller.user_id)
        .await?
        .into_iter()
        .map(|(membership, org_name)| MembershipView {
            org_id: membership.org_id.into(),
            org_name,
            role: membership.role,
        })
        .collect();
    Ok(HttpResponse::Ok().json(Me {
        id: user.id.into(),
        email: user.email,
        is_platform_admin: user.is_platform_admin,
        memberships,
    }))
}
