//! The FinOps example's tools, deterministic over the sample data in `examples/finops/data/`:
//! `billing.fetch` (read and normalize a month of AWS, Google Cloud and Azure exports), `reports.write` and
//! `reports.read` (a report store in a local folder), `finops.detect_anomalies` (days far above a service's
//! baseline), `finops.plan_remediations` (an action per anomaly, by fixed rules) and `cloud.remediate` (high
//! risk; reports what it would change, changes nothing real).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use manifest::Risk;
use protocol::Money;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Tool, ToolFuture, ToolRegistry, ToolsConfig};
use crate::nodes::transform::{self, Op, TransformConfig};
use crate::nodes::{NodeContext, NodeError};

pub fn register(registry: &mut ToolRegistry, config: &ToolsConfig) {
    registry
        .register(BillingFetch {
            root: config.billing_root.clone(),
        })
        .register(ReportsWrite {
            root: config.reports_root.clone(),
        })
        .register(ReportsRead {
            root: config.reports_root.clone(),
        })
        .register(BillingNormalize {
            billing: config.billing_root.clone(),
            reports: config.reports_root.clone(),
        })
        .register(DetectAnomalies)
        .register(DetectInReport {
            root: config.reports_root.clone(),
        })
        .register(PlanRemediations)
        .register(Remediate);
}

fn input<T: for<'de> Deserialize<'de>>(tool: &str, input: Value) -> Result<T, NodeError> {
    serde_json::from_value(input).map_err(|error| NodeError::fatal(format!("{tool} input: {error}")))
}

/// `relative` inside `root`, refusing anything that climbs out.
fn inside(root: Option<&Path>, relative: &str, what: &str) -> Result<PathBuf, NodeError> {
    let root = root.ok_or_else(|| NodeError::fatal(format!("no {what} folder is configured")))?;
    let relative = relative.strip_prefix("file://").unwrap_or(relative);
    let path = Path::new(relative);
    if path
        .components()
        .any(|part| !matches!(part, Component::Normal(_) | Component::CurDir))
    {
        return Err(NodeError::fatal(format!(
            "`{relative}` is not a folder inside the {what} folder"
        )));
    }
    Ok(root.join(path))
}

#[derive(Debug)]
struct BillingFetch {
    root: Option<PathBuf>,
}

#[derive(Deserialize)]
struct FetchInput {
    source: String,
    period: String,
}

/// One export format: its file name prefix and how its columns map onto the normalized record.
struct Export {
    provider: &'static str,
    prefix: &'static str,
    account: &'static str,
    service: &'static str,
    region: &'static str,
    date: &'static str,
    cost: &'static str,
}

const EXPORTS: [Export; 3] = [
    Export {
        provider: "aws",
        prefix: "aws-cur",
        account: "lineItem/UsageAccountId",
        service: "lineItem/ProductCode",
        region: "product/region",
        date: "lineItem/UsageStartDate",
        cost: "lineItem/UnblendedCost",
    },
    Export {
        provider: "gcp",
        prefix: "gcp-billing",
        account: "project.id",
        service: "service.description",
        region: "location.region",
        date: "usage_start_time",
        cost: "cost",
    },
    Export {
        provider: "azure",
        prefix: "azure-usage",
        account: "SubscriptionId",
        service: "MeterCategory",
        region: "ResourceLocation",
        date: "Date",
        cost: "CostInBillingCurrency",
    },
];

/// Splits one CSV line, with `"` quoting and `""` escapes.
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// `2025-11-14T00:00:00Z`, `2025-11-14 00:00:00 UTC` and `11/14/2025` as `2025-11-14`.
fn iso_date(text: &str) -> Option<String> {
    if let [month, day, year] = text.split('/').collect::<Vec<_>>().as_slice() {
        return Some(format!("{year}-{month:0>2}-{day:0>2}"));
    }
    text.get(..10).map(str::to_owned)
}

