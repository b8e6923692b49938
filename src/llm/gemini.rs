//! Gemini's native `streamGenerateContent` with function declarations. The model's turn is replayed exactly
//! as it arrived (every part, thought signatures included): Gemini rejects function-calling turns whose
//! signatures were dropped.

use futures::StreamExt;
use serde_json::{Map, Value, json};

use super::sse::{data_events, send_with_retries};
use super::{ChatMessage, ChatModel, Endpoint, LlmError, ModelEvent, ModelRequest, ModelStream, ToolCall};

pub struct Gemini {
    at: Endpoint,
    /// `generationConfig.temperature`, sent only when set.
    temperature: Option<f64>,
}

impl Gemini {
    pub fn new(at: Endpoint, temperature: Option<f64>) -> Self {
        Gemini { at, temperature }
    }
}

/// Gemini's schema dialect is an OpenAPI subset: drop the JSON Schema keywords it rejects, and spell a
/// `"type": [T, "null"]` union the OpenAPI way (`"type": T, "nullable": true`), since it takes one type only.
fn gemini_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out: Map<String, Value> = map
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "additionalProperties" | "$schema" | "default"))
                .map(|(k, v)| (k.clone(), gemini_schema(v)))
                .collect();
            if let Some(Value::Array(types)) = map.get("type") {
                let named: Vec<&Value> = types.iter().filter(|t| t.as_str() != Some("null")).collect();
                if let [one] = named.as_slice() {
                    out.insert("type".into(), (*one).clone());
                }
                if named.len() < types.len() {
                    out.insert("nullable".into(), Value::Bool(true));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(gemini_schema).collect()),
        other => other.clone(),
    }
}

/// The state we keep of a Gemini turn: its parts as received, tagged so another provider's state is never
/// mistaken for it.
fn state_parts(state: &Option<Value>) -> Option<&Vec<Value>> {
    let s = state.as_ref()?;
    (s.get("provider").and_then(Value::as_str) == Some("gemini")).then(|| s.get("parts")?.as_array())?
}

pub fn request_body(req: &ModelRequest, temperature: Option<f64>) -> Value {
    let mut contents: Vec<Value> = vec![];
    // Call ids Gemini itself gave (in the parts it sent); a response names its call's id only then.
    let mut gemini_ids = std::collections::HashSet::new();
    for m in &req.messages {
        match m {
            ChatMessage::User(text) => contents.push(json!({"role": "user", "parts": [{"text": text}]})),
            ChatMessage::Assistant { text, tool_calls, provider_state } => {
                let parts = match state_parts(provider_state) {
                    Some(parts) => {
                        gemini_ids.extend(
                            parts
                                .iter()
                                .filter_map(|p| p.pointer("/functionCall/id").and_then(Value::as_str))
                                .map(str::to_string),
                        );
                        parts.clone()
                    }
                    None => {
                        let mut parts = vec![];
                        if !text.is_empty() {
                            parts.push(json!({"text": text}));
                        }
                        for c in tool_calls {
                            parts.push(json!({"functionCall": {"name": c.name, "args": c.arguments}}));
                        }
                        parts
                    }
                };
                if !parts.is_empty() {
                    contents.push(json!({"role": "model", "parts": parts}));
                }
            }
            ChatMessage::ToolResult { call_id, name, result } => {
                let mut response = json!({"name": name, "response": result});
                if gemini_ids.contains(call_id) {
                    response["id"] = json!(call_id);
                }
                let part = json!({"functionResponse": response});
                // Consecutive function responses belong in one user turn.
                match contents.last_mut() {
                    Some(last)
                        if last["role"] == "user"
                            && last["parts"]
                                .as_array()
                                .is_some_and(|p| p.iter().all(|x| x.get("functionResponse").is_some())) =>
                    {
                        if let Some(parts) = last["parts"].as_array_mut() {
                            parts.push(part);
                        }
                    }
                    _ => contents.push(json!({"role": "user", "parts": [part]})),
                }
            }
        }
    }
    let mut body = json!({
        "systemInstruction": {"parts": [{"text": req.system}]},
        "contents": contents,
    });
    if !req.tools.is_empty() {
        let decls: Vec<Value> = req
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "parameters": gemini_schema(&t.parameters)}))
            .collect();
        body["tools"] = json!([{"functionDeclarations": decls}]);
    }
    if let Some(t) = temperature {
        body["generationConfig"] = json!({"temperature": t});
    }
    body
}

#[async_trait::async_trait]
impl ChatModel for Gemini {
    fn name(&self) -> String {
        format!("gemini:{}", self.at.model)
    }

