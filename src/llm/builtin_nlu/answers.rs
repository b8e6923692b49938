//! The wording: direct replies (help, questions, not found), and the answer once the tools ran (confirmations,
//! lists, errors). Text that came from a person is escaped with [`md`] before it is echoed.

use serde_json::Value;

use super::{Ask, Context, Decision, Outcome, ToolCall, fields};

pub(super) fn render(outcome: Outcome, ctx: &Context) -> Decision {
    let name = ctx.user_name.map(str::trim).filter(|n| !n.is_empty()).map(md);
    let name = name.as_deref();
    let text = match outcome {
        Outcome::Calls(calls) => return Decision::Call(calls),
        Outcome::Help { understood } => help_text(name, understood),
        Outcome::Thanks => match name {
            Some(n) => format!("You're welcome, {n}!"),
            None => "You're welcome!".to_string(),
        },
        Outcome::Ack => "OK! Anything else?".to_string(),
        Outcome::Ambiguous { candidates } => {
            let labels: Vec<String> = candidates.iter().map(|n| label(ctx, *n)).collect();
            format!("Which one do you mean: {}?", join_or(&labels))
        }
        Outcome::NotFound { phrase, closest } => {
            let phrase = md(&phrase);
            if ctx.tasks.is_empty() {
                format!("You don't have any tasks yet, so I couldn't find \"{phrase}\". Add one with \"add …\".")
            } else if closest.is_empty() {
                format!("I couldn't find a task matching \"{phrase}\". Say \"show my list\" to see your tasks.")
            } else {
                let labels: Vec<String> = closest.iter().map(|n| label(ctx, *n)).collect();
                format!("I couldn't find a task matching \"{phrase}\". Did you mean {}?", join_or(&labels))
            }
        }
        Outcome::Ask(Ask::WhichTask) => {
            "Which task do you mean? Tell me its number (say \"show my list\" to see them).".to_string()
        }
        Outcome::Ask(Ask::WhatTitle) => "What should the task say? For example: \"add buy milk tomorrow\".".to_string(),
        Outcome::Ask(Ask::WhatChange(n)) => format!(
            "What should I change about task {n}? For example: \"rename {n} to call dad\" or \"change the description of {n} to …\"."
        ),
        Outcome::Info(s) => s,
    };
    Decision::Reply(text)
}

fn help_text(name: Option<&str>, understood: bool) -> String {
    let opener = match (name, understood) {
        (Some(n), true) => format!("Hi {n}! I keep your task list."),
        (None, true) => "Hi! I keep your task list.".to_string(),
        (Some(n), false) => format!("Sorry {n}, I didn't catch that."),
        (None, false) => "Sorry, I didn't catch that.".to_string(),
    };
    format!(
        "{opener} You can say things like:\n- add buy milk tomorrow at 5pm #errands\n- what's due today? / what's overdue?\n- mark 3 done (or \"I bought the milk\")\n- move 3 to friday / make 3 urgent\n- rename 2 to call dad\n- delete 4"
    )
}

pub(super) fn label(ctx: &Context, n: i64) -> String {
    match ctx.tasks.iter().find(|t| t.number == n) {
        Some(t) if t.completed => format!("{n} ({}, already done)", md(&t.title)),
        Some(t) => format!("{n} ({})", md(&t.title)),
        None => n.to_string(),
    }
}

/// "a", "a or b", "a, b or c".
pub(super) fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Text that came from a person (a title, a note, a label, their own words or name) made safe to echo in an
/// answer rendered as Markdown: every character that could start a link, emphasis, code, HTML or an entity
/// mid-line is backslash-escaped (CommonMark shows `\x` as `x` for any ASCII punctuation), and line breaks
/// become spaces so the text never starts a line, where `#`, `-`, `>` or `1.` would begin a block of its own.
pub(super) fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '~' | '&' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A task as described by a tool result, falling back to the call's own arguments.
pub(super) struct TaskView {
    number: Option<i64>,
    title: Option<String>,
    description: Option<String>,
    /// "due tomorrow, urgent, #home", or empty.
    extras: String,
}

impl TaskView {
    pub(super) fn of(call: &ToolCall, result: &Value) -> TaskView {
        let task = result.get("task");
        let field = |k: &str| task.and_then(|t| t.get(k));
        let number =
            field("number").and_then(Value::as_i64).or_else(|| call.arguments.get("task_id").and_then(Value::as_i64));
        let title = field("title")
            .and_then(Value::as_str)
            .or_else(|| call.arguments.get("title").and_then(Value::as_str))
            .map(md);
        let description = field("description")
            .and_then(Value::as_str)
            .or_else(|| call.arguments.get("description").and_then(Value::as_str))
            .filter(|d| !d.trim().is_empty())
            .map(md);
        let extras = task.map(fields::extras_text).unwrap_or_default();
        TaskView { number, title, description, extras }
    }

