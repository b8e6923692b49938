//! The Better Auth routes under `/api/auth`, with its JSON bodies, status codes, error codes and cookies.
//! Unknown routes and wrong methods answer 404 with an empty body, as Better Auth does.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::extract::Peer;
use super::store::{self, CreateUser, SessionWithUser, User};
use super::{Auth, SESSION_FRESH_AGE, SESSION_TTL, SESSION_UPDATE_AGE, append_cookies, client_ip, crypto};
use crate::db::Timestamp;
use crate::error::{AppError, AppResult};

const MIN_PASSWORD: usize = 8;
pub(super) const MAX_PASSWORD: usize = 128;
const MAX_NAME: usize = 200;
/// A profile picture is a URL: long enough for any real one, short enough that the JWT (which carries it)
/// stays well under a browser's header limit.
const MAX_IMAGE: usize = 2048;
const MAX_EMAIL: usize = 254;

pub fn router() -> Router<Arc<Auth>> {
    Router::new()
        .merge(super::recovery::router())
        .route("/sign-up/email", post(sign_up_email))
        .route("/sign-in/email", post(sign_in_email))
        .route("/sign-out", post(sign_out))
        .route("/get-session", get(get_session))
        .route("/token", get(token))
        .route("/jwks", get(jwks))
        .route("/list-sessions", get(list_sessions))
        .route("/revoke-session", post(revoke_session))
        .route("/revoke-sessions", post(revoke_sessions))
        .route("/revoke-other-sessions", post(revoke_other_sessions))
        .route("/update-user", post(update_user))
        .route("/change-password", post(change_password))
        .route("/delete-user", post(delete_user))
        .route("/ok", get(ok))
        .fallback(|| async { AppError::EmptyNotFound })
        .method_not_allowed_fallback(|| async { AppError::EmptyNotFound })
        .layer(middleware::from_fn_with_state((), strip_head))
}

/// Better Auth answers HEAD with 404, unlike axum which would run the GET handler.
async fn strip_head(req: Request, next: Next) -> Response {
    if req.method() == Method::HEAD {
        return AppError::EmptyNotFound.into_response();
    }
    next.run(req).await
}

// ---- request checks ------------------------------------------------------------------------------------

/// Better Auth's origin check: a cookie-bearing state-changing request must come from a trusted page.
pub(super) fn check_origin(auth: &Auth, headers: &HeaderMap) -> AppResult<()> {
    if headers.get(header::COOKIE).is_none() {
        return Ok(());
    }
    match request_origin(headers) {
        None => Err(AppError::forbidden("MISSING_OR_NULL_ORIGIN", "Missing or null Origin")),
        Some(o) if auth.is_trusted_origin(&o) => Ok(()),
        Some(_) => Err(AppError::forbidden("INVALID_ORIGIN", "Invalid origin")),
    }
}

/// Sign-in and sign-up without cookies: refuse cross-site form posts and untrusted pages (login CSRF).
fn check_login_csrf(auth: &Auth, headers: &HeaderMap) -> AppResult<()> {
    if headers.get(header::COOKIE).is_some() {
        return check_origin(auth, headers);
    }
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let mode = headers.get("sec-fetch-mode").and_then(|v| v.to_str().ok());
    if site == Some("cross-site") && mode == Some("navigate") {
        return Err(AppError::forbidden(
            "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED",
            "Cross-site navigation login blocked. This request appears to be a CSRF attack.",
        ));
    }
    match request_origin(headers) {
        Some(o) if !auth.is_trusted_origin(&o) => Err(AppError::forbidden("INVALID_ORIGIN", "Invalid origin")),
        _ => Ok(()),
    }
}

/// The Origin header, or the origin of the Referer; `null` counts as none.
fn request_origin(headers: &HeaderMap) -> Option<String> {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).filter(|o| *o != "null");
    match origin {
        Some(o) => Some(o.to_string()),
        None => headers.get(header::REFERER).and_then(|v| v.to_str().ok()).and_then(super::origin_of),
    }
}

pub(super) async fn rate_limit(auth: &Auth, headers: &HeaderMap, peer: Peer, path: &str) -> AppResult<()> {
    let ip = client_ip(auth, headers, peer).unwrap_or_else(|| "unknown".into());
    auth.limiter.check(&ip, path).await.map_err(|retry_after_secs| AppError::RateLimited { retry_after_secs })
}

