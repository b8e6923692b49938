//! SQL for conversations and their messages. Every statement is scoped by `user_id`.

use serde::Serialize;
use serde_json::Value;
use sqlx::FromRow;

use crate::db::{BeginWrite, Db, Timestamp};
use crate::{with_db, with_db_write};

#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct Conversation {
    pub id: String,
    pub title: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, FromRow)]
struct MessageRow {
    id: String,
    conversation_id: String,
    seq: i64,
    role: String,
    content: String,
    tool_calls: Option<String>,
    created_at: Timestamp,
    partial: bool,
}

/// A stored message. `tool_calls` (assistant messages) records each call: `{name, arguments, result}`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Message {
    pub id: String,
    #[serde(skip)]
    pub conversation_id: String,
    #[serde(skip)]
    pub seq: i64,
    pub role: String,
    pub content: String,
    pub tool_calls: Vec<Value>,
    pub created_at: Timestamp,
    /// An answer cut short (the model failed after tools ran, or the person stopped it).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

impl From<MessageRow> for Message {
    fn from(r: MessageRow) -> Self {
        Message {
            id: r.id,
            conversation_id: r.conversation_id,
            seq: r.seq,
            role: r.role,
            content: r.content,
            tool_calls: r.tool_calls.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default(),
            created_at: r.created_at,
            partial: r.partial,
        }
    }
}

macro_rules! message_columns {
    () => {
        "id, conversation_id, seq, role, content, tool_calls, created_at, partial"
    };
}

pub async fn create_conversation(db: &Db, user_id: &str, id: &str, title: Option<&str>) -> sqlx::Result<Conversation> {
    let now = Timestamp::now();
    let (id, user_id, title) = (id.to_owned(), user_id.to_owned(), title.map(str::to_owned));
    with_db_write!(db, move |pool| {
        sqlx::query_as::<_, Conversation>(
            "INSERT INTO conversation (id, user_id, title, last_seq, created_at, updated_at)
             VALUES ($1, $2, $3, 0, $4, $4) RETURNING id, title, created_at, updated_at",
        )
        .bind(id)
        .bind(user_id)
        .bind(title)
        .bind(now)
        .fetch_one(pool)
        .await
    })
}

pub async fn find_conversation(db: &Db, user_id: &str, id: &str) -> sqlx::Result<Option<Conversation>> {
    with_db!(db, |pool| {
        sqlx::query_as::<_, Conversation>(
            "SELECT id, title, created_at, updated_at FROM conversation WHERE id = $1 AND user_id = $2",
        )
        .bind(id)
        .bind(user_id)
        .fetch_optional(pool)
        .await
    })
}

/// A page of conversations ordered by last activity: newest first, or oldest first when `ascending`. `cursor`
/// is the (updated_at, id) of the last row of the previous page.
pub async fn list_conversations(
    db: &Db,
    user_id: &str,
    limit: i64,
    cursor: Option<(Timestamp, String)>,
    ascending: bool,
) -> sqlx::Result<Vec<Conversation>> {
    let (at, id) = match cursor {
        Some((at, id)) => (Some(at), id),
        None => (None, String::new()),
    };
    let sql = if ascending {
        "SELECT id, title, created_at, updated_at FROM conversation
         WHERE user_id = $1 AND ($2 IS NULL OR updated_at > $2 OR (updated_at = $2 AND id > $3))
         ORDER BY updated_at ASC, id ASC LIMIT $4"
    } else {
        "SELECT id, title, created_at, updated_at FROM conversation
         WHERE user_id = $1 AND ($2 IS NULL OR updated_at < $2 OR (updated_at = $2 AND id < $3))
         ORDER BY updated_at DESC, id DESC LIMIT $4"
    };
    with_db!(db, |pool| {
        sqlx::query_as::<_, Conversation>(sql).bind(user_id).bind(at).bind(&id).bind(limit).fetch_all(pool).await
    })
}

pub async fn rename_conversation(db: &Db, user_id: &str, id: &str, title: &str) -> sqlx::Result<Option<Conversation>> {
    let (user_id, id, title) = (user_id.to_owned(), id.to_owned(), title.to_owned());
    with_db_write!(db, move |pool| {
        sqlx::query_as::<_, Conversation>(
            "UPDATE conversation SET title = $1 WHERE id = $2 AND user_id = $3
             RETURNING id, title, created_at, updated_at",
        )
        .bind(title)
        .bind(id)
        .bind(user_id)
        .fetch_optional(pool)
        .await
    })
}

/// Sets the title only if it has none yet (the first message names the conversation).
pub async fn set_title_if_unset(db: &Db, user_id: &str, id: &str, title: &str) -> sqlx::Result<bool> {
    let (user_id, id, title) = (user_id.to_owned(), id.to_owned(), title.to_owned());
    with_db_write!(db, move |pool| {
        sqlx::query("UPDATE conversation SET title = $1 WHERE id = $2 AND user_id = $3 AND title IS NULL")
            .bind(title)
            .bind(id)
            .bind(user_id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected() > 0)
    })
}

