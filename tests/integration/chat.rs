//! The assistant through its HTTP doors: multi-step turns against scripted fake OpenAI and Gemini services
//! (what we send them, what we replay to them), faults and their friendly errors, retries, fallback between
//! providers, the builtin assistant, isolation between people, the event stream and the conversations API.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use taskchat::config::ServeArgs;
use tokio::sync::Notify;

use crate::common::{Backend, Client, Reply, TestApp};
use crate::fake_models::{FakeModels, GEMINI_KEY, OPENAI_KEY, Piece, Provider, Recorded, Scripted, gemini, openai};
use crate::on_both_databases;

const OPENAI: &str = "openai:fake-model";
const GEMINI: &str = "gemini:fake-gemini";
const GEMINI_THEN_OPENAI: &str = "gemini:fake-gemini,openai:fake-model";
const TOOL_NAMES: [&str; 7] =
    ["add_task", "list_tasks", "complete_task", "reopen_task", "delete_task", "update_task", "undo_last_change"];

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

async fn start_with_fake(
    backend: Backend,
    fake: &FakeModels,
    models: &str,
    tweak: impl FnOnce(&mut ServeArgs),
) -> TestApp {
    TestApp::start_with(backend, |args| {
        fake.configure(args, models);
        tweak(args);
    })
    .await
}

/// No model keys and no model list: the builtin assistant answers.
async fn start_builtin(backend: Backend) -> TestApp {
    TestApp::start_with(backend, |args| {
        args.models = None;
        args.openai_api_key = None;
        args.gemini_api_key = None;
    })
    .await
}

fn uid(user: &Value) -> &str {
    user["id"].as_str().expect("the user has an id")
}

async fn chat(c: &Client, user: &Value, conversation: Option<&str>, message: &str) -> Reply {
    let mut body = json!({ "message": message });
    if let Some(id) = conversation {
        body["conversation_id"] = json!(id);
    }
    c.post(&format!("/api/{}/chat", uid(user)), body).await
}

fn conversation_of(r: &Reply) -> String {
    r.json["conversation_id"].as_str().unwrap_or_else(|| panic!("no conversation id: {}", r.text)).to_string()
}

/// The stored messages of a conversation, oldest first.
async fn stored(c: &Client, conversation: &str) -> Vec<Value> {
    let r = c.get(&format!("/api/conversations/{conversation}/messages?limit=200")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["messages"].as_array().unwrap().clone()
}

fn role_content(messages: &[Value]) -> Vec<(String, String)> {
    messages
        .iter()
        .map(|m| (m["role"].as_str().unwrap().to_string(), m["content"].as_str().unwrap().to_string()))
        .collect()
}

fn pair(role: &str, content: &str) -> (String, String) {
    (role.to_string(), content.to_string())
}

/// The person's tasks as (title, completed), by number.
async fn tasks(c: &Client) -> Vec<(String, bool)> {
    let r = c.get("/api/tasks").await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["title"].as_str().unwrap().to_string(), t["completed"].as_bool().unwrap()))
        .collect()
}

fn task(title: &str, completed: bool) -> (String, bool) {
    (title.to_string(), completed)
}

/// The messages of an OpenAI request.
fn oa_messages(req: &Recorded) -> Vec<Value> {
    req.json["messages"].as_array().unwrap_or_else(|| panic!("no messages in {}", req.raw)).clone()
}

/// The content of an OpenAI tool message, parsed.
fn tool_content(message: &Value) -> Value {
    assert_eq!(message["role"], "tool", "{message}");
    serde_json::from_str(message["content"].as_str().expect("tool content is a string")).expect("tool content is JSON")
}

/// The error body of a failed turn, and a message fit for a person.
fn assert_assistant_error(r: &Reply, reason: &str, retryable: bool) {
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.json["code"], "ASSISTANT_ERROR", "{}", r.text);
    assert_eq!(r.json["reason"], reason, "{}", r.text);
    assert_eq!(r.json["retryable"], retryable, "{}", r.text);
    assert!(r.json["conversation_id"].as_str().is_some_and(|s| !s.is_empty()), "{}", r.text);
    assert_friendly(r.json["message"].as_str().unwrap_or_default());
    let body = r.text.to_lowercase();
    for leak in [
        "127.0.0.1",
        OPENAI_KEY,
        GEMINI_KEY,
        "fake-model",
        "fake-gemini",
        "traceback",
        "org-secret",
        "upstream_worker",
        "nginx",
        "bad gateway",
        "reqwest",
        "hyper",
        "panicked",
        "the fake",
    ] {
        assert!(!body.contains(leak), "the error body leaks {leak:?}: {}", r.text);
    }
}

fn assert_friendly(message: &str) {
    assert!(!message.trim().is_empty() && message.len() < 300, "not a friendly message: {message:?}");
    let lower = message.to_lowercase();
    for leak in [
        "http",
        "openai",
        "gemini",
        "status",
        "error:",
        "{",
        "}",
        "::",
        "src/",
        "stack",
        "backtrace",
        "timeout(",
        "network(",
        "protocol(",
        "sqlx",
    ] {
        assert!(!lower.contains(leak), "the friendly message mentions {leak:?}: {message}");
    }
}

fn assert_openai_tools(body: &Value) {
    let tools = body["tools"].as_array().unwrap_or_else(|| panic!("no tools offered: {body}"));
    let names: Vec<&str> = tools.iter().map(|t| t["function"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, TOOL_NAMES);
    for t in tools {
        assert_eq!(t["type"], "function");
        assert_eq!(t["function"]["strict"], true, "{t}");
        assert!(t["function"]["description"].as_str().unwrap().len() > 20, "{t}");
        let params = &t["function"]["parameters"];
        assert_eq!(params["type"], "object", "{t}");
        assert_eq!(params["additionalProperties"], false, "{t}");
        assert!(params["properties"].get("user_id").is_none(), "no tool takes a user: {t}");
    }
    let params =
        |name: &str| tools.iter().find(|t| t["function"]["name"] == name).unwrap()["function"]["parameters"].clone();
    // Strict mode: every property required, those the canonical schema leaves optional nullable.
    assert_eq!(params("add_task")["required"], json!(["description", "due", "labels", "priority", "title"]));
    assert_eq!(params("add_task")["properties"]["due"]["type"], json!(["string", "null"]));
    assert_eq!(params("add_task")["properties"]["title"]["type"], "string");
    assert_eq!(params("list_tasks")["properties"]["status"]["enum"], json!(["all", "pending", "completed", null]));
    for name in ["add_task", "update_task"] {
        let props = &params(name)["properties"];
        assert_eq!(props["priority"]["enum"], json!(["none", "low", "medium", "high", "urgent", null]), "{name}");
        assert_eq!(props["labels"]["type"], json!(["array", "null"]), "{name}");
        assert!(props["due"].is_object(), "{name} takes a due date: {props}");
    }
    let list = &params("list_tasks")["properties"];
    for filter in ["search", "label", "priority", "due", "sort", "cursor", "limit"] {
        assert!(list.get(filter).is_some(), "list_tasks filters by {filter}: {list}");
    }
    for name in ["complete_task", "reopen_task", "delete_task", "update_task"] {
        assert_eq!(params(name)["properties"]["task_id"]["type"], json!(["integer", "null"]), "{name}");
        // Or several at once.
        assert_eq!(params(name)["properties"]["task_ids"]["type"], json!(["array", "null"]), "{name}");
        // Strict mode takes no maxItems: the limit is said in words.
        let ids = params(name)["properties"]["task_ids"]["description"].as_str().unwrap().to_string();
        assert!(ids.ends_with("(1–100 items)"), "{name}: {ids}");
    }
    assert_eq!(params("update_task")["properties"]["title"]["type"], json!(["string", "null"]));
    assert_eq!(params("delete_task")["properties"]["confirm"]["type"], json!(["boolean", "null"]));
}

fn assert_gemini_tools(body: &Value) {
    let decls = body["tools"][0]["functionDeclarations"].as_array().unwrap_or_else(|| panic!("no tools: {body}"));
    let names: Vec<&str> = decls.iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, TOOL_NAMES);
    let text = body["tools"].to_string();
    assert!(!text.contains("additionalProperties"), "Gemini rejects additionalProperties: {text}");
    assert!(!text.contains("\"default\""), "Gemini rejects default: {text}");
    assert!(!text.contains("[\"string\",\"null\"]"), "Gemini takes one type, with nullable: {text}");
    let update = decls.iter().find(|d| d["name"] == "update_task").unwrap();
    assert_eq!(update["parameters"]["properties"]["due"]["type"], "string", "{update}");
    assert_eq!(update["parameters"]["properties"]["due"]["nullable"], true, "{update}");
    for d in decls {
        assert!(d["description"].as_str().unwrap().len() > 20, "{d}");
        assert_eq!(d["parameters"]["type"], "object", "{d}");
    }
    let complete = decls.iter().find(|d| d["name"] == "complete_task").unwrap();
    assert_eq!(complete["parameters"]["properties"]["task_id"]["type"], "integer");
    assert_eq!(complete["parameters"]["properties"]["task_ids"]["items"]["type"], "integer");
}

