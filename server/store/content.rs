//! Content IDs: what a saved snapshot is called is a hash of the bytes stored for it.

use sha2::{Digest, Sha256};

use crate::snapshot::ClusterSnapshot;

/// Bytes of the hash kept in an ID: 128 bits, so two different snapshots never meet by chance.
const ID_BYTES: usize = 16;

/// Length of an ID in characters (base32 of [`ID_BYTES`]).
pub const ID_LEN: usize = 26;

/// RFC 4648 base32, lower case: URL-safe, no padding, unambiguous to read aloud.
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// The canonical bytes of a cluster snapshot: normalized (every list in its canonical order),
/// then compact JSON. Equal states give equal bytes.
pub fn canonical_bytes(cluster: &mut ClusterSnapshot) -> Result<Vec<u8>, serde_json::Error> {
    cluster.normalize();
    serde_json::to_vec(cluster)
}

/// The content ID of these bytes.
pub fn content_id(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    base32(&digest[..ID_BYTES])
}

/// Whether `id` has the shape of a content ID (checked before it reaches the database).
pub fn is_id(id: &str) -> bool {
    id.len() == ID_LEN && id.bytes().all(|b| ALPHABET.contains(&b))
}

fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc4648() {
        // RFC 4648 section 10 test vectors (lower case, no padding).
        assert_eq!(base32(b"f"), "my");
        assert_eq!(base32(b"fo"), "mzxq");
        assert_eq!(base32(b"foobar"), "mzxw6ytboi");
    }

    #[test]
    fn ids_are_short_url_safe_and_differ_with_content() {
        let a = content_id(b"one");
        let b = content_id(b"two");
        assert_eq!(a.len(), ID_LEN);
        assert!(is_id(&a) && is_id(&b));
        assert_ne!(a, b);
        assert_eq!(a, content_id(b"one"));
        assert!(!is_id("../etc/passwd"));
        assert!(!is_id(&a.to_uppercase()));
    }
}