/// Parses the body as a JSON object (or a form, where Better Auth allows one). An empty body is `{}`.
pub(super) fn parse_body(headers: &HeaderMap, body: &Bytes, allow_form: bool) -> AppResult<Map<String, Value>> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if body.is_empty() && (mime.is_empty() || mime == "application/json") {
        return Ok(Map::new());
    }
    match mime.as_str() {
        "application/json" => match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(AppError::validation("Invalid input: expected object")),
            Err(_) => Err(AppError::bad_request("BAD_REQUEST", "Invalid JSON in request body")),
        },
        "application/x-www-form-urlencoded" if allow_form => Ok(form_urlencoded(body)),
        _ => {
            let allowed =
                if allow_form { "application/x-www-form-urlencoded, application/json" } else { "application/json" };
            let shown = if mime.is_empty() { "(none)".to_string() } else { mime };
            Err(AppError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                format!("Content-Type \"{shown}\" is not allowed. Allowed types: {allowed}"),
            ))
        }
    }
}

fn form_urlencoded(body: &[u8]) -> Map<String, Value> {
    let text = String::from_utf8_lossy(body);
    let decode = |s: &str| crypto::decode_uri_component(&s.replace('+', " ")).unwrap_or_default();
    text.split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| {
            let v = decode(v);
            let value = match v.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => Value::String(v),
            };
            (decode(k), value)
        })
        .collect()
}

pub(super) fn type_name(v: Option<&Value>) -> &'static str {
    match v {
        None => "undefined",
        Some(Value::Null) => "null",
        Some(Value::Bool(_)) => "boolean",
        Some(Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Array(_)) => "array",
        Some(Value::Object(_)) => "object",
    }
}

pub(super) fn required_str<'a>(body: &'a Map<String, Value>, key: &str) -> AppResult<&'a str> {
    match body.get(key) {
        Some(Value::String(s)) => Ok(s),
        other => Err(AppError::validation(format!(
            "[body.{key}] Invalid input: expected string, received {}",
            type_name(other)
        ))),
    }
}

pub(super) fn optional_str<'a>(body: &'a Map<String, Value>, key: &str) -> AppResult<Option<&'a str>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        other => Err(AppError::validation(format!(
            "[body.{key}] Invalid input: expected string, received {}",
            type_name(other)
        ))),
    }
}

fn optional_bool(body: &Map<String, Value>, key: &str) -> AppResult<Option<bool>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        other => Err(AppError::validation(format!(
            "[body.{key}] Invalid input: expected boolean, received {}",
            type_name(other)
        ))),
    }
}

/// Email shape check: something@something.tld, no spaces, sane length.
pub fn is_valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && email.len() <= MAX_EMAIL
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && !local.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

/// The profile fields a person sets: bounded, and free of NUL (which PostgreSQL cannot store).
fn check_profile(name: Option<&str>, image: Option<&str>) -> AppResult<()> {
    for (field, value, max) in [("name", name, MAX_NAME), ("image", image, MAX_IMAGE)] {
        let Some(value) = value else { continue };
        if value.contains('\0') {
            return Err(AppError::validation(format!("[body.{field}] Invalid character")));
        }
        if value.chars().count() > max {
            return Err(AppError::validation(format!("[body.{field}] Too long: expected at most {max} characters")));
        }
    }
    Ok(())
}

fn password_too_long() -> AppError {
    AppError::bad_request("PASSWORD_TOO_LONG", format!("Password too long: use at most {MAX_PASSWORD} characters"))
}

/// Better Auth counts password length in UTF-16 code units (JavaScript's `string.length`).
pub(super) fn check_new_password(password: &str) -> AppResult<()> {
    let len = password.encode_utf16().count();
    if len < MIN_PASSWORD {
        return Err(AppError::bad_request(
            "PASSWORD_TOO_SHORT",
            format!("Password too short: use at least {MIN_PASSWORD} characters"),
        ));
    }
    if len > MAX_PASSWORD {
        return Err(password_too_long());
    }
    Ok(())
}

