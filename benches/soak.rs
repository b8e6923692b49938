//! Soak benchmark: mixed traffic for a long time, to see memory, file descriptors and latency stay flat.
//!
//! cargo bench --bench soak -- --out BENCHMARKS.md
//!
//! On each database it starts `taskchat serve` (release build, builtin assistant), signs up `--people` people,
//! holds `--idle-streams` event streams open for the whole run, and has one worker per person send requests one
//! after another for `--minutes`, going round the doors: a chat turn (JSON), a ChatKit turn (streamed), REST
//! (add, complete, first page), an MCP session (initialize, list_tasks, end), an event stream opened and closed,
//! and a sign-in. Every `--sample-secs` it records the server's memory and descriptors and each door's p99 over
//! that window. The section between `<!-- soak:begin -->` and `<!-- soak:end -->` of the report is rewritten, and
//! a plot of memory over time goes to docs/soak-<database>.svg.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use clap::Parser;
use serde_json::{Value, json};

#[path = "support/mod.rs"]
mod support;
use support::{PgDb, fds, rss_kb, start_server, write_section};

const BEGIN: &str = "<!-- soak:begin -->";
const END: &str = "<!-- soak:end -->";
const DOORS: [&str; 6] = ["chat", "chatkit", "rest", "mcp", "events", "sign-in"];

#[derive(Parser, Clone)]
#[command(name = "soak", about = "Soak benchmark of taskchat: cargo bench --bench soak -- [OPTIONS]")]
struct Args {
    /// Passed by `cargo bench`; without it (as under `cargo test --benches`) nothing runs.
    #[arg(long, hide = true)]
    bench: bool,
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    #[arg(long, env = "TASKCHAT_BIN")]
    bin: Option<PathBuf>,
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    databases: Vec<String>,
    #[arg(long, env = "TASKCHAT_BENCH_PG_URL")]
    pg_url: Option<String>,
    /// Minutes of traffic on each database.
    #[arg(long, default_value_t = 30.0)]
    minutes: f64,
    /// People sending requests at once (one worker each).
    #[arg(long, default_value_t = 50)]
    people: usize,
    /// Event streams held open for the whole run, beside the traffic.
    #[arg(long, default_value_t = 1000)]
    idle_streams: usize,
    #[arg(long, default_value_t = 10)]
    sample_secs: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.bench {
        return Ok(());
    }
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(run(args))
}

struct Person {
    id: String,
    email: String,
    token: String,
}

#[derive(Default)]
struct Window {
    latencies: BTreeMap<&'static str, Vec<f64>>,
    errors: BTreeMap<&'static str, u64>,
}

struct Sample {
    secs: f64,
    rss_kb: u64,
    fds: usize,
    ops: usize,
    p99: BTreeMap<&'static str, f64>,
}

struct DbRun {
    name: &'static str,
    samples: Vec<Sample>,
    all: BTreeMap<&'static str, Vec<f64>>,
    errors: BTreeMap<&'static str, u64>,
    first_errors: Vec<String>,
    idle_held: usize,
    seconds: f64,
}

fn p99(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 * 0.99).ceil() as usize).clamp(1, v.len()) - 1]
}

async fn sign_up(http: &reqwest::Client, url: &str, i: usize) -> anyhow::Result<Person> {
    let email = format!("soak{i}@example.com");
    let r = http
        .post(format!("{url}/api/auth/sign-up/email"))
        .json(&json!({"name": format!("Soak {i}"), "email": email, "password": "correct horse battery"}))
        .send()
        .await?;
    let v: Value = r.json().await?;
    Ok(Person {
        id: v["user"]["id"].as_str().ok_or_else(|| anyhow!("sign-up: {v}"))?.to_string(),
        token: v["token"].as_str().unwrap_or_default().to_string(),
        email,
    })
}

