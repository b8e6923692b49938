//! OpenAI Chat Completions with tools and streaming. The base URL makes any compatible server work (Ollama,
//! vLLM, llama.cpp, OpenRouter, Gemini's OpenAI-compatible endpoint).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use serde_json::{Map, Value, json};

use super::sse::{data_events, send_with_retries};
use super::{ChatMessage, ChatModel, Endpoint, LlmError, ModelEvent, ModelRequest, ModelStream, ToolCall, ToolSpec};

/// How requests are shaped, for servers that differ from OpenAI's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpenAiOptions {
    /// Sent only when set: the server's default otherwise.
    pub temperature: Option<f64>,
    /// `false` asks for one `chat.completion` JSON answer (servers that stream tool calls badly).
    pub stream: bool,
    /// Whether a streamed request asks for usage (`stream_options`), which some compatible servers reject.
    pub stream_usage: bool,
}

impl Default for OpenAiOptions {
    fn default() -> Self {
        OpenAiOptions { temperature: None, stream: true, stream_usage: true }
    }
}

pub struct OpenAi {
    at: Endpoint,
    options: OpenAiOptions,
    /// The strict schemas of the last tool list seen (every turn shares one list), so they are derived once.
    strict: Mutex<Option<StrictTools>>,
}

/// A tool list and the strict `parameters` of each of its tools.
type StrictTools = (Arc<[ToolSpec]>, Arc<[Value]>);

impl OpenAi {
    pub fn new(at: Endpoint, options: OpenAiOptions) -> Self {
        OpenAi { at, options, strict: Mutex::default() }
    }

    fn strict_parameters(&self, tools: &Arc<[ToolSpec]>) -> Arc<[Value]> {
        let mut cached = self.strict.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((seen, params)) = cached.as_ref()
            && Arc::ptr_eq(seen, tools)
        {
            return params.clone();
        }
        let params: Arc<[Value]> = tools.iter().map(|t| strict_schema(&t.parameters)).collect();
        *cached = Some((tools.clone(), params.clone()));
        params
    }
}

/// The keywords a strict schema keeps: the subset OpenAI's Structured Outputs documents for every model, which
/// is also what compatible servers' grammar engines read. Length, range, count, pattern and format limits are
/// refused by strict mode on some models and servers, so they go into the description instead.
const STRICT_KEYWORDS: &[&str] = &["type", "description", "properties", "required", "items", "enum", "anyOf", "const"];

/// The canonical schema made strict for OpenAI: every property required, no others allowed, an optional
/// property's type widened to take `null` (how strict mode says "left out"; [`strict_arguments`] turns those
/// nulls back into omissions), and unsupported keywords folded into the description.
pub fn strict_schema(schema: &Value) -> Value {
    strict_node(schema, false)
}

