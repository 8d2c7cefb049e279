//! The five levels over a store and an embedder: what a run loads before it starts and writes after it ends.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use tiktoken_rs::CoreBPE;
use uuid::Uuid;

use crate::{Clock, Collection, Embedder, Error, Filter, Hit, Level, Point, Result, Search, VectorStore};

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// The numbers behind the levels. The defaults are DESIGN.md's; a manifest may tune the lifetimes within
/// `MIN_TTL..=MAX_TTL` (see `MemoryConfig::task_ttl_for`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryConfig {
    /// The collection the points go to; none means `memory_` + the embedding model's name.
    pub collection: Option<String>,
    /// Level 2: past task summaries searched per context.
    pub task_top_k: usize,
    /// Level 3: knowledge hits searched per namespace.
    pub knowledge_top_k: usize,
    /// Level 3: the least cosine similarity a knowledge hit needs.
    pub knowledge_min_score: f32,
    /// Level 4: past episodes searched per context.
    pub episode_top_k: usize,
    /// The context's size in o200k tokens when the request names none.
    pub budget_tokens: usize,
    /// Level 2 lifetime when the manifest sets none.
    pub task_ttl: Duration,
    /// Level 4 lifetime when the manifest sets none.
    pub episode_ttl: Duration,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            collection: None,
            task_top_k: 5,
            knowledge_top_k: 10,
            knowledge_min_score: 0.7,
            episode_top_k: 3,
            budget_tokens: 10_000,
            task_ttl: 30 * DAY,
            episode_ttl: 90 * DAY,
        }
    }
}

impl MemoryConfig {
    /// The shortest lifetime a manifest may ask for.
    pub const MIN_TTL: Duration = Duration::from_secs(60 * 60);
    /// The longest lifetime a manifest may ask for.
    pub const MAX_TTL: Duration = Duration::from_secs(365 * 24 * 60 * 60);

    /// The task-summary lifetime for an agent: its manifest's, held within the limits, else the default.
    #[must_use]
    pub fn task_ttl_for(&self, scope: &AgentScope) -> Duration {
        scope
            .task_ttl
            .map_or(self.task_ttl, |ttl| ttl.clamp(Self::MIN_TTL, Self::MAX_TTL))
    }

    /// The episode lifetime for an agent: its manifest's, held within the limits, else the default.
    #[must_use]
    pub fn episode_ttl_for(&self, scope: &AgentScope) -> Duration {
        scope
            .episode_ttl
            .map_or(self.episode_ttl, |ttl| ttl.clamp(Self::MIN_TTL, Self::MAX_TTL))
    }
}

/// Whose memory: the org, the agent, and what the agent's manifest declares. The manifest's numbers, when
/// it sets them, take the place of the [`MemoryConfig`] defaults (TTLs within its limits).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentScope {
    pub org: String,
    pub agent: String,
    /// The knowledge namespaces the manifest declares; no other may be read or written.
    pub namespaces: Vec<String>,
    pub task_ttl: Option<Duration>,
    pub episode_ttl: Option<Duration>,
    pub task_top_k: Option<usize>,
    pub knowledge_top_k: Option<usize>,
    pub knowledge_min_score: Option<f32>,
    pub episode_top_k: Option<usize>,
}

impl AgentScope {
    /// The scope of an agent whose manifest's `memory` section is `declared`.
    #[must_use]
    pub fn from_manifest(
        org: impl Into<String>,
        agent: impl Into<String>,
        declared: &manifest::Memory,
    ) -> Self {
        Self {
            org: org.into(),
            agent: agent.into(),
            namespaces: declared.knowledge.clone(),
            ..Self::default()
        }
        .with_declared(&declared.applied())
    }

    /// This scope with the retention and context sizes `declared` sets (what a task envelope carries of the
    /// manifest's `memory` section).
    #[must_use]
    pub fn with_declared(self, declared: &protocol::AgentMemory) -> Self {
        let count = |k: Option<u32>| k.and_then(|k| usize::try_from(k).ok());
        Self {
            task_ttl: declared.task_ttl_secs.map(Duration::from_secs),
            episode_ttl: declared.episode_ttl_secs.map(Duration::from_secs),
            task_top_k: count(declared.task_top_k),
            knowledge_top_k: count(declared.knowledge_top_k),
            #[expect(clippy::cast_possible_truncation, reason = "a similarity from 0 to 1")]
            knowledge_min_score: declared.knowledge_min_score.map(|score| score as f32),
            episode_top_k: count(declared.episode_top_k),
            ..self
        }
    }

