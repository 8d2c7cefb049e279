//! An org's webhooks: made, changed and removed by its admins, with every delivery and attempt to read and
//! any delivery to send again. How deliveries are made: [`crate::webhooks`].

use protocol::{FieldError, Page};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::db::webhooks::{Attempt, Delivery, DeliveryFilter, Webhook};
use crate::db::{self, Conn, Id, Time};
use crate::error::Error;
use crate::service::audit::{self, Actor, Entry};
use crate::service::keyset;
use crate::webhooks::address::AddressPolicy;
use crate::webhooks::{self as sender, events, signature};

/// The most webhooks an org may have.
pub const MAX_PER_ORG: usize = 25;
const MAX_URL: usize = 2048;
const MAX_DESCRIPTION: usize = 500;
const MAX_EVENTS: usize = 50;
const FORMATS: &[&str] = &["json", "slack"];
const DELIVERY_STATES: &[&str] = &["pending", "delivered", "failed"];

/// A webhook as its org sees it (never its secret, shown only when made or rotated).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WebhookView {
    pub id: uuid::Uuid,
    pub org_id: uuid::Uuid,
    pub url: String,
    /// Event patterns: `run.succeeded`, `approval.*`, `*`.
    pub events: Vec<String>,
    /// `json` (the event as is) or `slack` (a Slack-compatible message).
    pub format: String,
    pub description: Option<String>,
    pub active: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl WebhookView {
    fn of(hook: &Webhook) -> Self {
        Self {
            id: hook.id.0,
            org_id: hook.org_id.0,
            url: hook.url.clone(),
            events: sender::patterns(hook),
            format: hook.format.clone(),
            description: hook.description.clone(),
            active: hook.active,
            created_at: hook.created_at.0,
            updated_at: hook.updated_at.0,
        }
    }
}

/// A webhook with its signing secret: shown this once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// `whsec_` and the base64 of the signing key (see the signature scheme in the API's description).
    pub secret: String,
}

/// A new webhook.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Where deliveries are posted: `http` or `https`.
    pub url: String,
    /// Event patterns: `run.succeeded`, `approval.*`, `*`.
    pub events: Vec<String>,
    /// `json` (default) or `slack`.
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Default true.
    #[serde(default)]
    pub active: Option<bool>,
}

/// Changes to a webhook; what is left out stays.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookChange {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub format: Option<String>,
    /// An empty description removes it.
    pub description: Option<String>,
    pub active: Option<bool>,
}

/// A delivery: one event for one webhook.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    /// Also the `webhook-id` header of every attempt.
    pub id: uuid::Uuid,
    pub webhook_id: uuid::Uuid,
    pub event: String,
    /// `pending`, `delivered` or `failed` (retries ran out).
    pub state: String,
    pub attempts: i32,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
    /// No retry after this.
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub delivered_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The event, as the `json` format posts it.
    #[schema(value_type = Object)]
    pub payload: Value,
}

impl DeliveryView {
    fn of(delivery: &Delivery) -> Self {
        Self {
            id: delivery.id.0,
            webhook_id: delivery.webhook_id.0,
            event: delivery.event.clone(),
            state: delivery.state.clone(),
            attempts: delivery.attempts,
            next_attempt_at: (delivery.state == "pending").then_some(delivery.next_attempt_at.0),
            expires_at: delivery.expires_at.0,
            created_at: delivery.created_at.0,
            delivered_at: delivery.delivered_at.map(|at| at.0),
            payload: serde_json::from_str(&delivery.body).unwrap_or(Value::Null),
        }
    }
}

/// One attempt to deliver.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AttemptView {
    pub attempt: i32,
    pub at: chrono::DateTime<chrono::Utc>,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<i32>,
    /// Why the attempt failed, when it did.
    pub error: Option<String>,
    pub duration_ms: i64,
}

impl AttemptView {
    fn of(attempt: &Attempt) -> Self {
        Self {
            attempt: attempt.attempt,
            at: attempt.at.0,
            status: attempt.status,
            error: attempt.error.clone(),
            duration_ms: attempt.duration_ms,
        }
    }
}