fn strict_node(schema: &Value, nullable: bool) -> Value {
    let Value::Object(map) = schema else { return schema.clone() };
    let mut out = Map::new();
    for (k, v) in map {
        match k.as_str() {
            "properties" => {
                let required: Vec<&str> = map
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let props = v.as_object().cloned().unwrap_or_default();
                let props: Map<String, Value> = props
                    .iter()
                    .map(|(name, p)| (name.clone(), strict_node(p, !required.contains(&name.as_str()))))
                    .collect();
                out.insert("required".into(), props.keys().cloned().map(Value::String).collect());
                out.insert("properties".into(), Value::Object(props));
            }
            "items" => {
                out.insert(k.clone(), strict_node(v, false));
            }
            "anyOf" => {
                let branches = v.as_array().map(|b| b.iter().map(|s| strict_node(s, false)).collect());
                out.insert(k.clone(), branches.map_or_else(|| v.clone(), Value::Array));
            }
            "required" => {}
            _ if STRICT_KEYWORDS.contains(&k.as_str()) => {
                out.insert(k.clone(), v.clone());
            }
            _ => {}
        }
    }
    if out.contains_key("properties") || out.get("type").and_then(Value::as_str) == Some("object") {
        out.entry("properties").or_insert_with(|| json!({}));
        out.entry("required").or_insert_with(|| json!([]));
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    if let Some(limits) = limits_in_words(map) {
        let text = match out.get("description").and_then(Value::as_str) {
            Some(d) => format!("{} ({limits})", d.trim_end()),
            None => format!("({limits})"),
        };
        out.insert("description".into(), Value::String(text));
    }
    if nullable {
        widen_to_null(&mut out);
    }
    Value::Object(out)
}

/// What the stripped keywords said, in words a model reads ("1–200 characters; at most 20 items").
fn limits_in_words(map: &Map<String, Value>) -> Option<String> {
    let num = |k: &str| map.get(k).and_then(Value::as_f64);
    let range = |min: Option<f64>, max: Option<f64>, unit: &str| match (min, max) {
        (Some(a), Some(b)) => Some(format!("{a}–{b}{unit}")),
        (Some(a), None) if a == 1.0 && unit == " characters" => Some("not empty".to_string()),
        (Some(a), None) => Some(format!("at least {a}{unit}")),
        (None, Some(b)) => Some(format!("at most {b}{unit}")),
        (None, None) => None,
    };
    let mut parts: Vec<String> = [
        range(num("minLength"), num("maxLength"), " characters"),
        range(num("minimum"), num("maximum"), ""),
        range(num("minItems"), num("maxItems"), " items"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if let Some(p) = map.get("pattern").and_then(Value::as_str) {
        parts.push(format!("matching {p}"));
    }
    if let Some(f) = map.get("format").and_then(Value::as_str) {
        parts.push(format!("format {f}"));
    }
    if let Some(d) = map.get("default") {
        parts.push(format!("default {d}"));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Lets an optional property take `null`: in its type, its enum, or its `anyOf`.
fn widen_to_null(schema: &mut Map<String, Value>) {
    let null = Value::String("null".into());
    match schema.get_mut("type") {
        Some(Value::String(t)) if t != "null" => {
            let one = Value::String(std::mem::take(t));
            schema.insert("type".into(), Value::Array(vec![one, null.clone()]));
        }
        Some(Value::Array(types)) if !types.contains(&null) => types.push(null.clone()),
        _ => {}
    }
    if let Some(Value::Array(values)) = schema.get_mut("enum")
        && !values.contains(&Value::Null)
    {
        values.push(Value::Null);
    }
    if let Some(Value::Array(branches)) = schema.get_mut("anyOf")
        && !branches.iter().any(|b| b.get("type") == Some(&null))
    {
        branches.push(json!({"type": "null"}));
    }
}

/// A strict-mode call's arguments as the tools read them: a null property is one the model left out (strict
/// mode makes it send every property), so it is dropped, at every level. `update_task` removes a due date
/// with `"none"` for this reason.
pub fn strict_arguments(arguments: Value) -> Value {
    match arguments {
        Value::Object(map) => Value::Object(
            map.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, strict_arguments(v))).collect(),
        ),
        other => other,
    }
}

/// The request body: system prompt, history, tools (with their strict `parameters`, one per tool), streaming
/// with usage unless `options` say otherwise. Written straight from the request's fields, which it borrows:
/// built as a `serde_json::Value`, every call copied the history and the tools' schemas.
pub fn request_body<'a>(
    model: &'a str,
    req: &'a ModelRequest,
    options: &OpenAiOptions,
    parameters: &'a [Value],
) -> body::Request<'a> {
    use body::{Call, Function, Message, Request, StreamOptions, Tool, ToolFunction};
    let mut messages = Vec::with_capacity(req.messages.len() + 1);
    messages.push(Message::System { content: &req.system });
    for m in &req.messages {
        messages.push(match m {
            ChatMessage::User(text) => Message::User { content: text },
            ChatMessage::Assistant { text, tool_calls, .. } => Message::Assistant {
                content: (!text.is_empty()).then_some(text.as_str()),
                tool_calls: tool_calls
                    .iter()
                    .map(|c| Call {
                        id: &c.id,
                        r#type: "function",
                        function: Function {
                            name: &c.name,
                            arguments: match &c.arguments {
                                Value::String(raw) => Cow::Borrowed(raw.as_str()),
                                other => Cow::Owned(other.to_string()),
                            },
                        },
                    })
                    .collect(),
            },
            ChatMessage::ToolResult { call_id, result, .. } => {
                Message::Tool { tool_call_id: call_id, content: result.to_string() }
            }
        });
    }
    Request {
        model,
        messages,
        stream: options.stream,
        stream_options: (options.stream && options.stream_usage).then_some(StreamOptions { include_usage: true }),
        temperature: options.temperature,
        tools: req
            .tools
            .iter()
            .zip(parameters)
            .map(|(t, parameters)| Tool {
                r#type: "function",
                function: ToolFunction { name: &t.name, description: &t.description, parameters, strict: true },
            })
            .collect(),
    }
}

/// The Chat Completions request as it goes on the wire.
pub mod body {
    use std::borrow::Cow;

    use serde::Serialize;

    use serde_json::Value;

    #[derive(Serialize)]
    pub struct Request<'a> {
        pub model: &'a str,
        pub messages: Vec<Message<'a>>,
        pub stream: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub stream_options: Option<StreamOptions>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub temperature: Option<f64>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub tools: Vec<Tool<'a>>,
    }

    #[derive(Serialize)]
    pub struct StreamOptions {
        pub include_usage: bool,
    }

    #[derive(Serialize)]
    #[serde(tag = "role", rename_all = "lowercase")]
    pub enum Message<'a> {
        System {
            content: &'a str,
        },
        User {
            content: &'a str,
        },
        Assistant {
            content: Option<&'a str>,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            tool_calls: Vec<Call<'a>>,
        },
        Tool {
            tool_call_id: &'a str,
            content: String,
        },
    }

    #[derive(Serialize)]
    pub struct Call<'a> {
        pub id: &'a str,
        pub r#type: &'static str,
        pub function: Function<'a>,
    }

    #[derive(Serialize)]
    pub struct Function<'a> {
        pub name: &'a str,
        pub arguments: Cow<'a, str>,
    }

    #[derive(Serialize)]
    pub struct Tool<'a> {
        pub r#type: &'static str,
        pub function: ToolFunction<'a>,
    }

    #[derive(Serialize)]
    pub struct ToolFunction<'a> {
        pub name: &'a str,
        pub description: &'a str,
        pub parameters: &'a Value,
        pub strict: bool,
    }
}

