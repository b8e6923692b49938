//! Scripted fake model services for the assistant's tests: one small HTTP server on a random loopback port that
//! speaks OpenAI's Chat Completions streaming (`POST /v1/chat/completions`) and Gemini's
//! `POST /v1beta/models/{model}:streamGenerateContent?alt=sse`, in their real `text/event-stream` wire formats.
//!
//! Each provider has a queue of scripted replies, one per request, and every request is recorded (path, query,
//! headers, raw body and JSON) for assertions. A reply can be a normal stream or a fault: an HTTP status (429
//! with `Retry-After`, 500), a hang before the headers, a stall or a connection reset mid-stream, garbage data
//! lines. A "forever" script answers every request once the queue is empty (a model that never stops).

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use taskchat::config::ServeArgs;
use tokio::sync::{Notify, watch};

pub const OPENAI_KEY: &str = "sk-test";
pub const GEMINI_KEY: &str = "gemini-test-key";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    OpenAi,
    Gemini,
}

/// One piece of a streamed body.
#[derive(Clone)]
pub enum Piece {
    /// An SSE event: `data: <payload>\n\n`.
    Data(String),
    /// Bytes sent exactly as given.
    Raw(String),
    /// Waits until the test notifies, then goes on (to prove the other side streams).
    Gate(Arc<Notify>),
    /// Sends nothing more and never ends the body.
    Stall,
    /// Drops the connection: the body ends with an error, without its terminating chunk.
    Reset,
}

/// The reply to one request.
#[derive(Clone)]
pub enum Scripted {
    /// `200 text/event-stream` with these pieces.
    Stream(Vec<Piece>),
    /// A plain HTTP answer.
    Status { status: u16, headers: Vec<(String, String)>, body: String },
    /// Never answers (not even the headers).
    Hang,
}

impl Scripted {
    /// HTTP 429 with `Retry-After: 0`, in OpenAI's error shape.
    pub fn rate_limited() -> Scripted {
        Scripted::Status {
            status: 429,
            headers: vec![("retry-after".into(), "0".into())],
            body: json!({"error": {"message": "Rate limit reached for fake-model in organization org-secret-123",
                                   "type": "requests", "code": "rate_limit_exceeded"}})
            .to_string(),
        }
    }

    /// HTTP 500 with an internal-looking body that must never reach the person.
    pub fn server_error() -> Scripted {
        Scripted::Status {
            status: 500,
            headers: vec![],
            body: json!({"error": {"message": "Traceback (most recent call last): upstream_worker_7 exploded",
                                   "type": "server_error"}})
            .to_string(),
        }
    }

    /// The reply as JSON, for recorded wire pairs: a stream as its data payloads in order (each read as JSON when
    /// it is), a plain answer as its status and body.
    pub fn describe(&self) -> Value {
        let payload = |d: &str| serde_json::from_str(d).unwrap_or_else(|_| Value::String(d.to_string()));
        match self {
            Scripted::Stream(pieces) => {
                let data: Vec<Value> = pieces
                    .iter()
                    .map(|p| match p {
                        Piece::Data(d) => payload(d),
                        Piece::Raw(r) => json!({"raw": r}),
                        Piece::Gate(_) => json!("<gate>"),
                        Piece::Stall => json!("<stall>"),
                        Piece::Reset => json!("<reset>"),
                    })
                    .collect();
                json!({"status": 200, "content_type": "text/event-stream", "data": data})
            }
            Scripted::Status { status, body, .. } => {
                json!({"status": status, "content_type": "application/json", "body": payload(body)})
            }
            Scripted::Hang => json!("<hang>"),
        }
    }

    /// A 200 stream whose data lines are not JSON.
    pub fn garbage() -> Scripted {
        Scripted::Stream(vec![
            Piece::Data("<html><body>502 Bad Gateway (nginx/1.25.3)</body></html>".into()),
            Piece::Data("{\"choices\": [".into()),
            Piece::Data("[DONE]".into()),
        ])
    }
}

/// A request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub raw: String,
    pub json: Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

type Forever = Arc<dyn Fn(usize) -> Scripted + Send + Sync>;