/// Deletes the caller's conversation (its messages cascade) and returns it as it was.
pub async fn delete_conversation(db: &Db, user_id: &str, id: &str) -> sqlx::Result<Option<Conversation>> {
    let (user_id, id) = (user_id.to_owned(), id.to_owned());
    with_db_write!(db, move |pool| {
        sqlx::query_as::<_, Conversation>(
            "DELETE FROM conversation WHERE id = $1 AND user_id = $2 RETURNING id, title, created_at, updated_at",
        )
        .bind(id)
        .bind(user_id)
        .fetch_optional(pool)
        .await
    })
}

/// Appends a message; its `seq` comes from the conversation's counter in the same statement, and the
/// conversation moves to the top of the list. `None` when the conversation is not the user's.
pub async fn insert_message(
    db: &Db,
    user_id: &str,
    conversation_id: &str,
    role: &str,
    content: &str,
    tool_calls: &[Value],
) -> sqlx::Result<Option<Message>> {
    insert_message_with_id(db, &new_message_id(), user_id, conversation_id, role, content, tool_calls, false).await
}

/// A new message id: time-ordered, so ids sort like the messages they name.
pub fn new_message_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// [`insert_message`] with an id chosen beforehand (a streamed answer is announced under its final id), and
/// whether the answer was cut short.
#[allow(clippy::too_many_arguments)]
pub async fn insert_message_with_id(
    db: &Db,
    id: &str,
    user_id: &str,
    conversation_id: &str,
    role: &str,
    content: &str,
    tool_calls: &[Value],
    partial: bool,
) -> sqlx::Result<Option<Message>> {
    // One statement each way, numbered from the conversation's counter (see `tasks::store::insert_task`):
    // PostgreSQL bumps it in a data-modifying WITH, SQLite reads it in the SELECT and a trigger bumps it
    // with the conversation's `updated_at` (migration 0009). No row: the conversation is not the user's.
    const POSTGRES: &str = concat!(
        "WITH c AS (
           UPDATE conversation SET last_seq = last_seq + 1, updated_at = $8
           WHERE id = $2 AND user_id = $3 RETURNING last_seq)
         INSERT INTO message (id, conversation_id, user_id, seq, role, content, tool_calls, created_at, partial)
         SELECT $1, $2, $3, c.last_seq, $4, $5, $6, $8, $7 FROM c RETURNING ",
        message_columns!()
    );
    const SQLITE: &str = concat!(
        "INSERT INTO message (id, conversation_id, user_id, seq, role, content, tool_calls, created_at, partial)
         SELECT $1, id, user_id, last_seq + 1, $4, $5, $6, $8, $7 FROM conversation
         WHERE id = $2 AND user_id = $3 RETURNING ",
        message_columns!()
    );
    let now = Timestamp::now();
    let calls = (!tool_calls.is_empty()).then(|| Value::Array(tool_calls.to_vec()).to_string());
    let sql = if matches!(db, Db::Postgres(_)) { POSTGRES } else { SQLITE };
    let (id, conversation_id, user_id) = (id.to_owned(), conversation_id.to_owned(), user_id.to_owned());
    let (role, content) = (role.to_owned(), content.to_owned());
    let row: Option<MessageRow> = with_db_write!(db, move |pool| {
        sqlx::query_as(sql)
            .bind(id)
            .bind(conversation_id)
            .bind(user_id)
            .bind(role)
            .bind(content)
            .bind(&calls)
            .bind(partial)
            .bind(now)
            .fetch_optional(pool)
            .await
    })?;
    Ok(row.map(Message::from))
}

#[derive(Debug, FromRow)]
struct ConversationWithMessageRow {
    c_id: String,
    c_title: Option<String>,
    c_created_at: Timestamp,
    c_updated_at: Timestamp,
    id: Option<String>,
    conversation_id: Option<String>,
    seq: Option<i64>,
    role: Option<String>,
    content: Option<String>,
    tool_calls: Option<String>,
    created_at: Option<Timestamp>,
    partial: Option<bool>,
}

