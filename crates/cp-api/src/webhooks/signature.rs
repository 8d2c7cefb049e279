//! Signing deliveries, as the Standard Webhooks specification does, so receivers can verify them with its
//! libraries or a few lines of their own.
//!
//! A webhook's secret is `whsec_` followed by the base64 of a 32-byte key. Each attempt carries:
//!
//! - `webhook-id`: the delivery's id, the same on every attempt (receivers drop ids they have seen);
//! - `webhook-timestamp`: the attempt's time, in seconds since the Unix epoch;
//! - `webhook-signature`: `v1,` and the base64 of HMAC-SHA256 under the key of
//!   `{webhook-id}.{webhook-timestamp}.{body}`, the body exactly as sent.
//!
//! A receiver recomputes the signature, compares it in constant time, and refuses timestamps more than
//! five minutes away from its clock.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

const PREFIX: &str = "whsec_";

/// A new secret.
///
/// # Errors
///
/// When the system has no randomness to give.
pub fn new_secret() -> Result<String, getrandom::Error> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key)?;
    Ok(format!("{PREFIX}{}", STANDARD.encode(key)))
}

/// The `webhook-signature` header of a delivery attempt; none for a secret this service did not make.
#[must_use]
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key = STANDARD.decode(secret.strip_prefix(PREFIX)?).ok()?;
    let mut mac = <Hmac<Sha256>>::new_from_slice(&key).ok()?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Some(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_as_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body).as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }

    #[test]
    fn a_new_secret_signs() {
        let secret = new_secret().unwrap();
        assert!(secret.starts_with(PREFIX));
        assert!(sign(&secret, "id", 1, "{}").is_some());
        assert_ne!(new_secret().unwrap(), secret);
    }

    #[test]
    fn a_foreign_secret_does_not_sign() {
        assert_eq!(sign("not-a-secret", "id", 1, "{}"), None);
        assert_eq!(sign("whsec_***", "id", 1, "{}"), None);
    }
}
