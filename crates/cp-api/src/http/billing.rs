//! Billing over HTTP: an org's month, invoices (JSON or CSV) and subscriptions; a developer org's
//! earnings and payouts; the platform's revenue and the recording of payments, for platform admins.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::openapi::{
    BadRequest, BodyErrors, Conflict, Forbidden, Invalid, NotFound, ServerErrors, Unauthenticated,
};
use super::{AppState, actor_of};
use crate::auth::roles::{OrgAdmin, OrgDeveloper, OrgMember, PlatformAdmin};
use crate::billing::invoices::{self, InvoiceView, Settlement};
use crate::billing::overview::{self, BillingView, RevenueView};
use crate::billing::payouts::{self, EarningsView, PayoutView};
use crate::billing::subscriptions::{self, SubscriptionView};
use crate::billing::{Period, PeriodError};
use crate::db::{self, Id};
use crate::error::Error;
use crate::service::audit::{self, Entry};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orgs/{org}/billing", web::get().to(org_billing))
        .route("/orgs/{org}/invoices/{invoice}", web::get().to(invoice))
        .route("/orgs/{org}/subscriptions", web::get().to(list_subscriptions))
        .route("/orgs/{org}/subscriptions", web::post().to(subscribe))
        .route(
            "/orgs/{org}/subscriptions/{subscription}",
            web::delete().to(cancel),
        )
        .route("/orgs/{org}/earnings", web::get().to(earnings))
        .route("/platform/revenue", web::get().to(revenue))
        .route("/invoices/{invoice}/paid", web::post().to(mark_paid))
        .route("/invoices/{invoice}/void", web::post().to(void))
        .route("/payouts/{payout}/paid", web::post().to(mark_payout_paid));
}

/// A month, `YYYY-MM` (UTC).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct MonthQuery {
    /// `YYYY-MM`; the month in progress when absent.
    month: Option<String>,
}

/// `month`, or the month in progress.
fn month(asked: Option<&str>) -> Result<Period, Error> {
    asked.map_or_else(
        || Ok(Period::current()),
        |text| {
            text.parse().map_err(|error: PeriodError| {
                Error::Validation(vec![protocol::FieldError::new("month", error.to_string())])
            })
        },
    )
}

/// The org's billing: this month's usage so far (as a draft invoice) and charges, its subscriptions and
/// its invoices.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/billing",
    operation_id = "getOrgBilling",
    tag = "billing",
    params(("org" = uuid::Uuid, Path, description = "The org's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The org's billing", body = BillingView),
        Unauthenticated,
        NotFound,
        ServerErrors,
    )
)]
async fn org_billing(access: OrgMember, state: web::Data<AppState>) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let view = overview::billing(&mut pooled.conn(), access.org_id, Period::current()).await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct FormatQuery {
    /// `json` (the default) or `csv`; `Accept: text/csv` asks for CSV too.
    format: Option<String>,
}

/// One of the org's invoices, as JSON, or as CSV (a row per line and a `total` row) with
/// `Accept: text/csv` or `?format=csv`.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/invoices/{invoice}",
    operation_id = "getInvoice",
    tag = "billing",
    params(
        ("org" = uuid::Uuid, Path, description = "The org's id"),
        ("invoice" = uuid::Uuid, Path, description = "The invoice's id"),
        FormatQuery,
    ),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The invoice",
         content((InvoiceView = "application/json"), (String = "text/csv"))),
        BadRequest,
        Unauthenticated,
        NotFound,
        ServerErrors,
    )
)]
async fn invoice(
    request: HttpRequest,
    access: OrgMember,
    state: web::Data<AppState>,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
    query: web::Query<FormatQuery>,
) -> Result<HttpResponse, Error> {
    let csv = match query.format.as_deref() {
        Some("csv") => true,
        Some("json") => false,
        Some(other) => {
            return Err(Error::BadRequest(format!(
                "format {other:?} is not one of json, csv"
            )));
        }
        None => request
            .headers()
            .get(actix_web::http::header::ACCEPT)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|accept| accept.contains("text/csv")),
    };
    let mut pooled = state.pool.get().await?;
    let view = invoices::find(&mut pooled.conn(), access.org_id, Id(path.1)).await?;
    if csv {
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                actix_web::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"invoice-{}.csv\"", view.period),
            ))
            .body(view.to_csv()));
    }
    Ok(HttpResponse::Ok().json(view))
}

