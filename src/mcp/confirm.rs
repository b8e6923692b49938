//! Asking the person before a destructive batch, through MCP elicitation.
//!
//! The tools refuse to delete several tasks without `confirm: true` and answer `confirmation_required`, listing
//! the tasks (see `tools::batch`). When the client can put a question to its user, this module asks it
//! instead of leaving that to the model:
//!
//! - protocol `2026-07-28` (any transport, stateless or not): the call is answered with an
//!   `InputRequiredResult` carrying an `elicitation/create` request; the client asks, then retries the call with
//!   the answer in `inputResponses` and our `requestState` echoed (SEP-2322). The retry carries everything, so no
//!   server state is needed.
//! - the initialize handshake (earlier versions): the server sends `elicitation/create` to the client while the
//!   call waits. That needs a connection that carries the client's reply back to this handler: stdio, or
//!   Streamable HTTP with sessions. A stateless HTTP server cannot receive it (rmcp refuses responses there), so
//!   it does not ask.
//!
//! Only an accepted answer with `confirm: true` deletes anything. When asking is impossible or fails, the
//! `confirmation_required` result goes back unchanged.

use std::time::Duration;

use rmcp::RoleServer;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientResult, ElicitRequest, ElicitRequestParams,
    ElicitResult, ElicitationAction, ElicitationSchema, InputRequest, InputRequests, InputRequiredResult,
    ServerRequest,
};
use rmcp::service::{PeerRequestOptions, RequestContext};
use serde_json::{Value, json};

/// The key of our question in `inputRequests` / `inputResponses`.
const INPUT_KEY: &str = "confirm_delete";
/// The field of the form the person answers.
const FIELD: &str = "confirm";
/// Tasks named one by one in the question; the rest are counted.
const LISTED: usize = 20;
/// Titles are cut to this many characters in the question.
const TITLE_CHARS: usize = 60;
/// How long a handshake-era question may wait for the person before the call gives up asking.
const ASK_TIMEOUT: Duration = Duration::from_secs(600);

/// A batch the tools would not do without a yes: what `confirmation_required` listed.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    /// The tasks found, by number and title, in the order asked.
    found: Vec<(i64, String)>,
    /// Numbers that name no task.
    missing: Vec<i64>,
}

/// What the person said.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Answer {
    Yes,
    /// Declined, or accepted with `confirm` false.
    No,
    /// Dismissed without answering.
    Cancelled,
}

impl Pending {
    /// The tasks of a `confirmation_required` result; `None` for any other result, or one with no task found
    /// (nothing to ask about: the unchanged result says which numbers are missing).
    pub fn from_result(result: &CallToolResult) -> Option<Pending> {
        let content = result.structured_content.as_ref()?;
        if result.is_error != Some(true) || content["error"] != "confirmation_required" {
            return None;
        }
        let found: Vec<(i64, String)> = content["tasks"]["found"]
            .as_array()?
            .iter()
            .filter_map(|t| Some((t["number"].as_i64()?, t["title"].as_str()?.to_string())))
            .collect();
        let missing = content["tasks"]["missing"].as_array()?.iter().filter_map(Value::as_i64).collect();
        (!found.is_empty()).then_some(Pending { found, missing })
    }

    /// The question: "Delete these 3 tasks? 1 buy milk, 2 call mum, 3 pay rent".
    pub fn message(&self) -> String {
        let n = self.found.len();
        let mut named: Vec<String> = self
            .found
            .iter()
            .take(LISTED)
            .map(|(number, title)| {
                let mut cut: String = title.chars().take(TITLE_CHARS).collect();
                if cut.len() < title.len() {
                    cut.push('…');
                }
                format!("{number} {cut}")
            })
            .collect();
        if n > LISTED {
            named.push(format!("and {} more", n - LISTED));
        }
        let what = if n == 1 { "this task".to_string() } else { format!("these {n} tasks") };
        let mut message = format!("Delete {what}? {}", named.join(", "));
        if !self.missing.is_empty() {
            let numbers: Vec<String> = self.missing.iter().map(i64::to_string).collect();
            let none = if self.missing.len() == 1 { "is no task" } else { "are no tasks" };
            message.push_str(&format!(" (there {none} {}.)", numbers.join(", ")));
        }
        message
    }

    /// Echoed by the client on retry: an answer counts only for the tasks it was asked about.
    fn request_state(&self) -> String {
        let numbers: Vec<String> = self.found.iter().map(|(n, _)| n.to_string()).collect();
        format!("confirm-delete:{}", numbers.join(","))
    }

