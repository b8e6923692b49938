//! The load benchmark of taskchat. One command builds the release binary and runs everything:
//!
//! ```text
//! cargo bench --bench load -- --out BENCHMARKS.md
//! ```
//!
//! It starts the release `taskchat serve` binary as a child process, with a fake OpenAI-compatible model in a
//! second child process (this program again, with `--fake-model`) whose latency and streaming speed are set per
//! run, and drives the server over loopback as people would: chat turns with a tool call through
//! `POST /api/{user_id}/chat` (streamed) and `POST /chatkit`, history loads, sign-ins, thousands of open
//! streams. Every person's message carries a marker (`#T<turn id>`); the fake model finds it in the request's
//! messages and records how long it spent on each turn's requests, so the server's own share of a turn is the
//! turn's time as the client saw it minus the fake model's time. Then it writes a markdown report with each
//! figure beside its target. A section of the report between `<!-- analysis:begin -->` and
//! `<!-- analysis:end -->` is written by hand and kept when the report is written again.
//!
//! `--quick` shortens every phase; `--databases sqlite` skips PostgreSQL; `--help` lists the rest.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use clap::{Parser, ValueEnum};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Chat turns a person sends in one conversation before starting a new one.
const TURNS_PER_CONVERSATION: usize = 10;
/// The secret the benchmarked server runs with (production mode wants 32+ characters).
const SECRET: &str = "benchmark-secret-benchmark-secret-benchmark-secret";
const ANALYSIS_BEGIN: &str = "<!-- analysis:begin -->";
const ANALYSIS_END: &str = "<!-- analysis:end -->";

#[derive(Parser, Debug, Clone)]
#[command(name = "load", about = "Load benchmark of taskchat: cargo bench --bench load -- [OPTIONS]")]
struct Args {
    /// Passed by `cargo bench`; without it (as under `cargo test --benches`) nothing runs.
    #[arg(long, hide = true)]
    bench: bool,
    /// Run as the fake model server (used internally).
    #[arg(long, hide = true)]
    fake_model: bool,
    /// Where to write the markdown report.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// The taskchat binary to benchmark (default: the release binary cargo built for this bench).
    #[arg(long, env = "TASKCHAT_BIN")]
    bin: Option<PathBuf>,
    /// Databases to run on.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "sqlite,postgres")]
    databases: Vec<DbKind>,
    /// A PostgreSQL server to use (a fresh database is created in it for each start); default: a throwaway
    /// cluster started with scripts/pg.sh.
    #[arg(long, env = "TASKCHAT_BENCH_PG_URL")]
    pg_url: Option<String>,
    /// Phases to run.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "startup,chat,signin,history,memory")]
    phases: Vec<Phase>,
    /// Chat doors to drive.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "api,chatkit")]
    doors: Vec<Door>,
    /// Numbers of people chatting at once.
    #[arg(long, value_delimiter = ',', default_value = "1,50,500")]
    people: Vec<usize>,
    /// Seconds measured in each chat run (runs with one person take three times as long, for samples).
    #[arg(long, default_value_t = 6.0)]
    duration: f64,
    /// Seconds of warm-up before each chat run's measurement starts.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// The realistic model: milliseconds before each answer starts.
    #[arg(long, default_value_t = 100)]
    latency_ms: u64,
    /// The realistic model: pieces the text answer is streamed in.
    #[arg(long, default_value_t = 20)]
    chunks: usize,
    /// The realistic model: milliseconds between streamed pieces.
    #[arg(long, default_value_t = 5)]
    chunk_interval_ms: u64,
    /// Numbers of open streams to hold for the memory figures.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    streams: Vec<usize>,
    /// Concurrent sign-ins in the sign-in phase.
    #[arg(long, default_value_t = 50)]
    sign_ins: usize,
    /// People chatting during the sign-in phase.
    #[arg(long, default_value_t = 50)]
    signin_people: usize,
    /// TASKCHAT_HASH_CONCURRENCY values to run the sign-in phase with (the server's default is one less than the
    /// cores, at least 1).
    #[arg(long, value_delimiter = ',', default_value = "2,1")]
    signin_hash_concurrency: Vec<usize>,
    /// Numbers of people for the extra realistic-model runs in lockstep: every person's first turn starts at the
    /// same instant (elsewhere first turns are spread over one turn's length). Empty for none.
    #[arg(long, value_delimiter = ',', default_value = "50")]
    lockstep_people: Vec<usize>,
    /// Shorter runs: 2 s per chat run, 1,000 streams only, fewer repetitions.
    #[arg(long)]
    quick: bool,
    /// Extra environment for the server, KEY=VALUE (repeatable), e.g. TASKCHAT_HASH_CONCURRENCY=1.
    #[arg(long = "server-env", value_name = "KEY=VALUE")]
    server_env: Vec<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum DbKind {
    Sqlite,
    Postgres,
}

impl DbKind {
    fn name(self) -> &'static str {
        match self {
            DbKind::Sqlite => "SQLite",
            DbKind::Postgres => "PostgreSQL",
        }
    }

    fn slug(self) -> &'static str {
        match self {
            DbKind::Sqlite => "sqlite",
            DbKind::Postgres => "postgres",
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Door {
    /// POST /api/{user_id}/chat with Accept: text/event-stream.
    Api,
    /// POST /api/{user_id}/chat answering JSON.
    ApiJson,
    /// POST /chatkit (threads.create, then threads.add_user_message).
    Chatkit,
}

impl Door {
    fn name(self) -> &'static str {
        match self {
            Door::Api => "`/api/{user_id}/chat` (SSE)",
            Door::ApiJson => "`/api/{user_id}/chat` (JSON)",
            Door::Chatkit => "`/chatkit`",
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Startup,
    Chat,
    Signin,
    History,
    Memory,
}

/// How the fake model behaves.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default)]
struct Profile {
    /// Before each response starts.
    latency_ms: u64,
    /// Pieces of the text answer.
    chunks: usize,
    /// Between streamed pieces.
    interval_ms: u64,
    /// Send the first piece of the text answer, then hold the stream open until released.
    hold: bool,
}

impl Profile {
    /// The model's time for one turn: two requests, the tool call in 3 pieces and the answer in `chunks`.
    fn turn_time(&self) -> Duration {
        Duration::from_millis(2 * self.latency_ms + (2 + self.chunks.saturating_sub(1)) as u64 * self.interval_ms)
    }
}

fn main() -> anyhow::Result<()> {
    let argv: Vec<String> = std::env::args().collect();
    let args = Args::parse();
    if args.fake_model {
        return fake::run();
    }
    if !args.bench {
        eprintln!("load: run it with `cargo bench --bench load -- --out BENCHMARKS.md`; nothing to do without --bench");
        return Ok(());
    }
    raise_fd_limit(&argv)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(run(args, argv))
}

/// Ten thousand streams need as many sockets: the soft open-file limit is raised to the hard one by running
/// this program again under `ulimit -n` (a shell builtin, so no unsafe code is needed here).
fn raise_fd_limit(argv: &[String]) -> anyhow::Result<()> {
    let (soft, hard) = fd_limits();
    if soft >= hard || std::env::var_os("TASKCHAT_BENCH_REEXEC").is_some() {
        return Ok(());
    }
    let exe = std::env::current_exe()?;
    let status = Command::new("sh")
        .arg("-c")
        .arg("h=$(ulimit -Hn); [ \"$h\" = unlimited ] && h=1048576; ulimit -n \"$h\" 2>/dev/null; exec \"$0\" \"$@\"")
        .arg(exe)
        .args(&argv[1..])
        .env("TASKCHAT_BENCH_REEXEC", "1")
        .status()?;
    std::process::exit(status.code().unwrap_or(1));
}

/// (soft, hard) RLIMIT_NOFILE from /proc/self/limits.
fn fd_limits() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let line = text.lines().find(|l| l.starts_with("Max open files")).unwrap_or_default();
    let nums: Vec<u64> = line
        .split_whitespace()
        .skip(3)
        .take(2)
        .map(|v| if v == "unlimited" { u64::MAX } else { v.parse().unwrap_or(1024) })
        .collect();
    (nums.first().copied().unwrap_or(1024), nums.get(1).copied().unwrap_or(1024))
}

// ---- the fake model ----------------------------------------------------------------------------------------

/// An OpenAI Chat Completions server that streams a tool call (`add_task`) when the conversation ends with the
/// person's message and a text answer when it ends with a tool result. It keeps, per turn marker, the time it
/// spent (from having read a request to having handed over its last byte) and how many requests it answered.
mod fake {
    use super::*;
    use axum::Router;
    use axum::body::{Body, Bytes};
    use axum::extract::State;
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, post};
    use axum::serve::ListenerExt;

    struct Shared {
        profile: Mutex<Profile>,
        release: tokio::sync::watch::Sender<bool>,
        times: Mutex<HashMap<u64, (u64, u32)>>,
    }

    /// Adds the request's time to its turn when the response body is dropped (sent, or abandoned).
    struct Record {
        shared: Arc<Shared>,
        turn: Option<u64>,
        started: Instant,
    }

    impl Drop for Record {
        fn drop(&mut self) {
            if let Some(turn) = self.turn {
                let us = self.started.elapsed().as_micros() as u64;
                let mut times = self.shared.times.lock().unwrap_or_else(|e| e.into_inner());
                let entry = times.entry(turn).or_default();
                entry.0 += us;
                entry.1 += 1;
            }
        }
    }

    pub fn run() -> anyhow::Result<()> {
        // The parent holds our stdin; when it goes away, so do we.
        std::thread::spawn(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
            std::process::exit(0);
        });
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            println!("FAKE_MODEL {}", listener.local_addr()?);
            // Small streamed pieces must leave at once (no Nagle delay), as a real model's would.
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            std::io::stdout().flush()?;
            let shared = Arc::new(Shared {
                profile: Mutex::new(Profile::default()),
                release: tokio::sync::watch::channel(false).0,
                times: Mutex::new(HashMap::new()),
            });
            let app = Router::new()
                .route("/v1/chat/completions", post(complete))
                .route("/_bench/profile", post(set_profile))
                .route("/_bench/release", post(release))
                .route("/_bench/times", get(take_times))
                .with_state(shared);
            axum::serve(listener, app).await?;
            Ok(())
        })
    }

    async fn set_profile(State(s): State<Arc<Shared>>, axum::Json(p): axum::Json<Profile>) -> &'static str {
        *s.profile.lock().unwrap_or_else(|e| e.into_inner()) = p;
        s.release.send_replace(false);
        "ok"
    }

    async fn release(State(s): State<Arc<Shared>>) -> &'static str {
        s.release.send_replace(true);
        "ok"
    }

    /// `turn microseconds requests` lines, and forgets them.
    async fn take_times(State(s): State<Arc<Shared>>) -> String {
        let times = std::mem::take(&mut *s.times.lock().unwrap_or_else(|e| e.into_inner()));
        let mut out = String::with_capacity(times.len() * 24);
        for (turn, (us, n)) in times {
            out.push_str(&format!("{turn} {us} {n}\n"));
        }
        out
    }

    fn marker(text: &str) -> Option<u64> {
        let rest = &text[text.find("#T")? + 2..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    }

    fn chunk(delta: Value, finish: Option<&str>) -> String {
        let c = json!({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": "fake-model",
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        format!("data: {c}\n\n")
    }

    fn ending(finish: &str) -> String {
        let usage = json!({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": "fake-model",
                           "choices": [], "usage": {"prompt_tokens": 900, "completion_tokens": 40, "total_tokens": 940}});
        format!("{}data: {usage}\n\ndata: [DONE]\n\n", chunk(json!({}), Some(finish)))
    }

    fn tool_frames(turn: Option<u64>) -> Vec<Bytes> {
        let t = turn.unwrap_or(0);
        let first = chunk(
            json!({"role": "assistant", "content": null, "tool_calls": [{"index": 0, "id": format!("call_{t}"),
                   "type": "function", "function": {"name": "add_task", "arguments": ""}}]}),
            None,
        );
        let args1 =
            chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"title\": \"bench item"}}]}), None);
        let args2 =
            chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": format!(" #T{t}\"}}")}}]}), None);
        vec![first.into(), args1.into(), (args2 + &ending("tool_calls")).into()]
    }

    const WORDS: [&str; 12] = ["Done", "I", "added", "it", "to", "your", "list", "as", "a", "new", "task", "for you"];

    fn answer_frames(turn: Option<u64>, chunks: usize) -> Vec<Bytes> {
        let n = chunks.max(1);
        (0..n)
            .map(|i| {
                let text = match i {
                    0 => format!("Added \"bench item #T{}\". ", turn.unwrap_or(0)),
                    _ => format!("{} ", WORDS[i % WORDS.len()]),
                };
                let mut frame = chunk(
                    if i == 0 { json!({"role": "assistant", "content": text}) } else { json!({"content": text}) },
                    None,
                );
                if i == n - 1 {
                    frame.push_str(&ending("stop"));
                }
                Bytes::from(frame)
            })
            .collect()
    }

    async fn complete(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
        let started = Instant::now();
        let Ok(request) = serde_json::from_slice::<Value>(&body) else {
            return (axum::http::StatusCode::BAD_REQUEST, "not JSON").into_response();
        };
        let messages = request["messages"].as_array().map(Vec::as_slice).unwrap_or_default();
        let answering = messages.last().and_then(|m| m["role"].as_str()) == Some("tool");
        let turn =
            messages.iter().rev().find(|m| m["role"] == "user").and_then(|m| m["content"].as_str()).and_then(marker);
        let profile = *shared.profile.lock().unwrap_or_else(|e| e.into_inner());
        let record = Record { shared: shared.clone(), turn, started };
        if profile.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(profile.latency_ms)).await;
        }
        let frames = if answering { answer_frames(turn, profile.chunks) } else { tool_frames(turn) };
        let hold = answering && profile.hold;
        let interval = Duration::from_millis(profile.interval_ms);
        let release = shared.release.subscribe();
        let stream = futures::stream::unfold(
            (0usize, frames, record, release, false),
            move |(i, frames, record, mut release, released)| async move {
                if i >= frames.len() {
                    return None;
                }
                let mut released = released;
                if i == 1 && hold && !released {
                    // Hold the answer open, with a comment now and then so the server's idle timeout does not fire.
                    let woke = tokio::select! {
                        r = release.wait_for(|r| *r) => r.is_ok(),
                        _ = tokio::time::sleep(Duration::from_secs(10)) => false,
                    };
                    if !woke {
                        let ping = Bytes::from_static(b": keep-alive\n\n");
                        return Some((Ok::<_, Infallible>(ping), (i, frames, record, release, false)));
                    }
                    released = true;
                } else if i > 0 && !interval.is_zero() && !released {
                    tokio::time::sleep(interval).await;
                }
                let frame = frames[i].clone();
                Some((Ok(frame), (i + 1, frames, record, release, released)))
            },
        );
        Response::builder()
            .header("content-type", "text/event-stream")
            .header("cache-control", "no-cache")
            .body(Body::from_stream(stream))
            .unwrap_or_else(|_| (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "").into_response())
    }
}

