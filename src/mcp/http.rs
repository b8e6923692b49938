//! `/mcp`: the MCP server over Streamable HTTP (rmcp's service), behind a guard that checks the `Host` and
//! `Origin` headers (DNS rebinding, cross-site pages) and the bearer credential, and
//! `/.well-known/oauth-protected-resource[/mcp|/api]`, the protected-resource metadata (RFC 9728) the 401
//! points to, naming our authorization server ([`crate::oauth`]). An OAuth access token is admitted only when
//! bound to `/mcp`, and a call needs its tool's scope (403 `insufficient_scope` otherwise).
//!
//! Stateless by default: each POST is served on its own, so any copy of taskchat behind a load balancer can
//! answer any request. Stateful mode keeps MCP sessions in this process's memory and then needs sticky
//! routing; it lets a client of the initialize handshake be asked to confirm a deletion (server-to-client
//! requests, see [`super::confirm`]), which `2026-07-28` clients get without sessions.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::Value;

use super::{Caller, TaskTools};
use crate::app::AppState;
use crate::auth::{Auth, CurrentUser, bearer_token};
use crate::config::ServeArgs;
use crate::error::AppError;
use crate::oauth::OAuthServer;

/// Loopback names, allowed by default so local clients and the MCP Inspector work out of the box.
const LOOPBACK: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// What the guard in front of the service needs.
struct Guard {
    auth: Arc<Auth>,
    oauth: Arc<OAuthServer>,
    max_body_bytes: usize,
    /// Accepted `Host` values (`host` or `host:port`); empty means any.
    allowed_hosts: Vec<String>,
    www_authenticate: HeaderValue,
}

/// The `Host` values `/mcp` accepts: the base URL's host, plus `TASKCHAT_MCP_ALLOWED_HOSTS` when set or the
/// loopback names when not. A `*` entry accepts any host (for a proxy that checks it itself): empty result.
pub fn allowed_hosts(args: &ServeArgs, origin: &str) -> Vec<String> {
    let configured: Vec<String> =
        args.mcp_allowed_hosts.iter().map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty()).collect();
    if configured.iter().any(|h| h == "*") {
        return Vec::new();
    }
    let mut hosts: Vec<String> = origin
        .split_once("://")
        .and_then(|(_, authority)| authority.parse::<axum::http::uri::Authority>().ok())
        .map(|a| normalize_host(a.host()))
        .into_iter()
        .collect();
    let extra = if configured.is_empty() { LOOPBACK.iter().map(|h| h.to_string()).collect() } else { configured };
    for host in extra {
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    hosts
}

/// The routes of the MCP door, ready to merge into the app's router.
pub fn router(state: &AppState, args: &ServeArgs) -> Router {
    let origin = state.auth.origin.clone();
    let hosts = allowed_hosts(args, &origin);
    let oauth = state.oauth.clone();
    let guard = Arc::new(Guard {
        auth: state.auth.clone(),
        allowed_hosts: hosts.clone(),
        www_authenticate: oauth.challenge(&oauth.mcp_resource, None, "tasks:read tasks:write"),
        oauth: oauth.clone(),
        max_body_bytes: args.max_body_bytes,
    });

    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(!args.mcp_stateless)
        // Without sessions, plain JSON answers are simpler for proxies than one-event SSE streams.
        .with_json_response(args.mcp_stateless)
        .with_max_request_body_bytes(args.max_body_bytes);
    // The guard checks hosts first (with a JSON answer); rmcp's own check stays on with the same list.
    config = if hosts.is_empty() { config.disable_allowed_hosts() } else { config.with_allowed_hosts(hosts) };
    let tasks = state.tasks.clone();
    let stateful = !args.mcp_stateless;
    let service = StreamableHttpService::new(
        move || Ok(TaskTools::per_request(tasks.clone(), stateful)),
        Arc::new(LocalSessionManager::default()),
        config,
    );

    let metadata = Arc::new(oauth.resource_metadata(&oauth.mcp_resource));
    let serve_metadata = move || {
        let metadata = metadata.clone();
        async move { Json(Value::clone(&metadata)) }
    };
    let api_metadata = Arc::new(oauth.resource_metadata(&oauth.api_resource));
    let serve_api_metadata = move || {
        let metadata = api_metadata.clone();
        async move { Json(Value::clone(&metadata)) }
    };
    Router::new()
        .route_service("/mcp", service)
        .route_layer(middleware::from_fn_with_state(guard, guard_mcp))
        .route("/.well-known/oauth-protected-resource", get(serve_metadata.clone()))
        .route("/.well-known/oauth-protected-resource/mcp", get(serve_metadata))
        .route("/.well-known/oauth-protected-resource/api", get(serve_api_metadata))
}