#[derive(Default)]
struct ScriptState {
    queues: HashMap<Provider, VecDeque<Scripted>>,
    forever: HashMap<Provider, Forever>,
    requests: HashMap<Provider, Vec<Recorded>>,
    /// Requests that found no script (answered 418 so the test fails visibly).
    unscripted: Vec<String>,
}

struct Shared {
    state: Mutex<ScriptState>,
    arrivals: watch::Sender<u64>,
}

pub struct FakeModels {
    pub url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeModels {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeModels {
    pub async fn start() -> FakeModels {
        let (arrivals, _) = watch::channel(0);
        let shared = Arc::new(Shared { state: Mutex::new(ScriptState::default()), arrivals });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake model server");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeModels { url, shared, server }
    }

    pub fn openai_base_url(&self) -> String {
        format!("{}/v1", self.url)
    }

    pub fn gemini_base_url(&self) -> String {
        format!("{}/v1beta", self.url)
    }

    /// Points taskchat at this fake: `models` like "openai:fake-model" or "gemini:fake-gemini,openai:fake-model";
    /// model calls time out after 2 s and are retried once.
    pub fn configure(&self, args: &mut ServeArgs, models: &str) {
        args.models = Some(models.into());
        args.openai_base_url = self.openai_base_url();
        args.openai_api_key = Some(OPENAI_KEY.into());
        args.gemini_base_url = self.gemini_base_url();
        args.gemini_api_key = Some(GEMINI_KEY.into());
        args.model_timeout = 2;
        args.model_retries = 1;
        // The request shapes the tests expect, whatever the environment says.
        args.openai_temperature = None;
        args.openai_stream = true;
        args.openai_stream_usage = true;
        args.gemini_temperature = None;
    }

    /// Queues the reply to the next request to `provider`.
    pub fn push(&self, provider: Provider, reply: Scripted) {
        self.shared.state.lock().unwrap().queues.entry(provider).or_default().push_back(reply);
    }

    /// Answers every request to `provider` that finds the queue empty; the argument counts those requests.
    pub fn forever(&self, provider: Provider, reply: impl Fn(usize) -> Scripted + Send + Sync + 'static) {
        self.shared.state.lock().unwrap().forever.insert(provider, Arc::new(reply));
    }

    pub fn stop_forever(&self, provider: Provider) {
        self.shared.state.lock().unwrap().forever.remove(&provider);
    }

    /// Every request `provider` received, oldest first.
    pub fn requests(&self, provider: Provider) -> Vec<Recorded> {
        self.shared.state.lock().unwrap().requests.get(&provider).cloned().unwrap_or_default()
    }

    pub fn request_count(&self, provider: Provider) -> usize {
        self.shared.state.lock().unwrap().requests.get(&provider).map_or(0, Vec::len)
    }

    /// Scripted replies not consumed yet.
    pub fn pending(&self, provider: Provider) -> usize {
        self.shared.state.lock().unwrap().queues.get(&provider).map_or(0, VecDeque::len)
    }

    /// Requests that found no script (each answered with HTTP 418).
    pub fn unscripted(&self) -> Vec<String> {
        self.shared.state.lock().unwrap().unscripted.clone()
    }

    /// Waits (at most `limit`) until `provider` has received `n` requests.
    pub async fn wait_for_requests(&self, provider: Provider, n: usize, limit: Duration) {
        let mut rx = self.shared.arrivals.subscribe();
        let reached = tokio::time::timeout(limit, rx.wait_for(|_| self.request_count(provider) >= n)).await;
        assert!(
            reached.is_ok(),
            "{provider:?} received {} requests, not {n}, within {limit:?}",
            self.request_count(provider)
        );
    }
}

async fn handle(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or_default().to_string();
    let provider = if path == "/v1/chat/completions" {
        Provider::OpenAi
    } else if path.starts_with("/v1beta/models/") && path.ends_with(":streamGenerateContent") {
        Provider::Gemini
    } else {
        return (StatusCode::NOT_FOUND, format!("the fake has no route {path}")).into_response();
    };
    let raw = String::from_utf8_lossy(&body).into_owned();
    let json = serde_json::from_str(&raw).unwrap_or(Value::Null);
    let recorded = Recorded { path: path.clone(), query: query.clone(), headers: headers.clone(), raw, json };
    // Refuse what the real services refuse, before consuming a script.
    let refusal = match provider {
        Provider::OpenAi => (headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())
            != Some(format!("Bearer {OPENAI_KEY}").as_str()))
        .then(|| (401, json!({"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}))),
        Provider::Gemini if query != "alt=sse" => {
            Some((400, json!({"error": {"code": 400, "message": "alt=sse expected", "status": "INVALID_ARGUMENT"}})))
        }
        Provider::Gemini => {
            (headers.get("x-goog-api-key").and_then(|v| v.to_str().ok()) != Some(GEMINI_KEY)).then(|| {
                (403, json!({"error": {"code": 403, "message": "API key not valid", "status": "PERMISSION_DENIED"}}))
            })
        }
    };
    let reply = {
        let mut state = shared.state.lock().unwrap();
        state.requests.entry(provider).or_default().push(recorded);
        match refusal {
            Some((status, body)) => Scripted::Status { status, headers: vec![], body: body.to_string() },
            None => match state.queues.get_mut(&provider).and_then(VecDeque::pop_front) {
                Some(r) => r,
                None => match state.forever.get(&provider).cloned() {
                    Some(f) => {
                        let n = state.requests[&provider].len();
                        f(n)
                    }
                    None => {
                        state.unscripted.push(format!("{provider:?} {path}"));
                        Scripted::Status {
                            status: 418,
                            headers: vec![],
                            body: json!({"error": {"message": "the fake has no scripted reply left"}}).to_string(),
                        }
                    }
                },
            },
        }
    };
    shared.arrivals.send_modify(|n| *n += 1);
    match reply {
        Scripted::Hang => std::future::pending().await,
        Scripted::Status { status, headers, body } => {
            let mut res = Response::builder()
                .status(StatusCode::from_u16(status).unwrap())
                .header(header::CONTENT_TYPE, "application/json");
            for (k, v) in headers {
                res = res.header(k, v);
            }
            res.body(Body::from(body)).unwrap()
        }
        Scripted::Stream(pieces) => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "text/event-stream")
            .header(header::CACHE_CONTROL, "no-cache")
            .body(stream_body(pieces))
            .unwrap(),
    }
}

fn stream_body(pieces: Vec<Piece>) -> Body {
    let stream = futures::stream::unfold(VecDeque::from(pieces), |mut rest| async move {
        loop {
            match rest.pop_front()? {
                Piece::Data(d) => return Some((Ok(Bytes::from(format!("data: {d}\n\n"))), rest)),
                Piece::Raw(r) => return Some((Ok(Bytes::from(r)), rest)),
                Piece::Gate(gate) => gate.notified().await,
                Piece::Stall => std::future::pending::<()>().await,
                Piece::Reset => {
                    rest.clear();
                    let e = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "the fake drops the connection");
                    return Some((Err(e), rest));
                }
            }
        }
    });
    Body::from_stream(stream)
}

/// Splits text in `n` pieces at character boundaries (the last takes the rest).
fn split_in(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let size = chars.len().div_ceil(n).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

/// OpenAI Chat Completions streaming chunks.
pub mod openai {
    use super::*;

    pub const MODEL: &str = "fake-model";

    pub fn chunk(delta: Value, finish_reason: Option<&str>) -> String {
        json!({
            "id": "chatcmpl-fake123",
            "object": "chat.completion.chunk",
            "created": 1_760_000_000,
            "model": MODEL,
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}],
            "usage": null,
        })
        .to_string()
    }

    /// The last chunk when `stream_options.include_usage` is set: no choices, the usage.
    pub fn usage_chunk() -> String {
        json!({
            "id": "chatcmpl-fake123",
            "object": "chat.completion.chunk",
            "created": 1_760_000_000,
            "model": MODEL,
            "system_fingerprint": "fp_fake",
            "choices": [],
            "usage": {"prompt_tokens": 321, "completion_tokens": 12, "total_tokens": 333},
        })
        .to_string()
    }

    /// An answer in text, one content chunk per item.
    pub fn text_pieces(parts: &[&str]) -> Vec<Piece> {
        let mut out = vec![Piece::Data(chunk(json!({"role": "assistant", "content": "", "refusal": null}), None))];
        for p in parts {
            out.push(Piece::Data(chunk(json!({"content": p}), None)));
        }
        out.push(Piece::Data(chunk(json!({}), Some("stop"))));
        out.push(Piece::Data(usage_chunk()));
        out.push(Piece::Data("[DONE]".into()));
        out
    }

    pub fn text(parts: &[&str]) -> Scripted {
        Scripted::Stream(text_pieces(parts))
    }

    /// Tool calls `(id, name, arguments as sent)`, each call's arguments split over three chunks.
    pub fn tool_call_pieces(calls: &[(&str, &str, &str)]) -> Vec<Piece> {
        let mut out = vec![Piece::Data(chunk(json!({"role": "assistant", "content": null, "refusal": null}), None))];
        for (index, (id, name, arguments)) in calls.iter().enumerate() {
            out.push(Piece::Data(chunk(
                json!({"tool_calls": [{"index": index, "id": id, "type": "function",
                                       "function": {"name": name, "arguments": ""}}]}),
                None,
            )));
            for part in split_in(arguments, 3) {
                out.push(Piece::Data(chunk(
                    json!({"tool_calls": [{"index": index, "function": {"arguments": part}}]}),
                    None,
                )));
            }
        }
        out.push(Piece::Data(chunk(json!({}), Some("tool_calls"))));
        out.push(Piece::Data(usage_chunk()));
        out.push(Piece::Data("[DONE]".into()));
        out
    }

    pub fn tool_calls(calls: &[(&str, &str, &str)]) -> Scripted {
        Scripted::Stream(tool_call_pieces(calls))
    }

    pub fn tool_call(id: &str, name: &str, arguments: &str) -> Scripted {
        tool_calls(&[(id, name, arguments)])
    }

    /// A whole `chat.completion` answer (`stream: false`) with this message.
    pub fn completion(message: Value, finish_reason: &str) -> Scripted {
        let body = json!({
            "id": "chatcmpl-fake456",
            "object": "chat.completion",
            "created": 1_760_000_000,
            "model": MODEL,
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": 321, "completion_tokens": 12, "total_tokens": 333},
        });
        Scripted::Status { status: 200, headers: vec![], body: body.to_string() }
    }

    /// A whole answer in text.
    pub fn completion_text(text: &str) -> Scripted {
        completion(json!({"role": "assistant", "content": text, "refusal": null}), "stop")
    }

    /// A whole answer with tool calls `(id, name, arguments as sent)`.
    pub fn completion_tool_calls(calls: &[(&str, &str, &str)]) -> Scripted {
        let calls: Vec<Value> = calls
            .iter()
            .map(|(id, name, arguments)| {
                json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}})
            })
            .collect();
        completion(json!({"role": "assistant", "content": null, "refusal": null, "tool_calls": calls}), "tool_calls")
    }
}

