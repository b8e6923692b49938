//! Hostile input. Property tests throw random and malformed requests (methods, paths, ids, queries, headers,
//! credentials, bodies) at every door — REST, the chat endpoint, /api/auth, ChatKit, MCP — and every answer must
//! be a success or a 4xx JSON error, never a 5xx, a panic or a hang. Then: oversized bodies refused before they
//! are read whole; a cross-user battery that tries everything of one person's as another, on every door, and
//! finds it all denied and unchanged; sign-in brute force stopped; and an unknown email that takes as long to
//! refuse as a wrong password.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{
    Backend, Client, LIMIT_WINDOW, PASSWORD, Reply, TRUSTED, TestApp, limit_to_three, postgres_available,
};
use crate::on_both_databases;

/// Cases per property: enough to reach every route and shape many times over, few enough to stay fast.
const CASES: u32 = 96;
/// The longest any one request may take, its body included.
const REQUEST_LIMIT: Duration = Duration::from_secs(20);

/// The builtin assistant (no model keys), so chat turns need no model service.
async fn start_app(backend: Backend, tweak: impl FnOnce(&mut taskchat::config::ServeArgs)) -> TestApp {
    TestApp::start_with(backend, |a| {
        a.models = None;
        a.openai_api_key = None;
        a.gemini_api_key = None;
        tweak(a);
    })
    .await
}

// ---------------------------------------------------------------------------------------------------------------
// A person with a bit of everything
// ---------------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Person {
    id: String,
    email: String,
    /// The browser's Cookie header.
    cookie: String,
    /// The raw session token (a bearer credential) and the session's id.
    token: String,
    session_id: String,
    jwt: String,
    task_id: String,
    task_title: String,
    conversation: String,
    /// The ids of the person's message and of the assistant's answer in that conversation.
    question_id: String,
    answer_id: String,
}

impl Person {
    fn client(&self, app: &TestApp) -> Client {
        let c = app.client();
        for pair in self.cookie.split("; ") {
            let (name, value) = pair.split_once('=').unwrap();
            c.cookies.lock().unwrap().insert(name.to_string(), value.to_string());
        }
        c
    }
}

/// Signs up `name`, with a task, a conversation (a question and a tool-using answer) and a JWT.
async fn person(app: &TestApp, name: &str) -> Person {
    let (c, user) = app.signed_up(name).await;
    let session = c.get("/api/auth/get-session").await;
    assert_eq!(session.status, 200, "{}", session.text);
    let jwt = c.get("/api/auth/token").await;
    assert_eq!(jwt.status, 200, "{}", jwt.text);
    let slug = name.to_lowercase();
    let task_title = format!("{slug}-secret-plan");
    let task = c.post("/api/tasks", json!({"title": task_title, "description": format!("{slug}-secret-notes")})).await;
    assert_eq!(task.status, 201, "{}", task.text);
    let question = format!("add a task to {slug}-secret-errand");
    let id = user["id"].as_str().unwrap().to_string();
    let chat = c.post(&format!("/api/{id}/chat"), json!({ "message": question })).await;
    assert_eq!(chat.status, 200, "{}", chat.text);
    let conversation = chat.json["conversation_id"].as_str().unwrap().to_string();
    let messages = c.get(&format!("/api/conversations/{conversation}/messages")).await;
    assert_eq!(messages.status, 200, "{}", messages.text);
    Person {
        id,
        email: user["email"].as_str().unwrap().to_string(),
        cookie: c.cookie_header().unwrap(),
        token: session.json["session"]["token"].as_str().unwrap().to_string(),
        session_id: session.json["session"]["id"].as_str().unwrap().to_string(),
        jwt: jwt.json["token"].as_str().unwrap().to_string(),
        task_id: task.json["id"].as_str().unwrap().to_string(),
        task_title,
        conversation,
        question_id: messages.json["messages"][0]["id"].as_str().unwrap().to_string(),
        answer_id: chat.json["message_id"].as_str().unwrap().to_string(),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Generated requests
// ---------------------------------------------------------------------------------------------------------------

/// Values of the fixture person that generated text may name; replaced when the request is sent.
const PLACEHOLDERS: &[&str] = &[
    "@ME@",
    "@EMAIL@",
    "@PASSWORD@",
    "@TOKEN@",
    "@SESSION@",
    "@CONV@",
    "@MSG@",
    "@ANSWER@",
    "@TASKID@",
    "wf_@ANSWER@",
];

const NASTY: &[&str] = &[
    "",
    " ",
    "0",
    "-1",
    "1.5",
    "1e309",
    "99999999999999999999999999",
    "9223372036854775808",
    "null",
    "true",
    "[]",
    "{}",
    "\u{0}",
    "\u{202e}evil",
    "\u{feff}",
    "../../etc/passwd",
    "%00",
    "%FF%FE",
    "' OR 1=1 --",
    "\"; DROP TABLE task; --",
    "<script>alert(1)</script>",
    "😀",
    "\\",
    "\"",
    "a@b.co",
    "@",
    "wf_",
    "Bearer",
    "\r\n",
    "𝕏\u{301}\u{301}\u{301}",
];

fn text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => "[a-z0-9 ]{0,12}",
        2 => "\\PC{0,24}",
        2 => prop::sample::select(PLACEHOLDERS).prop_map(str::to_string),
        2 => prop::sample::select(NASTY).prop_map(str::to_string),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => (1usize..20_000).prop_map(|n| "x".repeat(n)),
    ]
    .boxed()
}

const FIELDS: &[&str] = &[
    "title",
    "description",
    "completed",
    "message",
    "conversation_id",
    "status",
    "limit",
    "cursor",
    "name",
    "email",
    "password",
    "image",
    "callbackURL",
    "rememberMe",
    "token",
    "currentPassword",
    "newPassword",
    "revokeOtherSessions",
    "user_id",
    "userId",
    "id",
    "type",
    "params",
    "thread_id",
    "item_id",
    "item_ids",
    "input",
    "content",
    "attachments",
    "quoted_text",
    "order",
    "after",
    "kind",
    "task_id",
    "arguments",
    "jsonrpc",
    "method",
];

fn field() -> BoxedStrategy<String> {
    prop_oneof![4 => prop::sample::select(FIELDS).prop_map(str::to_string), 1 => "[a-zA-Z_]{1,12}"].boxed()
}

fn json_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        Just(json!(u64::MAX)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((field(), inner), 0..5).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
    .boxed()
}

/// A JSON object of some of `fields`, with values of any type.
fn object_of(fields: &'static [&'static str], values: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    prop::collection::vec((prop::sample::select(fields), values), 0..5)
        .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
        .boxed()
}

/// A body built around `shaped` (the door's own kind of JSON), or any JSON, bytes, a form, a truncated document.
fn body(shaped: BoxedStrategy<Value>) -> BoxedStrategy<Option<Vec<u8>>> {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(vec![])),
        12 => shaped.clone().prop_map(|v| Some(v.to_string().into_bytes())),
        2 => json_value().prop_map(|v| Some(v.to_string().into_bytes())),
        1 => prop::collection::vec(any::<u8>(), 0..256).prop_map(Some),
        1 => (shaped, any::<prop::sample::Index>()).prop_map(|(v, i)| {
            let s = v.to_string().into_bytes();
            let cut = i.index(s.len().max(1));
            Some(s[..cut].to_vec())
        }),
        1 => prop::collection::vec((field(), text()), 0..5).prop_map(|kv| {
            let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
            Some(kv.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&").into_bytes())
        }),
    ]
    .boxed()
}

#[derive(Debug, Clone)]
enum Cred {
    None,
    Cookie,
    Bearer,
    Jwt,
    Junk(String),
    JunkCookie(String),
}

fn cred(weights: [u32; 6]) -> BoxedStrategy<Cred> {
    prop_oneof![
        weights[0] => Just(Cred::Cookie),
        weights[1] => Just(Cred::Bearer),
        weights[2] => Just(Cred::Jwt),
        weights[3] => Just(Cred::None),
        weights[4] => "[ -~]{0,60}".prop_map(Cred::Junk),
        weights[5] => "[!-:<-~]{0,60}".prop_map(Cred::JunkCookie),
    ]
    .boxed()
}

