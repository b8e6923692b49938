//! The SQL of the authorization server: clients, consents, authorization codes (in Better Auth's
//! `verification` table), access and refresh tokens. Tokens and secrets arrive here already hashed.

use sqlx::FromRow;

use crate::db::{Db, Timestamp};
use crate::{with_db, with_db_write};

/// A registered client (RFC 7591) or one known from its metadata document.
#[derive(Debug, Clone, FromRow)]
pub struct Client {
    #[sqlx(rename = "clientId")]
    pub client_id: String,
    /// SHA-256 hex of the secret; `None` for a public client.
    #[sqlx(rename = "clientSecret")]
    pub secret_hash: Option<String>,
    pub disabled: Option<bool>,
    /// JSON array of the scopes it may ask for; `None`: any scope we offer.
    pub scopes: Option<String>,
    pub name: Option<String>,
    pub uri: Option<String>,
    pub icon: Option<String>,
    /// JSON array.
    #[sqlx(rename = "redirectUris")]
    pub redirect_uris: String,
    #[sqlx(rename = "tokenEndpointAuthMethod")]
    pub auth_method: Option<String>,
    /// JSON array.
    #[sqlx(rename = "grantTypes")]
    pub grant_types: Option<String>,
    #[sqlx(rename = "type")]
    pub kind: Option<String>,
    #[sqlx(rename = "updatedAt")]
    pub updated_at: Option<Timestamp>,
}

impl Client {
    pub fn redirect_uris(&self) -> Vec<String> {
        serde_json::from_str(&self.redirect_uris).unwrap_or_default()
    }

    pub fn grant_types(&self) -> Vec<String> {
        self.grant_types.as_deref().and_then(|g| serde_json::from_str(g).ok()).unwrap_or_default()
    }

    pub fn allowed_scopes(&self) -> Option<Vec<String>> {
        self.scopes.as_deref().and_then(|s| serde_json::from_str(s).ok())
    }

    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }
}

const CLIENT_COLUMNS: &str = r#""clientId", "clientSecret", "disabled", "scopes", "name", "uri", "icon", "redirectUris",
    "tokenEndpointAuthMethod", "grantTypes", "type", "updatedAt""#;

pub async fn find_client(db: &Db, client_id: &str) -> sqlx::Result<Option<Client>> {
    let sql = format!(r#"SELECT {CLIENT_COLUMNS} FROM "oauthClient" WHERE "clientId" = $1"#);
    with_db!(db, |pool| {
        sqlx::query_as::<_, Client>(sqlx::AssertSqlSafe(sql.clone())).bind(client_id).fetch_optional(pool).await
    })
}

/// What registration (or a fetched metadata document) stores.
#[derive(Debug, Clone)]
pub struct NewClient {
    pub client_id: String,
    pub secret_hash: Option<String>,
    pub name: Option<String>,
    pub uri: Option<String>,
    pub icon: Option<String>,
    pub redirect_uris: Vec<String>,
    pub auth_method: String,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub scopes: Option<Vec<String>>,
    /// `"metadata_document"` for a client known by its URL, else `None`.
    pub kind: Option<String>,
}

/// Inserts a client, or refreshes one known by its metadata document.
pub async fn upsert_client(db: &Db, c: NewClient) -> sqlx::Result<()> {
    let now = Timestamp::now();
    let id = crate::auth::crypto::generate_id();
    let json = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
    let (redirects, grants, responses) = (json(&c.redirect_uris), json(&c.grant_types), json(&c.response_types));
    let scopes = c.scopes.as_ref().map(json);
    let public = c.secret_hash.is_none();
    with_db_write!(db, move |pool| {
        sqlx::query(
            r#"INSERT INTO "oauthClient" ("id", "clientId", "clientSecret", "disabled", "scopes", "createdAt", "updatedAt",
                   "name", "uri", "icon", "redirectUris", "tokenEndpointAuthMethod", "grantTypes", "responseTypes", "public", "type")
               VALUES ($1, $2, $3, FALSE, $4, $5, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
               ON CONFLICT ("clientId") DO UPDATE SET "scopes" = excluded."scopes", "updatedAt" = excluded."updatedAt",
                   "name" = excluded."name", "uri" = excluded."uri", "icon" = excluded."icon",
                   "redirectUris" = excluded."redirectUris", "grantTypes" = excluded."grantTypes""#,
        )
        .bind(id)
        .bind(c.client_id)
        .bind(c.secret_hash)
        .bind(scopes)
        .bind(now)
        .bind(c.name)
        .bind(c.uri)
        .bind(c.icon)
        .bind(redirects)
        .bind(c.auth_method)
        .bind(grants)
        .bind(responses)
        .bind(public)
        .bind(c.kind)
        .execute(pool)
        .await
        .map(|_| ())
    })
}

// ---- consents -------------------------------------------------------------------------------------------

#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct ConsentView {
    pub id: String,
    #[sqlx(rename = "clientId")]
    #[serde(rename = "clientId")]
    pub client_id: String,
    #[serde(rename = "clientName")]
    pub client_name: Option<String>,
    #[serde(rename = "clientUri")]
    pub client_uri: Option<String>,
    #[serde(skip)]
    pub scopes: String,
    #[sqlx(rename = "createdAt")]
    #[serde(rename = "createdAt")]
    pub created_at: Timestamp,
    #[sqlx(rename = "updatedAt")]
    #[serde(rename = "updatedAt")]
    pub updated_at: Timestamp,
}

