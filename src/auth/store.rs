//! SQL for Better Auth's tables (`user`, `session`, `account`, `jwks`), written in the column names and value
//! formats Better Auth itself uses, so a database can be shared with or migrated from a Better Auth server.

use serde::Serialize;
use sqlx::FromRow;

use crate::db::{BeginWrite, Db, Timestamp};
use crate::{with_db, with_db_write};

/// A person's account as Better Auth shows it.
#[derive(Debug, Clone, FromRow, Serialize)]
#[sqlx(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub name: String,
    pub email: String,
    pub email_verified: bool,
    pub image: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub id: String,
    /// An additional user field (migration 0011): the IANA zone the person's dates are reckoned in.
    pub timezone: String,
}

/// A signed-in session as Better Auth shows it (the raw token included, as Better Auth does).
#[derive(Debug, Clone, FromRow, Serialize)]
#[sqlx(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub expires_at: Timestamp,
    pub token: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub user_id: String,
    pub id: String,
}

/// A row of `jwks`.
#[derive(Debug, Clone, FromRow)]
#[sqlx(rename_all = "camelCase")]
pub struct JwksRow {
    pub id: String,
    pub public_key: String,
    pub private_key: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub alg: Option<String>,
}

pub async fn find_user_by_email(db: &Db, email: &str) -> sqlx::Result<Option<User>> {
    with_db!(db, |pool| {
        sqlx::query_as::<_, User>(
            r#"SELECT "name", "email", "emailVerified", "image", "createdAt", "updatedAt", "id", "timezone" FROM "user" WHERE "email" = $1"#,
        )
        .bind(email)
        .fetch_optional(pool)
        .await
    })
}

/// An account that is not disabled (a disabled person's credentials stop working at once).
pub async fn find_user_by_id(db: &Db, id: &str) -> sqlx::Result<Option<User>> {
    with_db!(db, |pool| {
        sqlx::query_as::<_, User>(
            r#"SELECT "name", "email", "emailVerified", "image", "createdAt", "updatedAt", "id", "timezone" FROM "user"
               WHERE "id" = $1 AND NOT COALESCE("banned", FALSE)"#,
        )
        .bind(id)
        .fetch_optional(pool)
        .await
    })
}

/// The password hash of the person's credential account (Better Auth: providerId `credential`, accountId = user id).
pub async fn find_password_hash(db: &Db, user_id: &str) -> sqlx::Result<Option<String>> {
    let row: Option<(Option<String>,)> = with_db!(db, |pool| {
        sqlx::query_as(
            r#"SELECT "password" FROM "account" WHERE "userId" = $1 AND "providerId" = 'credential' AND "accountId" = $1"#,
        )
        .bind(user_id)
        .fetch_optional(pool)
        .await
    })?;
    Ok(row.and_then(|(p,)| p))
}

/// Whether the insert found the email already taken.
pub enum CreateUser {
    Created,
    EmailTaken,
}

/// Creates the user and their credential account in one transaction.
pub async fn create_user_with_password(db: &Db, user: &User, account_id: &str, hash: &str) -> sqlx::Result<CreateUser> {
    let (user, account_id, hash) = (user.clone(), account_id.to_owned(), hash.to_owned());
    let result: sqlx::Result<()> = with_db_write!(db, move |pool| {
        let mut tx = pool.begin_write().await?;
        sqlx::query(
            r#"INSERT INTO "user" ("name", "email", "emailVerified", "image", "createdAt", "updatedAt", "id", "timezone")
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"#,
        )
        .bind(&user.name)
        .bind(&user.email)
        .bind(user.email_verified)
        .bind(&user.image)
        .bind(user.created_at)
        .bind(user.updated_at)
        .bind(&user.id)
        .bind(&user.timezone)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            r#"INSERT INTO "account" ("id", "accountId", "providerId", "userId", "password", "createdAt", "updatedAt")
               VALUES ($1, $2, 'credential', $2, $3, $4, $4)"#,
        )
        .bind(&account_id)
        .bind(&user.id)
        .bind(&hash)
        .bind(user.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    });
    match result {
        Ok(()) => Ok(CreateUser::Created),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(CreateUser::EmailTaken),
        Err(e) => Err(e),
    }
}

