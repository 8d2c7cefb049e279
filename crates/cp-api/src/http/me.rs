//! `GET /api/v1/me`: who the credentials belong to, and their orgs.

use actix_web::{HttpResponse, web};
use protocol::{OrgId, UserId};
use serde::Serialize;

use super::AppState;
use crate::auth::Caller;
use crate::db;
use crate::error::Error;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/me", web::get().to(me));
}

#[derive(Debug, Serialize)]
struct Me {
    id: UserId,
    email: String,
    is_platform_admin: bool,
    memberships: Vec<MembershipView>,
}

#[derive(Debug, Serialize)]
struct MembershipView {
    org_id: OrgId,
    org_name: String,
    role: String,
}

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
