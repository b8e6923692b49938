//! SQL for tasks. Every statement filters by `user_id`: ownership is part of the query, not a later check.

use crate::db::{Db, Timestamp};
use crate::{with_db, with_db_write};

use super::service::{StatusFilter, Task};

/// The columns a [`Task`] reads, as a literal so query texts stay `&'static str`.
macro_rules! columns {
    () => {
        "id, number, title, description, completed, created_at, updated_at, completed_at"
    };
}

pub async fn insert_task(
    db: &Db,
    user_id: &str,
    id: &str,
    title: &str,
    description: Option<&str>,
) -> sqlx::Result<Task> {
    // One statement each way: the counter row is the only source of numbers, so a number is never handed out
    // twice. PostgreSQL bumps it in a data-modifying WITH (its row lock orders concurrent inserts); SQLite,
    // whose writes are serial, reads it in a subquery and a trigger bumps it (migration 0009).
    const POSTGRES: &str = concat!(
        "WITH n AS (
           INSERT INTO task_counter (user_id, last_number) VALUES ($2, 1)
           ON CONFLICT (user_id) DO UPDATE SET last_number = task_counter.last_number + 1
           RETURNING last_number)
         INSERT INTO task (id, user_id, number, title, description, completed, created_at, updated_at)
         SELECT $1, $2, n.last_number, $3, $4, $5, $6, $6 FROM n RETURNING ",
        columns!()
    );
    const SQLITE: &str = concat!(
        "INSERT INTO task (id, user_id, number, title, description, completed, created_at, updated_at)
         VALUES ($1, $2, COALESCE((SELECT last_number FROM task_counter WHERE user_id = $2), 0) + 1,
                 $3, $4, $5, $6, $6)
         RETURNING ",
        columns!()
    );
    let now = Timestamp::now();
    let sql = if matches!(db, Db::Postgres(_)) { POSTGRES } else { SQLITE };
    let (user_id, id, title, description) =
        (user_id.to_owned(), id.to_owned(), title.to_owned(), description.map(str::to_owned));
    with_db_write!(db, move |pool| {
        sqlx::query_as::<_, Task>(sql)
            .bind(id)
            .bind(user_id)
            .bind(title)
            .bind(description)
            .bind(false)
            .bind(now)
            .fetch_one(pool)
            .await
    })
}

pub async fn list_tasks_for_user(db: &Db, user_id: &str, filter: StatusFilter) -> sqlx::Result<Vec<Task>> {
    let completed: Option<bool> = match filter {
        StatusFilter::All => None,
        StatusFilter::Pending => Some(false),
        StatusFilter::Completed => Some(true),
    };
    with_db!(db, |pool| {
        sqlx::query_as::<_, Task>(concat!(
            "SELECT ",
            columns!(),
            " FROM task WHERE user_id = $1 AND ($2 IS NULL OR completed = $2) ORDER BY number"
        ))
        .bind(user_id)
        .bind(completed)
        .fetch_all(pool)
        .await
    })
}

pub async fn find_task(db: &Db, user_id: &str, number: i64) -> sqlx::Result<Option<Task>> {
    with_db!(db, |pool| {
        sqlx::query_as::<_, Task>(concat!("SELECT ", columns!(), " FROM task WHERE user_id = $1 AND number = $2"))
            .bind(user_id)
            .bind(number)
            .fetch_optional(pool)
            .await
    })
}

/// Applies a patch in one statement (no read-modify-write race). `set_description` says whether the
/// description changes at all, since `None` in `description` means "clear it".
pub async fn update_task(
    db: &Db,
    user_id: &str,
    number: i64,
    title: Option<&str>,
    set_description: bool,
    description: Option<&str>,
    completed: Option<bool>,
) -> sqlx::Result<Option<Task>> {
    let now = Timestamp::now();
    let (user_id, title, description) = (user_id.to_owned(), title.map(str::to_owned), description.map(str::to_owned));
    with_db_write!(db, move |pool| {
        sqlx::query_as::<_, Task>(concat!(
            "UPDATE task SET
               title = COALESCE($1, title),
               description = CASE WHEN $2 THEN $3 ELSE description END,
               completed = COALESCE($4, completed),
               completed_at = CASE WHEN $4 IS NULL THEN completed_at
                                   WHEN $4 THEN COALESCE(completed_at, $5)
                                   ELSE NULL END,
               updated_at = $5
             WHERE user_id = $6 AND number = $7
             RETURNING ",
            columns!(),
            ""
        ))
        .bind(title)
        .bind(set_description)
        .bind(description)
        .bind(completed)
        .bind(now)
        .bind(user_id)
        .bind(number)
        .fetch_optional(pool)
        .await
    })
}

pub async fn delete_task(db: &Db, user_id: &str, number: i64) -> sqlx::Result<Option<Task>> {
    let user_id = user_id.to_owned();
    with_db_write!(db, move |pool| {
        sqlx::query_as::<_, Task>(concat!(
            "DELETE FROM task WHERE user_id = $1 AND number = $2 RETURNING ",
            columns!(),
            ""
        ))
        .bind(user_id)
        .bind(number)
        .fetch_optional(pool)
        .await
    })
}
