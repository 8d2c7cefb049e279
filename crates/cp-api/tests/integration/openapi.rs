//! The OpenAPI document names every route the app serves, and only those; the reference page is served.

use actix_web::http::{Method, StatusCode};
use actix_web::test::TestRequest;
use actix_web::{App, web};
use cp_api::http;
use serde_json::Value;

use crate::support::{Backend, TestApp, on_both_backends};

/// Every route the HTTP table of the crate's README names, as `(method, path)` with the document's parameter
/// names. A route added to the app and its README belongs here too; the tests below then fail until the
/// document describes it.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/health"),
    ("GET", "/health/ready"),
    ("GET", "/health/live"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/docs"),
    ("POST", "/api/v1/auth/signup"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/logout"),
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/me/api-keys"),
    ("POST", "/api/v1/me/api-keys"),
    ("DELETE", "/api/v1/me/api-keys/{key}"),
    ("GET", "/api/v1/orgs/{org}/members"),
    ("POST", "/api/v1/orgs/{org}/members"),
    ("PATCH", "/api/v1/orgs/{org}/members/{user}"),
    ("DELETE", "/api/v1/orgs/{org}/members/{user}"),
    ("GET", "/api/v1/orgs/{org}/audit"),
    ("GET", "/api/v1/agents"),
    ("GET", "/api/v1/agents/{agent_id}"),
    ("POST", "/api/v1/orgs/{org}/agents"),
    (
        "POST",
        "/api/v1/orgs/{org}/agents/{agent_id}/versions/{version}/submit",
    ),
    (
        "POST",
        "/api/v1/orgs/{org}/agents/{agent_id}/versions/{version}/deprecate",
    ),
    (
        "DELETE",
        "/api/v1/orgs/{org}/agents/{agent_id}/versions/{version}",
    ),
    ("POST", "/api/v1/agents/{agent_id}/publish"),
    ("POST", "/api/v1/agents/{agent_id}/reject"),
    ("GET", "/api/v1/agents/{agent_id}/reviews"),
    ("PUT", "/api/v1/agents/{agent_id}/reviews/mine"),
    (
        "POST",
        "/api/v1/orgs/{org}/agents/{agent_id}/reviews/{review}/reply",
    ),
    ("GET", "/api/v1/audit"),
    ("GET", "/a2a/{deployment}/.well-known/agent-card.json"),
    ("POST", "/a2a/{deployment}"),
    ("POST", "/api/v1/orgs/{org}/install"),
    ("GET", "/api/v1/orgs/{org}/deployments"),
    ("GET", "/api/v1/deployments/{deployment}"),
    ("POST", "/api/v1/deployments/{deployment}/upgrade"),
    ("POST", "/api/v1/deployments/{deployment}/rollback"),
    ("DELETE", "/api/v1/deployments/{deployment}"),
    ("GET", "/api/v1/deployments/{deployment}/bundle"),
    ("POST", "/api/v1/deployments/{deployment}/runs"),
    ("POST", "/api/v1/agents/{agent_id}/runs"),
    ("POST", "/api/v1/runs/{run}/cancel"),
    ("GET", "/api/v1/ws"),
    ("GET", "/api/v1/orgs/{org}/approvals"),
    ("GET", "/api/v1/orgs/{org}/settings"),
    ("PATCH", "/api/v1/orgs/{org}/settings"),
    ("POST", "/api/v1/orgs/{org}/approvals/{approval}/approve"),
    ("POST", "/api/v1/orgs/{org}/approvals/{approval}/reject"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/platform/settings"),
    ("PATCH", "/api/v1/platform/settings"),
    ("POST", "/api/v1/orgs/{org}/webhooks"),
    ("GET", "/api/v1/orgs/{org}/webhooks"),
    ("GET", "/api/v1/orgs/{org}/webhooks/{webhook}"),
    ("PATCH", "/api/v1/orgs/{org}/webhooks/{webhook}"),
    ("DELETE", "/api/v1/orgs/{org}/webhooks/{webhook}"),
    ("POST", "/api/v1/orgs/{org}/webhooks/{webhook}/secret"),
    ("POST", "/api/v1/orgs/{org}/webhooks/{webhook}/ping"),
    ("GET", "/api/v1/orgs/{org}/webhooks/{webhook}/deliveries"),
    (
        "GET",
        "/api/v1/orgs/{org}/webhooks/{webhook}/deliveries/{delivery}",
    ),
    (
        "POST",
        "/api/v1/orgs/{org}/webhooks/{webhook}/deliveries/{delivery}/redeliver",
    ),
    ("GET", "/api/v1/runs/{run}"),
    ("GET", "/api/v1/runs/{run}/events"),
    ("GET", "/api/v1/orgs/{org}/runs"),
    ("POST", "/api/v1/dp/register"),
    ("POST", "/api/v1/dp/heartbeat"),
    ("GET", "/api/v1/dp/tasks/next"),
    ("POST", "/api/v1/dp/tasks/{task}/events"),
    ("POST", "/api/v1/dp/tasks/{task}/complete"),
    ("POST", "/api/v1/dp/tasks/{task}/fail"),
    ("POST", "/api/v1/dp/tasks/{task}/suspend"),
    ("GET", "/api/v1/orgs/{org}/billing"),
    ("GET", "/api/v1/orgs/{org}/invoices/{invoice}"),
    ("GET", "/api/v1/orgs/{org}/subscriptions"),
    ("POST", "/api/v1/orgs/{org}/subscriptions"),
    ("DELETE", "/api/v1/orgs/{org}/subscriptions/{subscription}"),
    ("GET", "/api/v1/orgs/{org}/earnings"),
    ("GET", "/api/v1/platform/revenue"),
    ("POST", "/api/v1/invoices/{invoice}/paid"),
    ("POST", "/api/v1/invoices/{invoice}/void"),
    ("POST", "/api/v1/payouts/{payout}/paid"),
];

/// `(method, path)` of every operation in the document, methods in capitals.
fn documented(document: &Value) -> Vec<(String, String)> {
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations.push((method.to_uppercase(), path.clone()));
        }
    }
    operations.sort();
    operations
}

