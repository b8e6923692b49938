//! Accounts and sessions, compatible with Better Auth (see `shared/reference/better-auth-contract.md`): its
//! routes under `/api/auth`, its cookies and their signatures, its password hashes, its EdDSA JWTs and JWKS,
//! plus [`CurrentUser`], the one extractor every protected route uses.

pub mod crypto;
mod extract;
mod jwt;
mod lockout;
mod password;
mod ratelimit;
mod recovery;
pub mod routes;
pub mod store;

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, header};
use time::Duration;

use crate::config::{PasswordHashFormat, ServeArgs};
use crate::db::{Db, Timestamp};
use crate::error::AppResult;

pub use extract::{CurrentUser, Peer, client_ip};
pub use jwt::JwtKeys;
pub use password::Passwords;
pub use ratelimit::RateLimiter;
pub use store::{Session, SessionWithUser, User};

/// Session lifetime (Better Auth's `expiresIn`).
pub const SESSION_TTL: Duration = Duration::days(7);
/// A session not asked to be remembered lasts one day.
pub const SHORT_SESSION_TTL: Duration = Duration::days(1);
/// A session is extended when it is this old since its last extension (`updateAge`).
pub const SESSION_UPDATE_AGE: Duration = Duration::days(1);
/// Sensitive operations need a session created within this time (`freshAge`).
pub const SESSION_FRESH_AGE: Duration = Duration::days(1);

const COOKIE_BASE: &str = "better-auth";

/// Everything the auth routes and the extractor share.
pub struct Auth {
    pub db: Db,
    pub secret: String,
    /// The origin of the base URL: trusted, and the JWT issuer and audience.
    pub origin: String,
    /// Origins allowed to send cookie-bearing requests (the base URL's included).
    pub trusted_origins: Vec<String>,
    /// `__Secure-` cookies behind https.
    pub secure_cookies: bool,
    pub trust_proxy: bool,
    pub passwords: Passwords,
    pub limiter: RateLimiter,
    pub lockout: lockout::Lockout,
    pub jwt: JwtKeys,
    /// The public base URL without a trailing slash: mailed links start with it.
    pub base_url: String,
    pub mailer: Arc<dyn crate::mail::Mailer>,
    /// The mail-sending routes' own limits (per client and per address), over a longer window.
    pub mail_limiter: RateLimiter,
    /// Sign-in waits for a verified address (Better Auth's `requireEmailVerification`).
    pub require_email_verification: bool,
    /// A password reset ends every session of the person (Better Auth's `revokeSessionsOnPasswordReset`).
    pub revoke_sessions_on_password_reset: bool,
}

impl Auth {
    pub fn new(
        db: Db,
        secret: String,
        base_url: &str,
        args: &ServeArgs,
        mailer: Arc<dyn crate::mail::Mailer>,
    ) -> anyhow::Result<Arc<Auth>> {
        let origin = origin_of(base_url).ok_or_else(|| {
            anyhow::anyhow!("TASKCHAT_BASE_URL must be an absolute http(s) URL, like https://tasks.example.com")
        })?;
        let mut trusted_origins = vec![origin.clone()];
        for o in &args.trusted_origins {
            let o = o.trim().trim_end_matches('/');
            if !o.is_empty() {
                trusted_origins.push(o.to_string());
            }
        }
        let scheme = match args.password_hash {
            PasswordHashFormat::Argon2id => crypto::PasswordScheme::Argon2id,
            PasswordHashFormat::BetterAuth => crypto::PasswordScheme::BetterAuthScrypt,
        };
        let jwt = JwtKeys::new(
            db.clone(),
            secret.clone(),
            origin.clone(),
            args.external_jwks_url.clone(),
            args.external_jwt_issuer.clone(),
            args.jwt_hs256_secret.clone(),
        )?;
        let limiter =
            RateLimiter::new(args.rate_limit_max, std::time::Duration::from_secs(args.rate_limit_window), &db);
        let lockout =
            lockout::Lockout::new(args.lockout_after, std::time::Duration::from_secs(args.lockout_max_delay), &db);
        let mail_limiter = RateLimiter::new(
            args.mail_rate_limit_max,
            std::time::Duration::from_secs(args.mail_rate_limit_window.max(1)),
            &db,
        );
        Ok(Arc::new(Auth {
            base_url: base_url.trim_end_matches('/').to_string(),
            mailer,
            mail_limiter,
            require_email_verification: args.require_email_verification,
            revoke_sessions_on_password_reset: args.revoke_sessions_on_password_reset,
            secure_cookies: origin.starts_with("https://"),
            db,
            secret,
            origin,
            trusted_origins,
            trust_proxy: args.trust_proxy,
            passwords: Passwords::new(scheme, args.hash_concurrency),
            limiter,
            lockout,
            jwt,
        }))
    }

    fn cookie_name(&self, name: &str) -> String {
        let prefix = if self.secure_cookies { "__Secure-" } else { "" };
        format!("{prefix}{COOKIE_BASE}.{name}")
    }

    pub fn session_cookie_name(&self) -> String {
        self.cookie_name("session_token")
    }

