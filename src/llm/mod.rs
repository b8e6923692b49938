//! Model providers behind one small streaming trait: a chat call with tools that yields text deltas, tool
//! calls, usage and a finish. `openai` speaks Chat Completions (any compatible server), `gemini` the native
//! `streamGenerateContent`, and `builtin` is an offline assistant that emits real tool calls.

pub mod builtin;
pub(crate) mod builtin_nlu;
pub mod gemini;
pub mod openai;
mod sse;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::stream::BoxStream;
use serde_json::Value;

use crate::tasks::{Task, TaskCounts, TaskQuery};

/// A tool offered to the model.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub parameters: Value,
}

/// A tool call the model made.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// The provider's call id (generated when the provider has none).
    pub id: String,
    pub name: String,
    /// The arguments as the model sent them; invalid JSON arrives as a string value.
    pub arguments: Value,
}

/// One message of the conversation sent to a model.
#[derive(Debug, Clone)]
pub enum ChatMessage {
    User(String),
    Assistant {
        text: String,
        tool_calls: Vec<ToolCall>,
        /// What the provider needs to see again exactly as it sent it (Gemini's parts with thought signatures).
        provider_state: Option<Value>,
    },
    ToolResult {
        call_id: String,
        name: String,
        result: Value,
    },
}

/// The person's tasks as the builtin assistant reads them: a few bounded, indexed lookups per turn, never the
/// whole list. Hosted models call `list_tasks` instead.
#[async_trait::async_trait]
pub trait TaskLookup: Send + Sync {
    /// Now, in the person's time zone.
    fn now(&self) -> jiff::ZonedDateTime;
    /// Tasks sharing words with `text`, best matches first.
    async fn search(&self, text: &str, limit: usize) -> anyhow::Result<Vec<Task>>;
    /// Up to `limit` tasks with a word starting with one of `prefixes`, newest first.
    async fn search_prefixes(&self, prefixes: &[String], limit: usize) -> anyhow::Result<Vec<Task>>;
    /// The tasks with these numbers (missing ones left out).
    async fn numbers(&self, numbers: &[i64]) -> anyhow::Result<Vec<Task>>;
    /// The first page of a list.
    async fn list(&self, query: &TaskQuery) -> anyhow::Result<Vec<Task>>;
    async fn counts(&self) -> anyhow::Result<TaskCounts>;
}

#[derive(Clone)]
pub struct ModelRequest {
    pub system: String,
    pub messages: Vec<ChatMessage>,
    /// Shared, not copied: the same specifications go with every request (≈ 11 KB as JSON values).
    pub tools: Arc<[ToolSpec]>,
    /// The person's tasks, for providers that read them directly (the builtin assistant).
    pub tasks: Option<Arc<dyn TaskLookup>>,
    pub user_name: Option<String>,
}

/// What a model streams back.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelEvent {
    TextDelta(String),
    ToolCall(ToolCall),
    /// State to replay verbatim with this assistant turn (see [`ChatMessage::Assistant`]).
    ProviderState(Value),
    Usage {
        input_tokens: u64,
        output_tokens: u64,
    },
    Finish {
        reason: String,
    },
}

/// Why a model call failed, in terms that decide what to do next.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LlmError {
    #[error("the model did not answer in time")]
    Timeout,
    #[error("the model service is rate limiting us")]
    RateLimited { retry_after: Option<Duration> },
    #[error("the model service failed (HTTP {status})")]
    Server { status: u16 },
    #[error("the model service refused the request (HTTP {status}): {message}")]
    Rejected { status: u16, message: String },
    #[error("the model service is unreachable: {0}")]
    Network(String),
    #[error("the model sent something we could not read: {0}")]
    Protocol(String),
}

impl LlmError {
    /// Whether trying again (after a pause) may help.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            LlmError::Timeout | LlmError::RateLimited { .. } | LlmError::Server { .. } | LlmError::Network(_)
        )
    }

    /// A short label for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            LlmError::Timeout => "timeout",
            LlmError::RateLimited { .. } => "rate_limited",
            LlmError::Server { .. } => "server",
            LlmError::Rejected { .. } => "rejected",
            LlmError::Network(_) => "network",
            LlmError::Protocol(_) => "protocol",
        }
    }
}