    fn check_namespace(&self, namespace: &str) -> Result<()> {
        if self.namespaces.iter().any(|declared| declared == namespace) {
            Ok(())
        } else {
            Err(Error::UndeclaredNamespace {
                namespace: namespace.to_owned(),
                declared: self.namespaces.clone(),
            })
        }
    }
}

/// An org's preferences (level 5) at one version; the control plane owns them, memory caches them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preferences {
    pub version: u64,
    pub entries: BTreeMap<String, String>,
}

/// What a run asks for before it starts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContextRequest {
    /// What the run is about; the levels 2–4 are searched by it. Empty: only session and preferences.
    pub query: String,
    /// Knowledge namespaces to search; none means every one the manifest declares.
    pub namespaces: Option<Vec<String>>,
    /// Token budget; none means the configured default.
    pub budget_tokens: Option<usize>,
    /// Level 1: the run's working state, which the caller holds.
    pub session: Option<String>,
    /// Preference keys to include; none means all.
    pub preference_keys: Option<Vec<String>>,
}

/// A search of chosen levels by meaning, as a workflow step asks it: one query, top-k across the levels.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recall {
    /// The text searched by; an empty one is refused (`Error::EmptyQuery`).
    pub query: String,
    /// The levels searched: task, knowledge, episode. Session state is the run's own and preferences are read
    /// by key, so neither is searched (`Error::NotSearchable`).
    pub levels: Vec<Level>,
    /// Knowledge only: the namespace searched; none means every one the manifest declares.
    pub namespace: Option<String>,
    /// At most this many hits across all levels.
    pub limit: usize,
    /// Only hits at least this similar (cosine similarity).
    pub min_score: Option<f32>,
}

/// A remembered text chosen for a context.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub id: Uuid,
    pub level: Level,
    pub namespace: Option<String>,
    pub text: String,
    /// Cosine similarity to the query.
    pub score: f32,
    pub created_at: i64,
}

/// The context a run starts with: typed sections, and the same rendered as text within the budget.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Context {
    /// Level 1, cut to fit when it alone exceeds the budget.
    pub session: Option<String>,
    /// Level 5, by key.
    pub preferences: Vec<(String, String)>,
    /// Level 3, best first.
    pub knowledge: Vec<Item>,
    /// Level 2, best first.
    pub tasks: Vec<Item>,
    /// Level 4, best first.
    pub episodes: Vec<Item>,
    /// Found but left out: duplicates and what did not fit.
    pub dropped: usize,
    /// o200k tokens of `text`; never more than the budget.
    pub tokens: usize,
    pub text: String,
}

/// The five levels of memory of every org over one store and one embedder.
pub struct Memory<S, E> {
    store: S,
    embedder: E,
    config: MemoryConfig,
    clock: Arc<dyn Clock>,
    collection: String,
    preferences: Mutex<HashMap<String, Arc<Preferences>>>,
    bpe: &'static CoreBPE,
}

impl<S: std::fmt::Debug, E: std::fmt::Debug> std::fmt::Debug for Memory<S, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memory")
            .field("store", &self.store)
            .field("embedder", &self.embedder)
            .field("config", &self.config)
            .field("collection", &self.collection)
            .finish_non_exhaustive()
    }
}

impl<S: VectorStore, E: Embedder> Memory<S, E> {
    /// Memory over `store`, creating its collection (or checking that it holds this embedder's vectors).
    ///
    /// # Errors
    ///
    /// `Error::ModelMismatch` when the collection holds another model's vectors; store errors.
    pub async fn open(store: S, embedder: E, config: MemoryConfig, clock: Arc<dyn Clock>) -> Result<Self> {
        let collection = config
            .collection
            .clone()
            .unwrap_or_else(|| collection_name(embedder.model()));
        store
            .ensure_collection(&Collection {
                name: collection.clone(),
                model: embedder.model().to_owned(),
                dimension: embedder.dimension(),
            })
            .await?;
        Ok(Self {
            store,
            embedder,
            config,
            clock,
            collection,
            preferences: Mutex::new(HashMap::new()),
            bpe: o200k()?,
        })
    }

