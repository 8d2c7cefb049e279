//! Approvals over HTTP: a suspended run is approved (and resumes from its checkpoint with the decision,
//! ending `remediated`), rejected (ending with the comment) or left to expire; decisions are final and
//! only the org's approvers and admins make them.

use actix_web::http::StatusCode;
use serde_json::{Value, json};

use crate::catalog::{NORMALIZER, market, publish};
use crate::queue::{AGENT, Installed, backdate, claim, dp, installed};
use crate::support::{TestApp, on_both_backends};

/// A run of the deployment, claimed and suspended on an approval of node `remediate`; the run's id.
async fn suspended(app: &TestApp, at: &Installed, period: &str) -> String {
    let body = json!({"inputs": {"billing_source": "s3://acme-billing/exports", "period": period}});
    let run = app
        .post(
            &format!("/api/v1/deployments/{}/runs", at.deployment),
            body,
            Some(&at.operator.token),
        )
        .await;
    let run = run.body["id"].as_str().unwrap().to_owned();
    let task = claim(app, &at.credential, "dp-1", 1).await[0]["task_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let suspension = json!({
        "checkpoint": {"seq": 1, "nodes": {"load": {"output": {"rows": 3}, "attempt": 1, "finished_at": "2026-11-23T10:00:00Z"}}, "state": {"cursor": 7}},
        "approval": {"node": "remediate", "action": {"tool": "rightsize", "instance": "i-123"}, "impact": {"monthly_saving": "412.00"}},
    });
    let answer = dp(
        app,
        &at.credential,
        &format!("tasks/{task}/suspend"),
        Some(suspension),
    )
    .await;
    assert_eq!(answer.body["state"], "awaiting_approval", "{:?}", answer.body);
    run
}

