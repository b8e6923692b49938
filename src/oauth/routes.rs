//! The authorization server's endpoints, at Better Auth's oauth-provider paths under `/api/auth/oauth2/`, and
//! its RFC 8414 metadata. Errors are the RFCs' `{"error", "error_description"}`: redirected to the client when
//! its redirect URI is known to be its own, shown to the person when not, never a 500 for a bad request.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::store::{self, CodeLookup, IssuedTokens, NewClient};
use super::{OAuthServer, SCOPES, cimd, hash, split_scopes};
use crate::auth::{CurrentUser, Peer, bearer_token, client_ip, crypto};
use crate::db::Timestamp;
use crate::error::AppError;

/// How long the consent page may take before its signed request expires.
const CONSENT_WINDOW: time::Duration = time::Duration::minutes(10);
/// A metadata document is fetched again after this long.
const METADATA_MAX_AGE: time::Duration = time::Duration::hours(1);
const DEFAULT_SCOPES: [&str; 2] = [super::TASKS_READ, super::TASKS_WRITE];

/// The routes under `/api/auth` (merged into the Better Auth router) and the well-known metadata.
pub fn router(oauth: Arc<OAuthServer>) -> (Router, Router) {
    let under_auth = Router::new()
        .route("/oauth2/authorize", get(authorize))
        .route("/oauth2/consent", post(consent))
        .route("/oauth2/token", post(token))
        .route("/oauth2/register", post(register))
        .route("/oauth2/revoke", post(revoke))
        .route("/oauth2/introspect", post(introspect))
        .route("/oauth2/userinfo", get(userinfo).post(userinfo))
        .route("/oauth2/public-client", get(public_client))
        .route("/oauth2/get-consents", get(get_consents))
        .route("/oauth2/delete-consent", post(delete_consent))
        .with_state(oauth.clone());
    let well_known = Router::new().route("/.well-known/oauth-authorization-server", get(metadata)).with_state(oauth);
    (under_auth, well_known)
}

// ---- errors ---------------------------------------------------------------------------------------------

/// An OAuth error answered directly (token, registration, revocation endpoints; RFC 6749 §5.2).
#[derive(Debug)]
struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        OAuthError { status: StatusCode::BAD_REQUEST, error, description: description.into() }
    }

    fn invalid_client(description: impl Into<String>) -> Self {
        OAuthError { status: StatusCode::UNAUTHORIZED, error: "invalid_client", description: description.into() }
    }

    fn grant(description: impl Into<String>) -> Self {
        Self::new("invalid_grant", description)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut res = (self.status, axum::Json(json!({ "error": self.error, "error_description": self.description })))
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"taskchat\""));
        }
        res.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        res
    }
}

impl From<sqlx::Error> for OAuthError {
    fn from(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "an OAuth endpoint's query failed");
        OAuthError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error: "temporarily_unavailable",
            description: "The server could not answer just now. Try again.".into(),
        }
    }
}

type OResult<T> = Result<T, OAuthError>;

// ---- parameters -----------------------------------------------------------------------------------------

/// Query or form parameters in their order, repeated names kept (`resource` may repeat).
#[derive(Debug, Clone, Default)]
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(raw: &str) -> Params {
        Params(form_urlencoded::parse(raw.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    /// A form body, or a JSON object of strings (Better Auth accepts both).
    fn from_body(headers: &HeaderMap, body: &[u8]) -> Params {
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with("application/json"));
        if !json {
            return Params::parse(&String::from_utf8_lossy(body));
        }
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
            return Params::default();
        };
        let mut out = Vec::new();
        for (k, v) in map {
            match v {
                Value::String(s) => out.push((k, s)),
                Value::Array(items) => {
                    out.extend(items.into_iter().filter_map(|i| i.as_str().map(|s| (k.clone(), s.to_string()))))
                }
                Value::Bool(b) => out.push((k, b.to_string())),
                Value::Number(n) => out.push((k, n.to_string())),
                _ => {}
            }
        }
        Params(out)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }

    fn encode(&self) -> String {
        form_urlencoded::Serializer::new(String::new()).extend_pairs(self.0.iter()).finish()
    }
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("application/json"))
}

// ---- clients --------------------------------------------------------------------------------------------

