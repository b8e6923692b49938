//! The OpenAI ChatKit protocol at `POST /chatkit` (see `shared/reference/chatkit-protocol.md`): one endpoint
//! that dispatches on the request `type`. Threads are our conversations and items our messages — one store.
//! Streaming requests render the agent's event stream as ChatKit events; tool calls show as a `workflow`
//! item whose tasks the official UI displays ("Adding 'buy milk'…" → "Added task 3: buy milk").

mod items;

use std::convert::Infallible;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::chat::agent::{AgentEvent, PreparedTurn, TurnInput};
use crate::chat::store::{self, Conversation};
use crate::chat::tools;
use crate::error::{AppError, AppResult};

pub use items::{assistant_item, thread_json, user_item};

/// Items per page when the client does not say, and the most it may ask for.
const DEFAULT_LIMIT: i64 = 20;
const MAX_LIMIT: i64 = 100;

pub fn router() -> Router<AppState> {
    Router::new().route("/chatkit", post(chatkit))
}

/// ChatKit's error body: the UI shows `message`.
fn refuse(status: StatusCode, message: impl Into<String>) -> AppError {
    let code = match status {
        StatusCode::NOT_FOUND => "NOT_FOUND",
        StatusCode::FORBIDDEN => "FORBIDDEN",
        _ => "BAD_REQUEST",
    };
    AppError::new(status, code, message)
}

fn thread_not_found() -> AppError {
    refuse(StatusCode::NOT_FOUND, "This conversation does not exist.")
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    params: Value,
}

#[derive(Deserialize, Default)]
struct UserInput {
    #[serde(default)]
    content: Vec<Value>,
    #[serde(default)]
    attachments: Vec<Value>,
    #[serde(default)]
    quoted_text: Option<String>,
}

impl UserInput {
    /// The text the person sent: text parts and tags' text, with a quote first when they quoted something.
    fn text(&self) -> AppResult<String> {
        if !self.attachments.is_empty() {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "Attachments are not supported here yet; please type your request.",
            ));
        }
        let mut parts = vec![];
        for c in &self.content {
            match c.get("type").and_then(Value::as_str) {
                Some("input_text") | Some("input_tag") => {
                    if let Some(t) = c.get("text").and_then(Value::as_str) {
                        parts.push(t.to_string());
                    }
                }
                _ => return Err(refuse(StatusCode::BAD_REQUEST, "Only text messages are supported.")),
            }
        }
        let mut text = parts.join(" ");
        if let Some(q) = self.quoted_text.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            text = format!("> {}\n\n{text}", q.replace('\n', "\n> "));
        }
        if text.trim().is_empty() {
            return Err(refuse(StatusCode::BAD_REQUEST, "The message is empty."));
        }
        Ok(text)
    }
}

fn params<T: for<'de> Deserialize<'de>>(v: Value) -> AppResult<T> {
    serde_json::from_value(v).map_err(|e| refuse(StatusCode::BAD_REQUEST, format!("Invalid params: {e}")))
}

#[derive(Deserialize)]
struct ThreadParams {
    thread_id: String,
}

#[derive(Deserialize)]
struct CreateParams {
    input: UserInput,
}

#[derive(Deserialize)]
struct AddMessageParams {
    thread_id: String,
    input: UserInput,
}

#[derive(Deserialize)]
struct RetryParams {
    thread_id: String,
    item_id: String,
}

#[derive(Deserialize)]
struct ListParams {
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    order: Option<String>,
    #[serde(default)]
    after: Option<String>,
}

#[derive(Deserialize)]
struct ItemsListParams {
    thread_id: String,
    #[serde(flatten)]
    page: ListParams,
}

#[derive(Deserialize)]
struct UpdateParams {
    thread_id: String,
    title: String,
}

#[derive(Deserialize)]
struct FeedbackParams {
    thread_id: String,
    item_ids: Vec<String>,
    kind: String,
}

