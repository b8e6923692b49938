//! The application state and the route table, grouped by door, with the layers every request passes through.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRef, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::auth::{self, Auth};
use crate::chat::{self, Agent};
use crate::config::ServeArgs;
use crate::db::Db;
use crate::error::AppError;
use crate::metrics::{self, Metrics};
use crate::tasks::{self, TaskService};

/// Everything a handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub auth: Arc<Auth>,
    /// The OAuth authorization server (MCP clients' one-click connection).
    pub oauth: Arc<crate::oauth::OAuthServer>,
    pub tasks: TaskService,
    pub agent: Arc<Agent>,
    pub events: Arc<crate::events::EventBus>,
    pub metrics: Metrics,
    /// A bearer token `/metrics` requires, when set.
    pub metrics_token: Option<String>,
    pub metrics_enabled: bool,
    /// Raised when the server begins to shut down, so long-lived streams end and let it finish.
    pub shutdown: Shutdown,
}

/// A one-way signal: the server is shutting down.
#[derive(Clone)]
pub struct Shutdown(Arc<tokio::sync::watch::Sender<bool>>);

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown(Arc::new(tokio::sync::watch::channel(false).0))
    }
}

impl Shutdown {
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }

    /// Resolves once shutdown has begun.
    pub async fn wait(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|stopping| *stopping).await;
    }
}

impl FromRef<AppState> for Arc<Auth> {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole HTTP surface.
pub fn router(state: AppState, args: &ServeArgs) -> Router {
    let max_body_bytes = args.max_body_bytes;
    let limits = args.limits();
    let cors = cors_layer(state.auth.clone());
    let hsts = (state.auth.origin.starts_with("https://") && args.hsts_max_age > 0)
        .then(|| HeaderValue::from_str(&format!("max-age={}", args.hsts_max_age)).ok())
        .flatten();
    let api = Router::new()
        .merge(tasks::routes::router())
        .merge(chat::routes::router())
        .merge(crate::chatkit::router())
        .merge(crate::events::router())
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/openapi.json", get(openapi))
        .route("/metrics", get(serve_metrics))
        .layer(middleware::from_fn_with_state(state.auth.clone(), check_cookie_origin))
        .layer(middleware::from_fn_with_state(state.oauth.clone(), crate::oauth::guard_api))
        .with_state(state.clone());
    let (oauth_routes, oauth_metadata) = crate::oauth::routes::router(state.oauth.clone());
    Router::new()
        // Auth answers carry tokens and session details: no cache may keep them.
        .nest(
            "/api/auth",
            auth::routes::router()
                .with_state(state.auth.clone())
                .merge(oauth_routes)
                .layer(SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))),
        )
        .merge(oauth_metadata)
        .merge(crate::mcp::http::router(&state, args))
        .merge(api)
        // The web pages last: they own only their few paths, and unknown paths keep the JSON fallback below.
        .merge(crate::web::router().with_state(state.clone()))
        .fallback(|| async { AppError::not_found("No such route.") })
        .method_not_allowed_fallback(|| async {
            AppError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "This route does not accept that method.",
            )
        })
        .layer(middleware::from_fn_with_state(state.metrics.clone(), metrics::track))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn(move |req: Request, next: Next| refuse_oversized(max_body_bytes, req, next)))
        .layer(middleware::from_fn(move |req: Request, next: Next| time_limits(limits, req, next)))
        .layer(cors)
        .layer(CatchPanicLayer::custom(|_| AppError::Internal(anyhow::anyhow!("a handler panicked")).into_response()))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(middleware::from_fn(move |req: Request, next: Next| security_headers(hsts.clone(), req, next)))
}

/// Headers every answer gets: nosniff; no-store on JSON answered to a request that carried credentials (a
/// person's tasks and threads must not sit in a shared or disk cache); HSTS when served over https.
async fn security_headers(hsts: Option<HeaderValue>, req: Request, next: Next) -> Response {
    let credentials = req.headers().contains_key(header::AUTHORIZATION) || req.headers().contains_key(header::COOKIE);
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    headers.entry(header::X_CONTENT_TYPE_OPTIONS).or_insert(HeaderValue::from_static("nosniff"));
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    if credentials && json {
        headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    }
    if let Some(v) = hsts {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, v);
    }
    res
}

/// CORS with credentials for trusted origins only; other origins get no CORS headers at all.
fn cors_layer(auth: Arc<Auth>) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin: &HeaderValue, _| {
            origin.to_str().is_ok_and(|o| auth.is_trusted_origin(o))
        }))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::PUT, Method::DELETE, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::ACCEPT_LANGUAGE,
            HeaderName::from_static("mcp-session-id"),
            HeaderName::from_static("mcp-protocol-version"),
            HeaderName::from_static("mcp-method"),
            HeaderName::from_static("mcp-name"),
            HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([
            HeaderName::from_static("set-auth-jwt"),
            HeaderName::from_static("set-auth-token"),
            REQUEST_ID,
            HeaderName::from_static("mcp-session-id"),
            header::WWW_AUTHENTICATE,
        ])
        .max_age(Duration::from_secs(600))
}

