//! The catalog: developers submit manifests as versions, platform admins review and publish them, anyone
//! browses what is published.
//!
//! A version moves `draft → in_review → published | rejected`, and a published one may be `deprecated`. A
//! draft or rejected version can be submitted again with new content; a version under review or published
//! is immutable: submitting it again with the same digest changes nothing, with other content is a conflict.

use manifest::{Format, Manifest};
use protocol::FieldError;
use serde::Serialize;
use serde_json::json;

use super::audit::{self, Actor, Entry};
use crate::db::agent_versions::AgentVersion;
use crate::db::agents::{Agent, ListingFields};
use crate::db::{self, Conn, Id, Time};
use crate::error::Error;

/// A version's review state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Draft,
    InReview,
    Published,
    Rejected,
    Deprecated,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::InReview => "in_review",
            Self::Published => "published",
            Self::Rejected => "rejected",
            Self::Deprecated => "deprecated",
        }
    }

    fn of(version: &AgentVersion) -> Result<Self, Error> {
        [
            Self::Draft,
            Self::InReview,
            Self::Published,
            Self::Rejected,
            Self::Deprecated,
        ]
        .into_iter()
        .find(|state| state.as_str() == version.state)
        .ok_or_else(|| Error::Internal(format!("unknown version state {:?}", version.state)))
    }
}

/// A version as its owner sees it after a change.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VersionView {
    pub agent_id: String,
    pub version: String,
    pub state: State,
    pub digest: String,
    pub rejection_reason: Option<String>,
    pub published_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl VersionView {
    pub(crate) fn of(agent_id: &str, version: &AgentVersion) -> Result<Self, Error> {
        Ok(Self {
            agent_id: agent_id.to_owned(),
            version: version.version.clone(),
            state: State::of(version)?,
            digest: version.digest.clone(),
            rejection_reason: version.rejection_reason.clone(),
            published_at: version.published_at.map(|at| at.0),
        })
    }
}

/// How a submission landed.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub version: VersionView,
    /// Whether anything was written (a repeat of an immutable version writes nothing).
    pub changed: bool,
}

/// `|a|b|`, so a LIKE finds whole values.
fn bar_list(values: &[String]) -> String {
    if values.is_empty() {
        String::new()
    } else {
        format!("|{}|", values.join("|"))
    }
}

/// The listing fields a manifest decides.
///
/// The headline price, for filtering and sorting, is the per-run price, else the monthly fee, else the
/// per-unit price, else the per-CPU-hour price, else zero.
#[must_use]
pub fn listing_fields(manifest: &Manifest) -> ListingFields {
    let pricing = &manifest.pricing;
    let usage = pricing.per_run.is_some() || pricing.per_unit.is_some() || pricing.per_cpu_hour.is_some();
    let pricing_model = match (usage, pricing.monthly.is_some()) {
        (false, false) => "free",
        (true, false) => "usage",
        (false, true) => "subscription",
        (true, true) => "hybrid",
    };
    let price = pricing
        .per_run
        .or(pricing.monthly)
        .or(pricing.per_unit.as_ref().map(|unit| unit.price))
        .or(pricing.per_cpu_hour)
        .map_or(0, |price| price.micros());
    let words = |values: &[String]| {
        values
            .iter()
            .map(|v| v.replace(['.', '-', '_'], " "))
            .collect::<Vec<_>>()
            .join(" ")
    };
    ListingFields {
        name: manifest.name.clone(),
        description: manifest.description.clone(),
        category: manifest.category.clone(),
        tags: bar_list(&manifest.tags),
        capabilities: bar_list(&manifest.capabilities),
        keywords: format!("{} {}", words(&manifest.tags), words(&manifest.capabilities))
            .trim()
            .to_owned(),
        pricing_model: pricing_model.to_owned(),
        price_micros: price,
        risk: serde_json::to_value(manifest.risk())
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
    }
}

fn apply(agent: &mut Agent, fields: ListingFields) {
    agent.name = fields.name;
    agent.description = fields.description;
    agent.category = fields.category;
    agent.tags = fields.tags;
    agent.capabilities = fields.capabilities;
    agent.keywords = fields.keywords;
    agent.pricing_model = fields.pricing_model;
    agent.price_micros = fields.price_micros;
    agent.risk = fields.risk;
}