pub type ModelStream = BoxStream<'static, Result<ModelEvent, LlmError>>;

#[async_trait::async_trait]
pub trait ChatModel: Send + Sync {
    /// `provider:model`, for logs and records.
    fn name(&self) -> String;

    /// Starts a streamed answer. Errors before the first event come back here; later ones inside the stream.
    /// The request is borrowed: providers read it into their own wire format, so no copy of it is made per call.
    async fn stream(&self, request: &ModelRequest) -> Result<ModelStream, LlmError>;
}

/// Limits that apply to calls over the network.
#[derive(Debug, Clone, Copy)]
pub struct CallPolicy {
    /// Time allowed until the response headers arrive.
    pub connect_timeout: Duration,
    /// Longest silence allowed between two pieces of a streamed answer.
    pub idle_timeout: Duration,
    /// Retries after a transient failure before any output.
    pub max_retries: u32,
    /// First backoff; doubled on each retry, capped by `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for CallPolicy {
    fn default() -> Self {
        CallPolicy {
            connect_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_retries: 2,
            base_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
        }
    }
}

/// Where a network provider's calls go, and how: one model at one service.
pub struct Endpoint {
    pub http: HttpClients,
    /// Without a trailing slash.
    pub base_url: String,
    pub api_key: String,
    pub model: String,
    pub policy: CallPolicy,
}

impl Endpoint {
    pub fn new(http: HttpClients, base_url: &str, api_key: String, model: String, policy: CallPolicy) -> Endpoint {
        Endpoint { http, base_url: base_url.trim_end_matches('/').to_string(), api_key, model, policy }
    }
}

/// Parses `TASKCHAT_MODELS`-style lists: `openai:gpt-4o-mini,gemini:gemini-2.5-flash,builtin`.
pub fn parse_model_list(spec: &str) -> Result<Vec<(String, Option<String>)>, String> {
    let mut out = vec![];
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (provider, model) = match item.split_once(':') {
            Some((p, m)) => (p.trim().to_ascii_lowercase(), Some(m.trim().to_string()).filter(|m| !m.is_empty())),
            None => (item.to_ascii_lowercase(), None),
        };
        if !matches!(provider.as_str(), "openai" | "gemini" | "builtin") {
            return Err(format!("unknown model provider {provider:?}: use openai, gemini or builtin"));
        }
        out.push((provider, model));
    }
    if out.is_empty() {
        return Err("the model list is empty".into());
    }
    Ok(out)
}

/// Settings for building the provider list.
#[derive(Clone, Default)]
pub struct ProviderSettings {
    pub models: Option<String>,
    pub openai_api_key: Option<String>,
    pub openai_base_url: String,
    pub openai_model: String,
    pub gemini_api_key: Option<String>,
    pub gemini_base_url: String,
    pub gemini_model: String,
    pub openai: openai::OpenAiOptions,
    pub gemini_temperature: Option<f64>,
    pub policy: CallPolicy,
}

/// The temperatures OpenAI and Gemini take.
pub const TEMPERATURE_RANGE: std::ops::RangeInclusive<f64> = 0.0..=2.0;

/// A temperature setting, checked: `name` says which in the error.
pub fn check_temperature(name: &str, t: Option<f64>) -> anyhow::Result<()> {
    match t {
        Some(t) if !TEMPERATURE_RANGE.contains(&t) => {
            anyhow::bail!("{name} must be a number from 0 to 2, not {t}")
        }
        _ => Ok(()),
    }
}

