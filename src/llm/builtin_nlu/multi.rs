//! Several commands in one message: "add eggs and mark 2 done", "complete the dishes, then show me what's
//! left", "rename 2 to pay gas bill and make it high priority", "add call Omar and tag it family".
//!
//! The message is cut where a separator ("and", ", then", ";" …) is followed by a command verb; each part is
//! read on its own, in order, "it" in a part meaning the task the part before acted on. A change to "it" right
//! after an add ("and tag it family", "and make it urgent") becomes part of the add. Unless every part is
//! understood as tool calls, the message is left to the other rules whole.

use super::text::{first_word, fold, strip_any_prefix};
use super::{Context, Outcome, ToolCall};

#[rustfmt::skip]
const VERBS: &[&str] = &[
    "add", "create", "mark", "complete", "finish", "delete", "remove", "move", "rename", "make", "label", "tag",
    "set", "reopen", "show", "list", "change", "push", "postpone", "tick", "undo", "clear", "what's", "whats",
];
const SEPARATORS: &[&str] = &[", and then ", " and then ", ", then ", " then ", "; ", ", and ", " and ", ", "];

/// The parts of `text`, cut before each separator that a command verb follows.
fn parts(text: &str) -> Vec<&str> {
    let lower = fold(text);
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < lower.len() {
        let found = SEPARATORS.iter().find(|s| lower[i..].starts_with(**s));
        match found {
            Some(sep) if first_word(&text[i + sep.len()..]).is_some_and(|w| VERBS.contains(&w.as_str())) => {
                cuts.push((i, i + sep.len()));
                i += sep.len();
            }
            Some(sep) => i += sep.len(),
            None => i += lower[i..].chars().next().map_or(1, char::len_utf8),
        }
    }
    let mut out = Vec::new();
    let mut start = 0;
    for (a, b) in cuts {
        out.push(text[start..a].trim());
        start = b;
    }
    out.push(text[start..].trim());
    out.retain(|p| !p.is_empty());
    out
}

/// A change to "it" that can ride along with an add: the words to append to the add.
fn rider(part: &str) -> Option<String> {
    let l = fold(part);
    for (prefix, to) in [
        ("tag it ", "#"),
        ("label it ", "#"),
        ("label it as ", "#"),
        ("make it due ", ""),
        ("set it due ", ""),
        ("set it for ", ""),
        ("make it ", ""),
        ("set it to ", ""),
    ] {
        if let Some(rest) = l.strip_prefix(prefix) {
            let rest = rest.trim();
            return (!rest.is_empty()).then(|| {
                if to == "#" {
                    rest.split_whitespace()
                        .map(|w| format!("#{}", w.trim_start_matches('#')))
                        .collect::<Vec<_>>()
                        .join(" ")
                } else {
                    rest.to_string()
                }
            });
        }
    }
    None
}

fn task_of(calls: &[ToolCall]) -> Option<i64> {
    calls.iter().rev().find_map(|c| c.arguments.get("task_id").and_then(serde_json::Value::as_i64))
}

pub(super) fn try_multi(text: &str, ctx: &Context) -> Option<Outcome> {
    let parts = parts(text);
    if parts.len() < 2 {
        return None;
    }
    // Riders join the add before them.
    let mut merged: Vec<String> = Vec::new();
    for p in parts {
        match (merged.last_mut(), rider(p)) {
            (Some(prev), Some(extra)) if strip_any_prefix(prev, &["add", "create"]).is_some() => {
                prev.push(' ');
                prev.push_str(&extra);
            }
            _ => merged.push(p.to_string()),
        }
    }
    if merged.len() < 2 {
        // One add with its riders.
        return match super::interpret(&merged[0], ctx) {
            o @ Outcome::Calls(_) => Some(o),
            _ => None,
        };
    }
    let mut calls = Vec::new();
    let mut last = ctx.last_mentioned;
    for p in &merged {
        let sub = Context { last_mentioned: last, ..*ctx };
        match super::interpret(p, &sub) {
            Outcome::Calls(c) => {
                last = task_of(&c).or(last);
                calls.extend(c);
            }
            _ => return None,
        }
    }
    Some(Outcome::Calls(calls))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_cut_before_command_verbs_only() {
        assert_eq!(parts("add eggs and mark 2 done"), ["add eggs", "mark 2 done"]);
        assert_eq!(
            parts("complete the dishes, then show me what's left"),
            ["complete the dishes", "show me what's left"]
        );
        assert_eq!(parts("mark 1 and 2 done and delete 3"), ["mark 1 and 2 done", "delete 3"]);
        assert_eq!(parts("add milk and eggs"), ["add milk and eggs"]);
        assert_eq!(parts("add call mom and dad"), ["add call mom and dad"]);
        assert_eq!(rider("tag it family").as_deref(), Some("#family"));
        assert_eq!(rider("make it high priority").as_deref(), Some("high priority"));
        assert_eq!(rider("mark 2 done"), None);
    }
}
