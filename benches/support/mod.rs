//! What the benchmarks `tasks` and `soak` share: the server under test as a child process, a throwaway
//! PostgreSQL database, and a report section of BENCHMARKS.md rewritten in place.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use serde_json::Value;

pub const SECRET: &str = "bench-secret-0123456789abcdef0123456789abcdef";

pub struct Server {
    pub child: Child,
    pub url: String,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `taskchat serve` in production mode on a free loopback port, with `env` on top; errors it logs are
/// passed on to this program's stderr. With `TASKCHAT_BENCH_SQL_LOG=FILE` every statement the server runs is
/// written to FILE with its time (sqlx's debug log), to see what a turn costs by statement.
pub fn start_server(
    bin: &Path,
    dir: &Path,
    database_url: Option<&str>,
    env: &[(&str, &str)],
) -> anyhow::Result<Server> {
    let mut cmd = Command::new(bin);
    cmd.arg("serve")
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TASKCHAT_DATA_DIR", dir)
        .env("TASKCHAT_LISTEN", "127.0.0.1:0")
        .env("TASKCHAT_ENV", "production")
        .env("TASKCHAT_SECRET", SECRET)
        .env("TASKCHAT_LOG_FORMAT", "json")
        .env("TASKCHAT_LOG", "warn,taskchat=info")
        // The load comes from one address: the per-address limits are not what is measured.
        .env("TASKCHAT_RATE_LIMIT_MAX", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(url) = database_url {
        cmd.env("DATABASE_URL", url);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut sql_log = match std::env::var_os("TASKCHAT_BENCH_SQL_LOG") {
        Some(path) => {
            cmd.env("TASKCHAT_LOG", "warn,taskchat=info,sqlx=debug");
            Some(std::io::BufWriter::new(std::fs::File::create(path)?))
        }
        None => None,
    };
    let mut child = cmd.spawn().with_context(|| format!("cannot start {}", bin.display()))?;
    let stderr = child.stderr.take().ok_or_else(|| anyhow!("no stderr"))?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("taskchat is listening") {
                let v: Value = serde_json::from_str(&line).unwrap_or_default();
                let f = if v["fields"].is_object() { &v["fields"] } else { &v };
                if let (Some(addr), Some(tx)) = (f["addr"].as_str(), tx.take()) {
                    let _ = tx.send(addr.to_string());
                }
            } else if line.contains("\"ERROR\"") {
                eprintln!("server: {line}");
            } else if let Some(log) = sql_log.as_mut() {
                use std::io::Write;
                let _ = writeln!(log, "{line}");
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(60)).map_err(|_| anyhow!("taskchat did not start"))?;
    Ok(Server { child, url: format!("http://{addr}") })
}

/// A fresh database on a PostgreSQL server: the one given, or a throwaway cluster from scripts/pg.sh.
pub struct PgDb {
    pub url: String,
    admin: String,
    name: String,
    cluster: Option<(PathBuf, tempfile::TempDir)>,
}

impl PgDb {
    pub async fn create(repo: &Path, pg_url: Option<&str>, name: &str) -> anyhow::Result<PgDb> {
        let mut cluster = None;
        let admin = match pg_url {
            Some(u) => u.to_string(),
            None => {
                let dir = tempfile::tempdir()?;
                let out = Command::new("bash")
                    .arg(repo.join("scripts/pg.sh"))
                    .arg("start")
                    .arg(dir.path().join("pg"))
                    .output()?;
                let url = String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .find_map(|l| l.split_once("TASKCHAT_TEST_DATABASE_URL=").map(|(_, u)| u.trim().to_string()))
                    .ok_or_else(|| anyhow!("scripts/pg.sh start failed: {}", String::from_utf8_lossy(&out.stderr)))?;
                cluster = Some((repo.to_path_buf(), dir));
                url
            }
        };
        {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&admin).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut c).await?;
        }
        let url = format!("{}/{name}", admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin));
        Ok(PgDb { url, admin, name: name.to_string(), cluster })
    }

    /// Drops the database, and stops the cluster if this started one.
    pub async fn remove(self) {
        use sqlx::Connection;
        if let Ok(mut c) = sqlx::PgConnection::connect(&self.admin).await {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)))
                .execute(&mut c)
                .await;
        }
        if let Some((repo, dir)) = &self.cluster {
            let _ =
                Command::new("bash").arg(repo.join("scripts/pg.sh")).arg("stop").arg(dir.path().join("pg")).status();
        }
    }
}

/// Replaces the part of `out` between `begin` and `end` (markers included in `section`), or appends it.
pub fn write_section(out: &Path, begin: &str, end: &str, section: &str) -> anyhow::Result<()> {
    let old = std::fs::read_to_string(out).unwrap_or_default();
    let text = match (old.find(begin), old.find(end)) {
        (Some(a), Some(b)) if b > a => format!("{}{section}{}", &old[..a], &old[b + end.len()..]),
        _ => format!("{}{}{section}\n", old, if old.is_empty() || old.ends_with("\n\n") { "" } else { "\n" }),
    };
    std::fs::write(out, text).with_context(|| format!("cannot write {}", out.display()))
}

/// The resident memory of a process, in KB.
pub fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Open file descriptors of a process.
pub fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}
