//! The grammar over tokens: `[prefix…] date [connector] [time…]`, `[prefix…] time [connector] [date]`, or a
//! span from now ("in 2 hours"). Every rule looks a fixed few tokens ahead and backs up at most to where it
//! started, so a phrase is read in linear time.

use jiff::civil::{Date, Time, Weekday, time};
use jiff::{Span, ZonedDateTime};

use super::calendar::{next_day_of_month, next_weekday, plain, resolve_md, weekend};
use super::clock::TimeEl;
use super::lexer::{Kind, Tok, is_trailing_punct};
use super::words::{self, Unit};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Fail {
    NotADate,
    Impossible(String),
}

type R<T> = Result<Option<T>, Fail>;

/// What a phrase means, and whether it rests only on a word that is usually not a date ("sun", "tod", "15th",
/// "5h"), which `extract` then refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Found {
    pub date: Date,
    pub time: Option<Time>,
    pub weak: bool,
}

/// A date element. `time` is a default from the words ("tonight", "this evening") that a clock time may refine;
/// `fixed` marks a date that already carries its exact time ("in 2 hours", an ISO date-time).
#[derive(Debug, Clone, Copy)]
struct DateEl {
    date: Date,
    time: Option<Time>,
    fixed: bool,
    weak: bool,
}

impl DateEl {
    fn day(date: Date) -> DateEl {
        DateEl { date, time: None, fixed: false, weak: false }
    }
}

pub(super) fn impossible<T>(msg: String) -> Result<T, Fail> {
    Err(Fail::Impossible(msg))
}

pub(super) fn too_far(_: jiff::Error) -> Fail {
    Fail::Impossible("That date is out of range.".to_string())
}

pub(super) fn phrase(src: &str, toks: &[Tok], now: &ZonedDateTime) -> Result<Found, Fail> {
    let mut n = toks.len();
    while n > 0 && is_trailing_punct(&toks[n - 1]) {
        n -= 1;
    }
    let mut p = P { src, t: &toks[..n], i: 0, now, today: now.date() };
    let mut prefixed = false;
    let mut at = false;
    while let Some(w) = p.text(0) {
        match w {
            "on" | "by" | "due" | "before" | "for" | "until" | "till" => at = false,
            "at" | "@" => at = true,
            // "by the end of the month"
            "the" if p.text(1) == Some("end") => {}
            _ => break,
        }
        p.i += 1;
        prefixed = true;
    }
    if p.end() {
        return Err(Fail::NotADate);
    }
    let start = p.i;
    if let Some(d) = p.date()? {
        let (time, weak) = p.times_after(d, at)?;
        p.finish()?;
        return Ok(Found { date: d.date, time, weak: weak && !prefixed });
    }
    p.i = start;
    let Some(t) = p.time(at)? else { return Err(Fail::NotADate) };
    if p.end() {
        let date = if t.time > now.time() { p.today } else { p.today.tomorrow().map_err(too_far)? };
        return Ok(Found { date, time: Some(t.time), weak: t.weak && !prefixed });
    }
    p.connector();
    let Some(d) = p.date()? else { return Err(Fail::NotADate) };
    p.finish()?;
    if d.fixed {
        return Err(Fail::NotADate);
    }
    Ok(Found { date: d.date, time: Some(refine(t, d.time)), weak: false })
}

/// A clock time written before or after a part of the day is read in its light.
fn refine(t: TimeEl, soft: Option<Time>) -> Time {
    match soft {
        Some(s) if !t.part && t.can_pm && s.hour() >= 12 => time(t.time.hour() + 12, t.time.minute(), 0, 0),
        _ => t.time,
    }
}

pub(super) struct P<'a> {
    pub src: &'a str,
    pub t: &'a [Tok],
    pub i: usize,
    pub now: &'a ZonedDateTime,
    pub today: Date,
}

