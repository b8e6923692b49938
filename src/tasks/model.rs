//! What a task is, what a change to one may hold, and the rules every door shares: validation of titles,
//! labels, priorities and due dates, the list query (filters, sorts, paging) and its cursor. The SQL lives in
//! `store`, the operations in `service`; both read these types and neither knows the other's insides.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::ZonedDateTime;
use jiff::civil::{Date, Time};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use super::dates::{self, DueSpec, TimeZone};
use crate::db::Timestamp;

pub const MAX_TITLE: usize = 200;
pub const MAX_DESCRIPTION: usize = 2000;
pub const MAX_LABEL: usize = 40;
pub const MAX_LABELS: usize = 20;
/// The words a due was set from are kept; past this they are not a date anyone typed.
pub const MAX_DUE_WORDS: usize = 100;
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;
/// Activity entries per page, at most: each carries a task twice (before and after).
pub const MAX_ACTIVITY_PAGE: usize = 100;
/// Words of a search beyond this add nothing a person means, and each costs an index lookup.
const MAX_SEARCH_WORDS: usize = 8;

/// How much a task matters. Stored as its rank (0–4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    #[default]
    None,
    Low,
    Medium,
    High,
    Urgent,
}

impl Priority {
    pub const ALL: [Priority; 5] = [Priority::None, Priority::Low, Priority::Medium, Priority::High, Priority::Urgent];

    pub fn rank(self) -> i16 {
        self as i16
    }

    pub fn from_rank(rank: i16) -> Priority {
        Priority::ALL.get(usize::try_from(rank).unwrap_or(0)).copied().unwrap_or_default()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::None => "none",
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    /// The wire names only ("high"); other spellings are the assistant's business.
    pub fn parse(s: &str) -> Result<Priority, TaskError> {
        Priority::ALL.into_iter().find(|p| p.as_str() == s.trim().to_ascii_lowercase()).ok_or_else(|| {
            TaskError::Invalid(format!(
                "{:?} is not a priority: use one of none, low, medium, high, urgent.",
                truncate(s, 40)
            ))
        })
    }
}

/// When a task is due, as its owner sees it: a date and maybe a time in `timezone`, the instant (`at`) when
/// there is a time, and the words it was set from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Due {
    pub date: String,
    pub time: Option<String>,
    pub at: Option<Timestamp>,
    pub timezone: String,
    pub string: String,
}

impl Due {
    /// The calendar value, for arithmetic and wording.
    pub fn spec(&self) -> Option<DueSpec> {
        let date = self.date.parse::<Date>().ok()?;
        let time = match &self.time {
            Some(t) => Some(t.parse::<Time>().ok()?),
            None => None,
        };
        Some(DueSpec { date, time })
    }
}

/// A task as its owner sees it. `number` is what they call it ("task 3"); `id` is stable and global.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Task {
    pub id: String,
    pub number: i64,
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    pub priority: Priority,
    pub due: Option<Due>,
    pub labels: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub completed_at: Option<Timestamp>,
}

impl Task {
    /// The key `due` sorts by: as the `due_sort` column computes it (migration 0010).
    pub fn due_sort(&self) -> String {
        due_sort_key(self.due.as_ref().map(|d| (d.date.as_str(), d.time.as_deref())))
    }
}

/// `'YYYY-MM-DD HH:MM'`, `'YYYY-MM-DD ~'` for a date without a time (after that day's times), `'~'` for none
/// (after every date): what the `due_sort` column holds.
pub fn due_sort_key(due: Option<(&str, Option<&str>)>) -> String {
    match due {
        Some((date, time)) => format!("{date} {}", time.unwrap_or("~")),
        None => "~".into(),
    }
}

/// The person a task operation acts for, with the zone their dates are reckoned in. The id comes from
/// authentication, never from input.
#[derive(Debug, Clone)]
pub struct Owner {
    pub id: String,
    pub zone: TimeZone,
    pub zone_name: String,
    /// The door the request came through, which the activity log records with each change.
    pub door: Door,
    /// Set for a chat turn: its changes are recorded as one batch, which one "undo" reverses.
    pub batch: Option<String>,
}

