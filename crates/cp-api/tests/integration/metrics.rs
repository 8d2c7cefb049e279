//! `GET /metrics`: request durations by route pattern, runs by state, the queue, claim waits — in a text
//! `promtool check metrics` accepts (`just test` names `promtool` in `PROMTOOL`).

use std::io::Write as _;
use std::process::{Command, Stdio};

use actix_web::http::StatusCode;

use crate::catalog::{NORMALIZER, market, publish};
use crate::queue::{claim, inputs, installed};
use crate::support::{TestApp, on_both_backends};

/// The value of the sample named exactly `name` (with its labels).
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        line.strip_prefix(name)?
            .strip_prefix(' ')?
            .split(' ')
            .next()?
            .parse()
            .ok()
    })
}

on_both_backends! {
    async fn metrics_count_requests_runs_and_the_queue(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;
        for _ in 0..3 {
            let run = app.post(&format!("/api/v1/deployments/{}/runs", at.deployment), inputs(), Some(&at.operator.token)).await;
            assert_eq!(run.status, StatusCode::CREATED);
        }
        assert_eq!(claim(&app, &at.credential, "dp-1", 1).await.len(), 1);

        let served = app.serve();
        let answer = reqwest::get(format!("{}/metrics", served.base)).await.unwrap();
        assert_eq!(answer.status(), 200);
        assert!(answer.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
        let text = answer.text().await.unwrap();

        // The database's figures are this database's own.
        assert_eq!(sample(&text, r#"cp_runs{state="queued"}"#), Some(2.0), "{text}");
        assert_eq!(sample(&text, r#"cp_runs{state="running"}"#), Some(1.0), "{text}");
        assert_eq!(sample(&text, r#"cp_runs{state="remediated"}"#), Some(0.0), "{text}");
        assert_eq!(sample(&text, "cp_tasks_queued"), Some(2.0), "{text}");
        assert_eq!(sample(&text, "cp_tasks_leased"), Some(1.0), "{text}");
        // The process's, shared by the tests in it: at least what this one did.
        let created = r#"cp_http_request_duration_seconds_count{method="POST",route="/api/v1/deployments/{deployment}/runs",status="201"}"#;
        assert!(sample(&text, created).is_some_and(|count| count >= 3.0), "{text}");
        assert!(sample(&text, "cp_task_wait_seconds_count").is_some_and(|count| count >= 1.0), "{text}");
        assert!(!text.contains(&at.deployment), "routes are patterns, never paths");

        let Some(promtool) = std::env::var_os("PROMTOOL") else {
            println!("SKIPPED promtool: PROMTOOL is not set (`just test` sets it)");
            return;
        };
        let mut check = Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        check.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        let output = check.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "promtool: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