/// An event stream read as it arrives.
struct EventReader {
    res: reqwest::Response,
    buf: Vec<u8>,
}

impl EventReader {
    async fn open(app: &TestApp, c: &Client, user: &Value, body: Value) -> EventReader {
        let mut req = reqwest::Client::new()
            .post(format!("{}/api/{}/chat", app.url, uid(user)))
            .header("accept", "text/event-stream")
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(cookie) = c.cookie_header() {
            req = req.header("cookie", cookie);
        }
        if let Some(origin) = &c.origin {
            req = req.header("origin", origin);
        }
        let res = req.send().await.expect("the chat request is sent");
        assert_eq!(res.status(), 200);
        let ct = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        assert!(ct.starts_with("text/event-stream"), "content type {ct}");
        EventReader { res, buf: vec![] }
    }

    /// The next event as (type, data), None when the stream ends; the stream may go quiet 15 s at most.
    async fn next(&mut self) -> Option<(String, Value)> {
        loop {
            if let Some(pos) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.buf.drain(..pos + 2).collect();
                let block = String::from_utf8(block).expect("events are UTF-8");
                let mut kind = String::new();
                let mut data = vec![];
                for line in block.lines() {
                    if let Some(k) = line.strip_prefix("event:") {
                        kind = k.trim().to_string();
                    } else if let Some(d) = line.strip_prefix("data:") {
                        data.push(d.strip_prefix(' ').unwrap_or(d));
                    }
                }
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                let value: Value = serde_json::from_str(&data.join("\n")).expect("event data is JSON");
                assert_eq!(value["type"], kind.as_str(), "the event name matches its data");
                return Some((kind, value));
            }
            let chunk = tokio::time::timeout(Duration::from_secs(15), self.res.chunk())
                .await
                .expect("the event stream went quiet")
                .expect("the event stream is readable");
            match chunk {
                Some(bytes) => self.buf.extend_from_slice(&bytes),
                None => {
                    assert!(String::from_utf8_lossy(&self.buf).trim().is_empty(), "a truncated event");
                    return None;
                }
            }
        }
    }

    async fn rest(&mut self) -> Vec<(String, Value)> {
        let mut out = vec![];
        while let Some(e) = self.next().await {
            out.push(e);
        }
        out
    }
}

fn kinds(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(k, _)| k.as_str()).collect()
}

// ---------------------------------------------------------------------------------------------------------------
// Multi-step turns against the fake providers
// ---------------------------------------------------------------------------------------------------------------

on_both_databases!(openai_turn_runs_two_tool_calls_then_answers, |backend: Backend| async move {
    let fake = FakeModels::start().await;
    let app = start_with_fake(backend, &fake, OPENAI, |_| {}).await;
    let (c, user) = app.signed_up("Olive").await;
    let question = "add buy milk and mark it done";
    fake.push(Provider::OpenAi, openai::tool_call("call_add_1", "add_task", r#"{"title":"buy milk"}"#));
    fake.push(Provider::OpenAi, openai::tool_call("call_done_2", "complete_task", r#"{"task_id":1}"#));
    fake.push(Provider::OpenAi, openai::text(&["Added ", "and completed ", "task 1, buy milk."]));

    let r = chat(&c, &user, None, question).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["response"], "Added and completed task 1, buy milk.");
    let conversation = conversation_of(&r);
    assert!(r.json["message_id"].is_string());
    let calls = r.json["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2, "{}", r.text);
    assert_eq!(calls[0]["name"], "add_task");
    assert_eq!(calls[0]["arguments"], json!({"title": "buy milk"}));
    assert_eq!(calls[0]["result"]["task"]["number"], 1);
    assert_eq!(calls[1]["name"], "complete_task");
    assert_eq!(calls[1]["result"]["task"]["completed"], true);
    assert_eq!(tasks(&c).await, vec![task("buy milk", true)]);

    // What the model service was sent.
    let reqs = fake.requests(Provider::OpenAi);
    assert_eq!(reqs.len(), 3);
    for req in &reqs {
        assert_eq!(req.path, "/v1/chat/completions");
        assert_eq!(req.header("authorization"), Some("Bearer sk-test"));
        assert_eq!(req.json["model"], "fake-model");
        assert_eq!(req.json["stream"], true);
        assert_eq!(req.json["stream_options"]["include_usage"], true);
        assert_openai_tools(&req.json);
    }
    let first = oa_messages(&reqs[0]);
    assert_eq!(first.len(), 2, "{first:?}");
    assert_eq!(first[0]["role"], "system");
    let system = first[0]["content"].as_str().unwrap();
    assert!(system.contains("Olive") && system.contains("complete_task"), "{system}");
    assert_eq!(first[1], json!({"role": "user", "content": question}));

    // The second request: the first call, whole again, and its result.
    let second = oa_messages(&reqs[1]);
    assert_eq!(second.len(), 4, "{second:?}");
    assert_eq!(second[..2], first[..]);
    assert_eq!(second[2]["role"], "assistant");
    assert_eq!(second[2]["content"], Value::Null);
    let sent_call = &second[2]["tool_calls"][0];
    assert_eq!(sent_call["id"], "call_add_1");
    assert_eq!(sent_call["type"], "function");
    assert_eq!(sent_call["function"]["name"], "add_task");
    let args: Value = serde_json::from_str(sent_call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"title": "buy milk"}));
    assert_eq!(second[3]["tool_call_id"], "call_add_1");
    let added = tool_content(&second[3]);
    assert_eq!(added["task"]["number"], 1);
    assert_eq!(added["task"]["title"], "buy milk");
    assert_eq!(added["task"]["completed"], false);

    // The third: everything so far, plus the second call and its result.
    let third = oa_messages(&reqs[2]);
    assert_eq!(third.len(), 6, "{third:?}");
    assert_eq!(third[..4], second[..]);
    assert_eq!(third[4]["tool_calls"][0]["id"], "call_done_2");
    assert_eq!(third[4]["tool_calls"][0]["function"]["name"], "complete_task");
    assert_eq!(third[5]["tool_call_id"], "call_done_2");
    assert_eq!(tool_content(&third[5])["task"]["completed"], true);

    // Stored: the question, and the answer with a record of each call.
    let messages = stored(&c, &conversation).await;
    assert_eq!(
        role_content(&messages),
        vec![pair("user", question), pair("assistant", "Added and completed task 1, buy milk.")]
    );
    let records = messages[1]["tool_calls"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["name"], "add_task");
    assert_eq!(records[0]["arguments"], json!({"title": "buy milk"}));
    assert_eq!(records[1]["result"]["task"]["completed"], true);

    // The next turn carries the history, past tool calls replayed with their results.
    fake.push(Provider::OpenAi, openai::text(&["You have one task, and it is done."]));
    let r = chat(&c, &user, Some(&conversation), "what is on my list?").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let fourth = oa_messages(&fake.requests(Provider::OpenAi)[3]);
    let roles: Vec<&str> = fourth.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "tool", "tool", "assistant", "user"], "{fourth:?}");
    assert_eq!(fourth[1]["content"], question);
    let replayed: Vec<&str> =
        fourth[2]["tool_calls"].as_array().unwrap().iter().map(|c| c["function"]["name"].as_str().unwrap()).collect();
    assert_eq!(replayed, ["add_task", "complete_task"]);
    for (i, m) in fourth[3..5].iter().enumerate() {
        assert_eq!(m["tool_call_id"], fourth[2]["tool_calls"][i]["id"], "results follow their calls");
    }
    assert_eq!(tool_content(&fourth[4])["task"]["completed"], true);
    assert_eq!(fourth[5]["content"], "Added and completed task 1, buy milk.");
    assert_eq!(fourth[6], json!({"role": "user", "content": "what is on my list?"}));
    assert!(fake.unscripted().is_empty(), "{:?}", fake.unscripted());
    app.stop().await;
});