/// Where a change came from, as the activity log shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Door {
    /// The REST API (and the web app, which uses it).
    Rest,
    Mcp,
    /// `/api/chat`: the assistant, for a person who wrote to it.
    Chat,
    Chatkit,
}

impl Door {
    pub fn as_str(self) -> &'static str {
        match self {
            Door::Rest => "rest",
            Door::Mcp => "mcp",
            Door::Chat => "chat",
            Door::Chatkit => "chatkit",
        }
    }

    pub fn parse(s: &str) -> Door {
        match s {
            "mcp" => Door::Mcp,
            "chat" => Door::Chat,
            "chatkit" => Door::Chatkit,
            _ => Door::Rest,
        }
    }
}

impl Owner {
    /// A zone that no longer exists (a database edited by hand) is read as UTC rather than refusing the person.
    pub fn new(id: impl Into<String>, zone_name: &str, door: Door) -> Owner {
        let (zone, zone_name) = dates::zone(zone_name).unwrap_or_else(|_| (TimeZone::UTC, "UTC".to_string()));
        Owner { id: id.into(), zone, zone_name, door, batch: None }
    }

    pub fn now(&self) -> ZonedDateTime {
        clock_now().to_zoned_datetime(self.zone.clone())
    }
}

/// The instant a person's "now" is read at, in milliseconds since the epoch; `i64::MIN` for the system clock.
/// Only `taskchat eval` sets it: each of its dialogues happens at the time it states.
static FIXED_NOW_MS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(i64::MIN);

/// Fixes the clock that people's dates are reckoned by (`None`: the system clock again).
pub fn set_clock(at: Option<jiff::Timestamp>) {
    let ms = at.map_or(i64::MIN, |t| t.as_millisecond());
    FIXED_NOW_MS.store(ms, std::sync::atomic::Ordering::Relaxed);
}

fn clock_now() -> jiff::Timestamp {
    match FIXED_NOW_MS.load(std::sync::atomic::Ordering::Relaxed) {
        i64::MIN => jiff::Timestamp::now(),
        ms => jiff::Timestamp::from_millisecond(ms).unwrap_or_else(|_| jiff::Timestamp::now()),
    }
}

/// A due as a client gives it: words to parse, or the date and time directly.
#[derive(Debug, Clone, PartialEq)]
pub enum DueInput {
    Words(String),
    Parts { date: String, time: Option<String> },
}

/// A due date resolved for storage: the columns of migration 0010.
#[derive(Debug, Clone, PartialEq)]
pub struct DueColumns {
    pub date: String,
    pub time: Option<String>,
    pub at: Option<Timestamp>,
    pub timezone: String,
    pub string: String,
}

impl DueInput {
    /// Resolves the due against the owner's now and zone: `"tomorrow 5pm"` becomes a date, a time and the
    /// instant they name there.
    pub fn resolve(&self, owner: &Owner, now: &ZonedDateTime) -> Result<DueColumns, TaskError> {
        let (spec, string) = match self {
            DueInput::Words(words) => {
                let words = words.trim();
                refuse_nul(words, "due date")?;
                if words.is_empty() {
                    return Err(TaskError::Invalid(
                        "The due date is empty: give words like \"tomorrow 5pm\", or null to clear it.".into(),
                    ));
                }
                if words.chars().count() > MAX_DUE_WORDS {
                    return Err(TaskError::Invalid(format!("The due date can be at most {MAX_DUE_WORDS} characters.")));
                }
                let spec = dates::parse(words, now).map_err(|e| TaskError::Invalid(e.to_string()))?;
                (spec, words.to_string())
            }
            DueInput::Parts { date, time } => {
                let d = parse_date(date)?;
                let t = time.as_deref().map(parse_time).transpose()?;
                let string = match time {
                    Some(t) => format!("{} {}", date.trim(), t.trim()),
                    None => date.trim().to_string(),
                };
                (DueSpec { date: d, time: t }, string)
            }
        };
        Ok(DueColumns {
            date: spec.date.to_string(),
            time: spec.time.map(|t| t.strftime("%H:%M").to_string()),
            at: dates::instant(&spec, &owner.zone)
                .and_then(|ts| time::OffsetDateTime::from_unix_timestamp(ts.as_second()).ok())
                .map(Timestamp::from_datetime),
            timezone: owner.zone_name.clone(),
            string,
        })
    }
}

