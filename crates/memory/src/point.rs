use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Level;

/// A vector collection: which model made its vectors and how long they are.
///
/// A store refuses a collection that exists with another model or dimension, so vectors of different models
/// never mix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collection {
    /// 1 to 48 of `a-z`, `0-9` and `_`, starting with a letter.
    pub name: String,
    pub model: String,
    pub dimension: usize,
}

/// One remembered thing: a text, its vector, and who it belongs to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub id: Uuid,
    /// The tenant. Never empty; every read filters by it.
    pub org: String,
    pub level: Level,
    pub agent: Option<String>,
    pub namespace: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    /// When it stops being returned and `gc` may delete it; none means kept.
    pub expires_at: Option<i64>,
    pub text: String,
    /// Structured detail kept beside the text (an episode's steps, preference entries); `null` when none.
    #[serde(default)]
    pub data: serde_json::Value,
    /// Empty in search hits, which return no vectors.
    pub vector: Vec<f32>,
}

/// Which points a search, count or delete covers. `org` is always required.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    pub org: String,
    pub level: Option<Level>,
    pub agent: Option<String>,
    pub namespace: Option<String>,
    /// Created at or after (ms).
    pub created_from: Option<i64>,
    /// Created before (ms).
    pub created_before: Option<i64>,
    /// Only points not expired at this time (ms).
    pub alive_at: Option<i64>,
}

impl Filter {
    /// Everything of one org.
    #[must_use]
    pub fn org(org: impl Into<String>) -> Self {
        Self {
            org: org.into(),
            ..Self::default()
        }
    }

    #[must_use]
    pub fn level(mut self, level: Level) -> Self {
        self.level = Some(level);
        self
    }

    #[must_use]
    pub fn agent(mut self, agent: impl Into<String>) -> Self {
        self.agent = Some(agent.into());
        self
    }

    #[must_use]
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }
}

/// A filtered nearest-neighbour search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Search {
    pub filter: Filter,
    pub vector: Vec<f32>,
    /// At most this many hits (top-k).
    pub limit: usize,
    /// Only hits at least this similar (cosine similarity, -1 to 1).
    pub min_score: Option<f32>,
}

/// A search result: the point (without its vector) and its cosine similarity to the query.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    pub point: Point,
    pub score: f32,
}
