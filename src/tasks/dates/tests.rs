use super::*;
use jiff::ZonedDateTime;
use jiff::civil::{DateTime, date, time};
use proptest::prelude::*;

fn at(clock: &str, zone_name: &str) -> ZonedDateTime {
    let tz = jiff::tz::db().get(zone_name).expect("zone");
    clock.parse::<DateTime>().expect("clock").to_zoned_datetime(tz).expect("zoned")
}

fn friday() -> ZonedDateTime {
    at("2026-12-04T10:30", "America/New_York")
}

fn show(r: &Result<DueSpec, DateError>) -> String {
    match r {
        Ok(DueSpec { date, time: None }) => date.to_string(),
        Ok(DueSpec { date, time: Some(t) }) => format!("{date} {}", t.strftime("%H:%M")),
        Err(DateError::Impossible(_)) => "impossible".to_string(),
        Err(DateError::NotADate(_)) => "none".to_string(),
    }
}

#[test]
fn corpus() {
    let mut now = friday();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (n, line) in include_str!("corpus.txt").lines().enumerate() {
        let line = line.trim_end();
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("@now ") {
            let (clock, zone_name) = rest.split_once(' ').expect("@now <clock> <zone>");
            now = at(clock, zone_name.trim());
            continue;
        }
        let (input, expected) = line.rsplit_once(" => ").unwrap_or_else(|| panic!("line {}: no =>", n + 1));
        let (expected, instant_expected) = match expected.split_once(" @ ") {
            Some((e, i)) => (e.trim(), Some(i.trim())),
            None => (expected.trim(), None),
        };
        let got = parse(input, &now);
        checked += 1;
        if show(&got) != expected {
            failures.push(format!("line {}: {input:?} => {} (want {expected}) {got:?}", n + 1, show(&got)));
            continue;
        }
        if let Some(want) = instant_expected {
            let ts = got.ok().and_then(|due| instant(&due, now.time_zone()));
            let ts = ts.map(|t| t.to_string()).unwrap_or_default();
            if ts != want {
                failures.push(format!("line {}: {input:?} instant {ts} (want {want})", n + 1));
            }
        }
    }
    assert!(checked >= 170, "corpus has only {checked} cases");
    assert!(failures.is_empty(), "{} of {checked} corpus lines fail:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn messages() {
    let now = friday();
    let msg = |s: &str| parse(s, &now).unwrap_err().to_string();
    assert_eq!(msg("feb 30"), "February 2026 has no 30th.");
    assert_eq!(msg("2026-02-30"), "February 2026 has no 30th.");
    assert_eq!(msg("25:00"), "25:00 is not a time of day.");
    assert_eq!(msg("13/13"), "13/13 is not a date: there is no month 13.");
    assert_eq!(msg("in 99999999999 days"), "That is too far ahead: at most 3650 days.");
    assert_eq!(msg("banana"), "\"banana\" is not a date I understand.");
}

/// (title, phrase, remaining title, due)
const EXTRACT: &[(&str, &str, &str, &str)] = &[
    ("buy milk tomorrow", "tomorrow", "buy milk", "2026-12-05"),
    ("buy milk tomorrow!", "tomorrow!", "buy milk", "2026-12-05"),
    ("call mom next friday at 5pm", "next friday at 5pm", "call mom", "2026-12-11 17:00"),
    ("submit report by dec 24", "by dec 24", "submit report", "2026-12-24"),
    ("pay rent on the 15th", "on the 15th", "pay rent", "2026-12-15"),
    ("dentist friday 9am", "friday 9am", "dentist", "2026-12-04 09:00"),
    ("call bob at 5", "at 5", "call bob", "2026-12-04 17:00"),
    ("finish draft in 3 days", "in 3 days", "finish draft", "2026-12-07"),
    ("renew passport 12/24/2027", "12/24/2027", "renew passport", "2027-12-24"),
    ("standup 9:30am tomorrow", "9:30am tomorrow", "standup", "2026-12-05 09:30"),
    ("water plants tonight", "tonight", "water plants", "2026-12-04 20:00"),
    ("email Anna this evening", "this evening", "email Anna", "2026-12-04 19:00"),
    ("party on sat", "on sat", "party", "2026-12-05"),
    ("brunch sun 11am", "sun 11am", "brunch", "2026-12-06 11:00"),
    ("meeting next wed", "next wed", "meeting", "2026-12-09"),
    ("ship it eow", "eow", "ship it", "2026-12-04"),
    ("taxes due apr 15", "due apr 15", "taxes", "2027-04-15"),
    ("book flights in 2 weeks", "in 2 weeks", "book flights", "2026-12-18"),
    ("send invoice end of month", "end of month", "send invoice", "2026-12-31"),
    ("send report by the end of the month", "by the end of the month", "send report", "2026-12-31"),
    ("call grandma 24th december", "24th december", "call grandma", "2026-12-24"),
    ("review PR at noon", "at noon", "review PR", "2026-12-04 12:00"),
    ("lunch with Sam at 12:30", "at 12:30", "lunch with Sam", "2026-12-04 12:30"),
    ("gym 6pm", "6pm", "gym", "2026-12-04 18:00"),
    ("plan trip next weekend", "next weekend", "plan trip", "2026-12-12"),
    ("clean garage this weekend", "this weekend", "clean garage", "2026-12-05"),
    ("file report 2026-12-24", "2026-12-24", "file report", "2026-12-24"),
    ("buy gifts before dec 20", "before dec 20", "buy gifts", "2026-12-20"),
    ("run backup in an hour", "in an hour", "run backup", "2026-12-04 11:30"),
    ("call dad tmrw", "tmrw", "call dad", "2026-12-05"),
    ("Café ☕ meeting tomorrow 9am", "tomorrow 9am", "Café ☕ meeting", "2026-12-05 09:00"),
    ("fix bug by monday", "by monday", "fix bug", "2026-12-07"),
    ("read book for tomorrow", "for tomorrow", "read book", "2026-12-05"),
    ("Pay  rent   due   dec 24,  2027.", "due   dec 24,  2027.", "Pay  rent", "2027-12-24"),
    ("feed cat tomorrow at 5:30pm", "tomorrow at 5:30pm", "feed cat", "2026-12-05 17:30"),
];

const NO_EXTRACT: &[&str] = &[
    "the parents' evening",
    "plan a quiet morning",
    "buy 2 eggs",
    "call mom",
    "fix 5 bugs",
    "room 101",
    "plan may trip",
    "read chapter 3",
    "watch 24",
    "pay rent",
    "tomorrow",
    "next friday at 5pm",
    "due tomorrow",
    "see the sun",
    "feed the cat sat",
    "lecture wed",
    "visit tod",
    "read 1984",
    "version 2.0",
    "run 5h",
    "watch 24h",
    "buy march",
    "meet at 25:00",
    "chapter 15th",
    "",
    "   ",
    "☕☕☕",
];

#[test]
fn extract_cases() {
    let now = friday();
    assert!(EXTRACT.len() + NO_EXTRACT.len() >= 40);
    for &(title, phrase, rest, due) in EXTRACT {
        let e = extract(title, &now).unwrap_or_else(|| panic!("{title:?}: nothing extracted"));
        assert_eq!(e.phrase, phrase, "{title:?}");
        assert_eq!(&title[e.span.clone()], phrase, "{title:?}");
        assert_eq!(title[..e.span.start].trim_end(), rest, "{title:?}");
        assert_eq!(show(&Ok(e.due)), due, "{title:?}");
    }
    for &title in NO_EXTRACT {
        assert_eq!(extract(title, &now), None, "{title:?}");
    }
}

#[test]
fn describe_cases() {
    let now = friday();
    let d = |y, m, day, t: Option<(i8, i8)>| {
        describe(&DueSpec { date: date(y, m, day), time: t.map(|(h, mi)| time(h, mi, 0, 0)) }, &now)
    };
    assert_eq!(d(2026, 12, 4, None), "today");
    assert_eq!(d(2026, 12, 4, Some((17, 0))), "today 17:00");
    assert_eq!(d(2026, 12, 5, None), "tomorrow");
    assert_eq!(d(2026, 12, 5, Some((9, 0))), "tomorrow 09:00");
    assert_eq!(d(2026, 12, 3, None), "yesterday");
    assert_eq!(d(2026, 12, 6, None), "Sunday");
    assert_eq!(d(2026, 12, 10, None), "Thursday");
    assert_eq!(d(2026, 12, 10, Some((17, 0))), "Thursday 17:00");
    assert_eq!(d(2026, 12, 11, None), "Fri 11 Dec");
    assert_eq!(d(2026, 12, 24, None), "Thu 24 Dec");
    assert_eq!(d(2026, 12, 24, Some((18, 30))), "Thu 24 Dec 18:30");
    assert_eq!(d(2027, 12, 24, None), "Fri 24 Dec 2027");
    assert_eq!(d(2025, 12, 24, Some((18, 0))), "Wed 24 Dec 2025 18:00");
    assert_eq!(d(2026, 11, 30, None), "Mon 30 Nov");
}

#[test]
fn long_title_is_quick() {
    let now = friday();
    let title = "word ".repeat(40) + "next friday at 5pm";
    let start = std::time::Instant::now();
    for _ in 0..100 {
        assert!(extract(&title, &now).is_some());
    }
    assert!(start.elapsed() < std::time::Duration::from_secs(2));
}

const VOCAB: &[&str] = &[
    "in",
    "a",
    "an",
    "on",
    "by",
    "at",
    "due",
    "next",
    "this",
    "the",
    "of",
    "from",
    "now",
    "today",
    "tomorrow",
    "day",
    "after",
    "week",
    "weekend",
    "month",
    "year",
    "days",
    "hours",
    "minutes",
    "end",
    "eow",
    "friday",
    "sun",
    "dec",
    "feb",
    "24",
    "29",
    "30",
    "31",
    "99999999999999999999",
    "0",
    "12",
    "13",
    "2026",
    "-",
    "/",
    ":",
    ".",
    ",",
    "t",
    "h",
    "pm",
    "am",
    "p",
    "m",
    "st",
    "th",
    "noon",
    "midnight",
    "evening",
    "tonight",
    "@",
    "é",
    "☕",
];

proptest! {
    #[test]
    fn never_panics_on_any_text(s in "\\PC{0,200}") {
        let now = friday();
        let _ = parse(&s, &now);
        if let Some(e) = extract(&s, &now) {
            prop_assert_eq!(&s[e.span.clone()], e.phrase.as_str());
        }
    }

    #[test]
    fn never_panics_on_date_words(words in prop::collection::vec(prop::sample::select(VOCAB), 0..14), glue in any::<bool>()) {
        let s = words.join(if glue { "" } else { " " });
        for now in [friday(), at("9999-12-30T12:00", "UTC"), at("-009999-01-02T12:00", "UTC")] {
            let _ = parse(&s, &now);
            if let Some(e) = extract(&s, &now) {
                prop_assert_eq!(&s[e.span.clone()], e.phrase.as_str());
                prop_assert!(e.span.start > 0);
            }
        }
    }
}