/// A path segment: one of the fixture's real ids, or anything.
#[derive(Debug, Clone)]
enum Seg {
    Real(&'static str),
    Junk(String),
    /// Put in the path as is: percent-escapes that decode to no text.
    Raw(&'static str),
}

fn seg() -> BoxedStrategy<Seg> {
    prop_oneof![
        3 => Just(Seg::Real("1")),
        3 => Just(Seg::Real("@ME@")),
        3 => Just(Seg::Real("@CONV@")),
        1 => prop::sample::select(&["@TASKID@", "@MSG@", "@ANSWER@", "2"][..]).prop_map(Seg::Real),
        3 => text().prop_map(Seg::Junk),
        1 => prop::sample::select(&["%FF", "%C3%28", "%ED%A0%80", "%", "%zz", "%2F", "%00"][..]).prop_map(Seg::Raw),
    ]
    .boxed()
}

#[derive(Debug, Clone)]
struct Req {
    method: &'static str,
    /// With `{}` for each segment.
    template: &'static str,
    segs: Vec<Seg>,
    query: Option<Vec<(String, String)>>,
    content_type: Option<String>,
    body: Option<Body>,
    cred: Cred,
    origin: Option<String>,
    accept: Option<String>,
    headers: Vec<(String, String)>,
}

/// A body, shown as text when a failing case is printed.
#[derive(Clone)]
struct Body(Vec<u8>);

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

fn content_type() -> BoxedStrategy<Option<String>> {
    prop_oneof![
        12 => Just(Some("application/json".to_string())),
        1 => Just(None),
        1 => Just(Some("application/json; charset=utf-8".to_string())),
        1 => Just(Some("text/plain".to_string())),
        1 => Just(Some("application/x-www-form-urlencoded".to_string())),
        1 => Just(Some("application/merge-patch+json".to_string())),
        1 => Just(Some("multipart/form-data; boundary=x".to_string())),
        1 => "[ -~]{0,30}".prop_map(Some),
    ]
    .boxed()
}

/// The Origin header: mostly the trusted page (or none, for `none` weight), sometimes another.
fn origin(trusted: u32, none: u32) -> BoxedStrategy<Option<String>> {
    prop_oneof![
        trusted => Just(Some(TRUSTED.to_string())),
        none => Just(None),
        1 => Just(Some("null".to_string())),
        1 => Just(Some("http://evil.example".to_string())),
        1 => "[ -~]{0,30}".prop_map(Some),
    ]
    .boxed()
}

fn accept() -> BoxedStrategy<Option<String>> {
    prop_oneof![
        6 => Just(None),
        2 => Just(Some("application/json".to_string())),
        2 => Just(Some("text/event-stream".to_string())),
        2 => Just(Some("application/json, text/event-stream".to_string())),
        1 => "[ -~]{0,30}".prop_map(Some),
    ]
    .boxed()
}

const HEADER_NAMES: &[&str] = &[
    "x-forwarded-for",
    "mcp-session-id",
    "mcp-protocol-version",
    "last-event-id",
    "accept-language",
    "content-encoding",
    "x-request-id",
    "sec-fetch-site",
    "sec-fetch-mode",
    "referer",
    "if-none-match",
    "range",
    "user-agent",
    "access-control-request-method",
];

fn headers() -> BoxedStrategy<Vec<(String, String)>> {
    let name =
        prop_oneof![3 => prop::sample::select(HEADER_NAMES).prop_map(str::to_string), 1 => "[a-z][a-z0-9-]{0,15}"];
    let value = prop_oneof![2 => "[ -~]{0,40}", 1 => prop::sample::select(NASTY).prop_map(str::to_string)]
        .prop_filter("a header value", |v| reqwest::header::HeaderValue::from_str(v).is_ok());
    prop_oneof![3 => Just(vec![]), 1 => prop::collection::vec((name, value), 1..3)].boxed()
}

fn query(keys: &'static [&'static str]) -> BoxedStrategy<Option<Vec<(String, String)>>> {
    let key = prop_oneof![3 => prop::sample::select(keys).prop_map(str::to_string), 1 => "[ -~]{0,8}"];
    prop_oneof![3 => Just(None), 2 => prop::collection::vec((key, text()), 1..4).prop_map(Some)].boxed()
}

/// What varies from door to door.
struct Door {
    /// (method, path template): the door's real routes, or anything.
    route: BoxedStrategy<(&'static str, &'static str)>,
    query: BoxedStrategy<Option<Vec<(String, String)>>>,
    body: BoxedStrategy<Option<Vec<u8>>>,
    cred: BoxedStrategy<Cred>,
    origin: BoxedStrategy<Option<String>>,
    accept: BoxedStrategy<Option<String>>,
}

fn request(door: Door) -> BoxedStrategy<Req> {
    (
        door.route,
        prop::collection::vec(seg(), 2),
        door.query,
        content_type(),
        door.body,
        door.cred,
        door.origin,
        door.accept,
        headers(),
    )
        .prop_map(|((method, template), segs, query, content_type, body, cred, origin, accept, headers)| Req {
            method,
            template,
            segs,
            query,
            content_type,
            body: body.map(Body),
            cred,
            origin,
            accept,
            headers,
        })
        .boxed()
}

const METHODS: &[&str] = &["GET", "POST", "PATCH", "DELETE", "PUT", "HEAD", "OPTIONS"];

/// A real route of the door (3 in 4), or any method on any of its paths.
fn route(
    real: &'static [(&'static str, &'static str)],
    paths: &'static [&'static str],
) -> BoxedStrategy<(&'static str, &'static str)> {
    prop_oneof![
        3 => prop::sample::select(real),
        1 => (prop::sample::select(METHODS), prop::sample::select(paths)),
    ]
    .boxed()
}

fn json_text() -> BoxedStrategy<Value> {
    text().prop_map(Value::String).boxed()
}

// ---- the doors ----

const REST_ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/tasks"),
    ("POST", "/api/tasks"),
    ("GET", "/api/tasks/{}"),
    ("PATCH", "/api/tasks/{}"),
    ("DELETE", "/api/tasks/{}"),
    ("POST", "/api/tasks/{}/complete"),
    ("POST", "/api/tasks/{}/reopen"),
    ("GET", "/api/conversations"),
    ("GET", "/api/conversations/{}"),
    ("DELETE", "/api/conversations/{}"),
    ("GET", "/api/conversations/{}/messages"),
    ("POST", "/api/{}/chat"),
    ("POST", "/api/{}/chat"),
];

const REST_PATHS: &[&str] = &[
    "/api/tasks",
    "/api/tasks/{}",
    "/api/tasks/{}/complete",
    "/api/tasks/{}/reopen",
    "/api/tasks/{}/{}",
    "/api/conversations",
    "/api/conversations/{}",
    "/api/conversations/{}/messages",
    "/api/{}/chat",
    "/api/{}/{}",
];

fn rest_request() -> BoxedStrategy<Req> {
    let shaped = prop_oneof![
        2 => text().prop_map(|t| json!({ "title": t })),
        2 => text().prop_map(|t| json!({ "message": t })),
        1 => (text(), prop::sample::select(PLACEHOLDERS)).prop_map(|(t, c)| json!({"message": t, "conversation_id": c})),
        1 => (text(), text(), any::<bool>()).prop_map(|(t, d, c)| json!({"title": t, "description": d, "completed": c})),
        3 => object_of(&["title", "description", "completed", "message", "conversation_id", "status"], json_value()),
    ]
    .boxed();
    request(Door {
        route: route(REST_ROUTES, REST_PATHS),
        query: query(&["status", "limit", "cursor", "user_id"]),
        body: body(shaped),
        cred: cred([8, 2, 1, 1, 1, 1]),
        origin: origin(10, 2),
        accept: accept(),
    })
}

const AUTH_ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/auth/sign-up/email"),
    ("POST", "/api/auth/sign-in/email"),
    ("POST", "/api/auth/sign-out"),
    ("GET", "/api/auth/get-session"),
    ("GET", "/api/auth/token"),
    ("GET", "/api/auth/jwks"),
    ("GET", "/api/auth/list-sessions"),
    ("POST", "/api/auth/revoke-session"),
    ("POST", "/api/auth/revoke-sessions"),
    ("POST", "/api/auth/revoke-other-sessions"),
    ("POST", "/api/auth/update-user"),
    ("POST", "/api/auth/change-password"),
    ("POST", "/api/auth/delete-user"),
    ("GET", "/api/auth/ok"),
];