on_both_databases!(gemini_turn_replays_thought_signatures_intact, |backend: Backend| async move {
    let fake = FakeModels::start().await;
    let app = start_with_fake(backend, &fake, GEMINI, |_| {}).await;
    let (c, user) = app.signed_up("Gemma").await;
    let question = "add buy milk, then tick it off";
    // Signatures are opaque bytes: anything changed in them (escaping, re-encoding, reordering) is a bug.
    let sig_a = "CiQB0e2Kb3+/sig=A/with+slashes==\u{e9}";
    let sig_b = "Ck8B0e2KbxQ9-second_signature//==";
    let first_parts = [
        json!([{"text": "Adding it now. "}]),
        json!([{"functionCall": {"name": "add_task", "args": {"title": "buy milk"}}, "thoughtSignature": sig_a}]),
    ];
    fake.push(Provider::Gemini, gemini::events(&first_parts));
    fake.push(Provider::Gemini, gemini::call("complete_task", json!({"task_id": 1}), sig_b));
    fake.push(Provider::Gemini, gemini::text(&["Done: task 1, ", "buy milk, is added and complete."]));

    let r = chat(&c, &user, None, question).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["response"], "Adding it now. Done: task 1, buy milk, is added and complete.");
    assert_eq!(tasks(&c).await, vec![task("buy milk", true)]);

    let reqs = fake.requests(Provider::Gemini);
    assert_eq!(reqs.len(), 3);
    for req in &reqs {
        assert_eq!(req.path, "/v1beta/models/fake-gemini:streamGenerateContent");
        assert_eq!(req.query, "alt=sse");
        assert_eq!(req.header("x-goog-api-key"), Some(GEMINI_KEY));
        assert!(req.header("authorization").is_none(), "the key goes in x-goog-api-key only");
        let system = req.json["systemInstruction"]["parts"][0]["text"].as_str().unwrap();
        assert!(system.contains("Gemma"), "{system}");
        assert_gemini_tools(&req.json);
    }
    let user_turn = json!({"role": "user", "parts": [{"text": question}]});
    assert_eq!(reqs[0].json["contents"], json!([user_turn]));

    // The model's turn comes back with every part exactly as it arrived, signature included.
    let model_a_parts = json!([first_parts[0][0], first_parts[1][0]]);
    let model_b_parts =
        json!([{"functionCall": {"name": "complete_task", "args": {"task_id": 1}}, "thoughtSignature": sig_b}]);
    let second = reqs[1].json["contents"].as_array().unwrap();
    assert_eq!(second.len(), 3, "{second:?}");
    assert_eq!(second[0], user_turn);
    assert_eq!(second[1], json!({"role": "model", "parts": model_a_parts}));
    let exact_a = serde_json::to_string(&model_a_parts).unwrap();
    assert!(reqs[1].raw.contains(&exact_a), "the parts are not byte-identical:\n{exact_a}\nin\n{}", reqs[1].raw);
    let response = &second[2];
    assert_eq!(response["role"], "user");
    assert_eq!(response["parts"].as_array().unwrap().len(), 1);
    let fr = &response["parts"][0]["functionResponse"];
    assert_eq!(fr["name"], "add_task");
    assert_eq!(fr["response"]["task"]["number"], 1);
    assert_eq!(fr["response"]["task"]["title"], "buy milk");

    let third = reqs[2].json["contents"].as_array().unwrap();
    assert_eq!(third.len(), 5, "{third:?}");
    assert_eq!(third[..3], second[..]);
    assert_eq!(third[3], json!({"role": "model", "parts": model_b_parts}));
    for exact in [exact_a, serde_json::to_string(&model_b_parts).unwrap()] {
        assert!(reqs[2].raw.contains(&exact), "the parts are not byte-identical:\n{exact}\nin\n{}", reqs[2].raw);
    }
    let fr = &third[4]["parts"][0]["functionResponse"];
    assert_eq!(fr["name"], "complete_task");
    assert_eq!(fr["response"]["task"]["completed"], true);

    let messages = stored(&c, &conversation_of(&r)).await;
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1]["tool_calls"].as_array().unwrap().len(), 2);
    assert!(fake.unscripted().is_empty(), "{:?}", fake.unscripted());
    app.stop().await;
});

