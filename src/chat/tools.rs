//! The task tools, defined once: name, a description written for a model, the JSON Schema of the arguments,
//! and the handler that calls the task service. The agent offers them to models and the MCP server exposes
//! them unchanged. The user is always the authenticated caller, never an argument.
//!
//! Results are JSON a model can explain: the task as it now is, or an error result naming what went wrong and
//! what exists (the closest titles), never an exception that ends the turn.

use serde_json::{Value, json};

use crate::tasks::{MAX_DESCRIPTION, MAX_TITLE, NewTask, StatusFilter, Task, TaskError, TaskPatch, TaskService};

/// One tool as models and MCP clients see it.
#[derive(Debug, Clone)]
pub struct ToolDef {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub input_schema: Value,
    /// Whether the tool only reads (MCP's `readOnlyHint`).
    pub read_only: bool,
    /// Whether the tool destroys data (MCP's `destructiveHint`).
    pub destructive: bool,
}

/// What a tool call produced: JSON for the model, and whether it is an error result.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutcome {
    pub result: Value,
    pub is_error: bool,
}

impl ToolOutcome {
    fn ok(result: Value) -> Self {
        ToolOutcome { result, is_error: false }
    }

    fn error(kind: &str, message: impl Into<String>, extra: Option<(&str, Value)>) -> Self {
        let mut result = json!({ "error": kind, "message": message.into() });
        if let Some((k, v)) = extra {
            result[k] = v;
        }
        ToolOutcome { result, is_error: true }
    }
}

fn task_id_schema() -> Value {
    json!({
        "type": "integer",
        "minimum": 1,
        "description": "The task's number as the person sees it in their list (1, 2, 3 …)."
    })
}

/// The five task tools.
pub fn definitions() -> Vec<ToolDef> {
    vec![
        ToolDef {
            name: "add_task",
            title: "Add a task",
            description: "Add a new task to the person's list. Use the person's own words for the title (short, \
                          without filler like 'add a task to'); put extra detail in the description. Returns the new \
                          task with its number.",
            input_schema: json!({
                "type": "object",
                "properties": {
                    "title": {"type": "string", "minLength": 1, "maxLength": MAX_TITLE, "description": "What to do, e.g. 'buy milk'."},
                    "description": {"type": "string", "maxLength": MAX_DESCRIPTION, "description": "Optional details."}
                },
                "required": ["title"],
                "additionalProperties": false
            }),
            read_only: false,
            destructive: false,
        },
        ToolDef {
            name: "list_tasks",
            title: "List tasks",
            description: "List the person's tasks with their numbers: all of them, only pending ones (not done yet), \
                          or only completed ones. Use it to answer questions about the list or to find a task's \
                          number before changing it.",
            input_schema: json!({
                "type": "object",
                "properties": {
                    "status": {"type": "string", "enum": ["all", "pending", "completed"], "default": "all",
                               "description": "Which tasks to list."}
                },
                "additionalProperties": false
            }),
            read_only: true,
            destructive: false,
        },
        ToolDef {
            name: "complete_task",
            title: "Complete a task",
            description: "Mark one of the person's tasks as done, by its number. Returns the task as it now is.",
            input_schema: json!({
                "type": "object",
                "properties": {"task_id": task_id_schema()},
                "required": ["task_id"],
                "additionalProperties": false
            }),
            read_only: false,
            destructive: false,
        },
        ToolDef {
            name: "delete_task",
            title: "Delete a task",
            description: "Delete one of the person's tasks, by its number. This cannot be undone. Returns the task \
                          as it was.",
            input_schema: json!({
                "type": "object",
                "properties": {"task_id": task_id_schema()},
                "required": ["task_id"],
                "additionalProperties": false
            }),
            read_only: false,
            destructive: true,
        },
        ToolDef {
            name: "update_task",
            title: "Update a task",
            description: "Change the title and/or description of one of the person's tasks, by its number. Give \
                          only what changes; an empty description clears it. Returns the task as it now is.",
            input_schema: json!({
                "type": "object",
                "properties": {
                    "task_id": task_id_schema(),
                    "title": {"type": "string", "minLength": 1, "maxLength": MAX_TITLE, "description": "The new title."},
                    "description": {"type": "string", "maxLength": MAX_DESCRIPTION, "description": "The new description."}
                },
                "required": ["task_id"],
                "additionalProperties": false
            }),
            read_only: false,
            destructive: false,
        },
    ]
}

