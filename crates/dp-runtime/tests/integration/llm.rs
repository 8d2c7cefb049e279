//! The `llm` node and the `openai` provider against a local server speaking the OpenAI chat-completions
//! wire format, rate-limit and error answers included.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use actix_web::{HttpRequest, HttpResponse, web};
use dp_runtime::executor::{EventSink, Executor, Plan, RunOutcome, RunRequest};
use dp_runtime::llm::LlmProvider;
use dp_runtime::llm::openai::{OpenAi, OpenAiSettings};
use dp_runtime::nodes::{RunContext, Services, builtin_registry};
use serde_json::{Value, json};

/// What the fake answers, in order, and what it was asked.
#[derive(Default)]
pub struct Script {
    pub answers: Mutex<VecDeque<(u16, Value)>>,
    pub seen: Mutex<Vec<(Option<String>, Value)>>,
}

pub fn completion(content: &str) -> (u16, Value) {
    (
        200,
        json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1_763_900_000, "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": null},
                         "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49},
            "system_fingerprint": "fp_test"
        }),
    )
}

fn error(status: u16, kind: &str, code: &str, message: &str) -> (u16, Value) {
    (
        status,
        json!({"error": {"message": message, "type": kind, "param": null, "code": code}}),
    )
}

async fn chat(request: HttpRequest, body: web::Json<Value>, script: web::Data<Script>) -> HttpResponse {
    let auth = request
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    script.seen.lock().unwrap().push((auth, body.into_inner()));
    let (status, answer) = script
        .answers
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| error(500, "server_error", "exhausted", "the script ran out"));
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(answer)
}

/// Serves the script; the base URL (`http://127.0.0.1:PORT/v1`).
pub fn serve(script: Arc<Script>) -> (String, actix_web::dev::ServerHandle) {
    let data = web::Data::from(script);
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(data.clone())
            .route("/v1/chat/completions", web::post().to(chat))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let base = format!("http://{}/v1", server.addrs()[0]);
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (base, handle)
}

struct Quiet;

impl EventSink for Quiet {
    fn emit(&self, _event: protocol::EventKind) {}
    fn checkpoint(&self, _checkpoint: &protocol::Checkpoint) {}
}

async fn run_recommend(script: &Arc<Script>, config: Value) -> RunOutcome {
    let (base, server) = serve(Arc::clone(script));
    let provider: Arc<dyn LlmProvider> = Arc::new(OpenAi::new(OpenAiSettings {
        base_url: base,
        api_key: "sk-test-0123456789abcdef".to_owned(),
    }));
    let services = Services {
        llm: [("openai".to_owned(), provider)].into_iter().collect(),
        ..Services::default()
    };
    let workflow = json!({"nodes": [{"id": "recommend", "kind": "llm", "config": config}]});
    let plan = Plan::from_json(&workflow, &builtin_registry(&services)).unwrap();
    let request = RunRequest {
        plan: Arc::new(plan),
        inputs: json!({"anomalies": [{"service": "AmazonEC2", "ratio": 12.0}]}),
        checkpoint: None,
        run: RunContext::default(),
        cancel: tokio_util::sync::CancellationToken::new(),
    };
    let outcome = Executor::default().run(request, Arc::new(Quiet)).await;
    server.stop(false).await;
    outcome
}

fn recommend_config() -> Value {
    json!({
        "model": "gpt-4o-mini",
        "system": "You are a FinOps analyst.",
        "prompt": "Recommend an action for each anomaly: ${/inputs/anomalies}",
        "response_format": "json",
        "required": ["recommendations"]
    })
}

#[actix_web::test]
async fn rate_limits_and_server_errors_are_retried_and_tokens_recorded() {
    let script = Arc::new(Script::default());
    script.answers.lock().unwrap().extend([
        error(
            429,
            "requests",
            "rate_limit_exceeded",
            "Rate limit reached for gpt-4o-mini",
        ),
        error(503, "server_error", "overloaded", "The server is overloaded"),
        completion(
            r#"{"recommendations": [{"anomaly": "AmazonEC2", "action": "rightsize", "saving": 1200}]}"#,
        ),
    ]);
    let outcome = run_recommend(&script, recommend_config()).await;
    let RunOutcome::Succeeded { outputs, usage } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(outputs["recommendations"][0]["action"], "rightsize");
    assert_eq!((usage.tokens.prompt, usage.tokens.completion), (42, 7));
    let seen = script.seen.lock().unwrap();
    assert_eq!(seen.len(), 3, "a 429 and a 503 are tried again");
    let (auth, body) = &seen[0];
    assert_eq!(auth.as_deref(), Some("Bearer sk-test-0123456789abcdef"));
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(body["response_format"], json!({"type": "json_object"}));
    assert_eq!(
        body["messages"][0],
        json!({"role": "system", "content": "You are a FinOps analyst."})
    );
    assert_eq!(
        body["messages"][1],
        json!({"role": "user", "content": "Recommend an action for each anomaly: [{\"ratio\":12.0,\"service\":\"AmazonEC2\"}]"})
    );
}