const AUTH_PATHS: &[&str] = &[
    "/api/auth/sign-up/email",
    "/api/auth/sign-in/email",
    "/api/auth/get-session",
    "/api/auth/revoke-session",
    "/api/auth/update-user",
    "/api/auth/sign-in/social",
    "/api/auth/update-session",
    "/api/auth/reset-password",
    "/api/auth/{}",
    "/api/auth/{}/{}",
];

fn auth_request() -> BoxedStrategy<Req> {
    let values = prop_oneof![3 => json_text(), 1 => json_value()].boxed();
    let email = prop_oneof![
        2 => Just("@EMAIL@".to_string()),
        2 => "[a-z0-9.+]{1,12}@[a-z]{1,8}\\.(com|org)",
        1 => text(),
    ];
    let password = prop_oneof![2 => Just("@PASSWORD@".to_string()), 2 => "[a-z ]{6,20}", 1 => text()];
    let shaped = prop_oneof![
        3 => object_of(
            &["name", "email", "password", "image", "callbackURL", "rememberMe", "token", "currentPassword",
              "newPassword", "revokeOtherSessions"],
            values,
        ),
        2 => (email.clone(), password.clone(), any::<bool>())
            .prop_map(|(e, p, r)| json!({"email": e, "password": p, "rememberMe": r})),
        2 => (text(), email, password).prop_map(|(n, e, p)| json!({"name": n, "email": e, "password": p})),
        1 => prop::sample::select(&["@TOKEN@", "@SESSION@", "x"][..]).prop_map(|t| json!({ "token": t })),
        1 => (text(), json_value()).prop_map(|(n, i)| json!({"name": n, "image": i})),
        1 => "[a-z ]{0,20}".prop_map(|p| json!({"currentPassword": "@PASSWORD@", "newPassword": p})),
    ]
    .boxed();
    request(Door {
        route: route(AUTH_ROUTES, AUTH_PATHS),
        query: query(&["disableRefresh", "callbackURL", "token"]),
        body: body(shaped),
        cred: cred([8, 2, 1, 3, 1, 1]),
        origin: origin(10, 3),
        accept: accept(),
    })
}

const CHATKIT_TYPES: &[&str] = &[
    "threads.create",
    "threads.add_user_message",
    "threads.retry_after_item",
    "threads.get_by_id",
    "threads.list",
    "threads.update",
    "threads.delete",
    "items.list",
    "items.feedback",
    "attachments.create",
    "attachments.delete",
    "attachments.get_preview",
    "input.transcribe",
    "threads.add_client_tool_output",
    "threads.custom_action",
    "threads.sync_custom_action",
    "threads.add_structured_input",
];

fn chatkit_input() -> BoxedStrategy<Value> {
    let part = prop_oneof![
        6 => text().prop_map(|t| json!({"type": "input_text", "text": t})),
        1 => text().prop_map(|t| json!({"type": "input_tag", "text": t, "id": "x", "data": {}})),
        1 => (text(), json_value()).prop_map(|(t, v)| json!({"type": t, "text": v})),
        1 => json_value(),
    ];
    let good = prop::collection::vec(part, 0..3)
        .prop_map(|content| json!({"content": content, "attachments": [], "inference_options": {}}));
    let odd = (prop::collection::vec(json_value(), 0..2), json_value(), json_value()).prop_map(
        |(content, attachments, quoted)| json!({"content": content, "attachments": attachments, "quoted_text": quoted}),
    );
    prop_oneof![4 => good, 1 => odd, 1 => json_value()].boxed()
}

/// A string naming one of the fixture's threads or items, or anything.
fn thread() -> BoxedStrategy<Value> {
    prop_oneof![4 => Just(json!("@CONV@")), 1 => json_text(), 1 => json_value()].boxed()
}

fn item() -> BoxedStrategy<Value> {
    prop_oneof![
        2 => prop::sample::select(&["@MSG@", "@ANSWER@", "wf_@ANSWER@", "@CONV@"][..]).prop_map(|i| json!(i)),
        1 => json_text(),
        1 => json_value(),
    ]
    .boxed()
}

fn maybe(v: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    prop_oneof![2 => Just(Value::Null), 1 => v].boxed()
}

fn chatkit_envelope() -> BoxedStrategy<Value> {
    let limit = maybe(prop_oneof![any::<i64>().prop_map(|n| json!(n)), json_value()].boxed());
    let order = maybe(
        prop_oneof![3 => prop::sample::select(&["asc", "desc"][..]).prop_map(|o| json!(o)), 1 => json_value()].boxed(),
    );
    let kind =
        prop_oneof![3 => prop::sample::select(&["positive", "negative"][..]).prop_map(|k| json!(k)), 1 => json_value()];
    let envelope = |t: &'static str, params: Value| json!({"type": t, "params": params});
    prop_oneof![
        2 => chatkit_input().prop_map(move |i| envelope("threads.create", json!({"input": i}))),
        2 => (thread(), chatkit_input()).prop_map(move |(t, i)| envelope("threads.add_user_message", json!({"thread_id": t, "input": i}))),
        1 => (thread(), item()).prop_map(move |(t, i)| envelope("threads.retry_after_item", json!({"thread_id": t, "item_id": i}))),
        2 => thread().prop_map(move |t| envelope("threads.get_by_id", json!({"thread_id": t}))),
        2 => (limit.clone(), order.clone(), maybe(thread()))
            .prop_map(move |(l, o, a)| envelope("threads.list", json!({"limit": l, "order": o, "after": a}))),
        1 => (thread(), json_text()).prop_map(move |(t, title)| envelope("threads.update", json!({"thread_id": t, "title": title}))),
        1 => thread().prop_map(move |t| envelope("threads.delete", json!({"thread_id": t}))),
        2 => (thread(), limit, order, maybe(item()))
            .prop_map(move |(t, l, o, a)| envelope("items.list", json!({"thread_id": t, "limit": l, "order": o, "after": a}))),
        1 => (thread(), prop::collection::vec(item(), 0..3), kind)
            .prop_map(move |(t, ids, k)| envelope("items.feedback", json!({"thread_id": t, "item_ids": ids, "kind": k}))),
        2 => (prop::sample::select(CHATKIT_TYPES), json_value()).prop_map(|(t, p)| json!({"type": t, "params": p})),
        1 => (json_value(), json_value()).prop_map(|(t, p)| json!({"type": t, "params": p})),
    ]
    .boxed()
}

fn chatkit_request() -> BoxedStrategy<Req> {
    let shaped =
        prop_oneof![8 => chatkit_envelope(), 1 => object_of(&["type", "params", "metadata"], json_value())].boxed();
    request(Door {
        route: route(&[("POST", "/chatkit")], &["/chatkit"]),
        query: query(&["limit"]),
        body: body(shaped),
        cred: cred([8, 2, 1, 1, 1, 1]),
        origin: origin(10, 2),
        accept: accept(),
    })
}

const MCP_METHODS: &[&str] = &[
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "notifications/initialized",
    "notifications/cancelled",
    "resources/list",
    "prompts/list",
    "logging/setLevel",
    "completion/complete",
];

fn mcp_message() -> BoxedStrategy<Value> {
    let arguments = prop_oneof![
        3 => object_of(
            &["task_id", "title", "description", "status", "user_id"],
            prop_oneof![2 => json_value(), 1 => Just(json!("@ME@")), 1 => Just(json!(1)), 1 => json_text()].boxed(),
        ),
        1 => json_value(),
    ];
    let tool = prop_oneof![
        4 => prop::sample::select(&["add_task", "list_tasks", "complete_task", "delete_task", "update_task"][..])
            .prop_map(|t| json!(t)),
        1 => json_value(),
    ];
    let call = (tool, arguments).prop_map(|(name, arguments)| json!({"name": name, "arguments": arguments}));
    let init = (prop::sample::select(&["2025-06-18", "2025-03-26", "2024-11-05", "1999-01-01"][..]), json_value())
        .prop_map(|(v, caps)| json!({"protocolVersion": v, "capabilities": caps, "clientInfo": {"name": "fuzz", "version": "1"}}));
    let id = prop_oneof![6 => any::<i32>().prop_map(|n| json!(n)), 1 => json_text(), 1 => json_value()];
    let version = prop_oneof![10 => Just(json!("2.0")), 1 => json_value()];
    let message = prop_oneof![
        4 => call.prop_map(|p| (json!("tools/call"), Some(p))),
        2 => init.prop_map(|p| (json!("initialize"), Some(p))),
        2 => prop::sample::select(MCP_METHODS).prop_map(|m| (json!(m), None)),
        1 => (json_value(), prop::option::of(json_value())),
    ];
    (version, prop::option::weighted(0.9, id), message)
        .prop_map(|(jsonrpc, id, (method, params))| {
            let mut m = json!({"jsonrpc": jsonrpc, "method": method});
            if let Some(id) = id {
                m["id"] = id;
            }
            if let Some(p) = params {
                m["params"] = p;
            }
            m
        })
        .boxed()
}

