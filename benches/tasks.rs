//! The rich-tasks benchmark: what a chat turn and a search cost as one person's list grows to 50,000 tasks.
//!
//! ```text
//! cargo bench --bench tasks -- --out BENCHMARKS.md
//! ```
//!
//! It starts the release `taskchat serve` binary with the builtin assistant (no model service: what is
//! measured is the server, its queries and the assistant), signs one person up, and grows their list through
//! `POST /api/tasks` to each size in `--sizes`. At each size it sends turns one after another (c=1) through
//! `POST /api/{user_id}/chat` — add, complete by number, complete by words, "what is left?" — and times
//! `GET /api/tasks?q=…`. Then the load test: the same person sends `--load-turns` turns at `--concurrency`
//! through the chat endpoint and through `/chatkit`, their list growing as they go. Figures are printed and
//! written into the report between `<!-- tasks:begin -->` and `<!-- tasks:end -->` (the rest of the file, which
//! `--bench load` writes, is kept).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{anyhow, bail};
use clap::Parser;

#[path = "support/mod.rs"]
mod support;
use serde_json::{Value, json};
use support::{PgDb, start_server, write_section};

const BEGIN: &str = "<!-- tasks:begin -->";
const END: &str = "<!-- tasks:end -->";

#[derive(Parser, Debug, Clone)]
#[command(name = "tasks", about = "Rich-tasks benchmark of taskchat: cargo bench --bench tasks -- [OPTIONS]")]
struct Args {
    /// Passed by `cargo bench`; without it (as under `cargo test --benches`) nothing runs.
    #[arg(long, hide = true)]
    bench: bool,
    /// Where to write the report section.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// The taskchat binary (default: the release binary cargo built for this bench).
    #[arg(long, env = "TASKCHAT_BIN")]
    bin: Option<PathBuf>,
    /// List sizes to measure at.
    #[arg(long, value_delimiter = ',', default_value = "100,1000,10000,50000")]
    sizes: Vec<usize>,
    /// Turns of each kind per size (c=1).
    #[arg(long, default_value_t = 200)]
    turns: usize,
    /// Turns in the load test, per door.
    #[arg(long, default_value_t = 4000)]
    load_turns: usize,
    /// Turns in flight in the load test.
    #[arg(long, default_value_t = 50)]
    concurrency: usize,
    /// Databases: sqlite, postgres.
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    databases: Vec<String>,
    /// A PostgreSQL server to create the database in (default: a throwaway cluster from scripts/pg.sh).
    #[arg(long, env = "TASKCHAT_BENCH_PG_URL")]
    pg_url: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.bench {
        return Ok(());
    }
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(run(args))
}

#[derive(Clone)]
struct Person {
    http: reqwest::Client,
    url: String,
    token: String,
    user_id: String,
}

