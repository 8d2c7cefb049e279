//! Every deployment as an A2A agent: its card, a message's whole life as a task (blocking, non-blocking
//! and streamed), listing and cancelling, and JSON-RPC errors for every malformed call.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use serde_json::{Value, json};

use crate::catalog::{NORMALIZER, market, publish};
use crate::queue::{Installed, dp, finished, installed};
use crate::support::{Answer, TestApp, on_both_backends};

fn rpc_request(at: &Installed, token: &str, body: Vec<u8>) -> TestRequest {
    TestRequest::post()
        .uri(&format!("/a2a/{}", at.deployment))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .insert_header(("Content-Type", "application/json"))
        .set_payload(body)
}

/// A JSON-RPC call as the deployment's operator.
async fn rpc(app: &TestApp, at: &Installed, method: &str, params: Value) -> Answer {
    let body = json!({"jsonrpc": "2.0", "id": "call-1", "method": method, "params": params});
    app.send(rpc_request(at, &at.operator.token, body.to_string().into_bytes()))
        .await
}

/// The result of a call that must succeed.
async fn result(app: &TestApp, at: &Installed, method: &str, params: Value) -> Value {
    let answer = rpc(app, at, method, params).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    assert_eq!(answer.body["jsonrpc"], "2.0");
    assert_eq!(answer.body["id"], "call-1");
    assert!(answer.body.get("error").is_none(), "{method}: {:?}", answer.body);
    answer.body["result"].clone()
}

/// The error code of a call that must fail, with its message.
async fn error(app: &TestApp, at: &Installed, method: &str, params: Value) -> (i64, String, Value) {
    let answer = rpc(app, at, method, params).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    assert!(answer.body.get("result").is_none(), "{method}: {:?}", answer.body);
    let error = &answer.body["error"];
    (
        error["code"].as_i64().unwrap(),
        error["message"].as_str().unwrap().to_owned(),
        error["data"].clone(),
    )
}

fn message(id: &str, inputs: Value) -> Value {
    json!({"messageId": id, "role": "ROLE_USER", "parts": [{"data": inputs}]})
}

fn period(period: &str) -> Value {
    json!({"billing_source": "s3://acme-billing/exports", "period": period})
}

