//! Webhooks: an org's changes of state posted to the receivers it names, signed, and retried until they
//! are delivered.
//!
//! Nothing is sent from the request that made a change. The change is a row of `changes`, written in that
//! request's transaction (see [`crate::bus`]); a background sender on every replica reads the changes in
//! order from a shared cursor and, in one transaction, turns each into a row of the outbox
//! (`webhook_deliveries`) for every active webhook that wants it, then moves the cursor. It then takes the
//! deliveries that are due, holding each for a while so no other sender takes it, and posts them. Killed at
//! any point, it loses nothing: an unread change is read again, a held delivery is taken again once its hold
//! runs out. A receiver may so see a delivery twice, with the same `webhook-id`, and should drop repeats.
//!
//! Each attempt is logged with the receiver's answer. A `2xx` answer delivers; anything else is retried with
//! exponential backoff (from [`Config::retry_base`], doubling, at most [`Config::retry_max`] apart, ±20%
//! jitter) until [`LIFETIME`] after the delivery was made, when it is given up as `failed`. An org
//! admin can send a delivery again by hand, which gives it a new lifetime. Redirects are not followed. A
//! webhook made inactive keeps its pending deliveries until it is active again or they expire.
//!
//! How deliveries are signed: [`signature`]. Which addresses they may go to: [`address`].

pub mod address;
pub mod events;
pub mod signature;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::future::join_all;

use crate::db::webhooks::{Attempt, Delivery, Outcome, Webhook};
use crate::db::{self, Conn, Id, Pool, Time};
use crate::error::Error;
use crate::queue::Wake;

/// Changes read per transaction.
const BATCH: i64 = 500;
/// Deliveries one sender posts at once.
const IN_FLIGHT: i64 = 32;
/// How long after it is made (or sent again by hand) a delivery is retried.
pub const LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// How often a sender looks for work when nothing wakes it (changes made on other replicas, retries).
const RECHECK: Duration = Duration::from_secs(1);
/// How long a woken sender waits for more changes before it reads them: at most one round per this.
const GATHER: Duration = Duration::from_millis(50);

/// How deliveries are made.
#[derive(Debug, Clone)]
pub struct Config {
    /// How long a receiver has to answer.
    pub timeout: Duration,
    /// The wait before the first retry.
    pub retry_base: Duration,
    /// The longest wait between retries.
    pub retry_max: Duration,
    pub policy: address::AddressPolicy,
    /// The service's public URL, for links in Slack messages.
    pub public_url: Option<Arc<str>>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(3600),
            policy: address::AddressPolicy::default(),
            public_url: None,
        }
    }
}

impl Config {
    /// How long a sender holds a delivery it took: long enough to finish the attempt.
    fn hold(&self) -> Duration {
        self.timeout * 2 + Duration::from_secs(1)
    }

    /// The wait before retry number `attempt` (1-based), with jitter.
    fn backoff(&self, attempt: i32) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1)).unwrap_or(0).min(30);
        let wait = self.retry_base.saturating_mul(1 << doublings).min(self.retry_max);
        wait.mul_f64(0.8 + fastrand::f64() * 0.4)
    }
}

/// Starts this replica's sender.
pub fn spawn(pool: Pool, config: Config, wake: Arc<Wake>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let sender = match Sender::new(pool, config) {
            Ok(sender) => sender,
            Err(error) => {
                tracing::error!(%error, "webhooks cannot be sent");
                return;
            }
        };
        loop {
            let woken = wake.notified();
            match sender.step().await {
                // A full batch: more may be waiting.
                Ok(true) => continue,
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "webhook sender"),
            }
            tokio::select! {
                // Changes come in bursts: those of the next moment are read with these, in one round.
                () = woken => tokio::time::sleep(GATHER).await,
                () = tokio::time::sleep(RECHECK) => {}
            }
        }
    })
}

/// Reads changes into the outbox and posts what is due.
#[derive(Debug)]
pub struct Sender {
    pool: Pool,
    config: Config,
    http: reqwest::Client,
}

