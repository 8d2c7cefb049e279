//! Who is calling: credentials in, a [`Caller`] out.

pub mod api_key;
pub mod password;

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, web};

use crate::db::{self, Id, Time};
use crate::error::Error;
use crate::http::AppState;

/// An authenticated caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub user_id: Id,
    pub is_platform_admin: bool,
}

/// Reads `Authorization: Bearer <key>` or `X-API-Key: <key>`.
fn presented_key(request: &HttpRequest) -> Result<&str, Error> {
    let headers = request.headers();
    if let Some(value) = headers.get("x-api-key") {
        return value
            .to_str()
            .map_err(|_| Error::Unauthenticated("the X-API-Key header is not text".to_owned()));
    }
    let Some(value) = headers.get(actix_web::http::header::AUTHORIZATION) else {
        return Err(Error::Unauthenticated(
            "send an API key as `Authorization: Bearer <key>` or `X-API-Key: <key>`".to_owned(),
        ));
    };
    let value = value
        .to_str()
        .map_err(|_| Error::Unauthenticated("the Authorization header is not text".to_owned()))?;
    value
        .strip_prefix("Bearer ")
        .map(str::trim)
        .ok_or_else(|| Error::Unauthenticated("the Authorization header must be `Bearer <key>`".to_owned()))
}

impl FromRequest for Caller {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(request: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let key = presented_key(request).map(str::to_owned);
        let state = request.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let key = key?;
            let state = state.ok_or_else(|| Error::Internal("application state missing".to_owned()))?;
            authenticate(&state.pool, &key).await
        })
    }
}

/// The caller an API key stands for.
///
/// # Errors
///
/// [`Error::Unauthenticated`] for a malformed, unknown, wrong or revoked key: the answer does not say which,
/// so keys cannot be probed.
pub async fn authenticate(pool: &db::Pool, key: &str) -> Result<Caller, Error> {
    let rejected = || Error::Unauthenticated("the API key is not valid".to_owned());
    let (prefix, secret) = api_key::split(key).ok_or_else(rejected)?;
    let mut pooled = pool.get().await?;
    let mut conn = pooled.conn();
    let stored = match db::api_keys::by_prefix(&mut conn, prefix).await {
        Ok(stored) => stored,
        Err(diesel::result::Error::NotFound) => return Err(rejected()),
        Err(other) => return Err(other.into()),
    };
    if stored.revoked_at.is_some() || !api_key::matches(secret, &stored.secret_hash) {
        return Err(rejected());
    }
    db::api_keys::touch(&mut conn, stored.id, Time::now()).await?;
    let user = db::users::find(&mut conn, stored.user_id).await?;
    Ok(Caller {
        user_id: user.id,
        is_platform_admin: user.is_platform_admin,
    })
}
