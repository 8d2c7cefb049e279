//! `GET /api/v1/ws`: a WebSocket on which a client follows topics of the event bus ([`crate::bus`]).
//!
//! The client sends JSON text frames `{"type": "subscribe", "topic": T}` and `{"type": "unsubscribe",
//! "topic": T}`, where T is `run:<id>`, `deployment:<id>`, `org:<id>:runs` or `org:<id>:approvals`;
//! each is answered `{"type": "subscribed" | "unsubscribed", "topic": T}`, or `{"type": "error", "topic":
//! T, "detail": …}` (an unknown topic, or one of an org the caller is not a member of: no such topic).
//! Then for each change of a followed topic, in order: `{"type": "change", "topic": T, "change": {…}}`;
//! a `run:` topic also carries the run's step events, `{"type": "event", "topic": T, "event": {…}}`, as
//! its SSE stream does. Subscriptions follow what happens after they start.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::AggregatedMessage;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::openapi::{ServerErrors, Unauthenticated};
use crate::auth::Caller;
use crate::auth::roles::{self, Members};
use crate::bus::Topic;
use crate::db::{self, Id};
use crate::error::Error;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/ws", web::get().to(ws));
}

/// Topics one connection may follow at once.
const MAX_TOPICS: usize = 100;
/// Changes and events read per topic per look.
const PAGE: i64 = 200;
/// How often subscriptions look for changes made on another replica.
const RECHECK: Duration = Duration::from_secs(1);
/// The largest frame a client may send.
const MAX_FRAME: usize = 64 * 1024;

