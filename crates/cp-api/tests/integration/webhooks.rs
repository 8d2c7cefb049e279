//! Webhooks against a real receiver on 127.0.0.1: every delivery signed as Standard Webhooks says (checked
//! here with HMAC-SHA256 directly), everything delivered after the receiver was down for a while, nothing
//! lost when `cp-api` is killed mid-delivery, the Slack format, sending again by hand; and what a bad URL,
//! event or caller gets.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::processes::Process;
use crate::queue::{Installed, acme, inputs};
use crate::support::{TestApp, on_both_backends};

/// What a receiver got: the signature headers and the body.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    /// Checks the signature as a receiver would, from the specification alone.
    fn verify(&self, secret: &str) {
        let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
        let mut mac = <Hmac<Sha256>>::new_from_slice(&key).unwrap();
        mac.update(format!("{}.{}.{}", self.id, self.timestamp, self.body).as_bytes());
        let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
        assert_eq!(self.signature, expected, "signature of {}", self.id);
        let sent: i64 = self.timestamp.parse().unwrap();
        assert!(
            (chrono::Utc::now().timestamp() - sent).abs() < 300,
            "a fresh timestamp"
        );
    }
}

/// How the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Accept,
    /// Takes the request and never answers.
    Hang,
}

#[derive(Clone)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    mode: Arc<Mutex<Mode>>,
}

impl Receiver {
    fn new(mode: Mode) -> Self {
        Self {
            got: Arc::default(),
            mode: Arc::new(Mutex::new(mode)),
        }
    }