/// The names of the tools, for quick membership checks.
pub fn is_tool(name: &str) -> bool {
    matches!(name, "add_task" | "list_tasks" | "complete_task" | "delete_task" | "update_task")
}

/// A task as tools show it: what a model needs to talk about it.
pub fn task_view(t: &Task) -> Value {
    json!({
        "number": t.number,
        "title": t.title,
        "description": t.description,
        "completed": t.completed,
    })
}

/// Runs a tool as `user_id`. Arguments come from a model or a client and are checked here; `user_id` comes
/// from authentication. A `user_id` argument (clients written for the original system send one) is ignored
/// by this function: callers that accept it check it against the caller first.
pub async fn call(tasks: &TaskService, user_id: &str, name: &str, args: &Value) -> Result<ToolOutcome, anyhow::Error> {
    let empty = serde_json::Map::new();
    let args = match args {
        Value::Object(map) => map,
        Value::Null => &empty,
        _ => return Ok(ToolOutcome::error("invalid_arguments", "The arguments must be a JSON object.", None)),
    };
    let outcome = match name {
        "add_task" => {
            let title = match str_arg(args, "title", true) {
                Ok(t) => t.unwrap_or_default(),
                Err(e) => return Ok(e),
            };
            let description = match str_arg(args, "description", false) {
                Ok(d) => d,
                Err(e) => return Ok(e),
            };
            tasks.create(user_id, NewTask { title, description }).await.map(|t| json!({ "task": task_view(&t) }))
        }
        "list_tasks" => {
            let status = match args.get("status") {
                None | Some(Value::Null) => StatusFilter::All,
                Some(v) => match serde_json::from_value::<StatusFilter>(v.clone()) {
                    Ok(s) => s,
                    Err(_) => {
                        return Ok(ToolOutcome::error(
                            "invalid_arguments",
                            "status must be one of: all, pending, completed.",
                            None,
                        ));
                    }
                },
            };
            tasks.list(user_id, status).await.map(|list| {
                json!({
                    "status": match status { StatusFilter::All => "all", StatusFilter::Pending => "pending", StatusFilter::Completed => "completed" },
                    "count": list.len(),
                    "tasks": list.iter().map(task_view).collect::<Vec<_>>(),
                })
            })
        }
        "complete_task" | "delete_task" | "update_task" => {
            let number = match task_number(args) {
                Ok(n) => n,
                Err(e) => return Ok(e),
            };
            let result = match name {
                "complete_task" => tasks.set_completed(user_id, number, true).await,
                "delete_task" => tasks.delete(user_id, number).await,
                _ => {
                    let title = match str_arg(args, "title", false) {
                        Ok(t) => t,
                        Err(e) => return Ok(e),
                    };
                    let description = match str_arg(args, "description", false) {
                        Ok(d) => d,
                        Err(e) => return Ok(e),
                    };
                    if title.is_none() && description.is_none() {
                        return Ok(ToolOutcome::error(
                            "invalid_arguments",
                            "Give a new title or a new description (or both).",
                            None,
                        ));
                    }
                    tasks
                        .update(
                            user_id,
                            number,
                            TaskPatch { title, description: description.map(Some), completed: None },
                        )
                        .await
                }
            };
            result.map(|t| {
                if name == "delete_task" {
                    json!({ "deleted": true, "task": task_view(&t) })
                } else {
                    json!({ "task": task_view(&t) })
                }
            })
        }
        other => {
            return Ok(ToolOutcome::error(
                "unknown_tool",
                format!(
                    "There is no tool named {other:?}. The tools are add_task, list_tasks, complete_task, delete_task and update_task."
                ),
                None,
            ));
        }
    };
    match outcome {
        Ok(result) => Ok(ToolOutcome::ok(result)),
        Err(TaskError::Invalid(message)) => Ok(ToolOutcome::error("invalid_arguments", message, None)),
        Err(TaskError::NotFound(n)) => {
            let existing = tasks.list(user_id, StatusFilter::All).await?;
            let suggestions: Vec<Value> = closest(&existing, n).into_iter().map(task_view).collect();
            let message = if existing.is_empty() {
                format!("There is no task {n}: the list is empty.")
            } else {
                format!("There is no task {n}. The suggestions are the person's tasks that exist.")
            };
            Ok(ToolOutcome::error("not_found", message, Some(("suggestions", Value::Array(suggestions)))))
        }
        Err(TaskError::Db(e)) => Err(e.into()),
    }
}

