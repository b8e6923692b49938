//! The assistant: the task tools (shared with MCP), the agent loop, stored conversations and the chat routes.

pub mod tools;
