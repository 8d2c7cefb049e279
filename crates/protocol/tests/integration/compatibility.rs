//! An older peer must keep working when a newer one sends what it does not know.

use protocol::*;
use serde_json::json;

#[test]
fn unknown_enum_values_decode_to_unknown() {
    assert_eq!(
        serde_json::from_value::<RunStatus>(json!("hibernating")).unwrap(),
        RunStatus::Unknown
    );
    assert_eq!(
        serde_json::from_value::<StepStatus>(json!("deferred")).unwrap(),
        StepStatus::Unknown
    );
    assert_eq!(
        serde_json::from_value::<LogLevel>(json!("fatal")).unwrap(),
        LogLevel::Unknown
    );
    assert_eq!(
        serde_json::from_value::<A2aStatus>(json!("paused")).unwrap(),
        A2aStatus::Unknown
    );
    assert!(!RunStatus::Unknown.is_terminal());
}

#[test]
fn an_unknown_event_type_does_not_lose_the_batch() {
    let batch = json!({"events": [
        {"seq": 1, "at": "2025-12-01T09:00:00Z", "type": "started", "node": null, "attempt": 1},
        {"seq": 2, "at": "2025-12-01T09:00:01Z", "type": "gpu_allocated", "device": 0},
        {"seq": 3, "at": "2025-12-01T09:00:02Z", "type": "log", "node": "fetch", "level": "info",
         "message": "ok", "color": "green"},
    ]});
    let batch: EventBatch = serde_json::from_value(batch).unwrap();
    assert_eq!(batch.events.len(), 3);
    assert_eq!(batch.events[1].seq, 2);
    assert_eq!(batch.events[1].kind, EventKind::Unknown);
    assert!(matches!(batch.events[2].kind, EventKind::Log { .. }));
}

#[test]
fn unknown_fields_are_ignored_and_missing_collections_default() {
    let registration = json!({
        "instance_id": "dp-1", "version": "9.0.0", "concurrency": 2, "gpu": "h100"
    });
    let registration: Registration = serde_json::from_value(registration).unwrap();
    assert!(registration.capabilities.is_empty());

    let completion: Completion =
        serde_json::from_value(json!({"outputs": {}, "usage": {"cpu_ms": 5, "joules": 3}})).unwrap();
    assert_eq!(completion.usage.cpu_ms, 5);
    assert!(completion.usage.units.is_empty());
}

#[test]
fn malformed_values_are_errors_not_panics() {
    assert!(serde_json::from_value::<RunEvent>(json!({"seq": -1, "at": "now", "type": "log"})).is_err());
    assert!(serde_json::from_value::<TaskId>(json!("not-a-uuid")).is_err());
    assert!(serde_json::from_value::<Money>(json!(0.5)).is_err());
}

#[test]
fn field_errors_print_as_one_line_with_their_place() {
    let with_place = FieldError {
        path: "workflow.nodes[2].kind".into(),
        message: "unknown node kind \"lmm\"".into(),
        line: Some(31),
        column: Some(11),
    };
    assert_eq!(
        with_place.to_string(),
        "31:11: workflow.nodes[2].kind: unknown node kind \"lmm\""
    );
    assert_eq!(
        FieldError::new("", "document is empty").to_string(),
        "document is empty"
    );
}