/// A registered client, or one named by its metadata document URL (fetched when not known or stale).
async fn load_client(o: &OAuthServer, client_id: &str) -> OResult<store::Client> {
    let known = store::find_client(&o.auth.db, client_id).await?;
    if !cimd::is_document_url(client_id) {
        return known
            .filter(|c| !c.disabled.unwrap_or(false))
            .ok_or_else(|| OAuthError::new("invalid_client", "Unknown client_id."));
    }
    let fresh = known.as_ref().and_then(|c| c.updated_at).is_some_and(|t| t.plus(METADATA_MAX_AGE) > Timestamp::now());
    if let Some(c) = known.filter(|_| fresh) {
        return if c.disabled.unwrap_or(false) {
            Err(OAuthError::new("invalid_client", "This client is disabled."))
        } else {
            Ok(c)
        };
    }
    let doc = cimd::fetch(client_id, o.allow_private_metadata).await.map_err(|why| {
        OAuthError::new("invalid_client", format!("The client metadata document was refused: {why}."))
    })?;
    for uri in &doc.redirect_uris {
        check_redirect_uri(uri).map_err(|why| OAuthError::new("invalid_client", why))?;
    }
    store::upsert_client(
        &o.auth.db,
        NewClient {
            client_id: client_id.to_string(),
            secret_hash: None,
            name: doc.client_name,
            uri: doc.client_uri,
            icon: doc.logo_uri,
            redirect_uris: doc.redirect_uris,
            auth_method: "none".into(),
            grant_types: doc.grant_types.unwrap_or_else(|| vec!["authorization_code".into(), "refresh_token".into()]),
            response_types: vec!["code".into()],
            scopes: None,
            kind: Some("metadata_document".into()),
        },
    )
    .await?;
    store::find_client(&o.auth.db, client_id)
        .await?
        .ok_or_else(|| OAuthError::new("invalid_client", "Unknown client_id."))
}

/// The client a token, revocation or introspection request authenticates as (RFC 6749 §2.3): HTTP Basic,
/// or `client_id` (+ `client_secret`) in the body; a public client gives its id only.
async fn authenticate_client(o: &OAuthServer, headers: &HeaderMap, p: &Params) -> OResult<store::Client> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' ').filter(|(s, _)| s.eq_ignore_ascii_case("basic")).map(|(_, t)| t.trim()))
        .and_then(|t| STANDARD.decode(t).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            let (id, secret) = s.split_once(':')?;
            let dec = |x: &str| percent_encoding::percent_decode_str(x).decode_utf8().ok().map(|c| c.into_owned());
            Some((dec(id)?, dec(secret)?))
        });
    let (client_id, secret) = match basic {
        Some((id, secret)) => (id, Some(secret)),
        None => match p.get("client_id") {
            Some(id) => (id.to_string(), p.get("client_secret").map(str::to_string)),
            None => return Err(OAuthError::invalid_client("Client authentication is required.")),
        },
    };
    let client = store::find_client(&o.auth.db, &client_id)
        .await?
        .filter(|c| !c.disabled.unwrap_or(false))
        .ok_or_else(|| OAuthError::invalid_client("Unknown client."))?;
    if let Some(expected) = &client.secret_hash {
        let given = secret.as_deref().map(hash).unwrap_or_default();
        if !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
            return Err(OAuthError::invalid_client("The client secret is wrong or missing."));
        }
    }
    Ok(client)
}

/// A redirect URI a client may register: absolute, no fragment; https, http only to a loopback host (native
/// apps, RFC 8252 §7.3), or an app's own scheme; never a scheme that runs or reads in the browser.
fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let url = url::Url::parse(uri).map_err(|_| format!("{uri} is not an absolute URI"))?;
    if url.fragment().is_some() {
        return Err(format!("{uri} has a fragment"));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" => {
            let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
            if loopback { Ok(()) } else { Err(format!("{uri} must use https (http only to a loopback address)")) }
        }
        "javascript" | "data" | "file" | "vbscript" | "about" | "blob" | "ws" | "wss" | "ftp" => {
            Err(format!("{uri} uses a scheme that cannot be a redirect URI"))
        }
        _ => Ok(()),
    }
}

// ---- authorize ------------------------------------------------------------------------------------------

/// A checked authorization request.
struct Valid {
    client: store::Client,
    redirect_uri: String,
    state: Option<String>,
    scopes: Vec<String>,
    resource: String,
    challenge: String,
}

/// Why a request stopped: shown to the person (the redirect URI is not known to be the client's), or
/// redirected to the client with an error.
enum Stop {
    Show(StatusCode, &'static str, String),
    Redirect(String),
}

/// The redirect URI with `params` appended to its query.
fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            url.to_string()
        }
        Err(_) => redirect_uri.to_string(),
    }
}

fn error_redirect(o: &OAuthServer, redirect_uri: &str, state: Option<&str>, error: &str, description: &str) -> String {
    let mut params = vec![("error", error), ("error_description", description)];
    if let Some(s) = state {
        params.push(("state", s));
    }
    params.push(("iss", &o.issuer));
    redirect_with(redirect_uri, &params)
}

