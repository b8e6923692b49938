//! Live updates: what changed for a person (a task added, completed, edited, deleted; a thread created,
//! renamed, deleted, or given a new message), whichever door changed it, delivered to every open page of
//! theirs through `GET /api/events`. With PostgreSQL the events travel through `LISTEN/NOTIFY`, so every copy
//! of taskchat hears every change; with SQLite (one process) they stay in memory.

use std::collections::HashMap;
use std::convert::Infallible;
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

/// One change, as pages receive it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LiveEvent {
    #[serde(rename = "type")]
    pub kind: String,
    pub data: Value,
}

pub struct EventBus {
    subscribers: Mutex<HashMap<String, broadcast::Sender<Arc<LiveEvent>>>>,
    /// PostgreSQL: events go out through NOTIFY (in order, by one task) and come back through LISTEN.
    notify: Option<mpsc::UnboundedSender<String>>,
}

impl EventBus {
    pub fn new(db: &Db) -> Arc<EventBus> {
        let pool = match db {
            Db::Postgres(pool) => Some(pool.clone()),
            Db::Sqlite(_) => None,
        };
        let (notify, rx) = match &pool {
            Some(_) => {
                let (tx, rx) = mpsc::unbounded_channel();
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };
        let bus = Arc::new(EventBus { subscribers: Mutex::new(HashMap::new()), notify });
        if let (Some(pool), Some(rx)) = (pool, rx) {
            tokio::spawn(send_notifications(pool.clone(), rx));
            tokio::spawn(listen(pool, Arc::downgrade(&bus)));
        }
        bus
    }

    /// Tells the person's open pages (on every copy) about a change.
    pub fn publish(&self, user_id: &str, kind: &str, data: Value) {
        match &self.notify {
            Some(tx) => {
                let payload = json!({"u": user_id, "t": kind, "d": data}).to_string();
                let _ = tx.send(payload);
            }
            None => self.deliver(user_id, LiveEvent { kind: kind.to_string(), data }),
        }
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

    pub fn subscribe(&self, user_id: &str) -> broadcast::Receiver<Arc<LiveEvent>> {
        let mut subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        subs.entry(user_id.to_string()).or_insert_with(|| broadcast::channel(BACKLOG).0).subscribe()
    }
}

async fn send_notifications(pool: sqlx::PgPool, mut rx: mpsc::UnboundedReceiver<String>) {
    while let Some(payload) = rx.recv().await {
        // A database outage loses the notification, not the change: pages resynchronise when they reconnect.
        if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(&payload).execute(&pool).await {
            tracing::warn!(error = %e, "could not publish a live update");
        }
    }
}

async fn listen(pool: sqlx::PgPool, bus: std::sync::Weak<EventBus>) {
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(l) => l,
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
                    if let Ok(v) = serde_json::from_str::<Value>(n.payload())
                        && let (Some(u), Some(t)) = (v["u"].as_str(), v["t"].as_str())
                    {
                        bus.deliver(u, LiveEvent { kind: t.to_string(), data: v["d"].clone() });
                    }
                }
                // The connection dropped (a restart, say): tell pages to resynchronise, then listen again.
                Ok(None) => {
                    if let Some(bus) = bus.upgrade() {
                        bus.resync_all();
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "live updates: the listening connection failed; reconnecting");
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
    let stopping = state.shutdown.clone();
    let stream = ready.chain(changes).take_until(async move { stopping.wait().await });
    let mut res = Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response();
    res.headers_mut().insert("x-accel-buffering", axum::http::HeaderValue::from_static("no"));
    res
}