/// The org's subscriptions, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/subscriptions",
    operation_id = "listSubscriptions",
    tag = "billing",
    params(("org" = uuid::Uuid, Path, description = "The org's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The subscriptions", body = Vec<SubscriptionView>),
        Unauthenticated,
        NotFound,
        ServerErrors,
    )
)]
async fn list_subscriptions(access: OrgMember, state: web::Data<AppState>) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    Ok(HttpResponse::Ok().json(subscriptions::of_org(&mut pooled.conn(), access.org_id).await?))
}

/// A deployment to subscribe to.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Subscribe {
    /// One of the org's deployments whose version has a monthly fee.
    deployment_id: uuid::Uuid,
}

/// Subscribes the org to the monthly fee of a deployment's agent (the org's admins); this month's fee is
/// charged at once, each later month's at its start.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/subscriptions",
    operation_id = "subscribe",
    tag = "billing",
    params(("org" = uuid::Uuid, Path, description = "The org's id")),
    request_body = Subscribe,
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "The subscription", body = SubscriptionView),
        BodyErrors,
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        ServerErrors,
    )
)]
async fn subscribe(
    request: HttpRequest,
    access: OrgAdmin,
    state: web::Data<AppState>,
    body: web::Json<Subscribe>,
) -> Result<HttpResponse, Error> {
    let actor = actor_of(&request, Some(&access.caller));
    let mut pooled = state.pool.get().await?;
    let made = db::transaction(&mut pooled.conn(), async |tx| {
        let made = subscriptions::subscribe(tx, access.org_id, Id(body.deployment_id), access.caller.user_id)
            .await?;
        audit::record(
            tx,
            Entry {
                actor: actor.user,
                org: Some(access.org_id),
                action: "subscription.create",
                target: format!("subscription:{}", made.id),
                change: json!({"deployment_id": body.deployment_id, "monthly": made.monthly}),
                client_addr: actor.client_addr.clone(),
            },
        )
        .await?;
        Ok(made)
    })
    .await?;
    Ok(HttpResponse::Created().json(made))
}

/// Cancels one of the org's subscriptions (the org's admins): no fee for later months.
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/subscriptions/{subscription}",
    operation_id = "cancelSubscription",
    tag = "billing",
    params(
        ("org" = uuid::Uuid, Path, description = "The org's id"),
        ("subscription" = uuid::Uuid, Path, description = "The subscription's id"),
    ),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The subscription, cancelled", body = SubscriptionView),
        Unauthenticated,
        Forbidden,
        NotFound,
        ServerErrors,
    )
)]
async fn cancel(
    request: HttpRequest,
    access: OrgAdmin,
    state: web::Data<AppState>,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
) -> Result<HttpResponse, Error> {
    let actor = actor_of(&request, Some(&access.caller));
    let mut pooled = state.pool.get().await?;
    let cancelled = db::transaction(&mut pooled.conn(), async |tx| {
        let cancelled = subscriptions::cancel(tx, access.org_id, Id(path.1)).await?;
        audit::record(
            tx,
            Entry {
                actor: actor.user,
                org: Some(access.org_id),
                action: "subscription.cancel",
                target: format!("subscription:{}", path.1),
                change: json!({}),
                client_addr: actor.client_addr.clone(),
            },
        )
        .await?;
        Ok(cancelled)
    })
    .await?;
    Ok(HttpResponse::Ok().json(cancelled))
}

/// A developer org's earnings (its admins and developers): this month's so far, what is carried over,
/// and its payouts.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/earnings",
    operation_id = "getEarnings",
    tag = "billing",
    params(("org" = uuid::Uuid, Path, description = "The org's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The earnings and payouts", body = EarningsView),
        Unauthenticated,
        Forbidden,
        NotFound,
        ServerErrors,
    )
)]
async fn earnings(access: OrgDeveloper, state: web::Data<AppState>) -> Result<HttpResponse, Error> {
    let mut pooled = state.pool.get().await?;
    let view = payouts::earnings(&mut pooled.conn(), access.org_id, Period::current()).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// The platform's revenue in a month (platform admins): what customers were charged, the developers'
/// part and the platform's, by agent and charge kind.
#[utoipa::path(
    get,
    path = "/api/v1/platform/revenue",
    operation_id = "getPlatformRevenue",
    tag = "billing",
    params(MonthQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The month's revenue", body = RevenueView),
        BadRequest,
        Invalid,
        Unauthenticated,
        Forbidden,
        ServerErrors,
    )
)]
async fn revenue(
    _admin: PlatformAdmin,
    state: web::Data<AppState>,
    query: web::Query<MonthQuery>,
) -> Result<HttpResponse, Error> {
    let period = month(query.month.as_deref())?;
    let mut pooled = state.pool.get().await?;
    Ok(HttpResponse::Ok().json(overview::revenue(&mut pooled.conn(), period).await?))
}