fn normalize(export: &Export, text: &str, file: &str) -> Result<Vec<Value>, NodeError> {
    let mut lines = text.lines().filter(|line| !line.trim().is_empty());
    let header = csv_fields(lines.next().unwrap_or_default());
    let column = |name: &str| {
        header
            .iter()
            .position(|column| column == name)
            .ok_or_else(|| NodeError::fatal(format!("{file}: no column `{name}`")))
    };
    let (account, service, region, date, cost) = (
        column(export.account)?,
        column(export.service)?,
        column(export.region)?,
        column(export.date)?,
        column(export.cost)?,
    );
    lines
        .enumerate()
        .map(|(index, line)| {
            let fields = csv_fields(line);
            let field = |at: usize| fields.get(at).map_or("", String::as_str);
            let line_no = index + 2;
            let amount: Money = field(cost)
                .parse()
                .map_err(|error| NodeError::fatal(format!("{file}:{line_no}: cost: {error}")))?;
            let usage_date = iso_date(field(date))
                .ok_or_else(|| NodeError::fatal(format!("{file}:{line_no}: no usage date")))?;
            Ok(json!({
                "provider": export.provider,
                "account": field(account),
                "service": field(service),
                "region": field(region),
                "usage_date": usage_date,
                "cost": amount.to_string(),
            }))
        })
        .collect()
}

/// Reads and normalizes a period's exports: the files read and the records.
async fn fetch(root: Option<&Path>, request: &FetchInput) -> Result<(Vec<Value>, Vec<Value>), NodeError> {
    let folder = inside(root, &request.source, "billing")?;
    let mut records = Vec::new();
    let mut files = Vec::new();
    for export in &EXPORTS {
        let file = format!("{}-{}.csv", export.prefix, request.period);
        let path = folder.join(&file);
        let text = match tokio::fs::read_to_string(&path).await {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => return Err(NodeError::retryable(format!("{file}: {error}"))),
        };
        let rows = normalize(export, &text, &file)?;
        files.push(json!({"provider": export.provider, "file": file, "records": rows.len()}));
        records.extend(rows);
    }
    if files.is_empty() {
        return Err(NodeError::fatal(format!(
            "no billing exports for {} in `{}`",
            request.period, request.source
        )));
    }
    Ok((files, records))
}

impl Tool for BillingFetch {
    fn name(&self) -> &str {
        "billing.fetch"
    }

    fn scopes(&self) -> &[&str] {
        &["billing:read"]
    }

    fn risk(&self) -> Risk {
        Risk::Low
    }

    fn call<'a>(&'a self, value: Value, ctx: &'a NodeContext) -> ToolFuture<'a> {
        Box::pin(async move {
            let request: FetchInput = input(self.name(), value)?;
            let (files, records) = fetch(self.root.as_deref(), &request).await?;
            ctx.count("record", records.len() as u64);
            Ok(json!({"files": files, "records": records}))
        })
    }
}

/// `billing.normalize`: `billing.fetch` with the records written to a report rather than returned: a
/// month of line items is megabytes, too much to carry in node outputs and checkpoints. Returns the
/// report's reference, the record count, the total and the spend per service.
#[derive(Debug)]
struct BillingNormalize {
    billing: Option<PathBuf>,
    reports: Option<PathBuf>,
}

#[derive(Deserialize)]
struct NormalizeInput {
    source: String,
    period: String,
    report: String,
}

impl Tool for BillingNormalize {
    fn name(&self) -> &str {
        "billing.normalize"
    }

    fn scopes(&self) -> &[&str] {
        &["billing:read", "reports:write"]
    }

    fn risk(&self) -> Risk {
        Risk::Low
    }

    fn call<'a>(&'a self, value: Value, ctx: &'a NodeContext) -> ToolFuture<'a> {
        Box::pin(async move {
            let request: NormalizeInput = input(self.name(), value)?;
            let fetch_input = FetchInput {
                source: request.source,
                period: request.period,
            };
            let (files, records) = fetch(self.billing.as_deref(), &fetch_input).await?;
            let count = records.len();
            let records = Value::Array(records);
            let total = TransformConfig {
                op: Op::Sum,
                field: Some("cost".to_owned()),
                by: None,
            };
            let by_service = TransformConfig {
                op: Op::GroupSum,
                field: Some("cost".to_owned()),
                by: Some("service".to_owned()),
            };
            let total_cost = transform::apply(&total, records.clone()).map_err(NodeError::fatal)?;
            let by_service = transform::apply(&by_service, records.clone()).map_err(NodeError::fatal)?;
            let (payload_ref, bytes) =
                write_report(self.reports.as_deref(), &request.report, &records).await?;
            ctx.count("record", count as u64);
            Ok(json!({
                "payload_ref": payload_ref, "records": count, "bytes": bytes, "files": files,
                "total_cost": total_cost, "by_service": by_service,
            }))
        })
    }
}

#[derive(Debug)]
struct ReportsWrite {
    root: Option<PathBuf>,
}

#[derive(Deserialize)]
struct WriteInput {
    name: String,
    records: Value,
}