on_both_databases!(gemini_history_pairs_each_function_response_with_its_call, |backend: Backend| async move {
    let fake = FakeModels::start().await;
    let app = start_with_fake(backend, &fake, GEMINI, |_| {}).await;
    let (c, user) = app.signed_up("Gil").await;
    fake.push(Provider::Gemini, gemini::call("add_task", json!({"title": "buy milk"}), "c2lnLWhpc3Rvcnk="));
    fake.push(Provider::Gemini, gemini::text(&["Added task 1, buy milk."]));
    let r = chat(&c, &user, None, "add buy milk").await;
    assert_eq!(r.status, 200, "{}", r.text);
    fake.push(Provider::Gemini, gemini::text(&["One task."]));
    let r = chat(&c, &user, Some(&conversation_of(&r)), "what is on my list?").await;
    assert_eq!(r.status, 200, "{}", r.text);

    // The next turn replays the past call and its response: a response names its call's id only if the call
    // carries that id (Gemini matches responses to calls by id when one is given).
    let contents = fake.requests(Provider::Gemini)[2].json["contents"].as_array().unwrap().clone();
    let roles: Vec<&str> = contents.iter().map(|c| c["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "model", "user", "model", "user"], "{contents:?}");
    let call = &contents[1]["parts"][0]["functionCall"];
    assert_eq!(call["name"], "add_task", "{contents:?}");
    let response = &contents[2]["parts"][0]["functionResponse"];
    assert_eq!(response["name"], "add_task");
    assert_eq!(response["response"]["task"]["title"], "buy milk");
    assert_eq!(response.get("id"), call.get("id"), "the response's id matches no call: {contents:?}");
    assert_eq!(contents[3]["parts"][0]["text"], "Added task 1, buy milk.");
    app.stop().await;
});

// ---------------------------------------------------------------------------------------------------------------
// The event stream
// ---------------------------------------------------------------------------------------------------------------

on_both_databases!(the_event_stream_sends_each_step_as_it_happens, |backend: Backend| async move {
    let fake = FakeModels::start().await;
    let app = start_with_fake(backend, &fake, OPENAI, |_| {}).await;
    let (c, user) = app.signed_up("Stella").await;
    fake.push(Provider::OpenAi, openai::tool_call("call_plants", "add_task", r#"{"title":"water the plants"}"#));
    // The answer's three content chunks, then the model holds on until the test lets it finish.
    let gate = Arc::new(Notify::new());
    let mut pieces = openai::text_pieces(&["Added ", "task 1, ", "water the plants."]);
    let finish = pieces.len() - 3;
    pieces.insert(finish, Piece::Gate(gate.clone()));
    fake.push(Provider::OpenAi, Scripted::Stream(pieces));

    let mut events = EventReader::open(&app, &c, &user, json!({"message": "add water the plants"})).await;
    let mut seen = vec![];
    for _ in 0..6 {
        seen.push(events.next().await.expect("an event before the model finished"));
    }
    assert_eq!(
        kinds(&seen),
        ["turn_started", "tool_call_started", "tool_call_finished", "text_delta", "text_delta", "text_delta"],
        "{seen:?}"
    );
    // Each delta came as its own event while the model was still answering.
    let deltas: Vec<&str> = seen[3..].iter().map(|(_, e)| e["text"].as_str().unwrap()).collect();
    assert_eq!(deltas, ["Added ", "task 1, ", "water the plants."]);
    let started = &seen[0].1;
    assert_eq!(started["conversation_created"], true);
    assert_eq!(started["user_message"]["role"], "user");
    assert_eq!(started["user_message"]["content"], "add water the plants");
    let conversation = started["conversation"]["id"].as_str().unwrap().to_string();
    assert_eq!(seen[1].1["call_id"], "call_plants");
    assert_eq!(seen[1].1["name"], "add_task");
    assert_eq!(seen[1].1["arguments"], json!({"title": "water the plants"}));
    assert_eq!(seen[2].1["call_id"], "call_plants");
    assert_eq!(seen[2].1["is_error"], false);
    assert_eq!(seen[2].1["result"]["task"]["title"], "water the plants");
    assert_eq!(stored(&c, &conversation).await.len(), 1, "no answer is stored before it is done");

    gate.notify_one();
    let rest = events.rest().await;
    // The title event may come before or after the answer; nothing else may.
    let answers: Vec<&str> = kinds(&rest).into_iter().filter(|k| *k != "title_set").collect();
    assert_eq!(answers, ["answer_done"], "{rest:?}");
    let titles: Vec<&Value> = rest.iter().filter(|(k, _)| k == "title_set").map(|(_, e)| e).collect();
    assert_eq!(titles.len(), 1, "{rest:?}");
    assert_eq!(titles[0]["conversation"]["id"], conversation.as_str());
    assert_eq!(titles[0]["conversation"]["title"], "add water the plants");
    let answer = &rest.iter().find(|(k, _)| k == "answer_done").unwrap().1["message"];
    assert_eq!(answer["role"], "assistant");
    assert_eq!(answer["content"], "Added task 1, water the plants.");
    assert_eq!(answer["tool_calls"][0]["name"], "add_task");
    let messages = stored(&c, &conversation).await;
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1]["id"], answer["id"]);
    assert_eq!(tasks(&c).await, vec![task("water the plants", false)]);
    app.stop().await;
});

// ---------------------------------------------------------------------------------------------------------------
// Faults: a friendly error, the person's message kept, a retry that works
// ---------------------------------------------------------------------------------------------------------------

const QUESTION: &str = "what is on my list?";
const ANSWER: [&str; 2] = ["Your list ", "is empty."];

/// A first turn that failed with `reason`.
struct Faulted {
    app: TestApp,
    fake: FakeModels,
    c: Client,
    user: Value,
    conversation: String,
    took: Duration,
}

async fn fails_first(
    backend: Backend,
    models: &str,
    tweak: impl FnOnce(&mut ServeArgs),
    script: impl FnOnce(&FakeModels),
    reason: &str,
    retryable: bool,
) -> Faulted {
    let fake = FakeModels::start().await;
    let app = start_with_fake(backend, &fake, models, tweak).await;
    let (c, user) = app.signed_up("Faye").await;
    script(&fake);
    let started = Instant::now();
    let error = chat(&c, &user, None, QUESTION).await;
    let took = started.elapsed();
    assert_assistant_error(&error, reason, retryable);
    let conversation = conversation_of(&error);
    // The message is kept; when tools ran before the failure, a cut-short answer records them (and a retry
    // replaces it).
    let kept = stored(&c, &conversation).await;
    assert_eq!(role_content(&kept[..1]), vec![pair("user", QUESTION)], "the message is kept");
    assert!(kept[1..].iter().all(|m| m["role"] == "assistant" && m["partial"] == true), "{kept:?}");
    assert!(fake.unscripted().is_empty(), "{:?}", fake.unscripted());
    Faulted { app, fake, c, user, conversation, took }
}

impl Faulted {
    /// The same message again into the same conversation, once the model answers: stored once, answered.
    async fn retry_works(self, provider: Provider) {
        self.fake.push(
            provider,
            match provider {
                Provider::OpenAi => openai::text(&ANSWER),
                Provider::Gemini => gemini::text(&ANSWER),
            },
        );
        let r = chat(&self.c, &self.user, Some(&self.conversation), QUESTION).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["response"], ANSWER.concat());
        assert_eq!(r.json["conversation_id"], self.conversation.as_str());
        assert_eq!(
            role_content(&stored(&self.c, &self.conversation).await),
            vec![pair("user", QUESTION), pair("assistant", &ANSWER.concat())],
            "the retried message is stored once"
        );
        let last = self.fake.requests(provider).pop().unwrap();
        assert_eq!(last.raw.matches(QUESTION).count(), 1, "the model sees the question once: {}", last.raw);
        assert!(self.fake.unscripted().is_empty(), "{:?}", self.fake.unscripted());
        self.app.stop().await;
    }
}

on_both_databases!(a_model_that_never_answers_times_out, |backend: Backend| async move {
    let f = fails_first(
        backend,
        OPENAI,
        |_| {},
        |fake| {
            fake.push(Provider::OpenAi, Scripted::Hang);
            fake.push(Provider::OpenAi, Scripted::Hang);
        },
        "model_timeout",
        true,
    )
    .await;
    assert_eq!(f.fake.request_count(Provider::OpenAi), 2, "one retry after a timeout");
    assert!(f.took < Duration::from_secs(15), "the timeout took {:?}", f.took);
    f.retry_works(Provider::OpenAi).await;
});

on_both_databases!(a_model_that_stalls_mid_answer_times_out, |backend: Backend| async move {
    let f = fails_first(
        backend,
        GEMINI,
        |_| {},
        |fake| {
            fake.push(
                Provider::Gemini,
                Scripted::Stream(vec![
                    Piece::Data(gemini::event(json!([{"text": "Let me look"}]), None)),
                    Piece::Stall,
                ]),
            );
        },
        "model_timeout",
        true,
    )
    .await;
    assert_eq!(f.fake.request_count(Provider::Gemini), 1, "no retry once the answer has started");
    assert!(f.took < Duration::from_secs(15), "the timeout took {:?}", f.took);
    f.retry_works(Provider::Gemini).await;
});

on_both_databases!(a_rate_limit_then_success_is_invisible, |backend: Backend| async move {
    let fake = FakeModels::start().await;
    let app = start_with_fake(backend, &fake, OPENAI, |_| {}).await;
    let (c, user) = app.signed_up("Rita").await;
    fake.push(Provider::OpenAi, Scripted::rate_limited());
    fake.push(Provider::OpenAi, openai::text(&ANSWER));
    let r = chat(&c, &user, None, QUESTION).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["response"], ANSWER.concat());
    let reqs = fake.requests(Provider::OpenAi);
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].json, reqs[1].json, "the retry sends the same request");
    assert_eq!(role_content(&stored(&c, &conversation_of(&r)).await).len(), 2);
    app.stop().await;
});

on_both_databases!(a_rate_limit_that_persists_is_a_friendly_error, |backend: Backend| async move {
    let f = fails_first(
        backend,
        OPENAI,
        |_| {},
        |fake| {
            fake.push(Provider::OpenAi, Scripted::rate_limited());
            fake.push(Provider::OpenAi, Scripted::rate_limited());
        },
        "model_busy",
        true,
    )
    .await;
    assert_eq!(f.fake.request_count(Provider::OpenAi), 2);
    f.retry_works(Provider::OpenAi).await;
});

on_both_databases!(a_server_error_is_a_friendly_error, |backend: Backend| async move {
    let f = fails_first(
        backend,
        GEMINI,
        |_| {},
        |fake| {
            fake.push(Provider::Gemini, Scripted::server_error());
            fake.push(Provider::Gemini, Scripted::server_error());
        },
        "model_unavailable",
        true,
    )
    .await;
    assert_eq!(f.fake.request_count(Provider::Gemini), 2, "one retry after a 500");
    f.retry_works(Provider::Gemini).await;
});

on_both_databases!(a_malformed_stream_is_a_friendly_error, |backend: Backend| async move {
    let f = fails_first(
        backend,
        OPENAI,
        |_| {},
        |fake| fake.push(Provider::OpenAi, Scripted::garbage()),
        "model_garbled",
        true,
    )
    .await;
    assert_eq!(f.fake.request_count(Provider::OpenAi), 1);

    // The event stream ends with the same error as an event.
    f.fake.push(Provider::OpenAi, Scripted::garbage());
    let mut events = EventReader::open(&f.app, &f.c, &f.user, json!({"message": "add a task to buy milk"})).await;
    let all = events.rest().await;
    assert_eq!(kinds(&all), ["turn_started", "error"], "{all:?}");
    let error = &all[1].1;
    assert_eq!(error["code"], "model_garbled");
    assert_eq!(error["retryable"], true);
    assert_friendly(error["message"].as_str().unwrap());
    let other = all[0].1["conversation"]["id"].as_str().unwrap();
    assert_eq!(role_content(&stored(&f.c, other).await), vec![pair("user", "add a task to buy milk")]);

    f.retry_works(Provider::OpenAi).await;
});

