//! The official A2A SDK (`a2a-sdk`, protocol 1.0) against a deployment served over real HTTP on
//! 127.0.0.1: card resolution, blocking, non-blocking and streamed messages, subscriptions, listing,
//! cancelling and its error types. `just test` installs the SDK and names its Python in `A2A_PYTHON`.

use actix_web::http::StatusCode;
use serde_json::json;

use crate::catalog::{NORMALIZER, market, publish};
use crate::queue::{dp, installed};
use crate::support::{TestApp, on_both_backends};

on_both_backends! {
    async fn the_official_a2a_client_speaks_to_a_deployment(backend: Backend) {
        let Some(python) = std::env::var_os("A2A_PYTHON") else {
            println!("SKIPPED: A2A_PYTHON is not set (`just test` sets it to a Python with a2a-sdk installed)");
            return;
        };
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;
        let registration = json!({"instance_id": "sdk-check", "version": "0.1.0", "capabilities": [], "concurrency": 4});
        assert_eq!(dp(&app, &at.credential, "register", Some(registration)).await.status, StatusCode::OK);

        let served = app.serve();
        let base = served.base.clone();
        let agent = format!("{base}/a2a/{}", at.deployment);
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/a2a_sdk/check.py");
        let args = [script.to_owned(), agent, at.operator.token.clone(), at.credential.clone(), base];
        let output = tokio::task::spawn_blocking(move || std::process::Command::new(python).args(args).output())
            .await
            .unwrap()
            .unwrap();
        drop(served);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        println!("{stdout}");
        assert!(output.status.success(), "the A2A SDK check failed:\n{stdout}\n{stderr}");
    }
}
