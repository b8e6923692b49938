//! The `taskchat` binary itself: its help, how it refuses to start in production without a strong secret, the
//! development secret it generates and keeps, graceful shutdown on SIGTERM, and `taskchat migrate`.
//! Every child gets a fresh data directory (also its working directory, so no stray `.env` is read) and an
//! environment without any TASKCHAT_* setting, DATABASE_URL or BETTER_AUTH_SECRET.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{Client, PASSWORD};

const BIN: &str = env!("CARGO_BIN_EXE_taskchat");
const STRONG_SECRET: &str = "cli-test-secret-0123456789abcdef01234567";
/// The longest any child may take to start, stop or fail.
const LIMIT: Duration = Duration::from_secs(10);

/// A `taskchat` command with a clean environment, run from `cwd`.
fn command(cwd: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(BIN);
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(|n| n.starts_with("TASKCHAT_")) {
            cmd.env_remove(name);
        }
    }
    cmd.env_remove("DATABASE_URL").env_remove("BETTER_AUTH_SECRET").current_dir(cwd).kill_on_drop(true);
    cmd
}

/// Runs `taskchat <args>` to completion (within [`LIMIT`]) with extra environment variables.
async fn run(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = command(cwd);
    cmd.args(args).envs(env.iter().copied()).stdin(Stdio::null());
    match tokio::time::timeout(LIMIT, cmd.output()).await {
        Ok(out) => out.expect("the taskchat binary runs"),
        Err(_) => panic!("taskchat {args:?} did not finish within {LIMIT:?}"),
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

/// A `taskchat serve` child, ready (GET /readyz answered 200), logging JSON to a file in its data directory.
struct Server {
    child: tokio::process::Child,
    url: String,
    log: PathBuf,
}

impl Server {
    async fn start(data_dir: &Path, env: &[(&str, &str)]) -> Server {
        let server = Self::spawn(data_dir, env);
        server.await_ready().await
    }

    fn spawn(data_dir: &Path, env: &[(&str, &str)]) -> Server {
        Self::spawn_in(data_dir, data_dir, env)
    }

    /// Runs in `work` (its log goes there too) with data in `data_dir`, which need not exist yet.
    fn spawn_in(work: &Path, data_dir: &Path, env: &[(&str, &str)]) -> Server {
        let port = free_port();
        let log = work.join(format!("serve-{port}.log"));
        let log_file = std::fs::File::create(&log).expect("create the log file");
        let mut cmd = command(work);
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--data-dir", data_dir.to_str().expect("utf-8 temp path"), "--log-format", "json"])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file);
        let child = cmd.spawn().expect("spawn taskchat serve");
        Server { child, url: format!("http://127.0.0.1:{port}"), log }
    }

    /// Polls /readyz until it answers 200; fails at once if the process exits, and after [`LIMIT`].
    async fn await_ready(mut self) -> Server {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(1)).build().expect("http client");
        let deadline = Instant::now() + LIMIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the child") {
                panic!("taskchat exited ({status}) before it was ready; log:\n{}", self.log_text());
            }
            if let Ok(res) = http.get(format!("{}/readyz", self.url)).send().await
                && res.status() == 200
            {
                let body: Value = res.json().await.expect("readyz body");
                assert_eq!(body["status"], "ready", "{body}");
                return self;
            }
            assert!(Instant::now() < deadline, "taskchat was not ready within {LIMIT:?}; log:\n{}", self.log_text());
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn sigterm(&self) {
        let pid = self.child.id().expect("the child is running");
        let status = std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status().expect("run kill");
        assert!(status.success(), "kill -TERM {pid} failed");
    }

    /// Waits (within [`LIMIT`]) for the process to end; returns its exit status and how long that took.
    async fn wait(&mut self) -> (std::process::ExitStatus, Duration) {
        let started = Instant::now();
        match tokio::time::timeout(LIMIT, self.child.wait()).await {
            Ok(status) => (status.expect("wait for the child"), started.elapsed()),
            Err(_) => panic!("taskchat did not exit within {LIMIT:?}; log:\n{}", self.log_text()),
        }
    }

    /// SIGTERM, then asserts a clean exit (status 0) within [`LIMIT`].
    async fn stop(mut self) -> String {
        self.sigterm();
        let (status, _) = self.wait().await;
        assert!(status.success(), "taskchat exited with {status} after SIGTERM; log:\n{}", self.log_text());
        self.log_text()
    }

    /// A browser-like client for this server (no Origin: sign-up without cookies needs none).
    fn client(&self) -> Client {
        let mut c = Client::new(&self.url);
        c.origin = None;
        c
    }
}

/// The JSON log lines at WARN level.
fn warnings(log: &str) -> Vec<Value> {
    log.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).filter(|v| v["level"] == "WARN").collect()
}

