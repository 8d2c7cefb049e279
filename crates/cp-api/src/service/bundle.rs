//! The BYOC bundle: what an org downloads to run a BYOC deployment's data plane in its own cloud.
//!
//! A `.tar.gz` with the data-plane Helm chart, a `values.yaml` filled for the deployment (control plane URL,
//! deployment id, the manifest's runtime resources, the memory backend), the Terraform modules with a
//! `terraform.tfvars` for the cloud the install asked for, and a README with the commands to install it.
//! The chart and the Terraform are the repository's own files, built into the binary; the three
//! deployment-specific files are rendered by a template engine from the templates in `bundle/`.
//!
//! The deployment's credential is never in the bundle. On request it is rotated instead: the fresh one is
//! returned beside the bundle, once, and the old one stops working.

use std::io::Write as _;
use std::path::{Component, Path};

use include_dir::{Dir, include_dir};
use minijinja::{Environment, UndefinedBehavior};
use protocol::FieldError;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::auth::api_key;
use crate::db::deployments::Deployment;
use crate::db::{self, Conn, Id, Time};
use crate::error::Error;
use crate::service::audit::{self, Actor, Entry};
use crate::service::catalog::stored_manifest;

static CHART: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../charts/data-plane");
static TERRAFORM: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../terraform");

const VALUES_TEMPLATE: &str = include_str!("../../bundle/values.yaml.j2");
const TFVARS_TEMPLATE: &str = include_str!("../../bundle/terraform.tfvars.j2");
const README_TEMPLATE: &str = include_str!("../../bundle/README.md.j2");

/// The clouds a bundle has Terraform for, and the one used when the install's `config.cloud` names none.
pub const CLOUDS: [&str; 3] = ["gke", "eks", "aks"];
pub const DEFAULT_CLOUD: &str = "eks";

/// The memory backends the chart runs, and the default.
const MEMORY_BACKENDS: [&str; 2] = ["embedded", "qdrant"];

/// What the caller asks for besides the deployment.
#[derive(Debug, Clone)]
pub struct BundleRequest {
    /// Where the data plane reaches the control plane.
    pub control_plane_url: String,
    /// Issue a fresh credential (the old one stops working) and return it beside the bundle.
    pub rotate_credential: bool,
}

/// A bundle, ready to send.
#[derive(Debug)]
pub struct Bundle {
    /// `byoc-<deployment id>.tar.gz`; the archive's files are under the same name without the extension.
    pub file_name: String,
    pub bytes: Vec<u8>,
    /// The fresh credential, when one was asked for: shown this once.
    pub credential: Option<String>,
}

/// The deployment's settings, read from its install `config`, checked, with their defaults.
#[derive(Debug, Serialize)]
struct Settings {
    cloud: &'static str,
    namespace: String,
    memory_backend: &'static str,
    qdrant_url: String,
    llm_base_url: String,
    llm_model: String,
    region: String,
    cluster_name: String,
    create_cluster: bool,
    node_count: u64,
    project_id: Option<String>,
    resource_group: Option<String>,
}

/// A name that goes into shell commands and Terraform: letters, digits, `.`, `_` and `-`, 1 to 63 of them.
fn plain_name(text: &str) -> bool {
    (1..=63).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// A model name as LLM APIs spell them: `gpt-4.1`, `meta-llama/Llama-3.3-70B`, `mistral-large:latest`.
fn model_name(text: &str) -> bool {
    (1..=128).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | ':' | '@'))
}

/// A Kubernetes namespace: a DNS label.
fn dns_label(text: &str) -> bool {
    (1..=63).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !text.starts_with('-')
        && !text.ends_with('-')
}

/// An `http(s)://` URL with no spaces or quotes, as it goes into YAML, HCL and a README.
fn plain_url(text: &str) -> bool {
    (text.starts_with("https://") || text.starts_with("http://"))
        && text.len() <= 2048
        && !text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '`' | '\\'))
}