#[actix_web::test]
async fn a_refused_request_fails_the_node_at_once() {
    let script = Arc::new(Script::default());
    script.answers.lock().unwrap().push_back(error(
        404,
        "invalid_request_error",
        "model_not_found",
        "The model `gpt-9` does not exist",
    ));
    let outcome = run_recommend(&script, recommend_config()).await;
    let RunOutcome::Failed {
        node,
        reason,
        retryable,
        ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(node.as_deref(), Some("recommend"));
    assert_eq!(
        reason,
        "the model server answered 404: The model `gpt-9` does not exist"
    );
    assert!(!retryable);
    assert_eq!(script.seen.lock().unwrap().len(), 1);
}

#[actix_web::test]
async fn garbage_where_json_was_required_fails_the_node_with_the_answer() {
    let script = Arc::new(Script::default());
    script
        .answers
        .lock()
        .unwrap()
        .push_back(completion("Sure! Terminate the big instance."));
    let outcome = run_recommend(&script, recommend_config()).await;
    let RunOutcome::Failed { reason, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(reason.starts_with("the model's answer is not JSON"), "{reason}");
    assert!(reason.contains("Sure! Terminate the big instance."), "{reason}");
}

#[actix_web::test]
async fn rate_limits_that_do_not_end_fail_as_retryable() {
    let script = Arc::new(Script::default());
    for _ in 0..4 {
        script.answers.lock().unwrap().push_back(error(
            429,
            "requests",
            "rate_limit_exceeded",
            "Rate limit reached",
        ));
    }
    let outcome = run_recommend(&script, recommend_config()).await;
    let RunOutcome::Failed {
        reason, retryable, ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(reason, "the model server answered 429: Rate limit reached");
    assert!(retryable);
    assert_eq!(
        script.seen.lock().unwrap().len(),
        4,
        "the first try and three more"
    );
}

#[test]
fn a_workflow_with_an_llm_node_needs_a_provider() {
    let registry = builtin_registry(&Services::default());
    let workflow = json!({"nodes": [{"id": "recommend", "kind": "llm", "config": recommend_config()}]});
    assert_eq!(
        Plan::from_json(&workflow, &registry).unwrap_err().to_string(),
        "workflow.nodes[0].config: no LLM provider `local` is configured on this data plane (`openai` needs \
         --llm-base-url; `local` runs when it is not set)"
    );
    let mut config = recommend_config();
    config["provider"] = json!("openai");
    let workflow = json!({"nodes": [{"id": "recommend", "kind": "llm", "config": config}]});
    assert_eq!(
        Plan::from_json(&workflow, &registry).unwrap_err().to_string(),
        "workflow.nodes[0].config: no LLM provider `openai` is configured on this data plane (`openai` needs \
         --llm-base-url; `local` runs when it is not set)"
    );
}

#[actix_web::test]
async fn a_prompt_starts_with_what_the_runs_org_remembers_and_never_with_another_orgs() {
    let script = Arc::new(Script::default());
    script.answers.lock().unwrap().extend([
        completion("Terminate them again."),
        completion("Nothing is known."),
    ]);
    let (base, server) = serve(Arc::clone(&script));
    let provider: Arc<dyn LlmProvider> = Arc::new(OpenAi::new(OpenAiSettings {
        base_url: base,
        api_key: "sk-test-0123456789abcdef".to_owned(),
    }));
    let dir = tempfile::tempdir().unwrap();
    let services = Services {
        llm: [("openai".to_owned(), provider)].into_iter().collect(),
        ..crate::memory::memory_in(&dir, crate::memory::model_dir())
    };
    let registry = builtin_registry(&services);
    let remember = json!({"nodes": [{"id": "remember", "kind": "memory_write", "config": {
        "namespace": "cost_anomalies", "text": "Idle GPU clusters in staging were terminated"
    }}]});
    let advise = json!({"nodes": [{"id": "advise", "kind": "llm", "config": {
        "model": "gpt-4o-mini",
        "prompt": "What should we do about ${/inputs/question}?",
        "memory": {"query": "${/inputs/question}", "namespaces": ["cost_anomalies"], "budget_tokens": 500}
    }}]});
    let run = async |workflow: &Value, org: protocol::OrgId| {
        let request = RunRequest {
            plan: Arc::new(Plan::from_json(workflow, &registry).unwrap()),
            inputs: json!({"question": "idle GPU clusters in staging"}),
            checkpoint: None,
            run: RunContext {
                org_id: Some(org),
                agent: Some("com.aicloud.finops.anomaly-detector".to_owned()),
                ..RunContext::default()
            },
            cancel: tokio_util::sync::CancellationToken::new(),
        };
        Executor::default().run(request, Arc::new(Quiet)).await
    };
    let (acme, globex) = (protocol::OrgId::new(), protocol::OrgId::new());
    for (workflow, org) in [(&remember, acme), (&advise, acme), (&advise, globex)] {
        let outcome = run(workflow, org).await;
        assert!(matches!(outcome, RunOutcome::Succeeded { .. }), "{outcome:?}");
    }
    server.stop(false).await;

    let prompts: Vec<String> = script
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|(_, body)| body["messages"][0]["content"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        prompts[0],
        "## Knowledge\n\n- [cost_anomalies] Idle GPU clusters in staging were terminated\n\n\
         What should we do about idle GPU clusters in staging?"
    );
    assert_eq!(
        prompts[1], "What should we do about idle GPU clusters in staging?",
        "another org's prompt was given acme's memory"
    );
}
