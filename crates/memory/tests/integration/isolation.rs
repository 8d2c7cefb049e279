//! No query ever returns or removes another org's point, whatever the orgs and points.

use memory::{Filter, Level, Search, VectorStore};
use proptest::prelude::*;

use crate::support::{COLLECTION, DIM, point, store};

const ORGS: [&str; 4] = ["acme", "globex", "initech", "acme-eu"];

fn arb_vector() -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec(-1.0f32..1.0, DIM).prop_filter("not all zero", |vector| {
        vector.iter().any(|value| value.abs() > 1e-3)
    })
}

fn arb_points() -> impl Strategy<Value = Vec<(usize, usize, Vec<f32>)>> {
    prop::collection::vec((0..ORGS.len(), 0..3usize, arb_vector()), 1..40)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn no_query_crosses_orgs(points in arb_points(), query in arb_vector(), limit in 1..60usize) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let outcome: anyhow::Result<()> = runtime.block_on(async {
            let (store, _dir) = store().await?;
            let levels = [Level::Task, Level::Knowledge, Level::Episode];
            let written: Vec<_> = points
                .iter()
                .enumerate()
                .map(|(index, (org, level, vector))| {
                    point(ORGS[*org], levels[*level], &format!("p{index}"), vector.clone())
                })
                .collect();
            store.upsert(COLLECTION, written.clone()).await?;
            for org in ORGS {
                let owned: Vec<_> = written.iter().filter(|point| point.org == org).collect();
                let hits = store
                    .search(COLLECTION, Search { filter: Filter::org(org), vector: query.clone(), limit, min_score: None })
                    .await?;
                anyhow::ensure!(hits.iter().all(|hit| hit.point.org == org), "a search of {org} returned another org's point");
                anyhow::ensure!(hits.len() == owned.len().min(limit), "{org}: {} hits of {} points", hits.len(), owned.len());
                anyhow::ensure!(store.count(COLLECTION, Filter::org(org)).await? == owned.len() as u64);
                for other in written.iter().filter(|point| point.org != org) {
                    anyhow::ensure!(store.get(COLLECTION, org, other.id).await?.is_none(), "{org} read another org's point");
                }
            }
            let victim = ORGS[points[0].0];
            let deleted = store.delete(COLLECTION, Filter::org(victim)).await?;
            anyhow::ensure!(deleted == written.iter().filter(|point| point.org == victim).count() as u64);
            for point in written.iter().filter(|point| point.org != victim) {
                anyhow::ensure!(store.get(COLLECTION, &point.org, point.id).await?.is_some(), "deleting {victim} removed another org's point");
            }
            Ok(())
        });
        prop_assert!(outcome.is_ok(), "{:?}", outcome.err());
    }
}
