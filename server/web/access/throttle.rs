//! Token guessing, slowed down: after [`MAX_WRONG`] wrong tokens from one address within
//! [`WINDOW`], that address is refused (429) until the window ends, right tokens too, so a weak
//! token cannot be found by trying (a token is at least 16 characters, but people choose them).
//!
//! An IPv6 client is counted by its /64 (one host usually owns a whole /64); behind a reverse
//! proxy every client shares the proxy's address, so there a guesser holds back the others too.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Wrong tokens one address may present within [`WINDOW`].
pub const MAX_WRONG: u32 = 10;

/// How long wrong tokens are counted, and an address is held back once over [`MAX_WRONG`].
pub const WINDOW: Duration = Duration::from_secs(60);

/// The most addresses counted at once (a flood of addresses cannot grow memory without bound;
/// past it, a new address is not counted until old windows end).
const MAX_TRACKED: usize = 10_000;

struct Tries {
    wrong: u32,
    since: Instant,
}

/// Wrong tokens per address.
pub struct Throttle {
    map: Mutex<HashMap<IpAddr, Tries>>,
    max: u32,
    window: Duration,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Throttle(..)")
    }
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new(MAX_WRONG, WINDOW)
    }
}

/// The key an address is counted under: itself, or its /64 for IPv6.
fn key(who: IpAddr) -> IpAddr {
    match who {
        IpAddr::V4(_) => who,
        IpAddr::V6(a) => {
            let mut s = a.segments();
            s[4..].fill(0);
            IpAddr::from(s)
        }
    }
}

impl Throttle {
    /// At most `max` wrong tokens per `window`.
    pub fn new(max: u32, window: Duration) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            max,
            window,
        }
    }

    /// `Err(wait)` while `who` is held back; `None` (an address not known) is never held back.
    pub fn check(&self, who: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        let (Some(who), Ok(map)) = (who, self.map.lock()) else {
            return Ok(());
        };
        match map.get(&key(who)) {
            Some(t) if t.wrong >= self.max => {
                let left = self.window.saturating_sub(now.duration_since(t.since));
                if left.is_zero() {
                    Ok(())
                } else {
                    Err(left)
                }
            }
            _ => Ok(()),
        }
    }

    /// Count a wrong token from `who`.
    pub fn wrong(&self, who: Option<IpAddr>, now: Instant) {
        let (Some(who), Ok(mut map)) = (who, self.map.lock()) else {
            return;
        };
        let window = self.window;
        let ended = |t: &Tries| now.duration_since(t.since) >= window;
        if map.len() >= MAX_TRACKED {
            map.retain(|_, t| !ended(t));
        }
        let k = key(who);
        if !map.contains_key(&k) && map.len() >= MAX_TRACKED {
            return;
        }
        let t = map.entry(k).or_insert(Tries {
            wrong: 0,
            since: now,
        });
        if ended(t) {
            *t = Tries {
                wrong: 0,
                since: now,
            };
        }
        t.wrong = t.wrong.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn an_address_over_the_limit_waits_out_its_window_and_others_do_not() {
        let t = Throttle::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(t.check(ip("198.18.0.1"), t0), Ok(()), "try {i}");
            t.wrong(ip("198.18.0.1"), t0);
        }
        let later = t0 + Duration::from_secs(20);
        assert_eq!(
            t.check(ip("198.18.0.1"), later),
            Err(Duration::from_secs(40))
        );
        assert_eq!(t.check(ip("198.18.0.2"), later), Ok(()));
        assert_eq!(t.check(None, later), Ok(()));
        assert_eq!(
            t.check(ip("198.18.0.1"), t0 + Duration::from_secs(60)),
            Ok(())
        );
        // A new window starts from zero.
        t.wrong(ip("198.18.0.1"), t0 + Duration::from_secs(61));
        assert_eq!(
            t.check(ip("198.18.0.1"), t0 + Duration::from_secs(62)),
            Ok(())
        );
    }

    #[test]
    fn an_ipv6_host_is_counted_by_its_64() {
        let t = Throttle::new(2, Duration::from_secs(60));
        let now = Instant::now();
        t.wrong(ip("2001:2::1"), now);
        t.wrong(ip("2001:2::ffff:2"), now);
        assert!(t.check(ip("2001:2::3"), now).is_err());
        assert_eq!(t.check(ip("2001:2:0:1::1"), now), Ok(()));
    }

    #[test]
    fn wrong_tokens_spread_over_windows_never_hold_back() {
        let t = Throttle::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..10u64 {
            let now = t0 + Duration::from_secs(40 * i);
            assert_eq!(t.check(ip("198.18.0.1"), now), Ok(()), "minute {i}");
            t.wrong(ip("198.18.0.1"), now);
        }
    }
}