    fn elicitation(&self) -> ElicitRequestParams {
        let schema = ElicitationSchema::builder()
            .required_bool_with(FIELD, |b| {
                b.title("Delete them")
                    .description("Yes to delete these tasks; they can be brought back with undo_last_change.")
                    .with_default(false)
            })
            .build_unchecked();
        ElicitRequestParams::FormElicitationParams { meta: None, message: self.message(), requested_schema: schema }
    }

    /// The `2026-07-28` way: ask the client to ask, and to call again with the answer.
    pub fn input_required(&self) -> InputRequiredResult {
        let mut requests = InputRequests::new();
        requests.insert(INPUT_KEY.into(), InputRequest::Elicitation(ElicitRequest::new(self.elicitation())));
        InputRequiredResult::new(Some(requests), Some(self.request_state()))
    }

    /// The answer a retried call carries. `None`: not asked yet, or asked about other tasks (ask again).
    /// `Some(None)`: an answer that is not an elicitation result (asking failed).
    pub fn retried_answer(&self, request: &CallToolRequestParams) -> Option<Option<Answer>> {
        let response = request.input_responses.as_ref()?.get(INPUT_KEY)?;
        if request.request_state.as_deref() != Some(self.request_state().as_str()) {
            return None;
        }
        Some(serde_json::from_value::<ElicitResult>(response.clone()).ok().map(|r| answer(&r)))
    }

    /// The handshake way: ask the client now and wait. `None` when asking failed or the call was cancelled.
    pub async fn ask(&self, context: &RequestContext<RoleServer>) -> Option<Answer> {
        let request = ServerRequest::ElicitRequest(ElicitRequest::new(self.elicitation()));
        let sent = context.peer.send_request_with_option(request, PeerRequestOptions::with_timeout(ASK_TIMEOUT));
        let reply = tokio::select! {
            reply = async { sent.await?.await_response().await } => reply,
            () = context.ct.cancelled() => return None,
        };
        match reply {
            Ok(ClientResult::ElicitResult(result)) => Some(answer(&result)),
            Ok(other) => {
                tracing::warn!(reply = ?other, "an MCP client answered elicitation/create with something else");
                None
            }
            Err(e) => {
                tracing::info!(error = %e, "asking the MCP client to confirm a deletion failed");
                None
            }
        }
    }

    /// The result when the person said no: not an error (the call did what the person wanted, as reference
    /// servers answer a declined elicitation), shaped like a batch's result so it fits the output schema.
    pub fn nothing_deleted(&self, answer: Answer) -> CallToolResult {
        let why = if answer == Answer::Cancelled { "the question was dismissed" } else { "the person said no" };
        CallToolResult::structured(json!({
            "deleted": false,
            "declined": true,
            "succeeded": 0,
            "failed": 0,
            "results": [],
            "message": format!("Nothing was deleted: {why}."),
        }))
    }
}

/// Only an accepted form with `confirm: true` is a yes.
fn answer(result: &ElicitResult) -> Answer {
    match result.action {
        ElicitationAction::Accept if result.content.as_ref().and_then(|c| c.get(FIELD)) == Some(&Value::Bool(true)) => {
            Answer::Yes
        }
        ElicitationAction::Cancel => Answer::Cancelled,
        _ => Answer::No,
    }
}

/// Whether the client takes form elicitations (a bare `elicitation: {}` means forms, as before URL mode).
pub fn can_ask(capabilities: Option<&ClientCapabilities>) -> bool {
    capabilities.and_then(|c| c.elicitation.as_ref()).is_some_and(|e| e.form.is_some() || e.url.is_none())
}

#[cfg(test)]
mod tests {
    use rmcp::model::{ElicitationCapability, FormElicitationCapability, UrlElicitationCapability};

    use super::*;

    fn asking(found: &[(i64, &str)], missing: &[i64]) -> CallToolResult {
        let found: Vec<Value> = found.iter().map(|(n, t)| json!({ "number": n, "title": t })).collect();
        CallToolResult::structured_error(json!({
            "error": "confirmation_required",
            "message": "…",
            "tasks": { "found": found, "missing": missing },
        }))
    }

    #[test]
    fn only_confirmation_required_with_tasks_found_is_asked_about() {
        let pending = Pending::from_result(&asking(&[(1, "buy milk"), (2, "call mum")], &[9])).unwrap();
        assert_eq!(pending.found, [(1, "buy milk".to_string()), (2, "call mum".to_string())]);
        assert_eq!(pending.missing, [9]);
        assert_eq!(Pending::from_result(&asking(&[], &[8, 9])), None);
        assert_eq!(
            Pending::from_result(&CallToolResult::structured(json!({ "error": "confirmation_required" }))),
            None
        );
        assert_eq!(Pending::from_result(&CallToolResult::structured_error(json!({ "error": "not_found" }))), None);
    }