/// Opens a WebSocket that follows topics of the event bus: runs, an org's runs, its approvals, a
/// deployment's state (see the module documentation for the messages).
#[utoipa::path(
    get,
    path = "/api/v1/ws",
    operation_id = "openEventSocket",
    tag = "runs",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket handshake"),
        Unauthenticated,
        ServerErrors,
    )
)]
async fn ws(
    request: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Payload,
) -> Result<HttpResponse, Error> {
    let (response, session, stream) = actix_ws::handle(&request, body)
        .map_err(|error| Error::BadRequest(format!("not a WebSocket handshake: {error}")))?;
    let stream = stream.max_frame_size(MAX_FRAME).aggregate_continuations();
    actix_web::rt::spawn(serve(state.into_inner(), caller, session, stream));
    Ok(response)
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Request {
    Subscribe { topic: String },
    Unsubscribe { topic: String },
}

/// Where one subscription stands.
struct Following {
    org: Id,
    changes: db::changes::Cursor,
    /// For a run: the last step event sent.
    events: Option<(i32, i64)>,
}

async fn serve(
    state: Arc<AppState>,
    caller: Caller,
    mut session: actix_ws::Session,
    mut stream: actix_ws::AggregatedMessageStream,
) {
    let mut topics: HashMap<Topic, Following> = HashMap::new();
    loop {
        let wake = Arc::clone(&state.run_changed);
        let woken = wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let sent = match deliver(&state, &mut topics, &mut session).await {
            Ok(sent) => sent,
            Err(Closed::Connection) => return,
            Err(Closed::Failed(error)) => {
                tracing::warn!(%error, "a WebSocket subscription could not be read");
                let _ = session.close(None).await;
                return;
            }
        };
        if sent {
            continue;
        }
        tokio::select! {
            message = stream.recv() => {
                let outcome = match message {
                    Some(Ok(AggregatedMessage::Text(text))) => answer(&state, caller, &mut topics, &text).await,
                    Some(Ok(AggregatedMessage::Binary(_))) => {
                        json!({"type": "error", "detail": "send JSON text frames"})
                    }
                    Some(Ok(AggregatedMessage::Ping(bytes))) => {
                        if session.pong(&bytes).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    Some(Ok(AggregatedMessage::Pong(_))) => continue,
                    Some(Ok(AggregatedMessage::Close(_)) | Err(_)) | None => {
                        let _ = session.close(None).await;
                        return;
                    }
                };
                if session.text(outcome.to_string()).await.is_err() {
                    return;
                }
            }
            () = &mut woken => {}
            () = tokio::time::sleep(RECHECK) => {}
        }
    }
}

enum Closed {
    Connection,
    Failed(Error),
}

impl From<Error> for Closed {
    fn from(error: Error) -> Self {
        Self::Failed(error)
    }
}

impl From<diesel::result::Error> for Closed {
    fn from(error: diesel::result::Error) -> Self {
        Self::Failed(error.into())
    }
}

/// Sends what happened on the followed topics since last time; whether anything was sent.
async fn deliver(
    state: &AppState,
    topics: &mut HashMap<Topic, Following>,
    session: &mut actix_ws::Session,
) -> Result<bool, Closed> {
    if topics.is_empty() {
        return Ok(false);
    }
    let mut messages = Vec::new();
    {
        let mut pooled = state.pool.get().await?;
        let mut conn = pooled.conn();
        for (topic, following) in topics.iter_mut() {
            let name = topic.to_string();
            for change in
                db::changes::after(&mut conn, topic.filter(following.org), following.changes, PAGE).await?
            {
                following.changes = (change.tx, change.id);
                let mut body: Value = serde_json::from_str(&change.body).unwrap_or(Value::Null);
                body["at"] = json!(change.at.0);
                messages.push(json!({"type": "change", "topic": name, "change": body}));
            }
            if let (Topic::Run(run), Some((attempt, seq))) = (topic, following.events) {
                for event in db::run_events::after(&mut conn, *run, attempt, seq, PAGE).await? {
                    following.events = Some((event.attempt, event.seq));
                    let body = crate::service::runs::event_json(&event)?;
                    messages.push(json!({"type": "event", "topic": name, "event": body}));
                }
            }
        }
    }
    for message in &messages {
        session
            .text(message.to_string())
            .await
            .map_err(|_| Closed::Connection)?;
    }
    Ok(!messages.is_empty())
}

/// Subscribes or unsubscribes as the client asked; the answer to send.
async fn answer(
    state: &AppState,
    caller: Caller,
    topics: &mut HashMap<Topic, Following>,
    text: &str,
) -> Value {
    let request = match serde_json::from_str::<Request>(text) {
        Ok(request) => request,
        Err(error) => {
            return json!({"type": "error", "detail": format!(
                "expected {{\"type\": \"subscribe\" | \"unsubscribe\", \"topic\": …}}: {error}"
            )});
        }
    };
    match request {
        Request::Subscribe { topic: name } => match subscribe(state, caller, topics, &name).await {
            Ok(topic) => json!({"type": "subscribed", "topic": topic.to_string()}),
            Err(error) => json!({"type": "error", "topic": name, "detail": error.to_string()}),
        },
        Request::Unsubscribe { topic: name } => match Topic::parse(&name) {
            Ok(topic) => {
                topics.remove(&topic);
                json!({"type": "unsubscribed", "topic": topic.to_string()})
            }
            Err(error) => json!({"type": "error", "topic": name, "detail": error.to_string()}),
        },
    }
}

async fn subscribe(
    state: &AppState,
    caller: Caller,
    topics: &mut HashMap<Topic, Following>,
    name: &str,
) -> Result<Topic, Error> {
    let topic = Topic::parse(name)?;
    if topics.contains_key(&topic) {
        return Ok(topic);
    }
    if topics.len() >= MAX_TOPICS {
        return Err(Error::BadRequest(format!(
            "a connection follows at most {MAX_TOPICS} topics"
        )));
    }
    let mut pooled = state.pool.get().await?;
    let mut conn = pooled.conn();
    let no_such = || Error::NotFound(format!("no such topic {name}"));
    let org = topic.org(&mut conn).await.map_err(|_| no_such())?;
    roles::admit::<Members>(&mut conn, caller, org, "topic")
        .await
        .map_err(|_| no_such())?;
    let events = match topic {
        Topic::Run(run) => Some(db::run_events::latest(&mut conn, run).await?),
        _ => None,
    };
    let changes = db::changes::latest(&mut conn, org).await?;
    topics.insert(topic, Following { org, changes, events });
    Ok(topic)
}