/// What one streamed chunk says, from the first choice.
#[derive(Debug, Default, PartialEq)]
struct Chunk<'a> {
    error: Option<String>,
    usage: Option<(u64, u64)>,
    text: Option<Cow<'a, str>>,
    tool_calls: Vec<CallPiece<'a>>,
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Debug, PartialEq)]
struct CallPiece<'a> {
    index: u64,
    id: Option<Cow<'a, str>>,
    name: Option<Cow<'a, str>>,
    arguments: Option<Cow<'a, str>>,
}

impl<'a> Chunk<'a> {
    /// `None` when `data` is not JSON. Chunks of the usual shape are read straight into typed fields, borrowing
    /// their strings (a turn streams dozens of chunks; building each as a `serde_json::Value` cost more than the
    /// rest of reading it). A chunk that does not fit that shape (a field of an unexpected type, say) is read as
    /// a `Value` instead, keeping whatever parts make sense, as before.
    fn parse(data: &'a str) -> Option<Chunk<'a>> {
        match serde_json::from_str::<wire::Chunk<'a>>(data) {
            Ok(c) => Some(c.into()),
            Err(_) => serde_json::from_str::<Value>(data).ok().map(|v| Chunk::from_value(&v)),
        }
    }

    fn from_value(chunk: &Value) -> Chunk<'static> {
        let owned = |v: Option<&Value>| v.and_then(Value::as_str).map(|s| Cow::Owned(s.to_string()));
        let error = chunk
            .get("error")
            .filter(|e| !e.is_null())
            .map(|err| err.get("message").and_then(Value::as_str).unwrap_or("error").to_string());
        let usage = chunk.get("usage").filter(|u| u.is_object()).map(|usage| {
            (
                usage.get("prompt_tokens").and_then(Value::as_u64).unwrap_or(0),
                usage.get("completion_tokens").and_then(Value::as_u64).unwrap_or(0),
            )
        });
        let choice = chunk.pointer("/choices/0");
        let delta = choice.and_then(|c| c.get("delta"));
        let tool_calls = delta
            .and_then(|d| d.get("tool_calls"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|tc| CallPiece {
                index: tc.get("index").and_then(Value::as_u64).unwrap_or(0),
                id: owned(tc.get("id")),
                name: owned(tc.pointer("/function/name")),
                arguments: owned(tc.pointer("/function/arguments")),
            })
            .collect();
        Chunk {
            error,
            usage,
            text: owned(delta.and_then(|d| d.get("content"))),
            tool_calls,
            finish_reason: owned(choice.and_then(|c| c.get("finish_reason"))),
        }
    }
}

/// The chunk as OpenAI sends it; fields not named here are skipped without being built.
mod wire {
    use std::borrow::Cow;

    use serde::Deserialize;

