//! The five levels: what a run loads before it starts and writes after it ends.

use std::sync::Arc;
use std::time::Duration;

use memory::{
    AgentScope, ContextRequest, Error, Filter, Level, LocalEmbedder, ManualClock, Memory, MemoryConfig,
    Preferences, SqliteVec, VectorStore as _,
};

use crate::support::embedder;

const DAY: Duration = Duration::from_secs(24 * 60 * 60);
const START: i64 = 1_800_000_000_000;

struct Fixture {
    memory: Memory<SqliteVec, LocalEmbedder>,
    clock: Arc<ManualClock>,
    scope: AgentScope,
    _dir: tempfile::TempDir,
}

async fn fixture() -> anyhow::Result<Fixture> {
    let dir = tempfile::tempdir()?;
    let clock = Arc::new(ManualClock::new(START));
    let memory = Memory::open(
        SqliteVec::open(dir.path())?,
        embedder()?,
        MemoryConfig::default(),
        clock.clone(),
    )
    .await?;
    let scope = AgentScope {
        org: "acme".to_owned(),
        agent: "finops".to_owned(),
        namespaces: vec!["cost_anomalies".to_owned(), "runbooks".to_owned()],
        ..AgentScope::default()
    };
    Ok(Fixture {
        memory,
        clock,
        scope,
        _dir: dir,
    })
}

fn request(query: &str) -> ContextRequest {
    ContextRequest {
        query: query.to_owned(),
        ..ContextRequest::default()
    }
}

#[tokio::test]
async fn a_context_holds_every_level_of_its_own_org_and_agent() -> anyhow::Result<()> {
    let Fixture {
        memory, scope, _dir, ..
    } = fixture().await?;
    let null = serde_json::Value::Null;
    memory
        .write_task_summary(
            &scope,
            "Found an idle GPU cluster costing $4,000 a month",
            null.clone(),
        )
        .await?;
    memory
        .write_episode(
            &scope,
            "Shutting down idle GPU instances was approved and saved money",
            null.clone(),
        )
        .await?;
    memory
        .write_knowledge(
            &scope,
            "cost_anomalies",
            "Idle GPU instances are the most common cost anomaly",
            null.clone(),
        )
        .await?;
    memory
        .write_knowledge(
            &scope,
            "runbooks",
            "The office coffee machine is descaled on Fridays",
            null.clone(),
        )
        .await?;
    memory
        .put_preferences(
            "acme",
            Preferences {
                version: 1,
                entries: [("currency".to_owned(), "EUR".to_owned())].into(),
            },
        )
        .await?;
    let other_agent = AgentScope {
        agent: "support".to_owned(),
        ..scope.clone()
    };
    memory
        .write_task_summary(&other_agent, "Idle GPU cluster ticket answered", null.clone())
        .await?;
    let other_org = AgentScope {
        org: "globex".to_owned(),
        ..scope.clone()
    };
    memory
        .write_task_summary(&other_org, "Idle GPU cluster at globex", null.clone())
        .await?;

    let context = memory
        .load_context(
            &scope,
            ContextRequest {
                session: Some("step 3 of 5: checking GPU spend".to_owned()),
                ..request("idle GPU cost")
            },
        )
        .await?;
    assert_eq!(
        context.session.as_deref(),
        Some("step 3 of 5: checking GPU spend")
    );
    assert_eq!(context.preferences, [("currency".to_owned(), "EUR".to_owned())]);
    assert_eq!(context.tasks.len(), 1, "{:?}", context.tasks);
    assert!(context.tasks[0].text.contains("$4,000"));
    assert_eq!(context.episodes.len(), 1);
    // Knowledge needs a similarity of 0.7: the GPU anomaly is in, the coffee machine is not.
    assert!(
        context.knowledge.iter().all(|item| !item.text.contains("coffee")),
        "{:?}",
        context.knowledge
    );
    assert!(context.knowledge.iter().all(|item| item.score >= 0.7));
    for section in [
        "## Session",
        "## Preferences",
        "## Past tasks",
        "## Past episodes",
        "- currency: EUR",
    ] {
        assert!(
            context.text.contains(section),
            "{section} missing from:\n{}",
            context.text
        );
    }
    assert!(!context.text.contains("globex") && !context.text.contains("ticket answered"));
    assert_eq!(context.tokens, memory.count_tokens(&context.text));
    Ok(())
}

