//! Orgs, users, memberships and API keys.

use protocol::{FieldError, OrgId, UserId};
use serde::Serialize;

use serde_json::json;

use super::audit::{self, Actor, Entry};
use crate::auth::roles::Role;
use crate::auth::{api_key, password};
use crate::db::api_keys::ApiKey;
use crate::db::{self, Conn, Id, Time};
use crate::error::Error;

/// What `cp-api admin bootstrap` creates: a platform admin, their org, and an API key.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    pub email: String,
    pub password: String,
    pub org: String,
}

/// Printed once: the key is not stored anywhere it could be read again.
#[derive(Debug, Clone, Serialize)]
pub struct Bootstrapped {
    pub org_id: OrgId,
    pub user_id: UserId,
    pub api_key: String,
}

pub const MIN_PASSWORD_CHARS: usize = 12;

/// Checks the fields every account creation shares; every problem is reported.
pub(crate) fn check_account(email: &str, password: &str, org: Option<&str>) -> Result<(), Error> {
    let mut errors = Vec::new();
    let email_ok = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(char::is_whitespace);
    if !email_ok {
        errors.push(FieldError::new(
            "email",
            format!("{email:?} is not an email address"),
        ));
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        errors.push(FieldError::new(
            "password",
            format!("use at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if let Some(org) = org
        && (org.trim().is_empty() || org.chars().count() > 100)
    {
        errors.push(FieldError::new("org", "an org name has 1 to 100 characters"));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(errors))
    }
}

/// Creates a platform admin, their org (with them as its admin) and an API key, all or nothing.
///
/// # Errors
///
/// [`Error::Validation`] for a bad email, password or org name; [`Error::Conflict`] when the email or org
/// name is taken.
pub async fn bootstrap(conn: &mut Conn<'_>, input: Bootstrap) -> Result<Bootstrapped, Error> {
    check_account(&input.email, &input.password, Some(&input.org))?;
    let password_hash = password::hash(&input.password)?;
    let key = api_key::generate(api_key::USER)
        .map_err(|error| Error::Internal(format!("no randomness for a key: {error}")))?;
    let now = Time::now();
    let org = db::orgs::Org {
        id: Id::new(),
        name: input.org.trim().to_owned(),
        created_at: now,
        forbid_self_approval: false,
        monthly_run_quota: None,
        monthly_spend_cap_micros: None,
    };
    let user = db::users::User {
        id: Id::new(),
        email: input.email.trim().to_lowercase(),
        password_hash,
        is_platform_admin: true,
        created_at: now,
    };
    let membership = db::memberships::Membership {
        org_id: org.id,
        user_id: user.id,
        role: "admin".to_owned(),
        created_at: now,
    };
    let stored_key = db::api_keys::ApiKey {
        id: Id::new(),
        user_id: user.id,
        name: "bootstrap".to_owned(),
        prefix: key.prefix.clone(),
        secret_hash: key.secret_hash.clone(),
        created_at: now,
        last_used_at: None,
        revoked_at: None,
    };
    let (org_id, user_id) = (org.id, user.id);
    db::transaction(conn, async |tx| {
        db::orgs::insert(tx, &org)
            .await
            .map_err(|e| taken(e, "org", "an org with this name exists"))?;
        db::users::insert(tx, &user)
            .await
            .map_err(|e| taken(e, "email", "a user with this email exists"))?;
        db::memberships::insert(tx, &membership).await?;
        db::api_keys::insert(tx, &stored_key).await?;
        audit::record(
            tx,
            Entry {
                actor: None,
                org: Some(org.id),
                action: "platform.bootstrap",
                target: format!("user:{}", user.id.0),
                change: json!({"email": user.email, "org": org.name}),
                client_addr: None,
            },
        )
        .await?;
        Ok(())
    })
    .await?;
    Ok(Bootstrapped {
        org_id: org_id.into(),
        user_id: user_id.into(),
        api_key: key.key,
    })
}

/// A unique violation as a conflict naming the field; anything else as it is.
pub(crate) fn taken(error: diesel::result::Error, field: &str, message: &str) -> Error {
    match error {
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _) => {
            Error::Conflict(format!("{field}: {message}"))
        }
        other => other.into(),
    }
}

/// An API key as listed: never its secret.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiKeyView {
    pub id: uuid::Uuid,
    pub name: String,
    pub prefix: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<ApiKey> for ApiKeyView {
    fn from(key: ApiKey) -> Self {
        Self {
            id: key.id.0,
            name: key.name,
            prefix: key.prefix,
            created_at: key.created_at.0,
            last_used_at: key.last_used_at.map(|at| at.0),
            revoked_at: key.revoked_at.map(|at| at.0),
        }
    }
}

/// A new key, with its secret shown this once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKeyView,
    pub api_key: String,
}

/// # Errors
///
/// [`Error::Validation`] for a name that is empty or longer than 100 characters.
pub async fn create_api_key(
    conn: &mut Conn<'_>,
    actor: Actor,
    owner: Id,
    name: &str,
) -> Result<CreatedApiKey, Error> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::Validation(vec![FieldError::new(
            "name",
            "a key name has 1 to 100 characters",
        )]));
    }
    let key = api_key::generate(api_key::USER)
        .map_err(|error| Error::Internal(format!("no randomness for a key: {error}")))?;
    let stored = ApiKey {
        id: Id::new(),
        user_id: owner,
        name: name.to_owned(),
        prefix: key.prefix,
        secret_hash: key.secret_hash,
        created_at: Time::now(),
        last_used_at: None,
        revoked_at: None,
    };
    db::transaction(conn, async |tx| {
        db::api_keys::insert(tx, &stored).await?;
        audit::record(
            tx,
            Entry {
                actor: actor.user,
                org: None,
                action: "api_key.create",
                target: format!("api_key:{}", stored.id.0),
                change: json!({"name": stored.name, "prefix": stored.prefix}),
                client_addr: actor.client_addr.clone(),
            },
        )
        .await
    })
    .await?;
    Ok(CreatedApiKey {
        key: stored.into(),
        api_key: key.key,
    })
}