// ---- help ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn serve_help_lists_every_setting_with_its_environment_variable() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Secret values set in the environment must not be echoed by --help.
    let out = run(
        dir.path(),
        &["serve", "--help"],
        &[
            ("TASKCHAT_SECRET", "do-not-print-this-secret-value-0123456789"),
            ("TASKCHAT_JWT_HS256_SECRET", "nor-this-one"),
        ],
    )
    .await;
    assert!(out.status.success(), "serve --help failed: {}", stderr(&out));
    let help = stdout(&out);

    // One block per option, starting at its "      --flag" line.
    let mut blocks: Vec<(String, String)> = vec![];
    for line in help.lines() {
        let trimmed = line.trim_start();
        if line.starts_with("      --") || line.starts_with("  -h") {
            let flag = trimmed.split_whitespace().next().unwrap_or_default().trim_end_matches(',').to_string();
            blocks.push((flag, String::new()));
        }
        if let Some((_, text)) = blocks.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    let settings = [
        ("--listen", "TASKCHAT_LISTEN"),
        ("--data-dir", "TASKCHAT_DATA_DIR"),
        ("--database-url", "DATABASE_URL"),
        ("--base-url", "TASKCHAT_BASE_URL"),
        ("--secret", "TASKCHAT_SECRET"),
        ("--trusted-origins", "TASKCHAT_TRUSTED_ORIGINS"),
        ("--trust-proxy", "TASKCHAT_TRUST_PROXY"),
        ("--rate-limit-max", "TASKCHAT_RATE_LIMIT_MAX"),
        ("--rate-limit-window", "TASKCHAT_RATE_LIMIT_WINDOW"),
        ("--lockout-after", "TASKCHAT_LOCKOUT_AFTER"),
        ("--lockout-max-delay", "TASKCHAT_LOCKOUT_MAX_DELAY"),
        ("--password-hash", "TASKCHAT_PASSWORD_HASH"),
        ("--hash-concurrency", "TASKCHAT_HASH_CONCURRENCY"),
        ("--mode", "TASKCHAT_ENV"),
        ("--external-jwks-url", "TASKCHAT_EXTERNAL_JWKS_URL"),
        ("--external-jwt-issuer", "TASKCHAT_EXTERNAL_JWT_ISSUER"),
        ("--jwt-hs256-secret", "TASKCHAT_JWT_HS256_SECRET"),
        ("--max-body-bytes", "TASKCHAT_MAX_BODY_BYTES"),
        ("--shutdown-grace", "TASKCHAT_SHUTDOWN_GRACE"),
        ("--log-format", "TASKCHAT_LOG_FORMAT"),
        ("--log", "TASKCHAT_LOG"),
    ];
    for (flag, env) in settings {
        let block = blocks.iter().find(|(f, _)| f == flag).map(|(_, b)| b.as_str());
        let block = block.unwrap_or_else(|| panic!("serve --help does not list {flag}:\n{help}"));
        assert!(
            block.contains(&format!("[env: {env}=")) || block.contains(&format!("[env: {env}]")),
            "{flag} does not name its environment variable {env}:\n{block}"
        );
    }
    assert!(!help.contains("do-not-print-this-secret-value"), "--help printed the secret:\n{help}");
    assert!(!help.contains("nor-this-one"), "--help printed the HS256 secret:\n{help}");
}

// ---- production mode ----------------------------------------------------------------------------------

