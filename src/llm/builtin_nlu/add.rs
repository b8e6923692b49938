//! Adding tasks: "add …", "create a task to …", "remind me to …", "I need to …", "todo: …", "put … on my list".
//!
//! The title keeps the person's words and capitalisation; "a task to", list suffixes ("to my list") and
//! "please" are dropped, and due words, a priority and labels become fields (see `fields`). A description comes
//! from "X: Y", "X - Y", "X (note: Y)", "X with description Y".
//!
//! **Splitting rule**: `;` and line breaks always separate tasks. Commas and "and"/"&" separate tasks only when
//! the request is a bare or plural add ("add X", "add tasks: X", "put X on my list", "todo: X"), no description
//! was given, and the pieces are parallel: all single words, or all phrases of two or three words (a/an/the/
//! some/my not counted). So "add milk, eggs and bread" and "add buy milk and call mom" give several tasks,
//! while "add a task to research salt and pepper shakers", "remind me to buy milk and call mom" (singular
//! phrasing), "add call mom and dad" and "add buy milk and eggs" (a phrase plus a lone word: a compound
//! object) give one. Known misses: a bare "add salt and pepper" or "add research salt and pepper shakers" gives
//! two tasks; "add a task to …" keeps one.

use super::calls::add_call;
use super::text::{fold, strip_any_prefix, strip_any_suffix, strip_prefix_ci, strip_suffix_ci};
use super::{Ask, Context, Outcome, fields};

#[derive(Debug, Clone, Copy, PartialEq)]
enum AddKind {
    /// "a task to …", "remind me to …": one task, whatever commas or "and" it contains.
    One,
    /// "add …", "add tasks: …": may be a list of short items.
    List,
    /// "put … on my list": only an add when the list suffix is there ("put the milk in the fridge" is not).
    PutOnList,
}

/// Singular phrasings: one task, whatever commas or "and" the rest contains.
#[rustfmt::skip]
const ADD_ONE: &[&str] = &[
    "add a note to self", "add note to self", "add a new task called", "add a new task named", "add a new task to",
    "add a new task", "add new task to", "add new task", "add a task called", "add a task named", "add a task to",
    "add a task for", "add a task", "add task to", "add task", "add a todo to", "add a todo", "add a to-do to",
    "add a to-do", "add todo", "add a reminder to", "add a reminder", "add an item", "create a new task to",
    "create a new task", "create a task to", "create a task called", "create a task", "create task",
    "make a new task", "make a task to", "make a task", "new task to", "new task", "new todo", "new to-do",
    "new reminder", "set a reminder to", "set a reminder", "remind me that i need to", "remind me that i have to",
    "remind me to", "remind me about", "remind me", "remember that i need to", "remember i need to", "remember to",
    "don't let me forget to", "dont let me forget to", "do not let me forget to", "don't let me forget",
    "dont let me forget", "don't forget to", "dont forget to", "do not forget to", "note to self", "make sure i",
    "make sure to", "i need to", "i have to", "i've got to", "ive got to", "i got to", "i gotta", "i must",
    "i should", "i want to", "i'd like to", "i would like to", "i'll need to", "need to", "have to", "gotta",
    "reminder:", "task:",
];
/// Bare or plural phrasings: the rest may be a list of short items.
#[rustfmt::skip]
const ADD_LIST: &[&str] = &[
    "add tasks", "add two tasks", "add 2 tasks", "add three tasks", "add 3 tasks", "add a few tasks",
    "add some tasks", "add these tasks", "add these", "add the following", "add items", "add to my todo list",
    "add to my to-do list", "add to my list", "add to the list", "add to list", "create tasks", "new tasks",
    "todo:", "to-do:", "to do:", "todos:", "add", "create", "jot down", "write down", "note down",
];
/// Only an add when a list suffix follows ("put the milk in the fridge" is not a task).
const ADD_PUT: &[&str] = &["put", "stick"];

