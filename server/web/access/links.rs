//! Capability links to one saved snapshot: `/s/ID?key=K`, where K is an HMAC-SHA256 of the
//! snapshot's ID under a server secret (`link.key` in the data directory, mode 0600). The key
//! opens that snapshot only, read-only; a new secret (delete the file) revokes every link.

use std::path::Path;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::share::key::KeyError;
use crate::share::PseudonymKey;

/// The secret's file name inside the data directory.
pub const LINK_KEY_FILE: &str = "link.key";

/// How many bytes of the HMAC a key carries (128 bits: unguessable, and a short URL).
const KEY_BYTES: usize = 16;

/// The server secret that links are derived from.
pub struct LinkKey([u8; 32]);

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(..)")
    }
}

impl LinkKey {
    /// The secret kept in `dir` (made when absent).
    pub fn load_or_create(dir: &Path) -> Result<Self, KeyError> {
        PseudonymKey::load_or_create_named(dir, LINK_KEY_FILE).map(|k| Self(*k.bytes()))
    }

    /// A secret for this run only (no data directory): links stop working when the server stops.
    pub fn ephemeral() -> Self {
        Self(*PseudonymKey::fresh().bytes())
    }

    /// A secret from its bytes (tests).
    pub fn from_bytes(b: [u8; 32]) -> Self {
        Self(b)
    }

    fn mac(&self, id: &str) -> [u8; 32] {
        hmac_sha256(&self.0, id.as_bytes())
    }

    /// The key that opens snapshot `id`, as hex.
    pub fn key_for(&self, id: &str) -> String {
        self.mac(id)[..KEY_BYTES]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Whether `key` opens snapshot `id` (compared in constant time).
    pub fn opens(&self, id: &str, key: &str) -> bool {
        let want = self.key_for(id);
        bool::from(want.as_bytes().ct_eq(key.as_bytes()))
    }
}

/// HMAC-SHA256 (RFC 2104) over sha2, the one hash already linked.
fn hmac_sha256(key: &[u8; 32], msg: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let pad = |b: u8| block.map(|k| k ^ b);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(msg)
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    let mut out = [0u8; 32];
    out.copy_from_slice(&outer);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2_shape_and_keys_differ_per_snapshot() {
        // RFC 4231 test case 1 uses a 20-byte key 0x0b..; zero-padded to 32 bytes it is the same
        // HMAC key (keys shorter than the block are padded with zeros).
        let mut k = [0u8; 32];
        k[..20].copy_from_slice(&[0x0b; 20]);
        let mac = hmac_sha256(&k, b"Hi There");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        let l = LinkKey::from_bytes([7; 32]);
        let a = l.key_for("aaaa");
        assert_eq!(a.len(), 32);
        assert_ne!(a, l.key_for("aaab"));
        assert!(l.opens("aaaa", &a));
        assert!(!l.opens("aaab", &a));
        assert!(!l.opens("aaaa", &a[..31]));
        assert!(!LinkKey::from_bytes([8; 32]).opens("aaaa", &a));
    }
}
