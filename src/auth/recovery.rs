//! Getting back into an account and proving an address, on Better Auth's routes and wire: password reset
//! (`/request-password-reset`, its older name `/forget-password`, `/reset-password/{token}`, `/reset-password`),
//! email verification (`/send-verification-email`, `/verify-email`), `/change-email` (confirmed from the new
//! address) and `/list-accounts`.
//!
//! Tokens live in Better Auth's `verification` table as its `storeIdentifier: "hashed"` option keeps them:
//! `identifier` = base64url(SHA-256("<kind>:<token>")), so a leaked database holds no usable link. Unlike
//! Better Auth (whose verification links are JWTs that stay valid until they expire), every link here works
//! once. No route tells whether an address has an account: the answer is the same, the same database work is
//! done, and mail goes out in the background so its delay does not show.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::Duration;

use super::extract::Peer;
use super::routes::{
    check_callback_url, check_new_password, check_origin, json_with_cookies, optional_str, parse_body, require_session,
    required_str,
};
use super::store::{self, User};
use super::{Auth, client_ip, crypto};
use crate::db::{Db, Timestamp};
use crate::error::{AppError, AppResult};
use crate::{mail, with_db, with_db_write};

/// How long a password-reset link works (Better Auth's `resetPasswordTokenExpiresIn` default).
pub const RESET_TOKEN_TTL: Duration = Duration::hours(1);
/// How long an address-confirming link works: a day, since people read mail later than they reset passwords.
pub const VERIFY_TOKEN_TTL: Duration = Duration::hours(24);

const RESET: &str = "reset-password";
const VERIFY: &str = "email-verification";
/// The page of the web app that takes a reset token, when the request named none.
const RESET_PAGE: &str = "/reset-password";
const RESET_MESSAGE: &str = "If this email exists in our system, check your email for the reset link";

pub fn router() -> Router<Arc<Auth>> {
    Router::new()
        .route("/request-password-reset", post(request_password_reset))
        .route("/forget-password", post(request_password_reset))
        .route("/reset-password/{token}", get(reset_password_callback))
        .route("/reset-password", post(reset_password))
        .route("/send-verification-email", post(send_verification_email))
        .route("/verify-email", get(verify_email))
        .route("/change-email", post(change_email))
        .route("/list-accounts", get(list_accounts))
}

// ---- tokens and their rows ----------------------------------------------------------------------------

/// What an address-confirming token stands for: the person, the address it was sent for, and for a change of
/// address the new one.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EmailClaim {
    user_id: String,
    email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    update_to: Option<String>,
}

