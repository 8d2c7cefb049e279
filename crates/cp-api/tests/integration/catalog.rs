use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use serde_json::{Value, json};

use crate::support::{Answer, Backend, TestApp, User, on_both_backends};

pub const NORMALIZER: &str = include_str!("../../../../examples/finops/billing-normalizer.yaml");
pub const DETECTOR: &str = include_str!("../../../../examples/finops/anomaly-detector.yaml");

/// A platform admin's API key and a developer with an org of their own.
pub struct Market {
    pub admin: String,
    pub developer: User,
    pub org: String,
}

pub async fn market(app: &TestApp) -> Market {
    let admin = app.bootstrap("admin@platform.example", "Platform").await;
    let developer = app.user("dev@aicloud.example", Some("AI Cloud")).await;
    let org = developer.org_id.clone().unwrap();
    Market {
        admin: admin.api_key,
        developer,
        org,
    }
}

pub async fn submit(app: &TestApp, market: &Market, body: &str, content_type: &str) -> Answer {
    let request = TestRequest::post()
        .uri(&format!("/api/v1/orgs/{}/agents", market.org))
        .insert_header(("content-type", content_type))
        .insert_header(("Authorization", format!("Bearer {}", market.developer.token)))
        .set_payload(body.to_owned());
    app.send(request).await
}

/// Submits, sends for review and publishes.
pub async fn publish(app: &TestApp, market: &Market, body: &str, content_type: &str) -> Value {
    let submitted = submit(app, market, body, content_type).await;
    assert!(submitted.status.is_success(), "{:?}", submitted.body);
    let (agent, version) = (
        submitted.body["agent_id"].as_str().unwrap(),
        submitted.body["version"].as_str().unwrap(),
    );
    let review = app
        .post(
            &format!(
                "/api/v1/orgs/{}/agents/{agent}/versions/{version}/submit",
                market.org
            ),
            json!({}),
            Some(&market.developer.token),
        )
        .await;
    assert_eq!(review.status, StatusCode::OK, "{:?}", review.body);
    let published = app
        .post(
            &format!("/api/v1/agents/{agent}/publish"),
            json!({"version": version}),
            Some(&market.admin),
        )
        .await;
    assert_eq!(published.status, StatusCode::OK, "{:?}", published.body);
    published.body
}

fn manifest(slug: &str, name: &str, description: &str, tags: &[&str], pricing: Value, risk: &str) -> String {
    json!({
        "id": format!("com.example.catalog.{slug}"),
        "name": name,
        "version": "1.0.0",
        "description": description,
        "category": if tags.contains(&"finops") { "finops" } else { "operations" },
        "tags": tags,
        "capabilities": [format!("{slug}.run")],
        "workflow": {"nodes": [{"id": "act", "kind": "tool", "config": {"tool": "act"}}]},
        "tools": [{"name": "act", "risk": risk}],
        "pricing": pricing,
    })
    .to_string()
}

/// A catalog of eight agents with distinct names, words, prices and risks.
async fn catalog(app: &TestApp, market: &Market) {
    let agents = [
        (
            "invoice-reader",
            "Invoice Reader",
            "Extracts line items from supplier invoices and receipts.",
            &["finops", "documents"][..],
            json!({"per_run": "0.10"}),
            "low",
        ),
        (
            "cost-forecaster",
            "Cost Forecaster",
            "Forecasts next month's cloud spend from billing history.",
            &["finops", "forecasting"][..],
            json!({"monthly": "99.00"}),
            "low",
        ),
        (
            "rightsizer",
            "Instance Rightsizer",
            "Finds oversized virtual machines and resizes them to save cost.",
            &["finops", "remediation"][..],
            json!({"per_run": "2.00", "monthly": "10.00"}),
            "high",
        ),
        (
            "log-summarizer",
            "Log Summarizer",
            "Summarizes application logs and highlights errors.",
            &["observability"][..],
            json!({}),
            "low",
        ),
        (
            "incident-responder",
            "Incident Responder",
            "Triages alerts, opens incidents and pages the on-call engineer.",
            &["observability", "incident"][..],
            json!({"per_run": "0.50"}),
            "medium",
        ),
        (
            "ticket-router",
            "Ticket Router",
            "Routes support tickets to the right team by reading them.",
            &["support"][..],
            json!({"per_unit": {"unit": "ticket", "price": "0.01"}}),
            "low",
        ),
        (
            "backup-verifier",
            "Backup Verifier",
            "Restores backups to a sandbox and verifies they are complete.",
            &["reliability"][..],
            json!({"per_cpu_hour": "0.40"}),
            "medium",
        ),
        (
            "access-reviewer",
            "Access Reviewer",
            "Reviews who can access what and revokes stale cloud permissions.",
            &["security", "remediation"][..],
            json!({"per_run": "5.00"}),
            "critical",
        ),
    ];
    for (slug, name, description, tags, pricing, risk) in agents {
        publish(
            app,
            market,
            &manifest(slug, name, description, tags, pricing, risk),
            "application/json",
        )
        .await;
    }
    publish(app, market, NORMALIZER, "application/yaml").await;
    publish(app, market, DETECTOR, "application/x-yaml").await;
}

