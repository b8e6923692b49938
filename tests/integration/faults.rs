//! Fault tests: the server killed under chat load, its database going away or locked, and model services that
//! hang, reset, stream garbage or rate-limit. Each fault must end in a complete database, a clean JSON error or
//! a fallback answer within bounded time, streams that close, and nothing leaked.
//!
//! The crash and memory tests run the real binary as a child process (SIGKILL needs a process of its own); the
//! others run the server in the test process.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use taskchat::db::Db;

use crate::common::{Backend, Client, PASSWORD, SECRET, TRUSTED, TestApp, fresh_database, postgres_available};
use crate::fake_models::{FakeModels, Piece, Provider, Scripted, gemini, openai};
use crate::on_both_databases;

const BIN: &str = env!("CARGO_BIN_EXE_taskchat");
const OPENAI: &str = "openai:fake-model";
const GEMINI_THEN_OPENAI: &str = "gemini:fake-gemini,openai:fake-model";

// ---------------------------------------------------------------------------------------------------------------
// Helpers: deadlines, event streams, metrics
// ---------------------------------------------------------------------------------------------------------------

/// Polls `check` every 50 ms until it returns `Some`, or fails with `what` after `limit`.
async fn poll<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// Reads a whole event stream: each event's JSON data, in order. Fails if the stream is still open after
/// `limit` (a stuck stream) or ends in the middle of an event.
async fn read_events(mut res: reqwest::Response, limit: Duration) -> Vec<Value> {
    let deadline = Instant::now() + limit;
    let mut buf: Vec<u8> = vec![];
    let mut out = vec![];
    loop {
        while let Some(pos) = buf.windows(2).position(|w| w == b"\n\n") {
            let block: Vec<u8> = buf.drain(..pos + 2).collect();
            let block = String::from_utf8(block).expect("events are UTF-8");
            let data: Vec<&str> = block
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            if !data.is_empty() {
                out.push(serde_json::from_str(&data.join("\n")).expect("event data is JSON"));
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, res.chunk()).await {
            Err(_) => panic!("the stream was still open after {limit:?} (a stuck stream); events so far: {out:?}"),
            Ok(Err(e)) => panic!("the stream broke off instead of ending: {e}; events so far: {out:?}"),
            Ok(Ok(Some(bytes))) => buf.extend_from_slice(&bytes),
            Ok(Ok(None)) => {
                assert!(String::from_utf8_lossy(&buf).trim().is_empty(), "a truncated event at the end: {buf:?}");
                return out;
            }
        }
    }
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap_or("?")).collect()
}

/// POSTs `body` to `path` as the client, asking for an event stream; returns the response (status checked).
async fn open_stream(c: &Client, base: &str, path: &str, body: Value) -> reqwest::Response {
    let mut req = http_client()
        .post(format!("{base}{path}"))
        .header("accept", "text/event-stream")
        .header("content-type", "application/json")
        .header("origin", TRUSTED)
        .body(body.to_string());
    if let Some(cookie) = c.cookie_header() {
        req = req.header("cookie", cookie);
    }
    let res = req.send().await.expect("the stream request is sent");
    assert_eq!(res.status(), 200, "the stream did not open");
    let ct = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(ct.starts_with("text/event-stream"), "content type {ct}");
    res
}

/// The value of the open-streams gauge.
async fn open_streams(base: &str) -> i64 {
    let text = http_client().get(format!("{base}/metrics")).send().await.expect("GET /metrics").text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("taskchat_open_streams "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no taskchat_open_streams in /metrics:\n{text}"))
}

/// Waits until no stream is open any more.
async fn streams_close(base: &str) {
    poll(Duration::from_secs(10), "the open-streams gauge back to 0", || async {
        (open_streams(base).await == 0).then_some(())
    })
    .await;
}

/// A message fit for a person: short, no internals.
fn assert_friendly(message: &str) {
    assert!(!message.trim().is_empty() && message.len() < 300, "not a friendly message: {message:?}");
    let lower = message.to_lowercase();
    for leak in ["http", "openai", "gemini", "status", "{", "::", "src/", "sqlx", "reqwest", "panicked", "127.0.0.1"] {
        assert!(!lower.contains(leak), "the message mentions {leak:?}: {message}");
    }
}

fn uid(user: &Value) -> String {
    user["id"].as_str().expect("the user has an id").to_string()
}

async fn task_titles(c: &Client) -> Vec<String> {
    let r = c.get("/api/tasks").await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["tasks"].as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap().to_string()).collect()
}

async fn stored_messages(c: &Client, conversation: &str) -> Vec<Value> {
    let r = c.get(&format!("/api/conversations/{conversation}/messages?limit=200")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["messages"].as_array().unwrap().clone()
}

/// Counts panics raised outside the test code (the server's), chaining the previous hook.
fn count_server_panics() -> Arc<AtomicUsize> {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !info.location().is_some_and(|l| l.file().starts_with("tests/")) {
            seen.fetch_add(1, Ordering::SeqCst);
        }
        previous(info);
    }));
    count
}

// ---------------------------------------------------------------------------------------------------------------
// A `taskchat serve` child process
// ---------------------------------------------------------------------------------------------------------------

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port").local_addr().unwrap().port()
}

struct ChildServer {
    child: tokio::process::Child,
    url: String,
    log: PathBuf,
}

