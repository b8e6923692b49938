//! The commands besides adding: renaming and notes, deleting, listing, completing, and past-tense reports ("I
//! bought the milk"). Reopening, due dates, priorities and labels are in `fields`.

use super::add::clean_title;
use super::calls::{complete_call, delete_call, list_call, update_call};
use super::references::{parse_number_ref, resolve};
use super::text::{first_word, fold, match_template, strip_any_prefix, strip_any_suffix, strip_prefix_ci};
use super::words::{NEGATIONS, irregular_base, tokens};
use super::{Ask, Context, Outcome, Purpose, ToolCall, fields};

// ----- updating ------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Title,
    Description,
    ClearDescription,
    /// "rename 3" with no new text: ask what to change.
    Nothing,
}

/// Setting a description ("note") on a task: `{}` is the task, then the text.
#[rustfmt::skip]
const NOTE_TEMPLATES: &[&str] = &[
    "change the description of {} to {}", "change the description for {} to {}", "change description of {} to {}",
    "set the description of {} to {}", "set the description for {} to {}", "set description of {} to {}",
    "set description for {} to {}", "update the description of {} to {}", "update description of {} to {}",
    "edit the description of {} to {}", "change the note on {} to {}", "change the note for {} to {}",
    "change the notes on {} to {}", "set the note on {} to {}", "set the note for {} to {}",
    "update the note on {} to {}", "change {}'s description to {}", "set {}'s description to {}",
    "update {}'s description to {}", "change {}'s note to {}", "set {}'s note to {}", "add a note to {}: {}",
    "add note to {}: {}", "add a note to {} saying {}", "add a note to {} that {}", "add a note on {}: {}",
    "add a note for {}: {}", "add a description to {}: {}", "add description to {}: {}",
    "add a description to {} saying {}", "add details to {}: {}", "add a comment to {}: {}", "describe {} as {}",
    "note on {}: {}", "note for {}: {}", "description of {}: {}", "description for {}: {}",
    "give {} the description {}",
];
/// Removing a description.
#[rustfmt::skip]
const CLEAR_NOTE_TEMPLATES: &[&str] = &[
    "remove the description from {}", "remove the description of {}", "remove the note from {}",
    "remove the note on {}", "delete the description of {}", "delete the note on {}", "delete the note from {}",
    "clear the description of {}", "clear the description on {}", "clear the note on {}",
];
/// Renaming, most specific first so "change the title of X to Y" is not read as "change X to Y".
#[rustfmt::skip]
const TITLE_TEMPLATES: &[&str] = &[
    "fix the title of {}, it should be {}", "fix the title of {} to {}", "fix the title of {}: {}",
    "the title of {} is wrong, it should be {}", "the title of {} should be {}", "the name of {} should be {}",
    "update {}: title should be {}", "{}: title should be {}", "{}'s title should be {}", "call task {} {}",
    "name task {} {}", "rename {} to {}", "rename {} as {}", "rename {}: {}", "retitle {} to {}", "retitle {} as {}",
    "change the title of {} to {}", "change the title for {} to {}", "change the name of {} to {}",
    "change title of {} to {}", "set the title of {} to {}", "update the title of {} to {}",
    "change {}'s title to {}", "change {}'s name to {}", "set {}'s title to {}", "change {} to say {}",
    "update {} to say {}", "edit {} to say {}", "change {} so it says {}", "make {} say {}", "change {} to {}",
    "update {} to {}", "edit {} to {}", "switch {} to {}", "change {}: {}", "update {}: {}", "edit {}: {}",
    "replace {} with {}", "{} should be called {}", "{} should say {}",
];
/// An edit verb with no new text: ask what to change.
#[rustfmt::skip]
const BARE_EDIT_TEMPLATES: &[&str] = &[
    "rename {}", "retitle {}", "edit {}", "update {}", "change {}", "modify {}",
];
const UPDATE_TEMPLATES: [(&[&str], Field); 4] = [
    (NOTE_TEMPLATES, Field::Description),
    (CLEAR_NOTE_TEMPLATES, Field::ClearDescription),
    (TITLE_TEMPLATES, Field::Title),
    (BARE_EDIT_TEMPLATES, Field::Nothing),
];

