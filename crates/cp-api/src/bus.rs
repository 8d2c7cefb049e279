//! The event bus: each change of state an org can follow (a run's state, a deployment's state, an
//! approval) is written to `changes` in the transaction that makes it, and read back in order by live
//! streams (`/runs/{run}/events` over SSE) and WebSocket subscriptions (`/api/v1/ws`) on every replica.
//! A change made on this replica wakes its readers at once; one made on another is found within a second.

use serde_json::{Value, json};

use crate::db::changes::{Filter, NewChange};
use crate::db::runs::Run;
use crate::db::{self, Conn, Id, Time};
use crate::error::Error;

pub const RUN: &str = "run";
pub const DEPLOYMENT: &str = "deployment";
pub const APPROVAL: &str = "approval";

/// A run's new state.
#[must_use]
pub fn run(run: &Run) -> NewChange {
    let failure_reason = run.failure_reason.as_deref().filter(|_| run.state == "failed");
    run_state(run.org_id, run.id, run.deployment_id, &run.state, failure_reason)
}

/// A run's new state, from its parts (a change made with the write that changes the state).
#[must_use]
pub fn run_state(org: Id, run: Id, deployment: Id, state: &str, failure_reason: Option<&str>) -> NewChange {
    let mut body = json!({
        "type": "run.state", "run_id": run.0, "deployment_id": deployment.0, "state": state,
    });
    if let Some(reason) = failure_reason {
        body["failure_reason"] = json!(reason);
    }
    change(org, RUN, run, body)
}

/// A deployment's new state.
#[must_use]
pub fn deployment(org: Id, deployment: Id, state: &str) -> NewChange {
    let body = json!({"type": "deployment.state", "deployment_id": deployment.0, "state": state});
    change(org, DEPLOYMENT, deployment, body)
}

/// An approval asked for or decided.
#[must_use]
pub fn approval(approval: &db::approvals::Approval) -> NewChange {
    let body = json!({
        "type": "approval.state", "approval_id": approval.id.0, "run_id": approval.run_id.0,
        "deployment_id": approval.deployment_id.0, "node": approval.node, "state": approval.state,
        "expires_at": approval.expires_at.0,
    });
    change(approval.org_id, APPROVAL, approval.id, body)
}

fn change(org: Id, topic: &'static str, subject: Id, body: Value) -> NewChange {
    NewChange {
        org_id: org,
        topic,
        subject,
        body: body.to_string(),
        at: Time::now(),
    }
}

/// Writes changes, inside the caller's transaction.
///
/// # Errors
///
/// Database errors.
pub async fn publish(tx: &mut Conn<'_>, changes: &[NewChange]) -> Result<(), Error> {
    Ok(db::changes::insert(tx, changes).await?)
}

/// What a subscriber follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// One run's states (`run:<id>`).
    Run(Id),
    /// The states of every run of an org (`org:<id>:runs`).
    OrgRuns(Id),
    /// An org's approvals (`org:<id>:approvals`).
    Approvals(Id),
    /// One deployment's states (`deployment:<id>`).
    Deployment(Id),
}

impl Topic {
    /// `run:<id>`, `org:<id>:runs`, `org:<id>:approvals` or `deployment:<id>`.
    ///
    /// # Errors
    ///
    /// [`Error::BadRequest`] for anything else.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let id = |text: &str| uuid::Uuid::parse_str(text).ok().map(Id);
        let topic = match text.split(':').collect::<Vec<_>>().as_slice() {
            ["run", run] => id(run).map(Self::Run),
            ["deployment", deployment] => id(deployment).map(Self::Deployment),
            ["org", org, "runs"] => id(org).map(Self::OrgRuns),
            ["org", org, "approvals"] => id(org).map(Self::Approvals),
            _ => None,
        };
        topic.ok_or_else(|| {
            Error::BadRequest(format!(
                "{text:?} is not a topic: use run:<id>, deployment:<id>, org:<id>:runs or org:<id>:approvals"
            ))
        })
    }

    /// The org the topic belongs to, for the membership check.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for a run or deployment that does not exist.
    pub async fn org(self, conn: &mut Conn<'_>) -> Result<Id, Error> {
        match self {
            Self::OrgRuns(org) | Self::Approvals(org) => Ok(org),
            Self::Run(run) => Ok(db::runs::find(conn, run).await?.org_id),
            Self::Deployment(deployment) => Ok(db::deployments::find(conn, deployment).await?.org_id),
        }
    }

    /// Which changes of `org` the topic covers.
    #[must_use]
    pub fn filter(self, org: Id) -> Filter<'static> {
        let (topic, subject) = match self {
            Self::Run(run) => (RUN, Some(run)),
            Self::OrgRuns(_) => (RUN, None),
            Self::Approvals(_) => (APPROVAL, None),
            Self::Deployment(deployment) => (DEPLOYMENT, Some(deployment)),
        };
        Filter {
            org,
            topic: Some(topic),
            subject,
        }
    }
}

impl std::fmt::Display for Topic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Run(run) => write!(f, "run:{}", run.0),
            Self::OrgRuns(org) => write!(f, "org:{}:runs", org.0),
            Self::Approvals(org) => write!(f, "org:{}:approvals", org.0),
            Self::Deployment(deployment) => write!(f, "deployment:{}", deployment.0),
        }
    }
}
