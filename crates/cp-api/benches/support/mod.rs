//! What the control plane's benchmarks share: a fresh PostgreSQL database, the real `cp-api` binary
//! started on it, resident memory, and the figures file `just bench` reads.

#![allow(dead_code, reason = "each benchmark uses its own part of this module")]

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use cp_api::db::migrations::{self, Direction};
use cp_api::db::{self, Database};
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl as _};

/// A migrated database of its own on the server `BENCH_DATABASE_URL` names.
#[derive(Debug)]
pub struct BenchDb {
    server: String,
    name: String,
    pub url: String,
}

impl BenchDb {
    /// # Errors
    ///
    /// When `BENCH_DATABASE_URL` is unset or the server refuses.
    pub async fn create() -> anyhow::Result<Self> {
        let server = std::env::var("BENCH_DATABASE_URL").context(
            "BENCH_DATABASE_URL is not set: run `just bench`, which starts a throwaway PostgreSQL",
        )?;
        let name = format!("cp_bench_{}", uuid::Uuid::now_v7().simple());
        let mut admin = AsyncPgConnection::establish(&server).await?;
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await?;
        let url = match server.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => bail!("BENCH_DATABASE_URL has no database name: {server}"),
        };
        migrations::run(&Database::Postgres(url.clone()), Direction::Up).await?;
        Ok(Self { server, name, url })
    }

    #[must_use]
    pub fn database(&self) -> Database {
        Database::Postgres(self.url.clone())
    }

    /// # Errors
    ///
    /// When the database cannot be opened.
    pub async fn pool(&self, size: usize) -> anyhow::Result<db::Pool> {
        Ok(db::Pool::open(&self.database(), size).await?)
    }

    /// Drops the database, unless `BENCH_KEEP_DATABASE` asks to keep it for a look at its query plans.
    ///
    /// # Errors
    ///
    /// When the server refuses.
    pub async fn drop_unless_kept(self) -> anyhow::Result<()> {
        if std::env::var_os("BENCH_KEEP_DATABASE").is_some() {
            eprintln!("kept the bench database: {}", self.url);
            return Ok(());
        }
        let mut admin = AsyncPgConnection::establish(&self.server).await?;
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
            .execute(&mut admin)
            .await?;
        Ok(())
    }
}

/// The platform admin every benchmark acts as: their org, the actor for service calls, and an API key.
#[derive(Debug)]
pub struct Admin {
    pub org: cp_api::db::Id,
    pub actor: cp_api::service::audit::Actor,
    pub api_key: String,
}

/// Creates the platform admin and their org.
///
/// # Errors
///
/// When the database refuses.
pub async fn bootstrap(pool: &db::Pool) -> anyhow::Result<Admin> {
    let created = cp_api::service::accounts::bootstrap(
        &mut pool.get().await?.conn(),
        cp_api::service::accounts::Bootstrap {
            email: "bench@example.com".to_owned(),
            password: "correct horse battery".to_owned(),
            org: "Bench".to_owned(),
        },
    )
    .await
    .map_err(|error| explain(error, "the bootstrap"))?;
    Ok(Admin {
        org: created.org_id.into(),
        actor: cp_api::service::audit::Actor {
            user: Some(created.user_id.into()),
            client_addr: None,
        },
        api_key: created.api_key,
    })
}

/// A catalog or account error with every field error spelled out.
pub fn explain(error: cp_api::error::Error, what: &str) -> anyhow::Error {
    match error {
        cp_api::error::Error::Validation(errors) => anyhow::anyhow!("{errors:?} in {what}"),
        other => anyhow::Error::from(other).context(what.to_owned()),
    }
}

/// # Errors
///
/// When no port is free.
pub fn free_port() -> anyhow::Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// A child process, killed when dropped so a failed run leaves no server behind.
#[derive(Debug)]
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Server {
    /// The release `cp-api serve` on `url` at a free port, without rate limits and with `options` besides,
    /// once it is ready.
    ///
    /// # Errors
    ///
    /// When it does not start or become ready.
    pub fn cp_api(url: &str, options: &[&str]) -> anyhow::Result<(Self, SocketAddr)> {
        let addr = free_port()?;
        let server = Self(
            Command::new(env!("CARGO_BIN_EXE_cp-api"))
                .args([
                    "serve",
                    "--no-migrate",
                    "--rate-limit",
                    "0",
                    "--bind",
                    &addr.to_string(),
                ])
                .args(options)
                .env("CP_DATABASE_URL", url)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .spawn()?,
        );
        wait_ready(addr, "/health/ready")?;
        Ok((server, addr))
    }

    /// # Errors
    ///
    /// When `/proc` cannot be read.
    pub fn resident_mb(&self) -> anyhow::Result<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.0.id()))?;
        let kb: f64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .context("no VmRSS")?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()?;
        Ok(kb / 1024.0)
    }
}

/// One plain HTTP/1.0 GET: the status and body.
///
/// # Errors
///
/// When the server does not answer HTTP.
pub fn get(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let split = answer
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .context("an HTTP answer without a header end")?;
    let status = std::str::from_utf8(answer.get(9..12).context("a short answer")?)?.parse()?;
    Ok((status, answer[split + 4..].to_vec()))
}

/// Waits until `GET path` answers 200.
///
/// # Errors
///
/// When it does not within a minute.
pub fn wait_ready(addr: SocketAddr, path: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if matches!(get(addr, path), Ok((200, _))) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("{addr}{path} did not become ready")
}

/// One figure of `just bench`'s table.
#[derive(Debug, serde::Serialize)]
pub struct Figure {
    pub name: &'static str,
    pub value: f64,
    pub unit: &'static str,
    pub target: &'static str,
    /// Whether the target is met; none for a figure shown only for context.
    pub pass: Option<bool>,
    pub baseline: Option<String>,
}

/// Prints the figures and writes them to `target/bench/<file>.json` for the report.
///
/// # Errors
///
/// When the file cannot be written.
pub fn report(file: &str, figures: &[Figure]) -> anyhow::Result<()> {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../bench");
    std::fs::create_dir_all(&out)?;
    std::fs::write(
        out.join(format!("{file}.json")),
        serde_json::to_string_pretty(figures)?,
    )?;
    for figure in figures {
        println!("{figure:?}");
    }
    Ok(())
}
