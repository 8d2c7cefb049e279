//! Test support: an isolated database per test on each backend, and the app over it.
//!
//! PostgreSQL tests create their own database on the server `TEST_DATABASE_URL` names (`just test` starts a
//! throwaway one) and drop it afterwards; SQLite tests get their own file. So tests run in parallel.

use actix_web::body::MessageBody;
use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use actix_web::test::TestRequest;
use actix_web::{App, web};
use cp_api::db::migrations::{self, Direction};
use cp_api::db::{self, Database};
use cp_api::http::{self, AppState};
use cp_api::service::accounts::{self, Bootstrap, Bootstrapped};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// Writes each test once and runs it on both backends: `name::postgres` and `name::sqlite`.
macro_rules! on_both_backends {
    ($(async fn $name:ident($backend:ident: Backend) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports, reason = "each test uses a different part of its parent module")]
            use super::*;

            async fn run($backend: $crate::support::Backend) $body

            #[actix_web::test]
            async fn postgres() {
                run($crate::support::Backend::Postgres).await;
            }

            #[actix_web::test]
            async fn sqlite() {
                run($crate::support::Backend::Sqlite).await;
            }
        }
    )*};
}
pub(crate) use on_both_backends;

/// A database of its own, removed when dropped.
#[derive(Debug)]
pub struct TestDb {
    pub database: Database,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    Postgres { server: String, name: String },
    Sqlite(std::path::PathBuf),
}

fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!("TEST_DATABASE_URL is not set: run `just test`, which starts a throwaway PostgreSQL")
    })
}