impl Sender {
    /// # Errors
    ///
    /// When no HTTP client can be made.
    pub fn new(pool: Pool, config: Config) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(address::Resolver(config.policy))
            .user_agent(concat!("agent-marketplace-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| Error::Internal(format!("webhook client: {error}")))?;
        Ok(Self { pool, config, http })
    }

    /// One round: the new changes into the outbox, then the due deliveries posted. Whether either was a
    /// full batch.
    ///
    /// # Errors
    ///
    /// Database errors.
    pub async fn step(&self) -> Result<bool, Error> {
        let read = self.fan_out().await?;
        let sent = self.send_due().await?;
        Ok(read == BATCH || sent == IN_FLIGHT)
    }

    /// Turns the changes after the cursor into deliveries, in one transaction with the cursor's move.
    async fn fan_out(&self) -> Result<i64, Error> {
        let mut pooled = self.pool.get().await?;
        db::transaction(&mut pooled.conn(), async |tx| {
            let cursor = db::webhooks::cursor_for_update(tx).await?;
            let changes = db::changes::all_after(tx, cursor, BATCH).await?;
            let Some(last) = changes.last() else {
                return Ok(0);
            };
            let last = (last.tx, last.id);
            let mut orgs: Vec<Id> = changes.iter().map(|change| change.org_id).collect();
            orgs.sort_unstable();
            orgs.dedup();
            let hooks = db::webhooks::active_of(tx, &orgs).await?;
            let now = Time::now();
            let mut deliveries = Vec::new();
            for change in &changes {
                let data: serde_json::Value = serde_json::from_str(&change.body).unwrap_or_default();
                let event = events::name(change, &data);
                let body = events::body(&event, change, data);
                for hook in hooks.iter().filter(|hook| hook.org_id == change.org_id) {
                    if change.at >= hook.created_at && events::wanted(&patterns(hook), &event) {
                        deliveries.push(delivery(hook, Some(change.id), &event, body.clone(), now));
                    }
                }
            }
            db::webhooks::enqueue(tx, &deliveries).await?;
            db::webhooks::set_cursor(tx, last).await?;
            Ok(i64::try_from(changes.len()).unwrap_or(BATCH))
        })
        .await
    }

    /// Posts the deliveries that are due, at most [`IN_FLIGHT`]; how many it took.
    async fn send_due(&self) -> Result<i64, Error> {
        let mut pooled = self.pool.get().await?;
        let now = Time::now();
        let until = later(now, self.config.hold());
        let due = db::transaction(&mut pooled.conn(), async |tx| {
            Ok(db::webhooks::claim_due(tx, now, until, IN_FLIGHT).await?)
        })
        .await?;
        if due.is_empty() {
            return Ok(0);
        }
        let ids: Vec<Id> = due.iter().map(|delivery| delivery.webhook_id).collect();
        let hooks: HashMap<Id, Webhook> = db::webhooks::find_all(&mut pooled.conn(), &ids)
            .await?
            .into_iter()
            .map(|hook| (hook.id, hook))
            .collect();
        drop(pooled);
        let attempts = due
            .iter()
            .filter_map(|delivery| hooks.get(&delivery.webhook_id).map(|hook| (delivery, hook)))
            .map(|(delivery, hook)| self.attempt(delivery, hook));
        for (attempt, outcome) in join_all(attempts).await.into_iter().flatten() {
            crate::metrics::METRICS.webhook_attempt(match outcome {
                Outcome::Delivered => "delivered",
                Outcome::Retry(_) => "retry",
                Outcome::Failed => "failed",
            });
            let mut pooled = self.pool.get().await?;
            db::transaction(&mut pooled.conn(), async |tx: &mut Conn<'_>| {
                Ok(db::webhooks::record(tx, &attempt, outcome).await?)
            })
            .await?;
        }
        Ok(i64::try_from(due.len()).unwrap_or(IN_FLIGHT))
    }

