//! The task tools, defined once: name, a description written for a model, the JSON Schema of the arguments,
//! and the handler that calls the task service. The agent offers them to models and the MCP server exposes
//! them unchanged. The owner is always the authenticated caller, never an argument.
//!
//! Results are JSON a model can explain: the task as it now is (with its due date in words relative to the
//! owner's now), or an error result naming what went wrong and what exists (the nearest numbers), never an
//! exception that ends the turn. A list is one bounded page that says how many more there are.

use serde_json::{Map, Value, json};

use crate::tasks::dates;
use crate::tasks::{
    BulkAction, DueFilter, MAX_DESCRIPTION, MAX_LABEL, MAX_LABELS, MAX_TITLE, NewTask, Owner, Priority, Sort,
    StatusFilter, Task, TaskError, TaskPatch, TaskQuery, TaskService, UndoError, routes::due_input,
};

/// A list the tools show, by default and at most: a page a model can read and a person can take in.
pub const LIST_DEFAULT: usize = 25;
pub const LIST_MAX: usize = 100;
/// Counting the rest of a filtered list stops here ("1,000 or more").
const COUNT_CAP: usize = 1000;

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

    fn invalid(message: impl Into<String>) -> Self {
        Self::error("invalid_arguments", message, None)
    }
}

fn task_id_schema() -> Value {
    json!({
        "type": "integer",
        "minimum": 1,
        "description": "The task's number as the person sees it in their list (1, 2, 3 …)."
    })
}

fn due_schema(clears: bool) -> Value {
    let mut d = String::from(
        "When it is due, in words, reckoned in the person's time zone: 'tomorrow 5pm', 'next friday', 'in 2 weeks', \
         'dec 24', '2026-12-24 09:30', 'end of month'. A date without a time is due all that day.",
    );
    if clears {
        // "none" as well as null: a strict-mode model sends null for every argument it leaves out, so null
        // cannot be its only way to say "remove" (see `openai::strict_arguments`).
        d.push_str(" \"none\" removes the due date.");
    }
    json!({"type": if clears { json!(["string", "null"]) } else { json!("string") }, "maxLength": 100, "description": d})
}

fn priority_schema() -> Value {
    json!({"type": "string", "enum": ["none", "low", "medium", "high", "urgent"], "description": "How much it matters."})
}

fn labels_schema(description: &str) -> Value {
    json!({
        "type": "array",
        "items": {"type": "string", "minLength": 1, "maxLength": MAX_LABEL},
        "maxItems": MAX_LABELS,
        "description": description
    })
}

fn task_ids_schema() -> Value {
    json!({
        "type": "array",
        "items": task_id_schema(),
        "minItems": 1,
        "maxItems": MAX_BATCH,
        "description": "Several tasks' numbers, to change them all at once (instead of task_id). The result gives \
                        each task's outcome; one undo reverses them all."
    })
}

fn confirm_schema() -> Value {
    json!({
        "type": "boolean",
        "description": "true once the person has said yes to deleting these tasks. Deleting more than one task \
                        without it changes nothing and returns the tasks to ask about."
    })
}

/// A tool acting on tasks by number: `task_id` for one, `task_ids` for several.
fn task_properties(destructive: bool) -> Map<String, Value> {
    let mut p = Map::new();
    p.insert("task_id".into(), task_id_schema());
    p.insert("task_ids".into(), task_ids_schema());
    if destructive {
        p.insert("confirm".into(), confirm_schema());
    }
    p
}

fn one_task(description: &'static str, name: &'static str, title: &'static str, destructive: bool) -> ToolDef {
    ToolDef {
        name,
        title,
        description,
        input_schema: json!({
            "type": "object",
            "properties": task_properties(destructive),
            "additionalProperties": false
        }),
        read_only: false,
        destructive,
    }
}

