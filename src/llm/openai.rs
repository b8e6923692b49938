//! OpenAI Chat Completions with tools and streaming. The base URL makes any compatible server work (Ollama,
//! vLLM, llama.cpp, OpenRouter, Gemini's OpenAI-compatible endpoint).

use std::borrow::Cow;
use std::collections::BTreeMap;

use futures::StreamExt;
use serde_json::{Value, json};

use super::sse::{data_events, send_with_retries};
use super::{
    CallPolicy, ChatMessage, ChatModel, HttpClients, LlmError, ModelEvent, ModelRequest, ModelStream, ToolCall,
};

pub struct OpenAi {
    http: HttpClients,
    base_url: String,
    api_key: String,
    model: String,
    policy: CallPolicy,
}

impl OpenAi {
    pub fn new(http: HttpClients, base_url: String, api_key: String, model: String, policy: CallPolicy) -> Self {
        OpenAi { http, base_url: base_url.trim_end_matches('/').to_string(), api_key, model, policy }
    }
}

/// The request body: system prompt, history, tools, streaming with usage. Written straight from the request's
/// fields, which it borrows: built as a `serde_json::Value`, every call copied the history and the tools' schemas.
pub fn request_body<'a>(model: &'a str, req: &'a ModelRequest) -> body::Request<'a> {
    use body::{Call, Function, Message, Request, StreamOptions, Tool};
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
        stream: true,
        stream_options: StreamOptions { include_usage: true },
        tools: req.tools.iter().map(|t| Tool { r#type: "function", function: t }).collect(),
    }
}

/// The Chat Completions request as it goes on the wire.
pub mod body {
    use std::borrow::Cow;

    use serde::Serialize;

    use crate::llm::ToolSpec;

    #[derive(Serialize)]
    pub struct Request<'a> {
        pub model: &'a str,
        pub messages: Vec<Message<'a>>,
        pub stream: bool,
        pub stream_options: StreamOptions,
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
        pub function: &'a ToolSpec,
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
        format!("openai:{}", self.model)
    }

    async fn stream(&self, request: &ModelRequest) -> Result<ModelStream, LlmError> {
        let body = request_body(&self.model, request);
        let url = format!("{}/chat/completions", self.base_url);
        let (http, lease) = self.http.lease(&url);
        let res = send_with_retries(&self.policy, || {
            let mut b = http.post(&url).json(&body);
            if !self.api_key.is_empty() {
                b = b.bearer_auth(&self.api_key);
            }
            b
        })
        .await?;
        let events = data_events(res, self.policy.idle_timeout, lease);
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
    std::mem::take(calls)
        .into_values()
        .enumerate()
        .map(|(i, c)| {
            let arguments = if c.arguments.trim().is_empty() {
                json!({})
            } else {
                serde_json::from_str(&c.arguments).unwrap_or(Value::String(c.arguments))
            };
            let id = if c.id.is_empty() { format!("call_{i}") } else { c.id };
            Ok(ModelEvent::ToolCall(ToolCall { id, name: c.name, arguments }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::ToolSpec;

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
        let body = serde_json::to_value(request_body("m", &req)).unwrap();
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
                    "parameters": {"type": "object", "properties": {"title": {"type": "string"}}}}}],
            })
        );
        let without_tools = ModelRequest { tools: Vec::new().into(), ..req };
        assert!(serde_json::to_value(request_body("m", &without_tools)).unwrap().get("tools").is_none());
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
