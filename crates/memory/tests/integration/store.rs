//! The `VectorStore` contract, on the embedded store.

use std::time::Duration;

use memory::{Collection, Error, Filter, Level, Search, SqliteOptions, SqliteVec, VectorStore};
use uuid::Uuid;

use crate::support::{COLLECTION, DIM, collection, cosine, point, store, vector};

/// The contract every store keeps, run on the embedded store always and on a Qdrant server when
/// `QDRANT_URL` names one (`scripts/test.sh` prints one line when it does not).
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite_vec {
            $(
                #[tokio::test]
                async fn $name() -> anyhow::Result<()> {
                    let (store, _dir) = crate::support::store().await?;
                    super::$name(&store, crate::support::COLLECTION).await
                }
            )*
        }

        mod qdrant_server {
            $(
                #[tokio::test]
                async fn $name() -> anyhow::Result<()> {
                    let Some((store, collection)) = crate::support::qdrant().await? else {
                        return Ok(());
                    };
                    super::$name(&store, &collection).await
                }
            )*
        }
    };
}

suite!(
    a_point_round_trips_and_only_its_org_sees_it,
    upsert_replaces_by_id,
    a_batch_with_one_bad_point_writes_nothing,
    bad_vectors_and_missing_orgs_are_refused,
    a_collection_keeps_its_model_and_dimension,
    search_ranks_by_similarity_within_the_filter,
    namespaces_filter_knowledge,
    delete_by_filter_removes_only_what_matches,
    expired_points_are_hidden_then_swept_across_orgs,
);

async fn a_point_round_trips_and_only_its_org_sees_it<S: VectorStore>(
    store: &S,
    c: &str,
) -> anyhow::Result<()> {
    let mut written = point("acme", Level::Knowledge, "cpu spikes at night", vector(0, 0.1));
    written.namespace = Some("cost_anomalies".to_owned());
    written.data = serde_json::json!({"source": "billing"});
    written.expires_at = Some(9_000);
    store.upsert(c, vec![written.clone()]).await?;

    let read = store.get(c, "acme", written.id).await?;
    let mut read = read.ok_or_else(|| anyhow::anyhow!("the point is gone"))?;
    assert!(cosine(&read.vector, &written.vector) > 0.9999);
    read.vector.clone_from(&written.vector);
    assert_eq!(read, written);
    assert_eq!(store.get(c, "globex", written.id).await?, None);
    assert_eq!(store.get(c, "acme", Uuid::now_v7()).await?, None);
    Ok(())
}

async fn upsert_replaces_by_id<S: VectorStore>(store: &S, c: &str) -> anyhow::Result<()> {
    let mut first = point("acme", Level::Task, "first", vector(0, 0.0));
    store.upsert(c, vec![first.clone()]).await?;
    first.text = "second".to_owned();
    first.vector = vector(3, 0.0);
    store.upsert(c, vec![first.clone()]).await?;

    assert_eq!(store.count(c, Filter::org("acme")).await?, 1);
    let read = store.get(c, "acme", first.id).await?;
    let read = read.ok_or_else(|| anyhow::anyhow!("the point is gone"))?;
    assert_eq!(read.text, "second");
    assert!(cosine(&read.vector, &vector(3, 0.0)) > 0.9999);
    let hits = store.search(c, search("acme", vector(3, 0.0), 5)).await?;
    assert_eq!(hits.len(), 1);
    assert!((hits[0].score - 1.0).abs() < 1e-5, "{}", hits[0].score);
    Ok(())
}

async fn a_batch_with_one_bad_point_writes_nothing<S: VectorStore>(store: &S, c: &str) -> anyhow::Result<()> {
    let taken = point("acme", Level::Task, "acme's", vector(0, 0.0));
    store.upsert(c, vec![taken.clone()]).await?;

    let good = point("globex", Level::Task, "fine", vector(1, 0.0));
    let mut thief = point("globex", Level::Task, "same id, other org", vector(2, 0.0));
    thief.id = taken.id;
    let error = store.upsert(c, vec![good.clone(), thief]).await;
    assert!(matches!(error, Err(Error::IdTaken { .. })), "{error:?}");
    assert_eq!(store.count(c, Filter::org("globex")).await?, 0);
    assert_eq!(
        store.get(c, "acme", taken.id).await?.map(|point| point.text),
        Some("acme's".to_owned())
    );
    Ok(())
}

