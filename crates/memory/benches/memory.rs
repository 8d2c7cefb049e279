//! The embedded store at 100,000 points of 384 dims across 50 orgs: five-level `load_context` p99 without the
//! query embedding (target ≤ 10 ms), upsert rate (target ≥ 10,000 points/s), peak resident memory while
//! loading, and the local model's time per query and per batch of 32, beside a bare filtered top-10 search
//! measured in the same run. When `QDRANT_URL` names a Qdrant server, the same data goes there too and the
//! server's filtered top-10 is compared with the embedded store's exact one: recall@10 (target ≥ 0.95).

use std::collections::HashSet;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use criterion::{Criterion, criterion_group, criterion_main};
use memory::{
    AgentScope, Collection, ContextRequest, Filter, Level, LocalEmbedder, Memory, MemoryConfig, Point,
    Preferences, QdrantServer, Search, SqliteVec, SystemClock, VectorStore,
};
use uuid::Uuid;

const POINTS: usize = 100_000;
const ORGS: usize = 50;
const DIM: usize = 384;
const BATCH: usize = 1_000;
const AGENTS: usize = 5;
const NAMESPACES: [&str; 2] = ["cost_anomalies", "runbooks"];
/// Topics per org: points cluster around them, so a query near one finds knowledge above 0.7.
const TOPICS: usize = 20;
const SAMPLES: usize = 2_000;
/// Filtered searches compared for recall@10.
const RECALL_QUERIES: usize = 500;

/// One figure of `just bench`'s table (the shape `scripts/bench_report.py` reads).
#[derive(Debug, serde::Serialize)]
struct Figure {
    name: &'static str,
    /// None: not measured (what `baseline` says).
    value: Option<f64>,
    unit: &'static str,
    target: &'static str,
    pass: Option<bool>,
    baseline: Option<String>,
}

/// A small deterministic generator: the data set is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }

    #[expect(clippy::cast_precision_loss, reason = "noise needs no precision")]
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
}

fn normalised(mut vector: Vec<f32>) -> Vec<f32> {
    let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
    vector.iter_mut().for_each(|v| *v /= norm);
    vector
}

/// A topic's centre: the same for every org, so the data set needs no table of centres.
fn topic(index: usize) -> Vec<f32> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (index as u64 + 1));
    normalised((0..DIM).map(|_| rng.unit()).collect())
}

/// A vector near a topic (cosine about 0.8).
fn near(rng: &mut Rng, centre: &[f32], spread: f32) -> Vec<f32> {
    normalised(centre.iter().map(|v| v + spread * rng.unit()).collect())
}

fn org(index: usize) -> String {
    format!("org-{index:02}")
}

fn scope(org_index: usize, agent: usize) -> AgentScope {
    AgentScope {
        org: org(org_index),
        agent: format!("agent-{agent}"),
        namespaces: NAMESPACES.iter().map(|ns| (*ns).to_owned()).collect(),
        ..AgentScope::default()
    }
}

/// A memory figure of this process from `/proc/self/status` (`VmHWM`: peak resident; `RssAnon`: resident
/// memory of its own, without mapped file pages), in MB.
fn status_mb(field: &str) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kb: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .with_context(|| format!("no {field}"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kb / 1024.0)
}

/// Loads the data set (the same on every call: ids, texts and vectors) into `store`; returns the upsert rate
/// in points per second.
fn load<S: VectorStore>(
    runtime: &tokio::runtime::Runtime,
    store: &S,
    collection: &str,
) -> anyhow::Result<f64> {
    let centres: Vec<Vec<f32>> = (0..TOPICS).map(topic).collect();
    let mut rng = Rng(42);
    let now = 1_800_000_000_000;
    let started = Instant::now();
    for batch in 0..POINTS / BATCH {
        let points = (0..BATCH)
            .map(|at| {
                let index = batch * BATCH + at;
                let level = [Level::Knowledge, Level::Task, Level::Episode][index % 3];
                Point {
                    id: Uuid::from_u128(u128::try_from(index).unwrap_or_default() + 1),
                    org: org(index % ORGS),
                    level,
                    agent: (level != Level::Knowledge).then(|| format!("agent-{}", rng.below(AGENTS))),
                    namespace: (level == Level::Knowledge)
                        .then(|| NAMESPACES[rng.below(NAMESPACES.len())].to_owned()),
                    created_at: now,
                    expires_at: (level != Level::Knowledge).then_some(i64::MAX - 1),
                    text: format!("memory {index}: a remembered finding of a few dozen words, like a task summary or a runbook line"),
                    data: serde_json::Value::Null,
                    vector: {
                        let centre = rng.below(TOPICS);
                        near(&mut rng, &centres[centre], 0.04)
                    },
                }
            })
            .collect();
        runtime.block_on(store.upsert(collection, points))?;
    }
    #[expect(clippy::cast_precision_loss, reason = "a rate")]
    Ok(POINTS as f64 / started.elapsed().as_secs_f64())
}

