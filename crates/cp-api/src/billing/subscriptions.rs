//! Subscriptions: an org pays an agent's monthly fee for a deployment while subscribed.
//!
//! The fee is charged at the start of each period the subscription is active in: for the period it is
//! made in when it is made (the whole fee, not a part of it), and for each later one by the monthly
//! schedule or `cp-api billing close-period`, whichever runs first. Each period's fee is one
//! `subscription_charges` row keyed by (subscription, period) with its journal, so however often either
//! runs a period is charged once. The fee is the one the deployment's version asked when the subscription
//! was made; cancelling (or uninstalling the deployment) stops the fees of later periods, and the current
//! one is kept.

use protocol::{FieldError, Money};
use serde::Serialize;

use super::ledger::{Journal, book, developer_share};
use super::period::Period;
use super::pricing::split;
use crate::db::subscriptions::{Subscription, SubscriptionCharge};
use crate::db::{self, Conn, Id, Time};
use crate::error::Error;

/// A subscription as its org sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SubscriptionView {
    pub id: uuid::Uuid,
    pub deployment_id: uuid::Uuid,
    /// The agent's reverse-DNS id.
    pub agent: String,
    /// The fee each period.
    #[schema(value_type = String)]
    pub monthly: Money,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub cancelled_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The periods (`YYYY-MM`) charged so far.
    pub charged_periods: Vec<String>,
}

impl SubscriptionView {
    fn of(subscription: &Subscription, charged: &[SubscriptionCharge]) -> Self {
        Self {
            id: subscription.id.0,
            deployment_id: subscription.deployment_id.0,
            agent: subscription.agent.clone(),
            monthly: Money::from_micros(subscription.monthly_micros),
            created_at: subscription.created_at.0,
            cancelled_at: subscription.cancelled_at.map(|at| at.0),
            charged_periods: charged.iter().map(|charge| charge.period.clone()).collect(),
        }
    }
}

/// Subscribes the org to the monthly fee of its deployment's agent and charges the current period's
/// fee, inside the caller's transaction.
///
/// # Errors
///
/// [`Error::NotFound`] for a deployment not of the org; [`Error::Validation`] when the deployment's
/// version has no monthly fee; [`Error::Conflict`] when it is uninstalled or already subscribed.
pub async fn subscribe(
    tx: &mut Conn<'_>,
    org: Id,
    deployment: Id,
    by: Id,
) -> Result<SubscriptionView, Error> {
    let no_such = || Error::NotFound("no such deployment".to_owned());
    let found = db::deployments::find(tx, deployment)
        .await
        .map_err(|_| no_such())?;
    if found.org_id != org {
        return Err(no_such());
    }
    if found.state == "uninstalled" {
        return Err(Error::Conflict("the deployment is uninstalled".to_owned()));
    }
    let listing = db::agents::find(tx, found.agent).await?;
    let version = db::agent_versions::find(tx, found.agent, &found.version)
        .await?
        .ok_or_else(|| Error::Internal(format!("{} has no version {}", listing.agent_id, found.version)))?;
    let manifest = crate::service::catalog::stored_manifest(&version)?;
    let monthly = manifest
        .pricing
        .monthly
        .filter(|fee| fee.micros() > 0)
        .ok_or_else(|| {
            Error::Validation(vec![FieldError::new(
                "deployment_id",
                format!(
                    "{} {} has no monthly fee to subscribe to",
                    listing.agent_id, found.version
                ),
            )])
        })?;
    let subscription = Subscription {
        id: Id::new(),
        org_id: org,
        deployment_id: deployment,
        developer_org_id: listing.owner_org_id,
        agent: listing.agent_id,
        monthly_micros: monthly.micros(),
        created_by: by,
        created_at: Time::now(),
        cancelled_at: None,
    };
    db::subscriptions::insert(tx, &subscription)
        .await
        .map_err(|error| match Error::from(error) {
            Error::Conflict(_) => {
                Error::Conflict("the deployment already has an active subscription".to_owned())
            }
            other => other,
        })?;
    charge_fee(tx, &subscription, Period::containing(subscription.created_at.0)).await?;
    let charged = db::subscriptions::charges_of(tx, subscription.id).await?;
    Ok(SubscriptionView::of(&subscription, &charged))
}

/// Cancels the org's subscription: no fee for later periods. Cancelling twice is harmless.
///
/// # Errors
///
/// [`Error::NotFound`] for a subscription not of the org.
pub async fn cancel(tx: &mut Conn<'_>, org: Id, id: Id) -> Result<SubscriptionView, Error> {
    let no_such = || Error::NotFound("no such subscription".to_owned());
    let found = db::subscriptions::find(tx, id).await.map_err(|_| no_such())?;
    if found.org_id != org {
        return Err(no_such());
    }
    db::subscriptions::cancel(tx, id, Time::now()).await?;
    let found = db::subscriptions::find(tx, id).await?;
    let charged = db::subscriptions::charges_of(tx, id).await?;
    Ok(SubscriptionView::of(&found, &charged))
}

/// The org's subscriptions, newest first.
///
/// # Errors
///
/// Database errors.
pub async fn of_org(conn: &mut Conn<'_>, org: Id) -> Result<Vec<SubscriptionView>, Error> {
    let mut views = Vec::new();
    for subscription in db::subscriptions::of_org(conn, org).await? {
        let charged = db::subscriptions::charges_of(conn, subscription.id).await?;
        views.push(SubscriptionView::of(&subscription, &charged));
    }
    Ok(views)
}

/// Charges the subscription's fee for `period`, with its journal, unless it was charged already;
/// whether it charged now.
///
/// # Errors
///
/// Database errors; [`Error::Internal`] for a developer-share setting out of range.
pub async fn charge_fee(
    tx: &mut Conn<'_>,
    subscription: &Subscription,
    period: Period,
) -> Result<bool, Error> {
    let share = developer_share(tx).await?;
    let total = Money::from_micros(subscription.monthly_micros);
    let (developer, platform) = split(total, share).map_err(|error| Error::Internal(error.to_string()))?;
    let charge = SubscriptionCharge {
        subscription_id: subscription.id,
        period: period.to_string(),
        journal_id: Id::new(),
        org_id: subscription.org_id,
        developer_org_id: subscription.developer_org_id,
        deployment_id: subscription.deployment_id,
        agent: subscription.agent.clone(),
        total_micros: total.micros(),
        developer_share: i32::try_from(share).unwrap_or_default(),
        developer_micros: developer.micros(),
        platform_micros: platform.micros(),
        charged_at: Time::now(),
    };
    if !db::subscriptions::charge_once(tx, &charge).await? {
        return Ok(false);
    }
    let journal = Journal {
        id: charge.journal_id,
        customer_org: charge.org_id,
        developer_org: charge.developer_org_id,
        developer,
        platform,
        at: charge.charged_at,
    };
    book(tx, &journal).await?;
    Ok(true)
}

/// Charges the fee of every subscription active in `period` that has not been charged for it; how many
/// were charged now. Each fee is its own short transaction.
///
/// # Errors
///
/// Database errors.
pub async fn charge_period(pool: &db::Pool, period: Period) -> Result<usize, Error> {
    let mut pooled = pool.get().await?;
    let active = db::subscriptions::active_between(&mut pooled.conn(), period.start(), period.end()).await?;
    let mut charged = 0;
    for subscription in active {
        let fresh = db::transaction(&mut pooled.conn(), async |tx| {
            charge_fee(tx, &subscription, period).await
        })
        .await?;
        charged += usize::from(fresh);
    }
    Ok(charged)
}
