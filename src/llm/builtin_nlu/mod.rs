//! The `builtin` provider: an offline, deterministic assistant that turns a chat message into the same tool
//! calls a real model would make, and words the answer once those calls have run.
//!
//! It has no network, no randomness and no clock of its own: the same message and [`Context`] (which carries
//! the person's "now", for date words) always give the same [`Decision`]. [`decide`] reads the message;
//! [`compose_answer`] phrases the results.
//!
//! How a message is read, in order (the first rule that fits wins):
//! 1. Normalise: curly quotes become straight ones, line breaks become `;` (they separate list items), and polite
//!    filler is peeled off both ends ("hey", "please", "can you", "could you", trailing "thanks", "!", "?").
//!    A message that was only filler is a greeting (help), a thank-you or an acknowledgement.
//! 2. Small talk: "help", "what can you do", "never mind", "forget it" (a dismissal, not a delete).
//! 3. Paging and search: "more" shows the next page of the last list; "search for milk", "find tasks about rent".
//! 4. Due dates, priorities and labels: "move 3 to friday", "postpone 3 by a week", "remove the due date from 3",
//!    "make 3 urgent", "label 3 as work", also for groups ("push everything due today to tomorrow").
//! 5. Updates: "rename X to Y", "change X to Y", "call it Y", "change the description of X to Y",
//!    "add a note to X: Y", "remove the note from X". "change X to done" completes X.
//! 6. Adds: "add …", "create a task to …", "remind me to …", "I need to …", "todo: …", "put … on my list".
//!    Due words, a priority and labels become fields ("add buy milk tomorrow at 5pm #groceries urgent"), the
//!    rest is the title, in the person's words. `;` and line breaks always separate tasks; commas and "and" only
//!    separate a list of parallel short items ("add milk, eggs and bread").
//! 7. Deletes: "delete/remove/drop/cancel/forget/get rid of X", "I don't need to X anymore", "clear completed".
//! 8. Listing: "what's left", "show my list", "what did I finish", "any tasks?" → pending / all / completed,
//!    narrowed by due date, priority or label ("what's due today", "show urgent tasks", "tasks labelled work")
//!    and sorted "by priority" or "by due date".
//! 9. Reopening: "reopen 5", "mark 3 as not done", "I'm not done with the report".
//! 10. Completing: "mark X done", "X is done", "done with X", "check off X", "finish X", "mark everything done".
//! 11. A past-tense report names a task: "I bought the milk", "called mom", "the bill is paid" → complete it
//!     (not in a question).
//! 12. Anything else gets a short help text.
//!
//! A task is named by its number, a pronoun ("it": the last mentioned task), "everything", a due-date group
//! ("everything due today") or words of its title, compared by stems ("I bought the milk" → "buy milk"). An
//! unclear reference gets a question listing the candidates; no match names the closest titles.
//!
//! Undo ("undo", "undo that", "take that back") reverses the person's last change, a whole batch at once.
//! Deleting more than one task goes as one `delete_task` call with `task_ids`, which the tool answers with the
//! tasks to confirm; the question is the answer, and the next message's "yes" (or "no") is read against it
//! (`Context::pending`, found in the conversation's last exchange, so it survives a restart).
//!
//! "delete everything" asks first, like every delete of more than one task (the page of tasks it read, at most
//! 100). Not supported (answered with help): several word-references in one request when one of them is
//! ambiguous, and imperatives with no command verb and no date ("buy milk" alone).
//!
//! Where each concern lives:
//! - this module: the public types, [`decide`], [`compose_answer`], and the order of the rules above.
//! - `phrasing`: normalisation, polite filler, thanks and acknowledgements, small talk (1, 2).
//! - `fields`: due dates, priorities, labels, due-date groups, listing filters, search, paging, reopening
//!   (3, 4, 9).
//! - `add`: adding tasks, with its rule for splitting one message into several tasks (6).
//! - `commands`: renames and notes, deletes, listing, completing, past-tense reports (5, 7, 8, 10, 11).
//! - `references`: which tasks a phrase names (numbers, pronouns, "everything", words of titles).
//! - `words`: stop words, everyday task verbs, negations, tokens and stems.
//! - `text`: case-insensitive folding, prefix and suffix stripping on word boundaries, `{}` templates.
//! - `calls`: the tool calls, as a real model would write them.
//! - `answers`: the wording of direct replies, and of the answer once the tools ran.

