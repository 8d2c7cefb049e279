//! Approvals: a suspended run waits on one until an approver of its org decides it, or it expires.
//! Approving queues a resume task carrying the decision in its checkpoint (under
//! `state.approvals.<node>`); rejecting or letting it expire ends the run `failed` with the reason. A
//! decision is final. A run that completes after an approval was granted ends `remediated`.

use chrono::{DateTime, Utc};
use protocol::{FieldError, Page};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::bus;
use crate::db::approvals::{Approval, Filter};
use crate::db::tasks::Task;
use crate::db::{self, Conn, Id, Time};
use crate::error::Error;
use crate::service::audit::{self, Actor, Entry};
use crate::service::keyset;
use crate::service::runs::MAX_ATTEMPTS;

const STATES: [&str; 4] = ["pending", "approved", "rejected", "expired"];
const MAX_COMMENT_BYTES: usize = 4096;

/// An approval as its org sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApprovalView {
    pub id: uuid::Uuid,
    pub org_id: uuid::Uuid,
    pub run_id: uuid::Uuid,
    pub deployment_id: uuid::Uuid,
    /// The node that asked.
    pub node: String,
    /// What would be done.
    pub action: Value,
    /// What the run found it would change.
    pub impact: Value,
    pub reason: Option<String>,
    /// The org role that decides (its admins always may).
    pub decider_role: String,
    /// `pending`, `approved`, `rejected` or `expired`.
    pub state: String,
    pub requested_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub decided_by: Option<uuid::Uuid>,
    pub decided_at: Option<DateTime<Utc>>,
    pub comment: Option<String>,
}

impl ApprovalView {
    fn of(approval: &Approval) -> Self {
        let json = |text: &str| serde_json::from_str(text).unwrap_or(Value::Null);
        Self {
            id: approval.id.0,
            org_id: approval.org_id.0,
            run_id: approval.run_id.0,
            deployment_id: approval.deployment_id.0,
            node: approval.node.clone(),
            action: json(&approval.action),
            impact: json(&approval.impact),
            reason: approval.reason.clone(),
            decider_role: approval.decider_role.clone(),
            state: approval.state.clone(),
            requested_at: approval.requested_at.0,
            expires_at: approval.expires_at.0,
            decided_by: approval.decided_by.map(|id| id.0),
            decided_at: approval.decided_at.map(|at| at.0),
            comment: approval.comment.clone(),
        }
    }
}

/// Query parameters of an org's approval list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ApprovalQuery {
    pub state: Option<String>,
    pub run_id: Option<uuid::Uuid>,
    /// An agent's reverse-DNS id: approvals of the org's deployments of it.
    pub agent: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// An org's approvals, newest first.
///
/// # Errors
///
/// [`Error::BadRequest`] for an unknown state, a bad cursor or a limit outside 1..=100.
pub async fn list(conn: &mut Conn<'_>, org: Id, query: &ApprovalQuery) -> Result<Page<ApprovalView>, Error> {
    if let Some(state) = &query.state
        && !STATES.contains(&state.as_str())
    {
        return Err(Error::BadRequest(format!(
            "state {state:?} is not one of: {}",
            STATES.join(", ")
        )));
    }
    let limit = keyset::limit(query.limit)?;
    let before = query.cursor.as_deref().map(keyset::decode).transpose()?;
    let deployments = match &query.agent {
        None => None,
        Some(agent_id) => {
            let agent = db::agents::by_agent_id(conn, agent_id).await.ok();
            let of_org = db::deployments::of_org(conn, org, true).await?;
            Some(
                of_org
                    .into_iter()
                    .filter(|deployment| agent.as_ref().is_some_and(|agent| agent.id == deployment.agent))
                    .map(|deployment| deployment.id)
                    .collect(),
            )
        }
    };
    let filter = Filter {
        state: query.state.clone(),
        run: query.run_id.map(Id),
        deployments,
        before,
        limit: limit + 1,
    };
    let found = db::approvals::of_org(conn, org, &filter).await?;
    keyset::page(
        found,
        limit,
        |approval| (approval.requested_at, approval.id),
        |approval| Ok(ApprovalView::of(approval)),
    )
}

/// A decision, with the approver's comment (required to reject).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    #[serde(default)]
    pub comment: Option<String>,
}

