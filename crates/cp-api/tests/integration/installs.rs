use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use serde_json::json;

use crate::catalog::{NORMALIZER, market, publish, submit};
use crate::support::{TestApp, on_both_backends};

const AGENT: &str = "com.aicloud.finops.billing-normalizer";

on_both_backends! {
    async fn an_org_installs_upgrades_rolls_back_and_uninstalls(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let customer = app.user("ops@customer.example", Some("Customer")).await;
        let org = customer.org_id.clone().unwrap();
        let token = Some(customer.token.as_str());

        let installed = app.post(&format!("/api/v1/orgs/{org}/install"), json!({
            "agent_id": AGENT, "version": "1.0.0", "deployment_type": "saas",
            "config": {"currency": "USD"}, "granted_permissions": ["reports:write", "billing:read", "billing:read"],
        }), token).await;
        assert_eq!(installed.status, StatusCode::CREATED, "{:?}", installed.body);
        let credential = installed.body["credential"].as_str().unwrap();
        assert!(credential.starts_with("amd_"), "{credential}");
        assert_eq!(installed.body["state"], "pending");
        assert_eq!(installed.body["granted_permissions"], json!(["billing:read", "reports:write"]));
        let id = installed.body["id"].as_str().unwrap().to_owned();

        let shown = app.get_as_opt(&format!("/api/v1/deployments/{id}"), token).await;
        assert_eq!(shown.status, StatusCode::OK);
        assert_eq!(shown.body["config"], json!({"currency": "USD"}));
        assert!(shown.body.get("credential").is_none(), "the credential is shown once");
        assert!(!shown.body.to_string().contains(credential.rsplit('_').next().unwrap()));
        let listed = app.get_as_opt(&format!("/api/v1/orgs/{org}/deployments"), token).await;
        assert_eq!(listed.body["items"][0]["id"], id.as_str());
        assert_eq!(app.get(&format!("/api/v1/agents/{AGENT}")).await.body["installs"], 1);

        // A newer version: upgrade, refuse a no-op, roll back.
        let newer = NORMALIZER.replacen("version: 1.0.0", "version: 1.1.0", 1);
        publish(&app, &market, &newer, "application/yaml").await;
        let upgrade = format!("/api/v1/deployments/{id}/upgrade");
        let upgraded = app.post(&upgrade, json!({"version": "1.1.0"}), token).await;
        assert_eq!(upgraded.status, StatusCode::OK, "{:?}", upgraded.body);
        assert_eq!((upgraded.body["version"].as_str(), upgraded.body["previous_version"].as_str()), (Some("1.1.0"), Some("1.0.0")));
        assert_eq!(upgraded.body["granted_permissions"], json!(["billing:read", "reports:write"]), "grants carry over");
        assert_eq!(app.post(&upgrade, json!({"version": "1.1.0"}), token).await.status, StatusCode::CONFLICT);
        let rolled = app.post(&format!("/api/v1/deployments/{id}/rollback"), json!({}), token).await;
        assert_eq!(rolled.status, StatusCode::OK, "{:?}", rolled.body);
        assert_eq!(rolled.body["version"], "1.0.0");

        let uninstalled = app.delete(&format!("/api/v1/deployments/{id}"), token).await;
        assert_eq!(uninstalled.status, StatusCode::OK, "{:?}", uninstalled.body);
        assert_eq!(uninstalled.body["state"], "uninstalled");
        assert_eq!(app.delete(&format!("/api/v1/deployments/{id}"), token).await.status, StatusCode::CONFLICT);
        assert_eq!(app.post(&upgrade, json!({"version": "1.1.0"}), token).await.status, StatusCode::CONFLICT);
        assert_eq!(app.get(&format!("/api/v1/agents/{AGENT}")).await.body["installs"], 0);
        let listed = app.get_as_opt(&format!("/api/v1/orgs/{org}/deployments"), token).await;
        assert_eq!(listed.body["items"], json!([]));
        let all = app.get_as_opt(&format!("/api/v1/orgs/{org}/deployments?include_uninstalled=true"), token).await;
        assert_eq!(all.body["items"][0]["state"], "uninstalled");
    }

    async fn bad_installs_are_refused_with_every_error_and_write_nothing(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let draft = NORMALIZER.replacen("version: 1.0.0", "version: 2.0.0-beta.1", 1);
        assert!(submit(&app, &market, &draft, "application/yaml").await.status.is_success());
        let customer = app.user("ops@customer.example", Some("Customer")).await;
        let org = customer.org_id.clone().unwrap();
        let token = Some(customer.token.as_str());
        let install = format!("/api/v1/orgs/{org}/install");
        let body = |version: &str, kind: &str, config: serde_json::Value, granted: serde_json::Value| json!({
            "agent_id": AGENT, "version": version, "deployment_type": kind, "config": config, "granted_permissions": granted,
        });

        let extra = app.post(&install, body("1.0.0", "saas", json!({}), json!(["billing:read", "cloud:admin", "root"])), token).await;
        assert_eq!(extra.status, StatusCode::UNPROCESSABLE_ENTITY);
        let paths: Vec<&str> = extra.body["errors"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
        assert_eq!(paths, ["granted_permissions[1]", "granted_permissions[2]"]);
        assert!(extra.body["errors"][0]["message"].as_str().unwrap().contains("cloud:admin"));

        let shape = app.post(&install, body("1.0.0", "onprem", json!([1]), json!([])), token).await;
        assert_eq!(shape.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(shape.body["errors"].as_array().unwrap().len(), 2, "{:?}", shape.body);
        insta::assert_json_snapshot!("bad_install_shape", shape.body);

        for version in ["9.9.9", "2.0.0-beta.1"] {
            let answer = app.post(&install, body(version, "byoc", json!({}), json!([])), token).await;
            assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{version}");
            assert_eq!(answer.body["errors"][0]["path"], "version");
        }
        let unknown = json!({"agent_id": "com.example.nothing", "version": "1.0.0", "deployment_type": "saas"});
        assert_eq!(app.post(&install, unknown, token).await.status, StatusCode::NOT_FOUND);
        let stray = json!({"agent_id": AGENT, "version": "1.0.0", "deployment_type": "saas", "replicas": 3});
        assert_eq!(app.post(&install, stray, token).await.status, StatusCode::UNPROCESSABLE_ENTITY);
        let garbage = TestRequest::post().uri(&install).insert_header(("content-type", "application/json"))
            .insert_header(("Authorization", format!("Bearer {}", customer.token))).set_payload("{\"agent_id\": ");
        assert_eq!(app.send(garbage).await.status, StatusCode::BAD_REQUEST);

        let listed = app.get_as_opt(&format!("/api/v1/orgs/{org}/deployments?include_uninstalled=true"), token).await;
        assert_eq!(listed.body["items"], json!([]), "nothing half-written");
        assert_eq!(app.get(&format!("/api/v1/agents/{AGENT}")).await.body["installs"], 0);
        assert_eq!(app.get_as_opt("/api/v1/deployments/not-a-uuid", token).await.status, StatusCode::NOT_FOUND);
        let nobody = uuid::Uuid::now_v7();
        assert_eq!(app.get_as_opt(&format!("/api/v1/deployments/{nobody}"), token).await.status, StatusCode::NOT_FOUND);
    }

    async fn only_admins_and_operators_install_and_other_orgs_see_nothing(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let admin = app.user("admin@customer.example", Some("Customer")).await;
        let org = admin.org_id.clone().unwrap();
        let mut members = Vec::new();
        for role in ["developer", "operator", "approver", "viewer"] {
            let email = format!("{role}@customer.example");
            let user = app.user(&email, None).await;
            let added = app.post(&format!("/api/v1/orgs/{org}/members"), json!({"email": email, "role": role}), Some(&admin.token)).await;
            assert_eq!(added.status, StatusCode::CREATED);
            members.push((role, user));
        }
        let outsider = app.user("someone@elsewhere.example", Some("Elsewhere")).await;
        let install = format!("/api/v1/orgs/{org}/install");
        let body = json!({"agent_id": AGENT, "version": "1.0.0", "deployment_type": "byoc"});
        let mut id = String::new();
        for (role, user) in &members {
            let answer = app.post(&install, body.clone(), Some(&user.token)).await;
            let expected = if *role == "operator" { StatusCode::CREATED } else { StatusCode::FORBIDDEN };
            assert_eq!(answer.status, expected, "{role}: {:?}", answer.body);
            if answer.status == StatusCode::CREATED {
                id = answer.body["id"].as_str().unwrap().to_owned();
            }
        }
        assert_eq!(app.post(&install, body.clone(), Some(&outsider.token)).await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.post(&install, body, None).await.status, StatusCode::UNAUTHORIZED);

        let deployment = format!("/api/v1/deployments/{id}");
        for (role, user) in &members {
            assert_eq!(app.get_as_opt(&deployment, Some(&user.token)).await.status, StatusCode::OK, "{role} reads");
            let expected = if *role == "operator" { StatusCode::CONFLICT } else { StatusCode::FORBIDDEN };
            let rollback = app.post(&format!("{deployment}/rollback"), json!({}), Some(&user.token)).await;
            assert_eq!(rollback.status, expected, "{role}: nothing to roll back to, if allowed at all");
        }
        let foreign = app.get_as_opt(&deployment, Some(&outsider.token)).await;
        assert_eq!(foreign.status, StatusCode::NOT_FOUND, "another org's deployment does not exist for them");
        assert_eq!(app.delete(&deployment, Some(&outsider.token)).await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.get_as_opt(&deployment, Some(&market.admin)).await.status, StatusCode::OK, "platform admins see it");
    }
}
