//! Runs: `POST /api/v1/deployments/{deployment}/runs`, `GET /api/v1/runs/{run}` (and its events),
//! `POST /api/v1/agents/{agent_id}/runs`, `GET /api/v1/orgs/{org}/runs`, `POST /api/v1/runs/{run}/cancel`.

use actix_web::{HttpRequest, HttpResponse, web};
use tracing::Instrument as _;

use super::openapi::{
    BadRequest, BodyErrors, Conflict, Forbidden, NotFound, PaymentRequired, ServerErrors, TooManyRequests,
    Unauthenticated,
};
use super::{AppState, actor_of};
use crate::auth::Caller;
use crate::auth::roles::{self, Operators, OrgMember, OrgOperator};
use crate::db::Id;
use crate::error::Error;
use crate::service::runs::{self, NewRun, RunQuery, RunView};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/deployments/{deployment}/runs", web::post().to(create))
        .route("/agents/{agent_id}/runs", web::post().to(create_for_agent))
        .route("/orgs/{org}/runs", web::get().to(list))
        .route("/runs/{run}", web::get().to(get))
        .route("/runs/{run}/events", web::get().to(events))
        .route("/runs/{run}/cancel", web::post().to(cancel));
}

/// Starts a run (the org's admins and operators).
///
/// 201 with the new run, or 200 with the run an earlier request with the same `Idempotency-Key` started.
#[utoipa::path(
    post,
    path = "/api/v1/deployments/{deployment}/runs",
    operation_id = "startRun",
    tag = "runs",
    params(
        ("deployment" = uuid::Uuid, Path, description = "The deployment's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries return the same run"),
    ),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "A new run, queued", body = RunView),
        (status = 200, description = "The run an earlier request with this key started", body = RunView),
        BodyErrors,
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        PaymentRequired,
        TooManyRequests,
        ServerErrors,
    )
)]
async fn create(
    request: HttpRequest,
    access: OrgOperator,
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
    body: web::Json<NewRun>,
) -> Result<HttpResponse, Error> {
    let span = crate::telemetry::run_request_span(&request, "/api/v1/deployments/{deployment}/runs");
    start(&request, &state, access.caller, Id(*path), body.into_inner())
        .instrument(span)
        .await
}

/// A run of an agent, naming the deployment in the body (`POST /api/v1/agents/{agent_id}/runs`).
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AgentRun {
    /// A deployment of this agent in an org where the caller is an admin or operator.
    deployment_id: uuid::Uuid,
    #[serde(default = "empty_object")]
    inputs: serde_json::Value,
    #[serde(default)]
    priority: i32,
    deadline: Option<chrono::DateTime<chrono::Utc>>,
    /// The most the run may be charged, in dollars.
    #[schema(value_type = Option<String>, example = "5.00")]
    max_charge: Option<protocol::Money>,
}

fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}

/// Starts a run of an agent on the deployment the body names (its org's admins and operators).
///
/// 201 with the new run, or 200 with the run an earlier request with the same `Idempotency-Key` started.
#[utoipa::path(
    post,
    path = "/api/v1/agents/{agent_id}/runs",
    operation_id = "startAgentRun",
    tag = "runs",
    params(
        ("agent_id" = String, Path, description = "The agent's reverse-DNS id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries return the same run"),
    ),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "A new run, queued", body = RunView),
        (status = 200, description = "The run an earlier request with this key started", body = RunView),
        BodyErrors,
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        PaymentRequired,
        TooManyRequests,
        ServerErrors,
    )
)]
async fn create_for_agent(
    request: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<AgentRun>,
) -> Result<HttpResponse, Error> {
    let span = crate::telemetry::run_request_span(&request, "/api/v1/agents/{agent_id}/runs");
    start_for_agent(request, caller, state, path.into_inner(), body.into_inner())
        .instrument(span)
        .await
}