impl Person {
    async fn sign_up(url: &str) -> anyhow::Result<Person> {
        let http = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
        let r = http
            .post(format!("{url}/api/auth/sign-up/email"))
            .json(&json!({"name": "Bench", "email": "bench@example.com", "password": "correct horse battery"}))
            .send()
            .await?;
        let body: Value = r.json().await?;
        let token = body["token"].as_str().ok_or_else(|| anyhow!("sign-up: {body}"))?.to_string();
        let user_id = body["user"]["id"].as_str().unwrap_or_default().to_string();
        Ok(Person { http, url: url.to_string(), token, user_id })
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<(u16, Vec<u8>)> {
        let mut req = self.http.request(method, format!("{}{path}", self.url)).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await?;
        let status = r.status().as_u16();
        Ok((status, r.bytes().await?.to_vec()))
    }

    /// One chat turn (JSON door); its reply, checked to have called a tool.
    async fn turn(&self, message: &str, conversation: Option<&str>) -> anyhow::Result<Value> {
        let mut body = json!({"message": message});
        if let Some(c) = conversation {
            body["conversation_id"] = json!(c);
        }
        let (status, bytes) =
            self.send(reqwest::Method::POST, &format!("/api/{}/chat", self.user_id), Some(body)).await?;
        let v: Value = serde_json::from_slice(&bytes).unwrap_or_default();
        if status != 200 || v["tool_calls"].as_array().is_none_or(Vec::is_empty) {
            bail!("{message:?}: {status} {}", String::from_utf8_lossy(&bytes).chars().take(300).collect::<String>());
        }
        Ok(v)
    }

    /// One ChatKit turn: a new thread, or a message in `thread`; the thread's id.
    async fn chatkit_turn(&self, message: &str, thread: Option<&str>) -> anyhow::Result<String> {
        let input =
            json!({"content": [{"type": "input_text", "text": message}], "attachments": [], "inference_options": {}});
        let body = match thread {
            Some(t) => json!({"type": "threads.add_user_message", "params": {"thread_id": t, "input": input}}),
            None => json!({"type": "threads.create", "params": {"input": input}}),
        };
        let (status, bytes) = self.send(reqwest::Method::POST, "/chatkit", Some(body)).await?;
        let text = String::from_utf8_lossy(&bytes);
        if status != 200 || text.contains("\"type\":\"error\"") || !text.contains("workflow.task") {
            bail!("chatkit {message:?}: {status} {}", text.chars().take(300).collect::<String>());
        }
        match thread {
            Some(t) => Ok(t.to_string()),
            None => {
                let first = text.lines().find_map(|l| l.strip_prefix("data:")).unwrap_or_default();
                let v: Value = serde_json::from_str(first.trim()).unwrap_or_default();
                v["thread"]["id"].as_str().map(str::to_string).ok_or_else(|| anyhow!("no thread id"))
            }
        }
    }
}

/// A pronounceable word unique to `i` ("bakemo"), so a task can be named by its words.
fn word(mut i: usize) -> String {
    const C: &[u8] = b"bdfgklmnprstvz";
    const V: &[u8] = b"aeiou";
    let mut w = String::new();
    for _ in 0..4 {
        w.push(C[i % C.len()] as char);
        i /= C.len();
        w.push(V[i % V.len()] as char);
        i /= V.len();
    }
    w
}

/// Grows the list to `target` tasks, 16 requests in flight; a varied mix of dues, priorities and labels.
async fn grow(p: &Person, from: usize, target: usize) -> anyhow::Result<()> {
    let next = Arc::new(AtomicUsize::new(from));
    let mut workers = vec![];
    for _ in 0..16 {
        let (p, next) = (p.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= target {
                    return Ok::<_, anyhow::Error>(());
                }
                let priority = ["none", "low", "medium", "high", "urgent"][i % 5];
                let mut body = json!({"title": format!("call supplier {}", word(i)), "priority": priority});
                if i % 3 == 0 {
                    body["due"] = json!(format!("2027-{:02}-{:02}", 1 + i % 12, 1 + i % 28));
                }
                if i % 4 == 0 {
                    let label = ["work", "home", "errands"][i % 3];
                    body["labels"] = json!([label]);
                }
                let (status, bytes) = p.send(reqwest::Method::POST, "/api/tasks", Some(body)).await?;
                if status != 201 {
                    bail!("seeding: {status} {}", String::from_utf8_lossy(&bytes));
                }
            }
        }));
    }
    for w in workers {
        w.await??;
    }
    Ok(())
}

fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

struct SizeRow {
    size: usize,
    /// (what, p50 ms, p99 ms)
    figures: Vec<(&'static str, f64, f64)>,
    left_reply_lines: usize,
}

async fn timed<F, Fut>(n: usize, mut f: F) -> anyhow::Result<Vec<f64>>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        f(i).await?;
        out.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(out)
}

