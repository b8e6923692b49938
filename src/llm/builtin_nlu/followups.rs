//! Follow-ups: a message read against the conversation's last exchange ([`super::LastTurn`]).
//! - An answer to the assistant's own question: "1", "the first one", "the second", "the milk one", "both",
//!   "neither" (and "la primera", "pehla", "دوسرا"). The request it answers is read again with the chosen
//!   task as the only one it can mean.
//! - A continuation of the last action: "and 3", "oh and the dishes too", "the other one too".

use super::calls::{complete_call, delete_call, tool};
use super::references::resolve;
use super::text::{fold, strip_any_prefix, strip_any_suffix};
use super::{Ask, Context, Outcome, Purpose, TaskRef};

#[rustfmt::skip]
const NEITHER: &[&str] = &[
    "neither", "none", "neither of them", "none of them", "neither one", "no", "nope", "nah", "ninguna", "ninguno",
    "ninguna de las dos", "koi nahi", "koi bhi nahi", "dono nahi", "کوئی نہیں", "دونوں نہیں",
];
#[rustfmt::skip]
const BOTH: &[&str] = &[
    "both", "both of them", "all", "all of them", "them all", "both please", "ambas", "ambos", "las dos", "los dos",
    "todas", "todos", "dono", "donon", "dono ko", "دونوں",
];
/// Ordinal words by the position they name (0: first; `usize::MAX`: last).
#[rustfmt::skip]
const ORDINALS: &[(&str, usize)] = &[
    ("first", 0), ("1st", 0), ("primera", 0), ("primero", 0), ("pehla", 0), ("pehli", 0), ("pehla wala", 0),
    ("پہلا", 0), ("پہلی", 0), ("second", 1), ("2nd", 1), ("segunda", 1), ("segundo", 1), ("doosra", 1),
    ("doosri", 1), ("dusra", 1), ("دوسرا", 1), ("دوسری", 1), ("third", 2), ("3rd", 2), ("tercera", 2),
    ("tercero", 2), ("teesra", 2), ("teesri", 2), ("تیسرا", 2), ("تیسری", 2), ("fourth", 3), ("4th", 3),
    ("last", usize::MAX), ("última", usize::MAX), ("ultima", usize::MAX), ("último", usize::MAX),
    ("aakhri", usize::MAX), ("آخری", usize::MAX), ("the latter", usize::MAX), ("the former", 0),
];

/// The position an ordinal reference names: "the first one", "the 2nd", "la primera", "pehla wala".
pub(super) fn ordinal(phrase: &str) -> Option<usize> {
    let l = fold(phrase);
    let mut t = l.trim();
    for lead in ["the", "la", "el", "lo"] {
        if let Some(r) = t.strip_prefix(lead).filter(|r| r.starts_with(' ')) {
            t = r.trim();
        }
    }
    for trail in ["one", "task", "ones", "item", "wala", "wali", "والا", "والی", "tarea"] {
        if let Some(r) = t.strip_suffix(trail).filter(|r| r.ends_with(' ')) {
            t = r.trim();
        }
    }
    ORDINALS.iter().find(|(w, _)| *w == t).map(|(_, i)| *i)
}

fn pick(list: &[i64], i: usize) -> Option<i64> {
    if i == usize::MAX { list.last().copied() } else { list.get(i).copied() }
}

enum Choice {
    Tasks(Vec<i64>),
    Neither,
}