pub(super) fn try_add(text: &str, ctx: &Context) -> Option<Outcome> {
    // The longest matching prefix wins, so "add a task to" beats "add".
    let kinds = [(ADD_ONE, AddKind::One), (ADD_LIST, AddKind::List), (ADD_PUT, AddKind::PutOnList)];
    let (rest, kind) = kinds
        .iter()
        .flat_map(|(ps, k)| ps.iter().map(move |p| (*p, *k)))
        .filter_map(|(p, k)| strip_prefix_ci(text, p).map(|r| (p.len(), r, k)))
        .max_by_key(|(len, _, _)| *len)
        .map(|(_, r, k)| (r, k))?;
    let mut x = rest.trim_start_matches(|c: char| c.is_whitespace() || ":-,".contains(c));
    if let Some((r, _)) = strip_any_prefix(x, &["called", "named", "titled", "that says", "saying"]) {
        x = r.trim_start_matches([':', ' ']);
    }
    let (x, had_suffix) = strip_list_suffix(x);
    // "put pay rent back on my list" reopens a task.
    let back = fold(x).ends_with(" back");
    if kind == AddKind::PutOnList && (!had_suffix || back) {
        return None;
    }
    let (title_part, description) = split_description(x);
    // "urgent: call the plumber", "renew passport (important)": a priority, not a description.
    let (title_part, description, said_priority) = match description {
        Some(d) if fields::priority_word(title_part).is_some() => (d, None, fields::priority_word(title_part)),
        Some(d) if fields::priority_word(d).is_some() => (title_part, None, fields::priority_word(d)),
        other => (title_part, other, None),
    };
    // What ends the whole request ("add milk, eggs and bread #groceries tomorrow") is shared by every item;
    // each item may carry its own too ("add buy milk tomorrow and call mom friday").
    let lists = kind != AddKind::One && description.is_none();
    // "add gym tomorrow at 7am and dentist friday at 2pm": each item says its own when, so none is shared.
    let dated = lists.then(|| split_dated(title_part, ctx.now)).flatten();
    let (title_part, mut shared) = match &dated {
        Some(_) => (title_part.to_string(), fields::Extras::default()),
        None => fields::split_extras(&clean_title(title_part), ctx.now),
    };
    shared.priority = shared.priority.or(said_priority);
    let items = dated.unwrap_or_else(|| split_items(&title_part, lists));
    let titles: Vec<(String, fields::Extras)> = items
        .iter()
        .map(|i| {
            let (t, own) = fields::split_extras(&clean_title(i), ctx.now);
            (t, own.or(&shared))
        })
        .filter(|(t, _)| !t.is_empty())
        .collect();
    if titles.is_empty() {
        return Some(Outcome::Ask(Ask::WhatTitle));
    }
    let description = description.map(clean_title).filter(|d| !d.is_empty());
    let calls = titles.iter().map(|(t, ex)| fields::with_extras(add_call(t, description.as_deref()), ex)).collect();
    Some(Outcome::Calls(calls))
}

/// Drops "to my list", "on the shopping list", "as a task"…; says whether one was there.
fn strip_list_suffix(x: &str) -> (&str, bool) {
    #[rustfmt::skip]
    const NOUNS: &[&str] = &[
        "list", "tasks", "todos", "todo", "to-dos", "checklist", "reminders",
    ];
    let l = fold(x);
    for (i, _) in l.match_indices(' ').collect::<Vec<_>>().into_iter().rev() {
        let head = &l[..i];
        let prep_ok = [" to", " on", " onto", " in", " into"].iter().any(|p| head.ends_with(p));
        if !prep_ok {
            continue;
        }
        let words: Vec<&str> = l[i + 1..].split(' ').collect();
        let valid = words.len() >= 2
            && words.len() <= 4
            && ["my", "the", "our"].contains(&words[0])
            && NOUNS.contains(words.last().unwrap_or(&""));
        if valid {
            let cut = head.rfind(' ').unwrap_or(0);
            return (x[..cut].trim_end(), true);
        }
    }
    for s in ["as a new task", "as a task", "as a todo", "as a reminder", "as tasks"] {
        if let Some(r) = strip_suffix_ci(x, s) {
            return (r, true);
        }
    }
    (x, false)
}

