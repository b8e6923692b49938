//! Per-account sign-in lockout, beside the per-address rate limit: an attacker with many addresses still meets
//! growing delays on the one account they guess at. Keyed by the normalized email whether or not an account has
//! it, so the answer never tells which addresses are registered.
//!
//! Every attempt is counted as a failure when it starts (so a burst sent at once cannot slip past the count) and
//! the count is cleared when the password proves right. After `free` failures in a row each further failure locks
//! the account for 1, 2, 4 … seconds, never longer than `max_delay`: the owner is kept out for at most that long,
//! and their next good sign-in clears the count. Failures a day old are forgotten. With PostgreSQL the counts live
//! in the database, so they hold across every copy of taskchat; with SQLite (one process) they live in memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::db::{Db, Timestamp};

/// Failures older than this are forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);

pub struct Lockout {
    free: u32,
    max_delay: Duration,
    local: Mutex<HashMap<String, Entry>>,
    shared: Option<sqlx::PgPool>,
    attempts: AtomicU64,
}

struct Entry {
    failures: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

impl Lockout {
    pub fn new(free: u32, max_delay: Duration, db: &Db) -> Self {
        let shared = match db {
            Db::Postgres(pool) => Some(pool.clone()),
            Db::Sqlite(_) => None,
        };
        Lockout { free, max_delay, local: Mutex::new(HashMap::new()), shared, attempts: AtomicU64::new(0) }
    }

    /// How long the account stays locked after its `failures`-th failure in a row.
    fn delay(&self, failures: u32) -> Option<Duration> {
        if failures < self.free {
            return None;
        }
        let doublings = (failures - self.free).min(30);
        Some(Duration::from_secs(1u64 << doublings).min(self.max_delay))
    }

    /// Starts an attempt on `email` (already normalized): `Err(seconds)` while the account is locked, and
    /// otherwise counts the attempt as a failure until [`Lockout::succeeded`] clears it.
    pub async fn begin(&self, email: &str) -> Result<(), u64> {
        if self.free == 0 {
            return Ok(());
        }
        let key = key(email);
        match &self.shared {
            Some(pool) => match self.begin_shared(pool, &key).await {
                Ok(r) => r,
                Err(e) => {
                    // The database being down must not lock everyone out: count in this copy instead.
                    tracing::warn!(error = %e, "shared sign-in lockout unavailable; counting locally");
                    self.begin_local(&key)
                }
            },
            None => self.begin_local(&key),
        }
    }

    /// The password was right: the account's count starts again.
    pub async fn succeeded(&self, email: &str) {
        if self.free == 0 {
            return;
        }
        let key = key(email);
        self.local.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
        if let Some(pool) = &self.shared {
            let cleared = sqlx::query("DELETE FROM sign_in_lockout WHERE key = $1").bind(&key).execute(pool).await;
            if let Err(e) = cleared {
                tracing::warn!(error = %e, "could not clear a sign-in lockout");
            }
        }
    }

    fn begin_local(&self, key: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut map = self.local.lock().unwrap_or_else(|e| e.into_inner());
        // Forget stale entries now and then, so the map stays as small as the set of recently guessed accounts.
        if map.len() > 10_000 {
            map.retain(|_, e| now.duration_since(e.last) < FORGET_AFTER || e.locked_until.is_some_and(|t| t > now));
        }
        let entry = map.entry(key.to_string()).or_insert(Entry { failures: 0, last: now, locked_until: None });
        if let Some(until) = entry.locked_until.filter(|t| *t > now) {
            return Err(seconds(until - now));
        }
        if now.duration_since(entry.last) >= FORGET_AFTER {
            entry.failures = 0;
        }
        entry.failures += 1;
        entry.last = now;
        entry.locked_until = self.delay(entry.failures).map(|d| now + d);
        Ok(())
    }

