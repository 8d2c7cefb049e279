//! The local model, for real: meaning decides what is near.

use memory::{Collection, Embedder as _, Filter, Level, Search, SqliteVec, VectorStore as _};

use crate::support::{cosine, embedder, point};

#[tokio::test]
async fn a_cat_on_a_rug_is_nearer_a_cat_on_a_mat_than_revenue() -> anyhow::Result<()> {
    let embedder = embedder()?;
    let texts = [
        "the cat sits on the mat",
        "a cat is sitting on a rug",
        "quarterly revenue grew by ten percent",
    ];
    let vectors = embedder
        .embed(texts.iter().map(|text| (*text).to_owned()).collect())
        .await?;
    assert_eq!(vectors.len(), 3);
    let (cat, rug, revenue) = (&vectors[0], &vectors[1], &vectors[2]);
    assert!(
        cosine(cat, rug) > cosine(cat, revenue) + 0.3,
        "cat~rug {} vs cat~revenue {}",
        cosine(cat, rug),
        cosine(cat, revenue)
    );

    // And through the store's search, as memory uses it.
    let dir = tempfile::tempdir()?;
    let store = SqliteVec::open(dir.path())?;
    let collection = Collection {
        name: "semantic".to_owned(),
        model: embedder.model().to_owned(),
        dimension: 384,
    };
    store.ensure_collection(&collection).await?;
    store
        .upsert(
            "semantic",
            vec![
                point("acme", Level::Knowledge, texts[2], revenue.clone()),
                point("acme", Level::Knowledge, texts[1], rug.clone()),
            ],
        )
        .await?;
    let hits = store
        .search(
            "semantic",
            Search {
                filter: Filter::org("acme"),
                vector: cat.clone(),
                limit: 2,
                min_score: None,
            },
        )
        .await?;
    let order: Vec<_> = hits.iter().map(|hit| hit.point.text.as_str()).collect();
    assert_eq!(order, [texts[1], texts[2]]);
    Ok(())
}

#[tokio::test]
async fn vectors_are_unit_length_and_do_not_depend_on_the_batch() -> anyhow::Result<()> {
    let embedder = embedder()?;
    assert_eq!(embedder.dimension(), 384);
    let alone = embedder.embed(vec!["disk usage alert".to_owned()]).await?;
    let batched = embedder
        .embed(vec![
            "a much longer text that forces padding of the shorter one in the same batch, with many words"
                .to_owned(),
            "disk usage alert".to_owned(),
        ])
        .await?;
    let norm = alone[0].iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4, "{norm}");
    assert!(
        cosine(&alone[0], &batched[1]) > 0.9999,
        "padding changed the vector"
    );
    Ok(())
}

#[tokio::test]
async fn empty_huge_and_odd_texts_are_embedded_without_error() -> anyhow::Result<()> {
    let embedder = embedder()?;
    let huge = "cloud spend ".repeat(200_000);
    let texts = vec![
        String::new(),
        huge.clone(),
        "日本語のテキスト 🚀 \u{0} \u{200b}".to_owned(),
    ];
    let vectors = embedder.embed(texts).await?;
    assert_eq!(vectors.len(), 3);
    for vector in &vectors {
        assert_eq!(vector.len(), 384);
        assert!(vector.iter().all(|v| v.is_finite()));
    }
    // Truncated to the first 256 tokens: what comes after them does not change the vector.
    let longer = format!("{huge} and then something entirely different about cats");
    let again = embedder.embed(vec![longer]).await?;
    assert!(cosine(&vectors[1], &again[0]) > 0.9999);
    Ok(())
}

#[test]
fn bytes_that_are_not_utf8_are_refused_with_their_offset() {
    assert_eq!(memory::text_from_bytes(b"fine").ok(), Some("fine"));
    let error = memory::text_from_bytes(b"ok \xff\xfe").err();
    assert!(matches!(error, Some(memory::Error::NotUtf8(3))), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cpu_an_embedding_takes_is_counted_for_its_caller() -> anyhow::Result<()> {
    let embedder = embedder()?;
    let texts: Vec<String> = (0..16)
        .map(|i| format!("invoice line {i}: compute spend rose sharply in eu-west-1 this week"))
        .collect();
    let started = std::time::Instant::now();
    let (vectors, spent) = memory::cpu::spent_by(embedder.embed(texts.clone())).await;
    let wall = started.elapsed();
    assert_eq!(vectors?.len(), 16);
    // The model ran on a blocking thread, not this task's: its CPU time is what the caller is told.
    assert!(
        spent > std::time::Duration::from_millis(5),
        "{spent:?} of CPU in {wall:?}"
    );
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    assert!(
        spent <= wall * u32::try_from(threads)? + std::time::Duration::from_millis(50),
        "{spent:?} in {wall:?}"
    );

    // Outside a measured call the same work is simply not counted anywhere.
    assert_eq!(embedder.embed(texts).await?.len(), 16);
    let ((), nothing) = memory::cpu::spent_by(async {}).await;
    assert_eq!(nothing, std::time::Duration::ZERO);
    Ok(())
}