#[tokio::test]
async fn the_context_fits_the_budget_and_drops_duplicates() -> anyhow::Result<()> {
    let Fixture {
        memory, scope, _dir, ..
    } = fixture().await?;
    let null = serde_json::Value::Null;
    for index in 0..5 {
        let text = format!(
            "Storage costs rose in region {index} because snapshots were never deleted. {}",
            "Details follow. ".repeat(20)
        );
        memory.write_task_summary(&scope, &text, null.clone()).await?;
    }
    memory
        .write_episode(
            &scope,
            "Storage  costs rose in REGION 0 because snapshots were never deleted. ",
            null.clone(),
        )
        .await?;
    memory
        .write_episode(
            &scope,
            "storage costs rose in region 0 because snapshots were never deleted.",
            null.clone(),
        )
        .await?;

    let full = memory
        .load_context(&scope, request("why did storage costs rise"))
        .await?;
    assert_eq!(full.tasks.len(), 5);
    assert_eq!(
        full.episodes.len(),
        1,
        "the two episodes differ only in case and spacing"
    );
    assert_eq!(full.dropped, 1);

    let budget = full.tokens / 2;
    let small = memory
        .load_context(
            &scope,
            ContextRequest {
                budget_tokens: Some(budget),
                ..request("why did storage costs rise")
            },
        )
        .await?;
    assert!(
        small.tokens <= budget,
        "{} tokens for a budget of {budget}",
        small.tokens
    );
    assert!(small.tasks.len() < 5 && small.dropped > 1);
    assert!(!small.tasks.is_empty());

    let session = "word ".repeat(5_000);
    let tiny = memory
        .load_context(
            &scope,
            ContextRequest {
                budget_tokens: Some(50),
                session: Some(session),
                ..request("storage")
            },
        )
        .await?;
    assert!(tiny.tokens <= 50, "{}", tiny.tokens);
    assert!(
        tiny.session.is_some_and(|session| !session.is_empty()),
        "the session is cut, not dropped"
    );
    Ok(())
}

#[tokio::test]
async fn undeclared_namespaces_and_empty_texts_are_refused() -> anyhow::Result<()> {
    let Fixture {
        memory, scope, _dir, ..
    } = fixture().await?;
    let error = memory
        .write_knowledge(&scope, "secrets", "x", serde_json::Value::Null)
        .await;
    assert!(
        matches!(error, Err(Error::UndeclaredNamespace { .. })),
        "{error:?}"
    );
    let error = memory
        .load_context(
            &scope,
            ContextRequest {
                namespaces: Some(vec!["secrets".to_owned()]),
                ..request("x")
            },
        )
        .await;
    let message = error.err().map(|error| error.to_string()).unwrap_or_default();
    assert!(
        message.contains("\"secrets\" is not declared") && message.contains("cost_anomalies"),
        "{message}"
    );
    let error = memory
        .write_task_summary(&scope, "  \n ", serde_json::Value::Null)
        .await;
    assert!(matches!(error, Err(Error::EmptyText)), "{error:?}");

    // An empty query still gives the session and preferences.
    let context = memory
        .load_context(
            &scope,
            ContextRequest {
                session: Some("state".to_owned()),
                ..request("")
            },
        )
        .await?;
    assert_eq!(context.session.as_deref(), Some("state"));
    Ok(())
}

#[tokio::test]
async fn task_summaries_expire_after_30_days_and_episodes_after_90() -> anyhow::Result<()> {
    let Fixture {
        memory,
        clock,
        scope,
        _dir,
    } = fixture().await?;
    let null = serde_json::Value::Null;
    memory
        .write_task_summary(&scope, "Rightsized the database", null.clone())
        .await?;
    memory
        .write_episode(&scope, "Rightsizing the database was approved", null.clone())
        .await?;
    memory
        .write_knowledge(&scope, "runbooks", "How to rightsize a database", null.clone())
        .await?;
    let count = |level| {
        memory
            .store()
            .count(memory.collection(), Filter::org("acme").level(level))
    };

    clock.advance(30 * DAY - Duration::from_secs(1));
    assert_eq!(memory.gc().await?, 0);
    let context = memory
        .load_context(&scope, request("database rightsizing"))
        .await?;
    assert_eq!((context.tasks.len(), context.episodes.len()), (1, 1));

    clock.advance(Duration::from_secs(1));
    let context = memory
        .load_context(&scope, request("database rightsizing"))
        .await?;
    assert_eq!(
        (context.tasks.len(), context.episodes.len()),
        (0, 1),
        "expired before gc ran"
    );
    assert_eq!(count(Level::Task).await?, 1);
    assert_eq!(memory.gc().await?, 1);
    assert_eq!(count(Level::Task).await?, 0);

    clock.advance(60 * DAY);
    assert_eq!(memory.gc().await?, 1);
    assert_eq!(count(Level::Episode).await?, 0);
    clock.advance(3650 * DAY);
    assert_eq!(memory.gc().await?, 0);
    assert_eq!(count(Level::Knowledge).await?, 1, "knowledge is kept");
    Ok(())
}