/// The fake model child process.
struct FakeModel {
    child: Mutex<Child>,
    _stdin: Mutex<Option<ChildStdin>>,
    url: String,
    pid: u32,
}

impl FakeModel {
    fn start() -> anyhow::Result<FakeModel> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg("--fake-model")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start the fake model")?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let addr = line.trim().strip_prefix("FAKE_MODEL ").ok_or_else(|| anyhow!("the fake model said {line:?}"))?;
        Ok(FakeModel {
            pid: child.id(),
            url: format!("http://{addr}"),
            _stdin: Mutex::new(child.stdin.take()),
            child: Mutex::new(child),
        })
    }

    async fn set(&self, http: &reqwest::Client, p: Profile) -> anyhow::Result<()> {
        http.post(format!("{}/_bench/profile", self.url)).json(&p).send().await?.error_for_status()?;
        Ok(())
    }

    async fn release(&self, http: &reqwest::Client) -> anyhow::Result<()> {
        http.post(format!("{}/_bench/release", self.url)).send().await?.error_for_status()?;
        Ok(())
    }

    /// turn → (microseconds, requests), forgotten by the fake model once read.
    async fn times(&self, http: &reqwest::Client) -> anyhow::Result<HashMap<u64, (u64, u32)>> {
        let text = http.get(format!("{}/_bench/times", self.url)).send().await?.text().await?;
        Ok(text
            .lines()
            .filter_map(|l| {
                let mut it = l.split(' ').map(|v| v.parse::<u64>().ok());
                Some((it.next()??, (it.next()??, it.next()?? as u32)))
            })
            .collect())
    }
}

impl Drop for FakeModel {
    fn drop(&mut self) {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }
}

// ---- the server under test ------------------------------------------------------------------------------

#[derive(Clone)]
struct ServerSpec {
    data_dir: PathBuf,
    database_url: Option<String>,
    env: Vec<(String, String)>,
}

impl ServerSpec {
    /// The URL this program opens the same database with (to seed history).
    fn library_url(&self) -> String {
        match &self.database_url {
            Some(u) => u.clone(),
            None => format!("sqlite://{}", self.data_dir.join("taskchat.db").display()),
        }
    }
}

struct Server {
    child: Child,
    pid: u32,
    url: String,
    addr: SocketAddr,
    /// From spawning the process to the first `GET /readyz` answered 200.
    ready: Duration,
    /// The server's own `ready_ms` (from `serve` starting to listening).
    self_ready_ms: Option<u64>,
}

impl Server {
    async fn stop(mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.pid.to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn rss_kb(&self) -> u64 {
        proc_status_kb(self.pid, "VmRSS:")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn parse_listening(line: &str) -> Option<(SocketAddr, Option<u64>)> {
    let v: Value = serde_json::from_str(line).ok()?;
    let fields = if v["fields"].is_object() { &v["fields"] } else { &v };
    let addr = fields["addr"].as_str()?.parse().ok()?;
    Some((addr, fields["ready_ms"].as_u64()))
}

// ---- PostgreSQL -----------------------------------------------------------------------------------------

struct Pg {
    /// The cluster directory when this program started it with scripts/pg.sh.
    dir: Option<PathBuf>,
    admin_url: String,
    script: PathBuf,
    created: Mutex<Vec<String>>,
}

impl Pg {
    async fn start(repo: &Path, tmp: &Path, given: Option<String>) -> anyhow::Result<Pg> {
        let script = repo.join("scripts/pg.sh");
        if let Some(url) = given {
            return Ok(Pg { dir: None, admin_url: url, script, created: Mutex::new(vec![]) });
        }
        let dir = tmp.join("pg");
        let out = tokio::process::Command::new("bash").arg(&script).arg("start").arg(&dir).output().await?;
        if !out.status.success() {
            bail!("scripts/pg.sh start failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let url = stdout
            .lines()
            .find_map(|l| l.split_once("TASKCHAT_TEST_DATABASE_URL=").map(|(_, u)| u.trim().to_string()))
            .ok_or_else(|| anyhow!("scripts/pg.sh printed no URL"))?;
        Ok(Pg { dir: Some(dir), admin_url: url, script, created: Mutex::new(vec![]) })
    }

    async fn admin(&self) -> anyhow::Result<sqlx::PgConnection> {
        use sqlx::Connection;
        Ok(sqlx::PgConnection::connect(&self.admin_url).await?)
    }

    /// A new, empty database; its URL.
    async fn create_db(&self, name: &str) -> anyhow::Result<String> {
        use sqlx::Connection;
        let name: String =
            name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
        let mut c = self.admin().await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}"))).execute(&mut c).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut c).await?;
        c.close().await?;
        self.created.lock().unwrap_or_else(|e| e.into_inner()).push(name.clone());
        let (base, query) = match self.admin_url.split_once('?') {
            Some((b, q)) => (b, format!("?{q}")),
            None => (self.admin_url.as_str(), String::new()),
        };
        let (server, _) = base.rsplit_once('/').ok_or_else(|| anyhow!("cannot read the PostgreSQL URL"))?;
        Ok(format!("{server}/{name}{query}"))
    }

    async fn version(&self) -> String {
        let Ok(mut c) = self.admin().await else { return "?".into() };
        sqlx::query_scalar::<_, String>("SHOW server_version").fetch_one(&mut c).await.unwrap_or_else(|_| "?".into())
    }

    /// Drops the databases made here when the server is not ours to throw away.
    async fn cleanup(&self) {
        if self.dir.is_some() {
            return;
        }
        let names = std::mem::take(&mut *self.created.lock().unwrap_or_else(|e| e.into_inner()));
        if let Ok(mut c) = self.admin().await {
            for name in names {
                let _ =
                    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}"))).execute(&mut c).await;
            }
        }
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = Command::new("bash").arg(&self.script).arg("stop").arg(dir).stdout(Stdio::null()).status();
        }
    }
}

// ---- /proc ----------------------------------------------------------------------------------------------

fn proc_status_kb(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// CPU seconds (user + system) a process has used.
fn proc_cpu_secs(pid: &str, tck: f64) -> Option<(String, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_string();
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((comm, (utime + stime) / tck))
}

/// CPU seconds of every `postgres` process.
fn postgres_cpu_secs(tck: f64) -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0.0 };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().filter(|n| n.bytes().all(|b| b.is_ascii_digit())).map(str::to_string))
        .filter_map(|pid| proc_cpu_secs(&pid, tck))
        .filter(|(comm, _)| comm == "postgres")
        .map(|(_, s)| s)
        .sum()
}

