//! Calendar reckoning: weekdays from today, weekends, month-and-day with the year rolled forward.

use jiff::Span;
use jiff::civil::{Date, Weekday};

use super::grammar::{Fail, impossible};
use super::words::{MONTHS, ordinal};

/// The next `wd` counting today.
pub(super) fn plain(today: Date, wd: Weekday) -> Date {
    let ahead = (wd.to_monday_zero_offset() - today.weekday().to_monday_zero_offset()).rem_euclid(7);
    today.checked_add(Span::new().days(ahead)).unwrap_or(today)
}

/// "next friday": a week later when that day is still ahead in this Monday–Sunday week.
pub(super) fn next_weekday(today: Date, wd: Weekday) -> Date {
    let ahead = (wd.to_monday_zero_offset() - today.weekday().to_monday_zero_offset()).rem_euclid(7);
    let ahead = if today.weekday().to_monday_zero_offset() + ahead <= 6 { ahead + 7 } else { ahead };
    today.checked_add(Span::new().days(ahead)).unwrap_or(today)
}

pub(super) fn weekend(today: Date) -> Date {
    if today.weekday() == Weekday::Sunday { today } else { plain(today, Weekday::Saturday) }
}

fn max_days(month: i8) -> u64 {
    match month {
        2 => 29,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Month and day, in the given year or else the first year (this one or later) where it is not yet past.
pub(super) fn resolve_md(today: Date, month: i8, day: u64, year: Option<i16>) -> Result<Date, Fail> {
    let name = MONTHS[(month - 1) as usize];
    if day == 0 {
        return impossible("There is no day 0 in a month.".to_string());
    }
    let no_such = |y: i16| Fail::Impossible(format!("{name} {y} has no {}.", ordinal(day)));
    if let Some(y) = year {
        if day > 31 {
            return Err(no_such(y));
        }
        return Date::new(y, month, day as i8).map_err(|_| no_such(y));
    }
    if day > max_days(month) {
        return Err(no_such(today.year()));
    }
    let y0 = today.year();
    for y in y0..=y0.saturating_add(8) {
        if let Ok(d) = Date::new(y, month, day as i8)
            && d >= today
        {
            return Ok(d);
        }
    }
    Err(no_such(y0))
}

/// "the 15th": this month if today or later, else the next month that has it.
pub(super) fn next_day_of_month(today: Date, day: u64) -> Result<Date, Fail> {
    if day == 0 || day > 31 {
        return impossible(format!("No month has a {}.", ordinal(day)));
    }
    let first = today.first_of_month();
    for k in 0..=12 {
        let Ok(m) = first.checked_add(Span::new().months(k)) else { break };
        if let Ok(d) = Date::new(m.year(), m.month(), day as i8)
            && d >= today
        {
            return Ok(d);
        }
    }
    Err(Fail::Impossible("That date is out of range.".to_string()))
}