/// One request (or one short exchange) through a door; an error when it did not do what it should.
async fn op(http: &reqwest::Client, url: &str, p: &Person, door: &str, n: u64) -> anyhow::Result<()> {
    let ok = |status: reqwest::StatusCode, what: &str| -> anyhow::Result<()> {
        if status.is_success() { Ok(()) } else { bail!("{what}: HTTP {status}") }
    };
    match door {
        "chat" => {
            let r = http
                .post(format!("{url}/api/{}/chat", p.id))
                .bearer_auth(&p.token)
                .json(&json!({"message": format!("add soak item {n}")}))
                .send()
                .await?;
            ok(r.status(), "chat")?;
            let v: Value = r.json().await?;
            if v["tool_calls"].as_array().is_none_or(Vec::is_empty) {
                bail!("chat: no tool call in {v}");
            }
        }
        "chatkit" => {
            let input = json!({"content": [{"type": "input_text", "text": "what is left?"}], "attachments": []});
            let r = http
                .post(format!("{url}/chatkit"))
                .bearer_auth(&p.token)
                .json(&json!({"type": "threads.create", "params": {"input": input}}))
                .send()
                .await?;
            ok(r.status(), "chatkit")?;
            let text = r.text().await?;
            if !text.contains("thread.item.done") || text.contains("\"type\":\"error\"") {
                bail!("chatkit: {}", text.chars().take(200).collect::<String>());
            }
        }
        "rest" => {
            let r = http
                .post(format!("{url}/api/tasks"))
                .bearer_auth(&p.token)
                .json(&json!({"title": format!("soak rest {n}"), "due": "tomorrow 5pm", "labels": ["soak"]}))
                .send()
                .await?;
            ok(r.status(), "rest add")?;
            let task: Value = r.json().await?;
            let number = task["number"].as_i64().ok_or_else(|| anyhow!("rest: {task}"))?;
            let r = http
                .patch(format!("{url}/api/tasks/{number}"))
                .bearer_auth(&p.token)
                .json(&json!({"completed": true}))
                .send()
                .await?;
            ok(r.status(), "rest complete")?;
            let r = http.get(format!("{url}/api/tasks?status=pending&limit=20")).bearer_auth(&p.token).send().await?;
            ok(r.status(), "rest list")?;
            r.bytes().await?;
        }
        "mcp" => {
            let post = |body: Value, session: Option<&str>| {
                let mut req = http
                    .post(format!("{url}/mcp"))
                    .bearer_auth(&p.token)
                    .header("accept", "application/json, text/event-stream")
                    .json(&body);
                if let Some(s) = session {
                    req = req.header("mcp-session-id", s);
                }
                req.send()
            };
            let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "soak", "version": "1"}}});
            let r = post(init, None).await?;
            ok(r.status(), "mcp initialize")?;
            let session = r.headers().get("mcp-session-id").and_then(|v| v.to_str().ok()).map(str::to_string);
            r.bytes().await?;
            let s = session.as_deref();
            let r = post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}), s).await?;
            ok(r.status(), "mcp initialized")?;
            r.bytes().await?;
            let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                "params": {"name": "list_tasks", "arguments": {"status": "pending", "limit": 10}}});
            let r = post(call, s).await?;
            ok(r.status(), "mcp call")?;
            let text = r.text().await?;
            if !text.contains("\"result\"") || text.contains("\"isError\":true") {
                bail!("mcp: {}", text.chars().take(200).collect::<String>());
            }
            if let Some(s) = s {
                let r =
                    http.delete(format!("{url}/mcp")).bearer_auth(&p.token).header("mcp-session-id", s).send().await?;
                if !(r.status().is_success() || r.status() == reqwest::StatusCode::METHOD_NOT_ALLOWED) {
                    bail!("mcp end: HTTP {}", r.status());
                }
            }
        }
        "events" => {
            let mut r = http.get(format!("{url}/api/events")).bearer_auth(&p.token).send().await?;
            ok(r.status(), "events")?;
            let chunk = tokio::time::timeout(Duration::from_secs(10), r.chunk()).await??.unwrap_or_default();
            if !String::from_utf8_lossy(&chunk).contains("ready") {
                bail!("events: no ready");
            }
        }
        "sign-in" => {
            let r = http
                .post(format!("{url}/api/auth/sign-in/email"))
                .json(&json!({"email": p.email, "password": "correct horse battery"}))
                .send()
                .await?;
            ok(r.status(), "sign-in")?;
            r.bytes().await?;
        }
        other => bail!("no door {other}"),
    }
    Ok(())
}

