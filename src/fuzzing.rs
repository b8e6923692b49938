//! Fuzz targets: the parsers that read what people and clients send, each as a function of raw bytes that must
//! never panic and must check its own invariants. `fuzz/` runs them under libFuzzer (`cargo +nightly fuzz run
//! <target>`); the test below replays the checked-in corpus and a few thousand mutations of it on every test run,
//! with 8,000-character inputs (the chat's limit) among them.

use serde_json::{Value, json};

use crate::llm::builtin_nlu::{self, Context, Decision, TaskRef};
use crate::tasks::dates;

/// Moments to read date words against: a DST change in London, the edges of jiff's range, a far-off zone.
fn nows() -> Vec<jiff::ZonedDateTime> {
    let at = |s: &str, tz: &str| s.parse::<jiff::civil::DateTime>().unwrap().in_tz(tz).unwrap();
    vec![
        at("2026-03-29T00:30", "Europe/London"),
        at("2026-12-04T10:00", "Pacific/Kiritimati"),
        at("9999-12-30T12:00", "UTC"),
        at("-009999-01-02T12:00", "UTC"),
    ]
}

/// The date parser: `parse` on the whole text and `extract` on it as a title.
pub fn dates_target(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for now in nows() {
        if let Ok(due) = dates::parse(&text, &now) {
            let _ = dates::describe(&due, &now);
        }
        if let Some(found) = dates::extract(&text, &now) {
            assert_eq!(&text[found.span.clone()], found.phrase, "the span is the phrase");
            assert!(found.span.start > 0 && !text[..found.span.start].trim().is_empty(), "a title is left");
        }
    }
}

/// The builtin assistant: the first byte picks the person's list and what was last mentioned, the rest is the
/// message; every call it decides on is then answered, once as done and once as failed.
pub fn builtin_target(data: &[u8]) {
    let (pick, message) = data.split_first().map_or((0, &[][..]), |(p, rest)| (*p, rest));
    let message = String::from_utf8_lossy(message);
    let titles = ["buy milk", "buy oat milk", "call mom", "pay rent", "write the quarterly report", "Ünïcödé ✓"];
    let count = usize::from(pick % 7);
    let tasks: Vec<TaskRef> = titles
        .iter()
        .take(count)
        .enumerate()
        .map(|(i, t)| TaskRef {
            number: i as i64 + 1,
            title: t.to_string(),
            completed: i % 3 == 2,
            due: (i % 2 == 0).then(|| "2026-12-04".to_string()),
            due_time: (i == 0).then(|| "17:00".to_string()),
            labels: if i == 1 { vec!["work".to_string()] } else { vec![] },
        })
        .collect();
    let now = nows()[usize::from(pick >> 6) % 2].clone();
    let last = (pick & 8 != 0 && count > 0).then_some(1);
    let more = json!({"status": "pending", "cursor": "abc"});
    let pending = json!({"task_ids": [1, 2]});
    let last_turn = if pick & 4 != 0 {
        builtin_nlu::LastTurn {
            asked: Some("complete milk".into()),
            group: vec![1, 2],
            shown: vec![2, 1],
            action: Some("complete_task".into()),
            call: Some(json!({"task_id": 1})),
            request: Some("complete milk".into()),
            recent: vec![2, 1],
            listed: vec![2, 1],
        }
    } else {
        builtin_nlu::LastTurn::default()
    };
    let ctx = Context {
        tasks: &tasks,
        last_mentioned: last,
        user_name: (pick & 16 != 0).then_some("Sam"),
        now: &now,
        more: (pick & 32 != 0).then_some(&more),
        pending: (pick & 128 != 0).then_some(&pending),
        last: &last_turn,
    };
    match builtin_nlu::decide(&message, &ctx) {
        Decision::Reply(text) => assert!(!text.trim().is_empty(), "an empty reply to {message:?}"),
        Decision::Call(calls) => {
            assert!(!calls.is_empty(), "no call and no reply for {message:?}");
            let done: Vec<_> = calls
                .iter()
                .map(|c| {
                    let mut task = c.arguments.clone();
                    if let Value::Object(t) = &mut task {
                        t.entry("number").or_insert(json!(1));
                    }
                    (c.clone(), json!({"task": task, "tasks": [task], "total": 1}))
                })
                .collect();
            assert!(!builtin_nlu::compose_answer(&done).trim().is_empty());
            let failed: Vec<_> = calls
                .iter()
                .map(|c| (c.clone(), json!({"error": "not_found", "message": message, "suggestions": [message]})))
                .collect();
            assert!(!builtin_nlu::compose_answer(&failed).trim().is_empty());
        }
    }
}