    async fn begin_shared(&self, pool: &sqlx::PgPool, key: &str) -> sqlx::Result<Result<(), u64>> {
        let now = Timestamp::now();
        let mut tx = pool.begin().await?;
        // The row lock makes concurrent attempts on several copies count one after another.
        sqlx::query(
            "INSERT INTO sign_in_lockout (key, failures, last_failure, locked_until) VALUES ($1, 0, $2, NULL)
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let (failures, last, locked_until): (i32, Timestamp, Option<Timestamp>) = sqlx::query_as(
            "SELECT failures, last_failure, locked_until FROM sign_in_lockout WHERE key = $1 FOR UPDATE",
        )
        .bind(key)
        .fetch_one(&mut *tx)
        .await?;
        if let Some(until) = locked_until.filter(|t| t.0 > now.0) {
            tx.rollback().await?;
            return Ok(Err(seconds(Duration::try_from(until.0 - now.0).unwrap_or_default())));
        }
        let forgotten = now.0 - last.0 >= time::Duration::try_from(FORGET_AFTER).unwrap_or(time::Duration::DAY);
        let failures = if forgotten { 1 } else { failures.max(0) as u32 + 1 };
        let locked_until =
            self.delay(failures).map(|d| now.plus(time::Duration::try_from(d).unwrap_or(time::Duration::ZERO)));
        sqlx::query("UPDATE sign_in_lockout SET failures = $2, last_failure = $3, locked_until = $4 WHERE key = $1")
            .bind(key)
            .bind(failures as i32)
            .bind(now)
            .bind(locked_until)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        // Now and then (as the rate limit does), drop what has been forgotten: after the commit, so the account's
        // row lock is not held for it, and on its own, so a failed cleanup loses no count.
        if self.attempts.fetch_add(1, Ordering::Relaxed) % 1000 == 999 {
            let before = now.minus(time::Duration::try_from(FORGET_AFTER).unwrap_or(time::Duration::DAY));
            let swept = sqlx::query(
                "DELETE FROM sign_in_lockout WHERE last_failure < $1 AND (locked_until IS NULL OR locked_until < $2)",
            )
            .bind(before)
            .bind(now)
            .execute(pool)
            .await;
            if let Err(e) = swept {
                tracing::warn!(error = %e, "could not sweep forgotten sign-in lockouts");
            }
        }
        Ok(Ok(()))
    }
}

/// The stored key: a hash, so the table never holds the addresses people (or attackers) typed.
fn key(email: &str) -> String {
    hex::encode(Sha256::digest(email.as_bytes()))
}

/// Whole seconds to wait, never 0 (a client told 0 would retry at once).
fn seconds(left: Duration) -> u64 {
    left.as_secs_f64().ceil().max(1.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(free: u32, max: u64) -> Lockout {
        Lockout {
            free,
            max_delay: Duration::from_secs(max),
            local: Mutex::new(HashMap::new()),
            shared: None,
            attempts: AtomicU64::new(0),
        }
    }

    #[test]
    fn delays_double_from_the_free_failures_up_to_the_cap() {
        let l = local(5, 300);
        let delays: Vec<Option<u64>> = (1..=16).map(|n| l.delay(n).map(|d| d.as_secs())).collect();
        assert_eq!(&delays[..4], &[None, None, None, None]);
        assert_eq!(
            &delays[4..],
            &[
                Some(1),
                Some(2),
                Some(4),
                Some(8),
                Some(16),
                Some(32),
                Some(64),
                Some(128),
                Some(256),
                Some(300),
                Some(300),
                Some(300)
            ]
        );
        // No overflow however many failures pile up.
        assert_eq!(l.delay(u32::MAX), Some(Duration::from_secs(300)));
    }

    #[tokio::test]
    async fn locks_after_the_free_failures_and_a_success_clears_it() {
        let l = local(3, 60);
        for _ in 0..3 {
            assert!(l.begin("who@example.com").await.is_ok());
        }
        let wait = l.begin("who@example.com").await.unwrap_err();
        assert_eq!(wait, 1, "the third failure locks for a second");
        assert!(l.begin("other@example.com").await.is_ok(), "another account is not affected");
        l.succeeded("who@example.com").await;
        assert!(l.begin("who@example.com").await.is_ok());
    }

    #[tokio::test]
    async fn zero_disables() {
        let l = local(0, 60);
        for _ in 0..100 {
            assert!(l.begin("a@b.co").await.is_ok());
        }
    }

    #[test]
    fn keys_are_hashes() {
        assert_eq!(key("a@b.co").len(), 64);
        assert!(!key("a@b.co").contains('@'));
        assert_ne!(key("a@b.co"), key("b@b.co"));
    }
}