/// The task tools.
pub fn definitions() -> Vec<ToolDef> {
    vec![
        ToolDef {
            name: "add_task",
            title: "Add a task",
            description: "Add a new task to the person's list. Use the person's own words for the title (short, \
                          without filler like 'add a task to', and without the date words, which go in due); put \
                          extra detail in the description. Returns the new task with its number.",
            input_schema: json!({
                "type": "object",
                "properties": {
                    "title": {"type": "string", "minLength": 1, "maxLength": MAX_TITLE, "description": "What to do, e.g. 'buy milk'."},
                    "description": {"type": "string", "maxLength": MAX_DESCRIPTION, "description": "Optional details."},
                    "due": due_schema(false),
                    "priority": priority_schema(),
                    "labels": labels_schema("Labels to file it under, e.g. ['errands']."),
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
            description: "List the person's tasks with their numbers, one page at a time: filter by status, words \
                          (search), label, priority or due date, and sort. The result says how many there are in \
                          all and gives next_cursor when more follow. Use it to answer questions about the list or \
                          to find a task's number before changing it.",
            input_schema: json!({
                "type": "object",
                "properties": {
                    "status": {"type": "string", "enum": ["all", "pending", "completed"], "default": "all",
                               "description": "Which tasks to list."},
                    "search": {"type": "string", "maxLength": 200, "description": "Words the title or description must contain (each as the start of a word)."},
                    "label": {"type": "string", "maxLength": MAX_LABEL, "description": "Only tasks with this label."},
                    "priority": {"type": "string", "enum": ["none", "low", "medium", "high", "urgent"], "description": "Only tasks of this priority."},
                    "due": {"type": "string", "maxLength": 30, "description": "Only tasks due: today, overdue, week (today and the next 6 days), upcoming (today or later), none (no due date), on:YYYY-MM-DD, before:YYYY-MM-DD, after:YYYY-MM-DD."},
                    "sort": {"type": "string", "enum": ["number", "due", "priority", "created", "updated"], "description": "Order: number (default; due when filtering by due), due (soonest first), priority (urgent first), created (newest first), updated (latest change first)."},
                    "limit": {"type": "integer", "minimum": 1, "maximum": LIST_MAX, "description": "Tasks per page (default 25)."},
                    "cursor": {"type": "string", "maxLength": 200, "description": "next_cursor from the previous page, to get the next one."}
                },
                "additionalProperties": false
            }),
            read_only: true,
            destructive: false,
        },
        one_task(
            "Mark the person's tasks as done, by number: task_id for one, task_ids for several. Returns the task as it \
             now is (for several, each one's result).",
            "complete_task",
            "Complete a task",
            false,
        ),
        one_task(
            "Mark the person's done tasks as not done again, by number: task_id for one, task_ids for several. Returns \
             the task as it now is (for several, each one's result).",
            "reopen_task",
            "Reopen a task",
            false,
        ),
        one_task(
            "Delete the person's tasks, by number: task_id for one, task_ids for several. Before deleting more than \
             one, ask the person and call again with confirm: true once they say yes. Returns the task as it was \
             (for several, each one's result); undo_last_change brings them back.",
            "delete_task",
            "Delete a task",
            true,
        ),
        ToolDef {
            name: "update_task",
            title: "Update a task",
            description: "Change the person's tasks, by number (task_id, or task_ids to make the same change to \
                          several): title, description, due date, priority or labels. Give only what changes; an empty description clears it, due \"none\" removes the \
                          due date. labels replaces all labels; add_labels and remove_labels change some. Returns \
                          the task as it now is.",
            input_schema: json!({
                "type": "object",
                "properties": {
                    "task_id": task_id_schema(),
                    "task_ids": task_ids_schema(),
                    "title": {"type": "string", "minLength": 1, "maxLength": MAX_TITLE, "description": "The new title."},
                    "description": {"type": "string", "maxLength": MAX_DESCRIPTION, "description": "The new description."},
                    "due": due_schema(true),
                    "priority": priority_schema(),
                    "labels": labels_schema("The task's labels from now on (replaces them all; [] removes every label)."),
                    "add_labels": labels_schema("Labels to add to the ones it has."),
                    "remove_labels": labels_schema("Labels to take off.")
                },
                "additionalProperties": false
            }),
            read_only: false,
            destructive: false,
        },
        ToolDef {
            name: "undo_last_change",
            title: "Undo the last change",
            description: "Undo the person's most recent change to their tasks (an add, a completion, an edit, a \
                          deletion, or a whole change to several tasks at once), unless those tasks changed since. \
                          Each call goes one change further back. Returns what was undone.",
            input_schema: json!({"type": "object", "properties": {}, "additionalProperties": false}),
            read_only: false,
            destructive: false,
        },
    ]
}

/// The names of the tools, for quick membership checks.
pub fn is_tool(name: &str) -> bool {
    matches!(
        name,
        "add_task"
            | "list_tasks"
            | "complete_task"
            | "reopen_task"
            | "delete_task"
            | "update_task"
            | "undo_last_change"
    )
}

/// A task as tools show it: what a model needs to talk about it, the due date in words relative to `now`.
pub fn task_view(t: &Task, now: &jiff::ZonedDateTime) -> Value {
    let due = t.due.as_ref().map(|d| {
        let spec = d.spec();
        let overdue = !t.completed && spec.is_some_and(|s| is_overdue(&s, now));
        json!({
            "date": d.date,
            "time": d.time,
            "timezone": d.timezone,
            "when": spec.map(|s| dates::describe(&s, now)).unwrap_or_else(|| d.date.clone()),
            "overdue": overdue,
        })
    });
    json!({
        "number": t.number,
        "title": t.title,
        "description": t.description,
        "completed": t.completed,
        "due": due,
        "priority": t.priority,
        "labels": t.labels,
    })
}

/// Past its day, or past its time today.
fn is_overdue(due: &dates::DueSpec, now: &jiff::ZonedDateTime) -> bool {
    let today = now.date();
    due.date < today || (due.date == today && due.time.is_some_and(|t| t < now.time()))
}

type Args = Map<String, Value>;

/// Whether an argument was given: a null says no more than leaving it out.
fn given(args: &Args, key: &str) -> bool {
    args.get(key).is_some_and(|v| !v.is_null())
}

/// Runs a tool as `owner`. Arguments come from a model or a client and are checked here; the owner comes
/// from authentication. A `user_id` argument (clients written for the original system send one) is ignored
/// by this function: callers that accept it check it against the caller first.
pub async fn call(tasks: &TaskService, owner: &Owner, name: &str, args: &Value) -> Result<ToolOutcome, anyhow::Error> {
    let empty = Map::new();
    let args = match args {
        Value::Object(map) => map,
        Value::Null => &empty,
        _ => return Ok(ToolOutcome::invalid("The arguments must be a JSON object.")),
    };
    let now = owner.now();
    let outcome = match name {
        "add_task" => match new_task(args) {
            Ok(new) => tasks.create(owner, new).await.map(|t| json!({ "task": task_view(&t, &now) })),
            Err(e) => return Ok(e),
        },
        "list_tasks" => match list_query(args) {
            Ok(query) => list(tasks, owner, &query, &now).await,
            Err(e) => return Ok(e),
        },
        // A null task_ids is one left out (strict-mode models send every argument).
        "complete_task" | "reopen_task" | "delete_task" | "update_task" if given(args, "task_ids") => {
            return batch(tasks, owner, name, args, &now).await;
        }
        "complete_task" | "reopen_task" | "delete_task" | "update_task" => {
            let number = match task_number(args) {
                Ok(n) => n,
                Err(e) => return Ok(e),
            };
            let result = match name {
                "complete_task" => tasks.set_completed(owner, number, true).await,
                "reopen_task" => tasks.set_completed(owner, number, false).await,
                "delete_task" => tasks.delete(owner, number).await,
                _ => match task_patch(tasks, owner, number, args).await {
                    Ok(Ok(patch)) => tasks.update(owner, number, patch).await,
                    Ok(Err(e)) => return Ok(e),
                    Err(e) => Err(e),
                },
            };
            result.map(|t| {
                if name == "delete_task" {
                    json!({ "deleted": true, "task": task_view(&t, &now) })
                } else {
                    json!({ "task": task_view(&t, &now) })
                }
            })
        }
        "undo_last_change" => match tasks.undo(owner, None).await {
            Ok(undone) => Ok(undone_view(&undone, &now)),
            Err(UndoError::Task(e)) => Err(e),
            Err(e @ UndoError::ChangedSince(_)) => return Ok(ToolOutcome::error("changed_since", e.to_string(), None)),
            Err(e) => return Ok(ToolOutcome::error("nothing_to_undo", e.to_string(), None)),
        },
        other => {
            return Ok(ToolOutcome::error(
                "unknown_tool",
                format!(
                    "There is no tool named {other:?}. The tools are add_task, list_tasks, complete_task, \
                     reopen_task, delete_task, update_task and undo_last_change."
                ),
                None,
            ));
        }
    };
    match outcome {
        Ok(result) => Ok(ToolOutcome::ok(result)),
        Err(TaskError::Invalid(message)) => Ok(ToolOutcome::invalid(message)),
        Err(TaskError::NotFound(n)) => {
            let mut near = tasks.nearest(owner, n, 5).await?;
            near.sort_by_key(|t| ((t.number - n).abs(), t.completed, t.number));
            near.truncate(5);
            let message = if near.is_empty() {
                format!("There is no task {n}: the list is empty.")
            } else {
                // Said to people as it is (the builtin assistant passes it on): suggestions speak for themselves.
                format!("There is no task {n}.")
            };
            let suggestions: Vec<Value> = near.iter().map(|t| task_view(t, &now)).collect();
            Ok(ToolOutcome::error("not_found", message, Some(("suggestions", Value::Array(suggestions)))))
        }
        Err(TaskError::Db(e)) => Err(e.into()),
    }
}

/// The most tasks one call changes.
pub const MAX_BATCH: usize = 100;

/// A tool called with `task_ids`: one action per task, in one recorded batch, each task's result reported.
/// Deleting several needs `confirm: true`; without it nothing changes and the result lists what to ask about.
async fn batch(
    tasks: &TaskService,
    owner: &Owner,
    name: &str,
    args: &Args,
    now: &jiff::ZonedDateTime,
) -> Result<ToolOutcome, anyhow::Error> {
    let numbers = match task_numbers(args) {
        Ok(n) => n,
        Err(e) => return Ok(e),
    };
    if name == "delete_task" && numbers.len() > 1 && args.get("confirm") != Some(&Value::Bool(true)) {
        let found = tasks.get_many(owner, &numbers).await?;
        let views: Vec<Value> = found.iter().map(|t| task_view(t, now)).collect();
        let missing: Vec<i64> = numbers.iter().copied().filter(|n| !found.iter().any(|t| t.number == *n)).collect();
        return Ok(ToolOutcome::error(
            "confirmation_required",
            format!(
                "Deleting {} tasks needs the person's yes: ask them, then call again with confirm: true.",
                found.len()
            ),
            Some(("tasks", json!({ "found": views, "missing": missing }))),
        ));
    }
    let mut items = Vec::with_capacity(numbers.len());
    // Tasks found missing while working out their change (update_task's add_labels reads each task).
    let mut missing = Vec::new();
    for &n in &numbers {
        let action = match name {
            "complete_task" => BulkAction::Complete,
            "reopen_task" => BulkAction::Reopen,
            "delete_task" => BulkAction::Delete,
            _ => match task_patch(tasks, owner, n, args).await {
                Ok(Ok(patch)) => BulkAction::Update(patch),
                Ok(Err(e)) => return Ok(e),
                Err(TaskError::NotFound(_)) => {
                    missing.push(n);
                    continue;
                }
                Err(e) => return Err(e.into()),
            },
        };
        items.push((n, action));
    }
    let done = if items.is_empty() { Ok(vec![]) } else { tasks.bulk(owner, &items).await };
    match done {
        Ok(mut results) => {
            for n in missing {
                results.push(crate::tasks::BulkItem::missing(n));
            }
            results.sort_by_key(|r| numbers.iter().position(|n| *n == r.number));
            let failed = results.iter().filter(|r| !r.ok).count();
            let results: Vec<Value> = results
                .iter()
                .map(|r| match &r.task {
                    Some(t) => json!({ "number": r.number, "ok": true, "task": task_view(t, now) }),
                    None => json!({ "number": r.number, "ok": false, "error": r.error }),
                })
                .collect();
            let mut result = json!({ "succeeded": results.len() - failed, "failed": failed, "results": results });
            if name == "delete_task" {
                result["deleted"] = Value::Bool(true);
            }
            Ok(ToolOutcome { result, is_error: failed > 0 && failed == numbers.len() })
        }
        Err(TaskError::Invalid(m)) => Ok(ToolOutcome::invalid(m)),
        Err(e) => Err(e.into()),
    }
}

/// What an undo did, as tools show it.
fn undone_view(undone: &crate::tasks::Undone, now: &jiff::ZonedDateTime) -> Value {
    let changes: Vec<Value> = undone
        .items()
        .map(|(number, what, task)| json!({ "number": number, "undone": what, "task": task_view(task, now) }))
        .collect();
    json!({ "undone": true, "count": changes.len(), "changes": changes })
}

/// `task_ids` as positive integers (1 to [`MAX_BATCH`] of them), in the order given.
fn task_numbers(args: &Args) -> Result<Vec<i64>, ToolOutcome> {
    let bad =
        || ToolOutcome::invalid(format!("task_ids must be a list of 1 to {MAX_BATCH} task numbers, like [3, 4]."));
    let Some(Value::Array(items)) = args.get("task_ids") else { return Err(bad()) };
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(bad());
    }
    items
        .iter()
        .map(|v| {
            let mut one = Map::new();
            one.insert("task_id".into(), v.clone());
            task_number(&one).map_err(|_| bad())
        })
        .collect()
}

/// One page, how many tasks the filters keep in all (exact, or at least [`COUNT_CAP`]), and the cursor.
async fn list(
    tasks: &TaskService,
    owner: &Owner,
    query: &TaskQuery,
    now: &jiff::ZonedDateTime,
) -> Result<Value, TaskError> {
    let page = tasks.list(owner, query).await?;
    let unfiltered = query.q.is_none() && query.label.is_none() && query.priority.is_empty() && query.due.is_none();
    let (total, capped) = if page.next_cursor.is_none() && query.cursor.is_none() {
        (page.tasks.len(), false)
    } else if unfiltered {
        let c = tasks.counts(owner).await?;
        let n = match query.status {
            StatusFilter::All => c.pending + c.completed,
            StatusFilter::Pending => c.pending,
            StatusFilter::Completed => c.completed,
        };
        (usize::try_from(n).unwrap_or(0), false)
    } else {
        let n = tasks.count(owner, query, COUNT_CAP).await?;
        (n, n >= COUNT_CAP)
    };
    let mut out = json!({
        "status": query.status.as_str(),
        "count": page.tasks.len(),
        "total": total,
        "tasks": page.tasks.iter().map(|t| task_view(t, now)).collect::<Vec<_>>(),
        "next_cursor": page.next_cursor,
    });
    if capped {
        out["total_is_at_least"] = json!(true);
    }
    let filters: Vec<(&str, Option<String>)> = vec![
        ("search", query.q.clone()),
        ("label", query.label.clone()),
        ("priority", query.priority.first().map(|p| p.as_str().to_string())),
        ("due", query.due.map(DueFilter::as_string)),
    ];
    for (k, v) in filters {
        if let Some(v) = v {
            out[k] = json!(v);
        }
    }
    Ok(out)
}

fn new_task(args: &Args) -> Result<NewTask, ToolOutcome> {
    Ok(NewTask {
        title: str_arg(args, "title", true)?.unwrap_or_default(),
        description: str_arg(args, "description", false)?,
        due: due_arg(args)?.flatten(),
        priority: priority_arg(args)?,
        labels: labels_arg(args, "labels")?.unwrap_or_default(),
    })
}

fn list_query(args: &Args) -> Result<TaskQuery, ToolOutcome> {
    let status = match args.get("status") {
        None | Some(Value::Null) => StatusFilter::All,
        Some(v) => serde_json::from_value::<StatusFilter>(v.clone())
            .map_err(|_| ToolOutcome::invalid("status must be one of: all, pending, completed."))?,
    };
    let sort = match args.get("sort") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            serde_json::from_value::<Sort>(v.clone())
                .map_err(|_| ToolOutcome::invalid("sort must be one of: number, due, priority, created, updated."))?,
        ),
    };
    let limit = match args.get("limit") {
        None | Some(Value::Null) => LIST_DEFAULT,
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0 && *f >= 1.0).map(|f| f as u64))
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| (1..=LIST_MAX).contains(n))
            .ok_or_else(|| ToolOutcome::invalid(format!("limit must be a whole number from 1 to {LIST_MAX}.")))?,
    };
    let due = str_arg(args, "due", false)?
        .filter(|d| !d.trim().is_empty())
        .map(|d| DueFilter::parse(&d))
        .transpose()
        .map_err(|e| ToolOutcome::invalid(e.to_string()))?;
    Ok(TaskQuery {
        status,
        q: str_arg(args, "search", false)?.filter(|q| !q.trim().is_empty()),
        label: str_arg(args, "label", false)?.filter(|l| !l.trim().is_empty()),
        priority: priority_arg(args)?.into_iter().collect(),
        due,
        sort,
        limit: Some(limit),
        cursor: str_arg(args, "cursor", false)?.filter(|c| !c.is_empty()),
    })
}

