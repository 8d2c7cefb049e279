//! Pins the JSON of every wire type: a changed snapshot is a changed wire.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use protocol::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use uuid::Uuid;

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_764_579_600 + seconds, 0).single().unwrap()
}

fn id<T: From<Uuid>>(n: u128) -> T {
    T::from(Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0000 | n))
}

/// Snapshots the JSON, and checks it decodes back to the same value.
fn pin<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(name: &str, value: &T) {
    insta::assert_json_snapshot!(name, value);
    let json = serde_json::to_string(value).unwrap();
    assert_eq!(
        &serde_json::from_str::<T>(&json).unwrap(),
        value,
        "{name} round-trips"
    );
}

fn checkpoint() -> Checkpoint {
    Checkpoint {
        seq: 7,
        nodes: BTreeMap::from([(
            "fetch".to_owned(),
            NodeOutput {
                output: json!({"records": 15000}),
                attempt: 1,
                finished_at: at(40),
            },
        )]),
        state: json!({"cursor": "2025-12-01"}),
        usage: Usage {
            units: BTreeMap::from([("record".to_owned(), 15000)]),
            ..Usage::default()
        },
    }
}

#[test]
fn task_envelope() {
    pin(
        "task_envelope",
        &TaskEnvelope {
            task_id: id(1),
            run_id: id(2),
            deployment_id: id(3),
            org_id: id(4),
            agent: AgentRef {
                id: "com.aicloud.finops.billing-normalizer".into(),
                version: "1.0.0".into(),
                manifest_digest: "sha256:9f2c".into(),
            },
            attempt: 2,
            max_attempts: 3,
            lease: Lease { expires_at: at(60) },
            workflow: json!({"nodes": [{"id": "fetch", "kind": "tool"}], "edges": []}),
            inputs: json!({"billing_source": "file://examples/finops/data"}),
            granted_permissions: vec!["billing:read".into()],
            checkpoint: Some(checkpoint()),
            trace: Some(TraceContext {
                traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
                tracestate: None,
            }),
            preferences_version: 4,
            memory: AgentMemory {
                task_ttl_secs: Some(7 * 24 * 3600),
                knowledge_top_k: Some(20),
                knowledge_min_score: Some(0.6),
                ..AgentMemory::default()
            },
        },
    );
}

#[test]
fn run_events() {
    let events = vec![
        RunEvent {
            seq: 1,
            at: at(0),
            kind: EventKind::Started {
                node: None,
                attempt: 1,
            },
        },
        RunEvent {
            seq: 2,
            at: at(1),
            kind: EventKind::Started {
                node: Some("fetch".into()),
                attempt: 1,
            },
        },
        RunEvent {
            seq: 3,
            at: at(2),
            kind: EventKind::Log {
                node: Some("fetch".into()),
                level: LogLevel::Info,
                message: "Fetched 15000 records".into(),
            },
        },
        RunEvent {
            seq: 4,
            at: at(3),
            kind: EventKind::Metric {
                node: Some("fetch".into()),
                name: "records".into(),
                value: 15000.0,
                unit: Some("record".into()),
            },
        },
        RunEvent {
            seq: 5,
            at: at(4),
            kind: EventKind::Finished {
                node: Some("fetch".into()),
                attempt: 1,
                status: StepStatus::Succeeded,
                duration_ms: 3000,
                message: None,
                counters: BTreeMap::from([("record".to_owned(), 15000)]),
            },
        },
        RunEvent {
            seq: 6,
            at: at(5),
            kind: EventKind::Checkpoint {
                checkpoint: checkpoint(),
            },
        },
    ];
    pin("event_batch", &EventBatch { events });
}

#[test]
fn reports() {
    let usage = Usage {
        cpu_ms: 7_200_000,
        wall_ms: 100_000,
        units: BTreeMap::from([("record".to_owned(), 15000)]),
        tokens: TokenUsage {
            prompt: 1200,
            completion: 300,
        },
    };
    pin(
        "completion",
        &Completion {
            outputs: json!({"anomalies": 3}),
            usage: usage.clone(),
        },
    );
    pin(
        "failure",
        &Failure {
            reason: "normalize: field `cost` is not a number in record 812".into(),
            node: Some("normalize".into()),
            retryable: false,
            usage,
        },
    );
}

#[test]
fn data_plane_registration_and_heartbeat() {
    pin(
        "registration",
        &Registration {
            instance_id: "dp-7f9c-0".into(),
            version: "0.1.0".into(),
            capabilities: vec!["llm".into(), "tool".into()],
            concurrency: 4,
        },
    );
    pin(
        "registration_ack",
        &RegistrationAck {
            deployment_id: id(3),
            heartbeat_interval_ms: 10_000,
            lease_ms: 60_000,
        },
    );
    pin(
        "heartbeat",
        &Heartbeat {
            instance_id: "dp-7f9c-0".into(),
            tasks: vec![id(1)],
        },
    );
    pin(
        "heartbeat_ack",
        &HeartbeatAck {
            leases: vec![LeaseExtension {
                task_id: id(1),
                expires_at: at(120),
            }],
            cancelled: vec![id(9)],
        },
    );
}

#[test]
fn a2a_message() {
    let meta = json!({"run_start": "2025-12-01T09:00:00Z", "run_end": "2025-12-01T09:01:40Z"});
    pin(
        "a2a_message",
        &A2aMessage {
            task_id: "0193a3c0-0000-7000-8000-000000000001".into(),
            from: "BillingNormalizer:v1.0".into(),
            to: "AnomalyDetector:v1.1".into(),
            payload_ref: "gs://org-bucket/audit/normalized-2025-12-01.json".into(),
            status: A2aStatus::Completed,
            meta: meta.as_object().unwrap().clone(),
        },
    );
}

#[test]
fn problem_details() {
    pin(
        "problem",
        &Problem {
            type_uri: "https://errors.agent-marketplace.dev/validation".into(),
            title: "The manifest is not valid".into(),
            status: 422,
            detail: Some("2 errors".into()),
            instance: Some("/api/v1/agents".into()),
            errors: vec![
                FieldError {
                    path: "workflow.nodes[2].kind".into(),
                    message: "unknown node kind \"lmm\"".into(),
                    line: Some(31),
                    column: Some(11),
                },
                FieldError::new("version", "\"1.0\" is not a semantic version"),
            ],
        },
    );
}

#[test]
fn page_envelope() {
    pin(
        "page",
        &Page {
            items: vec![json!({"id": 1}), json!({"id": 2})],
            next_cursor: Some("MTI".into()),
        },
    );
    pin(
        "last_page",
        &Page::<serde_json::Value> {
            items: vec![],
            next_cursor: None,
        },
    );
}

#[test]
fn run_status() {
    let all = [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::AwaitingApproval,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Cancelled,
        RunStatus::Remediated,
    ];
    pin("run_status", &all.to_vec());
}