/// The agent ids of every page of the catalog search `query`, walked with its cursors.
async fn every_page(app: &TestApp, query: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut path = format!("/api/v1/agents?{query}");
    loop {
        let page = app.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {:?}", page.body);
        seen.extend(ids(&page));
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/agents?{query}&cursor={cursor}"),
            None => return seen,
        }
    }
}

fn ids(answer: &Answer) -> Vec<String> {
    answer.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["agent_id"].as_str().unwrap().to_owned())
        .collect()
}

on_both_backends! {
    async fn a_version_goes_from_draft_to_published_and_then_is_immutable(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        let agent = "com.aicloud.finops.billing-normalizer";
        let created = submit(&app, &market, NORMALIZER, "application/yaml").await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        assert_eq!(created.body["state"], "draft");
        assert!(created.body["digest"].as_str().unwrap().starts_with("sha256:"));
        assert_eq!(submit(&app, &market, NORMALIZER, "application/yaml").await.status, StatusCode::OK, "same draft again");

        // Drafts are the org's own: hidden from the catalog, visible to its members.
        assert_eq!(app.get(&format!("/api/v1/agents/{agent}")).await.status, StatusCode::NOT_FOUND);
        let own = app.get_as(&format!("/api/v1/agents/{agent}"), &market.developer.token).await;
        assert_eq!(own.status, StatusCode::OK);
        assert_eq!(own.body["listed"], false);
        assert!(ids(&app.get("/api/v1/agents").await).is_empty());

        let not_reviewed = app.post(&format!("/api/v1/agents/{agent}/publish"), json!({"version": "1.0.0"}), Some(&market.admin)).await;
        assert_eq!(not_reviewed.status, StatusCode::CONFLICT, "only a version under review can be published");
        publish(&app, &market, NORMALIZER, "application/yaml").await;

        let public = app.get(&format!("/api/v1/agents/{agent}")).await;
        assert_eq!(public.status, StatusCode::OK);
        assert_eq!(public.body["current_version"], "1.0.0");
        assert_eq!(public.body["manifest"]["name"], "Billing Normalizer");
        assert_eq!(public.body["price"], "0.50");
        assert_eq!(public.body["pricing_model"], "usage");
        assert_eq!(public.body["versions"][0]["state"], "published");

        // Published content cannot change; the same content is a harmless repeat.
        assert_eq!(submit(&app, &market, NORMALIZER, "application/yaml").await.status, StatusCode::OK);
        let changed = NORMALIZER.replace("per_run: \"0.50\"", "per_run: \"0.60\"");
        let conflict = submit(&app, &market, &changed, "application/yaml").await;
        assert_eq!(conflict.status, StatusCode::CONFLICT);
        assert!(conflict.body["detail"].as_str().unwrap().contains("submit it as a new version"));

        // A new version becomes current; deprecating it brings the old one back.
        let newer = changed.replace("version: 1.0.0", "version: 1.1.0");
        publish(&app, &market, &newer, "application/yaml").await;
        let detail = app.get(&format!("/api/v1/agents/{agent}")).await;
        assert_eq!(detail.body["current_version"], "1.1.0");
        assert_eq!(detail.body["price"], "0.60");
        let deprecate = format!("/api/v1/orgs/{}/agents/{agent}/versions/1.1.0/deprecate", market.org);
        assert_eq!(app.post(&deprecate, json!({}), Some(&market.developer.token)).await.status, StatusCode::OK);
        let detail = app.get(&format!("/api/v1/agents/{agent}")).await;
        assert_eq!(detail.body["current_version"], "1.0.0");
        assert_eq!(detail.body["price"], "0.50");

        let delete_published = app.delete(&format!("/api/v1/orgs/{}/agents/{agent}/versions/1.0.0", market.org), Some(&market.developer.token)).await;
        assert_eq!(delete_published.status, StatusCode::CONFLICT);
        let draft = NORMALIZER.replace("version: 1.0.0", "version: 2.0.0-rc.1");
        assert_eq!(submit(&app, &market, &draft, "application/yaml").await.status, StatusCode::CREATED);
        let deleted = app.delete(&format!("/api/v1/orgs/{}/agents/{agent}/versions/2.0.0-rc.1", market.org), Some(&market.developer.token)).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    }

    async fn bad_submissions_are_refused_with_every_error(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        let broken = NORMALIZER.replace("kind: llm", "kind: lmm").replace("version: 1.0.0", "version: \"1.0\"");
        let invalid = submit(&app, &market, &broken, "application/yaml").await;
        assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
        insta::assert_json_snapshot!("invalid_manifest", invalid.body);
        assert_eq!(submit(&app, &market, NORMALIZER, "text/plain").await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(submit(&app, &market, "{", "application/json").await.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(submit(&app, &market, "\u{0}\u{1}", "application/yaml").await.status, StatusCode::UNPROCESSABLE_ENTITY);
        let huge = format!("description: {}\n", "x".repeat(1_500_000));
        assert_eq!(submit(&app, &market, &huge, "application/yaml").await.status, StatusCode::UNPROCESSABLE_ENTITY);

        // The agent id belongs to the org that first submitted it.
        assert_eq!(submit(&app, &market, NORMALIZER, "application/yaml").await.status, StatusCode::CREATED);
        let rival = app.user("rival@example.com", Some("Rival")).await;
        let rival_market = Market { admin: market.admin.clone(), org: rival.org_id.clone().unwrap(), developer: rival };
        assert_eq!(submit(&app, &rival_market, NORMALIZER, "application/yaml").await.status, StatusCode::CONFLICT);

        // Only platform admins publish or reject, and a rejection says why.
        let agent = "com.aicloud.finops.billing-normalizer";
        let review = format!("/api/v1/orgs/{}/agents/{agent}/versions/1.0.0/submit", market.org);
        assert_eq!(app.post(&review, json!({}), Some(&market.developer.token)).await.status, StatusCode::OK);
        let publish = format!("/api/v1/agents/{agent}/publish");
        assert_eq!(app.post(&publish, json!({"version": "1.0.0"}), Some(&market.developer.token)).await.status, StatusCode::FORBIDDEN);
        let reject = format!("/api/v1/agents/{agent}/reject");
        assert_eq!(app.post(&reject, json!({"version": "1.0.0", "reason": " "}), Some(&market.admin)).await.status, StatusCode::UNPROCESSABLE_ENTITY);
        let rejected = app.post(&reject, json!({"version": "1.0.0", "reason": "The remediation tool needs a narrower scope."}), Some(&market.admin)).await;
        assert_eq!(rejected.status, StatusCode::OK);
        assert_eq!(rejected.body["state"], "rejected");
        let seen = app.get_as(&format!("/api/v1/agents/{agent}"), &market.developer.token).await;
        assert_eq!(seen.body["versions"][0]["rejection_reason"], "The remediation tool needs a narrower scope.");
        assert_eq!(submit(&app, &market, NORMALIZER, "application/yaml").await.body["state"], "draft", "a rejected version can be fixed");
    }

    async fn search_filters_sorts_and_pages(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        catalog(&app, &market).await;

        assert_eq!(ids(&app.get("/api/v1/agents?q=billing").await)[0], "com.aicloud.finops.billing-normalizer");
        assert_eq!(ids(&app.get("/api/v1/agents?q=anomalies").await)[0], "com.aicloud.finops.anomaly-detector");
        assert_eq!(ids(&app.get("/api/v1/agents?q=invoices").await), ["com.example.catalog.invoice-reader"], "stemmed");
        assert_eq!(ids(&app.get("/api/v1/agents?q=forecasting").await)[0], "com.example.catalog.cost-forecaster", "tags count");

        let finops = ids(&app.get("/api/v1/agents?category=finops&sort=price").await);
        assert_eq!(finops.len(), 5);
        assert_eq!(finops[0], "com.example.catalog.invoice-reader", "cheapest first");
        assert_eq!(
            ids(&app.get("/api/v1/agents?tag=remediation&sort=price").await),
            ["com.aicloud.finops.anomaly-detector", "com.example.catalog.rightsizer", "com.example.catalog.access-reviewer"]
        );
        assert_eq!(ids(&app.get("/api/v1/agents?capability=ticket-router.run").await), ["com.example.catalog.ticket-router"]);
        assert_eq!(ids(&app.get("/api/v1/agents?pricing_model=free").await), ["com.example.catalog.log-summarizer"]);
        let hybrid = ids(&app.get("/api/v1/agents?pricing_model=hybrid").await);
        assert_eq!(hybrid, ["com.aicloud.finops.anomaly-detector", "com.example.catalog.rightsizer"], "usage and a fee");
        assert_eq!(ids(&app.get("/api/v1/agents?risk=critical").await), ["com.example.catalog.access-reviewer"]);
        assert_eq!(
            ids(&app.get("/api/v1/agents?max_price=0.10&sort=price").await),
            ["com.example.catalog.log-summarizer", "com.example.catalog.ticket-router", "com.example.catalog.invoice-reader"]
        );
        assert_eq!(ids(&app.get("/api/v1/agents?q=cloud&risk=low").await).len(), 2, "cost forecaster and billing normalizer");

        // Walking pages of two with their cursors visits every agent once, in order.
        for sort in ["newest", "price", "rating", "installs"] {
            let seen = every_page(&app, &format!("sort={sort}&limit=2")).await;
            let mut unique = seen.clone();
            unique.sort();
            unique.dedup();
            assert_eq!((seen.len(), unique.len()), (10, 10), "{sort}: {seen:?}");
        }
        // A one-word search in any order finds what the relevance search finds, page after page, in order.
        let mut matching = every_page(&app, "q=cloud&limit=100").await;
        matching.sort();
        assert!(matching.len() >= 3, "{matching:?}");
        for sort in ["newest", "price", "rating", "installs"] {
            let paged = every_page(&app, &format!("q=cloud&sort={sort}&limit=2")).await;
            let whole = app.get(&format!("/api/v1/agents?q=cloud&sort={sort}&limit=100")).await;
            assert_eq!(paged, ids(&whole), "{sort}");
            let mut found = paged.clone();
            found.sort();
            assert_eq!(found, matching, "{sort}");
            let items = whole.body["items"].as_array().unwrap();
            let ordered = items.windows(2).all(|pair| match sort {
                "price" => pair[0]["price"].as_str().unwrap().parse::<f64>().unwrap() <= pair[1]["price"].as_str().unwrap().parse::<f64>().unwrap(),
                "newest" => pair[0]["published_at"].as_str().unwrap() >= pair[1]["published_at"].as_str().unwrap(),
                "rating" => pair[0]["rating"]["average"].as_f64().unwrap() >= pair[1]["rating"]["average"].as_f64().unwrap(),
                _ => pair[0]["installs"].as_i64().unwrap() >= pair[1]["installs"].as_i64().unwrap(),
            });
            assert!(ordered, "{sort}: {items:?}");
        }
        let first = app.get("/api/v1/agents?q=cloud&limit=1").await;
        let cursor = first.body["next_cursor"].as_str().unwrap();
        let second = app.get(&format!("/api/v1/agents?q=cloud&limit=1&cursor={cursor}")).await;
        assert_ne!(ids(&first), ids(&second), "relevance pages move on");
    }

    async fn hostile_and_malformed_queries_are_4xx_or_empty_never_5xx(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        catalog(&app, &market).await;
        for q in ["'", "\"", "&", "|", "*", ":", "NEAR", "NEAR(billing cost)", "billing OR", "\"unclosed", "a & | ! b", "cost:*", "-", "((", "' OR 1=1 --", "%", "_", "\\"] {
            let encoded: String = q.bytes().map(|b| format!("%{b:02X}")).collect();
            let answer = app.get(&format!("/api/v1/agents?q={encoded}")).await;
            assert_eq!(answer.status, StatusCode::OK, "{q:?}: {:?}", answer.body);
        }
        let billing = app.get("/api/v1/agents?q=%22billing%22%20%26%20%7C").await;
        assert_eq!(ids(&billing)[0], "com.aicloud.finops.billing-normalizer", "operators are only words");
        for bad in ["limit=0", "limit=-5", "limit=100000", "sort=popularity", "cursor=garbage", "max_price=-1", "max_price=abc",
                    "min_rating=6", "min_rating=NaN", "risk=extreme", "pricing_model=cheap", "colour=blue", "limit=ten"] {
            let answer = app.get(&format!("/api/v1/agents?{bad}")).await;
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}: {:?}", answer.body);
            assert_eq!(answer.content_type(), "application/problem+json", "{bad}");
        }
        let page = app.get("/api/v1/agents?sort=price&limit=1").await;
        let cursor = page.body["next_cursor"].as_str().unwrap();
        assert_eq!(app.get(&format!("/api/v1/agents?sort=newest&cursor={cursor}")).await.status, StatusCode::BAD_REQUEST, "another sort's cursor");
    }

    async fn reviews_keep_the_rating_consistent(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let agent = "com.aicloud.finops.billing-normalizer";
        let mine = format!("/api/v1/agents/{agent}/reviews/mine");
        let put = |user: String, stars: i64| {
            let request = TestRequest::put().uri(&mine).insert_header(("Authorization", format!("Bearer {user}"))).set_json(json!({"stars": stars, "body": "useful"}));
            app.send(request)
        };
        let alice = app.user("alice@customer.example", Some("Customer")).await;
        let bob = app.user("bob@other.example", Some("Other")).await;
        let carol = app.user("carol@browsing.example", Some("Browsing")).await;
        assert_eq!(put(carol.token.clone(), 5).await.status, StatusCode::FORBIDDEN, "no install, no review");
        for user in [&alice, &bob] {
            let installed = app.post(&format!("/api/v1/orgs/{}/install", user.org_id.as_ref().unwrap()), json!({"agent_id": agent, "version": "1.0.0", "deployment_type": "saas"}), Some(&user.token)).await;
            assert_eq!(installed.status, StatusCode::CREATED, "{:?}", installed.body);
        }
        assert_eq!(put(alice.token.clone(), 5).await.status, StatusCode::CREATED);
        assert_eq!(put(bob.token.clone(), 2).await.status, StatusCode::CREATED);
        assert_eq!(put(alice.token.clone(), 4).await.status, StatusCode::OK, "an edit, not a second review");
        let rating = &app.get(&format!("/api/v1/agents/{agent}")).await.body["rating"];
        assert_eq!(rating["count"], 2);
        assert_eq!(rating["average"], 3.0);
        assert_eq!(rating["distribution"], json!([0, 1, 0, 1, 0]));
        assert_eq!(ids(&app.get("/api/v1/agents?min_rating=3").await), [agent]);
        assert!(ids(&app.get("/api/v1/agents?min_rating=3.5").await).is_empty());
        // Searches see the new rating too (PostgreSQL ranks within its search table, kept in step by trigger).
        assert_eq!(ids(&app.get("/api/v1/agents?q=billing&min_rating=3").await), [agent]);
        assert!(ids(&app.get("/api/v1/agents?q=billing&min_rating=3.5").await).is_empty());

        assert_eq!(put(market.developer.token.clone(), 5).await.status, StatusCode::FORBIDDEN, "not your own agent");
        for stars in [0, 6, -1] {
            assert_eq!(put(bob.token.clone(), stars).await.status, StatusCode::UNPROCESSABLE_ENTITY);
        }
        let reviews = app.get(&format!("/api/v1/agents/{agent}/reviews")).await;
        let bobs = reviews.body["items"].as_array().unwrap().iter().find(|r| r["stars"] == 2).unwrap()["id"].as_str().unwrap().to_owned();
        let reply = app.post(&format!("/api/v1/orgs/{}/agents/{agent}/reviews/{bobs}/reply", market.org), json!({"body": "Fixed in 1.0.1."}), Some(&market.developer.token)).await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        // Newest first: Bob's review, with the reply, then Alice's (edited later, but written first).
        let reviews = app.get(&format!("/api/v1/agents/{agent}/reviews?limit=1")).await;
        assert_eq!(reviews.body["items"].as_array().unwrap().len(), 1);
        assert_eq!(reviews.body["items"][0]["reply"], "Fixed in 1.0.1.");
        let cursor = reviews.body["next_cursor"].as_str().unwrap();
        let rest = app.get(&format!("/api/v1/agents/{agent}/reviews?limit=1&cursor={cursor}")).await;
        assert_eq!(rest.body["items"][0]["stars"], 4);
        assert_eq!(rest.body["next_cursor"], Value::Null);
    }
}

/// The same query gives the same results in the same order on PostgreSQL and SQLite, page after page:
/// first pages that PostgreSQL finds among the name matches alone, and the pages after them, which it
/// cannot.
#[actix_web::test]
async fn both_engines_rank_alike() {
    let queries = [
        "billing",
        "cloud cost",
        "anomalies",
        "logs errors",
        "cloud",
        "remediation",
        "incident alerts",
        "backups",
        "cost",
        "cloud spend",
    ];
    let mut orders = Vec::new();
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        catalog(&app, &market).await;
        // Listings with the search words in their names, so those fill whole pages.
        for (slug, name, description) in [
            (
                "cloud-cost-auditor",
                "Cloud Cost Auditor",
                "Audits cloud cost allocation.",
            ),
            (
                "cloud-spend-reporter",
                "Cloud Spend Reporter",
                "Reports spend per team.",
            ),
            (
                "cost-cloud-mapper",
                "Cost Mapper",
                "Maps each cloud account to a cost centre.",
            ),
        ] {
            publish(
                &app,
                &market,
                &manifest(slug, name, description, &["finops"], json!({}), "low"),
                "application/json",
            )
            .await;
        }
        let mut found = Vec::new();
        for q in queries {
            for limit in [1, 2, 3] {
                let order = every_page(&app, &format!("q={}&limit={limit}", q.replace(' ', "%20"))).await;
                found.push((q, limit, order));
            }
        }
        tops_are_consistent(&found);
        orders.push(found);
    }
    assert_eq!(orders[0], orders[1]);
}

