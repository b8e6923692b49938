//! Storage: one pool for SQLite or PostgreSQL, the migrations of both, and the column types whose encoding
//! differs between them. The SQL lives in the feature modules' store files (`tasks::store`, `auth::store`);
//! a query text serves both databases wherever the dialects agree (sqlx binds `$1` by number on SQLite too).

mod lane;
mod timestamp;
mod writer;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::PgPool;
use sqlx::migrate::{Migrate, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

pub use lane::{Held, Lane};
pub use timestamp::Timestamp;
pub use writer::Writer;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// The database, chosen at start-up. Code that queries it goes through [`with_db!`] (reads) or
/// [`with_db_write!`] (anything that writes), which write the same query once and type-check it for each
/// backend.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePools),
    Postgres(PgPool),
}

/// SQLite admits one writer at a time. A writer that finds the lock taken sleeps in SQLite's busy handler
/// (1, 2, 5 … 100 ms) instead of being woken when it frees, which under load made writes wait far longer
/// than they run. So every write goes through `write`, a lane of one connection, which the [`Writer`]
/// thread takes for each queued write in order; `read` holds read-only connections (WAL lets them read while
/// the writer writes), so a write sent to it by mistake fails in tests instead of silently contending. Both
/// are [`Lane`]s, not sqlx pools (see there why).
#[derive(Clone, Debug)]
pub struct SqlitePools {
    pub read: Lane,
    pub write: Lane,
    pub writer: Writer,
    /// The connection that checkpoints the WAL in the background (see [`checkpoint_in_background`]); none
    /// for an in-memory database, whose `read` is `write` (it is private to its one connection).
    checkpoints: Option<Lane>,
    /// Held by every copy of this `Db`: the checkpoint task ends once the last one is gone.
    #[allow(dead_code)] // held, never read
    alive: std::sync::Arc<()>,
}

/// Runs `$body` with `$pool` bound to a pool for reading of whichever database is configured.
#[macro_export]
macro_rules! with_db {
    (@on $side:ident, $db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite(pools) => {
                let $pool = &pools.$side;
                $body
            }
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
    ($db:expr, |$pool:ident| $body:expr) => {
        $crate::with_db!(@on read, $db, |$pool| $body)
    };
}

/// Like [`with_db!`], for statements and transactions that write; `$body` evaluates to a `sqlx::Result`.
///
/// On SQLite `$body` runs on the [`Writer`] thread with `$pool` bound to the writer connection, so it owns
/// what it uses (`move`); on PostgreSQL it runs in place with `$pool` the pool. Either way a `?` in it ends
/// `$body`, not the function around it. A transaction starts with [`BeginWrite::begin_write`].
#[macro_export]
macro_rules! with_db_write {
    ($db:expr, move |$pool:ident| $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite(pools) => {
                pools.writer.run(move |$pool| ::std::boxed::Box::pin(async move { $body })).await
            }
            // In a block of its own as on SQLite, so a `?` in `$body` ends `$body` alike on both.
            $crate::db::Db::Postgres($pool) => async move { $body }.await,
        }
    };
}

/// Starts a write transaction on whichever database `with_db_write!` bound.
pub trait BeginWrite<'c> {
    type Database: sqlx::Database;
    fn begin_write(self) -> BoxFuture<'c, sqlx::Result<sqlx::Transaction<'c, Self::Database>>>;
}

impl<'c> BeginWrite<'c> for &'c mut sqlx::SqliteConnection {
    type Database = sqlx::Sqlite;
    /// IMMEDIATE takes the write lock at once, so a transaction never fails halfway for want of it when
    /// another process (an operator's `taskchat users …`) writes too.
    fn begin_write(self) -> BoxFuture<'c, sqlx::Result<sqlx::Transaction<'c, sqlx::Sqlite>>> {
        Box::pin(sqlx::Connection::begin_with(self, "BEGIN IMMEDIATE"))
    }
}

impl<'c> BeginWrite<'c> for &'c PgPool {
    type Database = sqlx::Postgres;
    fn begin_write(self) -> BoxFuture<'c, sqlx::Result<sqlx::Transaction<'c, sqlx::Postgres>>> {
        Box::pin(async move { self.begin().await })
    }
}

/// A connection for one statement, which the database's own transaction holds (with what its triggers write):
/// the SQLite writer's connection itself, or one of the PostgreSQL pool's.
pub trait OneConnection<'c> {
    type Conn: std::ops::DerefMut + Send + 'c;
    fn one_connection(self) -> BoxFuture<'c, sqlx::Result<Self::Conn>>;
}

