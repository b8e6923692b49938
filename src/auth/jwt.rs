//! JWTs like Better Auth's JWT plugin: EdDSA (Ed25519) tokens signed with the newest key of the `jwks` table
//! (kid = row id, private key stored encrypted as Better Auth stores it, so keys are shared both ways), claims =
//! the user + `sub`, `iat`, `exp` (15 min), `iss` = `aud` = the base URL's origin. Verification also accepts
//! tokens of an external Better Auth server (by its JWKS URL) and HS256 tokens under a shared secret.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{Mutex, RwLock};

use super::crypto;
use super::store::{self, User};
use crate::db::{Db, Timestamp};

/// Token lifetime (Better Auth's `expirationTime`: 15 minutes).
pub const JWT_TTL_SECS: i64 = 900;
/// Keys stay published this long after they expire, so tokens signed just before still verify.
const GRACE: time::Duration = time::Duration::days(30);
/// Clock skew tolerated when checking `exp`.
const LEEWAY_SECS: u64 = 5;
/// The longest string claim a token carries (an image URL is capped at 2,048 characters when set).
const MAX_CLAIM_BYTES: usize = 4096;

struct OwnKeys {
    signing: Option<(String, EncodingKey)>,
    verifying: HashMap<String, DecodingKey>,
    published: Vec<Value>,
    loaded_at: Option<Instant>,
}

struct External {
    url: String,
    issuer: String,
    http: reqwest::Client,
    cache: RwLock<(Option<Instant>, JwkSet)>,
}

pub struct JwtKeys {
    db: Db,
    secret: String,
    origin: String,
    own: RwLock<OwnKeys>,
    create_lock: Mutex<()>,
    external: Option<External>,
    hs256: Option<DecodingKey>,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
}

impl JwtKeys {
    pub fn new(
        db: Db,
        secret: String,
        origin: String,
        external_jwks_url: Option<String>,
        external_issuer: Option<String>,
        hs256_secret: Option<String>,
    ) -> anyhow::Result<Self> {
        let external = match external_jwks_url {
            Some(url) => {
                let issuer = external_issuer
                    .or_else(|| super::origin_of(&url))
                    .ok_or_else(|| anyhow::anyhow!("TASKCHAT_EXTERNAL_JWKS_URL must be an absolute http(s) URL"))?;
                let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
                Some(External { url, issuer, http, cache: RwLock::new((None, JwkSet { keys: vec![] })) })
            }
            None => None,
        };
        Ok(JwtKeys {
            db,
            secret,
            origin,
            own: RwLock::new(OwnKeys { signing: None, verifying: HashMap::new(), published: vec![], loaded_at: None }),
            create_lock: Mutex::new(()),
            external,
            hs256: hs256_secret.map(|s| DecodingKey::from_secret(s.as_bytes())),
        })
    }

    /// Reads the `jwks` table into memory.
    async fn reload(&self) -> anyhow::Result<()> {
        let rows = store::list_jwks(&self.db).await?;
        let now = Timestamp::now();
        let mut keys =
            OwnKeys { signing: None, verifying: HashMap::new(), published: vec![], loaded_at: Some(Instant::now()) };
        for row in rows {
            if row.alg.as_deref().is_some_and(|a| a != "EdDSA") {
                continue;
            }
            let Some(x) = serde_json::from_str::<Value>(&row.public_key)
                .ok()
                .and_then(|v| v.get("x").and_then(Value::as_str).map(str::to_string))
            else {
                continue;
            };
            let live = row.expires_at.is_none_or(|e| e > now);
            let within_grace = row.expires_at.is_none_or(|e| e.plus(GRACE) > now);
            if within_grace && let Ok(key) = DecodingKey::from_ed_components(&x) {
                keys.verifying.insert(row.id.clone(), key);
                keys.published.push(json!({"alg": "EdDSA", "crv": "Ed25519", "x": x, "kty": "OKP", "kid": row.id}));
            }
            // Rows come newest first: the first live key we can decrypt signs.
            if live && keys.signing.is_none() {
                match crypto::decrypt_private_jwk(&self.secret, &row.private_key)
                    .and_then(|jwk| crypto::ed25519_pkcs8_der_from_d(&jwk.d))
                {
                    Some(der) => keys.signing = Some((row.id.clone(), EncodingKey::from_ed_der(&der))),
                    None => {
                        tracing::warn!(kid = %row.id, "a JWT key cannot be decrypted with the configured secret; it is only used to verify")
                    }
                }
            }
        }
        *self.own.write().await = keys;
        Ok(())
    }

