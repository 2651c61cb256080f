//! The secret that makes pseudonyms stable: the same key gives the same pseudonym in every export.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Name of the key file inside the data directory.
pub const KEY_FILE: &str = "pseudonym.key";

/// Why a key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Not 64 hex digits.
    #[error("a pseudonym key is 64 hex digits (32 bytes); got {0} characters")]
    BadKey(usize),
    /// The key file could not be read or written.
    #[error("pseudonym key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// A 32-byte secret.
#[derive(Clone, PartialEq, Eq)]
pub struct PseudonymKey([u8; 32]);

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret itself.
        f.write_str("PseudonymKey(..)")
    }
}

impl PseudonymKey {
    /// A key from its bytes.
    pub fn from_bytes(b: [u8; 32]) -> Self {
        Self(b)
    }

    /// The raw bytes.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parse 64 hex digits (surrounding white space allowed).
    pub fn from_hex(s: &str) -> Result<Self, KeyError> {
        let s = s.trim();
        if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(KeyError::BadKey(s.len()));
        }
        let mut out = [0u8; 32];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| KeyError::BadKey(64))?;
        }
        Ok(Self(out))
    }

    /// The key as 64 hex digits.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A fresh random key from the kernel.
    pub fn random() -> Result<Self, KeyError> {
        let path = PathBuf::from("/dev/urandom");
        let mut b = [0u8; 32];
        std::fs::File::open(&path)
            .and_then(|mut f| f.read_exact(&mut b))
            .map_err(|source| KeyError::Io { path, source })?;
        Ok(Self(b))
    }

    /// A random key, or when the kernel gives no randomness one from the clock and the pid.
    pub fn fresh() -> Self {
        Self::random().unwrap_or_else(|_| Self::weak())
    }

    /// A key from the clock and the pid, when the kernel gives no randomness (never a constant).
    fn weak() -> Self {
        use sha2::{Digest, Sha256};
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mut h = Sha256::new();
        h.update(now.to_le_bytes());
        h.update(std::process::id().to_le_bytes());
        let mut b = [0u8; 32];
        b.copy_from_slice(&h.finalize());
        Self(b)
    }

    /// The key kept in `dir` (created with a random key, mode 0600, when absent).
    pub fn load_or_create(dir: &Path) -> Result<Self, KeyError> {
        Self::load_or_create_named(dir, KEY_FILE)
    }

    /// A 32-byte secret kept as 64 hex digits in `dir/name` (created at random, mode 0600,
    /// when absent): the pseudonym key, and the server's other secrets.
    pub fn load_or_create_named(dir: &Path, name: &str) -> Result<Self, KeyError> {
        let path = dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::from_hex(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::random()?;
                let io = |source| KeyError::Io {
                    path: path.clone(),
                    source,
                };
                std::fs::create_dir_all(dir).map_err(io)?;
                write_private(&path, &format!("{}\n", key.to_hex())).map_err(io)?;
                Ok(key)
            }
            Err(source) => Err(KeyError::Io { path, source }),
        }
    }

    /// A key given on the command line: 64 hex digits, or the path of a file holding them.
    pub fn from_arg(arg: &str) -> Result<Self, KeyError> {
        if let Ok(k) = Self::from_hex(arg) {
            return Ok(k);
        }
        let path = PathBuf::from(arg);
        let text = std::fs::read_to_string(&path).map_err(|source| KeyError::Io {
            path: path.clone(),
            source,
        })?;
        Self::from_hex(&text)
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

static SHARED: OnceLock<PseudonymKey> = OnceLock::new();

/// Set the key the server uses for pseudonymized downloads (first call wins).
pub fn install(key: PseudonymKey) {
    let _ = SHARED.set(key);
}

/// The server's key: the installed one, else the data directory's, else one random key for the
/// life of this process (stable within it; the reason is printed once).
pub fn shared() -> &'static PseudonymKey {
    SHARED.get_or_init(|| {
        let loaded = match crate::store::default_data_dir() {
            Some(dir) => PseudonymKey::load_or_create(&dir).map_err(|e| e.to_string()),
            None => Err("no data directory for the pseudonym key".to_owned()),
        };
        loaded.unwrap_or_else(|e| {
            eprintln!("dockmap: {e}; pseudonyms are stable only until this server stops");
            PseudonymKey::fresh()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_bad_keys_are_refused() {
        let k = PseudonymKey::from_bytes([7; 32]);
        assert_eq!(PseudonymKey::from_hex(&k.to_hex()).unwrap(), k);
        assert!(PseudonymKey::from_hex("abc").is_err());
        assert!(PseudonymKey::from_hex(&"zz".repeat(32)).is_err());
        assert!(!format!("{k:?}").contains("0707"));
    }

    #[test]
    fn a_key_file_is_made_once_and_read_back() {
        let dir = std::env::temp_dir().join(format!("dmt{}-keyfile", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let a = PseudonymKey::load_or_create(&dir).unwrap();
        let b = PseudonymKey::load_or_create(&dir).unwrap();
        assert_eq!(a, b);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
