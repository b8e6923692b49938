//! Test harness: a real taskchat server on a random loopback port over a fresh database (a temp-dir SQLite
//! file, or a new PostgreSQL database on the throwaway cluster named by TASKCHAT_TEST_DATABASE_URL), and a
//! small client that keeps cookies and sends a trusted Origin, like a browser on the app's page.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Mutex;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use taskchat::config::{CommonArgs, LogFormat, ServeArgs};
use taskchat::db::Db;
use taskchat::server::{self, RunningServer};

pub const SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef";
pub const TRUSTED: &str = "http://localhost:3000";
pub const PASSWORD: &str = "correct horse battery";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body once per backend as two `#[tokio::test]`s: `<name>::sqlite` and `<name>::postgres`.
#[macro_export]
macro_rules! on_both_databases {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let f = $body;
                f($crate::common::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if !$crate::common::postgres_available() {
                    return;
                }
                let f = $body;
                f($crate::common::Backend::Postgres).await;
            }
        }
    };
}

/// The window of [`limit_to_three`], in seconds.
pub const LIMIT_WINDOW: u64 = 300;

/// Three attempts per window, as Better Auth's default, but over a window no test outlasts: password hashing
/// runs at the lowest priority, so on a starved machine a few attempts can take longer than the default 10 s,
/// and a window ending mid-test would reset the count.
pub fn limit_to_three(args: &mut ServeArgs) {
    args.rate_limit_max = 3;
    args.rate_limit_window = LIMIT_WINDOW;
}

/// PostgreSQL tests run when the test command started a cluster; under CI its absence is a failure, not a skip.
pub fn postgres_available() -> bool {
    let available = std::env::var("TASKCHAT_TEST_DATABASE_URL").is_ok();
    if !available && std::env::var("CI").is_ok() {
        panic!("TASKCHAT_TEST_DATABASE_URL is not set under CI: run the tests through ./scripts/test.sh");
    }
    if !available {
        eprintln!("note: PostgreSQL tests skipped (TASKCHAT_TEST_DATABASE_URL unset; ./scripts/test.sh sets it)");
    }
    available
}

/// A fresh, empty database URL for this backend (None = SQLite in `data_dir`).
pub async fn fresh_database(backend: Backend) -> Option<String> {
    match backend {
        Backend::Sqlite => None,
        Backend::Postgres => {
            let admin = std::env::var("TASKCHAT_TEST_DATABASE_URL").expect("TASKCHAT_TEST_DATABASE_URL");
            let name = format!("t_{}", taskchat::auth::crypto::generate_id().to_lowercase());
            let db = Db::connect(Some(&admin), std::path::Path::new(".")).await.expect("connect to admin db");
            taskchat::with_db!(&db, |pool| {
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(pool).await.unwrap();
            });
            db.close().await;
            let base = admin.rsplit_once('/').expect("admin URL has a database").0;
            Some(format!("{base}/{name}"))
        }
    }
}

pub struct TestApp {
    pub server: Option<RunningServer>,
    pub url: String,
    pub backend: Backend,
    pub data_dir: tempfile::TempDir,
    pub database_url: Option<String>,
}

impl TestApp {
    pub async fn start(backend: Backend) -> TestApp {
        Self::start_with(backend, |_| {}).await
    }

    /// Starts with default test settings, adjusted by `configure`.
    pub async fn start_with(backend: Backend, configure: impl FnOnce(&mut ServeArgs)) -> TestApp {
        let data_dir = tempfile::tempdir().unwrap();
        let database_url = fresh_database(backend).await;
        Self::start_on(backend, data_dir, database_url, configure).await
    }

    pub async fn start_on(
        backend: Backend,
        data_dir: tempfile::TempDir,
        database_url: Option<String>,
        configure: impl FnOnce(&mut ServeArgs),
    ) -> TestApp {
        let common = common_args(&data_dir, database_url.clone());
        let mut args = ServeArgs::from_env();
        args.listen = "127.0.0.1:0".parse().unwrap();
        args.secret = Some(SECRET.into());
        args.trusted_origins = vec![TRUSTED.into()];
        args.rate_limit_max = 1000;
        args.mail_rate_limit_max = 1000;
        args.base_url = None;
        configure(&mut args);
        let server = server::spawn(&common, &args).await.expect("server starts");
        let url = server.url();
        TestApp { server: Some(server), url, backend, data_dir, database_url }
    }

    pub fn db(&self) -> &Db {
        &self.server.as_ref().unwrap().state.db
    }

    pub fn client(&self) -> Client {
        Client::new(&self.url)
    }

