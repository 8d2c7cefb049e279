//! The control plane's HTTP figures, each beside a baseline measured in the same run:
//!
//! - text search over 10,000 published agents at 16 concurrent clients: p99 (target < 10 ms), beside a
//!   bare actix-web handler answering the same number of bytes at the same concurrency, and beside the
//!   same searches all let in at once (`--search-concurrency 16`, as many as the clients);
//! - `GET /api/v1/agents/{id}`: requests per second (target ≥ 5,000), beside the same bare handler;
//! - `cp-api serve` idle resident memory (target < 40 MB).
//!
//! It seeds a fresh PostgreSQL database (on the server `BENCH_DATABASE_URL` names) through the catalog's own
//! service functions, starts the real `cp-api` binary on it, and drives it with `wrk` from another process.
//! The baseline is this program re-run as a bare actix-web server with the same worker count. Figures go to
//! stdout and to `target/bench/cp-api.json`.
//!
//! The catalog: agents named, tagged and described with words drawn uniformly from a vocabulary of 100
//! domain words, so one search word matches about 16% of the catalog (some 1,600 listings to rank) and two
//! words about 2.5%. The load: `wrk`, 2 threads, 16 connections each sending its next request as soon as the
//! last is answered (a closed loop, so latency includes queueing on the 2 cores that the database, the
//! server and `wrk` share), over 800 searches: one word, two words, a word within a category, a word under
//! a price sorted by rating. `BENCH_AGENTS`, `BENCH_SECONDS` and `BENCH_KEEP_DATABASE` change the size, the
//! length of each load and whether the seeded database is kept for a look at its query plans.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::{Context as _, bail};
use cp_api::service::catalog;
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl as _};
use serde_json::json;
use support::{Admin, BenchDb, Figure, Server, bootstrap, explain, free_port, get, report, wait_ready};

/// Set in the environment of the copy of this program that serves as the bare baseline.
const BARE_SERVER: &str = "CP_BENCH_BARE_SERVER";
/// Concurrent clients, as the target says.
const CLIENTS: u32 = 16;

const WORDS: &[&str] = &[
    "invoice",
    "billing",
    "cost",
    "anomaly",
    "cloud",
    "budget",
    "forecast",
    "report",
    "ticket",
    "support",
    "triage",
    "incident",
    "security",
    "audit",
    "compliance",
    "contract",
    "legal",
    "summary",
    "email",
    "sales",
    "lead",
    "crm",
    "marketing",
    "campaign",
    "seo",
    "content",
    "translation",
    "document",
    "search",
    "index",
    "kubernetes",
    "cluster",
    "deploy",
    "pipeline",
    "test",
    "review",
    "code",
    "refactor",
    "migration",
    "database",
    "query",
    "schema",
    "backup",
    "storage",
    "network",
    "latency",
    "monitor",
    "alert",
    "dashboard",
    "metric",
    "log",
    "trace",
    "payment",
    "refund",
    "fraud",
    "risk",
    "credit",
    "loan",
    "tax",
    "payroll",
    "hiring",
    "resume",
    "interview",
    "onboarding",
    "training",
    "knowledge",
    "wiki",
    "faq",
    "chat",
    "voice",
    "meeting",
    "calendar",
    "schedule",
    "travel",
    "expense",
    "receipt",
    "vendor",
    "procurement",
    "inventory",
    "supply",
    "shipping",
    "order",
    "customer",
    "churn",
    "pricing",
    "quote",
    "proposal",
    "research",
    "patent",
    "medical",
    "claims",
    "insurance",
    "energy",
    "carbon",
    "sustainability",
    "weather",
    "agriculture",
    "retail",
    "store",
];
const CATEGORIES: &[&str] = &[
    "finops",
    "operations",
    "security",
    "sales",
    "support",
    "engineering",
    "legal",
];
const RISKS: &[&str] = &["low", "medium", "high", "critical"];

/// A small deterministic generator, so every run seeds the same catalog.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[usize::try_from(self.next() % from.len() as u64).unwrap_or_default()]
    }
}

