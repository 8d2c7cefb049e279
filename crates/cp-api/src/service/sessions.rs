//! Sign-up, login, and refresh-token rotation.
//!
//! Login gives a short-lived access token (a JWT, 15 minutes) and a refresh token (30 days) that works
//! once: refreshing returns a new pair. A refresh token presented a second time means it was stolen or
//! replayed, so its whole family (every token rotated from that login) is revoked.

use std::sync::LazyLock;

use protocol::{OrgId, UserId};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest as _, Sha256};

use super::accounts::check_account;
use super::audit::{self, Actor, Entry};
use crate::auth::password;
use crate::auth::token::{ACCESS_TTL_SECONDS, Signer};
use crate::db::refresh_tokens::RefreshToken;
use crate::db::{self, Conn, Id, Time};
use crate::error::Error;

const REFRESH_TTL_DAYS: i64 = 30;
const REFRESH_PREFIX: &str = "amr_";

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SignedUp {
    pub user_id: UserId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id: Option<OrgId>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub token_type: &'static str,
    /// Seconds the access token is good for.
    pub expires_in: i64,
    pub refresh_token: String,
}

/// Creates a user and, when `org` is given, an org with them as its admin.
///
/// # Errors
///
/// [`Error::Validation`] for a bad email, password or org name; [`Error::Conflict`] when taken.
pub async fn sign_up(
    conn: &mut Conn<'_>,
    email: &str,
    password: &str,
    org: Option<&str>,
    actor: Actor,
) -> Result<SignedUp, Error> {
    check_account(email, password, org)?;
    let password = password.to_owned();
    let password_hash = blocking(move || password::hash(&password)).await?;
    let now = Time::now();
    let user = db::users::User {
        id: Id::new(),
        email: email.trim().to_lowercase(),
        password_hash,
        is_platform_admin: false,
        created_at: now,
    };
    let org = org.map(|name| db::orgs::Org {
        id: Id::new(),
        name: name.trim().to_owned(),
        created_at: now,
        forbid_self_approval: false,
        monthly_run_quota: None,
        monthly_spend_cap_micros: None,
    });
    let signed_up = SignedUp {
        user_id: user.id.into(),
        org_id: org.as_ref().map(|org| org.id.into()),
    };
    db::transaction(conn, async |tx| {
        db::users::insert(tx, &user)
            .await
            .map_err(|e| super::accounts::taken(e, "email", "a user with this email exists"))?;
        audit::record(
            tx,
            Entry {
                actor: Some(user.id),
                org: None,
                action: "user.sign_up",
                target: format!("user:{}", user.id.0),
                change: json!({"email": user.email}),
                client_addr: actor.client_addr.clone(),
            },
        )
        .await?;
        if let Some(org) = &org {
            db::orgs::insert(tx, org)
                .await
                .map_err(|e| super::accounts::taken(e, "org", "an org with this name exists"))?;
            let membership = db::memberships::Membership {
                org_id: org.id,
                user_id: user.id,
                role: "admin".to_owned(),
                created_at: now,
            };
            db::memberships::insert(tx, &membership).await?;
            audit::record(
                tx,
                Entry {
                    actor: Some(user.id),
                    org: Some(org.id),
                    action: "org.create",
                    target: format!("org:{}", org.id.0),
                    change: json!({"name": org.name}),
                    client_addr: actor.client_addr.clone(),
                },
            )
            .await?;
        }
        Ok(())
    })
    .await?;
    Ok(signed_up)
}

/// A hash to check passwords of unknown emails against, so a login takes as long whether the email exists
/// or not.
static DECOY_HASH: LazyLock<String> =
    LazyLock::new(|| password::hash("decoy password for unknown emails").unwrap_or_default());