/// `seeded`: how many "call supplier <word>" tasks the seeding made (words 0..seeded exist).
async fn measure_size(p: &Person, size: usize, seeded: usize, turns: usize, base: usize) -> anyhow::Result<SizeRow> {
    let mut figures = vec![];
    let conv = p.turn("what is left?", None).await?["conversation_id"].as_str().unwrap_or_default().to_string();
    // Each turn in a conversation of its own after 10, as people start new chats.
    let add =
        timed(turns, |i| {
            let (p, c) = (p.clone(), conv.clone());
            async move {
                p.turn(&format!("add a task to buy milk {i}"), (i % 10 != 0).then_some(c.as_str())).await.map(|_| ())
            }
        })
        .await?;
    figures.push(("add a task", pct(add.clone(), 0.5), pct(add, 0.99)));
    // Tasks the seeding made, spread over the list, completed by number and by their words.
    let by_number = timed(turns, |i| {
        let p = p.clone();
        let n = 1 + (i * 7919 + base) % size;
        async move { p.turn(&format!("mark {n} done"), None).await.map(|_| ()) }
    })
    .await?;
    figures.push(("complete by number", pct(by_number.clone(), 0.5), pct(by_number, 0.99)));
    let by_words = timed(turns, |i| {
        let p = p.clone();
        let k = (i * 104_729 + base + 1) % seeded;
        async move { p.turn(&format!("i finished call supplier {}", word(k)), None).await.map(|_| ()) }
    })
    .await?;
    figures.push(("complete by words", pct(by_words.clone(), 0.5), pct(by_words, 0.99)));
    let lines = Arc::new(AtomicUsize::new(0));
    let left = timed(turns, |_| {
        let (p, lines) = (p.clone(), lines.clone());
        async move {
            let v = p.turn("what is left?", None).await?;
            lines.store(v["response"].as_str().unwrap_or_default().lines().count(), Ordering::Relaxed);
            Ok(())
        }
    })
    .await?;
    let lines = lines.load(Ordering::Relaxed);
    figures.push(("\"what is left?\"", pct(left.clone(), 0.5), pct(left, 0.99)));
    let search = timed(turns, |i| {
        let p = p.clone();
        let w = word((i * 31 + 7) % seeded);
        async move {
            let (status, _) = p.send(reqwest::Method::GET, &format!("/api/tasks?q={w}"), None).await?;
            if status != 200 {
                bail!("search: {status}");
            }
            Ok(())
        }
    })
    .await?;
    figures.push(("GET /api/tasks?q=…", pct(search.clone(), 0.5), pct(search, 0.99)));
    let page = timed(turns, |_| {
        let p = p.clone();
        async move { p.send(reqwest::Method::GET, "/api/tasks?status=pending&sort=due", None).await.map(|_| ()) }
    })
    .await?;
    figures.push(("GET /api/tasks (first page of 100)", pct(page.clone(), 0.5), pct(page, 0.99)));
    Ok(SizeRow { size, figures, left_reply_lines: lines })
}

struct LoadRow {
    door: &'static str,
    turns: usize,
    secs: f64,
    p50: f64,
    p99: f64,
    failed: usize,
}

async fn load(p: &Person, door: &'static str, turns: usize, concurrency: usize) -> anyhow::Result<LoadRow> {
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = vec![];
    for _ in 0..concurrency {
        let (p, next, failed) = (p.clone(), next.clone(), failed.clone());
        workers.push(tokio::spawn(async move {
            let mut times = vec![];
            let mut conv: Option<String> = None;
            let mut in_conv = 0;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= turns {
                    return times;
                }
                if in_conv == 10 {
                    conv = None;
                    in_conv = 0;
                }
                let msg = if i % 4 == 3 {
                    "what is left?".to_string()
                } else {
                    format!("add a task to pay bill {}", word(i))
                };
                let t = Instant::now();
                let r = match door {
                    "chat" => {
                        p.turn(&msg, conv.as_deref()).await.map(|v| v["conversation_id"].as_str().map(str::to_string))
                    }
                    _ => p.chatkit_turn(&msg, conv.as_deref()).await.map(Some),
                };
                match r {
                    Ok(c) => {
                        times.push(t.elapsed().as_secs_f64() * 1000.0);
                        conv = c;
                        in_conv += 1;
                    }
                    Err(e) => {
                        if failed.fetch_add(1, Ordering::Relaxed) < 3 {
                            eprintln!("load {door}: {e:#}");
                        }
                    }
                }
            }
        }));
    }
    let mut times = vec![];
    for w in workers {
        times.extend(w.await?);
    }
    let secs = started.elapsed().as_secs_f64();
    Ok(LoadRow {
        door,
        turns: times.len(),
        secs,
        p50: pct(times.clone(), 0.5),
        p99: pct(times, 0.99),
        failed: failed.load(Ordering::Relaxed),
    })
}

struct DbRun {
    db: String,
    sizes: Vec<SizeRow>,
    load: Vec<LoadRow>,
}