    /// A string borrowed from the chunk unless it has escapes. (serde borrows a `Cow` only when it is a field's
    /// own type: inside an `Option` it would always copy.)
    #[derive(Deserialize)]
    pub struct Str<'a>(#[serde(borrow)] pub Cow<'a, str>);

    #[derive(Deserialize)]
    pub struct Chunk<'a> {
        #[serde(borrow)]
        pub choices: Option<Vec<Choice<'a>>>,
        pub usage: Option<Usage>,
        pub error: Option<ErrorBody>,
    }

    #[derive(Deserialize)]
    pub struct Choice<'a> {
        #[serde(borrow)]
        pub delta: Option<Delta<'a>>,
        #[serde(borrow)]
        pub finish_reason: Option<Str<'a>>,
    }

    #[derive(Deserialize)]
    pub struct Delta<'a> {
        #[serde(borrow)]
        pub content: Option<Str<'a>>,
        #[serde(borrow)]
        pub tool_calls: Option<Vec<ToolCall<'a>>>,
    }

    #[derive(Deserialize)]
    pub struct ToolCall<'a> {
        pub index: Option<u64>,
        #[serde(borrow)]
        pub id: Option<Str<'a>>,
        #[serde(borrow)]
        pub function: Option<Function<'a>>,
    }

    #[derive(Deserialize)]
    pub struct Function<'a> {
        #[serde(borrow)]
        pub name: Option<Str<'a>>,
        #[serde(borrow)]
        pub arguments: Option<Str<'a>>,
    }

    #[derive(Deserialize)]
    pub struct Usage {
        pub prompt_tokens: Option<u64>,
        pub completion_tokens: Option<u64>,
    }

    #[derive(Deserialize)]
    pub struct ErrorBody {
        pub message: Option<String>,
    }
}

impl<'a> From<wire::Chunk<'a>> for Chunk<'a> {
    fn from(c: wire::Chunk<'a>) -> Chunk<'a> {
        let choice = c.choices.and_then(|v| v.into_iter().next());
        let (delta, finish_reason) = match choice {
            Some(ch) => (ch.delta, ch.finish_reason.map(|s| s.0)),
            None => (None, None),
        };
        let (text, calls) = match delta {
            Some(d) => (d.content.map(|s| s.0), d.tool_calls.unwrap_or_default()),
            None => (None, vec![]),
        };
        Chunk {
            error: c.error.map(|e| e.message.unwrap_or_else(|| "error".into())),
            usage: c.usage.map(|u| (u.prompt_tokens.unwrap_or(0), u.completion_tokens.unwrap_or(0))),
            text,
            tool_calls: calls
                .into_iter()
                .map(|tc| {
                    let (name, arguments) = tc.function.map(|f| (f.name, f.arguments)).unwrap_or_default();
                    let cow = |s: Option<wire::Str<'a>>| s.map(|s| s.0);
                    CallPiece {
                        index: tc.index.unwrap_or(0),
                        id: cow(tc.id),
                        name: cow(name),
                        arguments: cow(arguments),
                    }
                })
                .collect(),
            finish_reason,
        }
    }
}

#[derive(Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

#[async_trait::async_trait]
impl ChatModel for OpenAi {
    fn name(&self) -> String {
        format!("openai:{}", self.at.model)
    }

    async fn stream(&self, request: &ModelRequest) -> Result<ModelStream, LlmError> {
        let parameters = self.strict_parameters(&request.tools);
        let body = request_body(&self.at.model, request, &self.options, &parameters);
        let url = format!("{}/chat/completions", self.at.base_url);
        let (http, lease) = self.at.http.lease(&url);
        let res = send_with_retries(&self.at.policy, || {
            let mut b = http.post(&url).json(&body);
            if !self.at.api_key.is_empty() {
                b = b.bearer_auth(&self.at.api_key);
            }
            b
        })
        .await?;
        if !self.options.stream {
            // Read whole here, so that a bad answer is an error before any event (the next model may answer).
            let answer = read_body(res, self.at.policy.idle_timeout).await?;
            drop(lease);
            return Ok(Box::pin(futures::stream::iter(completion_events(&answer)?.into_iter().map(Ok))));
        }
        let events = data_events(res, self.at.policy.idle_timeout, lease);
        // Tool-call fragments arrive spread over chunks, keyed by index; they are emitted whole at the end.
        let stream = futures::stream::unfold(
            (Box::pin(events), BTreeMap::<u64, PartialCall>::new(), false),
            |(mut events, mut calls, mut finished)| async move {
                loop {
                    if finished {
                        return None;
                    }
                    let next = events.next().await;
                    let data = match next {
                        None => {
                            finished = true;
                            if calls.is_empty() {
                                return None;
                            }
                            let out = flush(&mut calls);
                            return Some((futures::stream::iter(out), (events, calls, finished)));
                        }
                        Some(Err(e)) => {
                            return Some((futures::stream::iter(vec![Err(e)]), (events, calls, true)));
                        }
                        Some(Ok(d)) => d,
                    };
                    if data.trim() == "[DONE]" {
                        finished = true;
                        let out = flush(&mut calls);
                        return Some((futures::stream::iter(out), (events, calls, finished)));
                    }
                    let Some(chunk) = Chunk::parse(&data) else {
                        let e = LlmError::Protocol("a stream chunk is not JSON".into());
                        return Some((futures::stream::iter(vec![Err(e)]), (events, calls, true)));
                    };
                    if let Some(message) = chunk.error {
                        let e = LlmError::Rejected { status: 200, message };
                        return Some((futures::stream::iter(vec![Err(e)]), (events, calls, true)));
                    }
                    let mut out = vec![];
                    if let Some((input_tokens, output_tokens)) = chunk.usage {
                        out.push(Ok(ModelEvent::Usage { input_tokens, output_tokens }));
                    }
                    if let Some(text) = chunk.text.filter(|t| !t.is_empty()) {
                        out.push(Ok(ModelEvent::TextDelta(text.into_owned())));
                    }
                    for tc in chunk.tool_calls {
                        let entry = calls.entry(tc.index).or_default();
                        if let Some(id) = tc.id {
                            entry.id = id.into_owned();
                        }
                        if let Some(name) = tc.name {
                            entry.name.push_str(&name);
                        }
                        if let Some(args) = tc.arguments {
                            entry.arguments.push_str(&args);
                        }
                    }
                    if let Some(reason) = chunk.finish_reason {
                        out.extend(flush(&mut calls));
                        out.push(Ok(ModelEvent::Finish { reason: reason.into_owned() }));
                    }
                    if !out.is_empty() {
                        return Some((futures::stream::iter(out), (events, calls, finished)));
                    }
                }
            },
        )
        .flatten();
        Ok(Box::pin(stream))
    }
}

