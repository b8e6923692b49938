//! Tasks: what a task is and the rules every door shares (`model`), the one service that performs task
//! operations (validation, ownership, per-user numbering, due dates in the owner's zone, the "no task 7" error),
//! its SQL (`store`), the due-date parser (`dates`) and the REST routes. The agent's tools and MCP call the
//! same service.

pub mod dates;
mod model;
pub mod routes;
mod service;
mod store;
pub use store::Change;

pub use model::{
    Activity, ActivityPage, BulkAction, BulkItem, Door, Due, DueFilter, DueInput, LabelCount, MAX_ACTIVITY_PAGE,
    MAX_DESCRIPTION, MAX_DUE_WORDS, MAX_LABEL, MAX_LABELS, MAX_LIMIT, MAX_TITLE, NewTask, Owner, Priority, Sort,
    StatusFilter, Task, TaskCounts, TaskError, TaskPage, TaskPatch, TaskQuery, UndoError, Undone, label_key, set_clock,
};
pub use service::TaskService;