/// A delivery with every attempt made.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: DeliveryView,
    pub attempt_log: Vec<AttemptView>,
}

/// Query parameters of a webhook's delivery list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// `pending`, `delivered` or `failed`.
    pub state: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// Makes a webhook.
///
/// # Errors
///
/// [`Error::Validation`] naming every bad field; [`Error::Conflict`] when the org has
/// [`MAX_PER_ORG`] already.
pub async fn create(
    conn: &mut Conn<'_>,
    actor: Actor,
    org: Id,
    new: NewWebhook,
    policy: AddressPolicy,
) -> Result<WebhookWithSecret, Error> {
    let mut errors = Vec::new();
    let url = checked_url(&new.url, policy, &mut errors);
    let events = checked_events(&new.events, &mut errors);
    let format = checked_format(new.format.as_deref().unwrap_or("json"), &mut errors);
    let description = checked_description(new.description.as_deref(), &mut errors);
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let secret = new_secret()?;
    let now = Time::now();
    let hook = Webhook {
        id: Id::new(),
        org_id: org,
        url,
        events,
        format,
        description,
        secret: secret.clone(),
        active: new.active.unwrap_or(true),
        created_at: now,
        updated_at: now,
    };
    db::transaction(conn, async |tx| {
        if db::webhooks::of_org(tx, org).await?.len() >= MAX_PER_ORG {
            return Err(Error::Conflict(format!(
                "the org has {MAX_PER_ORG} webhooks, the most it may have: remove one first"
            )));
        }
        db::webhooks::insert(tx, &hook).await?;
        record(
            tx,
            &actor,
            &hook,
            "webhook.create",
            json!({"url": hook.url, "events": hook.events}),
        )
        .await
    })
    .await?;
    Ok(WebhookWithSecret {
        webhook: WebhookView::of(&hook),
        secret,
    })
}

/// The org's webhooks, oldest first.
///
/// # Errors
///
/// Database errors.
pub async fn list(conn: &mut Conn<'_>, org: Id) -> Result<Vec<WebhookView>, Error> {
    let hooks = db::webhooks::of_org(conn, org).await?;
    Ok(hooks.iter().map(WebhookView::of).collect())
}

/// One of the org's webhooks.
///
/// # Errors
///
/// [`Error::NotFound`] unless the org has it.
pub async fn get(conn: &mut Conn<'_>, org: Id, id: Id) -> Result<WebhookView, Error> {
    Ok(WebhookView::of(&of_org(conn, org, id).await?))
}

/// Changes a webhook.
///
/// # Errors
///
/// [`Error::Validation`] naming every bad field; [`Error::NotFound`] unless the org has it.
pub async fn update(
    conn: &mut Conn<'_>,
    actor: Actor,
    org: Id,
    id: Id,
    change: WebhookChange,
    policy: AddressPolicy,
) -> Result<WebhookView, Error> {
    let mut errors = Vec::new();
    let url = change
        .url
        .as_deref()
        .map(|url| checked_url(url, policy, &mut errors));
    let events = change
        .events
        .as_deref()
        .map(|events| checked_events(events, &mut errors));
    let format = change
        .format
        .as_deref()
        .map(|format| checked_format(format, &mut errors));
    let description = change
        .description
        .as_deref()
        .map(|text| checked_description(Some(text), &mut errors));
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    db::transaction(conn, async |tx| {
        let mut hook = of_org(tx, org, id).await?;
        hook.url = url.clone().unwrap_or(hook.url);
        hook.events = events.clone().unwrap_or(hook.events);
        hook.format = format.clone().unwrap_or(hook.format);
        hook.description = description.clone().unwrap_or(hook.description);
        hook.active = change.active.unwrap_or(hook.active);
        hook.updated_at = Time::now();
        db::webhooks::update(tx, &hook).await?;
        let audited =
            json!({"url": hook.url, "events": hook.events, "format": hook.format, "active": hook.active});
        record(tx, &actor, &hook, "webhook.update", audited).await?;
        Ok(WebhookView::of(&hook))
    })
    .await
}

