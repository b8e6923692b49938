//! Resolving references: which tasks a phrase names.
//!
//! Numbers ("3", "#3", "task 3", "number three", "3rd", several as "1, 2 and 6"), pronouns ("it", "that one" →
//! the last mentioned task), "everything" (bulk complete or field change of the pending tasks; bulk delete is
//! refused except "clear completed"), due-date groups ("everything due today", "all overdue tasks", see
//! `fields`), or words of a title ("the dentist and the report" names two when each is clear).
//! Word matching ignores stop words and compares stems (bought→buy, wrote→write, plural and -ed/-ing endings,
//! one-letter typos in words of 5+ letters; a word spelt exactly as written outranks a near-spelling). Common
//! task verbs (buy, call, pay…) only count when nothing more specific matches, so "I bought a car" does not pick
//! "buy milk". The task sharing the most words wins; on a tie a phrase naming every word of exactly one title
//! wins ("I bought the milk" → "buy milk", not "buy oat milk"); when completing, pending tasks beat done ones
//! (when reopening, done ones beat pending); any remaining tie is a question listing the candidates. No match
//! names the closest titles, if any. A number that does not exist still becomes a tool call, so the tool
//! reports the error.

use super::text::{fold, strip_any_prefix, strip_any_suffix};
use super::words::{DONE_TOKENS, content_stems, tokens, weak_stems};
use super::{Ask, Context, Outcome, Purpose, TaskRef, fields};