async fn start_for_agent(
    request: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    agent_id: String,
    body: AgentRun,
) -> Result<HttpResponse, Error> {
    let AgentRun {
        deployment_id,
        inputs,
        priority,
        deadline,
        max_charge,
    } = body;
    let run = NewRun {
        inputs,
        priority,
        deadline,
        max_charge,
        parent_run: None,
    };
    {
        let mut pooled = state.pool.get().await?;
        let mut conn = pooled.conn();
        let no_such = || Error::NotFound("no such deployment".to_owned());
        let deployment = crate::db::deployments::find(&mut conn, Id(deployment_id))
            .await
            .map_err(|_| no_such())?;
        roles::admit::<Operators>(&mut conn, caller, deployment.org_id, "deployment").await?;
        let agent = crate::db::agents::find(&mut conn, deployment.agent).await?;
        if agent.agent_id != agent_id {
            return Err(Error::Validation(vec![protocol::FieldError::new(
                "deployment_id",
                format!("the deployment runs {}, not {agent_id}", agent.agent_id),
            )]));
        }
    }
    start(&request, &state, caller, Id(deployment_id), run).await
}

async fn start(
    request: &HttpRequest,
    state: &AppState,
    caller: Caller,
    deployment: Id,
    body: NewRun,
) -> Result<HttpResponse, Error> {
    let key = match request.headers().get("idempotency-key") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| Error::BadRequest("the Idempotency-Key must be visible ASCII".to_owned()))?,
        ),
    };
    let mut pooled = state.pool.get().await?;
    let actor = actor_of(request, Some(&caller));
    let (run, created) = runs::create(&mut pooled.conn(), actor, deployment, key, body).await?;
    if created {
        state.wake.task_queued(Id(run.deployment_id));
        Ok(HttpResponse::Created().json(run))
    } else {
        Ok(HttpResponse::Ok().json(run))
    }
}

/// The org's runs, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/runs",
    operation_id = "listRuns",
    tag = "runs",
    params(
        ("org" = uuid::Uuid, Path, description = "The org's id"),
        RunQuery,
    ),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of runs", body = protocol::Page<RunView>),
        BadRequest,
        Unauthenticated,
        NotFound,
        ServerErrors,
    )
)]
async fn list(
    access: OrgMember,
    state: web::Data<AppState>,
    query: web::Query<RunQuery>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    Ok(HttpResponse::Ok().json(runs::list(&mut pooled.conn(), access.org_id, &query).await?))
}

/// One run, with its node timeline.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{run}",
    operation_id = "getRun",
    tag = "runs",
    params(("run" = uuid::Uuid, Path, description = "The run's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The run", body = RunView),
        Unauthenticated,
        NotFound,
        ServerErrors,
    )
)]
async fn get(
    _access: OrgMember,
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    Ok(HttpResponse::Ok().json(runs::get(&mut pooled.conn(), Id(*path)).await?))
}

