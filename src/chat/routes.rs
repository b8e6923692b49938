//! The chat doors for programs: `POST /api/{user_id}/chat` (JSON, or the event stream with
//! `Accept: text/event-stream`) and the stored conversations under `/api/conversations`.

use std::convert::Infallible;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::Stream;
use serde::Deserialize;
use serde_json::{Value, json};

use super::agent::{AgentEvent, TurnInput};
use super::store;
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::Timestamp;
use crate::error::{ApiJson, ApiQuery, AppError, AppResult};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/{user_id}/chat", post(chat))
        .route("/api/conversations", get(list_conversations))
        .route("/api/conversations/{id}", delete(delete_conversation).get(get_conversation))
        .route("/api/conversations/{id}/messages", get(list_messages))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatBody {
    #[serde(default)]
    conversation_id: Option<String>,
    message: String,
}

fn wants_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.split(',').any(|p| p.trim().starts_with("text/event-stream")))
}

async fn chat(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(user_id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ChatBody>,
) -> AppResult<Response> {
    if user_id != user.id() {
        return Err(AppError::forbidden("FORBIDDEN", "You can only chat as yourself."));
    }
    let turn = state
        .agent
        .prepare(&user.user, TurnInput::Message { conversation_id: body.conversation_id, text: body.message })
        .await?;
    let conversation_id = turn.conversation.id.clone();
    let mut events = state.agent.run(turn);
    if wants_stream(&headers) {
        let guard = state.metrics.stream_opened();
        let stream = async_stream(events).map(move |e| {
            let _open = &guard;
            e
        });
        return Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response());
    }
    let mut calls = vec![];
    while let Some(event) = events.recv().await {
        match event {
            AgentEvent::ToolCallFinished { name, arguments, result, .. } => {
                calls.push(json!({ "name": name, "arguments": arguments, "result": result }));
            }
            AgentEvent::AnswerDone { message } => {
                return Ok(axum::Json(json!({
                    "conversation_id": conversation_id,
                    "message_id": message.id,
                    "response": message.content,
                    "tool_calls": calls,
                }))
                .into_response());
            }
            AgentEvent::Error { code, message, retryable } => {
                let body = json!({
                    "message": message,
                    "code": "ASSISTANT_ERROR",
                    "reason": code,
                    "retryable": retryable,
                    "conversation_id": conversation_id,
                    "tool_calls": calls,
                });
                return Ok((StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response());
            }
            _ => {}
        }
    }
    Err(AppError::Internal(anyhow::anyhow!("the chat turn ended without an answer")))
}

/// The agent's events as SSE: `event: <type>` with the event as JSON data.
fn async_stream(
    mut events: super::agent::AgentEvents,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
    futures::stream::poll_fn(move |cx| events.poll_recv(cx))
        .map(|e| Ok(Event::default().event(event_name(&e)).json_data(&e).unwrap_or_default()))
}

/// The event's `type` as serde writes it (matched here so each event is serialised once, not twice).
fn event_name(e: &AgentEvent) -> &'static str {
    match e {
        AgentEvent::TurnStarted { .. } => "turn_started",
        AgentEvent::TextDelta { .. } => "text_delta",
        AgentEvent::ToolCallStarted { .. } => "tool_call_started",
        AgentEvent::ToolCallFinished { .. } => "tool_call_finished",
        AgentEvent::AnswerDone { .. } => "answer_done",
        AgentEvent::TitleSet { .. } => "title_set",
        AgentEvent::Error { .. } => "error",
    }
}

use futures::StreamExt;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    cursor: Option<String>,
}

fn clamp_limit(limit: Option<i64>, default: i64) -> i64 {
    limit.unwrap_or(default).clamp(1, 200)
}

fn bad_cursor() -> AppError {
    AppError::validation("The cursor is not one this server gave out.")
}

async fn list_conversations(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> AppResult<ApiJson<Value>> {
    let limit = clamp_limit(q.limit, 20);
    let before = match q.cursor {
        None => None,
        Some(c) => {
            let raw = URL_SAFE_NO_PAD.decode(c.as_bytes()).map_err(|_| bad_cursor())?;
            let text = String::from_utf8(raw).map_err(|_| bad_cursor())?;
            let (at, id) = text.split_once('|').ok_or_else(bad_cursor)?;
            Some((Timestamp::parse(at).ok_or_else(bad_cursor)?, id.to_string()))
        }
    };
    let mut list = store::list_conversations(&state.db, user.id(), limit + 1, before, false).await?;
    let more = list.len() as i64 > limit;
    list.truncate(limit as usize);
    let next = more
        .then(|| list.last().map(|c| URL_SAFE_NO_PAD.encode(format!("{}|{}", c.updated_at.to_iso(), c.id))))
        .flatten();
    Ok(ApiJson(json!({ "conversations": list, "next_cursor": next })))
}

async fn get_conversation(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<ApiJson<store::Conversation>> {
    store::find_conversation(&state.db, user.id(), &id).await?.map(ApiJson).ok_or_else(conversation_not_found)
}

fn conversation_not_found() -> AppError {
    AppError::new(StatusCode::NOT_FOUND, "CONVERSATION_NOT_FOUND", "No such conversation.")
}

async fn list_messages(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> AppResult<ApiJson<Value>> {
    if store::find_conversation(&state.db, user.id(), &id).await?.is_none() {
        return Err(conversation_not_found());
    }
    let limit = clamp_limit(q.limit, 50);
    let after = match q.cursor {
        None => 0,
        Some(c) => c.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(bad_cursor)?,
    };
    let mut list = store::list_messages(&state.db, user.id(), &id, after, limit + 1).await?;
    let more = list.len() as i64 > limit;
    list.truncate(limit as usize);
    let next = more.then(|| list.last().map(|m| m.seq.to_string())).flatten();
    Ok(ApiJson(json!({ "messages": list, "next_cursor": next })))
}

async fn delete_conversation(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    let conv = store::delete_conversation(&state.db, user.id(), &id).await?.ok_or_else(conversation_not_found)?;
    state.agent.announce_thread(user.id(), "thread.deleted", &conv);
    Ok(StatusCode::NO_CONTENT)
}