/// (busy, all) CPU seconds of the machine, summed over cores.
fn machine_cpu_secs(tck: f64) -> (f64, f64) {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<f64> = text
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    if v.len() < 8 {
        return (0.0, 0.0);
    }
    let idle = v[3] + v[4];
    let all: f64 = v.iter().sum();
    ((all - idle) / tck, all / tck)
}

#[derive(Clone, Copy, Debug)]
struct CpuSnap {
    at: Instant,
    server: f64,
    fake: f64,
    me: f64,
    postgres: f64,
    busy: f64,
}

/// Cores in use over an interval, by whom.
#[derive(Clone, Copy, Debug, Default)]
struct CpuUse {
    server: f64,
    load: f64,
    postgres: f64,
    machine: f64,
}

impl CpuUse {
    fn between(a: CpuSnap, b: CpuSnap) -> CpuUse {
        let wall = b.at.duration_since(a.at).as_secs_f64().max(1e-9);
        CpuUse {
            server: (b.server - a.server) / wall,
            load: (b.fake - a.fake + b.me - a.me) / wall,
            postgres: (b.postgres - a.postgres) / wall,
            machine: (b.busy - a.busy) / wall,
        }
    }

    /// Cores used by anything else on the machine (other programs; negative noise clamps to zero).
    fn other(&self) -> f64 {
        (self.machine - self.server - self.load - self.postgres).max(0.0)
    }
}

// ---- statistics -----------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, Default)]
struct Pcts {
    n: usize,
    p50: f64,
    p95: f64,
    p99: f64,
}