/// The listing, if `org` owns it; another org's listing is as good as absent.
async fn owned(tx: &mut Conn<'_>, org: Id, agent_id: &str) -> Result<Agent, Error> {
    let agent = db::agents::by_agent_id(tx, agent_id)
        .await
        .map_err(|_| Error::NotFound(format!("no agent {agent_id:?}")))?;
    if agent.owner_org_id == org {
        Ok(agent)
    } else {
        Err(Error::NotFound(format!("no agent {agent_id:?} in this org")))
    }
}

async fn version_of(tx: &mut Conn<'_>, agent: &Agent, version: &str) -> Result<AgentVersion, Error> {
    db::agent_versions::find(tx, agent.id, version)
        .await?
        .ok_or_else(|| Error::NotFound(format!("{} has no version {version:?}", agent.agent_id)))
}

/// Submits a manifest (YAML or JSON) as a draft version of an agent the org owns, or creates the listing.
///
/// # Errors
///
/// [`Error::Validation`] with every manifest error; [`Error::Conflict`] when another org owns the agent id
/// or the version is immutable and the content differs.
pub async fn submit(
    conn: &mut Conn<'_>,
    actor: Actor,
    org: Id,
    source: &[u8],
    format: Format,
    node_kinds: &[&str],
) -> Result<Submitted, Error> {
    let manifest = manifest::parse(source, format, node_kinds)?;
    let digest = manifest.digest();
    let canonical = serde_json_canonicalizer::to_string(&manifest)
        .map_err(|error| Error::Internal(format!("manifest serialization: {error}")))?;
    let submitter = actor
        .user
        .ok_or_else(|| Error::Internal("a submission needs a user".to_owned()))?;
    let version_text = manifest.version.to_string();
    db::transaction(conn, async |tx| {
        let now = Time::now();
        let mut agent = match db::agents::by_agent_id(tx, &manifest.id).await {
            Ok(agent) if agent.owner_org_id != org => {
                return Err(Error::Conflict(format!(
                    "the agent id {:?} belongs to another org",
                    manifest.id
                )));
            }
            Ok(agent) => agent,
            Err(diesel::result::Error::NotFound) => {
                let mut agent = Agent {
                    id: Id::new(),
                    agent_id: manifest.id.clone(),
                    owner_org_id: org,
                    listed: false,
                    current_version: None,
                    name: String::new(),
                    description: String::new(),
                    category: String::new(),
                    tags: String::new(),
                    capabilities: String::new(),
                    keywords: String::new(),
                    pricing_model: "free".to_owned(),
                    price_micros: 0,
                    risk: "low".to_owned(),
                    installs: 0,
                    rating_count: 0,
                    rating_sum: 0,
                    rating_avg_milli: 0,
                    stars_1: 0,
                    stars_2: 0,
                    stars_3: 0,
                    stars_4: 0,
                    stars_5: 0,
                    created_at: now,
                    published_at: None,
                };
                apply(&mut agent, listing_fields(&manifest));
                db::agents::insert(tx, &agent).await?;
                agent
            }
            Err(other) => return Err(other.into()),
        };
        let (version, changed) = match db::agent_versions::find(tx, agent.id, &version_text).await? {
            None => {
                let version = AgentVersion {
                    id: Id::new(),
                    agent: agent.id,
                    version: version_text.clone(),
                    state: State::Draft.as_str().to_owned(),
                    manifest: canonical.clone(),
                    digest: digest.clone(),
                    submitted_by: submitter,
                    created_at: now,
                    updated_at: now,
                    reviewed_by: None,
                    reviewed_at: None,
                    rejection_reason: None,
                    published_at: None,
                };
                db::agent_versions::insert(tx, &version).await?;
                (version, true)
            }
            Some(mut version) => match State::of(&version)? {
                State::Draft | State::Rejected => {
                    let changed = version.digest != digest || version.state != State::Draft.as_str();
                    version.state = State::Draft.as_str().to_owned();
                    version.manifest.clone_from(&canonical);
                    version.digest.clone_from(&digest);
                    version.submitted_by = submitter;
                    version.updated_at = now;
                    version.rejection_reason = None;
                    db::agent_versions::update(tx, &version).await?;
                    (version, changed)
                }
                state if version.digest == digest => {
                    let _ = state;
                    return Ok(Submitted {
                        version: VersionView::of(&agent.agent_id, &version)?,
                        changed: false,
                    });
                }
                state => {
                    return Err(Error::Conflict(format!(
                        "{} {} is {} and cannot change; submit it as a new version",
                        agent.agent_id,
                        version.version,
                        state.as_str()
                    )));
                }
            },
        };
        if !agent.listed {
            apply(&mut agent, listing_fields(&manifest));
            db::agents::update(tx, &agent).await?;
        }
        record(
            tx,
            &actor,
            Some(org),
            "agent_version.submit",
            &agent,
            &version,
            json!({"digest": version.digest}),
        )
        .await?;
        Ok(Submitted {
            version: VersionView::of(&agent.agent_id, &version)?,
            changed,
        })
    })
    .await
}