impl<'a> P<'a> {
    pub(super) fn tok(&self, k: usize) -> Option<&'a Tok> {
        self.t.get(self.i + k)
    }

    pub(super) fn text(&self, k: usize) -> Option<&'a str> {
        self.tok(k).map(|t| t.text.as_str())
    }

    pub(super) fn word(&self, k: usize) -> Option<&'a str> {
        self.tok(k).filter(|t| t.kind == Kind::Word).map(|t| t.text.as_str())
    }

    pub(super) fn num(&self, k: usize) -> Option<&'a Tok> {
        self.tok(k).filter(|t| t.kind == Kind::Num)
    }

    /// Token `k` is the given punctuation or word, written right after the token before it.
    pub(super) fn glued(&self, k: usize, text: &str) -> bool {
        self.tok(k).is_some_and(|t| !t.space_before && t.is(text))
    }

    pub(super) fn glued_num(&self, k: usize) -> Option<&'a Tok> {
        self.num(k).filter(|t| !t.space_before)
    }

    pub(super) fn eat(&mut self, text: &str) -> bool {
        let hit = self.text(0) == Some(text);
        if hit {
            self.i += 1;
        }
        hit
    }

    fn end(&self) -> bool {
        self.i >= self.t.len()
    }

    fn finish(&self) -> Result<(), Fail> {
        if self.end() { Ok(()) } else { Err(Fail::NotADate) }
    }

    /// Words between a date and a time: "at", "@", ",", "on", "by". Returns whether "at" was among them.
    fn connector(&mut self) -> bool {
        let mut at = false;
        for _ in 0..2 {
            match self.text(0) {
                Some("at" | "@") => at = true,
                Some("," | "on" | "by" | "-") => {}
                _ => break,
            }
            self.i += 1;
        }
        at
    }

    pub(super) fn source(&self, from: usize) -> &'a str {
        let a = self.t[from].start;
        let b = self.t[self.i.saturating_sub(1).max(from)].end;
        &self.src[a..b]
    }

    /// After a date: up to a part of the day and a clock time, in either order ("tomorrow evening at 7").
    fn times_after(&mut self, d: DateEl, at: bool) -> Result<(Option<Time>, bool), Fail> {
        let mut soft = d.time;
        let mut weak = d.weak;
        let mut hard: Option<TimeEl> = None;
        let mut at = at;
        for _ in 0..2 {
            if self.end() {
                break;
            }
            if d.fixed {
                return Err(Fail::NotADate);
            }
            at |= self.connector();
            let Some(t) = self.time(at)? else { return Err(Fail::NotADate) };
            weak = false;
            if t.part && hard.is_none() {
                soft = Some(t.time);
            } else if hard.is_none() {
                hard = Some(t);
            } else {
                return Err(Fail::NotADate);
            }
            at = false;
        }
        let time = match hard {
            Some(t) => Some(refine(t, soft)),
            None => soft,
        };
        Ok((time, weak))
    }

    // ----- dates -----

    fn date(&mut self) -> R<DateEl> {
        let save = self.i;
        let r = self.date_inner();
        if !matches!(r, Ok(Some(_))) {
            self.i = save;
        }
        r
    }

    fn date_inner(&mut self) -> R<DateEl> {
        let Some(tok) = self.tok(0) else { return Ok(None) };
        match tok.kind {
            Kind::Num => self.numeric_date(),
            Kind::Word => self.word_date(),
            Kind::Punct => Ok(None),
        }
    }

    fn add_days(&self, n: i64) -> Result<Date, Fail> {
        self.today.checked_add(Span::new().days(n)).map_err(too_far)
    }

    fn word_date(&mut self) -> R<DateEl> {
        let w = self.word(0).unwrap_or_default();
        let today = self.today;
        let at_time = |d: Date, h: i8| Ok(Some(DateEl { time: Some(time(h, 0, 0, 0)), ..DateEl::day(d) }));
        if words::is_tomorrow(w) {
            self.i += 1;
            return Ok(Some(DateEl::day(self.add_days(1)?)));
        }
        if let Some((wd, weak)) = words::weekday(w) {
            self.i += 1;
            return Ok(Some(DateEl { weak, ..DateEl::day(plain(today, wd)) }));
        }
        if let Some(m) = words::month(w) {
            self.i += 1;
            return self.after_month(m);
        }
        if words::count_word(w).is_some() && w != "in" {
            return self.span_from_now(false);
        }
        let d = match w {
            "today" => today,
            "tod" => {
                self.i += 1;
                return Ok(Some(DateEl { weak: true, ..DateEl::day(today) }));
            }
            "tonight" => {
                self.i += 1;
                return at_time(today, 20);
            }
            "yesterday" => today.yesterday().map_err(too_far)?,
            "eow" => plain(today, Weekday::Friday),
            "eom" => today.last_of_month(),
            "eoy" => today.last_of_year(),
            "weekend" => weekend(today),
            "in" => return self.span_from_now(true),
            "the" => {
                self.i += 1;
                if self.word(0) == Some("day") {
                    return self.day_after_tomorrow();
                }
                let Some(n) = self.num(0) else { return Ok(None) };
                if !self.glued(1, "st") && !self.glued(1, "nd") && !self.glued(1, "rd") && !self.glued(1, "th") {
                    return Ok(None);
                }
                return self.day_first(n.num, false, true);
            }
            "day" => return self.day_after_tomorrow(),
            "this" => {
                let next = self.word(1).unwrap_or_default();
                self.i += 2;
                if let Some((wd, _)) = words::weekday(next) {
                    return Ok(Some(DateEl::day(plain(today, wd))));
                }
                if let Some(h) = words::part_of_day(next) {
                    return at_time(today, h);
                }
                match next {
                    "weekend" => weekend(today),
                    _ => return Ok(None),
                }
            }
            "next" => {
                let next = self.word(1).unwrap_or_default();
                self.i += 2;
                let monday_next = self.add_days(7 - i64::from(today.weekday().to_monday_zero_offset()))?;
                if let Some((wd, _)) = words::weekday(next) {
                    return Ok(Some(DateEl::day(next_weekday(today, wd))));
                }
                match next {
                    "week" => monday_next,
                    "weekend" => monday_next.checked_add(Span::new().days(5)).map_err(too_far)?,
                    "month" => today.first_of_month().checked_add(Span::new().months(1)).map_err(too_far)?,
                    "year" => Date::new(today.year().saturating_add(1), 1, 1).map_err(too_far)?,
                    _ => return Ok(None),
                }
            }
            "end" => {
                if self.word(1) != Some("of") {
                    return Ok(None);
                }
                self.i += 2;
                if self.word(0) == Some("the") || self.word(0) == Some("this") {
                    self.i += 1;
                }
                match self.word(0) {
                    Some("week") => plain(today, Weekday::Friday),
                    Some("month") => today.last_of_month(),
                    Some("year") => today.last_of_year(),
                    _ => return Ok(None),
                }
            }
            _ => return Ok(None),
        };
        self.i += 1;
        Ok(Some(DateEl::day(d)))
    }

    fn day_after_tomorrow(&mut self) -> R<DateEl> {
        if self.word(0) == Some("day") && self.word(1) == Some("after") && self.word(2).is_some_and(words::is_tomorrow)
        {
            self.i += 3;
            return Ok(Some(DateEl::day(self.add_days(2)?)));
        }
        Ok(None)
    }

    /// "in 3 days", "in an hour" (`with_in`), or "3 days from now", "a week from today".
    fn span_from_now(&mut self, with_in: bool) -> R<DateEl> {
        if with_in {
            self.i += 1;
        }
        let n = match self.tok(0) {
            Some(t) if t.kind == Kind::Num => t.num,
            Some(t) => match words::count_word(&t.text) {
                Some(n) => n,
                None => return Ok(None),
            },
            None => return Ok(None),
        };
        let Some(unit) = self.word(1).and_then(words::unit) else { return Ok(None) };
        self.i += 2;
        if !with_in {
            if self.word(0) != Some("from") || !matches!(self.word(1), Some("now" | "today")) {
                return Ok(None);
            }
            self.i += 2;
        }
        let (cap, plural) = unit.cap();
        if n > cap {
            return impossible(format!("That is too far ahead: at most {cap} {plural}."));
        }
        let n = n as i64;
        let d = match unit {
            Unit::Minute | Unit::Hour => {
                let span = if unit == Unit::Hour { Span::new().hours(n) } else { Span::new().minutes(n) };
                let z = self.now.checked_add(span).map_err(too_far)?;
                let t = time(z.hour(), z.minute(), 0, 0);
                return Ok(Some(DateEl { date: z.date(), time: Some(t), fixed: true, weak: false }));
            }
            Unit::Day => self.today.checked_add(Span::new().days(n)),
            Unit::Week => self.today.checked_add(Span::new().weeks(n)),
            Unit::Month => self.today.checked_add(Span::new().months(n)),
            Unit::Year => self.today.checked_add(Span::new().years(n)),
        };
        Ok(Some(DateEl::day(d.map_err(too_far)?)))
    }

    fn numeric_date(&mut self) -> R<DateEl> {
        let n = self.tok(0).expect("a number");
        if n.digits() == 4 && self.glued(1, "-") {
            return self.iso();
        }
        if n.digits() <= 2 && self.glued(1, "/") {
            return self.slash();
        }
        if self.word(1).and_then(words::unit).is_some() {
            return self.span_from_now(false);
        }
        let ordinal = ["st", "nd", "rd", "th"].iter().any(|s| self.glued(1, s));
        self.day_first(n.num, !ordinal, false)
    }

    /// A day number, then an optional ordinal suffix, "of", month and year; without a month, the next such day of
    /// any month (only when written as an ordinal: `plain_number` forbids it).
    fn day_first(&mut self, day: u64, plain_number: bool, the: bool) -> R<DateEl> {
        self.i += 1;
        let ordinal_written = self.word(0).is_some_and(words::is_ordinal_suffix) && !self.t[self.i].space_before;
        if ordinal_written {
            self.i += 1;
        }
        let had_of = self.word(0) == Some("of");
        if had_of {
            self.i += 1;
        }
        if let Some(m) = self.word(0).and_then(words::month) {
            self.i += 1;
            let year = self.year();
            return Ok(Some(DateEl::day(resolve_md(self.today, m, day, year)?)));
        }
        if had_of || plain_number || !ordinal_written {
            return Ok(None);
        }
        Ok(Some(DateEl { weak: !the, ..DateEl::day(next_day_of_month(self.today, day)?) }))
    }

    /// After a month name: day [suffix] [,] [year].
    fn after_month(&mut self, m: i8) -> R<DateEl> {
        if self.glued(0, ".") {
            self.i += 1;
        }
        let Some(d) = self.num(0) else { return Ok(None) };
        if d.digits() > 2 || self.glued(1, ":") || self.glued(1, ".") {
            return Ok(None);
        }
        self.i += 1;
        if self.word(0).is_some_and(words::is_ordinal_suffix) && !self.t[self.i].space_before {
            self.i += 1;
        }
        if matches!(self.word(0), Some("am" | "pm" | "h")) {
            return Ok(None);
        }
        let year = self.year();
        Ok(Some(DateEl::day(resolve_md(self.today, m, d.num, year)?)))
    }

    /// An optional ", 2027" or " 2027" after a month and day.
    fn year(&mut self) -> Option<i16> {
        let comma = usize::from(self.text(0) == Some(","));
        let y = self.num(comma).filter(|t| t.digits() == 4)?;
        if self.glued(comma + 1, ":") || self.glued(comma + 1, ".") || self.glued(comma + 1, "h") {
            return None;
        }
        if matches!(self.word(comma + 1), Some("am" | "pm")) {
            return None;
        }
        self.i += comma + 1;
        Some(y.num as i16)
    }

    /// 2026-12-24, with an optional glued "T09:30".
    fn iso(&mut self) -> R<DateEl> {
        let from = self.i;
        let y = self.tok(0).expect("year").num as i16;
        let (Some(m), Some(d)) = (self.glued_num(2), self.glued_num(4)) else { return Ok(None) };
        if !self.glued(3, "-") || m.digits() > 2 || d.digits() > 2 {
            return Ok(None);
        }
        self.i += 5;
        let text = self.source(from);
        if !(1..=12).contains(&m.num) {
            return impossible(format!("{text} is not a date: there is no month {}.", m.num));
        }
        let date = resolve_md(self.today, m.num as i8, d.num, Some(y))?;
        if self.glued(0, "t") {
            self.i += 1;
            if self.num(0).is_none() {
                return Err(Fail::NotADate);
            }
            let t = self.clock(false)?.ok_or(Fail::NotADate)?;
            return Ok(Some(DateEl { date, time: Some(t.time), fixed: true, weak: false }));
        }
        Ok(Some(DateEl::day(date)))
    }

    /// 24/12 (day first when the first number is over 12), 12/24, 12/24/2027, 12/24/27.
    fn slash(&mut self) -> R<DateEl> {
        let from = self.i;
        let a = self.tok(0).expect("a number").num;
        let Some(b) = self.glued_num(2).filter(|t| t.digits() <= 2) else { return Ok(None) };
        self.i += 3;
        let mut year = None;
        if self.glued(0, "/") {
            let Some(y) = self.glued_num(1) else { return Err(Fail::NotADate) };
            year = Some(match y.digits() {
                2 => 2000 + y.num as i16,
                4 => y.num as i16,
                _ => return Err(Fail::NotADate),
            });
            self.i += 2;
        }
        let (month, day) = if a > 12 { (b.num, a) } else { (a, b.num) };
        if !(1..=12).contains(&month) {
            return impossible(format!("{} is not a date: there is no month {month}.", self.source(from)));
        }
        Ok(Some(DateEl::day(resolve_md(self.today, month as i8, day, year)?)))
    }
}