async fn bad_vectors_and_missing_orgs_are_refused<S: VectorStore>(store: &S, c: &str) -> anyhow::Result<()> {
    let short = point("acme", Level::Task, "short", vec![1.0; DIM - 1]);
    let error = store.upsert(c, vec![short]).await;
    assert!(
        matches!(error, Err(Error::WrongDimension { expected: DIM, got, .. }) if got == DIM - 1),
        "{error:?}"
    );
    let mut nan = vector(0, 0.0);
    nan[1] = f32::NAN;
    let error = store
        .upsert(c, vec![point("acme", Level::Task, "nan", nan)])
        .await;
    assert!(matches!(error, Err(Error::NotFinite(_))), "{error:?}");
    let error = store
        .upsert(c, vec![point("acme", Level::Task, "zero", vec![0.0; DIM])])
        .await;
    assert!(matches!(error, Err(Error::ZeroVector(_))), "{error:?}");
    let error = store
        .upsert(c, vec![point("", Level::Task, "who", vector(0, 0.0))])
        .await;
    assert!(matches!(error, Err(Error::NoOrg)), "{error:?}");

    let error = store.search(c, search("acme", vec![1.0; DIM + 1], 3)).await;
    assert!(matches!(error, Err(Error::WrongDimension { .. })), "{error:?}");
    let error = store.search(c, search("", vector(0, 0.0), 3)).await;
    assert!(matches!(error, Err(Error::NoOrg)), "{error:?}");
    let error = store.count("never_made", Filter::org("acme")).await;
    assert!(matches!(error, Err(Error::NoCollection(_))), "{error:?}");
    let error = store.count("bad name; drop", Filter::org("acme")).await;
    assert!(matches!(error, Err(Error::CollectionName(_))), "{error:?}");
    assert_eq!(store.count(c, Filter::org("acme")).await?, 0);
    Ok(())
}

async fn a_collection_keeps_its_model_and_dimension<S: VectorStore>(
    store: &S,
    c: &str,
) -> anyhow::Result<()> {
    let collection = Collection {
        name: c.to_owned(),
        ..collection()
    };
    store.ensure_collection(&collection).await?;
    let other_model = Collection {
        model: "other-model".to_owned(),
        ..collection.clone()
    };
    let error = store.ensure_collection(&other_model).await;
    assert!(matches!(error, Err(Error::ModelMismatch { .. })), "{error:?}");
    let other_dimension = Collection {
        dimension: DIM * 2,
        ..collection
    };
    let error = store.ensure_collection(&other_dimension).await;
    let message = error
        .as_ref()
        .map_err(ToString::to_string)
        .err()
        .unwrap_or_default();
    assert!(
        message.contains("test-model") && message.contains("16 dims"),
        "{message}"
    );
    Ok(())
}