    fn from_item(item: &Value) -> (TaskView, bool) {
        let view = TaskView {
            number: item.get("number").and_then(Value::as_i64),
            title: item.get("title").and_then(Value::as_str).map(md),
            description: item.get("description").and_then(Value::as_str).filter(|d| !d.trim().is_empty()).map(md),
            extras: fields::extras_text(item),
        };
        (view, item.get("completed").and_then(Value::as_bool).unwrap_or(false))
    }

    pub(super) fn title_or<'s>(&'s self, default: &'s str) -> &'s str {
        self.title.as_deref().unwrap_or(default)
    }

    pub(super) fn number_prefix(&self) -> String {
        self.number.map(|n| format!("{n}. ")).unwrap_or_default()
    }

    /// "task 3 (buy milk)", or as much of it as is known.
    fn named(&self) -> String {
        match (self.number, &self.title) {
            (Some(n), Some(t)) => format!("task {n} ({t})"),
            (Some(n), None) => format!("task {n}"),
            (None, Some(t)) => format!("\"{t}\""),
            (None, None) => "the task".to_string(),
        }
    }

    pub(super) fn extras_suffix(&self) -> String {
        if self.extras.is_empty() { String::new() } else { format!(" ({})", self.extras) }
    }

    pub(super) fn note_suffix(&self) -> String {
        self.description.as_ref().map(|d| format!(" (note: {d})")).unwrap_or_default()
    }
}

pub(super) fn error_of(result: &Value) -> Option<&Value> {
    result.get("error").filter(|e| !e.is_null() && **e != Value::Bool(false))
}

/// Ends a sentence once, whatever the title ended with.
pub(super) fn sentence(s: String) -> String {
    if s.ends_with(['.', '!', '?']) { s } else { s + "." }
}

pub(super) fn answer_one(call: &ToolCall, result: &Value) -> String {
    if call.name == "undo_last_change" {
        return undo_text(result);
    }
    if error_of(result).and_then(Value::as_str) == Some("confirmation_required") {
        return confirm_text(result);
    }
    if let Some(items) = result.get("results").and_then(Value::as_array) {
        return batch_text(call, items);
    }
    if let Some(err) = error_of(result) {
        return error_text(call, result, err);
    }
    let t = TaskView::of(call, result);
    match call.name.as_str() {
        "add_task" => {
            let head = match t.number {
                Some(n) => format!("Added task {n}: {}{}", t.title_or("(untitled)"), t.extras_suffix()),
                None => format!("Added \"{}\"{}", t.title_or("(untitled)"), t.extras_suffix()),
            };
            match &t.description {
                Some(d) => format!("{head} (note: {d})."),
                None => sentence(head),
            }
        }
        "complete_task" => format!("Done: {} is complete.", t.named()),
        "reopen_task" => format!("Reopened {}: it is back on your list.", t.named()),
        "delete_task" => format!("Deleted {}.", t.named()),
        "update_task" => update_text(call, result, &t),
        "list_tasks" => list_text(call, result),
        _ => result
            .get("message")
            .and_then(Value::as_str)
            .map_or_else(|| "Done.".to_string(), |m| sentence(m.to_string())),
    }
}

fn update_text(call: &ToolCall, result: &Value, t: &TaskView) -> String {
    let fields_changed = fields::field_update_text(call, result, &t.named());
    let new_title = call.arguments.get("title").and_then(Value::as_str).map(md);
    let new_note = call.arguments.get("description").and_then(Value::as_str).map(md);
    let (new_title, new_note) = (new_title.as_deref(), new_note.as_deref());
    let number = t.number.map_or_else(|| "the task".to_string(), |n| format!("task {n}"));
    let text = match (new_title, new_note) {
        (Some(title), None) => format!("Renamed {number} to \"{}\".", t.title.as_deref().unwrap_or(title)),
        (Some(title), Some(note)) if note.trim().is_empty() => {
            format!("Renamed {number} to \"{}\" and removed its note.", t.title.as_deref().unwrap_or(title))
        }
        (Some(title), Some(note)) => {
            format!("Updated {number}: now \"{}\", with the note \"{note}\".", t.title.as_deref().unwrap_or(title))
        }
        (None, Some(note)) if note.trim().is_empty() => {
            format!("Removed the note from {}.", t.named())
        }
        (None, Some(note)) => format!("Updated the note on {}: \"{note}\".", t.named()),
        (None, None) => return fields_changed.unwrap_or_else(|| format!("Updated {}.", t.named())),
    };
    match fields_changed {
        Some(f) => format!("{text} {f}"),
        None => text,
    }
}