/// Cross-site request forgery guard for our own API: a state-changing request that authenticates with the
/// session cookie must come from a trusted page (bearer credentials cannot be sent by another site).
async fn check_cookie_origin(State(auth): State<Arc<Auth>>, req: Request, next: Next) -> Response {
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method && auth::cookie_value(req.headers(), &auth.session_cookie_name()).is_some() {
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .or_else(|| req.headers().get(header::REFERER))
            .and_then(|v| v.to_str().ok())
            .and_then(auth::origin_of);
        match origin {
            None => {
                return AppError::forbidden("MISSING_OR_NULL_ORIGIN", "Missing or null Origin").into_response();
            }
            Some(o) if !auth.is_trusted_origin(&o) => {
                return AppError::forbidden("INVALID_ORIGIN", "Invalid origin").into_response();
            }
            Some(_) => {}
        }
    }
    next.run(req).await
}

/// Routes whose answers stream or wait on a model: their time is bounded by the model timeout, the agent's
/// step limit and the streams' keep-alives, not by the request timeout.
fn long_running(path: &str) -> bool {
    path == "/chatkit"
        || path == "/mcp"
        || path.starts_with("/mcp/")
        || path == "/api/events"
        || (path.starts_with("/api/") && path.ends_with("/chat"))
}

/// The body timeout (a body that stops arriving gets a 408 and the connection closes) and the request timeout
/// (a handler that has not started its answer in time gets a 503; its transaction rolls back when dropped).
async fn time_limits(limits: crate::conn::Limits, req: Request, next: Next) -> Response {
    let fired = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let timed = fired.clone();
    let req = req.map(|body| crate::conn::TimedBody::wrap(body, limits.body_timeout, timed));
    let res = if long_running(req.uri().path()) {
        next.run(req).await
    } else {
        match tokio::time::timeout(limits.request_timeout, next.run(req)).await {
            Ok(res) => res,
            Err(_) => {
                return AppError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "TIMEOUT",
                    "The server took too long to answer. Try again.",
                )
                .into_response();
            }
        }
    };
    if fired.load(std::sync::atomic::Ordering::Acquire) {
        let mut res = AppError::new(
            StatusCode::REQUEST_TIMEOUT,
            "REQUEST_TIMEOUT",
            "The request body stopped arriving before it was complete.",
        )
        .into_response();
        res.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        return res;
    }
    res
}

/// A body declared larger than the limit is refused at once, before any of it is read.
async fn refuse_oversized(max: usize, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return AppError::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", "The request body is too large")
            .into_response();
    }
    next.run(req).await
}

/// Every error is a JSON `{message, code}`, also the ones that libraries answer in plain text (axum's
/// extractor rejections, the MCP transport's). Better Auth's bare 404 on its own routes stays bare.
async fn json_errors(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    let (parts, body) = res.into_parts();
    let text = match axum::body::to_bytes(body, 4096).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_string(),
        Err(_) => String::new(),
    };
    if text.is_empty() && status == StatusCode::NOT_FOUND {
        return Response::from_parts(parts, axum::body::Body::empty());
    }
    // The MCP transport answers a body that is not JSON-RPC with 415; it is a bad request.
    let status = if status == StatusCode::UNSUPPORTED_MEDIA_TYPE && text.starts_with("fail to deserialize") {
        StatusCode::BAD_REQUEST
    } else {
        status
    };
    let code = match status {
        StatusCode::BAD_REQUEST => "BAD_REQUEST",
        StatusCode::NOT_FOUND => "NOT_FOUND",
        StatusCode::METHOD_NOT_ALLOWED => "METHOD_NOT_ALLOWED",
        StatusCode::NOT_ACCEPTABLE => "NOT_ACCEPTABLE",
        StatusCode::PAYLOAD_TOO_LARGE => "PAYLOAD_TOO_LARGE",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "UNSUPPORTED_MEDIA_TYPE",
        StatusCode::UNPROCESSABLE_ENTITY => "VALIDATION_ERROR",
        s if s.is_server_error() => "INTERNAL_ERROR",
        _ => "ERROR",
    };
    let message = if status.is_server_error() || text.is_empty() {
        status.canonical_reason().unwrap_or("Error").to_string()
    } else {
        text.chars().take(300).collect()
    };
    let mut res = (status, Json(json!({ "message": message, "code": code }))).into_response();
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            res.headers_mut().append(name, value.clone());
        }
    }
    res
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.db.ping().await {
        Json(json!({ "status": "ready", "database": state.db.kind() })).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "database": state.db.kind(), "message": "The database does not answer." })),
        )
            .into_response()
    }
}

async fn serve_metrics(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    if !state.metrics_enabled {
        return AppError::not_found("Metrics are turned off.").into_response();
    }
    metrics::respond(&state.metrics, &state.db, state.metrics_token.as_deref(), &headers)
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], crate::openapi::DOCUMENT).into_response()
}