/// `YYYY-MM-DD`, a real day.
pub fn parse_date(s: &str) -> Result<Date, TaskError> {
    let s = s.trim();
    let shaped = s.len() == 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-';
    shaped
        .then(|| s.parse::<Date>().ok())
        .flatten()
        .ok_or_else(|| TaskError::Invalid(format!("{:?} is not a date: use YYYY-MM-DD.", truncate(s, 40))))
}

/// `HH:MM` (or `H:MM`), 24-hour.
fn parse_time(s: &str) -> Result<Time, TaskError> {
    let s = s.trim();
    let bad = || TaskError::Invalid(format!("{:?} is not a time of day: use HH:MM (24-hour).", truncate(s, 40)));
    let digits =
        |p: &str, n: std::ops::RangeInclusive<usize>| n.contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit());
    let (h, m) = s.split_once(':').filter(|(h, m)| digits(h, 1..=2) && digits(m, 2..=2)).ok_or_else(bad)?;
    Time::new(h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?, 0, 0).map_err(|_| bad())
}

/// A new task. `labels` may be empty.
#[derive(Debug, Clone, Default)]
pub struct NewTask {
    pub title: String,
    pub description: Option<String>,
    pub due: Option<DueInput>,
    pub priority: Option<Priority>,
    pub labels: Vec<String>,
}

impl NewTask {
    pub fn titled(title: impl Into<String>) -> NewTask {
        NewTask { title: title.into(), ..Default::default() }
    }
}

/// A change to a task; absent fields stay as they are. `Some(None)` clears a description or a due date;
/// `labels` replaces the whole set.
#[derive(Debug, Clone, Default)]
pub struct TaskPatch {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub completed: Option<bool>,
    pub due: Option<Option<DueInput>>,
    pub priority: Option<Priority>,
    pub labels: Option<Vec<String>>,
}

impl TaskPatch {
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.description.is_none()
            && self.completed.is_none()
            && self.due.is_none()
            && self.priority.is_none()
            && self.labels.is_none()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("{0}")]
    Invalid(String),
    /// No task with this number among the caller's: also the answer for someone else's task.
    #[error("There is no task {0}.")]
    NotFound(i64),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Text with a NUL character cannot be stored (PostgreSQL refuses it) and is never meant.
fn refuse_nul(text: &str, what: &str) -> Result<(), TaskError> {
    if text.contains('\0') {
        return Err(TaskError::Invalid(format!("The {what} contains a character that is not allowed.")));
    }
    Ok(())
}

/// Characters that change how text around them is shown without being seen: bidirectional overrides,
/// embeddings and isolates (a title with U+202E reverses the rest of an answer it is quoted in), and
/// zero-width spaces and joiners standing alone. They are dropped; the joiners ZWJ and ZWNJ are kept, as
/// emoji sequences and several scripts need them, but count as nothing visible.
fn is_hidden_control(c: char) -> bool {
    matches!(c, '\u{200B}' | '\u{2060}' | '\u{FEFF}' | '\u{180E}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// Whether a character shows nothing by itself: whitespace, a joiner, a variation selector, another format
/// character.
fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || is_hidden_control(c)
        || matches!(c, '\u{200C}' | '\u{200D}' | '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}')
        || ('\u{FE00}'..='\u{FE0F}').contains(&c)
        || ('\u{E0100}'..='\u{E01EF}').contains(&c)
        || ('\u{E0000}'..='\u{E007F}').contains(&c)
}

/// Text as stored: NFC (so "é" typed as e + accent counts as one character, as it shows), hidden controls
/// dropped, other control characters except line breaks and tabs turned into spaces, trimmed; `None` when
/// nothing visible is left.
fn clean_text(raw: &str, keep_lines: bool) -> Option<String> {
    let text: String = raw
        .nfc()
        .filter(|&c| !is_hidden_control(c))
        .map(|c| if c.is_control() && !(keep_lines && matches!(c, '\n' | '\t')) { ' ' } else { c })
        .collect();
    let text = text.trim();
    (!text.chars().all(is_invisible)).then(|| text.to_string())
}

pub fn clean_title(title: &str) -> Result<String, TaskError> {
    refuse_nul(title, "title")?;
    let Some(title) = clean_text(title, false) else {
        return Err(TaskError::Invalid("A task needs a title.".into()));
    };
    if title.chars().count() > MAX_TITLE {
        return Err(TaskError::Invalid(format!("A title can be at most {MAX_TITLE} characters.")));
    }
    Ok(title)
}

/// Cleaned as a title is, keeping its lines; an empty description is no description.
pub fn clean_description(description: Option<&str>) -> Result<Option<String>, TaskError> {
    let Some(d) = description else { return Ok(None) };
    refuse_nul(d, "description")?;
    let Some(d) = clean_text(d, true) else { return Ok(None) };
    if d.chars().count() > MAX_DESCRIPTION {
        return Err(TaskError::Invalid(format!("A description can be at most {MAX_DESCRIPTION} characters.")));
    }
    Ok(Some(d))
}

/// A label as written, and the key it is found by (case ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelName {
    pub name: String,
    pub key: String,
}