impl Settings {
    /// Reads `config`, reporting every bad field at once.
    fn read(config: &Map<String, Value>) -> Result<Self, Error> {
        let mut errors = Vec::new();
        let mut text = |key: &str, check: fn(&str) -> bool, rule: &str| -> Option<String> {
            match config.get(key) {
                None | Some(Value::Null) => None,
                Some(Value::String(value)) if check(value) => Some(value.clone()),
                Some(other) => {
                    errors.push(FieldError::new(
                        format!("config.{key}"),
                        format!("{other} is not {rule}"),
                    ));
                    None
                }
            }
        };
        let cloud = text("cloud", |v| CLOUDS.contains(&v), "one of: gke, eks, aks");
        let memory = text(
            "memory_backend",
            |v| MEMORY_BACKENDS.contains(&v),
            "one of: embedded, qdrant",
        );
        let namespace = text("namespace", dns_label, "a Kubernetes namespace (a DNS label)");
        let qdrant_url = text("qdrant_url", plain_url, "an http:// or https:// URL");
        let llm_base_url = text("llm_base_url", plain_url, "an http:// or https:// URL");
        let llm_model = text("llm_model", model_name, "a model name");
        let region = text("region", plain_name, "a region name");
        let cluster_name = text("cluster_name", plain_name, "a cluster name");
        let project_id = text("project_id", plain_name, "a GCP project id");
        let resource_group = text("resource_group", plain_name, "an Azure resource group name");
        let create_cluster = match config.get("create_cluster") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(yes)) => *yes,
            Some(other) => {
                errors.push(FieldError::new(
                    "config.create_cluster",
                    format!("{other} is not true or false"),
                ));
                true
            }
        };
        let node_count = match config.get("node_count") {
            None | Some(Value::Null) => 2,
            Some(Value::Number(n)) if n.as_u64().is_some_and(|n| (1..=100).contains(&n)) => {
                n.as_u64().unwrap_or(2)
            }
            Some(other) => {
                errors.push(FieldError::new(
                    "config.node_count",
                    format!("{other} is not a whole number from 1 to 100"),
                ));
                2
            }
        };
        let cloud = CLOUDS
            .into_iter()
            .find(|known| cloud.as_deref() == Some(*known))
            .unwrap_or(DEFAULT_CLOUD);
        let memory_backend = MEMORY_BACKENDS
            .into_iter()
            .find(|known| memory.as_deref() == Some(*known))
            .unwrap_or(MEMORY_BACKENDS[0]);
        if memory_backend == "qdrant" && matches!(config.get("qdrant_url"), None | Some(Value::Null)) {
            errors.push(FieldError::new(
                "config.qdrant_url",
                "the qdrant memory backend needs the Qdrant server's URL",
            ));
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        let region = region.unwrap_or_else(|| {
            match cloud {
                "gke" => "us-central1",
                "aks" => "eastus",
                _ => "us-east-1",
            }
            .to_owned()
        });
        Ok(Self {
            cloud,
            namespace: namespace.unwrap_or_else(|| "agent-marketplace".to_owned()),
            memory_backend,
            qdrant_url: qdrant_url.unwrap_or_default(),
            llm_base_url: llm_base_url.unwrap_or_default(),
            llm_model: llm_model.unwrap_or_default(),
            region,
            cluster_name: cluster_name.unwrap_or_else(|| "agent-marketplace-dp".to_owned()),
            create_cluster,
            node_count,
            project_id,
            resource_group,
        })
    }
}

/// A manifest's `runtime.image`, split as the chart takes it.
#[derive(Debug, Serialize)]
struct Image {
    repository: String,
    tag: String,
    digest: String,
}

impl Image {
    fn parse(reference: &str) -> Self {
        if let Some((repository, digest)) = reference.split_once('@') {
            return Self {
                repository: repository.to_owned(),
                tag: String::new(),
                digest: digest.to_owned(),
            };
        }
        let name_end = reference.rfind('/').map_or(0, |slash| slash + 1);
        match reference[name_end..].rfind(':') {
            Some(colon) => Self {
                repository: reference[..name_end + colon].to_owned(),
                tag: reference[name_end + colon + 1..].to_owned(),
                digest: String::new(),
            },
            None => Self {
                repository: reference.to_owned(),
                tag: "latest".to_owned(),
                digest: String::new(),
            },
        }
    }
}

/// One line of `terraform.tfvars`.
#[derive(Debug, Serialize)]
struct TfVar {
    name: &'static str,
    doc: &'static str,
    value: Value,
}

/// What the templates see.
#[derive(Debug, Serialize)]
struct Context {
    deployment_id: String,
    agent_id: String,
    version: String,
    control_plane_url: String,
    release: String,
    secret_name: String,
    namespace: String,
    cpu: String,
    memory: String,
    image: Option<Image>,
    memory_backend: &'static str,
    qdrant_url: String,
    llm_base_url: String,
    llm_model: String,
    cloud: &'static str,
    cloud_name: &'static str,
    tfvars: Vec<TfVar>,
    review: String,
    kubeconfig: String,
}

