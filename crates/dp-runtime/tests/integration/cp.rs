//! A real control plane for the data plane to talk to: the `cp-api` app over a fresh SQLite file, or a fresh
//! database on the PostgreSQL server `TEST_DATABASE_URL` names, served over HTTP on 127.0.0.1, set up
//! through its HTTP API (sign-up, publish, install, start a run).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cp_api::db::migrations::{self, Direction};
use cp_api::db::{self, Database};
use cp_api::http::AppState;
use cp_api::service::accounts::{self, Bootstrap};
use dp_runtime::client::ControlPlane;
use dp_runtime::client::a2a::A2aClient;
use dp_runtime::memory_service::MemoryService;
use dp_runtime::nodes::{NodeRegistry, Services, register_builtin_nodes};
use dp_runtime::poller::{Metrics, Poller, PollerConfig};
use dp_runtime::redact::Redactor;
use dp_runtime::tools::{ToolRegistry, ToolsConfig, builtin_tools};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub const NORMALIZER: &str = include_str!("../fixtures/billing-normalizer.yaml");
pub const NORMALIZER_HANDING_OFF: &str = include_str!("../fixtures/billing-normalizer-handoff.yaml");
pub const DETECTOR: &str = include_str!("../fixtures/anomaly-detector.yaml");
const PASSWORD: &str = "correct horse battery";

/// The database a control plane runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The control plane, served on a fixed local port so it can be stopped and started again.
pub struct Cp {
    pub state: AppState,
    pub address: SocketAddr,
    server: Option<actix_web::dev::ServerHandle>,
    folder: PathBuf,
    /// The PostgreSQL server and the database made for this control plane, dropped with it.
    postgres: Option<(String, String)>,
    http: reqwest::Client,
}