/// A callbackURL must be relative or on a trusted origin (no open redirects).
pub(super) fn check_callback_url(auth: &Auth, url: Option<&str>) -> AppResult<()> {
    match url {
        None => Ok(()),
        Some(u) if u.starts_with('/') && !u.starts_with("//") && !u.contains('\\') => Ok(()),
        Some(u) if super::origin_of(u).is_some_and(|o| auth.is_trusted_origin(&o)) => Ok(()),
        Some(_) => Err(AppError::forbidden("INVALID_CALLBACK_URL", "Invalid callbackURL")),
    }
}

/// The caller's live session, or 401 (JWTs are not sessions, as in Better Auth).
pub(super) async fn require_session(auth: &Auth, headers: &HeaderMap) -> AppResult<SessionWithUser> {
    let token = auth.session_token_from(headers).ok_or_else(AppError::unauthorized)?;
    auth.load_session(&token).await?.ok_or_else(AppError::unauthorized)
}

pub(super) fn is_fresh(s: &SessionWithUser) -> bool {
    s.session.created_at.plus(SESSION_FRESH_AGE) > Timestamp::now()
}

pub(super) fn json_with_cookies(body: Value, cookies: Vec<String>) -> Response {
    let mut res = axum::Json(body).into_response();
    append_cookies(res.headers_mut(), cookies);
    res
}

// ---- handlers ------------------------------------------------------------------------------------------

async fn sign_up_email(
    State(auth): State<Arc<Auth>>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    rate_limit(&auth, &headers, peer, "/sign-up/email").await?;
    let body = parse_body(&headers, &body, true)?;
    let name = required_str(&body, "name")?;
    let email = required_str(&body, "email")?;
    let password = required_str(&body, "password")?;
    let image = optional_str(&body, "image")?;
    let timezone = optional_str(&body, "timezone")?.map(time_zone).transpose()?;
    let callback = optional_str(&body, "callbackURL")?;
    let remember = optional_bool(&body, "rememberMe")?.unwrap_or(true);
    check_login_csrf(&auth, &headers)?;
    check_callback_url(&auth, callback)?;
    let email = email.trim().to_lowercase();
    if !is_valid_email(&email) {
        return Err(AppError::bad_request("INVALID_EMAIL", "Invalid email"));
    }
    check_profile(Some(name), image)?;
    check_new_password(password)?;
    let taken = || {
        AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL",
            "User already exists. Use another email.",
        )
    };
    if store::find_user_by_email(&auth.db, &email).await?.is_some() {
        return Err(taken());
    }
    let hash = auth.passwords.hash(password).await?;
    let now = Timestamp::now();
    let user = User {
        name: name.to_string(),
        email,
        email_verified: false,
        image: image.map(str::to_string),
        created_at: now,
        updated_at: now,
        id: crypto::generate_id(),
        timezone: timezone.unwrap_or_else(|| "UTC".into()),
    };
    if let CreateUser::EmailTaken =
        store::create_user_with_password(&auth.db, &user, &crypto::generate_id(), &hash).await?
    {
        return Err(taken());
    }
    if auth.require_email_verification {
        // No session until the address is proven: mail the link, answer as Better Auth does (no token).
        super::recovery::send_sign_up_verification(&auth, &user, callback).await?;
        tracing::info!(user_id = %user.id, "signed up; waiting for the address to be verified");
        return Ok(axum::Json(json!({ "token": null, "user": user })).into_response());
    }
    let ip = client_ip(&auth, &headers, peer);
    let session = auth.create_session(&user.id, remember, &headers, ip).await?;
    tracing::info!(user_id = %user.id, "signed up");
    Ok(json_with_cookies(
        json!({ "token": session.token, "user": user }),
        auth.session_cookies(&session.token, remember),
    ))
}

