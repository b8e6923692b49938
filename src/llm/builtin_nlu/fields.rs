//! Due dates, priorities, labels, search, paging and reopening, as people write them to the builtin assistant.
//!
//! - Adds: "add buy milk tomorrow at 5pm #groceries urgent" → title "buy milk", due "tomorrow at 5pm", label
//!   "groceries", priority urgent. The date words are found by the shared parser ([`dates::extract`]), at the end
//!   of the title; labels are `#word` or `@word` anywhere, or "labelled X" / "with the label X" at the end;
//!   priorities are "p1"–"p4" (Todoist's: p1 urgent), "!high", or a trailing "urgent", "asap", "high priority",
//!   "(important)".
//! - Field changes: "move 3 to friday", "push everything due today to tomorrow", "postpone 3 by a week",
//!   "remove the due date from 3", "make 3 urgent", "set the priority of 3 to low", "label 3 as work",
//!   "remove the label work from 3". Group references ("everything due today", "all overdue tasks") resolve to
//!   the pending tasks the assistant looked up for them.
//! - Listing filters: "what's due today", "what's overdue", "show urgent tasks", "tasks labelled work",
//!   "search for milk", sorted "by priority"; "more" pages on from the last list.
//! - Reopening: "reopen 5", "mark 3 as not done", "I'm not done with the report".

use jiff::civil::Date;
use serde_json::{Map, Value, json};

use super::add::clean_title;
use super::answers::{join_or, label, md, sentence};
use super::calls::tool;
use super::commands::{clean_value, looks_like_add};
use super::references::{parse_number_list, parse_number_ref, resolve};
use super::text::{fold, match_template, strip_any_prefix, strip_prefix_ci, strip_suffix_ci};
use super::words::{DONE_TOKENS, NEGATIONS, tokens};
use super::{Ask, Context, Outcome, Purpose, TaskRef, ToolCall};
use crate::tasks::dates;

// ---------------------------------------------------------------------------------------------------------------
// Words for priorities and labels
// ---------------------------------------------------------------------------------------------------------------

/// A priority named in words ("urgent", "high priority", "p2", "not important"), as the tools spell it.
pub(super) fn priority_word(v: &str) -> Option<&'static str> {
    let l = fold(v.trim()).replace('-', " ");
    let l = l.trim_matches(|c: char| c.is_whitespace() || "!.,()".contains(c));
    let l = ["a ", "an ", "the ", "as ", "to "].iter().find_map(|p| l.strip_prefix(p)).unwrap_or(l);
    Some(match l {
        "urgent" | "very urgent" | "urgently" | "asap" | "top priority" | "highest priority" | "critical"
        | "urgent priority" | "p1" | "priority 1" | "!urgent" | "!1" => "urgent",
        "high" | "high priority" | "important" | "very important" | "priority" | "p2" | "priority 2"
        | "higher priority" | "!high" | "!2" => "high",
        "medium" | "medium priority" | "moderate" | "moderate priority" | "mid priority" | "p3" | "priority 3"
        | "!medium" | "!3" => "medium",
        "low" | "low priority" | "lower priority" | "lowest priority" | "unimportant" | "not important" | "p4"
        | "priority 4" | "!low" | "!4" => "low",
        "no priority" | "none" | "not urgent" | "normal" | "normal priority" | "not a priority" => "none",
        _ => return None,
    })
}

/// `#groceries`, `@home`: a label written inline. `#12` is a task number, not a label.
pub(super) fn label_token(w: &str) -> Option<String> {
    let w = w.trim_end_matches(|c: char| ".,;:!?)".contains(c));
    let rest = w.strip_prefix('#').or_else(|| w.strip_prefix('@'))?;
    let ok = rest.chars().next().is_some_and(char::is_alphabetic)
        && rest.chars().all(|c| c.is_alphanumeric() || "-_/".contains(c))
        && rest.chars().count() <= 40;
    ok.then(|| rest.to_string())
}

/// "work", "work and home", "#work, #home" → the labels, each at most three words.
fn label_list(v: &str) -> Option<Vec<String>> {
    let unified = v.replace(" and ", ",").replace(" & ", ",");
    let mut out: Vec<String> = Vec::new();
    for part in unified.split(',') {
        let p = part.trim().trim_matches(|c: char| "\"'.!?".contains(c)).trim();
        let p = p.strip_prefix('#').or_else(|| p.strip_prefix('@')).unwrap_or(p);
        let p = strip_any_prefix(p, &["the label", "the tag", "label", "tag"]).map_or(p, |(r, _)| r);
        if p.is_empty() {
            continue;
        }
        if p.split_whitespace().count() > 3 || p.chars().count() > 40 {
            return None;
        }
        if !out.iter().any(|o| o.to_lowercase() == p.to_lowercase()) {
            out.push(p.to_string());
        }
    }
    (!out.is_empty()).then_some(out)
}

// ---------------------------------------------------------------------------------------------------------------
// Adds
// ---------------------------------------------------------------------------------------------------------------

#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct Extras {
    pub due: Option<String>,
    pub priority: Option<&'static str>,
    pub labels: Vec<String>,
}

const PRIORITY_SUFFIXES: &[&str] = &[
    "urgent",
    "urgently",
    "asap",
    "top priority",
    "highest priority",
    "high priority",
    "high-priority",
    "medium priority",
    "low priority",
    "low-priority",
    "lowest priority",
];
const PRIORITY_LEADS: &[&str] = &["", "with ", "with a ", "as ", "as a ", "it's ", "its ", "it is ", "- ", ", "];