/// Decides a pending approval of the org: approving queues the run again to resume from its
/// checkpoint, with the decision in it; rejecting ends the run `failed` with the comment.
///
/// # Errors
///
/// [`Error::NotFound`] for an approval of another org; [`Error::Conflict`] for one decided or expired;
/// [`Error::Validation`] for a rejection without a comment or an overlong comment.
pub async fn decide(
    conn: &mut Conn<'_>,
    actor: Actor,
    org: Id,
    id: Id,
    approve: bool,
    decision: Decision,
) -> Result<ApprovalView, Error> {
    let comment = decision
        .comment
        .map(|comment| comment.trim().to_owned())
        .filter(|c| !c.is_empty());
    if comment
        .as_ref()
        .is_some_and(|comment| comment.len() > MAX_COMMENT_BYTES)
    {
        return Err(Error::Validation(vec![FieldError::new(
            "comment",
            format!("at most {MAX_COMMENT_BYTES} bytes"),
        )]));
    }
    if !approve && comment.is_none() {
        return Err(Error::Validation(vec![FieldError::new(
            "comment",
            "a rejection says why: the run ends with this comment",
        )]));
    }
    let decider = actor
        .user
        .ok_or_else(|| Error::Internal("a decision needs a user".to_owned()))?;
    db::transaction(conn, async |tx| {
        let no_such = || Error::NotFound("no such approval".to_owned());
        let mut approval = db::approvals::find(tx, id).await.map_err(|_| no_such())?;
        if approval.org_id != org {
            return Err(no_such());
        }
        let now = Time::now();
        if approval.state != "pending" {
            return Err(Error::Conflict(format!(
                "the approval was {} already: a decision is final",
                approval.state
            )));
        }
        if approval.expires_at.0 <= now.0 {
            return Err(Error::Conflict(format!(
                "the approval expired at {}",
                approval.expires_at.0.to_rfc3339()
            )));
        }
        let mut run = db::runs::find(tx, approval.run_id).await?;
        if approve && run.created_by == decider && db::orgs::find(tx, org).await?.forbid_self_approval {
            return Err(Error::Forbidden(
                "this org forbids approving a request of a run you started: another approver decides"
                    .to_owned(),
            ));
        }
        if run.state != "awaiting_approval" {
            return Err(Error::Conflict(format!(
                "the run is {}, no longer waiting on this approval",
                run.state
            )));
        }
        approval.state = if approve { "approved" } else { "rejected" }.to_owned();
        approval.decided_by = Some(decider);
        approval.decided_at = Some(now);
        approval.comment.clone_from(&comment);
        db::approvals::update(tx, &approval).await?;
        if approve {
            let mut checkpoint: Value = run
                .checkpoint
                .as_deref()
                .and_then(|text| serde_json::from_str(text).ok())
                .unwrap_or_else(|| json!({"seq": 0, "nodes": {}, "state": {}}));
            if !checkpoint["state"].is_object() {
                checkpoint["state"] = json!({});
            }
            if !checkpoint["state"]["approvals"].is_object() {
                checkpoint["state"]["approvals"] = json!({});
            }
            checkpoint["state"]["approvals"][&approval.node] = json!({
                "approval_id": approval.id.0, "decision": "approved", "comment": comment,
                "decided_by": decider.0, "decided_at": now.0,
            });
            run.checkpoint = Some(checkpoint.to_string());
            run.state = "queued".to_owned();
            // A new delivery: its events number from 1 under a new attempt.
            let attempt = run.attempts + 1;
            db::tasks::insert(tx, &Task::queued(&run, attempt, attempt + MAX_ATTEMPTS - 1, now)).await?;
            db::tasks::announce(tx, run.deployment_id).await?;
        } else {
            run.state = "failed".to_owned();
            run.failure_reason = Some(format!(
                "approval of {} rejected: {}",
                approval.node,
                comment.as_deref().unwrap_or_default()
            ));
            run.finished_at = Some(now);
        }
        db::runs::update(tx, &run).await?;
        bus::publish(tx, &[bus::approval(&approval), bus::run(&run)]).await?;
        audit::record(
            tx,
            Entry {
                actor: actor.user,
                org: Some(org),
                action: if approve {
                    "approval.approve"
                } else {
                    "approval.reject"
                },
                target: format!("approval:{}", approval.id.0),
                change: json!({"run_id": run.id.0, "node": approval.node, "comment": comment}),
                client_addr: actor.client_addr.clone(),
            },
        )
        .await?;
        Ok(ApprovalView::of(&approval))
    })
    .await
}

/// Expires the approvals whose time ran out, ending their runs `failed`; how many.
///
/// # Errors
///
/// Database errors.
pub async fn expire(conn: &mut Conn<'_>) -> Result<usize, Error> {
    db::transaction(conn, async |tx| {
        let now = Time::now();
        let expired = db::approvals::expired(tx, now).await?;
        for approval in &expired {
            let mut approval = approval.clone();
            approval.state = "expired".to_owned();
            approval.decided_at = Some(now);
            db::approvals::update(tx, &approval).await?;
            let mut run = db::runs::find(tx, approval.run_id).await?;
            let mut changes = vec![bus::approval(&approval)];
            if run.state == "awaiting_approval" {
                run.state = "failed".to_owned();
                run.failure_reason = Some(format!(
                    "approval of {} expired unanswered at {}",
                    approval.node,
                    approval.expires_at.0.to_rfc3339()
                ));
                run.finished_at = Some(now);
                db::runs::update(tx, &run).await?;
                changes.push(bus::run(&run));
            }
            bus::publish(tx, &changes).await?;
        }
        Ok(expired.len())
    })
    .await
}