async fn sign_in_email(
    State(auth): State<Arc<Auth>>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    rate_limit(&auth, &headers, peer, "/sign-in/email").await?;
    let body = parse_body(&headers, &body, true)?;
    let email = required_str(&body, "email")?;
    let password = required_str(&body, "password")?;
    let callback = optional_str(&body, "callbackURL")?;
    let remember = optional_bool(&body, "rememberMe")?.unwrap_or(true);
    check_login_csrf(&auth, &headers)?;
    check_callback_url(&auth, callback)?;
    let email = email.trim().to_lowercase();
    if !is_valid_email(&email) {
        return Err(AppError::validation("[body.email] Invalid email address"));
    }
    if password.encode_utf16().count() > MAX_PASSWORD {
        return Err(password_too_long());
    }
    auth.lockout.begin(&email).await.map_err(|retry_after_secs| AppError::RateLimited { retry_after_secs })?;
    let invalid = || AppError::new(StatusCode::UNAUTHORIZED, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password");
    let Some(user) = store::find_user_by_email(&auth.db, &email).await? else {
        auth.passwords.burn(password).await?;
        return Err(invalid());
    };
    let Some(hash) = store::find_password_hash(&auth.db, &user.id).await? else {
        auth.passwords.burn(password).await?;
        return Err(invalid());
    };
    if !auth.passwords.verify(password, &hash).await? {
        return Err(invalid());
    }
    auth.lockout.succeeded(&email).await;
    if store::is_disabled(&auth.db, &user.id).await? {
        return Err(AppError::forbidden(
            "BANNED_USER",
            "This account has been disabled. Please contact support if you believe this is an error.",
        ));
    }
    if auth.require_email_verification && !user.email_verified {
        return Err(AppError::forbidden("EMAIL_NOT_VERIFIED", "Email not verified"));
    }
    let ip = client_ip(&auth, &headers, peer);
    let session = auth.create_session(&user.id, remember, &headers, ip).await?;
    let cookies = auth.session_cookies(&session.token, remember);
    let mut res = match callback {
        Some(url) => {
            let mut res = json_with_cookies(
                json!({ "redirect": true, "token": session.token, "url": url, "user": user }),
                cookies,
            );
            if let Ok(v) = HeaderValue::from_str(url) {
                res.headers_mut().insert(header::LOCATION, v);
            }
            res
        }
        None => json_with_cookies(json!({ "redirect": false, "token": session.token, "user": user }), cookies),
    };
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

async fn get_session(
    State(auth): State<Arc<Auth>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> AppResult<Response> {
    let no_store = |mut res: Response| {
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        res
    };
    let had_cookie = super::cookie_value(&headers, &auth.session_cookie_name()).is_some();
    let found = match auth.session_token_from(&headers) {
        Some(token) => auth.load_session(&token).await?,
        None => None,
    };
    let Some(mut found) = found else {
        let cookies = if had_cookie { auth.clearing_cookies() } else { vec![] };
        return Ok(no_store(json_with_cookies(Value::Null, cookies)));
    };
    let now = Timestamp::now();
    // Read leniently: get-session answers 200 whatever the query string holds.
    let refresh_disabled = query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .find_map(|(key, value)| (key == "disableRefresh").then_some(value))
        .is_some_and(|v| v != "false");
    let mut cookies = vec![];
    // Rolling sessions: once a day of use has passed since the last extension, extend to a full week again.
    if !refresh_disabled
        && !auth.dont_remember(&headers)
        && found.session.expires_at.minus(SESSION_TTL).plus(SESSION_UPDATE_AGE) <= now
    {
        let expires = now.plus(SESSION_TTL);
        store::extend_session(&auth.db, &found.session.id, expires, now).await?;
        found.session.expires_at = expires;
        found.session.updated_at = now;
        if had_cookie {
            cookies = auth.session_cookies(&found.session.token, true);
        }
    }
    let jwt = auth.jwt.sign(&found.user).await?;
    let mut res = no_store(json_with_cookies(json!({ "session": found.session, "user": found.user }), cookies));
    if let Ok(v) = HeaderValue::from_str(&jwt) {
        res.headers_mut().insert("set-auth-jwt", v);
        res.headers_mut().insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("set-auth-jwt"));
    }
    Ok(res)
}

async fn sign_out(State(auth): State<Arc<Auth>>, headers: HeaderMap, body: Bytes) -> AppResult<Response> {
    parse_body(&headers, &body, false)?;
    check_origin(&auth, &headers)?;
    if let Some(token) = auth.session_token_from(&headers) {
        store::delete_session_by_token(&auth.db, &token).await?;
    }
    Ok(json_with_cookies(json!({ "success": true }), auth.clearing_cookies()))
}

async fn token(State(auth): State<Arc<Auth>>, headers: HeaderMap) -> AppResult<Response> {
    let s = require_session(&auth, &headers).await?;
    let jwt = auth.jwt.sign(&s.user).await?;
    Ok(axum::Json(json!({ "token": jwt })).into_response())
}

async fn jwks(State(auth): State<Arc<Auth>>) -> AppResult<Response> {
    Ok(axum::Json(auth.jwt.jwks().await?).into_response())
}

async fn list_sessions(State(auth): State<Arc<Auth>>, headers: HeaderMap) -> AppResult<Response> {
    let s = require_session(&auth, &headers).await?;
    if !is_fresh(&s) {
        return Err(AppError::forbidden("SESSION_NOT_FRESH", "Session is not fresh"));
    }
    let sessions = store::list_active_sessions(&auth.db, &s.user.id, Timestamp::now()).await?;
    Ok(axum::Json(sessions).into_response())
}

async fn revoke_session(State(auth): State<Arc<Auth>>, headers: HeaderMap, body: Bytes) -> AppResult<Response> {
    let body = parse_body(&headers, &body, false)?;
    let token = required_str(&body, "token")?;
    check_origin(&auth, &headers)?;
    let s = require_session(&auth, &headers).await?;
    store::delete_user_session_by_token(&auth.db, &s.user.id, token).await?;
    let cookies = if token == s.session.token { auth.clearing_cookies() } else { vec![] };
    Ok(json_with_cookies(json!({ "status": true }), cookies))
}

async fn revoke_sessions(State(auth): State<Arc<Auth>>, headers: HeaderMap, body: Bytes) -> AppResult<Response> {
    parse_body(&headers, &body, false)?;
    check_origin(&auth, &headers)?;
    let s = require_session(&auth, &headers).await?;
    store::delete_user_sessions(&auth.db, &s.user.id, None).await?;
    Ok(json_with_cookies(json!({ "status": true }), auth.clearing_cookies()))
}

async fn revoke_other_sessions(State(auth): State<Arc<Auth>>, headers: HeaderMap, body: Bytes) -> AppResult<Response> {
    parse_body(&headers, &body, false)?;
    check_origin(&auth, &headers)?;
    let s = require_session(&auth, &headers).await?;
    store::delete_user_sessions(&auth.db, &s.user.id, Some(&s.session.token)).await?;
    Ok(axum::Json(json!({ "status": true })).into_response())
}

async fn update_user(State(auth): State<Arc<Auth>>, headers: HeaderMap, body: Bytes) -> AppResult<Response> {
    let body = parse_body(&headers, &body, false)?;
    let name = optional_str(&body, "name")?;
    let image = match body.get("image") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) => Some(Some(s.as_str())),
        other => {
            return Err(AppError::validation(format!(
                "[body.image] Invalid input: expected string, received {}",
                type_name(other)
            )));
        }
    };
    let timezone = optional_str(&body, "timezone")?;
    check_origin(&auth, &headers)?;
    let s = require_session(&auth, &headers).await?;
    if body.contains_key("email") {
        return Err(AppError::bad_request("EMAIL_CAN_NOT_BE_UPDATED", "Email can not be updated"));
    }
    if name.is_none() && image.is_none() && timezone.is_none() {
        return Err(AppError::Client {
            status: StatusCode::BAD_REQUEST,
            code: None,
            message: "No fields to update".into(),
        });
    }
    check_profile(name, image.flatten())?;
    let timezone = timezone.map(time_zone).transpose()?;
    let change =
        store::ProfileChange { name: name.map(str::to_string), image: image.map(|i| i.map(str::to_string)), timezone };
    store::update_user(&auth.db, &s.user.id, change).await?;
    let cookies = if super::cookie_value(&headers, &auth.session_cookie_name()).is_some() {
        auth.session_cookies(&s.session.token, !auth.dont_remember(&headers))
    } else {
        vec![]
    };
    Ok(json_with_cookies(json!({ "status": true }), cookies))
}

