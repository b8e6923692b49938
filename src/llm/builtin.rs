//! The builtin assistant: offline and deterministic. It reads the person's message (with [`builtin_nlu`]),
//! emits the same tool calls a hosted model would, and after the results come back phrases the answer, all
//! through the same agent loop, so everything downstream of a model is exercised without a network.
//!
//! It never reads the person's whole list. Before deciding, it gathers the few tasks the message can be about
//! with bounded, indexed lookups ([`super::TaskLookup`]): those sharing words with the message, those it names
//! by number, those the conversation touched lately, and for "everything" the first page of the list.

use futures::StreamExt;
use serde_json::Value;

use super::builtin_nlu::{self as nlu, Context, Decision, TaskRef};
use super::{ChatMessage, ChatModel, LlmError, ModelEvent, ModelRequest, ModelStream, TaskLookup, ToolCall};
use crate::tasks::{StatusFilter, Task, TaskQuery};

pub struct Builtin;

/// Candidates found by words, at most; a reference that matches more than this many titles is a question.
const SEARCH_CANDIDATES: usize = 50;
/// Tasks the conversation touched lately that are looked up again ("it", "the milk one").
const RECENT_CANDIDATES: usize = 20;
/// Words of a message looked up by their first letters when no title has them, and the tasks read for each.
const MISSPELT_WORDS: usize = 3;
const PREFIX_CANDIDATES: usize = 20;
/// The page "everything" acts on.
const BULK_PAGE: usize = 100;

/// The numbers of the tasks the conversation touched, newest first: tool results and calls naming one.
fn touched(messages: &[ChatMessage]) -> Vec<i64> {
    let mut out: Vec<i64> = Vec::new();
    let mut push = |n: Option<i64>| {
        if let Some(n) = n
            && !out.contains(&n)
        {
            out.push(n);
        }
    };
    for m in messages.iter().rev() {
        match m {
            ChatMessage::ToolResult { result, .. } => {
                push(result.pointer("/task/number").and_then(Value::as_i64));
                for t in result.get("tasks").and_then(Value::as_array).into_iter().flatten() {
                    push(t.get("number").and_then(Value::as_i64));
                }
                for r in result.get("results").and_then(Value::as_array).into_iter().flatten() {
                    push(r.get("number").and_then(Value::as_i64));
                }
            }
            ChatMessage::Assistant { tool_calls, .. } => {
                for c in tool_calls.iter().rev() {
                    push(c.arguments.get("task_id").and_then(Value::as_i64));
                    for n in c.arguments.get("task_ids").and_then(Value::as_array).into_iter().flatten() {
                        push(n.as_i64());
                    }
                }
            }
            ChatMessage::User(_) => {}
        }
    }
    out
}

/// The number of the task the conversation last touched: the newest tool result or call naming one.
fn last_mentioned(messages: &[ChatMessage]) -> Option<i64> {
    messages.iter().rev().find_map(|m| match m {
        ChatMessage::ToolResult { result, .. } => result.pointer("/task/number").and_then(Value::as_i64),
        ChatMessage::Assistant { tool_calls, .. } => {
            tool_calls.iter().rev().find_map(|c| c.arguments.get("task_id").and_then(Value::as_i64))
        }
        ChatMessage::User(_) => None,
    })
}

/// Numbers written in the message as digits ("3", "#12", "tasks 4, 5 and 7").
fn numbers_in(message: &str) -> Vec<i64> {
    let mut out: Vec<i64> = message
        .split(|c: char| !c.is_ascii_digit())
        .filter(|d| !d.is_empty() && d.len() <= 15)
        .filter_map(|d| d.parse().ok())
        .filter(|n| *n > 0)
        .collect();
    out.sort_unstable();
    out.dedup();
    out.truncate(BULK_PAGE);
    out
}

/// Whether the message may act on a whole group ("mark everything done", "clear completed"). "completed" and
/// "finished" name the group only as the last word or before a plural ("delete finished tasks"): in "I
/// finished call supplier" they are the verb of one task's report.
fn speaks_of_all(message: &str) -> bool {
    let l = message.to_lowercase();
    let words: Vec<&str> = l.split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()).collect();
    words.iter().enumerate().any(|(i, w)| match *w {
        "all" | "everything" | "every" | "whole" | "entire" => true,
        "completed" | "finished" => words
            .get(i + 1)
            .is_none_or(|next| ["tasks", "ones", "one", "items", "todos", "things", "stuff"].contains(next)),
        _ => false,
    })
}