on_both_databases!(a_connection_reset_mid_stream_is_a_friendly_error, |backend: Backend| async move {
    let fake = FakeModels::start().await;
    let app = start_with_fake(backend, &fake, OPENAI, |_| {}).await;
    let (c, user) = app.signed_up("Rhea").await;
    // Two content chunks; once the test has seen them arrive, the connection drops.
    let gate = Arc::new(Notify::new());
    let mut pieces = openai::text_pieces(&["Your list ", "has"]);
    pieces.truncate(3); // the role chunk and the two content chunks
    pieces.push(Piece::Gate(gate.clone()));
    pieces.push(Piece::Reset);
    fake.push(Provider::OpenAi, Scripted::Stream(pieces));
    let mut events = EventReader::open(&app, &c, &user, json!({"message": QUESTION})).await;
    let mut seen = vec![];
    for _ in 0..3 {
        seen.push(events.next().await.expect("an event before the reset"));
    }
    assert_eq!(kinds(&seen), ["turn_started", "text_delta", "text_delta"], "{seen:?}");
    gate.notify_one();
    let rest = events.rest().await;
    assert_eq!(kinds(&rest), ["error"], "{rest:?}");
    assert_eq!(rest[0].1["code"], "model_unavailable");
    assert_eq!(rest[0].1["retryable"], true);
    assert_friendly(rest[0].1["message"].as_str().unwrap());
    assert_eq!(fake.request_count(Provider::OpenAi), 1, "no retry once the answer has started");
    let conversation = seen[0].1["conversation"]["id"].as_str().unwrap().to_string();
    // The message is kept; when tools ran before the failure, a cut-short answer records them (and a retry
    // replaces it).
    let kept = stored(&c, &conversation).await;
    assert_eq!(role_content(&kept[..1]), vec![pair("user", QUESTION)], "the message is kept");
    assert!(kept[1..].iter().all(|m| m["role"] == "assistant" && m["partial"] == true), "{kept:?}");
    Faulted { app, fake, c, user, conversation, took: Duration::ZERO }.retry_works(Provider::OpenAi).await;
});

on_both_databases!(a_model_that_never_stops_calling_tools_is_stopped, |backend: Backend| async move {
    let f = fails_first(
        backend,
        OPENAI,
        |args| args.agent_max_steps = 3,
        |fake| {
            fake.forever(Provider::OpenAi, |n| openai::tool_call(&format!("call_loop_{n}"), "list_tasks", "{}"));
        },
        "too_many_steps",
        true,
    )
    .await;
    let reqs = f.fake.requests(Provider::OpenAi);
    assert_eq!(reqs.len(), 3, "stopped after the step limit");
    for (i, req) in reqs.iter().enumerate() {
        let results = oa_messages(req).into_iter().filter(|m| m["role"] == "tool").count();
        assert_eq!(results, i, "each step carries the results of the steps before it");
    }
    f.fake.stop_forever(Provider::OpenAi);
    f.retry_works(Provider::OpenAi).await;
});

on_both_databases!(a_retry_after_a_failure_mid_turn_tells_the_model_what_already_ran, |backend: Backend| async move {
    let fake = FakeModels::start().await;
    let app = start_with_fake(backend, &fake, OPENAI, |_| {}).await;
    let (c, user) = app.signed_up("Molly").await;
    // The model adds the task, then fails before it can say so.
    fake.push(Provider::OpenAi, openai::tool_call("call_add", "add_task", r#"{"title":"buy milk"}"#));
    fake.push(Provider::OpenAi, Scripted::server_error());
    fake.push(Provider::OpenAi, Scripted::server_error());
    let r = chat(&c, &user, None, "add buy milk").await;
    assert_assistant_error(&r, "model_unavailable", true);
    assert_eq!(tasks(&c).await, vec![task("buy milk", false)], "the tool ran before the failure");
    let conversation = conversation_of(&r);

    // The person does as told and tries again: the model must learn that add_task already ran, or it adds the
    // task a second time.
    fake.push(Provider::OpenAi, openai::text(&["Added task 1, buy milk."]));
    let r = chat(&c, &user, Some(&conversation), "add buy milk").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let retry = oa_messages(fake.requests(Provider::OpenAi).last().unwrap());
    let asked = retry.iter().filter(|m| m["role"] == "user" && m["content"] == "add buy milk").count();
    assert_eq!(asked, 1, "{retry:?}");
    let told = retry.iter().any(|m| m["role"] == "tool" && tool_content(m)["task"]["title"] == "buy milk");
    assert!(
        told,
        "the retry does not tell the model that add_task already ran (a second task would be added): {retry:?}"
    );
    let users = stored(&c, &conversation).await.iter().filter(|m| m["role"] == "user").count();
    assert_eq!(users, 1, "the message is stored once");
    app.stop().await;
});

// ---------------------------------------------------------------------------------------------------------------
// Bad tool calls: the model gets an error result and the turn goes on
// ---------------------------------------------------------------------------------------------------------------

on_both_databases!(an_unknown_tool_gets_an_error_result_and_the_turn_completes, |backend: Backend| async move {
    let fake = FakeModels::start().await;
    let app = start_with_fake(backend, &fake, OPENAI, |_| {}).await;
    let (c, user) = app.signed_up("Una").await;
    fake.push(Provider::OpenAi, openai::tool_call("call_rocket", "launch_rockets", r#"{"target":"moon"}"#));
    fake.push(Provider::OpenAi, openai::text(&["I can only manage your tasks."]));
    let r = chat(&c, &user, None, "launch the rockets").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["response"], "I can only manage your tasks.");
    assert_eq!(r.json["tool_calls"][0]["name"], "launch_rockets");
    assert_eq!(r.json["tool_calls"][0]["result"]["error"], "unknown_tool");

    let second = oa_messages(&fake.requests(Provider::OpenAi)[1]);
    assert_eq!(second[2]["tool_calls"][0]["function"]["name"], "launch_rockets");
    assert_eq!(second[3]["tool_call_id"], "call_rocket");
    let result = tool_content(&second[3]);
    assert_eq!(result["error"], "unknown_tool", "{result}");
    assert!(result["message"].as_str().unwrap().contains("add_task"), "the error names the real tools: {result}");

    let messages = stored(&c, &conversation_of(&r)).await;
    assert_eq!(messages[1]["tool_calls"][0]["result"]["error"], "unknown_tool");
    assert!(tasks(&c).await.is_empty());
    app.stop().await;
});

on_both_databases!(invalid_arguments_get_an_error_result_and_the_turn_completes, |backend: Backend| async move {
    let fake = FakeModels::start().await;
    let app = start_with_fake(backend, &fake, OPENAI, |_| {}).await;
    let (c, user) = app.signed_up("Ivan").await;
    assert_eq!(c.post("/api/tasks", json!({"title": "keep me"})).await.status, 201);
    let broken = r#"{"task_id": 1,"#;
    fake.push(
        Provider::OpenAi,
        openai::tool_calls(&[
            ("call_broken", "complete_task", broken),
            ("call_wrong_type", "complete_task", r#"{"task_id": "the first one"}"#),
        ]),
    );
    fake.push(Provider::OpenAi, openai::text(&["Sorry, which task did you mean?"]));
    let r = chat(&c, &user, None, "finish the first one").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["response"], "Sorry, which task did you mean?");
    let calls = r.json["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["arguments"], broken, "unreadable arguments are kept as sent");
    assert_eq!(calls[0]["result"]["error"], "invalid_arguments");
    assert_eq!(calls[1]["result"]["error"], "invalid_arguments");

    let second = oa_messages(&fake.requests(Provider::OpenAi)[1]);
    let sent = second[2]["tool_calls"].as_array().unwrap();
    assert_eq!(sent[0]["function"]["arguments"], broken, "the call is replayed exactly as the model sent it");
    assert_eq!(sent[1]["id"], "call_wrong_type");
    assert_eq!(second[3]["tool_call_id"], "call_broken");
    assert_eq!(tool_content(&second[3])["error"], "invalid_arguments");
    assert_eq!(second[4]["tool_call_id"], "call_wrong_type");
    let wrong = tool_content(&second[4]);
    assert_eq!(wrong["error"], "invalid_arguments");
    assert!(wrong["message"].as_str().unwrap().contains("task_id"), "{wrong}");
    assert_eq!(tasks(&c).await, vec![task("keep me", false)], "nothing was changed");
    app.stop().await;
});

// ---------------------------------------------------------------------------------------------------------------
// Fallback between providers
// ---------------------------------------------------------------------------------------------------------------

on_both_databases!(a_failing_first_provider_falls_back_to_the_second, |backend: Backend| async move {
    let fake = FakeModels::start().await;
    let app = start_with_fake(backend, &fake, GEMINI_THEN_OPENAI, |_| {}).await;
    let (c, user) = app.signed_up("Fern").await;

    // Gemini fails (after its retry); OpenAI answers.
    fake.push(Provider::Gemini, Scripted::server_error());
    fake.push(Provider::Gemini, Scripted::server_error());
    fake.push(Provider::OpenAi, openai::text(&["OpenAI ", "here."]));
    let r = chat(&c, &user, None, QUESTION).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["response"], "OpenAI here.");
    assert_eq!(fake.request_count(Provider::Gemini), 2);
    assert_eq!(fake.request_count(Provider::OpenAi), 1);
    let sent = oa_messages(&fake.requests(Provider::OpenAi)[0]);
    assert_eq!(sent.last().unwrap(), &json!({"role": "user", "content": QUESTION}));
    let conversation = conversation_of(&r);

    // A garbled stream from Gemini, before any output, hands over too.
    fake.push(Provider::Gemini, Scripted::garbage());
    fake.push(Provider::OpenAi, openai::text(&["Still ", "OpenAI."]));
    let r = chat(&c, &user, Some(&conversation), "and now?").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["response"], "Still OpenAI.");

    // A tool step can fall back mid-turn: Gemini calls a tool, then fails; OpenAI finishes the turn.
    fake.push(Provider::Gemini, gemini::call("add_task", json!({"title": "buy milk"}), "c2lnLWZhbGxiYWNr"));
    fake.push(Provider::Gemini, Scripted::server_error());
    fake.push(Provider::Gemini, Scripted::server_error());
    fake.push(Provider::OpenAi, openai::text(&["Added task 1, buy milk."]));
    let r = chat(&c, &user, Some(&conversation), "add buy milk").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["response"], "Added task 1, buy milk.");
    assert_eq!(tasks(&c).await, vec![task("buy milk", false)]);
    let sent = oa_messages(&fake.requests(Provider::OpenAi)[2]);
    let n = sent.len();
    assert_eq!(sent[n - 2]["tool_calls"][0]["function"]["name"], "add_task", "{sent:?}");
    assert_eq!(tool_content(&sent[n - 1])["task"]["number"], 1);

    // Both fail: a friendly error, the message kept; the retry is answered by the first provider again.
    for p in [Provider::Gemini, Provider::Gemini, Provider::OpenAi, Provider::OpenAi] {
        fake.push(p, Scripted::server_error());
    }
    let r = chat(&c, &user, Some(&conversation), "last question").await;
    assert_assistant_error(&r, "model_unavailable", true);
    let before = stored(&c, &conversation).await;
    assert_eq!(role_content(&before).last().unwrap(), &pair("user", "last question"));
    fake.push(Provider::Gemini, gemini::text(&["Gemini is back."]));
    let r = chat(&c, &user, Some(&conversation), "last question").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["response"], "Gemini is back.");
    let after = stored(&c, &conversation).await;
    assert_eq!(after.len(), before.len() + 1, "the retried message is stored once");
    assert!(fake.unscripted().is_empty(), "{:?}", fake.unscripted());
    app.stop().await;
});