/// "call it X" names the last-mentioned task; only with a pronoun, since "call mom tomorrow" is not a rename.
const RENAME_PRONOUNS: &[&str] = &["that one", "this one", "that task", "this task", "it", "that", "this"];
/// Bare "that"/"this" need "instead" after "call": "call that plumber" is a phone call, not a rename.
const CALL_PRONOUNS: &[&str] = &["that one", "this one", "that task", "this task", "it"];
const PRONOUN_RENAMES: [(&str, &[&str]); 4] = [
    ("call {p} {} instead", RENAME_PRONOUNS),
    ("call {p} {}", CALL_PRONOUNS),
    ("name {p} {}", RENAME_PRONOUNS),
    ("rename {p} {}", RENAME_PRONOUNS),
];

/// Targets of "add a note to …" that mean the person's own list, so the message is an add.
const SELF_REFERENCES: &[&str] = &["self", "myself", "me", "my list", "the list", "list", "my todo list", "my tasks"];

pub(super) fn try_update(text: &str, ctx: &Context) -> Option<Outcome> {
    for (template, pronouns) in PRONOUN_RENAMES {
        for p in pronouns {
            let pattern = template.replace("{p}", p);
            if let Some(caps) = match_template(&pattern, text).into_iter().next() {
                // "rename it to X": the "to" belongs to the verb, not the title.
                let value = strip_any_prefix(caps[0], &["to", "as"]).map_or(caps[0], |(r, _)| r);
                let title = clean_value(value);
                if title.is_empty() {
                    continue;
                }
                return Some(finish_update(p, Field::Title, &title, ctx));
            }
        }
    }
    let adding = looks_like_add(text);
    let templates = UPDATE_TEMPLATES.iter().flat_map(|(ps, f)| ps.iter().map(move |p| (*p, *f)));
    for (pattern, field) in templates {
        if adding && pattern.starts_with("{}") {
            continue;
        }
        let matches = match_template(pattern, text);
        let mut first_err = None;
        for caps in &matches {
            let reference = caps[0];
            // "add a note to self: …" is a new task, not a note on a task called "self".
            if SELF_REFERENCES.contains(&fold(reference).as_str()) {
                continue;
            }
            let value = caps.get(1).map(|v| clean_value(v)).unwrap_or_default();
            if caps.len() > 1 && value.is_empty() {
                continue;
            }
            match finish_update(reference, field, &value, ctx) {
                Outcome::Calls(c) => return Some(Outcome::Calls(c)),
                err => {
                    first_err.get_or_insert(err);
                }
            }
        }
        if let Some(err) = first_err {
            return Some(err);
        }
    }
    None
}

fn finish_update(reference: &str, field: Field, value: &str, ctx: &Context) -> Outcome {
    let n = match resolve(reference, ctx, Purpose::Update) {
        Ok(ns) if ns.len() == 1 => ns[0],
        Ok(_) => return Outcome::Ask(Ask::WhichTask),
        Err(o) => return o,
    };
    let call = match field {
        // "change 3 to done" means complete it, not rename it to "done".
        Field::Title if DONE_WORDS.contains(&fold(value).as_str()) => complete_call(n),
        Field::Title => update_call(n, Some(value), None),
        Field::Description => update_call(n, None, Some(value)),
        Field::ClearDescription => update_call(n, None, Some("")),
        Field::Nothing => return Outcome::Ask(Ask::WhatChange(n)),
    };
    Outcome::Calls(vec![call])
}

pub(super) fn clean_value(v: &str) -> String {
    let v = strip_any_suffix(v, &["instead"]).map_or(v, |(r, _)| r);
    clean_title(v)
}

pub(super) fn looks_like_add(text: &str) -> bool {
    #[rustfmt::skip]
    const STARTS: &[&str] = &[
        "add", "create", "new", "remind", "remember", "todo", "put", "i need", "need to", "note to self",
    ];
    STARTS.iter().any(|p| strip_prefix_ci(text, p).is_some())
}

// ----- deleting ------------------------------------------------------------------------------------------------

