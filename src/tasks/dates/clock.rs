//! Times of day: "5pm", "5:30 p.m.", "17:00", "17h30", "noon", "midnight" (23:59), parts of the day, and a bare
//! hour after "at" (1–7 afternoon, 8–11 morning, 12 noon).

use jiff::civil::{Time, time};

use super::grammar::{Fail, P, impossible};
use super::lexer::Kind;
use super::words;

type R<T> = Result<Option<T>, Fail>;

/// A time element: a clock time, or a part of the day ("evening"). `can_pm` marks an hour written without
/// am/pm below noon, which a later part of the day moves to the afternoon ("tonight at 9" is 21:00).
#[derive(Debug, Clone, Copy)]
pub(super) struct TimeEl {
    pub time: Time,
    pub part: bool,
    pub can_pm: bool,
    pub weak: bool,
}

impl P<'_> {
    pub(super) fn time(&mut self, at: bool) -> R<TimeEl> {
        let save = self.i;
        let r = self.time_inner(at);
        if !matches!(r, Ok(Some(_))) {
            self.i = save;
        }
        r
    }

    fn time_inner(&mut self, mut at: bool) -> R<TimeEl> {
        if self.eat("at") || self.eat("@") {
            at = true;
        }
        let part = |h: i8| Ok(Some(TimeEl { time: time(h, 0, 0, 0), part: true, can_pm: false, weak: false }));
        let exact = |t: Time| Ok(Some(TimeEl { time: t, part: false, can_pm: false, weak: false }));
        let Some(tok) = self.tok(0) else { return Ok(None) };
        match tok.text.as_str() {
            "noon" | "midday" => {
                self.i += 1;
                return exact(time(12, 0, 0, 0));
            }
            "midnight" => {
                self.i += 1;
                return exact(time(23, 59, 0, 0));
            }
            "in" if self.word(1) == Some("the") => {
                if let Some(h) = self.word(2).and_then(words::part_of_day).filter(|&h| h != 20) {
                    self.i += 3;
                    return part(h);
                }
                return Ok(None);
            }
            w => {
                if let Some(h) = words::part_of_day(w) {
                    self.i += 1;
                    // A bare "evening" ends titles ("the parents' evening"); only "tonight" is a due date alone.
                    return Ok(Some(TimeEl {
                        time: time(h, 0, 0, 0),
                        part: true,
                        can_pm: false,
                        weak: w != "tonight",
                    }));
                }
            }
        }
        if tok.kind == Kind::Num { self.clock(at) } else { Ok(None) }
    }

    /// 5pm, 5 pm, 5:30pm, 5.30 p.m., 17:00, 17h, 17h30, and a bare hour after "at".
    pub(super) fn clock(&mut self, at: bool) -> R<TimeEl> {
        let from = self.i;
        let h_tok = self.tok(0).expect("clock starts at a number");
        if h_tok.digits() > 2 {
            return Ok(None);
        }
        let mut h = h_tok.num;
        let mut m = 0;
        self.i += 1;
        let mut sep = None;
        if let Some(s) = self.tok(0).filter(|t| !t.space_before && (t.is(":") || t.is(".") || t.is("h"))) {
            let sep_text = s.text.clone();
            if let Some(mm) = self.glued_num(1).filter(|t| t.digits() == 2) {
                m = mm.num;
                self.i += 2;
                sep = Some(sep_text);
            } else if sep_text == "h" {
                self.i += 1;
                sep = Some(sep_text);
            } else {
                return Ok(None);
            }
        }
        let pm = match self.word(0) {
            Some("am") => Some(false),
            Some("pm") => Some(true),
            Some(x @ ("a" | "p"))
                if self.glued(1, ".") && self.word(2) == Some("m") && !self.t[self.i + 2].space_before =>
            {
                self.i += 2;
                if self.glued(1, ".") {
                    self.i += 1;
                }
                Some(x == "p")
            }
            _ => None,
        };
        if pm.is_some() {
            self.i += 1;
        }
        let bad = |p: &Self| impossible(format!("{} is not a time of day.", p.source(from)));
        let weak = sep.as_deref() == Some("h") && m == 0 && !at;
        let mut can_pm = false;
        match (pm, sep.as_deref()) {
            (Some(pm), _) => {
                if !(1..=12).contains(&h) || m > 59 {
                    return bad(self);
                }
                h = h % 12 + if pm { 12 } else { 0 };
            }
            (None, Some(".")) => return Ok(None),
            (None, Some(_)) => {
                if h > 23 || m > 59 {
                    return bad(self);
                }
                if at && sep.as_deref() == Some(":") && h_tok.digits() == 1 && (1..=7).contains(&h) {
                    h += 12;
                }
                can_pm = (1..=11).contains(&h);
            }
            (None, None) => {
                if !at {
                    return Ok(None);
                }
                match h {
                    1..=7 => h += 12,
                    0 | 8..=23 => {}
                    _ => return bad(self),
                }
                can_pm = (1..=11).contains(&h);
            }
        }
        Ok(Some(TimeEl { time: time(h as i8, m as i8, 0, 0), part: false, can_pm, weak }))
    }
}
