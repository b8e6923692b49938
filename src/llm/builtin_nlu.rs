//! The `builtin` provider: an offline, deterministic assistant that turns a chat message into the same tool
//! calls a real model would make, and words the answer once those calls have run.
//!
//! It has no network, no randomness and no clock: the same message and [`Context`] always give the same
//! [`Decision`]. [`decide`] reads the message; [`compose_answer`] phrases the results.
//!
//! How a message is read, in order (the first rule that fits wins):
//! 1. Normalise: curly quotes become straight ones, line breaks become `;` (they separate list items), and polite
//!    filler is peeled off both ends ("hey", "please", "can you", "could you", trailing "thanks", "!", "?").
//!    A message that was only filler is a greeting (help), a thank-you or an acknowledgement.
//! 2. Small talk: "help", "what can you do", "never mind", "forget it" (a dismissal, not a delete).
//! 3. Updates: "rename X to Y", "change X to Y", "call it Y", "change the description of X to Y",
//!    "add a note to X: Y", "remove the note from X". "change X to done" completes X.
//! 4. Adds: "add …", "create a task to …", "remind me to …", "I need to …", "todo: …", "put … on my list".
//!    The title keeps the person's words and capitalisation; "a task to", list suffixes ("to my list") and
//!    "please" are dropped. A description comes from "X: Y", "X - Y", "X (note: Y)", "X with description Y".
//!    **Splitting rule**: `;` and line breaks always separate tasks. Commas and "and"/"&" separate tasks only when
//!    the request is a bare or plural add ("add X", "add tasks: X", "put X on my list", "todo: X"), no description
//!    was given, and the pieces are parallel: all single words, or all phrases of two or three words (a/an/the/
//!    some/my not counted). So "add milk, eggs and bread" and "add buy milk and call mom" give several tasks,
//!    while "add a task to research salt and pepper shakers", "remind me to buy milk and call mom" (singular
//!    phrasing), "add call mom and dad" and "add buy milk and eggs" (a phrase plus a lone word: a compound
//!    object) give one. Known misses: a bare "add salt and pepper" or "add research salt and pepper shakers" gives
//!    two tasks; "add a task to …" keeps one.
//! 5. Deletes: "delete/remove/drop/cancel/forget/get rid of X", "I don't need to X anymore", "clear completed".
//! 6. Listing: "what's left", "show my list", "what did I finish", "any tasks?" → pending / all / completed.
//! 7. Un-completing is refused politely (no tool can do it): "mark 3 as not done", "reopen 5".
//! 8. Completing: "mark X done", "X is done", "done with X", "check off X", "finish X", "mark everything done".
//! 9. A past-tense report names a task: "I bought the milk", "called mom", "the bill is paid" → complete it.
//! 10. Anything else gets a short help text.
//!
//! References to tasks: numbers ("3", "#3", "task 3", "number three", "3rd", several as "1, 2 and 6"),
//! pronouns ("it", "that one" → the last mentioned task), "everything" (bulk complete; bulk delete is refused
//! except "clear completed"), or words of a title ("the dentist and the report" names two when each is clear).
//! Word matching ignores stop words and compares stems (bought→buy, wrote→write, plural and -ed/-ing endings,
//! one-letter typos in words of 5+ letters). Common
//! task verbs (buy, call, pay…) only count when nothing more specific matches, so "I bought a car" does not pick
//! "buy milk". The task sharing the most words wins; on a tie a phrase naming every word of exactly one title
//! wins ("I bought the milk" → "buy milk", not "buy oat milk"); when completing, pending tasks beat done ones;
//! any remaining tie is a question listing the candidates. No match names the closest titles, if any.
//! A number that does not exist still becomes a tool call, so the tool reports the error.
//!
//! Not supported (answered with help or a polite refusal): reopening a task, due dates or priorities as
//! fields (date words stay in the title), bulk deletes other than completed tasks, several word-references in
//! one request when one of them is ambiguous, and imperatives with no command verb ("buy milk" alone).

mod fields;

pub use fields::due_group_in;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

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
    render(interpret(message, ctx), ctx)
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
    let text = cleaned.text;
    if text.is_empty() {
        return if cleaned.thanked {
            Outcome::Thanks
        } else if cleaned.acked {
            Outcome::Ack
        } else {
            Outcome::Help { understood: true }
        };
    }
    if let Some(o) = smalltalk(text) {
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
            return o;
        }
    }
    if !cleaned.question
        && let Some(o) = try_past_tense(text, ctx)
    {
        return o;
    }
    Outcome::Help { understood: false }
}

// ----- normalisation -------------------------------------------------------------------------------------------

/// Straight quotes, single spaces, and line breaks as `;` so a pasted list splits like "a; b".
fn normalize(message: &str) -> String {
    let mut s = String::with_capacity(message.len());
    for c in message.chars() {
        match c {
            '\u{2018}' | '\u{2019}' | '`' | '\u{00B4}' => s.push('\''),
            '\u{201C}' | '\u{201D}' => s.push('"'),
            '\n' | '\r' => s.push_str("; "),
            c if c.is_whitespace() => s.push(' '),
            c => s.push(c),
        }
    }
    s.split(' ').filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

struct Cleaned<'a> {
    text: &'a str,
    thanked: bool,
    acked: bool,
    question: bool,
}

#[rustfmt::skip]
const THANKS: &[&str] = &[
    "and thank you", "and thanks", "thanks again", "thank you very much", "thank you so much", "thanks a lot",
    "thanks so much", "thanks in advance", "thank you", "thank u", "thanks", "thx", "tysm", "ty", "cheers",
];
#[rustfmt::skip]
const ACKS: &[&str] = &[
    "sounds good", "all right", "alright", "got it", "perfect", "awesome", "great", "okay", "cool", "nice", "good",
    "ok",
];
#[rustfmt::skip]
const LEADING_FILLERS: &[&str] = &[
    "hey there", "hi there", "hello there", "good morning", "good afternoon", "good evening", "hey", "hi", "hello",
    "hiya", "howdy", "yo", "ok so", "okay so", "right", "so", "umm", "um", "uh", "oh", "well", "hmm",
    "can you please", "could you please", "would you please", "would you mind", "would you be able to",
    "are you able to", "i'd like you to", "i would like you to", "i want you to", "i need you to", "can you",
    "could you", "would you", "will you", "can u", "could u", "please", "pls", "plz", "kindly", "go ahead and",
    "let me know", "tell me", "quickly", "just", "also", "and", "now", "then", "bot", "assistant", "taskchat",
];
/// Stripped only when a command follows ("I want to see my list"), since "I want to learn Spanish" is a task.
#[rustfmt::skip]
const CONDITIONAL_FILLERS: &[&str] = &[
    "i would like to", "i'd like to", "i want to", "i wanna", "can i", "could i", "may i", "let me", "let's",
    "lets",
];
const COMMAND_WORDS: &[&str] = &[
    "add", "create", "see", "view", "list", "show", "know", "delete", "remove", "mark", "rename", "change", "update",
    "edit", "check", "tick", "clear", "look", "review",
];
#[rustfmt::skip]
const TRAILING_FILLERS: &[&str] = &[
    "for me please", "if you can", "if you could", "when you can", "if possible", "real quick", "for me", "please",
    "pls", "plz", "mate", "buddy", "ok", "okay",
];

fn strip_fillers(s: &str) -> Cleaned<'_> {
    let question = s.contains('?');
    let (mut thanked, mut acked) = (false, false);
    let mut t = s;
    loop {
        let before = t;
        t = t.trim_start_matches(|c: char| c.is_whitespace() || ",;:!.-".contains(c));
        t = trim_end_noise(t);
        // The longest opener wins across the three lists, so "good morning" is a greeting, not "good" + "morning".
        let opener = [(THANKS, 1), (ACKS, 2), (LEADING_FILLERS, 0)]
            .into_iter()
            .filter_map(|(list, kind)| strip_any_prefix(t, list).map(|(r, p)| (p.len(), r, kind)))
            .max_by_key(|(len, _, _)| *len);
        if let Some((_, r, kind)) = opener {
            thanked |= kind == 1;
            acked |= kind == 2;
            t = r;
        } else if let Some((r, _)) = strip_any_prefix(t, CONDITIONAL_FILLERS)
            && first_word(r).is_some_and(|w| COMMAND_WORDS.contains(&w.as_str()))
        {
            t = r;
        }
        if let Some((r, _)) = strip_any_suffix(t, THANKS) {
            thanked = true;
            t = r;
        } else if let Some((r, _)) = strip_any_suffix(t, TRAILING_FILLERS) {
            t = r;
        }
        if t == before {
            break;
        }
    }
    Cleaned { text: t, thanked, acked, question }
}

/// Trailing punctuation and emoji: they carry no meaning for the tools.
fn trim_end_noise(s: &str) -> &str {
    s.trim_end_matches(|c: char| c.is_whitespace() || ".!?,;:~…".contains(c) || (!c.is_ascii() && !c.is_alphanumeric()))
}

fn smalltalk(text: &str) -> Option<Outcome> {
    #[rustfmt::skip]
    const HELP: &[&str] = &[
        "help", "help me", "/help", "/start", "start", "what can you do", "what do you do", "what can i say",
        "what can i ask", "how does this work", "how do you work", "commands", "menu", "options", "usage",
        "instructions", "who are you", "what are you",
    ];
    #[rustfmt::skip]
    const DISMISS: &[&str] = &[
        "never mind", "nevermind", "nvm", "forget it", "forget about it", "cancel", "stop", "nothing", "no",
        "nope", "no thanks", "not now", "that's all", "thats all", "that's it", "all good", "i'm good", "im good",
        "all done", "i'm done", "im done", "done for today", "done for the day", "i'm done for today",
        "i'm done for the day",
    ];
    let l = fold(text);
    if HELP.contains(&l.as_str())
        || ["how do i", "how can i", "how to"].iter().any(|p| strip_prefix_ci(text, p).is_some())
    {
        return Some(Outcome::Help { understood: true });
    }
    if DISMISS.contains(&l.as_str()) {
        return Some(Outcome::Ack);
    }
    None
}

