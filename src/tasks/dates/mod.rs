//! Due dates from words, in the person's time zone: one parser for every door (REST, the tools, the builtin
//! assistant). (Interim: ISO dates only, until the parser lands.)

use jiff::civil::{Date, Time};
pub use jiff::tz::TimeZone;

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

pub fn parse(text: &str, _now: &jiff::ZonedDateTime) -> Result<DueSpec, DateError> {
    let t = text.trim();
    let (d, time) = t.split_once(' ').map(|(d, t)| (d, Some(t))).unwrap_or((t, None));
    let date: Date = d.parse().map_err(|_| DateError::NotADate(text.to_string()))?;
    let time = time.map(|t| t.parse::<Time>()).transpose().map_err(|_| DateError::NotADate(text.to_string()))?;
    Ok(DueSpec { date, time })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub due: DueSpec,
    pub span: std::ops::Range<usize>,
    pub phrase: String,
}

pub fn extract(_text: &str, _now: &jiff::ZonedDateTime) -> Option<Extracted> {
    None
}

pub fn instant(due: &DueSpec, tz: &TimeZone) -> Option<jiff::Timestamp> {
    let time = due.time?;
    tz.to_ambiguous_zoned_datetime(due.date.to_datetime(time)).compatible().ok().map(|z| z.timestamp())
}

pub fn zone(name: &str) -> Result<(TimeZone, String), String> {
    let unknown = || format!("Unknown time zone {name:?}. Use an IANA name such as \"Europe/London\".");
    let tz = jiff::tz::db().get(name.trim()).map_err(|_| unknown())?;
    let canonical = tz.iana_name().unwrap_or(name.trim()).to_string();
    Ok((tz, canonical))
}

pub fn describe(due: &DueSpec, _now: &jiff::ZonedDateTime) -> String {
    match due.time {
        Some(t) => format!("{} {}", due.date, t.strftime("%H:%M")),
        None => due.date.to_string(),
    }
}
