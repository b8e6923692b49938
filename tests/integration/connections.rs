//! Hostile connections: clients that never finish a request, and crowds of idle sockets, are cut off within the
//! configured limits while everyone else is still answered.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::common::{Backend, Client, PASSWORD, TestApp};

fn addr(app: &TestApp) -> std::net::SocketAddr {
    app.server.as_ref().unwrap().addr
}

/// Reads until the server closes the connection (or `within` passes); what it sent, and when it closed.
async fn until_closed(s: &mut TcpStream, within: Duration) -> (String, Option<Duration>) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = within.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into(), Some(started.elapsed())),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into(), None),
        }
    }
}

async fn short_limits() -> TestApp {
    TestApp::start_with(Backend::Sqlite, |a| {
        a.header_timeout = 1.0;
        a.idle_timeout = 1.0;
        a.body_timeout = 1.0;
    })
    .await
}

#[tokio::test]
async fn a_silent_socket_and_half_sent_headers_are_closed_at_the_header_timeout() {
    let app = short_limits().await;
    let mut silent = TcpStream::connect(addr(&app)).await.unwrap();
    let mut half = TcpStream::connect(addr(&app)).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ").await.unwrap();
    let (silent_end, half_end) = tokio::join!(
        until_closed(&mut silent, Duration::from_secs(5)),
        until_closed(&mut half, Duration::from_secs(5))
    );
    for (what, (_, closed)) in [("silent", silent_end), ("half headers", half_end)] {
        let t = closed.unwrap_or_else(|| panic!("{what}: still open after 5 s"));
        assert!(t >= Duration::from_millis(900) && t < Duration::from_millis(2500), "{what}: closed after {t:?}");
    }
    // A slowloris dribbling its headers a byte at a time is cut off too: bytes arriving do not extend it.
    let mut drip = TcpStream::connect(addr(&app)).await.unwrap();
    let started = Instant::now();
    let mut cut = None;
    for b in b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter() {
        if drip.write_all(&[*b]).await.is_err() {
            cut = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut probe = [0u8; 1];
        if let Ok(Ok(0)) = tokio::time::timeout(Duration::from_millis(1), drip.read(&mut probe)).await {
            cut = Some(started.elapsed());
            break;
        }
    }
    let t = cut.expect("a byte-at-a-time client was never cut off");
    assert!(t < Duration::from_millis(3000), "dribbled headers were cut after {t:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_body_shorter_than_its_length_gets_408_at_the_body_timeout() {
    let app = short_limits().await;
    let mut s = TcpStream::connect(addr(&app)).await.unwrap();
    let body = json!({"email": "nobody@example.com", "password": PASSWORD}).to_string();
    let head = format!(
        "POST /api/auth/sign-in/email HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len() + 20
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body.as_bytes()).await.unwrap();
    let (answer, closed) = until_closed(&mut s, Duration::from_secs(5)).await;
    let t = closed.expect("still open after 5 s");
    assert!(t >= Duration::from_millis(900) && t < Duration::from_millis(2500), "closed after {t:?}");
    assert!(answer.starts_with("HTTP/1.1 408"), "answer: {answer}");
    let json: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap_or_default()).unwrap_or_default();
    assert_eq!(json["code"], "REQUEST_TIMEOUT", "answer: {answer}");
    app.stop().await;
}

#[tokio::test]
async fn an_idle_kept_alive_connection_closes_and_an_event_stream_does_not() {
    let app = short_limits().await;
    let (_, user) = app.signed_up("Idle").await;
    let c = app.client();
    let res = c.post("/api/auth/sign-in/email", json!({"email": user["email"], "password": PASSWORD})).await;
    let token = res.json["token"].as_str().unwrap().to_string();
    // One request, then nothing: closed about a second after its answer.
    let mut idle = TcpStream::connect(addr(&app)).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    let mut stream = TcpStream::connect(addr(&app)).await.unwrap();
    stream
        .write_all(
            format!("GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let (answer, closed) = until_closed(&mut idle, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "answer: {answer}");
    let t = closed.expect("an idle connection stayed open");
    assert!(t >= Duration::from_millis(900) && t < Duration::from_millis(2500), "closed after {t:?}");
    // The event stream has been open as long, with no event since `ready`: it is answering, not idle.
    let (events, closed) = until_closed(&mut stream, Duration::from_millis(1500)).await;
    assert!(closed.is_none(), "the event stream was closed: {events}");
    assert!(events.contains("event: ready"), "{events}");
    app.stop().await;
}

/// Raises this process's open-file soft limit to its hard limit; the soft limit in force.
fn raise_files() -> usize {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    usize::try_from(rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap().0).unwrap_or(usize::MAX)
}

/// A `taskchat serve` process of its own (its open files are not this test's), and its address.
fn serve_process(dir: &std::path::Path, env: &[(&str, &str)]) -> (std::process::Child, std::net::SocketAddr) {
    use std::io::BufRead;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_taskchat"));
    cmd.arg("serve")
        .env_remove("DATABASE_URL")
        .env("TASKCHAT_DATA_DIR", dir)
        .env("TASKCHAT_LISTEN", "127.0.0.1:0")
        .env("TASKCHAT_SECRET", crate::common::SECRET)
        .env("TASKCHAT_LOG_FORMAT", "json")
        .env("TASKCHAT_LOG", "warn,taskchat=info")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("taskchat serve starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("taskchat is listening") {
                let v: Value = serde_json::from_str(&line).unwrap_or_default();
                let f = if v["fields"].is_object() { &v["fields"] } else { &v };
                if let (Some(a), Some(tx)) = (f["addr"].as_str().and_then(|a| a.parse().ok()), tx.take()) {
                    let _ = tx.send(a);
                }
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(60)).expect("taskchat serve did not start");
    (child, addr)
}

/// Opens up to `n` connections to `target`, 500 at a time, from 127.0.0.1 (`first` = 1: the port is chosen at
/// connect, which is fast) or from sources 127.0.0.`first`.. (more ports, but binding first is slower).
async fn hold(target: std::net::SocketAddr, n: usize, first: u8) -> Vec<TcpStream> {
    let mut held = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let opened = futures::future::join_all(chunk.iter().map(|i| async move {
            let s = TcpSocket::new_v4().ok()?;
            if first != 1 {
                s.bind(std::net::SocketAddr::from(([127, 0, 0, first + (*i % 4) as u8], 0))).ok()?;
            }
            tokio::time::timeout(Duration::from_secs(10), s.connect(target)).await.ok()?.ok()
        }))
        .await;
        held.extend(opened.into_iter().flatten());
    }
    held
}

/// The same from a Python child process (a second open-file budget); it reports how many it holds and keeps
/// them until its stdin closes.
fn hold_in_child(target: std::net::SocketAddr, n: usize) -> Option<(std::process::Child, usize)> {
    use std::io::BufRead;
    let script = r#"
import resource, socket, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
held = []
for i in range(n):
    s = socket.socket()
    try:
        # IP_BIND_ADDRESS_NO_PORT: the port is chosen at connect; a bind to port 0 searches for one that is
        # free for every destination, which grows slow with thousands bound.
        s.setsockopt(socket.SOL_IP, 24, 1)
        s.bind(("127.0.0.%d" % (10 + i % 4), 0))
        s.connect((host, port))
        held.append(s)
    except OSError:
        s.close()
print(len(held), flush=True)
sys.stdin.read()
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script, &target.ip().to_string(), &target.port().to_string(), &n.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take()?).read_line(&mut line).ok()?;
    Some((child, line.trim().parse().ok()?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_idle_connections_leave_healthz_and_signed_in_people_answered() {
    let dir = tempfile::tempdir().unwrap();
    // Long timeouts, so that the crowd stays for the whole test; the cap is what makes room.
    let (mut server, target) = serve_process(
        dir.path(),
        &[
            ("TASKCHAT_MAX_CONNECTIONS", "5000"),
            ("TASKCHAT_HEADER_TIMEOUT", "300"),
            ("TASKCHAT_IDLE_TIMEOUT", "300"),
            ("TASKCHAT_RATE_LIMIT_MAX", "0"),
        ],
    );
    let base = format!("http://{target}");
    let mut signer = crate::common::Client::new(&base);
    signer.origin = None;
    let res = signer
        .post(
            "/api/auth/sign-up/email",
            json!({"name": "Crowded", "email": "crowded@example.com", "password": PASSWORD}),
        )
        .await;
    let token = res.json["token"].as_str().unwrap_or_else(|| panic!("sign-up: {}", res.text)).to_string();
    let started = Instant::now();
    let mine = raise_files().saturating_sub(500).min(10_000);
    let held = hold(target, mine, 1).await;
    eprintln!("this process holds {} after {:?}", held.len(), started.elapsed());
    let child = hold_in_child(target, 20_000 - held.len());
    let total = held.len() + child.as_ref().map_or(0, |c| c.1);
    eprintln!("holding {total} idle connections (cap 5,000) after {:?}", started.elapsed());
    assert!(total >= 19_000, "only {total} idle connections could be opened");
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    for path in ["/healthz", "/api/tasks"] {
        let t = Instant::now();
        let res =
            tokio::time::timeout(Duration::from_secs(5), http.get(format!("{base}{path}")).bearer_auth(&token).send())
                .await
                .unwrap_or_else(|_| panic!("{path}: no answer in 5 s"))
                .unwrap_or_else(|e| panic!("{path}: {e}"));
        let took = t.elapsed();
        assert_eq!(res.status(), 200, "{path}");
        assert!(took < Duration::from_secs(1), "{path} took {took:?} with {total} idle connections");
        eprintln!("{path} answered in {took:?}");
    }
    drop(held);
    if let Some((mut c, _)) = child {
        let _ = c.kill();
        let _ = c.wait();
    }
    let _ = server.kill();
    let _ = server.wait();
}

#[tokio::test]
async fn every_answer_says_nosniff_and_auth_answers_are_never_cached() {
    let app = TestApp::start(Backend::Sqlite).await;
    let c = app.client();
    let email = format!("headers-{}@example.com", taskchat::auth::crypto::generate_id());
    let signed = c.post("/api/auth/sign-up/email", json!({"name": "H", "email": email, "password": PASSWORD})).await;
    assert_eq!(signed.status, 200, "{}", signed.text);
    assert_eq!(signed.header("cache-control"), Some("no-store"), "sign-up carries a token");
    assert_eq!(c.get("/api/auth/token").await.header("cache-control"), Some("no-store"));
    for path in ["/api/tasks", "/healthz", "/no/such/route", "/login", "/openapi.json"] {
        assert_eq!(c.get(path).await.header("x-content-type-options"), Some("nosniff"), "{path}");
    }
    // A person's own data is never kept by a cache; what anyone may fetch is left to caches.
    for path in ["/api/tasks", "/api/labels", "/api/conversations", "/api/tasks/999"] {
        assert_eq!(c.get(path).await.header("cache-control"), Some("no-store"), "{path} with a cookie");
    }
    let token = c.get("/api/auth/token").await.json["token"].as_str().unwrap().to_string();
    let bearer = Client::with_bearer(&app.url, &token);
    assert_eq!(bearer.get("/api/tasks").await.header("cache-control"), Some("no-store"), "with a bearer token");
    assert_eq!(app.client().get("/healthz").await.header("cache-control"), None);
    assert_eq!(c.get("/api/tasks").await.header("strict-transport-security"), None, "not over plain http");
    app.stop().await;
}

#[tokio::test]
async fn an_https_base_url_turns_on_strict_transport_security() {
    let app = TestApp::start_with(Backend::Sqlite, |a| a.base_url = Some("https://tasks.example.com".into())).await;
    let res = app.client().get("/healthz").await;
    assert_eq!(res.header("strict-transport-security"), Some("max-age=31536000"));
    app.stop().await;
    let app = TestApp::start_with(Backend::Sqlite, |a| {
        a.base_url = Some("https://tasks.example.com".into());
        a.hsts_max_age = 0;
    })
    .await;
    assert_eq!(app.client().get("/healthz").await.header("strict-transport-security"), None, "0 turns it off");
    app.stop().await;
}