fn descending(order: &Option<String>) -> AppResult<bool> {
    match order.as_deref() {
        None | Some("desc") => Ok(true),
        Some("asc") => Ok(false),
        Some(_) => Err(refuse(StatusCode::BAD_REQUEST, "order must be \"asc\" or \"desc\".")),
    }
}

fn limit(l: Option<i64>) -> i64 {
    l.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
}

/// A ChatKit request, decoded and checked: everything a client can get wrong is refused here, before any work.
#[derive(Debug)]
pub enum Request {
    Create { text: String },
    AddMessage { thread_id: String, text: String },
    Retry { thread_id: String, item_id: String },
    Get { thread_id: String },
    List { limit: i64, descending: bool, after: Option<String> },
    Rename { thread_id: String, title: String },
    Delete { thread_id: String },
    Items { thread_id: String, limit: i64, descending: bool, after: Option<String> },
    Feedback { thread_id: String, item_ids: Vec<String>, kind: String },
}

/// Decodes a request body. ChatKit clients send JSON whatever the content type says, so the body is parsed as
/// JSON regardless. Pure and bounded by the body's size (the router caps that), so it can be fuzzed alone.
pub fn decode(body: &[u8]) -> AppResult<Request> {
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            refuse(StatusCode::BAD_REQUEST, "The request needs a \"type\".")
        } else {
            refuse(StatusCode::BAD_REQUEST, "The request body is not valid JSON.")
        }
    })?;
    let p = envelope.params;
    Ok(match envelope.kind.as_str() {
        "threads.create" => {
            let p: CreateParams = params(p)?;
            Request::Create { text: p.input.text()? }
        }
        "threads.add_user_message" => {
            let p: AddMessageParams = params(p)?;
            Request::AddMessage { text: p.input.text()?, thread_id: p.thread_id }
        }
        "threads.retry_after_item" => {
            let p: RetryParams = params(p)?;
            Request::Retry { thread_id: p.thread_id, item_id: p.item_id }
        }
        "threads.get_by_id" => Request::Get { thread_id: params::<ThreadParams>(p)?.thread_id },
        "threads.list" => {
            let p: ListParams = params(p)?;
            Request::List { descending: descending(&p.order)?, limit: limit(p.limit), after: p.after }
        }
        "threads.update" => {
            let p: UpdateParams = params(p)?;
            let title = p.title.replace('\0', "").split_whitespace().collect::<Vec<_>>().join(" ");
            if title.is_empty() || title.chars().count() > 200 {
                return Err(refuse(StatusCode::BAD_REQUEST, "A title needs 1 to 200 characters."));
            }
            Request::Rename { thread_id: p.thread_id, title }
        }
        "threads.delete" => Request::Delete { thread_id: params::<ThreadParams>(p)?.thread_id },
        "items.list" => {
            let p: ItemsListParams = params(p)?;
            Request::Items {
                descending: descending(&p.page.order)?,
                limit: limit(p.page.limit),
                after: p.page.after,
                thread_id: p.thread_id,
            }
        }
        "items.feedback" => {
            let p: FeedbackParams = params(p)?;
            if p.kind != "positive" && p.kind != "negative" {
                return Err(refuse(StatusCode::BAD_REQUEST, "kind must be \"positive\" or \"negative\"."));
            }
            Request::Feedback { thread_id: p.thread_id, item_ids: p.item_ids, kind: p.kind }
        }
        "attachments.create" | "attachments.delete" | "attachments.get_preview" => {
            return Err(refuse(StatusCode::BAD_REQUEST, "Attachments are not supported here yet."));
        }
        "input.transcribe" => return Err(refuse(StatusCode::BAD_REQUEST, "Dictation is not supported here yet.")),
        "threads.add_client_tool_output"
        | "threads.custom_action"
        | "threads.sync_custom_action"
        | "threads.add_structured_input" => {
            return Err(refuse(StatusCode::BAD_REQUEST, "This server has no client tools, widgets or custom actions."));
        }
        other => {
            let shown: String = other.chars().take(60).collect();
            return Err(refuse(StatusCode::BAD_REQUEST, format!("Unknown request type \"{shown}\".")));
        }
    })
}

