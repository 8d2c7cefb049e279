//! An org's settings: `GET /api/v1/orgs/{org}/settings` and `PATCH` the same.

use actix_web::{HttpRequest, HttpResponse, web};
use protocol::{FieldError, Money};
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
    /// Runs the org may start per UTC month (more are refused with 429 until the month resets); none:
    /// unlimited.
    monthly_run_quota: Option<i64>,
    /// What the org may be charged per UTC month, in dollars (a run that would pass it is refused with
    /// 402); none: unlimited.
    #[schema(value_type = Option<String>, example = "500.00")]
    monthly_spend_cap: Option<Money>,
}

/// Settings to change; those left out stay, and `null` removes a limit.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SettingsChange {
    forbid_self_approval: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    monthly_run_quota: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    monthly_spend_cap: Option<Option<Money>>,
}

/// A field that is present, `null` or not: told apart from one left out (`None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

async fn settings(state: &AppState, org: Id) -> Result<Settings, Error> {
    let mut pooled = state.pool.get().await?;
    let org = db::orgs::find(&mut pooled.conn(), org).await?;
    Ok(Settings {
        forbid_self_approval: org.forbid_self_approval,
        monthly_run_quota: org.monthly_run_quota,
        monthly_spend_cap: org.monthly_spend_cap_micros.map(Money::from_micros),
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
    let mut errors = Vec::new();
    if let Some(Some(quota)) = body.monthly_run_quota
        && quota < 0
    {
        errors.push(FieldError::new("monthly_run_quota", "is negative"));
    }
    if let Some(Some(cap)) = body.monthly_spend_cap
        && cap < Money::ZERO
    {
        errors.push(FieldError::new("monthly_spend_cap", "is negative"));
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let mut pooled = state.pool.get().await?;
    db::transaction(&mut pooled.conn(), async |tx| {
        let org = db::orgs::find(tx, access.org_id).await?;
        let mut change = serde_json::Map::new();
        if let Some(forbid) = body.forbid_self_approval {
            db::orgs::set_forbid_self_approval(tx, org.id, forbid).await?;
            change.insert("forbid_self_approval".to_owned(), json!(forbid));
        }
        if body.monthly_run_quota.is_some() || body.monthly_spend_cap.is_some() {
            let quota = body.monthly_run_quota.unwrap_or(org.monthly_run_quota);
            let cap = body
                .monthly_spend_cap
                .map_or(org.monthly_spend_cap_micros, |cap| cap.map(Money::micros));
            db::orgs::set_limits(tx, org.id, quota, cap).await?;
            change.insert("monthly_run_quota".to_owned(), json!(quota));
            change.insert("monthly_spend_cap_micros".to_owned(), json!(cap));
        }
        if change.is_empty() {
            return Ok(());
        }
        audit::record(
            tx,
            Entry {
                actor: actor.user,
                org: Some(org.id),
                action: "org.settings",
                target: format!("org:{}", org.id.0),
                change: change.into(),
                client_addr: actor.client_addr.clone(),
            },
        )
        .await
    })
    .await?;
    Ok(HttpResponse::Ok().json(settings(&state, access.org_id).await?))
}