mod add;
mod answers;
mod calls;
mod commands;
mod fields;
mod followups;
mod lang;
mod multi;
mod phrasing;
mod references;
mod text;
mod typos;
mod words;

pub use fields::due_group_in;
pub use words::search_text;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use add::try_add;
use answers::{TaskView, answer_one, error_of, render};
use commands::{try_complete, try_delete, try_list, try_past_tense, try_update};
use phrasing::{normalize, smalltalk, strip_fillers};
use text::{first_word, fold, strip_any_prefix};

// ---------------------------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------------------------

/// One of the person's tasks, as the assistant sees it when deciding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRef {
    pub number: i64,
    pub title: String,
    pub completed: bool,
    /// The due day (`YYYY-MM-DD`, in the person's zone) and time (`HH:MM`), for "everything due today".
    pub due: Option<String>,
    pub due_time: Option<String>,
    /// Its labels, for "all my work tasks".
    #[serde(default)]
    pub labels: Vec<String>,
}

/// A tool call, exactly as a real model would emit it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub name: String,
    pub arguments: Value,
}

/// What the assistant knows when it decides: the person's current tasks, and the number of the task last mentioned in this
/// conversation (the last task a tool call added/completed/updated/deleted or the user named), for "it"/"that one".
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub tasks: &'a [TaskRef],
    pub last_mentioned: Option<i64>,
    pub user_name: Option<&'a str>,
    /// The person's now, in their zone: date words are read against it.
    pub now: &'a jiff::ZonedDateTime,
    /// The `list_tasks` arguments for the page after the last list the conversation showed, if more follow.
    pub more: Option<&'a Value>,
    /// The `delete_task` arguments of the last turn, when they came back asking for the person's yes.
    pub pending: Option<&'a Value>,
    /// What the last turn knew of the conversation (empty for a first message).
    pub last: &'a LastTurn,
}

/// The conversation's last exchange, as the assistant reads it back from the stored messages (tool calls and
/// results are stored with each answer), so a follow-up is understood after a restart and per conversation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LastTurn {
    /// The person's message, when the answer to it was a question (no tool ran): "complete milk" before "Which
    /// one do you mean: 1 (buy milk) or 3 (milk for the cat)?".
    pub asked: Option<String>,
    /// Every task the turn's tools touched or showed, in order: "both", "them", "all of them".
    pub group: Vec<i64>,
    /// The tasks of the last list it showed, in order: "the first one", "the last one".
    pub shown: Vec<i64>,
    /// The last tool that changed something ("complete_task"): "and 3", "the dishes too".
    pub action: Option<String>,
    /// That call's arguments: "no, I meant 4" makes it again on task 4.
    pub call: Option<Value>,
    /// The person's message of the last turn.
    pub request: Option<String>,
    /// The tasks the conversation's tools acted on lately, newest first (lists excluded): "both" after two adds.
    pub recent: Vec<i64>,
    /// The tasks of the newest list the conversation showed, even turns ago: "and the other one" after
    /// "complete the first one" of a search.
    pub listed: Vec<i64>,
}

/// What to do with a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Call these tools (in order), then phrase an answer from their results with `compose_answer`.
    Call(Vec<ToolCall>),
    /// Answer directly with this text (help text, a clarifying question when a reference is ambiguous, "I could not find a task matching X" with the closest titles...).
    Reply(String),
}

/// Reads one chat message and decides which tools to call, or what to answer directly.
pub fn decide(message: &str, ctx: &Context) -> Decision {
    // A message in another language is read in English, its titles kept as written.
    let english = lang::to_english(message);
    let message = english.as_ref().map_or(message, |(e, _)| e.as_str());
    render(one_delete(interpret(message, ctx)), ctx)
}

/// An answer in the language `message` was written in (English when it was, or when no table fits).
pub fn in_language_of(message: &str, answer: String) -> String {
    match lang::language_of(message) {
        Some(l) => lang::localize(&answer, l),
        None => answer,
    }
}

