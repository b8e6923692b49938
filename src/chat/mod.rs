//! The assistant: the task tools (shared with MCP), the agent loop, stored conversations and the chat routes.

pub mod agent;
pub mod routes;
pub mod store;
pub mod tools;

pub use agent::{Agent, AgentConfig, AgentEvent, TurnInput};