/// The tasks this message can be about, each once, looked up with bounded queries.
async fn candidates(
    lookup: &dyn TaskLookup,
    message: &str,
    history: &[ChatMessage],
    now: &jiff::ZonedDateTime,
) -> anyhow::Result<Vec<Task>> {
    let mut numbers = numbers_in(message);
    // An answer to a question ("the milk one", "2") is read with the request it answers.
    let asked = last_turn(history).asked;
    let message: &str = &match &asked {
        Some(request) => format!("{request} {message}"),
        None => message.to_string(),
    };
    numbers.extend(touched(history).into_iter().take(RECENT_CANDIDATES));
    let mut found = lookup.numbers(&numbers).await?;
    let words = nlu::search_text(message);
    found.extend(lookup.search(&words, SEARCH_CANDIDATES).await?);
    // A word no title has may be a misspelt one ("the dentsit"): the tasks with a word that starts as it does
    // are read (one bounded lookup of the index's prefix entries for at most a few words), and the reference
    // compares their titles by spelling.
    let prefixes: Vec<String> = words
        .split_whitespace()
        .filter(|w| w.chars().count() >= 5 && w.chars().all(char::is_alphabetic))
        .filter(|w| !found.iter().any(|t| t.title.to_lowercase().contains(&w.to_lowercase())))
        .map(|w| w.to_lowercase().chars().take(3).collect())
        .take(MISSPELT_WORDS)
        .collect();
    if !prefixes.is_empty() {
        found.extend(lookup.search_prefixes(&prefixes, PREFIX_CANDIDATES * prefixes.len()).await?);
    }
    // "push everything due today to tomorrow": the first page of that group, by the due index.
    if let Some(group) = nlu::due_group_in(message, now) {
        let due = crate::tasks::DueFilter::parse(&group.filter()).ok();
        let query = TaskQuery { status: StatusFilter::Pending, due, limit: Some(BULK_PAGE), ..Default::default() };
        found.extend(lookup.list(&query).await?);
    }
    // "the last task": the newest, one row by the number index.
    if ["last", "latest", "newest", "recent"].iter().any(|w| message.to_lowercase().split_whitespace().any(|m| m == *w))
    {
        let query = TaskQuery { sort: Some(crate::tasks::Sort::Created), limit: Some(1), ..Default::default() };
        found.extend(lookup.list(&query).await?);
    }
    // "all my work tasks", "everything tagged old": a page of each label the message may name; otherwise one
    // task of each, to know it is a label ("list my errands").
    let grouping = ["tagged", "labelled", "labeled"].iter().any(|w| message.to_lowercase().contains(w));
    let page = if grouping || speaks_of_all(message) { BULK_PAGE } else { 1 };
    let first = message.split_whitespace().next().unwrap_or_default().to_lowercase();
    let listing = grouping
        || speaks_of_all(message)
        || ["list", "show", "what", "what's", "whats", "which", "display", "view", "see", "find", "any", "anything"]
            .contains(&first.as_str());
    for w in words.split_whitespace().filter(|w| listing && w.chars().all(char::is_alphanumeric)).take(MISSPELT_WORDS) {
        let query = TaskQuery { label: Some(w.to_string()), limit: Some(page), ..Default::default() };
        found.extend(lookup.list(&query).await?);
    }
    if speaks_of_all(message) {
        for status in [StatusFilter::Pending, StatusFilter::Completed] {
            let query = TaskQuery { status, limit: Some(BULK_PAGE), ..Default::default() };
            found.extend(lookup.list(&query).await?);
        }
    }
    let mut seen = std::collections::HashSet::new();
    found.retain(|t| seen.insert(t.number));
    found.sort_by_key(|t| t.number);
    Ok(found)
}

/// The arguments for the page after the last list this conversation showed, when one follows.
fn next_page(messages: &[ChatMessage]) -> Option<Value> {
    let (call_id, cursor) = messages.iter().rev().find_map(|m| match m {
        ChatMessage::ToolResult { call_id, result, .. } if result.get("tasks").is_some() => {
            Some((call_id.clone(), result.get("next_cursor").and_then(Value::as_str).map(str::to_string)))
        }
        _ => None,
    })?;
    let cursor = cursor?;
    let mut args = messages.iter().rev().find_map(|m| match m {
        ChatMessage::Assistant { tool_calls, .. } => {
            tool_calls.iter().find(|c| c.id == call_id && c.name == "list_tasks").map(|c| c.arguments.clone())
        }
        _ => None,
    })?;
    if !args.is_object() {
        args = serde_json::json!({});
    }
    args["cursor"] = Value::String(cursor);
    Some(args)
}

