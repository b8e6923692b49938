//! Due dates from words, in the person's time zone: one parser for every door (REST, the tools, the builtin
//! assistant). `parse` reads a whole phrase ("tomorrow 5pm", "next friday", "dec 24", "in 2 weeks"),
//! `extract` finds such a phrase at the end of a task title, `describe` names a due date back.
//!
//! The words are reckoned in the zone and civil date of `now`. Text is split into tokens (`lexer`), read by a
//! small grammar with bounded look-ahead (`grammar`) over a fixed vocabulary (`words`).

mod calendar;
mod clock;
mod describe;
mod grammar;
mod lexer;
mod words;

#[cfg(test)]
mod tests;

use jiff::civil::{Date, Time};
pub use jiff::tz::TimeZone;

pub use describe::describe;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueSpec {
    pub date: Date,
    pub time: Option<Time>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("{0:?} is not a date I understand.")]
    NotADate(String),
    #[error("{0}")]
    Impossible(String),
}

/// Reads a whole due-date phrase. Past dates are allowed ("yesterday"); impossible ones ("feb 30", "25:00") are
/// `Impossible` with a message for the person; anything else is `NotADate`.
pub fn parse(text: &str, now: &jiff::ZonedDateTime) -> Result<DueSpec, DateError> {
    let toks = lexer::tokenize(text);
    match grammar::phrase(text, &toks, now) {
        Ok(f) => Ok(DueSpec { date: f.date, time: f.time }),
        Err(grammar::Fail::NotADate) => Err(DateError::NotADate(text.to_string())),
        Err(grammar::Fail::Impossible(msg)) => Err(DateError::Impossible(msg)),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub due: DueSpec,
    pub span: std::ops::Range<usize>,
    pub phrase: String,
}

/// How many words from the end of a title a date phrase may start ("due on the 24th of december 2027 at 5pm").
const MAX_PHRASE_WORDS: usize = 12;

/// Finds the longest run of words at the end of a task title that reads as a due date ("buy milk tomorrow",
/// "call mom next friday at 5pm", "submit report by dec 24"). `span` is its byte range in `text`, trailing
/// punctuation included, so the caller can cut it out. Never the whole title: a title that is only a date gives
/// `None`. Bare numbers, month names without a day, and the words "sun", "sat", "wed", "tod" alone are not
/// taken.
pub fn extract(text: &str, now: &jiff::ZonedDateTime) -> Option<Extracted> {
    let toks = lexer::tokenize(text);
    if toks.is_empty() || grammar::phrase(text, &toks, now).is_ok() {
        return None;
    }
    let starts: Vec<usize> = (1..toks.len()).filter(|&k| toks[k].space_before).collect();
    let skip = starts.len().saturating_sub(MAX_PHRASE_WORDS);
    for &k in &starts[skip..] {
        let Ok(found) = grammar::phrase(text, &toks[k..], now) else { continue };
        if found.weak {
            continue;
        }
        let span = toks[k].start..toks[toks.len() - 1].end;
        if text[..span.start].trim().is_empty() {
            return None;
        }
        let phrase = text[span.clone()].to_string();
        return Some(Extracted { due: DueSpec { date: found.date, time: found.time }, span, phrase });
    }
    None
}

/// The instant a due date with a time names in `tz`; a time in a gap is read past it, one in a fold the earlier.
pub fn instant(due: &DueSpec, tz: &TimeZone) -> Option<jiff::Timestamp> {
    let time = due.time?;
    tz.to_ambiguous_zoned_datetime(due.date.to_datetime(time)).compatible().ok().map(|z| z.timestamp())
}

/// A small count written as a word or digits the way the parser reads them ("a", "three", "12").
pub fn count_word(word: &str) -> Option<u64> {
    words::count_word(word).or_else(|| word.parse().ok())
}

pub fn zone(name: &str) -> Result<(TimeZone, String), String> {
    let unknown = || format!("Unknown time zone {name:?}. Use an IANA name such as \"Europe/London\".");
    let tz = jiff::tz::db().get(name.trim()).map_err(|_| unknown())?;
    let canonical = tz.iana_name().unwrap_or(name.trim()).to_string();
    Ok((tz, canonical))
}