fn report_name(name: &str) -> Result<&str, NodeError> {
    let name = name.strip_prefix("report://").unwrap_or(name);
    if name.is_empty()
        || name.len() > 128
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        || name.starts_with('.')
    {
        return Err(NodeError::fatal(format!(
            "`{name}` is not a report name (letters, digits, `-_.`)"
        )));
    }
    Ok(name)
}

/// Writes a report; its reference (`report://name`) and size.
async fn write_report(
    root: Option<&Path>,
    name: &str,
    records: &Value,
) -> Result<(String, usize), NodeError> {
    let name = report_name(name)?;
    let path = inside(root, &format!("{name}.json"), "reports")?;
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|error| NodeError::retryable(format!("reports folder: {error}")))?;
    }
    let bytes =
        serde_json::to_vec(records).map_err(|error| NodeError::fatal(format!("report {name}: {error}")))?;
    tokio::fs::write(&path, &bytes)
        .await
        .map_err(|error| NodeError::retryable(format!("report {name}: {error}")))?;
    Ok((format!("report://{name}"), bytes.len()))
}

impl Tool for ReportsWrite {
    fn name(&self) -> &str {
        "reports.write"
    }

    fn scopes(&self) -> &[&str] {
        &["reports:write"]
    }

    fn risk(&self) -> Risk {
        Risk::Low
    }

    fn call<'a>(&'a self, value: Value, _ctx: &'a NodeContext) -> ToolFuture<'a> {
        Box::pin(async move {
            let request: WriteInput = input(self.name(), value)?;
            let (payload_ref, bytes) =
                write_report(self.root.as_deref(), &request.name, &request.records).await?;
            let count = request.records.as_array().map_or(1, Vec::len);
            Ok(json!({"payload_ref": payload_ref, "records": count, "bytes": bytes}))
        })
    }
}

#[derive(Debug)]
struct ReportsRead {
    root: Option<PathBuf>,
}

#[derive(Deserialize)]
struct ReadInput {
    payload_ref: String,
}

impl Tool for ReportsRead {
    fn name(&self) -> &str {
        "reports.read"
    }

    fn scopes(&self) -> &[&str] {
        &["reports:read"]
    }

    fn risk(&self) -> Risk {
        Risk::Low
    }

    fn call<'a>(&'a self, value: Value, _ctx: &'a NodeContext) -> ToolFuture<'a> {
        Box::pin(async move {
            let request: ReadInput = input(self.name(), value)?;
            let name = report_name(&request.payload_ref)?;
            let path = inside(self.root.as_deref(), &format!("{name}.json"), "reports")?;
            let bytes = tokio::fs::read(&path)
                .await
                .map_err(|error| NodeError::fatal(format!("report {name}: {error}")))?;
            let records: Value = serde_json::from_slice(&bytes)
                .map_err(|error| NodeError::fatal(format!("report {name}: {error}")))?;
            Ok(json!({"records": records}))
        })
    }
}

#[derive(Debug)]
struct DetectAnomalies;

#[derive(Deserialize)]
struct DetectInput {
    records: Vec<Record>,
    threshold: Option<f64>,
}

#[derive(Deserialize)]
struct Record {
    provider: String,
    service: String,
    usage_date: String,
    cost: Money,
}

/// Days whose spend on a service is more than `threshold` standard deviations above that service's mean
/// over the other days of the period.
fn anomalies(records: &[Record], threshold: f64) -> Vec<Value> {
    let mut daily: BTreeMap<(&str, &str), BTreeMap<&str, i64>> = BTreeMap::new();
    for record in records {
        *daily
            .entry((record.provider.as_str(), record.service.as_str()))
            .or_default()
            .entry(record.usage_date.as_str())
            .or_default() += record.cost.micros();
    }
    let mut found = Vec::new();
    for ((provider, service), days) in &daily {
        if days.len() < 3 {
            continue;
        }
        for (day, spend) in days {
            #[expect(
                clippy::cast_precision_loss,
                reason = "spend in micro-dollars is far below 2^52"
            )]
            let others: Vec<f64> = days
                .iter()
                .filter(|(other, _)| *other != day)
                .map(|(_, s)| *s as f64)
                .collect();
            #[expect(clippy::cast_precision_loss, reason = "counts of days are tiny")]
            let n = others.len() as f64;
            let mean = others.iter().sum::<f64>() / n;
            let deviation = (others.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / n).sqrt();
            #[expect(
                clippy::cast_precision_loss,
                reason = "spend in micro-dollars is far below 2^52"
            )]
            let spend_f = *spend as f64;
            if spend_f > mean + threshold * deviation.max(mean * 0.05) {
                #[expect(
                    clippy::cast_possible_truncation,
                    reason = "a mean of i64 amounts fits an i64"
                )]
                let baseline = Money::from_micros(mean.round() as i64);
                found.push(json!({
                    "provider": provider, "service": service, "date": day,
                    "cost": Money::from_micros(*spend).to_string(),
                    "baseline": baseline.to_string(),
                    "ratio": (spend_f / mean * 10.0).round() / 10.0,
                }));
            }
        }
    }
    found
}