/// Splits "buy milk: 2 litres" / "X with description Y" / "X (note: Y)" / "X - Y" into title and description.
fn split_description(x: &str) -> (&str, Option<&str>) {
    const KINDS: &[&str] = &["description", "desc", "notes", "note", "details", "comment"];
    let l = fold(x);
    for (i, _) in l.match_indices(" with ") {
        let tail = &x[i + 6..];
        let tail = strip_any_prefix(tail, &["a", "an", "the"]).map_or(tail, |(r, _)| r);
        if let Some((r, _)) = strip_any_prefix(tail, KINDS) {
            let r = strip_any_prefix(r, &["that says", "saying", "of"]).map_or(r, |(r, _)| r);
            let d = r.trim_start_matches([':', ' ', '-']);
            if !d.is_empty() && i > 0 {
                return (x[..i].trim(), Some(d));
            }
        }
    }
    for k in KINDS {
        let key = format!(" {k}:");
        if let Some(i) = l.find(&key) {
            let d = x[i + key.len()..].trim();
            let t = x[..i].trim_end_matches([',', ';', '-', ' ']);
            if !d.is_empty() && !t.is_empty() {
                return (t, Some(d));
            }
        }
    }
    if x.ends_with(')')
        && let Some(open) = x.rfind(" (")
    {
        let inner = x[open + 2..x.len() - 1].trim();
        let inner = strip_any_prefix(inner, KINDS).map_or(inner, |(r, _)| r.trim_start_matches([':', ' ']));
        if !inner.is_empty() {
            return (x[..open].trim(), Some(inner));
        }
    }
    for sep in [": ", " -- ", " — ", " – ", " - "] {
        if let Some(i) = x.find(sep) {
            let (t, d) = (x[..i].trim(), x[i + sep.len()..].trim());
            if !t.is_empty() && !d.is_empty() {
                return (t, Some(d));
            }
        }
    }
    (x, None)
}

/// "gym tomorrow at 7am and dentist friday at 2pm": pieces joined by "and" or commas that each carry their own
/// due words are several tasks, however long each is.
fn split_dated<'a>(x: &'a str, now: &jiff::ZonedDateTime) -> Option<Vec<&'a str>> {
    if x.contains(';') {
        return None;
    }
    let parts = pieces(x);
    let each_dated = parts.iter().all(|p| {
        let (title, extras) = fields::split_extras(&clean_title(p), now);
        !title.is_empty() && extras.due.is_some()
    });
    (parts.len() >= 2 && each_dated).then_some(parts)
}

/// Semicolons always separate tasks; commas and "and" only for a list of short items (see the module doc).
fn split_items(x: &str, lists: bool) -> Vec<&str> {
    let mut items = Vec::new();
    for piece in x.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        match split_short_list(piece) {
            Some(parts) if lists => items.extend(parts),
            _ => items.push(piece),
        }
    }
    items
}

/// The pieces of "a, b and c" (commas, "and", "&").
fn pieces(piece: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    for chunk in piece.split(',').map(str::trim) {
        let mut rest = strip_any_prefix(chunk, &["and", "&"]).map_or(chunk, |(r, _)| r);
        loop {
            let l = fold(rest);
            match [" and ", " & "].iter().filter_map(|s| l.find(s).map(|i| (i, s.len()))).min() {
                Some((i, n)) => {
                    parts.push(rest[..i].trim());
                    rest = rest[i + n..].trim();
                }
                None => break,
            }
        }
        parts.push(rest);
    }
    parts.retain(|p| !p.is_empty());
    parts
}

fn split_short_list(piece: &str) -> Option<Vec<&str>> {
    let parts = pieces(piece);
    let sizes: Vec<usize> = parts
        .iter()
        .map(|p| p.split_whitespace().filter(|w| !["a", "an", "the", "some", "my"].contains(&fold(w).as_str())).count())
        .collect();
    // Parallel items only: all single words ("milk, eggs and bread") or all short phrases ("buy milk and call
    // mom"). A mix ("call mom and dad", "buy milk and eggs") is one task with a compound object.
    let parallel = sizes.iter().all(|&n| n == 1) || sizes.iter().all(|&n| (2..=3).contains(&n));
    (parts.len() >= 2 && parallel).then_some(parts)
}

/// Quotes, trailing punctuation and a trailing "please" are not part of a title.
pub(super) fn clean_title(s: &str) -> String {
    let mut t = s.trim();
    loop {
        let before = t;
        t = t.trim_end_matches(|c: char| c.is_whitespace() || ".,;:!?".contains(c));
        t = t.trim_start_matches(|c: char| c.is_whitespace() || ",;:-".contains(c));
        for q in ['"', '\''] {
            if t.len() >= 2 && t.starts_with(q) && t.ends_with(q) {
                t = &t[1..t.len() - 1];
            }
        }
        // "add brushes too" after adding paint.
        if let Some((r, _)) = strip_any_suffix(t, &["please", "pls", "too", "as well"]) {
            t = r;
        }
        if t == before {
            return t.to_string();
        }
    }
}
