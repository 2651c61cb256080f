//! The token file of `dockmap serve --tokens FILE`.
//!
//! One token a line: `read <token>` or `write <token>`; blank lines and lines starting with `#`
//! are skipped. A token is at least [`MIN_TOKEN`] characters without white space. The file must
//! not be readable or writable by every user. Only SHA-256 digests of the tokens are kept, and a
//! presented token is compared with every one of them in constant time.

use std::path::Path;

use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

use super::AccessError;

/// The shortest token accepted, in characters (a guessable token is no access control).
pub const MIN_TOKEN: usize = 16;

/// What a token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// View, search, paths, download, live streams.
    Read,
    /// Everything a read token may, and save, upload, delete, refresh.
    Write,
}

/// The tokens of a server, as digests.
pub struct TokenSet {
    tokens: Vec<(Level, [u8; 32])>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenSet({} tokens)", self.tokens.len())
    }
}

fn digest(b: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&Sha256::digest(b));
    out
}

impl TokenSet {
    /// Read and check the token file (its mode too).
    pub fn from_file(path: &Path) -> Result<Self, AccessError> {
        use std::os::unix::fs::PermissionsExt;
        let err = |why: String| AccessError::TokenFile {
            path: path.to_owned(),
            why,
        };
        let mode = std::fs::metadata(path)
            .map_err(|e| err(e.to_string()))?
            .permissions()
            .mode();
        if mode & 0o006 != 0 {
            return Err(err(format!(
                "every user of this machine may read or change it (mode {:o}): `chmod 600 {}`",
                mode & 0o777,
                path.display()
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        Self::parse(&text).map_err(err)
    }

    /// Parse the file's text; the error names the line (never the token).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut tokens = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let n = i + 1;
            let mut words = line.split_whitespace();
            let level = match words.next() {
                Some("read") => Level::Read,
                Some("write") => Level::Write,
                _ => {
                    return Err(format!(
                        "line {n}: expected `read <token>` or `write <token>`"
                    ))
                }
            };
            let Some(token) = words.next() else {
                return Err(format!("line {n}: the token is missing"));
            };
            if words.next().is_some() {
                return Err(format!("line {n}: a token has no white space in it"));
            }
            if token.chars().count() < MIN_TOKEN {
                return Err(format!(
                    "line {n}: the token is shorter than {MIN_TOKEN} characters \
                     (make one with `openssl rand -hex 32`)"
                ));
            }
            let d = digest(token.as_bytes());
            if tokens.iter().any(|(_, t)| *t == d) {
                return Err(format!("line {n}: this token is listed twice"));
            }
            tokens.push((level, d));
        }
        if tokens.is_empty() {
            return Err("it lists no token (lines `read <token>` or `write <token>`)".into());
        }
        Ok(Self { tokens })
    }

    /// The level of a presented token; `None` when it is none of ours. Every token is compared,
    /// each in constant time, so the time taken says nothing about which one matched or how much.
    pub fn check(&self, given: &[u8]) -> Option<Level> {
        let d = digest(given);
        let mut found = subtle::Choice::from(0);
        let mut write = subtle::Choice::from(0);
        for (level, t) in &self.tokens {
            let hit = d.ct_eq(t);
            found |= hit;
            let is_write = subtle::Choice::from(u8::from(*level == Level::Write));
            write = subtle::Choice::conditional_select(&write, &is_write, hit);
        }
        if !bool::from(found) {
            return None;
        }
        Some(if bool::from(write) {
            Level::Write
        } else {
            Level::Read
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_give_levels_and_bad_lines_are_named() {
        let t =
            TokenSet::parse("# team\nread  rrrrrrrrrrrrrrrrrrrr\n\nwrite wwwwwwwwwwwwwwwwwwww\n")
                .unwrap();
        assert_eq!(t.check(b"rrrrrrrrrrrrrrrrrrrr"), Some(Level::Read));
        assert_eq!(t.check(b"wwwwwwwwwwwwwwwwwwww"), Some(Level::Write));
        assert_eq!(t.check(b"wwwwwwwwwwwwwwwwwww"), None);
        assert_eq!(t.check(b""), None);
        for (bad, said) in [
            ("admin xxxxxxxxxxxxxxxxxxxxx", "line 1: expected"),
            ("read short", "shorter than 16"),
            ("read\n", "missing"),
            ("read aaaaaaaaaaaaaaaaaaaa b", "white space"),
            (
                "read aaaaaaaaaaaaaaaaaaaa\nwrite aaaaaaaaaaaaaaaaaaaa",
                "line 2: this token is listed twice",
            ),
            ("# nothing\n", "no token"),
        ] {
            let e = TokenSet::parse(bad).unwrap_err();
            assert!(e.contains(said), "{bad:?}: {e}");
            assert!(!e.contains("aaaaaaaa"), "the error shows the token: {e}");
        }
    }

    #[test]
    fn a_world_readable_file_is_refused_with_the_fix() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tokens");
        std::fs::write(&p, "read rrrrrrrrrrrrrrrrrrrr\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = TokenSet::from_file(&p).unwrap_err().to_string();
        assert!(e.contains("chmod 600"), "{e}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(TokenSet::from_file(&p).is_ok());
    }
}