async fn search_ranks_by_similarity_within_the_filter<S: VectorStore>(
    store: &S,
    c: &str,
) -> anyhow::Result<()> {
    let near = point("acme", Level::Task, "near", vector(0, 0.1));
    let far = point("acme", Level::Task, "far", vector(0, 2.0));
    let orthogonal = point("acme", Level::Task, "orthogonal", vector(4, 0.0));
    let mut other_agent = point("acme", Level::Task, "other agent", vector(0, 0.0));
    other_agent.agent = Some("agent-b".to_owned());
    let episode = point("acme", Level::Episode, "episode", vector(0, 0.0));
    let mut late = point("acme", Level::Task, "late", vector(0, 0.05));
    late.created_at = 5_000;
    store
        .upsert(c, vec![near, far, orthogonal, other_agent, episode, late])
        .await?;

    let texts = |hits: Vec<memory::Hit>| hits.into_iter().map(|hit| hit.point.text).collect::<Vec<_>>();
    let tasks = Filter::org("acme").level(Level::Task).agent("agent-a");
    let all = store
        .search(
            c,
            Search {
                filter: tasks.clone(),
                vector: vector(0, 0.0),
                limit: 10,
                min_score: None,
            },
        )
        .await?;
    assert!(all.iter().all(|hit| hit.point.vector.is_empty()));
    assert_eq!(texts(all), ["late", "near", "far", "orthogonal"]);

    let top2 = store
        .search(
            c,
            Search {
                filter: tasks.clone(),
                vector: vector(0, 0.0),
                limit: 2,
                min_score: None,
            },
        )
        .await?;
    assert_eq!(texts(top2), ["late", "near"]);

    let close = store
        .search(
            c,
            Search {
                filter: tasks.clone(),
                vector: vector(0, 0.0),
                limit: 10,
                min_score: Some(0.9),
            },
        )
        .await?;
    assert_eq!(texts(close), ["late", "near"]);

    let early = Filter {
        created_before: Some(2_000),
        ..tasks.clone()
    };
    let hits = store
        .search(
            c,
            Search {
                filter: early,
                vector: vector(0, 0.0),
                limit: 10,
                min_score: Some(0.9),
            },
        )
        .await?;
    assert_eq!(texts(hits), ["near"]);
    let recent = Filter {
        created_from: Some(2_000),
        ..tasks
    };
    let hits = store
        .search(
            c,
            Search {
                filter: recent,
                vector: vector(0, 0.0),
                limit: 10,
                min_score: None,
            },
        )
        .await?;
    assert_eq!(texts(hits), ["late"]);

    let episodes = store
        .search(
            c,
            search_filter(Filter::org("acme").level(Level::Episode), vector(0, 0.0)),
        )
        .await?;
    assert_eq!(texts(episodes), ["episode"]);
    assert!(
        store
            .search(c, search("globex", vector(0, 0.0), 10))
            .await?
            .is_empty()
    );
    Ok(())
}

async fn namespaces_filter_knowledge<S: VectorStore>(store: &S, c: &str) -> anyhow::Result<()> {
    let mut costs = point("acme", Level::Knowledge, "costs", vector(0, 0.0));
    costs.namespace = Some("cost_anomalies".to_owned());
    let mut runbooks = point("acme", Level::Knowledge, "runbooks", vector(0, 0.0));
    runbooks.namespace = Some("runbooks".to_owned());
    store.upsert(c, vec![costs, runbooks]).await?;
    let hits = store
        .search(
            c,
            search_filter(Filter::org("acme").namespace("runbooks"), vector(0, 0.0)),
        )
        .await?;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].point.text, "runbooks");
    assert_eq!(
        store
            .count(c, Filter::org("acme").namespace("cost_anomalies"))
            .await?,
        1
    );
    Ok(())
}

async fn delete_by_filter_removes_only_what_matches<S: VectorStore>(
    store: &S,
    c: &str,
) -> anyhow::Result<()> {
    let task = point("acme", Level::Task, "task", vector(0, 0.0));
    let episode = point("acme", Level::Episode, "episode", vector(0, 0.0));
    let globex = point("globex", Level::Task, "globex task", vector(0, 0.0));
    store
        .upsert(c, vec![task.clone(), episode.clone(), globex.clone()])
        .await?;

    assert_eq!(store.delete(c, Filter::org("acme").level(Level::Task)).await?, 1);
    assert_eq!(store.get(c, "acme", task.id).await?, None);
    assert!(store.get(c, "acme", episode.id).await?.is_some());
    assert!(store.get(c, "globex", globex.id).await?.is_some());
    let hits = store.search(c, search("acme", vector(0, 0.0), 10)).await?;
    assert_eq!(hits.len(), 1, "the deleted point's vector is gone too");
    assert_eq!(store.delete(c, Filter::org("acme")).await?, 1);
    assert_eq!(store.count(c, Filter::org("acme")).await?, 0);
    assert_eq!(store.count(c, Filter::org("globex")).await?, 1);
    let error = store.delete(c, Filter::org("")).await;
    assert!(matches!(error, Err(Error::NoOrg)), "{error:?}");
    Ok(())
}