/// Nearest-rank percentiles of milliseconds.
fn pcts(mut v: Vec<f64>) -> Pcts {
    if v.is_empty() {
        return Pcts { n: 0, p50: f64::NAN, p95: f64::NAN, p99: f64::NAN };
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    Pcts { n: v.len(), p50: at(0.50), p95: at(0.95), p99: at(0.99) }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ---- results --------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct ChatRun {
    door: Door,
    people: usize,
    model: &'static str,
    /// Whether every person's first turn started at the same instant.
    lockstep: bool,
    turns: usize,
    errors: usize,
    error_samples: Vec<String>,
    per_sec: f64,
    share: Pcts,
    ttfb: Pcts,
    total: Pcts,
    model_p50: f64,
    cpu: CpuUse,
}

#[derive(Clone, Debug, Default)]
struct StartupResult {
    fresh: Vec<f64>,
    existing: Vec<f64>,
    self_ms: Vec<u64>,
    idle_rss_kb: u64,
}

#[derive(Clone, Debug)]
struct SigninResult {
    concurrent: usize,
    signin: Pcts,
    signins: usize,
    failures: usize,
    per_sec: f64,
    hash_concurrency: usize,
    chat: ChatRun,
    baseline: Option<ChatRun>,
}

#[derive(Clone, Debug)]
struct HistRow {
    what: String,
    lat: Pcts,
    bytes: usize,
    per_sec: Option<f64>,
}

#[derive(Clone, Debug)]
struct MemRow {
    requested: usize,
    held: usize,
    failed: usize,
    open_secs: f64,
    idle_kb: u64,
    rss_kb: u64,
    hwm_kb: u64,
    fds: usize,
    after_kb: u64,
    finished: usize,
}

#[derive(Default)]
struct DbReport {
    version: String,
    startup: Option<StartupResult>,
    chat: Vec<ChatRun>,
    signin: Vec<SigninResult>,
    history: Vec<HistRow>,
    memory: Vec<MemRow>,
    notes: Vec<String>,
}

struct Person {
    id: String,
    token: String,
    email: String,
    password: String,
}

struct TurnRec {
    id: u64,
    start: Duration,
    end: Duration,
    ttfb: Duration,
    error: Option<String>,
}

// ---- the benchmark --------------------------------------------------------------------------------------

struct Cfg {
    duration: f64,
    warmup: f64,
    streams: Vec<usize>,
    startup_reps: usize,
    history_iters: usize,
    single_person_factor: f64,
    /// Realistic-model runs with more than one person measure this many times as long: their p99 is the
    /// figure with a target, and more turns make it steadier from run to run.
    crowd_factor: f64,
}

impl Cfg {
    fn chat_seconds(&self, model: &str, people: usize) -> f64 {
        self.duration
            * match (model, people) {
                ("realistic", 1) => self.single_person_factor,
                ("realistic", _) => self.crowd_factor,
                _ => 1.0,
            }
    }
}

struct Bench {
    args: Args,
    cfg: Cfg,
    bin: PathBuf,
    repo: PathBuf,
    tmp: PathBuf,
    http: reqwest::Client,
    fake: FakeModel,
    turn_ids: AtomicU64,
    next_addr: AtomicU32,
    /// Whether each sign-up and sign-in can come from its own loopback address (so the rate limits stay on).
    distinct_addresses: bool,
    tck: f64,
    fd_soft: u64,
    starts: AtomicU32,
}

fn realistic(args: &Args) -> Profile {
    Profile { latency_ms: args.latency_ms, chunks: args.chunks, interval_ms: args.chunk_interval_ms, hold: false }
}

fn zero_latency(args: &Args) -> Profile {
    Profile { latency_ms: 0, chunks: args.chunks, interval_ms: 0, hold: false }
}

impl Bench {
    fn cpu_snap(&self, server_pid: u32) -> CpuSnap {
        let (busy, _) = machine_cpu_secs(self.tck);
        let me = std::process::id().to_string();
        CpuSnap {
            at: Instant::now(),
            server: proc_cpu_secs(&server_pid.to_string(), self.tck).map(|c| c.1).unwrap_or(0.0),
            fake: proc_cpu_secs(&self.fake.pid.to_string(), self.tck).map(|c| c.1).unwrap_or(0.0),
            me: proc_cpu_secs(&me, self.tck).map(|c| c.1).unwrap_or(0.0),
            postgres: postgres_cpu_secs(self.tck),
            busy,
        }
    }

    fn local_addr(&self) -> Option<IpAddr> {
        if !self.distinct_addresses {
            return None;
        }
        let k = self.next_addr.fetch_add(1, Ordering::Relaxed);
        Some(IpAddr::V4(Ipv4Addr::new(
            127,
            64 + ((k / (254 * 254)) % 128) as u8,
            ((k / 254) % 254 + 1) as u8,
            (k % 254 + 1) as u8,
        )))
    }

    async fn spec(&self, db: DbKind, name: &str, pg: Option<&Pg>) -> anyhow::Result<ServerSpec> {
        let data_dir = self.tmp.join(format!("{}-{name}", db.slug()));
        std::fs::create_dir_all(&data_dir)?;
        let database_url = match db {
            DbKind::Sqlite => None,
            DbKind::Postgres => Some(
                pg.ok_or_else(|| anyhow!("no PostgreSQL"))?
                    .create_db(&format!("bench_{}_{name}", std::process::id()))
                    .await?,
            ),
        };
        let mut env: Vec<(String, String)> = self
            .args
            .server_env
            .iter()
            .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
            .collect();
        if !self.distinct_addresses {
            env.push(("TASKCHAT_RATE_LIMIT_MAX".to_string(), "0".to_string()));
        }
        Ok(ServerSpec { data_dir, database_url, env })
    }

    async fn start_server(&self, spec: &ServerSpec) -> anyhow::Result<Server> {
        let n = self.starts.fetch_add(1, Ordering::Relaxed);
        let log_path = self.tmp.join(format!("server-{n}.log"));
        let mut cmd = Command::new(&self.bin);
        cmd.arg("serve")
            .current_dir(&spec.data_dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TASKCHAT_DATA_DIR", &spec.data_dir)
            .env("TASKCHAT_LISTEN", "127.0.0.1:0")
            .env("TASKCHAT_ENV", "production")
            .env("TASKCHAT_SECRET", SECRET)
            .env("TASKCHAT_LOG_FORMAT", "json")
            .env("TASKCHAT_MODELS", "openai:fake-model")
            .env("OPENAI_BASE_URL", format!("{}/v1", self.fake.url))
            .env("OPENAI_API_KEY", "bench-key")
            .env("TASKCHAT_SHUTDOWN_GRACE", "3")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(url) = &spec.database_url {
            cmd.env("DATABASE_URL", url);
        }
        for (k, v) in &spec.env {
            cmd.env(k, v);
        }
        let spawned = Instant::now();
        let mut child = cmd.spawn().with_context(|| format!("cannot start {}", self.bin.display()))?;
        let stderr = child.stderr.take().ok_or_else(|| anyhow!("no stderr"))?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let log_for_thread = log_path.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            let mut log = std::fs::File::create(&log_for_thread).ok();
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(f) = log.as_mut() {
                    let _ = writeln!(f, "{line}");
                }
                if line.contains("taskchat is listening")
                    && let Some(found) = parse_listening(&line)
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(found);
                }
            }
        });
        let pid = child.id();
        let mut server = Server {
            child,
            pid,
            url: String::new(),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            ready: Duration::ZERO,
            self_ready_ms: None,
        };
        let (addr, self_ready_ms) = match tokio::time::timeout(Duration::from_secs(60), rx).await {
            Ok(Ok(found)) => found,
            _ => {
                let _ = server.child.kill();
                tokio::time::sleep(Duration::from_millis(100)).await;
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                bail!(
                    "taskchat did not start; its log ends with:\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
        };
        let url = format!("http://{addr}");
        loop {
            if let Ok(r) = self.http.get(format!("{url}/readyz")).send().await
                && r.status().is_success()
            {
                break;
            }
            if spawned.elapsed() > Duration::from_secs(60) {
                bail!("taskchat never answered /readyz");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        server.ready = spawned.elapsed();
        server.url = url;
        server.addr = addr;
        server.self_ready_ms = self_ready_ms;
        Ok(server)
    }

    async fn sign_up(&self, srv: &Server, n: usize) -> anyhow::Result<Vec<Arc<Person>>> {
        let nonce =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        let results: Vec<anyhow::Result<Arc<Person>>> = futures::stream::iter(0..n)
            .map(|i| async move {
                let email = format!("bench{i}-{nonce}@example.com");
                let password = format!("bench-password-{i}");
                let body =
                    json!({"name": format!("Bench Person {i}"), "email": email, "password": password}).to_string();
                let (status, resp) = raw_post(self.local_addr(), srv.addr, "/api/auth/sign-up/email", &body).await?;
                if status != 200 {
                    bail!("sign-up answered {status}: {}", snippet(&resp));
                }
                let v: Value = serde_json::from_slice(&resp)?;
                Ok(Arc::new(Person {
                    id: v["user"]["id"].as_str().ok_or_else(|| anyhow!("no user id"))?.to_string(),
                    token: v["token"].as_str().ok_or_else(|| anyhow!("no token"))?.to_string(),
                    email,
                    password,
                }))
            })
            .buffer_unordered(16)
            .collect()
            .await;
        results.into_iter().collect()
    }

    // ---- chat turns ----

    async fn turn(
        &self,
        url: &str,
        p: &Person,
        door: Door,
        conv: Option<&str>,
        id: u64,
        started: Instant,
    ) -> anyhow::Result<(Duration, String)> {
        let text = format!("Please add bench item #T{id} to my list");
        let request = match door {
            Door::Api | Door::ApiJson => {
                let mut body = json!({"message": text});
                if let Some(c) = conv {
                    body["conversation_id"] = json!(c);
                }
                let r = self.http.post(format!("{url}/api/{}/chat", p.id)).bearer_auth(&p.token).json(&body);
                if door == Door::Api { r.header("accept", "text/event-stream") } else { r }
            }
            Door::Chatkit => {
                let input = json!({"content": [{"type": "input_text", "text": text}], "attachments": [],
                                   "inference_options": {}});
                let body = match conv {
                    Some(c) => json!({"type": "threads.add_user_message", "params": {"thread_id": c, "input": input}}),
                    None => json!({"type": "threads.create", "params": {"input": input}}),
                };
                self.http.post(format!("{url}/chatkit")).bearer_auth(&p.token).json(&body)
            }
        };
        let mut res = request.timeout(Duration::from_secs(120)).send().await?;
        let status = res.status();
        let mut ttfb = None;
        let mut body = Vec::with_capacity(8192);
        while let Some(chunk) = res.chunk().await? {
            if ttfb.is_none() {
                ttfb = Some(started.elapsed());
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            bail!("HTTP {status}: {}", snippet(&body));
        }
        let conv_id = check_turn(door, &body, conv)?;
        Ok((ttfb.unwrap_or_else(|| started.elapsed()), conv_id))
    }

    async fn person_loop(
        self: Arc<Self>,
        url: String,
        p: Arc<Person>,
        door: Door,
        t0: Instant,
        first_at: Instant,
        stop_at: Instant,
    ) -> Vec<TurnRec> {
        tokio::time::sleep_until(first_at.into()).await;
        let mut conv: Option<String> = None;
        let mut in_conv = 0;
        let mut out = vec![];
        while Instant::now() < stop_at {
            let id = self.turn_ids.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            let result = self.turn(&url, &p, door, conv.as_deref(), id, started).await;
            let end = Instant::now();
            match result {
                Ok((ttfb, c)) => {
                    in_conv += 1;
                    conv = if in_conv >= TURNS_PER_CONVERSATION {
                        in_conv = 0;
                        None
                    } else {
                        Some(c)
                    };
                    out.push(TurnRec { id, start: started - t0, end: end - t0, ttfb, error: None });
                }
                Err(e) => {
                    out.push(TurnRec {
                        id,
                        start: started - t0,
                        end: end - t0,
                        ttfb: Duration::ZERO,
                        error: Some(format!("{e:#}")),
                    });
                    conv = None;
                    in_conv = 0;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    async fn chat_run(
        self: &Arc<Self>,
        srv: &Server,
        people: &[Arc<Person>],
        door: Door,
        n: usize,
        profile: Profile,
        model: &'static str,
        lockstep: bool,
        seconds: f64,
    ) -> anyhow::Result<ChatRun> {
        self.fake.set(&self.http, profile).await?;
        self.fake.times(&self.http).await?;
        let warm = Duration::from_secs_f64(self.cfg.warmup);
        let window = Duration::from_secs_f64(seconds);
        let t0 = Instant::now();
        let stop_at = t0 + warm + window;
        let sampler = {
            let b = self.clone();
            let pid = srv.pid;
            tokio::spawn(async move {
                tokio::time::sleep_until((t0 + warm).into()).await;
                let a = b.cpu_snap(pid);
                tokio::time::sleep_until(stop_at.into()).await;
                (a, b.cpu_snap(pid))
            })
        };
        // People's first turns are spread evenly over one turn's length, as people who arrive one by one are:
        // started at the same instant against a model whose latency never varies, they would stay in lockstep,
        // every turn queueing behind the others' (`--lockstep` measures that).
        let spread = if lockstep { Duration::ZERO } else { profile.turn_time() };
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                let p = people[i % people.len()].clone();
                let first_at = t0 + spread.mul_f64(i as f64 / n as f64);
                tokio::spawn(self.clone().person_loop(srv.url.clone(), p, door, t0, first_at, stop_at))
            })
            .collect();
        let mut recs = vec![];
        for t in tasks {
            recs.extend(t.await?);
        }
        let (a, b) = sampler.await?;
        let times = self.fake.times(&self.http).await?;
        let (ws, we) = (warm, warm + window);
        let mut completed = 0usize;
        let (mut share, mut ttfb, mut total, mut model_t) = (vec![], vec![], vec![], vec![]);
        let mut errors = 0;
        let mut error_samples: Vec<String> = vec![];
        for r in &recs {
            let Some(e) = &r.error else {
                if r.end >= ws && r.end <= we {
                    completed += 1;
                }
                if r.start < ws || r.start >= we {
                    continue;
                }
                let Some(&(us, reqs)) = times.get(&r.id) else {
                    errors += 1;
                    if error_samples.len() < 5 {
                        error_samples.push(format!("turn {}: the fake model has no record of it", r.id));
                    }
                    continue;
                };
                if reqs < 2 {
                    errors += 1;
                    if error_samples.len() < 5 {
                        error_samples.push(format!("turn {}: the model was asked {reqs} time(s), not 2", r.id));
                    }
                    continue;
                }
                let turn_ms = ms(r.end - r.start);
                let model_ms = us as f64 / 1000.0;
                total.push(turn_ms);
                model_t.push(model_ms);
                share.push((turn_ms - model_ms).max(0.0));
                ttfb.push(ms(r.ttfb));
                continue;
            };
            errors += 1;
            if error_samples.len() < 5 {
                error_samples.push(e.chars().take(300).collect());
            }
        }
        let run = ChatRun {
            door,
            people: n,
            model,
            lockstep,
            turns: share.len(),
            errors,
            error_samples,
            per_sec: completed as f64 / seconds,
            share: pcts(share),
            ttfb: pcts(ttfb),
            total: pcts(total),
            model_p50: pcts(model_t).p50,
            cpu: CpuUse::between(a, b),
        };
        eprintln!(
            "  chat {:<9} {:>4} people{}, {:<9} model: {:>7.1} turns/s, server share p50 {:.2} p95 {:.2} p99 {:.2} ms, \
             first byte p99 {:.2} ms, {} turns, {} errors; cores: server {:.2}, load {:.2}, postgres {:.2}, other {:.2}",
            format!("{door:?}"),
            n,
            if lockstep { " in lockstep" } else { "" },
            model,
            run.per_sec,
            run.share.p50,
            run.share.p95,
            run.share.p99,
            run.ttfb.p99,
            run.turns,
            run.errors,
            run.cpu.server,
            run.cpu.load,
            run.cpu.postgres,
            run.cpu.other()
        );
        for e in &run.error_samples {
            eprintln!("    error: {e}");
        }
        Ok(run)
    }

    // ---- sign-in under load ----

    async fn signin_phase(
        self: &Arc<Self>,
        srv: &Server,
        people: &[Arc<Person>],
        baseline: Option<ChatRun>,
        hash_concurrency: usize,
    ) -> anyhow::Result<SigninResult> {
        let stop = Arc::new(AtomicBool::new(false));
        let t0 = Instant::now();
        let workers: Vec<_> = (0..self.args.sign_ins)
            .map(|w| {
                let b = self.clone();
                let stop = stop.clone();
                let people: Vec<Arc<Person>> = people.to_vec();
                let addr = srv.addr;
                tokio::spawn(async move {
                    let mut out: Vec<(f64, bool)> = vec![];
                    let mut k = w;
                    while !stop.load(Ordering::Relaxed) {
                        let p = &people[k % people.len()];
                        k += b.args.sign_ins;
                        let body = json!({"email": p.email, "password": p.password}).to_string();
                        let started = Instant::now();
                        let r = raw_post(b.local_addr(), addr, "/api/auth/sign-in/email", &body).await;
                        out.push((ms(started.elapsed()), matches!(r, Ok((200, _)))));
                    }
                    out
                })
            })
            .collect();
        let n = self.args.signin_people;
        let seconds = self.cfg.chat_seconds("realistic", n);
        let chat = self.chat_run(srv, people, Door::Api, n, realistic(&self.args), "realistic", false, seconds).await;
        stop.store(true, Ordering::Relaxed);
        let elapsed = t0.elapsed().as_secs_f64();
        let mut lat = vec![];
        let mut failures = 0;
        for w in workers {
            for (l, ok) in w.await? {
                if ok {
                    lat.push(l);
                } else {
                    failures += 1;
                }
            }
        }
        let signins = lat.len();
        let r = SigninResult {
            concurrent: self.args.sign_ins,
            signin: pcts(lat),
            signins,
            failures,
            per_sec: signins as f64 / elapsed,
            hash_concurrency,
            chat: chat?,
            baseline,
        };
        eprintln!(
            "  sign-in (hash concurrency {}): {} concurrent, p50 {:.0} p95 {:.0} p99 {:.0} ms, {:.1}/s, {} failed; chat p99 {:.2} ms meanwhile",
            r.hash_concurrency,
            r.concurrent,
            r.signin.p50,
            r.signin.p95,
            r.signin.p99,
            r.per_sec,
            r.failures,
            r.chat.share.p99
        );
        Ok(r)
    }

    // ---- history ----

    async fn history_phase(&self, srv: &Server, spec: &ServerSpec, p: &Person) -> anyhow::Result<Vec<HistRow>> {
        let db = taskchat::db::Db::connect(Some(&spec.library_url()), &spec.data_dir).await?;
        let seeded = Instant::now();
        let c100 = seed_thread(&db, &p.id, 100).await?;
        let c10k = seed_thread(&db, &p.id, 10_000).await?;
        // A live PostgreSQL database has its statistics kept fresh by autovacuum; a table that just grew by 10,000
        // rows does not yet, and without them the planner reads the whole thread for one page.
        if let taskchat::db::Db::Postgres(pool) = &db {
            sqlx::query("ANALYZE").execute(pool).await?;
        }
        db.close().await;
        eprintln!("  history: seeded 10,100 messages in {:.1} s", seeded.elapsed().as_secs_f64());
        let iters = self.cfg.history_iters;
        let url = &srv.url;
        let mut rows = vec![];
        let get = |path: String| {
            let req = self.http.get(format!("{url}{path}")).bearer_auth(&p.token);
            async move {
                let res = req.send().await?;
                let status = res.status();
                let body = res.bytes().await?;
                if !status.is_success() {
                    bail!("HTTP {status}: {}", snippet(&body));
                }
                Ok(body)
            }
        };
        let chatkit = |body: Value| {
            let req = self.http.post(format!("{url}/chatkit")).bearer_auth(&p.token).json(&body);
            async move {
                let res = req.send().await?;
                let status = res.status();
                let body = res.bytes().await?;
                if !status.is_success() {
                    bail!("HTTP {status}: {}", snippet(&body));
                }
                Ok(body)
            }
        };
        // The whole 100-message thread in one page must really be 100 messages.
        let first = get(format!("/api/conversations/{c100}/messages?limit=100")).await?;
        let v: Value = serde_json::from_slice(&first)?;
        let count = v["messages"].as_array().map(Vec::len).unwrap_or(0);
        if count != 100 || !v["next_cursor"].is_null() {
            bail!("the 100-message thread came back with {count} messages");
        }
        enum Req {
            Get(String),
            Kit(Value),
        }
        let cases = [
            (
                "100-message thread, all of it: `GET /api/conversations/{id}/messages?limit=100`",
                Req::Get(format!("/api/conversations/{c100}/messages?limit=100")),
            ),
            (
                "100-message thread through ChatKit: `items.list` (limit 100)",
                Req::Kit(json!({"type": "items.list", "params": {"thread_id": c100, "limit": 100, "order": "asc"}})),
            ),
            (
                "10,000-message thread, first page: `?limit=50`",
                Req::Get(format!("/api/conversations/{c10k}/messages?limit=50")),
            ),
            (
                "10,000-message thread, a middle page: `?limit=50&cursor=5000`",
                Req::Get(format!("/api/conversations/{c10k}/messages?limit=50&cursor=5000")),
            ),
            (
                "10,000-message thread, the last page: `?limit=50&cursor=9950`",
                Req::Get(format!("/api/conversations/{c10k}/messages?limit=50&cursor=9950")),
            ),
            (
                "10,000-message thread through ChatKit: `items.list` (newest 20, as the UI opens it)",
                Req::Kit(json!({"type": "items.list", "params": {"thread_id": c10k, "limit": 20, "order": "desc"}})),
            ),
            (
                "10,000-message thread through ChatKit: `threads.get_by_id`",
                Req::Kit(json!({"type": "threads.get_by_id", "params": {"thread_id": c10k}})),
            ),
        ];
        for (what, req) in &cases {
            let mut lat = vec![];
            let mut bytes = 0;
            for i in 0..iters + 10 {
                let started = Instant::now();
                let body = match req {
                    Req::Get(path) => get(path.clone()).await?,
                    Req::Kit(v) => chatkit(v.clone()).await?,
                };
                if i >= 10 {
                    lat.push(ms(started.elapsed()));
                }
                bytes = body.len();
            }
            let row = HistRow { what: what.to_string(), lat: pcts(lat), bytes, per_sec: None };
            eprintln!("  history: {what}: p50 {:.2} p99 {:.2} ms, {} bytes", row.lat.p50, row.lat.p99, row.bytes);
            rows.push(row);
        }
        // The same 100-message load by 50 readers at once.
        let readers = 50;
        let per_reader = (iters / 5).max(10);
        let started = Instant::now();
        let all: Vec<anyhow::Result<Vec<f64>>> = futures::future::join_all((0..readers).map(|_| async {
            let mut lat = vec![];
            for _ in 0..per_reader {
                let t = Instant::now();
                get(format!("/api/conversations/{c100}/messages?limit=100")).await?;
                lat.push(ms(t.elapsed()));
            }
            Ok(lat)
        }))
        .await;
        let wall = started.elapsed().as_secs_f64();
        let mut lat = vec![];
        for r in all {
            lat.extend(r?);
        }
        let n = lat.len();
        let row = HistRow {
            what: format!("100-message thread, {readers} readers at once"),
            lat: pcts(lat),
            bytes: first.len(),
            per_sec: Some(n as f64 / wall),
        };
        eprintln!(
            "  history: {}: p50 {:.2} p99 {:.2} ms, {:.0}/s",
            row.what,
            row.lat.p50,
            row.lat.p99,
            n as f64 / wall
        );
        rows.push(row);
        Ok(rows)
    }

    // ---- memory with open streams ----

    async fn memory_phase(self: &Arc<Self>, spec: &ServerSpec, people: &[Arc<Person>]) -> anyhow::Result<Vec<MemRow>> {
        let cap = (self.fd_soft.saturating_sub(256) / 2) as usize;
        let mut rows = vec![];
        for &want in &self.cfg.streams {
            let k = want.min(cap);
            let srv = self.start_server(spec).await?;
            tokio::time::sleep(Duration::from_secs(1)).await;
            let idle_kb = srv.rss_kb();
            self.fake.set(&self.http, Profile { latency_ms: 0, chunks: 20, interval_ms: 0, hold: true }).await?;
            let held = Arc::new(AtomicUsize::new(0));
            let failed = Arc::new(AtomicUsize::new(0));
            let finished = Arc::new(AtomicUsize::new(0));
            let first_error = Arc::new(Mutex::new(None::<String>));
            let ramp = Arc::new(tokio::sync::Semaphore::new(200));
            let t_open = Instant::now();
            let tasks: Vec<_> = (0..k)
                .map(|i| {
                    let b = self.clone();
                    let p = people[i % people.len()].clone();
                    let url = srv.url.clone();
                    let (held, failed, finished, ramp, first_error) =
                        (held.clone(), failed.clone(), finished.clone(), ramp.clone(), first_error.clone());
                    tokio::spawn(async move {
                        let mut permit = ramp.acquire_owned().await.ok();
                        let mut is_open = false;
                        let r: anyhow::Result<bool> = async {
                            let id = b.turn_ids.fetch_add(1, Ordering::Relaxed);
                            let mut res = b
                                .http
                                .post(format!("{url}/api/{}/chat", p.id))
                                .bearer_auth(&p.token)
                                .header("accept", "text/event-stream")
                                .json(&json!({"message": format!("Please add bench item #T{id} to my list")}))
                                .timeout(Duration::from_secs(900))
                                .send()
                                .await?;
                            if !res.status().is_success() {
                                bail!("HTTP {}", res.status());
                            }
                            let mut seen = Vec::new();
                            while let Some(c) = res.chunk().await? {
                                seen.extend_from_slice(&c);
                                if !is_open && contains(&seen, b"event: text_delta") {
                                    is_open = true;
                                    held.fetch_add(1, Ordering::Relaxed);
                                    permit.take();
                                }
                            }
                            if !is_open {
                                bail!("the stream ended before the answer began: {}", snippet(&seen));
                            }
                            Ok(contains(&seen, b"event: answer_done"))
                        }
                        .await;
                        match r {
                            Ok(true) => {
                                finished.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(false) => {}
                            Err(e) => {
                                if !is_open {
                                    failed.fetch_add(1, Ordering::Relaxed);
                                }
                                first_error.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(format!("{e:#}"));
                            }
                        }
                    })
                })
                .collect();
            let deadline = Instant::now() + Duration::from_secs(170);
            while held.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < k && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let open_secs = t_open.elapsed().as_secs_f64();
            tokio::time::sleep(Duration::from_secs(2)).await;
            let rss_kb = srv.rss_kb();
            let hwm_kb = proc_status_kb(srv.pid, "VmHWM:");
            let fds = std::fs::read_dir(format!("/proc/{}/fd", srv.pid)).map(|d| d.count()).unwrap_or(0);
            let n_held = held.load(Ordering::Relaxed);
            self.fake.release(&self.http).await?;
            let join = futures::future::join_all(tasks);
            let _ = tokio::time::timeout(Duration::from_secs(180), join).await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            let after_kb = srv.rss_kb();
            let row = MemRow {
                requested: want,
                held: n_held,
                failed: failed.load(Ordering::Relaxed),
                open_secs,
                idle_kb,
                rss_kb,
                hwm_kb,
                fds,
                after_kb,
                finished: finished.load(Ordering::Relaxed),
            };
            eprintln!(
                "  memory: {} streams held (of {}, {} failed) after {:.1} s: idle {:.1} MB, open {:.1} MB ({:.1} KB per \
                 stream), {} fds; after they finished ({}): {:.1} MB",
                row.held,
                want,
                row.failed,
                open_secs,
                idle_kb as f64 / 1024.0,
                rss_kb as f64 / 1024.0,
                (rss_kb.saturating_sub(idle_kb)) as f64 / row.held.max(1) as f64,
                fds,
                row.finished,
                after_kb as f64 / 1024.0
            );
            if let Some(e) = first_error.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                eprintln!("    first error: {e}");
            }
            rows.push(row);
            srv.stop().await;
        }
        Ok(rows)
    }

    // ---- start-up ----

    async fn startup_phase(&self, db: DbKind, pg: Option<&Pg>) -> anyhow::Result<StartupResult> {
        let mut r = StartupResult::default();
        let mut last = None;
        for i in 0..self.cfg.startup_reps {
            let spec = self.spec(db, &format!("startup{i}"), pg).await?;
            let srv = self.start_server(&spec).await?;
            r.fresh.push(ms(srv.ready));
            srv.stop().await;
            last = Some(spec);
        }
        let spec = last.ok_or_else(|| anyhow!("no start-up repetitions"))?;
        for i in 0..self.cfg.startup_reps {
            let srv = self.start_server(&spec).await?;
            r.existing.push(ms(srv.ready));
            r.self_ms.extend(srv.self_ready_ms);
            if i == 0 {
                tokio::time::sleep(Duration::from_millis(500)).await;
                r.idle_rss_kb = srv.rss_kb();
            }
            srv.stop().await;
        }
        eprintln!(
            "  start-up: ready after {:.0} ms (median, fresh database), {:.0} ms (existing); idle {:.1} MB",
            median(&r.fresh),
            median(&r.existing),
            r.idle_rss_kb as f64 / 1024.0
        );
        Ok(r)
    }

    async fn bench_database(self: &Arc<Self>, db: DbKind, report: &mut DbReport) -> anyhow::Result<()> {
        let args = &self.args;
        let pg = match db {
            DbKind::Sqlite => None,
            DbKind::Postgres => Some(Pg::start(&self.repo, &self.tmp, args.pg_url.clone()).await?),
        };
        report.version = match &pg {
            Some(pg) => format!("PostgreSQL {}", pg.version().await),
            None => format!("SQLite {}", sqlite_version().await),
        };
        let has = |p: Phase| args.phases.contains(&p);
        if has(Phase::Startup) {
            match self.startup_phase(db, pg.as_ref()).await {
                Ok(r) => report.startup = Some(r),
                Err(e) => report.notes.push(format!("start-up: {e:#}")),
            }
        }
        let needs_server = [Phase::Chat, Phase::Signin, Phase::History, Phase::Memory].iter().any(|p| has(*p));
        if !needs_server {
            return Ok(());
        }
        let spec = self.spec(db, "main", pg.as_ref()).await?;
        let srv = self.start_server(&spec).await?;
        let n_people = args.people.iter().copied().max().unwrap_or(1).max(args.signin_people).max(1);
        let t = Instant::now();
        let people = self.sign_up(&srv, n_people).await?;
        eprintln!("  signed up {} people in {:.1} s", people.len(), t.elapsed().as_secs_f64());
        if has(Phase::Chat) {
            for (model, profile) in [("realistic", realistic(args)), ("zero", zero_latency(args))] {
                // Lockstep runs only with the realistic model: with a zero-latency one, turns never wait for it.
                let lockstep = args.lockstep_people.iter().filter(|&&n| n > 1 && model == "realistic");
                let runs: Vec<(usize, bool)> =
                    args.people.iter().map(|&n| (n, false)).chain(lockstep.map(|&n| (n, true))).collect();
                for &door in &args.doors {
                    for &(n, lockstep) in &runs {
                        let seconds = self.cfg.chat_seconds(model, n);
                        match self.chat_run(&srv, &people, door, n, profile, model, lockstep, seconds).await {
                            Ok(r) => report.chat.push(r),
                            Err(e) => report.notes.push(format!("chat {door:?} {n} people {model}: {e:#}")),
                        }
                    }
                }
            }
        }
        if has(Phase::History) {
            match self.history_phase(&srv, &spec, &people[0]).await {
                Ok(r) => report.history = r,
                Err(e) => report.notes.push(format!("history: {e:#}")),
            }
        }
        srv.stop().await;
        if has(Phase::Signin) {
            let baseline = report
                .chat
                .iter()
                .find(|r| {
                    r.door == Door::Api && r.people == args.signin_people && r.model == "realistic" && !r.lockstep
                })
                .cloned();
            for &hc in &args.signin_hash_concurrency {
                let mut with = spec.clone();
                with.env.push(("TASKCHAT_HASH_CONCURRENCY".into(), hc.to_string()));
                let result = match self.start_server(&with).await {
                    Ok(srv) => {
                        let r = self.signin_phase(&srv, &people, baseline.clone(), hc).await;
                        srv.stop().await;
                        r
                    }
                    Err(e) => Err(e),
                };
                match result {
                    Ok(r) => report.signin.push(r),
                    Err(e) => report.notes.push(format!("sign-in (hash concurrency {hc}): {e:#}")),
                }
            }
        }
        if has(Phase::Memory) {
            match self.memory_phase(&spec, &people).await {
                Ok(r) => report.memory = r,
                Err(e) => report.notes.push(format!("memory: {e:#}")),
            }
        }
        if let Some(pg) = &pg {
            pg.cleanup().await;
        }
        Ok(())
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() { f64::NAN } else { v[v.len() / 2] }
}

async fn sqlite_version() -> String {
    use sqlx::Connection;
    let Ok(mut c) = sqlx::SqliteConnection::connect("sqlite::memory:").await else { return "?".into() };
    sqlx::query_scalar::<_, String>("SELECT sqlite_version()").fetch_one(&mut c).await.unwrap_or_else(|_| "?".into())
}

/// A thread of `n` messages, half the person's requests and half answers that record an `add_task` call, written
/// through the store's own SQL.
async fn seed_thread(db: &taskchat::db::Db, user: &str, n: usize) -> anyhow::Result<String> {
    use taskchat::chat::store;
    let id = uuid::Uuid::now_v7().to_string();
    store::create_conversation(db, user, &id, Some(&format!("A thread of {n} messages"))).await?;
    for i in 0..n {
        let item = i / 2 + 1;
        if i % 2 == 0 {
            let text = format!("Please add \"pick up the dry cleaning, item {item}\" to my list for the weekend");
            store::insert_message(db, user, &id, "user", &text, &[]).await?;
        } else {
            let record = json!({
                "name": "add_task",
                "arguments": {"title": format!("pick up the dry cleaning, item {item}")},
                "result": {"id": uuid::Uuid::now_v7().to_string(), "number": item, "completed": false,
                           "title": format!("pick up the dry cleaning, item {item}"), "description": null,
                           "created_at": "2026-01-05T09:30:00.000Z", "updated_at": "2026-01-05T09:30:00.000Z",
                           "completed_at": null},
            });
            let text = format!(
                "I added task {item}: \"pick up the dry cleaning, item {item}\" to your list. Anything else for the weekend?"
            );
            store::insert_message(db, user, &id, "assistant", &text, &[record]).await?;
        }
    }
    Ok(id)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(200).collect()
}

/// Checks a turn's response: a tool call ran and an answer came; returns the conversation's id.
fn check_turn(door: Door, body: &[u8], conv: Option<&str>) -> anyhow::Result<String> {
    let text = std::str::from_utf8(body)?;
    let first_data = || -> anyhow::Result<Value> {
        let line = text.lines().find_map(|l| l.strip_prefix("data:")).ok_or_else(|| anyhow!("no event"))?;
        Ok(serde_json::from_str(line.trim())?)
    };
    let found = match door {
        Door::Api => {
            if text.contains("event: error") {
                bail!("error event: {}", snippet(body));
            }
            if !text.contains("event: tool_call_finished") || !text.contains("event: answer_done") {
                bail!("no tool call or no answer: {}", snippet(body));
            }
            match conv {
                Some(c) => c.to_string(),
                None => first_data()?["conversation"]["id"].as_str().unwrap_or_default().to_string(),
            }
        }
        Door::ApiJson => {
            let v: Value = serde_json::from_str(text)?;
            if v["tool_calls"].as_array().is_none_or(Vec::is_empty) || !v["response"].is_string() {
                bail!("no tool call or no answer: {}", snippet(body));
            }
            v["conversation_id"].as_str().unwrap_or_default().to_string()
        }
        Door::Chatkit => {
            if text.contains("\"type\":\"error\"") {
                bail!("error event: {}", snippet(body));
            }
            if !text.contains("workflow.task.updated") || !text.contains("assistant_message.content_part.done") {
                bail!("no tool call or no answer: {}", snippet(body));
            }
            match conv {
                Some(c) => c.to_string(),
                None => first_data()?["thread"]["id"].as_str().unwrap_or_default().to_string(),
            }
        }
    };
    if found.is_empty() {
        bail!("no conversation id in the response");
    }
    Ok(found)
}

/// A POST over a new connection from `local` (a loopback address of its own, so per-address rate limits count
/// each simulated person separately); the status and body.
async fn raw_post(local: Option<IpAddr>, server: SocketAddr, path: &str, body: &str) -> anyhow::Result<(u16, Vec<u8>)> {
    let sock = tokio::net::TcpSocket::new_v4()?;
    if let Some(ip) = local {
        sock.bind(SocketAddr::new(ip, 0))?;
    }
    let mut s = sock.connect(server).await?;
    s.set_nodelay(true)?;
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {server}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await?;
    let mut buf = Vec::with_capacity(2048);
    tokio::time::timeout(Duration::from_secs(120), s.read_to_end(&mut buf)).await??;
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| anyhow!("no HTTP response"))?;
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let status: u16 =
        head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| anyhow!("no status"))?;
    let raw = &buf[split + 4..];
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(raw) } else { raw.to_vec() };
    Ok((status, body))
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = vec![];
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&raw[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 || raw.len() < eol + 2 + size {
            break;
        }
        out.extend_from_slice(&raw[eol + 2..eol + 2 + size]);
        raw = &raw[(eol + 4 + size).min(raw.len())..];
    }
    out
}

fn can_bind_distinct_loopback() -> bool {
    std::net::TcpListener::bind("127.64.1.1:0").is_ok()
}

// ---- the report -----------------------------------------------------------------------------------------

struct Machine {
    cpu: String,
    cores: usize,
    memory: String,
    kernel: String,
    os: String,
    rustc: String,
    commit: String,
    date: String,
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim().to_string()))
        .unwrap_or_else(|| "?".into());
    let mem_kb: u64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let os = std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_string()))
        .unwrap_or_else(|| "?".into());
    let run = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|| "?".into())
    };
    let repo = env!("CARGO_MANIFEST_DIR");
    let mut commit = run("git", &["-C", repo, "rev-parse", "--short", "HEAD"]);
    if !run("git", &["-C", repo, "status", "--porcelain", "--untracked-files=no"]).is_empty() {
        commit.push_str(" (with uncommitted changes)");
    }
    let date = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC"))
        .unwrap_or_default();
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        memory: format!("{:.1} GiB", mem_kb as f64 / 1024.0 / 1024.0),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string(),
        os,
        rustc: run("rustc", &["--version"]),
        commit,
        date,
    }
}

