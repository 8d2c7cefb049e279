//! What a webhook can ask for, and what a delivery's body says.
//!
//! Every change of state an org can follow is an event named `<topic>.<state>`: `run.succeeded`,
//! `approval.pending`, `deployment.degraded`. A webhook asks for events by name, by topic (`run.*`) or all
//! of them (`*`).

use serde_json::{Value, json};

use crate::db::changes::Change;

/// The topics and their states.
pub const EVENTS: &[(&str, &[&str])] = &[
    (
        crate::bus::RUN,
        &[
            "queued",
            "running",
            "awaiting_approval",
            "succeeded",
            "failed",
            "cancelled",
            "remediated",
        ],
    ),
    (
        crate::bus::APPROVAL,
        &["pending", "approved", "rejected", "expired"],
    ),
    (
        crate::bus::DEPLOYMENT,
        &["pending", "ready", "degraded", "failed", "uninstalled"],
    ),
];

/// The event a receiver is sent to check it is reachable.
pub const PING: &str = "webhook.ping";

/// Checks an event pattern.
///
/// # Errors
///
/// What is wrong, for a human.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    if pattern == "*" {
        return Ok(());
    }
    let known = || {
        EVENTS
            .iter()
            .map(|(topic, _)| format!("{topic}.*"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some((topic, state)) = pattern.split_once('.') else {
        return Err(format!(
            "{pattern:?} is not an event: use <topic>.<state>, <topic>.* or *, with topics {}",
            known()
        ));
    };
    let Some((_, states)) = EVENTS.iter().find(|(name, _)| *name == topic) else {
        return Err(format!("{topic:?} is not a topic; there are {}", known()));
    };
    if state == "*" || states.contains(&state) {
        Ok(())
    } else {
        Err(format!(
            "{state:?} is not a state of {topic}; there are {}",
            states.join(", ")
        ))
    }
}

/// Whether an event is one the patterns ask for.
#[must_use]
pub fn wanted(patterns: &[String], event: &str) -> bool {
    patterns.iter().any(|pattern| {
        pattern == "*"
            || pattern == event
            || pattern
                .strip_suffix(".*")
                .is_some_and(|topic| event.split_once('.').is_some_and(|(of, _)| of == topic))
    })
}

/// The event a change is.
#[must_use]
pub fn name(change: &Change, body: &Value) -> String {
    let state = body.get("state").and_then(Value::as_str).unwrap_or("changed");
    format!("{}.{state}", change.topic)
}

/// The body of a delivery in the `json` format: `{type, timestamp, data}` with the change as the bus
/// carries it.
#[must_use]
pub fn body(event: &str, change: &Change, mut data: Value) -> String {
    if let Some(fields) = data.as_object_mut() {
        fields.remove("type");
        fields.insert("org_id".to_owned(), json!(change.org_id.0));
    }
    json!({"type": event, "timestamp": change.at.0, "data": data}).to_string()
}

/// The body of a ping.
#[must_use]
pub fn ping(org: uuid::Uuid, at: chrono::DateTime<chrono::Utc>) -> String {
    json!({"type": PING, "timestamp": at, "data": {"org_id": org}}).to_string()
}

/// The same event as a Slack-compatible message (`text`, with the event's fields below it), for Slack's
/// incoming webhooks and the chat tools that accept their format. `links` is where the API can be reached.
#[must_use]
pub fn slack(json_body: &str, links: Option<&str>) -> String {
    let event: Value = serde_json::from_str(json_body).unwrap_or(Value::Null);
    let kind = event["type"].as_str().unwrap_or("event");
    let data = &event["data"];
    let subject = ["run_id", "approval_id", "deployment_id"]
        .into_iter()
        .find_map(|key| data[key].as_str().map(|id| (key, id)));
    let mut text = format!("*{kind}*");
    if let Some((key, id)) = subject {
        let noun = key.trim_end_matches("_id");
        text.push_str(&format!(" — {noun} `{id}`"));
        if let Some(base) = links {
            let path = match noun {
                "run" => format!("/api/v1/runs/{id}"),
                "deployment" => format!("/api/v1/deployments/{id}"),
                _ => format!(
                    "/api/v1/orgs/{}/approvals",
                    data["org_id"].as_str().unwrap_or_default()
                ),
            };
            text.push_str(&format!(" <{base}{path}|open>"));
        }
    }
    if let Some(reason) = data["failure_reason"].as_str() {
        text.push_str(&format!("\n>{reason}"));
    }
    json!({"text": text, "mrkdwn": true}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_name_events_topics_or_everything() {
        for good in [
            "*",
            "run.*",
            "run.succeeded",
            "approval.pending",
            "deployment.degraded",
        ] {
            assert_eq!(check_pattern(good), Ok(()), "{good}");
        }
        for bad in ["", "run", "run.done", "runs.*", "*.*", "run.succeeded.extra"] {
            assert!(check_pattern(bad).is_err(), "{bad}");
        }
        let patterns = vec!["run.*".to_owned(), "approval.pending".to_owned()];
        assert!(wanted(&patterns, "run.failed"));
        assert!(wanted(&patterns, "approval.pending"));
        assert!(!wanted(&patterns, "approval.approved"));
        assert!(!wanted(&patterns, "runner.failed"));
        assert!(wanted(&["*".to_owned()], "deployment.ready"));
    }

    #[test]
    fn a_slack_message_says_what_happened_and_links_to_it() {
        let body = json!({"type": "run.failed", "timestamp": "2026-11-23T10:00:00Z",
            "data": {"run_id": "r1", "state": "failed", "failure_reason": "node fetch: timed out", "org_id": "o1"}});
        let message: Value =
            serde_json::from_str(&slack(&body.to_string(), Some("https://cp.example.com"))).unwrap();
        assert_eq!(
            message["text"],
            "*run.failed* — run `r1` <https://cp.example.com/api/v1/runs/r1|open>\n>node fetch: timed out"
        );
    }
}
