//! The builtin assistant: offline and deterministic. It reads the person's message (with [`builtin_nlu`]),
//! emits the same tool calls a hosted model would, and after the results come back phrases the answer, all
//! through the same agent loop, so everything downstream of a model is exercised without a network.

use futures::StreamExt;
use serde_json::Value;

use super::builtin_nlu::{self as nlu, Context, Decision, TaskRef};
use super::{ChatMessage, ChatModel, LlmError, ModelEvent, ModelRequest, ModelStream, ToolCall};

pub struct Builtin;

/// The number of the task the conversation last touched: the newest tool result or call naming one.
fn last_mentioned(messages: &[ChatMessage]) -> Option<i64> {
    messages.iter().rev().find_map(|m| match m {
        ChatMessage::ToolResult { result, .. } => result.pointer("/task/number").and_then(Value::as_i64),
        ChatMessage::Assistant { tool_calls, .. } => {
            tool_calls.iter().rev().find_map(|c| c.arguments.get("task_id").and_then(Value::as_i64))
        }
        ChatMessage::User(_) => None,
    })
}

/// Text as a stream of word-sized deltas, the way hosted models stream.
fn text_events(text: &str) -> Vec<Result<ModelEvent, LlmError>> {
    let mut out: Vec<Result<ModelEvent, LlmError>> =
        text.split_inclusive(' ').map(|w| Ok(ModelEvent::TextDelta(w.to_string()))).collect();
    out.push(Ok(ModelEvent::Finish { reason: "stop".into() }));
    out
}

/// The answer for one model call of the loop.
pub fn respond(request: &ModelRequest) -> Vec<Result<ModelEvent, LlmError>> {
    let last_user = request.messages.iter().rposition(|m| matches!(m, ChatMessage::User(_)));
    let Some(last_user) = last_user else {
        return text_events(&nlu::compose_answer(&[]));
    };
    let this_turn = &request.messages[last_user + 1..];
    // Tool results are in: phrase the answer from them.
    if this_turn.iter().any(|m| matches!(m, ChatMessage::ToolResult { .. })) {
        let mut pairs = vec![];
        for m in this_turn {
            if let ChatMessage::Assistant { tool_calls, .. } = m {
                for call in tool_calls {
                    let result = this_turn
                        .iter()
                        .find_map(|r| match r {
                            ChatMessage::ToolResult { call_id, result, .. } if *call_id == call.id => {
                                Some(result.clone())
                            }
                            _ => None,
                        })
                        .unwrap_or(Value::Null);
                    pairs.push((nlu::ToolCall { name: call.name.clone(), arguments: call.arguments.clone() }, result));
                }
            }
        }
        return text_events(&nlu::compose_answer(&pairs));
    }
    let ChatMessage::User(message) = &request.messages[last_user] else {
        unreachable!("rposition found a user message")
    };
    let tasks: Vec<TaskRef> = request
        .tasks
        .iter()
        .flatten()
        .map(|t| TaskRef { number: t.number, title: t.title.clone(), completed: t.completed })
        .collect();
    let ctx = Context {
        tasks: &tasks,
        last_mentioned: last_mentioned(&request.messages[..last_user]),
        user_name: request.user_name.as_deref(),
    };
    match nlu::decide(message, &ctx) {
        Decision::Reply(text) => text_events(&text),
        Decision::Call(calls) => {
            let mut out: Vec<Result<ModelEvent, LlmError>> = calls
                .into_iter()
                .enumerate()
                .map(|(i, c)| {
                    Ok(ModelEvent::ToolCall(ToolCall {
                        id: format!("builtin-{last_user}-{i}"),
                        name: c.name,
                        arguments: c.arguments,
                    }))
                })
                .collect();
            out.push(Ok(ModelEvent::Finish { reason: "tool_calls".into() }));
            out
        }
    }
}

#[async_trait::async_trait]
impl ChatModel for Builtin {
    fn name(&self) -> String {
        "builtin".into()
    }

    fn wants_task_snapshot(&self) -> bool {
        true
    }

    async fn stream(&self, request: &ModelRequest) -> Result<ModelStream, LlmError> {
        Ok(futures::stream::iter(respond(request)).boxed())
    }
}
