//! Keys: `<scheme>_<prefix>_<secret>` — a user's API key (`amk_…`) or a deployment's data-plane credential
//! (`amd_…`). The prefix finds the key and may be shown; the secret is 256 random bits, shown once and stored
//! only as its SHA-256 (a hash of that much randomness needs no slow KDF).

use sha2::{Digest as _, Sha256};

/// A user's API key.
pub const USER: &str = "amk";
/// A deployment's data-plane credential.
pub const DATA_PLANE: &str = "amd";
const PREFIX_BYTES: usize = 6;
const SECRET_BYTES: usize = 32;

/// A new key, as shown once to its owner, with what is stored of it.
#[derive(Debug)]
pub struct NewKey {
    pub key: String,
    pub prefix: String,
    pub secret_hash: Vec<u8>,
}

/// Makes a new random key.
///
/// # Errors
///
/// When the operating system has no randomness to give.
pub fn generate(scheme: &str) -> Result<NewKey, getrandom::Error> {
    let mut prefix = [0_u8; PREFIX_BYTES];
    let mut secret = [0_u8; SECRET_BYTES];
    getrandom::fill(&mut prefix)?;
    getrandom::fill(&mut secret)?;
    let (prefix, secret) = (hex::encode(prefix), hex::encode(secret));
    Ok(NewKey {
        key: format!("{scheme}_{prefix}_{secret}"),
        secret_hash: hash(&secret),
        prefix,
    })
}

/// The prefix and secret of a well-formed key of `scheme`.
#[must_use]
pub fn split<'k>(key: &'k str, scheme: &str) -> Option<(&'k str, &'k str)> {
    let rest = key.strip_prefix(scheme)?.strip_prefix('_')?;
    let (prefix, secret) = rest.split_once('_')?;
    let hex_of =
        |text: &str, bytes: usize| text.len() == bytes * 2 && text.bytes().all(|b| b.is_ascii_hexdigit());
    (hex_of(prefix, PREFIX_BYTES) && hex_of(secret, SECRET_BYTES)).then_some((prefix, secret))
}

#[must_use]
pub fn matches(secret: &str, stored_hash: &[u8]) -> bool {
    hash(secret) == stored_hash
}

fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_splits_and_matches_only_itself() {
        let new = generate(USER).unwrap();
        let (prefix, secret) = split(&new.key, USER).unwrap();
        assert_eq!(prefix, new.prefix);
        assert!(matches(secret, &new.secret_hash));
        let other = generate(USER).unwrap();
        assert_ne!(other.key, new.key);
        assert!(!matches(split(&other.key, USER).unwrap().1, &new.secret_hash));
        assert!(
            split(&new.key, DATA_PLANE).is_none(),
            "a user key is not a data-plane credential"
        );
        let credential = generate(DATA_PLANE).unwrap();
        assert!(credential.key.starts_with("amd_") && split(&credential.key, USER).is_none());
    }

    #[test]
    fn malformed_keys_do_not_split() {
        for bad in [
            "",
            "amk",
            "amk_",
            "amk_abc_def",
            "xyz_0011223344ff_00",
            &format!("amk_0011223344ff_{}", "g".repeat(64)),
        ] {
            assert!(split(bad, USER).is_none(), "{bad}");
        }
    }
}
