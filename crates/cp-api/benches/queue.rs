//! The task queue's figures, over real HTTP to the release `cp-api` on PostgreSQL, each beside a baseline
//! measured in the same run:
//!
//! - enqueue → claim → complete, tasks per second, with claims of one task (target ≥ 2,000) and of up to 32
//!   (target ≥ 5,000): 4 clients queue runs while 8 data-plane clients claim and complete them; beside a raw
//!   SQL claim loop (8 workers leasing and deleting one task per transaction, no HTTP, no runs) and beside
//!   what HTTP alone allows: the same 12 clients asking `cp-api`'s `/health/live` (no database), whose rate
//!   divided by the requests a task needs (create, claim, complete: 3; with batched claims about 2) bounds
//!   any queue behind that API on this machine;
//! - how soon an idle long-poll returns a run after it is created, p50 (target ≤ 2 ms) and p99 (≤ 10 ms):
//!   from the creating request's answer to the claim's answer (0 when the claim answers first);
//! - the resident memory 1,000 concurrent idle long-polls add to a freshly started `cp-api` (target < 50 MB).
//!
//! `BENCH_TASKS` changes how many tasks each throughput figure drains (default 4,000).

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use cp_api::db::{self, Id, Time};
use cp_api::service::audit::Actor;
use cp_api::service::{catalog, installs, runs};
use serde_json::{Value, json};
use support::{Admin, BenchDb, Figure, Server, bootstrap, explain, report};

const NORMALIZER: &str = include_str!("../../../examples/finops/billing-normalizer.yaml");
const PRODUCERS: usize = 4;
const CLAIMERS: usize = 8;

/// What the measurements need: an API key that may run the deployments, and two deployments' credentials.
struct Setup {
    api_key: String,
    busy: (Id, String),
    idle: String,
    actor: Actor,
}

async fn setup(pool: &db::Pool) -> anyhow::Result<Setup> {
    let mut pooled = pool.get().await?;
    let mut conn = pooled.conn();
    let Admin { org, actor, api_key } = bootstrap(pool).await?;
    let kinds = manifest::BUILTIN_NODE_KINDS;
    let submitted = catalog::submit(
        &mut conn,
        actor.clone(),
        org,
        NORMALIZER.as_bytes(),
        manifest::Format::Yaml,
        kinds,
    )
    .await
    .map_err(|error| explain(error, "the normalizer"))?;
    let agent_id = submitted.version.agent_id.clone();
    catalog::submit_for_review(&mut conn, actor.clone(), org, &agent_id, "1.0.0").await?;
    catalog::publish(&mut conn, actor.clone(), &agent_id, "1.0.0").await?;
    let mut credentials = Vec::new();
    for _ in 0..2 {
        let install = installs::Install {
            agent_id: agent_id.clone(),
            version: "1.0.0".to_owned(),
            deployment_type: "saas".to_owned(),
            config: json!({}),
            granted_permissions: vec!["billing:read".to_owned(), "reports:write".to_owned()],
        };
        let installed = installs::install(&mut conn, actor.clone(), org, install).await?;
        credentials.push((Id(installed.deployment.id), installed.credential));
    }
    let idle = credentials.pop().context("two installs")?.1;
    let busy = credentials.pop().context("two installs")?;
    Ok(Setup {
        api_key,
        busy,
        idle,
        actor,
    })
}

fn inputs() -> Value {
    json!({"inputs": {"billing_source": "s3://bench/exports", "period": "2026-10"}})
}

/// Queues `count` runs through the service (not measured).
async fn enqueue(pool: &db::Pool, setup: &Setup, count: usize) -> anyhow::Result<()> {
    let mut pooled = pool.get().await?;
    let mut conn = pooled.conn();
    for _ in 0..count {
        let request = serde_json::from_value(inputs())?;
        runs::create(&mut conn, setup.actor.clone(), setup.busy.0, None, request).await?;
    }
    Ok(())
}

