//! The OpenAPI 3.1 document of the HTTP surface, `GET /api/openapi.json`, and a browsable reference of it at
//! `GET /api/docs`.
//!
//! Each handler describes itself in a `#[utoipa::path]` beside its code; this module gathers them, with the
//! problem+json answers routes share and the credentials they take. The reference page is HTML that loads
//! its script from a CDN in the browser, so nothing is fetched when the service is built.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, web};
use protocol::PROBLEM_JSON;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, Ref, RefOr};
use utoipa::{IntoResponses, Modify, OpenApi, ToResponse, ToSchema};
use utoipa_scalar::Scalar;

use super::{
    a2a, agents, api_keys, approvals, audit, auth, billing, data_plane, deployments, health, me, members,
    org_settings, platform_settings, runs, webhooks, ws,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/openapi.json", web::get().to(document))
        .route("/api/docs", web::get().to(docs));
}

/// The document: every route's operation, the problem+json answers they share and the credential schemes.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Agent Marketplace control plane",
        description = "The catalog of agents, orgs and their members, installs, runs and the data-plane \
                       protocol. Every error is `application/problem+json` (RFC 9457)."
    ),
    paths(
        health::health,
        health::ready,
        health::live,
        document,
        docs,
        auth::sign_up,
        auth::log_in,
        auth::refresh,
        auth::log_out,
        me::me,
        api_keys::list,
        api_keys::create,
        api_keys::revoke,
        members::list,
        members::add,
        members::change_role,
        members::remove,
        agents::list,
        agents::detail,
        agents::publish,
        agents::reject,
        agents::submit,
        agents::submit_for_review,
        agents::deprecate,
        agents::delete_draft,
        agents::list_reviews,
        agents::put_review,
        agents::reply,
        deployments::install,
        deployments::list,
        deployments::get,
        deployments::upgrade,
        deployments::rollback,
        deployments::uninstall,
        deployments::get_bundle,
        runs::create,
        runs::create_for_agent,
        runs::list,
        runs::get,
        runs::events,
        runs::cancel,
        ws::ws,
        approvals::list,
        org_settings::get,
        org_settings::update,
        approvals::approve,
        approvals::reject,
        health::metrics,
        platform_settings::get,
        platform_settings::update,
        webhooks::create,
        webhooks::list,
        webhooks::get,
        webhooks::update,
        webhooks::delete,
        webhooks::rotate_secret,
        webhooks::ping,
        webhooks::deliveries,
        webhooks::delivery,
        webhooks::redeliver,
        data_plane::register,
        data_plane::heartbeat,
        data_plane::next,
        data_plane::events,
        data_plane::complete,
        data_plane::fail,
        data_plane::suspend,
        audit::org_log,
        audit::platform_log,
        billing::org_billing,
        billing::invoice,
        billing::list_subscriptions,
        billing::subscribe,
        billing::cancel,
        billing::earnings,
        billing::revenue,
        billing::mark_paid,
        billing::void,
        billing::mark_payout_paid,
        a2a::card,
        a2a::call,
    ),
    components(
        schemas(protocol::Problem),
        responses(
            BadRequest,
            Unauthenticated,
            Forbidden,
            NotFound,
            Conflict,
            PaymentRequired,
            PayloadTooLarge,
            UnsupportedMediaType,
            Invalid,
            TooManyRequests,
            Internal,
            Unavailable,
        )
    ),
    modifiers(&Credentials, &RateLimited),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "docs", description = "This document and its browsable reference"),
        (name = "auth", description = "Sign-up, login and refresh tokens"),
        (name = "me", description = "The caller and their API keys"),
        (name = "members", description = "Who belongs to an org, and in which role"),
        (name = "agents", description = "The catalog: listings, versions and their review"),
        (name = "reviews", description = "Ratings and reviews of listed agents"),
        (name = "deployments", description = "Installs of agent versions in an org"),
        (name = "runs", description = "Runs of a deployment"),
        (name = "approvals", description = "Runs waiting on a human decision"),
        (name = "webhooks", description = "An org's changes of state, posted to its receivers and signed (Standard Webhooks)"),
        (name = "data-plane", description = "The protocol a deployment's data plane speaks"),
        (name = "audit", description = "The tamper-evident audit log"),
        (name = "billing", description = "Usage, subscriptions, invoices, payouts and revenue"),
        (name = "a2a", description = "Every deployment as an A2A agent (protocol 1.0, JSON-RPC)"),
    )
)]
pub struct ApiDoc;

/// The document, built once.
static DOCUMENT: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(ApiDoc::openapi);

/// The reference page, with the document inlined.
static DOCS_HTML: LazyLock<String> = LazyLock::new(|| {
    Scalar::new(DOCUMENT.clone())
        .title("Agent Marketplace API")
        .to_html()
});

/// This OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    operation_id = "openApiDocument",
    tag = "docs",
    responses(
        (status = 200, description = "The OpenAPI document", content_type = "application/json"),
    )
)]
async fn document() -> HttpResponse {
    HttpResponse::Ok().json(&*DOCUMENT)
}