/// `taskchat serve` in production with the given secret (if any), expected to fail fast; returns stderr.
async fn production_start_failure(secret: Option<&str>) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let listen = format!("127.0.0.1:{}", free_port());
    let mut env = vec![("TASKCHAT_ENV", "production")];
    if let Some(s) = secret {
        env.push(("TASKCHAT_SECRET", s));
    }
    let data_dir = dir.path().to_str().expect("utf-8 temp path");
    let started = Instant::now();
    let out = run(dir.path(), &["serve", "--listen", &listen, "--data-dir", data_dir], &env).await;
    assert!(!out.status.success(), "production started with secret {secret:?}; stdout: {}", stdout(&out));
    assert!(started.elapsed() < Duration::from_secs(5), "refusing to start took {:?}", started.elapsed());
    assert!(!dir.path().join("secret").exists(), "production must not generate a secret file");
    stderr(&out)
}

#[tokio::test]
async fn production_without_a_secret_refuses_to_start() {
    let err = production_start_failure(None).await;
    assert!(err.contains("TASKCHAT_SECRET"), "the message should name TASKCHAT_SECRET: {err}");
    assert!(err.contains("not set"), "the message should say the secret is missing: {err}");
}

#[tokio::test]
async fn production_with_a_short_secret_refuses_to_start() {
    let err = production_start_failure(Some("0123456789")).await;
    assert!(err.contains("too short"), "the message should say the secret is too short: {err}");
    assert!(!err.contains("0123456789"), "the message must not echo the secret: {err}");
}

#[tokio::test]
async fn production_with_a_strong_secret_starts_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path(), &[("TASKCHAT_ENV", "production"), ("TASKCHAT_SECRET", STRONG_SECRET)]).await;
    let health = reqwest::get(format!("{}/healthz", server.url)).await.expect("healthz");
    assert_eq!(health.status(), 200);
    let mut server = server;
    server.sigterm();
    let (status, took) = server.wait().await;
    assert!(status.success(), "exit status {status} after SIGTERM; log:\n{}", server.log_text());
    assert!(took < Duration::from_secs(5), "stopping took {took:?}");
    assert!(!dir.path().join("secret").exists(), "a configured secret must not be replaced by a generated one");
    assert!(!server.log_text().contains(STRONG_SECRET), "the secret was logged");
}

// ---- file modes ---------------------------------------------------------------------------------------

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o777
}

#[tokio::test]
async fn a_new_data_directory_and_its_database_files_are_private_to_the_account() {
    let work = tempfile::tempdir().expect("temp dir");
    let data = work.path().join("data");
    // The usual umask: without taskchat's care the directory would be 0755 and the database 0644.
    let server = Server::spawn_in(work.path(), &data, &[]).await_ready().await;
    let res = server
        .client()
        .post("/api/auth/sign-up/email", json!({ "name": "Mo", "email": "mode@example.com", "password": PASSWORD }))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(mode(&data), 0o700, "the data directory");
    for name in ["taskchat.db", "taskchat.db-wal", "taskchat.db-shm", "secret"] {
        assert_eq!(mode(&data.join(name)), 0o600, "{name}");
    }
    let log = server.stop().await;
    assert!(!warnings(&log).iter().any(|w| w.to_string().contains("other accounts")), "{log}");
}

#[tokio::test]
async fn an_existing_database_others_can_read_is_warned_about_at_start() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let first = Server::start(dir.path(), &[]).await;
    first.stop().await;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
    let db = dir.path().join("taskchat.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod db");
    let log = Server::start(dir.path(), &[]).await.stop().await;
    let warned = |path: &Path, m: &str| {
        let path = path.to_str().expect("utf-8");
        warnings(&log).iter().any(|w| w["path"] == path && w["mode"] == m && w.to_string().contains("other accounts"))
    };
    assert!(warned(dir.path(), "755"), "no warning names the data directory; log:\n{log}");
    assert!(warned(&db, "644"), "no warning names the database; log:\n{log}");
    // Left as the operator set them: they may share them on purpose.
    assert_eq!((mode(dir.path()), mode(&db)), (0o755, 0o644));
}

// ---- development secret -------------------------------------------------------------------------------

