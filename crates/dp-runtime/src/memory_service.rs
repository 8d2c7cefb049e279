//! The memory the `memory_search` and `memory_write` nodes use: the `memory` crate's five levels over the
//! store and embedder this data plane is configured with, opened on first use.
//!
//! Opening is lazy because the local embedding model is about 90 MB read from disk: a data plane whose
//! workflows have no memory node never needs it, and a missing model fails only the node that needed it,
//! with the memory crate's message naming `just models`. A failed opening is not kept, so fetching the
//! model fixes the next run without a restart.

use std::path::PathBuf;
use std::sync::Arc;

use memory::{
    Collection, Embedder, Filter, Hit, LocalEmbedder, Memory, MemoryConfig, OpenAiConfig, OpenAiEmbedder,
    Point, QdrantServer, Search, SqliteVec, SystemClock, VectorStore,
};
use tokio::sync::OnceCell;
use uuid::Uuid;

/// Where the memory levels live.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// SQLite with sqlite-vec, in-process: `<data-dir>/memory.sqlite`. The chart calls it `embedded`.
    #[default]
    #[value(alias = "embedded")]
    Sqlite,
    /// A Qdrant server (`--qdrant-url`).
    Qdrant,
}

/// Which model turns texts into vectors.
#[derive(Clone, Debug)]
pub enum EmbedderSettings {
    /// all-MiniLM-L6-v2 on the CPU, from this folder (`just models` fills `data/models/all-MiniLM-L6-v2`).
    Local { model_dir: PathBuf },
    /// An OpenAI-compatible embeddings endpoint.
    OpenAi(OpenAiConfig),
}

/// How to open the memory.
#[derive(Clone)]
pub struct MemorySettings {
    pub backend: Backend,
    /// The embedded store's folder (`memory.sqlite` goes in it).
    pub data_dir: PathBuf,
    pub qdrant_url: Option<String>,
    pub qdrant_api_key: Option<String>,
    pub embedder: EmbedderSettings,
}

impl std::fmt::Debug for MemorySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemorySettings")
            .field("backend", &self.backend)
            .field("data_dir", &self.data_dir)
            .field("qdrant_url", &self.qdrant_url)
            .field(
                "qdrant_api_key",
                &self.qdrant_api_key.as_ref().map(|_| "<redacted>"),
            )
            .field("embedder", &self.embedder)
            .finish()
    }
}

/// The configured store: the embedded one or a Qdrant server.
#[derive(Debug)]
pub enum Store {
    Sqlite(SqliteVec),
    Qdrant(QdrantServer),
}

/// The configured embedder: the local model or a remote endpoint.
#[derive(Debug)]
pub enum AnyEmbedder {
    Local(LocalEmbedder),
    OpenAi(Box<OpenAiEmbedder>),
}

/// The memory of every org this data plane serves.
pub type OrgMemory = Memory<Store, AnyEmbedder>;

/// The memory, opened on first use and then shared by every node.
#[derive(Debug)]
pub struct MemoryService {
    settings: MemorySettings,
    opened: OnceCell<Arc<OrgMemory>>,
}

impl MemoryService {
    #[must_use]
    pub fn new(settings: MemorySettings) -> Self {
        Self {
            settings,
            opened: OnceCell::new(),
        }
    }

    #[must_use]
    pub fn settings(&self) -> &MemorySettings {
        &self.settings
    }

    /// The memory, opening the store and loading the embedder the first time.
    ///
    /// # Errors
    ///
    /// `memory::Error::ModelMissing` (naming `just models`) when the local model is not there; a Qdrant URL
    /// missing or invalid; store errors. Nothing is kept then: the next call tries again.
    pub async fn get(&self) -> memory::Result<Arc<OrgMemory>> {
        self.opened
            .get_or_try_init(|| async {
                let settings = self.settings.clone();
                let (store, embedder) = tokio::task::spawn_blocking(move || open_parts(&settings)).await??;
                let memory =
                    Memory::open(store, embedder, MemoryConfig::default(), Arc::new(SystemClock)).await?;
                tracing::info!(
                    backend = ?self.settings.backend,
                    collection = memory.collection(),
                    "memory opened"
                );
                Ok(Arc::new(memory))
            })
            .await
            .cloned()
    }
}

/// The store and embedder, opened on a blocking thread (a file, and a model read from disk).
fn open_parts(settings: &MemorySettings) -> memory::Result<(Store, AnyEmbedder)> {
    let store = match settings.backend {
        Backend::Sqlite => Store::Sqlite(SqliteVec::open(&settings.data_dir)?),
        Backend::Qdrant => {
            let url = settings
                .qdrant_url
                .as_deref()
                .filter(|url| !url.is_empty())
                .ok_or_else(|| memory::Error::Qdrant {
                    url: String::new(),
                    message: "the qdrant backend needs --qdrant-url (DP_QDRANT_URL)".to_owned(),
                })?;
            Store::Qdrant(QdrantServer::connect(url, settings.qdrant_api_key.clone())?)
        }
    };
    let embedder = match &settings.embedder {
        EmbedderSettings::Local { model_dir } => AnyEmbedder::Local(LocalEmbedder::open(model_dir)?),
        EmbedderSettings::OpenAi(config) => {
            AnyEmbedder::OpenAi(Box::new(OpenAiEmbedder::new(config.clone())?))
        }
    };
    Ok((store, embedder))
}