#[rustfmt::skip]
const DELETE_TEMPLATES: &[&str] = &[
    "i don't need to {} anymore", "i dont need to {} anymore", "i don't need to {} any more",
    "i don't have to {} anymore", "i dont have to {} anymore", "i no longer need to {}", "i don't need to {}",
    "i dont need to {}", "i don't need {} anymore", "i dont need {} anymore", "i don't need {} any more",
    "i no longer need {}", "no need to {}", "no need for {}", "take {} off my list", "take {} off the list",
    "take {} off", "take off {}", "get rid of {}", "throw away {}", "throw out {}", "forget about {}",
    "never mind {}", "nevermind {}", "delete {}", "remove {}", "erase {}", "drop {}", "trash {}",
    "scrap {}", "scratch {}", "discard {}", "ditch {}", "cancel {}", "forget {}", "kill {}", "nuke {}", "bin {}",
    "axe {}", "clear {}", "purge {}", "{} can go", "{} is cancelled", "{} is canceled", "{} is no longer needed",
    "{} isn't needed anymore", "{} is not needed anymore",
];

pub(super) fn try_delete(text: &str, ctx: &Context) -> Option<Outcome> {
    let l = fold(text);
    #[rustfmt::skip]
    const BARE: &[&str] = &[
        "delete", "remove", "erase", "drop", "delete task", "remove task", "delete a task", "remove a task",
    ];
    if BARE.contains(&l.as_str()) {
        return Some(Outcome::Ask(Ask::WhichTask));
    }
    // "I don't need the haircut task anymore, delete it": the request before the comma already says it.
    #[rustfmt::skip]
    const SAY_AGAIN: &[&str] = &[
        ", delete it", ", remove it", ", so delete it", ", please delete it", ", delete it please", ", just delete it",
        ", get rid of it", ", you can delete it", " so delete it", ", delete that",
    ];
    let text = strip_any_suffix(text, SAY_AGAIN).map_or(text, |(r, _)| r);
    first_resolved(DELETE_TEMPLATES.iter().map(|s| s.to_string()), text, ctx, Purpose::Delete, delete_call)
}

/// Tries templates in order; the first that fits decides (its first resolving split, else its first error).
fn first_resolved(
    templates: impl Iterator<Item = String>,
    text: &str,
    ctx: &Context,
    purpose: Purpose,
    make: fn(i64) -> ToolCall,
) -> Option<Outcome> {
    for pattern in templates {
        let mut first_err = None;
        for caps in match_template(&pattern, text) {
            match resolve(caps[0], ctx, purpose) {
                Ok(ns) => return Some(Outcome::Calls(ns.into_iter().map(make).collect())),
                Err(o) => {
                    first_err.get_or_insert(o);
                }
            }
        }
        if first_err.is_some() {
            return first_err;
        }
    }
    None
}

// ----- listing -------------------------------------------------------------------------------------------------