/// `path` with each `{parameter}` filled in with a value of the right shape.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| match segment {
            "{agent_id}" => "com.example.missing".to_owned(),
            "{version}" => "1.0.0".to_owned(),
            parameter if parameter.starts_with('{') => uuid::Uuid::now_v7().to_string(),
            literal => literal.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether the answer is the app's default one for a request no route matches.
fn is_no_route(answer: &crate::support::Answer, method: &str, path: &str) -> bool {
    answer.status == StatusCode::NOT_FOUND
        && answer.body["detail"].as_str() == Some(format!("no route for {method} {path}").as_str())
}

/// `(method, path)` of every `.route("path", web::method()…)` in the source of `src/http/`. Paths there are
/// relative to the scope they are mounted in, so each is matched against the ends of the document's paths.
fn routes_in_source() -> Vec<(String, String)> {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let mut routes = Vec::new();
    for entry in std::fs::read_dir(folder).unwrap() {
        let file = entry.unwrap().path();
        let source = std::fs::read_to_string(&file).unwrap();
        for call in source.split(".route(").skip(1) {
            let unreadable = || {
                panic!(
                    "{}: a route this test cannot read: .route({call:.60}",
                    file.display()
                )
            };
            let (path, rest) = call
                .trim_start()
                .strip_prefix('"')
                .and_then(|rest| rest.split_once('"'))
                .unwrap_or_else(unreadable);
            let method = rest
                .trim_start()
                .strip_prefix(',')
                .and_then(|rest| rest.trim_start().strip_prefix("web::"))
                .and_then(|rest| rest.split_once("()"))
                .unwrap_or_else(unreadable)
                .0;
            routes.push((method.to_uppercase(), path.to_owned()));
        }
    }
    routes
}