/// A run's events in order: each as its data plane sent it, with the `attempt` it belongs to. With
/// `Accept: text/event-stream`, a live Server-Sent Events stream instead: the history, then each event as
/// it is stored, each with the id `<attempt>-<seq>`; `Last-Event-ID` resumes after that event. The stream
/// ends with an `end` event carrying the run's final state.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{run}/events",
    operation_id = "listRunEvents",
    tag = "runs",
    params(
        ("run" = uuid::Uuid, Path, description = "The run's id"),
        ("Last-Event-ID" = Option<String>, Header, description = "With SSE: resume after this event (`<attempt>-<seq>`)"),
    ),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The events (JSON), or with `Accept: text/event-stream` a live SSE stream",
         content(
            (protocol::Page<protocol::RunEvent> = "application/json"),
            (String = "text/event-stream"),
         )),
        Unauthenticated,
        NotFound,
        ServerErrors,
    )
)]
async fn events(
    request: HttpRequest,
    _access: OrgMember,
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, Error> {
    let wants_stream = request
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/event-stream"));
    if wants_stream {
        let after = match request.headers().get("last-event-id") {
            None => (0, 0),
            Some(value) => live::event_id(value.to_str().unwrap_or_default())?,
        };
        return Ok(HttpResponse::Ok()
            .content_type("text/event-stream")
            .insert_header((actix_web::http::header::CACHE_CONTROL, "no-cache"))
            .insert_header(("X-Accel-Buffering", "no"))
            .streaming(live::stream(state.into_inner(), Id(*path), after)));
    }
    let mut pooled = state.pool.get().await?;
    let items = runs::events(&mut pooled.conn(), Id(*path)).await?;
    Ok(HttpResponse::Ok().json(protocol::Page {
        items,
        next_cursor: None,
    }))
}

/// The live event stream of one run.
mod live {
    use std::sync::Arc;
    use std::time::Duration;

    use actix_web::web::Bytes;
    use futures_util::Stream;

    use crate::db::{self, Id};
    use crate::error::Error;
    use crate::http::AppState;

    /// A comment line sent when nothing happened for this long, so proxies keep the connection.
    const KEEP_ALIVE: Duration = Duration::from_secs(15);
    /// Events read per query.
    const PAGE: i64 = 200;
    /// How often a stream looks for changes made on another replica.
    const RECHECK: Duration = Duration::from_secs(1);

    /// `<attempt>-<seq>`, as the stream numbers its events.
    pub fn event_id(text: &str) -> Result<(i32, i64), Error> {
        text.split_once('-')
            .and_then(|(attempt, seq)| Some((attempt.parse().ok()?, seq.parse().ok()?)))
            .ok_or_else(|| {
                Error::BadRequest(format!(
                    "Last-Event-ID {text:?} is not an event id this stream gave out"
                ))
            })
    }

    struct Live {
        state: Arc<AppState>,
        run: Id,
        after: (i32, i64),
        /// When the stream last sent anything.
        quiet_since: tokio::time::Instant,
    }

    /// What to send next: stored events, the end, or a keep-alive.
    async fn next(live: &mut Live) -> Result<Bytes, Error> {
        loop {
            let wake = Arc::clone(&live.state.run_changed);
            let woken = wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let (events, run) = {
                let mut pooled = live.state.pool.get().await?;
                let mut conn = pooled.conn();
                let (attempt, seq) = live.after;
                let events = db::run_events::after(&mut conn, live.run, attempt, seq, PAGE).await?;
                (events, db::runs::find(&mut conn, live.run).await?)
            };
            if let Some(last) = events.last() {
                live.after = (last.attempt, last.seq);
                live.quiet_since = tokio::time::Instant::now();
                let mut chunk = String::new();
                for event in &events {
                    let body = crate::service::runs::event_json(event)?;
                    chunk.push_str(&format!(
                        "id: {}-{}\nevent: {}\ndata: {body}\n\n",
                        event.attempt, event.seq, event.kind
                    ));
                }
                return Ok(Bytes::from(chunk));
            }
            if run.is_finished() {
                let end = serde_json::json!({"run_id": run.id.0, "state": run.state});
                return Ok(Bytes::from(format!("event: end\ndata: {end}\n\n")));
            }
            // Woken at once by changes made on this replica; changes made on another are found by looking
            // again every second.
            if tokio::time::timeout(RECHECK, woken).await.is_err() && live.quiet_since.elapsed() >= KEEP_ALIVE
            {
                live.quiet_since = tokio::time::Instant::now();
                return Ok(Bytes::from_static(b": keep-alive\n\n"));
            }
        }
    }

    /// The stream: history after `after`, then live events, then the end.
    pub fn stream(
        state: Arc<AppState>,
        run: Id,
        after: (i32, i64),
    ) -> impl Stream<Item = Result<Bytes, Error>> {
        let live = Live {
            state,
            run,
            after,
            quiet_since: tokio::time::Instant::now(),
        };
        futures_util::stream::unfold(Some(live), |live| async move {
            let mut live = live?;
            match next(&mut live).await {
                Ok(chunk) => {
                    let ended = chunk.starts_with(b"event: end");
                    Some((Ok(chunk), (!ended).then_some(live)))
                }
                Err(error) => Some((Err(error), None)),
            }
        })
    }
}

/// Cancels a run (the org's admins and operators).
///
/// A queued run ends at once; a running one when its data plane reports it stopped.
#[utoipa::path(
    post,
    path = "/api/v1/runs/{run}/cancel",
    operation_id = "cancelRun",
    tag = "runs",
    params(("run" = uuid::Uuid, Path, description = "The run's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The run: cancelled, or told to stop", body = RunView),
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        ServerErrors,
    )
)]
async fn cancel(
    request: HttpRequest,
    access: OrgOperator,
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let actor = actor_of(&request, Some(&access.caller));
    let run = runs::cancel(&mut pooled.conn(), actor, Id(*path)).await?;
    state.run_changed.work_arrived();
    Ok(HttpResponse::Ok().json(run))
}