    /// A client already signed up (and so signed in) as a new person.
    pub async fn signed_up(&self, name: &str) -> (Client, Value) {
        let c = self.client();
        let email = format!(
            "{}-{}@example.com",
            name.to_lowercase().replace(char::is_whitespace, "."),
            taskchat::auth::crypto::generate_id()
        );
        let res = c.post("/api/auth/sign-up/email", json!({"name": name, "email": email, "password": PASSWORD})).await;
        assert_eq!(res.status, 200, "sign-up failed: {}", res.text);
        let user = res.json["user"].clone();
        (c, user)
    }

    /// Runs a scalar query (for checking what the database holds).
    pub async fn count(&self, sql: &'static str, bind: &str) -> i64 {
        taskchat::with_db!(self.db(), |pool| {
            let (n,): (i64,) = sqlx::query_as(sql).bind(bind).fetch_one(pool).await.unwrap();
            n
        })
    }

    pub async fn exec(&self, sql: &'static str, binds: &[&str]) {
        let binds: Vec<String> = binds.iter().map(|b| b.to_string()).collect();
        taskchat::with_db_write!(self.db(), move |pool| {
            let mut q = sqlx::query(sql);
            for b in binds {
                q = q.bind(b);
            }
            q.execute(pool).await.map(|_| ())
        })
        .unwrap();
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
    }
}

pub fn common_args(data_dir: &tempfile::TempDir, database_url: Option<String>) -> CommonArgs {
    CommonArgs {
        data_dir: data_dir.path().to_path_buf(),
        database_url,
        log_format: LogFormat::Pretty,
        log: "warn".into(),
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).map(str::to_string).collect()
    }

    /// The error body every door uses: a JSON object with a message (and usually a code).
    pub fn assert_json_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.text);
        assert!(self.json["message"].is_string(), "error without a message: {}", self.text);
        assert_eq!(self.json["code"], code, "unexpected code; body: {}", self.text);
    }
}

/// A cookie-keeping client whose requests come from the trusted page (like the web app in a browser).
pub struct Client {
    base: String,
    http: reqwest::Client,
    pub cookies: Mutex<HashMap<String, String>>,
    pub origin: Option<String>,
    pub bearer: Option<String>,
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client {
            base: base.to_string(),
            http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            cookies: Mutex::new(HashMap::new()),
            origin: Some(TRUSTED.into()),
            bearer: None,
        }
    }

    /// A client whose connections leave from another loopback address (127.0.0.0/8 all reaches this machine),
    /// to be counted as a different client.
    pub fn from_address(base: &str, source: std::net::IpAddr) -> Client {
        let mut c = Client::new(base);
        c.http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .local_address(source)
            .build()
            .unwrap();
        c
    }

    /// A client with no cookies that authenticates with `Authorization: Bearer`.
    pub fn with_bearer(base: &str, token: &str) -> Client {
        let mut c = Client::new(base);
        c.origin = None;
        c.bearer = Some(token.to_string());
        c
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().unwrap().get(name).cloned()
    }

    pub fn cookie_header(&self) -> Option<String> {
        let jar = self.cookies.lock().unwrap();
        (!jar.is_empty()).then(|| jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; "))
    }

    pub async fn request(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.raw(method, path, body.map(|b| ("application/json", b.to_string())), &[]).await
    }

    /// Sends exactly what it is given (content type, body, extra headers) plus this client's cookies/origin.
    pub async fn raw(&self, method: Method, path: &str, body: Option<(&str, String)>, extra: &[(&str, &str)]) -> Reply {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(c) = self.cookie_header() {
            req = req.header("cookie", c);
        }
        if let Some(o) = &self.origin {
            req = req.header("origin", o);
        }
        if let Some(b) = &self.bearer {
            req = req.header("authorization", format!("Bearer {b}"));
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        if let Some((ct, b)) = body {
            req = req.header("content-type", ct).body(b);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status();
        let headers = res.headers().clone();
        for sc in headers.get_all("set-cookie") {
            let sc = sc.to_str().unwrap();
            let first = sc.split(';').next().unwrap();
            let (name, value) = first.split_once('=').unwrap();
            let mut jar = self.cookies.lock().unwrap();
            if sc.contains("Max-Age=0") {
                jar.remove(name);
            } else {
                jar.insert(name.to_string(), value.to_string());
            }
        }
        let text = res.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, headers, text, json }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.request(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.request(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.request(Method::DELETE, path, None).await
    }

    pub fn header_value(v: &str) -> HeaderValue {
        HeaderValue::from_str(v).unwrap()
    }
}