async fn chatkit(State(state): State<AppState>, user: CurrentUser, body: Bytes) -> AppResult<Response> {
    let uid = user.id().to_string();
    match decode(&body)? {
        Request::Create { text } => {
            let turn = state.agent.prepare(&user.user, TurnInput::Message { conversation_id: None, text }).await?;
            Ok(stream_turn(&state, turn, true, true))
        }
        Request::AddMessage { thread_id, text } => {
            // `prepare` checks the thread is the caller's (one lookup per turn, not two).
            let turn = state
                .agent
                .prepare(&user.user, TurnInput::Message { conversation_id: Some(thread_id), text })
                .await
                .map_err(|e| match e {
                    AppError::Client { status: StatusCode::NOT_FOUND, .. } => thread_not_found(),
                    other => other,
                })?;
            Ok(stream_turn(&state, turn, false, true))
        }
        Request::Retry { thread_id, item_id } => {
            // `prepare` checks the thread, then the message (one lookup of each).
            let turn = state
                .agent
                .prepare(&user.user, TurnInput::RetryAfter { conversation_id: thread_id, message_id: item_id })
                .await
                .map_err(|e| match e {
                    AppError::Client { code: Some("CONVERSATION_NOT_FOUND"), .. } => thread_not_found(),
                    AppError::Client { status: StatusCode::NOT_FOUND, .. } => {
                        refuse(StatusCode::NOT_FOUND, "That message is not one of yours in this conversation.")
                    }
                    other => other,
                })?;
            Ok(stream_turn(&state, turn, false, false))
        }
        Request::Get { thread_id } => {
            let conv = owned(&state, &uid, &thread_id).await?;
            let page = items::page(&state.db, &uid, &conv.id, DEFAULT_LIMIT, false, None).await?;
            Ok(axum::Json(thread_json(&conv, page)).into_response())
        }
        Request::List { limit: n, descending: desc, after } => {
            let cursor = match after {
                Some(id) => {
                    let c = owned(&state, &uid, &id).await?;
                    Some((c.updated_at, c.id))
                }
                None => None,
            };
            let mut list = store::list_conversations(&state.db, &uid, n + 1, cursor, !desc).await?;
            let has_more = list.len() as i64 > n;
            list.truncate(n as usize);
            let data: Vec<Value> = list.iter().map(|c| thread_json(c, items::empty_page())).collect();
            let mut page = json!({ "data": data, "has_more": has_more });
            if has_more && let Some(last) = list.last() {
                page["after"] = json!(last.id);
            }
            Ok(axum::Json(page).into_response())
        }
        Request::Rename { thread_id, title } => {
            let conv =
                store::rename_conversation(&state.db, &uid, &thread_id, &title).await?.ok_or_else(thread_not_found)?;
            state.agent.announce_thread(&uid, "thread.updated", &conv);
            Ok(axum::Json(thread_json(&conv, items::empty_page())).into_response())
        }
        Request::Delete { thread_id } => {
            let conv = store::delete_conversation(&state.db, &uid, &thread_id).await?.ok_or_else(thread_not_found)?;
            state.agent.announce_thread(&uid, "thread.deleted", &conv);
            Ok(axum::Json(json!({})).into_response())
        }
        Request::Items { thread_id, limit: n, descending: desc, after } => {
            let conv = owned(&state, &uid, &thread_id).await?;
            let page = items::page(&state.db, &uid, &conv.id, n, desc, after.as_deref()).await?;
            Ok(axum::Json(page).into_response())
        }
        Request::Feedback { thread_id, item_ids, kind } => {
            owned(&state, &uid, &thread_id).await?;
            let ids: Vec<String> = item_ids.iter().map(|i| items::message_id_of(i).to_string()).collect();
            let found = store::set_feedback(&state.db, &uid, &thread_id, &ids, &kind).await?;
            if found == 0 && !ids.is_empty() {
                return Err(refuse(StatusCode::NOT_FOUND, "Those messages are not in this conversation."));
            }
            Ok(axum::Json(json!({})).into_response())
        }
    }
}

