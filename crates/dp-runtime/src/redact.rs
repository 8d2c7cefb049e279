//! Secrets redaction: what leaves the process (event batches, completions, failures, log lines) passes
//! through a [`Redactor`] first.
//!
//! Two things are replaced by `[REDACTED]`: the values of configured secrets (the data plane's own token,
//! and the values of the environment variables `DP_REDACT_ENV` names), wherever they appear; and strings
//! that look like credentials whoever they belong to: the platform's API keys and data-plane credentials
//! (`amk_…`, `amd_…`), OpenAI-style keys (`sk-…`) and bearer tokens (`Bearer …`).

use std::io::{self, Write};

use serde_json::Value;

/// What replaces a secret.
pub const REDACTED: &str = "[REDACTED]";

/// Credential prefixes, each followed by at least `MIN_TOKEN` token characters.
const PREFIXES: [&str; 3] = ["amk_", "amd_", "sk-"];
const MIN_TOKEN: usize = 8;
/// Secrets shorter than this are not looked for: redacting `a` everywhere would garble everything.
const MIN_SECRET: usize = 6;

#[derive(Clone, Debug, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

fn token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '~' | '+' | '/' | '=')
}

impl Redactor {
    /// A redactor for these secret values (short or empty ones are ignored).
    #[must_use]
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .filter(|secret| secret.len() >= MIN_SECRET)
            .collect();
        // Longest first, so a secret containing another is replaced whole.
        secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
        secrets.dedup();
        Self { secrets }
    }

    /// The text with every secret and credential-looking string replaced.
    #[must_use]
    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        if PREFIXES.iter().any(|prefix| out.contains(prefix)) || out.to_ascii_lowercase().contains("bearer ")
        {
            out = patterns(&out);
        }
        out
    }

    /// Every string in a JSON value (keys too) redacted.
    pub fn value(&self, value: &mut Value) {
        match value {
            Value::String(text) => {
                let redacted = self.text(text);
                if redacted != *text {
                    *text = redacted;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.value(item)),
            Value::Object(entries) => {
                let keys: Vec<String> = entries
                    .keys()
                    .filter(|key| self.text(key) != **key)
                    .cloned()
                    .collect();
                for key in keys {
                    if let Some(moved) = entries.remove(&key) {
                        entries.insert(self.text(&key), moved);
                    }
                }
                entries.values_mut().for_each(|item| self.value(item));
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

/// Replaces credential-looking tokens.
fn patterns(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while !rest.is_empty() {
        let at_boundary = out
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'));
        if at_boundary {
            for prefix in PREFIXES {
                if let Some(after) = rest.strip_prefix(prefix) {
                    let length = after.find(|c: char| !token_char(c)).unwrap_or(after.len());
                    if length >= MIN_TOKEN {
                        out.push_str(REDACTED);
                        rest = &after[length..];
                        continue 'scan;
                    }
                }
            }
            if rest.len() >= 7 && rest.is_char_boundary(7) && rest[..7].eq_ignore_ascii_case("bearer ") {
                let after = rest[7..].trim_start();
                let length = after.find(|c: char| !token_char(c)).unwrap_or(after.len());
                if length >= MIN_TOKEN {
                    out.push_str(&rest[..6]);
                    out.push(' ');
                    out.push_str(REDACTED);
                    rest = &after[length..];
                    continue 'scan;
                }
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

/// A log writer that redacts each write before it reaches stderr.
#[derive(Clone, Debug)]
pub struct RedactingWriter {
    redactor: std::sync::Arc<Redactor>,
}

impl RedactingWriter {
    #[must_use]
    pub fn new(redactor: std::sync::Arc<Redactor>) -> Self {
        Self { redactor }
    }
}

impl Write for RedactingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        io::stderr().write_all(self.redactor.text(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RedactingWriter {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn configured_secrets_and_credential_shapes_are_redacted() {
        let redactor = Redactor::new(["hunter2-database-password".to_owned(), "abc".to_owned()]);
        assert_eq!(
            redactor.text("connecting with hunter2-database-password to db"),
            "connecting with [REDACTED] to db"
        );
        assert_eq!(redactor.text("key amk_0123456789abcdef ok"), "key [REDACTED] ok");
        assert_eq!(redactor.text("cred=amd_ZZZZZZZZZZZZ"), "cred=[REDACTED]");
        assert_eq!(
            redactor.text("OPENAI sk-proj-abcdefghijklmnop."),
            "OPENAI [REDACTED]"
        );
        assert_eq!(
            redactor.text("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig"),
            "Authorization: Bearer [REDACTED]"
        );
        assert_eq!(
            redactor.text("a task-list, sk-1, amk_ and abc stay"),
            "a task-list, sk-1, amk_ and abc stay"
        );
        assert_eq!(redactor.text("risk-management-tool"), "risk-management-tool");
    }

    #[test]
    fn json_values_are_redacted_throughout() {
        let redactor = Redactor::new(["s3cr3t-value".to_owned()]);
        let mut value = json!({"message": "token s3cr3t-value", "nested": [{"amk_1234567890ab": "Bearer abcdefghijkl"}], "n": 1});
        redactor.value(&mut value);
        assert_eq!(
            value,
            json!({"message": "token [REDACTED]", "nested": [{"[REDACTED]": "Bearer [REDACTED]"}], "n": 1})
        );
    }
}