    #[must_use]
    pub fn store(&self) -> &S {
        &self.store
    }

    #[must_use]
    pub fn embedder(&self) -> &E {
        &self.embedder
    }

    #[must_use]
    pub fn config(&self) -> &MemoryConfig {
        &self.config
    }

    /// The collection this memory's points live in.
    #[must_use]
    pub fn collection(&self) -> &str {
        &self.collection
    }

    /// Tokens of a text as the budget counts them (o200k).
    #[must_use]
    pub fn count_tokens(&self, text: &str) -> usize {
        self.bpe.encode_ordinary(text).len()
    }

    /// The context for a run: preferences, task summaries, knowledge and episodes loaded concurrently, with
    /// the caller's session state, ranked, without duplicates, within the token budget.
    ///
    /// # Errors
    ///
    /// `Error::UndeclaredNamespace`; embedder and store errors.
    pub async fn load_context(&self, scope: &AgentScope, request: ContextRequest) -> Result<Context> {
        let vector = if request.query.trim().is_empty() {
            None
        } else {
            Some(self.embed_one(request.query.clone()).await?)
        };
        self.load_context_for_vector(scope, request, vector).await
    }

    /// `load_context` with the query already embedded (or none: session and preferences only).
    ///
    /// # Errors
    ///
    /// As `load_context`.
    pub async fn load_context_for_vector(
        &self,
        scope: &AgentScope,
        request: ContextRequest,
        vector: Option<Vec<f32>>,
    ) -> Result<Context> {
        let namespaces = request
            .namespaces
            .clone()
            .unwrap_or_else(|| scope.namespaces.clone());
        for namespace in &namespaces {
            scope.check_namespace(namespace)?;
        }
        let now = self.clock.now_ms();
        let filter = |level: Level| Filter {
            org: scope.org.clone(),
            level: Some(level),
            alive_at: Some(now),
            ..Filter::default()
        };
        let preferences = self.preferences(&scope.org);
        let (preferences, tasks, episodes, knowledge) = match vector {
            None => (preferences.await?, Vec::new(), Vec::new(), Vec::new()),
            Some(vector) => {
                let tasks = self.search(
                    filter(Level::Task).agent(&scope.agent),
                    &vector,
                    scope.task_top_k.unwrap_or(self.config.task_top_k),
                    None,
                );
                let episodes = self.search(
                    filter(Level::Episode).agent(&scope.agent),
                    &vector,
                    scope.episode_top_k.unwrap_or(self.config.episode_top_k),
                    None,
                );
                let knowledge = futures_util::future::try_join_all(namespaces.iter().map(|namespace| {
                    self.search(
                        filter(Level::Knowledge).namespace(namespace),
                        &vector,
                        scope.knowledge_top_k.unwrap_or(self.config.knowledge_top_k),
                        Some(
                            scope
                                .knowledge_min_score
                                .unwrap_or(self.config.knowledge_min_score),
                        ),
                    )
                }));
                let (preferences, tasks, episodes, knowledge) =
                    tokio::try_join!(preferences, tasks, episodes, knowledge)?;
                (
                    preferences,
                    tasks,
                    episodes,
                    knowledge.into_iter().flatten().collect(),
                )
            }
        };
        let budget = request.budget_tokens.unwrap_or(self.config.budget_tokens);
        let keys = request.preference_keys.as_ref();
        let preferences = preferences
            .entries
            .iter()
            .filter(|(key, _)| keys.is_none_or(|keys| keys.contains(key)))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        let found = tasks.into_iter().chain(episodes).chain(knowledge).collect();
        Ok(self.fit(request.session, preferences, found, budget))
    }