async fn owned(state: &AppState, user_id: &str, thread_id: &str) -> AppResult<Conversation> {
    store::find_conversation(&state.db, user_id, thread_id).await?.ok_or_else(thread_not_found)
}

/// Renders one turn of the agent as ChatKit's stream, in the order its reference server emits events.
fn stream_turn(state: &AppState, mut turn: PreparedTurn, created: bool, echo_user: bool) -> Response {
    turn.door = crate::tasks::Door::Chatkit;
    let answer_id = turn.answer_id.clone();
    let thread_id = turn.conversation.id.clone();
    let events = state.agent.run(turn);
    let mut r = Renderer { thread_id, answer_id, created, echo_user, workflow: None, text: None };
    let guard = state.metrics.stream_opened();
    let stream = futures::stream::poll_fn({
        let mut events = events;
        move |cx| events.poll_recv(cx)
    })
    .flat_map(move |e| futures::stream::iter(r.render(e).0))
    .map(move |data: String| {
        let _open = &guard;
        Ok::<_, Infallible>(Event::default().data(data))
    });
    sse(stream)
}

fn sse(stream: impl Stream<Item = Result<Event, Infallible>> + Send + 'static) -> Response {
    // No keep-alive comments: ChatKit's client dispatches a comment followed by a blank line as an empty event.
    let mut res = Sse::new(stream).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res.headers_mut().insert("x-accel-buffering", HeaderValue::from_static("no"));
    res
}

/// Turns agent events into ChatKit events, tracking the open workflow and assistant items.
struct Renderer {
    thread_id: String,
    answer_id: String,
    created: bool,
    echo_user: bool,
    /// The workflow item shown while tools run: its tasks so far.
    workflow: Option<(String, String, Vec<Value>)>,
    /// The assistant message being streamed: its created_at and text so far.
    text: Option<(String, String)>,
}

/// A turn's ChatKit events, serialised as they are rendered.
#[derive(Default)]
struct Rendered(Vec<String>);

impl Rendered {
    fn push(&mut self, event: Value) {
        self.0.push(event.to_string());
    }

    fn extend(&mut self, events: Vec<Value>) {
        self.0.extend(events.iter().map(Value::to_string));
    }
}

/// The event sent for every piece of the answer's text, the one a turn sends most: written straight from its
/// fields rather than built as a `serde_json::Value` first.
#[derive(serde::Serialize)]
struct TextDeltaEvent<'a> {
    r#type: &'static str,
    item_id: &'a str,
    update: TextDeltaUpdate<'a>,
}

#[derive(serde::Serialize)]
struct TextDeltaUpdate<'a> {
    r#type: &'static str,
    content_index: u32,
    delta: &'a str,
}

