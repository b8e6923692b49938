//! `/api/tasks` and `/api/labels`: the REST door onto the task service. Tasks are addressed by the owner's
//! number; a number that is not theirs (someone else's, or not a number at all) is a plain 404.

use axum::Router;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use super::{
    ActivityPage, BulkAction, DueFilter, DueInput, NewTask, Owner, Priority, Sort, StatusFilter, Task, TaskError,
    TaskPatch, TaskQuery, UndoError,
};
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiJson, ApiQuery, AppError, AppResult};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/tasks", get(list_tasks).post(create_task))
        .route("/api/tasks/{number}", get(get_task).patch(update_task).delete(delete_task))
        .route("/api/tasks/{number}/complete", post(complete_task))
        .route("/api/tasks/{number}/reopen", post(reopen_task))
        .route("/api/tasks/bulk", post(bulk_tasks))
        .route("/api/labels", get(list_labels))
        .route("/api/activity", get(list_activity))
        .route("/api/activity/undo", post(undo_last))
        .route("/api/activity/{id}/undo", post(undo_entry))
}

/// The caller as the owner of the tasks asked about, with their time zone.
pub fn owner(user: &CurrentUser) -> Owner {
    Owner::new(user.id(), &user.user.timezone, super::Door::Rest)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    status: StatusFilter,
    q: Option<String>,
    label: Option<String>,
    /// One priority or several, comma-separated.
    priority: Option<String>,
    due: Option<String>,
    sort: Option<Sort>,
    limit: Option<usize>,
    cursor: Option<String>,
}

impl ListQuery {
    fn into_query(self) -> Result<TaskQuery, TaskError> {
        let priority = match self.priority.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            None => vec![],
            Some(p) => p.split(',').map(Priority::parse).collect::<Result<_, _>>()?,
        };
        Ok(TaskQuery {
            status: self.status,
            q: self.q,
            label: self.label.filter(|l| !l.trim().is_empty()),
            priority,
            due: self.due.as_deref().filter(|d| !d.trim().is_empty()).map(DueFilter::parse).transpose()?,
            sort: self.sort,
            limit: self.limit,
            cursor: self.cursor.filter(|c| !c.is_empty()),
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTaskBody {
    title: String,
    #[serde(default)]
    description: Option<String>,
    /// Words (`"tomorrow 5pm"`), `{"date", "time"?}`, or null.
    #[serde(default)]
    due: Option<Value>,
    #[serde(default)]
    priority: Option<String>,
    #[serde(default)]
    labels: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateTaskBody {
    #[serde(default)]
    title: Option<String>,
    /// Absent: unchanged; null or "": cleared.
    #[serde(default, deserialize_with = "present")]
    description: Option<Option<String>>,
    #[serde(default)]
    completed: Option<bool>,
    /// Absent: unchanged; null: cleared.
    #[serde(default, deserialize_with = "present")]
    due: Option<Option<Value>>,
    #[serde(default)]
    priority: Option<String>,
    /// The whole new set; `[]` removes every label.
    #[serde(default)]
    labels: Option<Vec<String>>,
}

/// Tells a present `null` apart from an absent field.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

/// A due as the wire carries it: words, or `{"date": "YYYY-MM-DD", "time": "HH:MM" | null}`.
pub fn due_input(v: &Value) -> Result<Option<DueInput>, TaskError> {
    let bad = || {
        TaskError::Invalid(
            "due must be words like \"tomorrow 5pm\", an object {\"date\": \"YYYY-MM-DD\", \"time\": \"HH:MM\"}, or null."
                .into(),
        )
    };
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(DueInput::Words(s.clone()))),
        Value::Object(o) => {
            if o.keys().any(|k| k != "date" && k != "time") {
                return Err(bad());
            }
            let date = o.get("date").and_then(Value::as_str).ok_or_else(bad)?;
            let time = match o.get("time") {
                None | Some(Value::Null) => None,
                Some(Value::String(t)) => Some(t.clone()),
                Some(_) => return Err(bad()),
            };
            Ok(Some(DueInput::Parts { date: date.to_string(), time }))
        }
        _ => Err(bad()),
    }
}

/// A path segment as a task number; anything else names no task, and gets the same 404 as a missing one.
fn parse_number(raw: &str) -> AppResult<i64> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| AppError::new(StatusCode::NOT_FOUND, "TASK_NOT_FOUND", "There is no such task."))
}