    #[test]
    fn the_question_names_the_tasks() {
        let pending = Pending::from_result(&asking(&[(1, "buy milk"), (2, "call mum"), (3, "pay rent")], &[])).unwrap();
        assert_eq!(pending.message(), "Delete these 3 tasks? 1 buy milk, 2 call mum, 3 pay rent");
        let pending = Pending::from_result(&asking(&[(4, "x")], &[7, 8])).unwrap();
        assert_eq!(pending.message(), "Delete this task? 4 x (there are no tasks 7, 8.)");
        let long = "é".repeat(TITLE_CHARS + 5);
        let many: Vec<(i64, &str)> = (1..=25).map(|n| (n, if n == 1 { long.as_str() } else { "t" })).collect();
        let message = Pending::from_result(&asking(&many, &[30])).unwrap().message();
        assert!(
            message.starts_with(&format!("Delete these 25 tasks? 1 {}…, 2 t,", "é".repeat(TITLE_CHARS))),
            "{message}"
        );
        assert!(message.ends_with(", 20 t, and 5 more (there is no task 30.)"), "{message}");
    }

    #[test]
    fn only_an_accepted_yes_is_a_yes() {
        let accept = |content: Value| answer(&ElicitResult::new(ElicitationAction::Accept).with_content(content));
        assert_eq!(accept(json!({ "confirm": true })), Answer::Yes);
        assert_eq!(accept(json!({ "confirm": false })), Answer::No);
        assert_eq!(accept(json!({ "confirm": "true" })), Answer::No);
        assert_eq!(accept(json!({})), Answer::No);
        assert_eq!(answer(&ElicitResult::new(ElicitationAction::Accept)), Answer::No);
        assert_eq!(answer(&ElicitResult::new(ElicitationAction::Decline)), Answer::No);
        assert_eq!(answer(&ElicitResult::new(ElicitationAction::Cancel)), Answer::Cancelled);
    }

    #[test]
    fn a_retry_counts_only_for_the_tasks_asked_about() {
        let pending = Pending::from_result(&asking(&[(1, "a"), (2, "b")], &[])).unwrap();
        let asked = pending.input_required();
        let state = asked.request_state.clone().unwrap();
        assert!(asked.input_requests.unwrap().contains_key(INPUT_KEY));
        let retry = |key: &str, response: Value, state: &str| {
            let mut responses = rmcp::model::InputResponses::new();
            responses.insert(key.into(), response);
            pending.retried_answer(
                &CallToolRequestParams::new("delete_task").with_input_responses(responses).with_request_state(state),
            )
        };
        let yes = json!({ "action": "accept", "content": { "confirm": true } });
        assert_eq!(retry(INPUT_KEY, yes.clone(), &state), Some(Some(Answer::Yes)));
        assert_eq!(retry(INPUT_KEY, json!({ "action": "decline" }), &state), Some(Some(Answer::No)));
        assert_eq!(retry(INPUT_KEY, json!({ "nonsense": 1 }), &state), Some(None));
        assert_eq!(retry(INPUT_KEY, yes.clone(), "confirm-delete:1,2,3"), None);
        assert_eq!(retry("other", yes, &state), None);
        assert_eq!(pending.retried_answer(&CallToolRequestParams::new("delete_task")), None);
    }

    #[test]
    fn forms_are_asked_only_of_clients_that_take_them() {
        let with = |e: Option<ElicitationCapability>| {
            let mut c = ClientCapabilities::default();
            c.elicitation = e;
            can_ask(Some(&c))
        };
        assert!(!can_ask(None));
        assert!(!with(None));
        assert!(with(Some(ElicitationCapability::new())));
        assert!(with(Some(ElicitationCapability::new().with_form(FormElicitationCapability::default()))));
        assert!(!with(Some(ElicitationCapability::new().with_url(UrlElicitationCapability::default()))));
    }

    #[test]
    fn no_is_a_result_that_fits_delete_tasks_output_schema() {
        let pending = Pending::from_result(&asking(&[(1, "a"), (2, "b")], &[])).unwrap();
        let result = pending.nothing_deleted(Answer::Cancelled);
        assert_ne!(result.is_error, Some(true));
        let content = result.structured_content.unwrap();
        assert_eq!(content["deleted"], false);
        assert_eq!(content["message"], "Nothing was deleted: the question was dismissed.");
        let schema = super::super::output_schema("delete_task").unwrap();
        for key in ["succeeded", "failed", "results"] {
            assert!(content.get(key).is_some(), "{key}");
        }
        for key in content.as_object().unwrap().keys() {
            assert!(schema["properties"].get(key).is_some(), "{key} is in the schema");
        }
    }
}
