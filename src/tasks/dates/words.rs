//! The vocabulary: weekday and month names, number words, span units, and how days are named back.

use jiff::civil::Weekday;

pub(super) const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

pub(super) const WEEKDAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// The month (1–12) a word names: full names and the usual abbreviations.
pub(super) fn month(word: &str) -> Option<i8> {
    Some(match word {
        "january" | "jan" => 1,
        "february" | "feb" => 2,
        "march" | "mar" => 3,
        "april" | "apr" => 4,
        "may" => 5,
        "june" | "jun" => 6,
        "july" | "jul" => 7,
        "august" | "aug" => 8,
        "september" | "sep" | "sept" => 9,
        "october" | "oct" => 10,
        "november" | "nov" => 11,
        "december" | "dec" => 12,
        _ => return None,
    })
}

/// The weekday a word names, and whether the word is also an everyday English word ("sun", "sat", "wed"), which
/// makes it too weak to be taken from the end of a title on its own.
pub(super) fn weekday(word: &str) -> Option<(Weekday, bool)> {
    Some(match word {
        "monday" | "mon" => (Weekday::Monday, false),
        "tuesday" | "tue" | "tues" => (Weekday::Tuesday, false),
        "wednesday" => (Weekday::Wednesday, false),
        "wed" => (Weekday::Wednesday, true),
        "thursday" | "thu" | "thur" | "thurs" => (Weekday::Thursday, false),
        "friday" | "fri" => (Weekday::Friday, false),
        "saturday" => (Weekday::Saturday, false),
        "sat" => (Weekday::Saturday, true),
        "sunday" => (Weekday::Sunday, false),
        "sun" => (Weekday::Sunday, true),
        _ => return None,
    })
}

pub(super) fn is_tomorrow(word: &str) -> bool {
    matches!(word, "tomorrow" | "tmrw" | "tmr" | "tomorow" | "tommorow" | "tommorrow")
}

/// Small counts written as words: "in a week", "in three days".
pub(super) fn count_word(word: &str) -> Option<u64> {
    Some(match word {
        "a" | "an" | "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        "twenty" => 20,
        "thirty" => 30,
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unit {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Unit {
    /// The furthest ahead a span in this unit may reach, and the unit's plural for the message.
    pub fn cap(self) -> (u64, &'static str) {
        match self {
            Unit::Minute => (525_600, "minutes"),
            Unit::Hour => (8760, "hours"),
            Unit::Day => (3650, "days"),
            Unit::Week => (520, "weeks"),
            Unit::Month => (120, "months"),
            Unit::Year => (10, "years"),
        }
    }
}

pub(super) fn unit(word: &str) -> Option<Unit> {
    Some(match word {
        "minute" | "minutes" | "min" | "mins" => Unit::Minute,
        "hour" | "hours" | "hr" | "hrs" => Unit::Hour,
        "day" | "days" => Unit::Day,
        "week" | "weeks" | "wk" | "wks" => Unit::Week,
        "month" | "months" => Unit::Month,
        "year" | "years" | "yr" | "yrs" => Unit::Year,
        _ => return None,
    })
}

/// A part of the day and the hour it stands for.
pub(super) fn part_of_day(word: &str) -> Option<i8> {
    Some(match word {
        "morning" => 9,
        "afternoon" => 15,
        "evening" => 19,
        "night" => 20,
        _ => return None,
    })
}

pub(super) fn is_ordinal_suffix(word: &str) -> bool {
    matches!(word, "st" | "nd" | "rd" | "th")
}

/// 1st, 2nd, 3rd, 4th, 11th, 21st, …
pub(super) fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}
