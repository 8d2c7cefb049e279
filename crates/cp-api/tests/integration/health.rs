use actix_web::http::StatusCode;

use crate::support::{Backend, TestApp, on_both_backends};

on_both_backends! {
    async fn live_and_ready_answer_ok(backend: Backend) {
        let app = TestApp::start(backend).await;
        for path in ["/health", "/health/live", "/health/ready"] {
            let answer = app.get(path).await;
            assert_eq!(answer.status, StatusCode::OK, "{path}");
            assert_eq!(answer.body["status"], "ok", "{path}");
        }
    }

    async fn unknown_routes_are_problem_json_404s(backend: Backend) {
        let app = TestApp::start(backend).await;
        let answer = app.get("/api/v1/no-such-thing").await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        assert_eq!(answer.content_type(), "application/problem+json");
        insta::assert_json_snapshot!("unknown_route", answer.body);
    }
}

/// With the database gone, readiness fails with 503 and Retry-After while liveness holds.
#[actix_web::test]
async fn ready_fails_with_retry_after_when_the_database_is_gone() {
    let app = TestApp::start(Backend::Postgres).await;
    app.db.drop_now().await;
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.content_type(), "application/problem+json");
    assert_eq!(ready.headers.get("retry-after").unwrap(), "5");
    assert_eq!(
        ready.body["type"],
        "https://agent-marketplace.dev/problems/unavailable"
    );
    assert_eq!(app.get("/health/live").await.status, StatusCode::OK);
}

/// A request abandoned mid-query (the client went away) must not take the worker down: actix runs each
/// worker on a single-threaded runtime, where SQLite's blocking calls cannot block on being dropped.
#[actix_web::test]
async fn an_abandoned_sqlite_query_does_not_panic_the_worker() {
    let app = TestApp::start(Backend::Sqlite).await;
    let admin = app.bootstrap("admin@example.com", "Acme").await;
    for _ in 0..20 {
        let mut pooled = app.state.pool.get().await.unwrap();
        let mut conn = pooled.conn();
        let query = cp_api::db::users::find(&mut conn, admin.user_id.into());
        let _ = tokio::time::timeout(std::time::Duration::from_nanos(1), query).await;
    }
    assert_eq!(
        app.get_as("/api/v1/me", &admin.api_key).await.status,
        StatusCode::OK,
        "the pool still serves"
    );
}