async fn pending_of(app: &TestApp, at: &Installed, run: &str) -> String {
    let org = at.operator.org_id.clone().unwrap();
    let listed = app
        .get_as_opt(
            &format!("/api/v1/orgs/{org}/approvals?run_id={run}"),
            Some(&at.operator.token),
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    listed.body["items"][0]["id"].as_str().unwrap().to_owned()
}

async fn run_of(app: &TestApp, at: &Installed, run: &str) -> Value {
    app.get_as_opt(&format!("/api/v1/runs/{run}"), Some(&at.operator.token))
        .await
        .body
}

on_both_backends! {
    async fn an_approved_run_resumes_with_the_decision_and_ends_remediated(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;
        let org = at.operator.org_id.clone().unwrap();
        let run = suspended(&app, &at, "2026-10").await;

        let listed = app.get_as_opt(&format!("/api/v1/orgs/{org}/approvals?state=pending&agent={AGENT}"), Some(&at.operator.token)).await;
        let approval = &listed.body["items"][0];
        assert_eq!((approval["node"].as_str(), approval["state"].as_str()), (Some("remediate"), Some("pending")), "{:?}", listed.body);
        assert_eq!(approval["impact"]["monthly_saving"], "412.00");
        let id = approval["id"].as_str().unwrap().to_owned();
        let none = app.get_as_opt(&format!("/api/v1/orgs/{org}/approvals?state=approved"), Some(&at.operator.token)).await;
        assert_eq!(none.body["items"], json!([]));

        // An approver, not the operator who started the run, decides.
        let approver = app.user("approver@acme.example", None).await;
        let added = app.post(&format!("/api/v1/orgs/{org}/members"), json!({"email": "approver@acme.example", "role": "approver"}), Some(&at.operator.token)).await;
        assert!(added.status.is_success(), "{:?}", added.body);
        let viewer = app.user("viewer@acme.example", None).await;
        app.post(&format!("/api/v1/orgs/{org}/members"), json!({"email": "viewer@acme.example", "role": "viewer"}), Some(&at.operator.token)).await;
        let path = format!("/api/v1/orgs/{org}/approvals/{id}/approve");
        assert_eq!(app.post(&path, json!({}), Some(&viewer.token)).await.status, StatusCode::FORBIDDEN);
        let outsider = installed(&app, "Globex").await;
        let theirs = format!("/api/v1/orgs/{}/approvals/{id}/approve", outsider.operator.org_id.clone().unwrap());
        assert_eq!(app.post(&theirs, json!({}), Some(&outsider.operator.token)).await.status, StatusCode::NOT_FOUND, "another org's approval is not there");

        // The org forbids approving your own run's request: the operator who started it may not.
        let settings = app.patch(&format!("/api/v1/orgs/{org}/settings"), json!({"forbid_self_approval": true}), Some(&at.operator.token)).await;
        assert_eq!(settings.body["forbid_self_approval"], true, "{:?}", settings.body);
        assert_eq!(app.patch(&format!("/api/v1/orgs/{org}/settings"), json!({"forbid_self_approval": false}), Some(&approver.token)).await.status, StatusCode::FORBIDDEN, "admins change settings");
        let own = app.post(&path, json!({}), Some(&at.operator.token)).await;
        assert_eq!(own.status, StatusCode::FORBIDDEN, "{:?}", own.body);
        let approved = app.post(&path, json!({"comment": "go ahead"}), Some(&approver.token)).await;
        assert_eq!((approved.status, approved.body["state"].as_str()), (StatusCode::OK, Some("approved")), "{:?}", approved.body);
        assert_eq!(approved.body["decided_by"], approver.id.as_str());
        let again = app.post(&format!("/api/v1/orgs/{org}/approvals/{id}/reject"), json!({"comment": "no"}), Some(&approver.token)).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "a decision is final");
        assert_eq!(run_of(&app, &at, &run).await["state"], "queued");

        let resumed = claim(&app, &at.credential, "dp-2", 1).await;
        let envelope = &resumed[0];
        assert_eq!(envelope["run_id"], run.as_str());
        assert_eq!(envelope["attempt"], 2, "a new delivery");
        assert_eq!(envelope["checkpoint"]["nodes"]["load"]["output"]["rows"], 3, "resumes from the checkpoint");
        assert_eq!(envelope["checkpoint"]["state"]["cursor"], 7);
        let decision = &envelope["checkpoint"]["state"]["approvals"]["remediate"];
        assert_eq!((decision["decision"].as_str(), decision["comment"].as_str()), (Some("approved"), Some("go ahead")), "{envelope}");
        let task = envelope["task_id"].as_str().unwrap();
        let done = dp(&app, &at.credential, &format!("tasks/{task}/complete"), Some(json!({"outputs": {"records": 3}}))).await;
        assert_eq!(done.body["state"], "remediated", "{:?}", done.body);
    }

    async fn a_rejected_or_expired_approval_ends_the_run(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;
        let org = at.operator.org_id.clone().unwrap();

        let run = suspended(&app, &at, "2026-10").await;
        let id = pending_of(&app, &at, &run).await;
        let reject = format!("/api/v1/orgs/{org}/approvals/{id}/reject");
        let silent = app.post(&reject, json!({}), Some(&at.operator.token)).await;
        assert_eq!(silent.status, StatusCode::UNPROCESSABLE_ENTITY, "a rejection says why: {:?}", silent.body);
        let rejected = app.post(&reject, json!({"comment": "not during the freeze"}), Some(&at.operator.token)).await;
        assert_eq!(rejected.body["state"], "rejected", "{:?}", rejected.body);
        let ended = run_of(&app, &at, &run).await;
        assert_eq!(ended["state"], "failed");
        assert!(ended["failure_reason"].as_str().unwrap().contains("not during the freeze"), "{ended}");

        let late = suspended(&app, &at, "2026-11").await;
        let id = pending_of(&app, &at, &late).await;
        backdate(&app, "approvals", "expires_at", "WHERE state = 'pending'", 1).await;
        let expired = {
            let mut pooled = app.state.pool.get().await.unwrap();
            cp_api::service::approvals::expire(&mut pooled.conn()).await.unwrap()
        };
        assert_eq!(expired, 1);
        let ended = run_of(&app, &at, &late).await;
        assert_eq!(ended["state"], "failed");
        assert!(ended["failure_reason"].as_str().unwrap().contains("expired"), "{ended}");
        let too_late = app.post(&format!("/api/v1/orgs/{org}/approvals/{id}/approve"), json!({}), Some(&at.operator.token)).await;
        assert_eq!(too_late.status, StatusCode::CONFLICT);
        let bad = app.get_as_opt(&format!("/api/v1/orgs/{org}/approvals?state=maybe"), Some(&at.operator.token)).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    }
}