/// The caller's conversation with its newest `limit` messages (newest first), in one query: what a chat turn
/// reads before it runs. `None` when the conversation is not the caller's.
pub async fn conversation_with_recent(
    db: &Db,
    user_id: &str,
    conversation_id: &str,
    limit: i64,
) -> sqlx::Result<Option<(Conversation, Vec<Message>)>> {
    const SQL: &str = concat!(
        "SELECT c.id AS c_id, c.title AS c_title, c.created_at AS c_created_at, c.updated_at AS c_updated_at, m.*
         FROM conversation c
         LEFT JOIN (SELECT ",
        message_columns!(),
        " FROM message WHERE conversation_id = $1 AND user_id = $2 ORDER BY seq DESC LIMIT $3) m ON TRUE
         WHERE c.id = $1 AND c.user_id = $2
         ORDER BY m.seq DESC"
    );
    let rows: Vec<ConversationWithMessageRow> = with_db!(db, |pool| {
        sqlx::query_as(SQL).bind(conversation_id).bind(user_id).bind(limit).fetch_all(pool).await
    })?;
    let Some(first) = rows.first() else { return Ok(None) };
    let conversation = Conversation {
        id: first.c_id.clone(),
        title: first.c_title.clone(),
        created_at: first.c_created_at,
        updated_at: first.c_updated_at,
    };
    let messages = rows
        .into_iter()
        .filter_map(|r| {
            Some(Message::from(MessageRow {
                id: r.id?,
                conversation_id: r.conversation_id?,
                seq: r.seq?,
                role: r.role?,
                content: r.content?,
                tool_calls: r.tool_calls,
                created_at: r.created_at?,
                partial: r.partial?,
            }))
        })
        .collect();
    Ok(Some((conversation, messages)))
}

/// Oldest first, after `after_seq`, at most `limit`.
pub async fn list_messages(
    db: &Db,
    user_id: &str,
    conversation_id: &str,
    after_seq: i64,
    limit: i64,
) -> sqlx::Result<Vec<Message>> {
    const SQL: &str = concat!(
        "SELECT ",
        message_columns!(),
        " FROM message WHERE conversation_id = $1 AND user_id = $2 AND seq > $3 ORDER BY seq LIMIT $4"
    );
    page_messages(db, SQL, user_id, conversation_id, after_seq, limit).await
}

/// Newest first, before `before_seq` (exclusive), at most `limit`.
pub async fn list_messages_desc(
    db: &Db,
    user_id: &str,
    conversation_id: &str,
    before_seq: i64,
    limit: i64,
) -> sqlx::Result<Vec<Message>> {
    const SQL: &str = concat!(
        "SELECT ",
        message_columns!(),
        " FROM message WHERE conversation_id = $1 AND user_id = $2 AND seq < $3 ORDER BY seq DESC LIMIT $4"
    );
    page_messages(db, SQL, user_id, conversation_id, before_seq, limit).await
}

async fn page_messages(
    db: &Db,
    sql: &'static str,
    user_id: &str,
    conversation_id: &str,
    seq: i64,
    limit: i64,
) -> sqlx::Result<Vec<Message>> {
    let rows: Vec<MessageRow> = with_db!(db, |pool| {
        sqlx::query_as(sql).bind(conversation_id).bind(user_id).bind(seq).bind(limit).fetch_all(pool).await
    })?;
    Ok(rows.into_iter().map(Message::from).collect())
}

pub async fn find_message(db: &Db, user_id: &str, conversation_id: &str, id: &str) -> sqlx::Result<Option<Message>> {
    let row: Option<MessageRow> = with_db!(db, |pool| {
        sqlx::query_as(concat!(
            "SELECT ",
            message_columns!(),
            " FROM message WHERE id = $1 AND conversation_id = $2 AND user_id = $3"
        ))
        .bind(id)
        .bind(conversation_id)
        .bind(user_id)
        .fetch_optional(pool)
        .await
    })?;
    Ok(row.map(Message::from))
}

/// Removes every message after `seq` (a retry replaces what followed the person's message).
pub async fn delete_messages_after(db: &Db, user_id: &str, conversation_id: &str, seq: i64) -> sqlx::Result<u64> {
    let (user_id, conversation_id) = (user_id.to_owned(), conversation_id.to_owned());
    with_db_write!(db, move |pool| {
        sqlx::query("DELETE FROM message WHERE conversation_id = $1 AND user_id = $2 AND seq > $3")
            .bind(conversation_id)
            .bind(user_id)
            .bind(seq)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })
}

/// Records feedback on the caller's messages of one conversation; returns how many were found.
pub async fn set_feedback(
    db: &Db,
    user_id: &str,
    conversation_id: &str,
    message_ids: &[String],
    kind: &str,
) -> sqlx::Result<u64> {
    let (user_id, conversation_id) = (user_id.to_owned(), conversation_id.to_owned());
    let (message_ids, kind) = (message_ids.to_vec(), kind.to_owned());
    with_db_write!(db, move |pool| {
        let mut found = 0;
        let mut tx = pool.begin_write().await?;
        for id in message_ids {
            found +=
                sqlx::query("UPDATE message SET feedback = $1 WHERE id = $2 AND conversation_id = $3 AND user_id = $4")
                    .bind(&kind)
                    .bind(id)
                    .bind(&conversation_id)
                    .bind(&user_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
        }
        tx.commit().await?;
        Ok(found)
    })
}

/// Removes one message of the caller's (a cut-short answer replaced by the full one).
pub async fn delete_message(db: &Db, user_id: &str, id: &str) -> sqlx::Result<()> {
    let (user_id, id) = (user_id.to_owned(), id.to_owned());
    with_db_write!(db, move |pool| {
        sqlx::query("DELETE FROM message WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(pool)
            .await
            .map(|_| ())
    })
}
