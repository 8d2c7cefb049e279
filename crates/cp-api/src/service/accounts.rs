//! Orgs, users, memberships and API keys.

use protocol::{FieldError, OrgId, UserId};
use serde::Serialize;

use crate::auth::{api_key, password};
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
fn check_account(email: &str, password: &str, org: Option<&str>) -> Result<(), Error> {
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
    let key =
        api_key::generate().map_err(|error| Error::Internal(format!("no randomness for a key: {error}")))?;
    let now = Time::now();
    let org = db::orgs::Org {
        id: Id(uuid::Uuid::now_v7()),
        name: input.org.trim().to_owned(),
        created_at: now,
    };
    let user = db::users::User {
        id: Id(uuid::Uuid::now_v7()),
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
        id: Id(uuid::Uuid::now_v7()),
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
fn taken(error: diesel::result::Error, field: &str, message: &str) -> Error {
    match error {
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _) => {
            Error::Conflict(format!("{field}: {message}"))
        }
        other => other.into(),
    }
}