// A listing at the manifest's limits (a name of 100 four-byte characters; a description whose first word
// is as long as a full-text index keeps, 2,046 letters in no pattern that compresses) is published and
// indexed (each of a listing's words is indexed with its name), and found by its other word.
on_both_backends! {
    async fn a_listing_at_the_limits_is_indexed_and_found(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        let mut seed: u32 = 7;
        let word: String = (0..2046)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                char::from(b'a' + u8::try_from((seed >> 16) % 26).unwrap())
            })
            .collect();
        let name = "\u{1F600}".repeat(100);
        let description = format!("{word} ledger");
        publish(&app, &market, &manifest("at-the-limits", &name, &description, &["finops"], json!({}), "low"), "application/json").await;
        assert_eq!(every_page(&app, "q=ledger").await, ["com.example.catalog.at-the-limits"]);
    }
}

/// On PostgreSQL a relevance search is one prepared statement per number of words and set of filters,
/// whatever their values (two words: one among the name matches, one beyond them), and the generic plan
/// PostgreSQL comes to reuse ranks exactly as a plan made for the values does.
#[actix_web::test]
async fn a_relevance_search_is_prepared_once_and_its_reused_plan_ranks_alike() {
    use cp_api::db::search::{self, Filters, Position, Sort};
    use diesel_async::SimpleAsyncConnection as _;
    let app = TestApp::start(Backend::Postgres).await;
    let market = market(&app).await;
    catalog(&app, &market).await;
    let searches = [
        Filters {
            text: Some("cloud".into()),
            ..Filters::default()
        },
        Filters {
            text: Some("cloud".into()),
            risk: Some("low".into()),
            ..Filters::default()
        },
        Filters {
            text: Some("logs".into()),
            risk: Some("high".into()),
            ..Filters::default()
        },
        Filters {
            text: Some("cost".into()),
            category: Some("finops".into()),
            ..Filters::default()
        },
        Filters {
            text: Some("billing".into()),
            min_rating_milli: Some(0),
            max_price_micros: Some(1_000_000),
            ..Filters::default()
        },
        Filters {
            text: Some("remediation".into()),
            tag: Some("remediation".into()),
            capability: Some("rightsizer.run".into()),
            ..Filters::default()
        },
        Filters {
            text: Some("logs".into()),
            pricing_model: Some("free".into()),
            ..Filters::default()
        },
        Filters {
            text: Some("cloud cost".into()),
            ..Filters::default()
        },
        Filters {
            text: Some("cloud cost".into()),
            category: Some("finops".into()),
            max_price_micros: Some(1_000_000),
            ..Filters::default()
        },
    ];
    let mut pooled = app.state.pool.get().await.unwrap();
    let mut conn = pooled.conn();
    let mut ranked = Vec::new();
    for mode in ["force_custom_plan", "force_generic_plan"] {
        let cp_api::db::Conn::Postgres(pg) = &mut conn else {
            unreachable!()
        };
        pg.batch_execute(&format!("SET plan_cache_mode = {mode}"))
            .await
            .unwrap();
        let mut found = Vec::new();
        for filters in &searches {
            let page = search::search(&mut conn, filters, Sort::Relevance, &Position::Offset(0), 21)
                .await
                .unwrap();
            found.push(page.into_iter().map(|agent| agent.agent_id).collect::<Vec<_>>());
        }
        ranked.push(found);
    }
    assert_eq!(ranked[0], ranked[1]);
    assert!(
        ranked[0].iter().filter(|ids| !ids.is_empty()).count() >= 4,
        "{:?}",
        ranked[0]
    );
    assert!(
        ranked[0][1].len() < ranked[0][0].len(),
        "a filter narrows: {:?}",
        ranked[0]
    );

    #[derive(diesel::QueryableByName)]
    struct Reuse {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        statements: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        generic: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        custom: i64,
    }
    // The connection's prepared statements whose text is `like`, and how often each kind of plan ran them.
    let reuse = async |conn: &mut cp_api::db::Conn<'_>, like: &str| -> Reuse {
        let cp_api::db::Conn::Postgres(pg) = conn else {
            unreachable!()
        };
        diesel_async::RunQueryDsl::get_result(
            diesel::sql_query(
                "SELECT count(*) AS statements, coalesce(sum(generic_plans), 0)::int8 AS generic, \
                 coalesce(sum(custom_plans), 0)::int8 AS custom FROM pg_prepared_statements WHERE statement LIKE $1",
            )
            .bind::<diesel::sql_types::Text, _>(like),
            &mut **pg,
        )
        .await
        .unwrap()
    };
    let searched = reuse(&mut conn, "SELECT agents.id, % FROM agents JOIN%").await;
    // A one-word search is one statement; a two-word one looks among the name matches, then (as none fills
    // a page of 21) beyond them. A statement per set of filters: the two searches filtering by risk share one.
    let two_words = searches
        .iter()
        .filter(|filters| filters.text.as_deref().is_some_and(|text| text.contains(' ')))
        .count();
    let runs = i64::try_from(searches.len() + two_words).unwrap();
    assert_eq!(
        (searched.statements, searched.custom, searched.generic),
        (runs - 1, runs, runs)
    );

    // Left to choose, PostgreSQL comes to reuse the generic plan (it would not if the filters misled its
    // estimates, planning every search afresh).
    let cp_api::db::Conn::Postgres(pg) = &mut conn else {
        unreachable!()
    };
    pg.batch_execute("SET plan_cache_mode = auto").await.unwrap();
    let one_word = "%FROM agents_fts_terms WHERE%";
    let before = reuse(&mut conn, one_word).await.generic;
    for _ in 0..8 {
        search::search(&mut conn, &searches[0], Sort::Relevance, &Position::Offset(0), 21)
            .await
            .unwrap();
    }
    assert!(reuse(&mut conn, one_word).await.generic > before);
}

/// Page sizes do not change a search's order.
fn tops_are_consistent(found: &[(&str, i32, Vec<String>)]) {
    for window in found.chunks(3) {
        assert!(
            window.iter().all(|(_, _, order)| order == &window[0].2),
            "{window:?}"
        );
        assert!(!window[0].2.is_empty(), "{window:?}");
    }
}

/// Searches take turns: while the only turn is held, a search waits (and other requests answer); once the
/// turn is given back, the search answers.
#[actix_web::test]
async fn searches_take_turns() {
    let mut app = TestApp::start(Backend::Sqlite).await;
    app.state.searches = std::sync::Arc::new(tokio::sync::Semaphore::new(1));
    let turn = app.state.searches.clone().acquire_owned().await.unwrap();

    let search = app.get("/api/v1/agents?q=billing");
    tokio::pin!(search);
    let waited = tokio::time::timeout(std::time::Duration::from_millis(300), &mut search).await;
    assert!(waited.is_err(), "a search without a turn waits");
    assert_eq!(app.get("/health/ready").await.status, StatusCode::OK);

    drop(turn);
    let answer = search.await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}