/// A priority at the end of a title: "call bob asap", "file taxes (high priority)", "pay rent, important".
fn trailing_priority(t: &str) -> Option<(String, &'static str)> {
    if t.ends_with(')')
        && let Some(open) = t.rfind('(')
        && let Some(p) = priority_word(&t[open + 1..t.len() - 1])
    {
        return Some((t[..open].trim_end().to_string(), p));
    }
    // "priority: high", "priority high"
    let l = fold(t);
    if let Some(i) = l.rfind(" priority") {
        let tail = l[i + " priority".len()..].trim_start_matches([':', ' ']);
        if let Some(p) = priority_word(tail).filter(|_| !tail.is_empty() && !tail.contains(' ')) {
            return Some((t[..i].trim_end_matches([',', ' ', '-']).to_string(), p));
        }
    }
    let mut found: Option<(usize, &'static str)> = None;
    for lead in PRIORITY_LEADS {
        for s in PRIORITY_SUFFIXES.iter().chain([&"important"]) {
            // "important" alone ends many titles ("email the important client" does not); only after a break.
            if *s == "important" && !matches!(*lead, "- " | ", " | "it's " | "its " | "it is " | "as ") {
                continue;
            }
            let phrase = format!("{lead}{s}");
            if strip_suffix_ci(t, &phrase).is_some()
                && let Some(p) = priority_word(s)
                && found.is_none_or(|(len, _)| phrase.len() > len)
            {
                found = Some((phrase.len(), p));
            }
        }
    }
    let (len, p) = found?;
    let head = t[..t.len() - len].trim_end_matches([',', ' ', '-', ':']);
    Some((head.to_string(), p))
}

/// Labels named at the end of a title: "… labelled work", "… tagged home and errands", "… with the label x".
fn trailing_labels(t: &str) -> Option<(String, Vec<String>)> {
    let l = fold(t);
    for key in [
        " labelled ",
        " labeled ",
        " tagged as ",
        " tagged ",
        " with the labels ",
        " with the label ",
        " with labels ",
        " with label ",
        " with the tags ",
        " with the tag ",
        " with tags ",
        " with tag ",
        " under the label ",
    ] {
        if let Some(i) = l.rfind(key)
            && let Some(labels) = label_list(&t[i + key.len()..])
        {
            return Some((t[..i].trim_end_matches([',', ' ']).to_string(), labels));
        }
    }
    None
}

/// Splits the due words, priority and labels off a new task's title; the rest is the title. A title that would be
/// left empty stays as written, with nothing taken from it.
pub(super) fn split_extras(title: &str, now: &jiff::ZonedDateTime) -> (String, Extras) {
    let mut ex = Extras::default();
    let mut kept: Vec<&str> = Vec::new();
    for w in title.split(' ') {
        if let Some(l) = label_token(w) {
            if !ex.labels.iter().any(|o| o.to_lowercase() == l.to_lowercase()) {
                ex.labels.push(l);
            }
        } else if let Some(p) = priority_word(w).filter(|_| {
            let f = fold(w);
            f.starts_with('!') || (f.len() == 2 && f.starts_with('p'))
        }) {
            ex.priority = Some(p);
        } else {
            kept.push(w);
        }
    }
    let mut t = kept.join(" ");
    // "urgent: call the bank"
    for lead in ["urgent:", "important:", "asap:", "high priority:", "low priority:"] {
        if let Some(r) = strip_prefix_ci(&t, lead) {
            ex.priority.get_or_insert(priority_word(lead.trim_end_matches(':')).unwrap_or("high"));
            t = r.to_string();
        }
    }
    loop {
        let before = t.clone();
        if let Some((rest, p)) = trailing_priority(&t) {
            ex.priority.get_or_insert(p);
            t = rest;
        }
        if let Some((rest, labels)) = trailing_labels(&t) {
            for l in labels {
                if !ex.labels.iter().any(|o| o.to_lowercase() == l.to_lowercase()) {
                    ex.labels.push(l);
                }
            }
            t = rest;
        }
        if ex.due.is_none()
            && let Some(x) = dates::extract(&t, now)
        {
            ex.due = Some(x.phrase.trim_end_matches(|c: char| ".,;!?".contains(c)).to_string());
            t = t[..x.span.start].trim_end_matches(|c: char| c.is_whitespace() || ",-".contains(c)).to_string();
        }
        if t == before {
            break;
        }
    }
    let t = clean_title(&t);
    if t.is_empty() { (clean_title(title), Extras::default()) } else { (t, ex) }
}

impl Extras {
    /// These, with what is missing taken from `shared`; labels from both.
    pub(super) fn or(mut self, shared: &Extras) -> Extras {
        if self.due.is_none() {
            self.due.clone_from(&shared.due);
        }
        self.priority = self.priority.or(shared.priority);
        for l in &shared.labels {
            if !self.labels.iter().any(|o| o.to_lowercase() == l.to_lowercase()) {
                self.labels.push(l.clone());
            }
        }
        self
    }
}

/// The add call with the fields the title carried.
pub(super) fn with_extras(mut call: ToolCall, ex: &Extras) -> ToolCall {
    if let Some(d) = &ex.due {
        call.arguments["due"] = json!(d);
    }
    if let Some(p) = ex.priority {
        call.arguments["priority"] = json!(p);
    }
    if !ex.labels.is_empty() {
        call.arguments["labels"] = json!(ex.labels);
    }
    call
}

// ---------------------------------------------------------------------------------------------------------------
// Groups by due date: "everything due today", "all overdue tasks"
// ---------------------------------------------------------------------------------------------------------------

/// Which pending tasks a due-date group phrase names, or `None` when the phrase is not such a group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DueGroup {
    Overdue,
    On(Date),
    Week,
}

impl DueGroup {
    /// The `due` filter `list_tasks` takes for this group.
    pub fn filter(self) -> String {
        match self {
            DueGroup::Overdue => "overdue".into(),
            DueGroup::On(d) => format!("on:{d}"),
            DueGroup::Week => "week".into(),
        }
    }

    fn holds(self, t: &TaskRef, now: &jiff::ZonedDateTime) -> bool {
        let Some(date) = t.due.as_deref().and_then(|d| d.parse::<Date>().ok()) else { return false };
        let today = now.date();
        match self {
            DueGroup::On(d) => date == d,
            DueGroup::Week => date >= today && date <= today.saturating_add(jiff::Span::new().days(6)),
            DueGroup::Overdue => {
                let past_time = t
                    .due_time
                    .as_deref()
                    .and_then(|s| s.parse::<jiff::civil::Time>().ok())
                    .is_some_and(|tm| tm < now.time());
                date < today || (date == today && past_time)
            }
        }
    }

    fn words(self, now: &jiff::ZonedDateTime) -> String {
        match self {
            DueGroup::Overdue => "overdue".into(),
            DueGroup::Week => "due this week".into(),
            DueGroup::On(d) => format!("due {}", dates::describe(&dates::DueSpec { date: d, time: None }, now)),
        }
    }
}

/// The due-date group a message speaks of, if any: "today", "tomorrow", "overdue", "this week".
pub fn due_group_in(text: &str, now: &jiff::ZonedDateTime) -> Option<DueGroup> {
    let w = tokens(text);
    let has = |x: &str| w.iter().any(|t| t == x);
    let today = now.date();
    if has("overdue") || has("late") || w.windows(2).any(|p| p == ["past", "due"]) {
        Some(DueGroup::Overdue)
    } else if has("today") || has("tonight") {
        Some(DueGroup::On(today))
    } else if has("tomorrow") {
        Some(DueGroup::On(today.saturating_add(jiff::Span::new().days(1))))
    } else if has("week") {
        Some(DueGroup::Week)
    } else {
        None
    }
}