/// The `identifier` a token is stored under (Better Auth's hashed form of `kind:token`).
fn stored_identifier(kind: &str, token: &str) -> String {
    let digest = Sha256::digest(format!("{kind}:{token}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

async fn insert_token(db: &Db, kind: &str, token: &str, value: String, ttl: Duration) -> sqlx::Result<()> {
    let now = Timestamp::now();
    let (id, identifier) = (crypto::generate_id(), stored_identifier(kind, token));
    with_db_write!(db, move |pool| {
        sqlx::query(
            r#"INSERT INTO "verification" ("id", "identifier", "value", "expiresAt", "createdAt", "updatedAt")
               VALUES ($1, $2, $3, $4, $5, $5)"#,
        )
        .bind(id)
        .bind(identifier)
        .bind(value)
        .bind(now.plus(ttl))
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ())
    })
}

/// The same cost as [`insert_token`] for an address with no account: a write that matches nothing.
async fn token_decoy(db: &Db, kind: &str) -> sqlx::Result<()> {
    let identifier = stored_identifier(kind, &crypto::generate_id());
    with_db_write!(db, move |pool| {
        sqlx::query(r#"DELETE FROM "verification" WHERE "identifier" = $1"#)
            .bind(identifier)
            .execute(pool)
            .await
            .map(|_| ())
    })
}

/// A live token's value, left in place (the reset link's first stop only looks).
async fn peek_token(db: &Db, kind: &str, token: &str) -> sqlx::Result<Option<String>> {
    let identifier = stored_identifier(kind, token);
    let row: Option<(String, Timestamp)> = with_db!(db, |pool| {
        sqlx::query_as(
            r#"SELECT "value", "expiresAt" FROM "verification" WHERE "identifier" = $1 ORDER BY "createdAt" DESC LIMIT 1"#,
        )
        .bind(&identifier)
        .fetch_optional(pool)
        .await
    })?;
    Ok(row.filter(|(_, expires)| *expires > Timestamp::now()).map(|(v, _)| v))
}

/// What consuming a token found.
enum Consumed {
    Live(String),
    Expired,
    Unknown,
}

/// Deletes the token and returns what it held, in one statement: of two concurrent uses, one wins.
async fn consume_token(db: &Db, kind: &str, token: &str) -> sqlx::Result<Consumed> {
    let identifier = stored_identifier(kind, token);
    let row: Option<(String, Timestamp)> = with_db_write!(db, move |pool| {
        sqlx::query_as(r#"DELETE FROM "verification" WHERE "identifier" = $1 RETURNING "value", "expiresAt""#)
            .bind(identifier)
            .fetch_optional(pool)
            .await
    })?;
    Ok(match row {
        None => Consumed::Unknown,
        Some((_, expires)) if expires <= Timestamp::now() => Consumed::Expired,
        Some((value, _)) => Consumed::Live(value),
    })
}

/// Sets the password of the person's credential account, creating that account if they had none.
async fn reset_credential_password(db: &Db, user_id: &str, hash: &str) -> sqlx::Result<()> {
    let (user_id, hash, account_id) = (user_id.to_owned(), hash.to_owned(), crypto::generate_id());
    let now = Timestamp::now();
    with_db_write!(db, move |pool| {
        let mut tx = crate::db::BeginWrite::begin_write(pool).await?;
        let updated = sqlx::query(
            r#"UPDATE "account" SET "password" = $1, "updatedAt" = $2
               WHERE "userId" = $3 AND "providerId" = 'credential' AND "accountId" = $3"#,
        )
        .bind(&hash)
        .bind(now)
        .bind(&user_id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            sqlx::query(
                r#"INSERT INTO "account" ("id", "accountId", "providerId", "userId", "password", "createdAt", "updatedAt")
                   VALUES ($1, $2, 'credential', $2, $3, $4, $4)"#,
            )
            .bind(&account_id)
            .bind(&user_id)
            .bind(&hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    })
}

/// Marks the address verified, if the person still has it.
async fn mark_verified(db: &Db, user_id: &str, email: &str) -> sqlx::Result<bool> {
    let (user_id, email) = (user_id.to_owned(), email.to_owned());
    with_db_write!(db, move |pool| {
        sqlx::query(r#"UPDATE "user" SET "emailVerified" = $1, "updatedAt" = $2 WHERE "id" = $3 AND "email" = $4"#)
            .bind(true)
            .bind(Timestamp::now())
            .bind(user_id)
            .bind(email)
            .execute(pool)
            .await
            .map(|r| r.rows_affected() > 0)
    })
}

/// How a change of address ended.
enum EmailChange {
    Changed,
    /// The person's address is no longer the one the link was sent for.
    Stale,
    /// Someone else took the new address meanwhile.
    Taken,
}

/// Moves the person from `old` to `new`, verified (the link proved the new address is theirs).
async fn move_email(db: &Db, user_id: &str, old: &str, new: &str) -> sqlx::Result<EmailChange> {
    let (user_id, old, new) = (user_id.to_owned(), old.to_owned(), new.to_owned());
    let result = with_db_write!(db, move |pool| {
        sqlx::query(
            r#"UPDATE "user" SET "email" = $1, "emailVerified" = $2, "updatedAt" = $3 WHERE "id" = $4 AND "email" = $5"#,
        )
        .bind(new)
        .bind(true)
        .bind(Timestamp::now())
        .bind(user_id)
        .bind(old)
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
    });
    match result {
        Ok(n) if n > 0 => Ok(EmailChange::Changed),
        Ok(_) => Ok(EmailChange::Stale),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(EmailChange::Taken),
        Err(e) => Err(e),
    }
}

/// A row of `account` as `/list-accounts` shows it (no tokens, no password).
#[derive(sqlx::FromRow)]
#[sqlx(rename_all = "camelCase")]
struct AccountRow {
    id: String,
    account_id: String,
    provider_id: String,
    user_id: String,
    scope: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

async fn find_accounts(db: &Db, user_id: &str) -> sqlx::Result<Vec<AccountRow>> {
    with_db!(db, |pool| {
        sqlx::query_as::<_, AccountRow>(
            r#"SELECT "id", "accountId", "providerId", "userId", "scope", "createdAt", "updatedAt"
               FROM "account" WHERE "userId" = $1 ORDER BY "createdAt""#,
        )
        .bind(user_id)
        .fetch_all(pool)
        .await
    })
}

// ---- helpers ------------------------------------------------------------------------------------------

/// The mail routes' limits: per client address and path, then per email address, both counted whether or not
/// the address has an account (so a 429 tells nothing either).
async fn mail_rate_limit(auth: &Auth, headers: &HeaderMap, peer: Peer, path: &str, email: &str) -> AppResult<()> {
    let limited = |retry_after_secs| AppError::RateLimited { retry_after_secs };
    let ip = client_ip(auth, headers, peer).unwrap_or_else(|| "unknown".into());
    auth.mail_limiter.check(&ip, path).await.map_err(limited)?;
    auth.mail_limiter.check(&format!("email:{email}"), path).await.map_err(limited)
}

/// The body's email, lower-cased and checked as Better Auth's zod `z.email()` would.
fn body_email(body: &serde_json::Map<String, Value>, key: &str) -> AppResult<String> {
    let email = required_str(body, key)?.trim().to_lowercase();
    if !super::routes::is_valid_email(&email) {
        return Err(AppError::validation(format!("[body.{key}] Invalid email address")));
    }
    Ok(email)
}

/// Sends without making the caller wait: delivery time must not tell an address with an account from one
/// without, and a slow relay must not hold a request. Failures are logged (never the link).
fn send_in_background(auth: &Auth, mail: mail::Mail) {
    let mailer = auth.mailer.clone();
    tokio::spawn(async move {
        if let Err(e) = mailer.send(mail).await {
            tracing::warn!(error = %e, "mail not sent");
        }
    });
}

/// An absolute URL for a callback that [`check_callback_url`] accepted (relative ones are on our origin).
fn absolute(auth: &Auth, url: &str) -> String {
    if url.starts_with('/') { format!("{}{url}", auth.origin) } else { url.to_string() }
}

/// `url` with `key=value` added to its query (before any fragment).
fn with_query(url: &str, key: &str, value: &str) -> String {
    let (base, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    let mut out = format!("{base}{sep}{key}={}", crypto::encode_uri_component(value));
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

fn redirect(url: &str) -> Response {
    let mut res = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(url) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// One query parameter, percent-decoded (`+` as a space, as forms send it).
fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(k, _)| *k == key)
        // Present but not UTF-8 counts as empty: no such token exists, and the answer says so.
        .map(|(_, v)| crypto::decode_uri_component(&v.replace('+', " ")).unwrap_or_default())
}

fn invalid_token() -> AppError {
    AppError::bad_request("INVALID_TOKEN", "Invalid token")
}

/// A person who may receive account mail: one whose account is not disabled.
async fn reachable_user(auth: &Auth, email: &str) -> AppResult<Option<User>> {
    match store::find_user_by_email(&auth.db, email).await? {
        Some(u) if !store::is_disabled(&auth.db, &u.id).await? => Ok(Some(u)),
        _ => Ok(None),
    }
}

/// Stores a fresh address-confirming token for `claim` and mails its link to `to`.
async fn send_email_link(auth: &Auth, to: &str, name: &str, claim: EmailClaim, callback: &str) -> AppResult<()> {
    let token = crypto::generate_id();
    let change = claim.update_to.is_some();
    let value = serde_json::to_string(&claim).map_err(|e| AppError::Internal(e.into()))?;
    insert_token(&auth.db, VERIFY, &token, value, VERIFY_TOKEN_TTL).await?;
    let url = format!(
        "{}/api/auth/verify-email?token={token}&callbackURL={}",
        auth.base_url,
        crypto::encode_uri_component(callback)
    );
    let message = if change { mail::change_email(to, name, &url) } else { mail::verify_email(to, name, &url) };
    send_in_background(auth, message);
    Ok(())
}

/// Mails the sign-up's address its confirming link (when sign-in waits for one).
pub(super) async fn send_sign_up_verification(auth: &Auth, user: &User, callback: Option<&str>) -> AppResult<()> {
    let claim = EmailClaim { user_id: user.id.clone(), email: user.email.clone(), update_to: None };
    send_email_link(auth, &user.email, &user.name, claim, callback.unwrap_or("/")).await
}

// ---- handlers -----------------------------------------------------------------------------------------

async fn request_password_reset(
    State(auth): State<Arc<Auth>>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let body = parse_body(&headers, &body, false)?;
    let email = body_email(&body, "email")?;
    let redirect_to = optional_str(&body, "redirectTo")?.filter(|r| !r.is_empty());
    check_origin(&auth, &headers)?;
    check_callback_url(&auth, redirect_to)?;
    // Both paths (the current name and the one older clients call) count as one.
    mail_rate_limit(&auth, &headers, peer, "/request-password-reset", &email).await?;
    let token = crypto::generate_id();
    match reachable_user(&auth, &email).await? {
        Some(user) => {
            insert_token(&auth.db, RESET, &token, user.id.clone(), RESET_TOKEN_TTL).await?;
            let url = format!(
                "{}/api/auth/reset-password/{token}?callbackURL={}",
                auth.base_url,
                crypto::encode_uri_component(redirect_to.unwrap_or(RESET_PAGE))
            );
            let minutes = RESET_TOKEN_TTL.whole_minutes();
            send_in_background(&auth, mail::password_reset(&user.email, &user.name, &url, minutes));
            tracing::info!(user_id = %user.id, "password reset mailed");
        }
        None => token_decoy(&auth.db, RESET).await?,
    }
    Ok(axum::Json(json!({ "status": true, "message": RESET_MESSAGE })).into_response())
}

/// The link in the reset mail: sends the browser on to the reset page with the token if it is still good,
/// else with `error=INVALID_TOKEN`. The token is not used up here (mail scanners follow links too).
async fn reset_password_callback(
    State(auth): State<Arc<Auth>>,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> AppResult<Response> {
    // Read from the path by hand: axum's `Path` answers a token that is not UTF-8 with a bare 400.
    let token = uri.path().rsplit('/').next().and_then(crypto::decode_uri_component).unwrap_or_default();
    let callback = query_param(query.as_deref(), "callbackURL").filter(|c| !c.is_empty());
    let callback = callback.as_deref().unwrap_or(RESET_PAGE);
    check_callback_url(&auth, Some(callback))?;
    let target = absolute(&auth, callback);
    let live = !token.is_empty() && token.len() <= 128 && peek_token(&auth.db, RESET, &token).await?.is_some();
    Ok(redirect(&if live {
        with_query(&target, "token", &token)
    } else {
        with_query(&target, "error", "INVALID_TOKEN")
    }))
}

async fn reset_password(
    State(auth): State<Arc<Auth>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let body = parse_body(&headers, &body, false)?;
    let new_password = required_str(&body, "newPassword")?;
    let token = optional_str(&body, "token")?
        .map(str::to_string)
        .or_else(|| query_param(query.as_deref(), "token"))
        .filter(|t| !t.is_empty() && t.len() <= 128);
    check_origin(&auth, &headers)?;
    let Some(token) = token else {
        return Err(invalid_token());
    };
    check_new_password(new_password)?;
    let Some(user_id) = peek_token(&auth.db, RESET, &token).await? else {
        return Err(invalid_token());
    };
    let Some(user) = store::find_user_by_id(&auth.db, &user_id).await? else {
        return Err(AppError::bad_request("USER_NOT_FOUND", "User not found"));
    };
    let hash = auth.passwords.hash(new_password).await?;
    // Used up only now, after the slow hash, and atomically: of two racing resets one wins, the other is refused.
    match consume_token(&auth.db, RESET, &token).await? {
        Consumed::Live(id) if id == user.id => {}
        _ => return Err(invalid_token()),
    }
    reset_credential_password(&auth.db, &user.id, &hash).await?;
    if auth.revoke_sessions_on_password_reset {
        store::delete_user_sessions(&auth.db, &user.id, None).await?;
    }
    // Whoever reset the password owns the mailbox: earlier failed guesses no longer keep them waiting.
    auth.lockout.succeeded(&user.email).await;
    tracing::info!(user_id = %user.id, "password reset");
    Ok(axum::Json(json!({ "status": true })).into_response())
}

async fn send_verification_email(
    State(auth): State<Arc<Auth>>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let body = parse_body(&headers, &body, false)?;
    let email = body_email(&body, "email")?;
    let callback = optional_str(&body, "callbackURL")?.filter(|c| !c.is_empty());
    check_origin(&auth, &headers)?;
    check_callback_url(&auth, callback)?;
    mail_rate_limit(&auth, &headers, peer, "/send-verification-email", &email).await?;
    let session = match auth.session_token_from(&headers) {
        Some(token) => auth.load_session(&token).await?,
        None => None,
    };
    let callback = callback.unwrap_or("/");
    if let Some(s) = session {
        // Signed in: the person asks about their own address, so plain errors tell them nothing new.
        if s.user.email != email {
            return Err(AppError::bad_request("EMAIL_MISMATCH", "Email mismatch"));
        }
        if s.user.email_verified {
            return Err(AppError::bad_request("EMAIL_ALREADY_VERIFIED", "Email is already verified"));
        }
        let claim = EmailClaim { user_id: s.user.id.clone(), email: email.clone(), update_to: None };
        send_email_link(&auth, &email, &s.user.name, claim, callback).await?;
        return Ok(axum::Json(json!({ "status": true })).into_response());
    }
    match reachable_user(&auth, &email).await? {
        Some(user) if !user.email_verified => {
            let claim = EmailClaim { user_id: user.id.clone(), email: email.clone(), update_to: None };
            send_email_link(&auth, &email, &user.name, claim, callback).await?;
        }
        _ => token_decoy(&auth.db, VERIFY).await?,
    }
    Ok(axum::Json(json!({ "status": true })).into_response())
}

/// The link in a verification or change-of-address mail. With a callbackURL (the mailed links always have
/// one) the answer is a redirect, carrying `error=CODE` when the link is no good; without one, JSON.
async fn verify_email(
    State(auth): State<Arc<Auth>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> AppResult<Response> {
    let query = query.as_deref();
    let callback = query_param(query, "callbackURL").filter(|c| !c.is_empty());
    check_callback_url(&auth, callback.as_deref())?;
    let Some(token) = query_param(query, "token") else {
        return Err(AppError::validation("[query.token] Invalid input: expected string, received undefined"));
    };
    let fail = |code: &'static str, message: &'static str| -> AppResult<Response> {
        match &callback {
            Some(c) => Ok(redirect(&with_query(&absolute(&auth, c), "error", code))),
            None => Err(AppError::new(StatusCode::UNAUTHORIZED, code, message)),
        }
    };
    let consumed = if token.is_empty() || token.len() > 128 {
        Consumed::Unknown
    } else {
        consume_token(&auth.db, VERIFY, &token).await?
    };
    let claim = match consumed {
        Consumed::Live(value) => match serde_json::from_str::<EmailClaim>(&value) {
            Ok(c) => c,
            Err(_) => return fail("INVALID_TOKEN", "Invalid token"),
        },
        Consumed::Expired => return fail("TOKEN_EXPIRED", "Token expired"),
        Consumed::Unknown => return fail("INVALID_TOKEN", "Invalid token"),
    };
    let Some(user) = store::find_user_by_id(&auth.db, &claim.user_id).await? else {
        return fail("USER_NOT_FOUND", "User not found");
    };
    if user.email != claim.email {
        return fail("INVALID_TOKEN", "Invalid token");
    }
    let done = |body: Value| match &callback {
        Some(c) => redirect(&absolute(&auth, c)),
        None => axum::Json(body).into_response(),
    };
    let Some(new_email) = claim.update_to else {
        mark_verified(&auth.db, &user.id, &user.email).await?;
        tracing::info!(user_id = %user.id, "email verified");
        return Ok(done(json!({ "status": true, "user": null })));
    };
    // A change of address: a link opened in someone else's signed-in browser does not change this account.
    if let Some(token) = auth.session_token_from(&headers)
        && let Some(s) = auth.load_session(&token).await?
        && s.user.id != user.id
    {
        return fail("INVALID_USER", "Invalid user");
    }
    match move_email(&auth.db, &user.id, &user.email, &new_email).await? {
        EmailChange::Changed => {}
        EmailChange::Stale => return fail("INVALID_TOKEN", "Invalid token"),
        EmailChange::Taken => {
            return fail("USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL", "User already exists. Use another email.");
        }
    }
    tracing::info!(user_id = %user.id, "email changed");
    let updated = store::find_user_by_id(&auth.db, &user.id).await?;
    Ok(done(json!({ "status": true, "user": updated })))
}

async fn change_email(
    State(auth): State<Arc<Auth>>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let body = parse_body(&headers, &body, false)?;
    let new_email = body_email(&body, "newEmail")?;
    let callback = optional_str(&body, "callbackURL")?.filter(|c| !c.is_empty());
    check_origin(&auth, &headers)?;
    check_callback_url(&auth, callback)?;
    let s = require_session(&auth, &headers).await?;
    mail_rate_limit(&auth, &headers, peer, "/change-email", &new_email).await?;
    if new_email == s.user.email {
        return Err(AppError::Client {
            status: StatusCode::BAD_REQUEST,
            code: None,
            message: "Email is the same".into(),
        });
    }
    // An address someone already has gets the same answer and no mail (Better Auth does the same).
    if store::find_user_by_email(&auth.db, &new_email).await?.is_some() {
        token_decoy(&auth.db, VERIFY).await?;
        return Ok(json_with_cookies(json!({ "status": true }), vec![]));
    }
    let claim =
        EmailClaim { user_id: s.user.id.clone(), email: s.user.email.clone(), update_to: Some(new_email.clone()) };
    send_email_link(&auth, &new_email, &s.user.name, claim, callback.unwrap_or("/")).await?;
    Ok(axum::Json(json!({ "status": true })).into_response())
}

async fn list_accounts(State(auth): State<Arc<Auth>>, headers: HeaderMap) -> AppResult<Response> {
    let s = require_session(&auth, &headers).await?;
    let accounts: Vec<Value> = find_accounts(&auth.db, &s.user.id)
        .await?
        .into_iter()
        .map(|a| {
            let scopes: Vec<&str> =
                a.scope.as_deref().unwrap_or("").split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
            json!({
                "id": a.id, "accountId": a.account_id, "providerId": a.provider_id, "userId": a.user_id,
                "createdAt": a.created_at, "updatedAt": a.updated_at, "scopes": scopes,
            })
        })
        .collect();
    Ok(axum::Json(accounts).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_better_auths_hashed_form() {
        // base64url(SHA-256("reset-password:abc")), unpadded, as Better Auth's defaultKeyHasher writes it.
        let id = stored_identifier("reset-password", "abc");
        assert_eq!(id.len(), 43);
        assert!(!id.contains('=') && !id.contains('+') && !id.contains('/'));
        assert_ne!(id, stored_identifier("email-verification", "abc"));
    }

    #[test]
    fn query_params_are_added_before_the_fragment() {
        assert_eq!(with_query("/reset-password", "token", "abc"), "/reset-password?token=abc");
        assert_eq!(with_query("/r?x=1#top", "error", "INVALID_TOKEN"), "/r?x=1&error=INVALID_TOKEN#top");
        assert_eq!(query_param(Some("a=1&callbackURL=%2Fx%3Fy%3D1"), "callbackURL").as_deref(), Some("/x?y=1"));
        assert_eq!(query_param(Some("token"), "token").as_deref(), Some(""));
        assert_eq!(query_param(None, "token"), None);
    }
}