/// The Terraform variables for the settings' cloud, what to review in them, and how to point `kubectl` at
/// the cluster afterwards.
fn terraform_inputs(settings: &Settings, context: &Context) -> (Vec<TfVar>, String, String) {
    let placeholder = |what: &str| format!("REPLACE-with-your-{what}");
    let mut vars = vec![
        TfVar {
            name: "deployment_id",
            doc: "The deployment this data plane serves.",
            value: json!(context.deployment_id),
        },
        TfVar {
            name: "namespace",
            doc: "Kubernetes namespace for the data plane.",
            value: json!(settings.namespace),
        },
        TfVar {
            name: "release_name",
            doc: "Helm release name.",
            value: json!(context.release),
        },
        TfVar {
            name: "credential_secret_name",
            doc: "Secret holding the deployment's credential; create it with kubectl (README.md).",
            value: json!(context.secret_name),
        },
        TfVar {
            name: "values_file",
            doc: "The chart values made for this deployment, relative to the root module.",
            value: json!("../../values.yaml"),
        },
        TfVar {
            name: "cluster_name",
            doc: "The cluster to create, or the existing one to add a node pool to.",
            value: json!(settings.cluster_name),
        },
        TfVar {
            name: "create_cluster",
            doc: "true: create the cluster and its network; false: add a node pool to an existing cluster.",
            value: json!(settings.create_cluster),
        },
        TfVar {
            name: "node_count",
            doc: "Nodes in the data plane's node pool.",
            value: json!(settings.node_count),
        },
    ];
    let mut review = vec!["cluster_name", "create_cluster", "node_count"];
    let kubeconfig = match settings.cloud {
        "gke" => {
            let project = settings
                .project_id
                .clone()
                .unwrap_or_else(|| placeholder("gcp-project"));
            vars.push(TfVar {
                name: "project_id",
                doc: "Google Cloud project.",
                value: json!(project),
            });
            vars.push(TfVar {
                name: "region",
                doc: "Google Cloud region.",
                value: json!(settings.region),
            });
            review.extend(["project_id", "region"]);
            format!(
                "gcloud container clusters get-credentials {} --region {} --project {project}",
                settings.cluster_name, settings.region
            )
        }
        "aks" => {
            let group = settings
                .resource_group
                .clone()
                .unwrap_or_else(|| "agent-marketplace-dp".to_owned());
            vars.push(TfVar {
                name: "resource_group_name",
                doc: "Azure resource group (created when create_cluster is true).",
                value: json!(group),
            });
            vars.push(TfVar {
                name: "location",
                doc: "Azure region.",
                value: json!(settings.region),
            });
            review.extend(["resource_group_name", "location"]);
            format!(
                "az aks get-credentials --resource-group {group} --name {}",
                settings.cluster_name
            )
        }
        _ => {
            vars.push(TfVar {
                name: "region",
                doc: "AWS region.",
                value: json!(settings.region),
            });
            review.push("region");
            format!(
                "aws eks update-kubeconfig --region {} --name {}",
                settings.region, settings.cluster_name
            )
        }
    };
    let review = review
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ");
    (vars, review, kubeconfig)
}

/// A value as an HCL literal: a quoted string (with `${` and `%{` escaped, so nothing is interpolated),
/// a number or a bool.
fn hcl(value: &minijinja::Value) -> Result<String, minijinja::Error> {
    use minijinja::value::ValueKind;
    match value.kind() {
        ValueKind::Bool => Ok(if value.is_true() { "true" } else { "false" }.to_owned()),
        ValueKind::Number => Ok(value.to_string()),
        ValueKind::String => {
            let text = value.as_str().unwrap_or_default();
            let mut quoted = String::with_capacity(text.len() + 2);
            quoted.push('"');
            let mut chars = text.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '"' => quoted.push_str("\\\""),
                    '\\' => quoted.push_str("\\\\"),
                    '\n' => quoted.push_str("\\n"),
                    '\r' => quoted.push_str("\\r"),
                    '\t' => quoted.push_str("\\t"),
                    '$' | '%' if chars.peek() == Some(&'{') => {
                        quoted.push(c);
                        quoted.push(c);
                    }
                    c => quoted.push(c),
                }
            }
            quoted.push('"');
            Ok(quoted)
        }
        _ => Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("{value} has no HCL form here"),
        )),
    }
}

/// The three files made for the deployment: `values.yaml`, `terraform.tfvars`, `README.md`.
fn render(context: &Context) -> Result<[(&'static str, String); 3], Error> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    env.set_trim_blocks(true);
    env.add_filter("hcl", hcl);
    let rendered = |name: &str, source: &'static str| {
        env.render_str(source, context)
            .map_err(|error| Error::Internal(format!("rendering the bundle's {name}: {error:#}")))
    };
    Ok([
        ("README.md", rendered("README.md", README_TEMPLATE)?),
        ("values.yaml", rendered("values.yaml", VALUES_TEMPLATE)?),
        ("terraform.tfvars", rendered("terraform.tfvars", TFVARS_TEMPLATE)?),
    ])
}

