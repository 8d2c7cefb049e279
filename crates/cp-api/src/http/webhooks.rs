//! An org's webhooks (its admins): `/api/v1/orgs/{org}/webhooks`, one webhook, its secret and a ping, its
//! deliveries with their attempts, and sending one again.

use actix_web::{HttpRequest, HttpResponse, web};

use super::openapi::{BadRequest, BodyErrors, Conflict, Forbidden, NotFound, ServerErrors, Unauthenticated};
use super::{AppState, actor_of};
use crate::auth::roles::OrgAdmin;
use crate::db::Id;
use crate::error::Error;
use crate::service::webhooks::{
    self, DeliveryDetail, DeliveryQuery, DeliveryView, NewWebhook, WebhookChange, WebhookView,
    WebhookWithSecret,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orgs/{org}/webhooks", web::post().to(create))
        .route("/orgs/{org}/webhooks", web::get().to(list))
        .route("/orgs/{org}/webhooks/{webhook}", web::get().to(get))
        .route("/orgs/{org}/webhooks/{webhook}", web::patch().to(update))
        .route("/orgs/{org}/webhooks/{webhook}", web::delete().to(delete))
        .route(
            "/orgs/{org}/webhooks/{webhook}/secret",
            web::post().to(rotate_secret),
        )
        .route("/orgs/{org}/webhooks/{webhook}/ping", web::post().to(ping))
        .route(
            "/orgs/{org}/webhooks/{webhook}/deliveries",
            web::get().to(deliveries),
        )
        .route(
            "/orgs/{org}/webhooks/{webhook}/deliveries/{delivery}",
            web::get().to(delivery),
        )
        .route(
            "/orgs/{org}/webhooks/{webhook}/deliveries/{delivery}/redeliver",
            web::post().to(redeliver),
        );
}

/// Makes a webhook; its signing secret is in this answer only.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/webhooks",
    operation_id = "createWebhook",
    tag = "webhooks",
    params(("org" = uuid::Uuid, Path, description = "The org's id")),
    request_body = NewWebhook,
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "The webhook, with its secret", body = WebhookWithSecret),
        BodyErrors,
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        ServerErrors,
    )
)]
async fn create(
    request: HttpRequest,
    access: OrgAdmin,
    state: web::Data<AppState>,
    body: web::Json<NewWebhook>,
) -> Result<HttpResponse, Error> {
    let actor = actor_of(&request, Some(&access.caller));
    let mut pooled = state.pool.get().await?;
    let made = webhooks::create(
        &mut pooled.conn(),
        actor,
        access.org_id,
        body.into_inner(),
        state.webhook_policy,
    )
    .await?;
    Ok(HttpResponse::Created().json(made))
}

/// The org's webhooks, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/webhooks",
    operation_id = "listWebhooks",
    tag = "webhooks",
    params(("org" = uuid::Uuid, Path, description = "The org's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The webhooks", body = Vec<WebhookView>),
        Unauthenticated,
        Forbidden,
        NotFound,
        ServerErrors,
    )
)]
async fn list(access: OrgAdmin, state: web::Data<AppState>) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    Ok(HttpResponse::Ok().json(webhooks::list(&mut pooled.conn(), access.org_id).await?))
}

/// One webhook.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/webhooks/{webhook}",
    operation_id = "getWebhook",
    tag = "webhooks",
    params(
        ("org" = uuid::Uuid, Path, description = "The org's id"),
        ("webhook" = uuid::Uuid, Path, description = "The webhook's id"),
    ),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The webhook", body = WebhookView),
        Unauthenticated,
        Forbidden,
        NotFound,
        ServerErrors,
    )
)]
async fn get(
    access: OrgAdmin,
    state: web::Data<AppState>,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let found = webhooks::get(&mut pooled.conn(), access.org_id, Id(path.1)).await?;
    Ok(HttpResponse::Ok().json(found))
}

/// Changes a webhook: its URL, events, format, description, or whether it is active.
#[utoipa::path(
    patch,
    path = "/api/v1/orgs/{org}/webhooks/{webhook}",
    operation_id = "updateWebhook",
    tag = "webhooks",
    params(
        ("org" = uuid::Uuid, Path, description = "The org's id"),
        ("webhook" = uuid::Uuid, Path, description = "The webhook's id"),
    ),
    request_body = WebhookChange,
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The webhook, changed", body = WebhookView),
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
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
    body: web::Json<WebhookChange>,
) -> Result<HttpResponse, Error> {
    let actor = actor_of(&request, Some(&access.caller));
    let mut pooled = state.pool.get().await?;
    let changed = webhooks::update(
        &mut pooled.conn(),
        actor,
        access.org_id,
        Id(path.1),
        body.into_inner(),
        state.webhook_policy,
    )
    .await?;
    Ok(HttpResponse::Ok().json(changed))
}