    /// Loads keys, creating the first one (as Better Auth does on first use) when none can sign.
    async fn ensure_signing_key(&self) -> anyhow::Result<()> {
        {
            let own = self.own.read().await;
            if own.signing.is_some() {
                return Ok(());
            }
        }
        let _guard = self.create_lock.lock().await;
        self.reload().await?;
        if self.own.read().await.signing.is_some() {
            return Ok(());
        }
        let jwk = crypto::generate_ed25519();
        let kid = crypto::generate_id();
        store::insert_jwk(
            &self.db,
            &kid,
            &crypto::public_jwk_json(&jwk.x),
            &crypto::encrypt_private_jwk(&self.secret, &jwk),
            Timestamp::now(),
        )
        .await?;
        tracing::info!(%kid, "created a new JWT signing key");
        self.reload().await
    }

    /// The public keys, as `GET /api/auth/jwks` publishes them.
    pub async fn jwks(&self) -> anyhow::Result<Value> {
        self.ensure_signing_key().await?;
        Ok(json!({ "keys": self.own.read().await.published }))
    }

    /// A fresh token for the user; at most a few KB whatever the profile holds.
    pub async fn sign(&self, user: &User) -> anyhow::Result<String> {
        self.ensure_signing_key().await?;
        let own = self.own.read().await;
        let (kid, key) = own.signing.as_ref().ok_or_else(|| anyhow::anyhow!("no JWT signing key"))?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = None;
        header.kid = Some(kid.clone());
        let iat = Timestamp::now().unix();
        let mut claims = serde_json::to_value(user)?;
        if let Some(map) = claims.as_object_mut() {
            // The token rides in a header: a profile written before the limits (or by another server on
            // the same database) must not make it too big to send, so an oversized field is left out.
            map.retain(|_, v| v.as_str().is_none_or(|s| s.len() <= MAX_CLAIM_BYTES));
            map.insert("iat".into(), json!(iat));
            map.insert("sub".into(), json!(user.id));
            map.insert("exp".into(), json!(iat + JWT_TTL_SECS));
            map.insert("iss".into(), json!(self.origin));
            map.insert("aud".into(), json!(self.origin));
        }
        Ok(jsonwebtoken::encode(&header, &claims, key)?)
    }

    /// The user id a JWT vouches for, or `None` for any token that fails any check.
    pub async fn verify(&self, token: &str) -> Option<String> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        match header.alg {
            Algorithm::EdDSA => {
                let kid = header.kid?;
                if let Some(sub) = self.verify_own(token, &kid).await {
                    return Some(sub);
                }
                self.verify_external(token, &kid).await
            }
            Algorithm::HS256 => {
                let key = self.hs256.as_ref()?;
                let mut v = Validation::new(Algorithm::HS256);
                v.leeway = LEEWAY_SECS;
                v.validate_aud = false;
                v.set_required_spec_claims(&["exp", "sub"]);
                jsonwebtoken::decode::<Claims>(token, key, &v).ok().map(|d| d.claims.sub)
            }
            _ => None,
        }
    }

    async fn verify_own(&self, token: &str, kid: &str) -> Option<String> {
        let stale = {
            let own = self.own.read().await;
            !own.verifying.contains_key(kid) && own.loaded_at.is_none_or(|t| t.elapsed() > Duration::from_secs(10))
        };
        // Another copy of taskchat may have created the key: re-read the table, at most every 10 s.
        if stale && self.reload().await.is_err() {
            return None;
        }
        let own = self.own.read().await;
        let key = own.verifying.get(kid)?;
        decode_sub(token, key, &self.origin)
    }

    async fn verify_external(&self, token: &str, kid: &str) -> Option<String> {
        let ext = self.external.as_ref()?;
        let needs_fetch = {
            let cache = ext.cache.read().await;
            match cache.0 {
                None => true,
                Some(at) => {
                    at.elapsed() > Duration::from_secs(600)
                        || (cache.1.find(kid).is_none() && at.elapsed() > Duration::from_secs(30))
                }
            }
        };
        if needs_fetch {
            match ext.http.get(&ext.url).send().await.and_then(|r| r.error_for_status()) {
                Ok(res) => match res.json::<JwkSet>().await {
                    Ok(set) => *ext.cache.write().await = (Some(Instant::now()), set),
                    Err(e) => {
                        tracing::warn!(error = %e, "the external JWKS is not valid JSON Web Key Set")
                    }
                },
                Err(e) => tracing::warn!(error = %e, "could not fetch the external JWKS"),
            }
        }
        let cache = ext.cache.read().await;
        let jwk = cache.1.find(kid)?;
        let key = DecodingKey::from_jwk(jwk).ok()?;
        decode_sub(token, &key, &ext.issuer)
    }
}

fn decode_sub(token: &str, key: &DecodingKey, issuer: &str) -> Option<String> {
    let mut v = Validation::new(Algorithm::EdDSA);
    v.leeway = LEEWAY_SECS;
    v.set_issuer(&[issuer]);
    v.set_audience(&[issuer]);
    v.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
    jsonwebtoken::decode::<Claims>(token, key, &v).ok().map(|d| d.claims.sub)
}
