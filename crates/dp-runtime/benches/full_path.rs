//! A 40-node sequential workflow of trivial nodes through the whole path — run created over HTTP, queued,
//! claimed by a data plane's long-poll, each node checkpointed to the control plane, completed — on this
//! machine (target ≤ 100 ms), beside a 1-node workflow through the same path measured in the same run (the
//! path's fixed cost; their difference over 39 is what a node adds).
//!
//! Both planes run in this process and talk over real HTTP on 127.0.0.1: `cp-api` on SQLite, and on
//! PostgreSQL too when `TEST_DATABASE_URL` is set (`just bench` sets it); the data plane with its production
//! settings (event batches every 200 ms or 100 events, flushed at the end of each task). A run's time is the
//! control plane's own record: from `created_at` to `finished_at`. `BENCH_RUNS` sets the runs per figure
//! (default 30).
//!
//! `cargo bench -p dp-runtime --bench full_path`

#[expect(
    dead_code,
    clippy::unwrap_used,
    reason = "the integration tests' control-plane harness, shared; a bench panics on setup errors as a test does"
)]
#[path = "../tests/integration/cp.rs"]
mod cp;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use cp::{Backend, Cp, Installed};
use dp_runtime::client::ControlPlane;
use dp_runtime::nodes::{NodeRegistry, Services, register_builtin_nodes};
use dp_runtime::poller::{Metrics, Poller, PollerConfig};
use dp_runtime::redact::Redactor;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// `count` transform nodes in a chain, each taking a number from its predecessor's output (outputs stay the
/// same small size, as trivial nodes' do).
fn chain(name: &str, count: usize) -> String {
    let mut nodes = String::new();
    let mut edges = String::new();
    for index in 0..count {
        let input = if index == 0 {
            "$/inputs/period".to_owned()
        } else {
            format!("$/n{}/step", index - 1)
        };
        nodes.push_str(&format!(
            "    - {{ id: n{index}, kind: transform, config: {{ input: {{ step: {index}, before: \"{input}\" }} }} }}\n"
        ));
        if index > 0 {
            edges.push_str(&format!("    - {{ from: n{}, to: n{index} }}\n", index - 1));
        }
    }
    if edges.is_empty() {
        edges.push_str("    []\n");
    }
    format!(
        "id: com.example.bench.{name}\nname: Bench {name}\nversion: 1.0.0\ndescription: {count} trivial nodes in a \
         chain.\ncategory: testing\nworkflow:\n  nodes:\n{nodes}  edges:\n{edges}"
    )
}

type Running = tokio::task::JoinHandle<Result<(), dp_runtime::client::ClientError>>;

fn data_plane(cp: &Cp, at: &Installed) -> anyhow::Result<(CancellationToken, Running)> {
    let mut registry = NodeRegistry::new();
    register_builtin_nodes(&mut registry, &Services::default());
    let client = ControlPlane::new(
        &cp.base(),
        &at.credential,
        Arc::new(Redactor::new(vec![at.credential.clone()])),
    )?;
    let poller = Poller::new(
        Arc::new(client),
        Arc::new(registry),
        PollerConfig::new(format!("bench-{}", at.deployment)),
        Arc::new(Metrics::default()),
    );
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(poller.run(shutdown.clone()));
    Ok((shutdown, handle))
}

/// Milliseconds from the run's creation to its end, as the control plane recorded them.
async fn one_run(cp: &Cp, at: &Installed) -> f64 {
    let run = cp.start_run(at, json!({"period": "2025-11"})).await;
    let view = cp.wait_for(at, &run, "succeeded", Duration::from_secs(30)).await;
    let at = |field: &str| -> DateTime<Utc> {
        view[field]
            .as_str()
            .and_then(|text| text.parse().ok())
            .unwrap_or_else(|| panic!("the run has no {field}: {view}"))
    };
    (at("finished_at") - at("created_at"))
        .num_microseconds()
        .unwrap_or_default() as f64
        / 1e3
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

async fn measure(backend: Backend, runs: usize) -> anyhow::Result<Vec<Value>> {
    let cp = Cp::start_on(backend).await;
    let market = cp.market().await;
    let long = cp.publish(&market, &chain("chain-40", 40)).await;
    let short = cp.publish(&market, &chain("chain-1", 1)).await;
    let operator = cp.operator().await;
    let mut figures = Vec::new();
    let mut p50s = Vec::new();
    for agent in [&short, &long] {
        let at = cp.install_into(&operator, agent, &[]).await;
        let (shutdown, handle) = data_plane(&cp, &at)?;
        for _ in 0..3 {
            one_run(&cp, &at).await;
        }
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            times.push(one_run(&cp, &at).await);
        }
        times.sort_by(f64::total_cmp);
        shutdown.cancel();
        handle.await??;
        p50s.push((percentile(&times, 0.5), percentile(&times, 0.95)));
    }
    let backend_name = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let ((short_p50, short_p95), (long_p50, long_p95)) = (p50s[0], p50s[1]);
    let per_node = (long_p50 - short_p50) / 39.0;
    println!(
        "full path on {backend_name}: 40 nodes p50 {long_p50:.1} ms, p95 {long_p95:.1} ms (target p50 ≤ 100 ms); \
         1 node p50 {short_p50:.1} ms, p95 {short_p95:.1} ms; {per_node:.2} ms per node; {runs} runs each"
    );
    figures.push(json!({
        "name": format!("dp-runtime/full_path_40_nodes_{backend_name}"), "value": long_p50, "unit": "ms",
        "target": "≤ 100 ms", "pass": long_p50 <= 100.0,
        "baseline": format!("1 node {short_p50:.1} ms (p95 {short_p95:.1}); {per_node:.2} ms a node; 40 nodes p95 {long_p95:.1} ms"),
    }));
    Ok(figures)
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let runs = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|runs| runs.parse().ok())
        .unwrap_or(30_usize)
        .max(1);
    let mut figures = measure(Backend::Sqlite, runs).await?;
    if std::env::var_os("TEST_DATABASE_URL").is_some() {
        figures.extend(measure(Backend::Postgres, runs).await?);
    }
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../bench");
    std::fs::create_dir_all(&out)?;
    std::fs::write(
        out.join("dp-full-path.json"),
        serde_json::to_string_pretty(&figures)?,
    )?;
    Ok(())
}
