//! Recorded wire pairs: a real chat turn through `POST /api/{user}/chat` against the scripted model servers, and
//! every request body the model server received, with the reply it was scripted to give, compared with the
//! golden files in `tests/wire/`. A change to what goes on the wire (a schema, a field, a message's shape) shows
//! up as a diff here, to be looked at and accepted on purpose:
//!
//! ```sh
//! TASKCHAT_UPDATE_WIRE=1 cargo nextest run -E 'test(/wire::/)'   # rewrites tests/wire/*.json
//! ```
//!
//! The volatile part of a request, the time in the system prompt, is replaced by a placeholder before comparing;
//! everything else (call ids, task numbers, tool results) is fixed by the script.

use serde_json::{Value, json};

use crate::common::{Backend, TestApp};
use crate::fake_models::{FakeModels, Provider, Scripted, gemini, openai};

/// A turn: `models` answer `message` with `replies`, in order; the settings adjusted by `tweak`.
struct Turn {
    golden: &'static str,
    provider: Provider,
    models: &'static str,
    message: &'static str,
    replies: Vec<Scripted>,
    tweak: fn(&mut taskchat::config::ServeArgs),
    /// What the chat endpoint must answer.
    answer: &'static str,
}

async fn record(turn: Turn) {
    let fake = FakeModels::start().await;
    let app = TestApp::start_with(Backend::Sqlite, |args| {
        fake.configure(args, turn.models);
        (turn.tweak)(args);
    })
    .await;
    let (c, user) = app.signed_up("Wren").await;
    for reply in &turn.replies {
        fake.push(turn.provider, reply.clone());
    }
    let uid = user["id"].as_str().unwrap();
    let r = c.post(&format!("/api/{uid}/chat"), json!({"message": turn.message})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["response"], turn.answer, "{}", r.text);
    assert!(fake.unscripted().is_empty(), "{:?}", fake.unscripted());
    let requests = fake.requests(turn.provider);
    assert_eq!(requests.len(), turn.replies.len(), "one request per scripted reply");
    let pairs: Vec<Value> = requests
        .iter()
        .zip(&turn.replies)
        .map(|(req, reply)| {
            json!({
                "request": {"path": req.path, "query": req.query, "body": normalized(req.json.clone())},
                "response": reply.describe(),
            })
        })
        .collect();
    compare(turn.golden, &Value::Array(pairs));
    app.stop().await;
}

/// The request with its clock reading replaced: the system prompt says what time it is for the person.
fn normalized(mut body: Value) -> Value {
    for at in ["/messages/0/content", "/systemInstruction/parts/0/text"] {
        if let Some(Value::String(text)) = body.pointer_mut(at) {
            *text = without_clock(text);
        }
    }
    body
}

/// "It is now Monday 2026-12-07, 16:20 in UTC, …" → "It is now <NOW> in UTC, …".
fn without_clock(text: &str) -> String {
    const START: &str = "It is now ";
    let Some(at) = text.find(START).map(|i| i + START.len()) else { return text.to_string() };
    let Some(len) = text[at..].find(" in ") else { return text.to_string() };
    format!("{}<NOW>{}", &text[..at], &text[at + len..])
}

/// Compares with the golden file, or rewrites it when TASKCHAT_UPDATE_WIRE=1.
fn compare(name: &str, actual: &Value) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wire").join(name);
    let text = serde_json::to_string_pretty(actual).unwrap() + "\n";
    if std::env::var("TASKCHAT_UPDATE_WIRE").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("cannot read {} ({e}): run with TASKCHAT_UPDATE_WIRE=1 to record it", path.display())
    });
    if expected != text {
        panic!(
            "the wire pairs differ from {} (- golden, + now); if the change is meant, rerun with \
             TASKCHAT_UPDATE_WIRE=1 and commit the file\n{}",
            path.display(),
            line_diff(&expected, &text)
        );
    }
}

/// The changed lines of two texts with their line numbers, from a longest common subsequence of lines (the
/// files are a few thousand lines: the table fits).
fn line_diff(old: &str, new: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out, mut shown) = (0, 0, String::new(), 0);
    while (i < a.len() || j < b.len()) && shown < 80 {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push_str(&format!("-{:>5} {}\n", i + 1, a[i]));
            i += 1;
            shown += 1;
        } else {
            out.push_str(&format!("+{:>5} {}\n", j + 1, b[j]));
            j += 1;
            shown += 1;
        }
    }
    if shown == 80 {
        out.push_str("… (more)\n");
    }
    out
}

/// What a strict-mode model sends for add_task: every argument, null for those it leaves out.
const STRICT_ADD: &str = r#"{"title":"buy milk","description":null,"due":null,"priority":"high","labels":["errands"]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_streamed_tool_turn() {
    record(Turn {
        golden: "openai_tool_turn.json",
        provider: Provider::OpenAi,
        models: "openai:fake-model",
        message: "add buy milk, high priority, for errands",
        replies: vec![
            openai::tool_call("call_add_1", "add_task", STRICT_ADD),
            openai::text(&["Added task 1, ", "buy milk."]),
        ],
        tweak: |_| {},
        answer: "Added task 1, buy milk.",
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_whole_answers_when_streaming_is_off() {
    record(Turn {
        golden: "openai_no_stream.json",
        provider: Provider::OpenAi,
        models: "openai:fake-model",
        message: "add buy milk, high priority, for errands",
        replies: vec![
            openai::completion_tool_calls(&[("call_add_1", "add_task", STRICT_ADD)]),
            openai::completion_text("Added task 1, buy milk."),
        ],
        tweak: |args| args.openai_stream = false,
        answer: "Added task 1, buy milk.",
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_temperature_and_no_usage_request() {
    record(Turn {
        golden: "openai_temperature.json",
        provider: Provider::OpenAi,
        models: "openai:fake-model",
        message: "what is on my list?",
        replies: vec![
            openai::tool_call(
                "call_list_1",
                "list_tasks",
                r#"{"status":"pending","search":null,"label":null,"priority":null,"due":null,"sort":null,"limit":null,"cursor":null}"#,
            ),
            openai::text(&["Your list is empty."]),
        ],
        tweak: |args| {
            args.openai_temperature = Some(0.2);
            args.openai_stream_usage = false;
        },
        answer: "Your list is empty.",
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_tool_turn() {
    record(Turn {
        golden: "gemini_tool_turn.json",
        provider: Provider::Gemini,
        models: "gemini:fake-gemini",
        message: "add buy milk, high priority, for errands",
        replies: vec![
            gemini::call(
                "add_task",
                json!({"title": "buy milk", "priority": "high", "labels": ["errands"]}),
                "c2lnLTE=",
            ),
            gemini::text(&["Added task 1, ", "buy milk."]),
        ],
        tweak: |args| args.gemini_temperature = Some(0.7),
        answer: "Added task 1, buy milk.",
    })
    .await;
}

#[test]
fn the_clock_is_the_only_thing_normalized() {
    let prompt = "taskchat. It is now Monday 2026-12-07, 16:20 in Europe/Paris, the person's time zone; due in words";
    assert_eq!(
        without_clock(prompt),
        "taskchat. It is now <NOW> in Europe/Paris, the person's time zone; due in words"
    );
    assert_eq!(without_clock("no clock here"), "no clock here");
    let diff = line_diff("a\nb\nc\n", "a\nB\nc\nd\n");
    assert_eq!(diff, "-    2 b\n+    2 B\n+    4 d\n");
}
