//! `/api/v1/me/api-keys`: a user's keys for scripts.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::{AppState, actor_of};
use crate::auth::Caller;
use crate::db::{self, Id};
use crate::error::Error;
use crate::service::accounts::{self, ApiKeyView};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/me/api-keys", web::get().to(list))
        .route("/me/api-keys", web::post().to(create))
        .route("/me/api-keys/{key}", web::delete().to(revoke));
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    name: String,
}

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
