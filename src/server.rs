//! Starting and stopping the HTTP server: state from configuration, the listener, graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;

use crate::conn::{Limits, Registry, TrackedBody};

use crate::app::{self, AppState};
use crate::auth::Auth;
use crate::chat::{Agent, AgentConfig};
use crate::config::{CommonArgs, ServeArgs, resolve_secret};
use crate::db::Db;
use crate::tasks::TaskService;

/// Opens the database, applies pending migrations and builds the state every handler shares.
pub async fn build_state(common: &CommonArgs, args: &ServeArgs, listen: SocketAddr) -> anyhow::Result<AppState> {
    let secret = resolve_secret(args, &common.data_dir)?;
    let db = Db::connect(common.database_url.as_deref(), &common.data_dir).await?;
    db.migrate_up().await?;
    let base_url = args.base_url.clone().unwrap_or_else(|| format!("http://{listen}"));
    let from = args.mail_from.clone().unwrap_or_else(|| crate::mail::default_from(&base_url));
    let mailer = crate::mail::from_settings(args.smtp_url.as_deref(), &from, common.data_dir.join("mail"))?;
    if args.smtp_url.is_none() {
        tracing::info!(dir = %common.data_dir.join("mail").display(), "no TASKCHAT_SMTP_URL: mail is written to files");
        if args.mode == crate::config::RunMode::Production {
            tracing::warn!(
                "production without TASKCHAT_SMTP_URL: password-reset and verification mail never leaves this machine"
            );
        }
    }
    let auth = Auth::new(db.clone(), secret, &base_url, args, mailer)?;
    let oauth = crate::oauth::OAuthServer::new(auth.clone(), args);
    let events = crate::events::EventBus::new(&db);
    events.set_stream_limit(args.max_streams_per_person);
    let tasks = TaskService::new(db.clone(), events.clone());
    let models = crate::llm::build_providers(&args.provider_settings())?;
    let config = AgentConfig { max_steps: args.agent_max_steps.max(1), ..Default::default() };
    let metrics = crate::metrics::Metrics::default();
    let agent = Arc::new(Agent::new(db.clone(), tasks.clone(), models, config, metrics.clone(), events.clone()));
    tracing::info!(models = ?agent.model_names(), "assistant ready");
    Ok(AppState {
        tasks,
        db,
        auth,
        oauth,
        agent,
        events,
        metrics,
        metrics_token: args.metrics_token.clone().filter(|t| !t.is_empty()),
        metrics_enabled: args.metrics,
        shutdown: Default::default(),
    })
}

/// A running server, for tests and embedding.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets in-flight requests finish, closes the database.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = self.task.await;
        self.state.db.close().await;
    }
}

/// Binds `args.listen` (port 0 picks a free one) and serves until [`RunningServer::stop`].
pub async fn spawn(common: &CommonArgs, args: &ServeArgs) -> anyhow::Result<RunningServer> {
    let listener = listen(args.listen)?;
    let addr = listener.local_addr()?;
    let state = build_state(common, args, addr).await?;
    let router = app::router(state.clone(), args);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = state.shutdown.clone();
    let task = tokio::spawn(serve_http(listener, router, args.limits(), async move {
        let _ = rx.await;
        shutdown.trigger();
    }));
    Ok(RunningServer { addr, state, shutdown: Some(tx), task })
}

/// `taskchat serve`: serve until SIGINT or SIGTERM, then give in-flight requests `shutdown_grace` to finish.
pub async fn serve(common: &CommonArgs, args: &ServeArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let listener = listen(args.listen).map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr()?;
    let state = build_state(common, args, addr).await?;
    let router = app::router(state.clone(), args);
    tracing::info!(
        %addr,
        database = state.db.kind(),
        origin = %state.auth.origin,
        ready_ms = started.elapsed().as_millis() as u64,
        "taskchat is listening"
    );
    let grace = Duration::from_secs(args.shutdown_grace);
    let shutdown = state.shutdown.clone();
    let server = tokio::spawn(serve_http(listener, router, args.limits(), async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        shutdown.trigger();
    }));
    // Wait for the server to finish on its own, or for the grace period after the signal to run out.
    tokio::select! {
        res = server => { res??; }
        _ = async {
            state.shutdown.wait().await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!("the grace period ended with requests still running; stopping anyway");
        }
    }
    state.db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Serves HTTP/1.1 on `listener` until `signal` resolves, then stops accepting, lets every connection finish