/// The serialised `thread.item.updated` event that adds `delta` to the answer `item_id`.
fn text_delta_event(item_id: &str, delta: &str) -> String {
    let event = TextDeltaEvent {
        r#type: "thread.item.updated",
        item_id,
        update: TextDeltaUpdate { r#type: "assistant_message.content_part.text_delta", content_index: 0, delta },
    };
    serde_json::to_string(&event).expect("strings and numbers serialise")
}

impl Renderer {
    fn render(&mut self, event: AgentEvent) -> Rendered {
        let mut out = Rendered::default();
        match event {
            AgentEvent::TurnStarted { conversation, user_message, .. } => {
                if self.created {
                    out.push(
                        json!({"type": "thread.created", "thread": thread_json(&conversation, items::empty_page())}),
                    );
                }
                if self.echo_user {
                    out.push(json!({"type": "thread.item.done", "item": user_item(&self.thread_id, &user_message)}));
                }
                out.push(json!({"type": "stream_options", "stream_options": {"allow_cancel": true}}));
            }
            AgentEvent::ToolCallStarted { name, arguments, .. } => {
                let title = tools::progress_title(&name, &arguments);
                if self.workflow.is_none() {
                    let id = items::workflow_id(&self.answer_id);
                    let at = crate::db::Timestamp::now().to_iso();
                    out.push(json!({"type": "thread.item.added", "item": items::workflow_item(&id, &self.thread_id, &at, &[])}));
                    self.workflow = Some((id, at, vec![]));
                }
                if let Some((id, _, tasks)) = self.workflow.as_mut() {
                    let task = items::workflow_task(&title, &name, "loading");
                    out.push(json!({"type": "thread.item.updated", "item_id": id, "update": {
                        "type": "workflow.task.added", "task_index": tasks.len(), "task": task}}));
                    tasks.push(task);
                }
            }
            AgentEvent::ToolCallFinished { name, result, is_error, .. } => {
                let title = tools::done_title(&name, &tools::ToolOutcome { result, is_error });
                if let Some((id, _, tasks)) = self.workflow.as_mut()
                    && let Some(index) = tasks.iter().rposition(|t| t["status_indicator"] == "loading")
                {
                    let task = items::workflow_task(&title, &name, "complete");
                    out.push(json!({"type": "thread.item.updated", "item_id": id, "update": {
                        "type": "workflow.task.updated", "task_index": index, "task": task}}));
                    tasks[index] = task;
                }
            }
            AgentEvent::TextDelta { text } => {
                out.extend(self.close_workflow());
                if self.text.is_none() {
                    let at = crate::db::Timestamp::now().to_iso();
                    out.push(json!({"type": "thread.item.added", "item": {
                        "id": self.answer_id, "thread_id": self.thread_id, "created_at": at,
                        "type": "assistant_message", "content": []}}));
                    out.push(json!({"type": "thread.item.updated", "item_id": self.answer_id, "update": {
                        "type": "assistant_message.content_part.added", "content_index": 0,
                        "content": {"annotations": [], "text": "", "type": "output_text"}}}));
                    self.text = Some((at, String::new()));
                }
                if let Some((_, so_far)) = self.text.as_mut() {
                    so_far.push_str(&text);
                }
                out.0.push(text_delta_event(&self.answer_id, &text));
            }
            AgentEvent::AnswerDone { message } => {
                out.extend(self.close_workflow());
                let content = json!({"annotations": [], "text": message.content, "type": "output_text"});
                if self.text.is_some() {
                    out.push(json!({"type": "thread.item.updated", "item_id": self.answer_id, "update": {
                        "type": "assistant_message.content_part.done", "content_index": 0, "content": content}}));
                }
                out.push(json!({"type": "thread.item.done", "item": assistant_item(&self.thread_id, &message)}));
                self.text = None;
            }
            AgentEvent::TitleSet { conversation } => {
                out.push(json!({"type": "thread.updated", "thread": thread_json(&conversation, items::empty_page())}));
            }
            AgentEvent::Error { message, retryable, .. } => {
                out.extend(self.close_workflow());
                out.push(json!({"type": "error", "code": "custom", "message": message, "allow_retry": retryable}));
            }
        }
        out
    }

    fn close_workflow(&mut self) -> Vec<Value> {
        match self.workflow.take() {
            Some((id, at, tasks)) => {
                vec![
                    json!({"type": "thread.item.done", "item": items::workflow_item(&id, &self.thread_id, &at, &tasks)}),
                ]
            }
            None => vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_delta_is_the_event_chatkit_expects() {
        let text = "Added \"milk\" ✓\n".to_string();
        let written: Value = serde_json::from_str(&text_delta_event("msg_1", &text)).unwrap();
        assert_eq!(
            written,
            json!({"type": "thread.item.updated", "item_id": "msg_1", "update": {
                "type": "assistant_message.content_part.text_delta", "content_index": 0, "delta": text}})
        );
    }
}
