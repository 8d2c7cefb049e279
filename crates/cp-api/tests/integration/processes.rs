//! Real `cp-api` processes: two `serve` on one PostgreSQL work as one control plane (a long-poll on one
//! wakes for a run created on the other), SIGTERM ends a process cleanly, finishing what is in flight;
//! `serve` closes the month that ended on its schedule, and `billing close-period` closes a month once.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use actix_web::http::StatusCode;
use serde_json::{Value, json};

use crate::catalog::{NORMALIZER, market, publish};
use crate::invoices::{charged_in, seeds_runs};
use crate::queue::{dp, inputs, installed};
use crate::support::{Backend, TestApp, on_both_backends};

/// A `cp-api serve` child process on a free local port, killed (`SIGKILL`) when dropped.
pub struct Process {
    child: Child,
    pub base: String,
}

impl Process {
    pub async fn serve(database: &cp_api::db::Database, extra: &[&str]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_cp-api"));
        command.args([
            "serve",
            "--no-migrate",
            "--rate-limit",
            "0",
            "--bind",
            &format!("127.0.0.1:{port}"),
        ]);
        match database {
            cp_api::db::Database::Postgres(url) => command.args(["--database-url", url]),
            cp_api::db::Database::Sqlite(path) => {
                command.args(["--database-url", &format!("sqlite://{}", path.display())])
            }
        };
        let child = command
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let process = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if client
                .get(format!("{}/health/ready", process.base))
                .send()
                .await
                .is_ok_and(|answer| answer.status().is_success())
            {
                return process;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("cp-api did not become ready at {}", process.base);
    }

    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    async fn exit_code(&mut self) -> Option<i32> {
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("cp-api did not exit");
    }
}

/// The `--database-url` that names `database`.
fn database_url(database: &cp_api::db::Database) -> String {
    match database {
        cp_api::db::Database::Postgres(url) => url.clone(),
        cp_api::db::Database::Sqlite(path) => format!("sqlite://{}", path.display()),
    }
}

/// `cp-api billing close-period <month>`: whether it succeeded, and what it printed.
fn close_period(database: &cp_api::db::Database, month: &str) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_cp-api"))
        .args([
            "billing",
            "close-period",
            month,
            "--database-url",
            &database_url(database),
        ])
        .output()
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), printed)
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

on_both_backends! {
    async fn sigterm_finishes_the_request_in_flight_and_exits_cleanly(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;
        let mut process = Process::serve(&app.db.database, &[]).await;
        let client = reqwest::Client::new();
        let poll = client
            .get(format!("{}/api/v1/dp/tasks/next?instance_id=dp-1&wait=2s", process.base))
            .bearer_auth(&at.credential)
            .send();
        let poll = tokio::spawn(poll);
        tokio::time::sleep(Duration::from_millis(300)).await;
        process.terminate();
        let answer = poll.await.unwrap().unwrap();
        assert_eq!(answer.status(), reqwest::StatusCode::OK, "the long-poll in flight is answered");
        assert_eq!(answer.json::<Value>().await.unwrap()["tasks"], json!([]));
        assert_eq!(process.exit_code().await, Some(0), "SIGTERM is a clean exit");
    }

    async fn close_period_closes_a_month_once_and_says_so_the_second_time(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;
        seeds_runs(&app, &at, 1).await;
        charged_in(&app, "2026-10".parse().unwrap()).await;

        let (ok, printed) = close_period(&app.db.database, "2026-10");
        assert!(ok, "{printed}");
        assert_eq!(printed.trim(), "2026-10: 1 invoice(s) issued, 1 payout(s) made, 0 subscription fee(s) charged");
        let (ok, printed) = close_period(&app.db.database, "2026-10");
        assert!(ok, "{printed}");
        assert_eq!(printed.trim(), "2026-10: closed before; nothing new");

        let (ok, printed) = close_period(&app.db.database, "2026-13");
        assert!(!ok && printed.contains("YYYY-MM"), "{printed}");
        let this_month = cp_api::billing::Period::current().to_string();
        let (ok, printed) = close_period(&app.db.database, &this_month);
        assert!(!ok && printed.contains("has not ended"), "{printed}");
    }

    async fn serve_closes_the_month_that_ended_on_its_schedule(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;
        seeds_runs(&app, &at, 1).await;
        let last_month = cp_api::billing::Period::current().previous();
        charged_in(&app, last_month).await;
        let _process = Process::serve(&app.db.database, &["--billing-check", "100ms"]).await;
        let org = cp_api::db::Id(at.operator.org_id.clone().unwrap().parse().unwrap());
        for _ in 0..100 {
            let mut pooled = app.state.pool.get().await.unwrap();
            let invoices = cp_api::db::invoices::of_org(&mut pooled.conn(), org).await.unwrap();
            if let Some(invoice) = invoices.first() {
                assert_eq!((invoice.period.clone(), invoice.total_micros, invoice.state.as_str()), (last_month.to_string(), 16_500_000, "issued"));
                return;
            }
            drop(pooled);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("serve did not close {last_month}");
    }
}

/// Two processes on one PostgreSQL. Claims look again unbidden only every minute here, longer than the
/// long-poll's 30-second wait, so a long-poll that returns the task was woken by the other process's NOTIFY.
#[actix_web::test]
async fn a_long_poll_on_one_process_wakes_for_a_run_created_on_another() {
    let app = TestApp::start(Backend::Postgres).await;
    let market = market(&app).await;
    publish(&app, &market, NORMALIZER, "application/yaml").await;
    let at = installed(&app, "Acme").await;
    let registration =
        json!({"instance_id": "dp-1", "version": "0.1.0", "capabilities": [], "concurrency": 1});
    assert_eq!(
        dp(&app, &at.credential, "register", Some(registration))
            .await
            .status,
        StatusCode::OK
    );
    let slow = ["--claim-recheck", "60s"];
    let (claiming, creating) = (
        Process::serve(&app.db.database, &slow).await,
        Process::serve(&app.db.database, &slow).await,
    );
    let client = reqwest::Client::new();

    let poll = client
        .get(format!(
            "{}/api/v1/dp/tasks/next?instance_id=dp-1&wait=30s",
            claiming.base
        ))
        .bearer_auth(&at.credential)
        .send();
    let poll = tokio::spawn(poll);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let created = client
        .post(format!(
            "{}/api/v1/deployments/{}/runs",
            creating.base, at.deployment
        ))
        .bearer_auth(&at.operator.token)
        .json(&inputs())
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), reqwest::StatusCode::CREATED);
    let run: Value = created.json().await.unwrap();

    let claimed: Value = poll.await.unwrap().unwrap().json().await.unwrap();
    assert_eq!(
        claimed["tasks"][0]["run_id"], run["id"],
        "the waiting claim got the run: {claimed}"
    );
}