// ----- adding --------------------------------------------------------------------------------------------------

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
    "add tasks", "add these tasks", "add these", "add the following", "add items", "add to my todo list",
    "add to my to-do list", "add to my list", "add to the list", "add to list", "create tasks", "new tasks",
    "todo:", "to-do:", "to do:", "todos:", "add", "create", "jot down", "write down", "note down",
];
/// Only an add when a list suffix follows ("put the milk in the fridge" is not a task).
const ADD_PUT: &[&str] = &["put", "stick"];

fn try_add(text: &str, ctx: &Context) -> Option<Outcome> {
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
    if kind == AddKind::PutOnList && !had_suffix {
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
    let (title_part, mut shared) = fields::split_extras(&clean_title(title_part), ctx.now);
    shared.priority = shared.priority.or(said_priority);
    let items = split_items(&title_part, kind != AddKind::One && description.is_none());
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

fn split_short_list(piece: &str) -> Option<Vec<&str>> {
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
fn clean_title(s: &str) -> String {
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
        if let Some((r, _)) = strip_any_suffix(t, &["please", "pls"]) {
            t = r;
        }
        if t == before {
            return t.to_string();
        }
    }
}

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
    "rename {} to {}", "rename {} as {}", "rename {}: {}", "retitle {} to {}", "retitle {} as {}",
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

fn try_update(text: &str, ctx: &Context) -> Option<Outcome> {
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

fn clean_value(v: &str) -> String {
    let v = strip_any_suffix(v, &["instead"]).map_or(v, |(r, _)| r);
    clean_title(v)
}

fn looks_like_add(text: &str) -> bool {
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
    "i dont need to {}", "no need to {}", "no need for {}", "take {} off my list", "take {} off the list",
    "take {} off", "take off {}", "get rid of {}", "throw away {}", "throw out {}", "forget about {}",
    "never mind {}", "nevermind {}", "delete {}", "remove {}", "erase {}", "drop {}", "trash {}",
    "scrap {}", "scratch {}", "discard {}", "ditch {}", "cancel {}", "forget {}", "kill {}", "nuke {}", "bin {}",
    "axe {}", "clear {}", "purge {}", "{} can go", "{} is cancelled", "{} is canceled", "{} is no longer needed",
    "{} isn't needed anymore", "{} is not needed anymore",
];

fn try_delete(text: &str, ctx: &Context) -> Option<Outcome> {
    let l = fold(text);
    #[rustfmt::skip]
    const BARE: &[&str] = &[
        "delete", "remove", "erase", "drop", "delete task", "remove task", "delete a task", "remove a task",
    ];
    if BARE.contains(&l.as_str()) {
        return Some(Outcome::Ask(Ask::WhichTask));
    }
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

fn try_list(text: &str, ctx: &Context) -> Option<Outcome> {
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

// ----- reopening: see `fields` ---------------------------------------------------------------------------------

/// Tokens that negate ("isn't" splits into "isn" + "t").
const NEGATIONS: &[&str] = &["not", "t", "never"];
/// Single words that talk about a task being done.
const DONE_TOKENS: &[&str] = &["done", "complete", "completed", "finished", "finish", "checked", "ticked"];

// ----- completing ----------------------------------------------------------------------------------------------

#[rustfmt::skip]
const DONE_WORDS: &[&str] = &[
    "done", "complete", "completed", "finished", "checked off", "ticked off", "crossed off", "sorted",
    "sorted out", "taken care of", "dealt with", "handled", "out of the way",
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

fn try_complete(text: &str, ctx: &Context) -> Option<Outcome> {
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
fn try_past_tense(text: &str, ctx: &Context) -> Option<Outcome> {
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

// ---------------------------------------------------------------------------------------------------------------
// Resolving references
// ---------------------------------------------------------------------------------------------------------------

#[rustfmt::skip]
const PRONOUNS: &[&str] = &[
    "it", "that", "this", "that one", "this one", "that task", "this task", "that item", "this item",
    "the last one", "last one", "the last task", "the latest one", "the one i just added",
    "the one i just mentioned", "the same one", "same one", "them", "the previous one", "the new one",
];
#[rustfmt::skip]
const EVERYTHING: &[&str] = &[
    "all", "everything", "all of them", "all tasks", "all my tasks", "all of my tasks", "all the tasks",
    "every task", "every single task", "everything on my list", "them all", "all of it", "the whole list",
    "my whole list", "the entire list", "my list", "the list", "my tasks", "all items", "all pending tasks",
    "all pending", "everything pending", "all open tasks", "my whole to-do list", "my todo list",
];
#[rustfmt::skip]
const REF_TRAILERS: &[&str] = &[
    "from my to-do list", "from my todo list", "from the todo list", "from my list", "from the list",
    "from my tasks", "from list", "off my to-do list", "off my todo list", "off my list", "off the list",
    "on my list", "anymore", "any more", "already", "for good", "altogether", "completely", "as well", "too",
    "now", "then", "for me", "please", "as", "off",
];

/// Turns a reference phrase into task numbers, or into the reply to give instead (question / not found).
fn resolve(phrase: &str, ctx: &Context, purpose: Purpose) -> Result<Vec<i64>, Outcome> {
    let p = trim_ref(phrase);
    let l = fold(p);
    if l.is_empty() {
        return Err(Outcome::Ask(Ask::WhichTask));
    }
    if PRONOUNS.contains(&l.as_str()) {
        return ctx.last_mentioned.map(|n| vec![n]).ok_or(Outcome::Ask(Ask::WhichTask));
    }
    if let Some(n) = parse_number_ref(&l) {
        return Ok(vec![n]);
    }
    if let Some(ns) = parse_number_list(&l) {
        return Ok(ns);
    }
    if let Some(group) = fields::resolve_due_group(&l, ctx, purpose) {
        return group;
    }
    if EVERYTHING.contains(&l.as_str()) {
        return bulk(ctx, purpose);
    }
    if purpose == Purpose::Delete && is_completed_group(&l) {
        let done: Vec<i64> = ctx.tasks.iter().filter(|t| t.completed).map(|t| t.number).collect();
        return if done.is_empty() {
            Err(Outcome::Info("You don't have any completed tasks to clear.".to_string()))
        } else {
            Ok(done)
        };
    }
    let core = strip_ref_noise(p);
    let lc = fold(core);
    if lc.is_empty() {
        return Err(Outcome::Ask(Ask::WhichTask));
    }
    if PRONOUNS.contains(&lc.as_str()) {
        return ctx.last_mentioned.map(|n| vec![n]).ok_or(Outcome::Ask(Ask::WhichTask));
    }
    let whole = match_words(core, ctx, purpose);
    // A phrase naming every word of one title ("call mom and dad") is that task, "and" or not.
    if matches!(whole, Ok((_, true))) || matches!(purpose, Purpose::Update | Purpose::Fields) {
        return whole.map(|(n, _)| vec![n]);
    }
    // "the dentist and the report": several word references, used only when each one is clear on its own.
    let parts = split_refs(core).and_then(|parts| {
        let mut out: Vec<i64> = Vec::new();
        for part in parts {
            let (n, _) = match_words(strip_ref_noise(part), ctx, purpose).ok()?;
            if !out.contains(&n) {
                out.push(n);
            }
        }
        (out.len() >= 2).then_some(out)
    });
    match (parts, whole) {
        (Some(ns), _) => Ok(ns),
        (None, whole) => whole.map(|(n, _)| vec![n]),
    }
}

fn split_refs(p: &str) -> Option<Vec<&str>> {
    let l = fold(p);
    let mut parts = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < l.len() {
        let sep = [" and ", ", ", " & "].iter().find(|s| l[i..].starts_with(**s));
        match sep {
            Some(sep) => {
                parts.push(p[start..i].trim());
                i += sep.len();
                start = i;
            }
            None => i += l[i..].chars().next().map_or(1, char::len_utf8),
        }
    }
    parts.push(p[start..].trim());
    parts.retain(|x| !x.is_empty() && !["and", "&"].contains(&fold(x).as_str()));
    (parts.len() >= 2).then_some(parts)
}

fn bulk(ctx: &Context, purpose: Purpose) -> Result<Vec<i64>, Outcome> {
    match purpose {
        Purpose::Complete | Purpose::Fields if ctx.tasks.is_empty() => {
            Err(Outcome::Info("You don't have any tasks yet.".to_string()))
        }
        Purpose::Complete | Purpose::Fields => {
            let open: Vec<i64> = ctx.tasks.iter().filter(|t| !t.completed).map(|t| t.number).collect();
            if open.is_empty() {
                Err(Outcome::Info("Everything on your list is already done.".to_string()))
            } else {
                Ok(open)
            }
        }
        // Deleting a whole list from one loosely worded message is too easy to regret.
        Purpose::Delete => Err(Outcome::Info(
            "I won't delete your whole list in one go. Name the tasks (\"delete 1, 2 and 3\"), or say \"clear completed\" to remove the finished ones."
                .to_string(),
        )),
        Purpose::Update | Purpose::Reopen => Err(Outcome::Ask(Ask::WhichTask)),
    }
}

fn is_completed_group(l: &str) -> bool {
    #[rustfmt::skip]
    const OK: &[&str] = &[
        "all", "the", "my", "completed", "complete", "done", "finished", "ticked", "checked", "crossed", "off",
        "tasks", "task", "ones", "items", "old", "of",
    ];
    let w = tokens(l);
    !w.is_empty() && w.iter().all(|t| OK.contains(&t.as_str())) && w.iter().any(|t| DONE_TOKENS.contains(&t.as_str()))
}

fn trim_ref(phrase: &str) -> &str {
    let edge = |c: char| c.is_whitespace() || "\"'.,!?;:".contains(c);
    let mut t = phrase.trim_matches(edge);
    loop {
        let before = t;
        if let Some((r, _)) = strip_any_suffix(t, REF_TRAILERS) {
            t = r.trim_matches(edge);
        }
        if t == before {
            return t;
        }
    }
}

/// "the milk one" → "milk": articles and filler nouns around a word reference.
fn strip_ref_noise(p: &str) -> &str {
    #[rustfmt::skip]
    const LEADING: &[&str] = &[
        "the", "my", "our", "your", "a", "an", "one called", "one named", "task called", "task named", "called",
        "named",
    ];
    const TRAILING: &[&str] = &["one", "ones", "task", "item", "thing", "todo", "entry"];
    let mut t = p;
    loop {
        let before = t;
        if let Some((r, _)) = strip_any_prefix(t, LEADING) {
            t = r;
        }
        if let Some((r, _)) = strip_any_suffix(t, TRAILING) {
            t = r;
        }
        if t == before {
            return t;
        }
    }
}

#[rustfmt::skip]
const NUMBER_WORDS: &[&str] = &[
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
];
const ORDINALS: &[&str] = &[
    "zeroth", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
    "eleventh", "twelfth",
];

/// "3", "#3", "task 3", "task number three", "the 3rd one" → 3.
fn parse_number_ref(phrase: &str) -> Option<i64> {
    let mut s = fold(phrase.trim());
    loop {
        let t = s.trim_start();
        let mut next = None;
        for p in ["tasks", "task", "number", "num", "no.", "nr", "item", "todo", "the", "#"] {
            if let Some(r) = t.strip_prefix(p)
                && (p == "#" || r.is_empty() || !r.starts_with(char::is_alphabetic))
            {
                next = Some(r.trim_start_matches([' ', '.', ':', '#']).to_string());
                break;
            }
        }
        match next {
            Some(n) if n != s => s = n,
            _ => break,
        }
    }
    let s = s.trim().trim_end_matches(['.', ')', ':', '?']);
    let s = [" one", " task", " item"].iter().find_map(|suf| s.strip_suffix(suf)).unwrap_or(s).trim();
    if s.is_empty() {
        return None;
    }
    let digits = ["st", "nd", "rd", "th"].iter().find_map(|suf| s.strip_suffix(suf)).unwrap_or(s);
    if !digits.is_empty() && digits.len() <= 15 && digits.chars().all(|c| c.is_ascii_digit()) {
        return digits.parse().ok();
    }
    if let Some(i) = NUMBER_WORDS.iter().position(|w| *w == s) {
        return i64::try_from(i).ok();
    }
    ORDINALS.iter().position(|w| *w == s).filter(|&i| i > 0).and_then(|i| i64::try_from(i).ok())
}

/// "1, 2 and 6" → [1, 2, 6]; only when every part is a number.
fn parse_number_list(l: &str) -> Option<Vec<i64>> {
    let unified = l.replace(" and ", ",").replace(['&', '+'], ",");
    let parts: Vec<&str> = unified.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
    if parts.len() < 2 {
        return None;
    }
    let mut out: Vec<i64> = Vec::new();
    for p in parts {
        let n = parse_number_ref(p)?;
        if !out.contains(&n) {
            out.push(n);
        }
    }
    Some(out)
}

/// Picks the task whose title best matches the words of `phrase` (see the module doc for the tie rules), and
/// says whether the phrase named every word of that title.
fn match_words(phrase: &str, ctx: &Context, purpose: Purpose) -> Result<(i64, bool), Outcome> {
    let stems = content_stems(phrase);
    if stems.is_empty() {
        return Err(Outcome::Ask(Ask::WhichTask));
    }
    let weak = weak_stems();
    let (verbs, strong): (Vec<&String>, Vec<&String>) = stems.iter().partition(|s| weak.contains(*s));
    struct Scored<'t> {
        task: &'t TaskRef,
        key: (usize, usize, usize),
        covered: bool,
    }
    let mut scored = Vec::new();
    for task in ctx.tasks {
        let title = content_stems(&task.title);
        let hits = |ps: &[&String]| ps.iter().filter(|p| title.iter().any(|t| word_match(p, t))).count();
        let (s, v) = (hits(&strong), hits(&verbs));
        // Words spelt exactly as written outrank near-spellings: "dabababa" is not "labababa" when both exist.
        let exact = strong.iter().filter(|p| title.iter().any(|t| t == **p)).count();
        // A shared verb alone ("buy") is not a match when the phrase also names something ("a car").
        let key = if strong.is_empty() { (v, 0, 0) } else { (s, exact, v) };
        if key.0 == 0 {
            continue;
        }
        let covered = !title.is_empty() && title.iter().all(|t| stems.iter().any(|p| word_match(p, t)));
        scored.push(Scored { task, key, covered });
    }
    let Some(best) = scored.iter().map(|s| s.key).max() else {
        return Err(Outcome::NotFound { phrase: phrase.to_string(), closest: closest_titles(&stems, ctx) });
    };
    let mut top: Vec<&Scored> = scored.iter().filter(|s| s.key == best).collect();
    if top.len() > 1 {
        let covered: Vec<&Scored> = top.iter().copied().filter(|s| s.covered).collect();
        if covered.len() == 1 {
            top = covered;
        }
    }
    if top.len() > 1 && matches!(purpose, Purpose::Complete | Purpose::Reopen) {
        let want_done = purpose == Purpose::Reopen;
        let fit: Vec<&Scored> = top.iter().copied().filter(|s| s.task.completed == want_done).collect();
        if !fit.is_empty() {
            top = fit;
        }
    }
    match top.as_slice() {
        [one] => Ok((one.task.number, one.covered)),
        _ => Err(Outcome::Ambiguous { candidates: top.iter().map(|s| s.task.number).collect() }),
    }
}

/// Up to three titles sharing a word, or a near-spelling of one, with the phrase.
fn closest_titles(stems: &[String], ctx: &Context) -> Vec<i64> {
    let mut sims: Vec<(i64, usize)> = Vec::new();
    for task in ctx.tasks {
        let title = content_stems(&task.title);
        let best = stems.iter().flat_map(|p| title.iter().map(move |t| similarity_pct(p, t))).max().unwrap_or(0);
        if best >= 60 {
            sims.push((task.number, best));
        }
    }
    sims.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    sims.into_iter().take(3).map(|(n, _)| n).collect()
}

fn similarity_pct(a: &str, b: &str) -> usize {
    if word_match(a, b) {
        return 100;
    }
    let longest = a.chars().count().max(b.chars().count());
    if longest < 3 {
        return 0;
    }
    100 - (100 * osa_distance(a, b).min(longest)) / longest
}

fn word_match(a: &str, b: &str) -> bool {
    a == b || (a.chars().count() >= 5 && b.chars().count() >= 5 && osa_distance(a, b) <= 1)
}

/// Edit distance counting an adjacent swap as one edit ("dentsit" → "dentist").
fn osa_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

// ----- words and stems -----------------------------------------------------------------------------------------

const STOP_WORDS: &[&str] = &[
    "a", "an", "the", "my", "our", "your", "his", "her", "their", "its", "to", "for", "of", "on", "in", "at", "with",
    "from", "by", "about", "and", "or", "task", "tasks", "todo", "todos", "item", "items", "one", "ones", "thing",
    "things", "stuff", "that", "this", "these", "those", "it", "i", "me", "we", "you", "please", "just", "already",
    "all", "is", "are", "was", "were", "be", "been", "off", "up", "out", "list", "some", "which", "also", "now", "re",
    "entry", "any", "as", "so", "then", "too", "very", "really", "ve", "ll", "don", "not", "again",
];
/// Everyday task verbs: they help rank candidates but cannot make a match on their own when an object is named.
const WEAK_VERBS: &[&str] = &[
    "buy", "call", "pay", "write", "send", "book", "get", "do", "make", "go", "take", "finish", "complete", "pick",
    "clean", "fix", "email", "text", "ring", "check", "give", "bring", "put", "read", "see", "visit", "order",
    "return", "submit", "reply", "prepare", "start", "sort", "have", "need", "want", "find", "tell", "ask", "phone",
    "post",
];

fn weak_stems() -> Vec<String> {
    WEAK_VERBS.iter().map(|w| stem(w)).collect()
}

fn tokens(s: &str) -> Vec<String> {
    fold(s).split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_string).collect()
}

/// Stems of the meaningful words, in order, without repeats.
fn content_stems(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in tokens(s) {
        let single_letter = w.chars().count() == 1 && !w.chars().all(|c| c.is_ascii_digit());
        if single_letter || STOP_WORDS.contains(&w.as_str()) {
            continue;
        }
        let st = stem(&w);
        if !out.contains(&st) {
            out.push(st);
        }
    }
    out
}

/// Irregular past forms → the base verb, so "bought" meets "buy".
fn irregular_base(w: &str) -> Option<&'static str> {
    #[rustfmt::skip]
    const TABLE: &[(&str, &str)] = &[
        ("bought", "buy"), ("brought", "bring"), ("caught", "catch"), ("did", "do"), ("done", "do"),
        ("drew", "draw"), ("drawn", "draw"), ("drove", "drive"), ("driven", "drive"), ("ate", "eat"),
        ("eaten", "eat"), ("fed", "feed"), ("found", "find"), ("forgot", "forget"), ("forgotten", "forget"),
        ("gave", "give"), ("given", "give"), ("went", "go"), ("gone", "go"), ("got", "get"), ("gotten", "get"),
        ("had", "have"), ("heard", "hear"), ("held", "hold"), ("kept", "keep"), ("knew", "know"),
        ("known", "know"), ("lent", "lend"), ("lost", "lose"), ("made", "make"), ("met", "meet"), ("paid", "pay"),
        ("rang", "ring"), ("rung", "ring"), ("rode", "ride"), ("ridden", "ride"), ("ran", "run"), ("said", "say"),
        ("sat", "sit"), ("saw", "see"), ("seen", "see"), ("sold", "sell"), ("sent", "send"), ("slept", "sleep"),
        ("spent", "spend"), ("spoke", "speak"), ("spoken", "speak"), ("stood", "stand"), ("swept", "sweep"),
        ("swam", "swim"), ("taught", "teach"), ("told", "tell"), ("thought", "think"), ("took", "take"),
        ("taken", "take"), ("threw", "throw"), ("thrown", "throw"), ("woke", "wake"), ("won", "win"),
        ("wore", "wear"), ("worn", "wear"), ("wrote", "write"), ("written", "write"), ("sang", "sing"),
        ("began", "begin"), ("begun", "begin"), ("built", "build"), ("chose", "choose"), ("chosen", "choose"),
        ("hung", "hang"), ("hid", "hide"), ("shot", "shoot"), ("stuck", "stick"), ("fixed", "fix"),
        ("picked", "pick"), ("read", "read"), ("put", "put"), ("set", "set"), ("cut", "cut"), ("hit", "hit"),
        ("let", "let"), ("shut", "shut"),
    ];
    TABLE.iter().find(|(past, _)| *past == w).map(|(_, base)| *base)
}

/// A small suffix-stripping stemmer. It only has to be consistent (both sides go through it), not pretty:
/// "calls"/"called"/"calling" → "call", "write"/"wrote"/"writing" → "writ", "groceries" → "grocery".
fn stem(word: &str) -> String {
    let mut s = irregular_base(word).unwrap_or(word).to_string();
    if s.chars().all(|c| c.is_ascii_digit()) || !s.is_ascii() {
        return s;
    }
    let n = s.len();
    if n > 4 && (s.ends_with("ies") || s.ends_with("ied")) {
        s.truncate(n - 3);
        s.push('y');
    } else if n > 4 && s.ends_with("es") && ["sh", "ch", "x", "z", "ss"].iter().any(|e| s[..n - 2].ends_with(e)) {
        s.truncate(n - 2);
    } else if n > 3 && s.ends_with('s') && !s.ends_with("ss") && !s.ends_with("us") && !s.ends_with("is") {
        s.truncate(n - 1);
    } else if n >= 5 && s.ends_with("ed") && !s.ends_with("eed") {
        s.truncate(n - 2);
    } else if n >= 6 && s.ends_with("ing") {
        s.truncate(n - 3);
    }
    if s.len() > 3 && s.ends_with('e') {
        s.pop();
    }
    let b = s.as_bytes();
    if b.len() > 3 && b[b.len() - 1] == b[b.len() - 2] && !b"aeiouslz".contains(&b[b.len() - 1]) {
        s.pop();
    }
    s
}

// ---------------------------------------------------------------------------------------------------------------
// Text helpers
// ---------------------------------------------------------------------------------------------------------------

/// Lower-cases without changing byte offsets, so positions found in the folded copy index the original text
/// (that is how titles keep the person's capitalisation).
fn fold(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut lower = c.to_lowercase();
            match (lower.next(), lower.next()) {
                (Some(l), None) if l.len_utf8() == c.len_utf8() => l,
                _ => c,
            }
        })
        .collect()
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric()
}

fn first_word(s: &str) -> Option<String> {
    let w = s.split(|c: char| c.is_whitespace() || ",;:!?.".contains(c)).next()?;
    (!w.is_empty()).then(|| fold(w))
}

/// `s` without the leading phrase `p` (lower-case), if `s` starts with it as whole words.
fn strip_prefix_ci<'a>(s: &'a str, p: &str) -> Option<&'a str> {
    // Only the prefix's length is folded (folding keeps byte offsets): folding all of `s` for each of the
    // fillers, once per filler stripped, made an 8,000-character "thanks thanks …" take seconds.
    if s.get(..p.len()).is_none_or(|head| fold(head) != p) {
        return None;
    }
    let rest = &s[p.len()..];
    if p.ends_with(is_word) && rest.starts_with(is_word) {
        return None;
    }
    Some(rest.trim_start())
}

fn strip_suffix_ci<'a>(s: &'a str, p: &str) -> Option<&'a str> {
    if s.len().checked_sub(p.len()).and_then(|at| s.get(at..)).is_none_or(|tail| fold(tail) != p) {
        return None;
    }
    let head = &s[..s.len() - p.len()];
    if p.starts_with(is_word) && head.ends_with(is_word) {
        return None;
    }
    Some(head.trim_end())
}