/// The scopes a person has granted a client, if they have.
pub async fn find_consent(db: &Db, user_id: &str, client_id: &str) -> sqlx::Result<Option<Vec<String>>> {
    let row: Option<(String,)> = with_db!(db, |pool| {
        sqlx::query_as(r#"SELECT "scopes" FROM "oauthConsent" WHERE "userId" = $1 AND "clientId" = $2"#)
            .bind(user_id)
            .bind(client_id)
            .fetch_optional(pool)
            .await
    })?;
    Ok(row.map(|(s,)| serde_json::from_str(&s).unwrap_or_default()))
}

pub async fn save_consent(db: &Db, user_id: &str, client_id: &str, scopes: &[String]) -> sqlx::Result<()> {
    let now = Timestamp::now();
    let (id, user_id, client_id) = (crate::auth::crypto::generate_id(), user_id.to_owned(), client_id.to_owned());
    let scopes = serde_json::to_string(scopes).unwrap_or_else(|_| "[]".into());
    with_db_write!(db, move |pool| {
        sqlx::query(
            r#"INSERT INTO "oauthConsent" ("id", "clientId", "userId", "scopes", "createdAt", "updatedAt")
               VALUES ($1, $2, $3, $4, $5, $5)
               ON CONFLICT ("userId", "clientId") DO UPDATE SET "scopes" = excluded."scopes", "updatedAt" = excluded."updatedAt""#,
        )
        .bind(id)
        .bind(client_id)
        .bind(user_id)
        .bind(scopes)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ())
    })
}

pub async fn list_consents(db: &Db, user_id: &str) -> sqlx::Result<Vec<ConsentView>> {
    with_db!(db, |pool| {
        sqlx::query_as::<_, ConsentView>(
            r#"SELECT g."id", g."clientId", c."name" AS client_name, c."uri" AS client_uri, g."scopes", g."createdAt", g."updatedAt"
               FROM "oauthConsent" g JOIN "oauthClient" c ON c."clientId" = g."clientId"
               WHERE g."userId" = $1 ORDER BY g."updatedAt" DESC"#,
        )
        .bind(user_id)
        .fetch_all(pool)
        .await
    })
}

