//! Org roles, and the extractors that decide access: a handler names the role it needs in its signature
//! (`OrgAdmin`, `OrgMember`, …) and gets the org only if the caller has it.
//!
//! A caller outside the org gets 404, as if the org did not exist; a member without the role gets 403.
//! Platform admins pass every check.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::str::FromStr;

use actix_web::{FromRequest, HttpRequest, web};
use serde::{Deserialize, Serialize};

use super::Caller;
use crate::db::{self, Id};
use crate::error::Error;
use crate::http::AppState;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Developer,
    Operator,
    Approver,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Developer,
        Role::Operator,
        Role::Approver,
        Role::Viewer,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Developer => "developer",
            Self::Operator => "operator",
            Self::Approver => "approver",
            Self::Viewer => "viewer",
        }
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| {
                format!(
                    "unknown role {text:?}; expected one of: admin, developer, operator, approver, viewer"
                )
            })
    }
}

/// Which roles a route admits.
pub trait Requirement {
    const ROLES: &'static [Role];
    /// For the 403 detail: "this needs the org's admin role".
    const NEEDS: &'static str;
}

/// The caller acting in the org named by the route's `{org}` (or owning the route's `{deployment}` or
/// `{run}`), with a role the requirement admits.
#[derive(Debug)]
pub struct InOrg<R> {
    pub caller: Caller,
    pub org_id: Id,
    requirement: PhantomData<R>,
}

macro_rules! requirement {
    ($($(#[$doc:meta])* $name:ident / $alias:ident: [$($role:ident),*], $needs:literal;)*) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;

        impl Requirement for $name {
            const ROLES: &'static [Role] = &[$(Role::$role),*];
            const NEEDS: &'static str = $needs;
        }

        $(#[$doc])*
        pub type $alias = InOrg<$name>;
    )*};
}

requirement! {
    /// Any member of the org.
    Members / OrgMember: [Admin, Developer, Operator, Approver, Viewer], "membership of the org";
    /// The org's admins.
    Admins / OrgAdmin: [Admin], "the org's admin role";
    /// Those who build the org's agents.
    Developers / OrgDeveloper: [Admin, Developer], "the org's admin or developer role";
    /// Those who install and run the org's agents.
    Operators / OrgOperator: [Admin, Operator], "the org's admin or operator role";
    /// Those who decide the org's approvals.
    Approvers / OrgApprover: [Admin, Approver], "the org's admin or approver role";
}

/// A platform admin (who publishes and rejects catalog listings).
#[derive(Debug)]
pub struct PlatformAdmin(pub Caller);

impl FromRequest for PlatformAdmin {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(request: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let caller = Caller::from_request(request, payload);
        Box::pin(async move {
            let caller = caller.await?;
            if caller.is_platform_admin {
                Ok(Self(caller))
            } else {
                Err(Error::Forbidden("this needs a platform admin".to_owned()))
            }
        })
    }
}

/// Admits `caller` to act in `org` with a role `R` admits (platform admins always). `what` names the
/// resource for the 404 an outsider gets, which does not say whether it exists.
///
/// # Errors
///
/// [`Error::NotFound`] for an outsider or an org that does not exist; [`Error::Forbidden`] for a member
/// without the role.
pub async fn admit<R: Requirement>(
    conn: &mut db::Conn<'_>,
    caller: Caller,
    org_id: Id,
    what: &str,
) -> Result<(), Error> {
    if caller.is_platform_admin {
        db::orgs::find(conn, org_id)
            .await
            .map_err(|_| Error::NotFound(format!("no such {what}")))?;
        return Ok(());
    }
    let role = db::memberships::role(conn, org_id, caller.user_id).await?;
    judge::<R>(caller, role, what)
}

/// Whether `caller`, with `role` in an org that exists, may act there: platform admins always; members
/// with a role `R` admits; other members get 403, outsiders 404 naming `what`.
fn judge<R: Requirement>(caller: Caller, role: Option<Role>, what: &str) -> Result<(), Error> {
    if caller.is_platform_admin {
        return Ok(());
    }
    let role = role.ok_or_else(|| Error::NotFound(format!("no such {what}")))?;
    if R::ROLES.contains(&role) {
        Ok(())
    } else {
        Err(Error::Forbidden(format!(
            "this needs {}; you are {}",
            R::NEEDS,
            role.as_str()
        )))
    }
}

/// What the route names that belongs to an org.
enum Named {
    Org(String),
    Deployment(String),
    Run(String),
    Nothing,
}

impl Named {
    /// The org the route names, once `caller` is admitted to it with a role `R` admits. A deployment or run
    /// is looked up with the caller's role in its org, in one statement.
    async fn admit<R: Requirement>(self, conn: &mut db::Conn<'_>, caller: Caller) -> Result<Id, Error> {
        use db::memberships::Owned;
        let uuid = |text: &str| uuid::Uuid::parse_str(text).ok().map(Id);
        let (owned, what) = match self {
            Self::Org(org) => {
                let org_id = uuid(&org).ok_or_else(|| Error::NotFound("no such org".to_owned()))?;
                admit::<R>(conn, caller, org_id, "org").await?;
                return Ok(org_id);
            }
            Self::Deployment(deployment) => (uuid(&deployment).map(Owned::Deployment), "deployment"),
            Self::Run(run) => (uuid(&run).map(Owned::Run), "run"),
            Self::Nothing => {
                return Err(Error::Internal(
                    "an org route names no {org}, {deployment} or {run}".to_owned(),
                ));
            }
        };
        let found = match owned {
            Some(owned) => db::memberships::in_org_of(conn, owned, caller.user_id).await?,
            None => None,
        };
        let (org_id, role) = found.ok_or_else(|| Error::NotFound(format!("no such {what}")))?;
        judge::<R>(caller, role, what)?;
        Ok(org_id)
    }
}

impl<R: Requirement + 'static> FromRequest for InOrg<R> {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(request: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let caller = Caller::from_request(request, payload);
        let info = request.match_info();
        let named = match (info.get("org"), info.get("deployment"), info.get("run")) {
            (Some(org), _, _) => Named::Org(org.to_owned()),
            (None, Some(deployment), _) => Named::Deployment(deployment.to_owned()),
            (None, None, Some(run)) => Named::Run(run.to_owned()),
            (None, None, None) => Named::Nothing,
        };
        let state = request.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let caller = caller.await?;
            let state = state.ok_or_else(|| Error::Internal("application state missing".to_owned()))?;
            let mut pooled = state.pool.get().await?;
            let org_id = named.admit::<R>(&mut pooled.conn(), caller).await?;
            Ok(Self {
                caller,
                org_id,
                requirement: PhantomData,
            })
        })
    }
}
