//! What an operator can do to accounts from the command line (`taskchat users …`, `taskchat sessions …`):
//! list and inspect people, verify, disable and enable them, delete them with everything of theirs, and list
//! or end sessions. Disabling uses Better Auth's admin-plugin column `banned`.

use serde::Serialize;
use sqlx::FromRow;

use crate::db::{BeginWrite, Db, Timestamp};
use crate::{with_db, with_db_write};

/// A person as the operator sees them.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct UserSummary {
    pub id: String,
    pub email: String,
    pub name: String,
    pub created_at: Timestamp,
    pub email_verified: bool,
    pub disabled: bool,
    pub sessions: i64,
    pub tasks: i64,
}

/// Which people `users list` shows.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Part of the email or name, case-insensitive.
    pub search: Option<String>,
    pub disabled_only: bool,
    pub unverified_only: bool,
    pub limit: i64,
}

const SUMMARY: &str = r#"SELECT u."id" AS id, u."email" AS email, u."name" AS name, u."createdAt" AS created_at,
       u."emailVerified" AS email_verified, COALESCE(u."banned", FALSE) AS disabled,
       (SELECT COUNT(*) FROM "session" s WHERE s."userId" = u."id" AND s."expiresAt" > $1) AS sessions,
       (SELECT COUNT(*) FROM task t WHERE t.user_id = u."id") AS tasks
  FROM "user" u"#;

pub async fn list_users(db: &Db, filter: &UserFilter) -> sqlx::Result<Vec<UserSummary>> {
    let pattern = filter.search.as_ref().map(|s| format!("%{}%", s.to_lowercase()));
    let sql = format!(
        r#"{SUMMARY}
        WHERE ($2 IS NULL OR LOWER(u."email") LIKE $2 OR LOWER(u."name") LIKE $2)
          AND ($3 = FALSE OR COALESCE(u."banned", FALSE) = TRUE)
          AND ($4 = FALSE OR u."emailVerified" = FALSE)
        ORDER BY u."createdAt", u."id" LIMIT $5"#
    );
    with_db!(db, |pool| {
        sqlx::query_as::<_, UserSummary>(sqlx::AssertSqlSafe(sql))
            .bind(Timestamp::now())
            .bind(pattern)
            .bind(filter.disabled_only)
            .bind(filter.unverified_only)
            .bind(filter.limit)
            .fetch_all(pool)
            .await
    })
}

/// A person by email (any case) or id.
pub async fn find_user(db: &Db, email_or_id: &str) -> sqlx::Result<Option<UserSummary>> {
    let sql = format!(r#"{SUMMARY} WHERE u."id" = $2 OR u."email" = $3"#);
    with_db!(db, |pool| {
        sqlx::query_as::<_, UserSummary>(sqlx::AssertSqlSafe(sql))
            .bind(Timestamp::now())
            .bind(email_or_id)
            .bind(email_or_id.trim().to_lowercase())
            .fetch_optional(pool)
            .await
    })
}

pub async fn set_verified(db: &Db, id: &str, verified: bool) -> sqlx::Result<()> {
    let id = id.to_owned();
    with_db_write!(db, move |pool| {
        sqlx::query(r#"UPDATE "user" SET "emailVerified" = $1, "updatedAt" = $2 WHERE "id" = $3"#)
            .bind(verified)
            .bind(Timestamp::now())
            .bind(id)
            .execute(pool)
            .await
            .map(|_| ())
    })
}

/// Disables (or enables) a person. Disabling ends every session of theirs in the same transaction.
pub async fn set_disabled(db: &Db, id: &str, disabled: bool) -> sqlx::Result<u64> {
    let id = id.to_owned();
    with_db_write!(db, move |pool| {
        let mut tx = pool.begin_write().await?;
        sqlx::query(r#"UPDATE "user" SET "banned" = $1, "banReason" = $2, "updatedAt" = $3 WHERE "id" = $4"#)
            .bind(disabled)
            .bind(disabled.then_some("disabled by an operator"))
            .bind(Timestamp::now())
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        let ended = if disabled {
            sqlx::query(r#"DELETE FROM "session" WHERE "userId" = $1"#)
                .bind(&id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        } else {
            0
        };
        tx.commit().await?;
        Ok(ended)
    })
}

/// A session as the operator sees it (never its token).
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct SessionSummary {
    pub id: String,
    pub user_id: String,
    pub email: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

pub async fn list_sessions(db: &Db, user_id: Option<&str>) -> sqlx::Result<Vec<SessionSummary>> {
    with_db!(db, |pool| {
        sqlx::query_as::<_, SessionSummary>(
            r#"SELECT s."id" AS id, s."userId" AS user_id, u."email" AS email, s."createdAt" AS created_at,
                      s."expiresAt" AS expires_at, s."ipAddress" AS ip_address, s."userAgent" AS user_agent
                 FROM "session" s JOIN "user" u ON u."id" = s."userId"
                WHERE s."expiresAt" > $1 AND ($2 IS NULL OR s."userId" = $2)
                ORDER BY s."createdAt" DESC"#,
        )
        .bind(Timestamp::now())
        .bind(user_id)
        .fetch_all(pool)
        .await
    })
}

/// Ends one session by its id; false when there is none.
pub async fn revoke_session(db: &Db, id: &str) -> sqlx::Result<bool> {
    let id = id.to_owned();
    with_db_write!(db, move |pool| {
        sqlx::query(r#"DELETE FROM "session" WHERE "id" = $1"#)
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected() > 0)
    })
}