    /// The hits for a query in the chosen levels of one agent's memory, best first: task summaries and
    /// episodes of this agent, knowledge of its org's declared namespaces; nothing expired, nothing of another
    /// org. The query is embedded once and the levels are searched concurrently.
    ///
    /// # Errors
    ///
    /// `Error::EmptyQuery`, `Error::NotSearchable`, `Error::UndeclaredNamespace`, `Error::NoOrg`; embedder and
    /// store errors.
    pub async fn recall(&self, scope: &AgentScope, recall: Recall) -> Result<Vec<Hit>> {
        if scope.org.is_empty() {
            return Err(Error::NoOrg);
        }
        if recall.query.trim().is_empty() {
            return Err(Error::EmptyQuery);
        }
        if let Some(level) = recall
            .levels
            .iter()
            .find(|level| matches!(level, Level::Session | Level::Preferences))
        {
            return Err(Error::NotSearchable(*level));
        }
        let namespaces = match &recall.namespace {
            Some(namespace) => vec![namespace.clone()],
            None => scope.namespaces.clone(),
        };
        if recall.levels.contains(&Level::Knowledge) {
            for namespace in &namespaces {
                scope.check_namespace(namespace)?;
            }
        }
        let vector = self.embed_one(recall.query.clone()).await?;
        let now = self.clock.now_ms();
        let mut filters = Vec::new();
        for level in &recall.levels {
            let filter = Filter {
                org: scope.org.clone(),
                level: Some(*level),
                alive_at: Some(now),
                ..Filter::default()
            };
            match level {
                Level::Knowledge => filters.extend(
                    namespaces
                        .iter()
                        .map(|namespace| filter.clone().namespace(namespace)),
                ),
                _ => filters.push(filter.agent(&scope.agent)),
            }
        }
        let found = futures_util::future::try_join_all(
            filters
                .into_iter()
                .map(|filter| self.search(filter, &vector, recall.limit, recall.min_score)),
        )
        .await?;
        let mut hits: Vec<Hit> = found.into_iter().flatten().collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits.truncate(recall.limit);
        Ok(hits)
    }

    /// Remembers a summary of a finished task (level 2); it expires after the task lifetime.
    ///
    /// # Errors
    ///
    /// `Error::EmptyText`; embedder and store errors.
    pub async fn write_task_summary(
        &self,
        scope: &AgentScope,
        text: &str,
        data: serde_json::Value,
    ) -> Result<Uuid> {
        let ttl = self.config.task_ttl_for(scope);
        self.write(scope, Level::Task, None, text, data, Some(ttl)).await
    }

    /// Remembers an episode (level 4) for experience replay; it expires after the episode lifetime.
    ///
    /// # Errors
    ///
    /// As `write_task_summary`.
    pub async fn write_episode(
        &self,
        scope: &AgentScope,
        text: &str,
        data: serde_json::Value,
    ) -> Result<Uuid> {
        let ttl = self.config.episode_ttl_for(scope);
        self.write(scope, Level::Episode, None, text, data, Some(ttl))
            .await
    }

    /// Adds a text to an org's knowledge namespace (level 3); kept until deleted.
    ///
    /// # Errors
    ///
    /// `Error::UndeclaredNamespace`, `Error::EmptyText`; embedder and store errors.
    pub async fn write_knowledge(
        &self,
        scope: &AgentScope,
        namespace: &str,
        text: &str,
        data: serde_json::Value,
    ) -> Result<Uuid> {
        scope.check_namespace(namespace)?;
        self.write(scope, Level::Knowledge, Some(namespace), text, data, None)
            .await
    }

    /// An org's preferences (level 5): from the cache, else from the store; empty at version 0 when never put.
    ///
    /// # Errors
    ///
    /// Store errors.
    pub async fn preferences(&self, org: &str) -> Result<Arc<Preferences>> {
        if let Some(cached) = self.cached_preferences(org) {
            return Ok(cached);
        }
        let stored = self.store.get(&self.collection, org, preferences_id(org)).await?;
        let preferences = match stored {
            Some(point) => Arc::new(
                serde_json::from_value::<Preferences>(point.data)
                    .map_err(|error| Error::Stored(format!("preferences of {org}: {error}")))?,
            ),
            None => Arc::new(Preferences::default()),
        };
        Ok(self.cache_preferences(org, preferences))
    }