#[tokio::test]
async fn development_generates_a_private_secret_once_and_reuses_it() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().expect("temp dir");
    let secret_path = dir.path().join("secret");

    let first = Server::start(dir.path(), &[]).await;
    let secret = std::fs::read_to_string(&secret_path).expect("development writes <data_dir>/secret");
    assert!(secret.trim().len() >= 32, "the generated secret is too short: {} chars", secret.trim().len());
    let mode = std::fs::metadata(&secret_path).expect("secret metadata").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the secret file must be private, not {mode:o}");
    let log = first.log_text();
    let path = secret_path.to_str().expect("utf-8 path");
    assert!(
        warnings(&log).iter().any(|w| w.to_string().contains(path) && w.to_string().contains("secret")),
        "no warning mentions the generated secret at {path}; log:\n{log}"
    );
    assert!(!log.contains(secret.trim()), "the generated secret itself was logged");

    let alice = first.client();
    let email = format!("dev-{}@example.com", taskchat::auth::crypto::generate_id().to_lowercase());
    let res =
        alice.post("/api/auth/sign-up/email", json!({ "name": "Dev", "email": email, "password": PASSWORD })).await;
    assert_eq!(res.status, 200, "{}", res.text);
    let user_id = res.json["user"]["id"].clone();
    first.stop().await;

    let second = Server::start(dir.path(), &[]).await;
    assert_eq!(std::fs::read_to_string(&secret_path).expect("secret"), secret, "the secret changed on restart");
    assert!(
        !warnings(&second.log_text()).iter().any(|w| w.to_string().contains(path)),
        "the second start generated a secret again; log:\n{}",
        second.log_text()
    );
    // The cookie signed in the first run still verifies in the second.
    let again = second.client();
    *again.cookies.lock().unwrap() = alice.cookies.lock().unwrap().clone();
    let session = again.get("/api/auth/get-session").await;
    assert_eq!(session.status, 200);
    assert_eq!(session.json["user"]["id"], user_id, "the first run's cookie is not valid: {}", session.text);
    second.stop().await;
}

// ---- graceful shutdown --------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_an_in_flight_request_finish() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = Server::start(dir.path(), &[("TASKCHAT_SECRET", STRONG_SECRET)]).await;
    // Connect first, so that the sign-up below travels over an open connection the moment it is sent.
    let http = reqwest::Client::new();
    let warm = http.get(format!("{}/healthz", server.url)).send().await.expect("healthz");
    assert_eq!(warm.status(), 200);
    let url = format!("{}/api/auth/sign-up/email", server.url);
    // Hashing takes tens of milliseconds, so a sign-up is normally still running 5 ms after it was sent; on a
    // machine stalled for longer it may not be, and then another one is tried (the server is still up).
    let mut in_flight = None;
    for _ in 0..10 {
        let (http, url) = (http.clone(), url.clone());
        let email = format!("late-{}@example.com", taskchat::auth::crypto::generate_id().to_lowercase());
        let request = tokio::spawn(async move {
            let body = json!({ "name": "Late", "email": email, "password": PASSWORD });
            let res = http.post(url).json(&body).send().await?;
            let status = res.status();
            Ok::<_, reqwest::Error>((status, res.text().await?))
        });
        tokio::time::sleep(Duration::from_millis(5)).await;
        if !request.is_finished() {
            in_flight = Some(request);
            break;
        }
        let (status, text) = request.await.expect("request task").expect("response");
        assert_eq!(status, 200, "{text}");
    }
    let request = in_flight.expect("every sign-up finished within 5 ms; the test would prove nothing");
    server.sigterm();
    let (status, text) = request.await.expect("request task").expect("the in-flight request got its response");
    assert_eq!(status, 200, "the in-flight sign-up failed: {text}");
    let (exit, _) = server.wait().await;
    assert!(exit.success(), "exit status {exit} after SIGTERM; log:\n{}", server.log_text());
    // The order in the log proves the signal came first and the sign-up finished during the shutdown.
    let log = server.log_text();
    let shutdown = log.find("shutting down").unwrap_or_else(|| panic!("no shutdown in the log:\n{log}"));
    // The last sign-up is the one the signal interrupted.
    let signed_up = log.rfind("signed up").unwrap_or_else(|| panic!("no sign-up in the log:\n{log}"));
    assert!(shutdown < signed_up, "the sign-up finished before the shutdown began; log:\n{log}");
}

