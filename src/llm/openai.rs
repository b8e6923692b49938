//! OpenAI Chat Completions with tools and streaming. The base URL makes any compatible server work (Ollama,
//! vLLM, llama.cpp, OpenRouter, Gemini's OpenAI-compatible endpoint).

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

/// The request body: system prompt, history, tools, streaming with usage.
pub fn request_body(model: &str, req: &ModelRequest) -> Value {
    let mut messages = vec![json!({"role": "system", "content": req.system})];
    for m in &req.messages {
        messages.push(match m {
            ChatMessage::User(text) => json!({"role": "user", "content": text}),
            ChatMessage::Assistant { text, tool_calls, .. } => {
                let mut msg =
                    json!({"role": "assistant", "content": if text.is_empty() { Value::Null } else { json!(text) }});
                if !tool_calls.is_empty() {
                    msg["tool_calls"] = tool_calls
                        .iter()
                        .map(|c| {
                            let args = match &c.arguments {
                                Value::String(raw) => raw.clone(),
                                other => other.to_string(),
                            };
                            json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": args}})
                        })
                        .collect();
                }
                msg
            }
            ChatMessage::ToolResult { call_id, result, .. } => {
                json!({"role": "tool", "tool_call_id": call_id, "content": result.to_string()})
            }
        });
    }
    let tools: Vec<Value> = req
        .tools
        .iter()
        .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}))
        .collect();
    let mut body = json!({
        "model": model,
        "messages": messages,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    if !tools.is_empty() {
        body["tools"] = json!(tools);
    }
    body
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
                    let chunk: Value = match serde_json::from_str(&data) {
                        Ok(v) => v,
                        Err(_) => {
                            let e = LlmError::Protocol("a stream chunk is not JSON".into());
                            return Some((futures::stream::iter(vec![Err(e)]), (events, calls, true)));
                        }
                    };
                    if let Some(err) = chunk.get("error") {
                        let message = err.get("message").and_then(Value::as_str).unwrap_or("error").to_string();
                        let e = LlmError::Rejected { status: 200, message };
                        return Some((futures::stream::iter(vec![Err(e)]), (events, calls, true)));
                    }
                    let mut out = vec![];
                    if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
                        out.push(Ok(ModelEvent::Usage {
                            input_tokens: usage.get("prompt_tokens").and_then(Value::as_u64).unwrap_or(0),
                            output_tokens: usage.get("completion_tokens").and_then(Value::as_u64).unwrap_or(0),
                        }));
                    }
                    if let Some(choice) = chunk.pointer("/choices/0") {
                        let delta = choice.get("delta").cloned().unwrap_or(Value::Null);
                        if let Some(text) = delta.get("content").and_then(Value::as_str).filter(|t| !t.is_empty()) {
                            out.push(Ok(ModelEvent::TextDelta(text.to_string())));
                        }
                        for tc in delta.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
                            let index = tc.get("index").and_then(Value::as_u64).unwrap_or(0);
                            let entry = calls.entry(index).or_default();
                            if let Some(id) = tc.get("id").and_then(Value::as_str) {
                                entry.id = id.to_string();
                            }
                            if let Some(name) = tc.pointer("/function/name").and_then(Value::as_str) {
                                entry.name.push_str(name);
                            }
                            if let Some(args) = tc.pointer("/function/arguments").and_then(Value::as_str) {
                                entry.arguments.push_str(args);
                            }
                        }
                        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                            out.extend(flush(&mut calls));
                            out.push(Ok(ModelEvent::Finish { reason: reason.to_string() }));
                        }
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