async fn validate(o: &OAuthServer, p: &Params) -> Result<Valid, Stop> {
    let show = |e: &'static str, d: &str| Stop::Show(StatusCode::BAD_REQUEST, e, d.to_string());
    let client_id = p.get("client_id").ok_or_else(|| show("invalid_request", "client_id is required."))?;
    let client = match load_client(o, client_id).await {
        Ok(c) => c,
        Err(e) if e.status == StatusCode::SERVICE_UNAVAILABLE => {
            return Err(Stop::Show(e.status, e.error, e.description));
        }
        Err(e) => return Err(Stop::Show(StatusCode::BAD_REQUEST, e.error, e.description)),
    };
    let registered = client.redirect_uris();
    // Exactly as registered: no prefix, port or case leeway.
    let redirect_uri = match p.get("redirect_uri") {
        Some(r) if registered.iter().any(|x| x == r) => r.to_string(),
        Some(_) => return Err(show("invalid_request", "redirect_uri does not match a registered redirect URI.")),
        None if registered.len() == 1 => registered[0].clone(),
        None => return Err(show("invalid_request", "redirect_uri is required.")),
    };
    let state = p.get("state").map(str::to_string);
    let fail = |error: &str, description: &str| {
        Stop::Redirect(error_redirect(o, &redirect_uri, state.as_deref(), error, description))
    };
    if p.get("response_type") != Some("code") {
        return Err(fail("unsupported_response_type", "Only response_type=code is supported."));
    }
    let Some(challenge) = p.get("code_challenge") else {
        return Err(fail("invalid_request", "code_challenge is required (PKCE with S256)."));
    };
    if p.get("code_challenge_method") != Some("S256") {
        return Err(fail("invalid_request", "code_challenge_method must be S256."));
    }
    if challenge.len() != 43 || !challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(fail("invalid_request", "code_challenge must be a base64url SHA-256 digest."));
    }
    let allowed = client.allowed_scopes();
    let scopes = match p.get("scope") {
        Some(s) => split_scopes(s),
        None => allowed.clone().unwrap_or_else(|| DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect()),
    };
    let permitted =
        |s: &String| SCOPES.contains(&s.as_str()) && allowed.as_ref().is_none_or(|a| a.iter().any(|x| x == s));
    if scopes.is_empty() || !scopes.iter().all(permitted) {
        return Err(fail("invalid_scope", "A requested scope is unknown or not allowed for this client."));
    }
    let resources = p.all("resource");
    let resource = match resources.as_slice() {
        [] => o.mcp_resource.clone(),
        [one] => o.known_resource(one).ok_or_else(|| fail("invalid_target", "The resource is not served here."))?,
        _ => return Err(fail("invalid_target", "A token is bound to one resource: give one.")),
    };
    Ok(Valid { client, redirect_uri, state, scopes, resource, challenge: challenge.to_string() })
}

/// A page (or JSON for a script) telling the person what went wrong; nothing is sent to the client.
fn show_error(headers: &HeaderMap, status: StatusCode, error: &str, description: &str) -> Response {
    if wants_json(headers) {
        return (status, axum::Json(json!({ "error": error, "error_description": description }))).into_response();
    }
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Cannot connect · taskchat</title>\
         <link rel=\"stylesheet\" href=\"/assets/app.css\"></head><body class=\"auth-page\"><main class=\"auth-card\">\
         <h1>This app cannot connect</h1><p class=\"lead\">{}</p><p><code>{}</code></p>\
         <p><a href=\"/chat\">Back to taskchat</a></p></main></body></html>",
        esc(description),
        esc(error)
    );
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

