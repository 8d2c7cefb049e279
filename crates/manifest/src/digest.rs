//! The content digest of a manifest version.

use sha2::{Digest as _, Sha256};

use crate::model::Manifest;

impl Manifest {
    /// `sha256:<hex>` over the manifest's canonical JSON (RFC 8785), so the same content has the same
    /// digest however it was written: YAML or JSON, any key order, defaults spelled out or left out.
    #[must_use]
    pub fn digest(&self) -> String {
        #[expect(
            clippy::expect_used,
            reason = "a manifest has only string keys and finite numbers, which canonical JSON always writes"
        )]
        let canonical =
            serde_json_canonicalizer::to_vec(self).expect("a manifest serializes as canonical JSON");
        format!("sha256:{}", hex::encode(Sha256::digest(&canonical)))
    }
}
