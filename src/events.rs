//! Live updates: what changed for a person (a task added, completed, edited, deleted; a thread created,
//! renamed, deleted, or given a new message), whichever door changed it, delivered to every open page of
//! theirs through `GET /api/events`. With PostgreSQL the events travel through `LISTEN/NOTIFY`, so every copy
//! of taskchat hears every change; with SQLite (one process) they stay in memory.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::Db;

const CHANNEL: &str = "taskchat_events";
/// Events a slow page may fall behind by before it is told to reload.
const BACKLOG: usize = 256;
/// PostgreSQL: events waiting to go out through NOTIFY. When the database falls this far behind, newer events
/// are dropped and every page is told to reload, rather than holding an unbounded backlog in memory or making
/// request handlers wait.
const NOTIFY_BACKLOG: usize = 4096;
/// PostgreSQL: notifications sent by one statement.
const NOTIFY_BATCH: usize = 256;
/// PostgreSQL refuses longer NOTIFY payloads (8000 bytes); such an event becomes a reload for its person.
const NOTIFY_MAX_PAYLOAD: usize = 7999;

/// One change, as pages receive it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LiveEvent {
    #[serde(rename = "type")]
    pub kind: String,
    pub data: Value,
}

pub struct EventBus {
    subscribers: Mutex<HashMap<String, broadcast::Sender<Arc<LiveEvent>>>>,
    /// PostgreSQL: events go out through NOTIFY (in order, in batches, by one task) and come back through LISTEN.
    notify: Option<mpsc::Sender<String>>,
    /// Numbers the notifications: PostgreSQL delivers identical payloads sent in one transaction only once.
    sequence: AtomicU64,
    /// Events dropped because the NOTIFY backlog was full (or failed to send) and not yet covered by a reload.
    dropped: Arc<AtomicU64>,
    dropped_total: AtomicU64,
    /// Each person's open event streams, oldest first, with the signal that ends each.
    streams: Mutex<HashMap<String, VecDeque<OpenStream>>>,
    stream_limit: AtomicUsize,
    next_stream: AtomicU64,
}

/// An open stream's number and the signal that ends it.
type OpenStream = (u64, Arc<tokio::sync::Notify>);

/// One open event stream's place among its person's; dropping it (the stream ended) frees the place.
pub struct StreamSlot {
    id: u64,
    user_id: String,
    pub ended: Arc<tokio::sync::Notify>,
    bus: Arc<EventBus>,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut streams = self.bus.streams.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(open) = streams.get_mut(&self.user_id) {
            open.retain(|(id, _)| *id != self.id);
            if open.is_empty() {
                streams.remove(&self.user_id);
            }
        }
    }
}

impl EventBus {
    pub fn new(db: &Db) -> Arc<EventBus> {
        let pool = match db {
            Db::Postgres(pool) => Some(pool.clone()),
            Db::Sqlite(_) => None,
        };
        let (notify, rx) = match &pool {
            Some(_) => {
                let (tx, rx) = mpsc::channel(NOTIFY_BACKLOG);
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };
        let bus = Arc::new(EventBus {
            subscribers: Mutex::new(HashMap::new()),
            notify,
            sequence: AtomicU64::new(0),
            dropped: Arc::new(AtomicU64::new(0)),
            dropped_total: AtomicU64::new(0),
            streams: Mutex::new(HashMap::new()),
            stream_limit: AtomicUsize::new(16),
            next_stream: AtomicU64::new(0),
        });
        if let (Some(pool), Some(rx)) = (pool, rx) {
            tokio::spawn(send_notifications(pool.clone(), rx, bus.dropped.clone()));
            tokio::spawn(listen(pool, Arc::downgrade(&bus)));
        }
        bus
    }

    /// Tells the person's open pages (on every copy) about a change. Never waits.
    pub fn publish(&self, user_id: &str, kind: &str, data: Value) {
        match &self.notify {
            Some(tx) => {
                let n = self.sequence.fetch_add(1, Ordering::Relaxed);
                let mut payload = json!({"u": user_id, "t": kind, "d": data, "n": n}).to_string();
                if payload.len() > NOTIFY_MAX_PAYLOAD {
                    payload = json!({"u": user_id, "t": "resync", "d": {}, "n": n}).to_string();
                }
                if let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send(payload) {
                    self.dropped_total.fetch_add(1, Ordering::Relaxed);
                    if self.dropped.fetch_add(1, Ordering::Relaxed) == 0 {
                        tracing::warn!(
                            backlog = NOTIFY_BACKLOG,
                            "live updates are falling behind the database; dropping them until it catches up \
                             (open pages will reload)"
                        );
                    }
                }
            }
            None => self.deliver(user_id, LiveEvent { kind: kind.to_string(), data }),
        }
    }

    /// Live updates dropped since start because the database could not take them (PostgreSQL).
    pub fn dropped_total(&self) -> u64 {
        self.dropped_total.load(Ordering::Relaxed)
    }

    fn deliver(&self, user_id: &str, event: LiveEvent) {
        let mut subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        // A failed send means nobody listens any more.
        if let Some(tx) = subs.get(user_id)
            && tx.send(Arc::new(event)).is_err()
        {
            subs.remove(user_id);
        }
    }

    /// How many event streams one person may hold open; past it the oldest ends (a forgotten tab, say).
    pub fn set_stream_limit(&self, n: usize) {
        self.stream_limit.store(n.max(1), Ordering::Relaxed);
    }

    /// A place for a new event stream of `user_id`, ending their oldest one when they are at the limit.
    pub fn open_stream(self: &Arc<Self>, user_id: &str) -> StreamSlot {
        let id = self.next_stream.fetch_add(1, Ordering::Relaxed);
        let ended = Arc::new(tokio::sync::Notify::new());
        let limit = self.stream_limit.load(Ordering::Relaxed);
        let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        let open = streams.entry(user_id.to_string()).or_default();
        while open.len() >= limit {
            if let Some((_, oldest)) = open.pop_front() {
                // A permit is kept if the stream is not waiting yet: it ends at its next poll.
                oldest.notify_one();
            }
        }
        open.push_back((id, ended.clone()));
        StreamSlot { id, user_id: user_id.to_string(), ended, bus: self.clone() }
    }

    pub fn subscribe(&self, user_id: &str) -> broadcast::Receiver<Arc<LiveEvent>> {
        let mut subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        subs.entry(user_id.to_string()).or_insert_with(|| broadcast::channel(BACKLOG).0).subscribe()
    }
}

/// Sends what is queued, up to [`NOTIFY_BATCH`] notifications per statement, in order (PostgreSQL delivers the
/// notifications of one transaction in the order they were sent).
async fn send_notifications(pool: sqlx::PgPool, mut rx: mpsc::Receiver<String>, dropped: Arc<AtomicU64>) {
    let mut batch = Vec::with_capacity(NOTIFY_BATCH);
    while rx.recv_many(&mut batch, NOTIFY_BATCH).await > 0 {
        // Events were lost (queue full, or a failed send): after what was queued before, every page reloads.
        let lost = dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            tracing::warn!(dropped = lost, "live updates were dropped; telling every open page to reload");
            batch.push(json!({"t": "resync"}).to_string());
        }
        let sent = sqlx::query("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p")
            .bind(CHANNEL)
            .bind(&batch)
            .execute(&pool)
            .await;
        // A database outage loses notifications, not changes: pages reload once it is back.
        if let Err(e) = sent {
            tracing::warn!(error = %e, count = batch.len(), "could not publish live updates");
            dropped.fetch_add(batch.len() as u64, Ordering::Relaxed);
        }
        batch.clear();
    }
}

