//! The tool calls, exactly as a real model would write them.

use serde_json::{Value, json};

use super::ToolCall;

pub(super) fn tool(name: &str, arguments: Value) -> ToolCall {
    ToolCall { name: name.to_string(), arguments }
}

pub(super) fn add_call(title: &str, description: Option<&str>) -> ToolCall {
    let mut args = json!({ "title": title });
    if let Some(d) = description {
        args["description"] = json!(d);
    }
    tool("add_task", args)
}

pub(super) fn list_call(status: &str) -> ToolCall {
    tool("list_tasks", json!({ "status": status }))
}

pub(super) fn complete_call(n: i64) -> ToolCall {
    tool("complete_task", json!({ "task_id": n }))
}

pub(super) fn delete_call(n: i64) -> ToolCall {
    tool("delete_task", json!({ "task_id": n }))
}

pub(super) fn update_call(n: i64, title: Option<&str>, description: Option<&str>) -> ToolCall {
    let mut args = json!({ "task_id": n });
    if let Some(t) = title {
        args["title"] = json!(t);
    }
    if let Some(d) = description {
        args["description"] = json!(d);
    }
    tool("update_task", args)
}