    /// Caches and stores an org's preferences as the control plane sent them; an older or equal version than
    /// the one held is ignored. Returns whether this version was stored.
    ///
    /// # Errors
    ///
    /// Store errors.
    pub async fn put_preferences(&self, org: &str, preferences: Preferences) -> Result<bool> {
        let held = self.preferences(org).await?;
        if held.version >= preferences.version && held.version != 0 {
            return Ok(false);
        }
        let text = preferences
            .entries
            .iter()
            .map(|(key, value)| format!("{key}: {value}"))
            .collect::<Vec<_>>()
            .join("\n");
        // Preferences are read by key, never searched: a fixed unit vector stands in for an embedding.
        let mut vector = vec![0.0; self.embedder.dimension()];
        if let Some(first) = vector.first_mut() {
            *first = 1.0;
        }
        let point = Point {
            id: preferences_id(org),
            org: org.to_owned(),
            level: Level::Preferences,
            agent: None,
            namespace: None,
            created_at: self.clock.now_ms(),
            expires_at: None,
            text,
            data: serde_json::to_value(&preferences).map_err(|error| Error::Stored(error.to_string()))?,
            vector,
        };
        self.store.upsert(&self.collection, vec![point]).await?;
        let preferences = Arc::new(preferences);
        self.preferences
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(org.to_owned(), preferences);
        Ok(true)
    }

    /// Deletes every point whose lifetime ended (task summaries, episodes); returns how many. The data plane
    /// runs it hourly.
    ///
    /// # Errors
    ///
    /// Store errors.
    pub async fn gc(&self) -> Result<u64> {
        self.store
            .delete_expired(&self.collection, self.clock.now_ms())
            .await
    }

