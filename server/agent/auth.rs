//! The shared bearer token, compared in constant time.

use std::path::Path;

use axum::http::{header, HeaderMap};
use subtle::ConstantTimeEq;

use super::AgentError;

/// A bearer token read from a file.
pub struct Token(Vec<u8>);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

impl Token {
    /// Read the token: the file's content without surrounding whitespace; empty is refused.
    pub fn from_file(path: &Path) -> Result<Self, AgentError> {
        let err = |why: String| AgentError::TokenFile {
            path: path.display().to_string(),
            why,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        Self::new(text.trim()).ok_or_else(|| err("it is empty".into()))
    }

    /// A token from its text; `None` when empty.
    pub fn new(text: &str) -> Option<Self> {
        (!text.is_empty()).then(|| Self(text.as_bytes().to_vec()))
    }

    /// The token's text, for a client's Authorization header.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// Whether the request carries `Authorization: Bearer <this token>`.
    pub fn accepts(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return false;
        };
        let Some(given) = value.as_bytes().strip_prefix(b"Bearer ") else {
            return false;
        };
        // ct_eq on slices of unequal length returns false without looking at contents.
        bool::from(given.ct_eq(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, v.parse().unwrap());
        h
    }

    #[test]
    fn accepts_only_the_exact_bearer_token() {
        let t = Token::new("s3cret").unwrap();
        assert!(t.accepts(&headers("Bearer s3cret")));
        assert!(!t.accepts(&headers("Bearer s3cre")));
        assert!(!t.accepts(&headers("Bearer s3cretX")));
        assert!(!t.accepts(&headers("Basic s3cret")));
        assert!(!t.accepts(&HeaderMap::new()));
        assert!(Token::new("").is_none());
    }
}