/// # Errors
///
/// [`Error::Unauthenticated`] when the email or password is wrong (the answer does not say which).
pub async fn log_in(
    conn: &mut Conn<'_>,
    signer: &Signer,
    email: &str,
    password: &str,
) -> Result<TokenPair, Error> {
    let wrong = || Error::Unauthenticated("the email or password is wrong".to_owned());
    let user = match db::users::by_email(conn, email).await {
        Ok(user) => Some(user),
        Err(diesel::result::Error::NotFound) => None,
        Err(other) => return Err(other.into()),
    };
    let stored = user
        .as_ref()
        .map_or_else(|| DECOY_HASH.clone(), |user| user.password_hash.clone());
    let password = password.to_owned();
    let matches = blocking(move || Ok(password::verify(&password, &stored))).await?;
    let user = user.filter(|_| matches).ok_or_else(wrong)?;
    let family = Id::new();
    db::transaction(conn, async |tx| issue(tx, signer, user.id, family).await).await
}

/// Trades a refresh token for a new pair.
///
/// # Errors
///
/// [`Error::Unauthenticated`] when the token is unknown, expired, revoked or already used (which revokes
/// its family).
pub async fn refresh(conn: &mut Conn<'_>, signer: &Signer, refresh_token: &str) -> Result<TokenPair, Error> {
    enum Outcome {
        Issued(TokenPair),
        Replayed,
        Invalid,
    }
    let hash = hash_token(refresh_token);
    let outcome = db::transaction(conn, async |tx| {
        let token = match db::refresh_tokens::by_hash(tx, &hash).await {
            Ok(token) => token,
            Err(diesel::result::Error::NotFound) => return Ok(Outcome::Invalid),
            Err(other) => return Err(other.into()),
        };
        let now = Time::now();
        if token.revoked_at.is_some() || token.expires_at <= now {
            return Ok(Outcome::Invalid);
        }
        if !db::refresh_tokens::mark_used(tx, token.id, now).await? {
            // Committed, not rolled back: the revocation must stick even though the caller is refused.
            db::refresh_tokens::revoke_family(tx, token.family_id, now).await?;
            return Ok(Outcome::Replayed);
        }
        Ok(Outcome::Issued(
            issue(tx, signer, token.user_id, token.family_id).await?,
        ))
    })
    .await?;
    match outcome {
        Outcome::Issued(pair) => Ok(pair),
        Outcome::Replayed => Err(Error::Unauthenticated(
            "this refresh token was already used; every token of its login is now revoked".to_owned(),
        )),
        Outcome::Invalid => Err(Error::Unauthenticated(
            "the refresh token is not valid".to_owned(),
        )),
    }
}

/// Revokes the login a refresh token belongs to. Unknown tokens are ignored: logging out twice is fine.
///
/// # Errors
///
/// Database errors.
pub async fn log_out(conn: &mut Conn<'_>, refresh_token: &str) -> Result<(), Error> {
    let hash = hash_token(refresh_token);
    db::transaction(conn, async |tx| {
        if let Ok(token) = db::refresh_tokens::by_hash(tx, &hash).await {
            db::refresh_tokens::revoke_family(tx, token.family_id, Time::now()).await?;
        }
        Ok(())
    })
    .await
}

async fn issue(tx: &mut Conn<'_>, signer: &Signer, user: Id, family: Id) -> Result<TokenPair, Error> {
    let mut secret = [0_u8; 32];
    getrandom::fill(&mut secret)
        .map_err(|error| Error::Internal(format!("no randomness for a token: {error}")))?;
    let refresh_token = format!("{REFRESH_PREFIX}{}", hex::encode(secret));
    let now = Time::now();
    let stored = RefreshToken {
        id: Id::new(),
        user_id: user,
        family_id: family,
        token_hash: hash_token(&refresh_token),
        created_at: now,
        expires_at: Time(now.0 + chrono::Duration::days(REFRESH_TTL_DAYS)),
        used_at: None,
        revoked_at: None,
    };
    db::refresh_tokens::insert(tx, &stored).await?;
    Ok(TokenPair {
        access_token: signer.issue(user.0, now.0.timestamp()),
        token_type: "Bearer",
        expires_in: ACCESS_TTL_SECONDS,
        refresh_token,
    })
}

fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Runs CPU-heavy work (password hashing) off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| Error::Internal(format!("blocking task failed: {error}")))?
}