    fn cookie_attributes(&self) -> &'static str {
        if self.secure_cookies { "Path=/; HttpOnly; Secure; SameSite=Lax" } else { "Path=/; HttpOnly; SameSite=Lax" }
    }

    /// `Set-Cookie` values that start a session (and mark it not-remembered when asked).
    pub fn session_cookies(&self, token: &str, remember: bool) -> Vec<String> {
        let value = crypto::encode_uri_component(&crypto::sign_cookie_value(token, &self.secret));
        let attrs = self.cookie_attributes();
        if remember {
            vec![format!("{}={value}; Max-Age={}; {attrs}", self.session_cookie_name(), SESSION_TTL.whole_seconds())]
        } else {
            // No Max-Age: the browser forgets the session when it closes.
            let flag = crypto::encode_uri_component(&crypto::sign_cookie_value("true", &self.secret));
            vec![
                format!("{}={value}; {attrs}", self.session_cookie_name()),
                format!("{}={flag}; {attrs}", self.cookie_name("dont_remember")),
            ]
        }
    }

    /// `Set-Cookie` values that end a session in the browser.
    pub fn clearing_cookies(&self) -> Vec<String> {
        let attrs = self.cookie_attributes();
        ["session_token", "session_data", "dont_remember"]
            .iter()
            .map(|n| format!("{}=; Max-Age=0; {attrs}", self.cookie_name(n)))
            .collect()
    }

    /// The session token a request carries: a bearer session token (signed or raw) first, as Better Auth's
    /// bearer plugin lets the header win, else our signed cookie. JWTs are not sessions: the extractor
    /// handles them.
    pub fn session_token_from(&self, headers: &HeaderMap) -> Option<String> {
        if let Some(bearer) = bearer_token(headers).filter(|b| b.matches('.').count() < 2) {
            let token = if bearer.contains('.') {
                crypto::decode_uri_component(bearer).and_then(|d| crypto::verify_signed_value(&d, &self.secret))
            } else if (20..=64).contains(&bearer.len()) && bearer.chars().all(|c| c.is_ascii_alphanumeric()) {
                Some(bearer.to_string())
            } else {
                None
            };
            if token.is_some() {
                return token;
            }
        }
        let value = cookie_value(headers, &self.session_cookie_name())?;
        let decoded = crypto::decode_uri_component(&value)?;
        crypto::verify_signed_value(&decoded, &self.secret)
    }

    /// Whether the request marked its session as not-to-be-remembered (no rolling refresh then).
    pub fn dont_remember(&self, headers: &HeaderMap) -> bool {
        cookie_value(headers, &self.cookie_name("dont_remember"))
            .and_then(|v| crypto::decode_uri_component(&v))
            .and_then(|v| crypto::verify_signed_value(&v, &self.secret))
            .is_some()
    }

    /// Creates a session row for the user and returns it.
    pub async fn create_session(
        &self,
        user_id: &str,
        remember: bool,
        headers: &HeaderMap,
        ip: Option<String>,
    ) -> AppResult<Session> {
        let now = Timestamp::now();
        let session = Session {
            expires_at: now.plus(if remember { SESSION_TTL } else { SHORT_SESSION_TTL }),
            token: crypto::generate_id(),
            created_at: now,
            updated_at: now,
            ip_address: Some(ip.unwrap_or_default()),
            user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string),
            user_id: user_id.to_string(),
            id: crypto::generate_id(),
        };
        store::insert_session(&self.db, &session).await?;
        Ok(session)
    }

    /// The live session behind a token. An expired one is deleted and reported as absent.
    pub async fn load_session(&self, token: &str) -> AppResult<Option<SessionWithUser>> {
        let Some(found) = store::find_session_by_token(&self.db, token).await? else {
            return Ok(None);
        };
        if found.session.expires_at <= Timestamp::now() {
            store::delete_session_by_token(&self.db, token).await?;
            return Ok(None);
        }
        Ok(Some(found))
    }

    /// Whether `origin` is one of the trusted origins (exact, or a `*` wildcard pattern).
    pub fn is_trusted_origin(&self, origin: &str) -> bool {
        let origin = origin.trim_end_matches('/');
        self.trusted_origins.iter().any(|pattern| wildcard_match(pattern, origin))
    }
}

/// `scheme://host[:port]` of an absolute http(s) URL.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let host = rest.split(['/', '?', '#']).next()?;
    if host.is_empty() || host.contains('@') {
        return None;
    }
    Some(format!("{scheme}://{}", host.to_ascii_lowercase()))
}

fn wildcard_match(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern.eq_ignore_ascii_case(value),
        Some((prefix, suffix)) => {
            value.len() >= prefix.len() + suffix.len()
                && value[..prefix.len()].eq_ignore_ascii_case(prefix)
                && value[value.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
                && !value[prefix.len()..value.len() - suffix.len()].contains('/')
        }
    }
}

/// The raw value of one cookie from the `Cookie` headers.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_string())
}

pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// Appends `Set-Cookie` headers.
pub fn append_cookies(headers: &mut HeaderMap, cookies: Vec<String>) {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            headers.append(header::SET_COOKIE, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_and_wildcards() {
        assert_eq!(origin_of("https://Tasks.Example.com/app?x=1").as_deref(), Some("https://tasks.example.com"));
        assert_eq!(origin_of("http://127.0.0.1:8080").as_deref(), Some("http://127.0.0.1:8080"));
        assert!(origin_of("ftp://x").is_none());
        assert!(origin_of("not a url").is_none());
        assert!(wildcard_match("https://*.example.com", "https://app.example.com"));
        assert!(!wildcard_match("https://*.example.com", "https://evil.com/.example.com"));
        assert!(!wildcard_match("http://localhost:3000", "http://localhost:3001"));
    }
}