fn mcp_request() -> BoxedStrategy<Req> {
    let shaped = prop_oneof![
        8 => mcp_message(),
        1 => prop::collection::vec(mcp_message(), 0..3).prop_map(Value::Array),
        1 => object_of(&["jsonrpc", "id", "method", "params", "result", "error"], json_value()),
    ]
    .boxed();
    let accept = prop_oneof![
        10 => Just(Some("application/json, text/event-stream".to_string())),
        2 => accept(),
    ]
    .boxed();
    request(Door {
        route: route(&[("POST", "/mcp")], &["/mcp"]),
        query: prop_oneof![6 => Just(None), 1 => query(&["sessionId"])].boxed(),
        body: body(shaped),
        cred: cred([1, 10, 2, 1, 1, 1]),
        origin: origin(2, 10),
        accept,
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Sending and judging
// ---------------------------------------------------------------------------------------------------------------

/// The server, its fixture person, and an HTTP client.
struct Ctx {
    app: TestApp,
    http: reqwest::Client,
    me: Mutex<Person>,
    fixtures: AtomicUsize,
    /// 4xx answers whose body is not a JSON error, one example of each kind.
    shapeless: Mutex<std::collections::BTreeMap<String, String>>,
    /// How many answers had each status.
    statuses: Mutex<std::collections::BTreeMap<u16, usize>>,
}

/// What may appear in a query string unescaped.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

impl Ctx {
    async fn start(backend: Backend) -> Ctx {
        let app = start_app(backend, |_| {}).await;
        let me = person(&app, "Prop").await;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_LIMIT)
            .build()
            .unwrap();
        Ctx {
            app,
            http,
            me: Mutex::new(me),
            fixtures: AtomicUsize::new(1),
            shapeless: Default::default(),
            statuses: Default::default(),
        }
    }

    fn fill(&self, s: &str) -> String {
        let me = self.me.lock().unwrap().clone();
        s.replace("@ME@", &me.id)
            .replace("@EMAIL@", &me.email)
            .replace("@PASSWORD@", PASSWORD)
            .replace("@TOKEN@", &me.token)
            .replace("@SESSION@", &me.session_id)
            .replace("@CONV@", &me.conversation)
            .replace("@MSG@", &me.question_id)
            .replace("@ANSWER@", &me.answer_id)
            .replace("@TASKID@", &me.task_id)
    }

    fn path(&self, req: &Req) -> String {
        let mut path = String::new();
        let mut segs = req.segs.iter();
        let mut parts = req.template.split("{}").peekable();
        while let Some(part) = parts.next() {
            path.push_str(part);
            if parts.peek().is_some() {
                let raw = match segs.next() {
                    Some(Seg::Real(r)) => self.fill(r),
                    Some(Seg::Junk(j)) => self.fill(j),
                    Some(Seg::Raw(r)) => {
                        path.push_str(r);
                        continue;
                    }
                    None => String::new(),
                };
                path.push_str(&utf8_percent_encode(&raw, NON_ALPHANUMERIC).to_string());
            }
        }
        if let Some(q) = &req.query {
            let pairs: Vec<String> = q
                .iter()
                .map(|(k, v)| {
                    format!("{}={}", utf8_percent_encode(k, QUERY), utf8_percent_encode(&self.fill(v), QUERY))
                })
                .collect();
            path.push('?');
            path.push_str(&pairs.join("&"));
        }
        path
    }

    /// Sends the request and judges the answer: Err says what was wrong.
    async fn check(&self, req: &Req) -> Result<(), String> {
        let path = self.path(req);
        let label = format!("{} {path}", req.method);
        let me = self.me.lock().unwrap().clone();
        let method = Method::from_bytes(req.method.as_bytes()).unwrap();
        let mut r = self.http.request(method.clone(), format!("{}{path}", self.app.url));
        match &req.cred {
            Cred::None => {}
            Cred::Cookie => r = r.header("cookie", &me.cookie),
            Cred::Bearer => r = r.header("authorization", format!("Bearer {}", me.token)),
            Cred::Jwt => r = r.header("authorization", format!("Bearer {}", me.jwt)),
            Cred::Junk(j) => r = r.header("authorization", j.as_str()),
            Cred::JunkCookie(j) => r = r.header("cookie", format!("better-auth.session_token={j}")),
        }
        if let Some(o) = &req.origin {
            r = r.header("origin", o.as_str());
        }
        if let Some(a) = &req.accept {
            r = r.header("accept", a.as_str());
        }
        for (k, v) in &req.headers {
            r = r.header(k.as_str(), v.as_str());
        }
        if let Some(ct) = &req.content_type {
            r = r.header("content-type", ct.as_str());
        }
        if let Some(Body(b)) = &req.body {
            let b = match String::from_utf8(b.clone()) {
                Ok(s) => self.fill(&s).into_bytes(),
                Err(_) => b.clone(),
            };
            r = r.body(b);
        }
        let started = Instant::now();
        let res = r.send().await.map_err(|e| format!("{label}: no answer: {e}"))?;
        let status = res.status().as_u16();
        let ct = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let left = REQUEST_LIMIT.saturating_sub(started.elapsed());
        let body = match tokio::time::timeout(left, res.bytes()).await {
            Err(_) => return Err(format!("{label}: {status}, and its body never ended (a hang)")),
            Ok(Err(e)) => return Err(format!("{label}: {status}, and its body broke off: {e}")),
            Ok(Ok(b)) => String::from_utf8_lossy(&b).into_owned(),
        };
        let shown: String = body.chars().take(400).collect();
        *self.statuses.lock().unwrap().entry(status).or_default() += 1;
        if status >= 500 {
            return Err(format!("{label}: {status} {shown}"));
        }
        if req.method == "HEAD" {
            return Ok(());
        }
        if status >= 400 {
            // Better Auth answers unknown routes and wrong methods with a bare 404, and so must we.
            if body.is_empty() && status == 404 && path.starts_with("/api/auth/") {
                return Ok(());
            }
            let is_error = serde_json::from_str::<Value>(&body).is_ok_and(|v| v["message"].is_string());
            if !is_error {
                // Not fatal for the run (it goes on looking for worse), but reported at its end.
                let key: String =
                    format!("{} {} {status} {shown}", req.method, req.template).chars().take(70).collect();
                let short: String = label.chars().take(100).collect();
                let problem = format!("{short}: {status} ({ct}) {shown:?}");
                self.shapeless.lock().unwrap().entry(key).or_insert(problem);
            }
            return Ok(());
        }
        if ct.starts_with("application/json") && !body.is_empty() && serde_json::from_str::<Value>(&body).is_err() {
            return Err(format!("{label}: {status} says JSON but is not: {shown:?}"));
        }
        if ct.starts_with("text/event-stream") {
            for line in body.lines().filter_map(|l| l.strip_prefix("data:")) {
                if !line.trim().is_empty() && serde_json::from_str::<Value>(line.trim()).is_err() {
                    return Err(format!("{label}: an event that is not JSON: {line:?}"));
                }
            }
        }
        Ok(())
    }

    /// A request may have signed the person out, deleted them or their conversation: start over with someone new.
    async fn keep_fixture(&self) {
        let me = self.me.lock().unwrap().clone();
        let c = me.client(&self.app);
        let session = c.get("/api/auth/get-session").await;
        let conversation = c.get(&format!("/api/conversations/{}", me.conversation)).await;
        if session.json["user"]["id"] != me.id.as_str() || conversation.status != 200 {
            let n = self.fixtures.fetch_add(1, Ordering::SeqCst);
            let fresh = person(&self.app, &format!("Prop{n}")).await;
            *self.me.lock().unwrap() = fresh;
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// Runs `CASES` generated requests against a fresh server; each must be answered well.
fn fuzz(backend: Backend, name: &str, strategy: BoxedStrategy<Req>) {
    let rt = runtime();
    let ctx = rt.block_on(Ctx::start(backend));
    // A fixed seed: each run throws the same requests, so a failure reproduces and the checks below on how far
    // the generator reached cannot fail by the luck of the draw (they did, at 4 successes of 96). Set
    // PROPTEST_RNG_SEED to explore other draws.
    let defaults = Config::default();
    let rng_seed = match std::env::var_os("PROPTEST_RNG_SEED") {
        Some(_) => defaults.rng_seed,
        None => proptest::test_runner::RngSeed::Fixed(0x7a5c_c4a7),
    };
    let config = Config { cases: CASES, failure_persistence: None, max_shrink_iters: 64, rng_seed, ..defaults };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |req| {
        rt.block_on(async {
            let verdict = ctx.check(&req).await;
            ctx.keep_fixture().await;
            verdict
        })
        .map_err(TestCaseError::fail)
    });
    // The server is still well afterwards.
    let ready = rt.block_on(ctx.app.client().get("/readyz"));
    rt.block_on(ctx.app.stop());
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    assert_eq!(ready.status, 200, "{}", ready.text);
    // The generator reaches past the first checks: some requests succeed, and many kinds of refusal are met.
    let statuses = ctx.statuses.lock().unwrap().clone();
    eprintln!("{name}: answers by status: {statuses:?}");
    let successes: usize = statuses.iter().filter(|(s, _)| (200..300).contains(*s)).map(|(_, n)| n).sum();
    assert!(successes >= 5, "{name}: only {successes} successes: {statuses:?}");
    assert!(statuses.len() >= 4, "{name}: too few kinds of answer: {statuses:?}");
    let shapeless: Vec<String> = ctx.shapeless.lock().unwrap().values().cloned().collect();
    assert!(shapeless.is_empty(), "{name}: 4xx answers that are not JSON errors:\n{}", shapeless.join("\n"));
}

macro_rules! fuzz_on_both_databases {
    ($name:ident, $strategy:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn sqlite() {
                fuzz(Backend::Sqlite, stringify!($name), $strategy);
            }
            #[test]
            fn postgres() {
                if postgres_available() {
                    fuzz(Backend::Postgres, stringify!($name), $strategy);
                }
            }
        }
    };
}

fuzz_on_both_databases!(random_requests_to_tasks_conversations_and_chat, rest_request());
fuzz_on_both_databases!(random_requests_to_every_auth_route, auth_request());
fuzz_on_both_databases!(random_chatkit_requests_of_every_type, chatkit_request());
fuzz_on_both_databases!(random_mcp_json_rpc, mcp_request());

// Paths and query strings that no generator may happen upon often enough: escapes that decode to no text,
// repeated query keys. Each must get a 4xx JSON error.
on_both_databases!(malformed_paths_and_query_strings_get_json_errors, |backend: Backend| async move {
    let app = start_app(backend, |_| {}).await;
    let me = person(&app, "Escapes").await;
    let c = me.client(&app);
    let chat = json!({"message": "hi"});
    let attempts: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/tasks/%FF".into(), None),
        (Method::PATCH, "/api/tasks/%C3%28".into(), Some(json!({"title": "x"}))),
        (Method::POST, "/api/tasks/%FF/complete".into(), Some(json!({}))),
        (Method::GET, "/api/conversations/%FF".into(), None),
        (Method::GET, "/api/conversations/%ED%A0%80/messages".into(), None),
        (Method::DELETE, "/api/conversations/%FF".into(), None),
        (Method::POST, "/api/%FF/chat".into(), Some(chat)),
        (Method::GET, "/api/tasks?status=pending&status=completed".into(), None),
        (Method::GET, "/api/tasks?status=%FF".into(), None),
        (Method::GET, "/api/conversations?limit=1&limit=2".into(), None),
        (Method::GET, format!("/api/conversations/{}/messages?cursor=1&cursor=2", me.conversation), None),
    ];
    let mut problems = vec![];
    for (method, path, body) in attempts {
        let r = c.request(method.clone(), &path, body).await;
        let is_error = r.json["message"].is_string();
        if !r.status.is_client_error() || !is_error {
            let ct = r.header("content-type").unwrap_or_default().to_string();
            problems.push(format!("{method} {path}: {} ({ct}) {:?}", r.status, r.text));
        }
    }
    // get-session always answers 200 (the session or null), whatever its query string holds.
    let odd = c.get("/api/auth/get-session?disableRefresh=true&disableRefresh=false&%FF=%FF").await;
    if odd.status != 200 || !(odd.json.is_object() || odd.text == "null") {
        problems.push(format!("get-session with an odd query: {} {:?}", odd.status, odd.text));
    }
    app.stop().await;
    assert!(problems.is_empty(), "answers that are not 4xx JSON errors:\n{}", problems.join("\n"));
});

// ---------------------------------------------------------------------------------------------------------------
// Oversized bodies
// ---------------------------------------------------------------------------------------------------------------

/// An answer read off a raw connection.
#[derive(Debug)]
struct RawAnswer {
    status: u16,
    body: String,
    /// Body bytes sent before the answer arrived.
    sent: usize,
}

/// Sends a request head for `path` declaring a `declared`-byte body (or a chunked one when None), then keeps
/// sending body bytes, `pause` apart, up to `send` bytes, while reading the answer. Returns the answer, or None
/// if none came within `limit`.
async fn push_oversized(
    addr: &str,
    path: &str,
    headers: &[(&str, String)],
    declared: Option<u64>,
    send: usize,
    limit: Duration,
) -> Option<RawAnswer> {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n");
    match declared {
        Some(n) => head.push_str(&format!("Content-Length: {n}\r\n")),
        None => head.push_str("Transfer-Encoding: chunked\r\n"),
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    wr.write_all(head.as_bytes()).await.expect("send the head");
    let sent = Arc::new(AtomicUsize::new(0));
    let writer = {
        let sent = sent.clone();
        tokio::spawn(async move {
            let piece = vec![b' '; 64 * 1024];
            let chunk_head = format!("{:x}\r\n", piece.len());
            while sent.load(Ordering::SeqCst) < send {
                let n = piece.len().min(send - sent.load(Ordering::SeqCst));
                let ok = if declared.is_some() {
                    wr.write_all(&piece[..n]).await.is_ok()
                } else {
                    let head = if n == piece.len() { chunk_head.clone() } else { format!("{n:x}\r\n") };
                    wr.write_all(head.as_bytes()).await.is_ok()
                        && wr.write_all(&piece[..n]).await.is_ok()
                        && wr.write_all(b"\r\n").await.is_ok()
                };
                if !ok {
                    break;
                }
                sent.fetch_add(n, Ordering::SeqCst);
            }
            // Hold the connection open (unfinished) until the reader is done.
            std::future::pending::<()>().await;
            drop(wr);
        })
    };
    let read = async {
        let mut buf = vec![];
        let mut sent_at_head = None;
        loop {
            let text = String::from_utf8_lossy(&buf).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let sent_now = *sent_at_head.get_or_insert(sent.load(Ordering::SeqCst));
                let head = &text[..end];
                let status: u16 = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length").then(|| v.trim().parse().ok()).flatten()
                    })
                    .unwrap_or(0);
                if buf.len() >= end + 4 + length {
                    let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + length]).into_owned();
                    return RawAnswer { status, body, sent: sent_now };
                }
            }
            let mut chunk = [0u8; 8192];
            match rd.read(&mut chunk).await {
                Ok(0) | Err(_) => {
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
                    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
                    return RawAnswer { status, body, sent: sent_at_head.unwrap_or(sent.load(Ordering::SeqCst)) };
                }
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let answer = tokio::time::timeout(limit, read).await.ok();
    writer.abort();
    answer
}

/// The doors that take a body, with the credentials each needs.
fn body_doors(me: &Person) -> Vec<(String, Vec<(&'static str, String)>)> {
    let browser = vec![("Cookie", me.cookie.clone()), ("Origin", TRUSTED.to_string())];
    vec![
        ("/api/tasks".to_string(), browser.clone()),
        (format!("/api/{}/chat", me.id), browser.clone()),
        ("/chatkit".to_string(), browser.clone()),
        ("/api/auth/sign-in/email".to_string(), vec![]),
        ("/api/auth/sign-up/email".to_string(), vec![]),
        ("/api/auth/update-user".to_string(), browser),
        (
            "/mcp".to_string(),
            vec![
                ("Authorization", format!("Bearer {}", me.token)),
                ("Accept", "application/json, text/event-stream".to_string()),
            ],
        ),
    ]
}

/// What is wrong with an answer to an oversized body, if anything: it must be a 413 JSON error.
fn too_large_problem(door: &str, how: &str, answer: &RawAnswer) -> Option<String> {
    let is_error = serde_json::from_str::<Value>(&answer.body).is_ok_and(|v| v["message"].is_string());
    (answer.status != 413 || !is_error).then(|| format!("{door} ({how}): {} {:?}", answer.status, answer.body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_refused_before_it_is_all_sent() {
    let app = start_app(Backend::Sqlite, |_| {}).await;
    let me = person(&app, "Big").await;
    let addr = app.url.trim_start_matches("http://").to_string();
    const LIMIT: usize = 1_048_576;
    let mut attempts = vec![];
    for (door, headers) in body_doors(&me) {
        // Declared 64 MiB (or chunked), sent a piece at a time up to 16 MiB: the 413 comes after about the limit.
        for (how, declared) in [("content-length", Some(64 * LIMIT as u64)), ("chunked", None)] {
            let (addr, door, headers) = (addr.clone(), door.clone(), headers.clone());
            attempts.push(async move {
                let answer =
                    push_oversized(&addr, &door, &headers, declared, 16 * LIMIT, Duration::from_secs(20)).await;
                match answer {
                    None => Some(format!("{door} ({how}): no answer while 16 MiB of the body went in")),
                    Some(a) if a.sent >= 16 * LIMIT => Some(format!("{door} ({how}): answered only at the end: {a:?}")),
                    Some(a) => too_large_problem(&door, how, &a),
                }
            });
        }
    }
    let problems: Vec<String> = futures::future::join_all(attempts).await.into_iter().flatten().collect();
    let ready = app.client().get("/readyz").await;
    assert_eq!(ready.status, 200);
    app.stop().await;
    assert!(problems.is_empty(), "oversized bodies not refused with a 413 JSON error:\n{}", problems.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_declared_too_large_is_refused_from_its_content_length() {
    let app = start_app(Backend::Sqlite, |_| {}).await;
    let me = person(&app, "Declared").await;
    let addr = app.url.trim_start_matches("http://").to_string();
    // The head says 64 MiB; only 1 KiB follows. The length alone is reason enough to refuse, at once.
    let attempts = body_doors(&me).into_iter().map(|(door, headers)| {
        let addr = addr.clone();
        async move {
            match push_oversized(&addr, &door, &headers, Some(64 << 20), 1024, Duration::from_secs(3)).await {
                Some(answer) => too_large_problem(&door, "declared", &answer),
                None => Some(format!("{door}: no answer within 3 s (it waits for the 64 MiB body)")),
            }
        }
    });
    let problems: Vec<String> = futures::future::join_all(attempts).await.into_iter().flatten().collect();
    app.stop().await;
    assert!(
        problems.is_empty(),
        "a request whose Content-Length is over the limit is not refused with a 413 up front:\n{}",
        problems.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Cross-user battery
// ---------------------------------------------------------------------------------------------------------------

/// Everything of Alice's that anyone could change, through her own eyes and in the database.
async fn snapshot(app: &TestApp, alice: &Person) -> Value {
    let c = alice.client(app);
    let mut out = serde_json::Map::new();
    let get = |path: String| {
        let c = &c;
        async move {
            let r = c.get(&path).await;
            assert_eq!(r.status, 200, "{path}: {}", r.text);
            r.json
        }
    };
    out.insert("tasks".into(), get("/api/tasks".into()).await);
    let conversations = get("/api/conversations?limit=200".into()).await;
    for conv in conversations["conversations"].as_array().unwrap() {
        let id = conv["id"].as_str().unwrap();
        out.insert(format!("messages {id}"), get(format!("/api/conversations/{id}/messages?limit=200")).await);
        let items = c.post("/chatkit", json!({"type": "items.list", "params": {"thread_id": id, "limit": 100}})).await;
        assert_eq!(items.status, 200, "{}", items.text);
        out.insert(format!("items {id}"), items.json);
    }
    out.insert("conversations".into(), conversations);
    out.insert("sessions".into(), get("/api/auth/list-sessions".into()).await);
    out.insert("user".into(), get("/api/auth/get-session".into()).await["user"].clone());
    for (name, sql) in [
        ("db tasks", "SELECT CAST(COUNT(*) AS BIGINT) FROM task WHERE user_id = $1"),
        ("db completed", "SELECT CAST(COUNT(*) AS BIGINT) FROM task WHERE user_id = $1 AND completed = TRUE"),
        ("db messages", "SELECT CAST(COUNT(*) AS BIGINT) FROM message WHERE user_id = $1"),
        ("db feedback", "SELECT CAST(COUNT(*) AS BIGINT) FROM message WHERE user_id = $1 AND feedback IS NOT NULL"),
        ("db conversations", "SELECT CAST(COUNT(*) AS BIGINT) FROM conversation WHERE user_id = $1"),
        ("db sessions", r#"SELECT CAST(COUNT(*) AS BIGINT) FROM "session" WHERE "userId" = $1"#),
        ("db accounts", r#"SELECT CAST(COUNT(*) AS BIGINT) FROM "account" WHERE "userId" = $1"#),
    ] {
        out.insert(name.into(), json!(app.count(sql, &alice.id).await));
    }
    Value::Object(out)
}

/// What Bob must never see of Alice's.
fn secrets(alice: &Person) -> Vec<String> {
    vec![
        alice.task_title.clone(),
        "alice-secret-notes".into(),
        "alice-secret-errand".into(),
        alice.email.clone(),
        alice.token.clone(),
        alice.jwt.clone(),
    ]
}

struct Battery<'a> {
    app: &'a TestApp,
    secrets: Vec<String>,
    tried: usize,
}

impl Battery<'_> {
    /// The attempt was refused (a 4xx JSON error), or was harmless (`ok_if` accepts the success), and shows nothing.
    fn judge(&mut self, label: &str, r: &Reply, ok_if: impl Fn(&Reply) -> bool) {
        self.tried += 1;
        for s in &self.secrets {
            assert!(!r.text.contains(s.as_str()), "{label}: the answer shows Alice's {s:?}: {}", r.text);
        }
        if r.status.is_success() && ok_if(r) {
            return;
        }
        assert!(
            r.status.is_client_error(),
            "{label}: not denied: {} {}",
            r.status,
            r.text.chars().take(300).collect::<String>()
        );
        assert!(r.json["message"].is_string(), "{label}: {} {}", r.status, r.text);
    }

    fn denied(&mut self, label: &str, r: &Reply) {
        self.judge(label, r, |_| false);
    }

    async fn mcp(&self, bearer: &str, body: Value) -> Reply {
        let c = Client::with_bearer(&self.app.url, bearer);
        c.raw(
            Method::POST,
            "/mcp",
            Some(("application/json", body.to_string())),
            &[("accept", "application/json, text/event-stream")],
        )
        .await
    }
}

/// A JSON-RPC answer that is an error or a tool error (never a success).
fn mcp_refused(r: &Reply) -> bool {
    r.json["error"].is_object() || r.json["result"]["isError"] == true
}

on_both_databases!(nothing_of_one_person_is_reachable_by_another_on_any_door, |backend: Backend| async move {
    let app = start_app(backend, |_| {}).await;
    let alice = person(&app, "Alice").await;
    let a = alice.client(&app);
    // More of Alice's: a third task, a finished one, a second session.
    let second = a.post("/api/tasks", json!({"title": "alice-secret-plan two"})).await;
    assert_eq!(second.status, 201);
    assert_eq!(a.post("/api/tasks/2/complete", json!({})).await.status, 200);
    let other_session = app.client();
    let r = other_session.post("/api/auth/sign-in/email", json!({"email": alice.email, "password": PASSWORD})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let alice_token_2 = r.json["token"].as_str().unwrap().to_string();
    let bob = person(&app, "Bob").await;
    let b = bob.client(&app);
    // Bob has no tasks of his own: any task number he names would be someone else's.
    for n in [1, 2] {
        assert_eq!(b.delete(&format!("/api/tasks/{n}")).await.status, 204);
    }

    // The control: Alice's own MCP call works (so the refusals below are refusals, not broken calls).
    let mut t = Battery { app: &app, secrets: secrets(&alice), tried: 0 };
    let own = t
        .mcp(
            &alice.token,
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                  "params": {"name": "list_tasks", "arguments": {}}}),
        )
        .await;
    assert_eq!(own.json["result"]["structuredContent"]["count"], 3, "{}", own.text);

    let before = snapshot(&app, &alice).await;
    let task_refs: Vec<String> =
        vec!["1".into(), "2".into(), "3".into(), alice.task_id.clone(), second.json["id"].as_str().unwrap().into()];
    let conv = alice.conversation.clone();
    let item_ids = vec![alice.question_id.clone(), alice.answer_id.clone(), format!("wf_{}", alice.answer_id)];

    // REST: tasks by number and by id, conversations and their messages.
    for n in &task_refs {
        for (method, path, body) in [
            (Method::GET, format!("/api/tasks/{n}"), None),
            (Method::PATCH, format!("/api/tasks/{n}"), Some(json!({"title": "hacked", "completed": true}))),
            (Method::DELETE, format!("/api/tasks/{n}"), None),
            (Method::POST, format!("/api/tasks/{n}/complete"), Some(json!({}))),
            (Method::POST, format!("/api/tasks/{n}/reopen"), Some(json!({}))),
        ] {
            let r = b.request(method.clone(), &path, body).await;
            t.denied(&format!("REST {method} {path}"), &r);
        }
    }
    let r = b.get(&format!("/api/tasks?user_id={}", alice.id)).await;
    t.judge("REST list with a user_id", &r, |r| r.json["count"] == 0);
    let r = b.patch("/api/tasks/1", json!({"title": "hacked", "user_id": alice.id})).await;
    t.denied("REST patch with a user_id", &r);
    for path in [format!("/api/conversations/{conv}"), format!("/api/conversations/{conv}/messages")] {
        let r = b.get(&path).await;
        t.denied(&format!("REST GET {path}"), &r);
    }
    for id in &item_ids {
        let r = b.get(&format!("/api/conversations/{id}/messages")).await;
        t.denied("REST messages of a message id", &r);
    }
    let r = b.delete(&format!("/api/conversations/{conv}")).await;
    t.denied("REST DELETE conversation", &r);
    let r = b.get("/api/conversations").await;
    t.judge("REST list conversations", &r, |r| !r.text.contains(&conv));

    // The chat endpoint: as Alice, into Alice's conversation, or asking the assistant for her things.
    for accept in ["application/json", "text/event-stream"] {
        let headers = [("accept", accept)];
        let send = |path: String, body: Value| {
            let b = &b;
            async move { b.raw(Method::POST, &path, Some(("application/json", body.to_string())), &headers).await }
        };
        let r = send(format!("/api/{}/chat", alice.id), json!({"message": "delete task 1"})).await;
        t.denied(&format!("chat as Alice ({accept})"), &r);
        let r = send(format!("/api/{}/chat", alice.id), json!({"message": "hi", "conversation_id": conv})).await;
        t.denied(&format!("chat as Alice in her conversation ({accept})"), &r);
        let r =
            send(format!("/api/{}/chat", bob.id), json!({"message": "delete task 1", "conversation_id": conv})).await;
        t.denied(&format!("chat in Alice's conversation ({accept})"), &r);
        for id in &item_ids {
            let r = send(format!("/api/{}/chat", bob.id), json!({"message": "hi", "conversation_id": id})).await;
            t.denied("chat into a message id", &r);
        }
    }
    for message in ["complete task 1", "delete task 2", "rename task 1 to hacked", "show my tasks"] {
        let r = b.post(&format!("/api/{}/chat", bob.id), json!({ "message": message })).await;
        t.judge(&format!("chat {message:?} in Bob's own conversation"), &r, |_| true);
    }

    // ChatKit: every request type that names a thread or an item.
    let input = json!({"content": [{"type": "input_text", "text": "delete task 1"}], "attachments": []});
    let mut chatkit = vec![
        ("threads.get_by_id", json!({"thread_id": conv})),
        ("threads.add_user_message", json!({"thread_id": conv, "input": input})),
        ("threads.update", json!({"thread_id": conv, "title": "hacked"})),
        ("threads.delete", json!({"thread_id": conv})),
        ("items.list", json!({"thread_id": conv})),
        ("threads.list", json!({"after": conv})),
    ];
    for id in &item_ids {
        chatkit.push(("threads.retry_after_item", json!({"thread_id": conv, "item_id": id})));
        chatkit.push(("threads.retry_after_item", json!({"thread_id": bob.conversation, "item_id": id})));
        chatkit.push(("items.feedback", json!({"thread_id": conv, "item_ids": [id], "kind": "negative"})));
        chatkit.push(("items.feedback", json!({"thread_id": bob.conversation, "item_ids": [id], "kind": "negative"})));
        chatkit.push(("items.list", json!({"thread_id": bob.conversation, "after": id})));
        chatkit.push(("threads.get_by_id", json!({"thread_id": id})));
    }
    for (kind, params) in chatkit {
        let r = b.post("/chatkit", json!({"type": kind, "params": params})).await;
        t.denied(&format!("ChatKit {kind} {params}"), &r);
    }

    // MCP: tools as Alice (by user_id), on her task numbers, and with pieces of her credentials.
    for (name, arguments) in [
        ("list_tasks", json!({"user_id": alice.id})),
        ("add_task", json!({"user_id": alice.id, "title": "planted"})),
        ("complete_task", json!({"user_id": alice.id, "task_id": 1})),
        ("delete_task", json!({"user_id": alice.id, "task_id": 1})),
        ("update_task", json!({"user_id": alice.id, "task_id": 1, "title": "hacked"})),
        ("complete_task", json!({"task_id": 1})),
        ("delete_task", json!({"task_id": 3})),
        ("update_task", json!({"task_id": 1, "title": "hacked"})),
    ] {
        let body = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                          "params": {"name": name, "arguments": arguments}});
        for bearer in [&bob.token, &bob.jwt] {
            let r = t.mcp(bearer, body.clone()).await;
            t.judge(&format!("MCP {name} {arguments}"), &r, mcp_refused);
        }
    }
    let r = t
        .mcp(
            &bob.token,
            json!({"jsonrpc": "2.0", "id": 8, "method": "tools/call",
                                "params": {"name": "list_tasks", "arguments": {}}}),
        )
        .await;
    t.judge("MCP list_tasks as Bob", &r, |r| r.json["result"]["structuredContent"]["count"] == 0);
    for stolen in [&alice.session_id, &alice.id, &alice.task_id, &alice.conversation] {
        let r = t.mcp(stolen, json!({"jsonrpc": "2.0", "id": 9, "method": "tools/list"})).await;
        t.denied("MCP with one of Alice's ids as the credential", &r);
    }

    // Auth: her sessions and tokens, by token and by id; forged cookies; ids as credentials.
    for token in [&alice.token, &alice_token_2, &alice.session_id, &alice.id] {
        let r = b.post("/api/auth/revoke-session", json!({ "token": token })).await;
        // Better Auth answers {"status": true} whether or not the token was the caller's: nothing may happen.
        t.judge("revoke one of Alice's sessions", &r, |r| r.json == json!({"status": true}));
    }
    let r = b.post("/api/auth/update-user", json!({"name": "Bob", "id": alice.id, "userId": alice.id})).await;
    t.judge("update-user naming Alice", &r, |r| r.json == json!({"status": true}));
    for stolen in [&alice.session_id, &alice.id, &alice.task_id] {
        let c = Client::with_bearer(&app.url, stolen);
        let r = c.get("/api/auth/get-session").await;
        t.judge("get-session with one of Alice's ids", &r, |r| r.json.is_null());
        for path in ["/api/tasks", "/api/conversations", "/api/auth/list-sessions", "/api/auth/token"] {
            let r = c.get(path).await;
            t.denied(&format!("GET {path} with one of Alice's ids as the credential"), &r);
        }
    }
    let bob_signature = bob.cookie.rsplit_once('.').map(|(_, s)| s).unwrap_or("x");
    let forged = [
        format!("better-auth.session_token={}", alice.token),
        format!("better-auth.session_token={}.{bob_signature}", alice.token),
        format!("better-auth.session_token={}", alice.session_id),
    ];
    for cookie in &forged {
        let c = app.client();
        let r = c.raw(Method::GET, "/api/tasks", None, &[("cookie", cookie)]).await;
        t.denied("a forged cookie", &r);
        let r = c.raw(Method::GET, "/api/auth/get-session", None, &[("cookie", cookie)]).await;
        t.judge("get-session with a forged cookie", &r, |r| r.json.is_null());
    }
    let r = b.get("/api/auth/list-sessions").await;
    t.judge("list-sessions as Bob", &r, |r| r.json.as_array().is_some_and(|s| s.len() == 1));

    assert!(t.tried > 100, "only {} attempts", t.tried);
    let after = snapshot(&app, &alice).await;
    assert_eq!(before, after, "Alice's data changed");
    // Her sessions still work.
    assert_eq!(a.get("/api/auth/get-session").await.json["user"]["id"], alice.id.as_str());
    let c = Client::with_bearer(&app.url, &alice_token_2);
    assert_eq!(c.get("/api/tasks").await.status, 200);
    app.stop().await;
});

// ---------------------------------------------------------------------------------------------------------------
// Sign-in: brute force and timing
// ---------------------------------------------------------------------------------------------------------------

on_both_databases!(sign_in_brute_force_is_stopped_after_three_guesses, |backend: Backend| async move {
    let app = TestApp::start_with(backend, limit_to_three).await;
    let (_, user) = app.signed_up("Target").await;
    let email = user["email"].as_str().unwrap().to_string();
    let c = app.client();
    // Twenty guesses at once: three are checked, the rest refused, however they interleave.
    let guesses = (0..20).map(|i| {
        let (c, email) = (&c, &email);
        async move { c.post("/api/auth/sign-in/email", json!({"email": email, "password": format!("guess {i}")})).await }
    });
    let answers = futures::future::join_all(guesses).await;
    let checked = answers.iter().filter(|r| r.status == 401).count();
    let limited: Vec<&Reply> = answers.iter().filter(|r| r.status == 429).collect();
    assert_eq!((checked, limited.len()), (3, 17), "{:?}", answers.iter().map(|r| r.status).collect::<Vec<_>>());
    for r in &limited {
        assert_eq!(
            r.json,
            json!({"message": "Too many requests. Please try again later.", "code": "TOO_MANY_REQUESTS"})
        );
        let retry: u64 = r.header("x-retry-after").expect("x-retry-after").parse().unwrap();
        assert_eq!(r.header("retry-after"), r.header("x-retry-after"));
        assert!((LIMIT_WINDOW - 60..=LIMIT_WINDOW).contains(&retry), "{retry}");
    }
    // While the window lasts, even the right password is refused, and so is any other account from this client.
    let right = c.post("/api/auth/sign-in/email", json!({"email": email, "password": PASSWORD})).await;
    assert_eq!(right.status, 429, "{}", right.text);
    assert!(right.set_cookies().is_empty(), "a refused sign-in must not start a session");
    let other = c.post("/api/auth/sign-in/email", json!({"email": "someone@example.com", "password": "x"})).await;
    assert_eq!(other.status, 429);
    app.stop().await;
});

on_both_databases!(an_unknown_email_takes_as_long_to_refuse_as_a_wrong_password, |backend: Backend| async move {
    // Many wrong passwords for one account: the lockout (tested on its own) would answer before any hash.
    let app = TestApp::start_with(backend, |a| a.lockout_after = 0).await;
    let (_, user) = app.signed_up("Timed").await;
    let email = user["email"].as_str().unwrap().to_string();
    let c = app.client();
    let attempt = |email: String, password: String| {
        let c = &c;
        async move {
            let started = Instant::now();
            let r = c.post("/api/auth/sign-in/email", json!({"email": email, "password": password})).await;
            (started.elapsed(), r)
        }
    };
    let unknown = |i: usize| format!("nobody-{i}-{}@example.com", taskchat::auth::crypto::generate_id());
    // Warm up both paths.
    for i in 0..2 {
        attempt(unknown(i), format!("wrong password {i}")).await;
        attempt(email.clone(), format!("wrong password {i}")).await;
    }
    // Each pair is timed back to back, so both halves see the same background load; the median of the pairs'
    // ratios is then steady however the load drifts over the test (hashes run at idle priority and get only what
    // the other tests leave). A real leak (no hash for an unknown email) gave 0.06-0.10 in every round when tried;
    // noise would have to push three rounds out of the band in a row.
    let mut rounds = vec![];
    for round in 0..3 {
        let mut ratios = vec![];
        for i in 0..15 {
            let n = round * 100 + i;
            let (t1, r1) = attempt(unknown(n), format!("wrong password {n}")).await;
            let (t2, r2) = attempt(email.clone(), format!("wrong password {n}")).await;
            assert_eq!(r1.status, 401, "{}", r1.text);
            assert_eq!((r1.status, &r1.json), (r2.status, &r2.json), "the two refusals differ");
            ratios.push(t1.as_secs_f64() / t2.as_secs_f64());
        }
        ratios.sort_by(f64::total_cmp);
        let ratio = ratios[ratios.len() / 2];
        if (0.6..=1.6).contains(&ratio) {
            app.stop().await;
            return;
        }
        rounds.push(ratio);
    }
    panic!(
        "an unknown email and a wrong password are refused in different times: the median ratio of the two was \
         {rounds:?} in three rounds"
    );
});

// A NUL character (PostgreSQL refuses it in text) anywhere a client can put text or an id: never a 500.
on_both_databases!(nul_characters_are_refused_or_dropped_never_a_500, |backend: Backend| async move {
    let app = crate::common::TestApp::start(backend).await;
    let (c, user) = app.signed_up("Nul").await;
    let uid = user["id"].as_str().unwrap();
    let input = |text: &str| json!({"content": [{"type": "input_text", "text": text}], "attachments": [], "inference_options": {}});
    let attempts: Vec<(Method, String, Value)> = vec![
        (Method::POST, "/chatkit".into(), json!({"type": "threads.create", "params": {"input": input("\u{0}")}})),
        (Method::POST, "/chatkit".into(), json!({"type": "threads.get_by_id", "params": {"thread_id": "a\u{0}b"}})),
        (Method::POST, "/chatkit".into(), json!({"type": "items.list", "params": {"thread_id": "\u{0}"}})),
        (Method::POST, "/chatkit".into(), json!({"type": "threads.list", "params": {"after": "\u{0}"}})),
        (Method::POST, format!("/api/{uid}/chat"), json!({"message": "\u{0}"})),
        (Method::POST, format!("/api/{uid}/chat"), json!({"conversation_id": "\u{0}", "message": "hi"})),
        (Method::POST, "/api/tasks".into(), json!({"title": "\u{0}"})),
        (Method::POST, "/api/auth/update-user".into(), json!({"name": "a\u{0}"})),
        (Method::POST, "/api/auth/revoke-session".into(), json!({"token": "\u{0}"})),
        (Method::POST, "/api/auth/sign-in/email".into(), json!({"email": "a\u{0}@b.co", "password": "whatever1"})),
    ];
    for (method, path, body) in attempts {
        let r = c.request(method.clone(), &path, Some(body.clone())).await;
        assert!(r.status.as_u16() < 500, "{method} {path} {body}: {} {}", r.status, r.text);
        assert!(r.status.is_success() || r.json["message"].is_string(), "{method} {path}: {}", r.text);
    }
    // A message that is only a NUL is empty; one with a NUL inside is stored without it.
    let ok = c.post(&format!("/api/{uid}/chat"), json!({"message": "add milk\u{0}"})).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    app.stop().await;
});