/// Sends the browser on: a 302, or `{redirect, url}` to a script that asked for JSON (Better Auth's form).
fn go(headers: &HeaderMap, url: &str) -> Response {
    if wants_json(headers) {
        return axum::Json(json!({ "redirect": true, "url": url })).into_response();
    }
    let mut res = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(url) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

fn sign(secret: &str, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(b"oauth_query:");
    mac.update(body.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// The request as the consent page carries it: its parameters sorted, an expiry, and an HMAC over both.
fn signed_query(o: &OAuthServer, p: &Params) -> String {
    let mut pairs: Vec<(String, String)> = p.0.iter().filter(|(k, _)| k != "exp" && k != "sig").cloned().collect();
    pairs.sort();
    pairs.push(("exp".into(), Timestamp::now().plus(CONSENT_WINDOW).unix().to_string()));
    let body = Params(pairs).encode();
    let sig = sign(&o.auth.secret, &body);
    format!("{body}&sig={sig}")
}

/// The parameters of a signed query that is intact and unexpired.
fn verify_signed_query(o: &OAuthServer, q: &str) -> Option<Params> {
    let q = q.trim_start_matches('?');
    let (body, sig) = q.rsplit_once("&sig=")?;
    if !bool::from(sign(&o.auth.secret, body).as_bytes().ct_eq(sig.as_bytes())) {
        return None;
    }
    let params = Params::parse(body);
    let exp: i64 = params.get("exp")?.parse().ok()?;
    if exp < Timestamp::now().unix() {
        return None;
    }
    Some(Params(params.0.into_iter().filter(|(k, _)| k != "exp").collect()))
}

/// Issues a code for the person and returns the client's redirect URI carrying it (with `state`, `iss`).
async fn issue_code(o: &OAuthServer, v: &Valid, user: &CurrentUser, scopes: &[String]) -> Result<String, sqlx::Error> {
    let code = crypto::generate_id();
    let value = json!({
        "client_id": v.client.client_id,
        "user_id": user.user.id,
        "session_id": user.session.as_ref().map(|s| s.id.clone()),
        "redirect_uri": v.redirect_uri,
        "code_challenge": v.challenge,
        "scopes": scopes,
        "resource": v.resource,
    });
    store::insert_code(&o.auth.db, &hash(&code), &value.to_string(), Timestamp::now().plus(o.code_ttl)).await?;
    let mut params = vec![("code", code.as_str())];
    if let Some(s) = &v.state {
        params.push(("state", s));
    }
    params.push(("iss", &o.issuer));
    Ok(redirect_with(&v.redirect_uri, &params))
}

async fn authorize(State(o): State<Arc<OAuthServer>>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let raw = q.unwrap_or_default();
    let p = Params::parse(&raw);
    let v = match validate(&o, &p).await {
        Ok(v) => v,
        Err(Stop::Show(status, e, d)) => return show_error(&headers, status, e, &d),
        Err(Stop::Redirect(url)) => return go(&headers, &url),
    };
    let prompt = p.get("prompt").unwrap_or("");
    let user = match CurrentUser::from_headers(&o.auth, &headers).await {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    let Some(user) = user else {
        if prompt.split(' ').any(|x| x == "none") {
            return go(
                &headers,
                &error_redirect(&o, &v.redirect_uri, v.state.as_deref(), "login_required", "Sign-in is required."),
            );
        }
        // Back to this very request once signed in.
        let here = format!("/api/auth/oauth2/authorize?{raw}");
        let next: String = form_urlencoded::byte_serialize(here.as_bytes()).collect();
        return go(&headers, &format!("/login?next={next}"));
    };
    let granted = match store::find_consent(&o.auth.db, &user.user.id, &v.client.client_id).await {
        Ok(g) => g,
        Err(e) => return AppError::from(e).into_response(),
    };
    let covered = granted.is_some_and(|g| v.scopes.iter().all(|s| g.contains(s)));
    if covered && !prompt.split(' ').any(|x| x == "consent") {
        return match issue_code(&o, &v, &user, &v.scopes).await {
            Ok(url) => go(&headers, &url),
            Err(e) => AppError::from(e).into_response(),
        };
    }
    if prompt.split(' ').any(|x| x == "none") {
        return go(
            &headers,
            &error_redirect(&o, &v.redirect_uri, v.state.as_deref(), "consent_required", "Consent is required."),
        );
    }
    go(&headers, &format!("/oauth/consent?{}", signed_query(&o, &p)))
}

/// A state-changing request that carries the session cookie must come from one of our pages.
fn check_origin(o: &OAuthServer, headers: &HeaderMap) -> Result<(), AppError> {
    if crate::auth::cookie_value(headers, &o.auth.session_cookie_name()).is_none() {
        return Ok(());
    }
    let origin = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok())
        .and_then(crate::auth::origin_of);
    match origin {
        None => Err(AppError::forbidden("MISSING_OR_NULL_ORIGIN", "Missing or null Origin")),
        Some(o2) if o.auth.is_trusted_origin(&o2) => Ok(()),
        Some(_) => Err(AppError::forbidden("INVALID_ORIGIN", "Invalid origin")),
    }
}

async fn consent(State(o): State<Arc<OAuthServer>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(e) = check_origin(&o, &headers) {
        return e.into_response();
    }
    let user = match signed_in(&o, &headers).await {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    let Ok(input) = serde_json::from_slice::<Value>(&body) else {
        return OAuthError::new("invalid_request", "The body must be JSON.").into_response();
    };
    let Some(p) = input["oauth_query"].as_str().and_then(|q| verify_signed_query(&o, q)) else {
        return OAuthError::new("invalid_request", "The consent request is missing, altered or expired: start again.")
            .into_response();
    };
    let v = match validate(&o, &p).await {
        Ok(v) => v,
        Err(Stop::Show(status, e, d)) => {
            return (status, axum::Json(json!({ "error": e, "error_description": d }))).into_response();
        }
        Err(Stop::Redirect(url)) => return axum::Json(json!({ "redirect": true, "url": url })).into_response(),
    };
    if input["accept"] != Value::Bool(true) {
        let url = error_redirect(&o, &v.redirect_uri, v.state.as_deref(), "access_denied", "The person denied access.");
        return axum::Json(json!({ "redirect": true, "url": url })).into_response();
    }
    // The person may grant less than was asked, never more.
    let scopes = match input["scope"].as_str() {
        Some(s) => {
            let chosen = split_scopes(s);
            if chosen.is_empty() || !chosen.iter().all(|c| v.scopes.contains(c)) {
                return OAuthError::new("invalid_scope", "A scope was not originally requested.").into_response();
            }
            chosen
        }
        None => v.scopes.clone(),
    };
    if let Err(e) = store::save_consent(&o.auth.db, &user.user.id, &v.client.client_id, &scopes).await {
        return AppError::from(e).into_response();
    }
    match issue_code(&o, &v, &user, &scopes).await {
        Ok(url) => axum::Json(json!({ "redirect": true, "url": url })).into_response(),
        Err(e) => AppError::from(e).into_response(),
    }
}

// ---- token ----------------------------------------------------------------------------------------------

async fn token(State(o): State<Arc<OAuthServer>>, headers: HeaderMap, body: Bytes) -> Response {
    let p = Params::from_body(&headers, &body);
    let result = async {
        let client = authenticate_client(&o, &headers, &p).await?;
        match p.get("grant_type") {
            Some("authorization_code") => code_grant(&o, &client, &p).await,
            Some("refresh_token") => refresh_grant(&o, &client, &p).await,
            Some(_) => Err(OAuthError::new("unsupported_grant_type", "Use authorization_code or refresh_token.")),
            None => Err(OAuthError::new("invalid_request", "grant_type is required.")),
        }
    }
    .await;
    match result {
        Ok(body) => {
            let mut res = axum::Json(body).into_response();
            res.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            res
        }
        Err(e) => e.into_response(),
    }
}

/// RFC 7636 §4.1: 43 to 128 unreserved characters.
fn verifier_shape_ok(v: &str) -> bool {
    (43..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// The one resource a token request names, if any; it must be ours.
fn requested_resource(o: &OAuthServer, p: &Params) -> OResult<Option<String>> {
    match p.all("resource").as_slice() {
        [] => Ok(None),
        [one] => o
            .known_resource(one)
            .map(Some)
            .ok_or_else(|| OAuthError::new("invalid_target", "The resource is not served here.")),
        _ => Err(OAuthError::new("invalid_target", "A token is bound to one resource: give one.")),
    }
}

async fn code_grant(o: &OAuthServer, client: &store::Client, p: &Params) -> OResult<Value> {
    let code = p.get("code").ok_or_else(|| OAuthError::new("invalid_request", "code is required."))?;
    let verifier = p
        .get("code_verifier")
        .ok_or_else(|| OAuthError::new("invalid_request", "code_verifier is required (PKCE)."))?;
    let family_id = crypto::generate_id();
    let (value, expires_at) = match store::take_code(&o.auth.db, &hash(code), &family_id).await? {
        CodeLookup::Fresh { value, expires_at } => (value, expires_at),
        CodeLookup::Reused { family_id } => {
            // RFC 6749 §4.1.2: a code used twice may be stolen; what the first use got is revoked.
            store::revoke_family(&o.auth.db, &family_id).await?;
            return Err(OAuthError::grant("The authorization code was already used; its tokens are revoked."));
        }
        CodeLookup::Unknown => return Err(OAuthError::grant("The authorization code is unknown.")),
    };
    let stored: Value = serde_json::from_str(&value).unwrap_or(Value::Null);
    let text = |k: &str| stored[k].as_str().unwrap_or_default().to_string();
    if expires_at <= Timestamp::now() {
        return Err(OAuthError::grant("The authorization code has expired."));
    }
    if text("client_id") != client.client_id {
        return Err(OAuthError::grant("The authorization code was issued to another client."));
    }
    if p.get("redirect_uri").is_some_and(|r| r != text("redirect_uri")) {
        return Err(OAuthError::grant("redirect_uri differs from the authorization request's."));
    }
    let expected = text("code_challenge");
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if !verifier_shape_ok(verifier) || !bool::from(computed.as_bytes().ct_eq(expected.as_bytes())) {
        return Err(OAuthError::grant("The code_verifier does not match the code_challenge."));
    }
    let resource = text("resource");
    if requested_resource(o, p)?.is_some_and(|r| r != resource) {
        return Err(OAuthError::new("invalid_target", "The code was granted for another resource."));
    }
    let scopes: Vec<String> = serde_json::from_value(stored["scopes"].clone()).unwrap_or_default();
    let refresh =
        scopes.iter().any(|s| s == super::OFFLINE_ACCESS) || client.grant_types().iter().any(|g| g == "refresh_token");
    issue_tokens(
        o,
        client,
        text("user_id"),
        stored["session_id"].as_str().map(str::to_string),
        scopes,
        resource,
        family_id,
        refresh,
    )
    .await
}

async fn refresh_grant(o: &OAuthServer, client: &store::Client, p: &Params) -> OResult<Value> {
    let token =
        p.get("refresh_token").ok_or_else(|| OAuthError::new("invalid_request", "refresh_token is required."))?;
    let row = store::find_refresh(&o.auth.db, &hash(token))
        .await?
        .ok_or_else(|| OAuthError::grant("The refresh token is unknown."))?;
    if row.client_id != client.client_id {
        return Err(OAuthError::grant("The refresh token was issued to another client."));
    }
    if row.revoked.is_some() {
        return Err(OAuthError::grant("The refresh token was revoked."));
    }
    // A rotated token presented again: someone holds a copy. The whole family goes (OAuth 2.1 §4.3.1).
    if row.used.is_some() || !store::spend_refresh(&o.auth.db, &row.id).await? {
        store::revoke_family(&o.auth.db, &row.family_id).await?;
        return Err(OAuthError::grant("The refresh token was already used; every token of this grant is revoked."));
    }
    if row.expires_at <= Timestamp::now() {
        return Err(OAuthError::grant("The refresh token has expired."));
    }
    let granted: Vec<String> = serde_json::from_str(&row.scopes).unwrap_or_default();
    let scopes = match p.get("scope") {
        Some(s) => {
            let asked = split_scopes(s);
            if !asked.iter().all(|a| granted.contains(a)) {
                return Err(OAuthError::new("invalid_scope", "A refresh cannot widen the scopes granted."));
            }
            asked
        }
        None => granted,
    };
    let resource = row.resource.clone().unwrap_or_else(|| o.mcp_resource.clone());
    if requested_resource(o, p)?.is_some_and(|r| r != resource) {
        return Err(OAuthError::new("invalid_target", "The grant was made for another resource."));
    }
    issue_tokens(o, client, row.user_id, row.session_id, scopes, resource, row.family_id, true).await
}

#[allow(clippy::too_many_arguments)] // one call per grant type; a struct would only rename them
async fn issue_tokens(
    o: &OAuthServer,
    client: &store::Client,
    user_id: String,
    session_id: Option<String>,
    scopes: Vec<String>,
    resource: String,
    family_id: String,
    with_refresh: bool,
) -> OResult<Value> {
    let now = Timestamp::now();
    let access = super::new_access_token();
    let refresh = with_refresh.then(super::new_refresh_token);
    let scope = scopes.join(" ");
    store::insert_tokens(
        &o.auth.db,
        IssuedTokens {
            client_id: client.client_id.clone(),
            user_id,
            session_id,
            scopes,
            resource,
            family_id,
            access_hash: hash(&access),
            access_expires_at: now.plus(o.access_ttl),
            refresh: refresh.as_ref().map(|r| (hash(r), now.plus(o.refresh_ttl))),
        },
    )
    .await?;
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": o.access_ttl.whole_seconds(),
        "scope": scope,
    });
    if let Some(r) = refresh {
        body["refresh_token"] = Value::String(r);
    }
    Ok(body)
}

// ---- registration ---------------------------------------------------------------------------------------

fn strings(v: &Value, key: &str) -> Result<Option<Vec<String>>, OAuthError> {
    match &v[key] {
        Value::Null => Ok(None),
        Value::Array(items) => {
            items.iter().map(|i| i.as_str().map(str::to_string)).collect::<Option<Vec<_>>>().map(Some).ok_or_else(
                || OAuthError::new("invalid_client_metadata", format!("{key} must be an array of strings.")),
            )
        }
        _ => Err(OAuthError::new("invalid_client_metadata", format!("{key} must be an array of strings."))),
    }
}

fn text_field(v: &Value, key: &str) -> Option<String> {
    v[key].as_str().map(|s| s.chars().take(500).collect()).filter(|s: &String| !s.is_empty())
}

/// RFC 7591 dynamic registration: open (MCP clients register themselves), rate limited per address.
async fn register(State(o): State<Arc<OAuthServer>>, headers: HeaderMap, peer: Peer, body: Bytes) -> Response {
    let ip = client_ip(&o.auth, &headers, peer).unwrap_or_else(|| "unknown".into());
    if let Err(retry_after_secs) = o.auth.limiter.check(&ip, "/oauth2/register").await {
        return AppError::RateLimited { retry_after_secs }.into_response();
    }
    match register_client(&o, &body).await {
        Ok(v) => (StatusCode::CREATED, axum::Json(v)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn register_client(o: &OAuthServer, body: &[u8]) -> OResult<Value> {
    let v: Value = serde_json::from_slice(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| OAuthError::new("invalid_client_metadata", "The body must be a JSON object."))?;
    let redirect_uris = strings(&v, "redirect_uris")?.unwrap_or_default();
    if redirect_uris.is_empty() || redirect_uris.len() > 20 {
        return Err(OAuthError::new("invalid_redirect_uri", "Give one to twenty redirect_uris."));
    }
    for uri in &redirect_uris {
        check_redirect_uri(uri).map_err(|why| OAuthError::new("invalid_redirect_uri", why))?;
    }
    let method = v["token_endpoint_auth_method"].as_str().unwrap_or("client_secret_basic").to_string();
    if !["none", "client_secret_basic", "client_secret_post"].contains(&method.as_str()) {
        return Err(OAuthError::new("invalid_client_metadata", "token_endpoint_auth_method is not supported."));
    }
    let grant_types = strings(&v, "grant_types")?.unwrap_or_else(|| vec!["authorization_code".into()]);
    if grant_types.is_empty() || !grant_types.iter().all(|g| g == "authorization_code" || g == "refresh_token") {
        return Err(OAuthError::new(
            "invalid_client_metadata",
            "grant_types may be authorization_code and refresh_token.",
        ));
    }
    let response_types = strings(&v, "response_types")?.unwrap_or_else(|| vec!["code".into()]);
    if !response_types.iter().all(|r| r == "code") {
        return Err(OAuthError::new("invalid_client_metadata", "response_types may only be code."));
    }
    let scopes = match v["scope"].as_str() {
        Some(s) => {
            let list = split_scopes(s);
            if !list.iter().all(|x| SCOPES.contains(&x.as_str())) {
                return Err(OAuthError::new("invalid_client_metadata", "scope names a scope not offered here."));
            }
            Some(list)
        }
        None => None,
    };
    let client_id = crypto::generate_id();
    let secret = (method != "none").then(super::new_client_secret);
    let (name, uri, icon) = (text_field(&v, "client_name"), text_field(&v, "client_uri"), text_field(&v, "logo_uri"));
    store::upsert_client(
        &o.auth.db,
        NewClient {
            client_id: client_id.clone(),
            secret_hash: secret.as_deref().map(hash),
            name: name.clone(),
            uri: uri.clone(),
            icon: icon.clone(),
            redirect_uris: redirect_uris.clone(),
            auth_method: method.clone(),
            grant_types: grant_types.clone(),
            response_types: response_types.clone(),
            scopes: scopes.clone(),
            kind: None,
        },
    )
    .await?;
    let mut out = json!({
        "client_id": client_id,
        "client_id_issued_at": Timestamp::now().unix(),
        "redirect_uris": redirect_uris,
        "token_endpoint_auth_method": method,
        "grant_types": grant_types,
        "response_types": response_types,
    });
    if let Some(s) = secret {
        out["client_secret"] = Value::String(s);
        out["client_secret_expires_at"] = json!(0);
    }
    for (k, val) in [("client_name", name), ("client_uri", uri), ("logo_uri", icon)] {
        if let Some(val) = val {
            out[k] = Value::String(val);
        }
    }
    if let Some(s) = scopes {
        out["scope"] = Value::String(s.join(" "));
    }
    Ok(out)
}

// ---- revocation, introspection, userinfo ----------------------------------------------------------------

/// RFC 7009: 200 whether or not the token was known, so a caller learns nothing; only the client a token was
/// issued to can revoke it. A refresh token takes its whole grant family with it.
async fn revoke(State(o): State<Arc<OAuthServer>>, headers: HeaderMap, body: Bytes) -> Response {
    let p = Params::from_body(&headers, &body);
    let result = async {
        let client = authenticate_client(&o, &headers, &p).await?;
        let token = p.get("token").ok_or_else(|| OAuthError::new("invalid_request", "token is required."))?;
        if super::is_access_token(token) {
            store::delete_access(&o.auth.db, &hash(token), &client.client_id).await?;
        } else if let Some(row) = store::find_refresh(&o.auth.db, &hash(token)).await?
            && row.client_id == client.client_id
        {
            store::revoke_family(&o.auth.db, &row.family_id).await?;
        }
        Ok::<_, OAuthError>(())
    }
    .await;
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    }
}

/// RFC 7662, for a confidential client (a resource server or an operator's tool) about its own tokens.
async fn introspect(State(o): State<Arc<OAuthServer>>, headers: HeaderMap, body: Bytes) -> Response {
    let p = Params::from_body(&headers, &body);
    let result = async {
        let client = authenticate_client(&o, &headers, &p).await?;
        if client.is_public() {
            return Err(OAuthError::invalid_client("Introspection needs a confidential client."));
        }
        let token = p.get("token").ok_or_else(|| OAuthError::new("invalid_request", "token is required."))?;
        let now = Timestamp::now();
        let inactive = json!({ "active": false });
        if super::is_access_token(token) {
            let Some(row) = store::find_access(&o.auth.db, &hash(token)).await? else { return Ok(inactive) };
            if row.client_id != client.client_id || row.expires_at <= now {
                return Ok(inactive);
            }
            let scopes: Vec<String> = serde_json::from_str(&row.scopes).unwrap_or_default();
            return Ok(json!({
                "active": true, "token_type": "Bearer", "scope": scopes.join(" "), "client_id": row.client_id,
                "sub": row.user_id, "exp": row.expires_at.unix(), "iat": row.created_at.unix(),
                "aud": row.resource, "iss": o.issuer,
            }));
        }
        let Some(row) = store::find_refresh(&o.auth.db, &hash(token)).await? else { return Ok(inactive) };
        if row.client_id != client.client_id || row.used.is_some() || row.revoked.is_some() || row.expires_at <= now {
            return Ok(inactive);
        }
        let scopes: Vec<String> = serde_json::from_str(&row.scopes).unwrap_or_default();
        Ok(json!({
            "active": true, "token_type": "refresh_token", "scope": scopes.join(" "), "client_id": row.client_id,
            "sub": row.user_id, "exp": row.expires_at.unix(), "iat": row.created_at.unix(),
            "aud": row.resource, "iss": o.issuer,
        }))
    }
    .await;
    match result {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Who the token's person is (OpenID's userinfo claims), for any of our resources.
async fn userinfo(State(o): State<Arc<OAuthServer>>, headers: HeaderMap) -> Response {
    let refused = || {
        let mut res = (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({ "error": "invalid_token", "error_description": "A valid access token is required." })),
        )
            .into_response();
        res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
        res
    };
    let Some(token) = bearer_token(&headers).filter(|t| super::is_access_token(t)) else { return refused() };
    let row = match store::find_access(&o.auth.db, &hash(token)).await {
        Ok(Some(row)) if row.expires_at > Timestamp::now() => row,
        Ok(_) => return refused(),
        Err(e) => return AppError::from(e).into_response(),
    };
    match crate::auth::store::find_user_by_id(&o.auth.db, &row.user_id).await {
        Ok(Some(u)) => axum::Json(json!({
            "sub": u.id, "name": u.name, "email": u.email, "email_verified": u.email_verified, "picture": u.image,
        }))
        .into_response(),
        Ok(None) => refused(),
        Err(e) => AppError::from(e).into_response(),
    }
}

// ---- the consent page's and the connected-apps page's calls ---------------------------------------------

/// What the consent page shows about a client: its name, site and logo (never its secret or redirect list).
async fn public_client(State(o): State<Arc<OAuthServer>>, RawQuery(q): RawQuery) -> Response {
    let p = Params::parse(&q.unwrap_or_default());
    let Some(client_id) = p.get("client_id") else {
        return OAuthError::new("invalid_request", "client_id is required.").into_response();
    };
    match load_client(&o, client_id).await {
        Ok(c) => axum::Json(json!({
            "client_id": c.client_id, "client_name": c.name, "client_uri": c.uri, "logo_uri": c.icon,
        }))
        .into_response(),
        Err(e) => e.into_response(),
    }
}

/// The signed-in person (session cookie, session token or JWT; not an OAuth token: apps do not manage apps).
async fn signed_in(o: &OAuthServer, headers: &HeaderMap) -> Result<CurrentUser, AppError> {
    CurrentUser::from_headers(&o.auth, headers).await?.ok_or_else(AppError::unauthorized)
}

/// The apps the signed-in person has connected (Better Auth's `get-consents`).
async fn get_consents(State(o): State<Arc<OAuthServer>>, headers: HeaderMap) -> Response {
    let user = match signed_in(&o, &headers).await {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    match store::list_consents(&o.auth.db, &user.user.id).await {
        Ok(list) => {
            let items: Vec<Value> = list
                .into_iter()
                .map(|c| {
                    let scopes: Vec<String> = serde_json::from_str(&c.scopes).unwrap_or_default();
                    let mut v = serde_json::to_value(&c).unwrap_or(Value::Null);
                    v["scopes"] = json!(scopes);
                    v
                })
                .collect();
            axum::Json(Value::Array(items)).into_response()
        }
        Err(e) => AppError::from(e).into_response(),
    }
}

/// Disconnects an app: its grant and every token issued under it end now.
async fn delete_consent(State(o): State<Arc<OAuthServer>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(e) = check_origin(&o, &headers) {
        return e.into_response();
    }
    let user = match signed_in(&o, &headers).await {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    let id = serde_json::from_slice::<Value>(&body).ok().and_then(|v| v["id"].as_str().map(str::to_string));
    let Some(id) = id else {
        return AppError::validation("[body.id] Required").into_response();
    };
    match store::delete_consent(&o.auth.db, &user.user.id, &id).await {
        Ok(true) => axum::Json(json!({ "status": true })).into_response(),
        Ok(false) => AppError::not_found("No such connected app.").into_response(),
        Err(e) => AppError::from(e).into_response(),
    }
}

async fn metadata(State(o): State<Arc<OAuthServer>>) -> Response {
    axum::Json(o.metadata()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_that_may_be_registered() {
        assert!(check_redirect_uri("https://app.example.com/cb").is_ok());
        assert!(check_redirect_uri("http://127.0.0.1:33418/callback").is_ok());
        assert!(check_redirect_uri("http://localhost:8080/cb").is_ok());
        assert!(check_redirect_uri("cursor://anysphere.cursor-mcp/oauth/callback").is_ok());
        assert!(check_redirect_uri("http://app.example.com/cb").is_err());
        assert!(check_redirect_uri("javascript:alert(1)").is_err());
        assert!(check_redirect_uri("https://app.example.com/cb#x").is_err());
        assert!(check_redirect_uri("/relative").is_err());
    }

    #[test]
    fn redirects_keep_the_clients_own_query() {
        let url = redirect_with("https://app.example.com/cb?x=1", &[("code", "abc"), ("state", "s t")]);
        assert_eq!(url, "https://app.example.com/cb?x=1&code=abc&state=s+t");
    }

    #[test]
    fn verifiers_have_the_rfc_shape() {
        assert!(verifier_shape_ok(&"a".repeat(43)));
        assert!(!verifier_shape_ok(&"a".repeat(42)));
        assert!(!verifier_shape_ok(&format!("{}!", "a".repeat(43))));
    }
}