/// The ChatKit request decoder: any body is a request or a client error, never a server error.
pub fn chatkit_target(data: &[u8]) {
    if let Err(e) = crate::chatkit::decode(data) {
        assert!(e.status().is_client_error(), "{e:?} for {:?}", String::from_utf8_lossy(data));
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    use super::*;

    /// The checked-in corpus of one target (seeds, and every input a fuzzer run found worth keeping).
    fn corpus(target: &str) -> Vec<Vec<u8>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files.iter().map(|f| std::fs::read(f).unwrap()).collect()
    }

    /// An input grown to 8,000 characters by repeating it (the chat's limit), to find work that grows faster
    /// than the input.
    fn long(seed: &[u8]) -> Vec<u8> {
        let unit = if seed.is_empty() { &b"a "[..] } else { seed };
        let text = String::from_utf8_lossy(unit);
        let mut out = String::new();
        while out.chars().count() < 8000 {
            out.push_str(&text);
            out.push(' ');
        }
        out.chars().take(8000).collect::<String>().into_bytes()
    }

    /// Replays the corpus, each seed at 8,000 characters, and random mutations of the seeds. A hang shows as the
    /// slowest input taking seconds (libFuzzer's -timeout does the same): inputs take microseconds to a few
    /// milliseconds each even at 8,000 characters in a debug build.
    fn run(target: &str, f: fn(&[u8]), cases: u32) {
        let seeds = corpus(target);
        assert!(seeds.len() >= 5, "{target} has a corpus");
        let slowest = std::cell::RefCell::new((Duration::ZERO, Vec::new()));
        let timed = |input: &[u8]| {
            let started = Instant::now();
            f(input);
            let took = started.elapsed();
            let mut slowest = slowest.borrow_mut();
            if took > slowest.0 {
                *slowest = (took, input.to_vec());
            }
        };
        for seed in &seeds {
            timed(seed);
            timed(&long(seed));
        }
        let mutation = (
            prop::sample::select(seeds),
            prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..8),
        );
        TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() })
            .run(&mutation, |(seed, edits)| {
                let mut input = seed.clone();
                for (at, byte, how) in edits {
                    let i = if input.is_empty() { 0 } else { at.index(input.len()) };
                    match how {
                        0 if !input.is_empty() => input[i] = byte,
                        1 if !input.is_empty() => {
                            input.remove(i);
                        }
                        _ => input.insert(i, byte),
                    }
                }
                timed(&input);
                Ok(())
            })
            .unwrap();
        let (took, input) = slowest.into_inner();
        let shown: String = String::from_utf8_lossy(&input).chars().take(80).collect();
        eprintln!("{target}: slowest input {took:?} ({} bytes, {shown:?}…)", input.len());
        assert!(took < Duration::from_secs(3), "{target} took {took:?} on {shown:?}…");
    }

    #[test]
    fn the_date_parser_survives_its_corpus_and_mutations() {
        run("dates", dates_target, 3000);
    }

    #[test]
    fn the_builtin_assistant_survives_its_corpus_and_mutations() {
        run("builtin", builtin_target, 2000);
    }

    #[test]
    fn the_chatkit_decoder_survives_its_corpus_and_mutations() {
        run("chatkit", chatkit_target, 3000);
    }
}