/// A browsable reference of this document.
#[utoipa::path(
    get,
    path = "/api/docs",
    operation_id = "apiReference",
    tag = "docs",
    responses(
        (status = 200, description = "An HTML page", content_type = "text/html"),
    )
)]
async fn docs() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::html())
        .body(DOCS_HTML.as_str())
}

/// The two ways a caller presents its credential, as the routes' `security(…)` name them: `bearer` and
/// `api_key`.
struct Credentials;

impl Modify for Credentials {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT or API key")
                    .description(Some(
                        "An access token (a JWT from `/api/v1/auth/login`, good for 15 minutes) or an \
                         API key (`amk_…`). The data-plane routes under `/api/v1/dp` take the deployment's \
                         data-plane credential (`amd_…`) instead.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "An API key (`amk_…`), or on the data-plane routes the deployment's data-plane credential \
                 (`amd_…`).",
            ))),
        );
    }
}

/// Every route under `/api/v1` passes the per-credential rate limit that `http::configure` wraps that scope
/// in, so each may answer 429.
struct RateLimited;

impl Modify for RateLimited {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            if path.starts_with("/api/v1/") {
                for operation in operations(item) {
                    operation
                        .responses
                        .responses
                        .append(&mut TooManyRequests::responses());
                }
            }
        }
    }
}

/// The operations of one path.
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
        &mut item.query,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// A problem+json answer, described once in `components.responses`.
fn problem(description: &str, headers: &[(&str, &str)]) -> Response {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(protocol::Problem::name())))
        .build();
    headers
        .iter()
        .fold(
            ResponseBuilder::new()
                .description(description)
                .content(PROBLEM_JSON, content),
            |response, (name, description)| {
                response.header(
                    *name,
                    HeaderBuilder::new().description(Some(*description)).build(),
                )
            },
        )
        .build()
}

/// A reference to the shared response `name` under `status`.
fn referenced(status: u16, name: &str) -> BTreeMap<String, RefOr<Response>> {
    BTreeMap::from([(status.to_string(), Ref::from_response_name(name).into())])
}

/// The problem+json answers routes share. Each is a response component, and a set of responses a route lists
/// in its `#[utoipa::path(responses(…))]`.
macro_rules! problems {
    ($(
        $(#[$doc:meta])*
        $name:ident = $status:literal, $description:literal $(, $header:literal: $meaning:literal)*;
    )*) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;

        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<Response>) {
                (stringify!($name), problem($description, &[$(($header, $meaning)),*]).into())
            }
        }

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                referenced($status, stringify!($name))
            }
        }
    )*};
}

problems! {
    /// 400: the request cannot be read (malformed JSON, a bad query string or cursor).
    BadRequest = 400, "The request cannot be read";
    /// 401: no credential, or one that is not valid.
    Unauthenticated = 401, "Authentication is required",
        "WWW-Authenticate": "`Bearer`";
    /// 403: the caller is known but lacks the role.
    Forbidden = 403, "The caller's role does not allow this";
    /// 404: no such resource, or one the caller may not know exists.
    NotFound = 404, "Not found, or not visible to the caller";
    /// 409: the request clashes with the current state.
    Conflict = 409, "The request clashes with the current state";
    /// 402: a spending limit stands in the way (the org's monthly spend cap, the run's maximum charge).
    PaymentRequired = 402, "A spending limit stands in the way; `detail` names it and when it resets";
    /// 413: the body is over the limit.
    PayloadTooLarge = 413, "The request body is too large";
    /// 415: the body's media type is not one the route reads.
    UnsupportedMediaType = 415, "The body's media type is not accepted";
    /// 422: the request is well-formed but breaks rules; `errors` lists each, with its path.
    Invalid = 422, "The request is not valid; `errors` lists every field error with its path";
    /// 429: the caller's request rate is used up.
    TooManyRequests = 429, "Too many requests",
        "Retry-After": "Seconds to wait before retrying";
    /// 500: a fault of the service's own.
    Internal = 500, "Internal error";
    /// 503: the database cannot be reached.
    Unavailable = 503, "The database cannot be reached; retry later",
        "Retry-After": "Seconds to wait before retrying";
}

/// What any route that reads a JSON body may answer besides its own errors: unreadable (400), too large
/// (413), or of the wrong shape (422).
#[derive(Debug)]
pub struct BodyErrors;

impl IntoResponses for BodyErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut responses = BadRequest::responses();
        responses.append(&mut PayloadTooLarge::responses());
        responses.append(&mut Invalid::responses());
        responses
    }
}

/// What any route that reaches the database may answer: 500 and 503.
#[derive(Debug)]
pub struct ServerErrors;

impl IntoResponses for ServerErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut responses = Internal::responses();
        responses.append(&mut Unavailable::responses());
        responses
    }
}
