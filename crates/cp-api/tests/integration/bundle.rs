//! The BYOC bundle: `GET /api/v1/deployments/{deployment}/bundle` — what is in it, what never is, who may
//! fetch it, and a fresh credential on request. With `DEPLOY_CHECKS_PYTHON` set (`just test` sets it) a
//! bundle is also unpacked and its chart linted, rendered and schema-checked with the real Helm engine.

use std::collections::BTreeMap;
use std::io::Read as _;

use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use actix_web::test::TestRequest;
use actix_web::{App, web};
use serde_json::{Value, json};

use crate::catalog::{NORMALIZER, market, publish};
use crate::queue::dp;
use crate::support::{TestApp, User, on_both_backends};

const AGENT: &str = "com.aicloud.finops.billing-normalizer";

struct Byoc {
    admin: User,
    org: String,
    deployment: String,
    credential: String,
}

/// An org (named `org_name`, its admin signed in) with the normalizer installed under `deployment_type`.
async fn installed(app: &TestApp, org_name: &str, deployment_type: &str, config: Value) -> Byoc {
    let admin = app
        .user(
            &format!("admin@{}.example", org_name.to_lowercase()),
            Some(org_name),
        )
        .await;
    let org = admin.org_id.clone().unwrap();
    let answer = app
        .post(
            &format!("/api/v1/orgs/{org}/install"),
            json!({"agent_id": AGENT, "version": "1.0.0", "deployment_type": deployment_type,
                   "config": config, "granted_permissions": ["billing:read"]}),
            Some(&admin.token),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
    Byoc {
        deployment: answer.body["id"].as_str().unwrap().to_owned(),
        credential: answer.body["credential"].as_str().unwrap().to_owned(),
        admin,
        org,
    }
}

/// An answer with its body as bytes.
struct Raw {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Raw {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|value| value.to_str().unwrap())
    }
}

async fn fetch(state: &cp_api::http::AppState, path: &str, token: Option<&str>) -> Raw {
    let service = actix_web::test::init_service(
        App::new()
            .app_data(web::Data::new(state.clone()))
            .configure(cp_api::http::configure),
    )
    .await;
    let mut request = TestRequest::get().uri(path);
    if let Some(token) = token {
        request = request.insert_header(("Authorization", format!("Bearer {token}")));
    }
    let response = actix_web::test::call_service(&service, request.to_request()).await;
    Raw {
        status: response.status(),
        headers: response.headers().clone(),
        body: actix_web::test::read_body(response).await.to_vec(),
    }
}

/// The archive's files: path (without the top folder) → contents; and the top folder.
fn unpack(bytes: &[u8]) -> (String, BTreeMap<String, String>) {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut files = BTreeMap::new();
    let mut tops = std::collections::BTreeSet::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let (top, inside) = path.split_once('/').unwrap();
        tops.insert(top.to_owned());
        let mut contents = String::new();
        entry.read_to_string(&mut contents).unwrap();
        files.insert(inside.to_owned(), contents);
    }
    assert_eq!(tops.len(), 1, "one top folder: {tops:?}");
    (tops.into_iter().next().unwrap(), files)
}