impl Tool for DetectAnomalies {
    fn name(&self) -> &str {
        "finops.detect_anomalies"
    }

    fn scopes(&self) -> &[&str] {
        &[]
    }

    fn risk(&self) -> Risk {
        Risk::Low
    }

    fn call<'a>(&'a self, value: Value, _ctx: &'a NodeContext) -> ToolFuture<'a> {
        Box::pin(async move {
            let request: DetectInput = input(self.name(), value)?;
            let found = anomalies(&request.records, request.threshold.unwrap_or(3.0));
            Ok(json!({"count": found.len(), "anomalies": found}))
        })
    }
}

/// `finops.detect_anomalies_in_report`: `finops.detect_anomalies` over a report (`{payload_ref,
/// threshold}`), so a month of records never travels in node outputs.
#[derive(Debug)]
struct DetectInReport {
    root: Option<PathBuf>,
}

#[derive(Deserialize)]
struct DetectReportInput {
    payload_ref: String,
    threshold: Option<f64>,
}

impl Tool for DetectInReport {
    fn name(&self) -> &str {
        "finops.detect_anomalies_in_report"
    }

    fn scopes(&self) -> &[&str] {
        &["reports:read"]
    }

    fn risk(&self) -> Risk {
        Risk::Low
    }

    fn call<'a>(&'a self, value: Value, ctx: &'a NodeContext) -> ToolFuture<'a> {
        Box::pin(async move {
            let request: DetectReportInput = input(self.name(), value)?;
            let name = report_name(&request.payload_ref)?;
            let path = inside(self.root.as_deref(), &format!("{name}.json"), "reports")?;
            let bytes = tokio::fs::read(&path)
                .await
                .map_err(|error| NodeError::fatal(format!("report {name}: {error}")))?;
            let records: Vec<Record> = serde_json::from_slice(&bytes)
                .map_err(|error| NodeError::fatal(format!("report {name}: {error}")))?;
            ctx.count("record", records.len() as u64);
            let found = anomalies(&records, request.threshold.unwrap_or(3.0));
            Ok(json!({"count": found.len(), "anomalies": found, "records": records.len()}))
        })
    }
}

/// `finops.plan_remediations`: an action for each anomaly (`{anomalies}` as `finops.detect_anomalies`
/// finds them), by fixed rules rather than a model's judgement, so what a human is asked to approve is
/// reproducible. Compute spend (`EC2`, `Compute Engine`, `Virtual Machines`) at least `RIGHTSIZE_RATIO`
/// times its baseline is to be rightsized; anything else is to be investigated. The output is
/// `{recommendations: [{anomaly, action, resource, saving}], remediations, text}`, where `saving` is the
/// day's spend above its baseline, `remediations` the recommendations that change something and `text` the
/// plan as lines of prose (for a prompt or a memory, which read better than JSON).
#[derive(Debug)]
struct PlanRemediations;

const COMPUTE: [&str; 3] = ["EC2", "Compute Engine", "Virtual Machines"];
const RIGHTSIZE_RATIO: f64 = 5.0;

#[derive(Deserialize)]
struct PlanInput {
    anomalies: Vec<Anomaly>,
}

#[derive(Deserialize)]
struct Anomaly {
    provider: String,
    service: String,
    date: String,
    cost: Money,
    baseline: Money,
    ratio: f64,
}

