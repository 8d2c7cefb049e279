//! Every org route × every role: admins manage, members read, outsiders see nothing (404), strangers must
//! authenticate (401).

use actix_web::http::StatusCode;
use serde_json::json;

use crate::support::{Answer, TestApp, User, on_both_backends};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Admin,
    Developer,
    Operator,
    Approver,
    Viewer,
    Outsider,
    Anonymous,
}

const EVERYONE: [Who; 7] = [
    Who::Developer,
    Who::Operator,
    Who::Approver,
    Who::Viewer,
    Who::Outsider,
    Who::Anonymous,
    Who::Admin,
];

struct Org {
    id: String,
    users: Vec<(Who, User)>,
    target: String,
}

impl Org {
    fn token(&self, who: Who) -> Option<&str> {
        self.users
            .iter()
            .find(|(w, _)| *w == who)
            .map(|(_, user)| user.token.as_str())
    }
}

async fn org(app: &TestApp) -> Org {
    let owner = app.user("owner@example.com", Some("Acme")).await;
    let id = owner.org_id.clone().unwrap();
    let mut users = vec![(Who::Admin, owner.clone())];
    for (who, role) in [
        (Who::Developer, "developer"),
        (Who::Operator, "operator"),
        (Who::Approver, "approver"),
        (Who::Viewer, "viewer"),
    ] {
        let email = format!("{role}@example.com");
        let user = app.user(&email, None).await;
        let added = app
            .post(
                &format!("/api/v1/orgs/{id}/members"),
                json!({"email": email, "role": role}),
                Some(&owner.token),
            )
            .await;
        assert_eq!(added.status, StatusCode::CREATED, "{:?}", added.body);
        users.push((who, user));
    }
    users.push((
        Who::Outsider,
        app.user("outsider@example.com", Some("Elsewhere")).await,
    ));
    let target = app.user("target@example.com", None).await;
    Org {
        id,
        users,
        target: target.id,
    }
}

fn expect(answer: &Answer, who: Who, allowed: &[Who], ok: StatusCode, route: &str) {
    let expected = match who {
        Who::Anonymous => StatusCode::UNAUTHORIZED,
        Who::Outsider => StatusCode::NOT_FOUND,
        who if allowed.contains(&who) => ok,
        _ => StatusCode::FORBIDDEN,
    };
    assert_eq!(answer.status, expected, "{route} as {who:?}: {:?}", answer.body);
    if !expected.is_success() {
        assert_eq!(
            answer.content_type(),
            "application/problem+json",
            "{route} as {who:?}"
        );
    }
}

const MEMBERS: &[Who] = &[
    Who::Admin,
    Who::Developer,
    Who::Operator,
    Who::Approver,
    Who::Viewer,
];