    /// Serves on `port` (0: any) until the handle is stopped; the port it took.
    fn serve(&self, port: u16) -> (u16, actix_web::dev::ServerHandle) {
        let receiver = self.clone();
        let server = actix_web::HttpServer::new(move || {
            actix_web::App::new()
                .app_data(web::Data::new(receiver.clone()))
                .route("/hook", web::post().to(receive))
        })
        .workers(1)
        .bind(("127.0.0.1", port))
        .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        (port, handle)
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `done` holds of what it got.
    async fn wait_for(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        for _ in 0..300 {
            let got = self.got();
            if done(&got) {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the receiver never got {what}: {:#?}", self.got());
    }
}

async fn receive(request: HttpRequest, body: web::Bytes, receiver: web::Data<Receiver>) -> HttpResponse {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    receiver.got.lock().unwrap().push(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body: String::from_utf8(body.to_vec()).unwrap(),
    });
    let mode = *receiver.mode.lock().unwrap();
    if mode == Mode::Hang {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    HttpResponse::NoContent().finish()
}

/// A port nothing listens on (yet).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A sender retrying fast, as a test can wait for.
fn sender(app: &TestApp) -> tokio::task::JoinHandle<()> {
    let config = cp_api::webhooks::Config {
        timeout: Duration::from_secs(2),
        retry_base: Duration::from_millis(100),
        retry_max: Duration::from_millis(400),
        ..cp_api::webhooks::Config::default()
    };
    cp_api::webhooks::spawn(app.state.pool.clone(), config, app.state.run_changed.clone())
}

async fn create_hook(app: &TestApp, at: &Installed, body: Value) -> Value {
    let org = at.operator.org_id.as_deref().unwrap();
    let answer = app
        .post(
            &format!("/api/v1/orgs/{org}/webhooks"),
            body,
            Some(&at.operator.token),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
    answer.body
}

async fn start_run(app: &TestApp, at: &Installed) -> String {
    let answer = app
        .post(
            &format!("/api/v1/deployments/{}/runs", at.deployment),
            inputs(),
            Some(&at.operator.token),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
    answer.body["id"].as_str().unwrap().to_owned()
}

on_both_backends! {
    async fn deliveries_are_signed_and_all_arrive_after_the_receiver_was_down(backend: Backend) {
        let app = TestApp::start(backend).await;
        let at = acme(&app).await;
        let org = at.operator.org_id.clone().unwrap();
        let token = Some(at.operator.token.as_str());
        let port = free_port();
        let hook = create_hook(&app, &at, json!({
            "url": format!("http://127.0.0.1:{port}/hook"), "events": ["run.*"], "description": "ops pager",
        })).await;
        let secret = hook["secret"].as_str().unwrap().to_owned();
        let hook_id = hook["id"].as_str().unwrap().to_owned();
        assert_eq!(hook["events"], json!(["run.*"]));
        let listed = app.get_as(&format!("/api/v1/orgs/{org}/webhooks"), &at.operator.token).await;
        assert_eq!(listed.body.as_array().unwrap().len(), 1);
        assert!(listed.body[0].get("secret").is_none(), "the secret is shown once");

        let sender = sender(&app);
        // Three runs queued and one cancelled, while nothing listens on the receiver's port.
        let runs = [start_run(&app, &at).await, start_run(&app, &at).await, start_run(&app, &at).await];
        let cancelled = app.post(&format!("/api/v1/runs/{}/cancel", runs[0]), json!({}), token).await;
        assert_eq!(cancelled.status, StatusCode::OK, "{:?}", cancelled.body);

        // The outbox has them, and retries them with every attempt logged.
        let deliveries = format!("/api/v1/orgs/{org}/webhooks/{hook_id}/deliveries");
        let mut retried = Value::Null;
        for _ in 0..200 {
            let page = app.get_as(&deliveries, &at.operator.token).await;
            assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
            if page.body["items"].as_array().unwrap().len() == 4
                && page.body["items"].as_array().unwrap().iter().all(|d| d["attempts"].as_i64().unwrap() >= 2)
            {
                retried = page.body;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let first = &retried["items"][0];
        assert_eq!(first["state"], "pending", "{retried:?}");
        let detail = app.get_as(&format!("{deliveries}/{}", first["id"].as_str().unwrap()), &at.operator.token).await;
        let log = detail.body["attempt_log"].as_array().unwrap();
        assert!(log.len() >= 2, "{detail:?}");
        assert!(log[0]["status"].is_null() && log[0]["error"].as_str().unwrap().contains("127.0.0.1"), "{log:?}");

        // The receiver comes up: everything arrives, signed.
        let receiver = Receiver::new(Mode::Accept);
        let (_, server) = receiver.serve(port);
        let got = receiver.wait_for("four events", |got| {
            let mut ids: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            ids.len() == 4
        }).await;
        for received in &got {
            received.verify(&secret);
        }
        let mut events: Vec<(String, String)> = got
            .iter()
            .map(|r| {
                let body = r.json();
                (body["data"]["run_id"].as_str().unwrap().to_owned(), body["type"].as_str().unwrap().to_owned())
            })
            .collect();
        events.sort();
        events.dedup();
        let mut expected: Vec<(String, String)> = runs.iter().map(|run| (run.clone(), "run.queued".to_owned())).collect();
        expected.push((runs[0].clone(), "run.cancelled".to_owned()));
        expected.sort();
        assert_eq!(events, expected);
        let body = got[0].json();
        assert_eq!(body["data"]["org_id"], org.as_str());
        assert!(body["timestamp"].is_string());

        let page = wait_until_delivered(&app, &at, &deliveries, 4).await;
        let delivered = &page["items"][0];
        let detail = app.get_as(&format!("{deliveries}/{}", delivered["id"].as_str().unwrap()), &at.operator.token).await;
        let log = detail.body["attempt_log"].as_array().unwrap();
        assert_eq!(log.last().unwrap()["status"], 204, "{log:?}");

        // Sent again by hand: the same id once more, signed with the secret of the moment.
        let rotated = app.post(&format!("/api/v1/orgs/{org}/webhooks/{hook_id}/secret"), json!({}), token).await;
        assert_eq!(rotated.status, StatusCode::OK);
        let new_secret = rotated.body["secret"].as_str().unwrap().to_owned();
        assert_ne!(new_secret, secret);
        let id = delivered["id"].as_str().unwrap().to_owned();
        let again = app.post(&format!("{deliveries}/{id}/redeliver"), json!({}), token).await;
        assert_eq!(again.status, StatusCode::ACCEPTED, "{:?}", again.body);
        let got = receiver.wait_for("the delivery again", |got| got.iter().filter(|r| r.id == id).count() == 2).await;
        got.iter().rfind(|r| r.id == id).unwrap().verify(&new_secret);

        sender.abort();
        server.stop(false).await;
    }

    async fn a_slack_webhook_gets_a_message_and_a_ping_checks_the_receiver(backend: Backend) {
        let app = TestApp::start(backend).await;
        let at = acme(&app).await;
        let org = at.operator.org_id.clone().unwrap();
        let receiver = Receiver::new(Mode::Accept);
        let (port, server) = receiver.serve(0);
        let hook = create_hook(&app, &at, json!({
            "url": format!("http://127.0.0.1:{port}/hook"), "events": ["run.cancelled"], "format": "slack",
        })).await;
        let hook_id = hook["id"].as_str().unwrap();
        let sender = sender(&app);
        let ping = app.post(&format!("/api/v1/orgs/{org}/webhooks/{hook_id}/ping"), json!({}), Some(&at.operator.token)).await;
        assert_eq!(ping.status, StatusCode::ACCEPTED, "{:?}", ping.body);
        assert_eq!(ping.body["event"], "webhook.ping");
        let run = start_run(&app, &at).await;
        app.post(&format!("/api/v1/runs/{run}/cancel"), json!({}), Some(&at.operator.token)).await;
        let got = receiver.wait_for("the ping and the cancellation", |got| got.len() >= 2).await;
        let mut texts: Vec<String> = got.iter().map(|r| r.json()["text"].as_str().unwrap().to_owned()).collect();
        texts.sort();
        assert_eq!(texts, ["*run.cancelled* — run `".to_owned() + &run + "`", "*webhook.ping*".to_owned()], "only the events asked for");
        for received in &got {
            received.verify(hook["secret"].as_str().unwrap());
        }
        sender.abort();
        server.stop(false).await;
    }

    async fn a_control_plane_killed_mid_delivery_loses_nothing(backend: Backend) {
        let app = TestApp::start(backend).await;
        let at = acme(&app).await;
        let receiver = Receiver::new(Mode::Hang);
        let (port, server) = receiver.serve(0);
        let hook = create_hook(&app, &at, json!({"url": format!("http://127.0.0.1:{port}/hook"), "events": ["run.queued"]})).await;
        let flags = ["--webhook-timeout", "1s", "--webhook-retry-base", "100ms"];
        let first = Process::serve(&app.db.database, &flags).await;
        let run = start_run(&app, &at).await;
        // The first process posts the delivery and waits on a receiver that does not answer: killed then.
        let got = receiver.wait_for("the delivery's first attempt", |got| !got.is_empty()).await;
        let id = got[0].id.clone();
        drop(first);
        *receiver.mode.lock().unwrap() = Mode::Accept;
        let _second = Process::serve(&app.db.database, &flags).await;
        let got = receiver.wait_for("the delivery again", |got| got.len() >= 2).await;
        assert!(got.iter().all(|r| r.id == id), "the same delivery, nothing else: {got:?}");
        got[1].verify(hook["secret"].as_str().unwrap());
        assert_eq!(got[1].json()["data"]["run_id"], run.as_str());
        let org = at.operator.org_id.clone().unwrap();
        let deliveries = format!("/api/v1/orgs/{org}/webhooks/{}/deliveries", hook["id"].as_str().unwrap());
        wait_until_delivered(&app, &at, &deliveries, 1).await;
        server.stop(false).await;
    }

    async fn bad_webhooks_are_refused_with_every_reason(backend: Backend) {
        let app = TestApp::start(backend).await;
        let at = acme(&app).await;
        let org = at.operator.org_id.clone().unwrap();
        let token = Some(at.operator.token.as_str());
        let path = format!("/api/v1/orgs/{org}/webhooks");
        for (body, field, says) in [
            (json!({"url": "ftp://example.com/in", "events": ["*"]}), "url", "scheme"),
            (json!({"url": "http://169.254.169.254/latest/meta-data", "events": ["*"]}), "url", "link-local"),
            (json!({"url": "http://metadata.google.internal/", "events": ["*"]}), "url", "metadata"),
            (json!({"url": "http://[fe80::1]/in", "events": ["*"]}), "url", "link-local"),
            (json!({"url": "not a url", "events": ["*"]}), "url", "not a URL"),
            (json!({"url": "https://example.com/in", "events": []}), "events", "at least one"),
            (json!({"url": "https://example.com/in", "events": ["run.done"]}), "events[0]", "not a state of run"),
            (json!({"url": "https://example.com/in", "events": ["billing.*"]}), "events[0]", "not a topic"),
            (json!({"url": "https://example.com/in", "events": ["*"], "format": "xml"}), "format", "not one of"),
        ] {
            let answer = app.post(&path, body.clone(), token).await;
            assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {:?}", answer.body);
            assert_eq!(answer.content_type(), "application/problem+json");
            let error = &answer.body["errors"][0];
            assert_eq!(error["path"], field, "{body}: {:?}", answer.body);
            assert!(error["message"].as_str().unwrap().contains(says), "{body}: {:?}", answer.body);
        }
        let unknown_field = app.post(&path, json!({"url": "https://example.com/in", "events": ["*"], "secret": "mine"}), token).await;
        assert_eq!(unknown_field.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", unknown_field.body);
        let listed = app.get_as(&path, &at.operator.token).await;
        assert_eq!(listed.body, json!([]), "nothing half-made");

        let hook = create_hook(&app, &at, json!({"url": "https://example.com/in", "events": ["run.*", "run.*"]})).await;
        assert_eq!(hook["events"], json!(["run.*"]), "repeats dropped");
        let id = hook["id"].as_str().unwrap();
        let bad_change = app.patch(&format!("{path}/{id}"), json!({"url": "http://[::ffff:169.254.169.254]/"}), token).await;
        assert_eq!(bad_change.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", bad_change.body);
        let changed = app.patch(&format!("{path}/{id}"), json!({"active": false, "events": ["approval.pending"]}), token).await;
        assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
        assert_eq!((changed.body["active"].clone(), changed.body["events"].clone()), (json!(false), json!(["approval.pending"])));
        let bad_state = app.get_as(&format!("{path}/{id}/deliveries?state=lost"), &at.operator.token).await;
        assert_eq!(bad_state.status, StatusCode::BAD_REQUEST);

        // Another org sees none of it; a member who is not an admin may not manage it.
        let other = app.user("eve@elsewhere.example", Some("Elsewhere")).await;
        let other_org = other.org_id.clone().unwrap();
        assert_eq!(app.get_as(&format!("{path}/{id}"), &other.token).await.status, StatusCode::NOT_FOUND);
        let theirs = format!("/api/v1/orgs/{other_org}/webhooks/{id}");
        assert_eq!(app.get_as(&theirs, &other.token).await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.delete(&theirs, Some(&other.token)).await.status, StatusCode::NOT_FOUND);
        let missing = format!("{path}/{id}/deliveries/{}", uuid::Uuid::now_v7());
        assert_eq!(app.get_as(&missing, &at.operator.token).await.status, StatusCode::NOT_FOUND);

        let deleted = app.delete(&format!("{path}/{id}"), token).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        assert_eq!(app.get_as(&format!("{path}/{id}"), &at.operator.token).await.status, StatusCode::NOT_FOUND);
        let audit = app.get_as(&format!("/api/v1/orgs/{org}/audit"), &at.operator.token).await;
        let actions: Vec<&str> = audit.body["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).filter(|a| a.starts_with("webhook.")).collect();
        assert_eq!(actions, ["webhook.create", "webhook.update", "webhook.delete"], "{audit:?}");

        for n in 0..cp_api::service::webhooks::MAX_PER_ORG {
            create_hook(&app, &at, json!({"url": format!("https://example.com/{n}"), "events": ["*"]})).await;
        }
        let one_too_many = app.post(&path, json!({"url": "https://example.com/last", "events": ["*"]}), token).await;
        assert_eq!(one_too_many.status, StatusCode::CONFLICT, "{:?}", one_too_many.body);
    }
}

/// Waits until the webhook's `count` deliveries are all delivered; the page.
async fn wait_until_delivered(app: &TestApp, at: &Installed, deliveries: &str, count: usize) -> Value {
    for _ in 0..300 {
        let page = app
            .get_as(&format!("{deliveries}?state=delivered"), &at.operator.token)
            .await;
        if page.body["items"]
            .as_array()
            .is_some_and(|items| items.len() == count)
        {
            return page.body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "not all delivered: {:?}",
        app.get_as(deliveries, &at.operator.token).await.body
    );
}
