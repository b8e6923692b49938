//! Other languages: a message in Spanish or Urdu (Urdu script or Roman Urdu) is put into the English the
//! assistant reads, with the person's own words (titles) kept as written; the answer is then put back into
//! their language (`localize`).
//!
//! Each language is a table in a file of its own (`es`, `ur`, `ur_latn`), so another is added by writing one
//! more table, without touching the logic:
//! - `phrases`: whole-message templates, tried in order, first fit wins. In a pattern `{}` is a reference or a
//!   date (its words are translated with `words`), `{t}` is a title (kept, except for date words at its end,
//!   translated with `dates`). The English side names the slots in order with `{}`, or by position with `{1}`.
//! - `words` and `dates`: phrase → English replacements on whole words, longest first; `{n}` stands for a
//!   number ("a las {n} de la tarde" → "at {n}pm").
//! - `replies`: the assistant's English answers (templates with `{}`) in the language.

mod es;
mod ur;
mod ur_latn;

use super::text::{fold, match_template};

pub(super) struct Language {
    pub phrases: &'static [(&'static str, &'static str)],
    pub words: &'static [(&'static str, &'static str)],
    pub dates: &'static [(&'static str, &'static str)],
    pub replies: &'static [(&'static str, &'static str)],
}

const LANGUAGES: &[&Language] = &[&es::SPANISH, &ur::URDU, &ur_latn::ROMAN_URDU];

/// A phrase made ready once: the template as `match_template` reads it, which slots are titles, and its
/// literal words, all of which a message must contain for the phrase to fit (most messages are English, and
/// this turns away nearly every phrase with a few lookups instead of a match).
struct Phrase {
    matcher: String,
    titles: Vec<bool>,
    words: Vec<String>,
    english: &'static str,
}

fn word_set(s: &str) -> std::collections::HashSet<String> {
    fold(s).split(|c: char| !c.is_alphanumeric() && c != '\'').filter(|w| !w.is_empty()).map(str::to_string).collect()
}

static COMPILED: std::sync::LazyLock<Vec<(&'static Language, Vec<Phrase>)>> = std::sync::LazyLock::new(|| {
    LANGUAGES
        .iter()
        .map(|lang| {
            let phrases = lang
                .phrases
                .iter()
                .map(|(pattern, english)| Phrase {
                    matcher: pattern.replace("{t}", "{}"),
                    titles: slot_kinds(pattern),
                    words: word_set(&pattern.replace("{t}", " ").replace("{}", " ")).into_iter().collect(),
                    english,
                })
                .collect();
            (*lang, phrases)
        })
        .collect()
});

/// The message in English and the language it was in, when it fits one of a language's phrases.
pub(super) fn to_english(message: &str) -> Option<(String, &'static Language)> {
    let text = plain(message);
    let present = word_set(&text);
    for (lang, phrases) in COMPILED.iter() {
        for p in phrases.iter().filter(|p| p.words.iter().all(|w| present.contains(w))) {
            let Some(caps) = match_template(&p.matcher, &text).into_iter().next() else { continue };
            let parts: Vec<String> = caps
                .iter()
                .zip(&p.titles)
                .map(|(cap, title)| if *title { translate(cap, lang.dates) } else { translate(cap, lang.words) })
                .collect();
            return Some((fill(p.english, &parts), lang));
        }
    }
    None
}

/// Puts an English answer into `lang` by its reply templates; an answer no template fits stays English.
pub(super) fn localize(answer: &str, lang: &Language) -> String {
    answer.lines().map(|line| localize_line(line, lang)).collect::<Vec<_>>().join("\n")
}

fn localize_line(line: &str, lang: &Language) -> String {
    for (english, local) in lang.replies {
        // Templates match on lower case, as the phrases do.
        if let Some(caps) = match_template(&fold(english), line).into_iter().next() {
            let parts: Vec<String> = caps.iter().map(|c| (*c).to_string()).collect();
            return fill(local, &parts);
        }
        if !english.contains("{}") && fold(line) == fold(english) {
            return (*local).to_string();
        }
    }
    line.to_string()
}

/// The language of a message, if it is one of the tables' (for wording the answer).
pub(super) fn language_of(message: &str) -> Option<&'static Language> {
    to_english(message).map(|(_, l)| l)
}

/// Western digits for Urdu and Arabic ones, the Urdu comma and question mark as spaces, and no opening
/// Spanish marks or closing punctuation.
fn plain(message: &str) -> String {
    let mapped: String = message
        .chars()
        .map(|c| match c {
            '۰'..='۹' => char::from(b'0' + (c as u32 - '۰' as u32) as u8),
            '٠'..='٩' => char::from(b'0' + (c as u32 - '٠' as u32) as u8),
            '،' => ',',
            '¿' | '¡' => ' ',
            _ => c,
        })
        .collect();
    mapped.trim().trim_end_matches(['?', '!', '.', '؟', '۔']).trim().to_string()
}