    async fn write(
        &self,
        scope: &AgentScope,
        level: Level,
        namespace: Option<&str>,
        text: &str,
        data: serde_json::Value,
        ttl: Option<Duration>,
    ) -> Result<Uuid> {
        if scope.org.is_empty() {
            return Err(Error::NoOrg);
        }
        if text.trim().is_empty() {
            return Err(Error::EmptyText);
        }
        let vector = self.embed_one(text.to_owned()).await?;
        let now = self.clock.now_ms();
        let id = Uuid::now_v7();
        let point = Point {
            id,
            org: scope.org.clone(),
            level,
            agent: (level != Level::Knowledge).then(|| scope.agent.clone()),
            namespace: namespace.map(str::to_owned),
            created_at: now,
            expires_at: ttl.map(|ttl| now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))),
            text: text.to_owned(),
            data,
            vector,
        };
        self.store.upsert(&self.collection, vec![point]).await?;
        Ok(id)
    }

    async fn embed_one(&self, text: String) -> Result<Vec<f32>> {
        let mut vectors = self.embedder.embed(vec![text]).await?;
        match (vectors.pop(), vectors.is_empty()) {
            (Some(vector), true) => Ok(vector),
            (vector, _) => Err(Error::EmbeddingCount {
                expected: 1,
                got: vectors.len() + usize::from(vector.is_some()),
            }),
        }
    }

    async fn search(
        &self,
        filter: Filter,
        vector: &[f32],
        limit: usize,
        min_score: Option<f32>,
    ) -> Result<Vec<Hit>> {
        self.store
            .search(
                &self.collection,
                Search {
                    filter,
                    vector: vector.to_vec(),
                    limit,
                    min_score,
                },
            )
            .await
    }

    fn cached_preferences(&self, org: &str) -> Option<Arc<Preferences>> {
        self.preferences
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(org)
            .cloned()
    }

    /// Caches unless a newer version arrived meanwhile; returns what is cached.
    fn cache_preferences(&self, org: &str, preferences: Arc<Preferences>) -> Arc<Preferences> {
        let mut cache = self.preferences.lock().unwrap_or_else(PoisonError::into_inner);
        let held = cache
            .entry(org.to_owned())
            .or_insert_with(|| Arc::clone(&preferences));
        if held.version < preferences.version {
            *held = preferences;
        }
        Arc::clone(held)
    }

    /// Ranks, drops duplicates and fits into the budget: session first, then preferences, then the found texts
    /// best score first; whatever does not fit is left out whole (only the session is cut).
    fn fit(
        &self,
        session: Option<String>,
        preferences: Vec<(String, String)>,
        mut found: Vec<Hit>,
        budget: usize,
    ) -> Context {
        let mut context = Context::default();
        let mut used = 0;
        let mut opened: HashSet<&'static str> = HashSet::new();
        let mut take = |section: &'static str, line: &str, used: &mut usize| -> bool {
            let header = if opened.contains(section) {
                0
            } else {
                self.count_tokens(&header(section))
            };
            let cost = header + self.count_tokens(line);
            if *used + cost > budget {
                return false;
            }
            opened.insert(section);
            *used += cost;
            true
        };

        if let Some(session) = session.filter(|session| !session.trim().is_empty()) {
            let room = budget.saturating_sub(self.count_tokens(&header(SESSION)) + 1);
            let session = self.cut_to_tokens(&session, room);
            if !session.is_empty() && take(SESSION, &format!("{session}\n"), &mut used) {
                context.session = Some(session);
            }
        }
        for (key, value) in preferences {
            if take(PREFERENCES, &format!("- {key}: {value}\n"), &mut used) {
                context.preferences.push((key, value));
            } else {
                context.dropped += 1;
            }
        }

        found.sort_by(|a, b| b.score.total_cmp(&a.score));
        let mut seen = HashSet::new();
        for hit in found {
            if !seen.insert(dedupe_key(&hit.point.text)) {
                context.dropped += 1;
                continue;
            }
            let (section, line) = match hit.point.level {
                Level::Knowledge => (KNOWLEDGE, knowledge_line(&hit.point)),
                Level::Episode => (EPISODES, format!("- {}\n", hit.point.text)),
                _ => (TASKS, format!("- {}\n", hit.point.text)),
            };
            if !take(section, &line, &mut used) {
                context.dropped += 1;
                continue;
            }
            let item = Item {
                id: hit.point.id,
                level: hit.point.level,
                namespace: hit.point.namespace,
                text: hit.point.text,
                score: hit.score,
                created_at: hit.point.created_at,
            };
            match item.level {
                Level::Knowledge => context.knowledge.push(item),
                Level::Episode => context.episodes.push(item),
                _ => context.tasks.push(item),
            }
        }

        context.text = render(&context);
        context.tokens = self.count_tokens(&context.text);
        // Token counts of parts can differ from the whole's at their seams; drop the weakest until it fits.
        while context.tokens > budget && drop_weakest(&mut context) {
            context.dropped += 1;
            context.text = render(&context);
            context.tokens = self.count_tokens(&context.text);
        }
        context
    }

    /// The longest prefix of `text` (at a character boundary) of at most `tokens` tokens.
    fn cut_to_tokens(&self, text: &str, tokens: usize) -> String {
        if self.count_tokens(text) <= tokens {
            return text.to_owned();
        }
        let boundaries: Vec<usize> = text.char_indices().map(|(at, _)| at).collect();
        let (mut low, mut high) = (0, boundaries.len());
        while low < high {
            let middle = (low + high).div_ceil(2);
            let end = boundaries.get(middle).copied().unwrap_or(text.len());
            if self.count_tokens(&text[..end]) <= tokens {
                low = middle;
            } else {
                high = middle - 1;
            }
        }
        let end = boundaries.get(low).copied().unwrap_or(text.len());
        text[..end].to_owned()
    }
}

const SESSION: &str = "Session";
const PREFERENCES: &str = "Preferences";
const KNOWLEDGE: &str = "Knowledge";
const TASKS: &str = "Past tasks";
const EPISODES: &str = "Past episodes";

fn header(section: &str) -> String {
    format!("## {section}\n\n")
}

fn knowledge_line(point: &Point) -> String {
    match &point.namespace {
        Some(namespace) => format!("- [{namespace}] {}\n", point.text),
        None => format!("- {}\n", point.text),
    }
}

