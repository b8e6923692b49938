//! `/api/tasks`: the REST door onto the task service. Tasks are addressed by the owner's number; a number that
//! is not theirs (someone else's, or not a number at all) is a plain 404.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::{Deserialize, Deserializer};
use serde_json::json;

use super::{NewTask, StatusFilter, Task, TaskPatch};
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiJson, ApiQuery, AppError, AppResult};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/tasks", get(list_tasks).post(create_task))
        .route("/api/tasks/{number}", get(get_task).patch(update_task).delete(delete_task))
        .route("/api/tasks/{number}/complete", post(complete_task))
        .route("/api/tasks/{number}/reopen", post(reopen_task))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    status: StatusFilter,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTaskBody {
    title: String,
    #[serde(default)]
    description: Option<String>,
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
}

/// Tells a present `null` apart from an absent field.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
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
    ApiQuery(q): ApiQuery<ListQuery>,
) -> AppResult<ApiJson<serde_json::Value>> {
    let tasks = state.tasks.list(user.id(), q.status).await?;
    Ok(ApiJson(json!({ "count": tasks.len(), "tasks": tasks })))
}

async fn create_task(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<CreateTaskBody>,
) -> AppResult<(StatusCode, ApiJson<Task>)> {
    let task = state.tasks.create(user.id(), NewTask { title: body.title, description: body.description }).await?;
    Ok((StatusCode::CREATED, ApiJson(task)))
}

async fn get_task(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(raw): Path<String>,
) -> AppResult<ApiJson<Task>> {
    Ok(ApiJson(state.tasks.get(user.id(), parse_number(&raw)?).await?))
}

async fn update_task(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<UpdateTaskBody>,
) -> AppResult<ApiJson<Task>> {
    let n = parse_number(&raw)?;
    let patch = TaskPatch { title: body.title, description: body.description, completed: body.completed };
    Ok(ApiJson(state.tasks.update(user.id(), n, patch).await?))
}

async fn delete_task(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(raw): Path<String>,
) -> AppResult<StatusCode> {
    state.tasks.delete(user.id(), parse_number(&raw)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn complete_task(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(raw): Path<String>,
) -> AppResult<ApiJson<Task>> {
    Ok(ApiJson(state.tasks.set_completed(user.id(), parse_number(&raw)?, true).await?))
}

async fn reopen_task(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(raw): Path<String>,
) -> AppResult<ApiJson<Task>> {
    Ok(ApiJson(state.tasks.set_completed(user.id(), parse_number(&raw)?, false).await?))
}
