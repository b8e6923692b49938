//! A few SQLite connections handed out in turn, in place of sqlx's `Pool` for SQLite.
//!
//! sqlx's pool pings a connection each time it is returned (and, by default, each time it is taken). On SQLite
//! every ping is a message to the connection's worker thread and back, so a one-statement write held the single
//! writer for three round trips between threads instead of one, and the next writer waited for all three. A
//! [`Lane`] hands a connection back as soon as its holder is done, with no round trip: SQLite keeps no state
//! between statements that a ping could repair. Transactions run on the [`Writer`](super::Writer) thread, which
//! finishes each one whether or not its caller still waits.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use sqlx::sqlite::{SqliteConnectOptions, SqliteQueryResult, SqliteRow, SqliteStatement, SqliteTypeInfo};
use sqlx::{ConnectOptions, Connection, Either, Execute, Executor, Sqlite, SqliteConnection};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Connections to one SQLite database, taken in the order they were asked for.
#[derive(Clone)]
pub struct Lane(Arc<Inner>);

struct Inner {
    idle: Mutex<Vec<SqliteConnection>>,
    /// One permit per connection; tokio's semaphore is fair, so waiters are served first come, first served.
    permits: Arc<Semaphore>,
    size: u32,
    acquire_timeout: Duration,
}

impl fmt::Debug for Lane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lane").field("size", &self.0.size).field("idle", &self.idle()).finish()
    }
}

impl Lane {
    /// Opens `size` connections with `options`.
    pub async fn open(options: &SqliteConnectOptions, size: u32, acquire_timeout: Duration) -> sqlx::Result<Lane> {
        let mut conns = Vec::with_capacity(size as usize);
        for _ in 0..size {
            conns.push(options.connect().await?);
        }
        Ok(Lane(Arc::new(Inner {
            idle: Mutex::new(conns),
            permits: Arc::new(Semaphore::new(size as usize)),
            size,
            acquire_timeout,
        })))
    }

    /// Waits for a free connection (at most the lane's acquire timeout).
    pub async fn acquire(&self) -> sqlx::Result<Held> {
        let permit = match tokio::time::timeout(self.0.acquire_timeout, self.0.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_closed)) => return Err(sqlx::Error::PoolClosed),
            Err(_elapsed) => return Err(sqlx::Error::PoolTimedOut),
        };
        let conn = self.0.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        // A permit is only free while its connection is idle, so one is there unless the lane was closed.
        let conn = conn.ok_or(sqlx::Error::PoolClosed)?;
        Ok(Held { lane: self.0.clone(), conn: Some(conn), _permit: permit })
    }

    pub fn size(&self) -> u32 {
        self.0.size
    }

    pub fn idle(&self) -> u32 {
        self.0.idle.lock().map(|v| v.len() as u32).unwrap_or(0)
    }

    pub fn is_closed(&self) -> bool {
        self.0.permits.is_closed()
    }

    /// Closes the idle connections now and every other one as it is handed back; later requests fail.
    pub async fn close(&self) {
        self.0.permits.close();
        let idle = std::mem::take(&mut *self.0.idle.lock().unwrap_or_else(|p| p.into_inner()));
        for conn in idle {
            let _ = conn.close().await;
        }
    }
}

/// A connection taken from a [`Lane`]; handed back when dropped.
pub struct Held {
    lane: Arc<Inner>,
    conn: Option<SqliteConnection>,
    // Released after `drop` has put the connection back, so a permit never finds the idle list empty.
    _permit: OwnedSemaphorePermit,
}

impl Deref for Held {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        self.conn.as_ref().expect("present until dropped")
    }
}

impl DerefMut for Held {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.conn.as_mut().expect("present until dropped")
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take()
            && !self.lane.permits.is_closed()
        {
            self.lane.idle.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
        }
    }
}

impl<'c> Executor<'c> for &'c Lane {
    type Database = Sqlite;

    fn fetch_many<'e, 'q: 'e, E>(self, query: E) -> BoxStream<'e, sqlx::Result<Either<SqliteQueryResult, SqliteRow>>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Sqlite>,
    {
        // Collected while the connection is held, so the stream does not borrow it; callers here read small
        // result sets whole anyway (`fetch_all`, `fetch_optional`).
        futures::stream::once(async move {
            match self.acquire().await {
                Ok(mut conn) => conn.fetch_many(query).collect::<Vec<_>>().await,
                Err(e) => vec![Err(e)],
            }
        })
        .flat_map(futures::stream::iter)
        .boxed()
    }

    fn fetch_optional<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, sqlx::Result<Option<SqliteRow>>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Sqlite>,
    {
        Box::pin(async move { self.acquire().await?.fetch_optional(query).await })
    }

    fn execute<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, sqlx::Result<SqliteQueryResult>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Sqlite>,
    {
        Box::pin(async move { self.acquire().await?.execute(query).await })
    }

    fn fetch_all<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, sqlx::Result<Vec<SqliteRow>>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Sqlite>,
    {
        Box::pin(async move { self.acquire().await?.fetch(query).try_collect().await })
    }

    fn prepare_with<'e>(
        self,
        sql: sqlx::SqlStr,
        parameters: &'e [SqliteTypeInfo],
    ) -> BoxFuture<'e, sqlx::Result<SqliteStatement>>
    where
        'c: 'e,
    {
        Box::pin(async move { self.acquire().await?.prepare_with(sql, parameters).await })
    }

    // Required by the trait when sqlx's `offline` feature is on (its macros turn it on); used by `query!`.
    fn describe<'e>(self, sql: sqlx::SqlStr) -> BoxFuture<'e, sqlx::Result<sqlx::Describe<Sqlite>>>
    where
        'c: 'e,
    {
        Box::pin(async move { self.acquire().await?.describe(sql).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lane(size: u32) -> (tempfile::TempDir, Lane) {
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteConnectOptions::new().filename(dir.path().join("t.db")).create_if_missing(true);
        let lane = Lane::open(&options, size, Duration::from_secs(2)).await.unwrap();
        sqlx::query("CREATE TABLE t (n INTEGER)").execute(&lane).await.unwrap();
        (dir, lane)
    }

    #[tokio::test]
    async fn a_cancelled_request_hands_its_connection_back() {
        let (_dir, lane) = lane(1).await;
        // Polled once, then dropped mid-statement, as when a client goes away.
        let started = futures::FutureExt::now_or_never(sqlx::query("INSERT INTO t VALUES (1)").execute(&lane));
        assert!(started.is_none(), "the statement was still running when dropped");
        let held = tokio::time::timeout(Duration::from_secs(1), lane.acquire()).await;
        assert!(matches!(held, Ok(Ok(_))), "the one connection came back");
        assert_eq!(lane.idle(), 0);
    }

    #[tokio::test]
    async fn waiters_time_out_and_a_closed_lane_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteConnectOptions::new().filename(dir.path().join("t.db")).create_if_missing(true);
        let lane = Lane::open(&options, 1, Duration::from_millis(50)).await.unwrap();
        let held = lane.acquire().await.unwrap();
        assert!(matches!(lane.acquire().await, Err(sqlx::Error::PoolTimedOut)));
        drop(held);
        assert_eq!(lane.idle(), 1);
        lane.close().await;
        assert!(lane.is_closed());
        assert!(matches!(lane.acquire().await, Err(sqlx::Error::PoolClosed)));
        assert!(sqlx::query("SELECT 1").execute(&lane).await.is_err());
    }
}