fn plan(anomalies: &[Anomaly]) -> (Vec<Value>, Vec<Value>, String) {
    let mut text = String::new();
    let recommendations: Vec<Value> = anomalies
        .iter()
        .map(|anomaly| {
            let compute = COMPUTE.iter().any(|name| anomaly.service.contains(name));
            let action = if compute && anomaly.ratio >= RIGHTSIZE_RATIO {
                "rightsize"
            } else {
                "investigate"
            };
            let excess = Money::from_micros(
                anomaly
                    .cost
                    .micros()
                    .saturating_sub(anomaly.baseline.micros())
                    .max(0),
            );
            let resource = format!("{}/{}", anomaly.provider, anomaly.service);
            let what = format!(
                "{resource} spent ${} on {}, {} times its daily baseline of ${}",
                anomaly.cost.rounded_to_cents(),
                anomaly.date,
                anomaly.ratio,
                anomaly.baseline.rounded_to_cents()
            );
            text.push_str(&format!("- {what}: {action}.\n"));
            json!({
                "anomaly": what,
                "action": action,
                "resource": resource,
                "saving": excess.rounded_to_cents().to_string(),
            })
        })
        .collect();
    let remediations = recommendations
        .iter()
        .filter(|recommendation| recommendation["action"] != "investigate")
        .cloned()
        .collect();
    (recommendations, remediations, text)
}

impl Tool for PlanRemediations {
    fn name(&self) -> &str {
        "finops.plan_remediations"
    }

    fn scopes(&self) -> &[&str] {
        &[]
    }

    fn risk(&self) -> Risk {
        Risk::Low
    }

    fn call<'a>(&'a self, value: Value, _ctx: &'a NodeContext) -> ToolFuture<'a> {
        Box::pin(async move {
            let request: PlanInput = input(self.name(), value)?;
            let (recommendations, remediations, text) = plan(&request.anomalies);
            Ok(json!({"recommendations": recommendations, "remediations": remediations, "text": text}))
        })
    }
}

#[derive(Debug)]
struct Remediate;

impl Tool for Remediate {
    fn name(&self) -> &str {
        "cloud.remediate"
    }

    fn scopes(&self) -> &[&str] {
        &["cloud.compute:write"]
    }

    fn risk(&self) -> Risk {
        Risk::High
    }

    fn call<'a>(&'a self, value: Value, _ctx: &'a NodeContext) -> ToolFuture<'a> {
        Box::pin(async move {
            let actions = value
                .get("actions")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let done: Vec<String> = actions
                .iter()
                .map(|action| {
                    let verb = action
                        .get("action")
                        .and_then(Value::as_str)
                        .unwrap_or("investigate");
                    let resource = action
                        .get("resource")
                        .and_then(Value::as_str)
                        .unwrap_or("unknown resource");
                    format!("{verb} {resource}")
                })
                .collect();
            Ok(json!({"done": done}))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoting() {
        assert_eq!(
            csv_fields(r#"a,"b,c","{""team"":""web""}",,d"#),
            vec!["a", "b,c", r#"{"team":"web"}"#, "", "d"]
        );
        assert_eq!(iso_date("11/04/2025").as_deref(), Some("2025-11-04"));
        assert_eq!(iso_date("2025-11-04 00:00:00 UTC").as_deref(), Some("2025-11-04"));
    }

    #[test]
    fn only_large_compute_spikes_are_remediated() {
        let anomaly = |service: &str, cost: &str, ratio: f64| Anomaly {
            provider: "aws".into(),
            service: service.into(),
            date: "2025-11-14".into(),
            cost: cost.parse().unwrap(),
            baseline: "10.00".parse().unwrap(),
            ratio,
        };
        let (recommendations, remediations, text) = plan(&[
            anomaly("AmazonEC2", "120.00", 12.0),
            anomaly("AmazonEC2", "40.00", 4.0),
            anomaly("BigQuery", "80.00", 8.0),
        ]);
        let actions: Vec<&str> = recommendations
            .iter()
            .map(|r| r["action"].as_str().unwrap())
            .collect();
        assert_eq!(actions, ["rightsize", "investigate", "investigate"]);
        assert_eq!(remediations.len(), 1);
        assert_eq!(remediations[0]["resource"], "aws/AmazonEC2");
        assert_eq!(remediations[0]["saving"], "110.00");
        assert!(
            text.starts_with(
                "- aws/AmazonEC2 spent $120.00 on 2025-11-14, 12 times its daily baseline of $10.00: rightsize.\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn paths_cannot_climb_out() {
        let root = Path::new("/srv/billing");
        assert!(inside(Some(root), "../etc", "billing").is_err());
        assert!(inside(Some(root), "/etc", "billing").is_err());
        assert_eq!(
            inside(Some(root), "acme/2025", "billing").unwrap(),
            root.join("acme/2025")
        );
        assert!(report_name("../x").is_err());
        assert_eq!(
            report_name("report://normalized-2025-11").unwrap(),
            "normalized-2025-11"
        );
    }
}
