//! Fixed-window rate limits per client address and path, as Better Auth applies them to sign-in, sign-up and
//! change-password (3 per 10 s by default). In memory: one process's view.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct RateLimiter {
    max: u32,
    window: Duration,
    buckets: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(max: u32, window: Duration) -> Self {
        RateLimiter { max, window, buckets: Mutex::new(HashMap::new()) }
    }

    /// Counts an attempt; `Err(seconds)` tells how long until the next one is allowed.
    pub fn check(&self, client: &str, path: &str) -> Result<(), u64> {
        if self.max == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        // Drop expired windows now and then, so the map stays as small as the set of recent clients.
        if buckets.len() > 10_000 {
            buckets.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = buckets.entry(format!("{client}|{path}")).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.max {
            let left = self.window.saturating_sub(now.duration_since(entry.0));
            return Err(left.as_secs_f64().ceil().max(1.0) as u64);
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_max_then_refuses_per_client_and_path() {
        let limiter = RateLimiter::new(3, Duration::from_secs(10));
        for _ in 0..3 {
            assert!(limiter.check("1.2.3.4", "/sign-in/email").is_ok());
        }
        let retry = limiter.check("1.2.3.4", "/sign-in/email").unwrap_err();
        assert!((1..=10).contains(&retry));
        assert!(limiter.check("1.2.3.4", "/sign-up/email").is_ok());
        assert!(limiter.check("5.6.7.8", "/sign-in/email").is_ok());
    }

    #[test]
    fn zero_disables() {
        let limiter = RateLimiter::new(0, Duration::from_secs(10));
        for _ in 0..100 {
            assert!(limiter.check("a", "b").is_ok());
        }
    }
}
