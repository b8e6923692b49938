//! The thread that runs every SQLite write, one after another.
//!
//! SQLite admits one writer at a time, so writes queue; what matters is how long each one keeps the next
//! waiting. When every request task took the writer connection itself, a one-statement write held it for
//! 200-270 µs under load, of which SQLite's own work was a fraction: the rest was the request task waiting to
//! be polled again by a tokio worker busy with other requests, once when the statement's result came back and
//! once more when the connection passed to the next writer. Here the connection is used by one thread of its
//! own, which takes the queued writes in order and runs each as soon as the last is done; the request tasks
//! only wait for their answers, off the path that the next write waits on.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::BoxFuture;
use sqlx::SqliteConnection;
use tokio::sync::{mpsc, oneshot};

use super::Lane;

type Job = Box<dyn for<'a> FnOnce(&'a Lane) -> BoxFuture<'a, ()> + Send>;

enum Msg {
    Job(Job),
    Close(oneshot::Sender<()>),
}

/// The writer thread's queue; cloned with the [`Db`](super::Db) that holds it. The thread ends once the
/// database is closed or every copy is gone.
#[derive(Clone, Debug)]
pub struct Writer(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    queue: mpsc::UnboundedSender<Msg>,
    /// A write still queued after this long fails, unrun, with [`sqlx::Error::PoolTimedOut`].
    wait_limit: Duration,
    /// Writes queued and not yet started.
    waiting: Arc<AtomicUsize>,
}

impl Writer {
    /// Starts the thread. Each write takes `lane`'s connection for as long as it runs, so anything else holding
    /// the lane (the checkpointer, a migration) is waited for, in turn.
    pub fn start(lane: Lane, wait_limit: Duration) -> std::io::Result<Writer> {
        let (queue, jobs) = mpsc::unbounded_channel();
        // A runtime of its own: its one thread wakes the moment a statement's result arrives, instead of
        // queueing behind the server's other tasks.
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        thread::Builder::new().name("sqlite-writer".into()).spawn(move || runtime.block_on(serve(lane, jobs)))?;
        Ok(Writer(Arc::new(Inner { queue, wait_limit, waiting: Arc::default() })))
    }

    /// Writes queued and not yet started: above a handful for long, the writer is the bottleneck.
    pub fn waiting(&self) -> usize {
        self.0.waiting.load(Ordering::Relaxed)
    }

    /// Runs `write` on the writer connection once the writes queued before it are done, and returns its result.
    ///
    /// It runs to its end even if the caller stops waiting (a request cancelled mid-transaction cannot leave
    /// the connection inside it), and not at all if the caller stopped waiting before its turn came.
    pub async fn run<T, F>(&self, write: F) -> sqlx::Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, sqlx::Result<T>> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let queued = Instant::now();
        let wait_limit = self.0.wait_limit;
        let queued_mark = Queued::new(&self.0.waiting);
        let job: Job = Box::new(move |lane: &Lane| {
            async move {
                drop(queued_mark);
                if answer.is_closed() {
                    return;
                }
                let result = if queued.elapsed() > wait_limit {
                    Err(sqlx::Error::PoolTimedOut)
                } else {
                    match lane.acquire().await {
                        // A panicking write must not take the thread (and every later write) with it. Its
                        // connection goes back to the lane; an open transaction is rolled back by sqlx before
                        // the connection's next statement.
                        Ok(mut conn) => AssertUnwindSafe(write(&mut conn))
                            .catch_unwind()
                            .await
                            .unwrap_or(Err(sqlx::Error::WorkerCrashed)),
                        Err(e) => Err(e),
                    }
                };
                let _ = answer.send(result);
            }
            .boxed()
        });
        self.0.queue.send(Msg::Job(job)).map_err(|_| sqlx::Error::PoolClosed)?;
        answered.await.unwrap_or(Err(sqlx::Error::PoolClosed))
    }

    /// Runs the writes queued so far, then closes the lane and ends the thread; later writes fail with
    /// [`sqlx::Error::PoolClosed`].
    pub async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.0.queue.send(Msg::Close(done)).is_ok() {
            let _ = closed.await;
        }
    }
}

/// Counts a write as waiting from its queueing until it starts, or until it is dropped unrun.
struct Queued(Arc<AtomicUsize>);

