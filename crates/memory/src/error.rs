use std::path::PathBuf;

/// What can go wrong in memory: the store, the embedder, or the caller's input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(
        "the memory store {path} is not a SQLite database or is damaged ({detail}); move it aside to start empty"
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error("the memory store {path} is locked by another process (gave up after waiting {waited_ms} ms)")]
    Locked { path: PathBuf, waited_ms: u128 },
    #[error("cannot create the memory store directory {path}: {source}")]
    Directory { path: PathBuf, source: std::io::Error },
    #[error("memory store {path}: {source}")]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error("the Qdrant server at {url}: {message}")]
    Qdrant { url: String, message: String },
    #[error("the sqlite-vec extension did not load: {0}")]
    Extension(String),
    #[error(
        "collection {collection} holds vectors of model {stored_model} ({stored_dimension} dims), \
         not of {model} ({dimension} dims): vectors of different models never mix in one collection"
    )]
    ModelMismatch {
        collection: String,
        stored_model: String,
        stored_dimension: usize,
        model: String,
        dimension: usize,
    },
    #[error("no collection named {0}: create it with `ensure_collection` first")]
    NoCollection(String),
    #[error("invalid collection name {0:?}: use 1 to 48 of a-z, 0-9 and _, starting with a letter")]
    CollectionName(String),
    #[error("a vector of {got} dims for collection {collection}, which holds {expected} dims")]
    WrongDimension {
        collection: String,
        expected: usize,
        got: usize,
    },
    #[error("a vector with a NaN or infinite value (point {0})")]
    NotFinite(String),
    #[error("a vector of zero length cannot be compared by cosine (point {0})")]
    ZeroVector(String),
    #[error("every point and query needs a non-empty org_id")]
    NoOrg,
    #[error("point {id} already exists in another org; ids are unique across orgs")]
    IdTaken { id: uuid::Uuid },
    #[error("text is not UTF-8 (first bad byte at offset {0})")]
    NotUtf8(usize),
    #[error("an empty text cannot be remembered")]
    EmptyText,
    #[error("an empty query cannot be searched")]
    EmptyQuery,
    #[error(
        "the {} level is not searched by meaning: a run holds its own session state, and preferences are read by key",
        .0.name()
    )]
    NotSearchable(crate::Level),
    #[error("namespace {namespace:?} is not declared in the agent's manifest (declared: {declared:?})")]
    UndeclaredNamespace {
        namespace: String,
        declared: Vec<String>,
    },
    #[error(
        "the local embedding model is missing: {path} not found; fetch it with `just models` \
         (scripts/models.sh) from the repository root, or point MEMORY_MODEL_DIR at a copy"
    )]
    ModelMissing { path: PathBuf },
    #[error("embedding model: {0}")]
    Model(String),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error(
        "the embedding endpoint {url} failed (HTTP status {status:?}, after any retries that could help): {message}"
    )]
    Remote {
        url: String,
        status: Option<u16>,
        message: String,
    },
    #[error("the embedder returned {got} vectors for {expected} texts")]
    EmbeddingCount { expected: usize, got: usize },
    #[error("stored data is not valid: {0}")]
    Stored(String),
    #[error("a memory worker stopped: {0}")]
    Worker(String),
}

impl From<candle_core::Error> for Error {
    fn from(error: candle_core::Error) -> Self {
        Self::Model(error.to_string())
    }
}

impl From<tokio::task::JoinError> for Error {
    fn from(error: tokio::task::JoinError) -> Self {
        Self::Worker(error.to_string())
    }
}

/// Memory's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
