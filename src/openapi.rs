//! The OpenAPI 3.1 document served at `/openapi.json`. It is written by hand next to the routes it describes;
//! a test checks that every route of the router appears in it.

pub const DOCUMENT: &str = include_str!("openapi.json");