async fn listen(pool: sqlx::PgPool, bus: std::sync::Weak<EventBus>) {
    loop {
        // Shutting down: the database is closed on purpose.
        if pool.is_closed() {
            return;
        }
        let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(_) if pool.is_closed() => return,
            Err(e) => {
                tracing::warn!(error = %e, "live updates: cannot connect to listen; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            tracing::warn!(error = %e, "live updates: LISTEN failed; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => {
                    let Some(bus) = bus.upgrade() else { return };
                    if let Ok(v) = serde_json::from_str::<Value>(n.payload()) {
                        match (v["u"].as_str(), v["t"].as_str()) {
                            (Some(u), Some(t)) => {
                                bus.deliver(u, LiveEvent { kind: t.to_string(), data: v["d"].clone() })
                            }
                            // Some copy dropped events: nobody knows whose.
                            (None, Some("resync")) => bus.resync_all(),
                            _ => {}
                        }
                    }
                }
                // The connection dropped (a restart, say): tell pages to resynchronise, then listen again.
                Ok(None) => {
                    if let Some(bus) = bus.upgrade() {
                        bus.resync_all();
                    }
                }
                Err(e) => {
                    if !pool.is_closed() {
                        tracing::warn!(error = %e, "live updates: the listening connection failed; reconnecting");
                    }
                    break;
                }
            }
            if bus.strong_count() == 0 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

impl EventBus {
    /// After a gap in delivery, every open page reloads its data.
    fn resync_all(&self) {
        let subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        for tx in subs.values() {
            let _ = tx.send(Arc::new(LiveEvent { kind: "resync".into(), data: json!({}) }));
        }
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/events", get(events))
}

/// `GET /api/events`: a server-sent event stream of the caller's changes. It opens with `ready`; `resync`
/// means "reload, you may have missed something".
async fn events(State(state): State<AppState>, user: CurrentUser) -> Response {
    let rx = state.events.subscribe(user.id());
    let slot = state.events.open_stream(user.id());
    let guard = state.metrics.stream_opened();
    let ready = futures::stream::once(async { Ok::<_, Infallible>(Event::default().event("ready").data("{}")) });
    let changes = futures::stream::unfold(rx, |mut rx| async move {
        let event = match rx.recv().await {
            Ok(e) => (*e).clone(),
            Err(broadcast::error::RecvError::Lagged(_)) => LiveEvent { kind: "resync".into(), data: json!({}) },
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((event, rx))
    })
    .map(move |e| {
        let _open = &guard;
        Ok::<_, Infallible>(Event::default().event(e.kind.clone()).data(e.data.to_string()))
    });
    // A page's stream ends when the server shuts down (the page reconnects to another copy, or later).
    // It also ends when the person opens more streams than their limit and this is the oldest.
    let stopping = state.shutdown.clone();
    let stream = ready.chain(changes).take_until(async move {
        tokio::select! {
            _ = stopping.wait() => {}
            _ = slot.ended.notified() => {}
        }
    });
    let mut res = Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response();
    res.headers_mut().insert("x-accel-buffering", axum::http::HeaderValue::from_static("no"));
    res
}