/// Every file under `root/folder` (local Terraform state and caches aside): path from `root` → contents.
fn files_under(root: &std::path::Path, folder: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut pending = vec![root.join(folder)];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with(".terraform")
                || name.ends_with(".tfstate")
                || name.ends_with(".tfstate.backup")
            {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                found.push((relative, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    assert!(!found.is_empty(), "nothing under {folder}");
    found
}

on_both_backends! {
    async fn a_byoc_bundle_holds_the_chart_values_terraform_and_readme_and_never_the_credential(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let config = json!({"cloud": "gke", "project_id": "acme-prod", "region": "europe-west1", "namespace": "finops"});
        let at = installed(&app, "Acme", "byoc", config).await;
        let path = format!("/api/v1/deployments/{}/bundle", at.deployment);

        let answer = fetch(&app.state, &path, Some(&at.admin.token)).await;
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.json());
        assert_eq!(answer.header("content-type"), Some("application/gzip"));
        let name = format!("byoc-{}", at.deployment);
        assert_eq!(answer.header("content-disposition"), Some(format!("attachment; filename=\"{name}.tar.gz\"").as_str()));
        assert!(answer.header("x-deployment-credential").is_none(), "no credential unless asked for");
        let (top, files) = unpack(&answer.body);
        assert_eq!(top, name);
        for expected in [
            "README.md", "values.yaml", "terraform.tfvars",
            "charts/data-plane/Chart.yaml", "charts/data-plane/values.yaml", "charts/data-plane/values.schema.json",
            "charts/data-plane/templates/deployment.yaml", "charts/data-plane/templates/networkpolicy.yaml",
            "charts/data-plane/templates/hpa.yaml", "charts/data-plane/templates/pdb.yaml",
            "charts/data-plane/templates/pvc.yaml", "charts/data-plane/templates/service.yaml",
            "terraform/gke/main.tf", "terraform/gke/variables.tf", "terraform/eks/main.tf", "terraform/aks/main.tf",
            "terraform/modules/gke/main.tf", "terraform/modules/eks/main.tf", "terraform/modules/aks/main.tf",
            "terraform/modules/data-plane/main.tf",
        ] {
            assert!(files.contains_key(expected), "{expected} is missing from {:?}", files.keys().collect::<Vec<_>>());
        }
        let repository = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        for folder in ["charts/data-plane", "terraform"] {
            for (path, contents) in files_under(&repository, folder) {
                assert_eq!(
                    files.get(&path), Some(&contents),
                    "{path}: the bundle's copy differs from the repository's (cargo does not notice a new file \
                     under {folder}: touch crates/cp-api/src/service/bundle.rs and rebuild)"
                );
            }
        }

        // values.yaml: this deployment's, with the manifest's runtime resources (cpu "1", memory 1Gi).
        let values = &files["values.yaml"];
        assert!(values.contains(&format!("deploymentId: \"{}\"", at.deployment)), "{values}");
        assert!(values.contains("url: \"http://localhost:8080\""), "the request's address by default: {values}");
        assert!(values.contains("existingSecret: \"dp-"), "{values}");
        assert!(values.contains("cpu: \"1\"") && values.contains("memory: \"1Gi\""), "{values}");
        assert!(values.contains("backend: \"embedded\""), "{values}");
        let tfvars = &files["terraform.tfvars"];
        for line in ["project_id = \"acme-prod\"", "region = \"europe-west1\"", "namespace = \"finops\"",
                     "values_file = \"../../values.yaml\"", "create_cluster = true"] {
            assert!(tfvars.contains(line), "{line} in {tfvars}");
        }
        assert!(tfvars.contains(&format!("deployment_id = \"{}\"", at.deployment)), "{tfvars}");
        let readme = &files["README.md"];
        assert!(readme.contains("kubectl create secret generic dp-") && readme.contains("-n finops"), "{readme}");
        assert!(readme.contains("helm upgrade --install") && readme.contains("terraform -chdir=terraform/gke apply"), "{readme}");
        assert!(readme.contains("gcloud container clusters get-credentials"), "{readme}");

        let secret = at.credential.rsplit('_').next().unwrap();
        for (file, contents) in &files {
            assert!(!contents.contains(secret), "{file} holds the credential");
            assert!(!contents.contains(&at.credential), "{file} holds the credential");
        }

        // A public URL set for the service wins over the request's address; the default cloud is EKS.
        let eks = installed(&app, "Globex", "byoc", json!({"memory_backend": "qdrant", "qdrant_url": "http://qdrant.db.svc:6334"})).await;
        let mut state = app.state.clone();
        state.public_url = Some("https://cp.example.com".into());
        let answer = fetch(&state, &format!("/api/v1/deployments/{}/bundle", eks.deployment), Some(&eks.admin.token)).await;
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.json());
        let (_, files) = unpack(&answer.body);
        let values = &files["values.yaml"];
        assert!(values.contains("url: \"https://cp.example.com\""), "{values}");
        assert!(values.contains("backend: \"qdrant\"") && values.contains("url: \"http://qdrant.db.svc:6334\""), "{values}");
        assert!(values.contains("autoscaling:"), "stateless replicas scale: {values}");
        assert!(files["terraform.tfvars"].contains("region = \"us-east-1\""), "{}", files["terraform.tfvars"]);
        assert!(files["README.md"].contains("aws eks update-kubeconfig"), "{}", files["README.md"]);
    }

    async fn bundles_are_refused_for_saas_outsiders_viewers_and_bad_config(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let byoc = installed(&app, "Acme", "byoc", json!({})).await;
        let path = format!("/api/v1/deployments/{}/bundle", byoc.deployment);

        let saas = installed(&app, "Initech", "saas", json!({})).await;
        let refused = fetch(&app.state, &format!("/api/v1/deployments/{}/bundle", saas.deployment), Some(&saas.admin.token)).await;
        assert_eq!(refused.status, StatusCode::CONFLICT);
        assert_eq!(refused.header("content-type"), Some("application/problem+json"));
        let problem = refused.json();
        assert_eq!(problem["type"], "https://agent-marketplace.dev/problems/conflict");
        assert!(problem["detail"].as_str().unwrap().contains("saas deployment"), "{problem}");

        // Another org's deployment does not exist for them; a viewer may not; nobody signed in, 401.
        let outsider = fetch(&app.state, &path, Some(&saas.admin.token)).await;
        assert_eq!(outsider.status, StatusCode::NOT_FOUND, "{:?}", outsider.json());
        let viewer = app.user("viewer@acme.example", None).await;
        let added = app.post(&format!("/api/v1/orgs/{}/members", byoc.org),
            json!({"email": "viewer@acme.example", "role": "viewer"}), Some(&byoc.admin.token)).await;
        assert_eq!(added.status, StatusCode::CREATED);
        assert_eq!(fetch(&app.state, &path, Some(&viewer.token)).await.status, StatusCode::FORBIDDEN);
        let operator = app.user("operator@acme.example", None).await;
        let added = app.post(&format!("/api/v1/orgs/{}/members", byoc.org),
            json!({"email": "operator@acme.example", "role": "operator"}), Some(&byoc.admin.token)).await;
        assert_eq!(added.status, StatusCode::CREATED);
        assert_eq!(fetch(&app.state, &path, Some(&operator.token)).await.status, StatusCode::OK, "operators may");
        assert_eq!(fetch(&app.state, &path, None).await.status, StatusCode::UNAUTHORIZED);
        let nobody = format!("/api/v1/deployments/{}/bundle", uuid::Uuid::now_v7());
        assert_eq!(fetch(&app.state, &nobody, Some(&byoc.admin.token)).await.status, StatusCode::NOT_FOUND);

        // An install config the bundle cannot use: every bad field, with its path.
        let odd = installed(&app, "Hooli", "byoc", json!({"cloud": "openstack", "memory_backend": "qdrant", "namespace": "Not A Namespace"})).await;
        let answer = fetch(&app.state, &format!("/api/v1/deployments/{}/bundle", odd.deployment), Some(&odd.admin.token)).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
        let paths: Vec<String> = answer.json()["errors"].as_array().unwrap().iter()
            .map(|error| error["path"].as_str().unwrap().to_owned()).collect();
        assert_eq!(paths, ["config.cloud", "config.namespace", "config.qdrant_url"]);

        // An uninstalled deployment has no data plane to install.
        assert_eq!(app.delete(&format!("/api/v1/deployments/{}", byoc.deployment), Some(&byoc.admin.token)).await.status, StatusCode::OK);
        assert_eq!(fetch(&app.state, &path, Some(&byoc.admin.token)).await.status, StatusCode::CONFLICT);
    }

    async fn a_rotated_credential_is_shown_once_and_the_old_one_stops_working(backend: Backend) {
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let at = installed(&app, "Acme", "byoc", json!({"cloud": "aks"})).await;
        let registration = json!({"instance_id": "byoc-1", "version": "0.1.0", "capabilities": [], "concurrency": 2});
        assert_eq!(dp(&app, &at.credential, "register", Some(registration.clone())).await.status, StatusCode::OK);

        let path = format!("/api/v1/deployments/{}/bundle?rotate_credential=true", at.deployment);
        let answer = fetch(&app.state, &path, Some(&at.admin.token)).await;
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.json());
        let fresh = answer.header("x-deployment-credential").unwrap().to_owned();
        assert!(fresh.starts_with("amd_") && fresh != at.credential, "{fresh}");
        let (_, files) = unpack(&answer.body);
        assert!(files.values().all(|contents| !contents.contains(&fresh)), "not in the bundle either");
        assert!(files["README.md"].contains("az aks get-credentials"), "{}", files["README.md"]);

        assert_eq!(dp(&app, &at.credential, "register", Some(registration.clone())).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(dp(&app, &fresh, "register", Some(registration)).await.status, StatusCode::OK);
        let shown = app.get_as_opt(&format!("/api/v1/deployments/{}", at.deployment), Some(&at.admin.token)).await;
        assert_eq!(shown.body["credential_prefix"], fresh.split('_').nth(1).unwrap());
        let audit = app.get_as_opt(&format!("/api/v1/orgs/{}/audit", at.org), Some(&at.admin.token)).await;
        assert!(audit.body.to_string().contains("deployment.rotate_credential"), "{:?}", audit.body);

        let again = fetch(&app.state, &format!("/api/v1/deployments/{}/bundle?rotate_credential=maybe", at.deployment), Some(&at.admin.token)).await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST);
    }

    async fn a_bundle_passes_the_chart_and_terraform_checks(backend: Backend) {
        let Some(python) = std::env::var_os("DEPLOY_CHECKS_PYTHON") else {
            println!("SKIPPED: DEPLOY_CHECKS_PYTHON is not set (`just test` sets it to a Python with the Helm SDK, kubernetes-validate, terraform and python-hcl2)");
            return;
        };
        let app = TestApp::start(backend).await;
        let market = market(&app).await;
        publish(&app, &market, NORMALIZER, "application/yaml").await;
        let configs = [
            ("Acme", json!({"cloud": "eks", "region": "eu-west-1"})),
            ("Globex", json!({"cloud": "gke", "project_id": "globex-prod", "memory_backend": "qdrant", "qdrant_url": "http://qdrant:6334"})),
            ("Initech", json!({"cloud": "aks", "create_cluster": false, "llm_model": "meta-llama/Llama-3.3-70B"})),
        ];
        for (org, config) in configs {
            let at = installed(&app, org, "byoc", config).await;
            let answer = fetch(&app.state, &format!("/api/v1/deployments/{}/bundle", at.deployment), Some(&at.admin.token)).await;
            assert_eq!(answer.status, StatusCode::OK);

            let folder = std::env::temp_dir().join(format!("bundle-check-{}", uuid::Uuid::now_v7()));
            tar::Archive::new(flate2::read::GzDecoder::new(answer.body.as_slice())).unpack(&folder).unwrap();
            let bundle = folder.join(format!("byoc-{}", at.deployment));
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/deploy-checks.py");
            let python = python.clone();
            let output = tokio::task::spawn_blocking(move || {
                std::process::Command::new(python).arg(script).arg("bundle").arg(&bundle).output()
            })
            .await
            .unwrap()
            .unwrap();
            std::fs::remove_dir_all(&folder).unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            let stderr = String::from_utf8_lossy(&output.stderr);
            println!("{stdout}");
            assert!(output.status.success(), "the bundle's checks failed:\n{stdout}\n{stderr}");
            assert!(stdout.contains("helm lint") && stdout.contains("kubernetes-validate"), "{stdout}");
        }
    }
}
