use actix_web::http::StatusCode;
use cp_api::http::rate_limit::{Limiter, RateLimit};

use crate::support::{Backend, TestApp};

/// A credential past its burst gets 429 problem+json with `Retry-After`; other credentials and the health
/// checks are untouched.
#[actix_web::test]
async fn a_credential_over_its_rate_gets_429_and_others_carry_on() {
    let mut app = TestApp::start(Backend::Sqlite).await;
    let hasty = app.bootstrap("hasty@example.com", "Hasty").await;
    let calm = app.bootstrap("calm@example.com", "Calm").await;
    app.state.limiter = Limiter::new(RateLimit {
        per_second: 1,
        burst: 3,
    })
    .map(std::sync::Arc::new);

    for _ in 0..3 {
        assert_eq!(
            app.get_as("/api/v1/me", &hasty.api_key).await.status,
            StatusCode::OK
        );
    }
    let refused = app.get_as("/api/v1/me", &hasty.api_key).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.content_type(), "application/problem+json");
    assert_eq!(refused.headers.get("retry-after").unwrap(), "1");
    assert_eq!(
        refused.body["type"],
        "https://agent-marketplace.dev/problems/too-many-requests"
    );

    assert_eq!(
        app.get_as("/api/v1/me", &calm.api_key).await.status,
        StatusCode::OK
    );
    assert_eq!(app.get("/health/ready").await.status, StatusCode::OK);

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        app.get_as("/api/v1/me", &hasty.api_key).await.status,
        StatusCode::OK,
        "the rate refills"
    );
}