fn f(v: f64) -> String {
    if v.is_nan() {
        "—".into()
    } else if v < 1.0 {
        format!("{v:.2}")
    } else if v < 100.0 {
        format!("{v:.1}")
    } else {
        thousands(v.round() as u64)
    }
}

fn thousands(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn mark(ok: bool) -> &'static str {
    if ok { "✓" } else { "✗" }
}

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

/// The hand-written analysis of the previous report, kept across runs.
fn previous_analysis(out: &Path) -> Option<String> {
    let text = std::fs::read_to_string(out).ok()?;
    let start = text.find(ANALYSIS_BEGIN)?;
    let end = text.find(ANALYSIS_END)?;
    (end > start).then(|| text[start..end + ANALYSIS_END.len()].to_string())
}

struct Report<'a> {
    machine: Machine,
    command: String,
    bench: &'a Bench,
    binary_size: u64,
    dbs: Vec<(DbKind, DbReport)>,
    notes: Vec<String>,
}

impl Report<'_> {
    fn db(&self, kind: DbKind) -> Option<&DbReport> {
        self.dbs.iter().find(|(k, _)| *k == kind).map(|(_, r)| r)
    }

    /// One summary cell per database: the figure, with ✓/✗ when `ok` judges it (None: no target).
    fn cells(&self, get: impl Fn(DbKind, &DbReport) -> Option<(String, Option<bool>)>) -> String {
        [DbKind::Sqlite, DbKind::Postgres]
            .iter()
            .map(|k| match self.db(*k).and_then(|r| get(*k, r)) {
                Some((v, Some(ok))) => format!(" {v} {} |", mark(ok)),
                Some((v, None)) => format!(" {v} |"),
                None => " not run |".to_string(),
            })
            .collect()
    }

    fn render(&self) -> String {
        let a = &self.bench.args;
        let cfg = &self.bench.cfg;
        let m = &self.machine;
        let mut s = String::new();
        let w = &mut s;
        let line = |w: &mut String, text: &str| {
            w.push_str(text);
            w.push('\n');
        };
        line(w, "# Benchmarks");
        line(w, "");
        line(
            w,
            "Written by the load benchmark in `benches/load.rs`: it starts the release `taskchat serve` binary with a \
             fake OpenAI-compatible model of configurable latency and streaming speed and drives it over loopback. \
             Every figure is measured on the machine below; each target is the issue's, meant for a 2-core machine.",
        );
        line(w, "");
        line(w, "## Machine and command");
        line(w, "");
        line(w, "| | |");
        line(w, "|---|---|");
        line(w, &format!("| CPU | {} × {} |", m.cores, m.cpu));
        line(w, &format!("| Memory | {} |", m.memory));
        line(w, &format!("| OS, kernel | {}, Linux {} |", m.os, m.kernel));
        line(w, &format!("| Rust | {} |", m.rustc));
        line(w, &format!("| taskchat | commit {} |", m.commit));
        let versions: Vec<String> = self.dbs.iter().map(|(_, r)| r.version.clone()).collect();
        line(w, &format!("| Databases | {} |", versions.join(", ")));
        line(w, &format!("| Open-file limit | {} |", self.bench.fd_soft));
        line(w, &format!("| Run | {} |", m.date));
        line(w, "");
        line(w, "```sh");
        line(w, &self.command);
        line(w, "```");
        line(w, "");
        line(
            w,
            &format!(
                "The realistic model answers each request after {} ms and streams its text answer in {} pieces {} ms \
                 apart (its tool call in 3 pieces): about {} ms of model time per turn, two model requests each. The \
                 zero-latency model answers at once. Chat runs measure {} s after {} s of warm-up ({} s with one \
                 person, {} s with more and the realistic model); each person sends {} turns to a conversation, \
                 then starts a new one. People's first turns are spread evenly over one turn's model time, as \
                 people arriving one by one are; the runs *in lockstep* start them all at the same instant instead, \
                 and as the model's latency never varies they stay in step, each turn queueing behind the others'. \
                 PostgreSQL is the throwaway cluster of `scripts/pg.sh` (fsync off, as in the tests); SQLite is the \
                 server's default file in WAL mode.",
                a.latency_ms,
                a.chunks,
                a.chunk_interval_ms,
                realistic(a).turn_time().as_millis(),
                f(cfg.duration),
                f(cfg.warmup),
                f(cfg.chat_seconds("realistic", 1)),
                f(cfg.chat_seconds("realistic", 2)),
                TURNS_PER_CONVERSATION
            ),
        );
        line(w, "");
        // ---- summary ----
        line(w, "## Targets");
        line(w, "");
        line(w, "| Figure | Target | SQLite | PostgreSQL |");
        line(w, "|---|---|---|---|");
        let chat = |r: &DbReport, door: Door, n: usize, model: &str| {
            r.chat.iter().find(|c| c.door == door && c.people == n && c.model == model && !c.lockstep).cloned()
        };
        for &door in &a.doors {
            let cells = self.cells(|_, r| {
                chat(r, door, 50, "realistic").map(|c| (format!("{} ms", f(c.share.p99)), Some(c.share.p99 < 10.0)))
            });
            line(w, &format!("| Server share of a chat turn, p99, 50 people, {} | < 10 ms |{cells}", door.name()));
        }
        for &n in a.lockstep_people.iter().filter(|&&n| n > 1) {
            for &door in &a.doors {
                let cells = self.cells(|_, r| {
                    r.chat
                        .iter()
                        .find(|c| c.door == door && c.people == n && c.lockstep)
                        .map(|c| (format!("{} ms", f(c.share.p99)), None))
                });
                line(
                    w,
                    &format!(
                        "| Server share of a chat turn, p99, {n} people in lockstep (the worst case), {} | — |{cells}",
                        door.name()
                    ),
                );
            }
        }
        for &door in &a.doors {
            let cells = self.cells(|k, r| {
                r.chat
                    .iter()
                    .filter(|c| c.door == door && c.model == "zero")
                    .max_by(|x, y| x.per_sec.total_cmp(&y.per_sec))
                    .map(|c| {
                        let ok = (k == DbKind::Sqlite).then_some(c.per_sec >= 1000.0);
                        (format!("{} /s ({} people)", f(c.per_sec), c.people), ok)
                    })
            });
            line(
                w,
                &format!("| Chat turns per second, zero-latency model, {} | ≥ 1,000 on SQLite |{cells}", door.name()),
            );
        }
        let cells = self.cells(|_, r| {
            default_signin(r).map(|s| (format!("{} ms", f(s.chat.share.p99)), Some(s.chat.share.p99 < 10.0)))
        });
        line(
            w,
            &format!(
                "| Server share of a chat turn, p99, {} people, while {} sign-ins run | < 10 ms (hashing must not stall chat) |{cells}",
                a.signin_people, a.sign_ins
            ),
        );
        let cells = self.cells(|_, r| default_signin(r).map(|s| (format!("{} ms", f(s.signin.p99)), None)));
        line(w, &format!("| Sign-in latency, p99, {} at once | — |{cells}", a.sign_ins));
        let cells =
            self.cells(|_, r| r.history.first().map(|h| (format!("{} ms", f(h.lat.p99)), Some(h.lat.p99 < 10.0))));
        line(w, &format!("| Loading a 100-message thread, p99 | < 10 ms |{cells}"));
        let cells = self.cells(|_, r| {
            r.memory.iter().max_by_key(|m| m.requested).map(|m| {
                let per = m.rss_kb.saturating_sub(m.idle_kb) as f64 / m.held.max(1) as f64;
                let at_10k = m.idle_kb as f64 + per * 10_000.0;
                let text = if m.held >= 10_000 {
                    mb(m.rss_kb)
                } else {
                    format!(
                        "{} at {} streams → ≈ {} at 10,000",
                        mb(m.rss_kb),
                        thousands(m.held as u64),
                        mb(at_10k as u64)
                    )
                };
                (text, Some(at_10k.max(m.rss_kb as f64) < 500.0 * 1024.0))
            })
        });
        line(w, &format!("| Resident memory with 10,000 open streams (slow model) | < 500 MB |{cells}"));
        let cells = self.cells(|_, r| {
            r.startup.as_ref().map(|st| {
                let v = median(&st.fresh).max(median(&st.existing));
                (format!("{} ms", f(v)), Some(v < 200.0))
            })
        });
        line(w, &format!("| Start-up to ready (median, worse of fresh and existing database) | < 200 ms |{cells}"));
        line(w, &format!("| Release binary size | — | {} (one binary for both) | |", mb(self.binary_size / 1024)));
        line(w, "");
        line(
            w,
            "*Server share* is a turn's time as the client measured it (request sent → last byte of the response) \
             minus the time the fake model spent on that turn's two requests (request read → last byte handed \
             over): the server's own work (auth, database, tools, rendering), its queueing, and loopback transfer. \
             *First byte* is the time to the response's first streamed byte. The load generator and the fake \
             model run on the same cores as the server; the *cores* columns tell who used the CPU during each \
             measurement window (*load* = load generator + fake model, *other* = anything else on the machine).",
        );
        line(w, "");
        // ---- chat tables ----
        for (model, title) in
            [("realistic", "realistic model"), ("zero", "zero-latency model (the throughput ceiling)")]
        {
            line(w, &format!("## Chat turns with a tool call, {title}"));
            line(w, "");
            line(
                w,
                "| Database | Door | People | Turns/s | Server share p50 / p95 / p99 (ms) | First byte p50 / p95 / p99 (ms) | \
                 Turn p50: all / model (ms) | Turns measured | Errors | Cores: server / load / postgres / other |",
            );
            line(w, "|---|---|---|---|---|---|---|---|---|---|");
            for (k, r) in &self.dbs {
                for c in r.chat.iter().filter(|c| c.model == model) {
                    line(w, &chat_row(k.name(), c));
                }
            }
            line(w, "");
        }
        // ---- sign-in ----
        line(w, "## Sign-in under load");
        line(w, "");
        line(
            w,
            &format!(
                "{} sign-ins run at once, over and over (each from its own loopback address, over a new connection, \
                 so the per-address rate limit stays on and is not hit), while {} people chat through {} with the \
                 realistic model. Passwords are argon2id (m = 19 MiB, t = 2); the server hashes at most \
                 `TASKCHAT_HASH_CONCURRENCY` at a time (default: one less than the cores, at least 1), on threads of \
                 the lowest CPU priority; each setting runs on a freshly started server.",
                a.sign_ins,
                a.signin_people,
                Door::Api.name()
            ),
        );
        line(w, "");
        line(
            w,
            "| Database | Hashes at once | Sign-in p50 / p95 / p99 (ms) | Sign-ins/s (measured) | Failed | Chat server share p50 / p95 / p99 meanwhile (ms) | \
             Without sign-ins (ms) | Cores: server / load / postgres / other |",
        );
        line(w, "|---|---|---|---|---|---|---|---|");
        for (k, r) in &self.dbs {
            for si in &r.signin {
                let base = si
                    .baseline
                    .as_ref()
                    .map(|b| format!("{} / {} / {}", f(b.share.p50), f(b.share.p95), f(b.share.p99)))
                    .unwrap_or_else(|| "—".into());
                line(
                    w,
                    &format!(
                        "| {} | {} | {} / {} / {} | {} ({}) | {} | {} / {} / {} | {} | {} |",
                        k.name(),
                        si.hash_concurrency,
                        f(si.signin.p50),
                        f(si.signin.p95),
                        f(si.signin.p99),
                        f(si.per_sec),
                        thousands(si.signins as u64),
                        si.failures,
                        f(si.chat.share.p50),
                        f(si.chat.share.p95),
                        f(si.chat.share.p99),
                        base,
                        cores(&si.chat.cpu)
                    ),
                );
            }
        }
        line(w, "");
        // ---- history ----
        line(w, "## History");
        line(
            w,
            "\nThreads seeded through the store's own SQL (half requests, half answers recording an `add_task` call), \
             then read over HTTP one request at a time (the last row: 50 readers at once).\n",
        );
        line(w, "| Database | Request | p50 / p95 / p99 (ms) | Requests timed | Response size | Requests/s |");
        line(w, "|---|---|---|---|---|---|");
        for (k, r) in &self.dbs {
            for h in &r.history {
                line(
                    w,
                    &format!(
                        "| {} | {} | {} / {} / {} | {} | {} KB | {} |",
                        k.name(),
                        h.what,
                        f(h.lat.p50),
                        f(h.lat.p95),
                        f(h.lat.p99),
                        thousands(h.lat.n as u64),
                        f(h.bytes as f64 / 1024.0),
                        h.per_sec.map(f).unwrap_or_else(|| "—".into())
                    ),
                );
            }
        }
        line(w, "");
        // ---- memory ----
        line(w, "## Memory");
        line(
            w,
            &format!(
                "\nResident size (VmRSS) of a freshly started server, then with streams held open: each is a chat \
                 turn through {} whose model answered its tool call, sent the first words of its answer and then \
                 holds its stream open. Each open stream holds two sockets in the server (the person's and the \
                 model's, HTTP/1.1), so the open-file limit ({}) caps how many can be held here; a figure for \
                 10,000 beyond that cap is extrapolated linearly from the measured per-stream cost.\n",
                Door::Api.name(),
                self.bench.fd_soft
            ),
        );
        line(
            w,
            "| Database | Streams held | Idle | Resident with streams open | Per stream | Peak (VmHWM) | Open files | \
             Seconds to open them all | After they finished |",
        );
        line(w, "|---|---|---|---|---|---|---|---|---|");
        for (k, r) in &self.dbs {
            for mrow in &r.memory {
                let per = mrow.rss_kb.saturating_sub(mrow.idle_kb) as f64 / mrow.held.max(1) as f64;
                let held = if mrow.held < mrow.requested {
                    format!(
                        "{} (of {}; {} failed)",
                        thousands(mrow.held as u64),
                        thousands(mrow.requested as u64),
                        mrow.failed
                    )
                } else {
                    thousands(mrow.held as u64)
                };
                line(
                    w,
                    &format!(
                        "| {} | {} | {} | {} | {} KB | {} | {} | {} | {} ({} answered) |",
                        k.name(),
                        held,
                        mb(mrow.idle_kb),
                        mb(mrow.rss_kb),
                        f(per),
                        mb(mrow.hwm_kb),
                        thousands(mrow.fds as u64),
                        f(mrow.open_secs),
                        mb(mrow.after_kb),
                        thousands(mrow.finished as u64)
                    ),
                );
            }
        }
        line(w, "");
        // ---- start-up ----
        line(w, "## Start-up and size");
        line(
            w,
            &format!(
                "\nFrom spawning `taskchat serve` to its first `GET /readyz` answered 200, {} starts each on a fresh \
                 database (migrations run) and on an existing one; the server's own `ready_ms` (logged, from `serve` \
                 starting to listening) is shown beside it. The idle size is a server started on the existing \
                 database, half a second after it was ready.\n",
                cfg.startup_reps
            ),
        );
        line(
            w,
            "| Database | Fresh database: median (min–max) | Existing database: median (min–max) | Server's own ready_ms (median) | Idle resident size |",
        );
        line(w, "|---|---|---|---|---|");
        for (k, r) in &self.dbs {
            if let Some(st) = &r.startup {
                let mm = |v: &[f64]| {
                    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = v.iter().copied().fold(0.0, f64::max);
                    format!("{} ms ({}–{})", f(median(v)), f(lo), f(hi))
                };
                let own: Vec<f64> = st.self_ms.iter().map(|v| *v as f64).collect();
                line(
                    w,
                    &format!(
                        "| {} | {} | {} | {} ms | {} |",
                        k.name(),
                        mm(&st.fresh),
                        mm(&st.existing),
                        f(median(&own)),
                        mb(st.idle_rss_kb)
                    ),
                );
            }
        }
        line(w, "");
        line(
            w,
            &format!(
                "Release binary (`target/release/taskchat`, stripped): {} bytes ({}).",
                thousands(self.binary_size),
                mb(self.binary_size / 1024)
            ),
        );
        line(w, "");
        let mut notes = self.notes.clone();
        for (k, r) in &self.dbs {
            notes.extend(r.notes.iter().map(|n| format!("{}: {n}", k.name())));
        }
        if !notes.is_empty() {
            line(w, "## Problems during the run");
            line(w, "");
            for n in notes {
                line(w, &format!("- {}", n.replace('\n', " ")));
            }
            line(w, "");
        }
        line(w, "## What bounds the figures");
        line(w, "");
        match previous_analysis(&a.out) {
            Some(text) => line(w, &text),
            None => {
                line(w, ANALYSIS_BEGIN);
                line(
                    w,
                    "_Not written yet: the analysis of each missed target goes here, by hand, and is kept when the report \
                     is written again._",
                );
                line(w, ANALYSIS_END);
            }
        }
        s
    }
}

