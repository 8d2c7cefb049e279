//! The control-plane client: the data-plane protocol (`/api/v1/dp/…`) over reqwest, with the protocol's
//! wire types. Every body it sends passes through the [`Redactor`] first.

pub mod a2a;
mod suspend;

use std::sync::Arc;
use std::time::Duration;

use protocol::{
    Completion, EventBatch, Failure, Heartbeat, HeartbeatAck, Registration, RegistrationAck, TaskEnvelope,
    TaskId,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use self::suspend::{Suspension, SuspensionApproval};
use crate::redact::Redactor;

/// Why a call to the control plane did not work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Not reached, or it answered 429/5xx: try again later.
    #[error("the control plane is unreachable: {0}")]
    Unreachable(String),
    /// It answered, and said no; trying again will not help.
    #[error("the control plane refused ({status}): {detail}")]
    Refused { status: u16, detail: String },
    #[error("the control plane's answer is not understood: {0}")]
    Answer(String),
}

impl ClientError {
    /// Whether the same call may work later.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unreachable(_))
    }
}

/// What an event post stored, and whether to stop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsAck {
    #[serde(default)]
    pub stored: u64,
    #[serde(default)]
    pub last_seq: u64,
    /// The run was cancelled: stop.
    #[serde(default)]
    pub cancel: bool,
}

#[derive(Deserialize)]
struct Claimed {
    tasks: Vec<TaskEnvelope>,
}

/// A data plane's connection to its control plane, as one deployment's credential.
#[derive(Clone, Debug)]
pub struct ControlPlane {
    base: String,
    token: String,
    http: reqwest::Client,
    redactor: Arc<Redactor>,
}

impl ControlPlane {
    /// `base`: the control plane's URL (`https://cp.example.com`); `token`: the deployment's credential.
    ///
    /// # Errors
    ///
    /// The HTTP client could not be built.
    pub fn new(base: &str, token: &str, redactor: Arc<Redactor>) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(50))
            .build()
            .map_err(|error| ClientError::Unreachable(error.to_string()))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            http,
            redactor,
        })
    }

    #[must_use]
    pub fn base(&self) -> &str {
        &self.base
    }

    #[must_use]
    pub fn redactor(&self) -> &Arc<Redactor> {
        &self.redactor
    }

    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn register(&self, registration: &Registration) -> Result<RegistrationAck, ClientError> {
        self.post("/api/v1/dp/register", registration, Duration::from_secs(30))
            .await
    }

    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn heartbeat(&self, heartbeat: &Heartbeat) -> Result<HeartbeatAck, ClientError> {
        self.post("/api/v1/dp/heartbeat", heartbeat, Duration::from_secs(15))
            .await
    }

    /// Claims up to `max` tasks, waiting up to `wait` for one.
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn next(
        &self,
        instance_id: &str,
        wait: Duration,
        max: u32,
    ) -> Result<Vec<TaskEnvelope>, ClientError> {
        let mut url =
            reqwest::Url::parse(&format!("{}/api/v1/dp/tasks/next", self.base)).map_err(|error| {
                ClientError::Refused {
                    status: 0,
                    detail: format!("the control plane URL: {error}"),
                }
            })?;
        url.query_pairs_mut()
            .append_pair("instance_id", instance_id)
            .append_pair("wait", &format!("{}ms", wait.as_millis()))
            .append_pair("max", &max.to_string());
        let request = self.http.get(url).timeout(wait + Duration::from_secs(15));
        let claimed: Claimed = self.send(request).await?;
        Ok(claimed.tasks)
    }

    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn events(&self, task: TaskId, batch: &EventBatch) -> Result<EventsAck, ClientError> {
        self.post(
            &format!("/api/v1/dp/tasks/{task}/events"),
            batch,
            Duration::from_secs(30),
        )
        .await
    }

    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn complete(&self, task: TaskId, completion: &Completion) -> Result<Value, ClientError> {
        self.post(
            &format!("/api/v1/dp/tasks/{task}/complete"),
            completion,
            Duration::from_secs(30),
        )
        .await
    }

    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn fail(&self, task: TaskId, failure: &Failure) -> Result<Value, ClientError> {
        self.post(
            &format!("/api/v1/dp/tasks/{task}/fail"),
            failure,
            Duration::from_secs(30),
        )
        .await
    }

    /// Suspends a task for a human's approval; see [`Suspension`] for the body.
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn suspend(&self, task: TaskId, suspension: &Suspension) -> Result<Value, ClientError> {
        self.post(&suspend::path(task), suspension, Duration::from_secs(30))
            .await
    }

    /// Posts `body` (redacted) to `path` with the credential, as any other caller of the control plane.
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
        timeout: Duration,
    ) -> Result<T, ClientError> {
        let mut body = serde_json::to_value(body).map_err(|error| ClientError::Answer(error.to_string()))?;
        self.redactor.value(&mut body);
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .timeout(timeout);
        self.send(request).await
    }

    async fn send<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T, ClientError> {
        let answer = request
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|error| ClientError::Unreachable(self.redactor.text(&error.to_string())))?;
        let status = answer.status();
        let bytes = answer
            .bytes()
            .await
            .map_err(|error| ClientError::Unreachable(error.to_string()))?;
        if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
            return Err(ClientError::Unreachable(format!("it answered {status}")));
        }
        if !status.is_success() {
            let detail = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|problem| problem.get("detail").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(500).collect());
            return Err(ClientError::Refused {
                status: status.as_u16(),
                detail,
            });
        }
        serde_json::from_slice(&bytes).map_err(|error| ClientError::Answer(error.to_string()))
    }
}

/// Exponential backoff with full jitter: 100 ms doubling to `max`, each wait a random share of the step.
#[derive(Clone, Debug)]
pub struct Backoff {
    step: Duration,
    max: Duration,
}

impl Backoff {
    #[must_use]
    pub fn new(max: Duration) -> Self {
        Self {
            step: Duration::from_millis(100),
            max,
        }
    }

    /// The next wait: between half the current step and the step, and the step doubles.
    pub fn next_wait(&mut self) -> Duration {
        let step = self.step;
        self.step = (self.step * 2).min(self.max);
        let half = step / 2;
        half + half.mul_f64(fastrand::f64())
    }

    pub fn reset(&mut self) {
        self.step = Duration::from_millis(100);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_up_to_its_cap() {
        let mut backoff = Backoff::new(Duration::from_secs(2));
        let waits: Vec<Duration> = (0..8).map(|_| backoff.next_wait()).collect();
        assert!(waits[0] >= Duration::from_millis(50) && waits[0] <= Duration::from_millis(100));
        assert!(waits[3] >= Duration::from_millis(400) && waits[3] <= Duration::from_millis(800));
        assert!(waits.iter().all(|wait| *wait <= Duration::from_secs(2)));
        assert!(waits[7] >= Duration::from_secs(1));
        backoff.reset();
        assert!(backoff.next_wait() <= Duration::from_millis(100));
    }
}