/// The longest of `ps` that starts `s`, and what follows it.
fn strip_any_prefix<'a>(s: &'a str, ps: &[&'static str]) -> Option<(&'a str, &'static str)> {
    ps.iter().filter_map(|p| strip_prefix_ci(s, p).map(|r| (r, *p))).max_by_key(|(_, p)| p.len())
}

fn strip_any_suffix<'a>(s: &'a str, ps: &[&'static str]) -> Option<(&'a str, &'static str)> {
    ps.iter().filter_map(|p| strip_suffix_ci(s, p).map(|r| (r, *p))).max_by_key(|(_, p)| p.len())
}

/// Every way `text` fits `pattern`, whose `{}` are slots for non-empty text and whose literal parts must sit on
/// word boundaries (case-insensitive). Leftmost splits come first; callers try them in order.
fn match_template<'a>(pattern: &str, text: &'a str) -> Vec<Vec<&'a str>> {
    let lower = fold(text);
    let lits: Vec<&str> = pattern.split("{}").collect();
    let mut out = Vec::new();
    if lit_at(&lower, 0, lits[0]) {
        let mut m = Matcher { lits: &lits, text, lower: &lower, caps: Vec::new(), out: &mut out };
        m.fill(0, lits[0].len());
    }
    out
}

struct Matcher<'p, 'a, 'o> {
    lits: &'p [&'p str],
    text: &'a str,
    lower: &'p str,
    caps: Vec<&'a str>,
    out: &'o mut Vec<Vec<&'a str>>,
}