/// A collection of the local model's vectors.
fn collection_named(name: &str) -> Collection {
    Collection {
        name: name.to_owned(),
        model: "all-MiniLM-L6-v2".to_owned(),
        dimension: DIM,
    }
}

/// recall@10 of the Qdrant server `QDRANT_URL` names against the embedded store's exact search, over the
/// same data and the same org-and-level filtered queries; None without a server.
fn qdrant_recall(
    runtime: &tokio::runtime::Runtime,
    exact: &SqliteVec,
    collection: &str,
) -> anyhow::Result<Option<f64>> {
    let Some(url) = std::env::var("QDRANT_URL").ok().filter(|url| !url.is_empty()) else {
        return Ok(None);
    };
    let server = QdrantServer::connect(&url, std::env::var("QDRANT_API_KEY").ok())?;
    let name = format!("bench_{}", Uuid::now_v7().simple());
    runtime.block_on(server.ensure_collection(&collection_named(&name)))?;
    load(runtime, &server, &name)?;
    let centres: Vec<Vec<f32>> = (0..TOPICS).map(topic).collect();
    let mut rng = Rng(11);
    let (mut found, mut wanted) = (0, 0);
    for _ in 0..RECALL_QUERIES {
        let centre = rng.below(TOPICS);
        let vector = near(&mut rng, &centres[centre], 0.04);
        let search = Search {
            filter: Filter {
                level: Some(Level::Knowledge),
                ..Filter::org(org(rng.below(ORGS)))
            },
            vector,
            limit: 10,
            min_score: None,
        };
        let truth: HashSet<Uuid> = runtime
            .block_on(exact.search(collection, search.clone()))?
            .into_iter()
            .map(|hit| hit.point.id)
            .collect();
        let approximate = runtime.block_on(server.search(&name, search))?;
        found += approximate
            .iter()
            .filter(|hit| truth.contains(&hit.point.id))
            .count();
        wanted += truth.len();
    }
    for index in 0..ORGS {
        runtime.block_on(server.delete(&name, Filter::org(org(index))))?;
    }
    #[expect(clippy::cast_precision_loss, reason = "counts of a few thousand")]
    Ok(Some(found as f64 / wanted.max(1) as f64))
}

fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort();
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "an index into a short list"
    )]
    let at = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples
        .get(at)
        .map_or(0.0, |sample| sample.as_secs_f64() * 1000.0)
}

fn report(figures: &[Figure]) -> anyhow::Result<()> {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../bench");
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("memory.json"), serde_json::to_string_pretty(figures)?)?;
    for figure in figures {
        println!("{figure:?}");
    }
    Ok(())
}