/// One label: NFC, trimmed, a leading `#` dropped ("#work" is the label "work"), 1–40 characters, no control
/// characters.
pub fn clean_label(raw: &str) -> Result<LabelName, TaskError> {
    let name: String = raw.nfc().filter(|&c| !is_hidden_control(c)).collect();
    let name = name.trim().trim_start_matches('#').trim();
    if name.chars().all(is_invisible) {
        return Err(TaskError::Invalid("A label needs at least one character.".into()));
    }
    if name.chars().count() > MAX_LABEL {
        return Err(TaskError::Invalid(format!(
            "The label {:?} is too long: at most {MAX_LABEL} characters.",
            truncate(name, MAX_LABEL)
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(TaskError::Invalid("A label cannot contain control characters.".into()));
    }
    Ok(LabelName { name: name.to_string(), key: label_key(name) })
}

/// How labels are told apart: case-folded, so "Work" and "work" are one label.
pub fn label_key(name: &str) -> String {
    name.nfc().collect::<String>().trim().trim_start_matches('#').trim().to_lowercase()
}

/// A task's labels: each cleaned, repeats (ignoring case) dropped keeping the first, at most 20.
pub fn clean_labels(raw: &[String]) -> Result<Vec<LabelName>, TaskError> {
    let mut out: Vec<LabelName> = Vec::new();
    for r in raw {
        let label = clean_label(r)?;
        if !out.iter().any(|l| l.key == label.key) {
            out.push(label);
        }
    }
    if out.len() > MAX_LABELS {
        return Err(TaskError::Invalid(format!("A task can have at most {MAX_LABELS} labels.")));
    }
    Ok(out)
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

// ----- listing --------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusFilter {
    #[default]
    All,
    Pending,
    Completed,
}

impl StatusFilter {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusFilter::All => "all",
            StatusFilter::Pending => "pending",
            StatusFilter::Completed => "completed",
        }
    }

    pub fn completed(self) -> Option<bool> {
        match self {
            StatusFilter::All => None,
            StatusFilter::Pending => Some(false),
            StatusFilter::Completed => Some(true),
        }
    }
}

/// The order of a list. Each is served by an index (migration 0010), ties broken by number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    /// Number order, oldest first.
    #[default]
    Number,
    /// Soonest due first; timed before all-day on the same day; no due date last.
    Due,
    /// Urgent first, then by due.
    Priority,
    /// Newest first.
    Created,
    /// Most recently changed first.
    Updated,
}

impl Sort {
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Number => "number",
            Sort::Due => "due",
            Sort::Priority => "priority",
            Sort::Created => "created",
            Sort::Updated => "updated",
        }
    }
}

/// Which due dates a list keeps. Days are the owner's, in their zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueFilter {
    /// Due today (whether or not its time has passed).
    Today,
    /// Not done, and due before now: an earlier day, or today at a time already past.
    Overdue,
    /// Due today or in the six days after.
    Week,
    /// Due today or later.
    Upcoming,
    /// No due date.
    None,
    /// Due on a day before this one.
    Before(Date),
    /// Due on a day after this one.
    After(Date),
    /// Due on this day.
    On(Date),
}