/// The floor: leasing and deleting tasks straight in SQL, one per transaction, 8 workers.
async fn raw_claim_loop(pool: &db::Pool, deployment: Id, count: usize) -> anyhow::Result<f64> {
    let started = Instant::now();
    let done = Arc::new(AtomicUsize::new(0));
    let workers = (0..CLAIMERS).map(|worker| {
        let (pool, done) = (pool.clone(), Arc::clone(&done));
        async move {
            let mut pooled = pool.get().await?;
            let mut conn = pooled.conn();
            let instance = format!("raw-{worker}");
            loop {
                let until = Time(chrono::Utc::now() + chrono::Duration::seconds(60));
                let claimed = db::transaction(&mut conn, async |tx| {
                    let tasks = db::tasks::claim(tx, deployment, &instance, 1, until, None).await?;
                    for task in &tasks {
                        db::tasks::delete(tx, task.id).await?;
                    }
                    Ok(tasks.len())
                })
                .await?;
                if claimed == 0 {
                    return anyhow::Ok(());
                }
                done.fetch_add(claimed, Ordering::Relaxed);
            }
        }
    });
    for result in futures_util::future::join_all(workers).await {
        result?;
    }
    anyhow::ensure!(
        done.load(Ordering::Relaxed) == count,
        "the raw loop drained {} of {count}",
        done.load(Ordering::Relaxed)
    );
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

/// Requests per second that the pipeline's 12 clients get from `/health/live`, which answers without the
/// database: the most any request can be served at by this machine, server and client.
async fn http_floor(client: &reqwest::Client, base: &str, requests: usize) -> anyhow::Result<f64> {
    let started = Instant::now();
    let sent = Arc::new(AtomicUsize::new(0));
    let clients = (0..PRODUCERS + CLAIMERS).map(|_| {
        let (client, sent) = (client.clone(), Arc::clone(&sent));
        let url = format!("{base}/health/live");
        async move {
            while sent.fetch_add(1, Ordering::Relaxed) < requests {
                let answer = client.get(&url).send().await?;
                anyhow::ensure!(
                    answer.status() == 200,
                    "/health/live answered {}",
                    answer.status()
                );
                answer.bytes().await?;
            }
            anyhow::Ok(())
        }
    });
    for result in futures_util::future::join_all(clients).await {
        result?;
    }
    Ok(requests as f64 / started.elapsed().as_secs_f64())
}

/// Which ends of the pipeline a measurement drives over HTTP.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ends {
    /// Producers queue runs while claimers drain them.
    Both,
    /// Producers only (the runs are drained afterwards, unmeasured).
    Enqueue,
    /// Claimers only, over runs queued beforehand.
    Drain,
}

/// Producers queue `count` runs over HTTP while claimers claim up to `max` at a time and complete each
/// (or only one end of that, as `ends` says); tasks per second from the first request to the last.
async fn pipeline(
    client: &reqwest::Client,
    base: &str,
    setup: &Setup,
    count: usize,
    max: usize,
    ends: Ends,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let queued = Arc::new(AtomicUsize::new(if ends == Ends::Drain { count } else { 0 }));
    let completed = Arc::new(AtomicUsize::new(if ends == Ends::Enqueue { count } else { 0 }));
    let producers = (0..PRODUCERS).map(|_| {
        let (client, queued) = (client.clone(), Arc::clone(&queued));
        let url = format!("{base}/api/v1/deployments/{}/runs", setup.busy.0.0);
        let key = setup.api_key.clone();
        async move {
            while queued.fetch_add(1, Ordering::Relaxed) < count {
                let answer = client.post(&url).bearer_auth(&key).json(&inputs()).send().await?;
                anyhow::ensure!(
                    answer.status() == 201,
                    "queueing a run answered {}",
                    answer.status()
                );
            }
            anyhow::Ok(())
        }
    });
    let claimers = (0..CLAIMERS).map(|claimer| {
        let (client, completed) = (client.clone(), Arc::clone(&completed));
        let credential = setup.busy.1.clone();
        let next = format!("{base}/api/v1/dp/tasks/next?instance_id=bench-{claimer}&max={max}&wait=1s");
        let base = base.to_owned();
        async move {
            while completed.load(Ordering::Relaxed) < count {
                let answer: Value = client
                    .get(&next)
                    .bearer_auth(&credential)
                    .send()
                    .await?
                    .json()
                    .await?;
                for task in answer["tasks"].as_array().into_iter().flatten() {
                    let id = task["task_id"].as_str().context("a task id")?;
                    let done = client
                        .post(format!("{base}/api/v1/dp/tasks/{id}/complete"))
                        .bearer_auth(&credential)
                        .json(&json!({"outputs": {"records": 1, "total_cost": "1.00", "payload_ref": "x"}}))
                        .send()
                        .await?;
                    anyhow::ensure!(done.status() == 200, "completing answered {}", done.status());
                    completed.fetch_add(1, Ordering::Relaxed);
                }
            }
            anyhow::Ok(())
        }
    });
    let (produced, claimed) = tokio::join!(
        futures_util::future::join_all(producers),
        futures_util::future::join_all(claimers)
    );
    for result in produced.into_iter().chain(claimed) {
        result?;
    }
    let rate = count as f64 / started.elapsed().as_secs_f64();
    if ends == Ends::Enqueue {
        Box::pin(pipeline(client, base, setup, count, 32, Ends::Drain)).await?;
    }
    Ok(rate)
}