fn model_dir() -> PathBuf {
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

fn run(c: &mut Criterion) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let dir = tempfile::tempdir()?;
    let store = SqliteVec::open(dir.path())?;
    let collection = "memory_all_minilm_l6_v2";
    runtime.block_on(store.ensure_collection(&collection_named(collection)))?;

    // Before the model and the token tables load, so the peak is the store's and the data's.
    let upserts_per_s = load(&runtime, &store, collection)?;
    let loading_mb = status_mb("VmHWM:")?;
    let anon_mb = status_mb("RssAnon:")?;

    let embedder = LocalEmbedder::open(model_dir())?;
    let memory = runtime.block_on(Memory::open(
        store.clone(),
        embedder.clone(),
        MemoryConfig::default(),
        Arc::new(SystemClock),
    ))?;
    for index in 0..ORGS {
        let entries = [
            ("currency".to_owned(), "EUR".to_owned()),
            ("tone".to_owned(), "brief".to_owned()),
        ];
        runtime.block_on(memory.put_preferences(
            &org(index),
            Preferences {
                version: 1,
                entries: entries.into(),
            },
        ))?;
    }

    let mut rng = Rng(7);
    let centres: Vec<Vec<f32>> = (0..TOPICS).map(topic).collect();
    let mut query = || {
        let centre = rng.below(TOPICS);
        let vector = near(&mut rng, &centres[centre], 0.04);
        (rng.below(ORGS), rng.below(AGENTS), vector)
    };

    let mut context_samples = Vec::with_capacity(SAMPLES);
    let mut search_samples = Vec::with_capacity(SAMPLES);
    let mut found = 0;
    for _ in 0..SAMPLES {
        let (org_index, agent, vector) = query();
        let scope = scope(org_index, agent);
        let started = Instant::now();
        let context = runtime.block_on(memory.load_context_for_vector(
            &scope,
            ContextRequest {
                session: Some("step 2 of 4".to_owned()),
                ..ContextRequest::default()
            },
            Some(vector.clone()),
        ))?;
        context_samples.push(started.elapsed());
        found += context.knowledge.len() + context.tasks.len() + context.episodes.len();

        let started = Instant::now();
        let hits = runtime.block_on(store.search(
            collection,
            Search {
                filter: Filter {
                    level: Some(Level::Knowledge),
                    ..Filter::org(scope.org)
                },
                vector,
                limit: 10,
                min_score: None,
            },
        ))?;
        search_samples.push(started.elapsed());
        black_box(hits);
    }
    anyhow::ensure!(
        found > SAMPLES * 10,
        "contexts found too little ({found} items in {SAMPLES})"
    );
    let context_p99 = percentile(&mut context_samples, 0.99);
    let context_p50 = percentile(&mut context_samples, 0.50);
    let search_p99 = percentile(&mut search_samples, 0.99);

    let one = ["why did storage costs rise in eu-west last month".to_owned()];
    let batch: Vec<String> = (0..32)
        .map(|index| format!("task {index}: rightsized an idle database cluster and saved money on storage"))
        .collect();
    let time_embedding = |texts: &[String], rounds: u32| -> anyhow::Result<f64> {
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        embedder.embed_blocking(&texts)?;
        let started = Instant::now();
        for _ in 0..rounds {
            black_box(embedder.embed_blocking(&texts)?);
        }
        Ok(started.elapsed().as_secs_f64() * 1000.0 / f64::from(rounds))
    };
    let embed_one_ms = time_embedding(&one, 50)?;
    let embed_batch_ms = time_embedding(&batch, 5)?;

    let mut group = c.benchmark_group("memory");
    group.sample_size(50).measurement_time(Duration::from_secs(5));
    group.bench_function("load_context_excluding_embedding", |b| {
        b.iter(|| {
            let (org_index, agent, vector) = query();
            runtime.block_on(memory.load_context_for_vector(
                &scope(org_index, agent),
                ContextRequest::default(),
                Some(vector),
            ))
        });
    });
    group.bench_function("baseline_filtered_top10_search", |b| {
        b.iter(|| {
            let (org_index, _, vector) = query();
            runtime.block_on(store.search(
                collection,
                Search {
                    filter: Filter::org(org(org_index)),
                    vector,
                    limit: 10,
                    min_score: None,
                },
            ))
        });
    });
    group.sample_size(10);
    group.bench_function("embed_one_query", |b| {
        b.iter(|| embedder.embed_blocking(&[one[0].as_str()]));
    });
    group.finish();

    let recall = qdrant_recall(&runtime, &store, collection)?;
    report(&[
        Figure {
            name: "memory/qdrant_recall_at_10",
            value: recall,
            unit: "",
            target: ">= 0.95",
            pass: recall.map(|recall| recall >= 0.95),
            baseline: Some(if recall.is_some() {
                format!(
                    "against the embedded store's exact search, {RECALL_QUERIES} org+level filtered queries"
                )
            } else {
                "not measured: QDRANT_URL names no Qdrant server".to_owned()
            }),
        },
        Figure {
            name: "memory/load_context_p99_100k",
            value: Some(context_p99),
            unit: "ms",
            target: "<= 10 ms",
            pass: Some(context_p99 <= 10.0),
            baseline: Some(format!(
                "p50 {context_p50:.2} ms; bare filtered top-10 search p99 {search_p99:.2} ms"
            )),
        },
        Figure {
            name: "memory/upsert_rate",
            value: Some(upserts_per_s),
            unit: "points/s",
            target: ">= 10000/s",
            pass: Some(upserts_per_s >= 10_000.0),
            baseline: Some(format!("batches of {BATCH}, one transaction each")),
        },
        Figure {
            name: "memory/peak_resident_loading_100k",
            value: Some(loading_mb),
            unit: "MB",
            target: "",
            pass: None,
            baseline: Some(format!(
                "{anon_mb:.1} MB of it the process's own after loading; the rest is the mapped database file"
            )),
        },
        Figure {
            name: "memory/local_embed_per_query",
            value: Some(embed_one_ms),
            unit: "ms",
            target: "",
            pass: None,
            baseline: None,
        },
        Figure {
            name: "memory/local_embed_per_batch_32",
            value: Some(embed_batch_ms),
            unit: "ms",
            target: "",
            pass: None,
            baseline: Some(format!("{:.2} ms per text", embed_batch_ms / 32.0)),
        },
    ])
}

fn benches(c: &mut Criterion) {
    if let Err(error) = run(c) {
        panic!("the memory benchmark failed: {error:#}");
    }
}

criterion_group!(memory_benches, benches);
criterion_main!(memory_benches);