impl DueFilter {
    pub fn parse(s: &str) -> Result<DueFilter, TaskError> {
        let s = s.trim();
        let bad = || {
            TaskError::Invalid(format!(
                "{:?} is not a due filter: use today, overdue, week, upcoming, none, on:YYYY-MM-DD, before:YYYY-MM-DD or after:YYYY-MM-DD.",
                truncate(s, 40)
            ))
        };
        Ok(match s.to_ascii_lowercase().as_str() {
            "today" => DueFilter::Today,
            "overdue" => DueFilter::Overdue,
            "week" => DueFilter::Week,
            "upcoming" => DueFilter::Upcoming,
            "none" => DueFilter::None,
            _ => match s.split_once(':') {
                Some((k, d)) if k.eq_ignore_ascii_case("before") => DueFilter::Before(parse_date(d)?),
                Some((k, d)) if k.eq_ignore_ascii_case("after") => DueFilter::After(parse_date(d)?),
                Some((k, d)) if k.eq_ignore_ascii_case("on") => DueFilter::On(parse_date(d)?),
                _ => return Err(bad()),
            },
        })
    }

    pub fn as_string(self) -> String {
        match self {
            DueFilter::Today => "today".into(),
            DueFilter::Overdue => "overdue".into(),
            DueFilter::Week => "week".into(),
            DueFilter::Upcoming => "upcoming".into(),
            DueFilter::None => "none".into(),
            DueFilter::Before(d) => format!("before:{d}"),
            DueFilter::After(d) => format!("after:{d}"),
            DueFilter::On(d) => format!("on:{d}"),
        }
    }
}

/// A list request, as every door asks it.
#[derive(Debug, Clone, Default)]
pub struct TaskQuery {
    pub status: StatusFilter,
    /// Words to search titles and descriptions for; every word must match (as a prefix).
    pub q: Option<String>,
    pub label: Option<String>,
    /// Any of these; empty = any priority.
    pub priority: Vec<Priority>,
    pub due: Option<DueFilter>,
    /// None: `due` when a due filter is given, else `number`.
    pub sort: Option<Sort>,
    /// None: [`DEFAULT_LIMIT`].
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

impl TaskQuery {
    pub fn status(status: StatusFilter) -> TaskQuery {
        TaskQuery { status, ..Default::default() }
    }

    pub fn sort(&self) -> Sort {
        self.sort.unwrap_or(if self.due.is_some() { Sort::Due } else { Sort::Number })
    }

    pub fn limit(&self) -> Result<usize, TaskError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(TaskError::Invalid(format!("limit must be between 1 and {MAX_LIMIT}."))),
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone, Serialize)]
pub struct TaskPage {
    pub tasks: Vec<Task>,
    /// Where the next page starts; None on the last page.
    pub next_cursor: Option<String>,
}

/// The words of a search: letters and digits, lower-cased, at most [`MAX_SEARCH_WORDS`], each at most 40
/// characters. Punctuation separates words, so nothing in a query reaches the search syntax of either
/// database.
pub fn search_words(q: &str) -> Vec<String> {
    let folded: String = q.nfc().collect::<String>().to_lowercase();
    let mut out: Vec<String> = Vec::new();
    for w in folded.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        let w: String = w.chars().take(40).collect();
        if !out.contains(&w) {
            out.push(w);
        }
        if out.len() == MAX_SEARCH_WORDS {
            break;
        }
    }
    out
}

/// Where a page ends, in the terms of its sort: what the next page continues after.
#[derive(Debug, Clone, PartialEq)]
pub enum CursorKey {
    Number(i64),
    Due(String, i64),
    Priority(i16, String, i64),
    Updated(Timestamp, i64),
}

impl CursorKey {
    /// The key of the last task of a page.
    pub fn after(sort: Sort, t: &Task) -> CursorKey {
        match sort {
            Sort::Number | Sort::Created => CursorKey::Number(t.number),
            Sort::Due => CursorKey::Due(t.due_sort(), t.number),
            Sort::Priority => CursorKey::Priority(4 - t.priority.rank(), t.due_sort(), t.number),
            Sort::Updated => CursorKey::Updated(t.updated_at, t.number),
        }
    }

