//! The `local` provider on the real model (`just models` fetches it into `data/models`), alone and as the
//! `llm` node's provider. Answers are kept short: the model runs on the CPU.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use dp_runtime::executor::{EventSink, Executor, Plan, RunOutcome, RunRequest};
use dp_runtime::llm::local::{LocalLlm, MODEL, MODEL_FILE};
use dp_runtime::llm::{ChatRequest, LlmError, LlmProvider};
use dp_runtime::nodes::{RunContext, Services, builtin_registry};
use serde_json::{Value, json};

/// The model folder: `DP_LLM_MODEL_DIR`, else the workspace's `data/models` that `just models` fills.
pub fn model_dir() -> PathBuf {
    std::env::var_os("DP_LLM_MODEL_DIR").map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../data/models/SmolLM2-135M-Instruct"
            ))
        },
        PathBuf::from,
    )
}

fn request(prompt: &str, max_tokens: u32) -> ChatRequest {
    ChatRequest {
        model: "gpt-4o-mini".to_owned(),
        system: None,
        prompt: prompt.to_owned(),
        json: false,
        temperature: None,
        max_tokens: Some(max_tokens),
    }
}

#[tokio::test]
async fn the_local_model_answers_with_text_and_counts_its_tokens() {
    let llm = LocalLlm::new(model_dir());
    let started = Instant::now();
    let loader = llm.clone();
    tokio::task::spawn_blocking(move || loader.load_blocking())
        .await
        .unwrap()
        .unwrap();
    let loaded = started.elapsed();

    let started = Instant::now();
    let answer = llm
        .chat(request("What is the capital of France? Answer in one word.", 24))
        .await
        .unwrap();
    let took = started.elapsed();
    println!(
        "local model: read in {loaded:?}; {} prompt and {} answer tokens in {took:?} ({:.1} answer tokens/s): {:?}",
        answer.usage.prompt,
        answer.usage.completion,
        answer.usage.completion as f64 / took.as_secs_f64(),
        answer.text
    );
    assert_eq!(answer.model, MODEL, "the answer names the model that wrote it");
    assert!(!answer.text.trim().is_empty());
    assert!(answer.text.contains("Paris"), "{:?}", answer.text);
    assert!(answer.usage.prompt > 10, "{:?}", answer.usage);
    assert!((1..=24).contains(&answer.usage.completion), "{:?}", answer.usage);
}

#[tokio::test]
async fn max_tokens_bounds_the_answer() {
    let llm = LocalLlm::new(model_dir());
    let answer = llm
        .chat(request(
            "Write a long story about a cloud bill that kept growing.",
            6,
        ))
        .await
        .unwrap();
    assert_eq!(answer.usage.completion, 6, "{answer:?}");
    assert!(!answer.text.is_empty());
}

#[tokio::test]
async fn a_missing_model_names_just_models_and_is_read_once_fetched() {
    let dir = tempfile::tempdir().unwrap();
    let llm = LocalLlm::new(dir.path());
    let error = llm.chat(request("Hello", 4)).await.unwrap_err();
    let LlmError::Refused(reason) = &error else {
        panic!("{error:?}")
    };
    assert!(reason.contains("just models"), "{reason}");
    assert!(reason.contains(MODEL_FILE), "{reason}");

    // A failed read is not kept: once the model is there, the same provider reads it.
    std::os::unix::fs::symlink(model_dir().join(MODEL_FILE), dir.path().join(MODEL_FILE)).unwrap();
    let answer = llm.chat(request("Hello", 4)).await.unwrap();
    assert!(answer.usage.completion >= 1);
}

#[tokio::test]
async fn a_stopped_completion_ends_before_its_next_token() {
    let llm = LocalLlm::new(model_dir());
    let loader = llm.clone();
    tokio::task::spawn_blocking(move || loader.load_blocking())
        .await
        .unwrap()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let counting = request("Count from 1 to 2000, one number per line.", 4_000);
            llm.chat_blocking(&counting, &stop)
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let result = worker.join().unwrap();
    assert_eq!(
        result,
        Err(LlmError::Unavailable("the completion was stopped".to_owned()))
    );
}

struct Quiet;

impl EventSink for Quiet {
    fn emit(&self, _event: protocol::EventKind) {}
    fn checkpoint(&self, _checkpoint: &protocol::Checkpoint) {}
}

/// An `llm` node naming no provider, on a data plane with only the local model.
async fn run_node(config: Value, inputs: Value) -> RunOutcome {
    let provider: Arc<dyn LlmProvider> = Arc::new(LocalLlm::new(model_dir()));
    let services = Services {
        llm: [("local".to_owned(), provider)].into_iter().collect(),
        ..Services::default()
    };
    let workflow = json!({"nodes": [{"id": "classify", "kind": "llm", "config": config}]});
    let plan = Plan::from_json(&workflow, &builtin_registry(&services)).unwrap();
    let request = RunRequest {
        plan: Arc::new(plan),
        inputs,
        checkpoint: None,
        run: RunContext::default(),
        cancel: tokio_util::sync::CancellationToken::new(),
    };
    Executor::default().run(request, Arc::new(Quiet)).await
}

#[tokio::test]
async fn a_json_answer_is_an_object_or_fails_the_node_with_the_reason() {
    let config = json!({
        "model": "gpt-4o-mini",
        "prompt": "Classify this cost: ${/inputs/service} grew 12 times. Answer as JSON: {\"service\": \"...\", \"action\": \"investigate\"}",
        "response_format": "json",
        "required": ["service"],
        "max_tokens": 48
    });
    match run_node(config, json!({"service": "AmazonEC2"})).await {
        RunOutcome::Succeeded { outputs, usage } => {
            println!("the local model answered JSON: {outputs}");
            assert!(outputs.is_object(), "{outputs}");
            assert!(outputs.get("service").is_some(), "{outputs}");
            assert!(
                usage.tokens.prompt > 0 && usage.tokens.completion > 0,
                "{usage:?}"
            );
        }
        RunOutcome::Failed { node, reason, .. } => {
            println!("the local model's JSON was refused: {reason}");
            assert_eq!(node.as_deref(), Some("classify"));
            assert!(reason.starts_with("the model's"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_text_answer_records_the_tokens_for_billing() {
    let config = json!({
        "model": "gpt-4o-mini",
        "system": "You are a FinOps analyst. Answer in one short sentence.",
        "prompt": "Spend on ${/inputs/service} doubled this month. What should the team do?",
        "max_tokens": 12
    });
    let outcome = run_node(config, json!({"service": "AmazonEC2"})).await;
    let RunOutcome::Succeeded { outputs, usage } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(outputs["model"], MODEL);
    assert!(!outputs["text"].as_str().unwrap().is_empty(), "{outputs}");
    assert!(usage.tokens.prompt > 20, "{usage:?}");
    assert!((1..=12).contains(&usage.tokens.completion), "{usage:?}");
}