/// "everything due today", "all overdue tasks", "today's tasks" → the pending tasks in that group.
pub(super) fn resolve_due_group(l: &str, ctx: &Context, purpose: Purpose) -> Option<Result<Vec<i64>, Outcome>> {
    #[rustfmt::skip]
    const FILLER: &[&str] = &[
        "all", "everything", "every", "my", "the", "tasks", "task", "of", "ones", "one", "things", "stuff", "that",
        "are", "is", "which", "pending", "open", "items", "s", "due", "for", "from", "i", "have", "still",
    ];
    let w = tokens(l);
    let rest: Vec<&String> = w.iter().filter(|t| !FILLER.contains(&t.as_str())).collect();
    let group_words: &[&[&str]] =
        &[&["today"], &["tonight"], &["tomorrow"], &["overdue"], &["late"], &["past"], &["this", "week"]];
    let is_group = !rest.is_empty()
        && group_words.iter().any(|g| rest.len() == g.len() && rest.iter().zip(g.iter()).all(|(a, b)| a == b));
    if !is_group {
        return None;
    }
    let group = due_group_in(l, ctx.now)?;
    if purpose == Purpose::Delete {
        return Some(Err(Outcome::Info(
            "I won't delete a whole group of tasks in one go. Name them (\"delete 1, 2 and 3\").".to_string(),
        )));
    }
    let found: Vec<i64> =
        ctx.tasks.iter().filter(|t| !t.completed && group.holds(t, ctx.now)).map(|t| t.number).collect();
    Some(if found.is_empty() {
        Err(Outcome::Info(format!("You have no pending tasks {}.", group.words(ctx.now))))
    } else {
        Ok(found)
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Field changes
// ---------------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Change {
    /// The value is a due date in words.
    Due,
    /// The value is a span to move the due date by ("a day", "2 weeks").
    Shift,
    ClearDue,
    /// The value names a priority.
    Priority,
    /// A fixed priority: "prioritize 3".
    SetPriority(&'static str),
    /// The value is a list of labels to add; `{}` order is (reference, labels) unless `labels_first`.
    AddLabels {
        labels_first: bool,
    },
    RemoveLabels {
        labels_first: bool,
    },
    ClearLabels,
}

#[rustfmt::skip]
const DUE_TEMPLATES: &[&str] = &[
    "set the due date of {} to {}", "set the due date for {} to {}", "set due date of {} to {}",
    "set due date for {} to {}", "change the due date of {} to {}", "change the due date for {} to {}",
    "change due date of {} to {}", "move the due date of {} to {}", "update the due date of {} to {}",
    "make the due date of {} {}", "due date of {}: {}", "due date for {}: {}", "reschedule {} to {}",
    "reschedule {} for {}", "schedule {} for {}", "move {} to {}", "move {} until {}", "push back {} to {}",
    "push {} back to {}", "push {} to {}", "push {} until {}", "postpone {} to {}", "postpone {} until {}",
    "postpone {} till {}", "delay {} to {}", "delay {} until {}", "defer {} to {}", "defer {} until {}",
    "bump {} to {}", "make {} due {}", "set {} due {}", "set {} to be due {}", "{} is due {}", "{} should be due {}",
    "{} needs to be done by {}", "{} is now due {}", "{} due {}", "change {} to {}", "update {} to {}",
];
#[rustfmt::skip]
const SHIFT_TEMPLATES: &[&str] = &[
    "postpone {} by {}", "push {} back by {}", "push back {} by {}", "push {} by {}", "push {} back {}",
    "delay {} by {}", "move {} by {}", "move {} back by {}", "bump {} by {}", "defer {} by {}", "snooze {} for {}",
    "snooze {} by {}", "postpone {} for {}", "move {} forward by {}",
];
#[rustfmt::skip]
const CLEAR_DUE_TEMPLATES: &[&str] = &[
    "remove the due date from {}", "remove the due date of {}", "remove the due date on {}",
    "remove due date from {}", "clear the due date of {}", "clear the due date on {}", "clear the due date for {}",
    "clear due date of {}", "delete the due date of {}", "delete the due date from {}", "unschedule {}",
    "{} has no due date", "{} has no deadline", "no due date for {}", "remove the deadline from {}",
    "{} is not due anymore", "{} isn't due anymore", "clear the date on {}", "clear the date of {}",
    "remove the date from {}", "remove the date on {}", "take the date off {}",
];
#[rustfmt::skip]
const PRIORITY_TEMPLATES: &[&str] = &[
    "set the priority of {} to {}", "set the priority for {} to {}", "set priority of {} to {}",
    "change the priority of {} to {}", "change the priority for {} to {}", "change priority of {} to {}",
    "make the priority of {} {}", "priority of {}: {}", "bump {} to {}", "bump {} up to {}",
    "lower the priority of {} to {}", "raise the priority of {} to {}", "lower {} to {}", "raise {} to {}",
    "drop {} to {}", "move {} up to {}", "make {} {}", "mark {} as {}", "mark {} {}", "set {} to {}",
    "set {} as {}", "give {} {}", "flag {} as {}", "{} is {}", "{} should be {}",
];
#[rustfmt::skip]
const CLEAR_PRIORITY_TEMPLATES: &[&str] = &[
    "remove the priority from {}", "remove the priority of {}", "clear the priority of {}",
    "clear the priority on {}", "reset the priority of {}",
];
#[rustfmt::skip]
const PRIORITIZE_TEMPLATES: &[(&str, &str)] = &[
    ("prioritize {}", "high"), ("prioritise {}", "high"), ("deprioritize {}", "low"), ("deprioritise {}", "low"),
    ("flag {}", "high"), ("unflag {}", "none"),
];
#[rustfmt::skip]
const ADD_LABEL_TEMPLATES: &[(&str, bool)] = &[
    ("add the label {} to {}", true), ("add label {} to {}", true), ("add the labels {} to {}", true),
    ("add labels {} to {}", true), ("add the tag {} to {}", true), ("add tag {} to {}", true),
    ("put the label {} on {}", true), ("put {} under {}", false), ("file {} under {}", false),
    ("label {} as {}", false), ("label {} with {}", false), ("tag {} as {}", false), ("tag {} with {}", false),
];
#[rustfmt::skip]
const REMOVE_LABEL_TEMPLATES: &[(&str, bool)] = &[
    ("remove the {} label from {}", true), ("remove the {} tag from {}", true), ("take the {} label off {}", true),
    ("remove the label {} from {}", true), ("remove label {} from {}", true), ("remove the tag {} from {}", true),
    ("remove tag {} from {}", true), ("take the label {} off {}", true), ("take label {} off {}", true),
    ("untag {} from {}", true), ("unlabel {} from {}", true),
];
#[rustfmt::skip]
const CLEAR_LABEL_TEMPLATES: &[&str] = &[
    "remove all labels from {}", "remove all the labels from {}", "remove the labels from {}",
    "clear the labels on {}", "clear the labels of {}", "clear labels on {}", "clear all labels from {}",
    "remove all tags from {}", "untag {}", "unlabel {}",
];

fn templates() -> Vec<(&'static str, Change)> {
    let mut out: Vec<(&'static str, Change)> = Vec::new();
    out.extend(CLEAR_DUE_TEMPLATES.iter().map(|t| (*t, Change::ClearDue)));
    out.extend(CLEAR_PRIORITY_TEMPLATES.iter().map(|t| (*t, Change::SetPriority("none"))));
    out.extend(CLEAR_LABEL_TEMPLATES.iter().map(|t| (*t, Change::ClearLabels)));
    out.extend(REMOVE_LABEL_TEMPLATES.iter().map(|(t, f)| (*t, Change::RemoveLabels { labels_first: *f })));
    out.extend(ADD_LABEL_TEMPLATES.iter().map(|(t, f)| (*t, Change::AddLabels { labels_first: *f })));
    out.extend(SHIFT_TEMPLATES.iter().map(|t| (*t, Change::Shift)));
    out.extend(DUE_TEMPLATES.iter().map(|t| (*t, Change::Due)));
    out.extend(PRIORITIZE_TEMPLATES.iter().map(|(t, p)| (*t, Change::SetPriority(p))));
    out.extend(PRIORITY_TEMPLATES.iter().map(|t| (*t, Change::Priority)));
    out
}

fn is_question(text: &str) -> bool {
    #[rustfmt::skip]
    const Q: &[&str] = &[
        "what", "whats", "which", "how", "any", "anything", "show", "list", "do", "does", "is there", "are there",
        "when", "tell me", "give me",
    ];
    Q.iter().any(|q| strip_prefix_ci(text, q).is_some())
}

/// "a day", "2 weeks", "three days" → the span.
fn span_words(v: &str) -> Option<jiff::Span> {
    let w = tokens(v);
    let (n, unit) = match w.as_slice() {
        [unit] => (1, unit.as_str()),
        [n, unit] => {
            let n = dates::count_word(n).and_then(|n| i64::try_from(n).ok()).filter(|n| (1..=365).contains(n))?;
            (n, unit.as_str())
        }
        _ => return None,
    };
    Some(match unit.trim_end_matches('s') {
        "day" => jiff::Span::new().days(n),
        "week" => jiff::Span::new().weeks(n),
        "month" => jiff::Span::new().months(n),
        _ => return None,
    })
}

/// The due words for moving task `n` to `v`, or `None` when `v` is not a date. A timed task moved to another
/// day keeps its time ("move the dentist to monday"); a time alone keeps the task's day ("move the meeting to
/// 2:30pm", "actually 12:30").
pub(super) fn due_for(n: i64, v: &str, ctx: &Context) -> Option<String> {
    let spec = dates::parse(v, ctx.now).ok()?;
    let task = ctx.tasks.iter().find(|t| t.number == n);
    let (day, time) = (task.and_then(|t| t.due.clone()), task.and_then(|t| t.due_time.clone()));
    Some(match (spec.time, time, day) {
        (None, Some(t), _) if dates::parse(&format!("{v} {t}"), ctx.now).is_ok() => format!("{v} {t}"),
        (None, Some(t), _) => format!("{} {t}", spec.date),
        (Some(_), _, Some(d)) if !has_day_word(v) => format!("{d} {v}"),
        _ => v.to_string(),
    })
}

/// Whether words of a due name a day (not only a time of day).
pub(super) fn has_day_word(t: &str) -> bool {
    let digits_only = t.chars().all(|c| c.is_ascii_digit() || c == ':' || c == ' ' || "apm.".contains(c));
    !digits_only && !t.starts_with("at ")
}

/// The update call for one task, or `None` when the value does not fit the change.
fn change_call(n: i64, change: Change, value: &str, ctx: &Context) -> Option<ToolCall> {
    // A template tries every split of a long message, so a value too long for its field is refused before any
    // work on it: reading each one made an 8,000-character message take a quadratic time.
    use crate::tasks::{MAX_DUE_WORDS, MAX_LABEL, MAX_LABELS};
    let longest = match change {
        Change::Due | Change::Shift => MAX_DUE_WORDS,
        Change::Priority => 40,
        Change::AddLabels { .. } | Change::RemoveLabels { .. } => MAX_LABELS * (MAX_LABEL + 8),
        Change::ClearDue | Change::SetPriority(_) | Change::ClearLabels => usize::MAX,
    };
    if value.len() > longest.saturating_mul(4) || value.chars().count() > longest {
        return None;
    }
    let mut args = json!({ "task_id": n });
    match change {
        Change::Due => args["due"] = json!(due_for(n, &clean_value(value), ctx)?),
        Change::Shift => {
            let span = span_words(value)?;
            let task = ctx.tasks.iter().find(|t| t.number == n);
            let base = task.and_then(|t| t.due.as_deref()).and_then(|d| d.parse::<Date>().ok());
            let date = base.unwrap_or_else(|| ctx.now.date()).checked_add(span).ok()?;
            let time = task.filter(|_| base.is_some()).and_then(|t| t.due_time.clone());
            args["due"] = json!(match time {
                Some(t) => format!("{date} {t}"),
                None => date.to_string(),
            });
        }
        Change::ClearDue => args["due"] = Value::Null,
        Change::Priority => args["priority"] = json!(priority_word(value)?),
        Change::SetPriority(p) => args["priority"] = json!(p),
        Change::AddLabels { .. } => args["add_labels"] = json!(label_list(value)?),
        Change::RemoveLabels { .. } => args["remove_labels"] = json!(label_list(value)?),
        Change::ClearLabels => args["labels"] = json!([]),
    }
    Some(tool("update_task", args))
}

/// "change the label on 2 from work to personal": one label swapped for another, in one update.
fn relabel(text: &str, ctx: &Context) -> Option<Outcome> {
    #[rustfmt::skip]
    const SWAPS: &[&str] = &[
        "change the label on {} from {} to {}", "change the label of {} from {} to {}",
        "change the label for {} from {} to {}", "change the tag on {} from {} to {}", "relabel {} from {} to {}",
        "retag {} from {} to {}", "switch the label on {} from {} to {}", "move {} from label {} to {}",
    ];
    for pattern in SWAPS {
        for caps in match_template(pattern, text) {
            let (Some(old), Some(new)) = (label_list(caps[1]), label_list(caps[2])) else { continue };
            let Ok(numbers) = resolve(caps[0], ctx, Purpose::Fields) else { continue };
            let calls = numbers
                .into_iter()
                .map(|n| tool("update_task", json!({ "task_id": n, "remove_labels": old, "add_labels": new })))
                .collect();
            return Some(Outcome::Calls(calls));
        }
    }
    None
}

/// A change to a task's due date, priority or labels, of one task or of a group.
pub(super) fn try_fields(text: &str, ctx: &Context) -> Option<Outcome> {
    if is_question(text) {
        return None;
    }
    // "add buy milk due tomorrow" is a new task; only "add the label …" templates may start with an add verb.
    let adding = looks_like_add(text);
    if let Some(o) = relabel(text, ctx) {
        return Some(o);
    }
    // "label 3 #work", "tag the report #q4 #finance"
    for verb in ["label", "tag"] {
        if let Some(rest) = strip_prefix_ci(text, verb) {
            let words: Vec<&str> = rest.split(' ').collect();
            let mut labels: Vec<String> = words.iter().rev().map_while(|w| label_token(w)).collect();
            // "label 3 work", "label it travel": one plain word after a task named by number or pronoun.
            if labels.is_empty()
                && words.len() >= 2
                && let Some(last) = words.last().map(|w| w.trim_end_matches(['.', '!']))
                && last.chars().all(char::is_alphanumeric)
                && !last.is_empty()
            {
                let reference = words[..words.len() - 1].join(" ");
                let l = fold(&reference);
                let named = parse_number_ref(&reference).is_some()
                    || parse_number_list(&l).is_some()
                    || ["it", "that", "this", "that one", "this one", "them", "both"].contains(&l.trim())
                    // "label the dentist task health": one task by its words, the label not one of them.
                    || !tokens(&l).iter().any(|w| ["with", "as", "and", "under", "to"].contains(&w.as_str()))
                        && {
                            // One task, or a choice between a few ("label the invoice task finance" with two
                            // invoices: asked), none of whose titles has the label's word.
                            let without = |ns: &[i64]| {
                                ns.iter().all(|n| {
                                    ctx.tasks.iter().any(|t| t.number == *n && !fold(&t.title).contains(&fold(last)))
                                })
                            };
                            match resolve(&reference, ctx, Purpose::Fields) {
                                Ok(ns) => ns.len() == 1 && without(&ns),
                                Err(Outcome::Ambiguous { candidates }) => without(&candidates),
                                Err(_) => false,
                            }
                        };
                if named {
                    labels.push(last.to_string());
                }
            }
            if !labels.is_empty() && labels.len() < words.len() {
                let reference = words[..words.len() - labels.len()].join(" ");
                // "tag 1 and 2 with #errands"
                let reference = strip_suffix_ci(&reference, "with")
                    .or_else(|| strip_suffix_ci(&reference, "as"))
                    .unwrap_or(&reference)
                    .to_string();
                let labels: Vec<String> = labels.into_iter().rev().collect();
                return Some(match resolve(&reference, ctx, Purpose::Fields) {
                    Ok(ns) => Outcome::Calls(
                        ns.into_iter()
                            .map(|n| tool("update_task", json!({ "task_id": n, "add_labels": labels })))
                            .collect(),
                    ),
                    Err(o) => o,
                });
            }
        }
    }
    for (pattern, change) in templates() {
        let loose = pattern.starts_with("{}");
        // "put call Tom under family": a template may start with the add verb the message starts with.
        let same_verb = pattern.split(' ').next().is_some_and(|v| v != "{}" && strip_prefix_ci(text, v).is_some());
        if adding && !same_verb {
            continue;
        }
        let mut first_err = None;
        for caps in match_template(pattern, text) {
            let (reference, value) = match (change, caps.as_slice()) {
                (Change::AddLabels { labels_first: true } | Change::RemoveLabels { labels_first: true }, [v, r]) => {
                    (*r, *v)
                }
                (_, [r, v]) => (*r, *v),
                (_, [r]) => (*r, ""),
                _ => continue,
            };
            // Values must fit before a reference is looked up: "move the meeting to the calendar" is no date.
            if change_call(0, change, value, ctx).is_none() {
                continue;
            }
            // "change 3 to tomorrow" is a due date only for a task named by number or pronoun: "change 3's
            // description to due Friday" and renames are other rules'.
            if ["change {} to {}", "update {} to {}"].contains(&pattern)
                && parse_number_ref(reference).is_none()
                && !["it", "that", "this", "that one", "this one"].contains(&fold(reference).trim())
            {
                continue;
            }
            match resolve(reference, ctx, Purpose::Fields) {
                Ok(ns) => {
                    let calls: Option<Vec<ToolCall>> = ns.iter().map(|n| change_call(*n, change, value, ctx)).collect();
                    if let Some(calls) = calls {
                        return Some(Outcome::Calls(calls));
                    }
                }
                Err(o) if !loose => {
                    first_err.get_or_insert(o);
                }
                Err(_) => {}
            }
        }
        if let Some(e) = first_err {
            return Some(e);
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------------------------
// Reopening
// ---------------------------------------------------------------------------------------------------------------

#[rustfmt::skip]
const REOPEN_TEMPLATES: &[&str] = &[
    "reopen {}", "re-open {}", "unmark {}", "uncheck {}", "untick {}", "uncomplete {}", "un-complete {}",
    "restore {}", "bring back {}", "bring {} back", "put {} back on my list", "put {} back",
    "mark {} as not done", "mark {} as not done yet", "mark {} not done", "mark {} as undone", "mark {} undone",
    "mark {} as incomplete", "mark {} incomplete", "mark {} as unfinished", "mark {} as not complete",
    "mark {} as not completed", "mark {} as not finished", "mark {} as pending", "mark {} as open",
    "mark {} as to do", "set {} to not done", "set {} as not done", "set {} to pending", "{} is not done",
    "{} isn't done", "{} is not done yet", "{} isn't done yet", "{} is not finished", "{} isn't finished",
    "{} is not complete", "{} isn't complete", "{} is not completed", "{} wasn't done", "{} was not done",
    "{} is undone", "{} isn't finished yet", "i'm not done with {}", "im not done with {}",
    "i am not done with {}", "i haven't finished {}", "i havent finished {}", "i didn't finish {}",
    "i didnt finish {}", "i didn't do {}", "i didn't actually finish {}", "i'm not finished with {}",
];

pub(super) fn try_reopen(text: &str, ctx: &Context) -> Option<Outcome> {
    let w = tokens(text);
    if w.iter().any(|t| t == "undo") {
        return Some(Outcome::Info(
            "I undo your last change when you say \"undo\". To change one task, say what to change, e.g. \"reopen 3\" or \"delete 7\"."
                .to_string(),
        ));
    }
    for pattern in REOPEN_TEMPLATES {
        let mut first_err = None;
        for caps in match_template(pattern, text) {
            match resolve(caps[0], ctx, Purpose::Reopen) {
                Ok(ns) => return Some(reopen_outcome(&ns, ctx)),
                Err(o) => {
                    first_err.get_or_insert(o);
                }
            }
        }
        if first_err.is_some() {
            return first_err;
        }
    }
    let neg = w.iter().any(|t| NEGATIONS.contains(&t.as_str()));
    let done = w.iter().any(|t| DONE_TOKENS.contains(&t.as_str()));
    let reopen_word = w.iter().any(|t| ["reopen", "unmark", "uncheck", "untick", "uncomplete"].contains(&t.as_str()));
    (reopen_word || (neg && done)).then_some(Outcome::Ask(Ask::WhichTask))
}

/// Reopens the done ones; a task that is still open needs nothing.
fn reopen_outcome(ns: &[i64], ctx: &Context) -> Outcome {
    let open = |n: &i64| ctx.tasks.iter().any(|t| t.number == *n && !t.completed);
    let calls: Vec<ToolCall> =
        ns.iter().filter(|n| !open(n)).map(|n| tool("reopen_task", json!({ "task_id": n }))).collect();
    if !calls.is_empty() {
        return Outcome::Calls(calls);
    }
    let names: Vec<String> = ns.iter().map(|n| label(ctx, *n)).collect();
    let verb = if ns.len() == 1 { "is" } else { "are" };
    Outcome::Info(format!("Task {} {verb} still open, so there is nothing to reopen.", join_or(&names)))
}

// ---------------------------------------------------------------------------------------------------------------
// Search, filters and paging
// ---------------------------------------------------------------------------------------------------------------

#[rustfmt::skip]
const SEARCH_TEMPLATES: &[&str] = &[
    "search my tasks for {}", "search my list for {}", "search the list for {}", "search for {}", "search {}",
    "find tasks about {}", "find tasks with {}", "find my tasks about {}", "find anything about {}",
    "find everything about {}", "find tasks mentioning {}", "find {}", "look for {}", "look up {}",
    "any tasks about {}", "anything about {}", "tasks about {}", "tasks mentioning {}",
    "do i have anything about {}", "do i have a task about {}", "do i have any tasks about {}",
    "do i have anything with {} in it", "is there a task about {}", "is there anything about {}",
    "which tasks mention {}", "what tasks mention {}", "tasks that mention {}", "show me tasks about {}",
    "show tasks about {}", "show me everything about {}", "list tasks about {}", "what do i have about {}",
    "find anything with {}", "find anything about {}", "find everything with {}", "do i have anything with {}",
    "anything with {}", "is there anything with {}", "any tasks with {}",
];

pub(super) fn try_search(text: &str, ctx: &Context) -> Option<Outcome> {
    // The most specific template wins: "find anything with invoice" searches for "invoice", not for
    // "anything with invoice".
    let mut found: Vec<&str> = SEARCH_TEMPLATES
        .iter()
        .filter_map(|pattern| match_template(pattern, text).into_iter().next().map(|caps| caps[0]))
        .collect();
    found.sort_by_key(|c| c.len());
    for capture in found {
        let v = respell(&clean_value(capture), ctx);
        let v = strip_any_prefix(&v, &["the", "a", "an", "my"]).map_or(v.as_str(), |(r, _)| r).to_string();
        if v.is_empty() {
            continue;
        }
        let mut args = Map::new();
        args.insert("status".into(), json!("all"));
        match label_token(&v) {
            Some(l) if !v.contains(' ') => args.insert("label".into(), json!(l)),
            _ => args.insert("search".into(), json!(v.trim_matches(['"', '\'']))),
        };
        return Some(Outcome::Calls(vec![tool("list_tasks", Value::Object(args))]));
    }
    None
}

/// Search words put right by the person's own titles: "passprot" is "passport" when a title has that word
/// and no title has the word as written (one edit or swap away, in words of five letters or more).
fn respell(v: &str, ctx: &Context) -> String {
    let words: Vec<String> = ctx.tasks.iter().flat_map(|t| tokens(&t.title)).collect();
    v.split(' ')
        .map(|w| {
            let l = fold(w);
            if l.chars().count() < 5 || words.iter().any(|t| t.starts_with(&l)) {
                return w.to_string();
            }
            let mut near: Vec<&String> = words.iter().filter(|t| super::references::osa_distance(t, &l) == 1).collect();
            near.sort();
            near.dedup();
            match near.as_slice() {
                [one] => one.to_string(),
                _ => w.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// "more", "next page": the next page of the last list, from `ctx.more`.
pub(super) fn try_more(text: &str, ctx: &Context) -> Option<Outcome> {
    #[rustfmt::skip]
    const MORE: &[&str] = &[
        "more", "show more", "next", "next page", "the next page", "show the next page", "the rest", "show the rest",
        "rest", "keep going", "go on", "continue", "see more", "show me more", "more please", "and the rest",
        "what else", "anything else on the list",
    ];
    let l = fold(text).trim_end_matches(['?', '.', '!']).to_string();
    if !MORE.contains(&l.as_str()) {
        return None;
    }
    Some(match ctx.more {
        Some(args) => Outcome::Calls(vec![tool("list_tasks", args.clone())]),
        None => Outcome::Info("There's nothing more to show. Say \"show my list\" to start from the top.".into()),
    })
}

/// The filters a listing question asks for: due, priority, label, sort. `completed` questions take no due words
/// but an explicit "due".
pub(super) fn list_filters(text: &str, ctx: &Context, completed: bool) -> Map<String, Value> {
    let w = tokens(text);
    let has = |x: &str| w.iter().any(|t| t == x);
    let pair = |a: &str, b: &str| w.windows(2).any(|p| p[0] == a && p[1] == b);
    let mut out = Map::new();
    let due = if pair("no", "due") || has("undated") || pair("without", "due") || pair("without", "a") && has("due") {
        Some("none".to_string())
    } else if completed && !has("due") {
        None
    } else if let Some(g) = due_group_in(text, ctx.now) {
        Some(match g {
            DueGroup::On(d) if d == ctx.now.date() => "today".to_string(),
            g => g.filter(),
        })
    } else if has("upcoming") || pair("coming", "up") || has("soon") {
        Some("upcoming".to_string())
    } else if has("due") {
        dates::extract(text, ctx.now).map(|x| format!("on:{}", x.due.date))
    } else {
        None
    };
    if let Some(d) = due {
        out.insert("due".into(), json!(d));
    }
    let priority = if has("urgent") {
        Some("urgent")
    } else if pair("high", "priority") || has("important") {
        Some("high")
    } else if pair("medium", "priority") {
        Some("medium")
    } else if pair("low", "priority") {
        Some("low")
    } else if pair("no", "priority") {
        Some("none")
    } else {
        None
    };
    if let Some(p) = priority {
        out.insert("priority".into(), json!(p));
    }
    let words: Vec<&str> = text.split(' ').collect();
    let mut label = words.iter().find_map(|w| label_token(w));
    if label.is_none() {
        for (i, word) in words.iter().enumerate() {
            let f = fold(word);
            if ["labelled", "labeled", "tagged", "label", "tag"].contains(&f.as_str()) {
                let next = words[i + 1..].iter().find(|x| !["as", "with", "the", "a"].contains(&fold(x).as_str()));
                if let Some(n) = next {
                    let n = n.trim_matches(|c: char| !c.is_alphanumeric() && c != '-' && c != '_');
                    if !n.is_empty() {
                        label = Some(n.to_string());
                        break;
                    }
                }
            }
        }
    }
    if let Some(l) = label {
        out.insert("label".into(), json!(l));
    }
    if pair("by", "priority") || has("priority") && (has("sorted") || has("order")) {
        out.insert("sort".into(), json!("priority"));
    } else if pair("by", "due") || pair("by", "date") || pair("by", "deadline") || pair("soonest", "first") {
        out.insert("sort".into(), json!("due"));
    }
    out
}

// ---------------------------------------------------------------------------------------------------------------
// Wording
// ---------------------------------------------------------------------------------------------------------------

/// "due tomorrow 17:00, overdue, urgent, #groceries" for a task as a tool shows it; empty when it has none.
pub(super) fn extras_text(task: &Value) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(due) = task.get("due").filter(|d| d.is_object()) {
        let when = due.get("when").and_then(Value::as_str).or_else(|| due.get("date").and_then(Value::as_str));
        if let Some(w) = when {
            parts.push(format!("due {w}"));
        }
        if due.get("overdue").and_then(Value::as_bool) == Some(true) {
            parts.push("overdue".into());
        }
    }
    match task.get("priority").and_then(Value::as_str) {
        Some("urgent") => parts.push("urgent".into()),
        Some(p @ ("high" | "medium" | "low")) => parts.push(format!("{p} priority")),
        _ => {}
    }
    let labels: Vec<String> = task
        .get("labels")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|l| format!("#{}", md(l)))
        .collect();
    if !labels.is_empty() {
        parts.push(labels.join(" "));
    }
    parts.join(", ")
}

/// What an update of due date, priority or labels did, or `None` when the call changed none of those.
pub(super) fn field_update_text(call: &ToolCall, result: &Value, named: &str) -> Option<String> {
    let a = &call.arguments;
    let task = result.get("task").unwrap_or(&Value::Null);
    let mut out: Vec<String> = Vec::new();
    match a.get("due") {
        Some(Value::Null) => out.push(format!("{named} no longer has a due date")),
        Some(_) => {
            let when = task.pointer("/due/when").and_then(Value::as_str);
            let when = when.or_else(|| a.get("due").and_then(Value::as_str)).map(md).unwrap_or_default();
            out.push(format!("{named} is now due {when}"));
        }
        None => {}
    }
    if let Some(p) = a.get("priority").and_then(Value::as_str) {
        out.push(match p {
            "urgent" => format!("{named} is now urgent"),
            "none" => format!("{named} no longer has a priority"),
            p => format!("{named} now has {p} priority"),
        });
    }
    let list = |k: &str| -> Vec<String> {
        a.get(k).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(md).collect()
    };
    if a.get("labels").is_some() && list("labels").is_empty() {
        out.push(format!("removed every label from {named}"));
    }
    let added = list("add_labels");
    if !added.is_empty() {
        out.push(format!("labelled {named} {}", added.join(", ")));
    }
    let removed = list("remove_labels");
    if !removed.is_empty() {
        out.push(format!("took {} off {named}", removed.join(", ")));
    }
    if out.is_empty() {
        return None;
    }
    let mut s = out.join("; ");
    if let Some(first) = s.get(..1) {
        s = first.to_uppercase() + &s[1..];
    }
    Some(sentence(s))
}

/// "due today", "urgent", "labelled work", "matching \"milk\"": the filters of a list call, in words.
pub(super) fn filter_words(args: &Value) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(p) = args.get("priority").and_then(Value::as_str) {
        parts.push(match p {
            "urgent" => "urgent".to_string(),
            "none" => "without a priority".to_string(),
            p => format!("{p}-priority"),
        });
    }
    let mut after: Vec<String> = Vec::new();
    if let Some(d) = args.get("due").and_then(Value::as_str) {
        after.push(match d {
            "today" => "due today".to_string(),
            "overdue" => "overdue".to_string(),
            "week" => "due this week".to_string(),
            "upcoming" => "due from today on".to_string(),
            "none" => "without a due date".to_string(),
            d => match d.split_once(':') {
                Some(("on", day)) => match day.parse::<Date>() {
                    Ok(date) => format!("due on {}", date.strftime("%A %-d %B")),
                    Err(_) => format!("due on {}", md(day)),
                },
                Some((k, day)) => format!("due {} {}", md(k), md(day)),
                None => format!("due {}", md(d)),
            },
        });
    }
    if let Some(l) = args.get("label").and_then(Value::as_str) {
        after.push(format!("labelled {}", md(l)));
    }
    if let Some(q) = args.get("search").and_then(Value::as_str) {
        after.push(format!("matching \"{}\"", md(q)));
    }
    let mut s = parts.join(" ");
    if !after.is_empty() {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(&after.join(", "));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::super::tests::test_now;
    use super::super::{Decision, LastTurn, decide};
    use super::*;

    fn task(number: i64, title: &str, completed: bool, due: Option<&str>, time: Option<&str>) -> TaskRef {
        TaskRef {
            number,
            title: title.to_string(),
            completed,
            due: due.map(str::to_string),
            due_time: time.map(str::to_string),
            labels: vec![],
        }
    }

    /// Friday 4 December 2026, 10:00 in London (see `test_now`).
    fn tasks() -> Vec<TaskRef> {
        vec![
            task(1, "buy milk", false, Some("2026-12-04"), None),
            task(2, "call mom", false, Some("2026-12-04"), Some("09:00")),
            task(3, "write the quarterly report", false, Some("2026-12-02"), None),
            task(4, "pay electricity bill", true, None, None),
            task(5, "book dentist appointment", false, None, None),
            task(6, "plan the party", false, Some("2026-12-05"), Some("17:00")),
        ]
    }

    #[derive(Debug)]
    enum Exp {
        Calls(Vec<(&'static str, Value)>),
        /// A direct reply (refusal, question, fact), containing this text.
        Reply(&'static str),
    }

    fn add(args: Value) -> Exp {
        Exp::Calls(vec![("add_task", args)])
    }
    fn upd(args: Value) -> Exp {
        Exp::Calls(vec![("update_task", args)])
    }
    fn many(name: &'static str, args: Vec<Value>) -> Exp {
        Exp::Calls(args.into_iter().map(|a| (name, a)).collect())
    }
    fn list(args: Value) -> Exp {
        Exp::Calls(vec![("list_tasks", args)])
    }

    fn rows() -> Vec<(&'static str, Exp)> {
        vec![
            // ---- adds carry due, priority and labels ----
            ("add buy milk tomorrow at 5pm", add(json!({"title": "buy milk", "due": "tomorrow at 5pm"}))),
            ("add call the bank asap", add(json!({"title": "call the bank", "priority": "urgent"}))),
            ("add pay rent p1", add(json!({"title": "pay rent", "priority": "urgent"}))),
            ("add pay rent !low", add(json!({"title": "pay rent", "priority": "low"}))),
            ("add buy eggs #groceries", add(json!({"title": "buy eggs", "labels": ["groceries"]}))),
            (
                "add buy eggs #groceries @shop tomorrow",
                add(json!({"title": "buy eggs", "due": "tomorrow", "labels": ["groceries", "shop"]})),
            ),
            (
                "add file taxes by april 15 high priority",
                add(json!({"title": "file taxes", "due": "by april 15", "priority": "high"})),
            ),
            ("add renew passport (important)", add(json!({"title": "renew passport", "priority": "high"}))),
            (
                "add email Anna this evening labelled work",
                add(json!({"title": "email Anna", "due": "this evening", "labels": ["work"]})),
            ),
            (
                "remind me to call grandma on sunday, urgent",
                add(json!({"title": "call grandma", "due": "on sunday", "priority": "urgent"})),
            ),
            ("add urgent: call the plumber", add(json!({"title": "call the plumber", "priority": "urgent"}))),
            ("add email the important client", add(json!({"title": "email the important client"}))),
            ("add buy milk and eggs tomorrow", add(json!({"title": "buy milk and eggs", "due": "tomorrow"}))),
            (
                "add milk, eggs and bread #groceries",
                many(
                    "add_task",
                    vec![
                        json!({"title": "milk", "labels": ["groceries"]}),
                        json!({"title": "eggs", "labels": ["groceries"]}),
                        json!({"title": "bread", "labels": ["groceries"]}),
                    ],
                ),
            ),
            (
                "add buy milk tomorrow; call mom friday",
                many(
                    "add_task",
                    vec![
                        json!({"title": "buy milk", "due": "tomorrow"}),
                        json!({"title": "call mom", "due": "friday"}),
                    ],
                ),
            ),
            ("add tomorrow", add(json!({"title": "tomorrow"}))),
            ("add the parents' evening", add(json!({"title": "the parents' evening"}))),
            (
                "add buy milk due dec 24 with tag errands",
                add(json!({"title": "buy milk", "due": "due dec 24", "labels": ["errands"]})),
            ),
            // ---- due dates ----
            ("move 1 to friday", upd(json!({"task_id": 1, "due": "friday"}))),
            ("push the dentist to next monday", upd(json!({"task_id": 5, "due": "next monday"}))),
            ("reschedule 6 for tomorrow at 9am", upd(json!({"task_id": 6, "due": "tomorrow at 9am"}))),
            ("postpone 6 by a day", upd(json!({"task_id": 6, "due": "2026-12-06 17:00"}))),
            ("push 5 back by 2 weeks", upd(json!({"task_id": 5, "due": "2026-12-18"}))),
            ("snooze 1 for 3 days", upd(json!({"task_id": 1, "due": "2026-12-07"}))),
            ("remove the due date from 1", upd(json!({"task_id": 1, "due": null}))),
            ("set 2 due friday 5pm", upd(json!({"task_id": 2, "due": "friday 5pm"}))),
            ("3 is due monday", upd(json!({"task_id": 3, "due": "monday"}))),
            ("change the due date of the report to dec 20", upd(json!({"task_id": 3, "due": "dec 20"}))),
            // A timed task keeps its time on the new day.
            ("move it to tomorrow", upd(json!({"task_id": 6, "due": "tomorrow 17:00"}))),
            (
                "push everything due today to tomorrow",
                many(
                    "update_task",
                    vec![json!({"task_id": 1, "due": "tomorrow"}), json!({"task_id": 2, "due": "tomorrow 09:00"})],
                ),
            ),
            (
                "move all overdue tasks to today",
                many(
                    "update_task",
                    vec![json!({"task_id": 2, "due": "today 09:00"}), json!({"task_id": 3, "due": "today"})],
                ),
            ),
            (
                "push everything due this week to monday",
                many(
                    "update_task",
                    vec![
                        json!({"task_id": 1, "due": "monday"}),
                        json!({"task_id": 2, "due": "monday 09:00"}),
                        json!({"task_id": 6, "due": "monday 17:00"}),
                    ],
                ),
            ),
            ("move the meeting to the calendar", Exp::Reply("didn't catch")),
            // ---- priorities ----
            ("make 3 urgent", upd(json!({"task_id": 3, "priority": "urgent"}))),
            ("set the priority of 5 to low", upd(json!({"task_id": 5, "priority": "low"}))),
            ("the report is urgent", upd(json!({"task_id": 3, "priority": "urgent"}))),
            ("prioritize the party", upd(json!({"task_id": 6, "priority": "high"}))),
            ("make 2 not urgent", upd(json!({"task_id": 2, "priority": "none"}))),
            ("mark 1 as high priority", upd(json!({"task_id": 1, "priority": "high"}))),
            ("remove the priority from 1", upd(json!({"task_id": 1, "priority": "none"}))),
            ("make everything due tomorrow urgent", upd(json!({"task_id": 6, "priority": "urgent"}))),
            // ---- labels ----
            ("label 1 as groceries", upd(json!({"task_id": 1, "add_labels": ["groceries"]}))),
            ("add the label work to 3", upd(json!({"task_id": 3, "add_labels": ["work"]}))),
            ("tag 5 #health #teeth", upd(json!({"task_id": 5, "add_labels": ["health", "teeth"]}))),
            ("tag the dentist with health and family", upd(json!({"task_id": 5, "add_labels": ["health", "family"]}))),
            ("remove the label work from 3", upd(json!({"task_id": 3, "remove_labels": ["work"]}))),
            ("remove all labels from 3", upd(json!({"task_id": 3, "labels": []}))),
            // ---- groups with other verbs ----
            (
                "mark everything due today done",
                many("complete_task", vec![json!({"task_id": 1}), json!({"task_id": 2})]),
            ),
            ("delete everything overdue", Exp::Reply("won't delete")),
            // ---- reopening ----
            ("reopen 4", Exp::Calls(vec![("reopen_task", json!({"task_id": 4}))])),
            ("mark the electricity bill as not done", Exp::Calls(vec![("reopen_task", json!({"task_id": 4}))])),
            ("uncheck 4 and 5", Exp::Calls(vec![("reopen_task", json!({"task_id": 4}))])),
            ("I'm not done with the report", Exp::Reply("still open")),
            ("undo", Exp::Calls(vec![("undo_last_change", json!({}))])),
            ("undo completing 3", Exp::Reply("say \"undo\"")),
            // ---- filtered listings ----
            ("what's due today?", list(json!({"status": "pending", "due": "today"}))),
            ("what's overdue", list(json!({"status": "pending", "due": "overdue"}))),
            ("show urgent tasks", list(json!({"status": "pending", "priority": "urgent"}))),
            ("what's due tomorrow", list(json!({"status": "pending", "due": "on:2026-12-05"}))),
            ("what's due on monday", list(json!({"status": "pending", "due": "on:2026-12-07"}))),
            ("show tasks labelled work", list(json!({"status": "pending", "label": "work"}))),
            ("list #groceries", list(json!({"status": "pending", "label": "groceries"}))),
            ("what's due this week", list(json!({"status": "pending", "due": "week"}))),
            ("show my list by priority", list(json!({"status": "all", "sort": "priority"}))),
            ("what did I finish today", list(json!({"status": "completed"}))),
            ("show all urgent tasks", list(json!({"status": "all", "priority": "urgent"}))),
            ("any tasks without a due date?", list(json!({"status": "pending", "due": "none"}))),
            ("show high priority tasks", list(json!({"status": "pending", "priority": "high"}))),
            ("what's left by due date", list(json!({"status": "pending", "sort": "due"}))),
            // ---- search ----
            ("search for milk", list(json!({"status": "all", "search": "milk"}))),
            ("find dentist", list(json!({"status": "all", "search": "dentist"}))),
            ("do I have anything about the party?", list(json!({"status": "all", "search": "party"}))),
            ("find #work", list(json!({"status": "all", "label": "work"}))),
            // ---- paging without a list before ----
            ("more", Exp::Reply("nothing more")),
        ]
    }

    #[test]
    fn fields_table() {
        let tasks = tasks();
        let now = test_now();
        let ctx = Context {
            tasks: &tasks,
            last_mentioned: Some(6),
            user_name: None,
            now: &now,
            more: None,
            pending: None,
            last: &LastTurn::default(),
        };
        let rows = rows();
        assert!(rows.len() >= 60, "{} rows", rows.len());
        let mut failures = Vec::new();
        for (text, exp) in &rows {
            let got = decide(text, &ctx);
            let ok = match (exp, &got) {
                (Exp::Calls(want), Decision::Call(calls)) => {
                    want.len() == calls.len()
                        && want.iter().zip(calls).all(|((n, a), c)| c.name == *n && c.arguments == *a)
                }
                (Exp::Reply(part), Decision::Reply(text)) => text.contains(part),
                _ => false,
            };
            if !ok {
                failures.push(format!("{text:?}\n   expected {exp:?}\n   got      {got:?}"));
            }
        }
        assert!(failures.is_empty(), "{} of {} rows failed:\n{}", failures.len(), rows.len(), failures.join("\n"));
    }

    #[test]
    fn more_pages_on_from_the_last_list() {
        let tasks = tasks();
        let now = test_now();
        let more = json!({"status": "pending", "due": "today", "cursor": "abc"});
        let ctx = Context {
            tasks: &tasks,
            last_mentioned: None,
            user_name: None,
            now: &now,
            more: Some(&more),
            pending: None,
            last: &LastTurn::default(),
        };
        for text in ["more", "show more", "next page", "the rest?"] {
            match decide(text, &ctx) {
                Decision::Call(calls) => {
                    assert_eq!(calls.len(), 1);
                    assert_eq!(calls[0].name, "list_tasks");
                    assert_eq!(calls[0].arguments, more);
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn answers_name_the_new_fields() {
        use super::super::{ToolCall, compose_answer};
        let call = |name: &str, args: Value| ToolCall { name: name.to_string(), arguments: args };
        let milk = json!({"task": {"number": 7, "title": "buy milk", "due": {"date": "2026-12-05", "time": "17:00",
            "when": "tomorrow 17:00", "overdue": false}, "priority": "urgent", "labels": ["groceries"]}});
        let added = compose_answer(&[(call("add_task", json!({"title": "buy milk"})), milk.clone())]);
        assert_eq!(added, "Added task 7: buy milk (due tomorrow 17:00, urgent, #groceries).");
        let moved =
            compose_answer(&[(call("update_task", json!({"task_id": 7, "due": "tomorrow 5pm"})), milk.clone())]);
        assert_eq!(moved, "Task 7 (buy milk) is now due tomorrow 17:00.");
        let urgent =
            compose_answer(&[(call("update_task", json!({"task_id": 7, "priority": "urgent"})), milk.clone())]);
        assert_eq!(urgent, "Task 7 (buy milk) is now urgent.");
        let labelled =
            compose_answer(&[(call("update_task", json!({"task_id": 7, "add_labels": ["groceries"]})), milk.clone())]);
        assert_eq!(labelled, "Labelled task 7 (buy milk) groceries.");
        let reopened = compose_answer(&[(call("reopen_task", json!({"task_id": 7})), milk.clone())]);
        assert!(reopened.starts_with("Reopened task 7 (buy milk)"), "{reopened}");
        let page = json!({"count": 1, "total": 40, "next_cursor": "x", "tasks": [milk["task"]]});
        let listed = compose_answer(&[(call("list_tasks", json!({"status": "pending", "due": "today"})), page)]);
        assert!(listed.starts_with("You have 40 pending tasks due today:"), "{listed}");
        assert!(listed.contains("7. buy milk (due tomorrow 17:00, urgent, #groceries)"), "{listed}");
        assert!(listed.contains("Showing 1 of 40. Say \"more\""), "{listed}");
        let none = json!({"count": 0, "total": 0, "next_cursor": null, "tasks": []});
        let empty = compose_answer(&[(call("list_tasks", json!({"status": "pending", "due": "overdue"})), none)]);
        assert_eq!(empty, "You have no pending tasks overdue.");
        // A page of group changes is summed up, not listed in full.
        let pairs: Vec<(ToolCall, Value)> =
            (1..=30).map(|n| (call("update_task", json!({"task_id": n, "due": "tomorrow"})), milk.clone())).collect();
        let summary = compose_answer(&pairs);
        assert_eq!(summary.lines().count(), 11, "{summary}");
        assert!(summary.ends_with("…and 20 more like these (30 in all)."), "{summary}");
    }
}
