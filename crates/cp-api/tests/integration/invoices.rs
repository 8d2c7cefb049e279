//! Subscriptions, invoices and payouts: a closed month's invoice holds the seeds' $16.50 run split
//! $13.20 / $3.30, closing it again changes nothing, payouts below $100 carry over until the sum crosses
//! it, a monthly fee is charged once per month with a balanced journal, invoices come as CSV, and only
//! platform admins record payments.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use cp_api::billing::{Collection, Manual, PaymentProvider, Period, close_period};
use cp_api::db::{self, Conn, Id, Time};
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

use crate::catalog::{Market, NORMALIZER, market, publish};
use crate::queue::{Installed, claim, dp, inputs, installed};
use crate::support::{TestApp, User, on_both_backends};

/// The normalizer with a $49 monthly fee beside its usage prices.
fn with_monthly_fee() -> String {
    NORMALIZER.replace(
        "  per_cpu_hour: \"0.50\"",
        "  per_cpu_hour: \"0.50\"\n  monthly: \"49.00\"",
    )
}

fn month(text: &str) -> Period {
    text.parse().unwrap()
}

/// Runs `sql` with one time bound to its `$1` (`?` on SQLite).
async fn at_time(app: &TestApp, sql: &str, time: Time) {
    let mut pooled = app.state.pool.get().await.unwrap();
    match pooled.conn() {
        Conn::Postgres(c) => {
            diesel::sql_query(sql)
                .bind::<db::sql_types::Timestamptz, _>(time)
                .execute(c)
                .await
                .unwrap();
        }
        Conn::Sqlite(c) => {
            diesel::sql_query(sql.replace("$1", "?"))
                .bind::<db::sql_types::Timestamptz, _>(time)
                .execute(c)
                .await
                .unwrap();
        }
    }
}

/// Moves the charges made this month (and their journals) to the 15th of `period`, as if made then.
pub async fn charged_in(app: &TestApp, period: Period) {
    let mid = Time::from_unix_micros(period.start().0.timestamp_micros() + 14 * 86_400_000_000);
    let this_month = Period::current().start().0.timestamp_micros();
    for (table, column) in [("ledger_entries", "at"), ("charges", "charged_at")] {
        let sql = format!(
            "UPDATE {table} SET {column} = $1 WHERE {column} >= {}",
            placeholder_time(app, this_month)
        );
        at_time(app, &sql, mid).await;
    }
}

/// A literal for a time in the backend's storage (SQLite keeps microseconds since the epoch).
fn placeholder_time(app: &TestApp, micros: i64) -> String {
    match app.state.pool {
        db::Pool::Postgres(_) => format!("to_timestamp({micros}::double precision / 1000000)"),
        db::Pool::Sqlite(_) => micros.to_string(),
    }
}

/// Completes `n` runs of the seeds' example: $16.50 each, $13.20 of it the developer's.
pub async fn seeds_runs(app: &TestApp, at: &Installed, n: usize) {
    let completion = json!({"outputs": {}, "usage": {"cpu_ms": 7_200_000, "units": {"record": 15000}}});
    for _ in 0..n {
        let run = app
            .post(
                &format!("/api/v1/deployments/{}/runs", at.deployment),
                inputs(),
                Some(&at.operator.token),
            )
            .await;
        assert_eq!(run.status, StatusCode::CREATED, "{:?}", run.body);
        let task = claim(app, &at.credential, "dp-1", 1).await[0]["task_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let done = dp(
            app,
            &at.credential,
            &format!("tasks/{task}/complete"),
            Some(completion.clone()),
        )
        .await;
        assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    }
}

async fn close(app: &TestApp, period: Period) -> cp_api::billing::Closed {
    close_period(&app.state.pool, period, &Manual).await.unwrap()
}

async fn stored(
    app: &TestApp,
    period: Period,
) -> (
    Vec<db::invoices::Invoice>,
    Vec<db::invoices::InvoiceLine>,
    Vec<db::payouts::Payout>,
) {
    let mut pooled = app.state.pool.get().await.unwrap();
    let invoices = db::invoices::of_period(&mut pooled.conn(), &period.to_string())
        .await
        .unwrap();
    let mut lines = Vec::new();
    for invoice in &invoices {
        lines.extend(db::invoices::lines(&mut pooled.conn(), invoice.id).await.unwrap());
    }
    let payouts = db::payouts::of_period(&mut pooled.conn(), &period.to_string())
        .await
        .unwrap();
    (invoices, lines, payouts)
}