pub(super) fn try_list(text: &str, ctx: &Context) -> Option<Outcome> {
    const TRIGGERS: &[&str] = &[
        "list", "show", "display", "view", "see", "print", "read", "give", "get", "pull", "bring", "what", "whats",
        "which", "how", "any", "anything", "do", "does", "is", "are", "have", "has", "got", "did",
    ];
    #[rustfmt::skip]
    const NOUNS: &[&str] = &[
        "task", "tasks", "list", "lists", "todo", "todos", "items", "things", "stuff", "agenda", "plate",
        "everything", "anything", "reminders", "chores",
    ];
    #[rustfmt::skip]
    const PENDING: &[&str] = &[
        "left", "pending", "remaining", "remain", "outstanding", "open", "unfinished", "incomplete", "undone",
        "uncompleted", "still", "next", "upcoming", "due", "plate", "agenda",
    ];
    #[rustfmt::skip]
    const COMPLETED: &[&str] = &[
        "done", "finished", "finish", "completed", "complete", "accomplished", "achieved", "ticked", "checked",
        "crossed",
    ];
    #[rustfmt::skip]
    const ALL: &[&str] = &[
        "all", "everything", "every", "whole", "full", "entire", "both",
    ];
    const INCLUDING: &[&str] = &["including", "include", "too", "also", "plus", "with"];
    #[rustfmt::skip]
    const BARE: &[&str] = &[
        "my", "the", "list", "tasks", "task", "todo", "todos", "to", "do", "items", "all", "pending", "completed",
        "done", "finished", "open", "remaining", "current", "full", "whole", "entire", "everything", "me",
    ];

    let w = tokens(text);
    let first = w.first()?.as_str();
    let has = |x: &str| w.iter().any(|t| t == x);
    let has_any = |xs: &[&str]| xs.iter().any(|x| has(x));
    // "to do" is a pending marker ("what do I have to do") unless it is the "to do list".
    let to_do_positions: Vec<usize> =
        w.windows(2).enumerate().filter(|(_, p)| p[0] == "to" && p[1] == "do").map(|(i, _)| i).collect();
    let to_do_list = to_do_positions.iter().any(|&i| w.get(i + 2).is_some_and(|x| x == "list"));
    let to_do = to_do_positions.iter().any(|&i| w.get(i + 2).is_none_or(|x| x != "list"));
    let noun = has_any(NOUNS) || to_do_list;
    // "what did I do" asks for completed work; "did" alone ("did I add…") does not.
    let did_do = w.iter().position(|t| t == "did").is_some_and(|i| w[i + 1..].iter().any(|t| t == "do")) && !to_do;
    let neg = has_any(NEGATIONS);
    let comp_word = has_any(COMPLETED) || did_do;
    let pending = has_any(PENDING) || to_do || (neg && comp_word);
    let completed = comp_word && !neg;
    let all = has_any(ALL);

    let check_list =
        first == "check" && !has("off") && noun && !w.iter().any(|t| t.chars().all(|c| c.is_ascii_digit()));
    let trigger = TRIGGERS.contains(&first) || check_list;
    let bare = noun && w.iter().all(|t| BARE.contains(&t.as_str()));
    let filters = fields::list_filters(text, ctx, completed && !pending);
    let narrowed = filters.keys().any(|k| k != "sort");
    if !(bare || (trigger && (noun || pending || completed || all || narrowed))) {
        return None;
    }
    let status = match (pending, completed) {
        (true, true) => "all",
        (true, false) => "pending",
        (false, true) if all && has_any(INCLUDING) => "all",
        (false, true) => "completed",
        // "show urgent tasks", "what's overdue": the open ones, unless everything was asked for.
        (false, false) if narrowed && !all => "pending",
        (false, false) => "all",
    };
    let mut call = list_call(status);
    for (k, v) in filters {
        call.arguments[k] = v;
    }
    Some(Outcome::Calls(vec![call]))
}

// ----- completing ----------------------------------------------------------------------------------------------

#[rustfmt::skip]
const DONE_WORDS: &[&str] = &[
    "done", "complete", "completed", "finished", "checked off", "ticked off", "crossed off", "sorted",
    "sorted out", "taken care of", "dealt with", "handled", "out of the way", "paid", "sent", "booked", "fixed",
    "submitted", "resolved",
];

#[rustfmt::skip]
const COMPLETE_TEMPLATES: &[&str] = &[
    "mark {} as <done>", "mark {} <done>", "mark off {}", "mark {} off", "set {} as <done>", "set {} to <done>",
    "flag {} as <done>", "check off {}", "check {} off", "tick off {}", "tick {} off", "cross off {}",
    "cross {} off", "strike off {}", "finish off {}", "complete {}", "finish {}", "close out {}", "close {}",
    "wrap up {}", "i'm done with {}", "im done with {}", "i am done with {}", "i'm finished with {}",
    "i am finished with {}", "done with {}", "finished with {}", "i've finished {}", "ive finished {}",
    "i have finished {}", "i finished {}", "finished {}", "i've completed {}", "i have completed {}",
    "i completed {}", "completed {}", "i've done {}", "i have done {}", "i did {}", "done: {}", "done - {}",
    "done {}", "{} is now <done>", "{} is <done>", "{} are <done>", "{}'s <done>", "{} has been <done>",
    "{} have been <done>", "{} was <done>", "{} got <done>", "{} - <done>", "{}: <done>", "{} <done>",
];

pub(super) fn try_complete(text: &str, ctx: &Context) -> Option<Outcome> {
    let l = fold(text);
    #[rustfmt::skip]
    const BARE: &[&str] = &[
        "done", "mark done", "mark as done", "mark", "complete", "finish", "finished", "check off", "tick off", "tick",
    ];
    if BARE.contains(&l.as_str()) {
        return Some(Outcome::Ask(Ask::WhichTask));
    }
    let templates = COMPLETE_TEMPLATES.iter().flat_map(|t| {
        if t.contains("<done>") {
            DONE_WORDS.iter().map(|d| t.replace("<done>", d)).collect::<Vec<_>>()
        } else {
            vec![t.to_string()]
        }
    });
    if let Some(o) = first_resolved(templates, text, ctx, Purpose::Complete, complete_call) {
        return Some(o);
    }
    // "mark 2 as important": there is no such field.
    if !match_template("mark {} as {}", text).is_empty() {
        return Some(Outcome::Info(
            "I can mark a task done, not done, or urgent/high/low priority. To change what it says, try \"rename 2 to …\"."
                .to_string(),
        ));
    }
    first_resolved(
        ["mark {}".to_string(), "tick {}".to_string()].into_iter(),
        text,
        ctx,
        Purpose::Complete,
        complete_call,
    )
}