/// The ordered providers: the configured list, or those whose keys are present followed by `builtin`.
pub fn build_providers(s: &ProviderSettings) -> anyhow::Result<Vec<Arc<dyn ChatModel>>> {
    check_temperature("OPENAI_TEMPERATURE", s.openai.temperature)?;
    check_temperature("GEMINI_TEMPERATURE", s.gemini_temperature)?;
    let list = match &s.models {
        Some(spec) => parse_model_list(spec).map_err(|e| anyhow::anyhow!("TASKCHAT_MODELS: {e}"))?,
        None => {
            let mut l = vec![];
            if s.openai_api_key.is_some() {
                l.push(("openai".to_string(), None));
            }
            if s.gemini_api_key.is_some() {
                l.push(("gemini".to_string(), None));
            }
            l.push(("builtin".to_string(), None));
            l
        }
    };
    let http = HttpClients::new().map_err(|e| anyhow::anyhow!("cannot build the HTTP client: {e}"))?;
    let mut out: Vec<Arc<dyn ChatModel>> = vec![];
    for (provider, model) in list {
        match provider.as_str() {
            "openai" => {
                let key = s.openai_api_key.clone().unwrap_or_default();
                if key.is_empty() && s.openai_base_url.contains("api.openai.com") {
                    anyhow::bail!("TASKCHAT_MODELS names openai but OPENAI_API_KEY is not set");
                }
                let model = model.unwrap_or_else(|| s.openai_model.clone());
                let at = Endpoint::new(http.clone(), &s.openai_base_url, key, model, s.policy);
                out.push(Arc::new(openai::OpenAi::new(at, s.openai)));
            }
            "gemini" => {
                let key = s
                    .gemini_api_key
                    .clone()
                    .ok_or_else(|| anyhow::anyhow!("TASKCHAT_MODELS names gemini but GEMINI_API_KEY is not set"))?;
                let model = model.unwrap_or_else(|| s.gemini_model.clone());
                let at = Endpoint::new(http.clone(), &s.gemini_base_url, key, model, s.policy);
                out.push(Arc::new(gemini::Gemini::new(at, s.gemini_temperature)));
            }
            _ => out.push(Arc::new(builtin::Builtin)),
        }
    }
    Ok(out)
}

/// Model calls one HTTP client carries at most. Over HTTP/2 (OpenAI and Gemini negotiate it over TLS) a client
/// multiplexes every call to a host onto one connection, but the server caps the streams of a connection
/// (SETTINGS_MAX_CONCURRENT_STREAMS: 100 at Google, 128–256 elsewhere, the RFC advises no fewer than 100) and
/// reqwest opens no second connection to the host: calls beyond the cap would wait for others to end. So calls
/// are spread over as many clients, each with its own connections, as keep every one under this number.
const CALLS_PER_CLIENT: usize = 64;

/// Idle connections a client keeps per host. Over HTTP/1.1 (local OpenAI-compatible servers) every concurrent
/// call has its own connection, and after a burst each would stay pooled, with ≈ 25 KB of buffers, until the idle
/// timeout: ten thousand streams ending at once would hold ≈ 250 MB for 90 s.
const IDLE_PER_HOST: usize = 256;

/// The HTTP clients model calls go out through: see [`CALLS_PER_CLIENT`]. Cheap to clone.
#[derive(Clone)]
pub struct HttpClients(Arc<Mutex<Vec<HttpClient>>>);

struct HttpClient {
    client: reqwest::Client,
    /// Calls under way on it.
    calls: Arc<AtomicUsize>,
}

/// Holds a call's place on its client until dropped (with the response stream).
pub struct CallLease(Arc<AtomicUsize>);

impl Drop for CallLease {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl HttpClients {
    pub fn new() -> reqwest::Result<HttpClients> {
        Ok(HttpClients(Arc::new(Mutex::new(vec![HttpClient::build()?]))))
    }

    /// A client with room for one more call to `url`, and the lease that keeps the room taken. Plain `http://`
    /// is HTTP/1.1 (reqwest never assumes HTTP/2 without TLS), one connection per call whatever the client: those
    /// calls all use the first client, and build no others (each holds its own copy of the TLS roots, ≈ 100 KB).
    pub fn lease(&self, url: &str) -> (reqwest::Client, CallLease) {
        let mut clients = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let busy = |c: &HttpClient| c.calls.load(Ordering::Relaxed);
        let index = if url.starts_with("http://") {
            0
        } else if let Some(i) = clients.iter().position(|c| busy(c) < CALLS_PER_CLIENT) {
            i
        } else {
            match HttpClient::build() {
                Ok(client) => {
                    clients.push(client);
                    clients.len() - 1
                }
                // Never expected (the first one was built): crowd the least busy client rather than fail.
                Err(e) => {
                    tracing::warn!(error = %e, "cannot build another HTTP client for model calls");
                    (0..clients.len()).min_by_key(|&i| busy(&clients[i])).unwrap_or_default()
                }
            }
        };
        let chosen = &clients[index];
        chosen.calls.fetch_add(1, Ordering::Relaxed);
        (chosen.client.clone(), CallLease(chosen.calls.clone()))
    }