    /// Opaque to clients: the sort's name and the key, as URL-safe base64 of a JSON array.
    pub fn encode(&self, sort: Sort) -> String {
        let parts = match self {
            CursorKey::Number(n) => serde_json::json!([sort.as_str(), n]),
            CursorKey::Due(d, n) => serde_json::json!([sort.as_str(), d, n]),
            CursorKey::Priority(p, d, n) => serde_json::json!([sort.as_str(), p, d, n]),
            CursorKey::Updated(u, n) => serde_json::json!([sort.as_str(), u.to_iso(), n]),
        };
        URL_SAFE_NO_PAD.encode(parts.to_string())
    }

    /// Reads a cursor back; one from another sort (or not from us at all) is refused.
    pub fn decode(cursor: &str, sort: Sort) -> Result<CursorKey, TaskError> {
        let bad = || TaskError::Invalid("The cursor is not valid for this list: start again without it.".into());
        let bytes = URL_SAFE_NO_PAD.decode(cursor.trim()).map_err(|_| bad())?;
        let parts: Vec<serde_json::Value> = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        if parts.first().and_then(|s| s.as_str()) != Some(sort.as_str()) {
            return Err(bad());
        }
        let int = |i: usize| parts.get(i).and_then(serde_json::Value::as_i64).ok_or_else(bad);
        let text = |i: usize| {
            parts
                .get(i)
                .and_then(serde_json::Value::as_str)
                .filter(|s| s.len() <= 32)
                .map(str::to_string)
                .ok_or_else(bad)
        };
        let key = match (sort, parts.len()) {
            (Sort::Number | Sort::Created, 2) => CursorKey::Number(int(1)?),
            (Sort::Due, 3) => CursorKey::Due(text(1)?, int(2)?),
            (Sort::Priority, 4) => CursorKey::Priority(i16::try_from(int(1)?).map_err(|_| bad())?, text(2)?, int(3)?),
            (Sort::Updated, 3) => CursorKey::Updated(Timestamp::parse(&text(1)?).ok_or_else(bad)?, int(2)?),
            _ => return Err(bad()),
        };
        Ok(key)
    }
}

/// A label with how many tasks carry it.
#[derive(Debug, Clone, Serialize, PartialEq, sqlx::FromRow)]
pub struct LabelCount {
    pub name: String,
    /// Tasks carrying it, done or not.
    pub tasks: i64,
    /// Of those, not done.
    pub pending: i64,
}

