use actix_web::http::StatusCode;
use serde_json::json;

use crate::support::{TestApp, on_both_backends};

on_both_backends! {
    async fn sign_up_log_in_and_use_the_access_token(backend: Backend) {
        let app = TestApp::start(backend).await;
        let user = app.user("Dev@Example.com", Some("Dev Shop")).await;
        let me = app.get_as("/api/v1/me", &user.token).await;
        assert_eq!(me.status, StatusCode::OK);
        assert_eq!(me.body["email"], "dev@example.com");
        assert_eq!(me.body["is_platform_admin"], false);
        assert_eq!(me.body["memberships"][0]["role"], "admin");
        assert_eq!(me.body["memberships"][0]["org_id"].as_str(), user.org_id.as_deref());

        let wrong = app.post("/api/v1/auth/login", json!({"email": "dev@example.com", "password": "not the password"}), None).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        let unknown = app.post("/api/v1/auth/login", json!({"email": "nobody@example.com", "password": "not the password"}), None).await;
        assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
        assert_eq!(wrong.body["detail"], unknown.body["detail"], "the answer does not tell which was wrong");

        let again = app.post("/api/v1/auth/signup", json!({"email": "DEV@example.com", "password": "correct horse battery"}), None).await;
        assert_eq!(again.status, StatusCode::CONFLICT);
    }

    async fn refresh_tokens_rotate_and_a_replay_revokes_the_family(backend: Backend) {
        let app = TestApp::start(backend).await;
        let user = app.user("dev@example.com", None).await;
        let first = app.post("/api/v1/auth/refresh", json!({"refresh_token": user.refresh_token}), None).await;
        assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
        let rotated = first.body["refresh_token"].as_str().unwrap().to_owned();
        assert_ne!(rotated, user.refresh_token);
        assert_eq!(app.get_as("/api/v1/me", first.body["access_token"].as_str().unwrap()).await.status, StatusCode::OK);

        // The old token again: a replay. It is refused, and so is the token rotated from it.
        let replay = app.post("/api/v1/auth/refresh", json!({"refresh_token": user.refresh_token}), None).await;
        assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
        assert!(replay.body["detail"].as_str().unwrap().contains("already used"));
        let after = app.post("/api/v1/auth/refresh", json!({"refresh_token": rotated}), None).await;
        assert_eq!(after.status, StatusCode::UNAUTHORIZED, "the whole family is revoked");

        let other_login = app.post("/api/v1/auth/login", json!({"email": "dev@example.com", "password": "correct horse battery"}), None).await;
        let other = other_login.body["refresh_token"].as_str().unwrap().to_owned();
        assert_eq!(app.post("/api/v1/auth/logout", json!({"refresh_token": other}), None).await.status, StatusCode::NO_CONTENT);
        assert_eq!(app.post("/api/v1/auth/refresh", json!({"refresh_token": other}), None).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(app.post("/api/v1/auth/refresh", json!({"refresh_token": "amr_nope"}), None).await.status, StatusCode::UNAUTHORIZED);
    }

    async fn expired_and_forged_access_tokens_are_refused(backend: Backend) {
        let app = TestApp::start(backend).await;
        let user = app.user("dev@example.com", None).await;
        let id = uuid::Uuid::parse_str(&user.id).unwrap();
        let expired = app.state.signer.issue(id, chrono::Utc::now().timestamp() - 16 * 60);
        let answer = app.get_as("/api/v1/me", &expired).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.body["detail"], "the access token is not valid or has expired");
        let forged = cp_api::auth::token::Signer::new(vec![7; 32]).issue(id, chrono::Utc::now().timestamp());
        assert_eq!(app.get_as("/api/v1/me", &forged).await.status, StatusCode::UNAUTHORIZED);
    }

    async fn api_keys_are_shown_once_listed_without_secrets_and_revocable(backend: Backend) {
        let app = TestApp::start(backend).await;
        let user = app.user("dev@example.com", None).await;
        let other = app.user("other@example.com", None).await;
        let created = app.post("/api/v1/me/api-keys", json!({"name": "ci"}), Some(&user.token)).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        let key = created.body["api_key"].as_str().unwrap().to_owned();
        assert_eq!(app.get_as("/api/v1/me", &key).await.body["email"], "dev@example.com");

        let listed = app.get_as("/api/v1/me/api-keys", &user.token).await;
        let listed_key = &listed.body["items"][0];
        assert_eq!(listed_key["name"], "ci");
        assert!(listed_key["last_used_at"].is_string(), "use is recorded");
        assert!(!listed.body.to_string().contains(&key[17..]), "the secret is never listed");

        let path = format!("/api/v1/me/api-keys/{}", listed_key["id"].as_str().unwrap());
        assert_eq!(app.delete(&path, Some(&other.token)).await.status, StatusCode::NOT_FOUND, "not theirs");
        assert_eq!(app.get_as("/api/v1/me", &key).await.status, StatusCode::OK);
        assert_eq!(app.delete(&path, Some(&user.token)).await.status, StatusCode::NO_CONTENT);
        assert_eq!(app.get_as("/api/v1/me", &key).await.status, StatusCode::UNAUTHORIZED, "revoked");

        let empty = app.post("/api/v1/me/api-keys", json!({"name": "  "}), Some(&user.token)).await;
        assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(empty.body["errors"][0]["path"], "name");
    }

    async fn malformed_bodies_are_4xx_problems(backend: Backend) {
        let app = TestApp::start(backend).await;
        let send_raw = |body: &'static [u8]| {
            actix_web::test::TestRequest::post()
                .uri("/api/v1/auth/login")
                .insert_header(("content-type", "application/json"))
                .set_payload(body)
        };
        let syntax = app.send(send_raw(b"{\"email\": ")).await;
        assert_eq!(syntax.status, StatusCode::BAD_REQUEST);
        assert_eq!(syntax.content_type(), "application/problem+json");
        let not_utf8 = app.send(send_raw(b"{\"email\": \"\xff\xfe\", \"password\": \"x\"}")).await;
        assert_eq!(not_utf8.status, StatusCode::BAD_REQUEST);
        let wrong_type = app.post("/api/v1/auth/login", json!({"email": 5, "password": "x"}), None).await;
        assert_eq!(wrong_type.status, StatusCode::UNPROCESSABLE_ENTITY);
        let unknown = app.post("/api/v1/auth/login", json!({"email": "a@b.co", "password": "x", "remember": true}), None).await;
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(unknown.body["errors"][0]["message"].as_str().unwrap().contains("unknown field `remember`"));
        let huge = vec![b' '; 10 * 1024 * 1024];
        let too_large = app
            .send(
                actix_web::test::TestRequest::post()
                    .uri("/api/v1/auth/login")
                    .insert_header(("content-type", "application/json"))
                    .set_payload(huge),
            )
            .await;
        assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(too_large.content_type(), "application/problem+json");
    }
}