fn line<'a>(invoice: &'a Value, kind: &str) -> &'a Value {
    invoice["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|line| line["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} line in {invoice}"))
}

async fn member(app: &TestApp, org: &str, admin: &User, email: &str, role: &str) -> User {
    let user = app.user(email, None).await;
    let added = app
        .post(
            &format!("/api/v1/orgs/{org}/members"),
            json!({"email": email, "role": role}),
            Some(&admin.token),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{:?}", added.body);
    user
}

/// One seeds run charged in October 2026, and October closed.
async fn october_closed(app: &TestApp) -> (Market, Installed, String) {
    let market = market(app).await;
    publish(app, &market, NORMALIZER, "application/yaml").await;
    let at = installed(app, "Acme").await;
    seeds_runs(app, &at, 1).await;
    charged_in(app, month("2026-10")).await;
    let closed = close(app, month("2026-10")).await;
    assert_eq!(closed.invoices_issued.len(), 1, "{closed:?}");
    let invoice = closed.invoices_issued[0].to_string();
    (market, at, invoice)
}

/// A provider that is paid the moment it is asked, as a card on file would be.
struct CardOnFile;

impl PaymentProvider for CardOnFile {
    fn name(&self) -> &'static str {
        "card-on-file"
    }

    async fn collect(&self, invoice: &db::invoices::Invoice) -> Result<Collection, cp_api::error::Error> {
        Ok(Collection::Paid {
            reference: format!("card:{}", invoice.period),
        })
    }
}