/// Up to five existing tasks, nearest in number first, for an error result about a missing one.
fn closest(tasks: &[Task], n: i64) -> Vec<&Task> {
    let mut sorted: Vec<&Task> = tasks.iter().collect();
    sorted.sort_by_key(|t| ((t.number - n).abs(), t.completed, t.number));
    sorted.truncate(5);
    sorted
}

fn str_arg(args: &serde_json::Map<String, Value>, key: &str, required: bool) -> Result<Option<String>, ToolOutcome> {
    match args.get(key) {
        Some(Value::String(s)) => Ok(Some(s.clone())),
        None | Some(Value::Null) if !required => Ok(None),
        None | Some(Value::Null) => {
            Err(ToolOutcome::error("invalid_arguments", format!("{key} is required and must be a string."), None))
        }
        Some(_) => Err(ToolOutcome::error("invalid_arguments", format!("{key} must be a string."), None)),
    }
}

/// `task_id` as a positive integer; models sometimes send "3" or 3.0, which are accepted.
fn task_number(args: &serde_json::Map<String, Value>) -> Result<i64, ToolOutcome> {
    let bad = || ToolOutcome::error("invalid_arguments", "task_id must be the task's number, like 3.", None);
    let n = match args.get("task_id") {
        Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Some(Value::String(s)) => s.trim().trim_start_matches('#').parse::<i64>().ok(),
        None | Some(Value::Null) => {
            return Err(ToolOutcome::error("invalid_arguments", "task_id is required: the task's number.", None));
        }
        _ => None,
    };
    n.filter(|n| *n > 0).ok_or_else(bad)
}

/// A short line for a running tool, as a chat UI shows it ("Adding 'buy milk'…").
pub fn progress_title(name: &str, args: &Value) -> String {
    let number = args.get("task_id").map(|v| v.to_string().trim_matches('"').to_string());
    match (name, number) {
        ("add_task", _) => match args.get("title").and_then(Value::as_str) {
            Some(t) => format!("Adding '{}'…", t.trim()),
            None => "Adding a task…".into(),
        },
        ("list_tasks", _) => "Checking your tasks…".into(),
        ("complete_task", Some(n)) => format!("Completing task {n}…"),
        ("delete_task", Some(n)) => format!("Deleting task {n}…"),
        ("update_task", Some(n)) => format!("Updating task {n}…"),
        _ => "Working on it…".into(),
    }
}

/// A short line for a finished tool ("Added task 3: buy milk"), from its result.
pub fn done_title(name: &str, outcome: &ToolOutcome) -> String {
    let r = &outcome.result;
    if outcome.is_error {
        let message = r.get("message").and_then(Value::as_str).unwrap_or("it did not work");
        return format!("Could not do that: {message}");
    }
    let task = |verb: &str| match (r.pointer("/task/number"), r.pointer("/task/title").and_then(Value::as_str)) {
        (Some(n), Some(t)) => format!("{verb} task {n}: {t}"),
        _ => verb.to_string(),
    };
    match name {
        "add_task" => task("Added"),
        "complete_task" => task("Completed"),
        "delete_task" => task("Deleted"),
        "update_task" => task("Updated"),
        "list_tasks" => match r.get("count").and_then(Value::as_u64) {
            Some(1) => "Found 1 task".into(),
            Some(n) => format!("Found {n} tasks"),
            None => "Checked your tasks".into(),
        },
        _ => "Done".into(),
    }
}