/// Deletes a person's grant to a client and every token issued under it; false when there was none.
pub async fn delete_consent(db: &Db, user_id: &str, consent_id: &str) -> sqlx::Result<bool> {
    let (user_id, consent_id) = (user_id.to_owned(), consent_id.to_owned());
    let now = Timestamp::now();
    with_db_write!(db, move |pool| {
        let mut tx = crate::db::BeginWrite::begin_write(pool).await?;
        let row: Option<(String,)> =
            sqlx::query_as(r#"DELETE FROM "oauthConsent" WHERE "id" = $1 AND "userId" = $2 RETURNING "clientId""#)
                .bind(&consent_id)
                .bind(&user_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((client_id,)) = row else {
            return Ok(false);
        };
        sqlx::query(r#"DELETE FROM "oauthAccessToken" WHERE "userId" = $1 AND "clientId" = $2"#)
            .bind(&user_id)
            .bind(&client_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            r#"UPDATE "oauthRefreshToken" SET "revoked" = $3 WHERE "userId" = $1 AND "clientId" = $2 AND "revoked" IS NULL"#,
        )
        .bind(&user_id)
        .bind(&client_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    })
}

// ---- authorization codes --------------------------------------------------------------------------------

const CODE_PREFIX: &str = "oauth-code:";
const USED_CODE_PREFIX: &str = "oauth-used-code:";

pub async fn insert_code(db: &Db, code_hash: &str, value: &str, expires_at: Timestamp) -> sqlx::Result<()> {
    let now = Timestamp::now();
    let (id, identifier, value) =
        (crate::auth::crypto::generate_id(), format!("{CODE_PREFIX}{code_hash}"), value.to_owned());
    with_db_write!(db, move |pool| {
        sqlx::query(
            r#"INSERT INTO "verification" ("id", "identifier", "value", "expiresAt", "createdAt", "updatedAt")
               VALUES ($1, $2, $3, $4, $5, $5)"#,
        )
        .bind(id)
        .bind(identifier)
        .bind(value)
        .bind(expires_at)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ())
    })
}

/// What presenting a code found.
pub enum CodeLookup {
    /// The code, now spent: its stored value and expiry. `family_id` is recorded against it so a second use
    /// can revoke what the first one got.
    Fresh {
        value: String,
        expires_at: Timestamp,
    },
    /// Already exchanged once: the family its tokens belong to.
    Reused {
        family_id: String,
    },
    Unknown,
}

/// Spends a code in one statement, so two exchanges racing cannot both win.
pub async fn take_code(db: &Db, code_hash: &str, family_id: &str) -> sqlx::Result<CodeLookup> {
    let (fresh, used, family_id) =
        (format!("{CODE_PREFIX}{code_hash}"), format!("{USED_CODE_PREFIX}{code_hash}"), family_id.to_owned());
    let now = Timestamp::now();
    let taken: Option<(String, Timestamp)> = {
        let (fresh, used, family_id) = (fresh.clone(), used.clone(), family_id.clone());
        with_db_write!(db, move |pool| {
            let mut tx = crate::db::BeginWrite::begin_write(pool).await?;
            let row: Option<(String, Timestamp)> =
                sqlx::query_as(r#"DELETE FROM "verification" WHERE "identifier" = $1 RETURNING "value", "expiresAt""#)
                    .bind(fresh)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some((_, expires_at)) = &row {
                // Remembered until the code would have expired, so a replay can revoke what it bought.
                sqlx::query(
                    r#"INSERT INTO "verification" ("id", "identifier", "value", "expiresAt", "createdAt", "updatedAt")
                       VALUES ($1, $2, $3, $4, $5, $5)"#,
                )
                .bind(crate::auth::crypto::generate_id())
                .bind(used)
                .bind(family_id)
                .bind(expires_at.plus(time::Duration::hours(1)))
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(row)
        })?
    };
    if let Some((value, expires_at)) = taken {
        return Ok(CodeLookup::Fresh { value, expires_at });
    }
    let reused: Option<(String,)> = with_db!(db, |pool| {
        sqlx::query_as(r#"SELECT "value" FROM "verification" WHERE "identifier" = $1"#)
            .bind(&used)
            .fetch_optional(pool)
            .await
    })?;
    Ok(match reused {
        Some((family_id,)) => CodeLookup::Reused { family_id },
        None => CodeLookup::Unknown,
    })
}

// ---- tokens ---------------------------------------------------------------------------------------------

/// One access token and, with it, maybe a refresh token, in one family.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub client_id: String,
    pub user_id: String,
    pub session_id: Option<String>,
    pub scopes: Vec<String>,
    pub resource: String,
    pub family_id: String,
    pub access_hash: String,
    pub access_expires_at: Timestamp,
    /// Hash and expiry of the refresh token, when one is issued.
    pub refresh: Option<(String, Timestamp)>,
}

pub async fn insert_tokens(db: &Db, t: IssuedTokens) -> sqlx::Result<()> {
    let now = Timestamp::now();
    let scopes = serde_json::to_string(&t.scopes).unwrap_or_else(|_| "[]".into());
    with_db_write!(db, move |pool| {
        let mut tx = crate::db::BeginWrite::begin_write(pool).await?;
        let refresh_id = match &t.refresh {
            None => None,
            Some((hash, expires_at)) => {
                let id = crate::auth::crypto::generate_id();
                sqlx::query(
                    r#"INSERT INTO "oauthRefreshToken" ("id", "token", "clientId", "sessionId", "userId", "expiresAt", "createdAt",
                           "scopes", "resource", "familyId")
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"#,
                )
                .bind(&id)
                .bind(hash)
                .bind(&t.client_id)
                .bind(&t.session_id)
                .bind(&t.user_id)
                .bind(*expires_at)
                .bind(now)
                .bind(&scopes)
                .bind(&t.resource)
                .bind(&t.family_id)
                .execute(&mut *tx)
                .await?;
                Some(id)
            }
        };
        sqlx::query(
            r#"INSERT INTO "oauthAccessToken" ("id", "token", "clientId", "sessionId", "userId", "refreshId", "expiresAt",
                   "createdAt", "scopes", "resource", "familyId")
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"#,
        )
        .bind(crate::auth::crypto::generate_id())
        .bind(&t.access_hash)
        .bind(&t.client_id)
        .bind(&t.session_id)
        .bind(&t.user_id)
        .bind(refresh_id)
        .bind(t.access_expires_at)
        .bind(now)
        .bind(&scopes)
        .bind(&t.resource)
        .bind(&t.family_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    })
}

/// A live access token's grant (the client not disabled, the person not banned).
#[derive(Debug, Clone, FromRow)]
pub struct AccessRow {
    #[sqlx(rename = "userId")]
    pub user_id: String,
    #[sqlx(rename = "clientId")]
    pub client_id: String,
    pub scopes: String,
    pub resource: Option<String>,
    #[sqlx(rename = "expiresAt")]
    pub expires_at: Timestamp,
    #[sqlx(rename = "createdAt")]
    pub created_at: Timestamp,
}

pub async fn find_access(db: &Db, token_hash: &str) -> sqlx::Result<Option<AccessRow>> {
    with_db!(db, |pool| {
        sqlx::query_as::<_, AccessRow>(
            r#"SELECT a."userId", a."clientId", a."scopes", a."resource", a."expiresAt", a."createdAt"
               FROM "oauthAccessToken" a
               JOIN "oauthClient" c ON c."clientId" = a."clientId"
               JOIN "user" u ON u."id" = a."userId"
               WHERE a."token" = $1 AND NOT COALESCE(c."disabled", FALSE) AND NOT COALESCE(u."banned", FALSE)"#,
        )
        .bind(token_hash)
        .fetch_optional(pool)
        .await
    })
}

#[derive(Debug, Clone, FromRow)]
pub struct RefreshRow {
    pub id: String,
    #[sqlx(rename = "clientId")]
    pub client_id: String,
    #[sqlx(rename = "userId")]
    pub user_id: String,
    #[sqlx(rename = "sessionId")]
    pub session_id: Option<String>,
    pub scopes: String,
    pub resource: Option<String>,
    #[sqlx(rename = "familyId")]
    pub family_id: String,
    #[sqlx(rename = "expiresAt")]
    pub expires_at: Timestamp,
    #[sqlx(rename = "createdAt")]
    pub created_at: Timestamp,
    pub used: Option<Timestamp>,
    pub revoked: Option<Timestamp>,
}

pub async fn find_refresh(db: &Db, token_hash: &str) -> sqlx::Result<Option<RefreshRow>> {
    with_db!(db, |pool| {
        sqlx::query_as::<_, RefreshRow>(
            r#"SELECT "id", "clientId", "userId", "sessionId", "scopes", "resource", "familyId", "expiresAt", "createdAt",
                      "used", "revoked"
               FROM "oauthRefreshToken" WHERE "token" = $1"#,
        )
        .bind(token_hash)
        .fetch_optional(pool)
        .await
    })
}

/// Marks a refresh token used; false when another request used (or revoked) it first.
pub async fn spend_refresh(db: &Db, id: &str) -> sqlx::Result<bool> {
    let (id, now) = (id.to_owned(), Timestamp::now());
    with_db_write!(db, move |pool| {
        sqlx::query(
            r#"UPDATE "oauthRefreshToken" SET "used" = $2 WHERE "id" = $1 AND "used" IS NULL AND "revoked" IS NULL"#,
        )
        .bind(id)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected() == 1)
    })
}

/// Revokes every refresh token of a family and deletes its access tokens.
pub async fn revoke_family(db: &Db, family_id: &str) -> sqlx::Result<()> {
    let (family_id, now) = (family_id.to_owned(), Timestamp::now());
    with_db_write!(db, move |pool| {
        let mut tx = crate::db::BeginWrite::begin_write(pool).await?;
        sqlx::query(r#"DELETE FROM "oauthAccessToken" WHERE "familyId" = $1"#)
            .bind(&family_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(r#"UPDATE "oauthRefreshToken" SET "revoked" = $2 WHERE "familyId" = $1 AND "revoked" IS NULL"#)
            .bind(&family_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    })
}

/// Deletes one access token of `client_id` (revocation of an access token: its family's refresh token stays).
pub async fn delete_access(db: &Db, token_hash: &str, client_id: &str) -> sqlx::Result<()> {
    let (token_hash, client_id) = (token_hash.to_owned(), client_id.to_owned());
    with_db_write!(db, move |pool| {
        sqlx::query(r#"DELETE FROM "oauthAccessToken" WHERE "token" = $1 AND "clientId" = $2"#)
            .bind(token_hash)
            .bind(client_id)
            .execute(pool)
            .await
            .map(|_| ())
    })
}
