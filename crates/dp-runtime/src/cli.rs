//! The `dp-runtime` command line.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use memory::OpenAiConfig;
use protocol::telemetry::metrics::MetricsExport;
use tokio_util::sync::CancellationToken;

use crate::client::ControlPlane;
use crate::client::a2a::A2aClient;
use crate::llm::LlmProvider;
use crate::llm::local::LocalLlm;
use crate::llm::openai::{OpenAi, OpenAiSettings};
use crate::memory_service::{Backend, EmbedderSettings, MemoryService, MemorySettings};
use crate::nodes::{Services, builtin_registry};
use crate::poller::{Metrics, Poller, PollerConfig};
use crate::redact::Redactor;
use crate::tools::{ToolsConfig, builtin_tools};

#[derive(Debug, Parser)]
#[command(name = "dp-runtime", version, about = "The agent marketplace's data plane")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run tasks for a control plane: register, claim, run, report. Calls out only.
    Serve(Box<ServeArgs>),
    /// Run one workflow here, with no control plane, printing each node's progress and the outputs.
    RunLocal(Box<RunLocalArgs>),
    /// Check agent manifests and print every error, one per line; exit status 1 on any.
    Validate {
        /// Manifest files (YAML, or JSON for `.json`).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Print the JSON Schema of an agent manifest.
    ManifestSchema,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The control plane's URL.
    #[arg(long, env = "DP_CONTROL_PLANE_URL")]
    pub control_plane: String,
    /// The deployment's data-plane credential (`amd_…`).
    #[arg(long, env = "DP_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Tasks run at once.
    #[arg(long, env = "DP_SLOTS", default_value_t = 4)]
    pub slots: u32,
    /// The local health and metrics port.
    #[arg(long, env = "DP_LISTEN", default_value = "127.0.0.1:9464")]
    pub listen: SocketAddr,
    /// This instance's name (default: the host name and a random suffix).
    #[arg(long, env = "DP_INSTANCE_ID")]
    pub instance_id: Option<String>,
    /// An org API key with the operator role, for `a2a` nodes calling other installed agents.
    #[arg(long, env = "DP_A2A_TOKEN", hide_env_values = true)]
    pub a2a_token: Option<String>,
    /// The deployment this data plane serves, as the chart sets it; shown in its logs.
    #[arg(long, env = "DP_DEPLOYMENT_ID")]
    pub deployment_id: Option<String>,
    /// On SIGTERM, how long running tasks may go on before they are handed back.
    #[arg(long, env = "DP_SHUTDOWN_GRACE", default_value = "30s", value_parser = humantime_duration)]
    pub shutdown_grace: std::time::Duration,
    /// How long one claim waits for a task (a long poll); a shorter one suits proxies with short idle
    /// timeouts, and ends a shutdown sooner (a poll in flight is let finish).
    #[arg(long, env = "DP_POLL_WAIT", default_value = "25s", value_parser = humantime_duration)]
    pub poll_wait: std::time::Duration,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

#[derive(Debug, Args)]
pub struct RunLocalArgs {
    /// The agent manifest (YAML, or JSON for `.json`).
    pub manifest: PathBuf,
    /// The run's inputs, as JSON (or `@FILE`).
    #[arg(long, default_value = "{}")]
    pub input: String,
    /// Scopes to grant (default: every scope the manifest's tools declare).
    #[arg(long = "grant", value_delimiter = ',')]
    pub grants: Option<Vec<String>>,
    /// Treat this node's pending approval as given.
    #[arg(long)]
    pub approve: Option<String>,
    /// The org whose memory the run uses (a UUID); default: the local org, all zeros.
    #[arg(long)]
    pub org: Option<protocol::OrgId>,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

/// What nodes and tools may reach, for `serve` and `run-local` alike.
#[derive(Debug, Args)]
pub struct RuntimeArgs {
    /// URL prefixes the `http_request` tool may call, comma separated.
    #[arg(long, env = "DP_HTTP_ALLOW", value_delimiter = ',')]
    pub http_allow: Vec<String>,
    /// The folder billing sources are read from.
    #[arg(long, env = "DP_BILLING_ROOT")]
    pub billing_root: Option<PathBuf>,
    /// The folder reports are kept in.
    #[arg(long, env = "DP_REPORTS_ROOT", default_value = "data/reports")]
    pub reports_root: PathBuf,
    /// Environment variables whose values are secrets, comma separated: they never leave the process.
    #[arg(long, env = "DP_REDACT_ENV", value_delimiter = ',')]
    pub redact_env: Vec<String>,
    /// An OpenAI-compatible API for `llm` nodes (`https://api.openai.com/v1`, `http://localhost:11434/v1`);
    /// without one they run on the local model.
    #[arg(long, env = "DP_LLM_BASE_URL")]
    pub llm_base_url: Option<String>,
    /// The key for `--llm-base-url`.
    #[arg(long, env = "DP_LLM_API_KEY", hide_env_values = true, default_value = "")]
    pub llm_api_key: String,
    /// The model every `llm` node uses instead of the one its manifest names.
    #[arg(long, env = "DP_LLM_MODEL")]
    pub llm_model: Option<String>,
    /// The local LLM's folder, used when no `--llm-base-url` is given (default:
    /// `<data-dir>/models/SmolLM2-135M-Instruct`, which `just models` fills).
    #[arg(long, env = "DP_LLM_MODEL_DIR")]
    pub llm_model_dir: Option<PathBuf>,
    #[command(flatten)]
    pub memory: MemoryArgs,
}

/// Where the memory levels live and which model embeds them.
#[derive(Debug, Args)]
pub struct MemoryArgs {
    /// The vector store: `sqlite` (embedded, `<data-dir>/memory.sqlite`; also called `embedded`) or `qdrant`.
    #[arg(long, env = "DP_MEMORY_BACKEND", value_enum, default_value_t = Backend::Sqlite)]
    pub memory_backend: Backend,
    /// The data plane's own files: the embedded memory store, and the local model under `models/`.
    #[arg(long, env = "DP_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// The Qdrant server's gRPC URL, for `--memory-backend qdrant` (`http://qdrant:6334`).
    #[arg(long, env = "DP_QDRANT_URL")]
    pub qdrant_url: Option<String>,
    /// The Qdrant server's API key.
    #[arg(long, env = "DP_QDRANT_API_KEY", hide_env_values = true)]
    pub qdrant_api_key: Option<String>,
    /// The local embedding model's folder (default: `<data-dir>/models/all-MiniLM-L6-v2`, which
    /// `just models` fills).
    #[arg(long, env = "DP_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
    /// An OpenAI-compatible embeddings API to use instead of the local model (`http://127.0.0.1:8000/v1`).
    #[arg(long, env = "DP_EMBED_BASE_URL")]
    pub embed_base_url: Option<String>,
    /// The key for `--embed-base-url`.
    #[arg(long, env = "DP_EMBED_API_KEY", hide_env_values = true, default_value = "")]
    pub embed_api_key: String,
    /// The embedding model at `--embed-base-url`.
    #[arg(long, env = "DP_EMBED_MODEL", default_value = "text-embedding-3-small")]
    pub embed_model: String,
    /// The length of that model's vectors.
    #[arg(long, env = "DP_EMBED_DIMENSION", default_value_t = 1536)]
    pub embed_dimension: usize,
}

impl MemoryArgs {
    /// The memory settings these flags describe.
    ///
    /// # Errors
    ///
    /// `qdrant` without a URL: said at start-up rather than at the first memory node.
    pub fn settings(&self) -> Result<MemorySettings, String> {
        let qdrant_url = self.qdrant_url.clone().filter(|url| !url.is_empty());
        if self.memory_backend == Backend::Qdrant && qdrant_url.is_none() {
            return Err("--memory-backend qdrant needs --qdrant-url (DP_QDRANT_URL)".to_owned());
        }
        let embedder = match self.embed_base_url.as_deref().filter(|url| !url.is_empty()) {
            Some(base_url) => EmbedderSettings::OpenAi(OpenAiConfig {
                model: self.embed_model.clone(),
                dimension: self.embed_dimension,
                ..OpenAiConfig::new(base_url, self.embed_api_key.clone())
            }),
            None => EmbedderSettings::Local {
                model_dir: self
                    .model_dir
                    .clone()
                    .unwrap_or_else(|| self.data_dir.join("models").join("all-MiniLM-L6-v2")),
            },
        };
        Ok(MemorySettings {
            backend: self.memory_backend,
            data_dir: self.data_dir.clone(),
            qdrant_url,
            qdrant_api_key: self.qdrant_api_key.clone().filter(|key| !key.is_empty()),
            embedder,
        })
    }
}

fn humantime_duration(text: &str) -> Result<std::time::Duration, String> {
    text.parse::<manifest::Duration>()
        .map(|duration| duration.0)
        .map_err(|error| error.to_string())
}

impl RuntimeArgs {
    /// What the built-in nodes use, from these flags. Nothing is opened yet: memory opens at its first use.
    ///
    /// # Errors
    ///
    /// Memory settings that cannot work (see [`MemoryArgs::settings`]).
    pub fn services(&self) -> Result<Services, String> {
        let tools = builtin_tools(&ToolsConfig {
            http_allow: self.http_allow.clone(),
            billing_root: self.billing_root.clone(),
            reports_root: Some(self.reports_root.clone()),
        });
        let mut llm: BTreeMap<String, Arc<dyn LlmProvider>> = BTreeMap::new();
        if let Some(base_url) = self.llm_base_url.as_ref().filter(|url| !url.is_empty()) {
            let provider = OpenAi::new(OpenAiSettings {
                base_url: base_url.clone(),
                api_key: self.llm_api_key.clone(),
            });
            llm.insert("openai".to_owned(), Arc::new(provider));
        } else {
            let dir = self
                .llm_model_dir
                .clone()
                .unwrap_or_else(|| LocalLlm::dir_in(&self.memory.data_dir));
            let provider = LocalLlm::new(dir);
            if !provider.model_path().is_file() {
                tracing::warn!(
                    path = %provider.model_path().display(),
                    "no --llm-base-url and no local model: `llm` nodes will fail until `just models` fetches it"
                );
            }
            llm.insert("local".to_owned(), Arc::new(provider));
        }
        Ok(Services {
            tools: Arc::new(tools),
            llm,
            a2a: None,
            memory: Some(Arc::new(MemoryService::new(self.memory.settings()?))),
            llm_model: self.llm_model.clone().filter(|model| !model.is_empty()),
        })
    }

    /// The secrets to redact: the named variables' values, and `extra`.
    #[must_use]
    pub fn redactor(&self, extra: &[&str]) -> Redactor {
        let values = self
            .redact_env
            .iter()
            .filter_map(|name| std::env::var(name).ok())
            .chain(extra.iter().map(|value| (*value).to_owned()))
            .chain(std::iter::once(self.llm_api_key.clone()))
            .chain(std::iter::once(self.memory.embed_api_key.clone()))
            .chain(self.memory.qdrant_api_key.clone());
        Redactor::new(values)
    }
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()
}

/// Runs `work` on a new runtime, with logs (and traces, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set) set up
/// inside it, where the OTLP exporter's channel lives.
fn with_telemetry(
    redactor: Arc<Redactor>,
    work: impl AsyncFnOnce(crate::telemetry::Telemetry) -> ExitCode,
) -> ExitCode {
    match runtime() {
        Ok(rt) => rt.block_on(async move { work(crate::telemetry::init(redactor)).await }),
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a parsed command line.
#[must_use]
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Validate { paths } => {
            let mut out = std::io::stdout().lock();
            if crate::validate::validate_files(&paths, &mut out) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::ManifestSchema => {
            println!("{:#}", manifest::manifest_schema());
            ExitCode::SUCCESS
        }
        Command::Serve(args) => {
            let mut secrets = vec![args.token.as_str()];
            secrets.extend(args.a2a_token.as_deref());
            let redactor = Arc::new(args.runtime.redactor(&secrets));
            with_telemetry(Arc::clone(&redactor), async move |telemetry| {
                let outcome = serve(*args, redactor).await;
                telemetry.shutdown().await;
                match outcome {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(error) => {
                        tracing::error!("{error:#}");
                        ExitCode::FAILURE
                    }
                }
            })
        }
        Command::RunLocal(args) => {
            let redactor = Arc::new(args.runtime.redactor(&[]));
            with_telemetry(Arc::clone(&redactor), async move |telemetry| {
                let code = crate::local::run_local(*args, redactor).await;
                telemetry.shutdown().await;
                code
            })
        }
    }
}

/// `dp-runtime serve`: runs until SIGTERM or Ctrl-C, then drains and exits.
///
/// # Errors
///
/// The health port cannot be bound, or the control plane refuses this data plane.
pub async fn serve(args: ServeArgs, redactor: Arc<Redactor>) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let signals = tokio::spawn(wait_for_signal(shutdown.clone()));
    let result = serve_until(args, redactor, shutdown).await;
    signals.abort();
    result
}

/// `serve` until `shutdown` is cancelled.
///
/// # Errors
///
/// As [`serve`].
pub async fn serve_until(
    args: ServeArgs,
    redactor: Arc<Redactor>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    tracing::info!(listen = %listener.local_addr()?, "health and metrics");
    let metrics = Arc::new(Metrics::default());
    let export = {
        let metrics = Arc::clone(&metrics);
        MetricsExport::from_env(crate::telemetry::SERVICE, move || {
            std::future::ready(metrics.families())
        })
    };
    let health = tokio::spawn(crate::health::serve(
        listener,
        Arc::clone(&metrics),
        shutdown.clone(),
    ));
    let mut services = args.runtime.services().map_err(anyhow::Error::msg)?;
    tracing::info!(deployment = ?args.deployment_id, memory = ?args.runtime.memory.memory_backend, "serving");
    services.a2a = args
        .a2a_token
        .as_deref()
        .map(|token| Arc::new(A2aClient::new(&args.control_plane, token)));
    let registry = Arc::new(builtin_registry(&services));
    let mut capabilities: Vec<String> = registry.kinds().iter().map(|kind| (*kind).to_owned()).collect();
    capabilities.extend(
        services
            .tools
            .names()
            .iter()
            .map(|tool| protocol::dataplane::tool_capability(tool)),
    );
    let instance_id = args
        .instance_id
        .clone()
        .unwrap_or_else(|| format!("dp-{}", &uuid::Uuid::now_v7().simple().to_string()[20..]));
    let mut config = PollerConfig::new(instance_id);
    config.slots = args.slots;
    config.shutdown_grace = args.shutdown_grace;
    config.wait = args.poll_wait;
    config.capabilities = capabilities;
    let client = Arc::new(ControlPlane::new(&args.control_plane, &args.token, redactor)?);
    let poller = Poller::new(client, registry, config, metrics);
    let result = poller.run(shutdown.clone()).await;
    shutdown.cancel();
    let _ = health.await;
    if let Some(export) = export {
        export.shutdown().await;
    }
    result.map_err(anyhow::Error::from)
}

async fn wait_for_signal(shutdown: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            shutdown.cancel();
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    shutdown.cancel();
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    fn run_local(args: &[&str]) -> RunLocalArgs {
        let line = ["dp-runtime", "run-local", "agent.yaml"]
            .into_iter()
            .chain(args.iter().copied());
        match Cli::try_parse_from(line).unwrap().command {
            Command::RunLocal(args) => *args,
            other => panic!("not run-local: {other:?}"),
        }
    }

    #[test]
    fn memory_defaults_to_the_embedded_store_and_the_local_model_under_the_data_dir() {
        let settings = run_local(&[]).runtime.memory.settings().unwrap();
        assert_eq!(settings.backend, Backend::Sqlite);
        assert_eq!(settings.data_dir, PathBuf::from("data"));
        match settings.embedder {
            EmbedderSettings::Local { model_dir } => {
                assert_eq!(model_dir, PathBuf::from("data/models/all-MiniLM-L6-v2"));
            }
            other => panic!("not the local model: {other:?}"),
        }
        // The chart calls the embedded store `embedded`.
        let chart = run_local(&[
            "--memory-backend",
            "embedded",
            "--data-dir",
            "/var/lib/dp-runtime",
        ]);
        let settings = chart.runtime.memory.settings().unwrap();
        assert_eq!(settings.backend, Backend::Sqlite);
        assert_eq!(settings.data_dir, PathBuf::from("/var/lib/dp-runtime"));
    }

    #[test]
    fn llm_nodes_run_on_the_local_model_unless_a_base_url_is_given() {
        let local = run_local(&["--data-dir", "/var/lib/dp-runtime"]).runtime;
        assert_eq!(
            local.services().unwrap().llm.keys().collect::<Vec<_>>(),
            ["local"]
        );
        assert_eq!(local.llm_model_dir, None);
        let remote = run_local(&["--llm-base-url", "http://127.0.0.1:11434/v1"]).runtime;
        assert_eq!(
            remote.services().unwrap().llm.keys().collect::<Vec<_>>(),
            ["openai"]
        );
        assert_eq!(
            LocalLlm::dir_in(std::path::Path::new("/var/lib/dp-runtime")),
            PathBuf::from("/var/lib/dp-runtime/models/SmolLM2-135M-Instruct")
        );
    }

    #[test]
    fn qdrant_needs_a_url_and_an_embeddings_url_picks_the_remote_embedder() {
        let error = run_local(&["--memory-backend", "qdrant"])
            .runtime
            .memory
            .settings()
            .unwrap_err();
        assert_eq!(
            error,
            "--memory-backend qdrant needs --qdrant-url (DP_QDRANT_URL)"
        );
        let remote = run_local(&[
            "--memory-backend",
            "qdrant",
            "--qdrant-url",
            "http://qdrant:6334",
            "--embed-base-url",
            "http://127.0.0.1:8000/v1",
            "--embed-model",
            "bge-small",
            "--embed-dimension",
            "384",
        ]);
        let settings = remote.runtime.memory.settings().unwrap();
        assert_eq!(settings.qdrant_url.as_deref(), Some("http://qdrant:6334"));
        match settings.embedder {
            EmbedderSettings::OpenAi(config) => {
                assert_eq!(config.base_url, "http://127.0.0.1:8000/v1");
                assert_eq!((config.model.as_str(), config.dimension), ("bge-small", 384));
            }
            other => panic!("not the remote embedder: {other:?}"),
        }
        // Compose passes unset values as empty strings.
        let empty = run_local(&["--embed-base-url", "", "--llm-base-url", "", "--llm-model", ""]);
        assert!(matches!(
            empty.runtime.memory.settings().unwrap().embedder,
            EmbedderSettings::Local { .. }
        ));
        let services = empty.runtime.services().unwrap();
        assert_eq!(services.llm.keys().collect::<Vec<_>>(), ["local"]);
        assert_eq!(services.llm_model, None);
    }
}