impl Queued {
    fn new(waiting: &Arc<AtomicUsize>) -> Queued {
        waiting.fetch_add(1, Ordering::Relaxed);
        Queued(waiting.clone())
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn serve(lane: Lane, mut queue: mpsc::UnboundedReceiver<Msg>) {
    while let Some(msg) = queue.recv().await {
        match msg {
            Msg::Job(job) => job(&lane).await,
            Msg::Close(done) => {
                queue.close();
                lane.close().await;
                let _ = done.send(());
                break;
            }
        }
    }
    // Writes queued after the close are dropped with the queue: their callers see PoolClosed.
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::SqliteConnectOptions;

    async fn writer(dir: &tempfile::TempDir) -> (Lane, Writer) {
        let options = SqliteConnectOptions::new().filename(dir.path().join("w.db")).create_if_missing(true);
        let lane = Lane::open(&options, 1, Duration::from_secs(5)).await.unwrap();
        sqlx::query("CREATE TABLE t (n INTEGER PRIMARY KEY)").execute(&lane).await.unwrap();
        (lane.clone(), Writer::start(lane, Duration::from_secs(5)).unwrap())
    }

    async fn count(lane: &Lane) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM t").fetch_one(lane).await.unwrap()
    }

    async fn rows(lane: &Lane) -> Vec<i64> {
        sqlx::query_scalar("SELECT n FROM t ORDER BY n").fetch_all(lane).await.unwrap()
    }

    fn insert(c: &mut SqliteConnection, n: i64) -> BoxFuture<'_, sqlx::Result<()>> {
        Box::pin(async move { sqlx::query("INSERT INTO t (n) VALUES ($1)").bind(n).execute(c).await.map(|_| ()) })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_run_in_the_order_they_were_queued_and_answer_their_callers() {
        let dir = tempfile::tempdir().unwrap();
        let (lane, writer) = writer(&dir).await;
        let calls: Vec<_> = (0..200i64)
            .map(|n| {
                let writer = writer.clone();
                async move {
                    writer
                        .run(move |c| {
                            Box::pin(async move {
                                sqlx::query_scalar::<_, i64>("INSERT INTO t (n) VALUES ($1) RETURNING n")
                                    .bind(n)
                                    .fetch_one(c)
                                    .await
                            })
                        })
                        .await
                }
            })
            .collect();
        let answers: Vec<i64> = futures::future::try_join_all(calls).await.unwrap();
        assert_eq!(answers, (0..200).collect::<Vec<_>>());
        assert_eq!(count(&lane).await, 200);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_or_panicking_write_leaves_nothing_behind_and_the_next_one_runs() {
        let dir = tempfile::tempdir().unwrap();
        let (lane, writer) = writer(&dir).await;
        let failed = writer
            .run(|c| {
                Box::pin(async move {
                    let mut tx = sqlx::Connection::begin(c).await?;
                    sqlx::query("INSERT INTO t (n) VALUES (1)").execute(&mut *tx).await?;
                    sqlx::query("INSERT INTO t (n) VALUES (1)").execute(&mut *tx).await?;
                    tx.commit().await
                })
            })
            .await;
        assert!(matches!(failed, Err(sqlx::Error::Database(_))), "{failed:?}");
        let panicked = writer
            .run(|c| {
                Box::pin(async move {
                    let mut tx = sqlx::Connection::begin(c).await?;
                    sqlx::query("INSERT INTO t (n) VALUES (2)").execute(&mut *tx).await?;
                    panic!("a bug in a write");
                    #[allow(unreachable_code)]
                    tx.commit().await
                })
            })
            .await;
        assert!(matches!(panicked, Err(sqlx::Error::WorkerCrashed)), "{panicked:?}");
        writer.run(|c| insert(c, 3)).await.unwrap();
        assert_eq!(rows(&lane).await, [3]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_whose_caller_left_before_its_turn_is_not_run() {
        let dir = tempfile::tempdir().unwrap();
        let (lane, writer) = writer(&dir).await;
        // Hold the connection so the writes queue. Each write is queued by one poll of its call (the send
        // happens before the first await), so the order is the test's, not the scheduler's.
        let held = lane.acquire().await.unwrap();
        let mut abandoned = Box::pin(writer.run(|c| insert(c, 1)));
        assert!(futures::poll!(&mut abandoned).is_pending());
        // The thread takes the first write off the queue and waits for the connection with it.
        wait_until(|| writer.waiting() == 0).await;
        let mut kept = Box::pin(writer.run(|c| insert(c, 2)));
        assert!(futures::poll!(&mut kept).is_pending());
        let mut third = Box::pin(writer.run(|c| insert(c, 3)));
        assert!(futures::poll!(&mut third).is_pending());
        assert_eq!(writer.waiting(), 2, "the second and third wait in the queue");
        // The first was already started, so it runs; the third was still queued, so it must not.
        drop(abandoned);
        drop(third);
        drop(held);
        kept.await.unwrap();
        // A write queued after the third is answered only once the third has been taken off the queue.
        writer.run(|c| Box::pin(async move { sqlx::query("SELECT 1").execute(c).await.map(|_| ()) })).await.unwrap();
        assert_eq!(rows(&lane).await, [1, 2]);
        assert_eq!(writer.waiting(), 0);
    }

    async fn wait_until(done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !done() {
            assert!(Instant::now() < deadline, "timed out");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn close_runs_what_was_queued_then_refuses_more() {
        let dir = tempfile::tempdir().unwrap();
        let (_lane, writer) = writer(&dir).await;
        // The write is queued in its first poll, before the close.
        let queued = writer.run(|c| insert(c, 1));
        let (written, ()) = tokio::join!(queued, async { writer.close().await });
        written.unwrap();
        let late = writer.run(|c| Box::pin(async move { sqlx::query("SELECT 1").execute(c).await })).await;
        assert!(matches!(late, Err(sqlx::Error::PoolClosed)), "{late:?}");
    }
}
