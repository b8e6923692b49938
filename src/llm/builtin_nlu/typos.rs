//! Misspelt command words, put right before a message is read: "compelte 3", "delte the milk one", "reopne 1",
//! "wat's due tomorow?", "undo taht". Task names are not corrected here: references compare near-spellings
//! against the person's own titles (`references`).
//!
//! Only words that cannot be meant as written are changed, and only into a command, date or field word that is
//! one edit away (two for long words) and starts with the same letter: the first word of the message (where
//! the command goes), and anywhere the distinctive date and field words (tomorrow, weekdays, priority, urgent).
//! A word of one of the person's own titles, or a common word one edit from a command ("remote", "charge",
//! "compete", "shop"), is never changed: a wide gap is a question, not a guess.

use super::references::osa_distance;
use super::text::fold;

/// Command words, as the first word of a message.
#[rustfmt::skip]
const COMMANDS: &[&str] = &[
    "add", "create", "complete", "finish", "delete", "remove", "rename", "reopen", "show", "list", "search",
    "find", "mark", "change", "move", "make", "label", "undo", "clear", "postpone", "update", "check", "display",
    "what's", "whats", "what", "set", "tick", "cancel", "unmark",
];
/// Distinctive words, corrected wherever they stand.
#[rustfmt::skip]
const ANYWHERE: &[&str] = &[
    "tomorrow", "tonight", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "priority", "urgent", "complete", "completed", "finished", "delete", "remove", "rename", "reopen", "search",
    "pending", "overdue",
];
/// Short misspellings, too close to other words for the edit-distance rule, that only ever mean one thing.
#[rustfmt::skip]
const SHORT: &[(&str, &str)] = &[
    ("ad", "add"), ("sho", "show"), ("shw", "show"), ("delet", "delete"), ("delte", "delete"), ("dlete", "delete"),
    ("lable", "label"), ("taht", "that"), ("teh", "the"), ("wat", "what"), ("wat's", "what's"), ("wats", "what's"),
    ("dnoe", "done"), ("doen", "done"), ("odne", "done"), ("mrak", "mark"), ("amrk", "mark"), ("mkae", "make"),
    ("mvoe", "move"), ("lsit", "list"), ("serch", "search"), ("undp", "undo"), ("tmrw", "tomorrow"),
    ("tmr", "tomorrow"), ("tmrow", "tomorrow"), ("2moro", "tomorrow"), ("tdy", "today"), ("tonite", "tonight"),
    ("prio", "priority"), ("tsk", "task"), ("taks", "task"), ("tsaks", "tasks"), ("taks", "task"),
];
/// A command asked for in the -ing form ("would you mind deleting …"), as the first word.
#[rustfmt::skip]
const GERUNDS: &[(&str, &str)] = &[
    ("adding", "add"), ("deleting", "delete"), ("removing", "remove"), ("completing", "complete"),
    ("marking", "mark"), ("renaming", "rename"), ("moving", "move"), ("making", "make"), ("changing", "change"),
    ("reopening", "reopen"), ("showing", "show"), ("listing", "list"), ("labelling", "label"), ("labeling", "label"),
    ("tagging", "tag"), ("setting", "set"), ("finishing", "finish"), ("creating", "create"), ("pushing", "push"),
];
/// Real words one edit from a command: never "corrected".
#[rustfmt::skip]
const REAL: &[&str] = &[
    "remote", "charge", "compete", "shop", "mask", "mall", "last", "lost", "lift", "fine", "fund", "mind", "kind",
    "cake", "bake", "take", "lake", "wake", "park", "dark", "bark", "sheet", "short", "shoe", "shot", "move",
    "made", "mare", "male", "mate", "make", "seat", "sit", "sat", "set", "lust", "mist", "must", "remake",
    "reheat", "repeat", "cheek", "clean", "clever", "finch", "fish", "mask", "create", "crate", "deleted",
    "changes", "change", "thanks", "tonights", "mondays", "fridays", "sundays", "delegate", "remover", "renamed",
];

