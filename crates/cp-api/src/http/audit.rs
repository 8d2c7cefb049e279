//! The audit log: `/api/v1/orgs/{org}/audit` for an org's admins, `/api/v1/audit` for platform admins.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::openapi::{BadRequest, Forbidden, NotFound, ServerErrors, Unauthenticated};
use crate::auth::Caller;
use crate::auth::roles::OrgAdmin;
use crate::db::audit::AuditRow;
use crate::db::{self, Id};
use crate::error::Error;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orgs/{org}/audit", web::get().to(org_log))
        .route("/audit", web::get().to(platform_log));
}

pub const DEFAULT_PAGE: i64 = 50;
pub const MAX_PAGE: i64 = 200;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PageQuery {
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// 1 to 200 (default 50).
    limit: Option<i64>,
}

/// One row of the audit log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct AuditView {
    seq: i64,
    at: chrono::DateTime<chrono::Utc>,
    actor_user_id: Option<uuid::Uuid>,
    org_id: Option<uuid::Uuid>,
    action: String,
    target: String,
    change_digest: String,
    client_addr: Option<String>,
    hash: String,
}

impl From<AuditRow> for AuditView {
    fn from(row: AuditRow) -> Self {
        Self {
            seq: row.seq,
            at: row.at.0,
            actor_user_id: row.actor_user_id.map(|id| id.0),
            org_id: row.org_id.map(|id| id.0),
            action: row.action,
            target: row.target,
            change_digest: row.change_digest,
            client_addr: row.client_addr,
            hash: hex::encode(row.hash),
        }
    }
}

/// The org's audit log, oldest first (the org's admins).
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/audit",
    operation_id = "orgAuditLog",
    tag = "audit",
    params(("org" = uuid::Uuid, Path, description = "The org's id"), PageQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of the log", body = protocol::Page<AuditView>),
        BadRequest,
        Unauthenticated,
        Forbidden,
        NotFound,
        ServerErrors,
    )
)]
async fn org_log(
    access: OrgAdmin,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, Error> {
    page(&state, Some(access.org_id), &query).await
}

/// The whole audit log, oldest first (platform admins).
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    operation_id = "platformAuditLog",
    tag = "audit",
    params(PageQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of the log", body = protocol::Page<AuditView>),
        BadRequest,
        Unauthenticated,
        Forbidden,
        ServerErrors,
    )
)]
async fn platform_log(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, Error> {
    if !caller.is_platform_admin {
        return Err(Error::Forbidden(
            "the whole audit log is for platform admins".to_owned(),
        ));
    }
    page(&state, None, &query).await
}

async fn page(state: &AppState, org: Option<Id>, query: &PageQuery) -> Result<HttpResponse, Error> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Error::BadRequest(format!(
            "limit must be between 1 and {MAX_PAGE}; it was {limit}"
        )));
    }
    let after = match &query.cursor {
        None => 0,
        Some(cursor) => cursor
            .parse::<i64>()
            .ok()
            .filter(|seq| *seq >= 0)
            .ok_or_else(|| Error::BadRequest(format!("{cursor:?} is not a cursor this list gave out")))?,
    };
    let mut pooled = state.pool.get().await?;
    let mut rows = db::audit::page(&mut pooled.conn(), org, after, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or_default());
    let next_cursor = more.then(|| rows.last().map(|row| row.seq.to_string())).flatten();
    let items: Vec<AuditView> = rows.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(protocol::Page { items, next_cursor }))
}