on_both_backends! {
    async fn the_document_describes_every_route_and_each_is_served(backend: Backend) {
        let app = TestApp::start(backend).await;
        let answer = app.get("/api/openapi.json").await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.content_type(), "application/json");
        let document = answer.body;
        let version = document["openapi"].as_str().unwrap();
        assert!(version.starts_with("3.1"), "OpenAPI {version}");

        let listed: Vec<(String, String)> = ROUTES
            .iter()
            .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
            .collect();
        let operations = documented(&document);
        let undocumented: Vec<_> = listed.iter().filter(|route| !operations.contains(route)).collect();
        let unlisted: Vec<_> = operations.iter().filter(|route| !listed.contains(route)).collect();
        assert!(undocumented.is_empty(), "routes the document lacks: {undocumented:?}");
        assert!(unlisted.is_empty(), "operations ROUTES lacks: {unlisted:?}");
        assert_eq!(operations.len(), ROUTES.len(), "ROUTES names each route once");

        let bogus = app.send(TestRequest::post().uri("/api/v1/me")).await;
        assert!(is_no_route(&bogus, "POST", "/api/v1/me"), "a route that is not served: {bogus:?}");
        for (method, path) in ROUTES {
            let uri = concrete(path);
            let request = TestRequest::default()
                .method(Method::from_bytes(method.as_bytes()).unwrap())
                .uri(&uri);
            let answer = app.send(request).await;
            assert!(!is_no_route(&answer, method, &uri), "{method} {path} is not served");
        }

        for (method, path) in routes_in_source() {
            assert!(
                operations
                    .iter()
                    .any(|(documented, full)| *documented == method && full.ends_with(&path)),
                "{method} {path} is mounted in src/http but not in the document"
            );
        }
    }

    async fn errors_are_problem_json_and_credentials_are_described(backend: Backend) {
        let app = TestApp::start(backend).await;
        let document = app.get("/api/openapi.json").await.body;
        let schemes = &document["components"]["securitySchemes"];
        assert_eq!(schemes["bearer"]["scheme"], "bearer");
        assert_eq!(schemes["api_key"]["in"], "header");
        assert_eq!(schemes["api_key"]["name"], "X-API-Key");

        let responses = &document["components"]["responses"];
        let me = &document["paths"]["/api/v1/me"]["get"];
        for status in ["401", "429", "503"] {
            let name = me["responses"][status]["$ref"]
                .as_str()
                .and_then(|reference| reference.strip_prefix("#/components/responses/"))
                .unwrap_or_else(|| panic!("GET /api/v1/me documents no {status}"));
            assert_eq!(
                responses[name]["content"]["application/problem+json"]["schema"]["$ref"],
                "#/components/schemas/Problem",
                "{name}"
            );
        }
        assert_eq!(
            me["security"],
            serde_json::json!([{"bearer": []}, {"api_key": []}])
        );
        let problem = &document["components"]["schemas"]["Problem"]["properties"];
        for field in ["type", "title", "status", "detail", "errors"] {
            assert!(problem.get(field).is_some(), "Problem has no {field}");
        }

        let signup = &document["paths"]["/api/v1/auth/signup"]["post"];
        assert_eq!(
            signup["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/SignUp"
        );
        assert_eq!(
            signup["responses"]["201"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/SignedUp"
        );
    }
}

/// `/api/docs` is an HTML page with the document in it.
#[actix_web::test]
async fn the_reference_page_is_html() {
    let app = TestApp::start(Backend::Sqlite).await;
    let service = actix_web::test::init_service(
        App::new()
            .app_data(web::Data::new(app.state.clone()))
            .configure(http::configure),
    )
    .await;
    let response =
        actix_web::test::call_service(&service, TestRequest::get().uri("/api/docs").to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers().get("content-type").unwrap().to_str().unwrap();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let body = actix_web::test::read_body(response).await;
    let page = std::str::from_utf8(&body).unwrap();
    assert!(page.to_lowercase().starts_with("<!doctype html>"), "{page:.100}");
    assert!(
        page.contains("Agent Marketplace control plane"),
        "the page holds the document"
    );
}
