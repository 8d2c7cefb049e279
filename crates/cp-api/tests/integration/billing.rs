//! Usage billing over HTTP: a completed run is charged once under its manifest's pricing, exactly, split
//! 80/20 in a journal that sums to zero, also with a hundred runs completing at once; usage that would overflow is
//! refused.

use actix_web::http::StatusCode;
use serde_json::json;

use crate::catalog::{NORMALIZER, market, publish};
use crate::queue::{claim, dp, inputs, installed};
use crate::support::Answer;
use crate::support::{TestApp, on_both_backends};

on_both_backends! {
    async fn the_seeds_run_costs_sixteen_fifty_split_eighty_twenty_once(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;
        let run = app.post(&format!("/api/v1/deployments/{}/runs", at.deployment), inputs(), Some(&at.operator.token)).await;
        let run = run.body["id"].as_str().unwrap().to_owned();
        let task = claim(&app, &at.credential, "dp-1", 1).await[0]["task_id"].as_str().unwrap().to_owned();

        let completion = json!({"outputs": {"records": 15000},
                                "usage": {"cpu_ms": 7_200_000, "wall_ms": 3_600_000, "units": {"record": 15000}}});
        for _ in 0..2 {
            let done = dp(&app, &at.credential, &format!("tasks/{task}/complete"), Some(completion.clone())).await;
            assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
        }
        let shown = app.get_as_opt(&format!("/api/v1/runs/{run}"), Some(&at.operator.token)).await;
        let cost = &shown.body["cost"];
        assert_eq!(
            (cost["base"].as_str(), cost["units"].as_str(), cost["compute"].as_str(), cost["total"].as_str()),
            (Some("0.50"), Some("15.00"), Some("1.00"), Some("16.50")),
            "{cost}"
        );
        assert_eq!((cost["developer"].as_str(), cost["platform"].as_str()), (Some("13.20"), Some("3.30")));
        assert_eq!((cost["unit"].as_str(), cost["unit_count"].as_i64(), cost["developer_share"].as_i64()), (Some("record"), Some(15000), Some(8000)));

        let entries = {
            let mut pooled = app.state.pool.get().await.unwrap();
            cp_api::db::ledger_entries::of_journal(&mut pooled.conn(), cp_api::db::Id(run.parse().unwrap())).await.unwrap()
        };
        assert_eq!(entries.len(), 3, "one journal, however often the completion came");
        assert_eq!(entries.iter().map(|entry| entry.amount_micros).sum::<i64>(), 0, "a journal sums to zero");
        let customer = entries.iter().find(|entry| entry.account.starts_with("customer:")).unwrap();
        assert_eq!(customer.amount_micros, -16_500_000);
        let developer = entries.iter().find(|entry| entry.account == format!("developer:{}", market.org)).unwrap();
        assert_eq!(developer.amount_micros, 13_200_000, "the publishing org earns 80%");
    }

    async fn a_run_runs_and_is_charged_as_the_version_it_was_created_under(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;
        let token = Some(at.operator.token.as_str());
        let runs = format!("/api/v1/deployments/{}/runs", at.deployment);
        let completion = json!({"outputs": {"records": 0}, "usage": {"cpu_ms": 0, "wall_ms": 0, "units": {}}});
        let base_of = async |run: &str| {
            let shown = app.get_as_opt(&format!("/api/v1/runs/{run}"), token).await;
            shown.body["cost"]["base"].as_str().map(str::to_owned)
        };

        // Queued under 1.0.0, claimed and completed after the upgrade to 1.1.0: it runs and is priced as 1.0.0.
        let before = app.post(&runs, inputs(), token).await.body["id"].as_str().unwrap().to_owned();
        let shown = app.get_as_opt(&format!("/api/v1/runs/{before}"), token).await;
        assert_eq!(shown.body["version"], "1.0.0", "a queued run shows the version it will run");
        let dearer = NORMALIZER
            .replacen("version: 1.0.0", "version: 1.1.0", 1)
            .replacen(r#"per_run: "0.50""#, r#"per_run: "5.00""#, 1)
            .replacen("Total: ", "Sum: ", 1);
        assert_ne!(dearer, NORMALIZER.replacen("version: 1.0.0", "version: 1.1.0", 1), "the new version costs more");
        publish(&app, &market, &dearer, "application/yaml").await;
        let upgraded = app.post(&format!("/api/v1/deployments/{}/upgrade", at.deployment), json!({"version": "1.1.0"}), token).await;
        assert_eq!(upgraded.status, StatusCode::OK, "{:?}", upgraded.body);
        let claimed = claim(&app, &at.credential, "dp-1", 1).await;
        assert_eq!(claimed[0]["run_id"], before.as_str());
        assert_eq!(claimed[0]["agent"]["version"], "1.0.0", "{:?}", claimed[0]);
        let workflow = claimed[0]["workflow"].to_string();
        assert!(workflow.contains("Total: ") && !workflow.contains("Sum: "), "1.0.0's workflow: {workflow}");
        let task = claimed[0]["task_id"].as_str().unwrap().to_owned();
        let done = dp(&app, &at.credential, &format!("tasks/{task}/complete"), Some(completion.clone())).await;
        assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
        assert_eq!(base_of(&before).await.as_deref(), Some("0.50"), "created under 1.0.0, priced by it");
        let shown = app.get_as_opt(&format!("/api/v1/runs/{before}"), token).await;
        assert_eq!(shown.body["version"], "1.0.0", "the run shows the version it ran");

        let after = app.post(&runs, inputs(), token).await.body["id"].as_str().unwrap().to_owned();
        let claimed = claim(&app, &at.credential, "dp-1", 1).await;
        assert_eq!(claimed[0]["agent"]["version"], "1.1.0");
        assert!(claimed[0]["workflow"].to_string().contains("Sum: "), "1.1.0's workflow");
        let task = claimed[0]["task_id"].as_str().unwrap().to_owned();
        let done = dp(&app, &at.credential, &format!("tasks/{task}/complete"), Some(completion)).await;
        assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
        assert_eq!(base_of(&after).await.as_deref(), Some("5.00"), "created under 1.1.0");
    }

    async fn a_hundred_runs_completing_at_once_leave_exact_books(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;
        const RUNS: usize = 100;
        for _ in 0..RUNS {
            let run = app.post(&format!("/api/v1/deployments/{}/runs", at.deployment), inputs(), Some(&at.operator.token)).await;
            assert_eq!(run.status, StatusCode::CREATED);
        }
        let completion = json!({"outputs": {}, "usage": {"cpu_ms": 7_200_000, "units": {"record": 15000}}});
        let claimers = (0..8).map(|claimer| {
            let (app, credential, completion) = (&app, at.credential.clone(), completion.clone());
            async move {
                let mut runs = Vec::new();
                loop {
                    let tasks = claim(app, &credential, &format!("dp-{claimer}"), 1).await;
                    let Some(task) = tasks.first() else { break };
                    let id = task["task_id"].as_str().unwrap();
                    // Each completion is reported twice, as a retry after a lost answer would.
                    for _ in 0..2 {
                        let done: Answer = dp(app, &credential, &format!("tasks/{id}/complete"), Some(completion.clone())).await;
                        assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
                    }
                    runs.push(task["run_id"].as_str().unwrap().to_owned());
                }
                runs
            }
        });
        let runs: Vec<String> = futures_util::future::join_all(claimers).await.into_iter().flatten().collect();
        assert_eq!(runs.len(), RUNS);
        let mut totals = std::collections::BTreeMap::<String, i64>::new();
        let mut pooled = app.state.pool.get().await.unwrap();
        for run in &runs {
            let journal = cp_api::db::ledger_entries::of_journal(&mut pooled.conn(), cp_api::db::Id(run.parse().unwrap())).await.unwrap();
            assert_eq!(journal.iter().map(|entry| entry.amount_micros).sum::<i64>(), 0, "every journal sums to zero");
            for entry in journal {
                let kind = entry.account.split(':').next().unwrap().to_owned();
                *totals.entry(kind).or_default() += entry.amount_micros;
            }
        }
        let hundred = i64::try_from(RUNS).unwrap();
        assert_eq!(totals["customer"], -16_500_000 * hundred);
        assert_eq!(totals["developer"], 13_200_000 * hundred);
        assert_eq!(totals["platform"], 3_300_000 * hundred);
    }

    async fn usage_that_would_overflow_the_charge_is_refused(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;
        let run = app.post(&format!("/api/v1/deployments/{}/runs", at.deployment), inputs(), Some(&at.operator.token)).await;
        let run = run.body["id"].as_str().unwrap().to_owned();
        let task = claim(&app, &at.credential, "dp-1", 1).await[0]["task_id"].as_str().unwrap().to_owned();
        let huge = json!({"outputs": {}, "usage": {"units": {"record": u64::MAX}}});
        let refused = dp(&app, &at.credential, &format!("tasks/{task}/complete"), Some(huge)).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", refused.body);
        assert!(refused.body["errors"][0]["detail"].as_str().unwrap_or_default().contains("overflow") || refused.body.to_string().contains("overflow"), "{:?}", refused.body);
        let shown = app.get_as_opt(&format!("/api/v1/runs/{run}"), Some(&at.operator.token)).await;
        assert_eq!((shown.body["state"].as_str(), shown.body.get("cost")), (Some("running"), None), "nothing half-written");
    }
}