/// "I bought the milk", "called mom", "the milk is bought": a past-tense report of a task means it is done.
pub(super) fn try_past_tense(text: &str, ctx: &Context) -> Option<Outcome> {
    if tokens(text).iter().any(|x| NEGATIONS.contains(&x.as_str())) {
        return None;
    }
    for pattern in ["{} has been {}", "{} have been {}", "{} is {}", "{} are {}", "{} was {}", "{} got {}"] {
        for caps in match_template(pattern, text) {
            let verb = fold(caps[1]);
            if !verb.contains(' ') && is_past_verb(&verb, false) {
                let phrase = format!("{} {}", caps[1], caps[0]);
                return Some(match resolve(&phrase, ctx, Purpose::Complete) {
                    Ok(ns) => Outcome::Calls(ns.into_iter().map(complete_call).collect()),
                    Err(o) => o,
                });
            }
        }
    }
    #[rustfmt::skip]
    const SUBJECTS: &[&str] = &[
        "i've just", "i have just", "i just", "i've already", "i already", "i've", "ive", "i have", "we've",
        "we have", "i finally", "i", "we", "just", "already", "finally", "also",
    ];
    let mut t = text;
    let mut had_subject = false;
    while let Some((r, _)) = strip_any_prefix(t, SUBJECTS) {
        t = r;
        had_subject = true;
    }
    let verb = first_word(t)?;
    if !is_past_verb(&verb, had_subject) {
        return None;
    }
    let rest = t[verb.len()..].trim();
    if let Some(n) = parse_number_ref(rest) {
        return Some(Outcome::Calls(vec![complete_call(n)]));
    }
    Some(match resolve(t, ctx, Purpose::Complete) {
        Ok(ns) => Outcome::Calls(ns.into_iter().map(complete_call).collect()),
        Err(o) => o,
    })
}

fn is_past_verb(w: &str, had_subject: bool) -> bool {
    #[rustfmt::skip]
    const NOT_DONE: &[&str] = &[
        "added", "deleted", "removed", "renamed", "changed", "updated", "created", "marked", "listed", "needed",
        "wanted", "forgot", "forgotten", "tried", "planned", "decided", "hoped", "wished", "wondered", "liked",
        "loved", "hated", "used", "started", "meant", "asked", "missed", "failed", "scheduled", "postponed",
        "delayed", "left", "red", "bed", "shed", "indeed", "embed",
    ];
    // These past forms equal the present, so they only count after "I" ("I read the report").
    const SAME_AS_PRESENT: &[&str] = &["read", "put", "set", "cut", "hit", "let", "shut"];
    if NOT_DONE.contains(&w) {
        return false;
    }
    if SAME_AS_PRESENT.contains(&w) {
        return had_subject;
    }
    irregular_base(w).is_some_and(|b| b != w) || (w.len() >= 5 && w.ends_with("ed") && !w.ends_with("eed"))
}

/// "undo", "undo that", "take that back": the person's last change, whichever door made it.
pub(super) fn try_undo(text: &str) -> Option<Outcome> {
    #[rustfmt::skip]
    const UNDO: &[&str] = &[
        "undo", "undo that", "undo it", "undo this", "undo the last change", "undo last change", "undo my last change",
        "undo the last thing", "undo last", "undo the last one", "revert that", "revert it", "revert the last change",
        "take that back", "put it back", "deshacer", "deshaz eso", "deshazlo", "wapas karo", "undo karo",
        "undo again", "undo that too", "undo one more", "undo the one before", "undo it too", "one more undo",
        "undo once more", "undo the previous one", "and undo that", "undo the last two", "undo the change",
    ];
    let l = fold(text);
    let l = l.trim_end_matches(['.', '!']).trim();
    UNDO.contains(&l).then(|| Outcome::Calls(vec![super::calls::tool("undo_last_change", serde_json::json!({}))]))
}
