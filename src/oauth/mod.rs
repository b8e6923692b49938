//! The OAuth 2.1 authorization server that lets an MCP client (or any OAuth client) connect with a person's
//! consent instead of a pasted token: Better Auth's oauth-provider routes under `/api/auth/oauth2/…`
//! ([`routes`]), RFC 8414 metadata, dynamic registration and client ID metadata documents ([`cimd`]).
//!
//! Access tokens are opaque (`tca_…`) and stored as SHA-256 hashes: revocation takes effect on the next
//! request, a leaked database holds nothing replayable, and each token is bound to one resource (RFC 8707):
//! `/mcp` or the REST API (`/api`, `/chatkit`). [`guard_api`] admits them on the REST door; the MCP door
//! calls [`OAuthServer::verify`] and [`mcp_scope_needed`].

pub mod cimd;
pub mod routes;
pub mod store;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::auth::{Auth, CurrentUser, User, bearer_token};
use crate::config::ServeArgs;
use crate::db::Timestamp;

/// Reading tasks (list, search, resources, prompts).
pub const TASKS_READ: &str = "tasks:read";
/// Changing tasks.
pub const TASKS_WRITE: &str = "tasks:write";
/// Talking to the assistant (chat, ChatKit, conversations).
pub const CHAT: &str = "chat";
/// Asks for a refresh token (OpenID's name for it, as Better Auth uses).
pub const OFFLINE_ACCESS: &str = "offline_access";
/// Every scope a client may ask for.
pub const SCOPES: [&str; 4] = [TASKS_READ, TASKS_WRITE, CHAT, OFFLINE_ACCESS];

const ACCESS_PREFIX: &str = "tca_";
const REFRESH_PREFIX: &str = "tcr_";
const SECRET_PREFIX: &str = "tcs_";

/// The authorization server's settings and what its routes share.
pub struct OAuthServer {
    pub auth: Arc<Auth>,
    /// The issuer: the base URL's origin (RFC 8414 metadata lives at its root).
    pub issuer: String,
    /// The MCP door's resource identifier.
    pub mcp_resource: String,
    /// The REST and ChatKit doors' resource identifier.
    pub api_resource: String,
    pub access_ttl: time::Duration,
    pub refresh_ttl: time::Duration,
    pub code_ttl: time::Duration,
    pub allow_private_metadata: bool,
}

/// What a valid access token grants.
#[derive(Debug, Clone)]
pub struct Grant {
    pub user: User,
    pub client_id: String,
    pub scopes: Vec<String>,
}