async fn record(
    tx: &mut Conn<'_>,
    actor: &Actor,
    org: Option<Id>,
    action: &str,
    agent: &Agent,
    version: &AgentVersion,
    change: serde_json::Value,
) -> Result<(), Error> {
    audit::record(
        tx,
        Entry {
            actor: actor.user,
            org,
            action,
            target: format!("agent:{}@{}", agent.agent_id, version.version),
            change,
            client_addr: actor.client_addr.clone(),
        },
    )
    .await
}

/// Moves a version from one state to another, or says why it cannot.
fn transition(version: &mut AgentVersion, from: &[State], to: State) -> Result<(), Error> {
    let current = State::of(version)?;
    if !from.contains(&current) {
        let allowed: Vec<&str> = from.iter().map(|state| state.as_str()).collect();
        return Err(Error::Conflict(format!(
            "version {} is {}; only a {} version can become {}",
            version.version,
            current.as_str(),
            allowed.join(" or "),
            to.as_str()
        )));
    }
    version.state = to.as_str().to_owned();
    Ok(())
}

/// Sends a draft for review.
///
/// # Errors
///
/// [`Error::NotFound`] when the org has no such agent or version; [`Error::Conflict`] when it is not a draft.
pub async fn submit_for_review(
    conn: &mut Conn<'_>,
    actor: Actor,
    org: Id,
    agent_id: &str,
    version: &str,
) -> Result<VersionView, Error> {
    db::transaction(conn, async |tx| {
        let agent = owned(tx, org, agent_id).await?;
        let mut found = version_of(tx, &agent, version).await?;
        transition(&mut found, &[State::Draft], State::InReview)?;
        found.updated_at = Time::now();
        db::agent_versions::update(tx, &found).await?;
        record(
            tx,
            &actor,
            Some(org),
            "agent_version.submit_for_review",
            &agent,
            &found,
            json!({}),
        )
        .await?;
        VersionView::of(agent_id, &found)
    })
    .await
}

/// Publishes a version under review; it becomes the listing's current version unless a newer one is.
///
/// # Errors
///
/// [`Error::NotFound`] for an unknown agent or version; [`Error::Conflict`] when it is not under review.
pub async fn publish(
    conn: &mut Conn<'_>,
    actor: Actor,
    agent_id: &str,
    version: &str,
) -> Result<VersionView, Error> {
    db::transaction(conn, async |tx| {
        let mut agent = db::agents::by_agent_id(tx, agent_id)
            .await
            .map_err(|_| Error::NotFound(format!("no agent {agent_id:?}")))?;
        let mut found = version_of(tx, &agent, version).await?;
        transition(&mut found, &[State::InReview], State::Published)?;
        let now = Time::now();
        found.reviewed_by = actor.user;
        found.reviewed_at = Some(now);
        found.published_at = Some(now);
        found.updated_at = now;
        db::agent_versions::update(tx, &found).await?;
        let newer_current = agent
            .current_version
            .as_deref()
            .and_then(|current| semver::Version::parse(current).ok())
            .zip(semver::Version::parse(&found.version).ok())
            .is_some_and(|(current, this)| current > this);
        if !newer_current {
            let manifest = stored_manifest(&found)?;
            apply(&mut agent, listing_fields(&manifest));
            agent.listed = true;
            agent.current_version = Some(found.version.clone());
            agent.published_at = Some(now);
            db::agents::update(tx, &agent).await?;
        }
        record(
            tx,
            &actor,
            Some(agent.owner_org_id),
            "agent_version.publish",
            &agent,
            &found,
            json!({"digest": found.digest}),
        )
        .await?;
        VersionView::of(agent_id, &found)
    })
    .await
}