/// Removes a webhook, its deliveries and their log.
///
/// # Errors
///
/// [`Error::NotFound`] unless the org has it.
pub async fn delete(conn: &mut Conn<'_>, actor: Actor, org: Id, id: Id) -> Result<(), Error> {
    db::transaction(conn, async |tx| {
        let hook = of_org(tx, org, id).await?;
        db::webhooks::delete(tx, id).await?;
        record(tx, &actor, &hook, "webhook.delete", json!({"url": hook.url})).await
    })
    .await
}

/// Gives a webhook a new secret; deliveries are signed with it from their next attempt.
///
/// # Errors
///
/// [`Error::NotFound`] unless the org has it.
pub async fn rotate_secret(
    conn: &mut Conn<'_>,
    actor: Actor,
    org: Id,
    id: Id,
) -> Result<WebhookWithSecret, Error> {
    let secret = new_secret()?;
    db::transaction(conn, async |tx| {
        let mut hook = of_org(tx, org, id).await?;
        hook.secret = secret.clone();
        hook.updated_at = Time::now();
        db::webhooks::update(tx, &hook).await?;
        record(tx, &actor, &hook, "webhook.rotate_secret", json!({})).await?;
        Ok(WebhookWithSecret {
            webhook: WebhookView::of(&hook),
            secret: secret.clone(),
        })
    })
    .await
}

/// Queues a `webhook.ping` delivery, to check the receiver end to end.
///
/// # Errors
///
/// [`Error::NotFound`] unless the org has it.
pub async fn ping(conn: &mut Conn<'_>, org: Id, id: Id) -> Result<DeliveryView, Error> {
    db::transaction(conn, async |tx| {
        let hook = of_org(tx, org, id).await?;
        let now = Time::now();
        let delivery = sender::delivery(&hook, None, events::PING, events::ping(org.0, now.0), now);
        db::webhooks::enqueue(tx, std::slice::from_ref(&delivery)).await?;
        Ok(DeliveryView::of(&delivery))
    })
    .await
}

/// A webhook's deliveries, newest first.
///
/// # Errors
///
/// [`Error::BadRequest`] for an unknown state, a bad cursor or a limit outside 1..=100;
/// [`Error::NotFound`] unless the org has the webhook.
pub async fn deliveries(
    conn: &mut Conn<'_>,
    org: Id,
    id: Id,
    query: &DeliveryQuery,
) -> Result<Page<DeliveryView>, Error> {
    if let Some(state) = &query.state
        && !DELIVERY_STATES.contains(&state.as_str())
    {
        return Err(Error::BadRequest(format!(
            "state {state:?} is not one of: {}",
            DELIVERY_STATES.join(", ")
        )));
    }
    let limit = keyset::limit(query.limit)?;
    let before = query.cursor.as_deref().map(keyset::decode).transpose()?;
    of_org(conn, org, id).await?;
    let filter = DeliveryFilter {
        state: query.state.clone(),
        before,
        limit: limit + 1,
    };
    let found = db::webhooks::deliveries_of(conn, id, &filter).await?;
    keyset::page(
        found,
        limit,
        |delivery| (delivery.created_at, delivery.id),
        |delivery| Ok(DeliveryView::of(delivery)),
    )
}

/// A delivery with its attempts.
///
/// # Errors
///
/// [`Error::NotFound`] unless the org's webhook has it.
pub async fn delivery(conn: &mut Conn<'_>, org: Id, id: Id, delivery: Id) -> Result<DeliveryDetail, Error> {
    let found = delivery_of(conn, org, id, delivery).await?;
    let attempts = db::webhooks::attempts_of(conn, delivery).await?;
    Ok(DeliveryDetail {
        delivery: DeliveryView::of(&found),
        attempt_log: attempts.iter().map(AttemptView::of).collect(),
    })
}

