//! Tokens: generating per-host agent tokens, hashing them for storage and lookup, reading
//! the enrolment and read tokens from their files, and parsing `Authorization` headers.
//!
//! This module owns token handling; it must not store anything (the store keeps only
//! hashes) and never logs a token.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::config::MIN_TOKEN_CHARS;

/// Why a token file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The token in the file is too short.
    #[error("{path}: the token must be at least {MIN_TOKEN_CHARS} characters")]
    TooShort {
        /// The file.
        path: PathBuf,
    },
    /// The operating system's random source failed.
    #[error("no randomness for a token: {0}")]
    Random(String),
}

/// Lower-case hex of bytes.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// A fresh agent token: 32 random bytes as 64 hex characters.
pub fn new_token() -> Result<String, AuthError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AuthError::Random(e.to_string()))?;
    Ok(hex(&bytes))
}

/// The SHA-256 (hex) of a token: what the store keeps and looks up by.
pub fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Reads a token from a file (surrounding whitespace removed).
pub fn read_token_file(path: &Path) -> Result<String, AuthError> {
    let text = std::fs::read_to_string(path).map_err(|source| AuthError::Read {
        path: path.to_owned(),
        source,
    })?;
    let token = text.trim().to_owned();
    if token.chars().count() < MIN_TOKEN_CHARS {
        return Err(AuthError::TooShort {
            path: path.to_owned(),
        });
    }
    Ok(token)
}

/// The token of an `Authorization: Bearer <token>` header value, if it is one.
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let value = header?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Compares two secrets without stopping at the first difference.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (hash_token(a), hash_token(b));
    a.bytes()
        .zip(b.bytes())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// How long a valid agent token's host is remembered: a revocation (`estate-server token
/// revoke`, or a re-enrolment replacing the token) takes effect within this time.
pub const TOKEN_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(60);
/// Most tokens remembered; past it the cache starts afresh (a council has ~10,000 hosts).
pub const TOKEN_CACHE_MAX: usize = 1 << 18;

/// Valid agent tokens (by hash) and their hosts, remembered for [`TOKEN_CACHE_TTL`] so
/// that ingest does not ask the store on every report. Only tokens the store confirmed
/// are kept: a flood of bad tokens costs store lookups, not memory.
#[derive(Debug, Default)]
pub struct TokenCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, (Arc<str>, std::time::Instant)>>,
}

impl TokenCache {
    /// The host of `token_hash` if it was confirmed within the TTL before `now`.
    pub fn get(&self, token_hash: &str, now: std::time::Instant) -> Option<Arc<str>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let (host, at) = entries.get(token_hash)?;
        (now.saturating_duration_since(*at) < TOKEN_CACHE_TTL).then(|| Arc::clone(host))
    }

    /// Remembers that the store confirmed `token_hash` for `host` at `now`.
    pub fn insert(&self, token_hash: String, host: Arc<str>, now: std::time::Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= TOKEN_CACHE_MAX {
            entries.retain(|_, (_, at)| now.saturating_duration_since(*at) < TOKEN_CACHE_TTL);
            if entries.len() >= TOKEN_CACHE_MAX {
                entries.clear();
            }
        }
        entries.insert(token_hash, (host, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_cache_forgets_after_its_ttl() {
        let cache = TokenCache::default();
        let t0 = std::time::Instant::now();
        assert_eq!(cache.get("h", t0), None);
        cache.insert("h".to_owned(), Arc::from("host-a"), t0);
        assert_eq!(cache.get("h", t0).as_deref(), Some("host-a"));
        let later = t0 + TOKEN_CACHE_TTL - std::time::Duration::from_millis(1);
        assert_eq!(cache.get("h", later).as_deref(), Some("host-a"));
        assert_eq!(cache.get("h", t0 + TOKEN_CACHE_TTL), None);
        assert_eq!(cache.get("other", t0), None);
    }

    #[test]
    fn tokens_are_64_hex_and_distinct() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(Some("Bearer ")), None);
        assert_eq!(bearer(None), None);
        assert!(same_secret("x", "x"));
        assert!(!same_secret("x", "y"));
    }
}
