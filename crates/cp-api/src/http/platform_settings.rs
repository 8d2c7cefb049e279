//! The platform's settings (platform admins): `GET /api/v1/platform/settings` and `PATCH` the same.

use actix_web::{HttpRequest, HttpResponse, web};
use protocol::FieldError;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::openapi::{BodyErrors, Forbidden, ServerErrors, Unauthenticated};
use super::{AppState, actor_of};
use crate::auth::roles::PlatformAdmin;
use crate::billing::{DEVELOPER_SHARE_SETTING, developer_share};
use crate::db;
use crate::error::Error;
use crate::service::audit::{self, Entry};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/platform/settings", web::get().to(get))
        .route("/platform/settings", web::patch().to(update));
}

/// What the platform decides.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
struct Settings {
    /// The developer's share of every charge from now on, in basis points (8,000 is 80%); the platform keeps
    /// the rest. Charges already made keep the share they were made with.
    developer_share_bps: i64,
}

/// Settings to change; those left out stay.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SettingsChange {
    developer_share_bps: Option<i64>,
}

async fn settings(state: &AppState) -> Result<Settings, Error> {
    let mut pooled = state.pool.get().await?;
    Ok(Settings {
        developer_share_bps: developer_share(&mut pooled.conn()).await?,
    })
}

/// The platform's settings.
#[utoipa::path(
    get,
    path = "/api/v1/platform/settings",
    operation_id = "getPlatformSettings",
    tag = "billing",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The settings", body = Settings),
        Unauthenticated,
        Forbidden,
        ServerErrors,
    )
)]
async fn get(_admin: PlatformAdmin, state: web::Data<AppState>) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(settings(&state).await?))
}

/// Changes the platform's settings, audited.
#[utoipa::path(
    patch,
    path = "/api/v1/platform/settings",
    operation_id = "updatePlatformSettings",
    tag = "billing",
    request_body = SettingsChange,
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The settings, changed", body = Settings),
        BodyErrors,
        Unauthenticated,
        Forbidden,
        ServerErrors,
    )
)]
async fn update(
    request: HttpRequest,
    admin: PlatformAdmin,
    state: web::Data<AppState>,
    body: web::Json<SettingsChange>,
) -> Result<HttpResponse, Error> {
    if let Some(share) = body.developer_share_bps {
        if !(0..=10_000).contains(&share) {
            return Err(Error::Validation(vec![FieldError::new(
                "developer_share_bps",
                format!("{share} is outside 0..=10000 basis points"),
            )]));
        }
        let actor = actor_of(&request, Some(&admin.0));
        let mut pooled = state.pool.get().await?;
        db::transaction(&mut pooled.conn(), async |tx| {
            db::settings::set(tx, DEVELOPER_SHARE_SETTING, share.to_string().as_bytes()).await?;
            audit::record(
                tx,
                Entry {
                    actor: actor.user,
                    org: None,
                    action: "platform.settings",
                    target: "platform".to_owned(),
                    change: json!({"developer_share_bps": share}),
                    client_addr: actor.client_addr.clone(),
                },
            )
            .await
        })
        .await?;
    }
    Ok(HttpResponse::Ok().json(settings(&state).await?))
}
