//! Normalisation of a message before it is read: quotes, spaces and line breaks, polite filler at both ends,
//! thanks and acknowledgements, and small talk ("help", "never mind").

use super::Outcome;
use super::text::{first_word, fold, strip_any_prefix, strip_any_suffix, strip_prefix_ci};

/// Straight quotes, single spaces, and line breaks as `;` so a pasted list splits like "a; b".
pub(super) fn normalize(message: &str) -> String {
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
    let words: Vec<&str> = s.split(' ').filter(|w| !w.is_empty()).collect();
    // Emoji around a request ("ugh 😩 add laundry", "make 3 urgent 🙏") say how, not what; inside a title they stay.
    let start = words.iter().position(|w| !w.chars().all(is_emoji)).unwrap_or(words.len());
    let end = words.iter().rposition(|w| !w.chars().all(is_emoji)).map_or(start, |i| i + 1);
    let mut out = words[start..end.max(start)].join(" ");
    let kept = out.trim_start_matches(is_emoji).len();
    out.replace_range(..out.len() - kept, "");
    let kept = out.trim_end_matches(is_emoji).trim_end().len();
    out.truncate(kept);
    out
}

/// Pictographs, their modifiers and joiners.
fn is_emoji(c: char) -> bool {
    matches!(c as u32, 0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0xFE0F | 0x200D)
}

pub(super) struct Cleaned<'a> {
    pub(super) text: &'a str,
    pub(super) thanked: bool,
    pub(super) acked: bool,
    pub(super) question: bool,
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
    "actually", "wait", "oops", "ugh", "quick one", "quick question", "would you be so kind as to",
    "would you be so kind to", "i'd love it if you could", "i would love it if you could", "do me a favor and",
    "do me a favour and", "could you kindly", "can you kindly", "i'd appreciate it if you could", "hmm so",
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
    "pls", "plz", "mate", "buddy", "ok", "okay", "lol", "haha", "thx", "ty",
];

pub(super) fn strip_fillers(s: &str) -> Cleaned<'_> {
    let question = s.contains('?');
    let (mut thanked, mut acked) = (false, false);
    let mut t = s;
    loop {
        let before = t;
        t = t.trim_start_matches(|c: char| c.is_whitespace() || ",;:!.-".contains(c) || is_emoji(c));
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

pub(super) fn smalltalk(text: &str) -> Option<Outcome> {
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

/// An answer to a yes-or-no question: `Some(true)` for yes, `Some(false)` for no, `None` for anything else
/// (which is read as a new request).
pub(super) fn yes_or_no(text: &str) -> Option<bool> {
    #[rustfmt::skip]
    const YES: &[&str] = &[
        "yes", "y", "yeah", "yep", "yup", "sure", "ok", "okay", "confirm", "confirmed", "do it", "go ahead",
        "yes please", "yes delete them", "delete them", "yes do it", "correct", "right", "absolutely", "of course",
        "sí", "si", "claro", "dale", "haan", "han", "ji", "ji haan", "ہاں", "جی", "جی ہاں",
    ];
    #[rustfmt::skip]
    const NO: &[&str] = &[
        "no", "n", "nope", "nah", "cancel", "don't", "dont", "no thanks", "keep them", "never mind", "nevermind",
        "stop", "no don't", "nahin", "nahi", "نہیں",
    ];
    let l = fold(text);
    let l = l.trim_end_matches(['.', '!', '?', '؟']).trim();
    // "yes, clear them", "sure, go ahead": a yes with words after it.
    let head = l.split([',', ' ']).next().unwrap_or_default();
    if !YES.contains(&l) && ["yes", "yeah", "yep", "sure", "ok", "okay", "sí", "si", "haan", "ہاں"].contains(&head)
    {
        let rest = l[head.len()..].trim_start_matches([',', ' ']);
        if !rest.starts_with("but") && rest.split_whitespace().count() <= 4 {
            return Some(true);
        }
    }
    // "nope, keep them", "no, don't": a no with its reason after it.
    if !NO.contains(&l)
        && let Some((first, rest)) = l.split_once(',')
        && NO.contains(&first.trim())
        && !rest.trim().is_empty()
        && NO
            .iter()
            .chain(["keep them", "keep it", "leave them", "leave it", "don't delete them"].iter())
            .any(|n| rest.trim() == *n)
    {
        return Some(false);
    }
    if YES.contains(&l) {
        Some(true)
    } else if NO.contains(&l) {
        Some(false)
    } else {
        None
    }
}