async fn list_tasks(
    State(state): State<AppState>,
    user: CurrentUser,
    OriginalUri(uri): OriginalUri,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> AppResult<Response> {
    let page = state.tasks.list(&owner(&user), &q.into_query()?).await?;
    let mut headers = HeaderMap::new();
    if let Some(cursor) = &page.next_cursor
        && let Ok(link) = HeaderValue::from_str(&format!("<{}>; rel=\"next\"", next_page_url(&uri, cursor)))
    {
        headers.insert(header::LINK, link);
    }
    let body = json!({ "count": page.tasks.len(), "tasks": page.tasks, "next_cursor": page.next_cursor });
    Ok((headers, ApiJson(body)).into_response())
}

/// This request's path and query with `cursor` set to the next page's; relative, so it holds behind any proxy.
fn next_page_url(uri: &axum::http::Uri, cursor: &str) -> String {
    let mut pairs: Vec<(String, String)> =
        uri.query().map(|q| url_pairs(q).into_iter().filter(|(k, _)| k != "cursor").collect()).unwrap_or_default();
    pairs.push(("cursor".into(), cursor.into()));
    let enc = |s: &str| percent_encoding::utf8_percent_encode(s, QUERY_VALUE).to_string();
    let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
    format!("{}?{}", uri.path(), query.join("&"))
}

/// Everything but unreserved characters is escaped in a rebuilt query value.
const QUERY_VALUE: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

fn url_pairs(query: &str) -> Vec<(String, String)> {
    let decode = |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

async fn create_task(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<CreateTaskBody>,
) -> AppResult<(StatusCode, ApiJson<Task>)> {
    let new = NewTask {
        title: body.title,
        description: body.description,
        due: body.due.as_ref().map(due_input).transpose()?.flatten(),
        priority: body.priority.as_deref().map(Priority::parse).transpose()?,
        labels: body.labels.unwrap_or_default(),
    };
    let task = state.tasks.create(&owner(&user), new).await?;
    Ok((StatusCode::CREATED, ApiJson(task)))
}

async fn get_task(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(raw): Path<String>,
) -> AppResult<ApiJson<Task>> {
    Ok(ApiJson(state.tasks.get(&owner(&user), parse_number(&raw)?).await?))
}

async fn update_task(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<UpdateTaskBody>,
) -> AppResult<ApiJson<Task>> {
    let n = parse_number(&raw)?;
    Ok(ApiJson(state.tasks.update(&owner(&user), n, body.into_patch()?).await?))
}

impl UpdateTaskBody {
    fn into_patch(self) -> Result<TaskPatch, TaskError> {
        Ok(TaskPatch {
            title: self.title,
            description: self.description,
            completed: self.completed,
            due: self.due.map(|d| d.as_ref().map(due_input).transpose().map(Option::flatten)).transpose()?,
            priority: self.priority.as_deref().map(Priority::parse).transpose()?,
            labels: self.labels,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    numbers: Vec<i64>,
    action: BulkKind,
    /// For `update`: the fields to set on every task, as in `PATCH /api/tasks/{number}`.
    #[serde(default)]
    changes: Option<UpdateTaskBody>,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum BulkKind {
    Complete,
    Reopen,
    Delete,
    Update,
}

/// One change to up to 100 tasks, recorded as one batch: `{"numbers": [1, 2], "action": "complete"}`. Each
/// number gets its own result, so a missing task fails alone.
async fn bulk_tasks(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<BulkBody>,
) -> AppResult<ApiJson<Value>> {
    let action = match (body.action, body.changes) {
        (BulkKind::Update, Some(c)) => BulkAction::Update(c.into_patch()?),
        (BulkKind::Update, None) => return Err(AppError::validation("action update needs changes.")),
        (_, Some(_)) => return Err(AppError::validation("changes goes with action update only.")),
        (BulkKind::Complete, None) => BulkAction::Complete,
        (BulkKind::Reopen, None) => BulkAction::Reopen,
        (BulkKind::Delete, None) => BulkAction::Delete,
    };
    let items: Vec<(i64, BulkAction)> = body.numbers.iter().map(|n| (*n, action.clone())).collect();
    let results = state.tasks.bulk(&owner(&user), &items).await?;
    let failed = results.iter().filter(|r| !r.ok).count();
    Ok(ApiJson(json!({ "succeeded": results.len() - failed, "failed": failed, "results": results })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityQuery {
    limit: Option<usize>,
    cursor: Option<String>,
}

/// The person's changes, newest first, a page at a time.
async fn list_activity(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<ActivityQuery>,
) -> AppResult<ApiJson<ActivityPage>> {
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > super::MAX_ACTIVITY_PAGE {
        return Err(AppError::validation(format!("limit must be between 1 and {}.", super::MAX_ACTIVITY_PAGE)));
    }
    Ok(ApiJson(state.tasks.activity(&owner(&user), q.cursor.as_deref(), limit).await?))
}

/// Reverses the person's newest change that still stands (a whole bulk change at once).
async fn undo_last(State(state): State<AppState>, user: CurrentUser) -> AppResult<ApiJson<Value>> {
    Ok(ApiJson(state.tasks.undo(&owner(&user), None).await?.to_json()))
}

/// Reverses the change that made this entry, with the rest of its request.
async fn undo_entry(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(raw): Path<String>,
) -> AppResult<ApiJson<Value>> {
    let id = raw.parse::<i64>().map_err(|_| UndoError::Unknown)?;
    Ok(ApiJson(state.tasks.undo(&owner(&user), Some(id)).await?.to_json()))
}

impl From<UndoError> for AppError {
    fn from(e: UndoError) -> Self {
        let message = e.to_string();
        let (status, code) = match e {
            UndoError::Task(t) => return t.into(),
            UndoError::Unknown => (StatusCode::NOT_FOUND, "ACTIVITY_NOT_FOUND"),
            UndoError::Nothing => (StatusCode::CONFLICT, "NOTHING_TO_UNDO"),
            UndoError::NotUndoable => (StatusCode::CONFLICT, "NOT_UNDOABLE"),
            UndoError::AlreadyUndone => (StatusCode::CONFLICT, "ALREADY_UNDONE"),
            UndoError::ChangedSince(_) => (StatusCode::CONFLICT, "CHANGED_SINCE"),
        };
        AppError::new(status, code, message)
    }
}

async fn delete_task(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(raw): Path<String>,
) -> AppResult<StatusCode> {
    state.tasks.delete(&owner(&user), parse_number(&raw)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn complete_task(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(raw): Path<String>,
) -> AppResult<ApiJson<Task>> {
    Ok(ApiJson(state.tasks.set_completed(&owner(&user), parse_number(&raw)?, true).await?))
}

async fn reopen_task(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(raw): Path<String>,
) -> AppResult<ApiJson<Task>> {
    Ok(ApiJson(state.tasks.set_completed(&owner(&user), parse_number(&raw)?, false).await?))
}

async fn list_labels(State(state): State<AppState>, user: CurrentUser) -> AppResult<ApiJson<Value>> {
    let labels = state.tasks.labels(&owner(&user)).await?;
    Ok(ApiJson(json!({ "count": labels.len(), "labels": labels })))
}
