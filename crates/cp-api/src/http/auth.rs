//! `/api/v1/auth`: sign-up, login, refresh, logout.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::openapi::{BodyErrors, Conflict, ServerErrors, Unauthenticated};
use super::{AppState, actor_of};
use crate::error::Error;
use crate::service::audit::Actor;
use crate::service::sessions::{self, SignedUp, TokenPair};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/auth")
            .route("/signup", web::post().to(sign_up))
            .route("/login", web::post().to(log_in))
            .route("/refresh", web::post().to(refresh))
            .route("/logout", web::post().to(log_out)),
    );
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SignUp {
    #[schema(example = "ada@example.com")]
    email: String,
    /// At least 12 characters.
    password: String,
    /// Creates an org with the new user as its admin.
    org: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct LogIn {
    email: String,
    password: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RefreshToken {
    refresh_token: String,
}

/// Creates a user account, and with `org` an org with the new user as its admin.
#[utoipa::path(
    post,
    path = "/api/v1/auth/signup",
    operation_id = "signUp",
    tag = "auth",
    responses(
        (status = 201, description = "The account was created", body = SignedUp),
        BodyErrors,
        Conflict,
        ServerErrors,
    )
)]
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

/// Trades an email and password for an access token and a refresh token.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    operation_id = "logIn",
    tag = "auth",
    responses(
        (status = 200, description = "Logged in", body = TokenPair),
        BodyErrors,
        Unauthenticated,
        ServerErrors,
    )
)]
async fn log_in(state: web::Data<AppState>, body: web::Json<LogIn>) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let pair = sessions::log_in(&mut pooled.conn(), &state.signer, &body.email, &body.password).await?;
    Ok(HttpResponse::Ok().json(pair))
}

/// Trades a refresh token, once, for a new pair; presenting a used one revokes every token of its login.
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    operation_id = "refreshTokens",
    tag = "auth",
    responses(
        (status = 200, description = "A new pair", body = TokenPair),
        BodyErrors,
        Unauthenticated,
        ServerErrors,
    )
)]
async fn refresh(state: web::Data<AppState>, body: web::Json<RefreshToken>) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let pair = sessions::refresh(&mut pooled.conn(), &state.signer, &body.refresh_token).await?;
    Ok(HttpResponse::Ok().json(pair))
}

/// Revokes the login a refresh token belongs to; an unknown token is ignored.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    operation_id = "logOut",
    tag = "auth",
    responses(
        (status = 204, description = "Logged out"),
        BodyErrors,
        ServerErrors,
    )
)]
async fn log_out(state: web::Data<AppState>, body: web::Json<RefreshToken>) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    sessions::log_out(&mut pooled.conn(), &body.refresh_token).await?;
    Ok(HttpResponse::NoContent().finish())
}