impl<'a> Matcher<'_, 'a, '_> {
    /// Fills slot `i` (between literal `i` and `i + 1`) starting at byte `pos`.
    fn fill(&mut self, i: usize, pos: usize) {
        if i + 1 == self.lits.len() {
            if pos == self.text.len() {
                self.out.push(self.caps.clone());
            }
            return;
        }
        let next = self.lits[i + 1];
        let last = i + 2 == self.lits.len();
        let ends: Vec<usize> = if next.is_empty() {
            if !last {
                return; // two slots in a row are ambiguous; templates never do that
            }
            vec![self.text.len()]
        } else {
            self.lower[pos..]
                .match_indices(next)
                .map(|(q, _)| pos + q)
                .filter(|&q| lit_at(self.lower, q, next))
                .collect()
        };
        for q in ends {
            if last && q + next.len() != self.text.len() {
                continue;
            }
            let cap = self.text[pos..q].trim();
            if cap.is_empty() {
                continue;
            }
            self.caps.push(cap);
            self.fill(i + 1, q + next.len());
            self.caps.pop();
        }
    }
}

fn lit_at(lower: &str, pos: usize, lit: &str) -> bool {
    if !lower[pos..].starts_with(lit) {
        return false;
    }
    let end = pos + lit.len();
    let before_ok = !lit.starts_with(is_word) || !lower[..pos].ends_with(is_word);
    let after_ok = !lit.ends_with(is_word) || !lower[end..].starts_with(is_word);
    before_ok && after_ok
}

// ---------------------------------------------------------------------------------------------------------------
// Tool calls
// ---------------------------------------------------------------------------------------------------------------

fn tool(name: &str, arguments: Value) -> ToolCall {
    ToolCall { name: name.to_string(), arguments }
}

fn add_call(title: &str, description: Option<&str>) -> ToolCall {
    let mut args = json!({ "title": title });
    if let Some(d) = description {
        args["description"] = json!(d);
    }
    tool("add_task", args)
}

fn list_call(status: &str) -> ToolCall {
    tool("list_tasks", json!({ "status": status }))
}

fn complete_call(n: i64) -> ToolCall {
    tool("complete_task", json!({ "task_id": n }))
}

fn delete_call(n: i64) -> ToolCall {
    tool("delete_task", json!({ "task_id": n }))
}

fn update_call(n: i64, title: Option<&str>, description: Option<&str>) -> ToolCall {
    let mut args = json!({ "task_id": n });
    if let Some(t) = title {
        args["title"] = json!(t);
    }
    if let Some(d) = description {
        args["description"] = json!(d);
    }
    tool("update_task", args)
}

// ---------------------------------------------------------------------------------------------------------------
// Wording
// ---------------------------------------------------------------------------------------------------------------

