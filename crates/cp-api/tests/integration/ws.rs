//! The WebSocket at `/api/v1/ws`, over real HTTP: a client follows an org's runs, one run (its states and
//! step events), a deployment's state and the org's approvals, and is refused topics it may not see.

use std::time::Duration;

use actix_web::http::StatusCode;
use awc::ws::{Frame, Message};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};

use crate::catalog::{NORMALIZER, market, publish};
use crate::queue::{checkpoint, claim, dp, finished, inputs, installed};
use crate::support::{TestApp, on_both_backends};

type Socket = actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>;

async fn connect(base: &str, token: &str) -> Socket {
    let (response, socket) = awc::Client::new()
        .ws(format!("{}/api/v1/ws", base.replace("http://", "ws://")))
        .bearer_auth(token)
        .connect()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    socket
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .unwrap();
}

/// The next JSON text message (failing after 10 s: the test hangs otherwise).
async fn next(socket: &mut Socket) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .unwrap_or_else(|_| panic!("no message within 10 s"))
            .unwrap()
            .unwrap();
        if let Frame::Text(text) = frame {
            return serde_json::from_slice(&text).unwrap();
        }
    }
}

/// Messages until one matches, returning it (earlier ones are of other topics or steps).
async fn until(socket: &mut Socket, wanted: impl Fn(&Value) -> bool) -> Value {
    loop {
        let message = next(socket).await;
        if wanted(&message) {
            return message;
        }
    }
}

fn run_state(topic: &str, state: &str) -> impl Fn(&Value) -> bool {
    let (topic, state) = (topic.to_owned(), state.to_owned());
    move |message| message["topic"] == topic.as_str() && message["change"]["state"] == state.as_str()
}

on_both_backends! {
    async fn a_socket_follows_runs_deployments_and_approvals(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;
        let org = at.operator.org_id.clone().unwrap();
        let served = app.serve();
        let mut socket = connect(&served.base, &at.operator.token).await;

        for topic in [format!("org:{org}:runs"), format!("org:{org}:approvals"), format!("deployment:{}", at.deployment)] {
            send(&mut socket, json!({"type": "subscribe", "topic": topic})).await;
            assert_eq!(next(&mut socket).await, json!({"type": "subscribed", "topic": topic}));
        }
        send(&mut socket, json!({"type": "subscribe", "topic": "weather:today"})).await;
        let refused = next(&mut socket).await;
        assert_eq!(refused["type"], "error", "{refused}");
        let outsider = installed(&app, "Globex").await;
        let theirs = format!("deployment:{}", outsider.deployment);
        send(&mut socket, json!({"type": "subscribe", "topic": theirs})).await;
        let hidden = next(&mut socket).await;
        assert_eq!((hidden["type"].as_str(), hidden["detail"].as_str()), (Some("error"), Some(format!("no such topic {theirs}").as_str())));
        send(&mut socket, json!({"type": "dance"})).await;
        assert_eq!(next(&mut socket).await["type"], "error");

        let registration = json!({"instance_id": "dp-1", "version": "0.1.0", "capabilities": [], "concurrency": 2});
        assert_eq!(dp(&app, &at.credential, "register", Some(registration)).await.status, StatusCode::OK);
        let ready = until(&mut socket, |m| m["topic"] == format!("deployment:{}", at.deployment)).await;
        assert_eq!(ready["change"]["state"], "ready", "{ready}");

        let runs = format!("org:{org}:runs");
        let run = app.post(&format!("/api/v1/deployments/{}/runs", at.deployment), inputs(), Some(&at.operator.token)).await;
        let run = run.body["id"].as_str().unwrap().to_owned();
        let queued = until(&mut socket, run_state(&runs, "queued")).await;
        assert_eq!(queued["change"]["run_id"], run.as_str());
        let own = format!("run:{run}");
        send(&mut socket, json!({"type": "subscribe", "topic": own})).await;
        until(&mut socket, |m| m["type"] == "subscribed" && m["topic"] == own.as_str()).await;

        let task = claim(&app, &at.credential, "dp-1", 1).await[0]["task_id"].as_str().unwrap().to_owned();
        until(&mut socket, run_state(&own, "running")).await;
        let batch = json!({"events": [finished(1, "load"), checkpoint(2, "load")]});
        assert_eq!(dp(&app, &at.credential, &format!("tasks/{task}/events"), Some(batch)).await.status, StatusCode::OK);
        let step = until(&mut socket, |m| m["type"] == "event" && m["topic"] == own.as_str()).await;
        assert_eq!((step["event"]["type"].as_str(), step["event"]["node"].as_str()), (Some("finished"), Some("load")));

        let suspension = json!({"checkpoint": {"seq": 2, "nodes": {}, "state": {}},
                                "approval": {"node": "remediate", "action": {"tool": "rightsize"}}});
        assert_eq!(dp(&app, &at.credential, &format!("tasks/{task}/suspend"), Some(suspension)).await.status, StatusCode::OK);
        // Each topic keeps its order; between topics there is none.
        let (mut asked, mut waiting) = (None, false);
        while asked.is_none() || !waiting {
            let message = next(&mut socket).await;
            if message["topic"] == format!("org:{org}:approvals") {
                asked = Some(message);
            } else {
                waiting |= run_state(&runs, "awaiting_approval")(&message);
            }
        }
        let asked = asked.unwrap();
        assert_eq!((asked["change"]["node"].as_str(), asked["change"]["state"].as_str()), (Some("remediate"), Some("pending")));

        send(&mut socket, json!({"type": "unsubscribe", "topic": runs})).await;
        until(&mut socket, |m| m["type"] == "unsubscribed").await;
        let cancelled = app.post(&format!("/api/v1/runs/{run}/cancel"), json!({}), Some(&at.operator.token)).await;
        assert_eq!(cancelled.body["state"], "cancelled");
        let end = until(&mut socket, |m| m["type"] == "change").await;
        assert_eq!((end["topic"].as_str(), end["change"]["state"].as_str()), (Some(own.as_str()), Some("cancelled")), "only followed topics arrive");
    }
}

