//! The task service: the rules of a task operation, whichever door asked for it.

use serde::Serialize;
use sqlx::FromRow;

use super::store;
use std::sync::Arc;

use crate::db::{Db, Timestamp};
use crate::error::AppError;
use crate::events::EventBus;

pub const MAX_TITLE: usize = 200;
pub const MAX_DESCRIPTION: usize = 2000;

/// A task as its owner sees it. `number` is what they call it ("task 3"); `id` is stable and global.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct Task {
    pub id: String,
    pub number: i64,
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub completed_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusFilter {
    #[default]
    All,
    Pending,
    Completed,
}

#[derive(Debug, Clone)]
pub struct NewTask {
    pub title: String,
    pub description: Option<String>,
}

/// A change to a task; absent fields stay as they are. `description: Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct TaskPatch {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub completed: Option<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("{0}")]
    Invalid(String),
    /// No task with this number among the caller's: also the answer for someone else's task.
    #[error("There is no task {0}.")]
    NotFound(i64),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<TaskError> for AppError {
    fn from(e: TaskError) -> Self {
        match e {
            TaskError::Invalid(m) => AppError::validation(m),
            TaskError::NotFound(n) => {
                AppError::new(axum::http::StatusCode::NOT_FOUND, "TASK_NOT_FOUND", format!("There is no task {n}."))
            }
            TaskError::Db(e) => AppError::from(e),
        }
    }
}

/// Text with a NUL character cannot be stored (PostgreSQL refuses it) and is never meant.
fn refuse_nul(text: &str, what: &str) -> Result<(), TaskError> {
    if text.contains('\0') {
        return Err(TaskError::Invalid(format!("The {what} contains a character that is not allowed.")));
    }
    Ok(())
}

fn clean_title(title: &str) -> Result<String, TaskError> {
    refuse_nul(title, "title")?;
    let title = title.trim();
    if title.is_empty() {
        return Err(TaskError::Invalid("A task needs a title.".into()));
    }
    if title.chars().count() > MAX_TITLE {
        return Err(TaskError::Invalid(format!("A title can be at most {MAX_TITLE} characters.")));
    }
    Ok(title.to_string())
}

/// Trims; an empty description is no description.
fn clean_description(description: Option<&str>) -> Result<Option<String>, TaskError> {
    let Some(d) = description.map(str::trim).filter(|d| !d.is_empty()) else {
        return Ok(None);
    };
    refuse_nul(d, "description")?;
    if d.chars().count() > MAX_DESCRIPTION {
        return Err(TaskError::Invalid(format!("A description can be at most {MAX_DESCRIPTION} characters.")));
    }
    Ok(Some(d.to_string()))
}

/// The task operations. Every method takes the caller's user id: it comes from authentication, never from input.
#[derive(Clone)]
pub struct TaskService {
    db: Db,
    events: Arc<EventBus>,
}

impl TaskService {
    pub fn new(db: Db, events: Arc<EventBus>) -> Self {
        TaskService { db, events }
    }

    fn announce(&self, user_id: &str, kind: &str, task: &Task) {
        self.events.publish(user_id, kind, serde_json::json!({ "task": task }));
    }

    pub async fn create(&self, user_id: &str, new: NewTask) -> Result<Task, TaskError> {
        let title = clean_title(&new.title)?;
        let description = clean_description(new.description.as_deref())?;
        let id = uuid::Uuid::now_v7().to_string();
        let task = store::insert_task(&self.db, user_id, &id, &title, description.as_deref()).await?;
        self.announce(user_id, "task.created", &task);
        Ok(task)
    }

    pub async fn list(&self, user_id: &str, filter: StatusFilter) -> Result<Vec<Task>, TaskError> {
        Ok(store::list_tasks_for_user(&self.db, user_id, filter).await?)
    }

    pub async fn get(&self, user_id: &str, number: i64) -> Result<Task, TaskError> {
        store::find_task(&self.db, user_id, number).await?.ok_or(TaskError::NotFound(number))
    }

    pub async fn update(&self, user_id: &str, number: i64, patch: TaskPatch) -> Result<Task, TaskError> {
        let title = patch.title.as_deref().map(clean_title).transpose()?;
        let description = match &patch.description {
            None => None,
            Some(d) => Some(clean_description(d.as_deref())?),
        };
        let task = store::update_task(
            &self.db,
            user_id,
            number,
            title.as_deref(),
            description.is_some(),
            description.flatten().as_deref(),
            patch.completed,
        )
        .await?
        .ok_or(TaskError::NotFound(number))?;
        self.announce(user_id, "task.updated", &task);
        Ok(task)
    }

    pub async fn set_completed(&self, user_id: &str, number: i64, completed: bool) -> Result<Task, TaskError> {
        self.update(user_id, number, TaskPatch { completed: Some(completed), ..Default::default() }).await
    }

    /// Deletes the task and returns it as it was.
    pub async fn delete(&self, user_id: &str, number: i64) -> Result<Task, TaskError> {
        let task = store::delete_task(&self.db, user_id, number).await?.ok_or(TaskError::NotFound(number))?;
        self.announce(user_id, "task.deleted", &task);
        Ok(task)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(clean_title("  buy milk \n").unwrap(), "buy milk");
        assert!(clean_title("   ").is_err());
        assert!(clean_title(&"é".repeat(200)).is_ok());
        assert!(clean_title(&"é".repeat(201)).is_err());
        assert_eq!(clean_description(Some("  ")).unwrap(), None);
        assert!(clean_description(Some(&"x".repeat(2001))).is_err());
    }
}