on_both_backends! {
    async fn a_provider_that_collects_at_once_leaves_the_invoice_paid(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;
        seeds_runs(&app, &at, 1).await;
        charged_in(&app, month("2026-10")).await;
        let closed = close_period(&app.state.pool, month("2026-10"), &CardOnFile).await.unwrap();
        let org = at.operator.org_id.clone().unwrap();
        let invoice = app.get_as_opt(&format!("/api/v1/orgs/{org}/invoices/{}", closed.invoices_issued[0]), Some(&at.operator.token)).await;
        assert_eq!((invoice.body["state"].as_str(), invoice.body["payment_reference"].as_str()), (Some("paid"), Some("card:2026-10")), "{:?}", invoice.body);
        assert!(invoice.body["paid_at"].is_string());
    }

    async fn a_closed_month_invoices_the_seeds_run_and_closing_again_changes_nothing(backend: Backend) {
        let app = TestApp::start(backend).await;
        let (market, at, id) = october_closed(&app).await;
        let org = at.operator.org_id.clone().unwrap();

        let invoice = app.get_as_opt(&format!("/api/v1/orgs/{org}/invoices/{id}"), Some(&at.operator.token)).await;
        assert_eq!(invoice.status, StatusCode::OK, "{:?}", invoice.body);
        let body = &invoice.body;
        assert_eq!((body["period"].as_str(), body["state"].as_str()), (Some("2026-10"), Some("issued")));
        assert_eq!((body["total"].as_str(), body["developer"].as_str(), body["platform"].as_str()), (Some("16.50"), Some("13.20"), Some("3.30")));
        let expected = [("base", 1, "0.50", "0.40", "0.10"), ("units", 15000, "15.00", "12.00", "3.00"), ("compute", 7_200_000, "1.00", "0.80", "0.20")];
        for (kind, quantity, amount, developer, platform) in expected {
            let line = line(body, kind);
            assert_eq!(line["agent"], crate::queue::AGENT);
            assert_eq!((line["quantity"].as_i64(), line["amount"].as_str(), line["developer"].as_str(), line["platform"].as_str()),
                       (Some(quantity), Some(amount), Some(developer), Some(platform)), "{kind}: {line}");
        }
        assert_eq!(line(body, "units")["unit"], "record");

        let (invoices, lines, payouts) = stored(&app, month("2026-10")).await;
        assert_eq!((invoices.len(), lines.len(), payouts.len()), (1, 3, 1));
        assert_eq!(payouts[0].developer_org_id, Id(market.org.parse().unwrap()));
        assert_eq!((payouts[0].earned_micros, payouts[0].state.as_str(), payouts[0].carried_out_micros), (13_200_000, "carried_over", 13_200_000));

        let again = close(&app, month("2026-10")).await;
        assert!(again.is_empty(), "a second close issues nothing: {again:?}");
        assert_eq!(stored(&app, month("2026-10")).await, (invoices, lines, payouts), "the books are as they were");

        // The month in progress shows nothing of October; the invoice is listed.
        let billing = app.get_as_opt(&format!("/api/v1/orgs/{org}/billing"), Some(&at.operator.token)).await;
        assert_eq!(billing.status, StatusCode::OK, "{:?}", billing.body);
        assert_eq!((billing.body["runs"].as_u64(), billing.body["usage"]["state"].as_str(), billing.body["usage"]["total"].as_str()), (Some(0), Some("draft"), Some("0.00")));
        assert_eq!(billing.body["invoices"][0]["id"].as_str(), Some(id.as_str()));

        let revenue = app.get_as_opt("/api/v1/platform/revenue?month=2026-10", Some(&market.admin)).await;
        assert_eq!((revenue.body["billed"].as_str(), revenue.body["developer"].as_str(), revenue.body["platform"].as_str()), (Some("16.50"), Some("13.20"), Some("3.30")), "{:?}", revenue.body);
    }

    async fn this_months_usage_is_a_draft_and_a_month_not_ended_cannot_close(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;
        seeds_runs(&app, &at, 2).await;
        let org = at.operator.org_id.clone().unwrap();
        let billing = app.get_as_opt(&format!("/api/v1/orgs/{org}/billing"), Some(&at.operator.token)).await;
        assert_eq!(billing.status, StatusCode::OK, "{:?}", billing.body);
        assert_eq!((billing.body["runs"].as_u64(), billing.body["usage"]["total"].as_str()), (Some(2), Some("33.00")));
        assert_eq!(billing.body["charges"].as_array().unwrap().len(), 2);
        assert_eq!(line(&billing.body["usage"], "base")["quantity"].as_i64(), Some(2));

        let refused = close_period(&app.state.pool, Period::current(), &Manual).await.unwrap_err();
        assert!(matches!(refused, cp_api::error::Error::Validation(_)), "{refused}");
        let earnings = app.get_as_opt(&format!("/api/v1/orgs/{}/earnings", market.org), Some(&market.developer.token)).await;
        assert_eq!((earnings.status, earnings.body["earned"].as_str()), (StatusCode::OK, Some("26.40")), "{:?}", earnings.body);
    }

    async fn a_payout_below_a_hundred_dollars_carries_over_until_the_sum_crosses_it(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;

        seeds_runs(&app, &at, 1).await;
        charged_in(&app, month("2026-08")).await;
        close(&app, month("2026-08")).await;
        // September: nothing earned, the $13.20 carried on.
        let september = close(&app, month("2026-09")).await;
        assert_eq!((september.invoices_issued.len(), september.payouts_made.len()), (0, 1));
        seeds_runs(&app, &at, 7).await;
        charged_in(&app, month("2026-10")).await;
        close(&app, month("2026-10")).await;

        let earnings = app.get_as_opt(&format!("/api/v1/orgs/{}/earnings", market.org), Some(&market.developer.token)).await;
        assert_eq!(earnings.status, StatusCode::OK, "{:?}", earnings.body);
        let payouts = earnings.body["payouts"].as_array().unwrap();
        let summary: Vec<_> = payouts.iter().map(|payout| (
            payout["period"].as_str().unwrap(), payout["earned"].as_str().unwrap(), payout["carried_in"].as_str().unwrap(),
            payout["amount"].as_str().unwrap(), payout["carried_out"].as_str().unwrap(), payout["state"].as_str().unwrap(),
        )).collect();
        assert_eq!(summary, vec![
            ("2026-10", "92.40", "13.20", "105.60", "0.00", "due"),
            ("2026-09", "0.00", "13.20", "0.00", "13.20", "carried_over"),
            ("2026-08", "13.20", "0.00", "0.00", "13.20", "carried_over"),
        ]);
        assert_eq!(earnings.body["carried_over"].as_str(), Some("0.00"));
        let due = format!("/api/v1/payouts/{}/paid", payouts[0]["id"].as_str().unwrap());
        let refused = app.post(&due, json!({}), Some(&market.developer.token)).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "a developer does not record its own payout");
        let paid = app.post(&due, json!({"reference": "transfer 7"}), Some(&market.admin)).await;
        assert_eq!(paid.status, StatusCode::OK, "{:?}", paid.body);
        assert_eq!((paid.body["state"].as_str(), paid.body["payment_reference"].as_str()), (Some("paid"), Some("transfer 7")));
        let carried = format!("/api/v1/payouts/{}/paid", payouts[1]["id"].as_str().unwrap());
        let refused = app.post(&carried, json!({}), Some(&market.admin)).await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "a carried-over payout is not paid: {:?}", refused.body);
        // October closed again: nothing new.
        assert!(close(&app, month("2026-10")).await.is_empty());
    }

    async fn a_monthly_fee_is_charged_once_per_month_in_a_balanced_journal(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, &with_monthly_fee(), "application/yaml").await;
        let at = installed(&app, "Acme").await;
        let org = at.operator.org_id.clone().unwrap();
        let path = format!("/api/v1/orgs/{org}/subscriptions");
        let viewer = member(&app, &org, &at.operator, "viewer@acme.example", "viewer").await;
        let refused = app.post(&path, json!({"deployment_id": at.deployment}), Some(&viewer.token)).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);

        let made = app.post(&path, json!({"deployment_id": at.deployment}), Some(&at.operator.token)).await;
        assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
        let this_month = Period::current().to_string();
        assert_eq!((made.body["monthly"].as_str(), made.body["charged_periods"].clone()), (Some("49.00"), json!([this_month])));
        let twice = app.post(&path, json!({"deployment_id": at.deployment}), Some(&at.operator.token)).await;
        assert_eq!(twice.status, StatusCode::CONFLICT, "{:?}", twice.body);
        assert_eq!(cp_api::billing::subscriptions::charge_period(&app.state.pool, Period::current()).await.unwrap(), 0, "this month's fee is charged already");

        let subscription = Id(made.body["id"].as_str().unwrap().parse().unwrap());
        let fees = {
            let mut pooled = app.state.pool.get().await.unwrap();
            db::subscriptions::charges_of(&mut pooled.conn(), subscription).await.unwrap()
        };
        assert_eq!(fees.len(), 1);
        let journal = {
            let mut pooled = app.state.pool.get().await.unwrap();
            db::ledger_entries::of_journal(&mut pooled.conn(), fees[0].journal_id).await.unwrap()
        };
        let mut amounts: Vec<i64> = journal.iter().map(|entry| entry.amount_micros).collect();
        amounts.sort_unstable();
        assert_eq!(amounts, vec![-49_000_000, 9_800_000, 39_200_000], "the org pays, the developer earns 80%, the platform 20%");

        // Made in September, the subscription owes October's fee: once, however often October closes.
        let september = Time::from_unix_micros(month("2026-09").start().0.timestamp_micros() + 86_400_000_000);
        at_time(&app, "UPDATE subscriptions SET created_at = $1", september).await;
        let first = close(&app, month("2026-10")).await;
        assert_eq!((first.fees_charged, first.invoices_issued.len()), (1, 1), "{first:?}");
        assert!(close(&app, month("2026-10")).await.is_empty());
        let invoice = app.get_as_opt(&format!("/api/v1/orgs/{org}/invoices/{}", first.invoices_issued[0]), Some(&at.operator.token)).await;
        let fee = line(&invoice.body, "subscription");
        assert_eq!((fee["quantity"].as_i64(), fee["amount"].as_str(), fee["developer"].as_str(), fee["platform"].as_str()), (Some(1), Some("49.00"), Some("39.20"), Some("9.80")));
        assert_eq!(invoice.body["total"].as_str(), Some("49.00"));

        // Runs too: every journal in the books sums to zero.
        seeds_runs(&app, &at, 3).await;
        let mut pooled = app.state.pool.get().await.unwrap();
        assert_eq!(db::ledger_entries::unbalanced(&mut pooled.conn()).await.unwrap(), vec![]);
        drop(pooled);

        let cancelled = app.delete(&format!("{path}/{subscription}", subscription = subscription.0), Some(&at.operator.token)).await;
        assert_eq!(cancelled.status, StatusCode::OK, "{:?}", cancelled.body);
        assert!(cancelled.body["cancelled_at"].is_string());
        let listed = app.get_as_opt(&path, Some(&viewer.token)).await;
        assert_eq!(listed.body[0]["charged_periods"], json!(["2026-10", this_month]));
        // Cancelled, it no longer blocks a new subscription.
        let again = app.post(&path, json!({"deployment_id": at.deployment}), Some(&at.operator.token)).await;
        assert_eq!(again.status, StatusCode::CREATED, "{:?}", again.body);
    }

    async fn uninstalling_a_deployment_ends_its_subscription(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, &with_monthly_fee(), "application/yaml").await;
        let at = installed(&app, "Acme").await;
        let org = at.operator.org_id.clone().unwrap();
        let path = format!("/api/v1/orgs/{org}/subscriptions");
        let made = app.post(&path, json!({"deployment_id": at.deployment}), Some(&at.operator.token)).await;
        assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
        assert!(made.body["cancelled_at"].is_null());
        let gone = app.delete(&format!("/api/v1/deployments/{}", at.deployment), Some(&at.operator.token)).await;
        assert_eq!(gone.status, StatusCode::OK, "{:?}", gone.body);
        let listed = app.get_as_opt(&path, Some(&at.operator.token)).await;
        assert!(listed.body[0]["cancelled_at"].is_string(), "{:?}", listed.body);
        let refused = app.post(&path, json!({"deployment_id": at.deployment}), Some(&at.operator.token)).await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "an uninstalled deployment: {:?}", refused.body);
    }

    async fn an_agent_without_a_monthly_fee_cannot_be_subscribed_to(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme").await;
        let org = at.operator.org_id.clone().unwrap();
        let refused = app.post(&format!("/api/v1/orgs/{org}/subscriptions"), json!({"deployment_id": at.deployment}), Some(&at.operator.token)).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", refused.body);
        assert!(refused.body["detail"].as_str().unwrap().contains("no monthly fee"), "{:?}", refused.body);
        let other = installed(&app, "Globex").await;
        let elsewhere = app.post(&format!("/api/v1/orgs/{org}/subscriptions"), json!({"deployment_id": other.deployment}), Some(&at.operator.token)).await;
        assert_eq!(elsewhere.status, StatusCode::NOT_FOUND, "another org's deployment: {:?}", elsewhere.body);
    }

    async fn an_invoice_comes_as_csv(backend: Backend) {
        let app = TestApp::start(backend).await;
        let (_, at, id) = october_closed(&app).await;
        let org = at.operator.org_id.clone().unwrap();
        let expected = format!(
            "period,agent,kind,quantity,unit,amount,developer,platform\r\n\
             2026-10,{agent},base,1,,0.50,0.40,0.10\r\n\
             2026-10,{agent},compute,7200000,,1.00,0.80,0.20\r\n\
             2026-10,{agent},units,15000,record,15.00,12.00,3.00\r\n\
             2026-10,total,,,,16.50,13.20,3.30\r\n",
            agent = crate::queue::AGENT
        );
        let by_query = TestRequest::get().uri(&format!("/api/v1/orgs/{org}/invoices/{id}?format=csv"));
        let by_accept = TestRequest::get().uri(&format!("/api/v1/orgs/{org}/invoices/{id}")).insert_header(("Accept", "text/csv"));
        for request in [by_query, by_accept] {
            let request = request.insert_header(("Authorization", format!("Bearer {}", at.operator.token)));
            let app_service = actix_web::test::init_service(
                actix_web::App::new().app_data(actix_web::web::Data::new(app.state.clone())).configure(cp_api::http::configure),
            ).await;
            let response = actix_web::test::call_service(&app_service, request.to_request()).await;
            assert_eq!(response.status(), StatusCode::OK);
            let content_type = response.headers().get("content-type").unwrap().to_str().unwrap().to_owned();
            assert!(content_type.starts_with("text/csv"), "{content_type}");
            let body = actix_web::test::read_body(response).await;
            assert_eq!(std::str::from_utf8(&body).unwrap(), expected);
        }
        let bad = app.get_as_opt(&format!("/api/v1/orgs/{org}/invoices/{id}?format=pdf"), Some(&at.operator.token)).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{:?}", bad.body);
    }

    async fn only_platform_admins_record_payments_and_other_orgs_see_nothing(backend: Backend) {
        let app = TestApp::start(backend).await;
        let (market, at, id) = october_closed(&app).await;
        let org = at.operator.org_id.clone().unwrap();
        let viewer = member(&app, &org, &at.operator, "viewer@acme.example", "viewer").await;
        let outsider = installed(&app, "Globex").await;

        let seen = app.get_as_opt(&format!("/api/v1/orgs/{org}/invoices/{id}"), Some(&viewer.token)).await;
        assert_eq!(seen.status, StatusCode::OK, "a viewer reads the invoice");
        for token in [&outsider.operator.token] {
            let hidden = app.get_as_opt(&format!("/api/v1/orgs/{org}/invoices/{id}"), Some(token)).await;
            assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{:?}", hidden.body);
            let billing = app.get_as_opt(&format!("/api/v1/orgs/{org}/billing"), Some(token)).await;
            assert_eq!(billing.status, StatusCode::NOT_FOUND);
        }
        let other_org = outsider.operator.org_id.clone().unwrap();
        let through_own_org = app.get_as_opt(&format!("/api/v1/orgs/{other_org}/invoices/{id}"), Some(&outsider.operator.token)).await;
        assert_eq!(through_own_org.status, StatusCode::NOT_FOUND, "another org's invoice through one's own org: {:?}", through_own_org.body);
        assert_eq!(through_own_org.content_type(), "application/problem+json");

        let paid = format!("/api/v1/invoices/{id}/paid");
        for token in [&viewer.token, &at.operator.token] {
            let refused = app.post(&paid, json!({"reference": "wire 42"}), Some(token)).await;
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
        }
        let earnings = app.get_as_opt(&format!("/api/v1/orgs/{org}/earnings"), Some(&viewer.token)).await;
        assert_eq!(earnings.status, StatusCode::FORBIDDEN, "a viewer does not see earnings");
        let revenue = app.get_as_opt("/api/v1/platform/revenue", Some(&at.operator.token)).await;
        assert_eq!(revenue.status, StatusCode::FORBIDDEN);
        let bad_month = app.get_as_opt("/api/v1/platform/revenue?month=2026-13", Some(&market.admin)).await;
        assert_eq!(bad_month.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", bad_month.body);
        assert!(bad_month.body["detail"].as_str().unwrap().contains("YYYY-MM"), "{:?}", bad_month.body);

        let done = app.post(&paid, json!({"reference": "wire 42"}), Some(&market.admin)).await;
        assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
        assert_eq!((done.body["state"].as_str(), done.body["payment_reference"].as_str()), (Some("paid"), Some("wire 42")));
        assert!(done.body["paid_at"].is_string());
        let again = app.post(&paid, json!({}), Some(&market.admin)).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{:?}", again.body);
        let void = app.post(&format!("/api/v1/invoices/{id}/void"), json!({}), Some(&market.admin)).await;
        assert_eq!(void.status, StatusCode::CONFLICT, "a paid invoice is not voided: {:?}", void.body);
        let missing = app.post(&format!("/api/v1/invoices/{}/void", uuid::Uuid::now_v7()), json!({}), Some(&market.admin)).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);

        let audit = app.get_as_opt("/api/v1/audit", Some(&market.admin)).await;
        assert!(audit.body.to_string().contains("invoice.paid"), "{:?}", audit.body);
    }
}