/// The tasks an answer chooses among `candidates` (empty when the question was "which task?").
fn choose(text: &str, candidates: &[i64], ctx: &Context) -> Option<Choice> {
    let l = fold(text.trim().trim_end_matches(['.', '!', '?', '؟']));
    let l = l.trim();
    if NEITHER.contains(&l) {
        return Some(Choice::Neither);
    }
    if BOTH.contains(&l) && !candidates.is_empty() {
        return Some(Choice::Tasks(candidates.to_vec()));
    }
    if let Some(i) = ordinal(l) {
        return pick(candidates, i).map(|n| Choice::Tasks(vec![n]));
    }
    if let Some(n) = super::references::parse_number_ref(l) {
        return Some(Choice::Tasks(vec![n]));
    }
    if candidates.is_empty() {
        return None;
    }
    // "the one on thursday", "the one due tomorrow": the candidate due that day.
    if let Some((when, _)) = strip_any_prefix(l, &["the one due on", "the one due", "the one on", "the one for", "on"])
        && let Ok(spec) = crate::tasks::dates::parse(when, ctx.now)
    {
        let day = spec.date.to_string();
        let due: Vec<i64> = ctx
            .tasks
            .iter()
            .filter(|t| candidates.contains(&t.number) && t.due.as_deref() == Some(day.as_str()))
            .map(|t| t.number)
            .collect();
        return (due.len() == 1).then_some(Choice::Tasks(due));
    }
    // "the milk one", "the one with Sara", "send": words of one candidate's title.
    let phrase = strip_any_prefix(l, &["the one with", "the one for", "the one about", "the one", "la de", "el de"])
        .map_or(l, |(r, _)| r);
    let only: Vec<TaskRef> = ctx.tasks.iter().filter(|t| candidates.contains(&t.number)).cloned().collect();
    let sub = Context { tasks: &only, ..*ctx };
    match resolve(phrase, &sub, Purpose::Update) {
        Ok(ns) if ns.len() == 1 => Some(Choice::Tasks(ns)),
        _ => None,
    }
}

/// When the last answer was a question, this message as the answer to it.
pub(super) fn answer_to_question(text: &str, ctx: &Context) -> Option<Outcome> {
    let asked = ctx.last.asked.as_deref()?;
    // The question was asked in the person's words; it is read again as `decide` read it.
    let english = super::lang::to_english(asked);
    let request = english.as_ref().map_or(asked, |(e, _)| e.as_str());
    let plain = Context { last: &super::LastTurn::default(), ..*ctx };
    let candidates = match super::interpret(request, &plain) {
        Outcome::Ambiguous { candidates } => candidates,
        Outcome::Ask(Ask::WhichTask) | Outcome::NotFound { .. } => vec![],
        _ => return None,
    };
    match choose(text, &candidates, ctx)? {
        Choice::Neither => Some(Outcome::Info("Okay, I left them as they are.".into())),
        Choice::Tasks(numbers) => {
            let mut calls = Vec::new();
            for n in numbers {
                let only: Vec<TaskRef> = ctx.tasks.iter().filter(|t| t.number == n).cloned().collect();
                let sub = Context { tasks: &only, last_mentioned: Some(n), ..plain };
                match super::interpret(request, &sub) {
                    Outcome::Calls(c) => calls.extend(c),
                    // The chosen task does not fit the words of the request: act on it as the request says.
                    _ if only.is_empty() => return None,
                    other => return Some(other),
                }
            }
            Some(Outcome::Calls(calls))
        }
    }
}

/// "and 3", "oh and the dishes too", "the other one too", "also 5": the last action again, on new tasks.
pub(super) fn continuation(normalized: &str, ctx: &Context) -> Option<Outcome> {
    let action = ctx.last.action.as_deref()?;
    let l = normalized.trim().trim_end_matches(['.', '!']);
    let lead = strip_any_prefix(l, &["oh and", "and also", "and", "also", "plus", "y", "aur"]);
    let trail = strip_any_suffix(lead.map_or(l, |(r, _)| r), &["too", "as well", "also", "también", "bhi"]);
    let rest = match (lead, trail) {
        (_, Some((r, _))) => r,
        (Some((r, _)), None) => r,
        (None, None) => return None,
    };
    // "rename 1 to X" then "and task 2 to Y": the same kind of change, to another task.
    if action == "update_task"
        && let Some(call) = &ctx.last.call
    {
        let field = ["title", "description"].into_iter().find(|f| call.get(*f).is_some())?;
        for caps in super::text::match_template("{} to {}", rest) {
            let value = super::add::clean_title(caps[1]);
            if let (Ok([n]), false) = (resolve(caps[0], ctx, Purpose::Update).as_deref(), value.is_empty()) {
                return Some(Outcome::Calls(vec![tool(
                    "update_task",
                    serde_json::json!({ "task_id": n, field: value }),
                )]));
            }
        }
        return None;
    }
    let purpose = match action {
        "complete_task" => Purpose::Complete,
        "delete_task" => Purpose::Delete,
        "reopen_task" => Purpose::Reopen,
        _ => return None,
    };
    let numbers = match other_one(rest, ctx) {
        Some(n) => vec![n],
        None => resolve(rest, ctx, purpose).ok()?,
    };
    let calls = numbers
        .into_iter()
        .map(|n| match purpose {
            Purpose::Delete => delete_call(n),
            Purpose::Reopen => tool("reopen_task", serde_json::json!({ "task_id": n })),
            _ => complete_call(n),
        })
        .collect();
    Some(Outcome::Calls(calls))
}