// ---- migrate ------------------------------------------------------------------------------------------

/// `taskchat migrate status` as (version, applied) pairs.
async fn migration_states(dir: &Path) -> Vec<(i64, bool)> {
    let out = run(dir, &["migrate", "status", "--data-dir", dir.to_str().expect("utf-8")], &[]).await;
    assert!(out.status.success(), "migrate status failed: {}", stderr(&out));
    let listing = stdout(&out);
    let states: Vec<(i64, bool)> = listing
        .lines()
        .map(|l| {
            let mut words = l.split_whitespace();
            let version = words.next().and_then(|v| v.parse().ok());
            let state = match words.next() {
                Some("applied") => Some(true),
                Some("pending") => Some(false),
                _ => None,
            };
            version.zip(state).unwrap_or_else(|| panic!("unexpected status line {l:?} in:\n{listing}"))
        })
        .collect();
    let versions: Vec<i64> = states.iter().map(|s| s.0).collect();
    assert!(versions.starts_with(&[1, 2, 3]), "expected versions 1, 2, 3 in order:\n{listing}");
    states
}

async fn migrate(dir: &Path, args: &[&str]) -> String {
    let mut all = vec!["migrate"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--data-dir", dir.to_str().expect("utf-8")]);
    let out = run(dir, &all, &[]).await;
    assert!(out.status.success(), "taskchat {all:?} failed: {}", stderr(&out));
    stdout(&out)
}

#[tokio::test]
async fn migrate_applies_reverts_and_reapplies_migrations() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dir = dir.path();

    let fresh = migration_states(dir).await;
    assert!(fresh.iter().all(|(_, applied)| !applied), "a fresh database has nothing applied: {fresh:?}");
    let newest = fresh.iter().map(|(v, _)| *v).max().expect("some migrations");

    migrate(dir, &["up"]).await;
    let up = migration_states(dir).await;
    assert!(up.iter().all(|(_, applied)| *applied), "after up, all are applied: {up:?}");

    let said = migrate(dir, &["down"]).await;
    assert!(said.contains(&format!("from version {newest} to {}", newest - 1)), "{said}");
    let down = migration_states(dir).await;
    for (v, applied) in &down {
        assert_eq!(*applied, *v != newest, "after one down, only {newest} is pending: {down:?}");
    }

    migrate(dir, &["down", "--to", "0"]).await;
    let none = migration_states(dir).await;
    assert!(none.iter().all(|(_, applied)| !applied), "after down --to 0, none is applied: {none:?}");

    migrate(dir, &["up"]).await;
    let again = migration_states(dir).await;
    assert!(again.iter().all(|(_, applied)| *applied), "up works again after a full revert: {again:?}");

    // And the re-applied schema serves: a server starts on it and signs someone up.
    let server = Server::start(dir, &[("TASKCHAT_SECRET", STRONG_SECRET)]).await;
    let email = format!("m-{}@example.com", taskchat::auth::crypto::generate_id().to_lowercase());
    let res = server
        .client()
        .post("/api/auth/sign-up/email", json!({ "name": "M", "email": email, "password": PASSWORD }))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    server.stop().await;
}

// ---- bad configuration --------------------------------------------------------------------------------

#[tokio::test]
async fn an_unsupported_database_url_is_refused_clearly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().to_str().expect("utf-8");
    let listen = format!("127.0.0.1:{}", free_port());
    for args in
        [vec!["migrate", "status", "--data-dir", data_dir], vec!["serve", "--listen", &listen, "--data-dir", data_dir]]
    {
        let out = run(dir.path(), &args, &[("DATABASE_URL", "mysql://x"), ("TASKCHAT_SECRET", STRONG_SECRET)]).await;
        assert!(!out.status.success(), "taskchat {args:?} accepted mysql://x");
        let err = stderr(&out);
        assert!(err.contains("DATABASE_URL"), "taskchat {args:?}: the message should name DATABASE_URL: {err}");
        assert!(err.contains("postgres://"), "taskchat {args:?}: the message should say what is accepted: {err}");
        assert!(err.contains("mysql"), "taskchat {args:?}: the message should show what was given: {err}");
    }
}