/// Revokes one of `owner`'s keys.
///
/// # Errors
///
/// [`Error::NotFound`] when the owner has no such key.
pub async fn revoke_api_key(conn: &mut Conn<'_>, actor: Actor, owner: Id, key: Id) -> Result<(), Error> {
    db::transaction(conn, async |tx| {
        db::api_keys::revoke(tx, owner, key, Time::now())
            .await
            .map_err(not_found("no such API key"))?;
        audit::record(
            tx,
            Entry {
                actor: actor.user,
                org: None,
                action: "api_key.revoke",
                target: format!("api_key:{}", key.0),
                change: json!({}),
                client_addr: actor.client_addr.clone(),
            },
        )
        .await
    })
    .await
}

/// A member of an org, as listed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MemberView {
    pub user_id: UserId,
    pub email: String,
    pub role: String,
    pub since: chrono::DateTime<chrono::Utc>,
}

/// # Errors
///
/// Database errors.
pub async fn members(conn: &mut Conn<'_>, org: Id) -> Result<Vec<MemberView>, Error> {
    Ok(db::memberships::of_org(conn, org)
        .await?
        .into_iter()
        .map(|(membership, email)| MemberView {
            user_id: membership.user_id.into(),
            email,
            role: membership.role,
            since: membership.created_at.0,
        })
        .collect())
}

/// Adds an existing user to the org.
///
/// # Errors
///
/// [`Error::Validation`] for an unknown email; [`Error::Conflict`] when they are already a member.
pub async fn add_member(
    conn: &mut Conn<'_>,
    actor: Actor,
    org: Id,
    email: &str,
    role: Role,
) -> Result<MemberView, Error> {
    db::transaction(conn, async |tx| {
        let user = db::users::by_email(tx, email)
            .await
            .map_err(|error| match error {
                diesel::result::Error::NotFound => Error::Validation(vec![FieldError::new(
                    "email",
                    format!("no user has the email {email:?}"),
                )]),
                other => other.into(),
            })?;
        let membership = db::memberships::Membership {
            org_id: org,
            user_id: user.id,
            role: role.as_str().to_owned(),
            created_at: Time::now(),
        };
        db::memberships::insert(tx, &membership)
            .await
            .map_err(|e| taken(e, "email", "this user is already a member"))?;
        audit::record(
            tx,
            Entry {
                actor: actor.user,
                org: Some(org),
                action: "member.add",
                target: format!("user:{}", user.id.0),
                change: json!({"role": role}),
                client_addr: actor.client_addr.clone(),
            },
        )
        .await?;
        Ok(MemberView {
            user_id: user.id.into(),
            email: user.email,
            role: membership.role,
            since: membership.created_at.0,
        })
    })
    .await
}

/// Changes a member's role; the last admin cannot step down.
///
/// # Errors
///
/// [`Error::NotFound`] for a non-member; [`Error::Conflict`] when it would leave the org without an admin.
pub async fn change_role(
    conn: &mut Conn<'_>,
    actor: Actor,
    org: Id,
    user: Id,
    role: Role,
) -> Result<(), Error> {
    db::transaction(conn, async |tx| {
        let current = db::memberships::role(tx, org, user)
            .await?
            .ok_or_else(|| Error::NotFound("no such member".to_owned()))?;
        if current == Role::Admin && role != Role::Admin {
            keep_an_admin(tx, org).await?;
        }
        db::memberships::set_role(tx, org, user, role).await?;
        audit::record(
            tx,
            Entry {
                actor: actor.user,
                org: Some(org),
                action: "member.change_role",
                target: format!("user:{}", user.0),
                change: json!({"from": current, "to": role}),
                client_addr: actor.client_addr.clone(),
            },
        )
        .await
    })
    .await
}

/// Removes a member; the last admin cannot be removed.
///
/// # Errors
///
/// [`Error::NotFound`] for a non-member; [`Error::Conflict`] when it would leave the org without an admin.
pub async fn remove_member(conn: &mut Conn<'_>, actor: Actor, org: Id, user: Id) -> Result<(), Error> {
    db::transaction(conn, async |tx| {
        let current = db::memberships::role(tx, org, user)
            .await?
            .ok_or_else(|| Error::NotFound("no such member".to_owned()))?;
        if current == Role::Admin {
            keep_an_admin(tx, org).await?;
        }
        db::memberships::remove(tx, org, user).await?;
        audit::record(
            tx,
            Entry {
                actor: actor.user,
                org: Some(org),
                action: "member.remove",
                target: format!("user:{}", user.0),
                change: json!({"role": current}),
                client_addr: actor.client_addr.clone(),
            },
        )
        .await
    })
    .await
}

async fn keep_an_admin(tx: &mut Conn<'_>, org: Id) -> Result<(), Error> {
    if db::memberships::admin_count(tx, org).await? <= 1 {
        return Err(Error::Conflict("the org must keep at least one admin".to_owned()));
    }
    Ok(())
}

/// Maps `NotFound` to a 404 that says what was not found.
fn not_found(what: &'static str) -> impl Fn(diesel::result::Error) -> Error {
    move |error| match error {
        diesel::result::Error::NotFound => Error::NotFound(what.to_owned()),
        other => other.into(),
    }
}
