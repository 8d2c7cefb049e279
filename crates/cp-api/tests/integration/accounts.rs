use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use cp_api::error::Error;
use cp_api::service::accounts::{self, Bootstrap};

use crate::support::{TestApp, on_both_backends};

on_both_backends! {
    async fn me_answers_with_the_callers_account_and_orgs(backend: Backend) {
        let app = TestApp::start(backend).await;
        let admin = app.bootstrap("Admin@Example.com", "Acme Platform").await;
        let me = app.get_as("/api/v1/me", &admin.api_key).await;
        assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
        assert_eq!(me.body["id"], admin.user_id.to_string());
        assert_eq!(me.body["email"], "admin@example.com", "emails are kept lowercased");
        assert_eq!(me.body["is_platform_admin"], true);
        assert_eq!(me.body["memberships"][0]["org_id"], admin.org_id.to_string());
        assert_eq!(me.body["memberships"][0]["org_name"], "Acme Platform");
        assert_eq!(me.body["memberships"][0]["role"], "admin");

        let by_header = app
            .send(TestRequest::get().uri("/api/v1/me").insert_header(("X-API-Key", admin.api_key.as_str())))
            .await;
        assert_eq!(by_header.status, StatusCode::OK);
        assert_eq!(by_header.body, me.body);
    }

    async fn bad_credentials_are_401_problems_that_do_not_say_why(backend: Backend) {
        let app = TestApp::start(backend).await;
        let admin = app.bootstrap("admin@example.com", "Acme").await;
        let missing = app.get("/api/v1/me").await;
        assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
        assert_eq!(missing.headers.get("www-authenticate").unwrap(), "Bearer");
        insta::assert_json_snapshot!("no_credentials", missing.body);

        let (prefix, _) = admin.api_key.rsplit_once('_').unwrap();
        let wrong_secret = format!("{prefix}_{}", "0".repeat(64));
        let unknown_prefix = format!("amk_ffffffffffff_{}", "0".repeat(64));
        for key in [wrong_secret.as_str(), unknown_prefix.as_str(), "amk_short", "not a key at all", ""] {
            let answer = app.get_as("/api/v1/me", key).await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{key:?}");
            assert_eq!(answer.content_type(), "application/problem+json");
            let expected = if key.starts_with("amk_") {
                "the API key is not valid"
            } else {
                "the access token is not valid or has expired"
            };
            assert_eq!(answer.body["detail"], expected, "{key:?}");
        }
        let basic = app.send(TestRequest::get().uri("/api/v1/me").insert_header(("Authorization", "Basic eDp5"))).await;
        assert_eq!(basic.status, StatusCode::UNAUTHORIZED);
        assert_eq!(basic.body["detail"], "the Authorization header must be `Bearer <credential>`");
    }

    async fn bootstrap_refuses_taken_names_and_writes_nothing_half(backend: Backend) {
        let app = TestApp::start(backend).await;
        let first = app.bootstrap("admin@example.com", "Acme").await;
        let mut pooled = app.state.pool.get().await.unwrap();
        let again = |email: &str, org: &str| Bootstrap {
            email: email.to_owned(),
            password: "correct horse battery".to_owned(),
            org: org.to_owned(),
        };
        let same_email = accounts::bootstrap(&mut pooled.conn(), again("ADMIN@example.com", "Other")).await;
        assert!(matches!(&same_email, Err(Error::Conflict(detail)) if detail.starts_with("email:")), "{same_email:?}");
        let same_org = accounts::bootstrap(&mut pooled.conn(), again("other@example.com", "Acme")).await;
        assert!(matches!(&same_org, Err(Error::Conflict(detail)) if detail.starts_with("org:")), "{same_org:?}");

        // The refused attempts left nothing behind: "Other" (created before the email clash) was rolled back.
        let created = accounts::bootstrap(&mut pooled.conn(), again("new@example.com", "Other")).await.unwrap();
        assert_ne!(created.org_id, first.org_id);
    }

    async fn bootstrap_reports_every_invalid_field(backend: Backend) {
        let app = TestApp::start(backend).await;
        let mut pooled = app.state.pool.get().await.unwrap();
        let input = Bootstrap { email: "not-an-email".to_owned(), password: "short".to_owned(), org: " ".to_owned() };
        let Err(Error::Validation(errors)) = accounts::bootstrap(&mut pooled.conn(), input).await else {
            panic!("a validation error");
        };
        let paths: Vec<&str> = errors.iter().map(|error| error.path.as_str()).collect();
        assert_eq!(paths, ["email", "password", "org"]);
    }
}
