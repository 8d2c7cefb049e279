//! Subscriptions: an org's monthly fee for a deployment's agent, and each period's fee, charged once.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::{subscription_charges, subscriptions};
use super::{Conn, Id, Time, on_backend};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = subscriptions)]
pub struct Subscription {
    pub id: Id,
    pub org_id: Id,
    pub deployment_id: Id,
    pub developer_org_id: Id,
    /// The agent's reverse-DNS id.
    pub agent: String,
    pub monthly_micros: i64,
    pub created_by: Id,
    pub created_at: Time,
    pub cancelled_at: Option<Time>,
}

/// A subscription's fee for one period, with the journal that books it.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = subscription_charges)]
pub struct SubscriptionCharge {
    pub subscription_id: Id,
    /// `YYYY-MM`.
    pub period: String,
    pub journal_id: Id,
    pub org_id: Id,
    pub developer_org_id: Id,
    pub deployment_id: Id,
    pub agent: String,
    pub total_micros: i64,
    /// Basis points.
    pub developer_share: i32,
    pub developer_micros: i64,
    pub platform_micros: i64,
    pub charged_at: Time,
}

/// # Errors
///
/// A unique violation when the deployment already has an active subscription.
pub async fn insert(conn: &mut Conn<'_>, subscription: &Subscription) -> QueryResult<()> {
    on_backend!(conn, |c| diesel::insert_into(subscriptions::table)
        .values(subscription)
        .execute(c)
        .await
        .map(drop))
}

/// # Errors
///
/// `NotFound` when there is no such subscription.
pub async fn find(conn: &mut Conn<'_>, id: Id) -> QueryResult<Subscription> {
    on_backend!(conn, |c| subscriptions::table
        .find(id)
        .select(Subscription::as_select())
        .first(c)
        .await)
}

/// Cancels the subscription unless it already is; whether it did.
///
/// # Errors
///
/// Database errors.
pub async fn cancel(conn: &mut Conn<'_>, id: Id, at: Time) -> QueryResult<bool> {
    on_backend!(conn, |c| diesel::update(
        subscriptions::table
            .find(id)
            .filter(subscriptions::cancelled_at.is_null())
    )
    .set(subscriptions::cancelled_at.eq(at))
    .execute(c)
    .await
    .map(|updated| updated > 0))
}

/// Cancels the deployment's active subscription, if it has one.
///
/// # Errors
///
/// Database errors.
pub async fn cancel_of_deployment(conn: &mut Conn<'_>, deployment: Id, at: Time) -> QueryResult<()> {
    on_backend!(conn, |c| diesel::update(
        subscriptions::table
            .filter(subscriptions::deployment_id.eq(deployment))
            .filter(subscriptions::cancelled_at.is_null())
    )
    .set(subscriptions::cancelled_at.eq(at))
    .execute(c)
    .await
    .map(drop))
}

/// The org's subscriptions, newest first.
///
/// # Errors
///
/// Database errors.
pub async fn of_org(conn: &mut Conn<'_>, org: Id) -> QueryResult<Vec<Subscription>> {
    on_backend!(conn, |c| subscriptions::table
        .filter(subscriptions::org_id.eq(org))
        .order((subscriptions::created_at.desc(), subscriptions::id.desc()))
        .select(Subscription::as_select())
        .load(c)
        .await)
}

/// Every subscription active at some point of `[from, until)`: made before it ends, not cancelled before
/// it starts.
///
/// # Errors
///
/// Database errors.
pub async fn active_between(conn: &mut Conn<'_>, from: Time, until: Time) -> QueryResult<Vec<Subscription>> {
    on_backend!(conn, |c| subscriptions::table
        .filter(subscriptions::created_at.lt(until))
        .filter(
            subscriptions::cancelled_at
                .is_null()
                .or(subscriptions::cancelled_at.gt(from))
        )
        .order(subscriptions::id)
        .select(Subscription::as_select())
        .load(c)
        .await)
}

/// Inserts the period's fee unless the subscription has one for it; whether it did.
///
/// # Errors
///
/// Database errors.
pub async fn charge_once(conn: &mut Conn<'_>, charge: &SubscriptionCharge) -> QueryResult<bool> {
    on_backend!(conn, |c| diesel::insert_into(subscription_charges::table)
        .values(charge)
        .on_conflict_do_nothing()
        .execute(c)
        .await
        .map(|inserted| inserted > 0))
}

/// The period's fees: the org's when `org` is given, else every org's.
///
/// # Errors
///
/// Database errors.
pub async fn charges_of_period(
    conn: &mut Conn<'_>,
    org: Option<Id>,
    period: &str,
) -> QueryResult<Vec<SubscriptionCharge>> {
    on_backend!(conn, |c| {
        let mut query = subscription_charges::table
            .filter(subscription_charges::period.eq(period))
            .order(subscription_charges::journal_id)
            .select(SubscriptionCharge::as_select())
            .into_boxed();
        if let Some(org) = org {
            query = query.filter(subscription_charges::org_id.eq(org));
        }
        query.load(c).await
    })
}

/// The period's fees a developer org earns from.
///
/// # Errors
///
/// Database errors.
pub async fn earned_in_period(
    conn: &mut Conn<'_>,
    developer_org: Id,
    period: &str,
) -> QueryResult<Vec<SubscriptionCharge>> {
    on_backend!(conn, |c| subscription_charges::table
        .filter(subscription_charges::developer_org_id.eq(developer_org))
        .filter(subscription_charges::period.eq(period))
        .order(subscription_charges::journal_id)
        .select(SubscriptionCharge::as_select())
        .load(c)
        .await)
}

/// A subscription's fees, oldest period first.
///
/// # Errors
///
/// Database errors.
pub async fn charges_of(conn: &mut Conn<'_>, subscription: Id) -> QueryResult<Vec<SubscriptionCharge>> {
    on_backend!(conn, |c| subscription_charges::table
        .filter(subscription_charges::subscription_id.eq(subscription))
        .order(subscription_charges::period)
        .select(SubscriptionCharge::as_select())
        .load(c)
        .await)
}

/// The monthly fees the org was charged since `since`, in micro-dollars.
///
/// # Errors
///
/// Database errors.
pub async fn fees_since(conn: &mut Conn<'_>, org: Id, since: Time) -> QueryResult<i64> {
    on_backend!(conn, |c| subscription_charges::table
        .filter(subscription_charges::org_id.eq(org))
        .filter(subscription_charges::charged_at.ge(since))
        .select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "CAST(COALESCE(SUM(total_micros), 0) AS BIGINT)"
        ))
        .get_result(c)
        .await)
}
