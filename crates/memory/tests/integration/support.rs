//! What the tests share: a fresh store directory, points, and the local model.

use std::path::PathBuf;
use std::sync::OnceLock;

use memory::{Collection, Level, LocalEmbedder, Point, QdrantServer, SqliteVec, VectorStore};
use uuid::Uuid;

pub const DIM: usize = 8;
pub const COLLECTION: &str = "test_points";

/// A store in a fresh directory, kept as long as the returned guard.
pub async fn store() -> anyhow::Result<(SqliteVec, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let store = SqliteVec::open(dir.path())?;
    store.ensure_collection(&collection()).await?;
    Ok((store, dir))
}

pub fn collection() -> Collection {
    Collection {
        name: COLLECTION.to_owned(),
        model: "test-model".to_owned(),
        dimension: DIM,
    }
}

/// A unit vector pointing mostly along `axis`, a little along the next one by `tilt`.
pub fn vector(axis: usize, tilt: f32) -> Vec<f32> {
    let mut vector = [0.0; DIM];
    vector[axis % DIM] = 1.0;
    vector[(axis + 1) % DIM] = tilt;
    let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
    vector.iter().map(|v| v / norm).collect()
}

pub fn point(org: &str, level: Level, text: &str, vector: Vec<f32>) -> Point {
    Point {
        id: Uuid::now_v7(),
        org: org.to_owned(),
        level,
        agent: Some("agent-a".to_owned()),
        namespace: None,
        created_at: 1_000,
        expires_at: None,
        text: text.to_owned(),
        data: serde_json::Value::Null,
        vector,
    }
}

/// The model directory: `MEMORY_MODEL_DIR`, else the workspace's `data/models` that `just models` fills.
pub fn model_dir() -> PathBuf {
    std::env::var_os("MEMORY_MODEL_DIR").map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../data/models/all-MiniLM-L6-v2"
            ))
        },
        PathBuf::from,
    )
}

/// The local model, loaded once per test process.
pub fn embedder() -> anyhow::Result<LocalEmbedder> {
    static MODEL: OnceLock<Result<LocalEmbedder, String>> = OnceLock::new();
    MODEL
        .get_or_init(|| LocalEmbedder::open(model_dir()).map_err(|error| error.to_string()))
        .clone()
        .map_err(anyhow::Error::msg)
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// A fresh collection on the Qdrant server `QDRANT_URL` names; none when it is unset.
pub async fn qdrant() -> anyhow::Result<Option<(QdrantServer, String)>> {
    let Some(url) = std::env::var("QDRANT_URL").ok().filter(|url| !url.is_empty()) else {
        return Ok(None);
    };
    let store = QdrantServer::connect(&url, std::env::var("QDRANT_API_KEY").ok())?;
    let name = format!("test_{}", Uuid::now_v7().simple());
    store
        .ensure_collection(&Collection {
            name: name.clone(),
            ..collection()
        })
        .await?;
    Ok(Some((store, name)))
}