fn list_text(call: &ToolCall, result: &Value) -> String {
    let status = call.arguments.get("status").and_then(Value::as_str).unwrap_or("all");
    let items: Vec<(TaskView, bool)> = result
        .get("tasks")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(TaskView::from_item).collect())
        .unwrap_or_default();
    let plural = |n: usize| if n == 1 { "task" } else { "tasks" };
    let total = result.get("total").and_then(Value::as_u64).map_or(items.len(), |n| n as usize).max(items.len());
    let at_least =
        if result.get("total_is_at_least").and_then(Value::as_bool) == Some(true) { "at least " } else { "" };
    let done = items.iter().filter(|(_, c)| *c).count();
    let open = items.len() - done;
    let filters = fields::filter_words(&call.arguments);
    let paged = call.arguments.get("cursor").is_some_and(|c| !c.is_null());
    let header = if !filters.is_empty() {
        let kind = match status {
            "pending" => "pending ",
            "completed" => "completed ",
            _ => "",
        };
        match total {
            0 => return format!("You have no {kind}tasks {filters}."),
            n => format!("You have {at_least}{n} {kind}{} {filters}:", plural(n)),
        }
    } else {
        match (status, total) {
            ("pending", 0) => return "You have no pending tasks.".to_string(),
            ("completed", 0) => return "You haven't completed any tasks yet.".to_string(),
            (_, 0) => return "Your list is empty. Add something with \"add buy milk\".".to_string(),
            ("pending", n) => format!("You have {at_least}{n} pending {}:", plural(n)),
            ("completed", n) => format!("You've completed {at_least}{n} {}:", plural(n)),
            (_, n) if n > items.len() => format!("You have {at_least}{n} tasks:"),
            _ => format!("Your tasks ({open} pending, {done} done):"),
        }
    };
    let mut out = if paged { "Here are more:".to_string() } else { header };
    for (t, completed) in &items {
        let mark = if *completed { "✓" } else { "☐" };
        let note = t.description.as_ref().map(|d| format!(" — {d}")).unwrap_or_default();
        out.push_str(&format!(
            "\n- {mark} {}{}{}{note}",
            t.number_prefix(),
            t.title_or("(untitled)"),
            t.extras_suffix()
        ));
    }
    if result.get("next_cursor").is_some_and(|c| c.is_string()) {
        out.push_str(&format!("\n(Showing {} of {at_least}{total}. Say \"more\" for the next page.)", items.len()));
    }
    out
}

fn error_text(call: &ToolCall, result: &Value, err: &Value) -> String {
    let id = call.arguments.get("task_id").and_then(Value::as_i64);
    let on = |verb: &str| id.map_or_else(|| format!("{verb} that task"), |n| format!("{verb} task {n}"));
    let action = match call.name.as_str() {
        "add_task" => call
            .arguments
            .get("title")
            .and_then(Value::as_str)
            .map_or_else(|| "add that task".to_string(), |t| format!("add \"{}\"", md(t))),
        "complete_task" => on("complete"),
        "reopen_task" => on("reopen"),
        "delete_task" => on("delete"),
        "update_task" => on("update"),
        "list_tasks" => "list your tasks".to_string(),
        _ => "do that".to_string(),
    };
    let message = result
        .get("message")
        .and_then(Value::as_str)
        .map(md)
        .or_else(|| err.as_str().map(|e| e.replace('_', " ")))
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| "something went wrong".to_string());
    let mut out = sentence(format!("Sorry, I couldn't {action}: {message}"));
    let mut candidates = Vec::new();
    let mut hints = Vec::new();
    for s in result.get("suggestions").and_then(Value::as_array).into_iter().flatten() {
        match s {
            // A full sentence is a hint to pass on; a short string is taken to be a title.
            Value::String(h) if h.contains(' ') && h.ends_with(['.', '!', '?']) => hints.push(md(h)),
            Value::String(title) => candidates.push(format!("\"{}\"", md(title))),
            Value::Number(n) => candidates.push(format!("task {n}")),
            Value::Object(o) => {
                let number = o.get("number").or_else(|| o.get("task_id")).and_then(Value::as_i64);
                match (number, o.get("title").and_then(Value::as_str)) {
                    (Some(n), Some(t)) => candidates.push(format!("{n} ({})", md(t))),
                    (Some(n), None) => candidates.push(format!("task {n}")),
                    (None, Some(t)) => candidates.push(format!("\"{}\"", md(t))),
                    (None, None) => {}
                }
            }
            _ => {}
        }
    }
    if !candidates.is_empty() {
        out.push_str(&format!(" Did you mean {}?", join_or(&candidates)));
    }
    for h in hints {
        out.push(' ');
        out.push_str(&h);
    }
    out
}

