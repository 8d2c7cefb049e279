//! `dp-runtime run-local`: one workflow, here, with no control plane. Progress per node goes to stderr,
//! the outputs (JSON) to stdout. Exit status 0 when the run succeeds, 1 when it fails, 2 when it waits
//! for an approval (run again with `--approve NODE`).

use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};

use protocol::{Checkpoint, EventKind, OrgId, StepStatus};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::cli::RunLocalArgs;
use crate::executor::{EventSink, Executor, Plan, RunOutcome, RunRequest};
use crate::nodes::{RunContext, builtin_registry};
use crate::redact::Redactor;

/// Prints each step as it happens.
#[derive(Debug)]
pub struct Progress<W: Write + Send> {
    out: Mutex<W>,
    redactor: Arc<Redactor>,
}

impl<W: Write + Send> Progress<W> {
    pub fn new(out: W, redactor: Arc<Redactor>) -> Self {
        Self {
            out: Mutex::new(out),
            redactor,
        }
    }

    pub fn into_inner(self) -> W {
        self.out.into_inner().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<W: Write + Send> EventSink for Progress<W> {
    fn emit(&self, event: EventKind) {
        let line = match event {
            EventKind::Started {
                node: Some(node),
                attempt,
            } if attempt > 1 => {
                format!("▶ {node} (attempt {attempt})")
            }
            EventKind::Started { node: Some(node), .. } => format!("▶ {node}"),
            EventKind::Finished {
                node: Some(node),
                status,
                duration_ms,
                message,
                counters,
                ..
            } => {
                let mark = match status {
                    StepStatus::Succeeded => "✓",
                    StepStatus::Skipped => "–",
                    StepStatus::Suspended => "⏸",
                    _ => "✗",
                };
                let mut line = format!("{mark} {node} {duration_ms} ms");
                for (name, count) in counters {
                    line.push_str(&format!(" {name}={count}"));
                }
                if let Some(message) = message {
                    line.push_str(&format!(": {message}"));
                }
                line
            }
            EventKind::Finished {
                node: None,
                status,
                duration_ms,
                ..
            } => format!("run {status:?} in {duration_ms} ms").to_lowercase(),
            EventKind::Log { node, message, .. } => format!("  {}: {message}", node.unwrap_or_default()),
            _ => return,
        };
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = writeln!(out, "{}", self.redactor.text(&line));
    }

    fn checkpoint(&self, _checkpoint: &Checkpoint) {}
}

fn read_input(text: &str) -> Result<Value, String> {
    let text = match text.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).map_err(|error| format!("{path}: {error}"))?,
        None => text.to_owned(),
    };
    serde_json::from_str(&text).map_err(|error| format!("--input is not JSON: {error}"))
}

/// Runs `run-local`.
pub async fn run_local(args: RunLocalArgs, redactor: Arc<Redactor>) -> ExitCode {
    match run(args, redactor).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: RunLocalArgs, redactor: Arc<Redactor>) -> Result<ExitCode, String> {
    let source =
        std::fs::read(&args.manifest).map_err(|error| format!("{}: {error}", args.manifest.display()))?;
    let manifest = manifest::parse(
        &source,
        manifest::Format::of_path(&args.manifest),
        manifest::BUILTIN_NODE_KINDS,
    )
    .map_err(|error| format!("{}: {error}", args.manifest.display()))?;
    let inputs = read_input(&args.input)?;
    manifest
        .input_validator()
        .and_then(|validator| validator.check(&inputs))
        .map_err(|error| format!("--input: {error}"))?;
    let services = args.runtime.services()?;
    let registry = builtin_registry(&services);
    let plan = Plan::build(&manifest.workflow, &registry).map_err(|error| {
        error
            .errors
            .iter()
            .map(|error| format!("{}: {error}", args.manifest.display()))
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let grants = args.grants.unwrap_or_else(|| {
        manifest
            .tools
            .iter()
            .flat_map(|tool| tool.scopes.clone())
            .collect()
    });
    let progress = Arc::new(Progress::new(std::io::stderr(), Arc::clone(&redactor)));
    let cancel = CancellationToken::new();
    let interrupt = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
            }
        })
    };
    let request = RunRequest {
        plan: Arc::new(plan),
        inputs,
        checkpoint: None,
        run: RunContext {
            org_id: Some(args.org.unwrap_or(OrgId(uuid::Uuid::nil()))),
            agent: Some(manifest.id.clone()),
            memory: manifest.memory.applied(),
            granted_permissions: grants,
            approved_node: args.approve,
            ..RunContext::default()
        },
        cancel,
    };
    let outcome = Executor::default().run(request, progress).await;
    interrupt.abort();
    let print = |value: &Value| {
        let mut value = value.clone();
        redactor.value(&mut value);
        println!("{value:#}");
    };
    Ok(match outcome {
        RunOutcome::Succeeded { outputs, usage } => {
            print(&outputs);
            eprintln!(
                "usage: {} ms, units {:?}, tokens {} prompt + {} completion",
                usage.wall_ms, usage.units, usage.tokens.prompt, usage.tokens.completion
            );
            ExitCode::SUCCESS
        }
        RunOutcome::Failed { node, reason, .. } => {
            let reason = match node {
                Some(node) => format!("node `{node}` failed: {reason}"),
                None => reason,
            };
            eprintln!("{}", redactor.text(&reason));
            ExitCode::FAILURE
        }
        RunOutcome::Suspended { node, approval, .. } => {
            eprintln!("node `{node}` waits for approval: {}", approval.reason);
            print(&serde_json::json!({"node": node, "action": approval.action, "impact": approval.impact}));
            eprintln!("run again with --approve {node} to approve it");
            ExitCode::from(2)
        }
        RunOutcome::Cancelled { .. } => {
            eprintln!("interrupted");
            ExitCode::FAILURE
        }
    })
}