#[tokio::test]
async fn a_manifest_sizes_its_contexts() -> anyhow::Result<()> {
    let Fixture {
        memory, scope, _dir, ..
    } = fixture().await?;
    let null = serde_json::Value::Null;
    for index in 0..4 {
        let text = format!("Storage costs rose in region {index} because snapshots were never deleted.");
        memory.write_task_summary(&scope, &text, null.clone()).await?;
        memory
            .write_episode(&scope, &format!("episode {index}: {text}"), null.clone())
            .await?;
    }
    let ask = || request("why did storage costs rise");
    let default = memory.load_context(&scope, ask()).await?;
    assert_eq!(
        (default.tasks.len(), default.episodes.len()),
        (4, 3),
        "5 and 3 by default"
    );

    let declared: manifest::Memory = serde_json::from_value(serde_json::json!({
        "knowledge": ["cost_anomalies", "runbooks"],
        "context": {"tasks": 2, "episodes": 1, "knowledge": 4, "min_score": 0.99}
    }))?;
    let sized = AgentScope::from_manifest(scope.org.clone(), scope.agent.clone(), &declared);
    assert_eq!(sized.knowledge_top_k, Some(4));
    let tuned = memory.load_context(&sized, ask()).await?;
    assert_eq!((tuned.tasks.len(), tuned.episodes.len()), (2, 1));
    Ok(())
}

#[tokio::test]
async fn a_manifest_tunes_lifetimes_within_limits() -> anyhow::Result<()> {
    let Fixture {
        memory,
        clock,
        scope,
        _dir,
    } = fixture().await?;
    let declared: manifest::Memory = serde_json::from_value(serde_json::json!({
        "knowledge": ["runbooks"],
        "ttl": {"task": "2days", "episode": "1s"}
    }))?;
    let tuned = AgentScope::from_manifest(scope.org.clone(), scope.agent.clone(), &declared);
    assert_eq!(tuned.namespaces, ["runbooks"]);
    memory
        .write_task_summary(&tuned, "short-lived summary", serde_json::Value::Null)
        .await?;
    memory
        .write_episode(&tuned, "episode held at least an hour", serde_json::Value::Null)
        .await?;
    clock.advance(Duration::from_secs(30 * 60));
    assert_eq!(memory.gc().await?, 0, "an episode lives at least MIN_TTL");
    clock.advance(Duration::from_secs(31 * 60));
    assert_eq!(memory.gc().await?, 1);
    clock.advance(2 * DAY);
    assert_eq!(memory.gc().await?, 1);
    Ok(())
}

#[tokio::test]
async fn preferences_are_cached_by_version() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let clock = Arc::new(ManualClock::new(START));
    let open = || async {
        Memory::open(
            SqliteVec::open(dir.path())?,
            embedder()?,
            MemoryConfig::default(),
            clock.clone(),
        )
        .await
        .map_err(anyhow::Error::from)
    };
    let memory = open().await?;
    assert_eq!(memory.preferences("acme").await?.version, 0);
    let v2 = Preferences {
        version: 2,
        entries: [("tone".to_owned(), "brief".to_owned())].into(),
    };
    assert!(memory.put_preferences("acme", v2.clone()).await?);
    let v1 = Preferences {
        version: 1,
        entries: [("tone".to_owned(), "chatty".to_owned())].into(),
    };
    assert!(
        !memory.put_preferences("acme", v1).await?,
        "an older version is ignored"
    );
    assert_eq!(*memory.preferences("acme").await?, v2);
    assert_eq!(memory.preferences("globex").await?.version, 0);

    let reopened = open().await?;
    assert_eq!(
        *reopened.preferences("acme").await?,
        v2,
        "read back from the store"
    );
    let context = reopened
        .load_context(
            &AgentScope {
                org: "acme".to_owned(),
                agent: "a".to_owned(),
                ..AgentScope::default()
            },
            ContextRequest {
                preference_keys: Some(vec!["tone".to_owned()]),
                ..request("")
            },
        )
        .await?;
    assert_eq!(context.preferences, [("tone".to_owned(), "brief".to_owned())]);
    Ok(())
}

