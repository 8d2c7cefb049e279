//! An org's monthly run quota and spend cap, and a run's maximum charge: a run that would break one is
//! refused before it is queued (429 or 402, saying which limit and when it resets), nothing is written,
//! and concurrent requests cannot slip past the quota.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use chrono::{Datelike as _, TimeZone as _, Utc};
use serde_json::{Value, json};

use crate::catalog::{NORMALIZER, market, publish};
use crate::queue::{Installed, acme, claim, dp, inputs, installed};
use crate::support::{Answer, TestApp, on_both_backends};

async fn start(app: &TestApp, at: &Installed, body: Value, key: Option<&str>) -> Answer {
    let mut request = TestRequest::post()
        .uri(&format!("/api/v1/deployments/{}/runs", at.deployment))
        .insert_header(("Authorization", format!("Bearer {}", at.operator.token)))
        .set_json(body);
    if let Some(key) = key {
        request = request.insert_header(("Idempotency-Key", key));
    }
    app.send(request).await
}

async fn set(app: &TestApp, at: &Installed, change: Value) -> Answer {
    let org = at.operator.org_id.as_deref().unwrap();
    app.patch(
        &format!("/api/v1/orgs/{org}/settings"),
        change,
        Some(&at.operator.token),
    )
    .await
}

async fn runs_of(app: &TestApp, at: &Installed) -> usize {
    let org = at.operator.org_id.as_deref().unwrap();
    let page = app
        .get_as(&format!("/api/v1/orgs/{org}/runs?limit=100"), &at.operator.token)
        .await;
    page.body["items"].as_array().unwrap().len()
}

/// When this month's limits reset, as the answers say it.
fn next_month() -> String {
    let now = Utc::now();
    let (year, month) = if now.month() == 12 {
        (now.year() + 1, 1)
    } else {
        (now.year(), now.month() + 1)
    };
    Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0)
        .unwrap()
        .to_rfc3339()
}