/// Rejects a version under review, with the reason the developer will read.
///
/// # Errors
///
/// [`Error::Validation`] without a reason; [`Error::Conflict`] when it is not under review.
pub async fn reject(
    conn: &mut Conn<'_>,
    actor: Actor,
    agent_id: &str,
    version: &str,
    reason: &str,
) -> Result<VersionView, Error> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 2000 {
        return Err(Error::Validation(vec![FieldError::new(
            "reason",
            "say why, in 1 to 2000 characters",
        )]));
    }
    db::transaction(conn, async |tx| {
        let agent = db::agents::by_agent_id(tx, agent_id)
            .await
            .map_err(|_| Error::NotFound(format!("no agent {agent_id:?}")))?;
        let mut found = version_of(tx, &agent, version).await?;
        transition(&mut found, &[State::InReview], State::Rejected)?;
        let now = Time::now();
        found.reviewed_by = actor.user;
        found.reviewed_at = Some(now);
        found.rejection_reason = Some(reason.to_owned());
        found.updated_at = now;
        db::agent_versions::update(tx, &found).await?;
        record(
            tx,
            &actor,
            Some(agent.owner_org_id),
            "agent_version.reject",
            &agent,
            &found,
            json!({"reason": reason}),
        )
        .await?;
        VersionView::of(agent_id, &found)
    })
    .await
}

/// Deprecates a published version; if it was current, the newest other published version takes its place,
/// and without one the agent leaves the catalog.
///
/// # Errors
///
/// [`Error::Conflict`] when the version is not published.
pub async fn deprecate(
    conn: &mut Conn<'_>,
    actor: Actor,
    org: Id,
    agent_id: &str,
    version: &str,
) -> Result<VersionView, Error> {
    db::transaction(conn, async |tx| {
        let mut agent = owned(tx, org, agent_id).await?;
        let mut found = version_of(tx, &agent, version).await?;
        transition(&mut found, &[State::Published], State::Deprecated)?;
        found.updated_at = Time::now();
        db::agent_versions::update(tx, &found).await?;
        if agent.current_version.as_deref() == Some(version) {
            let successor = db::agent_versions::of_agent(tx, agent.id)
                .await?
                .into_iter()
                .filter(|v| v.state == State::Published.as_str())
                .max_by_key(|v| semver::Version::parse(&v.version).ok());
            match successor {
                Some(successor) => {
                    apply(&mut agent, listing_fields(&stored_manifest(&successor)?));
                    agent.current_version = Some(successor.version);
                }
                None => {
                    agent.listed = false;
                    agent.current_version = None;
                }
            }
            db::agents::update(tx, &agent).await?;
        }
        record(
            tx,
            &actor,
            Some(org),
            "agent_version.deprecate",
            &agent,
            &found,
            json!({}),
        )
        .await?;
        VersionView::of(agent_id, &found)
    })
    .await
}

/// Deletes a draft (or rejected) version; a listing left with no versions goes too, freeing its id.
///
/// # Errors
///
/// [`Error::Conflict`] for a version under review, published or deprecated.
pub async fn delete_draft(
    conn: &mut Conn<'_>,
    actor: Actor,
    org: Id,
    agent_id: &str,
    version: &str,
) -> Result<(), Error> {
    db::transaction(conn, async |tx| {
        let agent = owned(tx, org, agent_id).await?;
        let mut found = version_of(tx, &agent, version).await?;
        let state = State::of(&found)?;
        if !matches!(state, State::Draft | State::Rejected) {
            transition(&mut found, &[State::Draft, State::Rejected], State::Draft)?;
        }
        db::agent_versions::delete(tx, found.id).await?;
        if db::agent_versions::of_agent(tx, agent.id).await?.is_empty() {
            db::agents::delete(tx, agent.id).await?;
        }
        record(
            tx,
            &actor,
            Some(org),
            "agent_version.delete",
            &agent,
            &found,
            json!({}),
        )
        .await
    })
    .await
}

/// A stored manifest, read back.
pub(crate) fn stored_manifest(version: &AgentVersion) -> Result<Manifest, Error> {
    serde_json::from_str(&version.manifest).map_err(|error| {
        Error::Internal(format!(
            "stored manifest of {} does not read back: {error}",
            version.version
        ))
    })
}
