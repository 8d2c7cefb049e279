//! Ratings and reviews: 1–5 stars and text, one per user per agent (editable), a reply from the developer;
//! the listing's average, count and distribution change in the same transaction.

use protocol::{FieldError, UserId};
use serde::Serialize;
use serde_json::json;

use super::audit::{self, Actor, Entry};
use crate::db::agents::Agent;
use crate::db::reviews::Review;
use crate::db::{self, Conn, Id, Time};
use crate::error::Error;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReviewView {
    pub id: uuid::Uuid,
    pub user_id: UserId,
    pub stars: i32,
    pub body: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub reply: Option<String>,
    pub replied_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<Review> for ReviewView {
    fn from(review: Review) -> Self {
        Self {
            id: review.id.0,
            user_id: review.user_id.into(),
            stars: review.stars,
            body: review.body,
            created_at: review.created_at.0,
            updated_at: review.updated_at.0,
            reply: review.reply,
            replied_at: review.replied_at.map(|at| at.0),
        }
    }
}

/// Who may review an agent, decided here and only here: members of an org that has it installed, except
/// members of the org that publishes it.
async fn may_review(tx: &mut Conn<'_>, user: Id, agent: &Agent) -> Result<(), Error> {
    if db::memberships::role(tx, agent.owner_org_id, user)
        .await?
        .is_some()
    {
        return Err(Error::Forbidden(
            "members of the publishing org cannot review its agents".to_owned(),
        ));
    }
    if !db::deployments::installed_by_member(tx, agent.id, user).await? {
        return Err(Error::Forbidden(
            "only members of an org that has the agent installed can review it".to_owned(),
        ));
    }
    Ok(())
}

async fn listed(tx: &mut Conn<'_>, agent_id: &str) -> Result<Agent, Error> {
    db::agents::by_agent_id(tx, agent_id)
        .await
        .ok()
        .filter(|agent| agent.listed)
        .ok_or_else(|| Error::NotFound(format!("no agent {agent_id:?} in the catalog")))
}

fn check(stars: i32, body: &str) -> Result<(), Error> {
    let mut errors = Vec::new();
    if !(1..=5).contains(&stars) {
        errors.push(FieldError::new(
            "stars",
            format!("give 1 to 5 stars, not {stars}"),
        ));
    }
    if body.chars().count() > 5000 {
        errors.push(FieldError::new("body", "a review has at most 5000 characters"));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(errors))
    }
}

/// Creates the caller's review of the agent, or edits it. Returns it, and whether it is new.
///
/// # Errors
///
/// [`Error::Validation`] for stars outside 1–5 or an over-long text; [`Error::Forbidden`] for the
/// publisher's own members; [`Error::NotFound`] for an agent not in the catalog.
pub async fn put(
    conn: &mut Conn<'_>,
    actor: Actor,
    agent_id: &str,
    stars: i32,
    body: &str,
) -> Result<(ReviewView, bool), Error> {
    check(stars, body)?;
    let user = actor
        .user
        .ok_or_else(|| Error::Unauthenticated("sign in to review".to_owned()))?;
    db::transaction(conn, async |tx| {
        let agent = listed(tx, agent_id).await?;
        may_review(tx, user, &agent).await?;
        let now = Time::now();
        let (review, created) = match db::reviews::of_user(tx, agent.id, user).await? {
            Some(mut review) => {
                let old = review.stars;
                review.stars = stars;
                body.clone_into(&mut review.body);
                review.updated_at = now;
                db::reviews::update(tx, &review).await?;
                db::agents::count_rating(tx, agent.id, stars, Some(old)).await?;
                (review, false)
            }
            None => {
                let review = Review {
                    id: Id::new(),
                    agent: agent.id,
                    user_id: user,
                    stars,
                    body: body.to_owned(),
                    created_at: now,
                    updated_at: now,
                    reply: None,
                    replied_at: None,
                };
                db::reviews::insert(tx, &review).await?;
                db::agents::count_rating(tx, agent.id, stars, None).await?;
                (review, true)
            }
        };
        audit::record(
            tx,
            Entry {
                actor: Some(user),
                org: None,
                action: if created { "review.create" } else { "review.edit" },
                target: format!("review:{}", review.id.0),
                change: json!({"agent": agent.agent_id, "stars": stars}),
                client_addr: actor.client_addr.clone(),
            },
        )
        .await?;
        Ok((review.into(), created))
    })
    .await
}

/// The publishing org's reply to a review (replacing an earlier reply).
///
/// # Errors
///
/// [`Error::NotFound`] when the org does not publish the agent or it has no such review.
pub async fn reply(
    conn: &mut Conn<'_>,
    actor: Actor,
    org: Id,
    agent_id: &str,
    review: Id,
    text: &str,
) -> Result<ReviewView, Error> {
    if text.trim().is_empty() || text.chars().count() > 5000 {
        return Err(Error::Validation(vec![FieldError::new(
            "body",
            "a reply has 1 to 5000 characters",
        )]));
    }
    db::transaction(conn, async |tx| {
        let agent = db::agents::by_agent_id(tx, agent_id)
            .await
            .ok()
            .filter(|agent| agent.owner_org_id == org)
            .ok_or_else(|| Error::NotFound(format!("no agent {agent_id:?} in this org")))?;
        let mut found = db::reviews::find(tx, agent.id, review)
            .await
            .map_err(|_| Error::NotFound("no such review".to_owned()))?;
        found.reply = Some(text.to_owned());
        found.replied_at = Some(Time::now());
        db::reviews::update(tx, &found).await?;
        audit::record(
            tx,
            Entry {
                actor: actor.user,
                org: Some(org),
                action: "review.reply",
                target: format!("review:{}", found.id.0),
                change: json!({}),
                client_addr: actor.client_addr.clone(),
            },
        )
        .await?;
        Ok(found.into())
    })
    .await
}
