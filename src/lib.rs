//! taskchat: a multi-user task manager people run by talking to it. One binary serving Better Auth–compatible
//! accounts, a REST API, the chat assistant and its protocols over SQLite or PostgreSQL.

pub mod admin;
pub mod admin_cli;
pub mod app;
pub mod auth;
pub mod chat;
pub mod chatkit;
pub mod cli;
pub mod config;
pub mod conn;
pub mod db;
pub mod error;
pub mod eval;
pub mod events;
pub mod files;
#[cfg(any(test, fuzzing))]
pub mod fuzzing;
pub mod llm;
pub mod mail;
pub mod mcp;
pub mod metrics;
pub mod oauth;
pub mod openapi;
pub mod server;
pub mod tasks;
pub mod web;