async fn run_db(args: &Args, bin: &Path, db: &str, database_url: Option<String>) -> anyhow::Result<DbRun> {
    let dir = tempfile::tempdir()?;
    let server = start_server(bin, dir.path(), database_url.as_deref(), &[])?;
    let p = Person::sign_up(&server.url).await?;
    let mut sizes = vec![];
    // The turns add tasks too: `have` is where the list really is, `seeded` how many of them the seeding made.
    let (mut have, mut seeded) = (0, 0);
    for &size in &args.sizes {
        let t = Instant::now();
        let more = size.saturating_sub(have);
        grow(&p, seeded, seeded + more).await?;
        seeded += more;
        eprintln!("{db}: {size} tasks (seeded in {:.1} s)", t.elapsed().as_secs_f64());
        let row = measure_size(&p, size, seeded, args.turns, have).await?;
        for (what, p50, p99) in &row.figures {
            eprintln!("  {what:<36} p50 {p50:>7.2} ms  p99 {p99:>7.2} ms");
        }
        have = size + args.turns;
        sizes.push(row);
    }
    let mut loads = vec![];
    for door in ["chat", "chatkit"] {
        let row = load(&p, door, args.load_turns, args.concurrency).await?;
        eprintln!(
            "{db} load {door}: {} turns in {:.1} s = {:.0}/s, p50 {:.1} ms p99 {:.1} ms, {} failed",
            row.turns,
            row.secs,
            row.turns as f64 / row.secs,
            row.p50,
            row.p99,
            row.failed
        );
        loads.push(row);
    }
    drop(server);
    Ok(DbRun { db: db.to_string(), sizes, load: loads })
}

fn report(args: &Args, runs: &[DbRun]) -> String {
    let mut s = format!("{BEGIN}\n## Rich tasks: cost against list size\n\n");
    s += &format!(
        "Written by `cargo bench --bench tasks -- --out {}` (release build, builtin assistant, one person, turns \
         one after another; {} of each kind per size). Targets: every chat turn p99 < 10 ms at 50,000 tasks, \
         search p99 < 10 ms; load test ≥ 1,000 turns/s (chat endpoint) and ≥ 500/s (/chatkit) on SQLite.\n\n",
        args.out.display(),
        args.turns
    );
    for run in runs {
        s += &format!(
            "### {}\n\n| request | {} |\n|---|{}\n",
            run.db,
            run.sizes.iter().map(|r| format!("{} tasks p50 / p99 ms", r.size)).collect::<Vec<_>>().join(" | "),
            "---|".repeat(run.sizes.len())
        );
        let kinds = run.sizes.first().map(|r| r.figures.len()).unwrap_or(0);
        for k in 0..kinds {
            let name = run.sizes[0].figures[k].0;
            let cells: Vec<String> =
                run.sizes.iter().map(|r| format!("{:.2} / {:.2}", r.figures[k].1, r.figures[k].2)).collect();
            s += &format!("| {name} | {} |\n", cells.join(" | "));
        }
        let lines: Vec<String> = run.sizes.iter().map(|r| r.left_reply_lines.to_string()).collect();
        s += &format!("| lines in the \"what is left?\" reply | {} |\n\n", lines.join(" | "));
        s += &format!(
            "Load test: one person, {} turns per door at concurrency {} (3 adds to 1 \"what is left?\"), \
                       their list growing from {} tasks.\n\n| door | turns/s | p50 ms | p99 ms | failed |\n|---|---|---|---|---|\n",
            args.load_turns,
            args.concurrency,
            run.sizes.last().map(|r| r.size).unwrap_or(0)
        );
        for l in &run.load {
            s += &format!(
                "| {} | {:.0} | {:.1} | {:.1} | {} |\n",
                l.door,
                l.turns as f64 / l.secs,
                l.p50,
                l.p99,
                l.failed
            );
        }
        s += "\n";
    }
    s += END;
    s
}

/// Replaces the section between the markers, or appends it.
async fn run(args: Args) -> anyhow::Result<()> {
    let bin = args.bin.clone().unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_taskchat")));
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut runs = vec![];
    for db in &args.databases {
        match db.as_str() {
            "sqlite" => runs.push(run_db(&args, &bin, "SQLite", None).await?),
            "postgres" => {
                let pg =
                    PgDb::create(&repo, args.pg_url.as_deref(), &format!("bench_tasks_{}", std::process::id())).await?;
                let result = run_db(&args, &bin, "PostgreSQL", Some(pg.url.clone())).await;
                pg.remove().await;
                runs.push(result?);
            }
            other => bail!("unknown database {other:?}: use sqlite or postgres"),
        }
    }
    let section = report(&args, &runs);
    println!("{section}");
    write_section(&args.out, BEGIN, END, &section)
}
