//! The web app: a few HTML pages and their ES modules and CSS from `web/`, embedded in release builds and read
//! from disk in debug builds (rust-embed), so a page edit shows on reload. There is no build step. Which page a
//! visit gets is decided here from the session cookie, so a signed-out visit to the chat never flashes it.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use rust_embed::Embed;

use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::error::AppError;

#[derive(Embed)]
#[folder = "web/"]
struct Files;

/// Pages may load only what this server serves: no CDN, no inline script, no framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
                   frame-ancestors 'none'";

/// What `encodeURIComponent` leaves alone is safe in a query value; everything else is escaped.
const QUERY_VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'/')
    .add(b':')
    .add(b';')
    .add(b'<')
    .add(b'=')
    .add(b'>')
    .add(b'?')
    .add(b'@')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/signup", get(signup))
        .route("/chat", get(chat))
        .route("/oauth/consent", get(consent))
        .route("/connected-apps", get(connected_apps))
        .route("/assets/{*path}", get(asset))
}

async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<bool, AppError> {
    Ok(CurrentUser::from_headers(&state.auth, headers).await?.is_some())
}

async fn home(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    Ok(redirect(if signed_in(&state, &headers).await? { "/chat" } else { "/login" }))
}

async fn login(State(state): State<AppState>, headers: HeaderMap, RawQuery(q): RawQuery) -> Result<Response, AppError> {
    auth_page(&state, &headers, q, "login.html").await
}

async fn signup(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, AppError> {
    auth_page(&state, &headers, q, "signup.html").await
}

/// A signed-in person has nothing to do on the sign-in pages: they go where they were headed.
async fn auth_page(
    state: &AppState,
    headers: &HeaderMap,
    query: Option<String>,
    page: &str,
) -> Result<Response, AppError> {
    if signed_in(state, headers).await? {
        let next = query.as_deref().and_then(next_param).filter(|n| safe_next(n));
        return Ok(redirect(next.as_deref().unwrap_or("/chat")));
    }
    Ok(serve(page, headers))
}

async fn chat(State(state): State<AppState>, headers: HeaderMap, RawQuery(q): RawQuery) -> Result<Response, AppError> {
    signed_in_page(&state, &headers, "/chat", q, "chat.html").await
}

/// The OAuth consent page; a signed-out visit signs in first and comes back to the same request.
async fn consent(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, AppError> {
    signed_in_page(&state, &headers, "/oauth/consent", q, "consent.html").await
}

async fn connected_apps(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, AppError> {
    signed_in_page(&state, &headers, "/connected-apps", q, "connected-apps.html").await
}

/// A page for the signed-in only: a signed-out visit goes to sign-in and comes back here, query and all.
async fn signed_in_page(
    state: &AppState,
    headers: &HeaderMap,
    path: &str,
    query: Option<String>,
    page: &str,
) -> Result<Response, AppError> {
    if !signed_in(state, headers).await? {
        let here = match query.filter(|q| !q.is_empty()) {
            Some(q) => format!("{path}?{q}"),
            None => path.to_string(),
        };
        return Ok(redirect(&format!("/login?next={}", utf8_percent_encode(&here, QUERY_VALUE))));
    }
    Ok(serve(page, headers))
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    // Only plain names below assets/: no `..`, no hidden files, no backslashes.
    let clean =
        !path.is_empty() && !path.contains('\\') && path.split('/').all(|seg| !seg.is_empty() && !seg.starts_with('.'));
    if !clean {
        return AppError::not_found("No such file.").into_response();
    }
    serve(&format!("assets/{path}"), &headers)
}

/// One embedded file with an ETag (its content hash) and `no-cache`, so browsers revalidate cheaply and never
/// mix an old module with a new one.
fn serve(path: &str, req: &HeaderMap) -> Response {
    let Some(file) = Files::get(path) else {
        return AppError::not_found("No such file.").into_response();
    };
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    let is_html = path.ends_with(".html");
    if is_html {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    let matches = req
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim().trim_start_matches("W/") == etag));
    if matches {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    let mime = match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") | Some("webmanifest") => "application/manifest+json",
        _ => "application/octet-stream",
    };
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    (headers, file.data.into_owned()).into_response()
}

/// A 302 whose answer depends on the cookie, so no cache keeps it.
fn redirect(to: &str) -> Response {
    let mut res = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The decoded `next` parameter of a query string.
fn next_param(query: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        if k != "next" {
            return None;
        }
        let v = v.replace('+', " ");
        percent_encoding::percent_decode_str(&v).decode_utf8().ok().map(|d| d.into_owned())
    })
}

/// Only a path on this site: `/x`, never `//host` or `/\host` (both leave the site in browsers).
fn safe_next(next: &str) -> bool {
    next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_a_local_path() {
        assert!(safe_next("/chat?thread=abc"));
        assert!(!safe_next("//evil.example"));
        assert!(!safe_next("/\\evil.example"));
        assert!(!safe_next("https://evil.example"));
        assert!(!safe_next("/chat\n"));
        assert_eq!(next_param("a=1&next=%2Fchat%3Fthread%3Dx").as_deref(), Some("/chat?thread=x"));
        assert_eq!(next_param("a=1"), None);
    }

    #[test]
    fn encoded_next_round_trips() {
        let enc = utf8_percent_encode("/chat?thread=a b&x=1", QUERY_VALUE).to_string();
        assert_eq!(enc, "%2Fchat%3Fthread%3Da%20b%26x%3D1");
        assert_eq!(next_param(&format!("next={enc}")).as_deref(), Some("/chat?thread=a b&x=1"));
    }

    #[test]
    fn every_page_is_embedded() {
        for page in ["login.html", "signup.html", "chat.html", "consent.html", "connected-apps.html", "assets/app.css"]
        {
            assert!(Files::get(page).is_some(), "{page} is missing from web/");
        }
    }
}