/// The patch `update_task` asks for. `add_labels` / `remove_labels` are applied to the task's current labels.
async fn task_patch(
    tasks: &TaskService,
    owner: &Owner,
    number: i64,
    args: &Args,
) -> Result<Result<TaskPatch, ToolOutcome>, TaskError> {
    let read = || -> Result<_, ToolOutcome> {
        Ok((
            str_arg(args, "title", false)?,
            str_arg(args, "description", false)?,
            due_arg(args)?,
            priority_arg(args)?,
            labels_arg(args, "labels")?,
            labels_arg(args, "add_labels")?,
            labels_arg(args, "remove_labels")?,
        ))
    };
    let (title, description, due, priority, labels, add, remove) = match read() {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    let labels = if add.is_some() || remove.is_some() {
        let mut current = match labels {
            Some(l) => l,
            None => tasks.get(owner, number).await?.labels,
        };
        current.extend(add.unwrap_or_default());
        let gone: Vec<String> = remove.unwrap_or_default().iter().map(|l| crate::tasks::label_key(l)).collect();
        current.retain(|l| !gone.contains(&crate::tasks::label_key(l)));
        Some(current)
    } else {
        labels
    };
    let patch = TaskPatch { title, description: description.map(Some), due, priority, labels, completed: None };
    if patch.is_empty() {
        return Ok(Err(ToolOutcome::invalid(
            "Give something to change: title, description, due, priority, labels, add_labels or remove_labels.",
        )));
    }
    Ok(Ok(patch))
}

fn str_arg(args: &Args, key: &str, required: bool) -> Result<Option<String>, ToolOutcome> {
    match args.get(key) {
        Some(Value::String(s)) => Ok(Some(s.clone())),
        None | Some(Value::Null) if !required => Ok(None),
        None | Some(Value::Null) => Err(ToolOutcome::invalid(format!("{key} is required and must be a string."))),
        Some(_) => Err(ToolOutcome::invalid(format!("{key} must be a string."))),
    }
}

/// `due`: absent → None; null or "none" → Some(None) (clear, or no due date for a new task); words or
/// `{date, time}` → Some(Some(…)). null keeps its documented meaning of "remove" for MCP clients and the builtin
/// assistant; the OpenAI provider drops the nulls of strict mode before they get here.
fn due_arg(args: &Args) -> Result<Option<Option<crate::tasks::DueInput>>, ToolOutcome> {
    match args.get("due") {
        None => Ok(None),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("none") => Ok(Some(None)),
        Some(v) => due_input(v).map(Some).map_err(|e| ToolOutcome::invalid(e.to_string())),
    }
}

fn priority_arg(args: &Args) -> Result<Option<Priority>, ToolOutcome> {
    match str_arg(args, "priority", false)? {
        None => Ok(None),
        Some(p) => Priority::parse(&p).map(Some).map_err(|e| ToolOutcome::invalid(e.to_string())),
    }
}

fn labels_arg(args: &Args, key: &str) -> Result<Option<Vec<String>>, ToolOutcome> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) if items.len() <= 100 => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| ToolOutcome::invalid(format!("{key} must be a list of strings."))),
        // One label as a plain string is what a model means by it.
        Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
        Some(_) => Err(ToolOutcome::invalid(format!("{key} must be a list of strings."))),
    }
}