/// What the conversation's previous exchange left for this message to refer to (see [`nlu::LastTurn`]).
fn last_turn(before: &[ChatMessage]) -> nlu::LastTurn {
    let mut last = nlu::LastTurn::default();
    let Some(user) = before.iter().rposition(|m| matches!(m, ChatMessage::User(_))) else { return last };
    let exchange = &before[user + 1..];
    let ran_tools = exchange.iter().any(|m| matches!(m, ChatMessage::ToolResult { .. }));
    let answer = exchange.iter().rev().find_map(|m| match m {
        ChatMessage::Assistant { text, .. } if !text.is_empty() => Some(text.as_str()),
        _ => None,
    });
    if let ChatMessage::User(request) = &before[user] {
        last.request = Some(request.clone());
    }
    if let (false, Some(a), ChatMessage::User(asked)) = (ran_tools, answer, &before[user])
        && a.trim_end().ends_with(['?', '؟'])
    {
        last.asked = Some(asked.clone());
    }
    let push = |out: &mut Vec<i64>, n: Option<i64>| {
        if let Some(n) = n
            && !out.contains(&n)
        {
            out.push(n);
        }
    };
    for m in before.iter().rev() {
        match m {
            ChatMessage::ToolResult { result, .. } => {
                push(&mut last.recent, result.pointer("/task/number").and_then(Value::as_i64));
                if let Some(list) = result.get("tasks").and_then(Value::as_array)
                    && last.listed.is_empty()
                {
                    last.listed = list.iter().filter_map(|t| t.get("number").and_then(Value::as_i64)).collect();
                }
            }
            ChatMessage::Assistant { tool_calls, .. } => {
                for c in tool_calls.iter().rev().filter(|c| c.name != "list_tasks") {
                    push(&mut last.recent, c.arguments.get("task_id").and_then(Value::as_i64));
                }
            }
            _ => {}
        }
    }
    for m in exchange {
        match m {
            ChatMessage::ToolResult { result, .. } => {
                push(&mut last.group, result.pointer("/task/number").and_then(Value::as_i64));
                for r in result.get("results").and_then(Value::as_array).into_iter().flatten() {
                    push(&mut last.group, r.get("number").and_then(Value::as_i64));
                }
                if let Some(list) = result.get("tasks").and_then(Value::as_array) {
                    last.shown.clear();
                    for t in list {
                        let n = t.get("number").and_then(Value::as_i64);
                        push(&mut last.group, n);
                        push(&mut last.shown, n);
                    }
                }
            }
            ChatMessage::Assistant { tool_calls, .. } => {
                if let Some(c) = tool_calls.iter().rev().find(|c| c.name != "list_tasks") {
                    last.action = Some(c.name.clone());
                    last.call = Some(c.arguments.clone());
                }
            }
            ChatMessage::User(_) => {}
        }
    }
    last
}

/// The `delete_task` arguments of the previous exchange when the tool asked for the person's yes: what
/// "yes" now confirms. Only the exchange just before counts; anything said since moves on.
fn pending_confirmation(before: &[ChatMessage]) -> Option<Value> {
    let last_user = before.iter().rposition(|m| matches!(m, ChatMessage::User(_)))?;
    let exchange = &before[last_user + 1..];
    exchange.iter().find_map(|m| match m {
        ChatMessage::ToolResult { call_id, result, .. }
            if result.get("error").and_then(Value::as_str) == Some("confirmation_required") =>
        {
            exchange.iter().find_map(|m| match m {
                ChatMessage::Assistant { tool_calls, .. } => {
                    tool_calls.iter().find(|c| c.id == *call_id && c.name == "delete_task").map(|c| c.arguments.clone())
                }
                _ => None,
            })
        }
        _ => None,
    })
}

/// Text as a stream of word-sized deltas, the way hosted models stream.
fn text_events(text: &str) -> Vec<Result<ModelEvent, LlmError>> {
    let mut out: Vec<Result<ModelEvent, LlmError>> =
        text.split_inclusive(' ').map(|w| Ok(ModelEvent::TextDelta(w.to_string()))).collect();
    out.push(Ok(ModelEvent::Finish { reason: "stop".into() }));
    out
}

/// What this model call of the loop has to work from.
enum Step<'a> {
    /// Tool results are in: phrase the answer from them.
    Answer(Vec<(nlu::ToolCall, Value)>),
    /// Read the person's message and decide.
    Decide { message: &'a str, before: &'a [ChatMessage], index: usize },
    /// Nothing to read.
    Empty,
}

fn step(request: &ModelRequest) -> Step<'_> {
    let Some(last_user) = request.messages.iter().rposition(|m| matches!(m, ChatMessage::User(_))) else {
        return Step::Empty;
    };
    let this_turn = &request.messages[last_user + 1..];
    if this_turn.iter().any(|m| matches!(m, ChatMessage::ToolResult { .. })) {
        let mut pairs = vec![];
        for m in this_turn {
            if let ChatMessage::Assistant { tool_calls, .. } = m {
                for call in tool_calls {
                    let result = this_turn
                        .iter()
                        .find_map(|r| match r {
                            ChatMessage::ToolResult { call_id, result, .. } if *call_id == call.id => {
                                Some(result.clone())
                            }
                            _ => None,
                        })
                        .unwrap_or(Value::Null);
                    pairs.push((nlu::ToolCall { name: call.name.clone(), arguments: call.arguments.clone() }, result));
                }
            }
        }
        return Step::Answer(pairs);
    }
    match &request.messages[last_user] {
        ChatMessage::User(message) => {
            Step::Decide { message, before: &request.messages[..last_user], index: last_user }
        }
        _ => Step::Empty,
    }
}