/// Claims the run's task as a data plane and completes it with `outputs`.
async fn run_to_completion(app: &TestApp, at: &Installed, outputs: Value) {
    let mut tasks = Vec::new();
    while tasks.is_empty() {
        let answer = dp(
            app,
            &at.credential,
            "tasks/next?instance_id=dp-1&max=1&wait=5s",
            None,
        )
        .await;
        tasks = answer.body["tasks"].as_array().cloned().unwrap_or_default();
    }
    let task = tasks[0]["task_id"].as_str().unwrap().to_owned();
    let events = json!({"events": [finished(1, "load")]});
    assert_eq!(
        dp(app, &at.credential, &format!("tasks/{task}/events"), Some(events))
            .await
            .status,
        StatusCode::OK
    );
    let completion = json!({"outputs": outputs, "usage": {"cpu_ms": 1000, "wall_ms": 1000}});
    let done = dp(
        app,
        &at.credential,
        &format!("tasks/{task}/complete"),
        Some(completion),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
}

/// The JSON-RPC responses of an SSE answer, in order.
async fn streamed(app: &TestApp, at: &Installed, method: &str, params: Value) -> (StatusCode, Vec<Value>) {
    let service = actix_web::test::init_service(
        actix_web::App::new()
            .app_data(actix_web::web::Data::new(app.state.clone()))
            .configure(cp_api::http::configure),
    )
    .await;
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
    let request = rpc_request(at, &at.operator.token, body.to_string().into_bytes())
        .insert_header(("Accept", "text/event-stream"))
        .to_request();
    let response = actix_web::test::call_service(&service, request).await;
    let status = response.status();
    let bytes = actix_web::body::to_bytes(response.into_body())
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let items = text
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .map(|data| serde_json::from_str(data).unwrap())
        .collect();
    (status, items)
}

fn kind(item: &Value) -> &str {
    ["task", "statusUpdate", "artifactUpdate", "message"]
        .into_iter()
        .find(|kind| item["result"].get(*kind).is_some())
        .unwrap_or("none")
}

on_both_backends! {
    async fn an_install_is_an_agent_with_a_card(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;
        let path = format!("/a2a/{}/.well-known/agent-card.json", at.deployment);

        let card = app.get_as_opt(&path, Some(&at.operator.token)).await;
        assert_eq!(card.status, StatusCode::OK, "{:?}", card.body);
        let card = card.body;
        assert_eq!(card["name"], "Billing Normalizer");
        assert_eq!(card["version"], "1.0.0");
        let interface = &card["supportedInterfaces"][0];
        assert!(interface["url"].as_str().unwrap().ends_with(&format!("/a2a/{}", at.deployment)), "{interface}");
        assert_eq!((interface["protocolBinding"].as_str(), interface["protocolVersion"].as_str()), (Some("JSONRPC"), Some("1.0")));
        assert_eq!(card["capabilities"]["streaming"], true);
        assert_eq!(card["securitySchemes"]["bearer"]["httpAuthSecuritySchemes"], Value::Null);
        assert_eq!(card["securitySchemes"]["bearer"]["httpAuthSecurityScheme"]["scheme"], "Bearer");
        assert_eq!(card["securityRequirements"][0]["schemes"], json!({"bearer": {}}));
        assert_eq!(card["provider"]["organization"], "AI Cloud");
        assert!(card["skills"].as_array().is_some_and(|skills| !skills.is_empty()), "skills from the manifest: {card}");

        assert_eq!(app.get(&path).await.status, StatusCode::UNAUTHORIZED, "a credential is required");
        let outsider = installed(&app, "Globex").await;
        let hidden = app.get_as_opt(&path, Some(&outsider.operator.token)).await;
        assert_eq!(hidden.status, StatusCode::NOT_FOUND, "another org's agent is not there: {:?}", hidden.body);
        let call = app.send(rpc_request(&at, &outsider.operator.token, b"{}".to_vec())).await;
        assert_eq!(call.status, StatusCode::NOT_FOUND);
        let nowhere = app.get_as_opt("/a2a/not-a-uuid/.well-known/agent-card.json", Some(&at.operator.token)).await;
        assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    }

    async fn a_message_becomes_a_task_that_lives_to_its_end(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;
        let quick = json!({"returnImmediately": true});

        let sent = result(&app, &at, "SendMessage", json!({"message": message("m-1", period("2026-10")), "configuration": quick})).await;
        let task = &sent["task"];
        assert_eq!(task["status"]["state"], "TASK_STATE_SUBMITTED", "{sent}");
        let id = task["id"].as_str().unwrap().to_owned();
        assert_eq!(task["contextId"], id.as_str());
        assert_eq!(task["history"][0]["parts"][0]["data"], period("2026-10"));
        let again = result(&app, &at, "SendMessage", json!({"message": message("m-1", period("2026-10")), "configuration": quick})).await;
        assert_eq!(again["task"]["id"], id.as_str(), "the same message twice is one task");
        let (code, detail, _) = error(&app, &at, "SendMessage", json!({"message": message("m-1", period("2026-09"))})).await;
        assert_eq!(code, -32602, "{detail}");

        let listed = result(&app, &at, "ListTasks", json!({})).await;
        assert_eq!((listed["totalSize"].as_i64(), listed["tasks"][0]["id"].as_str()), (Some(1), Some(id.as_str())), "{listed}");
        assert_eq!(listed["tasks"][0].get("history"), None, "a list leaves history out unless asked");
        let working = result(&app, &at, "ListTasks", json!({"status": "TASK_STATE_WORKING"})).await;
        assert_eq!(working["totalSize"], 0);

        let outputs = json!({"records": 15000, "payload_ref": "runs/1/normalized.parquet"});
        run_to_completion(&app, &at, outputs.clone()).await;
        let done = result(&app, &at, "GetTask", json!({"id": id})).await;
        assert_eq!(done["status"]["state"], "TASK_STATE_COMPLETED", "{done}");
        assert_eq!(done["artifacts"][0]["parts"][0]["data"], outputs);
        assert_eq!(done["metadata"]["runState"], "succeeded");
        let legacy = result(&app, &at, "tasks/get", json!({"id": id, "historyLength": 0})).await;
        assert_eq!((legacy["id"].as_str(), legacy.get("history")), (Some(id.as_str()), None), "0.3 names are accepted");
        let completed = result(&app, &at, "ListTasks", json!({"status": "TASK_STATE_COMPLETED", "pageSize": 1})).await;
        assert_eq!(completed["tasks"][0]["id"], id.as_str());
        let (code, _, _) = error(&app, &at, "CancelTask", json!({"id": id})).await;
        assert_eq!(code, -32002, "an ended task cannot be cancelled");

        let second = result(&app, &at, "SendMessage", json!({"message": message("m-2", period("2026-11")), "configuration": quick})).await;
        let second_id = second["task"]["id"].as_str().unwrap();
        let cancelled = result(&app, &at, "CancelTask", json!({"id": second_id})).await;
        assert_eq!(cancelled["status"]["state"], "TASK_STATE_CANCELED");
        let paged = result(&app, &at, "ListTasks", json!({"pageSize": 1})).await;
        assert_eq!((paged["tasks"][0]["id"].as_str(), paged["totalSize"].as_i64()), (Some(second_id), Some(2)), "newest first");
        let next = paged["nextPageToken"].as_str().unwrap();
        let rest = result(&app, &at, "ListTasks", json!({"pageSize": 1, "pageToken": next})).await;
        assert_eq!((rest["tasks"][0]["id"].as_str(), rest["nextPageToken"].as_str()), (Some(id.as_str()), Some("")));
        let by_context = result(&app, &at, "ListTasks", json!({"contextId": id})).await;
        assert_eq!(by_context["tasks"].as_array().unwrap().len(), 1);
    }

    async fn a_message_sent_from_a_run_starts_that_runs_child(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;
        let quick = json!({"returnImmediately": true});
        let sent = result(&app, &at, "SendMessage", json!({"message": message("m-1", period("2026-10")), "configuration": quick})).await;
        let parent = sent["task"]["id"].as_str().unwrap().to_owned();
        let from_parent = |id: &str, metadata: Value| {
            let mut sent = message(id, period("2026-11"));
            sent["metadata"] = metadata;
            json!({"message": sent, "configuration": {"returnImmediately": true}})
        };

        let sent = result(&app, &at, "SendMessage", from_parent("m-2", json!({"parentRunId": parent}))).await;
        let child = sent["task"]["id"].as_str().unwrap().to_owned();
        let token = Some(at.operator.token.as_str());
        let child_view = app.get_as_opt(&format!("/api/v1/runs/{child}"), token).await.body;
        assert_eq!(child_view["parent_run_id"], parent.as_str(), "{child_view}");
        let parent_view = app.get_as_opt(&format!("/api/v1/runs/{parent}"), token).await.body;
        assert_eq!(parent_view["child_runs"], json!([{"id": child, "deployment_id": at.deployment, "state": "queued"}]));
        assert_eq!(parent_view.get("parent_run_id"), None);

        let other = installed(&app, "Globex").await;
        let theirs = result(&app, &other, "SendMessage", json!({"message": message("m-9", period("2026-10")), "configuration": quick})).await;
        let theirs = theirs["task"]["id"].as_str().unwrap();
        for (metadata, expected) in [
            (json!({"parentRunId": theirs}), "the org has no run"),
            (json!({"parentRunId": "not-a-run"}), "is not a run id"),
            (json!({"parentRunId": 7}), "is not a run id"),
        ] {
            let (code, detail, _) = error(&app, &at, "SendMessage", from_parent("m-3", metadata.clone())).await;
            assert_eq!(code, -32602, "{metadata}: {detail}");
            assert!(detail.contains("metadata.parentRunId") && detail.contains(expected), "{detail}");
        }
        let listed = result(&app, &at, "ListTasks", json!({})).await;
        assert_eq!(listed["totalSize"], 2, "a refused message starts nothing");
    }

    async fn a_blocking_message_answers_when_the_task_ends(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;
        let outputs = json!({"records": 3});
        let (sent, ()) = tokio::join!(
            result(&app, &at, "SendMessage", json!({"message": message("m-1", period("2026-10"))})),
            run_to_completion(&app, &at, outputs.clone()),
        );
        assert_eq!(sent["task"]["status"]["state"], "TASK_STATE_COMPLETED", "{sent}");
        assert_eq!(sent["task"]["artifacts"][0]["parts"][0]["data"], outputs);
    }

    async fn a_streamed_message_reports_each_step_until_the_end(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;
        let outputs = json!({"records": 3});
        let ((status, items), ()) = tokio::join!(
            streamed(&app, &at, "SendStreamingMessage", json!({"message": message("m-1", period("2026-10"))})),
            run_to_completion(&app, &at, outputs.clone()),
        );
        assert_eq!(status, StatusCode::OK);
        assert!(items.iter().all(|item| item["id"] == 7 && item["jsonrpc"] == "2.0"), "{items:?}");
        let kinds: Vec<&str> = items.iter().map(kind).collect();
        assert_eq!(kinds.first(), Some(&"task"), "{kinds:?}");
        assert_eq!(items[0]["result"]["task"]["status"]["state"], "TASK_STATE_SUBMITTED");
        let last = items.last().unwrap();
        assert_eq!(last["result"]["statusUpdate"]["status"]["state"], "TASK_STATE_COMPLETED", "{items:?}");
        let artifact = items.iter().position(|item| kind(item) == "artifactUpdate").unwrap();
        assert_eq!(items[artifact]["result"]["artifactUpdate"]["artifact"]["parts"][0]["data"], outputs);
        assert_eq!(artifact, items.len() - 2, "the artifact comes just before the end: {kinds:?}");
        let step = items.iter().find(|item| item["result"]["statusUpdate"]["metadata"]["event"]["node"] == "load");
        assert!(step.is_some(), "the finished node is reported: {items:?}");

        let task = items[0]["result"]["task"]["id"].as_str().unwrap();
        let (code, _, _) = error(&app, &at, "SubscribeToTask", json!({"id": task})).await;
        assert_eq!(code, -32004, "an ended task has nothing to stream");
    }

    async fn malformed_calls_get_json_rpc_errors(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;
        let raw = |body: &str| app.send(rpc_request(&at, &at.operator.token, body.as_bytes().to_vec()));

        let garbage = raw("{not json").await;
        assert_eq!((garbage.status, garbage.body["error"]["code"].as_i64(), garbage.body["id"].clone()), (StatusCode::OK, Some(-32700), Value::Null));
        for (body, code) in [
            (r#"[{"jsonrpc": "2.0", "id": 1, "method": "GetTask"}]"#, -32600),
            (r#"{"id": 1, "method": "GetTask"}"#, -32600),
            (r#"{"jsonrpc": "2.0", "method": "GetTask", "params": {}}"#, -32600),
            (r#"{"jsonrpc": "2.0", "id": {}, "method": "GetTask"}"#, -32600),
            (r#"{"jsonrpc": "2.0", "id": 1, "method": 5}"#, -32600),
            (r#"{"jsonrpc": "2.0", "id": 1, "method": "DeleteEverything"}"#, -32601),
            (r#"{"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": [1]}"#, -32602),
            (r#"{"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {}}"#, -32602),
            (r#"{"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": {"parts": []}}}"#, -32602),
        ] {
            let answer = raw(body).await;
            assert_eq!((answer.status, answer.body["error"]["code"].as_i64()), (StatusCode::OK, Some(code)), "{body}: {:?}", answer.body);
            assert!(answer.body["error"]["message"].as_str().is_some_and(|text| !text.is_empty()));
        }

        let (code, _, data) = error(&app, &at, "SendMessage", json!({"message": message("m-1", json!({"period": "October", "extra": 1}))})).await;
        assert_eq!(code, -32602);
        let paths: Vec<&str> = data["errors"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
        assert!(paths.contains(&"inputs.period"), "each schema error with its path: {paths:?}");
        let (code, _, _) = error(&app, &at, "SendMessage", json!({"message": {"messageId": "m-2", "role": "ROLE_USER", "parts": [{"data": [1, 2]}]}})).await;
        assert_eq!(code, -32602, "a data part must be an object");
        let (code, _, _) = error(&app, &at, "SendMessage", json!({"message": {"messageId": "m-3", "role": "ROLE_USER", "taskId": "x", "parts": [{"text": "{}"}]}})).await;
        assert_eq!(code, -32004, "continuing a task is not supported");
        let (code, _, _) = error(&app, &at, "GetTask", json!({"id": "not-a-task"})).await;
        assert_eq!(code, -32001);
        let (code, _, _) = error(&app, &at, "ListTasks", json!({"pageSize": 0})).await;
        assert_eq!(code, -32602);
        let (code, _, _) = error(&app, &at, "ListTasks", json!({"pageToken": "garbage"})).await;
        assert_eq!(code, -32602);

        let other = installed(&app, "Globex").await;
        let theirs = result(&app, &other, "SendMessage", json!({"message": message("m-9", period("2026-10")), "configuration": {"returnImmediately": true}})).await;
        let (code, _, _) = error(&app, &at, "GetTask", json!({"id": theirs["task"]["id"]})).await;
        assert_eq!(code, -32001, "another deployment's task is not found");

        let versioned = app.send(rpc_request(&at, &at.operator.token, br#"{"jsonrpc": "2.0", "id": 1, "method": "ListTasks"}"#.to_vec()).insert_header(("A2A-Version", "9.9"))).await;
        assert_eq!(versioned.body["error"]["code"], -32009);

        let viewer = app.user("viewer@acme.example", None).await;
        let org = at.operator.org_id.clone().unwrap();
        let added = app.post(&format!("/api/v1/orgs/{org}/members"), json!({"email": "viewer@acme.example", "role": "viewer"}), Some(&at.operator.token)).await;
        assert!(added.status.is_success(), "{:?}", added.body);
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": message("m-4", period("2026-10"))}});
        let refused = app.send(rpc_request(&at, &viewer.token, body.to_string().into_bytes())).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "a viewer reads but does not start: {:?}", refused.body);
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "ListTasks", "params": {}});
        let read = app.send(rpc_request(&at, &viewer.token, body.to_string().into_bytes())).await;
        assert_eq!(read.body["result"]["totalSize"], 0, "{:?}", read.body);
    }
}