fn manifest(index: usize, rng: &mut Rng) -> String {
    let (a, b, c) = (rng.pick(WORDS), rng.pick(WORDS), rng.pick(WORDS));
    let description: Vec<&str> = (0..14).map(|_| rng.pick(WORDS)).collect();
    let pricing = match rng.next() % 3 {
        0 => json!({}),
        1 => json!({"per_run": format!("0.{:02}", rng.next() % 100)}),
        _ => json!({"monthly": format!("{}.00", 5 + rng.next() % 95)}),
    };
    json!({
        "id": format!("com.bench.agent-{index:05}"),
        "name": format!("{a} {b} agent {index}"),
        "version": "1.0.0",
        "description": format!("Handles {} for {c} teams.", description.join(" ")),
        "category": rng.pick(CATEGORIES),
        "tags": [a, b, c],
        "capabilities": [format!("{a}.{b}")],
        "workflow": {"nodes": [{"id": "act", "kind": "tool", "config": {"tool": "act"}}]},
        "tools": [{"name": "act", "risk": rng.pick(RISKS)}],
        "pricing": pricing,
    })
    .to_string()
}

/// Publishes `count` agents through the catalog service; their agent ids.
async fn seed(bench: &BenchDb, count: usize) -> anyhow::Result<Vec<String>> {
    let pool = bench.pool(8).await?;
    let Admin { org, actor, .. } = bootstrap(&pool).await?;
    let started = Instant::now();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let manifests: Vec<String> = (0..count).map(|index| manifest(index, &mut rng)).collect();
    let kinds = manifest::BUILTIN_NODE_KINDS;
    let workers = (0..8).map(|worker| {
        let (pool, actor, manifests) = (pool.clone(), actor.clone(), &manifests);
        async move {
            let mut pooled = pool.get().await?;
            let mut conn = pooled.conn();
            for source in manifests.iter().skip(worker).step_by(8) {
                let submitted = catalog::submit(
                    &mut conn,
                    actor.clone(),
                    org,
                    source.as_bytes(),
                    manifest::Format::Json,
                    kinds,
                )
                .await
                .map_err(|error| explain(error, source))?;
                let (agent_id, version) = (&submitted.version.agent_id, "1.0.0");
                catalog::submit_for_review(&mut conn, actor.clone(), org, agent_id, version).await?;
                catalog::publish(&mut conn, actor.clone(), agent_id, version).await?;
            }
            anyhow::Ok(())
        }
    });
    for result in futures_util::future::join_all(workers).await {
        result?;
    }
    // A catalog at rest, as autovacuum leaves one: statistics gathered, and pages marked all-visible so
    // index-only scans need not visit the table.
    diesel::sql_query("VACUUM ANALYZE")
        .execute(&mut AsyncPgConnection::establish(&bench.url).await?)
        .await?;
    eprintln!(
        "seeded {count} published agents in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok((0..count)
        .map(|index| format!("com.bench.agent-{index:05}"))
        .collect())
}

/// What one `wrk` run measured.
#[derive(Debug, serde::Deserialize)]
struct Load {
    requests: u64,
    seconds: f64,
    non_2xx: u64,
    socket_errors: u64,
    p50_ms: f64,
    p99_ms: f64,
}

