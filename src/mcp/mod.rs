//! The MCP server: the task tools of [`crate::chat::tools`] for MCP clients, over Streamable HTTP at `/mcp`
//! ([`http`]) and over stdio ([`stdio`]). Tools are not redefined here: names, descriptions and input schemas
//! come from [`tools::definitions`] and calls go to [`tools::call`], so the agent and MCP clients see the same
//! tools. What this module adds is MCP's framing: annotations, output schemas, structured results, the
//! `user_id` argument that clients written for the original system send, and asking the person through the
//! client before a batch deletion ([`confirm`]).

mod confirm;
pub mod http;
pub mod stdio;

use std::sync::{Arc, LazyLock};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, JsonObject, ListToolsResult,
    PaginatedRequestParams, ProtocolVersion, ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Value, json};

use crate::chat::tools::{self, ToolDef};
use crate::tasks::{Owner, TaskService};

/// What clients are told when they connect.
const INSTRUCTIONS: &str = "Tools for one person's task list in taskchat: add, list, search, complete, reopen, \
update and delete tasks, with due dates (in words, in the person's time zone), priorities and labels. Every tool acts as the signed-in person; there is no need to name a user. Tasks are referred to by their \
number in the person's list (1, 2, 3 …), as list_tasks shows it: list first when unsure which number is meant. \
Several tasks are changed at once with task_ids; deleting more than one needs confirm: true, given only after \
the person has said yes (a client that supports elicitation is asked by the server itself, and the result says \
whether they agreed). undo_last_change reverses the most recent change, a whole batch at once. \
A failed call returns an error result that says what went wrong and, for a missing task, which tasks exist.";

/// The answer to a `user_id` argument that is not the caller's own id. It says nothing about whether that
/// user exists or has tasks.
const NOT_ALLOWED: &str = "Not allowed.";

/// The authenticated caller of an HTTP request, put in the request's extensions by [`http`]'s middleware and
/// read back from the `http::request::Parts` rmcp hands to the handler.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: String,
    /// The zone the caller's dates are reckoned in.
    pub timezone: String,
}

/// The MCP server handler. Cheap to clone; the HTTP service builds one per session or request.
#[derive(Clone)]
pub struct TaskTools {
    tasks: TaskService,
    /// stdio: the one person the process serves. HTTP: `None`, and each request names its caller.
    owner: Option<Owner>,
    /// Whether a request sent to the client while a call waits can get its reply here: stdio and HTTP with
    /// sessions, not stateless HTTP. Decides only whether clients of the initialize handshake are asked to
    /// confirm a deletion ([`confirm`]); `2026-07-28` clients are asked through the call's result anyway.
    server_requests: bool,
}

impl TaskTools {
    /// A handler for HTTP, where each request's caller comes from authentication; `stateful` when MCP
    /// sessions are kept.
    pub fn per_request(tasks: TaskService, stateful: bool) -> Self {
        TaskTools { tasks, owner: None, server_requests: stateful }
    }

    /// A handler that always acts as `owner` (stdio).
    pub fn for_owner(tasks: TaskService, owner: Owner) -> Self {
        TaskTools { tasks, owner: Some(owner), server_requests: true }
    }

    fn caller(&self, context: &RequestContext<RoleServer>) -> Option<Owner> {
        if let Some(owner) = &self.owner {
            return Some(owner.clone());
        }
        context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Caller>())
            .map(|c| Owner::new(&c.user_id, &c.timezone, crate::tasks::Door::Mcp))
    }

    /// Runs one tool call as `owner`. Every failure is an error result, so a client never sees a crash.
    pub async fn call(&self, owner: &Owner, name: &str, arguments: Option<JsonObject>) -> CallToolResult {
        let user_id = owner.id.as_str();
        let mut args = arguments.unwrap_or_default();
        // Clients written for the original system name the user. Their own id is fine; any other answer is
        // refused the same way whether or not that user exists.
        match args.remove("user_id") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s == user_id => {}
            Some(_) => {
                return CallToolResult::structured_error(json!({ "error": "not_allowed", "message": NOT_ALLOWED }));
            }
        }
        match tools::call(&self.tasks, owner, name, &Value::Object(args)).await {
            Ok(outcome) if outcome.is_error => CallToolResult::structured_error(outcome.result),
            Ok(outcome) => CallToolResult::structured(outcome.result),
            Err(e) => {
                tracing::error!(tool = name, error = %format!("{e:#}"), "an MCP tool call failed");
                CallToolResult::structured_error(json!({
                    "error": "internal",
                    "message": "Something went wrong on our side. Try again in a moment."
                }))
            }
        }
    }
}