/// `task_id` as a positive integer; models sometimes send "3" or 3.0, which are accepted.
fn task_number(args: &Args) -> Result<i64, ToolOutcome> {
    let bad = || ToolOutcome::invalid("task_id must be the task's number, like 3.");
    let n = match args.get("task_id") {
        Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Some(Value::String(s)) => s.trim().trim_start_matches('#').parse::<i64>().ok(),
        None | Some(Value::Null) => {
            return Err(ToolOutcome::invalid("task_id is required: the task's number."));
        }
        _ => None,
    };
    n.filter(|n| *n > 0).ok_or_else(bad)
}

/// A short line for a running tool, as a chat UI shows it ("Adding 'buy milk'…").
pub fn progress_title(name: &str, args: &Value) -> String {
    let number = args.get("task_id").filter(|v| !v.is_null()).map(|v| v.to_string().trim_matches('"').to_string());
    match (name, number) {
        ("add_task", _) => match args.get("title").and_then(Value::as_str) {
            Some(t) => format!("Adding '{}'…", t.trim()),
            None => "Adding a task…".into(),
        },
        ("list_tasks", _) => "Checking your tasks…".into(),
        ("complete_task", Some(n)) => format!("Completing task {n}…"),
        ("reopen_task", Some(n)) => format!("Reopening task {n}…"),
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
        "reopen_task" => task("Reopened"),
        "delete_task" => task("Deleted"),
        "update_task" => task("Updated"),
        "list_tasks" => match (r.get("count").and_then(Value::as_u64), r.get("total").and_then(Value::as_u64)) {
            (Some(1), Some(1)) => "Found 1 task".into(),
            (Some(n), Some(t)) if t > n => format!("Showing {n} of {t} tasks"),
            (Some(n), _) => format!("Found {n} tasks"),
            _ => "Checked your tasks".into(),
        },
        _ => "Done".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::Door;

    /// A task service over an in-memory database, and an owner with one account.
    async fn service() -> (TaskService, Owner) {
        let (db, _, tasks) = crate::eval::scratch_tasks().await.unwrap();
        let user = crate::eval::scratch_user(&db, "Nell", "UTC").await.unwrap();
        (tasks, Owner::new(&user.id, "UTC", Door::Rest))
    }

    async fn run(tasks: &TaskService, owner: &Owner, name: &str, args: Value) -> ToolOutcome {
        call(tasks, owner, name, &args).await.unwrap()
    }

    /// Every optional argument of every tool, given as null: what a strict-mode model sends for those it leaves
    /// out. Each call must do exactly what it does with them left out.
    fn nulls_for(name: &str, given: Value) -> Value {
        let def = definitions().into_iter().find(|d| d.name == name).unwrap();
        let mut args = given.as_object().unwrap().clone();
        for key in def.input_schema["properties"].as_object().unwrap().keys() {
            args.entry(key.clone()).or_insert(Value::Null);
        }
        Value::Object(args)
    }

    #[tokio::test]
    async fn an_explicit_null_is_an_argument_left_out() {
        let (tasks, owner) = service().await;
        let cases: Vec<(&str, Value)> = vec![
            ("add_task", json!({"title": "buy milk"})),
            ("add_task", json!({"title": "call mum", "due": "tomorrow"})),
            ("list_tasks", json!({})),
            ("list_tasks", json!({"search": "milk"})),
            ("update_task", json!({"task_id": 1, "title": "buy oat milk"})),
            ("complete_task", json!({"task_id": 1})),
            ("reopen_task", json!({"task_id": 1})),
            ("complete_task", json!({"task_ids": [1, 2]})),
            ("delete_task", json!({"task_ids": [1, 2]})),
            ("undo_last_change", json!({})),
        ];
        // The same calls on two accounts of their own, one with the nulls and one without, answer the same.
        let (other, other_owner) = service().await;
        for (name, given) in cases {
            let with_nulls = nulls_for(name, given.clone());
            let a = run(&tasks, &owner, name, with_nulls.clone()).await;
            let b = run(&other, &other_owner, name, given.clone()).await;
            assert!(!a.is_error || name == "delete_task", "{name} {with_nulls}: {}", a.result);
            assert_eq!(a, b, "{name}: with nulls {with_nulls}, left out {given}");
        }
    }

    #[tokio::test]
    async fn a_null_task_id_is_missing_and_a_null_task_ids_means_one_task() {
        let (tasks, owner) = service().await;
        run(&tasks, &owner, "add_task", json!({"title": "water plants"})).await;
        let none = run(&tasks, &owner, "complete_task", json!({"task_id": null, "task_ids": null})).await;
        assert!(none.is_error);
        assert_eq!(none.result["message"], "task_id is required: the task's number.");
        let one = run(&tasks, &owner, "complete_task", json!({"task_id": 1, "task_ids": null, "confirm": null})).await;
        assert_eq!(one.result["task"]["completed"], true, "{}", one.result);
        // The one null with a meaning of its own: update_task's due, "remove the due date" (for MCP clients and
        // the builtin assistant; strict-mode nulls never get here, see `openai::strict_arguments`).
        let without = nulls_for("update_task", json!({"task_id": 1}));
        let mut without = without.as_object().unwrap().clone();
        without.remove("due");
        let nothing = run(&tasks, &owner, "update_task", Value::Object(without)).await;
        assert_eq!(nothing.result["error"], "invalid_arguments", "all null changes nothing: {}", nothing.result);
        assert_eq!(progress_title("complete_task", &json!({"task_id": null})), "Working on it…");
        assert_eq!(progress_title("complete_task", &json!({"task_id": 4})), "Completing task 4…");
    }

    #[tokio::test]
    async fn none_removes_a_due_date_and_null_still_does_for_clients_that_send_it() {
        let (tasks, owner) = service().await;
        let added = run(&tasks, &owner, "add_task", json!({"title": "pay rent", "due": "tomorrow"})).await;
        assert!(added.result["task"]["due"].is_object(), "{}", added.result);
        let cleared = run(&tasks, &owner, "update_task", json!({"task_id": 1, "due": " None "})).await;
        assert_eq!(cleared.result["task"]["due"], Value::Null, "{}", cleared.result);
        run(&tasks, &owner, "update_task", json!({"task_id": 1, "due": "friday"})).await;
        let cleared = run(&tasks, &owner, "update_task", json!({"task_id": 1, "due": null})).await;
        assert_eq!(cleared.result["task"]["due"], Value::Null, "{}", cleared.result);
        let undated = run(&tasks, &owner, "add_task", json!({"title": "read", "due": "none"})).await;
        assert_eq!(undated.result["task"]["due"], Value::Null, "{}", undated.result);
    }

    #[test]
    fn every_tool_names_tasks_the_same_way() {
        for def in definitions() {
            assert!(is_tool(def.name), "{}", def.name);
            let props = def.input_schema["properties"].as_object().unwrap();
            for key in props.keys() {
                assert!(!matches!(key.as_str(), "id" | "number" | "task" | "tasks" | "ids"), "{}: {key}", def.name);
            }
            if props.contains_key("task_id") {
                assert_eq!(props["task_id"], task_id_schema(), "{}", def.name);
                assert_eq!(props["task_ids"], task_ids_schema(), "{}", def.name);
            }
        }
    }
}