#[derive(diesel::QueryableByName)]
struct TuplesRead {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    read: i64,
}

/// Reading the change feed from a cursor starts at the cursor in the index, also under the generic plan
/// a prepared statement ends up with: a reader near the end of a long feed reads the few rows after its
/// cursor, not the whole feed (PostgreSQL; SQLite plans each read afresh).
#[actix_web::test]
async fn reading_changes_after_a_cursor_skips_what_came_before() {
    use cp_api::db::{self, Id, changes::Filter};
    use diesel_async::{RunQueryDsl, SimpleAsyncConnection as _};
    let app = TestApp::start(crate::support::Backend::Postgres).await;
    let org = Id(app.bootstrap("feed@example.com", "feed").await.org_id.0);
    let mut pooled = app.state.pool.get().await.unwrap();
    let mut conn = pooled.conn();
    let db::Conn::Postgres(pg) = &mut conn else {
        unreachable!()
    };
    // 2,000 changes in 1,000 settled transactions.
    diesel::sql_query(format!(
        "INSERT INTO changes (tx, org_id, topic, subject, body, at) \
         SELECT n / 2, '{}', 'run', gen_random_uuid(), '{{}}', now() FROM generate_series(2, 2001) AS n",
        org.0
    ))
    .execute(&mut **pg)
    .await
    .unwrap();
    pg.batch_execute("ANALYZE changes").await.unwrap();
    // Rows this transaction read from the table (scanning it) and from its indexes.
    let tuples_read = "SELECT (pg_stat_get_xact_tuples_returned('changes'::regclass) \
                       + (SELECT sum(pg_stat_get_xact_tuples_returned(indexrelid)) FROM pg_index \
                          WHERE indrelid = 'changes'::regclass))::bigint AS read";
    let (read, after, all_after) = db::transaction(&mut conn, async |tx| {
        let db::Conn::Postgres(pg) = &mut *tx else {
            unreachable!()
        };
        pg.batch_execute("SET LOCAL plan_cache_mode = force_generic_plan")
            .await?;
        let filter = Filter {
            org,
            topic: None,
            subject: None,
        };
        let cursor = (995, 0);
        let after = db::changes::after(tx, filter, cursor, 100).await?;
        let all_after = db::changes::all_after(tx, cursor, 100).await?;
        let db::Conn::Postgres(pg) = &mut *tx else {
            unreachable!()
        };
        let read: TuplesRead = diesel::sql_query(tuples_read).get_result(&mut **pg).await?;
        Ok::<_, cp_api::error::Error>((read.read, after, all_after))
    })
    .await
    .unwrap();
    // Transactions 995 to 1000: 12 changes, each read once by each of the two readers.
    assert_eq!(after.len(), 12);
    assert_eq!(all_after, after);
    assert!(read <= 2 * 12 + 4, "{read} rows read for 24 changes");
}