fn render(context: &Context) -> String {
    let mut text = String::new();
    let mut section = |title: &str, lines: Vec<String>| {
        if lines.is_empty() {
            return;
        }
        text.push_str(&header(title));
        for line in lines {
            text.push_str(&line);
        }
    };
    section(
        SESSION,
        context
            .session
            .iter()
            .map(|session| format!("{session}\n"))
            .collect(),
    );
    section(
        PREFERENCES,
        context
            .preferences
            .iter()
            .map(|(key, value)| format!("- {key}: {value}\n"))
            .collect(),
    );
    section(
        KNOWLEDGE,
        context
            .knowledge
            .iter()
            .map(|item| match &item.namespace {
                Some(namespace) => format!("- [{namespace}] {}\n", item.text),
                None => format!("- {}\n", item.text),
            })
            .collect(),
    );
    section(
        TASKS,
        context
            .tasks
            .iter()
            .map(|item| format!("- {}\n", item.text))
            .collect(),
    );
    section(
        EPISODES,
        context
            .episodes
            .iter()
            .map(|item| format!("- {}\n", item.text))
            .collect(),
    );
    text
}

/// Removes the lowest-scored found item, else the last preference, else the session; false when empty.
fn drop_weakest(context: &mut Context) -> bool {
    let weakest = [
        (0, &context.knowledge),
        (1, &context.tasks),
        (2, &context.episodes),
    ]
    .into_iter()
    .filter_map(|(which, items)| {
        items
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.score.total_cmp(&b.1.score))
            .map(|(at, item)| (which, at, item.score))
    })
    .min_by(|a, b| a.2.total_cmp(&b.2));
    match weakest {
        Some((0, at, _)) => drop(context.knowledge.remove(at)),
        Some((1, at, _)) => drop(context.tasks.remove(at)),
        Some((_, at, _)) => drop(context.episodes.remove(at)),
        None if context.preferences.pop().is_some() => {}
        None => return context.session.take().is_some(),
    }
    true
}

/// Texts equal but for case and spacing count as one.
fn dedupe_key(text: &str) -> String {
    text.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The collection for a model's vectors: `memory_` and the model's name in `a-z0-9_`.
fn collection_name(model: &str) -> String {
    let mut name = String::from("memory_");
    for c in model.chars() {
        if c.is_ascii_alphanumeric() {
            name.push(c.to_ascii_lowercase());
        } else if !name.ends_with('_') {
            name.push('_');
        }
    }
    name.truncate(48);
    name
}

/// The fixed id of an org's preferences point.
fn preferences_id(org: &str) -> Uuid {
    let digest = Sha256::digest(format!("preferences\0{org}").as_bytes());
    let mut bytes = [0; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

fn o200k() -> Result<&'static CoreBPE> {
    static BPE: OnceLock<std::result::Result<CoreBPE, String>> = OnceLock::new();
    BPE.get_or_init(|| tiktoken_rs::o200k_base().map_err(|error| error.to_string()))
        .as_ref()
        .map_err(|error| Error::Tokenizer(format!("o200k: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collection_names_follow_the_model() {
        assert_eq!(collection_name("all-MiniLM-L6-v2"), "memory_all_minilm_l6_v2");
        assert_eq!(
            collection_name("text-embedding-3-small"),
            "memory_text_embedding_3_small"
        );
    }

    #[test]
    fn duplicates_differ_only_in_case_and_spacing() {
        assert_eq!(dedupe_key("The  cat\nsat"), dedupe_key("the cat sat"));
        assert_ne!(dedupe_key("the cat sat"), dedupe_key("the cat sat down"));
    }

    #[test]
    fn preferences_ids_are_stable_per_org() {
        assert_eq!(preferences_id("acme"), preferences_id("acme"));
        assert_ne!(preferences_id("acme"), preferences_id("globex"));
    }

    #[test]
    fn manifest_lifetimes_are_held_within_limits() {
        let config = MemoryConfig::default();
        let mut scope = AgentScope::default();
        assert_eq!(config.task_ttl_for(&scope), 30 * DAY);
        assert_eq!(config.episode_ttl_for(&scope), 90 * DAY);
        scope.task_ttl = Some(Duration::from_secs(1));
        scope.episode_ttl = Some(10_000 * DAY);
        assert_eq!(config.task_ttl_for(&scope), MemoryConfig::MIN_TTL);
        assert_eq!(config.episode_ttl_for(&scope), MemoryConfig::MAX_TTL);
    }
}