    #[cfg(test)]
    fn built(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl HttpClient {
    fn build() -> reqwest::Result<HttpClient> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(IDLE_PER_HOST)
            .build()?;
        Ok(HttpClient { client, calls: Arc::default() })
    }
}

/// Backoff before retry number `attempt` (1-based), honouring a server's Retry-After when it is sooner than
/// our cap.
pub fn backoff(policy: &CallPolicy, attempt: u32, retry_after: Option<Duration>) -> Duration {
    let exp = policy.base_backoff.saturating_mul(1 << attempt.saturating_sub(1).min(16));
    match retry_after {
        Some(ra) => ra.min(policy.max_backoff),
        None => exp.min(policy.max_backoff),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_lists_parse() {
        let l = parse_model_list("openai:gpt-4o-mini, gemini:gemini-2.5-flash ,builtin").unwrap();
        assert_eq!(l[0], ("openai".into(), Some("gpt-4o-mini".into())));
        assert_eq!(l[1], ("gemini".into(), Some("gemini-2.5-flash".into())));
        assert_eq!(l[2], ("builtin".into(), None));
        assert!(parse_model_list("claude:x").is_err());
        assert!(parse_model_list(" , ").is_err());
    }

    #[test]
    fn model_calls_spread_over_clients_and_leases_give_their_place_back() {
        let http = HttpClients::new().unwrap();
        let url = "https://api.example.com/v1/chat/completions";
        let first: Vec<_> = (0..CALLS_PER_CLIENT).map(|_| http.lease(url).1).collect();
        assert_eq!(http.built(), 1);
        let extra = http.lease(url).1;
        assert_eq!(http.built(), 2, "a full client gets no more calls");
        drop(first);
        drop(extra);
        let again: Vec<_> = (0..CALLS_PER_CLIENT).map(|_| http.lease(url).1).collect();
        assert_eq!(http.built(), 2, "returned places are used again");
        // HTTP/1.1 shares nothing: no client is built for it.
        let plain: Vec<_> = (0..2 * CALLS_PER_CLIENT).map(|_| http.lease("http://localhost:11434/v1").1).collect();
        assert_eq!(http.built(), 2);
        drop((again, plain));
    }

    #[test]
    fn a_temperature_out_of_range_is_a_configuration_error() {
        let settings = |openai: Option<f64>, gemini: Option<f64>| ProviderSettings {
            models: Some("builtin".into()),
            openai: openai::OpenAiOptions { temperature: openai, ..Default::default() },
            gemini_temperature: gemini,
            ..Default::default()
        };
        assert!(build_providers(&settings(Some(0.0), Some(2.0))).is_ok());
        let e = build_providers(&settings(Some(2.1), None)).err().unwrap().to_string();
        assert!(e.contains("OPENAI_TEMPERATURE") && e.contains("from 0 to 2"), "{e}");
        let e = build_providers(&settings(None, Some(f64::NAN))).err().unwrap().to_string();
        assert!(e.contains("GEMINI_TEMPERATURE"), "{e}");
    }

    #[test]
    fn backoff_doubles_and_honours_retry_after() {
        let p = CallPolicy::default();
        assert_eq!(backoff(&p, 1, None), Duration::from_millis(500));
        assert_eq!(backoff(&p, 2, None), Duration::from_millis(1000));
        assert_eq!(backoff(&p, 10, None), Duration::from_secs(8));
        assert_eq!(backoff(&p, 1, Some(Duration::from_secs(2))), Duration::from_secs(2));
        assert_eq!(backoff(&p, 1, Some(Duration::from_secs(600))), Duration::from_secs(8));
    }
}
