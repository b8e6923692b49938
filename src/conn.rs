//! What keeps clients that never finish a request, or a crowd of idle sockets, from using up the server: a
//! registry of open connections with their idle time, a cap on how many are open (the oldest idle one makes
//! room for a new one, so `/healthz` and signed-in people are still answered under a flood), and the request
//! tracking that tells an idle connection from one that is answering or streaming.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};

/// The limits of `taskchat serve` on connections and requests (see `ServeArgs`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The longest wait for a request's headers, from the connection's start or the first byte of the request.
    pub header_timeout: Duration,
    /// How long a connection may sit with no request under way before it is closed.
    pub idle_timeout: Duration,
    /// The longest wait for the next piece of a request body.
    pub body_timeout: Duration,
    /// The longest a handler may take to start its answer (streams then run on their own keep-alives).
    pub request_timeout: Duration,
    /// Open connections at most; past it the oldest idle one is closed, or the new one refused.
    pub max_connections: usize,
}

/// One open connection, as the registry sees it.
pub struct Conn {
    /// When the last request on it ended (or it was accepted): milliseconds since the registry started.
    idle_since: AtomicU64,
    /// Requests being answered on it, their bodies still streaming included.
    busy: AtomicUsize,
    /// Raised when the registry closes it to make room.
    evicted: tokio::sync::Notify,
}

impl Conn {
    /// Whether it has had no request under way for `idle` (then closing it loses nothing).
    fn idle_for(&self, now_ms: u64) -> Option<u64> {
        (self.busy.load(Ordering::Acquire) == 0).then(|| now_ms.saturating_sub(self.idle_since.load(Ordering::Acquire)))
    }
}

/// How many connections a new one at the cap looks at to find the longest idle.
const EVICTION_SAMPLE: usize = 64;

/// Every open connection, for the cap and for eviction.
pub struct Registry {
    start: Instant,
    next_id: AtomicU64,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    max: usize,
    evictions: AtomicU64,
    refusals: AtomicU64,
}

/// A connection's place in the registry; dropping it (the connection ended) frees the place.
pub struct Registered {
    id: u64,
    pub conn: Arc<Conn>,
    registry: Arc<Registry>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}

