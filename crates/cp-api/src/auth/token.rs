//! Access tokens: JWTs signed with HMAC-SHA256 by a key every replica shares (kept in the database).
//!
//! Only tokens with exactly our header are accepted, so no `alg` trick applies. The two dozen lines of
//! HS256 are here rather than a JWT crate because the pure-Rust backends of those build RSA and elliptic-curve
//! code that an HMAC-only service never runs.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// How long an access token is good for.
pub const ACCESS_TTL_SECONDS: i64 = 15 * 60;

/// `{"alg":"HS256","typ":"JWT"}`, encoded.
const HEADER: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub sub: uuid::Uuid,
    pub iat: i64,
    pub exp: i64,
}

/// Signs and checks access tokens.
#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

impl Signer {
    #[must_use]
    pub fn new(key: Vec<u8>) -> Self {
        Self { key }
    }

    fn mac(&self, signed: &str) -> Hmac<Sha256> {
        // HMAC takes a key of any length.
        let mut mac = <Hmac<Sha256>>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!());
        mac.update(signed.as_bytes());
        mac
    }

    /// A token for `user` valid from `now` (Unix seconds) for [`ACCESS_TTL_SECONDS`].
    #[must_use]
    pub fn issue(&self, user: uuid::Uuid, now: i64) -> String {
        let claims = Claims {
            sub: user,
            iat: now,
            exp: now + ACCESS_TTL_SECONDS,
        };
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let signed = format!("{HEADER}.{payload}");
        let signature = URL_SAFE_NO_PAD.encode(self.mac(&signed).finalize().into_bytes());
        format!("{signed}.{signature}")
    }

    /// The claims of a genuine, unexpired token.
    #[must_use]
    pub fn check(&self, token: &str, now: i64) -> Option<Claims> {
        let (signed, signature) = token.rsplit_once('.')?;
        let (header, payload) = signed.split_once('.')?;
        if header != HEADER {
            return None;
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        self.mac(signed).verify_slice(&signature).ok()?;
        let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        (claims.exp > now).then_some(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_check_until_they_expire() {
        let signer = Signer::new(b"k".repeat(32));
        let user = uuid::Uuid::now_v7();
        let token = signer.issue(user, 1_000);
        assert_eq!(
            signer
                .check(&token, 1_000 + ACCESS_TTL_SECONDS - 1)
                .map(|c| c.sub),
            Some(user)
        );
        assert_eq!(signer.check(&token, 1_000 + ACCESS_TTL_SECONDS), None, "expired");
    }

    #[test]
    fn forged_or_foreign_tokens_fail() {
        let signer = Signer::new(b"k".repeat(32));
        let token = signer.issue(uuid::Uuid::now_v7(), 1_000);
        assert_eq!(
            Signer::new(b"x".repeat(32)).check(&token, 1_000),
            None,
            "another key"
        );
        let (signed, _) = token.rsplit_once('.').unwrap();
        let (_, payload) = signed.split_once('.').unwrap();
        let none_alg = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
        assert_eq!(signer.check(&none_alg, 1_000), None, "alg none");
        let tampered = token.replacen(
            payload,
            &URL_SAFE_NO_PAD
                .encode(br#"{"sub":"00000000-0000-0000-0000-000000000000","iat":0,"exp":99999999999}"#),
            1,
        );
        assert_eq!(signer.check(&tampered, 1_000), None, "changed claims");
        for junk in ["", ".", "a.b", "a.b.c", "....", &"x".repeat(10_000)] {
            assert_eq!(signer.check(junk, 1_000), None, "{junk}");
        }
    }
}