fn flush(calls: &mut BTreeMap<u64, PartialCall>) -> Vec<Result<ModelEvent, LlmError>> {
    std::mem::take(calls).into_values().enumerate().map(|(i, c)| Ok(ModelEvent::ToolCall(tool_call(i, c)))).collect()
}

/// A whole call: its arguments read as the tools take them, an id made up when the server gave none.
fn tool_call(index: usize, c: PartialCall) -> ToolCall {
    let arguments = if c.arguments.trim().is_empty() {
        json!({})
    } else {
        serde_json::from_str(&c.arguments).map(strict_arguments).unwrap_or(Value::String(c.arguments))
    };
    let id = if c.id.is_empty() { format!("call_{index}") } else { c.id };
    ToolCall { id, name: c.name, arguments }
}

/// A non-streamed answer is at most this big (a reply of the largest models is well under 1 MB).
const MAX_ANSWER_BYTES: usize = 8 << 20;

/// The whole body of a non-streamed answer, each piece within `idle_timeout` of the last.
async fn read_body(res: reqwest::Response, idle_timeout: std::time::Duration) -> Result<Vec<u8>, LlmError> {
    let mut body = Box::pin(res.bytes_stream());
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout(idle_timeout, body.next()).await {
            Err(_) => return Err(LlmError::Timeout),
            Ok(None) => return Ok(out),
            Ok(Some(Err(e))) if e.is_timeout() => return Err(LlmError::Timeout),
            Ok(Some(Err(e))) => return Err(LlmError::Network(e.without_url().to_string())),
            Ok(Some(Ok(piece))) => {
                if out.len() + piece.len() > MAX_ANSWER_BYTES {
                    return Err(LlmError::Protocol("the answer is too large".into()));
                }
                out.extend_from_slice(&piece);
            }
        }
    }
}

