//! An org's settings: `GET /api/v1/orgs/{org}/settings` and `PATCH` the same.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::openapi::{BodyErrors, Forbidden, NotFound, ServerErrors, Unauthenticated};
use super::{AppState, actor_of};
use crate::auth::roles::{OrgAdmin, OrgMember};
use crate::db::{self, Id};
use crate::error::Error;
use crate::service::audit::{self, Entry};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orgs/{org}/settings", web::get().to(get))
        .route("/orgs/{org}/settings", web::patch().to(update));
}

/// What an org decides for itself.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
struct Settings {
    /// Approving an approval of a run one started oneself is refused (another approver decides).
    forbid_self_approval: bool,
}

/// Settings to change; those left out stay.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SettingsChange {
    forbid_self_approval: Option<bool>,
}

async fn settings(state: &AppState, org: Id) -> Result<Settings, Error> {
    let mut pooled = state.pool.get().await?;
    let org = db::orgs::find(&mut pooled.conn(), org).await?;
    Ok(Settings {
        forbid_self_approval: org.forbid_self_approval,
    })
}

/// The org's settings.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/settings",
    operation_id = "getOrgSettings",
    tag = "members",
    params(("org" = uuid::Uuid, Path, description = "The org's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The settings", body = Settings),
        Unauthenticated,
        NotFound,
        ServerErrors,
    )
)]
async fn get(access: OrgMember, state: web::Data<AppState>) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(settings(&state, access.org_id).await?))
}

/// Changes the org's settings (its admins).
#[utoipa::path(
    patch,
    path = "/api/v1/orgs/{org}/settings",
    operation_id = "updateOrgSettings",
    tag = "members",
    params(("org" = uuid::Uuid, Path, description = "The org's id")),
    request_body = SettingsChange,
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The settings, changed", body = Settings),
        BodyErrors,
        Unauthenticated,
        Forbidden,
        NotFound,
        ServerErrors,
    )
)]
async fn update(
    request: HttpRequest,
    access: OrgAdmin,
    state: web::Data<AppState>,
    body: web::Json<SettingsChange>,
) -> Result<HttpResponse, Error> {
    let actor = actor_of(&request, Some(&access.caller));
    if let Some(forbid) = body.forbid_self_approval {
        let mut pooled = state.pool.get().await?;
        db::transaction(&mut pooled.conn(), async |tx| {
            db::orgs::set_forbid_self_approval(tx, access.org_id, forbid).await?;
            audit::record(
                tx,
                Entry {
                    actor: actor.user,
                    org: Some(access.org_id),
                    action: "org.settings",
                    target: format!("org:{}", access.org_id.0),
                    change: json!({"forbid_self_approval": forbid}),
                    client_addr: actor.client_addr.clone(),
                },
            )
            .await
        })
        .await?;
    }
    Ok(HttpResponse::Ok().json(settings(&state, access.org_id).await?))
}