/// "the other one": of the two tasks the last turn was about, the one it did not act on last.
pub(super) fn other_one(phrase: &str, ctx: &Context) -> Option<i64> {
    let l = fold(phrase);
    if !["the other one", "the other", "other one", "the other task", "la otra", "el otro", "doosra wala"]
        .contains(&l.trim())
    {
        return None;
    }
    let pool = if ctx.last.group.len() == 2 {
        &ctx.last.group
    } else if ctx.last.shown.is_empty() {
        &ctx.last.listed
    } else {
        &ctx.last.shown
    };
    match (pool.as_slice(), ctx.last_mentioned) {
        ([a, b], Some(m)) if *a == m => Some(*b),
        ([a, b], Some(m)) if *b == m => Some(*a),
        _ => None,
    }
}

/// Words that open a correction of the last turn: "no, I meant 4", "sorry, I meant task 2", "wait no, keep it".
#[rustfmt::skip]
const CORRECTING: &[&str] = &[
    "no no", "no wait", "wait no", "no sorry", "sorry no", "no", "nope", "sorry", "oops", "wait", "actually", "hmm",
    "my bad", "my mistake", "perdón", "perdon", "mejor", "nahi", "nahin",
];

/// A correction of the last turn: the same change on another task ("no, I meant 4"), taking a deletion back
/// ("wait no, keep it"), or a new due for the task it just touched ("actually 12:30", "actually, no due date").
pub(super) fn correction(normalized: &str, ctx: &Context) -> Option<Outcome> {
    let action = ctx.last.action.as_deref()?;
    let mut t = fold(normalized);
    let mut opened = false;
    loop {
        let trimmed = t.trim_start_matches([' ', ',', '.', '!', '-']).to_string();
        match strip_any_prefix(&trimmed, CORRECTING) {
            // "no due date on that" is what to do, not a "no".
            Some((rest, "no"))
                if rest.starts_with("due") || rest.starts_with("date") || rest.starts_with("deadline") =>
            {
                t = trimmed;
                break;
            }
            Some((rest, _)) => {
                t = rest.to_string();
                opened = true;
            }
            None => {
                t = trimmed;
                break;
            }
        }
    }
    let t = t.trim().trim_end_matches(['.', '!']).trim();
    let undo = || tool("undo_last_change", serde_json::json!({}));
    #[rustfmt::skip]
    const KEEP: &[&str] = &[
        "keep it", "don't delete it", "dont delete it", "do not delete it", "put it back", "bring it back",
        "restore it", "i still need it", "keep them", "don't delete them", "bring them back", "put them back",
    ];
    if KEEP.contains(&t) {
        return (action == "delete_task").then(|| Outcome::Calls(vec![undo()]));
    }
    let meant = strip_any_prefix(t, &["i meant", "i mean", "meant", "not that one,", "not that one", "just", "only"])
        .map(|(r, _)| r.trim())
        .or_else(|| t.strip_suffix(" instead").map(str::trim));
    if let Some(reference) = meant.filter(|r| !r.is_empty()) {
        if !opened && !t.starts_with("i meant") && !t.starts_with("i mean") && !t.starts_with("meant") {
            return None;
        }
        let args = ctx.last.call.as_ref()?;
        if action == "add_task" {
            let mut new = args.clone();
            new["title"] = serde_json::Value::String(reference.to_string());
            return Some(Outcome::Calls(vec![undo(), tool("add_task", new)]));
        }
        let purpose = match action {
            "complete_task" => Purpose::Complete,
            "delete_task" => Purpose::Delete,
            "reopen_task" => Purpose::Reopen,
            _ => Purpose::Fields,
        };
        let Ok(numbers) = resolve(reference, ctx, purpose) else {
            // "oops, I meant personal" after labelling: the value was wrong, not the task.
            return value_instead(action, args, reference, ctx.now).map(|call| Outcome::Calls(vec![undo(), call]));
        };
        let mut calls = vec![undo()];
        for n in numbers {
            let mut again = args.clone();
            if let Some(o) = again.as_object_mut() {
                o.remove("task_ids");
                o.remove("confirm");
            }
            again["task_id"] = serde_json::Value::from(n);
            calls.push(tool(action, again));
        }
        return Some(Outcome::Calls(calls));
    }
    if !opened {
        return None;
    }
    let n = ctx.last_mentioned?;
    if ["no due date", "no due date on that", "no due date on it", "no date", "without a date", "no deadline"]
        .contains(&t)
    {
        return Some(Outcome::Calls(vec![tool("update_task", serde_json::json!({ "task_id": n, "due": null }))]));
    }
    // "actually 12:30", "actually tomorrow", "no, tuesday": the whole rest is when.
    let words = super::fields::due_for(n, t, ctx)?;
    Some(Outcome::Calls(vec![tool("update_task", serde_json::json!({ "task_id": n, "due": words }))]))
}

