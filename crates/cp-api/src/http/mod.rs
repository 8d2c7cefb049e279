//! The HTTP surface: one module per resource, each with a `configure` that mounts its routes.

pub mod a2a;
pub mod agents;
pub mod api_keys;
pub mod approvals;
pub mod audit;
pub mod auth;
pub mod billing;
pub mod data_plane;
pub mod deployments;
pub mod health;
pub mod me;
pub mod members;
pub mod openapi;
pub mod org_settings;
pub mod platform_settings;
pub mod rate_limit;
pub mod runs;
pub mod webhooks;
pub mod ws;

use actix_web::{HttpRequest, web};

use crate::auth::Caller;
use crate::auth::token::Signer;
use crate::db;
use crate::error::Error;
use crate::service::audit::Actor;

/// Largest request body accepted, in bytes: a manifest's limit plus room for its envelope.
pub const MAX_BODY_BYTES: usize = 2 * manifest::limits::MAX_BYTES;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub pool: db::Pool,
    pub signer: Signer,
    /// Node kinds a submitted manifest may use: the built-ins and the operator's plugin kinds.
    pub node_kinds: std::sync::Arc<Vec<String>>,
    /// Wakes data planes waiting for tasks when a run is queued.
    pub wake: std::sync::Arc<crate::queue::TaskWake>,
    /// Wakes this replica's live event streams when a run has new events or a new state.
    pub run_changed: std::sync::Arc<crate::queue::Wake>,
    /// Per-credential request rates; none when limits are off.
    pub limiter: Option<std::sync::Arc<rate_limit::Limiter>>,
    /// The URL clients and data planes reach this service at (BYOC bundles carry it); without it, the
    /// address a request came in on.
    pub public_url: Option<std::sync::Arc<str>>,
    /// Where webhooks may post.
    pub webhook_policy: crate::webhooks::address::AddressPolicy,
    /// Turns for catalog searches: how many run at once.
    pub searches: std::sync::Arc<tokio::sync::Semaphore>,
}

/// Catalog searches at once unless told: 2 per CPU core. More only take turns on the same cores, and the
/// turns make every search wait longer (`cargo bench --bench http` compares).
fn default_search_concurrency() -> usize {
    2 * std::thread::available_parallelism().map_or(1, usize::from)
}

impl AppState {
    /// The URL clients reach this service at: `--public-url` when set, else the address the request came
    /// in on.
    #[must_use]
    pub fn public_base(&self, request: &HttpRequest) -> String {
        match &self.public_url {
            Some(url) => url.to_string(),
            None => {
                let connection = request.connection_info();
                format!("{}://{}", connection.scheme(), connection.host())
            }
        }
    }
}

/// Name of the access-token signing key in the settings table.
const SIGNING_KEY: &str = "access_token_signing_key";

impl AppState {
    /// The state over `pool`, with the signing key every replica shares (made on first start).
    ///
    /// # Errors
    ///
    /// Database errors.
    pub async fn load(pool: db::Pool) -> Result<Self, Error> {
        let mut pooled = pool.get().await?;
        let key = db::settings::get_or_init(&mut pooled.conn(), SIGNING_KEY, || {
            let mut key = vec![0_u8; 32];
            // An empty key still signs, but every replica would share it; refuse instead.
            getrandom::fill(&mut key).map(|()| key).unwrap_or_default()
        })
        .await?;
        if key.len() < 32 {
            return Err(Error::Internal(
                "the token signing key is missing or short".to_owned(),
            ));
        }
        drop(pooled);
        let node_kinds = manifest::BUILTIN_NODE_KINDS
            .iter()
            .map(|kind| (*kind).to_owned())
            .collect();
        Ok(Self {
            pool,
            signer: Signer::new(key),
            node_kinds: std::sync::Arc::new(node_kinds),
            limiter: None,
            public_url: None,
            webhook_policy: crate::webhooks::address::AddressPolicy::default(),
            searches: std::sync::Arc::new(tokio::sync::Semaphore::new(default_search_concurrency())),
            wake: std::sync::Arc::default(),
            run_changed: std::sync::Arc::default(),
        })
    }
}

/// Mounts every route and makes every error, the framework's own included, a problem+json answer.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(MAX_BODY_BYTES)
            .error_handler(|error, _| json_error(&error).into()),
    )
    .app_data(web::PayloadConfig::default().limit(MAX_BODY_BYTES))
    .app_data(
        web::QueryConfig::default().error_handler(|error, _| Error::BadRequest(error.to_string()).into()),
    )
    .app_data(web::PathConfig::default().error_handler(|error, _| Error::NotFound(error.to_string()).into()))
    .configure(health::configure)
    .configure(openapi::configure)
    .service(
        web::scope("/api/v1")
            .wrap(actix_web::middleware::from_fn(rate_limit::limit))
            .wrap(actix_web::middleware::from_fn(crate::metrics::time_requests))
            // A request is matched against each route in turn, a path with parameters by a regex: the
            // routes that take most requests come first (the data plane's, behind one prefix; creating
            // runs; the catalog), so those requests try few patterns.
            .configure(data_plane::configure)
            .configure(runs::configure)
            .configure(agents::configure)
            .configure(auth::configure)
            .configure(me::configure)
            .configure(api_keys::configure)
            .configure(members::configure)
            .configure(org_settings::configure)
            .configure(platform_settings::configure)
            .configure(billing::configure)
            .configure(deployments::configure)
            .configure(approvals::configure)
            .configure(webhooks::configure)
            .configure(ws::configure)
            .configure(audit::configure),
    )
    .service(
        web::scope("/a2a")
            .wrap(actix_web::middleware::from_fn(rate_limit::limit))
            .wrap(actix_web::middleware::from_fn(crate::metrics::time_requests))
            .configure(a2a::configure),
    )
    .default_service(web::to(not_found));
}

fn json_error(error: &actix_web::error::JsonPayloadError) -> Error {
    use actix_web::error::JsonPayloadError;
    match error {
        JsonPayloadError::OverflowKnownLength { length, limit } => {
            Error::PayloadTooLarge(format!("the body is {length} bytes; the limit is {limit}"))
        }
        JsonPayloadError::Overflow { limit } => {
            Error::PayloadTooLarge(format!("the body is over {limit} bytes"))
        }
        JsonPayloadError::ContentType => Error::BadRequest("send the body as application/json".to_owned()),
        // Well-formed JSON of the wrong shape (a wrong type, an unknown field) is a validation error.
        JsonPayloadError::Deserialize(error) if error.classify() == serde_json::error::Category::Data => {
            Error::Validation(vec![protocol::FieldError::new("", error.to_string())])
        }
        other => Error::BadRequest(format!("the body is not valid JSON: {other}")),
    }
}

/// Who is acting, for the audit log.
#[must_use]
pub fn actor_of(request: &HttpRequest, caller: Option<&Caller>) -> Actor {
    Actor {
        user: caller.map(|caller| caller.user_id),
        client_addr: request.peer_addr().map(|addr| addr.ip().to_string()),
    }
}

async fn not_found(request: HttpRequest) -> Result<actix_web::HttpResponse, Error> {
    Err(Error::NotFound(format!(
        "no route for {} {}",
        request.method(),
        request.path()
    )))
}