/// For each slot of a pattern, whether it holds a title (`{t}`).
fn slot_kinds(pattern: &str) -> Vec<bool> {
    let mut out = Vec::new();
    let mut rest = pattern;
    while let Some(i) = rest.find('{') {
        if rest[i..].starts_with("{t}") {
            out.push(true);
            rest = &rest[i + 3..];
        } else if rest[i..].starts_with("{}") {
            out.push(false);
            rest = &rest[i + 2..];
        } else {
            rest = &rest[i + 1..];
        }
    }
    out
}

/// The English template with its slots filled: `{}` in order, or `{1}`, `{2}` by position.
fn fill(template: &str, parts: &[String]) -> String {
    let mut out = template.to_string();
    for (i, p) in parts.iter().enumerate() {
        out = out.replace(&format!("{{{}}}", i + 1), p);
    }
    let mut next = parts.iter();
    while let Some(i) = out.find("{}") {
        let p = next.next().map_or("", String::as_str).to_string();
        out.replace_range(i..i + 2, &p);
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Replaces whole-word phrases of `table` (longest first), `{n}` matching a number ("5", "10:30").
fn translate(text: &str, table: &[(&str, &str)]) -> String {
    let mut rules: Vec<&(&str, &str)> = table.iter().collect();
    rules.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
    let mut words: Vec<String> = text.split_whitespace().map(str::to_string).collect();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    'outer: while i < words.len() {
        for (from, to) in &rules {
            let pat: Vec<&str> = from.split_whitespace().collect();
            if i + pat.len() > words.len() {
                continue;
            }
            let mut number = None;
            let fits = pat.iter().zip(&words[i..]).all(|(p, w)| {
                let w = fold(w.trim_matches([',', '.', ';']));
                if *p == "{n}" {
                    let ok = !w.is_empty() && w.chars().all(|c| c.is_ascii_digit() || c == ':');
                    if ok {
                        number = Some(w);
                    }
                    ok
                } else {
                    w == *p
                }
            });
            if fits {
                let to = number.map_or_else(|| (*to).to_string(), |n| to.replace("{n}", &n));
                // "jana, parson" → "jana the day after tomorrow": the comma only set the date apart.
                if let Some(last) = out.last_mut() {
                    let kept = last.trim_end_matches([',', '،']).len();
                    last.truncate(kept);
                }
                if !to.is_empty() {
                    out.push(to);
                }
                i += pat.len();
                continue 'outer;
            }
        }
        out.push(std::mem::take(&mut words[i]));
        i += 1;
    }
    out.join(" ").trim_matches([',', ' ']).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn english(s: &str) -> String {
        to_english(s).map(|(e, _)| e).unwrap_or_else(|| format!("(no match: {s})"))
    }

    #[test]
    fn messages_are_read_in_english_with_titles_kept() {
        for (said, meant) in [
            ("añade comprar pan para mañana", "add comprar pan tomorrow"),
            ("agrega llamar al dentista el viernes a las 3 de la tarde", "add llamar al dentista friday at 3pm"),
            ("marca la tarea 2 como completada", "complete task 2"),
            ("borra la 2 y la 4", "delete 2 and 4"),
            ("cambia el nombre de la 1 a 'llamar a la abuela'", "rename 1 to 'llamar a la abuela'"),
            ("ponle prioridad alta a la 2", "set the priority of 2 to high"),
            ("¿qué tengo para hoy?", "what's due today"),
            ("doodh khareedna add karo", "add doodh khareedna"),
            ("task 2 mukammal karo", "complete task 2"),
            (
                "naya task: dentist ke paas jana, parson shaam 5 baje",
                "add dentist ke paas jana the day after tomorrow 5pm",
            ),
            ("task 2 aur 4 delete karo", "delete task 2 and 4"),
            ("کام نمبر ۳ حذف کر دیں", "delete task 3"),
            ("نیا کام: ڈاکٹر کے پاس جانا، پرسوں شام 5 بجے", "add ڈاکٹر کے پاس جانا the day after tomorrow 5pm"),
        ] {
            assert_eq!(english(said), meant, "{said}");
        }
        assert!(to_english("add milk").is_none(), "English is read as it is");
    }

    #[test]
    fn answers_are_put_back_into_the_language() {
        let (_, es) = to_english("añade pan").unwrap();
        assert_eq!(localize("Added task 2: comprar pan.", es), "Añadí la tarea 2: comprar pan.");
        let (_, ur) = to_english("کام نمبر 2 مکمل کر دیں").unwrap();
        assert!(localize("Done: task 2 (بل جمع کرانا) is complete.", ur).contains("مکمل"));
    }
}