on_both_backends! {
    async fn a_used_up_run_quota_refuses_runs_until_the_month_resets(backend: Backend) {
        let app = TestApp::start(backend).await;
        let at = acme(&app).await;
        let shown = set(&app, &at, json!({"monthly_run_quota": 2})).await;
        assert_eq!(shown.status, StatusCode::OK, "{:?}", shown.body);
        assert_eq!((shown.body["monthly_run_quota"].clone(), shown.body["monthly_spend_cap"].clone()), (json!(2), Value::Null));
        assert_eq!(start(&app, &at, inputs(), Some("first")).await.status, StatusCode::CREATED);
        assert_eq!(start(&app, &at, inputs(), None).await.status, StatusCode::CREATED);

        let refused = start(&app, &at, inputs(), None).await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", refused.body);
        assert_eq!(refused.content_type(), "application/problem+json");
        let detail = refused.body["detail"].as_str().unwrap();
        assert!(detail.contains("monthly run quota of 2 is used up"), "{detail}");
        assert!(detail.contains(&next_month()), "{detail}");
        let retry_after: u64 = refused.headers.get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
        assert!(retry_after > 0 && retry_after <= 31 * 24 * 3600);
        assert_eq!(runs_of(&app, &at).await, 2, "nothing written");

        let retried = start(&app, &at, inputs(), Some("first")).await;
        assert_eq!(retried.status, StatusCode::OK, "a retry of a run already started is not refused: {:?}", retried.body);

        let lifted = set(&app, &at, json!({"monthly_run_quota": null})).await;
        assert_eq!(lifted.body["monthly_run_quota"], Value::Null);
        assert_eq!(start(&app, &at, inputs(), None).await.status, StatusCode::CREATED);
    }

    async fn runs_started_at_once_cannot_pass_the_quota(backend: Backend) {
        let app = TestApp::start(backend).await;
        let at = acme(&app).await;
        set(&app, &at, json!({"monthly_run_quota": 5})).await;
        let attempts = (0..20).map(|_| start(&app, &at, inputs(), None));
        let answers = futures_util::future::join_all(attempts).await;
        let created = answers.iter().filter(|answer| answer.status == StatusCode::CREATED).count();
        let refused = answers.iter().filter(|answer| answer.status == StatusCode::TOO_MANY_REQUESTS).count();
        assert_eq!((created, refused), (5, 15), "{:?}", answers.iter().map(|a| a.status).collect::<Vec<_>>());
        assert_eq!(runs_of(&app, &at).await, 5);
    }

    async fn a_spend_cap_refuses_the_run_that_would_pass_it(backend: Backend) {
        let app = TestApp::start(backend).await;
        let at = acme(&app).await;
        let shown = set(&app, &at, json!({"monthly_spend_cap": "20.00"})).await;
        assert_eq!(shown.body["monthly_spend_cap"], "20.00", "{:?}", shown.body);
        // The seeds' run: $16.50.
        assert_eq!(start(&app, &at, inputs(), None).await.status, StatusCode::CREATED);
        let task = claim(&app, &at.credential, "dp-1", 1).await[0]["task_id"].as_str().unwrap().to_owned();
        let completion = json!({"outputs": {}, "usage": {"cpu_ms": 7_200_000, "units": {"record": 15000}}});
        assert_eq!(dp(&app, &at.credential, &format!("tasks/{task}/complete"), Some(completion)).await.status, StatusCode::OK);
        // $16.50 + at least $0.50 is still within $20.00.
        assert_eq!(start(&app, &at, inputs(), None).await.status, StatusCode::CREATED);
        set(&app, &at, json!({"monthly_spend_cap": "16.75"})).await;

        let refused = start(&app, &at, inputs(), None).await;
        assert_eq!(refused.status, StatusCode::PAYMENT_REQUIRED, "{:?}", refused.body);
        assert_eq!(refused.content_type(), "application/problem+json");
        let detail = refused.body["detail"].as_str().unwrap();
        assert!(
            detail.contains(
                "monthly spend cap of $16.75 would be passed: $16.50 spent this month, $0.50 held for 1 unfinished run \
                 and this run costs at least $0.50"
            ),
            "{detail}"
        );
        assert!(detail.contains(&next_month()), "{detail}");
        assert_eq!(runs_of(&app, &at).await, 2, "nothing written");

        for bad in [json!({"monthly_spend_cap": "-1.00"}), json!({"monthly_run_quota": -1}), json!({"monthly_spend_cap": "lots"})] {
            let answer = set(&app, &at, bad.clone()).await;
            assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {:?}", answer.body);
        }
    }

    async fn runs_queued_at_once_cannot_together_pass_the_spend_cap(backend: Backend) {
        let app = TestApp::start(backend).await;
        let at = acme(&app).await;
        // $0.50 a run at least: four fit under $2.20, whatever order the requests take their turns in.
        set(&app, &at, json!({"monthly_spend_cap": "2.20"})).await;
        let attempts = (0..8).map(|_| start(&app, &at, inputs(), None));
        let answers = futures_util::future::join_all(attempts).await;
        let created = answers.iter().filter(|answer| answer.status == StatusCode::CREATED).count();
        let refused: Vec<&Answer> = answers.iter().filter(|answer| answer.status == StatusCode::PAYMENT_REQUIRED).collect();
        assert_eq!((created, refused.len()), (4, 4), "{:?}", answers.iter().map(|a| a.status).collect::<Vec<_>>());
        let detail = refused[0].body["detail"].as_str().unwrap();
        assert!(
            detail.contains("$0.00 spent this month, $2.00 held for 4 unfinished runs and this run costs at least $0.50"),
            "{detail}"
        );
        assert_eq!(runs_of(&app, &at).await, 4, "nothing written for the refused");

        // A run that ends without a charge holds nothing any more: there is room for one more.
        let task = claim(&app, &at.credential, "dp-1", 1).await[0]["task_id"].as_str().unwrap().to_owned();
        let failure = json!({"reason": "the export was empty", "retryable": false});
        let failed = dp(&app, &at.credential, &format!("tasks/{task}/fail"), Some(failure)).await;
        assert_eq!(failed.status, StatusCode::OK, "{:?}", failed.body);
        assert_eq!(start(&app, &at, inputs(), None).await.status, StatusCode::CREATED);
        assert_eq!(start(&app, &at, inputs(), None).await.status, StatusCode::PAYMENT_REQUIRED);
    }

    async fn a_max_charge_below_the_agents_price_is_refused(backend: Backend) {
        let app = TestApp::start(backend).await;
        let at = acme(&app).await;
        let mut body = inputs();
        body["max_charge"] = json!("0.10");
        let refused = start(&app, &at, body.clone(), None).await;
        assert_eq!(refused.status, StatusCode::PAYMENT_REQUIRED, "{:?}", refused.body);
        assert_eq!(refused.body["detail"], "max_charge $0.10 is below this agent's price of $0.50 per run");
        body["max_charge"] = json!("-1");
        assert_eq!(start(&app, &at, body.clone(), None).await.status, StatusCode::UNPROCESSABLE_ENTITY);
        body["max_charge"] = json!(5);
        assert_eq!(start(&app, &at, body.clone(), None).await.status, StatusCode::UNPROCESSABLE_ENTITY, "money is a string");
        assert_eq!(runs_of(&app, &at).await, 0);

        body["max_charge"] = json!("5.00");
        let created = start(&app, &at, body, None).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        assert_eq!(created.body["max_charge"], "5.00");
    }

    async fn a_run_is_stopped_at_its_max_charge_and_charged_no_more(backend: Backend) {
        let app = TestApp::start(backend).await;
        let at = acme(&app).await;
        let token = at.operator.token.clone();
        let mut body = inputs();
        body["max_charge"] = json!("5.00");
        let run = start(&app, &at, body, None).await.body["id"].as_str().unwrap().to_owned();
        let task = claim(&app, &at.credential, "dp-1", 1).await[0]["task_id"].as_str().unwrap().to_owned();
        let step = |seq: u64, node: &str, records: u64| json!({"seq": seq, "at": "2026-11-23T10:00:00Z", "type": "finished",
            "node": node, "attempt": 1, "status": "succeeded", "duration_ms": 5, "message": null, "counters": {"record": records}});
        let events = format!("tasks/{task}/events");
        // $0.50 + 3,000 records × $0.001 = $3.50: within $5.00.
        let posted = dp(&app, &at.credential, &events, Some(json!({"events": [step(1, "fetch", 3000)]}))).await;
        assert_eq!(posted.body["cancel"], false, "{:?}", posted.body);
        // Another 3,000: $6.50 would pass it. The data plane is told to stop.
        let posted = dp(&app, &at.credential, &events, Some(json!({"events": [step(2, "normalize", 3000)]}))).await;
        assert_eq!(posted.body["cancel"], true, "{:?}", posted.body);
        let stopped = dp(&app, &at.credential, &format!("tasks/{task}/fail"), Some(json!({
            "reason": "cancelled", "node": "store", "retryable": false, "usage": {"cpu_ms": 1000, "units": {"record": 6000}},
        }))).await;
        assert_eq!(stopped.status, StatusCode::OK, "{:?}", stopped.body);
        let shown = app.get_as(&format!("/api/v1/runs/{run}"), &token).await;
        assert_eq!(shown.body["state"], "failed", "{:?}", shown.body);
        assert_eq!(shown.body["failure_reason"], "stopped: its charge reached its max_charge of $5.00");
        let cost = &shown.body["cost"];
        assert_eq!(
            (cost["base"].as_str(), cost["units"].as_str(), cost["compute"].as_str(), cost["total"].as_str()),
            (Some("0.50"), Some("4.50"), Some("0.00"), Some("5.00")),
            "{cost}"
        );
        assert_eq!((cost["developer"].as_str(), cost["platform"].as_str()), (Some("4.00"), Some("1.00")));

        // A run that completes above its maximum is charged the maximum.
        let mut body = inputs();
        body["max_charge"] = json!("10.00");
        let run = start(&app, &at, body, None).await.body["id"].as_str().unwrap().to_owned();
        let task = claim(&app, &at.credential, "dp-1", 1).await[0]["task_id"].as_str().unwrap().to_owned();
        let completion = json!({"outputs": {}, "usage": {"cpu_ms": 7_200_000, "units": {"record": 15000}}});
        assert_eq!(dp(&app, &at.credential, &format!("tasks/{task}/complete"), Some(completion)).await.status, StatusCode::OK);
        let shown = app.get_as(&format!("/api/v1/runs/{run}"), &token).await;
        assert_eq!(shown.body["state"], "succeeded");
        assert_eq!(shown.body["cost"]["total"], "10.00", "{:?}", shown.body);
        let unbalanced = {
            let mut pooled = app.state.pool.get().await.unwrap();
            cp_api::db::ledger_entries::unbalanced(&mut pooled.conn()).await.unwrap()
        };
        assert!(unbalanced.is_empty(), "{unbalanced:?}");
    }

    async fn the_platform_admin_sets_the_developers_share_of_charges_to_come(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;
        let shown = app.get_as("/api/v1/platform/settings", &market.admin).await;
        assert_eq!(shown.body["developer_share_bps"], 8000, "{:?}", shown.body);
        assert_eq!(app.get_as("/api/v1/platform/settings", &at.operator.token).await.status, StatusCode::FORBIDDEN);
        let refused = app.patch("/api/v1/platform/settings", json!({"developer_share_bps": 10_001}), Some(&market.admin)).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", refused.body);
        let not_theirs = app.patch("/api/v1/platform/settings", json!({"developer_share_bps": 9000}), Some(&at.operator.token)).await;
        assert_eq!(not_theirs.status, StatusCode::FORBIDDEN);
        let changed = app.patch("/api/v1/platform/settings", json!({"developer_share_bps": 7000}), Some(&market.admin)).await;
        assert_eq!(changed.body["developer_share_bps"], 7000, "{:?}", changed.body);

        // The seeds' $16.50 run, now split 70/30.
        let run = start(&app, &at, inputs(), None).await.body["id"].as_str().unwrap().to_owned();
        let task = claim(&app, &at.credential, "dp-1", 1).await[0]["task_id"].as_str().unwrap().to_owned();
        let completion = json!({"outputs": {}, "usage": {"cpu_ms": 7_200_000, "units": {"record": 15000}}});
        assert_eq!(dp(&app, &at.credential, &format!("tasks/{task}/complete"), Some(completion)).await.status, StatusCode::OK);
        let cost = app.get_as(&format!("/api/v1/runs/{run}"), &at.operator.token).await.body["cost"].clone();
        assert_eq!(
            (cost["total"].as_str(), cost["developer"].as_str(), cost["platform"].as_str(), cost["developer_share"].as_i64()),
            (Some("16.50"), Some("11.55"), Some("4.95"), Some(7000)),
            "{cost}"
        );
    }
}