/// Milliseconds from each run's creation to an idle long-poll's answer with it.
async fn wake_latencies(
    client: &reqwest::Client,
    base: &str,
    setup: &Setup,
    samples: usize,
) -> anyhow::Result<Vec<f64>> {
    let claimed: Arc<tokio::sync::Mutex<HashMap<String, Instant>>> = Arc::default();
    let claimer = {
        let (client, claimed) = (client.clone(), Arc::clone(&claimed));
        let credential = setup.busy.1.clone();
        let base = base.to_owned();
        tokio::spawn(async move {
            let next = format!("{base}/api/v1/dp/tasks/next?instance_id=bench-wait&max=1&wait=25s");
            for _ in 0..samples {
                let answer: Value = client
                    .get(&next)
                    .bearer_auth(&credential)
                    .send()
                    .await?
                    .json()
                    .await?;
                let at = Instant::now();
                let task = answer["tasks"]
                    .get(0)
                    .context("the long-poll ended without a run")?;
                claimed
                    .lock()
                    .await
                    .insert(task["run_id"].as_str().unwrap_or_default().to_owned(), at);
                let id = task["task_id"].as_str().unwrap_or_default();
                client
                    .post(format!("{base}/api/v1/dp/tasks/{id}/complete"))
                    .bearer_auth(&credential)
                    .json(&json!({"outputs": {"records": 1, "total_cost": "1.00", "payload_ref": "x"}}))
                    .send()
                    .await?;
            }
            anyhow::Ok(())
        })
    };
    let mut created = Vec::new();
    let url = format!("{base}/api/v1/deployments/{}/runs", setup.busy.0.0);
    for _ in 0..samples {
        // Let the claimer finish the last one and wait again: the long-poll is idle when the run arrives.
        tokio::time::sleep(Duration::from_millis(25)).await;
        let answer: Value = client
            .post(&url)
            .bearer_auth(&setup.api_key)
            .json(&inputs())
            .send()
            .await?
            .json()
            .await?;
        created.push((
            answer["id"].as_str().unwrap_or_default().to_owned(),
            Instant::now(),
        ));
    }
    claimer.await??;
    let claimed = claimed.lock().await;
    created
        .iter()
        .map(|(run, at)| {
            let got = claimed.get(run).context("a run the long-poll never returned")?;
            Ok(got.saturating_duration_since(*at).as_secs_f64() * 1000.0)
        })
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Resident memory before and while 1,000 long-polls wait on a deployment with nothing queued.
async fn idle_polls(
    client: &reqwest::Client,
    base: &str,
    credential: &str,
    cp: &Server,
) -> anyhow::Result<(f64, f64)> {
    let before = cp.resident_mb()?;
    let polls: Vec<_> = (0..1000)
        .map(|poll| {
            let request = client
                .get(format!(
                    "{base}/api/v1/dp/tasks/next?instance_id=idle-{poll}&wait=20s"
                ))
                .bearer_auth(credential)
                .send();
            tokio::spawn(request)
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let during = cp.resident_mb()?;
    for poll in polls {
        let answer = poll.await??;
        anyhow::ensure!(
            answer.status() == 200,
            "an idle long-poll answered {}",
            answer.status()
        );
    }
    Ok((before, during))
}

fn main() -> anyhow::Result<()> {
    let count: usize = std::env::var("BENCH_TASKS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(4000);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let bench = BenchDb::create().await?;
        let pool = bench.pool(CLAIMERS + 2).await?;
        let setup = setup(&pool).await?;

        enqueue(&pool, &setup, count).await?;
        let raw = raw_claim_loop(&pool, setup.busy.0, count).await?;

        let (cp, addr) = Server::cp_api(&bench.url, &[])?;
        let base = format!("http://{addr}");
        let client = reqwest::Client::builder().pool_max_idle_per_host(2000).build()?;
        let floor = http_floor(&client, &base, 3 * count).await?;
        let one = pipeline(&client, &base, &setup, count, 1, Ends::Both).await?;
        let batched = pipeline(&client, &base, &setup, count, 32, Ends::Both).await?;
        let enqueued = pipeline(&client, &base, &setup, count, 32, Ends::Enqueue).await?;
        enqueue(&pool, &setup, count).await?;
        let drained = pipeline(&client, &base, &setup, count, 1, Ends::Drain).await?;
        let mut latencies = wake_latencies(&client, &base, &setup, 200).await?;
        latencies.sort_by(f64::total_cmp);
        let (p50, p99) = (percentile(&latencies, 50.0), percentile(&latencies, 99.0));
        // On a fresh process: one that served the loads above keeps memory they freed, which the polls
        // would reuse unseen.
        drop(cp);
        let (cp, addr) = Server::cp_api(&bench.url, &[])?;
        let base = format!("http://{addr}");
        let (before, during) = idle_polls(&client, &base, &setup.idle, &cp).await?;
        let extra = during - before;

        let figures = vec![
            Figure {
                name: "cp-api/queue_tasks_per_s_max_1",
                value: one,
                unit: "tasks/s",
                target: ">= 2000/s",
                pass: Some(one >= 2000.0),
                baseline: Some(format!(
                    "raw SQL claim loop {raw:.0}/s; HTTP alone {:.0}/s (3 requests a task)",
                    floor / 3.0
                )),
            },
            Figure {
                name: "cp-api/queue_tasks_per_s_max_32",
                value: batched,
                unit: "tasks/s",
                target: ">= 5000/s",
                pass: Some(batched >= 5000.0),
                baseline: Some(format!(
                    "raw SQL claim loop {raw:.0}/s; HTTP alone {:.0}/s (2 requests a task)",
                    floor / 2.0
                )),
            },
            Figure {
                name: "cp-api/queue_http_floor_requests_per_s",
                value: floor,
                unit: "requests/s",
                target: "",
                pass: None,
                baseline: Some("GET /health/live, 12 clients".to_owned()),
            },
            Figure {
                name: "cp-api/queue_enqueue_only_runs_per_s",
                value: enqueued,
                unit: "runs/s",
                target: "",
                pass: None,
                baseline: Some("POST runs, 4 clients".to_owned()),
            },
            Figure {
                name: "cp-api/queue_drain_only_tasks_per_s_max_1",
                value: drained,
                unit: "tasks/s",
                target: "",
                pass: None,
                baseline: Some("claim + complete, 8 clients".to_owned()),
            },
            Figure {
                name: "cp-api/long_poll_wake_p50",
                value: p50,
                unit: "ms",
                target: "<= 2 ms",
                pass: Some(p50 <= 2.0),
                baseline: None,
            },
            Figure {
                name: "cp-api/long_poll_wake_p99",
                value: p99,
                unit: "ms",
                target: "<= 10 ms",
                pass: Some(p99 <= 10.0),
                baseline: None,
            },
            Figure {
                name: "cp-api/idle_long_polls_1000_extra_memory",
                value: extra,
                unit: "MB",
                target: "< 50 MB",
                pass: Some(extra < 50.0),
                baseline: Some(format!("{before:.1} MB before")),
            },
        ];
        report("cp-api-queue", &figures)?;
        drop(cp);
        bench.drop_unless_kept().await
    })
}