impl VectorStore for Store {
    async fn ensure_collection(&self, collection: &Collection) -> memory::Result<()> {
        match self {
            Self::Sqlite(store) => store.ensure_collection(collection).await,
            Self::Qdrant(store) => store.ensure_collection(collection).await,
        }
    }

    async fn upsert(&self, collection: &str, points: Vec<Point>) -> memory::Result<()> {
        match self {
            Self::Sqlite(store) => store.upsert(collection, points).await,
            Self::Qdrant(store) => store.upsert(collection, points).await,
        }
    }

    async fn get(&self, collection: &str, org: &str, id: Uuid) -> memory::Result<Option<Point>> {
        match self {
            Self::Sqlite(store) => store.get(collection, org, id).await,
            Self::Qdrant(store) => store.get(collection, org, id).await,
        }
    }

    async fn search(&self, collection: &str, search: Search) -> memory::Result<Vec<Hit>> {
        match self {
            Self::Sqlite(store) => store.search(collection, search).await,
            Self::Qdrant(store) => store.search(collection, search).await,
        }
    }

    async fn delete(&self, collection: &str, filter: Filter) -> memory::Result<u64> {
        match self {
            Self::Sqlite(store) => store.delete(collection, filter).await,
            Self::Qdrant(store) => store.delete(collection, filter).await,
        }
    }

    async fn count(&self, collection: &str, filter: Filter) -> memory::Result<u64> {
        match self {
            Self::Sqlite(store) => store.count(collection, filter).await,
            Self::Qdrant(store) => store.count(collection, filter).await,
        }
    }

    async fn delete_expired(&self, collection: &str, now_ms: i64) -> memory::Result<u64> {
        match self {
            Self::Sqlite(store) => store.delete_expired(collection, now_ms).await,
            Self::Qdrant(store) => store.delete_expired(collection, now_ms).await,
        }
    }
}

impl Embedder for AnyEmbedder {
    fn model(&self) -> &str {
        match self {
            Self::Local(embedder) => embedder.model(),
            Self::OpenAi(embedder) => embedder.model(),
        }
    }

    fn dimension(&self) -> usize {
        match self {
            Self::Local(embedder) => embedder.dimension(),
            Self::OpenAi(embedder) => embedder.dimension(),
        }
    }

    async fn embed(&self, texts: Vec<String>) -> memory::Result<Vec<Vec<f32>>> {
        match self {
            Self::Local(embedder) => embedder.embed(texts).await,
            Self::OpenAi(embedder) => embedder.embed(texts).await,
        }
    }
}

/// A memory error as a node failure: worth another attempt when the store or endpoint may come back.
#[must_use]
pub fn node_error(error: &memory::Error) -> crate::nodes::NodeError {
    let retryable = matches!(
        error,
        memory::Error::Locked { .. }
            | memory::Error::Qdrant { .. }
            | memory::Error::Remote { .. }
            | memory::Error::Worker(_)
    );
    crate::nodes::NodeError {
        message: format!("memory: {error}"),
        retryable,
    }
}

/// Whose memory a node reads and writes: the run's org and agent, never another's, with the retention the
/// agent's manifest sets. `namespace` is the one knowledge namespace the node names (the manifest's
/// validation checked that it declares it).
///
/// # Errors
///
/// When the run has no org or agent: memory is never read or written without knowing whose it is.
pub fn scope_of(
    ctx: &crate::nodes::NodeContext,
    namespace: Option<&str>,
) -> Result<memory::AgentScope, crate::nodes::NodeError> {
    scope_of_namespaces(ctx, namespace.map(str::to_owned).into_iter().collect())
}

/// As [`scope_of`], with the knowledge namespaces a node names (checked against the manifest at validation).
///
/// # Errors
///
/// As [`scope_of`].
pub fn scope_of_namespaces(
    ctx: &crate::nodes::NodeContext,
    namespaces: Vec<String>,
) -> Result<memory::AgentScope, crate::nodes::NodeError> {
    let org = ctx
        .run
        .org_id
        .ok_or_else(|| crate::nodes::NodeError::fatal("memory needs the run's org, and this run has none"))?;
    let agent = ctx.run.agent.clone().ok_or_else(|| {
        crate::nodes::NodeError::fatal("memory needs the run's agent, and this run has none")
    })?;
    Ok(memory::AgentScope {
        org: org.to_string(),
        agent,
        namespaces,
        ..memory::AgentScope::default()
    }
    .with_declared(&ctx.run.memory))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_takes_the_retention_and_sizes_the_manifest_sent() {
        let run = crate::nodes::RunContext {
            org_id: Some(protocol::OrgId::new()),
            agent: Some("com.example.agent".to_owned()),
            memory: protocol::AgentMemory {
                task_ttl_secs: Some(7200),
                task_top_k: Some(2),
                knowledge_min_score: Some(0.5),
                ..protocol::AgentMemory::default()
            },
            ..crate::nodes::RunContext::default()
        };
        let ctx = crate::nodes::NodeContext::new(
            "step".to_owned(),
            1,
            Arc::new(run),
            tokio_util::sync::CancellationToken::new(),
        );
        let scope = scope_of(&ctx, Some("runbooks")).unwrap();
        assert_eq!(scope.namespaces, ["runbooks"]);
        assert_eq!(scope.task_ttl, Some(std::time::Duration::from_secs(7200)));
        assert_eq!(scope.episode_ttl, None, "the data plane's default");
        assert_eq!(scope.task_top_k, Some(2));
        assert_eq!(scope.knowledge_top_k, None);
        assert_eq!(scope.knowledge_min_score, Some(0.5));
    }
}