/// The answer for one model call of the loop, given the tasks the message can be about.
fn respond(request: &ModelRequest, known: &[Task], now: &jiff::ZonedDateTime) -> Vec<Result<ModelEvent, LlmError>> {
    let said = request.messages.iter().rev().find_map(|m| match m {
        ChatMessage::User(text) => Some(text.as_str()),
        _ => None,
    });
    let local = |answer: String| said.map_or_else(|| answer.clone(), |s| nlu::in_language_of(s, answer.clone()));
    let (message, before, index) = match step(request) {
        Step::Empty => return text_events(&nlu::compose_answer(&[])),
        Step::Answer(pairs) => return text_events(&local(nlu::compose_answer(&pairs))),
        Step::Decide { message, before, index } => (message, before, index),
    };
    let tasks: Vec<TaskRef> = known
        .iter()
        .map(|t| TaskRef {
            number: t.number,
            title: t.title.clone(),
            completed: t.completed,
            due: t.due.as_ref().map(|d| d.date.clone()),
            due_time: t.due.as_ref().and_then(|d| d.time.clone()),
            labels: t.labels.clone(),
        })
        .collect();
    let more = next_page(before);
    let pending = pending_confirmation(before);
    let last = last_turn(before);
    let mut last_mentioned = last_mentioned(before);
    // "it" after a list of one is that task.
    if last.shown.len() == 1 && last.group.len() == 1 {
        last_mentioned = last.shown.first().copied();
    }
    let ctx = Context {
        pending: pending.as_ref(),
        last: &last,
        tasks: &tasks,
        last_mentioned,
        user_name: request.user_name.as_deref(),
        now,
        more: more.as_ref(),
    };
    match nlu::decide(message, &ctx) {
        Decision::Reply(text) => text_events(&local(text)),
        Decision::Call(calls) => {
            let mut out: Vec<Result<ModelEvent, LlmError>> = calls
                .into_iter()
                .enumerate()
                .map(|(i, c)| {
                    Ok(ModelEvent::ToolCall(ToolCall {
                        id: format!("builtin-{index}-{i}"),
                        name: c.name,
                        arguments: c.arguments,
                    }))
                })
                .collect();
            out.push(Ok(ModelEvent::Finish { reason: "tool_calls".into() }));
            out
        }
    }
}

#[async_trait::async_trait]
impl ChatModel for Builtin {
    fn name(&self) -> String {
        "builtin".into()
    }

    async fn stream(&self, request: &ModelRequest) -> Result<ModelStream, LlmError> {
        let now = request.tasks.as_ref().map_or_else(jiff::ZonedDateTime::now, |l| l.now());
        let known = match (step(request), &request.tasks) {
            (Step::Decide { message, before, .. }, Some(lookup)) => candidates(lookup.as_ref(), message, before, &now)
                .await
                .map_err(|e| LlmError::Network(format!("the task list could not be read: {e:#}")))?,
            _ => vec![],
        };
        Ok(futures::stream::iter(respond(request, &known, &now)).boxed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_a_message_are_found_and_bounded() {
        assert_eq!(numbers_in("mark 3, #12 and 3 done"), [3, 12]);
        assert!(numbers_in("buy milk").is_empty());
        assert!(numbers_in(&"9".repeat(40)).is_empty());
        assert_eq!(numbers_in(&(1..500).map(|n| n.to_string()).collect::<Vec<_>>().join(" ")).len(), BULK_PAGE);
    }

    #[test]
    fn groups_are_spoken_of_as_words_not_parts_of_words() {
        assert!(speaks_of_all("mark everything done"));
        assert!(speaks_of_all("clear completed"));
        assert!(speaks_of_all("delete the finished tasks please"));
        assert!(!speaks_of_all("i finished call supplier bakemo"), "a report about one task");
    }

    #[test]
    fn searches_for_the_words_that_name_a_task() {
        assert_eq!(nlu::search_text("add a task to pay bill bakemo"), "pay bill bakemo");
        assert_eq!(nlu::search_text("i finished call supplier bakemo"), "call supplier bakemo");
        assert_eq!(nlu::search_text("mark the milk one as done"), "milk");
        assert_eq!(nlu::search_text("mark set up done"), "set");
        assert_eq!(nlu::search_text("complete the new one"), "complete the new one", "nothing else names it");
        assert!(!speaks_of_all("call mom"));
        assert!(!speaks_of_all("install the tall shelf"));
    }
}