/// A profile's `timezone`: an IANA name, stored as the zone database spells it.
fn time_zone(name: &str) -> AppResult<String> {
    crate::tasks::dates::zone(name)
        .map(|(_, canonical)| canonical)
        .map_err(|m| AppError::validation(format!("[body.timezone] {m}")))
}

async fn change_password(
    State(auth): State<Arc<Auth>>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    rate_limit(&auth, &headers, peer, "/change-password").await?;
    let body = parse_body(&headers, &body, false)?;
    let current = required_str(&body, "currentPassword")?;
    let new = required_str(&body, "newPassword")?;
    let revoke_others = optional_bool(&body, "revokeOtherSessions")?.unwrap_or(false);
    check_origin(&auth, &headers)?;
    let s = require_session(&auth, &headers).await?;
    check_new_password(new)?;
    let Some(hash) = store::find_password_hash(&auth.db, &s.user.id).await? else {
        return Err(AppError::bad_request("CREDENTIAL_ACCOUNT_NOT_FOUND", "Credential account not found"));
    };
    if current.encode_utf16().count() > MAX_PASSWORD || !auth.passwords.verify(current, &hash).await? {
        return Err(AppError::bad_request("INVALID_PASSWORD", "Invalid password"));
    }
    let new_hash = auth.passwords.hash(new).await?;
    store::set_password_hash(&auth.db, &s.user.id, &new_hash).await?;
    let user = store::find_user_by_id(&auth.db, &s.user.id).await?.unwrap_or(s.user);
    if !revoke_others {
        return Ok(axum::Json(json!({ "token": null, "user": user })).into_response());
    }
    store::delete_user_sessions(&auth.db, &user.id, None).await?;
    let ip = client_ip(&auth, &headers, peer);
    let remember = !auth.dont_remember(&headers);
    let session = auth.create_session(&user.id, remember, &headers, ip).await?;
    Ok(json_with_cookies(
        json!({ "token": session.token, "user": user }),
        auth.session_cookies(&session.token, remember),
    ))
}

