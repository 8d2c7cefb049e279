//! `http_request`: an HTTP call to a URL on the data plane's allow-list.
//!
//! Input: `{"method": "GET", "url": "...", "headers": {..}, "body": <JSON>, "timeout_ms": 10000}`; output:
//! `{"status": 200, "headers": {..}, "body": <JSON, or the text when it is not JSON>}`. A URL not under
//! an allowed prefix is refused before any connection is made.

use std::collections::BTreeMap;
use std::time::Duration;

use manifest::Risk;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Tool, ToolFuture};
use crate::nodes::{NodeContext, NodeError};

#[derive(Clone, Debug)]
pub struct HttpRequest {
    allow: Vec<String>,
    client: reqwest::Client,
}

impl HttpRequest {
    /// `allow`: URL prefixes calls may go to.
    #[must_use]
    pub fn new(allow: Vec<String>) -> Self {
        Self {
            allow,
            client: reqwest::Client::new(),
        }
    }

    /// Whether `url` is under an allowed prefix, on a boundary (`https://a.example` does not allow
    /// `https://a.example.evil.test/`).
    #[must_use]
    pub fn allows(&self, url: &reqwest::Url) -> bool {
        let url = url.as_str();
        self.allow.iter().any(|prefix| {
            url.strip_prefix(prefix.as_str()).is_some_and(|rest| {
                prefix.ends_with('/') || rest.is_empty() || rest.starts_with(['/', '?', '#'])
            })
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    #[serde(default = "get")]
    method: String,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<Value>,
    timeout_ms: Option<u64>,
}

fn get() -> String {
    "GET".to_owned()
}

impl Tool for HttpRequest {
    fn name(&self) -> &str {
        "http_request"
    }

    fn scopes(&self) -> &[&str] {
        &[]
    }

    fn risk(&self) -> Risk {
        Risk::Medium
    }

    fn call<'a>(&'a self, input: Value, _ctx: &'a NodeContext) -> ToolFuture<'a> {
        Box::pin(async move {
            let request: Request = serde_json::from_value(input)
                .map_err(|error| NodeError::fatal(format!("http_request input: {error}")))?;
            let url = reqwest::Url::parse(&request.url)
                .map_err(|error| NodeError::fatal(format!("http_request: `{}`: {error}", request.url)))?;
            if !self.allows(&url) {
                return Err(NodeError::fatal(format!(
                    "http_request: `{url}` is not on this data plane's allow-list; nothing was sent"
                )));
            }
            let method =
                reqwest::Method::from_bytes(request.method.to_uppercase().as_bytes()).map_err(|_| {
                    NodeError::fatal(format!("http_request: unknown method `{}`", request.method))
                })?;
            let mut call = self
                .client
                .request(method, url)
                .timeout(Duration::from_millis(request.timeout_ms.unwrap_or(10_000)));
            for (name, value) in &request.headers {
                call = call.header(name, value);
            }
            if let Some(body) = &request.body {
                call = call.json(body);
            }
            let answer = call
                .send()
                .await
                .map_err(|error| NodeError::retryable(format!("http_request: {error}")))?;
            let status = answer.status();
            let headers: BTreeMap<String, String> = answer
                .headers()
                .iter()
                .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
                .collect();
            let text = answer
                .text()
                .await
                .map_err(|error| NodeError::retryable(format!("http_request: {error}")))?;
            let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
            if status.is_server_error() || status.as_u16() == 429 {
                return Err(NodeError::retryable(format!(
                    "http_request: the server answered {status}"
                )));
            }
            Ok(json!({"status": status.as_u16(), "headers": headers, "body": body}))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allow_list_matches_on_boundaries() {
        let tool = HttpRequest::new(vec![
            "https://api.example.com".into(),
            "http://127.0.0.1:9/v1/".into(),
        ]);
        let allows = |url: &str| tool.allows(&reqwest::Url::parse(url).unwrap());
        assert!(allows("https://api.example.com/costs?x=1"));
        assert!(allows("http://127.0.0.1:9/v1/things"));
        assert!(!allows("https://api.example.com.evil.test/"));
        assert!(!allows("http://127.0.0.1:9/v2/things"));
        assert!(!allows("https://other.example.com/"));
    }
}