    async fn stream(&self, request: &ModelRequest) -> Result<ModelStream, LlmError> {
        let body = request_body(request, self.temperature);
        let url = format!("{}/models/{}:streamGenerateContent?alt=sse", self.at.base_url, self.at.model);
        let (http, lease) = self.at.http.lease(&url);
        let res = send_with_retries(&self.at.policy, || {
            http.post(&url).header("x-goog-api-key", &self.at.api_key).json(&body)
        })
        .await?;
        let events = data_events(res, self.at.policy.idle_timeout, lease);
        let stream = futures::stream::unfold(
            (Box::pin(events), Vec::<Value>::new(), 0usize, false),
            |(mut events, mut parts, mut calls, done)| async move {
                if done {
                    return None;
                }
                let data = match events.next().await {
                    None => {
                        // The turn is over: hand back every part as received, for the next request of this turn.
                        let state = json!({"provider": "gemini", "parts": parts});
                        return Some((
                            futures::stream::iter(vec![Ok(ModelEvent::ProviderState(state))]),
                            (events, vec![], calls, true),
                        ));
                    }
                    Some(Err(e)) => return Some((futures::stream::iter(vec![Err(e)]), (events, parts, calls, true))),
                    Some(Ok(d)) => d,
                };
                let chunk: Value = match serde_json::from_str(&data) {
                    Ok(v) => v,
                    Err(_) => {
                        let e = LlmError::Protocol("a stream chunk is not JSON".into());
                        return Some((futures::stream::iter(vec![Err(e)]), (events, parts, calls, true)));
                    }
                };
                if let Some(err) = chunk.get("error") {
                    let message = err.get("message").and_then(Value::as_str).unwrap_or("error").to_string();
                    let e = LlmError::Rejected { status: 200, message };
                    return Some((futures::stream::iter(vec![Err(e)]), (events, parts, calls, true)));
                }
                let mut out = vec![];
                for part in chunk.pointer("/candidates/0/content/parts").and_then(Value::as_array).into_iter().flatten()
                {
                    parts.push(part.clone());
                    let thought = part.get("thought").and_then(Value::as_bool).unwrap_or(false);
                    if let Some(text) = part.get("text").and_then(Value::as_str).filter(|t| !t.is_empty() && !thought) {
                        out.push(Ok(ModelEvent::TextDelta(text.to_string())));
                    }
                    if let Some(fc) = part.get("functionCall") {
                        let id = fc
                            .get("id")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                            .unwrap_or_else(|| format!("gemini-call-{calls}"));
                        calls += 1;
                        out.push(Ok(ModelEvent::ToolCall(ToolCall {
                            id,
                            name: fc.get("name").and_then(Value::as_str).unwrap_or_default().to_string(),
                            arguments: fc.get("args").cloned().unwrap_or_else(|| json!({})),
                        })));
                    }
                }
                if let Some(usage) = chunk.get("usageMetadata") {
                    out.push(Ok(ModelEvent::Usage {
                        input_tokens: usage.get("promptTokenCount").and_then(Value::as_u64).unwrap_or(0),
                        output_tokens: usage.get("candidatesTokenCount").and_then(Value::as_u64).unwrap_or(0),
                    }));
                }
                if let Some(reason) = chunk.pointer("/candidates/0/finishReason").and_then(Value::as_str) {
                    out.push(Ok(ModelEvent::Finish { reason: reason.to_string() }));
                }
                Some((futures::stream::iter(out), (events, parts, calls, false)))
            },
        )
        .flatten();
        Ok(Box::pin(stream))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::ToolSpec;

    #[test]
    fn replays_gemini_parts_verbatim_and_groups_function_responses() {
        let parts = json!([{"functionCall": {"name": "add_task", "args": {"title": "x"}}, "thoughtSignature": "c2ln"}]);
        let req = ModelRequest {
            system: "sys".into(),
            messages: vec![
                ChatMessage::User("add x".into()),
                ChatMessage::Assistant {
                    text: String::new(),
                    tool_calls: vec![],
                    provider_state: Some(json!({"provider": "gemini", "parts": parts})),
                },
                ChatMessage::ToolResult {
                    call_id: "gemini-call-0".into(),
                    name: "add_task".into(),
                    result: json!({"task": {}}),
                },
                ChatMessage::ToolResult {
                    call_id: "gemini-call-1".into(),
                    name: "add_task".into(),
                    result: json!({"task": {}}),
                },
            ],
            tools: [ToolSpec {
                name: "add_task".into(),
                description: "d".into(),
                parameters: json!({"type": "object", "additionalProperties": false, "properties": {"t": {"type": "string", "default": "a"}}}),
            }]
            .into(),
            tasks: None,
            user_name: None,
        };
        let body = request_body(&req, None);
        assert!(body.get("generationConfig").is_none(), "the service's default unless set");
        assert_eq!(request_body(&req, Some(0.4))["generationConfig"], json!({"temperature": 0.4}));
        assert_eq!(body["contents"][1]["parts"], parts);
        assert_eq!(body["contents"][2]["parts"].as_array().unwrap().len(), 2);
        let params = &body["tools"][0]["functionDeclarations"][0]["parameters"];
        assert!(params.get("additionalProperties").is_none());
        assert!(params["properties"]["t"].get("default").is_none());
    }
}
