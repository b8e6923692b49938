//! Prometheus metrics at `GET /metrics`: request counts and latency by route and status, chat turns with their
//! model, tool and server time, model errors by kind, open streams, and database pool use. A small registry of
//! our own: a handful of families, rendered in the text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::db::Db;

/// Upper bounds (seconds) of the latency buckets: fine below 10 ms, where the server's own share lives.
const BUCKETS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0];

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, v: f64) {
        for (i, b) in BUCKETS.iter().enumerate() {
            if v <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }
}

type Labels = Vec<(&'static str, String)>;

#[derive(Default)]
struct Families {
    counters: BTreeMap<(&'static str, Labels), u64>,
    histograms: BTreeMap<(&'static str, Labels), Histogram>,
}

/// The registry; cheap to clone.
#[derive(Clone, Default)]
pub struct Metrics {
    inner: Arc<Mutex<Families>>,
    open_streams: Arc<AtomicI64>,
}

const HELP: &[(&str, &str, &str)] = &[
    ("taskchat_http_requests_total", "counter", "HTTP requests by route, method and status."),
    ("taskchat_http_request_duration_seconds", "histogram", "Time to the response head, by route and method."),
    ("taskchat_chat_turns_total", "counter", "Chat turns by outcome."),
    ("taskchat_chat_turn_seconds", "histogram", "Chat turn time by part: model, tools, server (the rest), total."),
    ("taskchat_model_errors_total", "counter", "Model call failures by provider and kind."),
    ("taskchat_open_streams", "gauge", "Streaming responses open now (chat, ChatKit, events)."),
    ("taskchat_db_pool_connections", "gauge", "Database pool connections by state."),
    ("taskchat_db_writes_waiting", "gauge", "Writes queued for SQLite's one writer, not yet started (SQLite only)."),
];

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Families> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn inc(&self, name: &'static str, labels: Labels) {
        *self.lock().counters.entry((name, labels)).or_default() += 1;
    }

    pub fn observe(&self, name: &'static str, labels: Labels, value: Duration) {
        self.lock().histograms.entry((name, labels)).or_default().observe(value.as_secs_f64());
    }

    /// Records a finished chat turn and how its time divided.
    pub fn chat_turn(&self, outcome: &str, total: Duration, model: Duration, tools: Duration) {
        self.inc("taskchat_chat_turns_total", vec![("outcome", outcome.to_string())]);
        let server = total.saturating_sub(model).saturating_sub(tools);
        for (part, d) in [("total", total), ("model", model), ("tools", tools), ("server", server)] {
            self.observe("taskchat_chat_turn_seconds", vec![("part", part.to_string())], d);
        }
    }

    pub fn model_error(&self, provider: &str, kind: &str) {
        self.inc("taskchat_model_errors_total", vec![("provider", provider.to_string()), ("kind", kind.to_string())]);
    }

    /// Counts a stream as open until the guard is dropped.
    pub fn stream_opened(&self) -> StreamGuard {
        self.open_streams.fetch_add(1, Ordering::Relaxed);
        StreamGuard(self.open_streams.clone())
    }

    pub fn open_streams(&self) -> i64 {
        self.open_streams.load(Ordering::Relaxed)
    }

    /// The text exposition format.
    pub fn render(&self, db: &Db) -> String {
        let mut out = String::new();
        let f = self.lock();
        for (name, kind, help) in HELP {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            match *kind {
                "counter" => {
                    for ((n, labels), v) in f.counters.iter().filter(|((n, _), _)| n == name) {
                        let _ = writeln!(out, "{n}{} {v}", fmt_labels(labels, None));
                    }
                }
                "histogram" => {
                    for ((n, labels), h) in f.histograms.iter().filter(|((n, _), _)| n == name) {
                        for (i, b) in BUCKETS.iter().enumerate() {
                            let _ =
                                writeln!(out, "{n}_bucket{} {}", fmt_labels(labels, Some(&b.to_string())), h.counts[i]);
                        }
                        let _ = writeln!(out, "{n}_bucket{} {}", fmt_labels(labels, Some("+Inf")), h.count);
                        let _ = writeln!(out, "{n}_sum{} {}", fmt_labels(labels, None), h.sum);
                        let _ = writeln!(out, "{n}_count{} {}", fmt_labels(labels, None), h.count);
                    }
                }
                _ if *name == "taskchat_open_streams" => {
                    let _ = writeln!(out, "{name} {}", self.open_streams());
                }
                _ if *name == "taskchat_db_writes_waiting" => {
                    if let Some(waiting) = db.writes_waiting() {
                        let _ = writeln!(out, "{name} {waiting}");
                    }
                }
                _ => {
                    let (size, idle, max) = db.pool_stats();
                    let _ = writeln!(out, "{name}{{state=\"idle\"}} {idle}");
                    let _ = writeln!(out, "{name}{{state=\"in_use\"}} {}", size.saturating_sub(idle));
                    let _ = writeln!(out, "{name}{{state=\"max\"}} {max}");
                }
            }
        }
        out
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn fmt_labels(labels: &Labels, le: Option<&str>) -> String {
    let mut parts: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() { String::new() } else { format!("{{{}}}", parts.join(",")) }
}

/// Decrements the open-stream gauge when dropped.
pub struct StreamGuard(Arc<AtomicI64>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts and times every request by its route pattern (not its path: ids would explode the label set).
pub async fn track(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    metrics.observe(
        "taskchat_http_request_duration_seconds",
        vec![("route", route.clone()), ("method", method.clone())],
        started.elapsed(),
    );
    metrics.inc("taskchat_http_requests_total", vec![("route", route), ("method", method), ("status", status)]);
    res
}

/// `GET /metrics`, behind a bearer token when one is configured.
pub fn respond(metrics: &Metrics, db: &Db, token: Option<&str>, headers: &HeaderMap) -> Response {
    if let Some(expected) = token {
        let given = crate::auth::bearer_token(headers).unwrap_or_default();
        if !bool::from(subtle::ConstantTimeEq::ct_eq(given.as_bytes(), expected.as_bytes())) {
            return crate::error::AppError::unauthorized().into_response();
        }
    }
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], metrics.render(db))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative() {
        let mut h = Histogram::default();
        h.observe(0.003);
        h.observe(0.2);
        assert_eq!(h.counts[2], 0); // ≤ 2.5 ms
        assert_eq!(h.counts[3], 1); // ≤ 5 ms
        assert_eq!(h.counts[8], 2); // ≤ 250 ms
        assert_eq!(h.count, 2);
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(fmt_labels(&vec![("route", "a\"b".into())], Some("+Inf")), "{route=\"a\\\"b\",le=\"+Inf\"}");
    }
}