/// The message with misspelt command, date and field words put right. `titles` are the words of the person's
/// tasks the message may be about, which are left as they are.
pub(super) fn correct(text: &str, titles: &[String]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut first = true;
    for piece in text.split_inclusive(' ') {
        let (word, space) = match piece.strip_suffix(' ') {
            Some(w) => (w, " "),
            None => (piece, ""),
        };
        let lead = word.len() - word.trim_start_matches(['"', '\'', '(', '¿', '¡']).len();
        let core = word[lead..].trim_end_matches(['?', '!', '.', ',', ';', ':', ')', '"', '\'', '؟']);
        let tail = &word[lead + core.len()..];
        let fixed = if core.is_empty() { None } else { fix(core, first, titles) };
        out.push_str(&word[..lead]);
        out.push_str(fixed.as_deref().unwrap_or(core));
        out.push_str(tail);
        out.push_str(space);
        if !core.is_empty() {
            first = false;
        }
    }
    out
}

fn fix(word: &str, first: bool, titles: &[String]) -> Option<String> {
    let w = fold(word);
    if !w.chars().all(|c| c.is_alphabetic() || c == '\'' || c.is_ascii_digit()) || titles.contains(&w) {
        return None;
    }
    if let Some((_, to)) = SHORT.iter().find(|(from, _)| *from == w) {
        return Some((*to).to_string());
    }
    if first && let Some((_, to)) = GERUNDS.iter().find(|(from, _)| *from == w) {
        return Some((*to).to_string());
    }
    let known = |list: &[&str]| list.contains(&w.as_str());
    if known(COMMANDS) || known(ANYWHERE) || known(REAL) || w.chars().count() < 5 {
        return None;
    }
    let mut pool: Vec<&str> = ANYWHERE.to_vec();
    if first {
        pool.extend(COMMANDS.iter().filter(|c| !ANYWHERE.contains(c)));
    }
    let reach = if w.chars().count() >= 8 { 2 } else { 1 };
    let mut best: Vec<(&str, usize)> = pool
        .iter()
        .filter(|v| v.chars().next() == w.chars().next())
        .map(|v| (*v, osa_distance(&w, v)))
        .filter(|(_, d)| *d <= reach)
        .collect();
    best.sort_by_key(|(_, d)| *d);
    match best.as_slice() {
        [(v, _)] => Some((*v).to_string()),
        [(v, d), (_, d2), ..] if d < d2 => Some((*v).to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_words_are_put_right_and_nothing_else() {
        let none: Vec<String> = vec![];
        for (typed, meant) in [
            ("compelte 3", "complete 3"),
            ("delte the milk one", "delete the milk one"),
            ("renmae 2 to call grandpa", "rename 2 to call grandpa"),
            ("reopne 1", "reopen 1"),
            ("sho my tasks", "show my tasks"),
            ("mark 2 as dnoe", "mark 2 as done"),
            ("ad eggs", "add eggs"),
            ("remvoe the dentist appointment", "remove the dentist appointment"),
            ("chnage 3 to tomorrow", "change 3 to tomorrow"),
            ("wat's due tomorow?", "what's due tomorrow?"),
            ("set prority of 2 to high", "set priority of 2 to high"),
            ("undo taht", "undo that"),
            ("move it to firday", "move it to friday"),
        ] {
            assert_eq!(correct(typed, &none), meant, "{typed}");
        }
        for kept in [
            "remote meeting friday",
            "charge the phone",
            "compete in the race",
            "shop for shoes",
            "add dine with mom",
            "buy milk",
            "mark the dentsit done",
        ] {
            assert_eq!(correct(kept, &none), kept);
        }
        // A word of the person's own titles is theirs.
        assert_eq!(correct("tonite party", &["tonite".to_string()]), "tonite party");
    }
}