impl Load {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

/// Runs `wrk` with `paths` chosen at random per request for `seconds`.
fn wrk(addr: SocketAddr, paths: &[String], seconds: u32, scratch: &Path) -> anyhow::Result<Load> {
    let list = paths
        .iter()
        .map(|path| format!("{path:?}"))
        .collect::<Vec<_>>()
        .join(",\n");
    let script = scratch.join("load.lua");
    std::fs::write(
        &script,
        format!(
            r#"local paths = {{
{list}
}}
math.randomseed(os.time())
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{{"requests":%d,"seconds":%f,"non_2xx":%d,"socket_errors":%d,"p50_ms":%f,"p99_ms":%f}}\n',
    summary.requests, summary.duration / 1e6, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"#
        ),
    )?;
    let output = Command::new("wrk")
        .args(["-t2", &format!("-c{CLIENTS}"), &format!("-d{seconds}s"), "-s"])
        .arg(&script)
        .arg(format!("http://{addr}"))
        .output()
        .context("wrk is not installed (scripts/bench.sh installs it)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find(|line| line.starts_with('{'))
        .with_context(|| {
            format!(
                "wrk printed no figures: {stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })?;
    Ok(serde_json::from_str(line)?)
}

fn search_paths() -> Vec<String> {
    let mut rng = Rng(0x5EED);
    let mut paths = Vec::new();
    for _ in 0..200 {
        let (a, b) = (rng.pick(WORDS), rng.pick(WORDS));
        paths.push(format!("/api/v1/agents?q={a}"));
        paths.push(format!("/api/v1/agents?q={a}+{b}"));
        paths.push(format!("/api/v1/agents?q={a}&category={}", rng.pick(CATEGORIES)));
        paths.push(format!("/api/v1/agents?q={a}&max_price=50.00&sort=rating"));
    }
    paths
}

/// A bare actix-web server with the same worker count, answering `body` to every GET.
fn serve_bare(bind: &str, body_file: &str) -> anyhow::Result<()> {
    let body = web::Bytes::from(std::fs::read(body_file)?);
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || {
            let body = body.clone();
            App::new().default_service(web::to(move || {
                let body = body.clone();
                async move { HttpResponse::Ok().content_type("application/json").body(body) }
            }))
        })
        .bind(bind)?
        .run()
        .await
    })?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    if let Ok(bind) = std::env::var(BARE_SERVER) {
        let body_file = std::env::args().nth(1).context("the body file")?;
        return serve_bare(&bind, &body_file);
    }
    let count: usize = std::env::var("BENCH_AGENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let seconds: u32 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10);
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-http");
    std::fs::create_dir_all(&scratch)?;

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let bench = runtime.block_on(BenchDb::create())?;
    let ids = runtime.block_on(seed(&bench, count))?;
    let (cp, addr) = Server::cp_api(&bench.url, &[])?;
    std::thread::sleep(Duration::from_secs(2));
    let idle_mb = cp.resident_mb()?;

    let (status, detail_body) = get(addr, &format!("/api/v1/agents/{}", ids[0]))?;
    if status != 200 {
        bail!(
            "GET agent answered {status}: {}",
            String::from_utf8_lossy(&detail_body)
        );
    }
    let body_file = scratch.join("detail.json");
    std::fs::write(&body_file, &detail_body)?;
    let bare_addr = free_port()?;
    let _bare = Server(
        Command::new(std::env::current_exe()?)
            .arg(&body_file)
            .env(BARE_SERVER, bare_addr.to_string())
            .stdout(Stdio::null())
            .spawn()?,
    );
    wait_ready(bare_addr, "/")?;

    let search = wrk(addr, &search_paths(), seconds, &scratch)?;
    let detail_paths: Vec<String> = ids.iter().map(|id| format!("/api/v1/agents/{id}")).collect();
    let detail = wrk(addr, &detail_paths, seconds, &scratch)?;
    let bare = wrk(bare_addr, &["/".to_owned()], seconds, &scratch)?;
    let loaded_mb = cp.resident_mb()?;
    drop(cp);
    let all_at_once = CLIENTS.to_string();
    let (server, ungated_addr) = Server::cp_api(&bench.url, &["--search-concurrency", &all_at_once])?;
    let ungated = wrk(ungated_addr, &search_paths(), seconds, &scratch)?;
    drop(server);
    for (what, load) in [
        ("search", &search),
        ("detail", &detail),
        ("bare", &bare),
        ("search, all at once", &ungated),
    ] {
        if load.non_2xx + load.socket_errors > 0 {
            bail!(
                "{what}: {} non-2xx answers, {} socket errors",
                load.non_2xx,
                load.socket_errors
            );
        }
    }

    let figures = vec![
        Figure {
            name: "cp-api/search_10k_agents_p99_16_clients",
            value: search.p99_ms,
            unit: "ms",
            target: "< 10 ms",
            pass: Some(search.p99_ms < 10.0),
            baseline: Some(format!("bare actix p99 {:.2} ms", bare.p99_ms)),
        },
        Figure {
            name: "cp-api/search_10k_agents_rate",
            value: search.rate(),
            unit: "req/s",
            target: "",
            pass: None,
            baseline: Some(format!("p50 {:.2} ms", search.p50_ms)),
        },
        Figure {
            name: "cp-api/search_10k_p99_all_at_once",
            value: ungated.p99_ms,
            unit: "ms",
            target: "",
            pass: None,
            baseline: Some(format!(
                "{:.0} req/s, p50 {:.2} ms",
                ungated.rate(),
                ungated.p50_ms
            )),
        },
        Figure {
            name: "cp-api/get_agent_rate",
            value: detail.rate(),
            unit: "req/s",
            target: ">= 5000 req/s",
            pass: Some(detail.rate() >= 5000.0),
            baseline: Some(format!(
                "bare actix {:.0} req/s ({:.0}%)",
                bare.rate(),
                100.0 * detail.rate() / bare.rate()
            )),
        },
        Figure {
            name: "cp-api/idle_resident_memory",
            value: idle_mb,
            unit: "MB",
            target: "< 40 MB",
            pass: Some(idle_mb < 40.0),
            baseline: Some(format!("{loaded_mb:.1} MB after the load")),
        },
    ];
    report("cp-api", &figures)?;
    runtime.block_on(bench.drop_unless_kept())?;
    Ok(())
}