impl Grant {
    pub fn has(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

impl OAuthServer {
    pub fn new(auth: Arc<Auth>, args: &ServeArgs) -> Arc<OAuthServer> {
        let issuer = auth.origin.clone();
        Arc::new(OAuthServer {
            mcp_resource: format!("{issuer}/mcp"),
            api_resource: format!("{issuer}/api"),
            issuer,
            auth,
            access_ttl: time::Duration::seconds(args.oauth_access_token_ttl.min(i64::MAX as u64) as i64),
            refresh_ttl: time::Duration::days(30),
            code_ttl: time::Duration::minutes(10),
            allow_private_metadata: args.oauth_allow_private_metadata,
        })
    }

    fn endpoint(&self, name: &str) -> String {
        format!("{}/api/auth/oauth2/{name}", self.issuer)
    }

    /// The resource a request names, canonicalized; `None` for one that is not ours.
    pub fn known_resource(&self, resource: &str) -> Option<String> {
        let r = resource.trim_end_matches('/');
        [&self.mcp_resource, &self.api_resource].into_iter().find(|k| k.as_str() == r).cloned()
    }

    /// RFC 8414 authorization server metadata.
    pub fn metadata(&self) -> serde_json::Value {
        json!({
            "issuer": self.issuer,
            "authorization_endpoint": self.endpoint("authorize"),
            "token_endpoint": self.endpoint("token"),
            "registration_endpoint": self.endpoint("register"),
            "revocation_endpoint": self.endpoint("revoke"),
            "introspection_endpoint": self.endpoint("introspect"),
            "userinfo_endpoint": self.endpoint("userinfo"),
            "jwks_uri": format!("{}/api/auth/jwks", self.issuer),
            "scopes_supported": SCOPES,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
            "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
            "client_id_metadata_document_supported": true,
            "service_documentation": format!("{}/openapi.json", self.issuer),
        })
    }

    /// The protected-resource metadata (RFC 9728) of one of our resources.
    pub fn resource_metadata(&self, resource: &str) -> serde_json::Value {
        let scopes: &[&str] =
            if resource == self.mcp_resource { &[TASKS_READ, TASKS_WRITE] } else { &[TASKS_READ, TASKS_WRITE, CHAT] };
        json!({
            "resource": resource,
            "resource_name": "taskchat",
            "authorization_servers": [self.issuer],
            "scopes_supported": scopes,
            "bearer_methods_supported": ["header"],
        })
    }

    /// The live grant of an access token presented to `resource`; `None` for an unknown, expired, revoked or
    /// other resource's token (all one answer: `invalid_token`).
    pub async fn verify(&self, token: &str, resource: &str) -> Result<Option<Grant>, sqlx::Error> {
        if !token.starts_with(ACCESS_PREFIX) {
            return Ok(None);
        }
        let Some(row) = store::find_access(&self.auth.db, &hash(token)).await? else {
            return Ok(None);
        };
        if row.expires_at <= Timestamp::now() || row.resource.as_deref() != Some(resource) {
            return Ok(None);
        }
        let Some(user) = crate::auth::store::find_user_by_id(&self.auth.db, &row.user_id).await? else {
            return Ok(None);
        };
        Ok(Some(Grant { user, client_id: row.client_id, scopes: split_json(&row.scopes) }))
    }

    /// A `WWW-Authenticate` challenge for `resource` (RFC 6750 §3, RFC 9728 §5.1).
    pub fn challenge(&self, resource: &str, error: Option<&str>, scope: &str) -> HeaderValue {
        let metadata = if resource == self.mcp_resource {
            format!("{}/.well-known/oauth-protected-resource/mcp", self.issuer)
        } else {
            format!("{}/.well-known/oauth-protected-resource/api", self.issuer)
        };
        let error = error.map(|e| format!("error=\"{e}\", ")).unwrap_or_default();
        HeaderValue::from_str(&format!("Bearer {error}resource_metadata=\"{metadata}\", scope=\"{scope}\""))
            .unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
    }

    /// The 401 or 403 a bearer request gets when its token does not do.
    pub fn refusal(&self, resource: &str, insufficient: Option<&str>) -> Response {
        let (status, error, description, scope) = match insufficient {
            Some(scope) => {
                (StatusCode::FORBIDDEN, "insufficient_scope", "The token lacks the scope this needs.", scope)
            }
            None => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "The access token is missing, expired, revoked or for another resource.",
                if resource == self.mcp_resource { "tasks:read tasks:write" } else { "tasks:read tasks:write chat" },
            ),
        };
        let mut res = (status, axum::Json(json!({ "error": error, "error_description": description }))).into_response();
        res.headers_mut().insert(header::WWW_AUTHENTICATE, self.challenge(resource, Some(error), scope));
        res
    }
}

/// Whether a bearer credential is one of our OAuth access tokens (so the session and JWT checks pass it by).
pub fn is_access_token(token: &str) -> bool {
    token.starts_with(ACCESS_PREFIX)
}

pub fn new_access_token() -> String {
    format!("{ACCESS_PREFIX}{}", crate::auth::crypto::generate_id())
}

pub fn new_refresh_token() -> String {
    format!("{REFRESH_PREFIX}{}", crate::auth::crypto::generate_id())
}

pub fn new_client_secret() -> String {
    format!("{SECRET_PREFIX}{}{}", crate::auth::crypto::generate_id(), crate::auth::crypto::generate_id())
}

/// SHA-256 hex: how tokens, codes and secrets are kept. They carry 190 random bits, so no salt or slow hash.
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Space-separated scopes, de-duplicated in order.
pub fn split_scopes(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for scope in s.split(' ').filter(|s| !s.is_empty()) {
        if !out.iter().any(|o| o == scope) {
            out.push(scope.to_string());
        }
    }
    out
}

fn split_json(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

/// The scope a REST or ChatKit request needs from an OAuth token.
fn api_scope_needed(method: &Method, path: &str) -> &'static str {
    let chat = path == "/chatkit" || path.starts_with("/api/conversations") || path.ends_with("/chat");
    if chat {
        CHAT
    } else if matches!(*method, Method::GET | Method::HEAD) {
        TASKS_READ
    } else {
        TASKS_WRITE
    }
}

/// In front of the REST and ChatKit routes: a request bearing one of our access tokens is admitted only with
/// a token bound to the API resource and holding the route's scope; the person goes into the request for
/// [`CurrentUser`]. Other credentials pass through untouched.
pub async fn guard_api(State(oauth): State<Arc<OAuthServer>>, mut req: Request, next: Next) -> Response {
    let Some(token) = bearer_token(req.headers()).filter(|t| is_access_token(t)).map(str::to_string) else {
        return next.run(req).await;
    };
    let resource = oauth.api_resource.clone();
    match oauth.verify(&token, &resource).await {
        Ok(Some(grant)) => {
            let needed = api_scope_needed(req.method(), req.uri().path());
            if !grant.has(needed) {
                return oauth.refusal(&resource, Some(needed));
            }
            req.extensions_mut().insert(CurrentUser { user: grant.user, session: None });
            next.run(req).await
        }
        Ok(None) => oauth.refusal(&resource, None),
        Err(e) => crate::error::AppError::from(e).into_response(),
    }
}

/// The scope a JSON-RPC message (or batch) to `/mcp` needs: reading for read-only tools, resources and
/// prompts, writing for the other tools; `None` for the handshake, listings and notifications.
pub fn mcp_scope_needed(body: &[u8]) -> Option<&'static str> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let messages = match value {
        serde_json::Value::Array(items) => items,
        one => vec![one],
    };
    let mut needed = None;
    for m in &messages {
        let scope = match m.get("method").and_then(|v| v.as_str()) {
            Some("tools/call") => {
                let name = m.pointer("/params/name").and_then(|v| v.as_str()).unwrap_or("");
                let read_only = crate::chat::tools::definitions().iter().any(|d| d.name == name && d.read_only);
                if read_only { TASKS_READ } else { TASKS_WRITE }
            }
            Some(m) if m.starts_with("resources/read") || m.starts_with("prompts/get") => TASKS_READ,
            _ => continue,
        };
        // Writing is the stronger need: a batch that writes needs it.
        if needed != Some(TASKS_WRITE) {
            needed = Some(scope);
        }
    }
    needed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_split_and_deduplicate() {
        assert_eq!(split_scopes("tasks:read  tasks:read chat"), ["tasks:read", "chat"]);
        assert!(split_scopes("").is_empty());
    }

    #[test]
    fn mcp_calls_need_the_scope_of_their_tool() {
        let call =
            |name: &str| format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"{name}"}}}}"#);
        assert_eq!(mcp_scope_needed(call("list_tasks").as_bytes()), Some(TASKS_READ));
        assert_eq!(mcp_scope_needed(call("add_task").as_bytes()), Some(TASKS_WRITE));
        assert_eq!(mcp_scope_needed(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#), None);
        let batch = format!("[{},{}]", call("list_tasks"), call("delete_task"));
        assert_eq!(mcp_scope_needed(batch.as_bytes()), Some(TASKS_WRITE));
    }

    #[test]
    fn api_routes_need_read_write_or_chat() {
        assert_eq!(api_scope_needed(&Method::GET, "/api/tasks"), TASKS_READ);
        assert_eq!(api_scope_needed(&Method::POST, "/api/tasks"), TASKS_WRITE);
        assert_eq!(api_scope_needed(&Method::POST, "/api/abc/chat"), CHAT);
        assert_eq!(api_scope_needed(&Method::POST, "/chatkit"), CHAT);
    }
}