/// Sends a delivery again now, whatever became of it, retried for a new lifetime.
///
/// # Errors
///
/// [`Error::NotFound`] unless the org's webhook has it.
pub async fn redeliver(
    conn: &mut Conn<'_>,
    actor: Actor,
    org: Id,
    id: Id,
    delivery: Id,
) -> Result<DeliveryView, Error> {
    db::transaction(conn, async |tx| {
        let hook = of_org(tx, org, id).await?;
        delivery_of(tx, org, id, delivery).await?;
        let now = Time::now();
        db::webhooks::redeliver(tx, delivery, now, sender::later(now, sender::LIFETIME)).await?;
        record(
            tx,
            &actor,
            &hook,
            "webhook.redeliver",
            json!({"delivery": delivery.0}),
        )
        .await?;
        Ok(DeliveryView::of(
            &db::webhooks::find_delivery(tx, delivery).await?,
        ))
    })
    .await
}

async fn of_org(conn: &mut Conn<'_>, org: Id, id: Id) -> Result<Webhook, Error> {
    match db::webhooks::find(conn, id).await {
        Ok(hook) if hook.org_id == org => Ok(hook),
        Ok(_) | Err(diesel::result::Error::NotFound) => Err(Error::NotFound(format!("no webhook {}", id.0))),
        Err(other) => Err(other.into()),
    }
}

async fn delivery_of(conn: &mut Conn<'_>, org: Id, id: Id, delivery: Id) -> Result<Delivery, Error> {
    match db::webhooks::find_delivery(conn, delivery).await {
        Ok(found) if found.org_id == org && found.webhook_id == id => Ok(found),
        Ok(_) | Err(diesel::result::Error::NotFound) => Err(Error::NotFound(format!(
            "no delivery {} of webhook {}",
            delivery.0, id.0
        ))),
        Err(other) => Err(other.into()),
    }
}

async fn record(
    tx: &mut Conn<'_>,
    actor: &Actor,
    hook: &Webhook,
    action: &'static str,
    change: Value,
) -> Result<(), Error> {
    audit::record(
        tx,
        Entry {
            actor: actor.user,
            org: Some(hook.org_id),
            action,
            target: format!("webhook:{}", hook.id.0),
            change,
            client_addr: actor.client_addr.clone(),
        },
    )
    .await
}

fn new_secret() -> Result<String, Error> {
    signature::new_secret()
        .map_err(|error| Error::Internal(format!("no randomness for a webhook secret: {error}")))
}

fn checked_url(url: &str, policy: AddressPolicy, errors: &mut Vec<FieldError>) -> String {
    let url = url.trim();
    if url.len() > MAX_URL {
        errors.push(FieldError::new("url", format!("is longer than {MAX_URL} bytes")));
    } else if let Err(why) = policy.check_url(url) {
        errors.push(FieldError::new("url", why));
    }
    url.to_owned()
}

/// The patterns as stored (a JSON array), each checked, repeats dropped.
fn checked_events(events: &[String], errors: &mut Vec<FieldError>) -> String {
    if events.is_empty() {
        errors.push(FieldError::new("events", "name at least one event, or * for all"));
    }
    if events.len() > MAX_EVENTS {
        errors.push(FieldError::new(
            "events",
            format!("has more than {MAX_EVENTS} patterns"),
        ));
    }
    let mut kept: Vec<String> = Vec::new();
    for (at, pattern) in events.iter().enumerate() {
        match events::check_pattern(pattern) {
            Ok(()) if !kept.contains(pattern) => kept.push(pattern.clone()),
            Ok(()) => {}
            Err(why) => errors.push(FieldError::new(format!("events[{at}]"), why)),
        }
    }
    json!(kept).to_string()
}

fn checked_format(format: &str, errors: &mut Vec<FieldError>) -> String {
    if !FORMATS.contains(&format) {
        errors.push(FieldError::new(
            "format",
            format!("{format:?} is not one of: {}", FORMATS.join(", ")),
        ));
    }
    format.to_owned()
}

fn checked_description(text: Option<&str>, errors: &mut Vec<FieldError>) -> Option<String> {
    let text = text.map(str::trim).filter(|text| !text.is_empty())?;
    if text.chars().count() > MAX_DESCRIPTION {
        errors.push(FieldError::new(
            "description",
            format!("is longer than {MAX_DESCRIPTION} characters"),
        ));
    }
    Some(text.to_owned())
}
