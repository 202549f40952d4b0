//! Per-host ingest rate limiting: a token bucket per host of `per_minute` tokens,
//! refilled continuously over a minute. Time is passed in, so the logic is pure and
//! testable; the collector keeps one [`RateLimiter`] behind a mutex.
//!
//! The limit protects the store from one runaway or misconfigured agent; a healthy agent
//! sends one report per interval (five minutes by default), and an agent catching up
//! after an outage drains its spool at the limit, following `Retry-After`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Hosts tracked at most; past this, idle buckets (full again) are dropped first.
const MAX_TRACKED_HOSTS: usize = 1_000_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets by host.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// A limiter allowing bursts of `per_minute` reports, refilled at `per_minute` a
    /// minute.
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter {
            per_minute: per_minute.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `host` at `now`: `Ok` when allowed, else how long until a
    /// token is available (for `Retry-After`).
    pub fn check(&self, host: &str, now: Instant) -> Result<(), Duration> {
        let capacity = f64::from(self.per_minute);
        let per_sec = capacity / 60.0;
        let mut buckets = match self.buckets.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        if buckets.len() >= MAX_TRACKED_HOSTS && !buckets.contains_key(host) {
            // A bucket idle long enough to be full again is no different from none.
            let full_after = Duration::from_secs(60);
            buckets.retain(|_, b| now.saturating_duration_since(b.at) < full_after);
        }
        let bucket = buckets.entry(host.to_owned()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_sec).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_sec))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_the_limit_then_one_per_refill() {
        let limiter = RateLimiter::new(6); // one token every 10 s
        let t0 = Instant::now();
        for _ in 0..6 {
            assert!(limiter.check("a", t0).is_ok());
        }
        let wait = limiter.check("a", t0).unwrap_err();
        assert!(wait > Duration::from_secs(9) && wait <= Duration::from_secs(10));
        // Another host has its own bucket.
        assert!(limiter.check("b", t0).is_ok());
        // After the wait, exactly one more.
        let t1 = t0 + wait;
        assert!(limiter.check("a", t1).is_ok());
        assert!(limiter.check("a", t1).is_err());
        // Idle for long, the bucket is full again, never more.
        let t2 = t1 + Duration::from_secs(3600);
        for _ in 0..6 {
            assert!(limiter.check("a", t2).is_ok());
        }
        assert!(limiter.check("a", t2).is_err());
    }
}
