use actix_web::http::StatusCode;
use cp_api::db::Conn;
use cp_api::error::Error;
use cp_api::service::audit;
use diesel_async::RunQueryDsl;
use serde_json::json;

use crate::support::{TestApp, on_both_backends};

async fn sql(conn: &mut Conn<'_>, statement: &str) {
    match conn {
        Conn::Postgres(c) => diesel::sql_query(statement).execute(*c).await.unwrap(),
        Conn::Sqlite(c) => diesel::sql_query(statement).execute(*c).await.unwrap(),
    };
}

async fn verify(app: &TestApp) -> Result<i64, String> {
    let mut pooled = app.state.pool.get().await.unwrap();
    match audit::verify(&mut pooled.conn()).await {
        Ok(verified) => Ok(verified.rows),
        Err(Error::Validation(errors)) => Err(errors[0].to_string()),
        Err(other) => panic!("{other:?}"),
    }
}

/// An org whose admin added and removed a member: five audit rows.
async fn history(app: &TestApp) -> (String, String) {
    let owner = app.user("owner@example.com", Some("Acme")).await;
    let id = owner.org_id.clone().unwrap();
    let member = app.user("member@example.com", None).await;
    let token = Some(owner.token.as_str());
    app.post(
        &format!("/api/v1/orgs/{id}/members"),
        json!({"email": "member@example.com", "role": "viewer"}),
        token,
    )
    .await;
    app.delete(&format!("/api/v1/orgs/{id}/members/{}", member.id), token)
        .await;
    (id, owner.token)
}

on_both_backends! {
    async fn mutations_are_logged_and_the_chain_verifies(backend: Backend) {
        let app = TestApp::start(backend).await;
        let (org, token) = history(&app).await;
        let log = app.get_as(&format!("/api/v1/orgs/{org}/audit"), &token).await;
        assert_eq!(log.status, StatusCode::OK);
        let actions: Vec<&str> = log.body["items"].as_array().unwrap().iter().map(|row| row["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["org.create", "member.add", "member.remove"], "the org's own rows only");
        let first = &log.body["items"][0];
        assert!(first["change_digest"].as_str().unwrap().starts_with("sha256:"));
        assert_eq!(first["client_addr"], serde_json::Value::Null, "test requests have no peer address");
        assert_eq!(verify(&app).await, Ok(5), "two sign-ups, an org, an add, a remove");

        let page = app.get_as(&format!("/api/v1/orgs/{org}/audit?limit=2"), &token).await;
        assert_eq!(page.body["items"].as_array().unwrap().len(), 2);
        let cursor = page.body["next_cursor"].as_str().unwrap();
        let rest = app.get_as(&format!("/api/v1/orgs/{org}/audit?limit=2&cursor={cursor}"), &token).await;
        assert_eq!(rest.body["items"][0]["action"], "member.remove");
        assert_eq!(rest.body["next_cursor"], serde_json::Value::Null);
        for bad in ["limit=0", "limit=-1", "limit=100000", "cursor=abc", "cursor=-5", "sort=seq"] {
            let answer = app.get_as(&format!("/api/v1/orgs/{org}/audit?{bad}"), &token).await;
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(answer.content_type(), "application/problem+json");
        }
        assert_eq!(app.get_as("/api/v1/audit", &token).await.status, StatusCode::FORBIDDEN, "not a platform admin");
    }

    async fn an_edited_row_is_found(backend: Backend) {
        let app = TestApp::start(backend).await;
        history(&app).await;
        let mut pooled = app.state.pool.get().await.unwrap();
        sql(&mut pooled.conn(), "UPDATE audit_log SET action = 'member.promote' WHERE seq = 4").await;
        assert_eq!(verify(&app).await, Err("audit_log[seq=4]: its content does not match its hash (the row was edited)".to_owned()));
    }

    async fn a_deleted_row_is_found(backend: Backend) {
        let app = TestApp::start(backend).await;
        history(&app).await;
        let mut pooled = app.state.pool.get().await.unwrap();
        sql(&mut pooled.conn(), "DELETE FROM audit_log WHERE seq = 3").await;
        assert_eq!(verify(&app).await, Err("audit_log[seq=4]: expected row 3 here: rows are missing or reordered".to_owned()));
    }

    async fn a_deleted_tail_is_found(backend: Backend) {
        let app = TestApp::start(backend).await;
        history(&app).await;
        let mut pooled = app.state.pool.get().await.unwrap();
        sql(&mut pooled.conn(), "DELETE FROM audit_log WHERE seq = 5").await;
        assert_eq!(
            verify(&app).await,
            Err("audit_log[seq=5]: the log ends at row 4 but its head records row 5 (newest rows were deleted)".to_owned())
        );
    }

    async fn reordered_rows_are_found(backend: Backend) {
        let app = TestApp::start(backend).await;
        history(&app).await;
        let mut pooled = app.state.pool.get().await.unwrap();
        let mut conn = pooled.conn();
        sql(&mut conn, "UPDATE audit_log SET seq = 100 WHERE seq = 2").await;
        sql(&mut conn, "UPDATE audit_log SET seq = 2 WHERE seq = 3").await;
        sql(&mut conn, "UPDATE audit_log SET seq = 3 WHERE seq = 100").await;
        assert_eq!(
            verify(&app).await,
            Err("audit_log[seq=2]: does not link to the row before it (a row was deleted, inserted or reordered)".to_owned())
        );
    }
}

/// Many appenders at once: the chain never forks.
#[actix_web::test]
async fn concurrent_appends_keep_one_chain() {
    for backend in [crate::support::Backend::Postgres, crate::support::Backend::Sqlite] {
        let app = TestApp::start(backend).await;
        let signups = (0..12).map(|n| app.user_without_login(format!("user{n}@example.com")));
        futures_util::future::join_all(signups).await;
        assert_eq!(verify(&app).await, Ok(12), "{backend:?}");
    }
}