impl<'c> OneConnection<'c> for &'c mut sqlx::SqliteConnection {
    type Conn = &'c mut sqlx::SqliteConnection;
    fn one_connection(self) -> BoxFuture<'c, sqlx::Result<Self::Conn>> {
        Box::pin(async move { Ok(self) })
    }
}

impl<'c> OneConnection<'c> for &'c PgPool {
    type Conn = sqlx::pool::PoolConnection<sqlx::Postgres>;
    fn one_connection(self) -> BoxFuture<'c, sqlx::Result<Self::Conn>> {
        Box::pin(self.acquire())
    }
}

/// One applied or pending migration, for `taskchat migrate status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MigrationStatus {
    pub version: i64,
    pub description: String,
    pub applied: bool,
}

impl Db {
    /// Opens the database named by `database_url`, or the SQLite file `taskchat.db` in `data_dir` when none is
    /// given. SQLite runs in WAL mode with foreign keys on and a busy timeout, so readers never block the writer
    /// and a briefly locked database is waited for rather than reported as an error.
    pub async fn connect(database_url: Option<&str>, data_dir: &Path) -> anyhow::Result<Db> {
        match database_url {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let options = PgConnectOptions::from_str(url)?;
                let pool = PgPoolOptions::new()
                    .max_connections(32)
                    .test_before_acquire(false)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_with(options)
                    .await?;
                Ok(Db::Postgres(pool))
            }
            Some(url) if url.starts_with("sqlite:") => Self::open_sqlite(SqliteConnectOptions::from_str(url)?).await,
            Some(other) => anyhow::bail!(
                "DATABASE_URL must start with postgres://, postgresql:// or sqlite: (got a URL starting with {:?})",
                other.split(':').next().unwrap_or_default()
            ),
            None => {
                crate::files::private_dir(data_dir)
                    .map_err(|e| anyhow::anyhow!("cannot create the data directory {}: {e}", data_dir.display()))?;
                let file = data_dir.join("taskchat.db");
                crate::files::private_file(&file)
                    .map_err(|e| anyhow::anyhow!("cannot create the database {}: {e}", file.display()))?;
                Self::open_sqlite(SqliteConnectOptions::new().filename(file)).await
            }
        }
    }

    async fn open_sqlite(options: SqliteConnectOptions) -> anyhow::Result<Db> {
        Self::open_sqlite_with(options, CheckpointPolicy::DEFAULT).await
    }

    async fn open_sqlite_with(options: SqliteConnectOptions, policy: CheckpointPolicy) -> anyhow::Result<Db> {
        // The busy timeout still covers other processes (an operator's `taskchat users …` beside the server).
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        // The writer does not checkpoint: SQLite would do it inside whichever commit crosses 1,000 WAL pages,
        // holding the write lock for the 5-10 ms of copying and fsync while every other writer waits.
        // The WAL is restarted from its start after each restart checkpoint (see `checkpoint_in_background`);
        // the size limit then gives back the disk space a burst of writes took.
        let write_options = options
            .clone()
            .create_if_missing(true)
            .pragma("wal_autocheckpoint", "0")
            .pragma("journal_size_limit", (policy.restart_frames.saturating_mul(4096)).to_string());
        let write = Lane::open(&write_options, 1, WRITE_WAIT_LIMIT).await?;
        let writer = Writer::start(write.clone(), WRITE_WAIT_LIMIT)?;
        // An in-memory database is private to its connection: reads must use the writer's.
        let name = options.get_filename().to_string_lossy();
        if name.is_empty()
            || name.contains(":memory:")
            || name.contains("sqlx-in-memory")
            || name.contains("mode=memory")
        {
            return Ok(Db::Sqlite(SqlitePools {
                read: write.clone(),
                write,
                writer,
                checkpoints: None,
                alive: Default::default(),
            }));
        }
        let read = Lane::open(&options.clone().read_only(true), 8, Duration::from_secs(10)).await?;
        // A restart checkpoint waits in SQLite's busy handler for the readers of older snapshots, while writers
        // wait for it: a reader that long is not waited for (the next round tries again).
        let checkpoints =
            Lane::open(&options.clone().busy_timeout(Duration::from_millis(100)), 1, Duration::from_secs(10)).await?;
        let alive = std::sync::Arc::new(());
        tokio::spawn(checkpoint_in_background(
            checkpoints.clone(),
            write.clone(),
            policy,
            std::sync::Arc::downgrade(&alive),
        ));
        Ok(Db::Sqlite(SqlitePools { read, write, writer, checkpoints: Some(checkpoints), alive }))
    }

    /// A short name for logs and health output.
    pub fn kind(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    fn migrator(&self) -> &'static Migrator {
        match self {
            Db::Sqlite(_) => &SQLITE_MIGRATIONS,
            Db::Postgres(_) => &POSTGRES_MIGRATIONS,
        }
    }

    /// Applies every pending migration.
    pub async fn migrate_up(&self) -> anyhow::Result<()> {
        let migrator = self.migrator();
        match self {
            Db::Sqlite(p) => migrator.run(&mut *p.write.acquire().await?).await?,
            Db::Postgres(p) => migrator.run(p).await?,
        }
        Ok(())
    }

    /// Reverts applied migrations newer than `target` (0 reverts all of them).
    pub async fn migrate_down(&self, target: i64) -> anyhow::Result<()> {
        let migrator = self.migrator();
        match self {
            Db::Sqlite(p) => migrator.undo(&mut *p.write.acquire().await?, target).await?,
            Db::Postgres(p) => migrator.undo(p, target).await?,
        }
        Ok(())
    }

    /// The newest applied migration, or 0.
    pub async fn current_version(&self) -> anyhow::Result<i64> {
        Ok(self.migration_status().await?.iter().filter(|m| m.applied).map(|m| m.version).max().unwrap_or(0))
    }

    /// Every known migration with whether it has been applied.
    pub async fn migration_status(&self) -> anyhow::Result<Vec<MigrationStatus>> {
        let migrator = self.migrator();
        // Writes: it creates the migrations table when missing.
        let applied = match self {
            Db::Sqlite(p) => applied_migrations(&mut *p.write.acquire().await?).await?,
            Db::Postgres(p) => applied_migrations(&mut *p.acquire().await?).await?,
        };
        Ok(migrator
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .map(|m| MigrationStatus {
                version: m.version,
                description: m.description.to_string(),
                applied: applied.contains(&m.version),
            })
            .collect())
    }

    /// True when a trivial query answers: what `/readyz` reports.
    pub async fn ping(&self) -> bool {
        with_db!(self, |pool| sqlx::query("SELECT 1").execute(pool).await.is_ok())
    }

    /// (open connections, idle connections, maximum) of the pools.
    pub fn pool_stats(&self) -> (u32, u32, u32) {
        // A lane opens all its connections up front: its size is its maximum.
        let stats = |l: &Lane| (l.size(), l.idle(), l.size());
        match self {
            Db::Sqlite(p) if p.checkpoints.is_none() => stats(&p.write),
            Db::Sqlite(p) => {
                let (r, w) = (stats(&p.read), stats(&p.write));
                (r.0 + w.0, r.1 + w.1, r.2 + w.2)
            }
            Db::Postgres(p) => (p.size(), p.num_idle() as u32, p.options().get_max_connections()),
        }
    }

    /// Writes waiting for SQLite's writer; `None` on PostgreSQL, whose writes do not queue in taskchat.
    pub fn writes_waiting(&self) -> Option<usize> {
        match self {
            Db::Sqlite(p) => Some(p.writer.waiting()),
            Db::Postgres(_) => None,
        }
    }

    /// Closes every pooled connection (SQLite checkpoints its WAL when the writer, closed last, goes).
    pub async fn close(&self) {
        match self {
            // The writer closes the write lane after the writes queued before.
            Db::Sqlite(SqlitePools { writer, checkpoints: None, .. }) => writer.close().await,
            Db::Sqlite(SqlitePools { read, writer, checkpoints: Some(c), .. }) => {
                c.close().await;
                read.close().await;
                writer.close().await;
            }
            Db::Postgres(p) => p.close().await,
        }
    }
}

