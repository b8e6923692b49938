//! Tasks: the one service that knows what a task operation means (validation, ownership, per-user numbering,
//! the "no task 7" error), its SQL, and the REST routes. The agent's tools and MCP call the same service.

pub mod dates;
pub mod routes;
mod service;
mod store;

pub use service::{MAX_DESCRIPTION, MAX_TITLE, NewTask, StatusFilter, Task, TaskError, TaskPatch, TaskService};
