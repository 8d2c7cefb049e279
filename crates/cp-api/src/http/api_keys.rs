//! `/api/v1/me/api-keys`: a user's keys for scripts.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::openapi::{BodyErrors, NotFound, ServerErrors, Unauthenticated};
use super::{AppState, actor_of};
use crate::auth::Caller;
use crate::db::{self, Id};
use crate::error::Error;
use crate::service::accounts::{self, ApiKeyView, CreatedApiKey};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/me/api-keys", web::get().to(list))
        .route("/me/api-keys", web::post().to(create))
        .route("/me/api-keys/{key}", web::delete().to(revoke));
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewKey {
    /// 1 to 100 characters, to tell keys apart.
    name: String,
}

/// The caller's API keys, revoked ones included; never their secrets.
#[utoipa::path(
    get,
    path = "/api/v1/me/api-keys",
    operation_id = "listApiKeys",
    tag = "me",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The keys", body = protocol::Page<ApiKeyView>),
        Unauthenticated,
        ServerErrors,
    )
)]
async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let keys: Vec<ApiKeyView> = db::api_keys::of_user(&mut pooled.conn(), caller.user_id)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(HttpResponse::Ok().json(protocol::Page {
        items: keys,
        next_cursor: None,
    }))
}

/// Creates an API key; its secret is in this answer and nowhere else.
#[utoipa::path(
    post,
    path = "/api/v1/me/api-keys",
    operation_id = "createApiKey",
    tag = "me",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "The new key, with its secret", body = CreatedApiKey),
        BodyErrors,
        Unauthenticated,
        ServerErrors,
    )
)]
async fn create(
    request: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<NewKey>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let created = accounts::create_api_key(
        &mut pooled.conn(),
        actor_of(&request, Some(&caller)),
        caller.user_id,
        &body.name,
    )
    .await?;
    Ok(HttpResponse::Created().json(created))
}

/// Revokes one of the caller's API keys.
#[utoipa::path(
    delete,
    path = "/api/v1/me/api-keys/{key}",
    operation_id = "revokeApiKey",
    tag = "me",
    params(("key" = uuid::Uuid, Path, description = "The key's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "Revoked"),
        Unauthenticated,
        NotFound,
        ServerErrors,
    )
)]
async fn revoke(
    request: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    key: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    accounts::revoke_api_key(
        &mut pooled.conn(),
        actor_of(&request, Some(&caller)),
        caller.user_id,
        Id(*key),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