fn render(outcome: Outcome, ctx: &Context) -> Decision {
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

fn label(ctx: &Context, n: i64) -> String {
    match ctx.tasks.iter().find(|t| t.number == n) {
        Some(t) if t.completed => format!("{n} ({}, already done)", md(&t.title)),
        Some(t) => format!("{n} ({})", md(&t.title)),
        None => n.to_string(),
    }
}

/// "a", "a or b", "a, b or c".
fn join_or(items: &[String]) -> String {
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
struct TaskView {
    number: Option<i64>,
    title: Option<String>,
    description: Option<String>,
    /// "due tomorrow, urgent, #home", or empty.
    extras: String,
}

impl TaskView {
    fn of(call: &ToolCall, result: &Value) -> TaskView {
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

    fn title_or<'s>(&'s self, default: &'s str) -> &'s str {
        self.title.as_deref().unwrap_or(default)
    }

    fn number_prefix(&self) -> String {
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

    fn extras_suffix(&self) -> String {
        if self.extras.is_empty() { String::new() } else { format!(" ({})", self.extras) }
    }

    fn note_suffix(&self) -> String {
        self.description.as_ref().map(|d| format!(" (note: {d})")).unwrap_or_default()
    }
}

fn error_of(result: &Value) -> Option<&Value> {
    result.get("error").filter(|e| !e.is_null() && **e != Value::Bool(false))
}

/// Ends a sentence once, whatever the title ended with.
fn sentence(s: String) -> String {
    if s.ends_with(['.', '!', '?']) { s } else { s + "." }
}

fn answer_one(call: &ToolCall, result: &Value) -> String {
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Friday 4 December 2026, 10:00 in London: every date word in these tests is read against it.
    pub(super) fn test_now() -> jiff::ZonedDateTime {
        jiff::civil::date(2026, 12, 4).at(10, 0, 0, 0).in_tz("Europe/London").unwrap()
    }

    fn task(number: i64, title: &str, completed: bool) -> TaskRef {
        TaskRef { number, title: title.to_string(), completed, due: None, due_time: None }
    }

    /// The shared list: two milk tasks make word references ambiguous on purpose.
    fn shared_tasks() -> Vec<TaskRef> {
        vec![
            task(1, "buy milk", false),
            task(2, "call mom", false),
            task(3, "write the quarterly report", false),
            task(4, "buy oat milk", false),
            task(5, "pay electricity bill", true),
            task(6, "book dentist appointment", false),
        ]
    }

    /// Only one milk task, so "the milk" is unambiguous.
    fn unique_tasks() -> Vec<TaskRef> {
        vec![
            task(1, "buy milk", false),
            task(2, "call mom", false),
            task(3, "pay rent", true),
            task(4, "book flights", false),
        ]
    }

    /// The plain milk task is done, the oat one is not: completion prefers the pending one.
    fn done_milk_tasks() -> Vec<TaskRef> {
        vec![task(1, "buy milk", true), task(2, "buy oat milk", false)]
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Cx {
        /// shared tasks, last mentioned 2
        S,
        /// shared tasks, nothing mentioned yet, user "Sam"
        N,
        /// no tasks at all
        E,
        /// unique-milk tasks, last mentioned 4
        U,
        /// done-milk tasks
        D,
    }

    fn with_ctx<R>(cx: Cx, f: impl FnOnce(&Context) -> R) -> R {
        let tasks = match cx {
            Cx::S | Cx::N => shared_tasks(),
            Cx::E => vec![],
            Cx::U => unique_tasks(),
            Cx::D => done_milk_tasks(),
        };
        let (last, name) = match cx {
            Cx::S => (Some(2), None),
            Cx::N => (None, Some("Sam")),
            Cx::E | Cx::D => (None, None),
            Cx::U => (Some(4), None),
        };
        let now = test_now();
        let ctx = Context { tasks: &tasks, last_mentioned: last, user_name: name, now: &now, more: None };
        f(&ctx)
    }

    #[derive(Debug, Clone, PartialEq)]
    enum Exp {
        Calls(Vec<ToolCall>),
        Help,
        Unknown,
        Thanks,
        Ack,
        Ambiguous(Vec<i64>),
        NotFound,
        Ask,
        Info,
    }

    fn kind_of(o: &Outcome) -> Exp {
        match o {
            Outcome::Calls(c) => Exp::Calls(c.clone()),
            Outcome::Help { understood: true } => Exp::Help,
            Outcome::Help { understood: false } => Exp::Unknown,
            Outcome::Thanks => Exp::Thanks,
            Outcome::Ack => Exp::Ack,
            Outcome::Ambiguous { candidates } => Exp::Ambiguous(candidates.clone()),
            Outcome::NotFound { .. } => Exp::NotFound,
            Outcome::Ask(_) => Exp::Ask,
            Outcome::Info(_) => Exp::Info,
        }
    }

    fn add(t: &str) -> ToolCall {
        add_call(t, None)
    }
    fn add_due(t: &str, due: &str) -> ToolCall {
        let mut call = add_call(t, None);
        call.arguments["due"] = json!(due);
        call
    }
    fn addd(t: &str, d: &str) -> ToolCall {
        add_call(t, Some(d))
    }
    fn list(s: &str) -> ToolCall {
        list_call(s)
    }
    fn done(n: i64) -> ToolCall {
        complete_call(n)
    }
    fn del(n: i64) -> ToolCall {
        delete_call(n)
    }
    fn ren(n: i64, t: &str) -> ToolCall {
        update_call(n, Some(t), None)
    }
    fn note(n: i64, d: &str) -> ToolCall {
        update_call(n, None, Some(d))
    }
    fn c(calls: &[ToolCall]) -> Exp {
        Exp::Calls(calls.to_vec())
    }
    fn amb(ns: &[i64]) -> Exp {
        Exp::Ambiguous(ns.to_vec())
    }

    use Cx::{D, E, N, S, U};

    fn rows() -> Vec<(&'static str, Cx, Exp)> {
        vec![
            // ---- adding ----
            ("add buy milk tomorrow", S, c(&[add_due("buy milk", "tomorrow")])),
            ("Add a task to buy milk tomorrow please", S, c(&[add_due("buy milk", "tomorrow")])),
            ("can you add a task to call the plumber?", S, c(&[add("call the plumber")])),
            ("create a task: Finish slides for Monday", S, c(&[add_due("Finish slides", "for Monday")])),
            ("new task: renew passport", S, c(&[add("renew passport")])),
            ("new task water the plants", S, c(&[add("water the plants")])),
            ("remember to pick up the dry cleaning", S, c(&[add("pick up the dry cleaning")])),
            ("remind me to call grandma on Sunday", S, c(&[add_due("call grandma", "on Sunday")])),
            ("I need to buy stamps", S, c(&[add("buy stamps")])),
            ("don't let me forget to feed the cat", S, c(&[add("feed the cat")])),
            ("Don\u{2019}t forget to water the roses!", S, c(&[add("water the roses")])),
            ("put batteries on my list", S, c(&[add("batteries")])),
            ("put buy bread on the shopping list", S, c(&[add("buy bread")])),
            ("todo: clean the garage", S, c(&[add("clean the garage")])),
            ("to-do: book flights", S, c(&[add("book flights")])),
            ("add milk and eggs", S, c(&[add("milk"), add("eggs")])),
            ("add milk, eggs and bread", S, c(&[add("milk"), add("eggs"), add("bread")])),
            ("add milk, eggs, and bread to my list", S, c(&[add("milk"), add("eggs"), add("bread")])),
            ("add buy milk; call mom", S, c(&[add("buy milk"), add("call mom")])),
            ("add a task to research salt and pepper shakers", S, c(&[add("research salt and pepper shakers")])),
            ("add a task to buy milk; call the bank", S, c(&[add("buy milk"), add("call the bank")])),
            ("add buy milk and call the bank", S, c(&[add("buy milk"), add("call the bank")])),
            (
                "add pick up the kids from school and buy milk",
                S,
                c(&[add("pick up the kids from school and buy milk")]),
            ),
            ("add buy milk: 2 litres, semi-skimmed", S, c(&[addd("buy milk", "2 litres, semi-skimmed")])),
            (
                "add call the bank with description ask about the mortgage rate",
                S,
                c(&[addd("call the bank", "ask about the mortgage rate")]),
            ),
            ("add renew passport (note: photos needed)", S, c(&[addd("renew passport", "photos needed")])),
            ("add book flights with a note: window seat", S, c(&[addd("book flights", "window seat")])),
            ("add task: Email Bob", S, c(&[add("Email Bob")])),
            ("Add Buy Milk", S, c(&[add("Buy Milk")])),
            ("hey, could you add groceries to my list please? thanks!", S, c(&[add("groceries")])),
            ("add", S, Exp::Ask),
            ("add a task", S, Exp::Ask),
            ("remind me to buy milk and call mom", S, c(&[add("buy milk and call mom")])),
            ("add tasks: wash car, mow lawn", S, c(&[add("wash car"), add("mow lawn")])),
            ("I have to renew my car insurance", S, c(&[add("renew my car insurance")])),
            ("note to self: back up the laptop", S, c(&[add("back up the laptop")])),
            ("add \"fix the fence\"", S, c(&[add("fix the fence")])),
            ("add a new task called Plan the party", S, c(&[add("Plan the party")])),
            ("create task update the CV", S, c(&[add("update the CV")])),
            ("remind me about the parents' evening", S, c(&[add("the parents' evening")])),
            ("add milk\neggs", S, c(&[add("milk"), add("eggs")])),
            ("jot down call the vet", S, c(&[add("call the vet")])),
            ("i should clean the fridge", S, c(&[add("clean the fridge")])),
            ("gotta fix the bike", S, c(&[add("fix the bike")])),
            ("add fix bike - rear tyre is flat", S, c(&[addd("fix bike", "rear tyre is flat")])),
            ("I want to learn Spanish", S, c(&[add("learn Spanish")])),
            ("add salt and pepper", S, c(&[add("salt"), add("pepper")])),
            ("add a note to self: buy a new charger", S, c(&[add("buy a new charger")])),
            ("please add call mom to my todo list", S, c(&[add("call mom")])),
            ("add water plants as a task", S, c(&[add("water plants")])),
            ("add buy milk tomorrow", E, c(&[add_due("buy milk", "tomorrow")])),
            (
                "new task: call dentist with description ask about Friday",
                S,
                c(&[addd("call dentist", "ask about Friday")]),
            ),
            ("add call mom and dad", S, c(&[add("call mom and dad")])),
            ("add buy milk and eggs", S, c(&[add("buy milk and eggs")])),
            ("Todo: Buy Milk, Call Mom", S, c(&[add("Buy Milk"), add("Call Mom")])),
            ("I've got to call the bank", S, c(&[add("call the bank")])),
            ("please put \"call the vet\" on my to do list", S, c(&[add("call the vet")])),
            // ---- listing ----
            ("what's left", S, c(&[list("pending")])),
            ("What\u{2019}s left to do?", S, c(&[list("pending")])),
            ("show my list", S, c(&[list("all")])),
            ("list my tasks", S, c(&[list("all")])),
            ("what do I have to do", S, c(&[list("pending")])),
            ("what's pending", S, c(&[list("pending")])),
            ("show everything", S, c(&[list("all")])),
            ("what did I finish", S, c(&[list("completed")])),
            ("what's done", S, c(&[list("completed")])),
            ("show completed tasks", S, c(&[list("completed")])),
            ("any tasks?", S, c(&[list("all")])),
            ("tasks", S, c(&[list("all")])),
            ("my todo list", S, c(&[list("all")])),
            ("show me my to-do list", S, c(&[list("all")])),
            ("what's on my plate", S, c(&[list("pending")])),
            ("what's not done yet", S, c(&[list("pending")])),
            ("what haven't I done?", S, c(&[list("pending")])),
            ("show unfinished tasks", S, c(&[list("pending")])),
            ("how many tasks do I have left", S, c(&[list("pending")])),
            ("list all tasks", S, c(&[list("all")])),
            ("show all my tasks including completed ones", S, c(&[list("all")])),
            ("show all completed tasks", S, c(&[list("completed")])),
            ("what have I done so far", S, c(&[list("completed")])),
            ("which tasks are finished?", S, c(&[list("completed")])),
            ("is there anything left?", S, c(&[list("pending")])),
            ("what's next", S, c(&[list("pending")])),
            ("tell me what I still need to do", S, c(&[list("pending")])),
            ("pending tasks", S, c(&[list("pending")])),
            ("can I see my tasks?", S, c(&[list("all")])),
            ("let me see what's done", S, c(&[list("completed")])),
            ("what did I do today", S, c(&[list("completed")])),
            ("show open tasks", S, c(&[list("pending")])),
            ("read me my list", S, c(&[list("all")])),
            ("display my tasks", S, c(&[list("all")])),
            ("do I have anything to do?", S, c(&[list("pending")])),
            ("give me the full list", S, c(&[list("all")])),
            ("what's left", E, c(&[list("pending")])),
            ("check my list", S, c(&[list("all")])),
            ("what's still open?", S, c(&[list("pending")])),
            // ---- completing ----
            ("mark 3 done", S, c(&[done(3)])),
            ("complete 3", S, c(&[done(3)])),
            ("3 is done", S, c(&[done(3)])),
            ("done with 3", S, c(&[done(3)])),
            ("check off 2", S, c(&[done(2)])),
            ("finish task 4", S, c(&[done(4)])),
            ("I bought the milk", S, c(&[done(1)])),
            ("finished the report", S, c(&[done(3)])),
            ("mark it done", S, c(&[done(2)])),
            ("that one's done", S, c(&[done(2)])),
            ("mark milk as complete", S, amb(&[1, 4])),
            ("tick off eggs", S, Exp::NotFound),
            ("mark #3 as done", S, c(&[done(3)])),
            ("mark task 6 as completed", S, c(&[done(6)])),
            ("mark number three done", S, c(&[done(3)])),
            ("task 4 is finished", S, c(&[done(4)])),
            ("I called mom", S, c(&[done(2)])),
            ("called mom", S, c(&[done(2)])),
            ("I've written the quarterly report", S, c(&[done(3)])),
            ("paid the electricity bill", S, c(&[done(5)])),
            ("I booked the dentist appointment", S, c(&[done(6)])),
            ("tick off the dentist", S, c(&[done(6)])),
            ("cross off oat milk", S, c(&[done(4)])),
            ("mark 1 and 4 as done", S, c(&[done(1), done(4)])),
            ("mark 1, 2 and 6 done", S, c(&[done(1), done(2), done(6)])),
            ("mark the report as finished", S, c(&[done(3)])),
            ("the report is done", S, c(&[done(3)])),
            ("milk's done", S, amb(&[1, 4])),
            ("mark the quarterly report complete", S, c(&[done(3)])),
            ("I finished the quarterly report", S, c(&[done(3)])),
            ("mark 7 done", S, c(&[done(7)])),
            ("complete task seven", S, c(&[done(7)])),
            ("mark it as done please", S, c(&[done(2)])),
            ("it's done", S, c(&[done(2)])),
            ("that's done", S, c(&[done(2)])),
            ("done with the report", S, c(&[done(3)])),
            ("I'm done with the dentist appointment", S, c(&[done(6)])),
            ("mark everything as done", S, c(&[done(1), done(2), done(3), done(4), done(6)])),
            ("mark milk done", U, c(&[done(1)])),
            ("I bought the oat milk", S, c(&[done(4)])),
            ("bought oat milk", S, c(&[done(4)])),
            ("mark dentst done", S, c(&[done(6)])),
            ("mark it done", N, Exp::Ask),
            ("mark milk done", D, c(&[done(2)])),
            ("I bought the milk", D, c(&[done(1)])),
            ("mark 3 as not done", S, Exp::Info),
            ("reopen task 5", S, c(&[tool("reopen_task", json!({ "task_id": 5 }))])),
            ("mark 2 as important", S, c(&[tool("update_task", json!({ "task_id": 2, "priority": "high" }))])),
            ("mark done", S, Exp::Ask),
            ("i did 3", S, c(&[done(3)])),
            ("set 4 to done", S, c(&[done(4)])),
            ("change 6 to done", S, c(&[done(6)])),
            ("check 2 off", S, c(&[done(2)])),
            ("finish the report", S, c(&[done(3)])),
            ("mark the bill done", S, c(&[done(5)])),
            ("mark eggs done", E, Exp::NotFound),
            ("could you tick off #6 for me? thanks", S, c(&[done(6)])),
            ("mark the 3rd one done", S, c(&[done(3)])),
            ("I just sent the report", S, c(&[done(3)])),
            ("I bought a car", S, Exp::NotFound),
            ("everything is done", D, c(&[done(2)])),
            ("mark all done", E, Exp::Info),
            ("mark task3 done", S, c(&[done(3)])),
            ("the milk is bought", U, c(&[done(1)])),
            ("the bill is paid", S, c(&[done(5)])),
            ("the oat milk has been bought", S, c(&[done(4)])),
            ("mark the dentist and the report done", S, c(&[done(6), done(3)])),
            ("I called mom and booked the dentist", S, c(&[done(2), done(6)])),
            ("mark the one called call mom as done", S, c(&[done(2)])),
            ("first task is done", S, c(&[done(1)])),
            ("mark the dentist appointment as done and thanks", S, c(&[done(6)])),
            ("#3 done", S, c(&[done(3)])),
            ("went to the dentist", S, c(&[done(6)])),
            ("I'm not done with the report", S, Exp::Info),
            ("call that plumber", S, Exp::Unknown),
            ("call that the plumber visit instead", S, c(&[ren(2, "the plumber visit")])),
            // ---- deleting ----
            ("delete 3", S, c(&[del(3)])),
            ("remove task 2", S, c(&[del(2)])),
            ("forget the milk", S, amb(&[1, 4])),
            ("forget the milk", U, c(&[del(1)])),
            ("get rid of eggs", S, Exp::NotFound),
            ("drop it", S, c(&[del(2)])),
            ("cancel the dentist task", S, c(&[del(6)])),
            ("delete task #4", S, c(&[del(4)])),
            ("please remove number five", S, c(&[del(5)])),
            ("delete the quarterly report", S, c(&[del(3)])),
            ("erase 1", S, c(&[del(1)])),
            ("take oat milk off my list", S, c(&[del(4)])),
            ("scrap the dentist appointment", S, c(&[del(6)])),
            ("I don't need to call mom anymore", S, c(&[del(2)])),
            ("no need to buy oat milk", S, c(&[del(4)])),
            ("delete 2 and 3", S, c(&[del(2), del(3)])),
            ("clear completed tasks", S, c(&[del(5)])),
            ("delete all completed tasks", S, c(&[del(5)])),
            ("clear completed", U, c(&[del(3)])),
            ("delete everything", S, Exp::Info),
            ("delete it", N, Exp::Ask),
            ("delete", S, Exp::Ask),
            ("cancel that", S, c(&[del(2)])),
            ("delete the mlik", S, Exp::NotFound),
            ("remove the electricity bill task", S, c(&[del(5)])),
            ("get rid of task 10", S, c(&[del(10)])),
            ("delete the dentist appointment from my list", S, c(&[del(6)])),
            ("remove the car wash", S, Exp::NotFound),
            ("delete eggs", E, Exp::NotFound),
            ("forget about the report", S, c(&[del(3)])),
            ("clear done tasks", E, Exp::Info),
            ("trash that one", U, c(&[del(4)])),
            ("delete the task called buy oat milk", S, c(&[del(4)])),
            ("delete the dentist, the report", S, c(&[del(6), del(3)])),
            ("delete milk and eggs", S, amb(&[1, 4])),
            ("the report can go", S, c(&[del(3)])),
            ("undo", S, Exp::Info),
            // ---- updating ----
            ("rename 2 to oat milk", S, c(&[ren(2, "oat milk")])),
            ("rename the milk one to oat milk", S, amb(&[1, 4])),
            ("rename the milk one to oat milk", U, c(&[ren(1, "oat milk")])),
            ("change task 1 to call dad", S, c(&[ren(1, "call dad")])),
            ("call it Call mom and dad instead", S, c(&[ren(2, "Call mom and dad")])),
            ("change the description of 3 to include Q3 numbers", S, c(&[note(3, "include Q3 numbers")])),
            ("add a note to 2: ask about her trip", S, c(&[note(2, "ask about her trip")])),
            ("set description of milk to semi-skimmed", U, c(&[note(1, "semi-skimmed")])),
            ("set description of milk to semi-skimmed", S, amb(&[1, 4])),
            ("rename it to call mum", S, c(&[ren(2, "call mum")])),
            ("change the title of 6 to book dentist for Friday", S, c(&[ren(6, "book dentist for Friday")])),
            ("update 4: buy almond milk", S, c(&[ren(4, "buy almond milk")])),
            ("rename the dentist appointment to dentist at 3pm", S, c(&[ren(6, "dentist at 3pm")])),
            ("change the report to write the annual report", S, c(&[ren(3, "write the annual report")])),
            ("remove the note from 3", S, c(&[note(3, "")])),
            ("add a note to the dentist appointment: bring insurance card", S, c(&[note(6, "bring insurance card")])),
            ("rename 2", S, Exp::Ask),
            ("edit the report", S, Exp::Ask),
            ("change 3's description to due Friday", S, c(&[note(3, "due Friday")])),
            ("name it weekly call with mom", S, c(&[ren(2, "weekly call with mom")])),
            ("rename task 9 to anything", S, c(&[ren(9, "anything")])),
            ("rename pizza night to pasta night", S, Exp::NotFound),
            ("describe 6 as bring insurance card", S, c(&[note(6, "bring insurance card")])),
            ("call that one \"Book flights to Rome\"", U, c(&[ren(4, "Book flights to Rome")])),
            ("it should say call mom on Sunday", S, c(&[ren(2, "call mom on Sunday")])),
            ("rename it to call mum", N, Exp::Ask),
            // ---- everything else ----
            ("hi", S, Exp::Help),
            ("hello there!", S, Exp::Help),
            ("help", S, Exp::Help),
            ("what can you do?", S, Exp::Help),
            ("asdfgh", S, Exp::Unknown),
            ("what's the weather like?", S, Exp::Unknown),
            ("thanks!", S, Exp::Thanks),
            ("ok thanks", S, Exp::Thanks),
            ("never mind", S, Exp::Ack),
            ("forget it", S, Exp::Ack),
            ("how do I add a task?", S, Exp::Help),
            ("tell me a joke", S, Exp::Unknown),
            ("put the milk in the fridge", S, Exp::Unknown),
            ("who won the game last night", S, Exp::Unknown),
            ("great", S, Exp::Ack),
            ("", S, Exp::Help),
            ("good morning", N, Exp::Help),
        ]
    }

    #[test]
    fn phrasing_table() {
        let rows = rows();
        let mut failures = Vec::new();
        for (msg, cx, expected) in &rows {
            let got = with_ctx(*cx, |ctx| kind_of(&interpret(msg, ctx)));
            if &got != expected {
                failures.push(format!("{msg:?} [{cx:?}]\n   expected {expected:?}\n   got      {got:?}"));
            }
        }
        assert!(failures.is_empty(), "{} of {} rows failed:\n{}", failures.len(), rows.len(), failures.join("\n"));
    }

    #[test]
    fn table_has_at_least_150_distinct_phrasings() {
        let rows = rows();
        let mut msgs: Vec<&str> = rows.iter().map(|r| r.0).collect();
        msgs.sort_unstable();
        msgs.dedup();
        assert!(msgs.len() >= 150, "only {} distinct phrasings", msgs.len());
    }

    // ---- wording of direct replies ----

    fn reply(msg: &str, cx: Cx) -> String {
        match with_ctx(cx, |ctx| decide(msg, ctx)) {
            Decision::Reply(r) => r,
            Decision::Call(c) => panic!("expected a reply to {msg:?}, got calls {c:?}"),
        }
    }

    #[test]
    fn decide_returns_the_calls_unchanged() {
        let got = with_ctx(S, |ctx| decide("add milk and eggs", ctx));
        assert_eq!(got, Decision::Call(vec![add("milk"), add("eggs")]));
    }

    #[test]
    fn ambiguous_question_lists_candidates_by_number() {
        assert_eq!(reply("mark milk as complete", S), "Which one do you mean: 1 (buy milk) or 4 (buy oat milk)?");
    }

    #[test]
    fn an_exact_spelling_outranks_near_spellings() {
        let tasks = vec![
            task(1, "call supplier labababa", false),
            task(2, "call supplier dabababa", false),
            task(3, "call supplier mabababa", false),
        ];
        let now = test_now();
        let ctx = Context { tasks: &tasks, last_mentioned: None, user_name: None, now: &now, more: None };
        assert_eq!(decide("i finished call supplier dabababa", &ctx), Decision::Call(vec![done(2)]));
        // A typo that is as near to two titles as to any stays a question.
        assert!(
            matches!(decide("i finished call supplier xabababa", &ctx), Decision::Reply(r) if r.starts_with("Which one"))
        );
    }

    #[test]
    fn ambiguous_delete_marks_done_candidates() {
        let tasks = vec![task(1, "pay rent", true), task(2, "pay rent", false)];
        let now = test_now();
        let ctx = Context { tasks: &tasks, last_mentioned: None, user_name: None, now: &now, more: None };
        assert_eq!(
            decide("delete pay rent", &ctx),
            Decision::Reply("Which one do you mean: 1 (pay rent, already done) or 2 (pay rent)?".to_string())
        );
        // Completing the same phrase prefers the pending twin instead of asking.
        assert_eq!(decide("I paid the rent", &ctx), Decision::Call(vec![done(2)]));
    }

    #[test]
    fn not_found_names_closest_titles_or_points_to_the_list() {
        assert_eq!(
            reply("delete the mlik", S),
            "I couldn't find a task matching \"mlik\". Did you mean 1 (buy milk) or 4 (buy oat milk)?"
        );
        assert_eq!(
            reply("tick off eggs", S),
            "I couldn't find a task matching \"eggs\". Say \"show my list\" to see your tasks."
        );
        assert!(reply("delete eggs", E).starts_with("You don't have any tasks yet"));
    }

    #[test]
    fn help_greets_by_name_and_lists_examples() {
        let hi = reply("hey", N);
        assert!(hi.starts_with("Hi Sam!"), "{hi}");
        assert!(hi.contains("add buy milk tomorrow") && hi.contains("mark 3 done"), "{hi}");
        let lost = reply("asdfgh", N);
        assert!(lost.starts_with("Sorry Sam, I didn't catch that."), "{lost}");
        assert!(reply("help", S).starts_with("Hi! "));
        assert_eq!(reply("thanks", N), "You're welcome, Sam!");
    }

    #[test]
    fn clarifying_questions() {
        assert!(reply("mark it done", N).starts_with("Which task do you mean?"));
        assert!(reply("add", S).starts_with("What should the task say?"));
        assert!(reply("rename 2", S).starts_with("What should I change about task 2?"));
        assert!(reply("delete everything", S).contains("clear completed"));
    }

    #[test]
    fn decisions_are_deterministic() {
        for (msg, cx, _) in rows() {
            let a = with_ctx(cx, |ctx| decide(msg, ctx));
            let b = with_ctx(cx, |ctx| decide(msg, ctx));
            assert_eq!(a, b, "{msg}");
        }
    }

    // ---- helpers with sharp edges ----

    #[test]
    fn stems_meet_across_verb_forms() {
        for (a, b) in [
            ("bought", "buy"),
            ("called", "call"),
            ("calling", "call"),
            ("finished", "finish"),
            ("wrote", "write"),
            ("written", "writing"),
            ("paid", "pay"),
            ("sent", "send"),
            ("did", "do"),
            ("made", "make"),
            ("went", "go"),
            ("groceries", "grocery"),
            ("dishes", "dish"),
            ("stopped", "stop"),
            ("filed", "file"),
            ("eggs", "egg"),
        ] {
            assert_eq!(stem(a), stem(b), "{a} vs {b}");
        }
        assert_ne!(stem("bill"), stem("ball"));
    }

    #[test]
    fn number_references() {
        for (s, n) in [
            ("3", 3),
            ("#3", 3),
            ("task 3", 3),
            ("task #3", 3),
            ("task number three", 3),
            ("the 3rd one", 3),
            ("no. 12", 12),
            ("ten", 10),
            ("first", 1),
        ] {
            assert_eq!(parse_number_ref(s), Some(n), "{s}");
        }
        for s in ["milk", "the milk one", "", "task", "one two"] {
            assert_eq!(parse_number_ref(s), None, "{s}");
        }
        assert_eq!(parse_number_list("1, 2 and 6"), Some(vec![1, 2, 6]));
        assert_eq!(parse_number_list("tasks 2 & 3"), Some(vec![2, 3]));
        assert_eq!(parse_number_list("2 and milk"), None);
    }

    #[test]
    fn template_matching_respects_word_boundaries_and_keeps_case() {
        assert_eq!(match_template("mark {} as done", "Mark Task 3 as done"), vec![vec!["Task 3"]]);
        assert!(match_template("{} done", "undone").is_empty());
        assert!(match_template("add {}", "address the letters").is_empty());
        assert_eq!(
            match_template("change {} to {}", "change go to gym to go to pool"),
            vec![vec!["go", "gym to go to pool"], vec!["go to gym", "go to pool"], vec!["go to gym to go", "pool"]]
        );
    }

    #[test]
    fn non_ascii_text_keeps_its_offsets() {
        // 'İ' lower-cases to two chars; folding must not shift byte positions.
        assert_eq!(with_ctx(S, |ctx| interpret("add İstanbul trip", ctx)), Outcome::Calls(vec![add("İstanbul trip")]));
        assert_eq!(with_ctx(S, |ctx| interpret("Add Crème brûlée 🍮", ctx)), Outcome::Calls(vec![add("Crème brûlée")]));
    }

    // ---- compose_answer ----

    fn res_task(n: i64, title: &str, description: Option<&str>, completed: bool) -> Value {
        json!({ "task": { "number": n, "title": title, "description": description, "completed": completed, "created_at": "x" } })
    }

    #[test]
    fn compose_add() {
        let out = compose_answer(&[(add("buy milk"), res_task(3, "buy milk", None, false))]);
        assert_eq!(out, "Added task 3: buy milk.");
        let out = compose_answer(&[(
            addd("buy milk", "2 litres, semi-skimmed"),
            res_task(3, "buy milk", Some("2 litres, semi-skimmed"), false),
        )]);
        assert_eq!(out, "Added task 3: buy milk (note: 2 litres, semi-skimmed).");
        let out = compose_answer(&[(add("Really?"), res_task(8, "Really?", None, false))]);
        assert_eq!(out, "Added task 8: Really?");
    }

    #[test]
    fn compose_several_adds_as_one_list() {
        let out = compose_answer(&[
            (add("milk"), res_task(7, "milk", None, false)),
            (add("eggs"), res_task(8, "eggs", None, false)),
            (add("bread"), res_task(9, "bread", None, false)),
        ]);
        assert_eq!(out, "Added 3 tasks:\n- 7. milk\n- 8. eggs\n- 9. bread");
    }

    #[test]
    fn compose_complete_delete_update() {
        assert_eq!(
            compose_answer(&[(done(3), res_task(3, "buy milk", None, true))]),
            "Done: task 3 (buy milk) is complete."
        );
        assert_eq!(compose_answer(&[(del(3), res_task(3, "buy milk", None, false))]), "Deleted task 3 (buy milk).");
        assert_eq!(
            compose_answer(&[(ren(2, "oat milk"), res_task(2, "oat milk", None, false))]),
            "Renamed task 2 to \"oat milk\"."
        );
        assert_eq!(
            compose_answer(&[(note(3, "due Friday"), res_task(3, "write the report", Some("due Friday"), false))]),
            "Updated the note on task 3 (write the report): \"due Friday\"."
        );
        assert_eq!(
            compose_answer(&[(note(3, ""), res_task(3, "write the report", None, false))]),
            "Removed the note from task 3 (write the report)."
        );
        // A result without the task still confirms from the call's own arguments.
        assert_eq!(compose_answer(&[(del(4), json!({ "ok": true }))]), "Deleted task 4.");
    }

    fn res_list(items: &[(i64, &str, bool, Option<&str>)]) -> Value {
        let tasks: Vec<Value> = items
            .iter()
            .map(|(n, t, c, d)| json!({ "number": n, "title": t, "completed": c, "description": d }))
            .collect();
        json!({ "tasks": tasks, "count": items.len() })
    }

    #[test]
    fn compose_lists() {
        let out = compose_answer(&[(
            list("pending"),
            res_list(&[(1, "buy milk", false, Some("semi-skimmed")), (2, "call mom", false, None)]),
        )]);
        assert_eq!(out, "You have 2 pending tasks:\n- ☐ 1. buy milk — semi-skimmed\n- ☐ 2. call mom");
        let out =
            compose_answer(&[(list("all"), res_list(&[(1, "buy milk", false, None), (5, "pay bill", true, None)]))]);
        assert_eq!(out, "Your tasks (1 pending, 1 done):\n- ☐ 1. buy milk\n- ✓ 5. pay bill");
        let out = compose_answer(&[(list("completed"), res_list(&[(5, "pay bill", true, None)]))]);
        assert_eq!(out, "You've completed 1 task:\n- ✓ 5. pay bill");
        assert_eq!(compose_answer(&[(list("pending"), res_list(&[]))]), "You have no pending tasks.");
        assert_eq!(compose_answer(&[(list("completed"), res_list(&[]))]), "You haven't completed any tasks yet.");
        assert!(compose_answer(&[(list("all"), res_list(&[]))]).starts_with("Your list is empty."));
        // No status argument reads as the whole list.
        let bare = tool("list_tasks", json!({}));
        assert!(
            compose_answer(&[(bare, res_list(&[(1, "a", false, None)]))])
                .starts_with("Your tasks (1 pending, 0 done):")
        );
    }

    #[test]
    fn compose_errors() {
        let err = json!({
            "error": "not_found",
            "message": "There is no task 7",
            "suggestions": [{ "number": 1, "title": "buy milk" }, { "number": 4, "title": "buy oat milk" }]
        });
        assert_eq!(
            compose_answer(&[(done(7), err)]),
            "Sorry, I couldn't complete task 7: There is no task 7. Did you mean 1 (buy milk) or 4 (buy oat milk)?"
        );
        let err =
            json!({ "error": "not_found", "suggestions": ["buy milk", "Say \"show my list\" to see the numbers."] });
        assert_eq!(
            compose_answer(&[(del(9), err)]),
            "Sorry, I couldn't delete task 9: not found. Did you mean \"buy milk\"? Say \"show my list\" to see the numbers."
        );
        let err = json!({ "error": "invalid_title", "message": "Title must not be empty.", "suggestions": [] });
        assert_eq!(compose_answer(&[(add("x"), err)]), "Sorry, I couldn't add \"x\": Title must not be empty.");
        let err = json!({ "error": true });
        assert_eq!(compose_answer(&[(ren(2, "y"), err)]), "Sorry, I couldn't update task 2: something went wrong.");
    }

    #[test]
    fn compose_mixed_and_edge_cases() {
        let out = compose_answer(&[
            (done(1), res_task(1, "buy milk", None, true)),
            (done(7), json!({ "error": "not_found", "message": "No task 7." })),
        ]);
        assert_eq!(out, "Done: task 1 (buy milk) is complete.\nSorry, I couldn't complete task 7: No task 7.");
        // One failed add among several is not summarised as "Added 2 tasks".
        let out = compose_answer(&[
            (add("milk"), res_task(7, "milk", None, false)),
            (add(""), json!({ "error": "invalid", "message": "Empty title." })),
        ]);
        assert_eq!(out, "Added task 7: milk.\nSorry, I couldn't add \"\": Empty title.");
        assert_eq!(compose_answer(&[]), "I didn't change anything.");
        assert_eq!(compose_answer(&[(tool("mystery", json!({})), json!({ "message": "ok then" }))]), "ok then.");
    }

    #[test]
    fn odd_input_never_panics() {
        // Every pairing of awkward fragments, through both contexts with and without tasks.
        let fragments = [
            "",
            " ",
            "add",
            "mark",
            "done",
            "delete",
            "rename",
            "to",
            "it",
            "3",
            "#",
            "-",
            ":",
            ";",
            "(",
            ")",
            "\"",
            "'",
            "and",
            ",",
            "İ",
            "ß",
            "🍮",
            "…",
            "\u{2019}s",
            "milk",
            "task",
            "the",
            "\n",
            "?",
            "!!",
            "call it",
            "with description",
            "note:",
            "1, 2 and",
            "everything",
            "completed",
            "not",
            "to my list",
            "é",
        ];
        for a in fragments {
            for b in fragments {
                with_ctx(S, |ctx| decide(&format!("{a} {b}{a}"), ctx));
                with_ctx(E, |ctx| decide(&format!("{b} {a}"), ctx));
            }
        }
    }

    /// Task text, names and words echoed in answers stay literal text when the answer is rendered as Markdown:
    /// checked with a CommonMark parser (GitHub's extensions on), over every kind of answer that quotes them.
    #[test]
    fn echoed_text_never_becomes_markdown() {
        use pulldown_cmark::{Event, Options, Parser, Tag};
        const EVIL: &str = "[click me](https://evil.example) **now** `x` <b>hi</b> &#x202E; _u_ ~~s~~ \\";
        let check = |answer: &str, expect: &[&str]| {
            let mut text = String::new();
            for event in Parser::new_ext(answer, Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES) {
                match event {
                    Event::Text(t) => text.push_str(&t),
                    Event::SoftBreak | Event::HardBreak => text.push('\n'),
                    Event::Start(Tag::Paragraph | Tag::List(_) | Tag::Item) | Event::End(_) => {}
                    other => panic!("{other:?} in the answer {answer:?}"),
                }
            }
            for e in expect {
                assert!(text.contains(e), "{e:?} is not shown as written in {text:?} (from {answer:?})");
            }
        };
        let hostile_task = json!({"task": {
            "number": 7, "title": EVIL, "description": format!("line one\n# heading\n> quote {EVIL}"),
            "labels": ["[l](https://evil.example)"], "priority": "high", "completed": false
        }});
        check(
            &compose_answer(&[(add(EVIL), hostile_task.clone())]),
            &[EVIL, "# heading > quote", "#[l](https://evil.example)"],
        );
        check(&compose_answer(&[(add(EVIL), hostile_task.clone()), (add(EVIL), hostile_task.clone())]), &[EVIL]);
        let list = json!({"tasks": [hostile_task["task"].clone()], "total": 1});
        check(
            &compose_answer(&[(tool("list_tasks", json!({"status": "all", "search": EVIL, "label": EVIL})), list)]),
            &[EVIL],
        );
        let rename =
            tool("update_task", json!({"task_id": 7, "title": EVIL, "description": EVIL, "add_labels": [EVIL]}));
        check(&compose_answer(&[(rename, hostile_task.clone())]), &[EVIL]);
        let due = tool("update_task", json!({"task_id": 7, "due": EVIL}));
        check(&compose_answer(&[(due, json!({"task": {"number": 7, "title": EVIL}}))]), &[EVIL]);
        let failed = json!({"error": "not_found", "message": format!("No task matches {EVIL}"),
            "suggestions": [EVIL, {"number": 2, "title": EVIL}, format!("Try {EVIL} instead.")]});
        check(&compose_answer(&[(add(EVIL), failed)]), &[EVIL]);

        let tasks = vec![task(1, EVIL, false), task(2, EVIL, true)];
        let now = test_now();
        let name = "[Sam](https://evil.example) <i>";
        let ctx = Context { tasks: &tasks, last_mentioned: None, user_name: Some(name), now: &now, more: None };
        for message in
            ["thanks", "delete click me now", "delete zzqq **bold** [a](https://x.example)", "reopen 1", "hello"]
        {
            match decide(message, &ctx) {
                Decision::Reply(r) => check(&r, &[]),
                Decision::Call(calls) => panic!("{message:?} called {calls:?}"),
            }
        }
        let Decision::Reply(thanks) = decide("thanks", &ctx) else { unreachable!() };
        check(&thanks, &[name]);
        let Decision::Reply(which) = decide("delete click me now", &ctx) else { unreachable!() };
        check(&which, &[EVIL]);
    }
}