/// A payment recorded by hand.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Payment {
    /// The payment's reference (a bank transfer's, a cheque's).
    reference: Option<String>,
}

async fn settle(
    request: &HttpRequest,
    admin: &PlatformAdmin,
    state: &AppState,
    invoice: Id,
    settlement: Settlement,
) -> Result<HttpResponse, Error> {
    let actor = actor_of(request, Some(&admin.0));
    let action = match settlement {
        Settlement::Paid(_) => "invoice.paid",
        Settlement::Void => "invoice.void",
    };
    let change = match &settlement {
        Settlement::Paid(reference) => json!({"reference": reference}),
        Settlement::Void => json!({}),
    };
    let mut pooled = state.pool.get().await?;
    let view = db::transaction(&mut pooled.conn(), async |tx| {
        let view = invoices::settle(tx, invoice, settlement).await?;
        audit::record(
            tx,
            Entry {
                actor: actor.user,
                org: Some(Id(view.org_id)),
                action,
                target: format!("invoice:{}", invoice.0),
                change,
                client_addr: actor.client_addr.clone(),
            },
        )
        .await?;
        Ok(view)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Records an issued invoice as paid (platform admins; the `manual` payment provider's way of payment).
#[utoipa::path(
    post,
    path = "/api/v1/invoices/{invoice}/paid",
    operation_id = "markInvoicePaid",
    tag = "billing",
    params(("invoice" = uuid::Uuid, Path, description = "The invoice's id")),
    request_body(content = Option<Payment>, description = "The payment's reference, if any"),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The invoice, paid", body = InvoiceView),
        BodyErrors,
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        ServerErrors,
    )
)]
async fn mark_paid(
    request: HttpRequest,
    admin: PlatformAdmin,
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
    body: Option<web::Json<Payment>>,
) -> Result<HttpResponse, Error> {
    let reference = body.and_then(|body| body.into_inner().reference);
    settle(&request, &admin, &state, Id(*path), Settlement::Paid(reference)).await
}

/// Voids an issued invoice (platform admins): it is not to be paid.
#[utoipa::path(
    post,
    path = "/api/v1/invoices/{invoice}/void",
    operation_id = "voidInvoice",
    tag = "billing",
    params(("invoice" = uuid::Uuid, Path, description = "The invoice's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The invoice, void", body = InvoiceView),
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        ServerErrors,
    )
)]
async fn void(
    request: HttpRequest,
    admin: PlatformAdmin,
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, Error> {
    settle(&request, &admin, &state, Id(*path), Settlement::Void).await
}

/// Records a due payout as paid (platform admins), once the transfer to the developer org is made.
#[utoipa::path(
    post,
    path = "/api/v1/payouts/{payout}/paid",
    operation_id = "markPayoutPaid",
    tag = "billing",
    params(("payout" = uuid::Uuid, Path, description = "The payout's id")),
    request_body(content = Option<Payment>, description = "The transfer's reference, if any"),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The payout, paid", body = PayoutView),
        BodyErrors,
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        ServerErrors,
    )
)]
async fn mark_payout_paid(
    request: HttpRequest,
    admin: PlatformAdmin,
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
    body: Option<web::Json<Payment>>,
) -> Result<HttpResponse, Error> {
    let actor = actor_of(&request, Some(&admin.0));
    let reference = body.and_then(|body| body.into_inner().reference);
    let mut pooled = state.pool.get().await?;
    let paid = db::transaction(&mut pooled.conn(), async |tx| {
        let (paid, developer_org) = payouts::mark_paid(tx, Id(*path), reference.as_deref()).await?;
        audit::record(
            tx,
            Entry {
                actor: actor.user,
                org: Some(developer_org),
                action: "payout.paid",
                target: format!("payout:{}", path.as_ref()),
                change: json!({"reference": reference}),
                client_addr: actor.client_addr.clone(),
            },
        )
        .await?;
        Ok(paid)
    })
    .await?;
    Ok(HttpResponse::Ok().json(paid))
}
