//! Integration tests: the real server over real SQLite and PostgreSQL, driven through HTTP.

mod common;

mod accounts;
mod activity;
mod chat;
mod cli;
mod connections;
mod credentials;
mod events;
mod fake_models;
mod faults;
mod fixture;
mod hostile;
mod migrations;
mod oauth;
mod operator;
mod recovery;
mod rich;
mod tasks;
mod wire;