/// Removes a webhook with its deliveries.
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/webhooks/{webhook}",
    operation_id = "deleteWebhook",
    tag = "webhooks",
    params(
        ("org" = uuid::Uuid, Path, description = "The org's id"),
        ("webhook" = uuid::Uuid, Path, description = "The webhook's id"),
    ),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "Removed"),
        Unauthenticated,
        Forbidden,
        NotFound,
        ServerErrors,
    )
)]
async fn delete(
    request: HttpRequest,
    access: OrgAdmin,
    state: web::Data<AppState>,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
) -> Result<HttpResponse, Error> {
    let actor = actor_of(&request, Some(&access.caller));
    let mut pooled = state.pool.get().await?;
    webhooks::delete(&mut pooled.conn(), actor, access.org_id, Id(path.1)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Gives the webhook a new signing secret, in this answer only; the old one stops signing at once.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/webhooks/{webhook}/secret",
    operation_id = "rotateWebhookSecret",
    tag = "webhooks",
    params(
        ("org" = uuid::Uuid, Path, description = "The org's id"),
        ("webhook" = uuid::Uuid, Path, description = "The webhook's id"),
    ),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The webhook, with its new secret", body = WebhookWithSecret),
        Unauthenticated,
        Forbidden,
        NotFound,
        ServerErrors,
    )
)]
async fn rotate_secret(
    request: HttpRequest,
    access: OrgAdmin,
    state: web::Data<AppState>,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
) -> Result<HttpResponse, Error> {
    let actor = actor_of(&request, Some(&access.caller));
    let mut pooled = state.pool.get().await?;
    let rotated = webhooks::rotate_secret(&mut pooled.conn(), actor, access.org_id, Id(path.1)).await?;
    Ok(HttpResponse::Ok().json(rotated))
}

/// Queues a `webhook.ping` event for the webhook, to check the receiver end to end.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/webhooks/{webhook}/ping",
    operation_id = "pingWebhook",
    tag = "webhooks",
    params(
        ("org" = uuid::Uuid, Path, description = "The org's id"),
        ("webhook" = uuid::Uuid, Path, description = "The webhook's id"),
    ),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 202, description = "The ping's delivery, queued", body = DeliveryView),
        Unauthenticated,
        Forbidden,
        NotFound,
        ServerErrors,
    )
)]
async fn ping(
    access: OrgAdmin,
    state: web::Data<AppState>,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let queued = webhooks::ping(&mut pooled.conn(), access.org_id, Id(path.1)).await?;
    state.run_changed.work_arrived();
    Ok(HttpResponse::Accepted().json(queued))
}

/// The webhook's deliveries, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/webhooks/{webhook}/deliveries",
    operation_id = "listWebhookDeliveries",
    tag = "webhooks",
    params(
        ("org" = uuid::Uuid, Path, description = "The org's id"),
        ("webhook" = uuid::Uuid, Path, description = "The webhook's id"),
        DeliveryQuery,
    ),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of deliveries", body = protocol::Page<DeliveryView>),
        BadRequest,
        Unauthenticated,
        Forbidden,
        NotFound,
        ServerErrors,
    )
)]
async fn deliveries(
    access: OrgAdmin,
    state: web::Data<AppState>,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
    query: web::Query<DeliveryQuery>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let page = webhooks::deliveries(&mut pooled.conn(), access.org_id, Id(path.1), &query).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// One delivery, with every attempt and the receiver's answers.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/webhooks/{webhook}/deliveries/{delivery}",
    operation_id = "getWebhookDelivery",
    tag = "webhooks",
    params(
        ("org" = uuid::Uuid, Path, description = "The org's id"),
        ("webhook" = uuid::Uuid, Path, description = "The webhook's id"),
        ("delivery" = uuid::Uuid, Path, description = "The delivery's id"),
    ),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The delivery and its attempts", body = DeliveryDetail),
        Unauthenticated,
        Forbidden,
        NotFound,
        ServerErrors,
    )
)]
async fn delivery(
    access: OrgAdmin,
    state: web::Data<AppState>,
    path: web::Path<(uuid::Uuid, uuid::Uuid, uuid::Uuid)>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let found = webhooks::delivery(&mut pooled.conn(), access.org_id, Id(path.1), Id(path.2)).await?;
    Ok(HttpResponse::Ok().json(found))
}

/// Sends a delivery again now, whatever became of it; it is retried for a new lifetime.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/webhooks/{webhook}/deliveries/{delivery}/redeliver",
    operation_id = "redeliverWebhookDelivery",
    tag = "webhooks",
    params(
        ("org" = uuid::Uuid, Path, description = "The org's id"),
        ("webhook" = uuid::Uuid, Path, description = "The webhook's id"),
        ("delivery" = uuid::Uuid, Path, description = "The delivery's id"),
    ),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 202, description = "The delivery, due again", body = DeliveryView),
        Unauthenticated,
        Forbidden,
        NotFound,
        ServerErrors,
    )
)]
async fn redeliver(
    request: HttpRequest,
    access: OrgAdmin,
    state: web::Data<AppState>,
    path: web::Path<(uuid::Uuid, uuid::Uuid, uuid::Uuid)>,
) -> Result<HttpResponse, Error> {
    let actor = actor_of(&request, Some(&access.caller));
    let mut pooled = state.pool.get().await?;
    let due = webhooks::redeliver(&mut pooled.conn(), actor, access.org_id, Id(path.1), Id(path.2)).await?;
    state.run_changed.work_arrived();
    Ok(HttpResponse::Accepted().json(due))
}