#[tokio::test]
async fn another_models_memory_is_refused() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = SqliteVec::open(dir.path())?;
    store
        .ensure_collection(&memory::Collection {
            name: "memory_all_minilm_l6_v2".to_owned(),
            model: "text-embedding-3-small".to_owned(),
            dimension: 1536,
        })
        .await?;
    let error = Memory::open(
        store,
        embedder()?,
        MemoryConfig::default(),
        Arc::new(ManualClock::new(0)),
    )
    .await;
    assert!(
        matches!(error, Err(Error::ModelMismatch { .. })),
        "{:?}",
        error.err()
    );
    Ok(())
}

#[tokio::test]
async fn recall_searches_the_chosen_levels_of_its_own_org_and_agent_best_first() -> anyhow::Result<()> {
    let Fixture {
        memory,
        clock,
        scope,
        _dir,
    } = fixture().await?;
    let null = serde_json::Value::Null;
    memory
        .write_knowledge(
            &scope,
            "cost_anomalies",
            "Idle GPU instances are the most common cost anomaly",
            null.clone(),
        )
        .await?;
    memory
        .write_knowledge(
            &scope,
            "runbooks",
            "Rotate the database password monthly",
            null.clone(),
        )
        .await?;
    memory
        .write_task_summary(
            &scope,
            "Found idle GPU instances in the staging account",
            null.clone(),
        )
        .await?;
    let other_agent = AgentScope {
        agent: "other".to_owned(),
        ..scope.clone()
    };
    memory
        .write_task_summary(
            &other_agent,
            "Idle GPU instances found by another agent",
            null.clone(),
        )
        .await?;
    let other_org = AgentScope {
        org: "globex".to_owned(),
        ..scope.clone()
    };
    memory
        .write_knowledge(
            &other_org,
            "cost_anomalies",
            "Idle GPU instances at globex",
            null.clone(),
        )
        .await?;

    let recall = |levels: Vec<Level>, namespace: Option<&str>| memory::Recall {
        query: "idle GPU instances".to_owned(),
        levels,
        namespace: namespace.map(str::to_owned),
        limit: 10,
        min_score: None,
    };
    let hits = memory
        .recall(&scope, recall(vec![Level::Knowledge, Level::Task], None))
        .await?;
    let texts: Vec<&str> = hits.iter().map(|hit| hit.point.text.as_str()).collect();
    assert_eq!(hits.len(), 3, "{texts:?}");
    assert!(
        texts
            .iter()
            .all(|text| !text.contains("globex") && !text.contains("another agent"))
    );
    assert!(hits.windows(2).all(|pair| pair[0].score >= pair[1].score));
    assert_eq!(texts.last(), Some(&"Rotate the database password monthly"));

    let only = memory
        .recall(&scope, recall(vec![Level::Knowledge], Some("cost_anomalies")))
        .await?;
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].point.namespace.as_deref(), Some("cost_anomalies"));
    let strict = memory::Recall {
        min_score: Some(0.99),
        ..recall(vec![Level::Knowledge, Level::Task], None)
    };
    assert!(memory.recall(&scope, strict).await?.is_empty());

    clock.advance(31 * DAY);
    let later = memory.recall(&scope, recall(vec![Level::Task], None)).await?;
    assert!(later.is_empty(), "an expired task summary came back");
    Ok(())
}

#[tokio::test]
async fn recall_refuses_an_empty_query_an_unsearchable_level_and_an_undeclared_namespace()
-> anyhow::Result<()> {
    let Fixture {
        memory, scope, _dir, ..
    } = fixture().await?;
    let recall = |query: &str, level: Level, namespace: Option<&str>| memory::Recall {
        query: query.to_owned(),
        levels: vec![level],
        namespace: namespace.map(str::to_owned),
        limit: 5,
        min_score: None,
    };
    assert!(matches!(
        memory.recall(&scope, recall("  ", Level::Task, None)).await,
        Err(Error::EmptyQuery)
    ));
    let error = memory
        .recall(&scope, recall("gpu", Level::Preferences, None))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::NotSearchable(Level::Preferences)));
    assert!(
        error
            .to_string()
            .starts_with("the preferences level is not searched"),
        "{error}"
    );
    assert!(matches!(
        memory
            .recall(&scope, recall("gpu", Level::Knowledge, Some("secrets")))
            .await,
        Err(Error::UndeclaredNamespace { .. })
    ));
    Ok(())
}
