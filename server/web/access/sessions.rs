//! Server-side sessions: a random ID in an HttpOnly cookie, what it grants kept here, expiring.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::share::PseudonymKey;

use super::Grant;

/// How long a session lasts from its start.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// The most sessions kept at once; past it, the one closest to expiry goes (a flood of logins
/// or share-link visits cannot grow memory without bound).
pub const MAX_SESSIONS: usize = 10_000;

/// The most snapshots one share session remembers.
pub const MAX_SHARED: usize = 64;

struct Session {
    grant: Grant,
    expires: Instant,
}

/// Sessions by ID.
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    ttl: Duration,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sessions(..)")
    }
}

impl Default for Sessions {
    fn default() -> Self {
        Self::new(SESSION_TTL)
    }
}

impl Sessions {
    /// Sessions lasting `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            ttl,
        }
    }

    /// Start a session; its ID (64 hex digits from the kernel's random source), or `None` when
    /// there is no randomness to be had.
    pub fn start(&self, grant: Grant) -> Option<String> {
        let id = PseudonymKey::random().ok()?.to_hex();
        let now = Instant::now();
        let mut map = self.map.lock().ok()?;
        map.retain(|_, s| s.expires > now);
        if map.len() >= MAX_SESSIONS {
            if let Some(k) = map
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone())
            {
                map.remove(&k);
            }
        }
        map.insert(
            id.clone(),
            Session {
                grant,
                expires: now + self.ttl,
            },
        );
        Some(id)
    }

    /// What a live session grants.
    pub fn grant(&self, id: &str) -> Option<Grant> {
        let map = self.map.lock().ok()?;
        map.get(id)
            .filter(|s| s.expires > Instant::now())
            .map(|s| s.grant.clone())
    }

    /// Add a snapshot to a live share session; false when there is none (or it is full).
    pub fn add_snapshot(&self, id: &str, snap: &str) -> bool {
        let Ok(mut map) = self.map.lock() else {
            return false;
        };
        match map.get_mut(id) {
            Some(Session {
                grant: Grant::Snapshots(set),
                expires,
            }) if *expires > Instant::now() && set.len() < MAX_SHARED => {
                set.insert(snap.to_owned());
                true
            }
            _ => false,
        }
    }

    /// End a session.
    pub fn end(&self, id: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_random_expire_and_end() {
        let s = Sessions::new(Duration::from_millis(30));
        let a = s.start(Grant::Read).unwrap();
        let b = s.start(Grant::Write).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(s.grant(&a), Some(Grant::Read));
        s.end(&b);
        assert_eq!(s.grant(&b), None);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(s.grant(&a), None);
        let c = s
            .start(Grant::Snapshots(["x".to_owned()].into_iter().collect()))
            .unwrap();
        assert!(s.add_snapshot(&c, "y"));
        assert!(!s.add_snapshot("nope", "y"));
        assert_eq!(
            s.grant(&c),
            Some(Grant::Snapshots(
                ["x".to_owned(), "y".to_owned()].into_iter().collect()
            ))
        );
    }
}