/// the request it is answering, and returns once all have closed: what `axum::serve` does, with hyper's HTTP/1
/// connection driven directly. axum's serve first reads a few bytes to tell HTTP/2 from HTTP/1 and hands them
/// back to hyper separately, so hyper's read buffer takes two reads for the first request and doubles to 16 KB
/// for the life of the connection; one per open chat stream.
///
/// Each connection has a header timeout (hyper's), an idle timeout and a place in the registry of open
/// connections, whose cap closes the longest-idle one to make room (see `conn`).
async fn serve_http(
    listener: TcpListener,
    router: axum::Router,
    limits: Limits,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let registry = Registry::new(limits.max_connections);
    // None until the first refusal: `now - 60 s` would panic on a machine up for less than a minute.
    let mut refused_logged: Option<Instant> = None;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(());
    // Every connection task holds a receiver; `closed()` resolves when the last one has finished.
    let (open_tx, open_rx) = tokio::sync::watch::channel(());
    let mut signal = std::pin::pin!(signal);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            _ = &mut signal => break,
        };
        // Streamed answers are many small writes: without TCP_NODELAY, Nagle's algorithm holds each one until
        // the client's delayed ACK (about 40 ms) and a turn waits on the network instead of the server.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let Some(place) = registry.register() else {
            // Every connection is answering a request: this one is closed unanswered (the client may retry).
            if refused_logged.is_none_or(|at| at.elapsed() >= Duration::from_secs(10)) {
                refused_logged = Some(Instant::now());
                tracing::warn!(open = registry.open(), "at the connection limit with none idle; refusing connections");
            }
            drop(tcp);
            continue;
        };
        let router = router.clone();
        let (conns, conn_state) = (registry.clone(), place.conn.clone());
        let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            // What `into_make_service_with_connect_info` would add: the peer, for rate limits and logs.
            req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            let busy = conns.begin(&conn_state);
            let answer = tower::ServiceExt::oneshot(router.clone(), req);
            async move {
                let res = answer.await?;
                // The request stays under way (the connection not idle) until its body has been sent.
                Ok::<_, std::convert::Infallible>(res.map(|body| TrackedBody::wrap(body, busy)))
            }
        });
        let mut stop = stop_rx.clone();
        let open = open_rx.clone();
        let registry = registry.clone();
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                .with_upgrades();
            let mut conn = std::pin::pin!(conn);
            let served = tokio::select! {
                served = conn.as_mut() => served,
                // Idle too long, or closed to make room: nothing is under way, so closing loses nothing.
                _ = registry.closing(&place.conn, limits.idle_timeout) => Ok(()),
                _ = stop.changed() => {
                    // Finish the response under way (if any), then close.
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            drop(place);
            if let Err(e) = served {
                tracing::trace!(error = %e, "connection ended with an error");
            }
            drop(open);
        });
    }
    drop(listener);
    drop(open_rx);
    let _ = stop_tx.send(());
    open_tx.closed().await;
    Ok(())
}

/// A listener with a deep accept queue: a burst of connections (a crowd of idle sockets, or a real rush)
/// waits in the kernel's queue rather than having its SYNs dropped and retried a second later.
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// Resource errors (too many open files, say) would repeat at once: pause before accepting again, as axum does.
/// Errors of a single connection (reset before it was accepted) are not worth a pause.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(e.kind(), ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed; retrying in a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