/// Every file under `dir`, with its path inside it, in a stable order; local Terraform state and provider
/// caches a developer may have beside the modules are left out.
fn files_of<'a>(dir: &'a Dir<'a>, into: &mut Vec<(&'a Path, &'a [u8])>) {
    for file in dir.files() {
        let path = file.path();
        let local = path.components().any(|part| {
            matches!(part, Component::Normal(name) if name.to_string_lossy().starts_with(".terraform"))
        }) || path
            .extension()
            .is_some_and(|ext| ext == "tfstate" || ext == "backup");
        if !local {
            into.push((path, file.contents()));
        }
    }
    for sub in dir.dirs() {
        files_of(sub, into);
    }
}

/// The archive: every file under `root/`, owned by root, read-only but for the owner, dated `mtime`.
fn archive(root: &str, files: &[(String, &[u8])], mtime: u64) -> Result<Vec<u8>, Error> {
    let failed = |error: std::io::Error| Error::Internal(format!("packing the bundle: {error}"));
    let gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gzip);
    for (path, contents) in files {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(mtime);
        tar.append_data(&mut header, format!("{root}/{path}"), *contents)
            .map_err(failed)?;
    }
    let mut gzip = tar.into_inner().map_err(failed)?;
    gzip.flush().map_err(failed)?;
    gzip.finish().map_err(failed)
}

/// Gives the deployment a fresh credential; the old one stops working at once.
async fn rotate(tx: &mut Conn<'_>, actor: &Actor, deployment: &mut Deployment) -> Result<String, Error> {
    let credential = api_key::generate(api_key::DATA_PLANE)
        .map_err(|error| Error::Internal(format!("no randomness for a credential: {error}")))?;
    let previous = std::mem::replace(&mut deployment.credential_prefix, credential.prefix.clone());
    deployment.credential_hash = credential.secret_hash.clone();
    deployment.updated_at = Time::now();
    db::deployments::update(tx, deployment).await?;
    audit::record(
        tx,
        Entry {
            actor: actor.user,
            org: Some(deployment.org_id),
            action: "deployment.rotate_credential",
            target: format!("deployment:{}", deployment.id.0),
            change: json!({"from_prefix": previous, "to_prefix": deployment.credential_prefix}),
            client_addr: actor.client_addr.clone(),
        },
    )
    .await?;
    Ok(credential.key)
}

/// A deployment that may have a bundle: installed, and BYOC.
fn bundleable(deployment: &Deployment) -> Result<(), Error> {
    if deployment.deployment_type != "byoc" {
        return Err(Error::Conflict(format!(
            "deployment {} is a {} deployment: its data plane runs in the marketplace's cloud, so there is \
             nothing to install; only BYOC deployments have a bundle",
            deployment.id.0, deployment.deployment_type
        )));
    }
    if deployment.state == "uninstalled" {
        return Err(Error::Conflict(format!(
            "deployment {} is uninstalled",
            deployment.id.0
        )));
    }
    Ok(())
}

