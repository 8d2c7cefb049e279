//! Runs and the task queue over HTTP: a run's whole life, exactly-once completion under concurrent
//! claimers, lease loss and resumption from the last checkpoint, and what one deployment's credential
//! cannot reach.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use serde_json::{Value, json};

use crate::catalog::{NORMALIZER, market, publish};
use crate::support::{Answer, Backend, TestApp, User, on_both_backends};

pub const AGENT: &str = "com.aicloud.finops.billing-normalizer";

/// An org that installed the billing normalizer, with the deployment's credential.
pub struct Installed {
    pub operator: User,
    pub deployment: String,
    pub credential: String,
}

pub async fn installed(app: &TestApp, org_name: &str) -> Installed {
    let operator = app
        .user(
            &format!("ops@{}.example", org_name.to_lowercase()),
            Some(org_name),
        )
        .await;
    let org = operator.org_id.clone().unwrap();
    let answer = app
        .post(
            &format!("/api/v1/orgs/{org}/install"),
            json!({
                "agent_id": AGENT, "version": "1.0.0", "deployment_type": "saas",
                "granted_permissions": ["billing:read", "reports:write"],
            }),
            Some(&operator.token),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
    Installed {
        operator,
        deployment: answer.body["id"].as_str().unwrap().to_owned(),
        credential: answer.body["credential"].as_str().unwrap().to_owned(),
    }
}

/// Acme with the normalizer installed, from a fresh market.
pub async fn acme(app: &TestApp) -> Installed {
    let market = market(app).await;
    publish(app, &market, NORMALIZER, "application/yaml").await;
    installed(app, "Acme").await
}

pub fn inputs() -> Value {
    json!({"inputs": {"billing_source": "s3://acme-billing/exports", "period": "2026-10"}})
}

/// What `dp-runtime` advertises, with one tool: the normalizer needs these node kinds and its one tool.
fn capabilities(tool: &str) -> Value {
    json!([
        "a2a",
        "approval",
        "llm",
        "memory_search",
        "memory_write",
        "tool",
        "transform",
        format!("tool:{tool}")
    ])
}

async fn start_run(app: &TestApp, at: &Installed, body: Value, key: Option<&str>) -> Answer {
    let mut request = TestRequest::post()
        .uri(&format!("/api/v1/deployments/{}/runs", at.deployment))
        .insert_header(("Authorization", format!("Bearer {}", at.operator.token)))
        .set_json(body);
    if let Some(key) = key {
        request = request.insert_header(("Idempotency-Key", key));
    }
    app.send(request).await
}

/// A data-plane call with the deployment's credential.
pub async fn dp(app: &TestApp, credential: &str, path: &str, body: Option<Value>) -> Answer {
    let request = match body {
        Some(body) => TestRequest::post()
            .uri(&format!("/api/v1/dp/{path}"))
            .set_json(body),
        None => TestRequest::get().uri(&format!("/api/v1/dp/{path}")),
    };
    app.send(request.insert_header(("Authorization", format!("Bearer {credential}"))))
        .await
}

pub async fn claim(app: &TestApp, credential: &str, instance: &str, max: u32) -> Vec<Value> {
    let answer = dp(
        app,
        credential,
        &format!("tasks/next?instance_id={instance}&max={max}"),
        None,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    answer.body["tasks"].as_array().unwrap().clone()
}

pub fn finished(seq: u64, node: &str) -> Value {
    json!({"seq": seq, "at": "2026-11-23T10:00:00Z", "type": "finished", "node": node, "attempt": 1,
           "status": "succeeded", "duration_ms": 12, "message": null, "counters": {"records": 15000}})
}

pub fn checkpoint(seq: u64, node: &str) -> Value {
    json!({"seq": seq, "at": "2026-11-23T10:00:01Z", "type": "checkpoint",
           "checkpoint": {"seq": seq, "nodes": {node: {"output": {"rows": 15000}, "attempt": 1, "finished_at": "2026-11-23T10:00:00Z"}}, "state": {}}})
}

/// Runs `UPDATE <table> SET <column> = <minutes ago> <rest>` on the app's database, to age what the
/// control plane keeps the time of.
pub async fn backdate(app: &TestApp, table: &str, column: &str, rest: &str, minutes: i64) {
    use diesel_async::RunQueryDsl;
    let past =
        cp_api::db::Time::from_unix_micros(chrono::Utc::now().timestamp_micros() - minutes * 60_000_000);
    let mut pooled = app.state.pool.get().await.unwrap();
    let (placeholder, mut conn) = match pooled.conn() {
        conn @ cp_api::db::Conn::Postgres(_) => ("$1", conn),
        conn @ cp_api::db::Conn::Sqlite(_) => ("?", conn),
    };
    let sql = format!("UPDATE {table} SET {column} = {placeholder} {rest}");
    match &mut conn {
        cp_api::db::Conn::Postgres(c) => {
            diesel::sql_query(sql)
                .bind::<cp_api::db::sql_types::Timestamptz, _>(past)
                .execute(&mut **c)
                .await
                .unwrap();
        }
        cp_api::db::Conn::Sqlite(c) => {
            diesel::sql_query(sql)
                .bind::<cp_api::db::sql_types::Timestamptz, _>(past)
                .execute(&mut **c)
                .await
                .unwrap();
        }
    }
}

/// Sets every held task's lease to have run out, as if its data plane had vanished two minutes ago.
async fn expire_leases(app: &TestApp) {
    backdate(app, "tasks", "lease_expires_at", "WHERE leased_by IS NOT NULL", 2).await;
}

/// A run's live event stream, read to its end.
async fn sse(app: &TestApp, token: &str, run: &str, last_event: Option<&str>) -> (StatusCode, String) {
    let service = actix_web::test::init_service(
        actix_web::App::new()
            .app_data(actix_web::web::Data::new(app.state.clone()))
            .configure(cp_api::http::configure),
    )
    .await;
    let mut request = TestRequest::get()
        .uri(&format!("/api/v1/runs/{run}/events"))
        .insert_header(("Accept", "text/event-stream"))
        .insert_header(("Authorization", format!("Bearer {token}")));
    if let Some(id) = last_event {
        request = request.insert_header(("Last-Event-ID", id));
    }
    let response = actix_web::test::call_service(&service, request.to_request()).await;
    let status = response.status();
    let body = actix_web::body::to_bytes(response.into_body())
        .await
        .unwrap_or_default();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The ids of the events in an SSE body, in order.
fn sse_ids(body: &str) -> Vec<&str> {
    body.lines()
        .filter_map(|line| line.strip_prefix("id: "))
        .collect()
}

on_both_backends! {
    async fn a_data_plane_claims_only_runs_of_versions_it_can_run(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;
        let register = async |instance: &str, capabilities: Value| {
            let body = json!({"instance_id": instance, "version": "0.1.0", "capabilities": capabilities, "concurrency": 4});
            let registered = dp(&app, &at.credential, "register", Some(body)).await;
            assert_eq!(registered.status, StatusCode::OK, "{:?}", registered.body);
        };
        register("dp-old", capabilities("billing.normalize")).await;
        register("dp-new", capabilities("billing.normalise")).await;
        register("dp-small", json!(["tool", "transform", "tool:billing.normalize"])).await;

        // 1.0.0 calls `billing.normalize`; 1.1.0 calls the same tool renamed `billing.normalise`.
        let old = start_run(&app, &at, inputs(), None).await.body["id"].as_str().unwrap().to_owned();
        publish(&app, &market, &NORMALIZER.replacen("version: 1.0.0", "version: 1.1.0", 1).replace("billing.normalize", "billing.normalise"), "application/yaml").await;
        let upgraded = app.post(&format!("/api/v1/deployments/{}/upgrade", at.deployment), json!({"version": "1.1.0"}), Some(&at.operator.token)).await;
        assert_eq!(upgraded.status, StatusCode::OK, "{:?}", upgraded.body);
        let new = start_run(&app, &at, inputs(), None).await.body["id"].as_str().unwrap().to_owned();

        assert!(claim(&app, &at.credential, "dp-small", 8).await.is_empty(), "no llm node, no memory: neither version");
        let got = claim(&app, &at.credential, "dp-new", 8).await;
        assert_eq!(got.iter().map(|task| task["run_id"].as_str().unwrap()).collect::<Vec<_>>(), [new.as_str()]);
        let got = claim(&app, &at.credential, "dp-old", 8).await;
        assert_eq!(got.iter().map(|task| task["run_id"].as_str().unwrap()).collect::<Vec<_>>(), [old.as_str()]);
        assert_eq!(got[0]["agent"]["version"], "1.0.0");

        // One that never registered, or advertised nothing, is taken to run anything.
        let third = start_run(&app, &at, inputs(), None).await.body["id"].as_str().unwrap().to_owned();
        let got = claim(&app, &at.credential, "dp-unregistered", 8).await;
        assert_eq!(got.iter().map(|task| task["run_id"].as_str().unwrap()).collect::<Vec<_>>(), [third.as_str()]);
    }

    async fn retries_with_one_idempotency_key_at_once_make_one_run(backend: Backend) {
        let app = TestApp::start(backend).await;
        let at = acme(&app).await;
        let retries = (0..8).map(|_| start_run(&app, &at, inputs(), Some("retried")));
        let answers = futures_util::future::join_all(retries).await;
        let mut statuses: Vec<StatusCode> = answers.iter().map(|answer| answer.status).collect();
        statuses.sort();
        assert_eq!(statuses, [[StatusCode::OK; 7].as_slice(), &[StatusCode::CREATED]].concat(), "{answers:?}");
        let run = answers[0].body["id"].as_str().unwrap();
        assert!(answers.iter().all(|answer| answer.body["id"] == run), "{answers:?}");
        let tasks = claim(&app, &at.credential, "dp-1", 8).await;
        assert_eq!(tasks.len(), 1, "one run, one task");
        assert_eq!(tasks[0]["run_id"], run);
    }

    async fn a_run_lives_from_request_to_result(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;
        let org = at.operator.org_id.clone().unwrap();

        let registered = dp(&app, &at.credential, "register", Some(json!({"instance_id": "dp-1", "version": "0.1.0", "capabilities": capabilities("billing.normalize"), "concurrency": 4}))).await;
        assert_eq!(registered.status, StatusCode::OK, "{:?}", registered.body);
        assert_eq!(registered.body["deployment_id"], at.deployment.as_str());
        let deployment = app.get_as_opt(&format!("/api/v1/deployments/{}", at.deployment), Some(&at.operator.token)).await;
        assert_eq!(deployment.body["state"], "ready");

        let created = start_run(&app, &at, inputs(), Some("october-close")).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        assert_eq!(created.body["state"], "queued");
        let run = created.body["id"].as_str().unwrap().to_owned();
        let again = start_run(&app, &at, inputs(), Some("october-close")).await;
        assert_eq!((again.status, again.body["id"].as_str()), (StatusCode::OK, Some(run.as_str())), "same key, same run");
        let other = start_run(&app, &at, json!({"inputs": {"billing_source": "x", "period": "2026-09"}}), Some("october-close")).await;
        assert_eq!(other.status, StatusCode::CONFLICT, "same key, other request");

        let tasks = claim(&app, &at.credential, "dp-1", 8).await;
        assert_eq!(tasks.len(), 1, "one run, one task");
        let task = &tasks[0];
        assert_eq!(task["run_id"], run.as_str());
        assert_eq!(task["attempt"], 1);
        assert_eq!(task["inputs"]["period"], "2026-10");
        assert_eq!(task["granted_permissions"], json!(["billing:read", "reports:write"]));
        assert_eq!(task["agent"]["id"], AGENT);
        assert!(task["workflow"]["nodes"].as_array().is_some_and(|nodes| !nodes.is_empty()));
        // The manifest's `memory.ttl.task: 30days`, for the data plane to apply.
        assert_eq!(task["memory"], json!({"task_ttl_secs": 30 * 86_400}));
        assert_eq!(task["checkpoint"], Value::Null);
        let task_id = task["task_id"].as_str().unwrap().to_owned();
        assert_eq!(app.get_as_opt(&format!("/api/v1/runs/{run}"), Some(&at.operator.token)).await.body["state"], "running");

        let batch = json!({"events": [finished(1, "load"), checkpoint(2, "load")]});
        let posted = dp(&app, &at.credential, &format!("tasks/{task_id}/events"), Some(batch.clone())).await;
        assert_eq!((posted.status, posted.body["stored"].as_u64()), (StatusCode::OK, Some(2)), "{:?}", posted.body);
        let repeated = dp(&app, &at.credential, &format!("tasks/{task_id}/events"), Some(batch)).await;
        assert_eq!(repeated.body["stored"], 0, "a repeated batch stores nothing");
        let gap = dp(&app, &at.credential, &format!("tasks/{task_id}/events"), Some(json!({"events": [finished(5, "late")]}))).await;
        assert_eq!(gap.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", gap.body);
        let beat = dp(&app, &at.credential, "heartbeat", Some(json!({"instance_id": "dp-1", "tasks": [task_id]}))).await;
        assert_eq!(beat.body["leases"][0]["task_id"], task_id.as_str(), "{:?}", beat.body);

        let outputs = json!({"records": 15000, "total_cost": "48210.55", "payload_ref": "runs/1/normalized.parquet"});
        let completion = json!({"outputs": outputs, "usage": {"cpu_ms": 7_200_000, "wall_ms": 61_000, "units": {"records": 15000}}});
        let done = dp(&app, &at.credential, &format!("tasks/{task_id}/complete"), Some(completion.clone())).await;
        assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
        assert_eq!(done.body["state"], "succeeded");
        let twice = dp(&app, &at.credential, &format!("tasks/{task_id}/complete"), Some(completion)).await;
        assert_eq!((twice.status, twice.body["finished_at"].clone()), (StatusCode::OK, done.body["finished_at"].clone()), "a repeated completion changes nothing");

        let shown = app.get_as_opt(&format!("/api/v1/runs/{run}"), Some(&at.operator.token)).await;
        assert_eq!(shown.body["outputs"], outputs);
        assert_eq!(shown.body["usage"]["units"]["records"], 15000);
        assert_eq!(shown.body["timeline"][0]["node"], "load");
        let events = app.get_as_opt(&format!("/api/v1/runs/{run}/events"), Some(&at.operator.token)).await;
        assert_eq!(events.body["items"].as_array().unwrap().len(), 2);
        let listed = app.get_as_opt(&format!("/api/v1/orgs/{org}/runs?state=succeeded"), Some(&at.operator.token)).await;
        assert_eq!(listed.body["items"][0]["id"], run.as_str());
        assert!(claim(&app, &at.credential, "dp-1", 8).await.is_empty(), "nothing left to claim");
    }

    async fn bad_runs_and_bad_claims_are_refused(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;

        let bad = start_run(&app, &at, json!({"inputs": {"period": "October", "extra": 1}}), None).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", bad.body);
        let paths: Vec<&str> = bad.body["errors"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
        assert!(paths.contains(&"inputs.period") && paths.len() >= 3, "every error with its path: {paths:?}");
        let range = start_run(&app, &at, json!({"inputs": {}, "priority": 1000, "deadline": "2001-01-01T00:00:00Z"}), None).await;
        assert_eq!(range.body["errors"].as_array().unwrap().len(), 2, "{:?}", range.body);
        let stray = start_run(&app, &at, json!({"inputs": {}, "colour": "red"}), None).await;
        assert_eq!(stray.status, StatusCode::UNPROCESSABLE_ENTITY);
        let long_key = "k".repeat(300);
        assert_eq!(start_run(&app, &at, inputs(), Some(&long_key)).await.status, StatusCode::BAD_REQUEST);

        for query in ["max=0", "max=1000", "wait=100s", "wait=soon"] {
            let answer = dp(&app, &at.credential, &format!("tasks/next?instance_id=dp-1&{query}"), None).await;
            assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {:?}", answer.body);
        }
        assert_eq!(dp(&app, &at.credential, "tasks/next", None).await.status, StatusCode::BAD_REQUEST, "no instance id");
        let unregistered = dp(&app, &at.credential, "heartbeat", Some(json!({"instance_id": "ghost", "tasks": []}))).await;
        assert_eq!(unregistered.status, StatusCode::CONFLICT);
        assert_eq!(dp(&app, "amd_nonsense", "tasks/next?instance_id=x", None).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(dp(&app, &at.operator.token, "tasks/next?instance_id=x", None).await.status, StatusCode::UNAUTHORIZED, "a user's token is not a data-plane credential");
    }

    async fn a_credential_reaches_only_its_own_deployment(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let ours = installed(&app, "Acme").await;
        let theirs = installed(&app, "Globex").await;
        assert_eq!(start_run(&app, &theirs, inputs(), None).await.status, StatusCode::CREATED);

        assert!(claim(&app, &ours.credential, "dp-1", 8).await.is_empty(), "another deployment's task is not ours to claim");
        let tasks = claim(&app, &theirs.credential, "dp-9", 8).await;
        let task_id = tasks[0]["task_id"].as_str().unwrap();
        let run = tasks[0]["run_id"].as_str().unwrap();
        for path in ["events", "complete", "fail"] {
            let body = match path {
                "events" => json!({"events": [finished(1, "load")]}),
                "complete" => json!({"outputs": {}}),
                _ => json!({"reason": "x", "node": null, "retryable": false}),
            };
            let answer = dp(&app, &ours.credential, &format!("tasks/{task_id}/{path}"), Some(body)).await;
            assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}: {:?}", answer.body);
        }
        let foreign = app.get_as_opt(&format!("/api/v1/runs/{run}"), Some(&ours.operator.token)).await;
        assert_eq!(foreign.status, StatusCode::NOT_FOUND, "another org's run does not exist for us");
        assert_eq!(start_run(&app, &ours, inputs(), None).await.status, StatusCode::CREATED);
        // The seeds' form: the agent in the path, the deployment in the body.
        let by_agent = |deployment: &str, agent: &str| {
            let mut body = inputs();
            body["deployment_id"] = json!(deployment);
            let path = format!("/api/v1/agents/{agent}/runs");
            let token = ours.operator.token.clone();
            let app = &app;
            async move { app.post(&path, body, Some(&token)).await }
        };
        assert_eq!(by_agent(&ours.deployment, AGENT).await.status, StatusCode::CREATED);
        assert_eq!(by_agent(&theirs.deployment, AGENT).await.status, StatusCode::NOT_FOUND, "their deployment is not ours to run");
        assert_eq!(by_agent(&ours.deployment, "com.example.other").await.status, StatusCode::UNPROCESSABLE_ENTITY);
        let uninstalled = app.delete(&format!("/api/v1/deployments/{}", ours.deployment), Some(&ours.operator.token)).await;
        assert_eq!(uninstalled.status, StatusCode::OK);
        assert_eq!(dp(&app, &ours.credential, "tasks/next?instance_id=dp-1", None).await.status, StatusCode::UNAUTHORIZED, "an uninstalled deployment's credential stops working");
        let runs = app.get_as_opt(&format!("/api/v1/orgs/{}/runs", ours.operator.org_id.as_ref().unwrap()), Some(&ours.operator.token)).await;
        let states: Vec<&str> = runs.body["items"].as_array().unwrap().iter().map(|run| run["state"].as_str().unwrap()).collect();
        assert_eq!(states, ["cancelled", "cancelled"], "uninstalling cancels queued runs");
    }

    async fn a_lost_lease_hands_the_task_on_with_its_checkpoint(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;
        let run = start_run(&app, &at, inputs(), None).await.body["id"].as_str().unwrap().to_owned();

        let first = claim(&app, &at.credential, "dp-a", 1).await;
        let first_id = first[0]["task_id"].as_str().unwrap().to_owned();
        let posted = dp(&app, &at.credential, &format!("tasks/{first_id}/events"), Some(json!({"events": [finished(1, "load"), checkpoint(2, "load")]}))).await;
        assert_eq!(posted.status, StatusCode::OK);
        expire_leases(&app).await;

        let second = claim(&app, &at.credential, "dp-b", 1).await;
        assert_eq!(second.len(), 1, "the task is handed on");
        assert_eq!(second[0]["attempt"], 2);
        assert_ne!(second[0]["task_id"], first_id.as_str(), "a new delivery id");
        assert_eq!(second[0]["checkpoint"]["nodes"]["load"]["output"]["rows"], 15000, "resumes from the checkpoint");
        let stale = dp(&app, &at.credential, &format!("tasks/{first_id}/complete"), Some(json!({"outputs": {}}))).await;
        assert_eq!(stale.status, StatusCode::NOT_FOUND, "the lost lease cannot complete the run");

        // Lose it twice more: the third attempt was the last.
        expire_leases(&app).await;
        assert_eq!(claim(&app, &at.credential, "dp-c", 1).await[0]["attempt"], 3);
        expire_leases(&app).await;
        assert!(claim(&app, &at.credential, "dp-d", 1).await.is_empty());
        let failed = app.get_as_opt(&format!("/api/v1/runs/{run}"), Some(&at.operator.token)).await;
        assert_eq!(failed.body["state"], "failed");
        assert!(failed.body["failure_reason"].as_str().unwrap().contains("lease ran out"), "{:?}", failed.body);
    }

    async fn cancelling_stops_queued_runs_at_once_and_running_ones_at_the_next_report(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;
        let token = Some(at.operator.token.as_str());
        let queued = start_run(&app, &at, inputs(), None).await.body["id"].as_str().unwrap().to_owned();
        let cancelled = app.post(&format!("/api/v1/runs/{queued}/cancel"), json!({}), token).await;
        assert_eq!(cancelled.body["state"], "cancelled", "{:?}", cancelled.body);
        assert_eq!(app.post(&format!("/api/v1/runs/{queued}/cancel"), json!({}), token).await.status, StatusCode::CONFLICT);
        assert!(claim(&app, &at.credential, "dp-1", 8).await.is_empty());

        dp(&app, &at.credential, "register", Some(json!({"instance_id": "dp-1", "version": "0.1.0", "concurrency": 1}))).await;
        let running = start_run(&app, &at, inputs(), None).await.body["id"].as_str().unwrap().to_owned();
        let task = claim(&app, &at.credential, "dp-1", 1).await[0]["task_id"].as_str().unwrap().to_owned();
        let asked = app.post(&format!("/api/v1/runs/{running}/cancel"), json!({}), token).await;
        assert_eq!(asked.body["state"], "running", "a running run is told, not cut off");
        let beat = dp(&app, &at.credential, "heartbeat", Some(json!({"instance_id": "dp-1", "tasks": [task]}))).await;
        assert_eq!(beat.body["cancelled"], json!([task]));
        let posted = dp(&app, &at.credential, &format!("tasks/{task}/events"), Some(json!({"events": [finished(1, "load")]}))).await;
        assert_eq!(posted.body["cancel"], true);
        let stopped = dp(&app, &at.credential, &format!("tasks/{task}/fail"), Some(json!({"reason": "cancelled", "node": "load", "retryable": true}))).await;
        assert_eq!(stopped.body["state"], "cancelled", "{:?}", stopped.body);
    }

    async fn a_suspended_run_waits_on_an_approval_with_its_checkpoint(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;
        let run = start_run(&app, &at, inputs(), None).await.body["id"].as_str().unwrap().to_owned();
        let task = claim(&app, &at.credential, "dp-1", 1).await[0]["task_id"].as_str().unwrap().to_owned();
        let batch = json!({"events": [finished(1, "load"), checkpoint(2, "load")]});
        assert_eq!(dp(&app, &at.credential, &format!("tasks/{task}/events"), Some(batch)).await.status, StatusCode::OK);

        let suspension = json!({
            "checkpoint": {"seq": 2, "nodes": {"load": {"output": {"rows": 15000}, "attempt": 1, "finished_at": "2026-11-23T10:00:00Z"}}, "state": {}},
            "approval": {"node": "remediate", "action": {"tool": "rightsize", "instance": "i-123"}, "impact": {"monthly_saving": "412.00"}, "reason": "changes production"},
        });
        let suspended = dp(&app, &at.credential, &format!("tasks/{task}/suspend"), Some(suspension.clone())).await;
        assert_eq!((suspended.status, suspended.body["state"].as_str()), (StatusCode::OK, Some("awaiting_approval")), "{:?}", suspended.body);
        assert_eq!(suspended.body["finished_at"], Value::Null, "a suspended run has not ended");
        let again = dp(&app, &at.credential, &format!("tasks/{task}/suspend"), Some(suspension.clone())).await;
        assert_eq!((again.status, again.body["state"].as_str()), (StatusCode::OK, Some("awaiting_approval")), "a repeated suspend is harmless");
        assert!(claim(&app, &at.credential, "dp-1", 8).await.is_empty(), "a suspended run is not in the queue");

        let approvals = {
            let mut pooled = app.state.pool.get().await.unwrap();
            let id = cp_api::db::Id(run.parse().unwrap());
            cp_api::db::approvals::of_run(&mut pooled.conn(), id).await.unwrap()
        };
        assert_eq!(approvals.len(), 1, "one approval, however often it is asked for");
        let approval = &approvals[0];
        assert_eq!((approval.node.as_str(), approval.state.as_str(), approval.decider_role.as_str()), ("remediate", "pending", "approver"));
        assert_eq!(serde_json::from_str::<Value>(&approval.impact).unwrap()["monthly_saving"], "412.00");
        assert_eq!((approval.expires_at.0 - approval.requested_at.0).num_hours(), 24);
        let stored = {
            let mut pooled = app.state.pool.get().await.unwrap();
            cp_api::db::runs::find(&mut pooled.conn(), cp_api::db::Id(run.parse().unwrap())).await.unwrap()
        };
        assert_eq!(serde_json::from_str::<Value>(stored.checkpoint.as_deref().unwrap()).unwrap(), suspension["checkpoint"]);

        let unknown = dp(&app, &at.credential, &format!("tasks/{}/suspend", uuid::Uuid::nil()), Some(suspension)).await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        let malformed = dp(&app, &at.credential, &format!("tasks/{task}/suspend"), Some(json!({"approval": {}}))).await;
        assert_eq!(malformed.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", malformed.body);

        // Asked to stop while it asks for approval: it stops instead.
        let second = start_run(&app, &at, json!({"inputs": {"billing_source": "s3://b", "period": "2026-11"}}), None).await.body["id"].as_str().unwrap().to_owned();
        let task = claim(&app, &at.credential, "dp-1", 1).await[0]["task_id"].as_str().unwrap().to_owned();
        let cancel = app.post(&format!("/api/v1/runs/{second}/cancel"), json!({}), Some(&at.operator.token)).await;
        assert_eq!(cancel.status, StatusCode::OK);
        let stopping = json!({"checkpoint": {"seq": 0, "nodes": {}, "state": {}}, "approval": {"node": "gate", "action": {}}});
        let stopped = dp(&app, &at.credential, &format!("tasks/{task}/suspend"), Some(stopping)).await;
        assert_eq!(stopped.body["state"], "cancelled", "{:?}", stopped.body);
    }

    async fn live_events_replay_stream_and_resume_in_order(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;
        let run = start_run(&app, &at, inputs(), None).await.body["id"].as_str().unwrap().to_owned();
        let task = claim(&app, &at.credential, "dp-1", 1).await[0]["task_id"].as_str().unwrap().to_owned();
        let posted = dp(&app, &at.credential, &format!("tasks/{task}/events"), Some(json!({"events": [finished(1, "load"), checkpoint(2, "load")]}))).await;
        assert_eq!(posted.status, StatusCode::OK);

        // The stream replays the history, then waits, and carries what arrives until the run ends.
        let watching = sse(&app, &at.operator.token, &run, None);
        let working = async {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            dp(&app, &at.credential, &format!("tasks/{task}/events"), Some(json!({"events": [finished(3, "normalize")]}))).await;
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            dp(&app, &at.credential, &format!("tasks/{task}/complete"), Some(json!({"outputs": {"records": 1}}))).await
        };
        let ((status, body), done) = tokio::join!(watching, working);
        assert_eq!((status, done.status), (StatusCode::OK, StatusCode::OK));
        assert_eq!(sse_ids(&body), ["1-1", "1-2", "1-3"], "{body}");
        assert!(body.contains("event: finished\ndata: "), "{body}");
        assert!(body.trim_end().ends_with(&format!(r#"data: {{"run_id":"{run}","state":"succeeded"}}"#)), "{body}");

        let (_, resumed) = sse(&app, &at.operator.token, &run, Some("1-2")).await;
        assert_eq!(sse_ids(&resumed), ["1-3"], "after a reconnect: no gaps, no repeats");
        let (bad, _) = sse(&app, &at.operator.token, &run, Some("yesterday")).await;
        assert_eq!(bad, StatusCode::BAD_REQUEST);
        let other = app.user("someone@elsewhere.example", Some("Elsewhere")).await;
        let (foreign, _) = sse(&app, &other.token, &run, None).await;
        assert_eq!(foreign, StatusCode::NOT_FOUND);
    }

    async fn a_deployment_whose_data_planes_go_quiet_is_degraded_until_one_reports(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;
        let state = || async { app.get_as_opt(&format!("/api/v1/deployments/{}", at.deployment), Some(&at.operator.token)).await.body["state"].clone() };
        assert_eq!(state().await, "pending");
        dp(&app, &at.credential, "register", Some(json!({"instance_id": "dp-1", "version": "0.1.0", "concurrency": 1}))).await;
        let sweep = || async {
            let mut pooled = app.state.pool.get().await.unwrap();
            cp_api::queue::mark_quiet_deployments(&mut pooled.conn()).await.unwrap()
        };
        assert!(sweep().await.is_empty(), "it just reported");
        assert_eq!(state().await, "ready");

        backdate(&app, "data_planes", "last_seen_at", "", 10).await;
        assert_eq!(sweep().await.len(), 1);
        assert_eq!(state().await, "degraded");
        let beat = dp(&app, &at.credential, "heartbeat", Some(json!({"instance_id": "dp-1", "tasks": []}))).await;
        assert_eq!(beat.status, StatusCode::OK);
        assert_eq!(state().await, "ready", "a heartbeat brings it back");
    }

    async fn eight_claimers_complete_every_task_exactly_once(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;
        const RUNS: usize = 1000;
        {
            let mut pooled = app.state.pool.get().await.unwrap();
            let mut conn = pooled.conn();
            let actor = cp_api::service::audit::Actor { user: Some(cp_api::db::Id(at.operator.id.parse().unwrap())), client_addr: None };
            let deployment = cp_api::db::Id(at.deployment.parse().unwrap());
            for _ in 0..RUNS {
                let request = serde_json::from_value(inputs()).unwrap();
                cp_api::service::runs::create(&mut conn, actor.clone(), deployment, None, request).await.unwrap();
            }
        }
        let claimers = (0..8).map(|claimer| {
            let (app, credential) = (&app, at.credential.clone());
            async move {
                let mut completed = Vec::new();
                loop {
                    let tasks = claim(app, &credential, &format!("dp-{claimer}"), 1).await;
                    let Some(task) = tasks.first() else { break };
                    let id = task["task_id"].as_str().unwrap();
                    let done = dp(app, &credential, &format!("tasks/{id}/complete"), Some(json!({"outputs": {"by": claimer}}))).await;
                    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
                    completed.push(task["run_id"].as_str().unwrap().to_owned());
                }
                completed
            }
        });
        let mut all: Vec<String> = futures_util::future::join_all(claimers).await.into_iter().flatten().collect();
        assert_eq!(all.len(), RUNS, "every task completed once");
        all.sort();
        all.dedup();
        assert_eq!(all.len(), RUNS, "no task completed twice");
        let org = at.operator.org_id.as_ref().unwrap();
        let left = app.get_as_opt(&format!("/api/v1/orgs/{org}/runs?state=queued"), Some(&at.operator.token)).await;
        assert_eq!(left.body["items"], json!([]));
    }
}

/// A claim waiting for work returns the run created while it waits, woken at once (it would not look
/// again on its own before its wait ends).
#[actix_web::test]
async fn a_waiting_claim_gets_a_run_created_meanwhile() {
    let mut app = TestApp::start(Backend::Sqlite).await;
    app.state.wake = std::sync::Arc::new(cp_api::queue::TaskWake::with_recheck(
        std::time::Duration::from_secs(600),
    ));
    let market = market(&app).await;
    publish(&app, &market, NORMALIZER, "application/yaml").await;
    let at = installed(&app, "Acme").await;
    let waiting = dp(&app, &at.credential, "tasks/next?instance_id=dp-1&wait=20s", None);
    let creating = async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        start_run(&app, &at, inputs(), None).await
    };
    let started = std::time::Instant::now();
    let (claimed, created) = tokio::join!(waiting, creating);
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(claimed.body["tasks"][0]["run_id"], created.body["id"]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "woken, not timed out"
    );
}

/// Two replicas on one PostgreSQL share no memory: a claim waiting on one wakes for a run created on the
/// other through `LISTEN`/`NOTIFY`. Neither looks again on its own within the test's wait, so only the
/// notification can deliver the run in time.
#[actix_web::test]
async fn a_claim_on_one_replica_wakes_for_a_run_created_on_another() {
    let mut app = TestApp::start(Backend::Postgres).await;
    let never = std::time::Duration::from_secs(600);
    app.state.wake = std::sync::Arc::new(cp_api::queue::TaskWake::with_recheck(never));
    let mut other = app.replica().await;
    other.wake = std::sync::Arc::new(cp_api::queue::TaskWake::with_recheck(never));
    cp_api::queue::listener::spawn(&app.db.database, &app.state.wake);
    cp_api::queue::listener::spawn(&app.db.database, &other.wake);
    let market = market(&app).await;
    publish(&app, &market, NORMALIZER, "application/yaml").await;
    let at = installed(&app, "Acme").await;

    let waiting = app.send_via(
        &other,
        TestRequest::get()
            .uri("/api/v1/dp/tasks/next?instance_id=dp-1&wait=20s")
            .insert_header(("Authorization", format!("Bearer {}", at.credential))),
    );
    let creating = async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        start_run(&app, &at, inputs(), None).await
    };
    let started = std::time::Instant::now();
    let (claimed, created) = tokio::join!(waiting, creating);
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(
        claimed.body["tasks"][0]["run_id"], created.body["id"],
        "{:?}",
        claimed.body
    );
    // A claim also looks once more when its wait ends; answering well before then means it was woken.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "woken by the notification, not the wait's end"
    );
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    count: i64,
}

/// Two requests with one key whose creations overlap: both find no run under the key, the second's insert
/// waits on the first's entry in the key's unique index and fails once the first commits, and the second
/// answers as a retry would. A lock on the audit head, which a creation takes last, holds the first in
/// flight until the second waits too.
#[actix_web::test]
async fn two_creations_racing_with_one_key_make_one_run() {
    use diesel_async::{AsyncConnection as _, RunQueryDsl as _, SimpleAsyncConnection as _};
    let app = TestApp::start(Backend::Postgres).await;
    let at = acme(&app).await;
    let cp_api::db::Database::Postgres(url) = &app.db.database else {
        unreachable!()
    };
    let mut holder = diesel_async::AsyncPgConnection::establish(url).await.unwrap();
    holder
        .batch_execute("BEGIN; SELECT 1 FROM audit_head FOR UPDATE")
        .await
        .unwrap();
    let release = async {
        let mut waiting = 0;
        for _ in 0..100 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let count: Count = diesel::sql_query(
                "SELECT count(*) AS count FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .get_result(&mut holder)
            .await
            .unwrap();
            waiting = count.count;
            if waiting == 2 {
                break;
            }
        }
        holder.batch_execute("COMMIT").await.unwrap();
        waiting
    };
    let (first, second, waiting) = tokio::join!(
        start_run(&app, &at, inputs(), Some("raced")),
        start_run(&app, &at, inputs(), Some("raced")),
        release
    );
    assert_eq!(waiting, 2, "both creations were in flight together");
    let mut statuses = [first.status, second.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CREATED],
        "{first:?} {second:?}"
    );
    assert_eq!(first.body["id"], second.body["id"]);
    let tasks = claim(&app, &at.credential, "dp-1", 8).await;
    assert_eq!(tasks.len(), 1, "one run, one task");
}

#[derive(diesel::QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
    line: String,
}

/// PostgreSQL's plan for `query`, chosen as for large tables (an empty table costs the same whatever the
/// plan).
async fn plan_of(query: &str) -> Vec<String> {
    use diesel_async::RunQueryDsl;
    let app = TestApp::start(Backend::Postgres).await;
    let mut pooled = app.state.pool.get().await.unwrap();
    let cp_api::db::Conn::Postgres(conn) = pooled.conn() else {
        unreachable!()
    };
    diesel_async::SimpleAsyncConnection::batch_execute(
        &mut *conn,
        "SET enable_seqscan = off; SET enable_bitmapscan = off",
    )
    .await
    .unwrap();
    let plan: Vec<PlanLine> = diesel::sql_query(format!("EXPLAIN {query}"))
        .load(conn)
        .await
        .unwrap();
    plan.into_iter().map(|line| line.line).collect()
}

/// The claim's inner select reads the `tasks_claim` index in its order (no sort), so a claim costs the
/// same however many tasks other deployments have queued.
#[actix_web::test]
async fn the_claim_is_served_by_its_index() {
    let plan = plan_of(
        "SELECT id FROM tasks WHERE deployment_id = '00000000-0000-7000-8000-000000000000' \
         AND leased_by IS NULL ORDER BY priority DESC, created_at LIMIT 8 FOR UPDATE SKIP LOCKED",
    )
    .await;
    assert!(
        plan.iter()
            .any(|line| line.contains("Index Scan using tasks_claim")),
        "{plan:#?}"
    );
    assert!(
        !plan
            .iter()
            .any(|line| line.trim_start().starts_with("->  Sort") || line.starts_with("Sort")),
        "{plan:#?}"
    );
}

/// A repeated report finds the run its delivery finished through an index, not by reading every run.
#[actix_web::test]
async fn a_repeated_report_finds_its_run_by_index() {
    let plan =
        plan_of("SELECT id FROM runs WHERE finished_by_task = '00000000-0000-7000-8000-000000000000'").await;
    assert!(
        plan.iter()
            .any(|line| line.contains("Index Scan using runs_finished_by_task")),
        "{plan:#?}"
    );
}

#[derive(diesel::QueryableByName)]
struct VacuumCount {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    vacuum_count: i64,
}

async fn tasks_vacuum_count(app: &TestApp) -> i64 {
    use diesel_async::RunQueryDsl;
    let mut pooled = app.state.pool.get().await.unwrap();
    let cp_api::db::Conn::Postgres(conn) = pooled.conn() else {
        unreachable!()
    };
    let counted: VacuumCount =
        diesel::sql_query("SELECT vacuum_count FROM pg_stat_user_tables WHERE relid = 'tasks'::regclass")
            .get_result(conn)
            .await
            .unwrap();
    counted.vacuum_count
}

/// Finished and claimed tasks leave dead row versions that every claim steps over until a vacuum: the
/// control plane vacuums the table once more than its threshold wait, and not before (PostgreSQL; SQLite
/// has nothing to vacuum).
#[actix_web::test]
async fn dead_tasks_are_vacuumed_past_the_threshold() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;
        for _ in 0..3 {
            assert_eq!(
                start_run(&app, &at, inputs(), None).await.status,
                StatusCode::CREATED
            );
            let claimed = dp(&app, &at.credential, "tasks/next?instance_id=dp-1&wait=0s", None).await;
            let task = claimed.body["tasks"][0]["task_id"].as_str().unwrap().to_owned();
            let done = dp(
                &app,
                &at.credential,
                &format!("tasks/{task}/complete"),
                Some(json!({"outputs": {"records": 1, "total_cost": "1.00", "payload_ref": "x"}})),
            )
            .await;
            assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
        }
        let mut pooled = app.state.pool.get().await.unwrap();
        let mut conn = pooled.conn();
        let vacuumed = cp_api::queue::vacuum_tasks(&mut conn, i64::MAX).await.unwrap();
        assert!(!vacuumed, "under the threshold");
        if backend == Backend::Sqlite {
            assert!(!cp_api::queue::vacuum_tasks(&mut conn, -1).await.unwrap());
            continue;
        }
        drop(pooled);
        let before = tasks_vacuum_count(&app).await;
        let mut pooled = app.state.pool.get().await.unwrap();
        assert!(cp_api::queue::vacuum_tasks(&mut pooled.conn(), -1).await.unwrap());
        drop(pooled);
        assert_eq!(tasks_vacuum_count(&app).await, before + 1);
    }
}

/// A claim leases at most `max` tasks, even under a plan made while the queue was empty and kept while
/// it filled (a prepared statement's generic plan is kept until the table's statistics change).
#[actix_web::test]
async fn a_claim_planned_on_an_empty_queue_still_leases_at_most_max() {
    use diesel_async::SimpleAsyncConnection as _;
    let app = TestApp::start(Backend::Postgres).await;
    let at = acme(&app).await;
    let deployment = cp_api::db::Id(at.deployment.parse().unwrap());
    let until = cp_api::db::Time(chrono::Utc::now() + chrono::Duration::seconds(60));
    let mut pooled = app.state.pool.get().await.unwrap();
    let mut conn = pooled.conn();
    let cp_api::db::Conn::Postgres(pg) = &mut conn else {
        unreachable!()
    };
    pg.batch_execute("VACUUM tasks").await.unwrap();
    pg.batch_execute("SET plan_cache_mode = force_generic_plan")
        .await
        .unwrap();
    let none = cp_api::db::tasks::claim(&mut conn, deployment, "dp-1", 2, until, None)
        .await
        .unwrap();
    assert!(none.is_empty());

    for _ in 0..20 {
        assert_eq!(
            start_run(&app, &at, inputs(), None).await.status,
            StatusCode::CREATED
        );
    }
    let claimed = cp_api::db::tasks::claim(&mut conn, deployment, "dp-1", 2, until, None)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    let next = claim(&app, &at.credential, "dp-2", 32).await;
    assert_eq!(next.len(), 18, "the other 18 are still queued");
}