async fn delete_user(State(auth): State<Arc<Auth>>, headers: HeaderMap, body: Bytes) -> AppResult<Response> {
    let body = parse_body(&headers, &body, false)?;
    let password = optional_str(&body, "password")?;
    let callback = optional_str(&body, "callbackURL")?;
    check_origin(&auth, &headers)?;
    check_callback_url(&auth, callback)?;
    let s = require_session(&auth, &headers).await?;
    match password {
        Some(pw) => {
            let hash = store::find_password_hash(&auth.db, &s.user.id).await?;
            let ok = match hash {
                Some(h) if pw.encode_utf16().count() <= MAX_PASSWORD => auth.passwords.verify(pw, &h).await?,
                _ => false,
            };
            if !ok {
                return Err(AppError::bad_request("INVALID_PASSWORD", "Invalid password"));
            }
        }
        None if !is_fresh(&s) => {
            return Err(AppError::bad_request(
                "SESSION_EXPIRED",
                "Session expired. Re-authenticate to perform this action.",
            ));
        }
        None => {}
    }
    store::delete_user(&auth.db, &s.user.id).await?;
    tracing::info!(user_id = %s.user.id, "deleted a user and everything of theirs");
    Ok(json_with_cookies(json!({ "success": true, "message": "User deleted" }), auth.clearing_cookies()))
}

async fn ok() -> Response {
    axum::Json(json!({ "ok": true })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_shapes() {
        for good in ["a@b.co", "alice@example.com", "x.y+z@sub.example.org"] {
            assert!(is_valid_email(good), "{good}");
        }
        for bad in ["", "a", "a@", "@b.co", "a@b", "a b@c.de", "a@.com", "a@b.", "a@b..c"] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn password_length_counts_utf16_units() {
        assert!(check_new_password("1234567").is_err());
        assert!(check_new_password("12345678").is_ok());
        // Four astral characters are eight UTF-16 units, as JavaScript counts them.
        assert!(check_new_password("😀😀😀😀").is_ok());
        assert!(check_new_password(&"x".repeat(129)).is_err());
    }

    #[test]
    fn form_bodies_decode() {
        let map = form_urlencoded(b"email=a%40b.co&password=p+w&rememberMe=false");
        assert_eq!(map["email"], "a@b.co");
        assert_eq!(map["password"], "p w");
        assert_eq!(map["rememberMe"], false);
    }
}