/// Several deletions become one call with `task_ids`, which asks the person first (the tool answers with the
/// tasks to confirm), as a model is told to do.
fn one_delete(outcome: Outcome) -> Outcome {
    match outcome {
        Outcome::Calls(calls) if calls.len() > 1 && calls.iter().all(|c| c.name == "delete_task") => {
            let mut ids: Vec<Value> = Vec::new();
            for id in calls.iter().filter_map(|c| c.arguments.get("task_id")) {
                if !ids.contains(id) {
                    ids.push(id.clone());
                }
            }
            match ids.as_slice() {
                [one] => Outcome::Calls(vec![calls::tool("delete_task", serde_json::json!({ "task_id": one }))]),
                _ => Outcome::Calls(vec![calls::tool("delete_task", serde_json::json!({ "task_ids": ids }))]),
            }
        }
        other => other,
    }
}

/// After the tool calls ran: each call with its JSON result → the friendly final text confirming what was done.
pub fn compose_answer(calls: &[(ToolCall, Value)]) -> String {
    if calls.is_empty() {
        return "I didn't change anything.".to_string();
    }
    // Several successful adds read better as one list than as a stack of "Added task …" lines.
    let all_added = calls.len() > 1 && calls.iter().all(|(c, r)| c.name == "add_task" && error_of(r).is_none());
    if all_added {
        let mut out = format!("Added {} tasks:", calls.len());
        for (call, result) in calls {
            let t = TaskView::of(call, result);
            out.push_str(&format!(
                "\n- {}{}{}{}",
                t.number_prefix(),
                t.title_or("(untitled)"),
                t.extras_suffix(),
                t.note_suffix()
            ));
        }
        return out;
    }
    let lines: Vec<String> = calls.iter().map(|(c, r)| answer_one(c, r)).collect();
    // A group change ("push everything due today to tomorrow") can touch a page of tasks: keep the answer short.
    const SHOWN: usize = 10;
    if lines.len() > SHOWN + 2 {
        let rest = lines.len() - SHOWN;
        return format!("{}\n…and {rest} more like these ({} in all).", lines[..SHOWN].join("\n"), lines.len());
    }
    lines.join("\n")
}

// ---------------------------------------------------------------------------------------------------------------
// Interpretation
// ---------------------------------------------------------------------------------------------------------------