impl ChildServer {
    /// Starts `taskchat serve` on `data_dir` (and `database_url`), with a clean environment plus `env`, and
    /// waits for /readyz.
    async fn start(data_dir: &Path, database_url: Option<&str>, env: &[(&str, String)]) -> ChildServer {
        let port = free_port();
        let log = data_dir.join(format!("serve-{port}.log"));
        let log_file = std::fs::File::create(&log).expect("create the log file");
        let mut cmd = tokio::process::Command::new(BIN);
        for (name, _) in std::env::vars_os() {
            let n = name.to_string_lossy();
            if n.starts_with("TASKCHAT_") || n.starts_with("OPENAI_") || n.starts_with("GEMINI_") {
                cmd.env_remove(&name);
            }
        }
        cmd.env_remove("DATABASE_URL").env_remove("BETTER_AUTH_SECRET");
        if let Some(url) = database_url {
            cmd.env("DATABASE_URL", url);
        }
        cmd.env("TASKCHAT_SECRET", SECRET)
            .env("TASKCHAT_RATE_LIMIT_MAX", "0")
            .env("TASKCHAT_TRUSTED_ORIGINS", TRUSTED)
            .env("TASKCHAT_LOG", "warn")
            .env("TASKCHAT_LOG_FORMAT", "json")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--data-dir", data_dir.to_str().expect("a UTF-8 temp path")])
            .current_dir(data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .kill_on_drop(true);
        let mut server = ChildServer {
            child: cmd.spawn().expect("spawn taskchat serve"),
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = server.child.try_wait().expect("poll the child") {
                panic!("taskchat exited ({status}) before it was ready; log:\n{}", server.log_text());
            }
            if let Ok(res) = http.get(format!("{}/readyz", server.url)).send().await
                && res.status() == 200
            {
                return server;
            }
            assert!(Instant::now() < deadline, "taskchat was not ready within 30 s; log:\n{}", server.log_text());
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn pid(&self) -> u32 {
        self.child.id().expect("the child is running")
    }

    /// SIGKILL: no shutdown, no flush, no goodbye.
    async fn kill9(&mut self) {
        let pid = self.pid();
        let status = std::process::Command::new("kill").arg("-KILL").arg(pid.to_string()).status().expect("run kill");
        assert!(status.success(), "kill -KILL {pid} failed");
        let status = tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .expect("the killed server is gone within 10 s")
            .expect("wait for the child");
        assert!(!status.success(), "a SIGKILLed process does not exit cleanly: {status}");
    }

    /// Resident memory, in KiB.
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("read /proc/PID/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/PID/status")
    }

    async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }

    /// A browser-like client of this server.
    fn client(&self) -> Client {
        Client::new(&self.url)
    }
}

/// A client of another server with the same cookies (the same browser after the server came back elsewhere).
fn same_browser(c: &Client, base: &str) -> Client {
    let other = Client::new(base);
    *other.cookies.lock().unwrap() = c.cookies.lock().unwrap().clone();
    other
}

async fn sign_up(c: &Client, name: &str) -> (Value, String) {
    let email = format!("{}-{}@example.com", name.to_lowercase(), taskchat::auth::crypto::generate_id());
    let r = c.post("/api/auth/sign-up/email", json!({"name": name, "email": email, "password": PASSWORD})).await;
    assert_eq!(r.status, 200, "sign-up failed: {}", r.text);
    (r.json["user"].clone(), email)
}

// ---------------------------------------------------------------------------------------------------------------
// A slow model service: every turn is a tool call (add_task, titled with the person's words) and then a
// confirmation, each chunk `pace` apart, so that a kill lands in the middle of turns.
// ---------------------------------------------------------------------------------------------------------------

struct SlowModel {
    url: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for SlowModel {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn start_slow_model(pace: Duration) -> SlowModel {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the slow model");
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(slow_reply).with_state(pace);
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    SlowModel { url, server }
}

async fn slow_reply(State(pace): State<Duration>, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(last) = request["messages"].as_array().and_then(|m| m.last()).cloned() else {
        return (StatusCode::BAD_REQUEST, "no messages").into_response();
    };
    let pieces = if last["role"] == "tool" {
        let result: Value = serde_json::from_str(last["content"].as_str().unwrap_or("null")).unwrap_or(Value::Null);
        let number = result["task"]["number"].to_string();
        let title = result["task"]["title"].as_str().unwrap_or("?").to_string();
        openai::text_pieces(&["Added ", &format!("task {number}, "), &format!("{title}.")])
    } else {
        let title = last["content"].as_str().unwrap_or("?").to_string();
        let id = format!("call_{}", taskchat::auth::crypto::generate_id());
        openai::tool_call_pieces(&[(&id, "add_task", &json!({ "title": title }).to_string())])
    };
    let chunks: Vec<String> = pieces
        .into_iter()
        .map(|p| match p {
            Piece::Data(d) => format!("data: {d}\n\n"),
            Piece::Raw(r) => r,
            _ => String::new(),
        })
        .collect();
    let stream = futures::stream::unfold(chunks.into_iter(), move |mut rest| async move {
        let next = rest.next()?;
        tokio::time::sleep(pace).await;
        Some((Ok::<_, std::io::Error>(Bytes::from(next)), rest))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap()
}

// ---------------------------------------------------------------------------------------------------------------
// Crash: SIGKILL under chat load
// ---------------------------------------------------------------------------------------------------------------

/// A turn the server answered before it was killed.
#[derive(Debug, Clone)]
struct Answered {
    person: usize,
    conversation: String,
    question: String,
    /// Known when the turn came through the event stream.
    user_message: Option<String>,
    answer_id: String,
    answer: String,
}

#[derive(Default)]
struct Load {
    answered: Mutex<Vec<Answered>>,
    /// Anything that went wrong before the kill.
    unexpected: Mutex<Vec<String>>,
    /// Each person's conversation, once known.
    conversations: Mutex<HashMap<usize, String>>,
    killed: AtomicBool,
}

/// One person chatting in a loop, through the JSON door or the event stream, until the server dies.
async fn chat_until_the_server_dies(load: Arc<Load>, person: usize, base: String, cookie: String, user_id: String) {
    let http = http_client();
    let stream = person % 2 == 1;
    for turn in 1.. {
        if load.killed.load(Ordering::SeqCst) {
            return;
        }
        let question = format!("person {person} turn {turn}");
        let mut body = json!({ "message": question });
        let conversation = load.conversations.lock().unwrap().get(&person).cloned();
        if let Some(id) = &conversation {
            body["conversation_id"] = json!(id);
        }
        let mut req = http
            .post(format!("{base}/api/{user_id}/chat"))
            .header("cookie", &cookie)
            .header("origin", TRUSTED)
            .header("content-type", "application/json")
            .body(body.to_string());
        if stream {
            req = req.header("accept", "text/event-stream");
        }
        let res = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                if !load.killed.load(Ordering::SeqCst) {
                    load.unexpected.lock().unwrap().push(format!("person {person}: request failed: {e}"));
                }
                return;
            }
        };
        if res.status() != 200 {
            let status = res.status();
            let text = res.text().await.unwrap_or_default();
            if !load.killed.load(Ordering::SeqCst) {
                load.unexpected.lock().unwrap().push(format!("person {person}: {status} {text}"));
            }
            return;
        }
        if !stream {
            let Ok(v) = res.json::<Value>().await else { return };
            let conversation = v["conversation_id"].as_str().unwrap_or_default().to_string();
            load.conversations.lock().unwrap().insert(person, conversation.clone());
            load.answered.lock().unwrap().push(Answered {
                person,
                conversation,
                question,
                user_message: None,
                answer_id: v["message_id"].as_str().unwrap_or_default().to_string(),
                answer: v["response"].as_str().unwrap_or_default().to_string(),
            });
            continue;
        }
        // The event stream: the turn counts as answered once `answer_done` has arrived.
        let mut res = res;
        let mut buf: Vec<u8> = vec![];
        let mut user_message = None;
        loop {
            let chunk = match res.chunk().await {
                Ok(Some(c)) => c,
                _ => {
                    if !load.killed.load(Ordering::SeqCst) {
                        load.unexpected.lock().unwrap().push(format!("person {person}: the stream broke off"));
                    }
                    return;
                }
            };
            buf.extend_from_slice(&chunk);
            let mut done = false;
            while let Some(pos) = buf.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = buf.drain(..pos + 2).collect();
                let block = String::from_utf8_lossy(&block).into_owned();
                let Some(data) = block.lines().find_map(|l| l.strip_prefix("data:")) else { continue };
                let event: Value = serde_json::from_str(data.trim()).unwrap_or(Value::Null);
                match event["type"].as_str() {
                    Some("turn_started") => {
                        let conversation = event["conversation"]["id"].as_str().unwrap_or_default().to_string();
                        load.conversations.lock().unwrap().insert(person, conversation);
                        user_message = event["user_message"]["id"].as_str().map(str::to_string);
                    }
                    Some("answer_done") => {
                        let conversation = load.conversations.lock().unwrap().get(&person).cloned().unwrap();
                        load.answered.lock().unwrap().push(Answered {
                            person,
                            conversation,
                            question: question.clone(),
                            user_message: user_message.clone(),
                            answer_id: event["message"]["id"].as_str().unwrap_or_default().to_string(),
                            answer: event["message"]["content"].as_str().unwrap_or_default().to_string(),
                        });
                        done = true;
                    }
                    Some("error") => {
                        load.unexpected.lock().unwrap().push(format!("person {person}: {event}"));
                        return;
                    }
                    _ => {}
                }
            }
            if done {
                // Read on to the end (the title may follow), then the next turn.
                while let Ok(Some(_)) = res.chunk().await {}
                break;
            }
        }
    }
}

/// What the database holds, checked for half-written turns: every conversation's messages numbered 1..=last_seq
/// without a gap, no answer without the person's message right before it, no task without the message that
/// asked for it, task numbers counted exactly.
async fn assert_database_is_whole(db: &Db) {
    /// (conversation, last_seq, messages, lowest seq, highest seq)
    type Numbering = (String, i64, i64, i64, i64);
    let (conversations, orphans, tasks_from_nowhere, counters): (Vec<Numbering>, i64, i64, Vec<_>) =
        taskchat::with_db!(db, |pool| {
            let conversations = sqlx::query_as(
                "SELECT c.id, CAST(c.last_seq AS BIGINT), CAST(COUNT(m.id) AS BIGINT),
                        CAST(COALESCE(MIN(m.seq), 0) AS BIGINT), CAST(COALESCE(MAX(m.seq), 0) AS BIGINT)
                 FROM conversation c LEFT JOIN message m ON m.conversation_id = c.id
                 GROUP BY c.id, c.last_seq",
            )
            .fetch_all(pool)
            .await
            .unwrap();
            let (orphans,): (i64,) = sqlx::query_as(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM message a WHERE a.role = 'assistant' AND NOT EXISTS
                 (SELECT 1 FROM message u WHERE u.conversation_id = a.conversation_id AND u.seq = a.seq - 1
                  AND u.role = 'user')",
            )
            .fetch_one(pool)
            .await
            .unwrap();
            let (from_nowhere,): (i64,) = sqlx::query_as(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM task t WHERE NOT EXISTS
                 (SELECT 1 FROM message m WHERE m.user_id = t.user_id AND m.role = 'user' AND m.content = t.title)",
            )
            .fetch_one(pool)
            .await
            .unwrap();
            let counters: Vec<(String, i64, i64, i64)> = sqlx::query_as(
                "SELECT c.user_id, CAST(c.last_number AS BIGINT), CAST(COUNT(t.id) AS BIGINT),
                        CAST(COALESCE(MAX(t.number), 0) AS BIGINT)
                 FROM task_counter c LEFT JOIN task t ON t.user_id = c.user_id GROUP BY c.user_id, c.last_number",
            )
            .fetch_all(pool)
            .await
            .unwrap();
            (conversations, orphans, from_nowhere, counters)
        });
    assert!(!conversations.is_empty());
    for (id, last_seq, count, min, max) in conversations {
        assert_eq!(
            (count, max),
            (last_seq, last_seq),
            "conversation {id}: {count} messages up to seq {max}, but last_seq is {last_seq}"
        );
        assert!(count == 0 || min == 1, "conversation {id}: messages start at seq {min}");
    }
    assert_eq!(orphans, 0, "answers without the person's message before them");
    assert_eq!(tasks_from_nowhere, 0, "tasks that no message of the person asked for");
    for (user, last, count, max) in counters {
        assert_eq!((count, max), (last, last), "{user}: {count} tasks up to number {max}, counter at {last}");
    }
}

on_both_databases!(a_sigkill_under_chat_load_loses_no_answered_turn, |backend: Backend| async move {
    const PEOPLE: usize = 6;
    let model = start_slow_model(Duration::from_millis(25)).await;
    let data_dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database(backend).await;
    let env = [
        ("TASKCHAT_MODELS", "openai:slow-model".to_string()),
        ("OPENAI_BASE_URL", model.url.clone()),
        ("OPENAI_API_KEY", "sk-slow".to_string()),
        ("TASKCHAT_MODEL_TIMEOUT", "10".to_string()),
    ];
    let mut server = ChildServer::start(data_dir.path(), database_url.as_deref(), &env).await;

    let mut people = vec![];
    for i in 0..PEOPLE {
        let c = server.client();
        let (user, email) = sign_up(&c, &format!("Crash{i}")).await;
        people.push((c, user, email));
    }

    // Everyone chats at once; the server is killed once a dozen turns have been answered.
    let load = Arc::new(Load::default());
    let workers: Vec<_> = people
        .iter()
        .enumerate()
        .map(|(i, (c, user, _))| {
            tokio::spawn(chat_until_the_server_dies(
                load.clone(),
                i,
                server.url.clone(),
                c.cookie_header().unwrap(),
                uid(user),
            ))
        })
        .collect();
    poll(Duration::from_secs(60), "a dozen answered turns", || async {
        let unexpected = load.unexpected.lock().unwrap().clone();
        assert!(unexpected.is_empty(), "failures before the kill: {unexpected:?}");
        (load.answered.lock().unwrap().len() >= 12).then_some(())
    })
    .await;
    load.killed.store(true, Ordering::SeqCst);
    server.kill9().await;
    for w in workers {
        tokio::time::timeout(Duration::from_secs(30), w)
            .await
            .expect("the load stops once the server is gone")
            .unwrap();
    }
    let answered = load.answered.lock().unwrap().clone();
    let unexpected = load.unexpected.lock().unwrap().clone();
    assert!(unexpected.is_empty(), "failures before the kill: {unexpected:?}");

    // The server comes back on the same data.
    let server = ChildServer::start(data_dir.path(), database_url.as_deref(), &env).await;
    let db = Db::connect(database_url.as_deref(), data_dir.path()).await.expect("open the database");
    assert_database_is_whole(&db).await;

    // Every answered turn is there whole: the question, then its answer, under the ids the person was given.
    for (i, (c, user, email)) in people.iter().enumerate() {
        let c = same_browser(c, &server.url);
        let conversation = load.conversations.lock().unwrap().get(&i).cloned().expect("a conversation");
        let messages = stored_messages(&c, &conversation).await;
        for (n, m) in messages.iter().enumerate() {
            if m["role"] == "assistant" {
                assert!(n > 0 && messages[n - 1]["role"] == "user", "an answer without its question: {messages:?}");
            }
        }
        let mine: Vec<&Answered> = answered.iter().filter(|a| a.person == i).collect();
        let titles = task_titles(&c).await;
        for a in &mine {
            assert_eq!(a.conversation, conversation);
            let at = messages
                .iter()
                .position(|m| m["id"] == a.answer_id.as_str())
                .unwrap_or_else(|| panic!("the answered turn {a:?} is missing after the crash: {messages:?}"));
            assert_eq!(messages[at]["role"], "assistant");
            assert_eq!(messages[at]["content"], a.answer.as_str());
            assert_eq!(messages[at]["tool_calls"][0]["name"], "add_task", "{:?}", messages[at]);
            assert!(at > 0, "{a:?}");
            let question = &messages[at - 1];
            assert_eq!(question["role"], "user");
            assert_eq!(question["content"], a.question.as_str());
            if let Some(id) = &a.user_message {
                assert_eq!(question["id"], id.as_str());
            }
            assert!(titles.contains(&a.question), "the task of {a:?} is missing: {titles:?}");
        }

        // They carry on: the session still works, they can sign in, and chat again.
        let session = c.get("/api/auth/get-session").await;
        assert_eq!(session.status, 200, "{}", session.text);
        assert_eq!(session.json["user"]["id"], user["id"], "the session survived the crash: {}", session.text);
        let again = Client::new(&server.url);
        let r = again.post("/api/auth/sign-in/email", json!({"email": email, "password": PASSWORD})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let question = format!("person {i} after the crash");
        let r = c
            .post(&format!("/api/{}/chat", uid(user)), json!({"message": question, "conversation_id": conversation}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let after = stored_messages(&c, &conversation).await;
        assert_eq!(after.last().unwrap()["id"], r.json["message_id"]);
        assert_eq!(after[after.len() - 2]["content"], question.as_str());
    }
    // Newcomers too.
    sign_up(&server.client(), "Newcomer").await;
    assert_database_is_whole(&db).await;
    db.close().await;
    server.stop().await;
});

// ---------------------------------------------------------------------------------------------------------------
// Database trouble: PostgreSQL restarted under load
// ---------------------------------------------------------------------------------------------------------------

/// A PostgreSQL cluster of this test's own (scripts/pg.sh), stopped when dropped.
struct OwnCluster {
    dir: tempfile::TempDir,
    bindir: PathBuf,
    pg_user: Option<String>,
    port: String,
    url: String,
}

impl OwnCluster {
    async fn start() -> OwnCluster {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg.sh");
        let out = tokio::process::Command::new(&script)
            .arg("start")
            .arg(dir.path())
            .stdin(Stdio::null())
            .output()
            .await
            .expect("run scripts/pg.sh");
        assert!(out.status.success(), "pg.sh start failed: {}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let url = stdout
            .lines()
            .find_map(|l| l.strip_prefix("export TASKCHAT_TEST_DATABASE_URL="))
            .expect("pg.sh prints the URL")
            .trim()
            .to_string();
        let port = std::fs::read_to_string(dir.path().join("port")).expect("pg.sh writes the port").trim().to_string();
        // The same binaries and user as pg.sh: the newest Debian PostgreSQL, run as `postgres` (or `nobody`) by root.
        let mut bindirs: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| {
                let version = e.file_name().to_string_lossy().split('.').filter_map(|p| p.parse().ok()).collect();
                (version, e.path().join("bin"))
            })
            .filter(|(_, bin)| bin.join("pg_ctl").exists())
            .collect();
        bindirs.sort();
        let bindir = match bindirs.pop() {
            Some((_, bin)) => bin,
            None => {
                let which = std::process::Command::new("sh").args(["-c", "command -v pg_ctl"]).output().unwrap();
                let path = PathBuf::from(String::from_utf8_lossy(&which.stdout).trim());
                std::fs::canonicalize(path).unwrap().parent().unwrap().to_path_buf()
            }
        };
        let uid = std::process::Command::new("id").arg("-u").output().unwrap();
        let pg_user = (String::from_utf8_lossy(&uid.stdout).trim() == "0").then(|| {
            let has_postgres = std::process::Command::new("id").args(["-u", "postgres"]).output();
            if has_postgres.is_ok_and(|o| o.status.success()) { "postgres".to_string() } else { "nobody".to_string() }
        });
        OwnCluster { dir, bindir, pg_user, port, url }
    }

    fn pg_ctl(&self, args: &[&str]) -> tokio::process::Command {
        let pg_ctl = self.bindir.join("pg_ctl");
        let mut cmd = match &self.pg_user {
            Some(user) => {
                let mut c = tokio::process::Command::new("runuser");
                c.args(["-u", user, "--"]).arg(pg_ctl);
                c
            }
            None => tokio::process::Command::new(pg_ctl),
        };
        cmd.arg("-D").arg(self.dir.path().join("data")).args(args).current_dir(self.dir.path()).stdin(Stdio::null());
        cmd
    }

    async fn run(&self, args: &[&str]) {
        let out = self.pg_ctl(args).output().await.expect("run pg_ctl");
        assert!(
            out.status.success(),
            "pg_ctl {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    async fn stop(&self) {
        self.run(&["-m", "fast", "-w", "-t", "30", "-s", "stop"]).await;
    }

    /// Starts it again on the same port, with pg.sh's settings.
    async fn start_again(&self) {
        let dir = self.dir.path().display().to_string();
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {dir}/sock -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=300 -c shared_buffers=64MB",
            self.port
        );
        let log = format!("{dir}/postgres.log");
        self.run(&["-l", &log, "-w", "-t", "60", "-s", "-o", &options, "start"]).await;
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg.sh");
        let _ = std::process::Command::new(script)
            .arg("stop")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// One request's outcome during the outage.
#[derive(Debug, Clone)]
struct Outcome {
    what: String,
    status: u16,
    body: String,
    took: Duration,
}

/// Every answer while the database is away: success, or a generic JSON 5xx (never a hang, a dropped
/// connection, or a leak of what broke).
fn assert_clean(o: &Outcome) {
    assert!(o.took < Duration::from_secs(20), "{} took {:?}", o.what, o.took);
    if o.status < 300 {
        return;
    }
    assert!(o.status == 500 || o.status == 503, "{o:?}");
    let body: Value = serde_json::from_str(&o.body).unwrap_or_else(|_| panic!("not a JSON error: {o:?}"));
    assert!(body["message"].is_string(), "no message: {o:?}");
    match (o.what.as_str(), o.status) {
        ("readyz", 503) => assert_eq!(body["status"], "unavailable", "{o:?}"),
        ("chat", 503) => assert_eq!(body["code"], "ASSISTANT_ERROR", "{o:?}"),
        (_, 500) => {
            assert_eq!(body["code"], "INTERNAL_ERROR", "{o:?}");
            assert_eq!(body["message"], "Something went wrong on our side. Please try again in a moment.");
        }
        _ => panic!("unexpected answer while the database was away: {o:?}"),
    }
    // (/readyz names the kind of database, by design.)
    let lower = o.body.to_lowercase().replace(r#""database":"postgres""#, "");
    for leak in ["sqlx", "postgres", "connection refused", "pool", "timed out", "panicked", "127.0.0.1"] {
        assert!(!lower.contains(leak), "the error leaks {leak:?}: {o:?}");
    }
}

#[derive(Default)]
struct Outage {
    outcomes: Mutex<Vec<Outcome>>,
    /// Titles of the tasks whose creation was answered 201.
    created: Mutex<Vec<(usize, String)>>,
    stop: AtomicBool,
}

impl Outage {
    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.outcomes.lock().unwrap().iter().filter(|o| f(o)).count()
    }
}

async fn work_through_the_outage(outage: Arc<Outage>, person: usize, base: String, cookie: String, user_id: String) {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(25)).build().unwrap();
    for k in 0.. {
        if outage.stop.load(Ordering::SeqCst) {
            return;
        }
        let title = format!("worker {person} task {k}");
        let (what, req) = match k % 4 {
            0 | 2 => ("create", http.post(format!("{base}/api/tasks")).json(&json!({ "title": title }))),
            1 => ("list", http.get(format!("{base}/api/tasks"))),
            _ if k % 8 == 3 => ("readyz", http.get(format!("{base}/readyz"))),
            _ => ("chat", http.post(format!("{base}/api/{user_id}/chat")).json(&json!({"message": "what's left?"}))),
        };
        let started = Instant::now();
        let res = req.header("cookie", &cookie).header("origin", TRUSTED).send().await;
        let took = started.elapsed();
        let (status, body) = match res {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, r.text().await.unwrap_or_else(|e| format!("(the body broke off: {e})")))
            }
            Err(e) => (0, format!("(no answer: {e})")),
        };
        if what == "create" && status == 201 {
            outage.created.lock().unwrap().push((person, title));
        }
        outage.outcomes.lock().unwrap().push(Outcome { what: what.into(), status, body, took });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_load_fails_cleanly_then_recovers_by_itself() {
    if !postgres_available() {
        return;
    }
    let panics = count_server_panics();
    let cluster = OwnCluster::start().await;
    let app =
        TestApp::start_on(Backend::Postgres, tempfile::tempdir().unwrap(), Some(cluster.url.clone()), |_| {}).await;
    let mut people = vec![];
    for i in 0..3 {
        people.push(app.signed_up(&format!("Outage{i}")).await);
    }
    let outage = Arc::new(Outage::default());
    let workers: Vec<_> = people
        .iter()
        .enumerate()
        .map(|(i, (c, user))| {
            tokio::spawn(work_through_the_outage(
                outage.clone(),
                i,
                app.url.clone(),
                c.cookie_header().unwrap(),
                uid(user),
            ))
        })
        .collect();
    let ok = |o: &Outcome| o.status < 300;
    poll(Duration::from_secs(30), "requests served before the outage", || async {
        (outage.count(ok) >= 12).then_some(())
    })
    .await;

    // The database goes away: requests fail cleanly, and /readyz says so.
    cluster.stop().await;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let readyz = || async {
        let r = http.get(format!("{}/readyz", app.url)).send().await.expect("/readyz answers");
        (r.status().as_u16(), r.text().await.unwrap())
    };
    poll(Duration::from_secs(30), "/readyz 503 while the database is down", || async {
        let (status, body) = readyz().await;
        assert!(status == 200 || status == 503, "{status} {body}");
        (status == 503).then_some(())
    })
    .await;
    let failed_before = outage.count(|o| o.status >= 500);
    poll(Duration::from_secs(30), "requests failing while the database is down", || async {
        (outage.count(|o| o.status >= 500) >= failed_before + 3).then_some(())
    })
    .await;

    // It comes back: the pool reconnects on its own.
    cluster.start_again().await;
    poll(Duration::from_secs(30), "/readyz 200 once the database is back", || async {
        (readyz().await.0 == 200).then_some(())
    })
    .await;
    let served = outage.count(ok);
    poll(Duration::from_secs(30), "requests served again after the outage", || async {
        (outage.count(ok) >= served + 12).then_some(())
    })
    .await;
    outage.stop.store(true, Ordering::SeqCst);
    for w in workers {
        tokio::time::timeout(Duration::from_secs(30), w).await.expect("the workers stop").unwrap();
    }
    let outcomes = outage.outcomes.lock().unwrap().clone();
    for o in &outcomes {
        assert_clean(o);
    }
    assert!(outcomes.iter().any(|o| o.status >= 500 && o.what != "readyz"), "no request saw the outage");

    // Nothing answered 201 was lost, and everyone carries on.
    let created = outage.created.lock().unwrap().clone();
    for (i, (c, user)) in people.iter().enumerate() {
        let titles = task_titles(c).await;
        for (_, title) in created.iter().filter(|(p, _)| *p == i) {
            assert!(titles.contains(title), "{title:?} was answered 201 but is gone: {titles:?}");
        }
        assert_eq!(c.post("/api/tasks", json!({"title": "after the outage"})).await.status, 201);
        let r = c.post(&format!("/api/{}/chat", uid(user)), json!({"message": "add a task to call mom"})).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    assert_eq!(panics.load(Ordering::SeqCst), 0, "the server panicked during the outage");
    app.stop().await;
    drop(cluster);
}

// ---------------------------------------------------------------------------------------------------------------
// Database trouble: SQLite busy
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_sqlite_database_is_waited_for_and_nothing_is_lost() {
    use sqlx::Connection;
    let app = TestApp::start(Backend::Sqlite).await;
    let (c, user) = app.signed_up("Busy").await;
    let c = Arc::new(c);

    // Another process holds the write lock.
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(app.data_dir.path().join("taskchat.db"));
    let mut other = sqlx::SqliteConnection::connect_with(&options).await.expect("a second connection");
    sqlx::query("BEGIN IMMEDIATE").execute(&mut other).await.expect("take the write lock");
    let lock_held = Instant::now();
    // Readers are not blocked by the writer.
    let list = c.get("/api/tasks").await;
    assert_eq!(list.status, 200, "{}", list.text);

    const N: usize = 12;
    let mut writes = vec![];
    for i in 0..N {
        let c = c.clone();
        writes.push(tokio::spawn(async move { c.post("/api/tasks", json!({"title": format!("busy {i}")})).await }));
    }
    let chat = {
        let (c, id) = (c.clone(), uid(&user));
        tokio::spawn(
            async move { c.post(&format!("/api/{id}/chat"), json!({"message": "add a task to buy milk"})).await },
        )
    };
    tokio::time::sleep(Duration::from_millis(1500).saturating_sub(lock_held.elapsed())).await;
    let finished = writes.iter().filter(|w| w.is_finished()).count();
    assert_eq!(finished, 0, "writes finished while another connection held the write lock: the test proves nothing");
    sqlx::query("COMMIT").execute(&mut other).await.expect("release the write lock");
    other.close().await.unwrap();

    for w in writes {
        let r = tokio::time::timeout(Duration::from_secs(20), w).await.expect("a write waited forever").unwrap();
        assert_eq!(r.status, 201, "a write failed while the database was busy: {}", r.text);
    }
    let r = tokio::time::timeout(Duration::from_secs(20), chat).await.expect("the chat turn waited forever").unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let list = c.get("/api/tasks").await;
    let numbers: Vec<i64> =
        list.json["tasks"].as_array().unwrap().iter().map(|t| t["number"].as_i64().unwrap()).collect();
    assert_eq!(numbers, (1..=N as i64 + 1).collect::<Vec<_>>(), "every write landed once: {}", list.text);
    let mut titles = task_titles(&c).await;
    titles.sort();
    let mut expected: Vec<String> = (0..N).map(|i| format!("busy {i}")).collect();
    expected.push("buy milk".into());
    expected.sort();
    assert_eq!(titles, expected);
    app.stop().await;
}

/// The writer never checkpoints (that would hold the write lock for milliseconds); a background connection
/// does, so what is written reaches the database file while the server runs, not only at shutdown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_writes_reach_the_database_file_while_the_server_runs() {
    let app = TestApp::start(Backend::Sqlite).await;
    let (c, _) = app.signed_up("Wal").await;
    let file = app.data_dir.path().join("taskchat.db");
    let before = std::fs::metadata(&file).unwrap().len();
    for i in 0..60 {
        let r = c.post("/api/tasks", json!({"title": format!("task {i}"), "description": "d".repeat(1900)})).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    // About 120 KB of rows: they sit in the WAL until a checkpoint copies them into the file.
    let deadline = Instant::now() + Duration::from_secs(10);
    let grown = loop {
        let now = std::fs::metadata(&file).unwrap().len();
        if now >= before + 100_000 || Instant::now() > deadline {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(grown >= before + 100_000, "the database file stayed at {grown} bytes (from {before}): no checkpoint ran");
    assert_eq!(task_titles(&c).await.len(), 60);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------------------------
// Model trouble
// ---------------------------------------------------------------------------------------------------------------

/// One faulty model: its own fake service and server, one person, one turn through a streaming door.
struct Scenario {
    name: &'static str,
    models: &'static str,
    script: Box<dyn FnOnce(&FakeModels) + Send>,
    /// The reason the error event gives; None: the turn is answered (by the fallback).
    reason: Option<&'static str>,
    /// The door: the chat endpoint's event stream, or ChatKit's.
    chatkit: bool,
    /// How long the whole turn may take.
    limit: Duration,
}

/// A tool call that breaks off before it is complete: the tool must not run. (Every request gets one: the
/// reset may come before the response head, and then the call is retried.)
fn a_tool_call_cut_short(_: usize) -> Scripted {
    let mut pieces = openai::tool_call_pieces(&[("call_cut", "add_task", r#"{"title":"leaked task"}"#)]);
    pieces.truncate(3); // the role chunk, the call's name, the first third of its arguments
    pieces.push(Piece::Reset);
    Scripted::Stream(pieces)
}

/// Gemini's version of [`a_tool_call_cut_short`].
fn a_gemini_call_cut_short(_: usize) -> Scripted {
    let partial = gemini::event(json!([{"functionCall": {"name": "add_task", "args": {"title": "x"}}}]), None);
    let cut = partial[..partial.len() / 2].to_string();
    Scripted::Stream(vec![Piece::Raw(format!("data: {cut}")), Piece::Reset])
}

async fn run_scenario(backend: Backend, s: Scenario) {
    let fake = FakeModels::start().await;
    let app = TestApp::start_with(backend, |args| fake.configure(args, s.models)).await;
    let (c, user) = app.signed_up("Faulty").await;
    (s.script)(&fake);
    let question = "add a task to buy milk";
    let started = Instant::now();
    let (path, body) = if s.chatkit {
        (
            "/chatkit".to_string(),
            json!({"type": "threads.create", "params": {"input": {
            "content": [{"type": "input_text", "text": question}], "attachments": [], "inference_options": {}}}}),
        )
    } else {
        (format!("/api/{}/chat", uid(&user)), json!({ "message": question }))
    };
    let res = open_stream(&c, &app.url, &path, body).await;
    let events = read_events(res, s.limit).await;
    let took = started.elapsed();
    let name = s.name;
    assert!(fake.unscripted().is_empty(), "{name}: requests beyond the script: {:?}", fake.unscripted());
    assert!(took < s.limit, "{name}: the turn took {took:?}");
    let kinds = types(&events);
    let last = events.last().unwrap_or_else(|| panic!("{name}: an empty stream"));
    let conversation = if s.chatkit {
        events.iter().find(|e| e["type"] == "thread.created").map(|e| e["thread"]["id"].clone())
    } else {
        events.iter().find(|e| e["type"] == "turn_started").map(|e| e["conversation"]["id"].clone())
    };
    let conversation = conversation.and_then(|v| v.as_str().map(str::to_string)).expect("the turn started");
    let stored = stored_messages(&c, &conversation).await;
    match s.reason {
        Some(reason) => {
            assert_eq!(kinds.iter().filter(|k| **k == "error").count(), 1, "{name}: {events:?}");
            assert_eq!(last["type"], "error", "{name}: the stream ends with the error: {events:?}");
            assert_friendly(last["message"].as_str().unwrap_or_default());
            if s.chatkit {
                assert_eq!(last["allow_retry"], true, "{name}: {last}");
            } else {
                assert_eq!(last["code"], reason, "{name}: {last}");
                assert_eq!(last["retryable"], true, "{name}: {last}");
            }
            // No leaked task, and the transcript is the person's message alone.
            assert_eq!(task_titles(&c).await, Vec::<String>::new(), "{name}: a failed turn left a task");
            assert_eq!(stored.len(), 1, "{name}: {stored:?}");
            assert_eq!(stored[0]["role"], "user");
        }
        None => {
            assert!(!kinds.contains(&"error"), "{name}: {events:?}");
            assert_eq!(stored.len(), 2, "{name}: {stored:?}");
            assert_eq!(stored[1]["content"], "Fallback here.", "{name}");
            assert_eq!(task_titles(&c).await, Vec::<String>::new(), "{name}: the cut-short call ran");
        }
    }
    streams_close(&app.url).await;
    // The person carries on once the model is back.
    fake.stop_forever(Provider::OpenAi);
    fake.stop_forever(Provider::Gemini);
    fake.push(Provider::OpenAi, openai::text(&["Back again."]));
    let r = c.post(&format!("/api/{}/chat", uid(&user)), json!({"message": "still there?"})).await;
    assert_eq!(r.status, 200, "{name}: {}", r.text);
    assert_eq!(r.json["response"], "Back again.", "{name}");
    streams_close(&app.url).await;
    app.stop().await;
}

on_both_databases!(
    a_faulty_model_ends_every_stream_with_a_friendly_error_or_a_fallback,
    |backend: Backend| async move {
        let secs = Duration::from_secs;
        let scenarios = vec![
            Scenario {
                name: "hangs before answering",
                models: OPENAI,
                script: Box::new(|f: &FakeModels| f.forever(Provider::OpenAi, |_| Scripted::Hang)),
                reason: Some("model_timeout"),
                chatkit: false,
                limit: secs(15),
            },
            Scenario {
                name: "hangs before answering (ChatKit)",
                models: OPENAI,
                script: Box::new(|f: &FakeModels| f.forever(Provider::OpenAi, |_| Scripted::Hang)),
                reason: Some("model_timeout"),
                chatkit: true,
                limit: secs(15),
            },
            Scenario {
                name: "stalls mid-answer",
                models: OPENAI,
                script: Box::new(|f: &FakeModels| {
                    let mut pieces = openai::text_pieces(&["Let me ", "look"]);
                    pieces.truncate(3);
                    pieces.push(Piece::Stall);
                    f.push(Provider::OpenAi, Scripted::Stream(pieces));
                }),
                reason: Some("model_timeout"),
                chatkit: false,
                limit: secs(15),
            },
            Scenario {
                name: "resets in the middle of a tool call",
                models: OPENAI,
                script: Box::new(|f: &FakeModels| f.forever(Provider::OpenAi, a_tool_call_cut_short)),
                reason: Some("model_unavailable"),
                chatkit: false,
                limit: secs(10),
            },
            Scenario {
                name: "resets in the middle of a tool call (ChatKit)",
                models: OPENAI,
                script: Box::new(|f: &FakeModels| f.forever(Provider::OpenAi, a_tool_call_cut_short)),
                reason: Some("model_unavailable"),
                chatkit: true,
                limit: secs(10),
            },
            Scenario {
                name: "streams garbage",
                models: OPENAI,
                script: Box::new(|f: &FakeModels| f.push(Provider::OpenAi, Scripted::garbage())),
                reason: Some("model_garbled"),
                chatkit: false,
                limit: secs(10),
            },
            Scenario {
                name: "fails with 500s",
                models: OPENAI,
                script: Box::new(|f: &FakeModels| f.forever(Provider::OpenAi, |_| Scripted::server_error())),
                reason: Some("model_unavailable"),
                chatkit: false,
                limit: secs(15),
            },
            Scenario {
                name: "the first provider hangs: the second answers",
                models: GEMINI_THEN_OPENAI,
                script: Box::new(|f: &FakeModels| {
                    f.forever(Provider::Gemini, |_| Scripted::Hang);
                    f.push(Provider::OpenAi, openai::text(&["Fallback ", "here."]));
                }),
                reason: None,
                chatkit: false,
                limit: secs(15),
            },
            Scenario {
                name: "the first provider resets mid tool call: the second answers",
                models: GEMINI_THEN_OPENAI,
                script: Box::new(|f: &FakeModels| {
                    f.forever(Provider::Gemini, a_gemini_call_cut_short);
                    f.push(Provider::OpenAi, openai::text(&["Fallback ", "here."]));
                }),
                reason: None,
                chatkit: false,
                limit: secs(10),
            },
        ];
        futures::future::join_all(scenarios.into_iter().map(|s| run_scenario(backend, s))).await;
    }
);

on_both_databases!(a_reader_that_goes_away_mid_turn_leaves_no_stream_open, |backend: Backend| async move {
    let fake = FakeModels::start().await;
    let app = TestApp::start_with(backend, |args| fake.configure(args, OPENAI)).await;
    let (c, user) = app.signed_up("Quitter").await;
    fake.forever(Provider::OpenAi, |_| Scripted::Hang);
    for path in [format!("/api/{}/chat", uid(&user)), "/chatkit".to_string()] {
        let body = if path == "/chatkit" {
            json!({"type": "threads.create", "params": {"input": {"content": [{"type": "input_text", "text": "hi"}]}}})
        } else {
            json!({"message": "hi"})
        };
        let mut res = open_stream(&c, &app.url, &path, body).await;
        let first = tokio::time::timeout(Duration::from_secs(10), res.chunk()).await.expect("a first event");
        assert!(first.unwrap().is_some());
        assert_eq!(open_streams(&app.url).await, 1, "{path}");
        drop(res);
        streams_close(&app.url).await;
    }
    // The model is back (for the abandoned turns too, which may still be waiting on their retries).
    fake.forever(Provider::OpenAi, |_| openai::text(&["Here."]));
    let r = c.post(&format!("/api/{}/chat", uid(&user)), json!({"message": "hello again"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["response"], "Here.");
    app.stop().await;
});

/// HTTP 429 with `Retry-After: 60`: the service is busy for a minute.
fn busy_for_a_minute() -> Scripted {
    Scripted::Status {
        status: 429,
        headers: vec![("retry-after".into(), "60".into())],
        body: json!({"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}})
            .to_string(),
    }
}

on_both_databases!(a_model_rate_limiting_for_a_minute_is_not_waited_out, |backend: Backend| async move {
    let alone = async {
        let fake = FakeModels::start().await;
        let app = TestApp::start_with(backend, |args| fake.configure(args, OPENAI)).await;
        let (c, user) = app.signed_up("Patience").await;
        fake.forever(Provider::OpenAi, |_| busy_for_a_minute());
        let started = Instant::now();
        let r = c.post(&format!("/api/{}/chat", uid(&user)), json!({"message": "add a task to buy milk"})).await;
        let took = started.elapsed();
        assert_eq!(r.status, 503, "{}", r.text);
        assert_eq!(r.json["reason"], "model_busy", "{}", r.text);
        assert_friendly(r.json["message"].as_str().unwrap());
        assert!(took < Duration::from_secs(20), "a minute's Retry-After was waited out: {took:?}");
        assert_eq!(fake.request_count(Provider::OpenAi), 2, "one retry");
        assert!(task_titles(&c).await.is_empty());
        app.stop().await;
    };
    let fallback = async {
        let fake = FakeModels::start().await;
        let app = TestApp::start_with(backend, |args| fake.configure(args, GEMINI_THEN_OPENAI)).await;
        let (c, user) = app.signed_up("Hurry").await;
        fake.forever(Provider::Gemini, |_| busy_for_a_minute());
        fake.push(Provider::OpenAi, openai::text(&["OpenAI answers."]));
        let started = Instant::now();
        let r = c.post(&format!("/api/{}/chat", uid(&user)), json!({"message": "what is on my list?"})).await;
        let took = started.elapsed();
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["response"], "OpenAI answers.");
        assert!(took < Duration::from_secs(20), "a minute's Retry-After was waited out before falling back: {took:?}");
        app.stop().await;
    };
    tokio::join!(alone, fallback);
});

on_both_databases!(tool_effects_are_what_the_transcript_says_after_a_failure_mid_turn, |backend: Backend| async move {
    let fake = FakeModels::start().await;
    let app = TestApp::start_with(backend, |args| fake.configure(args, OPENAI)).await;
    let (c, user) = app.signed_up("Ledger").await;
    // The model adds a task, then fails before it can say so.
    fake.push(Provider::OpenAi, openai::tool_call("call_add", "add_task", r#"{"title":"buy milk"}"#));
    fake.push(Provider::OpenAi, Scripted::server_error());
    fake.push(Provider::OpenAi, Scripted::server_error());
    let r = c.post(&format!("/api/{}/chat", uid(&user)), json!({"message": "add buy milk"})).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.json["code"], "ASSISTANT_ERROR");
    assert_eq!(task_titles(&c).await, ["buy milk"], "the tool ran before the failure");
    // The person is told what ran…
    assert_eq!(r.json["tool_calls"][0]["name"], "add_task", "{}", r.text);
    assert_eq!(r.json["tool_calls"][0]["result"]["task"]["title"], "buy milk", "{}", r.text);
    // …and so is the stored conversation, which every later view and turn is built from.
    let conversation = r.json["conversation_id"].as_str().unwrap().to_string();
    let stored = stored_messages(&c, &conversation).await;
    let recorded: Vec<&Value> = stored.iter().flat_map(|m| m["tool_calls"].as_array().into_iter().flatten()).collect();
    assert!(
        recorded.iter().any(|call| call["name"] == "add_task" && call["result"]["task"]["title"] == "buy milk"),
        "a task was added but the stored conversation does not say so: {stored:?}"
    );
    app.stop().await;
});

// ---------------------------------------------------------------------------------------------------------------
// Memory and streams stay flat over many failing turns
// ---------------------------------------------------------------------------------------------------------------

/// Failures that are not retried, in turn: garbage, garbage after some text, a refusal, an error mid-stream.
fn a_fast_failure(n: usize) -> Scripted {
    match n % 4 {
        0 => Scripted::garbage(),
        1 => {
            let mut pieces = openai::text_pieces(&["Your list ", "has"]);
            pieces.truncate(3);
            pieces.push(Piece::Data("{\"choices\": [{\"delta\": ".into()));
            Scripted::Stream(pieces)
        }
        2 => Scripted::Status {
            status: 400,
            headers: vec![],
            body: json!({"error": {"message": "This model's maximum context length is exceeded"}}).to_string(),
        },
        _ => Scripted::Stream(vec![
            Piece::Data(openai::chunk(json!({"role": "assistant", "content": "Let me"}), None)),
            Piece::Data(
                json!({"error": {"message": "The server had an error while processing your request."}}).to_string(),
            ),
        ]),
    }
}

async fn failing_turns(base: &str, people: &[(Client, Value)], turns_each: usize, round: usize) {
    let jobs = people.iter().enumerate().map(|(i, (c, user))| async move {
        for k in 0..turns_each {
            let message = format!("round {round} person {i} turn {k}");
            if k % 2 == 0 {
                let r = c.post(&format!("/api/{}/chat", uid(user)), json!({ "message": message })).await;
                assert_eq!(r.status, 503, "{}", r.text);
                assert_eq!(r.json["code"], "ASSISTANT_ERROR", "{}", r.text);
            } else {
                let res =
                    open_stream(c, base, &format!("/api/{}/chat", uid(user)), json!({ "message": message })).await;
                let events = read_events(res, Duration::from_secs(15)).await;
                assert_eq!(events.last().unwrap()["type"], "error", "{events:?}");
            }
        }
    });
    futures::future::join_all(jobs).await;
}

on_both_databases!(many_failing_turns_leave_memory_and_streams_flat, |backend: Backend| async move {
    let fake = FakeModels::start().await;
    fake.forever(Provider::OpenAi, a_fast_failure);
    let data_dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database(backend).await;
    let env = [
        ("TASKCHAT_MODELS", OPENAI.to_string()),
        ("OPENAI_BASE_URL", fake.openai_base_url()),
        ("OPENAI_API_KEY", crate::fake_models::OPENAI_KEY.to_string()),
        ("TASKCHAT_MODEL_TIMEOUT", "2".to_string()),
        ("TASKCHAT_MODEL_RETRIES", "1".to_string()),
    ];
    let server = ChildServer::start(data_dir.path(), database_url.as_deref(), &env).await;
    let mut people = vec![];
    for i in 0..4 {
        let c = server.client();
        let (user, _) = sign_up(&c, &format!("Flat{i}")).await;
        people.push((c, user));
    }
    // Warm up (pools, caches, allocator arenas), then measure over 200 more failing turns.
    failing_turns(&server.url, &people, 10, 0).await;
    streams_close(&server.url).await;
    let before = server.rss_kib();
    failing_turns(&server.url, &people, 50, 1).await;
    streams_close(&server.url).await;
    let after = server.rss_kib();
    let grown = after.saturating_sub(before);
    eprintln!("resident memory over 200 failing turns: {before} KiB before, {after} KiB after");
    assert!(grown < 64 * 1024, "resident memory grew by {grown} KiB over 200 failing turns ({before} → {after} KiB)");
    let metrics = http_client().get(format!("{}/metrics", server.url)).send().await.unwrap().text().await.unwrap();
    let failed: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("taskchat_chat_turns_total{outcome=\"failed\"} "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no failed-turn count in /metrics:\n{metrics}"));
    assert_eq!(failed, 240, "every turn ended, as a failure");
    // Nothing was added by the failed turns.
    for (c, _) in &people {
        assert!(task_titles(c).await.is_empty());
    }
    assert!(fake.unscripted().is_empty());
    server.stop().await;
});
