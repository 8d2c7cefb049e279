//! No query ever returns or removes another org's point, whatever the orgs and points: on the embedded store
//! always, and on a Qdrant server when `QDRANT_URL` names one.

use memory::{Filter, Level, Search, VectorStore};
use proptest::prelude::*;

use crate::support::{DIM, point, qdrant, store};

const ORGS: [&str; 4] = ["acme", "globex", "initech", "acme-eu"];

type Points = Vec<(usize, usize, Vec<f32>)>;

fn arb_vector() -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec(-1.0f32..1.0, DIM).prop_filter("not all zero", |vector| {
        vector.iter().any(|value| value.abs() > 1e-3)
    })
}

fn arb_points() -> impl Strategy<Value = Points> {
    prop::collection::vec((0..ORGS.len(), 0..3usize, arb_vector()), 1..40)
}

async fn no_query_crosses_orgs_in<S: VectorStore>(
    store: &S,
    collection: &str,
    points: &Points,
    query: &[f32],
    limit: usize,
) -> anyhow::Result<()> {
    let levels = [Level::Task, Level::Knowledge, Level::Episode];
    let written: Vec<_> = points
        .iter()
        .enumerate()
        .map(|(index, (org, level, vector))| {
            point(ORGS[*org], levels[*level], &format!("p{index}"), vector.clone())
        })
        .collect();
    store.upsert(collection, written.clone()).await?;
    for org in ORGS {
        let owned = written.iter().filter(|point| point.org == org).count();
        let search = Search {
            filter: Filter::org(org),
            vector: query.to_vec(),
            limit,
            min_score: None,
        };
        let hits = store.search(collection, search).await?;
        anyhow::ensure!(
            hits.iter().all(|hit| hit.point.org == org),
            "a search of {org} returned another org's point"
        );
        anyhow::ensure!(
            hits.len() == owned.min(limit),
            "{org}: {} hits of {owned} points",
            hits.len()
        );
        anyhow::ensure!(store.count(collection, Filter::org(org)).await? == owned as u64);
        for other in written.iter().filter(|point| point.org != org) {
            anyhow::ensure!(
                store.get(collection, org, other.id).await?.is_none(),
                "{org} read another org's point"
            );
        }
    }
    let victim = ORGS[points[0].0];
    let deleted = store.delete(collection, Filter::org(victim)).await?;
    anyhow::ensure!(deleted == written.iter().filter(|point| point.org == victim).count() as u64);
    for point in written.iter().filter(|point| point.org != victim) {
        anyhow::ensure!(
            store.get(collection, &point.org, point.id).await?.is_some(),
            "deleting {victim} removed another org's point"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn no_query_crosses_orgs(points in arb_points(), query in arb_vector(), limit in 1..60usize) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let outcome: anyhow::Result<()> = runtime.block_on(async {
            let (sqlite, _dir) = store().await?;
            no_query_crosses_orgs_in(&sqlite, crate::support::COLLECTION, &points, &query, limit).await?;
            if let Some((server, collection)) = qdrant().await? {
                no_query_crosses_orgs_in(&server, &collection, &points, &query, limit).await?;
            }
            Ok(())
        });
        prop_assert!(outcome.is_ok(), "{:?}", outcome.err());
    }
}
