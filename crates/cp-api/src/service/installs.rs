//! Installs: an org installs a published agent version as a deployment (SaaS or BYOC) with the permissions
//! it grants, gets the deployment's data-plane credential once, and can upgrade, roll back and uninstall.

use std::collections::BTreeSet;
use std::collections::HashMap;
use std::collections::hash_map::Entry as Slot;

use protocol::FieldError;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::api_key;
use crate::db::agent_versions::AgentVersion;
use crate::db::agents::Agent;
use crate::db::deployments::Deployment;
use crate::db::{self, Conn, Id, Time};
use crate::error::Error;
use crate::service::audit::{self, Actor, Entry};
use crate::service::catalog::stored_manifest;

/// What an install asks for.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Install {
    pub agent_id: String,
    pub version: String,
    pub deployment_type: String,
    #[serde(default = "empty_object")]
    pub config: serde_json::Value,
    #[serde(default)]
    pub granted_permissions: Vec<String>,
}

fn empty_object() -> serde_json::Value {
    json!({})
}

/// A deployment as its org sees it; the credential's secret is never shown again.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeploymentView {
    pub id: uuid::Uuid,
    pub org_id: uuid::Uuid,
    pub agent_id: String,
    pub version: String,
    pub previous_version: Option<String>,
    pub deployment_type: String,
    pub state: String,
    pub config: serde_json::Value,
    pub granted_permissions: Vec<String>,
    /// The credential's public prefix, to tell credentials apart.
    pub credential_prefix: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub uninstalled_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl DeploymentView {
    fn of(deployment: &Deployment, agent_id: &str) -> Result<Self, Error> {
        let stored = |what: &str, error: serde_json::Error| {
            Error::Internal(format!(
                "deployment {} {what} does not read back: {error}",
                deployment.id.0
            ))
        };
        Ok(Self {
            id: deployment.id.0,
            org_id: deployment.org_id.0,
            agent_id: agent_id.to_owned(),
            version: deployment.version.clone(),
            previous_version: deployment.previous_version.clone(),
            deployment_type: deployment.deployment_type.clone(),
            state: deployment.state.clone(),
            config: serde_json::from_str(&deployment.config).map_err(|e| stored("config", e))?,
            granted_permissions: deployment
                .granted_permissions()
                .map_err(|e| stored("permissions", e))?,
            credential_prefix: deployment.credential_prefix.clone(),
            created_at: deployment.created_at.0,
            updated_at: deployment.updated_at.0,
            uninstalled_at: deployment.uninstalled_at.map(|at| at.0),
        })
    }
}

/// A new deployment with its data-plane credential, shown this once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Installed {
    #[serde(flatten)]
    pub deployment: DeploymentView,
    pub credential: String,
}

const DEPLOYMENT_TYPES: [&str; 2] = ["saas", "byoc"];

/// A version an org may install now: published. (Deprecated versions keep running where installed, and a
/// rollback may return to one, but nobody installs or upgrades to them.)
async fn installable(tx: &mut Conn<'_>, agent: &Agent, version: &str) -> Result<AgentVersion, Error> {
    match db::agent_versions::find(tx, agent.id, version).await? {
        Some(found) if found.state == "published" => Ok(found),
        Some(found) => Err(Error::Validation(vec![FieldError::new(
            "version",
            format!("{} {version} is {}, not published", agent.agent_id, found.state),
        )])),
        None => Err(Error::Validation(vec![FieldError::new(
            "version",
            format!("{} has no version {version:?}", agent.agent_id),
        )])),
    }
}

/// Every scope the version's tools ask for.
fn asked_scopes(version: &AgentVersion) -> Result<BTreeSet<String>, Error> {
    Ok(stored_manifest(version)?
        .tools
        .into_iter()
        .flat_map(|tool| tool.scopes)
        .collect())
}

/// The grants, checked against what the version asks for: each must be asked for; repeats are dropped.
fn check_grants(granted: &[String], asked: &BTreeSet<String>) -> Result<Vec<String>, Error> {
    let errors: Vec<FieldError> = granted
        .iter()
        .enumerate()
        .filter(|(_, scope)| !asked.contains(*scope))
        .map(|(index, scope)| {
            let asked = asked.iter().map(String::as_str).collect::<Vec<_>>().join(", ");
            FieldError::new(
                format!("granted_permissions[{index}]"),
                format!("the agent does not ask for {scope:?}; it asks for: {asked}"),
            )
        })
        .collect();
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    Ok(granted
        .iter()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect())
}

async fn record(
    tx: &mut Conn<'_>,
    actor: &Actor,
    deployment: &Deployment,
    action: &str,
    change: serde_json::Value,
) -> Result<(), Error> {
    audit::record(
        tx,
        Entry {
            actor: actor.user,
            org: Some(deployment.org_id),
            action,
            target: format!("deployment:{}", deployment.id.0),
            change,
            client_addr: actor.client_addr.clone(),
        },
    )
    .await
}