/// The profile fields update-user may change; `None` leaves one as it is.
#[derive(Debug, Default, Clone)]
pub struct ProfileChange {
    pub name: Option<String>,
    pub image: Option<Option<String>>,
    pub timezone: Option<String>,
}

pub async fn update_user(db: &Db, id: &str, change: ProfileChange) -> sqlx::Result<()> {
    let now = Timestamp::now();
    let id = id.to_owned();
    with_db_write!(db, move |pool| {
        sqlx::query(
            r#"UPDATE "user" SET "name" = COALESCE($1, "name"), "image" = CASE WHEN $2 THEN $3 ELSE "image" END,
                 "timezone" = COALESCE($4, "timezone"), "updatedAt" = $5 WHERE "id" = $6"#,
        )
        .bind(change.name)
        .bind(change.image.is_some())
        .bind(change.image.flatten())
        .bind(change.timezone)
        .bind(now)
        .bind(id)
        .execute(pool)
        .await
        .map(|_| ())
    })
}

pub async fn set_password_hash(db: &Db, user_id: &str, hash: &str) -> sqlx::Result<()> {
    let (user_id, hash) = (user_id.to_owned(), hash.to_owned());
    with_db_write!(db, move |pool| {
        sqlx::query(
            r#"UPDATE "account" SET "password" = $1, "updatedAt" = $2
               WHERE "userId" = $3 AND "providerId" = 'credential' AND "accountId" = $3"#,
        )
        .bind(hash)
        .bind(Timestamp::now())
        .bind(user_id)
        .execute(pool)
        .await
        .map(|_| ())
    })
}