#[rustfmt::skip]
const PRONOUNS: &[&str] = &[
    "it", "that", "this", "that one", "this one", "that task", "this task", "that item", "this item",
    "the last one", "last one", "the last task", "the latest one", "the one i just added",
    "the one i just mentioned", "the same one", "same one", "the previous one", "the new one",
];
/// The newest task.
#[rustfmt::skip]
const NEWEST: &[&str] = &[
    "the last one", "last one", "the last task", "last task", "the latest one", "the latest task", "the newest one",
    "the newest task", "the most recent one", "the most recent task", "my last task", "the last thing i added",
];
/// The tasks the last turn was about, together.
#[rustfmt::skip]
const GROUP: &[&str] = &[
    "both", "both of them", "them", "them both", "all of them", "those", "these", "those ones", "these ones",
    "them all", "the two", "both tasks", "the two of them", "each of them", "all of those", "all those",
    "ambas", "ambos", "las dos", "los dos", "dono", "دونوں",
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
pub(super) fn resolve(phrase: &str, ctx: &Context, purpose: Purpose) -> Result<Vec<i64>, Outcome> {
    let p = trim_ref(phrase);
    let l = fold(p);
    if l.is_empty() {
        return Err(Outcome::Ask(Ask::WhichTask));
    }
    if GROUP.contains(&l.as_str()) {
        let last = ctx.last;
        // "tag them diy" after two adds: the two tasks acted on last, when the last turn touched only one.
        let mut two: Vec<i64> = last.recent.iter().take(2).copied().collect();
        two.sort_unstable();
        let group = if last.group.len() >= 2 {
            &last.group
        } else if !last.shown.is_empty() {
            &last.shown
        } else if two.len() == 2 && !EVERYTHING.contains(&l.as_str()) {
            &two
        } else {
            &last.group
        };
        if !group.is_empty() {
            return Ok(group.clone());
        }
        if !EVERYTHING.contains(&l.as_str()) {
            return ctx.last_mentioned.map(|n| vec![n]).ok_or(Outcome::Ask(Ask::WhichTask));
        }
    }
    // "the first one", "the last one" of the list just shown.
    if !ctx.last.shown.is_empty()
        && let Some(i) = super::followups::ordinal(&l)
    {
        let n = if i == usize::MAX { ctx.last.shown.last() } else { ctx.last.shown.get(i) };
        if let Some(n) = n {
            return Ok(vec![*n]);
        }
    }
    if let Some(n) = super::followups::other_one(&l, ctx) {
        return Ok(vec![n]);
    }
    // "the last task", with nothing mentioned yet: the newest (the assistant looks it up for "last").
    if ctx.last_mentioned.is_none() && NEWEST.contains(&l.as_str()) {
        return ctx.tasks.iter().map(|t| t.number).max().map(|n| vec![n]).ok_or(Outcome::Ask(Ask::WhichTask));
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
    if let Some(group) = label_group(&l, ctx, purpose) {
        return group;
    }
    if EVERYTHING.contains(&l.as_str()) {
        return bulk(ctx, purpose);
    }
    if purpose == Purpose::Reopen && is_completed_group(&l) {
        let done: Vec<i64> = ctx.tasks.iter().filter(|t| t.completed).map(|t| t.number).collect();
        return if done.is_empty() { Err(Outcome::Info("None of your tasks is done.".to_string())) } else { Ok(done) };
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
        Purpose::Delete if ctx.tasks.is_empty() => Err(Outcome::Info("You don't have any tasks yet.".to_string())),
        // The tool asks the person to confirm first, listing what would go (a page at most).
        Purpose::Delete => Ok(ctx.tasks.iter().map(|t| t.number).take(100).collect()),
        Purpose::Update | Purpose::Reopen => Err(Outcome::Ask(Ask::WhichTask)),
    }
}

fn is_completed_group(l: &str) -> bool {
    #[rustfmt::skip]
    const OK: &[&str] = &[
        "all", "the", "my", "completed", "complete", "done", "finished", "ticked", "checked", "crossed", "off",
        "tasks", "task", "ones", "one", "items", "item", "old", "of",
    ];
    let w = tokens(l);
    !w.is_empty() && w.iter().all(|t| OK.contains(&t.as_str())) && w.iter().any(|t| DONE_TOKENS.contains(&t.as_str()))
}

/// Openings of a clause that gives a reason, not a task: "remove 2, I don't need it anymore", "reopen it, I
/// skipped it", "delete it because it's cancelled".
#[rustfmt::skip]
const REASONS: &[&str] = &[
    ", i ", ", i'", ", it's ", ", its ", ", it is ", ", it was ", ", we ", ", they ", ", that's ", ", since ",
    ", because ", ", as ", ", cause ", ", cos ", " because ", " since i ", ", not needed", ", no longer",
    ", turns out", ", turned out",
];

fn trim_ref(phrase: &str) -> &str {
    let edge = |c: char| c.is_whitespace() || "\"'.,!?;:".contains(c);
    let mut t = phrase.trim_matches(edge);
    let l = fold(t);
    if let Some(i) = REASONS.iter().filter_map(|r| l.find(r)).min().filter(|&i| i > 0 && t.is_char_boundary(i)) {
        t = t[..i].trim_matches(edge);
    }
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
pub(super) fn parse_number_ref(phrase: &str) -> Option<i64> {
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
pub(super) fn parse_number_list(l: &str) -> Option<Vec<i64>> {
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
pub(super) fn osa_distance(a: &str, b: &str) -> usize {
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

/// "all my work tasks", "all errands", "everything tagged old": the tasks with a label of the person's that the
/// phrase names (pending ones, unless reopening or deleting).
fn label_group(l: &str, ctx: &Context, purpose: Purpose) -> Option<Result<Vec<i64>, Outcome>> {
    const PATTERNS: &[&str] = &[
        "all my {} tasks",
        "all the {} tasks",
        "all {} tasks",
        "all my {}",
        "all the {}",
        "all {}",
        "every {} task",
        "everything tagged {}",
        "everything labelled {}",
        "everything labeled {}",
        "all tasks tagged {}",
        "all tasks labelled {}",
        "all tasks labeled {}",
        "everything with the label {}",
        "everything in {}",
        "my {} tasks",
    ];
    for p in PATTERNS {
        for caps in super::text::match_template(p, l) {
            let key = caps[0].trim().trim_start_matches('#').to_string();
            let with: Vec<&TaskRef> =
                ctx.tasks.iter().filter(|t| t.labels.iter().any(|x| crate::tasks::label_key(x) == key)).collect();
            if with.is_empty() {
                continue;
            }
            let keep = |t: &&TaskRef| match purpose {
                Purpose::Reopen => t.completed,
                Purpose::Delete => true,
                _ => !t.completed,
            };
            let ns: Vec<i64> = with.into_iter().filter(keep).map(|t| t.number).collect();
            return Some(if ns.is_empty() {
                Err(Outcome::Info(format!("None of your {key} tasks is left to change.")))
            } else {
                Ok(ns)
            });
        }
    }
    None
}