/// How long a write may wait for its turn; covers a burst of hundreds of turns at once.
const WRITE_WAIT_LIMIT: Duration = Duration::from_secs(30);

async fn applied_migrations(conn: &mut impl Migrate) -> Result<Vec<i64>, sqlx::migrate::MigrateError> {
    conn.ensure_migrations_table("_sqlx_migrations").await?;
    Ok(conn.list_applied_migrations("_sqlx_migrations").await?.into_iter().map(|m| m.version).collect())
}

#[derive(Clone, Copy, Debug)]
struct CheckpointPolicy {
    every: Duration,
    /// WAL frames (pages, 4 KiB each) past which the WAL is restarted.
    restart_frames: i64,
}

impl CheckpointPolicy {
    /// A passive checkpoint every 0.5 s; a restart past 256 MiB of WAL. Each restart holds the writer for a few
    /// milliseconds (and costs an fsync of the WAL's new header): past 64 MiB, restarts came every 0.75 s at full
    /// load and cost ≈ 8 % of the turns per second; 256 MiB takes ≈ 3 s of full load or an hour at 20 turns/s.
    const DEFAULT: CheckpointPolicy = CheckpointPolicy { every: Duration::from_millis(500), restart_frames: 65_536 };
}

/// Copies the WAL back into the database file from a connection of its own, so writers rarely wait for it.
///
/// A passive checkpoint takes no lock that writers or readers need; it copies what no reader still uses, and a
/// later one finishes the rest. But SQLite starts the WAL over from its beginning only when a write begins while
/// every frame is copied and no reader holds an older snapshot, which under steady reads and writes never
/// happens: the file grew by gigabytes in minutes of benchmark load. So once the WAL
/// holds `restart_frames`, a restart checkpoint runs while the writer is held (writers queue in order meanwhile,
/// instead of sleeping in SQLite's busy handler): it copies what the passive one left, waits briefly for readers
/// of older snapshots, and the next write starts the WAL over. Ends when its lane is closed (the database closes)
/// or the database is forgotten.
async fn checkpoint_in_background(lane: Lane, write: Lane, policy: CheckpointPolicy, alive: std::sync::Weak<()>) {
    loop {
        tokio::time::sleep(policy.every).await;
        if alive.strong_count() == 0 || lane.is_closed() {
            lane.close().await;
            return;
        }
        // (busy, frames in the WAL, frames copied)
        let passive: sqlx::Result<(i64, i64, i64)> =
            sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&lane).await;
        match passive {
            Ok((_, frames, _)) if frames >= policy.restart_frames => {
                // Held on the write lane itself, so the writer thread's next write waits for it.
                let Ok(_held) = write.acquire().await else { continue };
                let restart: sqlx::Result<(i64, i64, i64)> =
                    sqlx::query_as("PRAGMA wal_checkpoint(RESTART)").fetch_one(&lane).await;
                if let Err(e) = restart {
                    tracing::warn!(error = %e, "WAL restart checkpoint failed; retrying");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed; retrying"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads and writes without pause for a while; returns the WAL's largest size seen, in bytes.
    async fn wal_peak_under_load(restart_frames: i64) -> u64 {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.db");
        let policy = CheckpointPolicy { every: Duration::from_millis(20), restart_frames };
        let db = Db::open_sqlite_with(SqliteConnectOptions::new().filename(&file), policy).await.unwrap();
        let Db::Sqlite(pools) = &db else { unreachable!() };
        sqlx::query("CREATE TABLE t (n INTEGER PRIMARY KEY, body BLOB)").execute(&pools.write).await.unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let (read, stop) = (pools.read.clone(), stop.clone());
                tokio::spawn(async move {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let _: i64 = sqlx::query_scalar("SELECT count(*) FROM t").fetch_one(&read).await.unwrap();
                    }
                })
            })
            .collect();
        let wal = dir.path().join("t.db-wal");
        let mut peak = 0;
        for n in 0..3_000 {
            sqlx::query("INSERT INTO t (n, body) VALUES ($1, zeroblob(3000))")
                .bind(n)
                .execute(&pools.write)
                .await
                .unwrap();
            peak = peak.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for r in readers {
            r.await.unwrap();
        }
        db.close().await;
        peak
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_stays_bounded_while_reads_and_writes_never_pause() {
        // Without restarts the WAL takes nearly every frame written (≈ 37 MB of an idle machine's run): passive
        // checkpoints alone let it start over only when the readers happen to pause, which a loaded machine's
        // scheduler does now and then (23 MB seen under a full test run).
        let unbounded = wal_peak_under_load(i64::MAX).await;
        assert!(unbounded > 16 << 20, "the load did not starve the WAL of restarts ({unbounded} bytes)");
        // Restarted past 200 frames (0.8 MB), it stays within a few checkpoint rounds' growth (≤ 4 MB seen).
        let bounded = wal_peak_under_load(200).await;
        assert!(bounded < 8 << 20, "the WAL grew to {bounded} bytes with restarts past 200 frames");
        assert!(bounded * 2 < unbounded, "restarts made no difference: {bounded} vs {unbounded} bytes");
    }
}