impl Drop for Cp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.folder);
        if let Some((server, name)) = self.postgres.take() {
            // Inside the test's runtime, which cannot be blocked on: a thread of its own.
            let _ = std::thread::spawn(move || {
                use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl as _};
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

/// `url` naming the database `name` instead.
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

/// Who publishes: the platform admin's API key, a developer's access token and their org.
pub struct Market {
    pub admin: String,
    pub developer: String,
    pub org: String,
}

/// An org with the agent installed: whom to call as, and the deployment's credential.
pub struct Installed {
    pub operator: String,
    pub deployment: String,
    pub credential: String,
}

impl Cp {
    pub async fn start() -> Self {
        Self::start_on(Backend::Sqlite).await
    }

    /// A control plane on `backend`; PostgreSQL's is a new database on the server `TEST_DATABASE_URL` names.
    pub async fn start_on(backend: Backend) -> Self {
        let unique = uuid::Uuid::now_v7().simple().to_string();
        let folder = std::env::temp_dir().join(format!("dp-e2e-{unique}"));
        let (database, postgres) = match backend {
            Backend::Sqlite => (Database::Sqlite(folder.join("cp.sqlite")), None),
            Backend::Postgres => {
                use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl as _};
                let server = std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| {
                    panic!(
                        "TEST_DATABASE_URL is not set: run `just test`, which starts a throwaway PostgreSQL"
                    )
                });
                let name = format!("dp_e2e_{unique}");
                let mut admin = AsyncPgConnection::establish(&server).await.unwrap();
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                (
                    Database::Postgres(with_database(&server, &name)),
                    Some((server, name)),
                )
            }
        };
        migrations::run(&database, Direction::Up).await.unwrap();
        let pool = db::Pool::open(&database, 4).await.unwrap();
        let state = AppState::load(pool).await.unwrap();
        let mut cp = Self {
            state,
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            server: None,
            folder,
            postgres,
            http: reqwest::Client::new(),
        };
        cp.serve();
        cp
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Serves (again) on the same address.
    pub fn serve(&mut self) {
        let state = self.state.clone();
        let server = actix_web::HttpServer::new(move || {
            actix_web::App::new()
                .app_data(actix_web::web::Data::new(state.clone()))
                .configure(cp_api::http::configure)
        })
        .workers(2)
        .shutdown_timeout(1)
        .bind(self.address)
        .unwrap();
        self.address = server.addrs()[0];
        let server = server.run();
        self.server = Some(server.handle());
        actix_web::rt::spawn(server);
    }

    /// Stops serving: new connections are refused until [`Cp::serve`]; requests in flight (long polls)
    /// finish first, as when a replica is taken down.
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop(true).await;
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base()));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request.send().await.unwrap();
        let status = answer.status().as_u16();
        let text = answer.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Value {
        let (status, answer) = self
            .call(reqwest::Method::POST, path, Some(token), Some(body))
            .await;
        assert!((200..300).contains(&status), "POST {path}: {status} {answer}");
        answer
    }

    pub async fn get(&self, path: &str, token: &str) -> Value {
        let (status, answer) = self.call(reqwest::Method::GET, path, Some(token), None).await;
        assert!((200..300).contains(&status), "GET {path}: {status} {answer}");
        answer
    }

    /// Signs up (with an org) and logs in; the access token and the org.
    pub async fn user(&self, email: &str, org: &str) -> (String, String) {
        let body = json!({"email": email, "password": PASSWORD, "org": org});
        let (status, created) = self
            .call(reqwest::Method::POST, "/api/v1/auth/signup", None, Some(body))
            .await;
        assert_eq!(status, 201, "{created}");
        let body = json!({"email": email, "password": PASSWORD});
        let (status, login) = self
            .call(reqwest::Method::POST, "/api/v1/auth/login", None, Some(body))
            .await;
        assert_eq!(status, 200, "{login}");
        (
            login["access_token"].as_str().unwrap().to_owned(),
            created["org_id"].as_str().unwrap().to_owned(),
        )
    }

    /// A platform admin's API key, and a developer with an org of their own.
    pub async fn market(&self) -> Market {
        let admin = {
            let mut pooled = self.state.pool.get().await.unwrap();
            let input = Bootstrap {
                email: "admin@platform.example".to_owned(),
                password: PASSWORD.to_owned(),
                org: "Platform".to_owned(),
            };
            accounts::bootstrap(&mut pooled.conn(), input)
                .await
                .unwrap()
                .api_key
        };
        let (developer, org) = self.user("dev@aicloud.example", "AI Cloud").await;
        Market {
            admin,
            developer,
            org,
        }
    }

    /// Submits, sends for review and publishes a manifest (YAML); its agent id and version.
    pub async fn publish(&self, market: &Market, manifest: &str) -> (String, String) {
        let answer = self
            .http
            .post(format!("{}/api/v1/orgs/{}/agents", self.base(), market.org))
            .bearer_auth(&market.developer)
            .header("content-type", "application/yaml")
            .body(manifest.to_owned())
            .send()
            .await
            .unwrap();
        let status = answer.status();
        let submitted: Value = answer.json().await.unwrap();
        assert!(status.is_success(), "{submitted}");
        let (agent, version) = (
            submitted["agent_id"].as_str().unwrap(),
            submitted["version"].as_str().unwrap(),
        );
        self.post(
            &format!(
                "/api/v1/orgs/{}/agents/{agent}/versions/{version}/submit",
                market.org
            ),
            &market.developer,
            json!({}),
        )
        .await;
        self.post(
            &format!("/api/v1/agents/{agent}/publish"),
            &market.admin,
            json!({"version": version}),
        )
        .await;
        (agent.to_owned(), version.to_owned())
    }

    /// An operator with an org of their own: the access token and the org.
    pub async fn operator(&self) -> (String, String) {
        self.user("ops@acme.example", "Acme").await
    }

    /// Installs a published agent for the operator's org with `granted` scopes.
    pub async fn install_into(
        &self,
        operator: &(String, String),
        agent: &(String, String),
        granted: &[&str],
    ) -> Installed {
        let (token, org) = operator;
        let installed = self
            .post(
                &format!("/api/v1/orgs/{org}/install"),
                token,
                json!({"agent_id": agent.0, "version": agent.1, "deployment_type": "saas", "granted_permissions": granted}),
            )
            .await;
        Installed {
            operator: token.clone(),
            deployment: installed["id"].as_str().unwrap().to_owned(),
            credential: installed["credential"].as_str().unwrap().to_owned(),
        }
    }

    /// Publishes `manifest` (YAML) and installs it for a new org with `granted` scopes.
    pub async fn install(&self, manifest: &str, granted: &[&str]) -> Installed {
        let market = self.market().await;
        let agent = self.publish(&market, manifest).await;
        let operator = self.operator().await;
        self.install_into(&operator, &agent, granted).await
    }

    pub async fn start_run(&self, at: &Installed, inputs: Value) -> String {
        let run = self
            .post(
                &format!("/api/v1/deployments/{}/runs", at.deployment),
                &at.operator,
                json!({"inputs": inputs}),
            )
            .await;
        run["id"].as_str().unwrap().to_owned()
    }

    pub async fn run(&self, at: &Installed, run: &str) -> Value {
        self.get(&format!("/api/v1/runs/{run}"), &at.operator).await
    }

    /// Waits for the run to reach `state` (panics with the run after `limit`).
    pub async fn wait_for(&self, at: &Installed, run: &str, state: &str, limit: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let view = self.run(at, run).await;
            if view["state"] == state {
                return view;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the run is not {state}: {view:#}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The run's stored events, as its live stream sends them (the run must have ended).
    pub async fn events(&self, at: &Installed, run: &str) -> Vec<Value> {
        let text = self
            .http
            .get(format!("{}/api/v1/runs/{run}/events", self.base()))
            .header("Accept", "text/event-stream")
            .bearer_auth(&at.operator)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
            .collect()
    }

    /// Sets every held task's lease to have run out two minutes ago, as if its data plane had vanished.
    pub async fn expire_leases(&self) {
        use diesel_async::RunQueryDsl;
        let past = cp_api::db::Time::from_unix_micros(chrono::Utc::now().timestamp_micros() - 120_000_000);
        let mut pooled = self.state.pool.get().await.unwrap();
        let sql = "UPDATE tasks SET lease_expires_at = ? WHERE leased_by IS NOT NULL";
        let mut conn = pooled.conn();
        match &mut conn {
            cp_api::db::Conn::Sqlite(conn) => {
                diesel::sql_query(sql)
                    .bind::<cp_api::db::sql_types::Timestamptz, _>(past)
                    .execute(&mut **conn)
                    .await
                    .unwrap();
            }
            cp_api::db::Conn::Postgres(_) => unreachable!("these tests run on SQLite"),
        }
    }
}

/// A data plane: the poller with the built-in nodes and tools (plus `extra` tools), over the sample data.
pub struct Dp {
    pub metrics: Arc<Metrics>,
    pub shutdown: CancellationToken,
    pub handle: tokio::task::JoinHandle<Result<(), dp_runtime::client::ClientError>>,
    _reports: PathBuf,
}

pub struct DpSetup<'a> {
    pub cp: &'a Cp,
    pub credential: &'a str,
    pub instance: &'a str,
    pub extra: fn(&mut ToolRegistry),
    pub secrets: Vec<String>,
    pub grace: Duration,
    /// The reports folder (default: one of its own).
    pub reports: Option<PathBuf>,
    /// A token for `a2a` nodes.
    pub a2a_token: Option<String>,
    /// For memory nodes.
    pub memory: Option<Arc<MemoryService>>,
}

impl<'a> DpSetup<'a> {
    /// The built-in tools, no extra secrets, a five-second shutdown grace.
    pub fn new(cp: &'a Cp, credential: &'a str, instance: &'a str) -> Self {
        Self {
            cp,
            credential,
            instance,
            extra: no_extra_tools,
            secrets: Vec::new(),
            grace: Duration::from_secs(5),
            reports: None,
            a2a_token: None,
            memory: None,
        }
    }
}

pub fn no_extra_tools(_: &mut ToolRegistry) {}

impl Dp {
    pub fn start(setup: DpSetup<'_>) -> Self {
        let reports = setup.reports.clone().unwrap_or_else(|| {
            std::env::temp_dir().join(format!("dp-reports-{}", uuid::Uuid::now_v7().simple()))
        });
        let mut tools = builtin_tools(&ToolsConfig {
            http_allow: vec![],
            billing_root: Some(PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../examples/finops"
            ))),
            reports_root: Some(reports.clone()),
        });
        (setup.extra)(&mut tools);
        let mut registry = NodeRegistry::new();
        register_builtin_nodes(
            &mut registry,
            &Services {
                tools: Arc::new(tools),
                a2a: setup
                    .a2a_token
                    .as_deref()
                    .map(|token| Arc::new(A2aClient::new(&setup.cp.base(), token))),
                memory: setup.memory.clone(),
                ..Services::default()
            },
        );
        let mut secrets = setup.secrets;
        secrets.push(setup.credential.to_owned());
        let client = ControlPlane::new(
            &setup.cp.base(),
            setup.credential,
            Arc::new(Redactor::new(secrets)),
        )
        .unwrap();
        let mut config = PollerConfig::new(setup.instance.to_owned());
        config.slots = 2;
        config.wait = Duration::from_secs(2);
        config.batch_every = Duration::from_millis(50);
        config.backoff_max = Duration::from_millis(500);
        config.shutdown_grace = setup.grace;
        let metrics = Arc::new(Metrics::default());
        let poller = Poller::new(Arc::new(client), Arc::new(registry), config, Arc::clone(&metrics));
        let shutdown = CancellationToken::new();
        let handle = tokio::spawn(poller.run(shutdown.clone()));
        Self {
            metrics,
            shutdown,
            handle,
            _reports: reports,
        }
    }

    /// SIGTERM's path: stop claiming, finish, exit.
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(30), self.handle)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let _ = std::fs::remove_dir_all(&self._reports);
    }
}