impl Registry {
    pub fn new(max: usize) -> Arc<Registry> {
        Arc::new(Registry {
            start: Instant::now(),
            next_id: AtomicU64::new(0),
            conns: Mutex::new(HashMap::new()),
            max: max.max(1),
            evictions: AtomicU64::new(0),
            refusals: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        // A panic while holding the map cannot leave it half-changed: every change is one insert or remove.
        self.conns.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub fn open(&self) -> usize {
        self.lock().len()
    }

    /// (connections closed to make room, connections refused because none was idle)
    pub fn shed(&self) -> (u64, u64) {
        (self.evictions.load(Ordering::Relaxed), self.refusals.load(Ordering::Relaxed))
    }

    /// A place for a new connection: at the cap, the longest idle of a sample is closed to make it; when
    /// every connection is answering a request, `None` (the new one is refused).
    pub fn register(self: &Arc<Self>) -> Option<Registered> {
        let now = self.now_ms();
        let mut conns = self.lock();
        if conns.len() >= self.max {
            // The longest idle of a sample, as Redis evicts: a flood at the cap costs each accept a few dozen
            // looks, not one per open connection. The map's order is random, so every connection is sampled
            // in time; a busy-only sample looks further.
            let mut oldest: Option<(u64, u64)> = None;
            for (seen, (id, c)) in conns.iter().enumerate() {
                if let Some(idle) = c.idle_for(now)
                    && oldest.is_none_or(|(best, _)| idle > best)
                {
                    oldest = Some((idle, *id));
                }
                if seen >= EVICTION_SAMPLE && oldest.is_some() {
                    break;
                }
            }
            let oldest = oldest.map(|(_, id)| id);
            match oldest.and_then(|id| conns.remove(&id)) {
                Some(victim) => {
                    victim.evicted.notify_one();
                    self.evictions.fetch_add(1, Ordering::Relaxed);
                }
                None => {
                    self.refusals.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn {
            idle_since: AtomicU64::new(now),
            busy: AtomicUsize::new(0),
            evicted: tokio::sync::Notify::new(),
        });
        conns.insert(id, conn.clone());
        Some(Registered { id, conn, registry: self.clone() })
    }

    /// Marks a request under way on `conn` until the returned guard drops (with the answer's body).
    pub fn begin(self: &Arc<Self>, conn: &Arc<Conn>) -> Busy {
        conn.busy.fetch_add(1, Ordering::AcqRel);
        Busy { conn: conn.clone(), registry: self.clone() }
    }

    /// Resolves when `conn` should close: evicted, or idle past `idle`.
    pub async fn closing(&self, conn: &Conn, idle: Duration) {
        let idle_ms = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX);
        loop {
            let wait = match conn.idle_for(self.now_ms()) {
                Some(for_ms) if for_ms >= idle_ms => return,
                Some(for_ms) => Duration::from_millis(idle_ms - for_ms),
                // Busy: look again after a whole period; the request's end restarts the clock.
                None => idle,
            };
            tokio::select! {
                _ = conn.evicted.notified() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// A request under way; dropping it makes the connection idle from now (when it was the last one).
pub struct Busy {
    conn: Arc<Conn>,
    registry: Arc<Registry>,
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.conn.idle_since.store(self.registry.now_ms(), Ordering::Release);
        self.conn.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An answer's body that keeps its request counted as under way until it has been sent (or dropped).
pub struct TrackedBody {
    inner: Body,
    _busy: Busy,
}

impl TrackedBody {
    pub fn wrap(inner: Body, busy: Busy) -> Body {
        Body::new(TrackedBody { inner, _busy: busy })
    }
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A request body that fails when its next piece is longer in coming than `timeout`, and says so in `fired`
/// (so the answer can be a 408 rather than the handler's "could not read the body").
pub struct TimedBody {
    inner: Body,
    timeout: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    fired: Arc<std::sync::atomic::AtomicBool>,
}

impl TimedBody {
    pub fn wrap(inner: Body, timeout: Duration, fired: Arc<std::sync::atomic::AtomicBool>) -> Body {
        Body::new(TimedBody { inner, timeout, sleep: None, fired })
    }
}

impl http_body::Body for TimedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                self.sleep = None;
                Poll::Ready(frame)
            }
            Poll::Pending => {
                let timeout = self.timeout;
                let sleep = self.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.fired.store(true, Ordering::Release);
                Poll::Ready(Some(Err(axum::Error::new("the request body stopped arriving"))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The open-file limit raised to what the system allows (Linux often starts processes at 1,024 with a far
/// higher hard limit); the limit in force afterwards.
pub fn raise_open_files_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::debug!(error = %e, "could not raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE).ok().map(|(soft, _)| soft)
        }
    }
}

/// The default cap: nine tenths of the open-file limit, leaving the rest to the database, outbound calls
/// and files.
pub fn default_max_connections(open_files: Option<u64>) -> usize {
    let limit = open_files.unwrap_or(1024);
    usize::try_from((limit - limit / 10).max(64)).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn at_the_cap_the_longest_idle_connection_makes_room() {
        let r = Registry::new(2);
        let a = r.register().unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let b = r.register().unwrap();
        let busy_b = r.begin(&b.conn);
        // a is idle the longest: it is closed for c.
        let c = r.register().expect("a makes room");
        tokio::time::timeout(Duration::from_secs(1), r.closing(&a.conn, Duration::from_secs(60)))
            .await
            .expect("a was told to close");
        assert_eq!(r.open(), 2);
        // b answers a request and c has one under way too: nothing can be closed, a fourth is refused.
        let busy_c = r.begin(&c.conn);
        assert!(r.register().is_none());
        assert_eq!(r.shed(), (1, 1));
        drop(busy_b);
        assert!(r.register().is_some(), "b became idle");
        drop((busy_c, a));
    }

    #[tokio::test]
    async fn an_idle_connection_closes_after_the_idle_timeout_and_a_busy_one_does_not() {
        let r = Registry::new(10);
        let a = r.register().unwrap();
        let t = Instant::now();
        r.closing(&a.conn, Duration::from_millis(50)).await;
        assert!(t.elapsed() >= Duration::from_millis(50));
        let busy = r.begin(&a.conn);
        let waited =
            tokio::time::timeout(Duration::from_millis(150), r.closing(&a.conn, Duration::from_millis(50))).await;
        assert!(waited.is_err(), "a busy connection is not idle");
        drop(busy);
        let t = Instant::now();
        r.closing(&a.conn, Duration::from_millis(50)).await;
        assert!(t.elapsed() >= Duration::from_millis(45), "idle counts from the end of the last request");
    }

    #[test]
    fn the_default_cap_leaves_a_tenth_of_the_files() {
        assert_eq!(default_max_connections(Some(20_000)), 18_000);
        assert_eq!(default_max_connections(Some(10)), 64);
        assert_eq!(default_max_connections(None), 922);
    }
}