// ---------------------------------------------------------------------------------------------------------------
// The builtin assistant
// ---------------------------------------------------------------------------------------------------------------

on_both_databases!(the_builtin_assistant_follows_a_conversation, |backend: Backend| async move {
    let app = start_builtin(backend).await;
    let (c, user) = app.signed_up("Bea").await;
    assert_eq!(c.post("/api/tasks", json!({"title": "call mom"})).await.status, 201);

    let r = chat(&c, &user, None, "add a task to buy milk").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["tool_calls"][0]["name"], "add_task", "{}", r.text);
    assert_eq!(tasks(&c).await, vec![task("call mom", false), task("buy milk", false)]);
    let conversation = conversation_of(&r);

    let r = chat(&c, &user, Some(&conversation), "mark it done").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["tool_calls"][0]["name"], "complete_task", "{}", r.text);
    assert_eq!(r.json["tool_calls"][0]["result"]["task"]["number"], 2, "{}", r.text);
    assert_eq!(tasks(&c).await, vec![task("call mom", false), task("buy milk", true)], "\"it\" is the task just added");

    let r = chat(&c, &user, Some(&conversation), "what's done?").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let answer = r.json["response"].as_str().unwrap();
    assert!(answer.contains("buy milk"), "{answer}");
    assert!(!answer.contains("call mom"), "{answer}");
    assert_eq!(tasks(&c).await, vec![task("call mom", false), task("buy milk", true)], "a question changes nothing");

    let roles: Vec<String> = role_content(&stored(&c, &conversation).await).into_iter().map(|(r, _)| r).collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant", "user", "assistant"]);
    app.stop().await;
});

/// Today in `zone`, as the server reckons it for a person living there.
fn today_in(zone: &str) -> jiff::civil::Date {
    jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::get(zone).unwrap()).date()
}