/// The tools as MCP lists them, built once from the shared definitions.
static TOOLS: LazyLock<Vec<Tool>> = LazyLock::new(|| tools::definitions().iter().map(mcp_tool).collect());

fn mcp_tool(def: &ToolDef) -> Tool {
    let mut schema = def.input_schema.as_object().cloned().unwrap_or_default();
    // Accepted for compatibility (see `TaskTools::call`); the schemas forbid unknown properties, so it is listed.
    if let Some(Value::Object(properties)) = schema.get_mut("properties") {
        properties.insert(
            "user_id".into(),
            json!({
                "type": "string",
                "description": "Optional, for older clients: the signed-in user's own id. Tools always act as \
                                the signed-in user; any other id is refused."
            }),
        );
    }
    let mut tool = Tool::new(def.name, def.description, Arc::new(schema)).with_title(def.title).with_annotations(
        ToolAnnotations::with_title(def.title).read_only(def.read_only).destructive(def.destructive).open_world(false),
    );
    if let Some(Value::Object(output)) = output_schema(def.name) {
        tool = tool.with_raw_output_schema(Arc::new(output));
    }
    tool
}

/// A task as results show it: [`tools::task_view`].
fn task_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "number": {"type": "integer", "description": "The task's number in the person's list."},
            "title": {"type": "string"},
            "description": {"type": ["string", "null"]},
            "completed": {"type": "boolean"},
            "due": {
                "type": ["object", "null"],
                "description": "When it is due, in the person's time zone; null when it has no due date.",
                "properties": {
                    "date": {"type": "string", "description": "YYYY-MM-DD"},
                    "time": {"type": ["string", "null"], "description": "HH:MM, or null when due all day."},
                    "timezone": {"type": "string", "description": "The IANA zone of date and time."},
                    "when": {"type": "string", "description": "The due date in words relative to now: 'today 17:00', 'tomorrow', 'Fri 24 Dec'."},
                    "overdue": {"type": "boolean"}
                },
                "required": ["date", "time", "timezone", "when", "overdue"]
            },
            "priority": {"type": "string", "enum": ["none", "low", "medium", "high", "urgent"]},
            "labels": {"type": "array", "items": {"type": "string"}}
        },
        "required": ["number", "title", "description", "completed", "due", "priority", "labels"]
    })
}

/// The shape of each tool's successful result, so clients can use `structuredContent` without guessing.
fn output_schema(name: &str) -> Option<Value> {
    // With task_ids the tools answer for each task: `results`, beside `task` for one.
    let results = || {
        json!({
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "number": {"type": "integer"},
                    "ok": {"type": "boolean"},
                    "task": task_schema(),
                    "error": {"type": "string", "description": "Why this task was not changed."}
                },
                "required": ["number", "ok"]
            }
        })
    };
    let by_number = |deleted: bool| {
        let mut properties = json!({
            "task": task_schema(),
            "succeeded": {"type": "integer"},
            "failed": {"type": "integer"},
            "results": results()
        });
        let mut one = vec!["task"];
        if deleted {
            properties["deleted"] = json!({"type": "boolean"});
            properties["declined"] = json!({
                "type": "boolean",
                "description": "true when the person, asked to confirm, said no: nothing was deleted."
            });
            properties["message"] = json!({"type": "string"});
            one.push("deleted");
        }
        json!({
            "type": "object",
            "properties": properties,
            "anyOf": [{"required": one}, {"required": ["succeeded", "failed", "results"]}]
        })
    };
    match name {
        "add_task" => Some(json!({ "type": "object", "properties": { "task": task_schema() }, "required": ["task"] })),
        "complete_task" | "reopen_task" | "update_task" => Some(by_number(false)),
        "delete_task" => Some(by_number(true)),
        "undo_last_change" => Some(json!({
            "type": "object",
            "properties": {
                "undone": {"type": "boolean"},
                "count": {"type": "integer"},
                "changes": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "number": {"type": "integer"},
                            "undone": {"type": "string", "enum": ["restored", "removed", "reverted"],
                                       "description": "restored: a deleted task is back; removed: an added one is gone; reverted: set back as it was."},
                            "task": task_schema()
                        },
                        "required": ["number", "undone", "task"]
                    }
                }
            },
            "required": ["undone", "count", "changes"]
        })),
        "list_tasks" => Some(json!({
            "type": "object",
            "properties": {
                "status": {"type": "string", "enum": ["all", "pending", "completed"]},
                "count": {"type": "integer", "description": "Tasks on this page."},
                "total": {"type": "integer", "description": "Tasks the filters keep in all (at least this many when total_is_at_least)."},
                "total_is_at_least": {"type": "boolean"},
                "tasks": {"type": "array", "items": task_schema()},
                "next_cursor": {"type": ["string", "null"], "description": "Pass as cursor to get the next page; null on the last."},
                "search": {"type": "string"},
                "label": {"type": "string"},
                "priority": {"type": "string"},
                "due": {"type": "string"}
            },
            "required": ["status", "count", "total", "tasks", "next_cursor"]
        })),
        _ => None,
    }
}

