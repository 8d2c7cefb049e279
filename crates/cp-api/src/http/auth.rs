//! `/api/v1/auth`: sign-up, login, refresh, logout.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::{AppState, actor_of};
use crate::error::Error;
use crate::service::audit::Actor;
use crate::service::sessions;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/auth")
            .route("/signup", web::post().to(sign_up))
            .route("/login", web::post().to(log_in))
            .route("/refresh", web::post().to(refresh))
            .route("/logout", web::post().to(log_out)),
    );
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignUp {
    email: String,
    password: String,
    /// Creates an org with the new user as its admin.
    org: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogIn {
    email: String,
    password: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshToken {
    refresh_token: String,
}

async fn sign_up(
    request: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<SignUp>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let actor = Actor {
        user: None,
        client_addr: actor_of(&request, None).client_addr,
    };
    let created = sessions::sign_up(
        &mut pooled.conn(),
        &body.email,
        &body.password,
        body.org.as_deref(),
        actor,
    )
    .await?;
    Ok(HttpResponse::Created().json(created))
}

async fn log_in(state: web::Data<AppState>, body: web::Json<LogIn>) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let pair = sessions::log_in(&mut pooled.conn(), &state.signer, &body.email, &body.password).await?;
    Ok(HttpResponse::Ok().json(pair))
}

async fn refresh(state: web::Data<AppState>, body: web::Json<RefreshToken>) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let pair = sessions::refresh(&mut pooled.conn(), &state.signer, &body.refresh_token).await?;
    Ok(HttpResponse::Ok().json(pair))
}

async fn log_out(state: web::Data<AppState>, body: web::Json<RefreshToken>) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    sessions::log_out(&mut pooled.conn(), &body.refresh_token).await?;
    Ok(HttpResponse::NoContent().finish())
}
