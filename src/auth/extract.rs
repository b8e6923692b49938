//! [`CurrentUser`]: who is calling. Accepts, in order, the session cookie, a bearer session token (signed or
//! raw), or a bearer JWT (ours, an external Better Auth server's, or HS256 under a shared secret). Every
//! failure is the same 401 so a caller learns nothing about which check failed.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use super::store::{self, Session, User};
use super::{Auth, bearer_token};
use crate::error::AppError;

/// The authenticated caller of a protected route.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: User,
    /// The session, when the credential was one (JWTs carry no session).
    pub session: Option<Session>,
}

impl CurrentUser {
    pub fn id(&self) -> &str {
        &self.user.id
    }

    /// Resolves the credentials in `headers`, if any are valid.
    pub async fn from_headers(auth: &Auth, headers: &HeaderMap) -> Result<Option<CurrentUser>, AppError> {
        if let Some(token) = auth.session_token_from(headers) {
            return Ok(auth
                .load_session(&token)
                .await?
                .map(|s| CurrentUser { user: s.user, session: Some(s.session) }));
        }
        if let Some(bearer) = bearer_token(headers).filter(|b| b.matches('.').count() == 2)
            && let Some(user_id) = auth.jwt.verify(bearer).await
        {
            return Ok(store::find_user_by_id(&auth.db, &user_id)
                .await?
                .map(|user| CurrentUser { user, session: None }));
        }
        Ok(None)
    }
}

impl<S> FromRequestParts<S> for CurrentUser
where
    Arc<Auth>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(user) = parts.extensions.get::<CurrentUser>() {
            return Ok(user.clone());
        }
        let auth = Arc::<Auth>::from_ref(state);
        let user = CurrentUser::from_headers(&auth, &parts.headers).await?.ok_or_else(AppError::unauthorized)?;
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

/// The TCP peer's address, when the server was started with connect info (always, outside unit tests).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0)))
    }
}

/// The client's address for rate limiting and the session record: the last `X-Forwarded-For` hop when the
/// proxy is trusted (the one our proxy appended, which a client cannot forge), else the peer address.
pub fn client_ip(auth: &Auth, parts_headers: &HeaderMap, peer: Peer) -> Option<String> {
    if auth.trust_proxy
        && let Some(hop) = parts_headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map(str::trim)
            .filter(|s| s.parse::<std::net::IpAddr>().is_ok())
    {
        return Some(hop.to_string());
    }
    peer.0.map(|a| a.ip().to_string())
}
