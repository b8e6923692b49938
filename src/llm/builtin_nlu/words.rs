//! Words and stems: stop words, everyday task verbs, negations, tokens, and the small stemmer that lets
//! "bought" meet "buy".

use super::text::fold;

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

/// Words that say what to do rather than which task: the search for candidates leaves them out (each word
/// searched costs a lookup, and "add", "mark" or "done" would bring tasks that merely contain them).
#[rustfmt::skip]
const COMMAND_WORDS: &[&str] = &[
    "add", "added", "create", "new", "mark", "marked", "done", "complete", "completed", "finish", "finished",
    "delete", "deleted", "remove", "removed", "rename", "change", "update", "show", "what", "whats", "left", "move",
    "push", "tick", "ticked", "reopen", "undo", "due", "today", "tomorrow", "tonight", "priority", "urgent",
    "label", "labels", "tag", "tagged", "can", "could", "would", "hey", "thanks", "thank", "need", "remind",
];

/// The words of a message worth searching the person's tasks for: without stop words and command words, or
/// all its words when nothing else is left ("mark set up done" names the task "set up").
pub fn search_text(message: &str) -> String {
    let all = tokens(message);
    let kept: Vec<&str> =
        all.iter().map(String::as_str).filter(|w| !STOP_WORDS.contains(w) && !COMMAND_WORDS.contains(w)).collect();
    if kept.is_empty() { all.join(" ") } else { kept.join(" ") }
}

pub(super) fn weak_stems() -> Vec<String> {
    WEAK_VERBS.iter().map(|w| stem(w)).collect()
}

pub(super) fn tokens(s: &str) -> Vec<String> {
    fold(s).split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_string).collect()
}

/// Stems of the meaningful words, in order, without repeats.
pub(super) fn content_stems(s: &str) -> Vec<String> {
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
pub(super) fn irregular_base(w: &str) -> Option<&'static str> {
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
pub(super) fn stem(word: &str) -> String {
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

/// Tokens that negate ("isn't" splits into "isn" + "t").
pub(super) const NEGATIONS: &[&str] = &["not", "t", "never"];
/// Single words that talk about a task being done.
pub(super) const DONE_TOKENS: &[&str] = &["done", "complete", "completed", "finished", "finish", "checked", "ticked"];
