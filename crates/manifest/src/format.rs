//! The string formats of a manifest (`agent-id`, `semver`, `scope`, …).
//!
//! Each format is one check, used twice: as a JSON Schema `format` in the structural pass, so every bad
//! value in a document is reported at once, and to explain the failure in the check's own words.

use std::borrow::Cow;
use std::str::FromStr;

use protocol::Money;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

/// A check for one string format: `Err` says what is wrong in a sentence.
pub(crate) type Check = fn(&str) -> Result<(), String>;

/// Every format a manifest uses, by its JSON Schema `format` name.
pub(crate) const FORMATS: &[(&str, Check)] = &[
    ("agent-id", agent_id),
    ("semver", semver),
    ("name", name),
    ("scope", scope),
    ("price", price),
    ("duration", duration),
    ("cpu", cpu),
    ("memory", memory),
];

/// What is wrong with `text` as the named format, if the format is one of ours.
pub(crate) fn explain(format: &str, text: &str) -> Option<String> {
    let (_, check) = FORMATS.iter().find(|(name, _)| *name == format)?;
    check(text).err()
}

fn agent_id(text: &str) -> Result<(), String> {
    let labels: Vec<&str> = text.split('.').collect();
    let label_ok = |label: &&str| {
        label.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.ends_with('-')
    };
    if text.len() <= 128 && labels.len() >= 3 && labels.iter().all(label_ok) {
        Ok(())
    } else {
        Err(format!(
            "{text:?} is not a reverse-DNS agent id like \"com.example.team.agent\" (at least three \
             dot-separated labels of lowercase letters, digits and '-', each starting with a letter)"
        ))
    }
}

fn semver(text: &str) -> Result<(), String> {
    semver::Version::parse(text)
        .map(drop)
        .map_err(|e| format!("{text:?} is not a semantic version like \"1.2.0\": {e}"))
}

fn is_name(text: &str) -> bool {
    text.len() <= 64
        && text.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.'))
}

fn name(text: &str) -> Result<(), String> {
    if is_name(text) {
        Ok(())
    } else {
        Err(format!(
            "{text:?} is not a valid name: use lowercase letters, digits, '_', '-' and '.', starting with a \
             letter, at most 64 characters"
        ))
    }
}

fn scope(text: &str) -> Result<(), String> {
    let valid = text.split_once(':').is_some_and(|(resource, action)| {
        is_name(resource) && (action == "*" || (is_name(action) && !action.contains('.')))
    });
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{text:?} is not a permission scope like \"billing:read\" (resource, ':', then an action or '*')"
        ))
    }
}

fn price(text: &str) -> Result<(), String> {
    let amount = Money::from_str(text).map_err(|e| e.to_string())?;
    if amount.is_negative() {
        Err(format!("price {text:?} is negative"))
    } else {
        Ok(())
    }
}

fn duration(text: &str) -> Result<(), String> {
    humantime::parse_duration(text)
        .map(drop)
        .map_err(|e| format!("{text:?} is not a duration like \"30s\", \"5m\" or \"30days\": {e}"))
}

/// A Kubernetes CPU quantity: whole or decimal cores (`"2"`, `"0.5"`) or millicores (`"500m"`).
fn cpu(text: &str) -> Result<(), String> {
    let number = text.strip_suffix('m').unwrap_or(text);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let valid = digits(whole) && (fraction.is_empty() || digits(fraction)) && !number.ends_with('.');
    if valid {
        Ok(())
    } else {
        Err(format!("{text:?} is not a CPU quantity like \"500m\" or \"2\""))
    }
}

/// A Kubernetes memory quantity: bytes with an optional binary or decimal suffix (`"512Mi"`, `"1G"`).
fn memory(text: &str) -> Result<(), String> {
    let number = ["Ki", "Mi", "Gi", "Ti", "K", "M", "G", "T"]
        .iter()
        .find_map(|suffix| text.strip_suffix(suffix))
        .unwrap_or(text);
    if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(format!(
            "{text:?} is not a memory quantity like \"512Mi\" or \"2Gi\""
        ))
    }
}

macro_rules! string_format {
    ($($(#[$doc:meta])* $marker:ident => $format:literal),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub(crate) struct $marker;

        impl JsonSchema for $marker {
            fn inline_schema() -> bool {
                true
            }

            fn schema_name() -> Cow<'static, str> {
                Cow::Borrowed($format)
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({ "type": "string", "format": $format })
            }
        }
    )*};
}

string_format!(
    /// `com.aicloud.finops.billing-normalizer`
    AgentIdFormat => "agent-id",
    /// `1.2.0`
    SemverFormat => "semver",
    /// `fetch_billing`, `billing.fetch`
    NameFormat => "name",
    /// `billing:read`
    ScopeFormat => "scope",
    /// `"0.50"`
    PriceFormat => "price",
    /// `30s`, `30days`
    DurationFormat => "duration",
    /// `500m`
    CpuFormat => "cpu",
    /// `512Mi`
    MemoryFormat => "memory",
);

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(format: &str, text: &str) -> bool {
        explain(format, text).is_none()
    }

    #[test]
    fn agent_ids_are_reverse_dns() {
        assert!(ok("agent-id", "com.aicloud.finops.billing-normalizer"));
        assert!(ok("agent-id", "io.acme.agent2"));
        for bad in [
            "billing",
            "com.acme",
            "Com.acme.x",
            "com..x",
            "com.acme.x-",
            "com.acme.9x",
            "com.acme.x_y",
        ] {
            assert!(!ok("agent-id", bad), "{bad}");
        }
    }

    #[test]
    fn scopes_name_a_resource_and_an_action() {
        for good in ["billing:read", "cloud.compute:write", "billing:*"] {
            assert!(ok("scope", good), "{good}");
        }
        for bad in [
            "billing",
            "billing:",
            ":read",
            "Billing:read",
            "billing:read:all",
            "billing:re ad",
        ] {
            assert!(!ok("scope", bad), "{bad}");
        }
    }

    #[test]
    fn prices_are_exact_and_not_negative() {
        assert!(ok("price", "0.001"));
        assert_eq!(explain("price", "-1.00").unwrap(), "price \"-1.00\" is negative");
        assert!(
            explain("price", "0.0000001")
                .unwrap()
                .contains("more than 6 decimal places")
        );
    }

    #[test]
    fn quantities_and_durations() {
        assert!(ok("cpu", "500m") && ok("cpu", "2") && ok("cpu", "0.5"));
        assert!(!ok("cpu", "two") && !ok("cpu", "1.") && !ok("cpu", "m"));
        assert!(ok("memory", "512Mi") && ok("memory", "1073741824") && !ok("memory", "1.5Gi"));
        assert!(ok("duration", "30s") && ok("duration", "30days") && !ok("duration", "soon"));
        assert!(ok("semver", "1.0.0-rc.1") && !ok("semver", "1.0"));
        assert!(explain("no-such-format", "x").is_none());
    }
}