async fn soak(
    args: &Args,
    bin: &std::path::Path,
    name: &'static str,
    database_url: Option<String>,
) -> anyhow::Result<DbRun> {
    let dir = tempfile::tempdir()?;
    let server = start_server(bin, dir.path(), database_url.as_deref(), &[])?;
    let url = server.url.clone();
    let pid = server.pid();
    let http = reqwest::Client::builder().pool_max_idle_per_host(512).timeout(Duration::from_secs(60)).build()?;
    let mut people = vec![];
    for i in 0..args.people {
        people.push(Arc::new(sign_up(&http, &url, i).await?));
    }
    // Idle streams belong to people of their own, 10 each (a person may hold 16), held open until the end.
    let mut idle_people = vec![];
    for i in 0..args.idle_streams.div_ceil(10) {
        idle_people.push(sign_up(&http, &url, 100_000 + i).await?);
    }
    let mut idle = vec![];
    let idle_http = reqwest::Client::builder().pool_max_idle_per_host(0).build()?;
    for p in idle_people.iter().flat_map(|p| std::iter::repeat_n(p, 10)).take(args.idle_streams) {
        let r = idle_http.get(format!("{url}/api/events")).bearer_auth(&p.token).send().await;
        if let Ok(r) = r
            && r.status().is_success()
        {
            idle.push(r);
        }
    }
    let idle_held = idle.len();
    eprintln!("{name}: {} people, {idle_held} idle event streams held", people.len());
    let window = Arc::new(Mutex::new(Window::default()));
    let all = Arc::new(Mutex::new(BTreeMap::<&'static str, Vec<f64>>::new()));
    let first_errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = people
        .iter()
        .enumerate()
        .map(|(w, p)| {
            let (http, url, p) = (http.clone(), url.clone(), p.clone());
            let (window, all, first_errors, stop, counter) =
                (window.clone(), all.clone(), first_errors.clone(), stop.clone(), counter.clone());
            tokio::spawn(async move {
                let mut k = w;
                while !stop.load(Ordering::Relaxed) {
                    let door = DOORS[k % DOORS.len()];
                    k += 1;
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    let t = Instant::now();
                    let r = op(&http, &url, &p, door, n).await;
                    let ms = t.elapsed().as_secs_f64() * 1000.0;
                    let mut win = window.lock().unwrap();
                    win.latencies.entry(door).or_default().push(ms);
                    all.lock().unwrap().entry(door).or_default().push(ms);
                    if let Err(e) = r {
                        *win.errors.entry(door).or_default() += 1;
                        let mut first = first_errors.lock().unwrap();
                        if first.len() < 5 {
                            first.push(format!("{door}: {e:#}"));
                        }
                    }
                }
            })
        })
        .collect();
    let total = Duration::from_secs_f64(args.minutes * 60.0);
    let mut samples = vec![];
    let mut errors: BTreeMap<&'static str, u64> = BTreeMap::new();
    while started.elapsed() < total {
        tokio::time::sleep(Duration::from_secs(args.sample_secs).min(total.saturating_sub(started.elapsed()))).await;
        let win = std::mem::take(&mut *window.lock().unwrap());
        let mut p = BTreeMap::new();
        let mut ops = 0;
        for (door, mut v) in win.latencies {
            ops += v.len();
            p.insert(door, p99(&mut v));
        }
        for (door, e) in win.errors {
            *errors.entry(door).or_default() += e;
        }
        let s = Sample { secs: started.elapsed().as_secs_f64(), rss_kb: rss_kb(pid), fds: fds(pid), ops, p99: p };
        eprintln!(
            "  {:>5.0} s: {:.1} MB, {} fds, {:.0} ops/s, errors so far {}",
            s.secs,
            s.rss_kb as f64 / 1024.0,
            s.fds,
            s.ops as f64 / args.sample_secs as f64,
            errors.values().sum::<u64>()
        );
        samples.push(s);
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.await;
    }
    let seconds = started.elapsed().as_secs_f64();
    drop(idle);
    drop(server);
    let all = std::mem::take(&mut *all.lock().unwrap());
    let first_errors = first_errors.lock().unwrap().clone();
    Ok(DbRun { name, samples, all, errors, first_errors, idle_held, seconds })
}

/// Memory over time as an SVG polyline (no plotting library: a few lines of markup do).
fn svg(run: &DbRun) -> String {
    let (w, h, pad) = (640.0, 240.0, 40.0);
    let max_t = run.samples.last().map_or(1.0, |s| s.secs).max(1.0);
    let max_mb = run.samples.iter().map(|s| s.rss_kb as f64 / 1024.0).fold(1.0, f64::max) * 1.15;
    let pts: Vec<String> = run
        .samples
        .iter()
        .map(|s| {
            let x = pad + (s.secs / max_t) * (w - 2.0 * pad);
            let y = h - pad - (s.rss_kb as f64 / 1024.0 / max_mb) * (h - 2.0 * pad);
            format!("{x:.1},{y:.1}")
        })
        .collect();
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
<text x="{pad}" y="20">taskchat soak on {name}: resident memory (MB) over {min:.0} minutes</text>
<line x1="{pad}" y1="{b}" x2="{r}" y2="{b}" stroke="#888"/><line x1="{pad}" y1="{pad}" x2="{pad}" y2="{b}" stroke="#888"/>
<text x="4" y="{b}">0</text><text x="4" y="{t}">{max_mb:.0}</text><text x="{r}" y="{lb}" text-anchor="end">{max_t:.0} s</text>
<polyline fill="none" stroke="#2563eb" stroke-width="2" points="{pts}"/>
</svg>
"##,
        name = run.name,
        min = run.seconds / 60.0,
        b = h - pad,
        r = w - pad,
        t = pad + 4.0,
        lb = h - pad + 16.0,
        pts = pts.join(" ")
    )
}

fn report(args: &Args, runs: &[DbRun]) -> String {
    let mut s = format!(
        "{BEGIN}\n## Soak: mixed traffic for {} minutes\n\n`cargo bench --bench soak -- --minutes {} --people {} --idle-streams {}` \
         (release build, builtin assistant, {} workers going round chat, ChatKit, REST, MCP, event streams and \
         sign-ins, with {} event streams held open throughout; one loopback address, so the per-address limits are \
         off).\n",
        args.minutes, args.minutes, args.people, args.idle_streams, args.people, args.idle_streams
    );
    for run in runs {
        let warm = run.samples.len() / 5;
        let after: Vec<f64> = run.samples[warm..].iter().map(|x| x.rss_kb as f64 / 1024.0).collect();
        let (lo, hi) = after.iter().fold((f64::MAX, 0.0f64), |(a, b), &v| (a.min(v), b.max(v)));
        let spread = if lo > 0.0 && lo < f64::MAX { (hi - lo) / lo * 100.0 } else { 0.0 };
        let fd_hi = run.samples.iter().map(|x| x.fds).max().unwrap_or(0);
        let fd_lo = run.samples.iter().map(|x| x.fds).min().unwrap_or(0);
        let ops: usize = run.all.values().map(Vec::len).sum();
        let errors: u64 = run.errors.values().sum();
        s.push_str(&format!(
            "\n### {}\n\n{:.1} minutes, {} requests ({:.0}/s), **{} errors**, {} idle streams held. Memory after the \
             first fifth (warm-up): {:.1}–{:.1} MB, a spread of **{:.1} %**; file descriptors {}–{}.\n\n\
             ![memory over time on {}](docs/soak-{}.svg)\n\n| door | requests | errors | p99 (ms) |\n|---|---|---|---|\n",
            run.name,
            run.seconds / 60.0,
            ops,
            ops as f64 / run.seconds,
            errors,
            run.idle_held,
            lo,
            hi,
            spread,
            fd_lo,
            fd_hi,
            run.name,
            run.name.to_lowercase()
        ));
        for door in DOORS {
            let mut v = run.all.get(door).cloned().unwrap_or_default();
            let n = v.len();
            s.push_str(&format!(
                "| {door} | {n} | {} | {:.1} |\n",
                run.errors.get(door).copied().unwrap_or(0),
                p99(&mut v)
            ));
        }
        for e in &run.first_errors {
            s.push_str(&format!("\nFirst errors: `{e}`\n"));
        }
        s.push_str("\n| minute | memory (MB) | fds | requests/s | p99 per door (ms) |\n|---|---|---|---|---|\n");
        let every = (60 / args.sample_secs.max(1)).max(1) as usize;
        for x in run.samples.iter().step_by(every) {
            let doors: Vec<String> = x.p99.iter().map(|(d, v)| format!("{d} {v:.0}")).collect();
            s.push_str(&format!(
                "| {:.1} | {:.1} | {} | {:.0} | {} |\n",
                x.secs / 60.0,
                x.rss_kb as f64 / 1024.0,
                x.fds,
                x.ops as f64 / args.sample_secs as f64,
                doors.join(", ")
            ));
        }
    }
    s.push_str(END);
    s
}

async fn run(args: Args) -> anyhow::Result<()> {
    let bin = args.bin.clone().unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_taskchat")));
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut runs = vec![];
    for db in &args.databases {
        let run = match db.as_str() {
            "sqlite" => soak(&args, &bin, "SQLite", None).await?,
            "postgres" => {
                let pg =
                    PgDb::create(&repo, args.pg_url.as_deref(), &format!("bench_soak_{}", std::process::id())).await?;
                let result = soak(&args, &bin, "PostgreSQL", Some(pg.url.clone())).await;
                pg.remove().await;
                result?
            }
            other => bail!("unknown database {other:?}: use sqlite or postgres"),
        };
        std::fs::write(repo.join(format!("docs/soak-{}.svg", run.name.to_lowercase())), svg(&run))?;
        runs.push(run);
    }
    let section = report(&args, &runs);
    println!("{section}");
    write_section(&args.out, BEGIN, END, &section)
}