/// The decision before it is worded; tests check these kinds rather than exact reply strings.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Calls(Vec<ToolCall>),
    /// `understood` is false when the message was not recognised at all (as opposed to a greeting or "help").
    Help {
        understood: bool,
    },
    Thanks,
    /// "ok", "never mind": nothing to do.
    Ack,
    Ambiguous {
        candidates: Vec<i64>,
    },
    NotFound {
        phrase: String,
        closest: Vec<i64>,
    },
    Ask(Ask),
    /// A polite refusal or a fact (e.g. "nothing to clear").
    Info(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Ask {
    WhichTask,
    WhatTitle,
    WhatChange(i64),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Purpose {
    Complete,
    Delete,
    /// Renames and notes: one task at a time.
    Update,
    /// Due dates, priorities, labels: groups allowed ("push everything due today to tomorrow").
    Fields,
    Reopen,
}

fn interpret(message: &str, ctx: &Context) -> Outcome {
    let normalized = normalize(message);
    let cleaned = strip_fillers(&normalized);
    let titles: Vec<String> = ctx.tasks.iter().flat_map(|t| words::tokens(&t.title)).collect();
    let corrected = typos::correct(cleaned.text, &titles);
    let text = corrected.as_str();
    if text.is_empty() {
        return if cleaned.thanked {
            Outcome::Thanks
        } else if cleaned.acked {
            Outcome::Ack
        } else {
            Outcome::Help { understood: true }
        };
    }
    if let Some(args) = ctx.pending {
        match phrasing::yes_or_no(text) {
            Some(true) => {
                let mut args = args.clone();
                args["confirm"] = Value::Bool(true);
                return Outcome::Calls(vec![calls::tool("delete_task", args)]);
            }
            Some(false) => return Outcome::Info("Okay, I kept them: nothing was deleted.".into()),
            // "actually no, just delete 4": the question is dropped and the rest is a request of its own.
            None => {
                let l = fold(text);
                if let Some((rest, _)) =
                    strip_any_prefix(&l, &["actually no,", "actually no", "no,", "no wait,", "nope,"])
                    && !rest.trim().is_empty()
                {
                    let fresh = Context { pending: None, ..*ctx };
                    let start = text.len() - rest.len();
                    return interpret(&text[start..], &fresh);
                }
            }
        }
    }
    if let Some(o) = followups::answer_to_question(text, ctx) {
        return o;
    }
    if let Some(o) = followups::correction(&normalized, ctx) {
        return o;
    }
    if let Some(o) = followups::continuation(&normalized, ctx) {
        return o;
    }
    // "and it's urgent", "also delete 4": a request of its own after the joining word.
    if let Some((rest, _)) = strip_any_prefix(text, &["oh and", "and also", "and", "also", "plus"])
        && !rest.trim().is_empty()
    {
        return interpret(rest.trim_start_matches([',', ' ']), ctx);
    }
    if let Some(o) = commands::try_undo(text) {
        return o;
    }
    if let Some(o) = smalltalk(text) {
        return o;
    }
    if let Some(o) = multi::try_multi(text, ctx) {
        return o;
    }
    let steps: [fn(&str, &Context) -> Option<Outcome>; 9] = [
        fields::try_more,
        fields::try_search,
        fields::try_fields,
        try_update,
        try_add,
        try_delete,
        try_list,
        fields::try_reopen,
        try_complete,
    ];
    for step in steps {
        if let Some(o) = step(text, ctx) {
            return refine_list(o, text, ctx);
        }
    }
    if !cleaned.question
        && let Some(o) = try_past_tense(text, ctx)
    {
        return o;
    }
    // "milk tomorrow", "dentist friday 3pm": a few words and when, with no verb, is a task to add.
    if let Some(o) = followups::due_change(text, ctx) {
        return o;
    }
    if !cleaned.question
        && ctx.last.asked.is_none()
        && text.split_whitespace().count() <= 8
        && !first_word(text).is_some_and(|w| ["the", "it", "that", "this", "la", "el", "and"].contains(&w.as_str()))
        && !first_word(text).is_some_and(|w| ["make", "set", "move", "change", "put", "push"].contains(&w.as_str()))
        && let Some(Outcome::Calls(calls)) = try_add(&format!("add {text}"), ctx)
        && calls.iter().all(|c| c.name == "add_task" && c.arguments.get("due").is_some())
    {
        return Outcome::Calls(calls);
    }
    Outcome::Help { understood: false }
}

/// A list request narrowed by what else the message says: a word that is one of the person's labels ("list my
/// errands", "show open work tasks"), "with X" / "about X" words to search for, "for friday" / "on wednesday"
/// as the day things are due.
fn refine_list(outcome: Outcome, text: &str, ctx: &Context) -> Outcome {
    let Outcome::Calls(mut calls) = outcome else { return outcome };
    let [call] = calls.as_mut_slice() else { return Outcome::Calls(calls) };
    if call.name != "list_tasks" || call.arguments.get("cursor").is_some() {
        return Outcome::Calls(calls);
    }
    let words = words::tokens(text);
    let args = &mut call.arguments;
    if args.get("label").is_none() && args.get("search").is_none() {
        let labels: Vec<String> =
            ctx.tasks.iter().flat_map(|t| t.labels.iter().map(|l| crate::tasks::label_key(l))).collect();
        if let Some(w) = words.iter().find(|w| labels.contains(w)) {
            args["label"] = Value::String(w.clone());
        }
    }
    if args.get("search").is_none() {
        for lead in ["with", "about", "involving", "mentioning", "regarding"] {
            if let Some(i) = words.iter().position(|w| w == lead)
                && let Some(what) = words.get(i + 1..).filter(|r| !r.is_empty())
            {
                let what: Vec<&str> =
                    what.iter().map(String::as_str).filter(|w| !["the", "a", "an", "my"].contains(w)).collect();
                if !what.is_empty() && what.len() <= 3 {
                    args["search"] = Value::String(what.join(" "));
                }
                break;
            }
        }
    }
    if args.get("due").is_none() {
        for lead in ["for", "on"] {
            if let Some(i) = words.iter().position(|w| w == lead)
                && let Some(day) = words.get(i + 1)
                && crate::tasks::dates::parse(day, ctx.now).is_ok_and(|d| d.time.is_none())
                && let Ok(d) = crate::tasks::dates::parse(day, ctx.now)
            {
                args["due"] = Value::String(format!("on:{}", d.date));
                args["status"] = Value::String("pending".into());
                break;
            }
        }
    }
    Outcome::Calls(calls)
}

#[cfg(test)]
mod tests;
