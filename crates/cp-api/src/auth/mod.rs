//! Who is calling: credentials in, a [`Caller`] out.

pub mod api_key;
pub mod data_plane;
pub mod password;
pub mod roles;
pub mod token;

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

/// What the caller presented: an API key (`X-API-Key`, or a Bearer value starting `amk_`) or an access token.
enum Credential<T> {
    ApiKey(T),
    AccessToken(T),
}

impl<T> Credential<T> {
    /// What was presented, whichever kind it looks like.
    fn into_inner(self) -> T {
        match self {
            Self::ApiKey(value) | Self::AccessToken(value) => value,
        }
    }
}

/// The credential presented as `X-API-Key: …` or `Authorization: Bearer …`, trimmed.
pub(crate) fn presented(request: &HttpRequest) -> Option<&str> {
    credential(request).ok().map(Credential::into_inner)
}

fn credential(request: &HttpRequest) -> Result<Credential<&str>, Error> {
    if let Some(value) = request.headers().get("x-api-key") {
        let key = value
            .to_str()
            .map_err(|_| Error::Unauthenticated("the X-API-Key header is not text".to_owned()))?;
        return Ok(Credential::ApiKey(key));
    }
    let bearer = presented_bearer(request)?;
    Ok(if bearer.starts_with("amk_") {
        Credential::ApiKey(bearer)
    } else {
        Credential::AccessToken(bearer)
    })
}

/// Reads `Authorization: Bearer <credential>`.
fn presented_bearer(request: &HttpRequest) -> Result<&str, Error> {
    let Some(value) = request.headers().get(actix_web::http::header::AUTHORIZATION) else {
        return Err(Error::Unauthenticated(
            "send an access token or API key as `Authorization: Bearer <credential>`, or an API key as \
             `X-API-Key: <key>`"
                .to_owned(),
        ));
    };
    let value = value
        .to_str()
        .map_err(|_| Error::Unauthenticated("the Authorization header is not text".to_owned()))?;
    value.strip_prefix("Bearer ").map(str::trim).ok_or_else(|| {
        Error::Unauthenticated("the Authorization header must be `Bearer <credential>`".to_owned())
    })
}

/// The caller, when credentials were presented; bad credentials are still refused, never taken as anonymous.
#[derive(Debug, Clone, Copy)]
pub struct MaybeCaller(pub Option<Caller>);

impl FromRequest for MaybeCaller {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(request: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let headers = request.headers();
        if !headers.contains_key(actix_web::http::header::AUTHORIZATION) && !headers.contains_key("x-api-key")
        {
            return Box::pin(async { Ok(Self(None)) });
        }
        let caller = Caller::from_request(request, payload);
        Box::pin(async move { caller.await.map(|caller| Self(Some(caller))) })
    }
}

impl FromRequest for Caller {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(request: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let state = request.app_data::<web::Data<AppState>>().cloned();
        let presented = credential(request).map(|credential| match credential {
            Credential::ApiKey(key) => Credential::ApiKey(key.to_owned()),
            Credential::AccessToken(token) => Credential::AccessToken(token.to_owned()),
        });
        Box::pin(async move {
            let state = state.ok_or_else(|| Error::Internal("application state missing".to_owned()))?;
            match presented? {
                Credential::ApiKey(key) => authenticate(&state.pool, &key).await,
                Credential::AccessToken(token) => {
                    let claims = state
                        .signer
                        .check(&token, chrono::Utc::now().timestamp())
                        .ok_or_else(|| {
                            Error::Unauthenticated("the access token is not valid or has expired".to_owned())
                        })?;
                    let mut pooled = state.pool.get().await?;
                    let user = db::users::find(&mut pooled.conn(), Id(claims.sub))
                        .await
                        .map_err(|_| {
                            Error::Unauthenticated("the access token is not valid or has expired".to_owned())
                        })?;
                    Ok(Caller {
                        user_id: user.id,
                        is_platform_admin: user.is_platform_admin,
                    })
                }
            }
        })
    }
}

/// How fresh a key's `last_used_at` is kept: writing it on every request would add a write (and a wait
/// on the key's row, for requests made with one key at once) to each.
const LAST_USED_PRECISION: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// The caller an API key stands for.
///
/// # Errors
///
/// [`Error::Unauthenticated`] for a malformed, unknown, wrong or revoked key: the answer does not say which,
/// so keys cannot be probed.
pub async fn authenticate(pool: &db::Pool, key: &str) -> Result<Caller, Error> {
    let rejected = || Error::Unauthenticated("the API key is not valid".to_owned());
    let (prefix, secret) = api_key::split(key, api_key::USER).ok_or_else(rejected)?;
    let mut pooled = pool.get().await?;
    let mut conn = pooled.conn();
    let (stored, is_platform_admin) = match db::api_keys::by_prefix_with_owner(&mut conn, prefix).await {
        Ok(found) => found,
        Err(diesel::result::Error::NotFound) => return Err(rejected()),
        Err(other) => return Err(other.into()),
    };
    if stored.revoked_at.is_some() || !api_key::matches(secret, &stored.secret_hash) {
        return Err(rejected());
    }
    let now = Time::now();
    if stored
        .last_used_at
        .is_none_or(|used| now.0 - used.0 >= LAST_USED_PRECISION)
    {
        db::api_keys::touch(&mut conn, stored.id, now).await?;
    }
    Ok(Caller {
        user_id: stored.user_id,
        is_platform_admin,
    })
}