async fn expired_points_are_hidden_then_swept_across_orgs<S: VectorStore>(
    store: &S,
    c: &str,
) -> anyhow::Result<()> {
    let mut old = point("acme", Level::Task, "old", vector(0, 0.0));
    old.expires_at = Some(2_000);
    let mut other = point("globex", Level::Task, "globex old", vector(0, 0.0));
    other.expires_at = Some(1_500);
    let kept = point("acme", Level::Knowledge, "kept", vector(0, 0.0));
    store.upsert(c, vec![old.clone(), other, kept]).await?;

    let alive = |at| Filter {
        alive_at: Some(at),
        ..Filter::org("acme")
    };
    assert_eq!(
        store
            .search(c, search_filter(alive(1_999), vector(0, 0.0)))
            .await?
            .len(),
        2
    );
    assert_eq!(
        store
            .search(c, search_filter(alive(2_000), vector(0, 0.0)))
            .await?
            .len(),
        1
    );
    assert_eq!(store.count(c, alive(2_000)).await?, 1);

    assert_eq!(store.delete_expired(c, 1_999).await?, 1);
    assert_eq!(store.delete_expired(c, 2_000).await?, 1);
    assert_eq!(store.get(c, "acme", old.id).await?, None);
    assert_eq!(store.count(c, Filter::org("acme")).await?, 1);
    assert_eq!(store.count(c, Filter::org("globex")).await?, 0);
    Ok(())
}

#[tokio::test]
async fn points_survive_reopening() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let written = point("acme", Level::Task, "kept", vector(2, 0.0));
    {
        let store = SqliteVec::open(dir.path())?;
        store.ensure_collection(&collection()).await?;
        store.upsert(COLLECTION, vec![written.clone()]).await?;
    }
    let store = SqliteVec::open(dir.path())?;
    store.ensure_collection(&collection()).await?;
    assert_eq!(store.get(COLLECTION, "acme", written.id).await?, Some(written));
    Ok(())
}

#[tokio::test]
async fn a_corrupt_store_file_is_a_clear_error() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("memory.sqlite"), vec![0x5a; 64 * 1024])?;
    let error = SqliteVec::open(dir.path()).err();
    assert!(matches!(error, Some(Error::Corrupt { .. })), "{error:?}");
    let message = error.map(|error| error.to_string()).unwrap_or_default();
    assert!(
        message.contains("memory.sqlite") && message.contains("damaged"),
        "{message}"
    );
    Ok(())
}

#[tokio::test]
async fn a_store_locked_by_another_writer_is_a_clear_error() -> anyhow::Result<()> {
    let (_, dir) = store().await?;
    let store = SqliteVec::open_with(
        dir.path(),
        SqliteOptions {
            busy_timeout: Duration::from_millis(100),
            ..SqliteOptions::default()
        },
    )?;
    // Another writer, as SQLite sees it (another process's connection takes the same file lock).
    let other = rusqlite::Connection::open(store.path())?;
    other.execute_batch("BEGIN IMMEDIATE")?;
    let error = store
        .upsert(COLLECTION, vec![point("acme", Level::Task, "t", vector(0, 0.0))])
        .await;
    assert!(matches!(error, Err(Error::Locked { .. })), "{error:?}");
    let message = error.err().map(|error| error.to_string()).unwrap_or_default();
    assert!(message.contains("locked by another process"), "{message}");
    other.execute_batch("ROLLBACK")?;
    store
        .upsert(COLLECTION, vec![point("acme", Level::Task, "t", vector(0, 0.0))])
        .await?;
    assert_eq!(store.count(COLLECTION, Filter::org("acme")).await?, 1);
    Ok(())
}

fn search(org: &str, vector: Vec<f32>, limit: usize) -> Search {
    Search {
        filter: Filter::org(org),
        vector,
        limit,
        min_score: None,
    }
}

fn search_filter(filter: Filter, vector: Vec<f32>) -> Search {
    Search {
        filter,
        vector,
        limit: 10,
        min_score: None,
    }
}
