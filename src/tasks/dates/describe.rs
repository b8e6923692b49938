//! Names a due date back to the person, relative to their today: "today 17:00", "Friday", "Thu 24 Dec 2027".

use jiff::ZonedDateTime;
use jiff::{Span, civil::Date};

use super::DueSpec;
use super::words::{MONTHS, WEEKDAYS};

pub fn describe(due: &DueSpec, now: &ZonedDateTime) -> String {
    let today = now.date();
    let day = |k: i64| today.checked_add(Span::new().days(k)).ok();
    let d = due.date;
    let weekday = WEEKDAYS[d.weekday().to_monday_zero_offset() as usize];
    let name = if d == today {
        "today".to_string()
    } else if day(1) == Some(d) {
        "tomorrow".to_string()
    } else if day(-1) == Some(d) {
        "yesterday".to_string()
    } else if (2..=6).any(|k| day(k) == Some(d)) {
        weekday.to_string()
    } else {
        short(d, today)
    };
    match due.time {
        Some(t) => format!("{name} {}", t.strftime("%H:%M")),
        None => name,
    }
}

/// "Thu 24 Dec", with the year when it is not this one.
fn short(d: Date, today: Date) -> String {
    let weekday = &WEEKDAYS[d.weekday().to_monday_zero_offset() as usize][..3];
    let month = &MONTHS[(d.month() - 1) as usize][..3];
    let mut s = format!("{weekday} {} {month}", d.day());
    if d.year() != today.year() {
        s.push_str(&format!(" {}", d.year()));
    }
    s
}