/// `url` with its database name replaced.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(base, query)| (base, Some(query)));
    let scheme_end = base.find("://").map_or(0, |at| at + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

impl TestDb {
    /// An empty database (no migrations run).
    pub async fn empty(backend: Backend) -> Self {
        let unique = uuid::Uuid::now_v7().simple().to_string();
        match backend {
            Backend::Postgres => {
                let server = server_url();
                let name = format!("cp_test_{unique}");
                let mut admin = AsyncPgConnection::establish(&server).await.unwrap();
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                let database = Database::Postgres(with_database(&server, &name));
                Self {
                    database,
                    cleanup: Cleanup::Postgres { server, name },
                }
            }
            Backend::Sqlite => {
                let folder = std::env::temp_dir().join(format!("cp-test-{unique}"));
                let database = Database::Sqlite(folder.join("cp.sqlite"));
                Self {
                    database,
                    cleanup: Cleanup::Sqlite(folder),
                }
            }
        }
    }

    /// A migrated database.
    pub async fn migrated(backend: Backend) -> Self {
        let db = Self::empty(backend).await;
        migrations::run(&db.database, Direction::Up).await.unwrap();
        db
    }

    /// Drops a PostgreSQL test database now, connections and all (to test what an outage looks like).
    pub async fn drop_now(&self) {
        if let Cleanup::Postgres { server, name } = &self.cleanup {
            let mut admin = AsyncPgConnection::establish(server).await.unwrap();
            diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await
                .unwrap();
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Sqlite(folder) => {
                let _ = std::fs::remove_dir_all(folder);
            }
            Cleanup::Postgres { server, name } => {
                let (server, name) = (server.clone(), name.clone());
                // Drop runs inside the test's runtime, which cannot be blocked on: use a thread of its own.
                let _ = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    runtime.block_on(async {
                        if let Ok(mut admin) = AsyncPgConnection::establish(&server).await {
                            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                            let _ = diesel::sql_query(sql).execute(&mut admin).await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

/// A signed-up, logged-in user.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub org_id: Option<String>,
    pub token: String,
    pub refresh_token: String,
}

fn with_token(request: TestRequest, token: Option<&str>) -> TestRequest {
    match token {
        Some(token) => request.insert_header(("Authorization", format!("Bearer {token}"))),
        None => request,
    }
}

/// The control plane's HTTP app over a migrated database of its own.
#[derive(Debug)]
pub struct TestApp {
    pub state: AppState,
    pub db: TestDb,
}

/// A running server of a [`TestApp`]; stopped when dropped.
pub struct Served {
    pub base: String,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for Served {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        actix_web::rt::spawn(async move { handle.stop(false).await });
    }
}

/// An answer: status, headers, and the body as JSON (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: serde_json::Value,
}

impl Answer {
    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }
}

impl TestApp {
    pub async fn start(backend: Backend) -> Self {
        let db = TestDb::migrated(backend).await;
        let pool = db::Pool::open(&db.database, 4).await.unwrap();
        Self {
            state: AppState::load(pool).await.unwrap(),
            db,
        }
    }

    /// The app served over real HTTP on 127.0.0.1 (a free port), sharing this app's state, until the
    /// answer is dropped.
    pub fn serve(&self) -> Served {
        let state = self.state.clone();
        let server = actix_web::HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(state.clone()))
                .configure(http::configure)
        })
        .workers(2)
        .bind(("127.0.0.1", 0))
        .unwrap();
        let address = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Served {
            base: format!("http://{address}"),
            handle,
        }
    }

    /// Sends a request through the whole app: routing, extractors, handlers, error mapping.
    pub async fn send(&self, request: TestRequest) -> Answer {
        self.send_via(&self.state, request).await
    }

    /// Another replica over the same database: its own pool and its own wake-ups, sharing nothing in
    /// memory with this one.
    pub async fn replica(&self) -> AppState {
        let pool = db::Pool::open(&self.db.database, 4).await.unwrap();
        AppState::load(pool).await.unwrap()
    }

    /// Sends a request to the app over `state` (this app's, or a replica's).
    pub async fn send_via(&self, state: &AppState, request: TestRequest) -> Answer {
        let app = actix_web::test::init_service(
            App::new()
                .app_data(web::Data::new(state.clone()))
                .configure(http::configure),
        )
        .await;
        let response = actix_web::test::call_service(&app, request.to_request()).await;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().try_into_bytes().unwrap_or_default();
        let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(TestRequest::get().uri(path)).await
    }

    pub async fn get_as_opt(&self, path: &str, token: Option<&str>) -> Answer {
        self.send(with_token(TestRequest::get().uri(path), token)).await
    }

    /// Signs a user up over the service (concurrently callable: no shared app instance).
    pub async fn user_without_login(&self, email: String) {
        let mut pooled = self.state.pool.get().await.unwrap();
        let actor = cp_api::service::audit::Actor::default();
        cp_api::service::sessions::sign_up(&mut pooled.conn(), &email, "correct horse battery", None, actor)
            .await
            .unwrap();
    }

    pub async fn get_as(&self, path: &str, key: &str) -> Answer {
        self.send(
            TestRequest::get()
                .uri(path)
                .insert_header(("Authorization", format!("Bearer {key}"))),
        )
        .await
    }

    pub async fn post(&self, path: &str, body: serde_json::Value, token: Option<&str>) -> Answer {
        self.send(with_token(TestRequest::post().uri(path).set_json(body), token))
            .await
    }

    pub async fn patch(&self, path: &str, body: serde_json::Value, token: Option<&str>) -> Answer {
        self.send(with_token(TestRequest::patch().uri(path).set_json(body), token))
            .await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Answer {
        self.send(with_token(TestRequest::delete().uri(path), token))
            .await
    }

    /// Signs a user up (with an org of their own when `org` is given) and logs them in.
    pub async fn user(&self, email: &str, org: Option<&str>) -> User {
        let mut body = serde_json::json!({"email": email, "password": "correct horse battery"});
        if let Some(org) = org {
            body["org"] = org.into();
        }
        let created = self.post("/api/v1/auth/signup", body, None).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        let login = self
            .post(
                "/api/v1/auth/login",
                serde_json::json!({"email": email, "password": "correct horse battery"}),
                None,
            )
            .await;
        assert_eq!(login.status, StatusCode::OK, "{:?}", login.body);
        User {
            id: created.body["user_id"].as_str().unwrap().to_owned(),
            org_id: created.body["org_id"].as_str().map(str::to_owned),
            token: login.body["access_token"].as_str().unwrap().to_owned(),
            refresh_token: login.body["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    /// A platform admin with an org and an API key.
    pub async fn bootstrap(&self, email: &str, org: &str) -> Bootstrapped {
        let mut pooled = self.state.pool.get().await.unwrap();
        let input = Bootstrap {
            email: email.to_owned(),
            password: "correct horse battery".to_owned(),
            org: org.to_owned(),
        };
        accounts::bootstrap(&mut pooled.conn(), input).await.unwrap()
    }
}