/// How many tasks a person has, by status: kept as counters, so reading them costs one row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TaskCounts {
    pub pending: i64,
    pub completed: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(clean_title("  buy milk \n").unwrap(), "buy milk");
        assert!(clean_title("   ").is_err());
        assert!(clean_title(&"é".repeat(200)).is_ok());
        assert!(clean_title(&"é".repeat(201)).is_err());
        assert_eq!(clean_description(Some("  ")).unwrap(), None);
    }

    #[test]
    fn text_is_normalized_before_it_is_counted_and_nothing_visible_is_empty() {
        // 150 × e + a combining acute: 150 characters as shown (é), 300 code points before NFC.
        assert_eq!(clean_title(&"e\u{301}".repeat(150)).unwrap(), "é".repeat(150));
        for blank in ["\u{200B}", " \u{200B}\u{FEFF} ", "\u{200D}", "\u{202E}", "\u{2066}\u{2069}", "\u{FE0F}"] {
            assert!(clean_title(blank).is_err(), "{blank:?} has nothing visible");
            assert!(clean_label(blank).is_err(), "{blank:?} as a label");
            assert_eq!(clean_description(Some(blank)).unwrap(), None, "{blank:?} as a description");
        }
        assert_eq!(clean_title("pay \u{202E}tnuocca\u{202C} bill").unwrap(), "pay tnuocca bill");
        assert_eq!(clean_title("a\u{200B}b\u{2067}c\u{2069}").unwrap(), "abc");
        assert_eq!(clean_label("\u{202D}#work").unwrap().name, "work");
        // Joiners inside emoji sequences and scripts that need them are kept.
        assert_eq!(clean_title("family 👨\u{200D}👩\u{200D}👧").unwrap(), "family 👨\u{200D}👩\u{200D}👧");
        assert_eq!(clean_title("می\u{200C}خواهم").unwrap(), "می\u{200C}خواهم");
        // Control characters become spaces in a title; a description keeps its lines.
        assert_eq!(clean_title("buy\nmilk\u{7}").unwrap(), "buy milk");
        assert_eq!(clean_description(Some("one\ntwo\u{1b}")).unwrap().as_deref(), Some("one\ntwo"));
        assert!(clean_description(Some(&"x".repeat(2001))).is_err());
    }

    #[test]
    fn labels_are_cleaned_deduplicated_ignoring_case_and_bounded() {
        let l = clean_labels(&["  Work ".into(), "#errands".into(), "work".into(), "ÉTÉ".into()]).unwrap();
        let names: Vec<&str> = l.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["Work", "errands", "ÉTÉ"]);
        assert_eq!(l[2].key, "été");
        assert!(clean_labels(&["  ".into()]).is_err());
        assert!(clean_labels(&["#".into()]).is_err());
        assert!(clean_labels(&["x".repeat(41)]).is_err());
        assert!(clean_labels(&["x".repeat(40)]).is_ok());
        assert!(clean_labels(&["a\u{7}b".into()]).is_err());
        let many: Vec<String> = (0..21).map(|i| format!("l{i}")).collect();
        assert!(clean_labels(&many).is_err());
        assert!(clean_labels(&many[..20]).is_ok());
        // Repeats do not count against the limit.
        let repeats: Vec<String> = (0..40).map(|i| if i % 2 == 0 { "A".into() } else { "a".into() }).collect();
        assert_eq!(clean_labels(&repeats).unwrap().len(), 1);
    }

    #[test]
    fn priorities_read_their_wire_names_only() {
        assert_eq!(Priority::parse(" High ").unwrap(), Priority::High);
        assert!(Priority::parse("p1").is_err());
        for p in Priority::ALL {
            assert_eq!(Priority::from_rank(p.rank()), p);
        }
    }

    #[test]
    fn due_filters_and_dates_parse_strictly() {
        assert_eq!(DueFilter::parse("Today").unwrap(), DueFilter::Today);
        assert_eq!(DueFilter::parse("before:2026-12-24").unwrap(), DueFilter::Before(jiff::civil::date(2026, 12, 24)));
        assert_eq!(DueFilter::parse("on:2026-12-24").unwrap(), DueFilter::On(jiff::civil::date(2026, 12, 24)));
        assert_eq!(DueFilter::On(jiff::civil::date(2026, 12, 24)).as_string(), "on:2026-12-24");
        assert!(DueFilter::parse("on:2026-02-30").is_err());
        assert!(DueFilter::parse("before:2026-02-30").is_err());
        assert!(DueFilter::parse("soon").is_err());
        assert!(parse_date("2026-1-5").is_err());
        assert!(parse_time("9:30").is_ok());
        assert!(parse_time("24:00").is_err());
        assert!(parse_time("09:60").is_err());
        assert!(parse_time("0930").is_err());
    }

    #[test]
    fn cursors_round_trip_and_refuse_another_sort() {
        let keys = [
            (Sort::Number, CursorKey::Number(7)),
            (Sort::Due, CursorKey::Due("2026-12-24 ~".into(), 3)),
            (Sort::Priority, CursorKey::Priority(0, "~".into(), 9)),
            (Sort::Updated, CursorKey::Updated(Timestamp::parse("2026-12-04T10:00:00.123Z").unwrap(), 2)),
        ];
        for (sort, key) in keys {
            let c = key.encode(sort);
            assert_eq!(CursorKey::decode(&c, sort).unwrap(), key);
            let other = if sort == Sort::Due { Sort::Number } else { Sort::Due };
            assert!(CursorKey::decode(&c, other).is_err());
        }
        assert!(CursorKey::decode("not a cursor", Sort::Number).is_err());
        assert!(CursorKey::decode(&URL_SAFE_NO_PAD.encode(r#"["number","x"]"#), Sort::Number).is_err());
    }

    #[test]
    fn search_words_are_plain_words() {
        assert_eq!(search_words("  Buy \"milk\"* OR NEAR(x) milk "), ["buy", "milk", "or", "near", "x"]);
        assert_eq!(search_words("دودھ خریدنا"), ["دودھ", "خریدنا"]);
        assert!(search_words("*** --").is_empty());
        assert_eq!(search_words(&"w ".repeat(30)).len(), 1);
    }

    #[test]
    fn sort_keys_put_timed_before_all_day_and_none_last() {
        let mut keys = [
            due_sort_key(None),
            due_sort_key(Some(("2026-12-05", None))),
            due_sort_key(Some(("2026-12-05", Some("09:00")))),
            due_sort_key(Some(("2026-12-04", None))),
        ];
        keys.sort();
        assert_eq!(keys, ["2026-12-04 ~", "2026-12-05 09:00", "2026-12-05 ~", "~"]);
    }
}

/// One change to many tasks (`POST /api/tasks/bulk`, the tools' lists of numbers).
#[derive(Debug, Clone)]
pub enum BulkAction {
    Complete,
    Reopen,
    Delete,
    Update(TaskPatch),
}

/// What a bulk change did to one task: the task as it now is (as it was, for a deletion), or why not.
#[derive(Debug, Clone, Serialize)]
pub struct BulkItem {
    pub number: i64,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<Task>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl BulkItem {
    /// A number that names none of the person's tasks.
    pub fn missing(number: i64) -> BulkItem {
        BulkItem { number, ok: false, task: None, error: Some(format!("There is no task {number}.")) }
    }
}

/// One entry of the activity log: a change to one task, with the task before and after it.
#[derive(Debug, Clone, Serialize)]
pub struct Activity {
    pub id: i64,
    /// The request it was part of: a bulk change's entries share it, and undo reverses them together.
    pub batch: String,
    pub door: Door,
    /// created, updated, completed, reopened or deleted.
    pub action: String,
    pub number: i64,
    pub before: Option<Task>,
    pub after: Option<Task>,
    pub created_at: Timestamp,
    /// Whether an undo has reversed it.
    pub undone: bool,
    /// For an undo's own changes, the batch it reversed.
    pub undo_of: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ActivityPage {
    pub entries: Vec<Activity>,
    pub next_cursor: Option<String>,
}

/// What an undo reversed: the changes it made, in order.
#[derive(Debug, Clone)]
pub struct Undone {
    pub batch: String,
    pub changes: Vec<super::store::Change>,
}

impl Undone {
    /// What the undo did to each task, for every door: `restored` (a deleted task is back), `removed` (a
    /// created one is gone), `reverted` (set back as it was), with the task as it now is (as it was, if removed).
    pub fn items(&self) -> impl Iterator<Item = (i64, &'static str, &Task)> {
        self.changes.iter().filter_map(|c| match (&c.before, &c.after) {
            (None, Some(t)) => Some((c.number, "restored", t)),
            (Some(t), None) => Some((c.number, "removed", t)),
            (_, Some(t)) => Some((c.number, "reverted", t)),
            (None, None) => None,
        })
    }

    pub fn to_json(&self) -> serde_json::Value {
        let changes: Vec<serde_json::Value> = self
            .items()
            .map(|(number, what, task)| serde_json::json!({ "number": number, "undone": what, "task": task }))
            .collect();
        serde_json::json!({ "batch": self.batch, "count": changes.len(), "changes": changes })
    }
}

/// Why an undo did nothing.
#[derive(Debug, thiserror::Error)]
pub enum UndoError {
    #[error("There is nothing to undo.")]
    Nothing,
    #[error("There is no such activity entry.")]
    Unknown,
    #[error("That entry is an undo; undo reverses changes, not undos.")]
    NotUndoable,
    #[error("That change has already been undone.")]
    AlreadyUndone,
    #[error("{}", changed_since(.0))]
    ChangedSince(Vec<i64>),
    #[error(transparent)]
    Task(#[from] TaskError),
}

fn changed_since(numbers: &[i64]) -> String {
    let list: Vec<String> = numbers.iter().map(|n| n.to_string()).collect();
    match list.len() {
        1 => format!("Task {} has changed since, so the change was not undone.", list[0]),
        _ => format!("Tasks {} have changed since, so the change was not undone.", list.join(", ")),
    }
}
