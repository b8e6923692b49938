//! ChatKit's thread and item shapes, built from our conversations and messages. An answer that used tools is
//! shown as two items: a `workflow` (id `wf_<message id>`) listing what the tools did, then the
//! `assistant_message` itself; both come from the one stored message, so ids are stable across reloads.

use serde_json::{Value, json};

use crate::chat::store::{self, Conversation, Message};
use crate::chat::tools;
use crate::db::Db;
use crate::error::AppResult;

const WORKFLOW_PREFIX: &str = "wf_";

pub fn workflow_id(message_id: &str) -> String {
    format!("{WORKFLOW_PREFIX}{message_id}")
}

/// The message an item id belongs to.
pub fn message_id_of(item_id: &str) -> &str {
    item_id.strip_prefix(WORKFLOW_PREFIX).unwrap_or(item_id)
}

pub fn empty_page() -> Value {
    json!({"data": [], "has_more": false})
}

/// A thread as ChatKit shows it (the title is left out while there is none).
pub fn thread_json(c: &Conversation, items: Value) -> Value {
    let mut t = json!({
        "id": c.id,
        "created_at": c.created_at.to_iso(),
        "status": {"type": "active"},
        "metadata": {},
        "items": items,
    });
    if let Some(title) = &c.title {
        t["title"] = json!(title);
    }
    t
}

pub fn user_item(thread_id: &str, m: &Message) -> Value {
    json!({
        "id": m.id,
        "thread_id": thread_id,
        "created_at": m.created_at.to_iso(),
        "type": "user_message",
        "content": [{"type": "input_text", "text": m.content}],
        "attachments": [],
        "inference_options": {},
    })
}

pub fn assistant_item(thread_id: &str, m: &Message) -> Value {
    json!({
        "id": m.id,
        "thread_id": thread_id,
        "created_at": m.created_at.to_iso(),
        "type": "assistant_message",
        "content": [{"annotations": [], "text": m.content, "type": "output_text"}],
    })
}

fn icon(tool: &str) -> &'static str {
    match tool {
        "add_task" => "plus",
        "list_tasks" => "search",
        "complete_task" => "check-circle",
        "delete_task" => "empty-circle",
        "update_task" => "write",
        _ => "bolt",
    }
}

pub fn workflow_task(title: &str, tool: &str, status: &str) -> Value {
    json!({"type": "custom", "title": title, "icon": icon(tool), "status_indicator": status})
}

pub fn workflow_item(id: &str, thread_id: &str, created_at: &str, tasks: &[Value]) -> Value {
    json!({
        "id": id,
        "thread_id": thread_id,
        "created_at": created_at,
        "type": "workflow",
        "workflow": {"type": "custom", "tasks": tasks, "expanded": false},
    })
}

/// The items one stored message shows as, in order.
fn items_of(thread_id: &str, m: &Message) -> Vec<Value> {
    if m.role == "user" {
        return vec![user_item(thread_id, m)];
    }
    let mut out = vec![];
    if !m.tool_calls.is_empty() {
        let tasks: Vec<Value> = m
            .tool_calls
            .iter()
            .map(|c| {
                let name = c["name"].as_str().unwrap_or_default();
                let result = c["result"].clone();
                let is_error = result.get("error").is_some();
                workflow_task(&tools::done_title(name, &tools::ToolOutcome { result, is_error }), name, "complete")
            })
            .collect();
        out.push(workflow_item(&workflow_id(&m.id), thread_id, &m.created_at.to_iso(), &tasks));
    }
    out.push(assistant_item(thread_id, m));
    out
}

/// A page of items, `after` being the id of the last item of the previous page.
pub async fn page(
    db: &Db,
    user_id: &str,
    thread_id: &str,
    limit: i64,
    descending: bool,
    after: Option<&str>,
) -> AppResult<Value> {
    // Where the page starts: the message of the cursor item (a workflow shares its message's position).
    let anchor = match after {
        Some(item) => Some(
            store::find_message(db, user_id, thread_id, message_id_of(item))
                .await?
                .ok_or_else(|| crate::error::AppError::validation("The `after` item is not in this thread."))?,
        ),
        None => None,
    };
    // Each message yields at most two items, so limit + 2 messages always fill the page and tell if there is more.
    let fetch = limit + 2;
    let messages = match (&anchor, descending) {
        (None, false) => store::list_messages(db, user_id, thread_id, 0, fetch).await?,
        (Some(m), false) => store::list_messages(db, user_id, thread_id, m.seq - 1, fetch).await?,
        (None, true) => store::list_messages_desc(db, user_id, thread_id, i64::MAX, fetch).await?,
        (Some(m), true) => store::list_messages_desc(db, user_id, thread_id, m.seq + 1, fetch).await?,
    };
    let mut all: Vec<Value> = vec![];
    for m in &messages {
        let mut its = items_of(thread_id, m);
        if descending {
            its.reverse();
        }
        all.extend(its);
    }
    // Drop everything up to and including the cursor item.
    if let Some(item) = after
        && let Some(pos) = all.iter().position(|i| i["id"] == item)
    {
        all.drain(..=pos);
    }
    let has_more = all.len() as i64 > limit;
    all.truncate(limit as usize);
    let mut page = json!({"data": all, "has_more": has_more});
    if has_more && let Some(last) = page["data"].as_array().and_then(|d| d.last()).map(|i| i["id"].clone()) {
        page["after"] = last;
    }
    Ok(page)
}