/// Host, then Origin, then the bearer credential; the caller goes into the request for the handler.
async fn guard_mcp(State(guard): State<Arc<Guard>>, mut req: Request, next: Next) -> Response {
    if !guard.allowed_hosts.is_empty() && !host_allowed(req.uri(), req.headers(), &guard.allowed_hosts) {
        return AppError::forbidden("INVALID_HOST", "This host name is not allowed.").into_response();
    }
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let trusted = origin.to_str().is_ok_and(|o| guard.auth.is_trusted_origin(o));
        if !trusted {
            return AppError::forbidden("INVALID_ORIGIN", "Invalid origin").into_response();
        }
    }
    if let Some(token) = bearer_token(req.headers()).filter(|t| crate::oauth::is_access_token(t)).map(str::to_string) {
        return admit_oauth(&guard, &token, req, next).await;
    }
    // Only the Authorization header counts: a cookie is what a browser sends on its own, and MCP asks for a
    // bearer credential.
    let mut credentials = HeaderMap::new();
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        credentials.insert(header::AUTHORIZATION, value.clone());
    }
    let user =
        if credentials.is_empty() { Ok(None) } else { CurrentUser::from_headers(&guard.auth, &credentials).await };
    match user {
        Ok(Some(user)) => {
            req.extensions_mut().insert(Caller { user_id: user.user.id, timezone: user.user.timezone });
            next.run(req).await
        }
        Ok(None) => {
            let mut res = AppError::unauthorized().into_response();
            res.headers_mut().insert(header::WWW_AUTHENTICATE, guard.www_authenticate.clone());
            res
        }
        Err(e) => e.into_response(),
    }
}

/// An OAuth access token: bound to `/mcp`, and holding the scope of what the message does (read from the
/// buffered body, so the refusal is an HTTP 403 a client can act on rather than a tool error).
async fn admit_oauth(guard: &Guard, token: &str, req: Request, next: Next) -> Response {
    let resource = &guard.oauth.mcp_resource;
    let grant = match guard.oauth.verify(token, resource).await {
        Ok(Some(grant)) => grant,
        Ok(None) => return guard.oauth.refusal(resource, None),
        Err(e) => return AppError::from(e).into_response(),
    };
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, guard.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => {
            return AppError::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", "The request body is too large")
                .into_response();
        }
    };
    if let Some(needed) = crate::oauth::mcp_scope_needed(&bytes)
        && !grant.has(needed)
    {
        return guard.oauth.refusal(resource, Some(needed));
    }
    let mut req = Request::from_parts(parts, axum::body::Body::from(bytes));
    req.extensions_mut().insert(Caller { user_id: grant.user.id, timezone: grant.user.timezone });
    next.run(req).await
}

fn normalize_host(host: &str) -> String {
    host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase()
}

/// Whether the request's `Host` (or HTTP/2 `:authority`) is one of `allowed`: an entry without a port accepts
/// any port.
fn host_allowed(uri: &Uri, headers: &HeaderMap, allowed: &[String]) -> bool {
    let authority = match headers.get(header::HOST) {
        Some(v) => v.to_str().ok().and_then(|s| s.parse::<axum::http::uri::Authority>().ok()),
        None => uri.authority().cloned(),
    };
    let Some(authority) = authority else {
        return false;
    };
    let (host, port) = (normalize_host(authority.host()), authority.port_u16());
    allowed.iter().any(|entry| {
        let (entry_host, entry_port) = match entry.parse::<axum::http::uri::Authority>() {
            Ok(a) => (normalize_host(a.host()), a.port_u16()),
            // "::1" and other bare IPv6 addresses are not authorities.
            Err(_) => (normalize_host(entry), None),
        };
        entry_host == host && entry_port.is_none_or(|p| port == Some(p))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(host: &str, list: &[&str]) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        let list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        host_allowed(&Uri::from_static("/mcp"), &headers, &list)
    }

    #[test]
    fn hosts() {
        let list = ["tasks.example.com", "127.0.0.1", "::1", "proxy.internal:8443"];
        assert!(allowed("tasks.example.com", &list));
        assert!(allowed("TASKS.example.com:443", &list));
        assert!(allowed("127.0.0.1:8080", &list));
        assert!(allowed("[::1]:8080", &list));
        assert!(allowed("proxy.internal:8443", &list));
        assert!(!allowed("proxy.internal:8444", &list));
        assert!(!allowed("evil.example.com", &list));
        assert!(!allowed("tasks.example.com.evil.com", &list));
    }

    #[test]
    fn default_and_configured_lists() {
        let mut args = ServeArgs::from_env();
        args.mcp_allowed_hosts = vec![];
        assert_eq!(
            allowed_hosts(&args, "https://tasks.example.com"),
            ["tasks.example.com", "localhost", "127.0.0.1", "::1"]
        );
        args.mcp_allowed_hosts = vec![" MCP.example.com ".into(), "".into()];
        assert_eq!(allowed_hosts(&args, "http://127.0.0.1:8080"), ["127.0.0.1", "mcp.example.com"]);
        args.mcp_allowed_hosts = vec!["*".into()];
        assert!(allowed_hosts(&args, "https://tasks.example.com").is_empty());
    }
}
