//! Fixed-window rate limits per client address and path, as Better Auth applies them to sign-in, sign-up and
//! change-password (3 per 10 s by default). With PostgreSQL the windows live in the database, so the limit
//! holds across every copy of taskchat; with SQLite (one process) they live in memory. The mail-sending routes
//! have a limiter of their own (a longer window), counted per client and per email address.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::db::{Db, Timestamp};

pub struct RateLimiter {
    max: u32,
    window: Duration,
    buckets: Mutex<HashMap<String, (Instant, u32)>>,
    shared: Option<sqlx::PgPool>,
    checks: AtomicU64,
}

impl RateLimiter {
    pub fn new(max: u32, window: Duration, db: &Db) -> Self {
        let shared = match db {
            Db::Postgres(pool) => Some(pool.clone()),
            Db::Sqlite(_) => None,
        };
        RateLimiter { max, window, buckets: Mutex::new(HashMap::new()), shared, checks: AtomicU64::new(0) }
    }

    /// Counts an attempt; `Err(seconds)` tells how long until the next one is allowed.
    pub async fn check(&self, client: &str, path: &str) -> Result<(), u64> {
        if self.max == 0 {
            return Ok(());
        }
        let key = format!("{client}|{path}");
        match &self.shared {
            Some(pool) => match self.check_shared(pool, &key).await {
                Ok(r) => r,
                Err(e) => {
                    // The database being down must not lock everyone out: fall back to this copy's own count.
                    tracing::warn!(error = %e, "shared rate limit unavailable; counting locally");
                    self.check_local(&key)
                }
            },
            None => self.check_local(&key),
        }
    }

    fn check_local(&self, key: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        // Drop expired windows now and then, so the map stays as small as the set of recent clients.
        if buckets.len() > 10_000 {
            buckets.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = buckets.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.max {
            return Err(retry_after(
                self.window.as_secs_f64() - now.duration_since(entry.0).as_secs_f64(),
                self.window,
            ));
        }
        entry.1 += 1;
        Ok(())
    }

    async fn check_shared(&self, pool: &sqlx::PgPool, key: &str) -> sqlx::Result<Result<(), u64>> {
        let now = Timestamp::now();
        let window = time::Duration::try_from(self.window).unwrap_or(time::Duration::seconds(10));
        let expired_before = now.minus(window);
        // One statement, so concurrent attempts on several copies count exactly.
        let (start, count): (Timestamp, i32) = sqlx::query_as(
            "INSERT INTO rate_limit (key, window_start, count) VALUES ($1, $2, 1)
             ON CONFLICT (key) DO UPDATE SET
               count = CASE WHEN rate_limit.window_start <= $3 THEN 1 ELSE rate_limit.count + 1 END,
               window_start = CASE WHEN rate_limit.window_start <= $3 THEN $2 ELSE rate_limit.window_start END
             RETURNING window_start, count",
        )
        .bind(key)
        .bind(now)
        .bind(expired_before)
        .fetch_one(pool)
        .await?;
        if self.checks.fetch_add(1, Ordering::Relaxed) % 1000 == 999 {
            // Other limiters (the mail routes' longer window) share the table: only rows stale for every
            // window go, so one limiter's sweep never resets another's count.
            let stale_before = now.minus(window.max(time::Duration::hours(1)));
            sqlx::query("DELETE FROM rate_limit WHERE window_start <= $1").bind(stale_before).execute(pool).await?;
        }
        if count as u32 > self.max {
            return Ok(Err(retry_after((start.plus(window).0 - now.0).as_seconds_f64(), self.window)));
        }
        Ok(Ok(()))
    }
}

/// Whole seconds until the window ends, `left` being what is left of it. A request reads the clock before its
/// statement waits its turn, so a concurrent one may open the window after that reading and `left` exceed the
/// window; the answer stays within it, and is never 0 (a client told 0 would retry at once).
fn retry_after(left: f64, window: Duration) -> u64 {
    left.clamp(0.0, window.as_secs_f64()).ceil().max(1.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(max: u32) -> RateLimiter {
        RateLimiter {
            max,
            window: Duration::from_secs(10),
            buckets: Mutex::new(HashMap::new()),
            shared: None,
            checks: AtomicU64::new(0),
        }
    }

    #[test]
    fn retry_after_stays_within_the_window() {
        let window = Duration::from_secs(10);
        assert_eq!(retry_after(9.2, window), 10);
        assert_eq!(retry_after(0.3, window), 1);
        assert_eq!(retry_after(0.0, window), 1);
        assert_eq!(retry_after(-0.5, window), 1);
        // The clock was read just before another request opened the window.
        assert_eq!(retry_after(10.004, window), 10);
    }

    #[tokio::test]
    async fn allows_max_then_refuses_per_client_and_path() {
        let limiter = local(3);
        for _ in 0..3 {
            assert!(limiter.check("1.2.3.4", "/sign-in/email").await.is_ok());
        }
        let retry = limiter.check("1.2.3.4", "/sign-in/email").await.unwrap_err();
        assert!((1..=10).contains(&retry));
        assert!(limiter.check("1.2.3.4", "/sign-up/email").await.is_ok());
        assert!(limiter.check("5.6.7.8", "/sign-in/email").await.is_ok());
    }

    #[tokio::test]
    async fn zero_disables() {
        let limiter = local(0);
        for _ in 0..100 {
            assert!(limiter.check("a", "b").await.is_ok());
        }
    }
}