on_both_databases!(the_builtin_assistant_sets_due_dates_priorities_and_labels, |backend: Backend| async move {
    let app = start_builtin(backend).await;
    let (c, user) = app.signed_up("Dee").await;
    let r = c.post("/api/auth/update-user", json!({"timezone": "Pacific/Auckland"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let today = today_in("Pacific/Auckland");
    let tomorrow = today.tomorrow().unwrap().to_string();

    // Words become fields, reckoned in the person's zone, and the title keeps only the task.
    let r = chat(&c, &user, None, "add buy milk tomorrow at 5pm #groceries").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let conversation = conversation_of(&r);
    let t = c.get("/api/tasks/1").await.json;
    assert_eq!(t["title"], "buy milk", "{t}");
    assert_eq!(t["due"]["date"], tomorrow.as_str(), "{t}");
    assert_eq!(t["due"]["time"], "17:00", "{t}");
    assert_eq!(t["due"]["timezone"], "Pacific/Auckland", "{t}");
    assert_eq!(t["labels"], json!(["groceries"]), "{t}");
    let at: jiff::Timestamp = t["due"]["at"].as_str().unwrap().parse().unwrap();
    let local = at.to_zoned_datetime(jiff::tz::TimeZone::get("Pacific/Auckland").unwrap());
    assert_eq!((local.date().to_string(), local.hour()), (tomorrow.clone(), 17), "the instant is 17:00 there");
    let answer = r.json["response"].as_str().unwrap();
    assert!(answer.contains("buy milk") && answer.contains("tomorrow 17:00"), "{answer}");

    let r = chat(&c, &user, Some(&conversation), "make it urgent").await;
    assert_eq!(r.json["tool_calls"][0]["name"], "update_task", "{}", r.text);
    assert_eq!(c.get("/api/tasks/1").await.json["priority"], "urgent");

    for title in ["call the plumber today", "pay rent today", "water the plants"] {
        let r = chat(&c, &user, Some(&conversation), &format!("add {title}")).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let r = chat(&c, &user, Some(&conversation), "what's due today?").await;
    let answer = r.json["response"].as_str().unwrap().to_string();
    assert!(answer.contains("2 pending tasks due today"), "{answer}");
    assert!(answer.contains("call the plumber") && answer.contains("pay rent"), "{answer}");
    assert!(!answer.contains("water the plants") && !answer.contains("buy milk"), "{answer}");

    // A group move: every task due today, and nothing else.
    let r = chat(&c, &user, Some(&conversation), "push everything due today to tomorrow").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let calls = r.json["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2, "{}", r.text);
    let list = c.get("/api/tasks?due=today").await.json;
    assert_eq!(list["count"], 0, "{list}");
    let moved = c.get(&format!("/api/tasks?due=on:{tomorrow}")).await.json;
    let titles: Vec<&str> = moved["tasks"].as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap()).collect();
    // By due: a time that day sorts before the all-day tasks.
    assert_eq!(titles, ["buy milk", "call the plumber", "pay rent"], "{moved}");
    assert!(c.get("/api/tasks/4").await.json["due"].is_null(), "untouched");

    // Done, then reopened.
    let r = chat(&c, &user, Some(&conversation), "mark 4 done").await;
    assert_eq!(r.json["tool_calls"][0]["name"], "complete_task", "{}", r.text);
    let r = chat(&c, &user, Some(&conversation), "reopen 4").await;
    assert_eq!(r.json["tool_calls"][0]["name"], "reopen_task", "{}", r.text);
    assert_eq!(c.get("/api/tasks/4").await.json["completed"], false);
    app.stop().await;
});

on_both_databases!(the_builtin_assistant_answers_a_page_at_a_time, |backend: Backend| async move {
    let app = start_builtin(backend).await;
    let (c, user) = app.signed_up("Pia").await;
    for n in 1..=30 {
        assert_eq!(c.post("/api/tasks", json!({"title": format!("errand {n}")})).await.status, 201);
    }
    let r = chat(&c, &user, None, "what's left?").await;
    let first = r.json["response"].as_str().unwrap().to_string();
    assert!(first.starts_with("You have 30 pending tasks:"), "{first}");
    assert!(first.contains("1. errand 1") && first.contains("25. errand 25"), "{first}");
    assert!(!first.contains("26. errand 26"), "{first}");
    assert!(first.contains("Showing 25 of 30"), "{first}");
    let r = chat(&c, &user, Some(&conversation_of(&r)), "more").await;
    let second = r.json["response"].as_str().unwrap().to_string();
    assert!(second.contains("26. errand 26") && second.contains("30. errand 30"), "{second}");
    assert!(!second.contains("25. errand 25") && !second.contains("Showing"), "{second}");
    let r = chat(&c, &user, Some(&conversation_of(&r)), "more").await;
    assert!(r.json["response"].as_str().unwrap().contains("nothing more"), "{}", r.text);
    app.stop().await;
});

// ---------------------------------------------------------------------------------------------------------------
// Isolation between people
// ---------------------------------------------------------------------------------------------------------------

on_both_databases!(a_conversation_is_invisible_to_everyone_else, |backend: Backend| async move {
    let app = start_builtin(backend).await;
    let (a, alice) = app.signed_up("Alice").await;
    let (b, bob) = app.signed_up("Bob").await;
    let r = chat(&a, &alice, None, "add a task to buy milk").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let conversation = conversation_of(&r);
    let before = stored(&a, &conversation).await;

    let list = b.get("/api/conversations").await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.json["conversations"], json!([]));
    b.get(&format!("/api/conversations/{conversation}")).await.assert_json_error(404, "CONVERSATION_NOT_FOUND");
    b.get(&format!("/api/conversations/{conversation}/messages"))
        .await
        .assert_json_error(404, "CONVERSATION_NOT_FOUND");
    b.delete(&format!("/api/conversations/{conversation}")).await.assert_json_error(404, "CONVERSATION_NOT_FOUND");
    chat(&b, &bob, Some(&conversation), "mark it done").await.assert_json_error(404, "CONVERSATION_NOT_FOUND");
    chat(&b, &alice, None, "add a task to steal").await.assert_json_error(403, "FORBIDDEN");
    chat(&b, &alice, Some(&conversation), "mark it done").await.assert_json_error(403, "FORBIDDEN");
    let anonymous = app.client();
    assert_eq!(anonymous.get("/api/conversations").await.status, 401);
    assert_eq!(chat(&anonymous, &alice, Some(&conversation), "mark it done").await.status, 401);

    // Alice's conversation and tasks are as she left them; Bob has nothing.
    let mine = a.get(&format!("/api/conversations/{conversation}")).await;
    assert_eq!(mine.status, 200, "{}", mine.text);
    assert_eq!(stored(&a, &conversation).await, before);
    assert_eq!(tasks(&a).await, vec![task("buy milk", false)]);
    assert!(tasks(&b).await.is_empty());
    assert_eq!(a.get("/api/conversations").await.json["conversations"].as_array().unwrap().len(), 1);
    app.stop().await;
});

on_both_databases!(a_model_can_only_touch_the_callers_tasks, |backend: Backend| async move {
    let fake = FakeModels::start().await;
    let app = start_with_fake(backend, &fake, OPENAI, |_| {}).await;
    let (a, alice) = app.signed_up("Alice").await;
    let (b, bob) = app.signed_up("Bob").await;
    assert_eq!(a.post("/api/tasks", json!({"title": "alice's secret plan"})).await.status, 201);
    let alice_id = uid(&alice);

    // Bob has no tasks: whatever the model puts in the arguments, it reaches nothing of Alice's.
    let with_alice = |v: Value| {
        let mut v = v;
        v["user_id"] = json!(alice_id);
        v.to_string()
    };
    let calls = [
        with_alice(json!({"task_id": 1})),
        with_alice(json!({"status": "all"})),
        with_alice(json!({"task_id": 1, "title": "hacked"})),
        with_alice(json!({"task_id": 1})),
    ];
    fake.push(
        Provider::OpenAi,
        openai::tool_calls(&[
            ("call_1", "complete_task", &calls[0]),
            ("call_2", "list_tasks", &calls[1]),
            ("call_3", "update_task", &calls[2]),
            ("call_4", "delete_task", &calls[3]),
        ]),
    );
    fake.push(Provider::OpenAi, openai::text(&["There is nothing to do."]));
    let r = chat(&b, &bob, None, "complete Alice's task 1").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let results: Vec<&Value> = r.json["tool_calls"].as_array().unwrap().iter().map(|c| &c["result"]).collect();
    assert_eq!(results[0]["error"], "not_found", "{}", r.text);
    assert_eq!(results[1]["count"], 0, "{}", r.text);
    assert_eq!(results[2]["error"], "not_found", "{}", r.text);
    assert_eq!(results[3]["error"], "not_found", "{}", r.text);
    let next = &fake.requests(Provider::OpenAi)[1];
    assert!(!next.raw.contains("secret plan"), "Alice's task reached the model: {}", next.raw);
    assert_eq!(tasks(&a).await, vec![task("alice's secret plan", false)]);

    // Bob's own task 1 is the one the call reaches.
    assert_eq!(b.post("/api/tasks", json!({"title": "bob's chores"})).await.json["number"], 1);
    fake.push(Provider::OpenAi, openai::tool_call("call_5", "complete_task", &calls[0]));
    fake.push(Provider::OpenAi, openai::text(&["Done."]));
    let r = chat(&b, &bob, None, "complete task 1").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["tool_calls"][0]["result"]["task"]["title"], "bob's chores", "{}", r.text);
    assert_eq!(tasks(&b).await, vec![task("bob's chores", true)]);
    assert_eq!(tasks(&a).await, vec![task("alice's secret plan", false)], "Alice's task is untouched");
    app.stop().await;
});

// ---------------------------------------------------------------------------------------------------------------
// The conversations API
// ---------------------------------------------------------------------------------------------------------------

/// The conversation once it has its title. The wait is bounded and only covers the title write trailing the
/// JSON answer, which `the_title_is_stored_before_the_json_answer_returns` reports on its own.
async fn titled(c: &Client, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = c.get(&format!("/api/conversations/{id}")).await;
        assert_eq!(got.status, 200, "{}", got.text);
        if got.json["title"].is_string() {
            return got.json;
        }
        assert!(Instant::now() < deadline, "the conversation never got a title: {}", got.text);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn ids(list: &Reply) -> Vec<String> {
    assert_eq!(list.status, 200, "{}", list.text);
    list.json["conversations"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect()
}

on_both_databases!(conversations_are_titled_listed_paged_and_deleted, |backend: Backend| async move {
    let app = start_builtin(backend).await;
    let (c, user) = app.signed_up("Cora").await;
    let long = "please add a task to write the quarterly report for the finance team before the end of next week";
    let mut convs = vec![];
    for message in ["add a task to buy milk", "add call mom", long] {
        let r = chat(&c, &user, None, message).await;
        assert_eq!(r.status, 200, "{}", r.text);
        convs.push(conversation_of(&r));
    }
    let (first, second, third) = (convs[0].clone(), convs[1].clone(), convs[2].clone());

    // Newest first; another message moves a conversation to the top and keeps its title.
    assert_eq!(ids(&c.get("/api/conversations").await), [third.clone(), second.clone(), first.clone()]);
    let r = chat(&c, &user, Some(&first), "what's left?").await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Titles come from the first message, cut at a word when long.
    let got = titled(&c, &first).await;
    assert_eq!(got["id"], first.as_str());
    assert_eq!(got["title"], "add a task to buy milk");
    assert!(got["created_at"].is_string() && got["updated_at"].is_string());
    let got = titled(&c, &third).await;
    assert_eq!(got["title"], "please add a task to write the quarterly report for the…");
    let all = c.get("/api/conversations").await;
    assert_eq!(ids(&all), [first.clone(), third.clone(), second.clone()]);
    assert_eq!(all.json["next_cursor"], Value::Null);
    assert_eq!(all.json["conversations"][0]["title"], "add a task to buy milk");

    // Pages.
    let page = c.get("/api/conversations?limit=2").await;
    assert_eq!(ids(&page), [first.clone(), third.clone()]);
    let cursor = page.json["next_cursor"].as_str().expect("a next cursor").to_string();
    let page = c.get(&format!("/api/conversations?limit=2&cursor={cursor}")).await;
    assert_eq!(ids(&page), [second.as_str()]);
    assert_eq!(page.json["next_cursor"], Value::Null);
    c.get("/api/conversations?cursor=not-a-cursor").await.assert_json_error(400, "VALIDATION_ERROR");

    // Messages oldest first, by cursor.
    let page = c.get(&format!("/api/conversations/{first}/messages?limit=3")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let messages = page.json["messages"].as_array().unwrap();
    let roles: Vec<&str> = messages.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "user"]);
    assert_eq!(messages[0]["content"], "add a task to buy milk");
    assert_eq!(messages[2]["content"], "what's left?");
    for m in messages {
        assert!(m["id"].is_string() && m["created_at"].is_string() && m["tool_calls"].is_array(), "{m}");
    }
    let cursor = page.json["next_cursor"].as_str().expect("a next cursor").to_string();
    let page = c.get(&format!("/api/conversations/{first}/messages?limit=3&cursor={cursor}")).await;
    let messages = page.json["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{}", page.text);
    assert_eq!(messages[0]["role"], "assistant");
    assert_eq!(page.json["next_cursor"], Value::Null);
    c.get(&format!("/api/conversations/{first}/messages?cursor=x")).await.assert_json_error(400, "VALIDATION_ERROR");

    // Delete: 204, then gone everywhere.
    assert_eq!(c.delete(&format!("/api/conversations/{third}")).await.status, 204);
    c.get(&format!("/api/conversations/{third}")).await.assert_json_error(404, "CONVERSATION_NOT_FOUND");
    c.get(&format!("/api/conversations/{third}/messages")).await.assert_json_error(404, "CONVERSATION_NOT_FOUND");
    c.delete(&format!("/api/conversations/{third}")).await.assert_json_error(404, "CONVERSATION_NOT_FOUND");
    chat(&c, &user, Some(&third), "hello again").await.assert_json_error(404, "CONVERSATION_NOT_FOUND");
    assert_eq!(ids(&c.get("/api/conversations").await), [first, second]);
    app.stop().await;
});

// A JSON answer means the turn is over, title included: a client that reloads the conversation list right
// after the answer sees the title. A trigger slows the title write down, so an answer returned before the
// title is stored shows every time.
on_both_databases!(the_title_is_stored_before_the_json_answer_returns, |backend: Backend| async move {
    let app = start_builtin(backend).await;
    slow_down_title_writes(&app).await;
    let (c, user) = app.signed_up("Tia").await;
    let r = chat(&c, &user, None, "add a task to buy milk").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let conversation = conversation_of(&r);
    let right_after = c.get(&format!("/api/conversations/{conversation}")).await;
    assert_eq!(right_after.status, 200, "{}", right_after.text);
    // The slowed write does land (the trigger only delays it)…
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = c.get(&format!("/api/conversations/{conversation}")).await;
        if got.json["title"] == "add a task to buy milk" {
            break;
        }
        assert!(Instant::now() < deadline, "the title was never stored: {}", got.text);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // …but the answer had already been sent before it.
    assert_eq!(
        right_after.json["title"], "add a task to buy milk",
        "the JSON answer came back before the conversation's title was stored"
    );
    app.stop().await;
});

/// Makes every write of a conversation's title take about a second (the rest of the row's updates stay fast).
async fn slow_down_title_writes(app: &TestApp) {
    match app.backend {
        Backend::Postgres => {
            app.exec(
                "CREATE FUNCTION slow_title() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN PERFORM pg_sleep(1); RETURN NEW; END $$",
                &[],
            )
            .await;
            app.exec(
                "CREATE TRIGGER slow_title BEFORE UPDATE ON conversation FOR EACH ROW \
                 WHEN (NEW.title IS DISTINCT FROM OLD.title) EXECUTE FUNCTION slow_title()",
                &[],
            )
            .await;
        }
        Backend::Sqlite => {
            // SQLite cannot sleep: a cross join of 3000 × 3000 rows keeps the write busy instead.
            app.exec("CREATE TABLE slow_rows (x INTEGER)", &[]).await;
            app.exec(
                "INSERT INTO slow_rows (x) WITH RECURSIVE n(x) AS \
                 (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 3000) SELECT x FROM n",
                &[],
            )
            .await;
            app.exec(
                "CREATE TRIGGER slow_title BEFORE UPDATE OF title ON conversation WHEN NEW.title IS NOT OLD.title \
                 BEGIN SELECT sum(a.x * b.x) FROM slow_rows a, slow_rows b; END",
                &[],
            )
            .await;
        }
    }
}

on_both_databases!(a_model_sets_changes_clears_and_filters_rich_fields, |backend: Backend| async move {
    let fake = FakeModels::start().await;
    let app = start_with_fake(backend, &fake, OPENAI, |_| {}).await;
    let (c, user) = app.signed_up("Riley").await;
    assert_eq!(c.post("/api/auth/update-user", json!({"timezone": "Pacific/Auckland"})).await.status, 200);
    let add = r#"{"title":"pay rent","due":"2026-12-24 09:00","priority":"high","labels":["home","Money"]}"#;
    fake.push(Provider::OpenAi, openai::tool_call("c1", "add_task", add));
    fake.push(Provider::OpenAi, openai::tool_call("c2", "add_task", r#"{"title":"water plants","labels":["home"]}"#));
    fake.push(
        Provider::OpenAi,
        openai::tool_call("c3", "list_tasks", r#"{"label":"home","priority":"high","search":"rent","limit":5}"#),
    );
    fake.push(
        Provider::OpenAi,
        openai::tool_call(
            "c4",
            "update_task",
            r#"{"task_id":1,"due":"none","priority":"urgent","remove_labels":["money"],"add_labels":["bills"]}"#,
        ),
    );
    fake.push(Provider::OpenAi, openai::tool_call("c5", "update_task", r#"{"task_id":2,"due":"someday maybe"}"#));
    fake.push(Provider::OpenAi, openai::tool_call("c6", "list_tasks", r#"{"label":"home","limit":1}"#));
    fake.push(Provider::OpenAi, openai::text(&["Done."]));

    let r = chat(&c, &user, None, "plan my week").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let calls = r.json["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 6, "{}", r.text);
    let added = &calls[0]["result"]["task"];
    assert_eq!(added["due"]["date"], "2026-12-24");
    assert_eq!(added["due"]["time"], "09:00");
    assert_eq!(added["due"]["timezone"], "Pacific/Auckland");
    assert!(added["due"]["when"].as_str().is_some_and(|w| w.contains("09:00")), "{added}");
    assert_eq!(added["priority"], "high");
    assert_eq!(added["labels"], json!(["home", "Money"]));
    let listed = &calls[2]["result"];
    assert_eq!(listed["count"], 1, "{listed}");
    assert_eq!(listed["tasks"][0]["number"], 1);
    let updated = &calls[3]["result"]["task"];
    assert_eq!(updated["due"], Value::Null);
    assert_eq!(updated["priority"], "urgent");
    assert_eq!(updated["labels"], json!(["home", "bills"]));
    // A due the parser cannot read is an error result quoting it, and task 2 is unchanged.
    let refused = &calls[4]["result"];
    assert!(refused.to_string().contains("someday maybe"), "{refused}");
    assert_eq!(c.get("/api/tasks/2").await.json["due"], Value::Null);
    // One page at a time, with the total and how to get the next.
    let page = &calls[5]["result"];
    assert_eq!((page["count"].clone(), page["total"].clone()), (json!(1), json!(2)), "{page}");
    assert!(page["next_cursor"].is_string(), "{page}");

    // REST sees what the tools did.
    let one = c.get("/api/tasks/1").await.json;
    assert_eq!((one["priority"].clone(), one["labels"].clone()), (json!("urgent"), json!(["home", "bills"])));
    let first = c.get("/api/tasks?label=home&sort=number").await.json;
    assert_eq!(first["count"], 2);
    // And the model was told the person's zone and date.
    let reqs = fake.requests(Provider::OpenAi);
    let system = oa_messages(&reqs[0])[0]["content"].as_str().unwrap().to_string();
    assert!(system.contains("Pacific/Auckland"), "{system}");
    app.stop().await;
});