/// The bundle for a BYOC deployment, with a fresh credential when asked.
///
/// # Errors
///
/// [`Error::NotFound`] for no such deployment; [`Error::Conflict`] for a SaaS or uninstalled deployment;
/// [`Error::Validation`] naming every install `config` field the bundle cannot use (an unknown cloud or
/// memory backend, a malformed name or URL).
pub async fn bundle(
    conn: &mut Conn<'_>,
    actor: Actor,
    id: Id,
    request: BundleRequest,
) -> Result<Bundle, Error> {
    if !plain_url(&request.control_plane_url) {
        return Err(Error::BadRequest(format!(
            "the control plane's URL {:?} cannot go into a bundle; set its public URL",
            request.control_plane_url
        )));
    }
    let (deployment, credential) = if request.rotate_credential {
        db::transaction(conn, async |tx| {
            let mut deployment = db::deployments::find(tx, id).await?;
            bundleable(&deployment)?;
            let credential = rotate(tx, &actor, &mut deployment).await?;
            Ok((deployment, Some(credential)))
        })
        .await?
    } else {
        let deployment = db::deployments::find(conn, id).await?;
        bundleable(&deployment)?;
        (deployment, None)
    };
    let config: Map<String, Value> = serde_json::from_str(&deployment.config)
        .map_err(|error| Error::Internal(format!("stored config does not read back: {error}")))?;
    let settings = Settings::read(&config)?;
    let agent = db::agents::find(conn, deployment.agent).await?;
    let version = db::agent_versions::find(conn, agent.id, &deployment.version)
        .await?
        .ok_or_else(|| {
            Error::Internal(format!(
                "deployment {} runs {} {}, which is gone",
                id.0, agent.agent_id, deployment.version
            ))
        })?;
    let runtime = stored_manifest(&version)?.runtime;

    let short: String = deployment.id.0.simple().to_string().chars().take(8).collect();
    let release = format!("dp-{short}");
    let mut context = Context {
        deployment_id: deployment.id.0.to_string(),
        agent_id: agent.agent_id.clone(),
        version: deployment.version.clone(),
        control_plane_url: request.control_plane_url.trim_end_matches('/').to_owned(),
        // The chart names its objects `<release>-data-plane`.
        release: format!("{release}-data-plane"),
        secret_name: format!("{release}-credential"),
        namespace: settings.namespace.clone(),
        cpu: runtime.resources.cpu,
        memory: runtime.resources.memory,
        image: runtime.image.as_deref().map(Image::parse),
        memory_backend: settings.memory_backend,
        qdrant_url: settings.qdrant_url.clone(),
        llm_base_url: settings.llm_base_url.clone(),
        llm_model: settings.llm_model.clone(),
        cloud: settings.cloud,
        cloud_name: match settings.cloud {
            "gke" => "Google Kubernetes Engine",
            "aks" => "Azure Kubernetes Service",
            _ => "Amazon EKS",
        },
        tfvars: Vec::new(),
        review: String::new(),
        kubeconfig: String::new(),
    };
    let (tfvars, review, kubeconfig) = terraform_inputs(&settings, &context);
    (context.tfvars, context.review, context.kubeconfig) = (tfvars, review, kubeconfig);
    let made = render(&context)?;

    let mut files: Vec<(String, &[u8])> = made
        .iter()
        .map(|(name, text)| ((*name).to_owned(), text.as_bytes()))
        .collect();
    for (folder, dir) in [("charts/data-plane", &CHART), ("terraform", &TERRAFORM)] {
        let mut found = Vec::new();
        files_of(dir, &mut found);
        found.sort();
        files.extend(
            found
                .into_iter()
                .map(|(path, contents)| (format!("{folder}/{}", path.display()), contents)),
        );
    }
    let root = format!("byoc-{}", deployment.id.0);
    let mtime = u64::try_from(deployment.created_at.0.timestamp()).unwrap_or(0);
    let bytes = archive(&root, &files, mtime)?;
    Ok(Bundle {
        file_name: format!("{root}.tar.gz"),
        bytes,
        credential,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcl_strings_are_quoted_and_never_interpolated() {
        let value = minijinja::Value::from("a \"b\" ${var.x} %{ if } \\ 100%");
        assert_eq!(hcl(&value).unwrap(), r#""a \"b\" $${var.x} %%{ if } \\ 100%""#);
        assert_eq!(hcl(&minijinja::Value::from(true)).unwrap(), "true");
        assert_eq!(hcl(&minijinja::Value::from(3)).unwrap(), "3");
    }

    #[test]
    fn images_split_as_the_chart_takes_them() {
        let parts = |image: Image| (image.repository, image.tag, image.digest);
        assert_eq!(
            parts(Image::parse("registry:5000/team/agent:1.2")),
            ("registry:5000/team/agent".into(), "1.2".into(), String::new())
        );
        assert_eq!(
            parts(Image::parse("registry:5000/team/agent")),
            ("registry:5000/team/agent".into(), "latest".into(), String::new())
        );
        assert_eq!(
            parts(Image::parse("agent@sha256:abc")),
            ("agent".into(), String::new(), "sha256:abc".into())
        );
    }

    #[test]
    fn settings_report_every_bad_field_and_default_the_rest() {
        let config =
            json!({"cloud": "openstack", "namespace": "Bad_NS", "memory_backend": "qdrant", "node_count": 0});
        let Err(Error::Validation(errors)) = Settings::read(config.as_object().unwrap()) else {
            panic!("accepted")
        };
        let paths: Vec<_> = errors.iter().map(|e| e.path.clone()).collect();
        assert_eq!(
            paths,
            [
                "config.cloud",
                "config.namespace",
                "config.node_count",
                "config.qdrant_url"
            ]
        );
        let settings = Settings::read(&Map::new()).unwrap();
        assert_eq!(
            (
                settings.cloud,
                settings.memory_backend,
                settings.namespace.as_str()
            ),
            (DEFAULT_CLOUD, "embedded", "agent-marketplace")
        );
    }
}