/// The events of a `chat.completion` answer (`stream: false`): usage, the text, the calls, the finish.
fn completion_events(body: &[u8]) -> Result<Vec<ModelEvent>, LlmError> {
    let answer: Value =
        serde_json::from_slice(body).map_err(|_| LlmError::Protocol("the answer is not JSON".into()))?;
    if let Some(err) = answer.get("error").filter(|e| !e.is_null()) {
        let message = err.get("message").and_then(Value::as_str).unwrap_or("error").to_string();
        return Err(LlmError::Rejected { status: 200, message });
    }
    let choice = answer.pointer("/choices/0").ok_or_else(|| LlmError::Protocol("the answer has no choice".into()))?;
    let message = choice.get("message");
    let mut out = vec![];
    if let Some(usage) = answer.get("usage").filter(|u| u.is_object()) {
        out.push(ModelEvent::Usage {
            input_tokens: usage.get("prompt_tokens").and_then(Value::as_u64).unwrap_or(0),
            output_tokens: usage.get("completion_tokens").and_then(Value::as_u64).unwrap_or(0),
        });
    }
    if let Some(text) = message.and_then(|m| m.get("content")).and_then(Value::as_str).filter(|t| !t.is_empty()) {
        out.push(ModelEvent::TextDelta(text.to_string()));
    }
    let calls = message.and_then(|m| m.get("tool_calls")).and_then(Value::as_array).into_iter().flatten();
    for (i, tc) in calls.enumerate() {
        let text = |v: Option<&Value>| match v {
            Some(Value::String(s)) => s.clone(),
            // Some servers send the arguments as an object rather than a string of JSON.
            Some(v @ Value::Object(_)) => v.to_string(),
            _ => String::new(),
        };
        let call = PartialCall {
            id: text(tc.get("id")),
            name: text(tc.pointer("/function/name")),
            arguments: text(tc.pointer("/function/arguments")),
        };
        out.push(ModelEvent::ToolCall(tool_call(i, call)));
    }
    let reason = choice.get("finish_reason").and_then(Value::as_str).unwrap_or("stop");
    out.push(ModelEvent::Finish { reason: reason.to_string() });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_body_is_chat_completions_json() {
        let call = |id: &str, arguments: Value| ToolCall { id: id.into(), name: "add_task".into(), arguments };
        let req = ModelRequest {
            system: "You manage tasks.".into(),
            messages: vec![
                ChatMessage::User("add milk".into()),
                ChatMessage::Assistant {
                    text: String::new(),
                    tool_calls: vec![call("c1", json!({"title": "milk"})), call("c2", json!("{not json"))],
                    provider_state: None,
                },
                ChatMessage::ToolResult { call_id: "c1".into(), name: "add_task".into(), result: json!({"ok": true}) },
                ChatMessage::Assistant { text: "Added.".into(), tool_calls: vec![], provider_state: None },
            ],
            tools: vec![ToolSpec {
                name: "add_task".into(),
                description: "Adds a task.".into(),
                parameters: json!({"type": "object", "properties": {"title": {"type": "string"}}}),
            }]
            .into(),
            tasks: None,
            user_name: None,
        };
        let strict: Vec<Value> = req.tools.iter().map(|t| strict_schema(&t.parameters)).collect();
        let body = serde_json::to_value(request_body("m", &req, &OpenAiOptions::default(), &strict)).unwrap();
        let function = |id: &str, args: &str| json!({"id": id, "type": "function", "function": {"name": "add_task", "arguments": args}});
        assert_eq!(
            body,
            json!({
                "model": "m",
                "stream": true,
                "stream_options": {"include_usage": true},
                "messages": [
                    {"role": "system", "content": "You manage tasks."},
                    {"role": "user", "content": "add milk"},
                    {"role": "assistant", "content": null,
                     "tool_calls": [function("c1", r#"{"title":"milk"}"#), function("c2", "{not json")]},
                    {"role": "tool", "tool_call_id": "c1", "content": r#"{"ok":true}"#},
                    {"role": "assistant", "content": "Added."},
                ],
                "tools": [{"type": "function", "function": {"name": "add_task", "description": "Adds a task.",
                    "strict": true,
                    "parameters": {"type": "object", "properties": {"title": {"type": ["string", "null"]}},
                                   "required": ["title"], "additionalProperties": false}}}],
            })
        );
        // Not streamed: neither stream_options nor usage asked for; a temperature when one is set.
        let options = OpenAiOptions { temperature: Some(0.2), stream: false, stream_usage: true };
        let body = serde_json::to_value(request_body("m", &req, &options, &strict)).unwrap();
        assert_eq!(
            (&body["stream"], body.get("stream_options"), &body["temperature"]),
            (&json!(false), None, &json!(0.2))
        );
        let options = OpenAiOptions { stream_usage: false, ..OpenAiOptions::default() };
        let body = serde_json::to_value(request_body("m", &req, &options, &strict)).unwrap();
        assert_eq!((&body["stream"], body.get("stream_options"), body.get("temperature")), (&json!(true), None, None));
        let without_tools = ModelRequest { tools: Vec::new().into(), ..req };
        let body = request_body("m", &without_tools, &OpenAiOptions::default(), &[]);
        assert!(serde_json::to_value(body).unwrap().get("tools").is_none());
    }

    #[test]
    fn strict_schemas_require_everything_allow_nothing_else_and_take_null_for_what_was_optional() {
        let canonical = json!({
            "type": "object",
            "properties": {
                "title": {"type": "string", "minLength": 1, "maxLength": 200, "description": "What to do."},
                "due": {"type": ["string", "null"], "maxLength": 100},
                "priority": {"type": "string", "enum": ["low", "high"]},
                "limit": {"type": "integer", "minimum": 1, "maximum": 100},
                "status": {"type": "string", "enum": ["all", "done"], "default": "all", "description": "Which."},
                "labels": {"type": "array", "items": {"type": "string", "minLength": 1}, "maxItems": 20},
                "filter": {"type": "object", "properties": {"word": {"type": "string", "pattern": "^[a-z]+$"}},
                           "required": [], "additionalProperties": true},
                "when": {"anyOf": [{"type": "string", "format": "date"}, {"type": "integer"}]}
            },
            "required": ["title"],
            "additionalProperties": false
        });
        let strict = strict_schema(&canonical);
        let keys: Vec<&str> = strict["properties"].as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(strict["required"], json!(keys), "every property is required");
        assert_eq!(strict["additionalProperties"], false);
        let p = &strict["properties"];
        assert_eq!(p["title"], json!({"type": "string", "description": "What to do. (1–200 characters)"}));
        assert_eq!(p["due"], json!({"type": ["string", "null"], "description": "(at most 100 characters)"}));
        assert_eq!(p["priority"], json!({"type": ["string", "null"], "enum": ["low", "high", null]}));
        assert_eq!(p["limit"], json!({"type": ["integer", "null"], "description": "(1–100)"}));
        assert_eq!(p["status"]["description"], r#"Which. (default "all")"#);
        assert_eq!(p["labels"]["type"], json!(["array", "null"]));
        assert_eq!(p["labels"]["items"], json!({"type": "string", "description": "(not empty)"}));
        assert_eq!(p["labels"]["description"], "(at most 20 items)");
        assert_eq!(p["filter"]["type"], json!(["object", "null"]));
        assert_eq!(p["filter"]["additionalProperties"], false, "nested objects too");
        assert_eq!(p["filter"]["required"], json!(["word"]));
        assert_eq!(p["filter"]["properties"]["word"]["type"], json!(["string", "null"]));
        assert_eq!(p["when"]["anyOf"][0], json!({"type": "string", "description": "(format date)"}));
        assert_eq!(p["when"]["anyOf"][2], json!({"type": "null"}));
        let text = strict.to_string();
        for banned in ["minLength", "maxLength", "minimum", "maximum", "maxItems", "pattern", "format", "default"] {
            assert!(!text.contains(&format!("\"{banned}\":")), "{banned} is left in {text}");
        }
        // A tool without arguments is still a strict object.
        let empty = strict_schema(&json!({"type": "object", "properties": {}, "additionalProperties": false}));
        assert_eq!(empty, json!({"type": "object", "properties": {}, "required": [], "additionalProperties": false}));
    }

    #[test]
    fn the_real_tools_are_strict_and_mcp_keeps_the_canonical_schemas() {
        for def in crate::chat::tools::definitions() {
            let strict = strict_schema(&def.input_schema);
            let props = strict["properties"].as_object().unwrap();
            assert_eq!(strict["required"].as_array().unwrap().len(), props.len(), "{}", def.name);
            let canonical_required = def.input_schema.get("required").cloned().unwrap_or(json!([]));
            for (name, p) in props {
                let optional = !canonical_required.as_array().unwrap().contains(&json!(name));
                let types = p["type"].as_array().cloned().unwrap_or_else(|| vec![p["type"].clone()]);
                assert_eq!(types.contains(&json!("null")), optional, "{}.{name}: {p}", def.name);
                if let Some(values) = p.get("enum") {
                    assert_eq!(values.as_array().unwrap().contains(&Value::Null), optional, "{}.{name}", def.name);
                }
            }
            // The canonical schema is untouched: MCP clients still leave optional arguments out.
            assert_ne!(def.input_schema, strict, "{}", def.name);
        }
    }

    #[test]
    fn strict_nulls_are_arguments_left_out() {
        let args = strict_arguments(json!({"task_id": 3, "task_ids": null, "due": null, "labels": ["a"],
                                           "inner": {"x": null, "y": 1}}));
        assert_eq!(args, json!({"task_id": 3, "labels": ["a"], "inner": {"y": 1}}));
        let call = tool_call(0, PartialCall { id: String::new(), name: "t".into(), arguments: r#"{"a":null}"#.into() });
        assert_eq!((call.id.as_str(), call.arguments), ("call_0", json!({})));
    }

    #[test]
    fn a_non_streamed_answer_reads_as_the_stream_does() {
        let answer = json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
                "tool_calls": [
                    {"id": "call_a", "type": "function", "function": {"name": "add_task",
                     "arguments": "{\"title\":\"milk\",\"due\":null}"}},
                    {"type": "function", "function": {"name": "list_tasks", "arguments": {"search": "milk"}}}
                ]}}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}
        });
        let events = completion_events(answer.to_string().as_bytes()).unwrap();
        let call = |id: &str, name: &str, arguments: Value| {
            ModelEvent::ToolCall(ToolCall { id: id.into(), name: name.into(), arguments })
        };
        assert_eq!(
            events,
            vec![
                ModelEvent::Usage { input_tokens: 9, output_tokens: 4 },
                call("call_a", "add_task", json!({"title": "milk"})),
                call("call_1", "list_tasks", json!({"search": "milk"})),
                ModelEvent::Finish { reason: "tool_calls".into() },
            ]
        );
        let text = json!({"choices": [{"message": {"content": "Done."}, "finish_reason": "stop"}]});
        assert_eq!(
            completion_events(text.to_string().as_bytes()).unwrap(),
            vec![ModelEvent::TextDelta("Done.".into()), ModelEvent::Finish { reason: "stop".into() }]
        );
        let refused = json!({"error": {"message": "bad tool schema"}});
        assert!(matches!(completion_events(refused.to_string().as_bytes()), Err(LlmError::Rejected { .. })));
        assert!(matches!(completion_events(b"<html>"), Err(LlmError::Protocol(_))));
        assert!(matches!(completion_events(b"{\"choices\": []}"), Err(LlmError::Protocol(_))));
    }

    const CHUNKS: &[&str] = &[
        r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","system_fingerprint":null,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}"#,
        r#"{"id":"c1","choices":[{"index":0,"delta":{"content":"Added \"milk\" \u00e9"},"finish_reason":null}]}"#,
        r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"add_task","arguments":""}}]}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\"title\":"}}]}}]}"#,
        r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
        r#"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}"#,
        r#"{"choices":[{"delta":{"content":"x"}}],"usage":null}"#,
        r#"{"error":{"message":"quota exceeded","type":"insufficient_quota"}}"#,
        r#"{"error":null,"choices":[{"delta":{"content":"ok"}}]}"#,
        // Shapes the typed reading refuses, read leniently instead.
        r#"{"choices":[{"delta":{"content":5},"finish_reason":"stop"}]}"#,
        r#"{"choices":{"0":1},"usage":7}"#,
        r#"{"error":"bad"}"#,
        r#"{"error":{"message":42}}"#,
        r#"{"choices":[{"delta":{"tool_calls":[{"index":-1,"id":"a","function":{"name":"n","arguments":"{}"}}]}}]}"#,
        r#"[]"#,
        r#"{}"#,
    ];

    #[test]
    fn the_typed_reading_of_a_chunk_says_what_the_lenient_one_says() {
        for data in CHUNKS {
            let value: Value = serde_json::from_str(data).unwrap();
            assert_eq!(Chunk::parse(data).unwrap(), Chunk::from_value(&value), "{data}");
        }
        assert_eq!(Chunk::parse("not json"), None);
        assert_eq!(Chunk::parse(r#"{"choices": [1, 2"#), None);
    }

    #[test]
    fn chunks_read_as_the_stream_needs_them() {
        let text = Chunk::parse(CHUNKS[1]).unwrap();
        assert_eq!(text.text.as_deref(), Some("Added \"milk\" é"));
        let call = Chunk::parse(CHUNKS[2]).unwrap();
        assert_eq!(call.tool_calls[0].id.as_deref(), Some("call_1"));
        assert_eq!(call.tool_calls[0].name.as_deref(), Some("add_task"));
        assert_eq!(Chunk::parse(CHUNKS[3]).unwrap().tool_calls[0].index, 1);
        assert_eq!(Chunk::parse(CHUNKS[4]).unwrap().finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(Chunk::parse(CHUNKS[5]).unwrap().usage, Some((12, 3)));
        assert_eq!(Chunk::parse(CHUNKS[7]).unwrap().error.as_deref(), Some("quota exceeded"));
        assert_eq!(Chunk::parse(CHUNKS[8]).unwrap().error, None);
        assert_eq!(Chunk::parse(CHUNKS[11]).unwrap().error.as_deref(), Some("error"));
        let odd = Chunk::parse(CHUNKS[9]).unwrap();
        assert_eq!((odd.text, odd.finish_reason.as_deref()), (None, Some("stop")));
        // Plain text is borrowed from the chunk, not copied.
        let plain = r#"{"choices":[{"delta":{"content":"milk"}}]}"#;
        assert!(matches!(Chunk::parse(plain).unwrap().text, Some(Cow::Borrowed("milk"))));
    }
}