/// Gemini `streamGenerateContent?alt=sse` events.
pub mod gemini {
    use super::*;

    pub const MODEL: &str = "fake-gemini";

    pub fn event(parts: Value, finish_reason: Option<&str>) -> String {
        let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
        if let Some(reason) = finish_reason {
            candidate["finishReason"] = json!(reason);
        }
        json!({
            "candidates": [candidate],
            "usageMetadata": {"promptTokenCount": 321, "candidatesTokenCount": 12, "totalTokenCount": 333},
            "modelVersion": MODEL,
            "responseId": "fake-response-1",
        })
        .to_string()
    }

    /// One event per item of `events` (each a JSON array of parts); the last carries `finishReason: STOP`.
    pub fn events(events: &[Value]) -> Scripted {
        let n = events.len();
        Scripted::Stream(
            events
                .iter()
                .enumerate()
                .map(|(i, parts)| Piece::Data(event(parts.clone(), (i + 1 == n).then_some("STOP"))))
                .collect(),
        )
    }

    /// An answer in text, one event per item.
    pub fn text(parts: &[&str]) -> Scripted {
        let events: Vec<Value> = parts.iter().map(|p| json!([{"text": p}])).collect();
        self::events(&events)
    }

    /// One function call carrying a thought signature.
    pub fn call(name: &str, args: Value, signature: &str) -> Scripted {
        events(&[json!([{"functionCall": {"name": name, "args": args}, "thoughtSignature": signature}])])
    }
}