/// The sign-in run with the server's default hash concurrency (one less than the cores, at least 1; the server runs
/// on this machine), else the first.
fn default_signin(r: &DbReport) -> Option<&SigninResult> {
    let default = std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1)).max(1);
    r.signin.iter().find(|s| s.hash_concurrency == default).or(r.signin.first())
}

fn cores(c: &CpuUse) -> String {
    format!("{:.2} / {:.2} / {:.2} / {:.2}", c.server, c.load, c.postgres, c.other())
}

fn chat_row(db: &str, c: &ChatRun) -> String {
    format!(
        "| {db} | {} | {} | {} | {} / {} / {} | {} / {} / {} | {} / {} | {} | {} | {} |",
        c.door.name(),
        if c.lockstep { format!("{}, in lockstep", c.people) } else { c.people.to_string() },
        f(c.per_sec),
        f(c.share.p50),
        f(c.share.p95),
        f(c.share.p99),
        f(c.ttfb.p50),
        f(c.ttfb.p95),
        f(c.ttfb.p99),
        f(c.total.p50),
        f(c.model_p50),
        thousands(c.turns as u64),
        c.errors,
        cores(&c.cpu)
    )
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=,:".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

async fn run(args: Args, argv: Vec<String>) -> anyhow::Result<()> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bin = args.bin.clone().unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_taskchat")));
    if !bin.exists() {
        bail!("{} does not exist: build it with cargo build --release", bin.display());
    }
    let tmp = std::env::temp_dir().join(format!("taskchat-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let cfg = if args.quick {
        Cfg {
            duration: 2.0,
            warmup: 0.5,
            streams: vec![1000],
            startup_reps: 3,
            history_iters: 50,
            single_person_factor: 1.0,
            crowd_factor: 1.0,
        }
    } else {
        Cfg {
            duration: args.duration,
            warmup: args.warmup,
            streams: args.streams.clone(),
            startup_reps: 5,
            history_iters: 200,
            single_person_factor: 3.0,
            crowd_factor: 2.0,
        }
    };
    let shown: Vec<String> = argv.iter().skip(1).filter(|a| *a != "--bench").map(|a| shell_quote(a)).collect();
    let command = if shown.is_empty() {
        "cargo bench --bench load".to_string()
    } else {
        format!("cargo bench --bench load -- {}", shown.join(" "))
    };
    let distinct_addresses = can_bind_distinct_loopback();
    let bench = Arc::new(Bench {
        cfg,
        bin: bin.clone(),
        repo,
        tmp: tmp.clone(),
        http: reqwest::Client::builder().no_proxy().tcp_nodelay(true).build()?,
        fake: FakeModel::start()?,
        turn_ids: AtomicU64::new(1),
        next_addr: AtomicU32::new(0),
        distinct_addresses,
        tck: Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0),
        fd_soft: fd_limits().0,
        starts: AtomicU32::new(0),
        args: args.clone(),
    });
    eprintln!(
        "load: benchmarking {} (fake model at {}; work files in {})",
        bin.display(),
        bench.fake.url,
        tmp.display()
    );
    let mut notes = vec![];
    if !distinct_addresses {
        notes.push(
            "loopback addresses other than 127.0.0.1 cannot be bound here, so the server ran with \
             TASKCHAT_RATE_LIMIT_MAX=0"
                .to_string(),
        );
    }
    let mut dbs = vec![];
    for &db in &args.databases {
        eprintln!("{}:", db.name());
        let mut r = DbReport::default();
        if let Err(e) = bench.bench_database(db, &mut r).await {
            eprintln!("  failed: {e:#}");
            r.notes.push(format!("{e:#}"));
        }
        dbs.push((db, r));
    }
    let report = Report {
        machine: machine(),
        command,
        bench: &bench,
        binary_size: std::fs::metadata(&bin).map(|m| m.len()).unwrap_or(0),
        dbs,
        notes,
    };
    let mut text = report.render();
    // The sections `--bench tasks` and `--bench soak` write are their own: keep them.
    if let Ok(old) = std::fs::read_to_string(&args.out) {
        for name in ["tasks", "soak"] {
            let (begin, end) = (format!("<!-- {name}:begin -->"), format!("<!-- {name}:end -->"));
            if let (Some(a), Some(b)) = (old.find(&begin), old.find(&end))
                && b > a
            {
                text = format!("{}\n\n{}\n", text.trim_end(), &old[a..b + end.len()]);
            }
        }
    }
    std::fs::write(&args.out, &text).with_context(|| format!("cannot write {}", args.out.display()))?;
    eprintln!("load: wrote {}", args.out.display());
    if std::env::var_os("TASKCHAT_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    Ok(())
}