/// Lines shown for a group of tasks before "…and N more".
const GROUP_SHOWN: usize = 10;

fn task_lines(items: &[&Value]) -> String {
    let mut out = String::new();
    for item in items.iter().take(GROUP_SHOWN) {
        let (t, _) = TaskView::from_item(item);
        out.push_str(&format!("\n- {}{}", t.number_prefix(), t.title_or("(untitled)")));
    }
    if items.len() > GROUP_SHOWN {
        out.push_str(&format!("\n- …and {} more", items.len() - GROUP_SHOWN));
    }
    out
}

/// The question before deleting several tasks.
fn confirm_text(result: &Value) -> String {
    let found: Vec<&Value> = result.pointer("/tasks/found").and_then(Value::as_array).into_iter().flatten().collect();
    let missing: Vec<String> = result
        .pointer("/tasks/missing")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_i64)
        .map(|n| n.to_string())
        .collect();
    let mut out = match found.len() {
        0 => return format!("There are no tasks {} to delete.", missing.join(", ")),
        1 => format!("Delete this task?{}", task_lines(&found)),
        n => format!("Delete these {n} tasks?{}", task_lines(&found)),
    };
    if !missing.is_empty() {
        out.push_str(&format!("\n(There is no task {}.)", missing.join(", ")));
    }
    // Ends as a question: the next message is read as its answer.
    out.push_str("\nDelete them, yes or no?");
    out
}

/// What a change to several tasks did, task by task.
fn batch_text(call: &ToolCall, items: &[Value]) -> String {
    let ok: Vec<&Value> = items.iter().filter(|i| i["ok"] == true).filter_map(|i| i.get("task")).collect();
    let failed: Vec<String> = items
        .iter()
        .filter(|i| i["ok"] != true)
        .filter_map(|i| i.get("number").and_then(Value::as_i64))
        .map(|n| n.to_string())
        .collect();
    let verb = match call.name.as_str() {
        "complete_task" => "Completed",
        "reopen_task" => "Reopened",
        "delete_task" => "Deleted",
        _ => "Updated",
    };
    let mut out = match ok.len() {
        0 => String::new(),
        1 => format!("{verb} 1 task:{}", task_lines(&ok)),
        n => format!("{verb} {n} tasks:{}", task_lines(&ok)),
    };
    if !failed.is_empty() {
        if !out.is_empty() {
            out.push('\n');
        }
        let which = if failed.len() == 1 { "task" } else { "tasks" };
        out.push_str(&format!(
            "There is no {which} {}, so I left {}.",
            failed.join(", "),
            if failed.len() == 1 { "it" } else { "them" }
        ));
    }
    if ok.len() > 1 {
        out.push_str("\nSay \"undo\" to take that back.");
    }
    out
}

fn undo_text(result: &Value) -> String {
    if let Some(message) = result.get("message").and_then(Value::as_str).filter(|_| error_of(result).is_some()) {
        return md(message);
    }
    let changes: Vec<&Value> = result.get("changes").and_then(Value::as_array).into_iter().flatten().collect();
    let lines: Vec<String> = changes
        .iter()
        .map(|c| {
            let (t, done) = TaskView::from_item(c.get("task").unwrap_or(&Value::Null));
            let name = format!("{}{}", t.number_prefix(), t.title_or("(untitled)"));
            match c.get("undone").and_then(Value::as_str) {
                Some("restored") => format!("- brought back {name}"),
                Some("removed") => format!("- removed {name}"),
                _ => format!("- {name} is as it was{}", if done { " (done)" } else { "" }),
            }
        })
        .collect();
    match lines.len() {
        0 => "There was nothing to undo.".into(),
        _ => format!("Undone:\n{}", lines.iter().take(GROUP_SHOWN).cloned().collect::<Vec<_>>().join("\n")),
    }
}