/// Deletes the user; the foreign keys cascade to everything of theirs.
pub async fn delete_user(db: &Db, id: &str) -> sqlx::Result<bool> {
    let id = id.to_owned();
    with_db_write!(db, move |pool| {
        sqlx::query(r#"DELETE FROM "user" WHERE "id" = $1"#).bind(id).execute(pool).await.map(|r| r.rows_affected() > 0)
    })
}

pub async fn insert_session(db: &Db, s: &Session) -> sqlx::Result<()> {
    let s = s.clone();
    with_db_write!(db, move |pool| {
        sqlx::query(
            r#"INSERT INTO "session" ("id", "expiresAt", "token", "createdAt", "updatedAt", "ipAddress", "userAgent", "userId")
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"#,
        )
        .bind(&s.id)
        .bind(s.expires_at)
        .bind(&s.token)
        .bind(s.created_at)
        .bind(s.updated_at)
        .bind(&s.ip_address)
        .bind(&s.user_agent)
        .bind(&s.user_id)
        .execute(pool)
        .await
        .map(|_| ())
    })
}

/// A session with its user: what every authenticated request needs, in one query.
#[derive(Debug, Clone)]
pub struct SessionWithUser {
    pub session: Session,
    pub user: User,
}

#[derive(FromRow)]
struct SessionUserRow {
    #[sqlx(flatten)]
    session: Session,
    u_name: String,
    u_email: String,
    u_email_verified: bool,
    u_image: Option<String>,
    u_created_at: Timestamp,
    u_updated_at: Timestamp,
    u_timezone: String,
}

pub async fn find_session_by_token(db: &Db, token: &str) -> sqlx::Result<Option<SessionWithUser>> {
    let row: Option<SessionUserRow> = with_db!(db, |pool| {
        sqlx::query_as(
            r#"SELECT s."expiresAt", s."token", s."createdAt", s."updatedAt", s."ipAddress", s."userAgent", s."userId", s."id",
                      u."name" AS u_name, u."email" AS u_email, u."emailVerified" AS u_email_verified, u."image" AS u_image,
                      u."createdAt" AS u_created_at, u."updatedAt" AS u_updated_at, u."timezone" AS u_timezone
               FROM "session" s JOIN "user" u ON u."id" = s."userId"
               WHERE s."token" = $1 AND NOT COALESCE(u."banned", FALSE)"#,
        )
        .bind(token)
        .fetch_optional(pool)
        .await
    })?;
    Ok(row.map(|r| SessionWithUser {
        user: User {
            name: r.u_name,
            email: r.u_email,
            email_verified: r.u_email_verified,
            image: r.u_image,
            created_at: r.u_created_at,
            updated_at: r.u_updated_at,
            id: r.session.user_id.clone(),
            timezone: r.u_timezone,
        },
        session: r.session,
    }))
}

pub async fn extend_session(db: &Db, id: &str, expires_at: Timestamp, now: Timestamp) -> sqlx::Result<()> {
    let id = id.to_owned();
    with_db_write!(db, move |pool| {
        sqlx::query(r#"UPDATE "session" SET "expiresAt" = $1, "updatedAt" = $2 WHERE "id" = $3"#)
            .bind(expires_at)
            .bind(now)
            .bind(id)
            .execute(pool)
            .await
            .map(|_| ())
    })
}

pub async fn list_active_sessions(db: &Db, user_id: &str, now: Timestamp) -> sqlx::Result<Vec<Session>> {
    with_db!(db, |pool| {
        sqlx::query_as::<_, Session>(
            r#"SELECT "expiresAt", "token", "createdAt", "updatedAt", "ipAddress", "userAgent", "userId", "id"
               FROM "session" WHERE "userId" = $1 AND "expiresAt" > $2 ORDER BY "createdAt""#,
        )
        .bind(user_id)
        .bind(now)
        .fetch_all(pool)
        .await
    })
}

pub async fn delete_session_by_token(db: &Db, token: &str) -> sqlx::Result<()> {
    let token = token.to_owned();
    with_db_write!(db, move |pool| {
        sqlx::query(r#"DELETE FROM "session" WHERE "token" = $1"#).bind(token).execute(pool).await.map(|_| ())
    })
}

/// Deletes the session only when it belongs to `user_id` (revoking someone else's token does nothing).
pub async fn delete_user_session_by_token(db: &Db, user_id: &str, token: &str) -> sqlx::Result<()> {
    let (user_id, token) = (user_id.to_owned(), token.to_owned());
    with_db_write!(db, move |pool| {
        sqlx::query(r#"DELETE FROM "session" WHERE "token" = $1 AND "userId" = $2"#)
            .bind(token)
            .bind(user_id)
            .execute(pool)
            .await
            .map(|_| ())
    })
}

/// Deletes every session of the user except `keep_token` (none kept when `None`); returns how many ended.
pub async fn delete_user_sessions(db: &Db, user_id: &str, keep_token: Option<&str>) -> sqlx::Result<u64> {
    let (user_id, keep_token) = (user_id.to_owned(), keep_token.unwrap_or("").to_owned());
    with_db_write!(db, move |pool| {
        sqlx::query(r#"DELETE FROM "session" WHERE "userId" = $1 AND "token" <> $2"#)
            .bind(user_id)
            .bind(keep_token)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })
}

pub async fn list_jwks(db: &Db) -> sqlx::Result<Vec<JwksRow>> {
    with_db!(db, |pool| {
        sqlx::query_as::<_, JwksRow>(
            r#"SELECT "id", "publicKey", "privateKey", "createdAt", "expiresAt", "alg" FROM "jwks" ORDER BY "createdAt" DESC"#,
        )
        .fetch_all(pool)
        .await
    })
}

pub async fn insert_jwk(db: &Db, id: &str, public_key: &str, private_key: &str, now: Timestamp) -> sqlx::Result<()> {
    let (id, public_key, private_key) = (id.to_owned(), public_key.to_owned(), private_key.to_owned());
    with_db_write!(db, move |pool| {
        sqlx::query(
            r#"INSERT INTO "jwks" ("id", "publicKey", "privateKey", "createdAt", "expiresAt", "alg", "crv")
               VALUES ($1, $2, $3, $4, NULL, 'EdDSA', 'Ed25519')"#,
        )
        .bind(id)
        .bind(public_key)
        .bind(private_key)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ())
    })
}

/// Whether an operator disabled the account (Better Auth admin plugin's `banned`).
pub async fn is_disabled(db: &Db, user_id: &str) -> sqlx::Result<bool> {
    let row: Option<(Option<bool>,)> = with_db!(db, |pool| {
        sqlx::query_as(r#"SELECT "banned" FROM "user" WHERE "id" = $1"#).bind(user_id).fetch_optional(pool).await
    })?;
    Ok(row.and_then(|(b,)| b).unwrap_or(false))
}