fn encode(value: &impl Serialize) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|error| Error::Internal(format!("encoding: {error}")))
}

/// Installs a published version for the org.
///
/// # Errors
///
/// [`Error::NotFound`] for an agent not in the catalog; [`Error::Validation`] with every bad field (an
/// unknown deployment type, a config that is not an object, a version not published, scopes the agent does
/// not ask for).
pub async fn install(conn: &mut Conn<'_>, actor: Actor, org: Id, input: Install) -> Result<Installed, Error> {
    let mut errors = Vec::new();
    if !DEPLOYMENT_TYPES.contains(&input.deployment_type.as_str()) {
        errors.push(FieldError::new(
            "deployment_type",
            format!("{:?} is not one of: saas, byoc", input.deployment_type),
        ));
    }
    if !input.config.is_object() {
        errors.push(FieldError::new("config", "must be a JSON object"));
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let installer = actor
        .user
        .ok_or_else(|| Error::Internal("an install needs a user".to_owned()))?;
    let credential = api_key::generate(api_key::DATA_PLANE)
        .map_err(|error| Error::Internal(format!("no randomness for a credential: {error}")))?;
    db::transaction(conn, async |tx| {
        let agent = db::agents::by_agent_id(tx, &input.agent_id)
            .await
            .ok()
            .filter(|agent| agent.listed)
            .ok_or_else(|| Error::NotFound(format!("no agent {:?} in the catalog", input.agent_id)))?;
        let version = installable(tx, &agent, &input.version).await?;
        let granted = check_grants(&input.granted_permissions, &asked_scopes(&version)?)?;
        let now = Time::now();
        let deployment = Deployment {
            id: Id::new(),
            org_id: org,
            agent: agent.id,
            version: version.version.clone(),
            previous_version: None,
            deployment_type: input.deployment_type.clone(),
            state: "pending".to_owned(),
            config: encode(&input.config)?,
            granted_permissions: encode(&granted)?,
            credential_prefix: credential.prefix.clone(),
            credential_hash: credential.secret_hash.clone(),
            installed_by: installer,
            created_at: now,
            updated_at: now,
            uninstalled_at: None,
        };
        db::deployments::insert(tx, &deployment).await?;
        crate::bus::publish(
            tx,
            &[crate::bus::deployment(
                deployment.org_id,
                deployment.id,
                &deployment.state,
            )],
        )
        .await?;
        db::agents::count_install(tx, agent.id, 1).await?;
        let change = json!({"agent_id": agent.agent_id, "version": deployment.version,
            "deployment_type": deployment.deployment_type, "granted_permissions": granted});
        record(tx, &actor, &deployment, "deployment.install", change).await?;
        Ok(Installed {
            deployment: DeploymentView::of(&deployment, &agent.agent_id)?,
            credential: credential.key.clone(),
        })
    })
    .await
}

async fn agent_id_of(tx: &mut Conn<'_>, deployment: &Deployment) -> Result<String, Error> {
    Ok(db::agents::find(tx, deployment.agent).await?.agent_id)
}

/// One deployment.
///
/// # Errors
///
/// [`Error::NotFound`] when there is none.
pub async fn get(conn: &mut Conn<'_>, id: Id) -> Result<DeploymentView, Error> {
    let deployment = db::deployments::find(conn, id).await?;
    DeploymentView::of(&deployment, &agent_id_of(conn, &deployment).await?)
}

/// The org's deployments, newest first (uninstalled ones too when asked).
///
/// # Errors
///
/// Database errors.
pub async fn list(
    conn: &mut Conn<'_>,
    org: Id,
    with_uninstalled: bool,
) -> Result<Vec<DeploymentView>, Error> {
    let mut views = Vec::new();
    // An org installs few agents, often several times: read each listing once.
    let mut agent_ids = HashMap::new();
    for deployment in db::deployments::of_org(conn, org, with_uninstalled).await? {
        let agent_id = match agent_ids.entry(deployment.agent) {
            Slot::Occupied(known) => known.into_mut(),
            Slot::Vacant(slot) => slot.insert(agent_id_of(conn, &deployment).await?),
        };
        views.push(DeploymentView::of(&deployment, agent_id)?);
    }
    Ok(views)
}

/// A deployment that is still installed, for a change.
async fn live(tx: &mut Conn<'_>, id: Id) -> Result<(Deployment, Agent), Error> {
    let deployment = db::deployments::find(tx, id).await?;
    if deployment.state == "uninstalled" {
        return Err(Error::Conflict("the deployment is uninstalled".to_owned()));
    }
    let agent = db::agents::find(tx, deployment.agent).await?;
    Ok((deployment, agent))
}

/// Moves a deployment to another published version; its grants carry over where the new version still asks
/// for them, unless new grants are given.
///
/// # Errors
///
/// [`Error::Conflict`] for an uninstalled deployment or the version it already runs;
/// [`Error::Validation`] for a version not published or grants the version does not ask for.
pub async fn upgrade(
    conn: &mut Conn<'_>,
    actor: Actor,
    id: Id,
    version: &str,
    granted: Option<Vec<String>>,
) -> Result<DeploymentView, Error> {
    db::transaction(conn, async |tx| {
        let (mut deployment, agent) = live(tx, id).await?;
        if deployment.version == version {
            return Err(Error::Conflict(format!("the deployment already runs {version}")));
        }
        let target = installable(tx, &agent, version).await?;
        let asked = asked_scopes(&target)?;
        let granted = match granted {
            Some(granted) => check_grants(&granted, &asked)?,
            None => {
                let held = deployment
                    .granted_permissions()
                    .map_err(|error| Error::Internal(format!("stored permissions: {error}")))?;
                held.into_iter().filter(|scope| asked.contains(scope)).collect()
            }
        };
        let from = std::mem::replace(&mut deployment.version, target.version.clone());
        deployment.previous_version = Some(from.clone());
        deployment.granted_permissions = encode(&granted)?;
        deployment.updated_at = Time::now();
        db::deployments::update(tx, &deployment).await?;
        let change = json!({"from": from, "to": deployment.version, "granted_permissions": granted});
        record(tx, &actor, &deployment, "deployment.upgrade", change).await?;
        DeploymentView::of(&deployment, &agent.agent_id)
    })
    .await
}

/// Returns a deployment to the version it ran before its last upgrade (which may since have been
/// deprecated: what ran before may run again).
///
/// # Errors
///
/// [`Error::Conflict`] when there is nothing to roll back to, or the deployment is uninstalled.
pub async fn rollback(conn: &mut Conn<'_>, actor: Actor, id: Id) -> Result<DeploymentView, Error> {
    db::transaction(conn, async |tx| {
        let (mut deployment, agent) = live(tx, id).await?;
        let Some(previous) = deployment.previous_version.clone() else {
            return Err(Error::Conflict(
                "the deployment has no previous version to roll back to".to_owned(),
            ));
        };
        let target = db::agent_versions::find(tx, agent.id, &previous)
            .await?
            .filter(|found| matches!(found.state.as_str(), "published" | "deprecated"))
            .ok_or_else(|| Error::Conflict(format!("version {previous} can no longer run")))?;
        let asked = asked_scopes(&target)?;
        let held = deployment
            .granted_permissions()
            .map_err(|error| Error::Internal(format!("stored permissions: {error}")))?;
        let granted: Vec<String> = held.into_iter().filter(|scope| asked.contains(scope)).collect();
        let from = std::mem::replace(&mut deployment.version, previous);
        deployment.previous_version = Some(from.clone());
        deployment.granted_permissions = encode(&granted)?;
        deployment.updated_at = Time::now();
        db::deployments::update(tx, &deployment).await?;
        let change = json!({"from": from, "to": deployment.version});
        record(tx, &actor, &deployment, "deployment.rollback", change).await?;
        DeploymentView::of(&deployment, &agent.agent_id)
    })
    .await
}

/// Uninstalls a deployment: its credential stops working, its queued runs are cancelled (running ones are
/// told to stop), its subscription ends (no fee for later months) and the listing's install count drops. The row stays, for the audit trail and the run
/// history.
///
/// # Errors
///
/// [`Error::Conflict`] when it is uninstalled already.
pub async fn uninstall(conn: &mut Conn<'_>, actor: Actor, id: Id) -> Result<DeploymentView, Error> {
    db::transaction(conn, async |tx| {
        let (mut deployment, agent) = live(tx, id).await?;
        let now = Time::now();
        deployment.state = "uninstalled".to_owned();
        deployment.uninstalled_at = Some(now);
        deployment.updated_at = now;
        db::deployments::update(tx, &deployment).await?;
        crate::bus::publish(
            tx,
            &[crate::bus::deployment(
                deployment.org_id,
                deployment.id,
                &deployment.state,
            )],
        )
        .await?;
        db::agents::count_install(tx, agent.id, -1).await?;
        crate::service::runs::cancel_all(tx, &actor, deployment.id).await?;
        db::subscriptions::cancel_of_deployment(tx, deployment.id, now).await?;
        record(tx, &actor, &deployment, "deployment.uninstall", json!({})).await?;
        DeploymentView::of(&deployment, &agent.agent_id)
    })
    .await
}