on_both_backends! {
    async fn org_routes_admit_exactly_their_roles(backend: Backend) {
        let app = TestApp::start(backend).await;
        let org = org(&app).await;
        let (id, target) = (&org.id, &org.target);
        // Admin goes last: its calls succeed and change what the next call sees.
        for who in EVERYONE {
            let token = org.token(who);
            let answer = app.get_as_opt(&format!("/api/v1/orgs/{id}/members"), token).await;
            expect(&answer, who, MEMBERS, StatusCode::OK, "GET members");

            let answer = app.get_as_opt(&format!("/api/v1/orgs/{id}/runs"), token).await;
            expect(&answer, who, MEMBERS, StatusCode::OK, "GET runs");

            let answer = app.get_as_opt(&format!("/api/v1/orgs/{id}/deployments"), token).await;
            expect(&answer, who, MEMBERS, StatusCode::OK, "GET deployments");

            // No such agent: the roles that may install get as far as the catalog's 404.
            let answer = app.post(&format!("/api/v1/orgs/{id}/install"), json!({"agent_id": "com.example.none", "version": "1.0.0", "deployment_type": "saas"}), token).await;
            expect(&answer, who, &[Who::Admin, Who::Operator], StatusCode::NOT_FOUND, "POST install");

            let answer = app.get_as_opt(&format!("/api/v1/orgs/{id}/audit"), token).await;
            expect(&answer, who, &[Who::Admin], StatusCode::OK, "GET audit");

            let answer = app.get_as_opt(&format!("/api/v1/orgs/{id}/webhooks"), token).await;
            expect(&answer, who, &[Who::Admin], StatusCode::OK, "GET webhooks");

            let answer = app.post(&format!("/api/v1/orgs/{id}/webhooks"), json!({"url": "https://hooks.example.com/in", "events": ["*"]}), token).await;
            expect(&answer, who, &[Who::Admin], StatusCode::CREATED, "POST webhooks");

            let answer = app.post(&format!("/api/v1/orgs/{id}/members"), json!({"email": "target@example.com", "role": "viewer"}), token).await;
            expect(&answer, who, &[Who::Admin], StatusCode::CREATED, "POST members");

            let answer = app.patch(&format!("/api/v1/orgs/{id}/members/{target}"), json!({"role": "operator"}), token).await;
            expect(&answer, who, &[Who::Admin], StatusCode::OK, "PATCH member");

            let answer = app.delete(&format!("/api/v1/orgs/{id}/members/{target}"), token).await;
            expect(&answer, who, &[Who::Admin], StatusCode::NO_CONTENT, "DELETE member");
        }
        let unknown_org = app.get_as_opt(&format!("/api/v1/orgs/{}/members", uuid::Uuid::now_v7()), org.token(Who::Admin)).await;
        assert_eq!(unknown_org.status, StatusCode::NOT_FOUND);
        let not_an_id = app.get_as_opt("/api/v1/orgs/acme/members", org.token(Who::Admin)).await;
        assert_eq!(not_an_id.status, StatusCode::NOT_FOUND);
    }

    async fn deployment_and_run_routes_admit_exactly_their_roles(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = crate::catalog::market(&app).await;
        crate::catalog::publish(&app, &market, crate::catalog::NORMALIZER, "application/yaml").await;
        let org = org(&app).await;
        let admin = org.token(Who::Admin);
        let installed = app.post(&format!("/api/v1/orgs/{}/install", org.id), json!({"agent_id": crate::queue::AGENT, "version": "1.0.0", "deployment_type": "saas", "granted_permissions": ["billing:read", "reports:write"]}), admin).await;
        assert_eq!(installed.status, StatusCode::CREATED, "{:?}", installed.body);
        let deployment = installed.body["id"].as_str().unwrap().to_owned();
        let runs = format!("/api/v1/deployments/{deployment}/runs");
        let started = app.post(&runs, crate::queue::inputs(), admin).await;
        assert_eq!(started.status, StatusCode::CREATED, "{:?}", started.body);
        let run = started.body["id"].as_str().unwrap().to_owned();
        for who in EVERYONE {
            let token = org.token(who);
            let answer = app.get_as_opt(&format!("/api/v1/deployments/{deployment}"), token).await;
            expect(&answer, who, MEMBERS, StatusCode::OK, "GET deployment");

            let answer = app.get_as_opt(&format!("/api/v1/runs/{run}"), token).await;
            expect(&answer, who, MEMBERS, StatusCode::OK, "GET run");

            let answer = app.post(&runs, crate::queue::inputs(), token).await;
            expect(&answer, who, &[Who::Admin, Who::Operator], StatusCode::CREATED, "POST runs");
        }
        let platform = app.get_as_opt(&format!("/api/v1/runs/{run}"), Some(&market.admin)).await;
        assert_eq!(platform.status, StatusCode::OK, "a platform admin sees every org's runs");
        for missing in [format!("/api/v1/deployments/{}", uuid::Uuid::now_v7()), "/api/v1/deployments/acme".to_owned(),
                        format!("/api/v1/runs/{}", uuid::Uuid::now_v7()), "/api/v1/runs/acme".to_owned()] {
            let answer = app.get_as_opt(&missing, admin).await;
            assert_eq!(answer.status, StatusCode::NOT_FOUND, "{missing}: {:?}", answer.body);
        }
    }

    async fn members_are_managed_without_losing_the_last_admin(backend: Backend) {
        let app = TestApp::start(backend).await;
        let owner = app.user("owner@example.com", Some("Acme")).await;
        let id = owner.org_id.clone().unwrap();
        let token = Some(owner.token.as_str());
        let second = app.user("second@example.com", None).await;

        let bad_role = app.post(&format!("/api/v1/orgs/{id}/members"), json!({"email": "second@example.com", "role": "owner"}), token).await;
        assert_eq!(bad_role.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(bad_role.body["errors"][0]["path"], "role");
        let nobody = app.post(&format!("/api/v1/orgs/{id}/members"), json!({"email": "nobody@example.com", "role": "viewer"}), token).await;
        assert_eq!(nobody.status, StatusCode::UNPROCESSABLE_ENTITY);

        let demote_self = app.patch(&format!("/api/v1/orgs/{id}/members/{}", owner.id), json!({"role": "viewer"}), token).await;
        assert_eq!(demote_self.status, StatusCode::CONFLICT, "the last admin stays");
        let remove_self = app.delete(&format!("/api/v1/orgs/{id}/members/{}", owner.id), token).await;
        assert_eq!(remove_self.status, StatusCode::CONFLICT);

        let added = app.post(&format!("/api/v1/orgs/{id}/members"), json!({"email": "second@example.com", "role": "admin"}), token).await;
        assert_eq!(added.status, StatusCode::CREATED);
        let twice = app.post(&format!("/api/v1/orgs/{id}/members"), json!({"email": "second@example.com", "role": "admin"}), token).await;
        assert_eq!(twice.status, StatusCode::CONFLICT);
        let demote = app.patch(&format!("/api/v1/orgs/{id}/members/{}", owner.id), json!({"role": "viewer"}), Some(&second.token)).await;
        assert_eq!(demote.status, StatusCode::OK, "with another admin, stepping down is fine");

        let members = app.get_as(&format!("/api/v1/orgs/{id}/members"), &second.token).await;
        let roles: Vec<(&str, &str)> = members.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["email"].as_str().unwrap(), m["role"].as_str().unwrap()))
            .collect();
        assert_eq!(roles, [("owner@example.com", "viewer"), ("second@example.com", "admin")]);
    }
}
