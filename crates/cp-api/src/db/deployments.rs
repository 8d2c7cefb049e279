//! Deployments: an org's installs of published agent versions, each with its own data-plane credential.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::orgs::Org;
use super::schema::{deployments, orgs};
use super::{Conn, Id, Time, on_backend};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = deployments, treat_none_as_null = true)]
pub struct Deployment {
    pub id: Id,
    pub org_id: Id,
    pub agent: Id,
    pub version: String,
    /// The version before the last upgrade, which a rollback returns to.
    pub previous_version: Option<String>,
    /// `saas` or `byoc`.
    pub deployment_type: String,
    /// `pending`, `ready`, `degraded`, `failed` or `uninstalled`.
    pub state: String,
    /// JSON object.
    pub config: String,
    /// JSON array of scopes.
    pub granted_permissions: String,
    pub credential_prefix: String,
    /// SHA-256 of the credential's secret.
    pub credential_hash: Vec<u8>,
    pub installed_by: Id,
    pub created_at: Time,
    pub updated_at: Time,
    pub uninstalled_at: Option<Time>,
}

impl Deployment {
    /// The scopes the org granted, as stored.
    ///
    /// # Errors
    ///
    /// When the stored list does not read back.
    pub fn granted_permissions(&self) -> serde_json::Result<Vec<String>> {
        serde_json::from_str(&self.granted_permissions)
    }
}

/// # Errors
///
/// Database errors.
pub async fn insert(conn: &mut Conn<'_>, deployment: &Deployment) -> QueryResult<()> {
    on_backend!(conn, |c| diesel::insert_into(deployments::table)
        .values(deployment)
        .execute(c)
        .await
        .map(drop))
}

/// # Errors
///
/// Database errors.
pub async fn update(conn: &mut Conn<'_>, deployment: &Deployment) -> QueryResult<()> {
    on_backend!(conn, |c| diesel::update(deployments::table.find(deployment.id))
        .set(deployment)
        .execute(c)
        .await
        .map(drop))
}

/// # Errors
///
/// `NotFound` when there is no such deployment.
pub async fn find(conn: &mut Conn<'_>, id: Id) -> QueryResult<Deployment> {
    on_backend!(conn, |c| deployments::table
        .find(id)
        .select(Deployment::as_select())
        .first(c)
        .await)
}

/// The deployment and its org, in one statement.
///
/// # Errors
///
/// `NotFound` when there is no such deployment.
pub async fn with_org(conn: &mut Conn<'_>, id: Id) -> QueryResult<(Deployment, Org)> {
    on_backend!(conn, |c| deployments::table
        .inner_join(orgs::table)
        .filter(deployments::id.eq(id))
        .select((Deployment::as_select(), Org::as_select()))
        .first(c)
        .await)
}

/// The org's deployments, newest first; uninstalled ones only when asked for.
///
/// # Errors
///
/// Database errors.
pub async fn of_org(conn: &mut Conn<'_>, org: Id, with_uninstalled: bool) -> QueryResult<Vec<Deployment>> {
    on_backend!(conn, |c| {
        let mut query = deployments::table
            .filter(deployments::org_id.eq(org))
            .order(deployments::created_at.desc())
            .select(Deployment::as_select())
            .into_boxed();
        if !with_uninstalled {
            query = query.filter(deployments::state.ne("uninstalled"));
        }
        query.load(c).await
    })
}

/// Whether any org the user belongs to has the agent installed now.
///
/// # Errors
///
/// Database errors.
pub async fn installed_by_member(conn: &mut Conn<'_>, agent: Id, user: Id) -> QueryResult<bool> {
    use super::schema::memberships;
    on_backend!(conn, |c| diesel::select(diesel::dsl::exists(
        deployments::table
            .inner_join(memberships::table.on(memberships::org_id.eq(deployments::org_id)))
            .filter(deployments::agent.eq(agent))
            .filter(memberships::user_id.eq(user))
            .filter(deployments::state.ne("uninstalled")),
    ))
    .get_result(c)
    .await)
}

/// The deployment whose data-plane credential has this prefix.
///
/// # Errors
///
/// Database errors; `None` when no deployment has it.
pub async fn by_credential_prefix(conn: &mut Conn<'_>, prefix: &str) -> QueryResult<Option<Deployment>> {
    on_backend!(conn, |c| deployments::table
        .filter(deployments::credential_prefix.eq(prefix))
        .select(Deployment::as_select())
        .first(c)
        .await
        .optional())
}

/// Marks `degraded` every `ready` deployment none of whose data planes reported since `stale_before`; the
/// deployments marked.
///
/// # Errors
///
/// Database errors.
pub async fn mark_degraded(conn: &mut Conn<'_>, stale_before: Time, now: Time) -> QueryResult<Vec<(Id, Id)>> {
    use super::schema::data_planes;
    on_backend!(conn, |c| {
        let reporting = data_planes::table
            .filter(data_planes::deployment_id.eq(deployments::id))
            .filter(data_planes::last_seen_at.ge(stale_before));
        diesel::update(
            deployments::table
                .filter(deployments::state.eq("ready"))
                .filter(diesel::dsl::not(diesel::dsl::exists(reporting))),
        )
        .set((deployments::state.eq("degraded"), deployments::updated_at.eq(now)))
        .returning((deployments::id, deployments::org_id))
        .get_results(c)
        .await
    })
}

/// Marks a deployment `ready` because a data plane of it reported (unless it is ready or uninstalled); its
/// org when it changed.
///
/// # Errors
///
/// Database errors.
pub async fn mark_ready(conn: &mut Conn<'_>, id: Id, now: Time) -> QueryResult<Option<Id>> {
    on_backend!(conn, |c| diesel::update(
        deployments::table
            .find(id)
            .filter(deployments::state.eq_any(["pending", "degraded", "failed"]))
    )
    .set((deployments::state.eq("ready"), deployments::updated_at.eq(now)))
    .returning(deployments::org_id)
    .get_result(c)
    .await
    .optional())
}