/// The last change made again with another value: a label, a priority, a due date or a title.
fn value_instead(
    action: &str,
    args: &serde_json::Value,
    value: &str,
    now: &jiff::ZonedDateTime,
) -> Option<super::ToolCall> {
    if action != "update_task" {
        return None;
    }
    let mut again = serde_json::json!({ "task_id": args.get("task_id")?.clone() });
    if args.get("add_labels").is_some() || args.get("labels").is_some() {
        again["add_labels"] = serde_json::json!([value.trim_start_matches('#')]);
    } else if args.get("priority").is_some() {
        again["priority"] = serde_json::json!(crate::tasks::Priority::parse(value).ok()?);
    } else if args.get("due").is_some() {
        crate::tasks::dates::parse(value, now).ok()?;
        again["due"] = serde_json::json!(value);
    } else if args.get("title").is_some() {
        again["title"] = serde_json::json!(value);
    } else {
        return None;
    }
    Some(tool("update_task", again))
}

/// "make it friday", "set it for 4pm", "it's due on the 1st", "make both due thursday": a new due for tasks named
/// by number or pronoun. A time alone keeps each task's day.
pub(super) fn due_change(text: &str, ctx: &Context) -> Option<Outcome> {
    const TEMPLATES: &[&str] = &[
        "make {} due {}",
        "set {} due {}",
        "set {} for {}",
        "set {} to {}",
        "make {} {}",
        "{} is due {}",
        "{} is due on {}",
        "{} due {}",
    ];
    let l = fold(text);
    let l = l.replace("it's due", "it is due").replace("its due", "it is due");
    for pattern in TEMPLATES {
        for caps in super::text::match_template(pattern, &l) {
            let (reference, when) = (caps[0], caps[1].trim_start_matches("on ").trim());
            // "make the library one due tomorrow too"
            let when = strip_any_suffix(when, &["too", "as well"]).map_or(when, |(r, _)| r.trim());
            if crate::tasks::dates::parse(when, ctx.now).is_err() {
                continue;
            }
            let Ok(numbers) = resolve(reference, ctx, Purpose::Fields) else { continue };
            let calls = numbers
                .into_iter()
                .filter_map(|n| super::fields::due_for(n, when, ctx).map(|words| (n, words)))
                .map(|(n, words)| tool("update_task", serde_json::json!({ "task_id": n, "due": words })))
                .collect();
            return Some(Outcome::Calls(calls));
        }
    }
    None
}