impl ServerHandler for TaskTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("taskchat", env!("CARGO_PKG_VERSION"))
                    .with_title("taskchat")
                    .with_description("A multi-user task manager: the signed-in person's tasks as MCP tools."),
            )
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(TOOLS.clone()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        TOOLS.iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        // An unknown tool is a protocol error in MCP, not a result (the agent's wording is for models).
        if !tools::is_tool(&request.name) {
            return Err(ErrorData::invalid_params(format!("Unknown tool: {}", request.name), None));
        }
        let Some(owner) = self.caller(&context) else {
            // Unreachable over HTTP (the middleware refuses unauthenticated requests); refuse rather than guess.
            return Ok(
                CallToolResult::structured_error(json!({ "error": "not_allowed", "message": NOT_ALLOWED })).into()
            );
        };
        let result = self.call(&owner, &request.name, request.arguments.clone()).await;
        let Some(pending) = confirm::Pending::from_result(&result) else {
            return Ok(result.into());
        };
        // A destructive batch without confirm: ask the person through the client when it can, else leave the
        // asking to the model, as the unchanged result says.
        let modern = context.protocol_version().is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
        let can_ask = confirm::can_ask(context.client_capabilities().as_ref());
        let answer = if modern {
            match pending.retried_answer(&request) {
                Some(answer) => answer,
                None if can_ask => return Ok(pending.input_required().into()),
                None => None,
            }
        } else if can_ask && self.server_requests {
            pending.ask(&context).await
        } else {
            None
        };
        Ok(match answer {
            None => result,
            Some(confirm::Answer::Yes) => {
                let mut args = request.arguments.unwrap_or_default();
                args.insert("confirm".into(), Value::Bool(true));
                self.call(&owner, &request.name, Some(args)).await
            }
            Some(no) => pending.nothing_deleted(no),
        }
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_mirror_the_shared_definitions() {
        let defs = tools::definitions();
        assert_eq!(TOOLS.len(), defs.len());
        for (tool, def) in TOOLS.iter().zip(&defs) {
            assert_eq!(tool.name, def.name);
            assert_eq!(tool.description.as_deref(), Some(def.description));
            assert_eq!(tool.title.as_deref(), Some(def.title));
            let schema = Value::Object((*tool.input_schema).clone());
            assert_eq!(schema["required"], def.input_schema["required"]);
            for (key, prop) in def.input_schema["properties"].as_object().unwrap() {
                assert_eq!(&schema["properties"][key], prop, "{}.{key}", def.name);
            }
            assert_eq!(schema["properties"]["user_id"]["type"], "string");
            let annotations = tool.annotations.as_ref().unwrap();
            assert_eq!(annotations.read_only_hint, Some(def.read_only));
            assert_eq!(annotations.destructive_hint, Some(def.destructive));
            assert!(tool.output_schema.is_some(), "{} has an output schema", def.name);
        }
    }

    #[test]
    fn task_schema_matches_task_view() {
        let now = crate::db::Timestamp::now();
        let task = crate::tasks::Task {
            id: "x".into(),
            number: 1,
            title: "t".into(),
            description: None,
            completed: false,
            priority: crate::tasks::Priority::High,
            due: Some(crate::tasks::Due {
                date: "2026-12-24".into(),
                time: Some("17:00".into()),
                at: None,
                timezone: "UTC".into(),
                string: "dec 24 5pm".into(),
            }),
            labels: vec!["work".into()],
            created_at: now,
            updated_at: now,
            completed_at: None,
        };
        let view = tools::task_view(&task, &crate::tasks::Owner::new("x", "UTC", crate::tasks::Door::Mcp).now());
        let mut keys: Vec<&String> = view.as_object().unwrap().keys().collect();
        keys.sort();
        let schema = task_schema();
        let mut required: Vec<&str> = schema["required"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        required.sort();
        assert_eq!(keys, required);
        let mut due_keys: Vec<&String> = view["due"].as_object().unwrap().keys().collect();
        due_keys.sort();
        let mut due_required: Vec<&str> =
            schema["properties"]["due"]["required"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        due_required.sort();
        assert_eq!(due_keys, due_required);
    }
}