    /// One attempt at a delivery, and what it does to it; none when the webhook is inactive (the delivery
    /// waits for it).
    async fn attempt(&self, delivery: &Delivery, hook: &Webhook) -> Option<(Attempt, Outcome)> {
        if !hook.active {
            return None;
        }
        let number = delivery.attempts.saturating_add(1);
        let started = Instant::now();
        let at = Time::now();
        let result = if at > delivery.expires_at {
            Err("expired before it could be sent (the webhook was inactive)".to_owned())
        } else {
            self.post(delivery, hook).await
        };
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let (status, error) = match result {
            Ok(status) if (200..300).contains(&status) => (Some(status), None),
            Ok(status) => (Some(status), Some(format!("the receiver answered HTTP {status}"))),
            Err(error) => (None, Some(error)),
        };
        let outcome = if error.is_none() {
            Outcome::Delivered
        } else {
            let next = later(Time::now(), self.config.backoff(number));
            if next > delivery.expires_at {
                Outcome::Failed
            } else {
                Outcome::Retry(next)
            }
        };
        if let Some(error) = &error {
            tracing::debug!(delivery = %delivery.id.0, attempt = number, %error, "webhook delivery failed");
        }
        let attempt = Attempt {
            id: Id::new(),
            delivery_id: delivery.id,
            attempt: number,
            at,
            status,
            error,
            duration_ms,
        };
        Some((attempt, outcome))
    }

    /// Posts a delivery; the receiver's status, or why there was none.
    async fn post(&self, delivery: &Delivery, hook: &Webhook) -> Result<i32, String> {
        let url = self.config.policy.check_url(&hook.url)?;
        let body = match hook.format.as_str() {
            "slack" => events::slack(&delivery.body, self.config.public_url.as_deref()),
            _ => delivery.body.clone(),
        };
        let id = delivery.id.0.to_string();
        let timestamp = Utc::now().timestamp();
        let signature = signature::sign(&hook.secret, &id, timestamp, &body)
            .ok_or_else(|| "the webhook's secret is not one this service made".to_owned())?;
        let answer = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|error| describe(&error))?;
        Ok(i32::from(answer.status().as_u16()))
    }
}

/// A new delivery of `body` to `hook`, due now.
#[must_use]
pub fn delivery(hook: &Webhook, change: Option<i64>, event: &str, body: String, now: Time) -> Delivery {
    Delivery {
        id: Id::new(),
        webhook_id: hook.id,
        org_id: hook.org_id,
        change_id: change,
        event: event.to_owned(),
        body,
        state: "pending".to_owned(),
        attempts: 0,
        next_attempt_at: now,
        expires_at: later(now, LIFETIME),
        created_at: now,
        delivered_at: None,
    }
}

/// A webhook's event patterns.
#[must_use]
pub fn patterns(hook: &Webhook) -> Vec<String> {
    serde_json::from_str(&hook.events).unwrap_or_default()
}

/// `by` after `at`.
#[must_use]
pub fn later(at: Time, by: Duration) -> Time {
    let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
    Time(
        at.0.checked_add_signed(by)
            .unwrap_or(chrono::DateTime::<Utc>::MAX_UTC),
    )
}

/// An HTTP error with its causes, as a receiver's operator would want to read it.
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "the receiver did not answer in time".to_owned()
    } else {
        error.to_string()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_within_bounds() {
        let config = Config::default();
        for (attempt, seconds) in [(1, 5.0), (2, 10.0), (3, 20.0), (12, 3600.0), (i32::MAX, 3600.0)] {
            let wait = config.backoff(attempt).as_secs_f64();
            assert!(
                (seconds * 0.8..=seconds * 1.2).contains(&wait),
                "attempt {attempt}: {wait}s"
            );
        }
    }

    #[tokio::test]
    async fn an_https_receiver_is_spoken_to_over_tls() {
        // A receiver that answers in plain text: the client's TLS handshake fails on it, which shows the
        // client speaks TLS and checks what it gets.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt as _;
            while let Ok((mut socket, _)) = listener.accept().await {
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
        });
        let http = reqwest::Client::builder().build().unwrap();
        let error = http
            .post(format!("https://127.0.0.1:{port}/hook"))
            .send()
            .await
            .unwrap_err();
        let described = describe(&error);
        assert!(!described.contains("scheme"), "{described}");
        assert!(error.is_connect(), "{described}");
    }
}
