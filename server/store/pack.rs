//! Blobs are kept gzip-compressed: snapshot JSON shrinks about tenfold, and a store that takes a
//! snapshot every few minutes must not fill the disk. IDs and downloads are over the JSON bytes.

use std::io::{Read, Write};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

/// The two bytes every gzip stream starts with; JSON never does.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Compress JSON bytes for storage.
pub fn pack(json: &[u8]) -> std::io::Result<Vec<u8>> {
    // Level 3: most of the gain for a fraction of the default level's time.
    let mut enc = GzEncoder::new(Vec::with_capacity(json.len() / 8), Compression::new(3));
    enc.write_all(json)?;
    enc.finish()
}

/// The JSON bytes of a stored blob (blobs written before compression are kept as they are).
pub fn unpack(stored: Vec<u8>) -> std::io::Result<Vec<u8>> {
    if !stored.starts_with(&GZIP_MAGIC) {
        return Ok(stored);
    }
    let mut out = Vec::with_capacity(stored.len() * 8);
    GzDecoder::new(stored.as_slice()).read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_json_unpacks_to_itself_and_plain_json_passes_through() {
        let json =
            br#"{"schema":"x","nodes":[1,2,3,4,5,6,7,8,9,10,1,2,3,4,5,6,7,8,9,10]}"#.repeat(50);
        let packed = pack(&json).unwrap();
        assert!(packed.starts_with(&GZIP_MAGIC));
        assert!(
            packed.len() * 5 < json.len(),
            "{} vs {}",
            packed.len(),
            json.len()
        );
        assert_eq!(unpack(packed).unwrap(), json);
        assert_eq!(unpack(json.clone()).unwrap(), json);
    }

    #[test]
    fn a_torn_gzip_blob_is_an_error_not_a_panic() {
        let mut packed = pack(&b"{\"a\":1}".repeat(100)).unwrap();
        packed.truncate(packed.len() / 2);
        assert!(unpack(packed).is_err());
    }
}
