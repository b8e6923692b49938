//! Configuration: one clap tree of flags, each with its environment variable (an optional `.env` is loaded
//! first). Secrets are redacted from `Debug` so a logged config never carries them.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(name = "taskchat", version, about = "A task manager you run by talking to it")]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the web app and the APIs (the default).
    Serve(Box<ServeArgs>),
    /// Apply, revert or list schema migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Serve the task tools over MCP on stdin/stdout as one account, for desktop MCP clients.
    Mcp(McpArgs),
    /// Manage people's accounts: list, show, verify, disable, enable, delete.
    Users {
        #[command(subcommand)]
        action: UsersAction,
    },
    /// List or end sign-in sessions.
    Sessions {
        #[command(subcommand)]
        action: SessionsAction,
    },
    /// Run a corpus of dialogues (tests/dialogues) against the configured assistant and score it by category.
    Eval(EvalArgs),
}

/// Settings of `taskchat eval`. The assistant is chosen as for `serve` (TASKCHAT_MODELS and the provider keys).
#[derive(Args, Debug, Clone)]
pub struct EvalArgs {
    /// A corpus file (a JSON array of dialogues) or a directory of them.
    #[arg(long, value_name = "PATH")]
    pub corpus: std::path::PathBuf,
    /// Only these categories (repeat the flag for several).
    #[arg(long, value_name = "NAME")]
    pub category: Vec<String>,
    /// Only dialogues whose id contains this.
    #[arg(long, value_name = "TEXT")]
    pub only: Option<String>,
    /// Exit with failure when fewer than this percentage of the dialogues pass.
    #[arg(long, value_name = "PERCENT")]
    pub min_score: Option<f64>,
    /// Print this many failing dialogues, turn by turn.
    #[arg(long, default_value_t = 15, value_name = "N")]
    pub show_failures: usize,
    /// Which models answer, as TASKCHAT_MODELS (e.g. "builtin", "openai:gpt-4o-mini").
    #[arg(long, value_name = "LIST")]
    pub models: Option<String>,
}

#[derive(Subcommand, Debug, Clone)]
pub enum UsersAction {
    /// List people: id, email, name, created, verified, disabled, active sessions, tasks.
    List {
        /// Only people whose email or name contains this (case-insensitive).
        #[arg(long)]
        search: Option<String>,
        /// Only disabled accounts.
        #[arg(long)]
        disabled: bool,
        /// Only accounts whose email is not verified.
        #[arg(long)]
        unverified: bool,
        /// At most this many.
        #[arg(long, default_value_t = 1000)]
        limit: i64,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one person.
    Show {
        /// Email or id.
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// Mark a person's email as verified.
    Verify { user: String },
    /// Disable an account: sign-in is refused and every session ends at once.
    Disable { user: String },
    /// Enable a disabled account again.
    Enable { user: String },
    /// Delete an account and everything of theirs (tasks, conversations, sessions).
    Delete {
        user: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum SessionsAction {
    /// List active sessions (never their tokens).
    List {
        /// Only this person's (email or id).
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// End one session by its id, or every session of a person with --user.
    Revoke {
        /// The session id (from `sessions list`).
        id: Option<String>,
        /// End all sessions of this person (email or id).
        #[arg(long, conflicts_with = "id")]
        user: Option<String>,
    },
}

/// Settings of `taskchat mcp`.
#[derive(Args, Debug, Clone)]
pub struct McpArgs {
    /// The email of the account whose tasks the tools act on.
    #[arg(long, value_name = "EMAIL")]
    pub user: String,
}

#[derive(Subcommand, Debug, Clone)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Revert migrations: the newest one, or all newer than --to.
    Down {
        /// Revert down to this version (0 reverts everything).
        #[arg(long)]
        to: Option<i64>,
    },
    /// List migrations and whether each is applied.
    Status,
}

/// Settings every subcommand uses.
#[derive(Args, Clone)]
pub struct CommonArgs {
    /// Where taskchat keeps its files: the SQLite database and a generated development secret.
    #[arg(long, env = "TASKCHAT_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,
    /// A PostgreSQL URL (postgres://…) or sqlite: URL; the SQLite file in the data directory when unset.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Log format: pretty in a terminal, JSON otherwise (auto), or forced.
    #[arg(long, env = "TASKCHAT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Auto, global = true)]
    pub log_format: LogFormat,
    /// Log filter, in tracing's EnvFilter syntax.
    #[arg(long, env = "TASKCHAT_LOG", default_value = "info,rmcp=warn", global = true)]
    pub log: String,
}

impl std::fmt::Debug for CommonArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommonArgs")
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_ref().map(|_| "<redacted>"))
            .field("log_format", &self.log_format)
            .finish()
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Auto,
    Pretty,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunMode {
    Development,
    Production,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordHashFormat {
    /// argon2id (recommended).
    Argon2id,
    /// Better Auth's scrypt format, for a database still shared with a Better Auth server.
    BetterAuth,
}

/// Settings of `taskchat serve`.
#[derive(Args, Clone)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "TASKCHAT_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The public URL people reach taskchat at. Its origin is trusted, is the JWT issuer and audience, and an
    /// https URL makes cookies `Secure` with the `__Secure-` prefix. Defaults to http://<listen>.
    #[arg(long, env = "TASKCHAT_BASE_URL")]
    pub base_url: Option<String>,
    /// The secret that signs cookies and encrypts the JWT key (32+ characters). BETTER_AUTH_SECRET is read
    /// too. In development a missing secret is generated once and kept in the data directory.
    #[arg(long = "secret", env = "TASKCHAT_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// development or production. Production refuses to start without a strong secret.
    #[arg(long, env = "TASKCHAT_ENV", value_enum, default_value_t = RunMode::Development)]
    pub mode: RunMode,
    /// Other origins (comma-separated) whose pages may call the APIs with cookies (Origin check and CORS).
    #[arg(long, env = "TASKCHAT_TRUSTED_ORIGINS", value_delimiter = ',')]
    pub trusted_origins: Vec<String>,
    /// Believe the client address in X-Forwarded-For (only behind a proxy that sets it).
    #[arg(long, env = "TASKCHAT_TRUST_PROXY", default_value_t = false)]
    pub trust_proxy: bool,
    /// Attempts allowed per window on sign-in, sign-up and change-password, per client and path (0 disables).
    #[arg(long, env = "TASKCHAT_RATE_LIMIT_MAX", default_value_t = 3)]
    pub rate_limit_max: u32,
    /// Length of the rate-limit window in seconds.
    #[arg(long, env = "TASKCHAT_RATE_LIMIT_WINDOW", default_value_t = 10)]
    pub rate_limit_window: u64,
    /// Failed sign-ins in a row an account (by email, from any address) is allowed before each further one
    /// locks it for a growing delay (0 disables).
    #[arg(long, env = "TASKCHAT_LOCKOUT_AFTER", default_value_t = 5)]
    pub lockout_after: u32,
    /// The longest an account is locked after a failed sign-in, in seconds: what an attacker can keep its owner out.
    #[arg(long, env = "TASKCHAT_LOCKOUT_MAX_DELAY", default_value_t = 300)]
    pub lockout_max_delay: u64,
    /// Format of newly written password hashes.
    #[arg(long, env = "TASKCHAT_PASSWORD_HASH", value_enum, default_value_t = PasswordHashFormat::Argon2id)]
    pub password_hash: PasswordHashFormat,
    /// How many password hashes may run at once (each uses one core for tens of milliseconds, at the lowest CPU
    /// priority). 0 = one less than the cores (at least one), so a burst of sign-ins always leaves a core to the chat.
    #[arg(long, env = "TASKCHAT_HASH_CONCURRENCY", default_value_t = 0)]
    pub hash_concurrency: usize,
    /// JWKS URL of an external Better Auth server whose JWTs are accepted as bearer credentials.
    #[arg(long, env = "TASKCHAT_EXTERNAL_JWKS_URL")]
    pub external_jwks_url: Option<String>,
    /// Issuer (and audience) expected in the external server's JWTs; defaults to the JWKS URL's origin.
    #[arg(long, env = "TASKCHAT_EXTERNAL_JWT_ISSUER")]
    pub external_jwt_issuer: Option<String>,
    /// Shared secret for HS256 bearer JWTs whose `sub` is the user id (the earlier Next.js front end).
    #[arg(long, env = "TASKCHAT_JWT_HS256_SECRET", hide_env_values = true)]
    pub jwt_hs256_secret: Option<String>,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "TASKCHAT_MAX_BODY_BYTES", default_value_t = 1_048_576)]
    pub max_body_bytes: usize,
    /// Seconds a client gets to send a request's headers, from the connection's start (or, on a kept-alive
    /// connection, the request's first byte).
    #[arg(long, env = "TASKCHAT_HEADER_TIMEOUT", default_value_t = 10.0)]
    pub header_timeout: f64,
    /// Seconds a connection may sit with no request under way before it is closed.
    #[arg(long, env = "TASKCHAT_IDLE_TIMEOUT", default_value_t = 60.0)]
    pub idle_timeout: f64,
    /// Seconds to wait for the next piece of a request body before answering 408.
    #[arg(long, env = "TASKCHAT_BODY_TIMEOUT", default_value_t = 30.0)]
    pub body_timeout: f64,
    /// Seconds a request may take before its answer starts (503); chat turns, ChatKit, MCP and event streams
    /// are bounded by the model timeout and their keep-alives instead.
    #[arg(long, env = "TASKCHAT_REQUEST_TIMEOUT", default_value_t = 30.0)]
    pub request_timeout: f64,
    /// Open connections at most (0 = nine tenths of the open-file limit, which is raised to the hard limit at
    /// start). At the cap the connection idle the longest is closed to make room.
    #[arg(long, env = "TASKCHAT_MAX_CONNECTIONS", default_value_t = 0)]
    pub max_connections: usize,
    /// Event streams (`/api/events`) one person may hold open at once; the oldest ends for a new one.
    #[arg(long, env = "TASKCHAT_MAX_STREAMS_PER_PERSON", default_value_t = 16)]
    pub max_streams_per_person: usize,
    /// `Strict-Transport-Security` max-age in seconds, sent when the base URL is https (0 = never send it).
    #[arg(long, env = "TASKCHAT_HSTS_MAX_AGE", default_value_t = 31_536_000)]
    pub hsts_max_age: u64,
    /// Seconds that in-flight requests get to finish after SIGINT/SIGTERM.
    #[arg(long, env = "TASKCHAT_SHUTDOWN_GRACE", default_value_t = 20)]
    pub shutdown_grace: u64,
    /// Host names (comma-separated, `host` or `host:port`) that `/mcp` answers besides the base URL's; when
    /// unset, the loopback names. `*` accepts any Host (only behind a proxy that checks it).
    #[arg(long, env = "TASKCHAT_MCP_ALLOWED_HOSTS", value_delimiter = ',')]
    pub mcp_allowed_hosts: Vec<String>,
    /// Serve `/mcp` without in-memory MCP sessions, so any copy of taskchat behind a load balancer can answer
    /// any request. `false` keeps sessions in this process (then route each client to one copy).
    #[arg(long, env = "TASKCHAT_MCP_STATELESS", default_value_t = true, action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub mcp_stateless: bool,
    /// Seconds an OAuth access token lives (refresh tokens last 30 days and rotate on use).
    #[arg(long, env = "TASKCHAT_OAUTH_ACCESS_TOKEN_TTL", default_value_t = 3600)]
    pub oauth_access_token_ttl: u64,
    /// Let client ID metadata documents be fetched from loopback and private addresses (a lab setup); off,
    /// a client_id URL whose host resolves to one is refused before any connection is made.
    #[arg(long, env = "TASKCHAT_OAUTH_ALLOW_PRIVATE_METADATA", default_value_t = false, action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub oauth_allow_private_metadata: bool,
    /// Serve Prometheus metrics at /metrics.
    #[arg(long, env = "TASKCHAT_METRICS", default_value_t = true, action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub metrics: bool,
    /// A bearer token that /metrics requires (recommended when the port is reachable from outside).
    #[arg(long, env = "TASKCHAT_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Models to use, in order of preference: `openai:MODEL,gemini:MODEL,builtin`. Default: the providers
    /// whose keys are set, then the offline builtin assistant.
    #[arg(long, env = "TASKCHAT_MODELS")]
    pub models: Option<String>,
    /// OpenAI (or compatible) API key.
    #[arg(long, env = "OPENAI_API_KEY", hide_env_values = true)]
    pub openai_api_key: Option<String>,
    /// Base URL of an OpenAI-compatible API (Ollama, vLLM, llama.cpp, OpenRouter, …).
    #[arg(long, env = "OPENAI_BASE_URL", default_value = "https://api.openai.com/v1")]
    pub openai_base_url: String,
    /// Model used when TASKCHAT_MODELS names `openai` without one.
    #[arg(long, env = "OPENAI_MODEL", default_value = "gpt-4o-mini")]
    pub openai_model: String,
    /// Gemini API key.
    #[arg(long, env = "GEMINI_API_KEY", hide_env_values = true)]
    pub gemini_api_key: Option<String>,
    /// Base URL of the Gemini API.
    #[arg(long, env = "GEMINI_BASE_URL", default_value = "https://generativelanguage.googleapis.com/v1beta")]
    pub gemini_base_url: String,
    /// Model used when TASKCHAT_MODELS names `gemini` without one.
    #[arg(long, env = "GEMINI_MODEL", default_value = "gemini-2.5-flash")]
    pub gemini_model: String,
    /// Sampling temperature for OpenAI (0 to 2). Unset: none is sent, and the server's default applies.
    #[arg(long, env = "OPENAI_TEMPERATURE", value_parser = parse_temperature)]
    pub openai_temperature: Option<f64>,
    /// Stream OpenAI answers; `false` asks for whole answers (compatible servers that stream tool calls badly).
    #[arg(long, env = "OPENAI_STREAM", default_value_t = true, action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub openai_stream: bool,
    /// Ask for token usage in streamed OpenAI answers (`stream_options`); some compatible servers reject it.
    #[arg(long, env = "OPENAI_STREAM_USAGE", default_value_t = true, action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub openai_stream_usage: bool,
    /// Sampling temperature for Gemini (0 to 2), as `generationConfig.temperature`. Unset: Gemini's default.
    #[arg(long, env = "GEMINI_TEMPERATURE", value_parser = parse_temperature)]
    pub gemini_temperature: Option<f64>,
    /// Seconds to wait for a model to start answering, and the longest silence inside an answer.
    #[arg(long, env = "TASKCHAT_MODEL_TIMEOUT", default_value_t = 60)]
    pub model_timeout: u64,
    /// Retries of a model call after a 429/5xx or a network error, before falling back to the next model.
    #[arg(long, env = "TASKCHAT_MODEL_RETRIES", default_value_t = 2)]
    pub model_retries: u32,
    /// Model calls allowed in one chat turn (each round of tool calls is one).
    #[arg(long, env = "TASKCHAT_AGENT_MAX_STEPS", default_value_t = 8)]
    pub agent_max_steps: usize,
    /// Where mail goes: `smtp://user:pass@host:port` (plain, for a relay on loopback),
    /// `smtp://user:pass@host:587?tls=starttls` (or `tls=required`), `smtps://user:pass@host:465`. Unset: each
    /// message is written to a file under `<data dir>/mail/` instead (development).
    #[arg(long, env = "TASKCHAT_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The From address of the mail taskchat sends, `Name <addr>` or a bare address. Default: taskchat@<base
    /// URL's host>.
    #[arg(long, env = "TASKCHAT_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// Refuse sign-in (403 EMAIL_NOT_VERIFIED) until the person has followed the link mailed to them; sign-up
    /// then mails that link and starts no session.
    #[arg(long, env = "TASKCHAT_REQUIRE_EMAIL_VERIFICATION", default_value_t = false, action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub require_email_verification: bool,
    /// A password reset signs the person out everywhere (whoever knew the old password loses their session).
    #[arg(long, env = "TASKCHAT_REVOKE_SESSIONS_ON_PASSWORD_RESET", default_value_t = true, action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub revoke_sessions_on_password_reset: bool,
    /// Mails allowed per window on the mail-sending routes (password reset, verification, change email), per
    /// client address and, separately, per email address (0 disables).
    #[arg(long, env = "TASKCHAT_MAIL_RATE_LIMIT_MAX", default_value_t = 3)]
    pub mail_rate_limit_max: u32,
    /// Length of the mail rate-limit window in seconds.
    #[arg(long, env = "TASKCHAT_MAIL_RATE_LIMIT_WINDOW", default_value_t = 60)]
    pub mail_rate_limit_window: u64,
}

impl std::fmt::Debug for ServeArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeArgs")
            .field("listen", &self.listen)
            .field("base_url", &self.base_url)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("mode", &self.mode)
            .field("trusted_origins", &self.trusted_origins)
            .field("trust_proxy", &self.trust_proxy)
            .field("rate_limit_max", &self.rate_limit_max)
            .field("rate_limit_window", &self.rate_limit_window)
            .field("lockout_after", &self.lockout_after)
            .field("lockout_max_delay", &self.lockout_max_delay)
            .field("password_hash", &self.password_hash)
            .field("external_jwks_url", &self.external_jwks_url)
            .field("jwt_hs256_secret", &self.jwt_hs256_secret.as_ref().map(|_| "<redacted>"))
            .field("models", &self.models)
            .field("openai_api_key", &self.openai_api_key.as_ref().map(|_| "<redacted>"))
            .field("openai_base_url", &self.openai_base_url)
            .field("gemini_api_key", &self.gemini_api_key.as_ref().map(|_| "<redacted>"))
            .field("gemini_base_url", &self.gemini_base_url)
            .field("openai_temperature", &self.openai_temperature)
            .field("openai_stream", &self.openai_stream)
            .field("openai_stream_usage", &self.openai_stream_usage)
            .field("gemini_temperature", &self.gemini_temperature)
            .field("mcp_allowed_hosts", &self.mcp_allowed_hosts)
            .field("mcp_stateless", &self.mcp_stateless)
            .field("smtp_url", &self.smtp_url.as_ref().map(|_| "<redacted>"))
            .field("mail_from", &self.mail_from)
            .field("require_email_verification", &self.require_email_verification)
            .field("oauth_access_token_ttl", &self.oauth_access_token_ttl)
            .field("oauth_allow_private_metadata", &self.oauth_allow_private_metadata)
            .finish()
    }
}

impl ServeArgs {
    /// The connection and request limits, the open-file limit raised first for the default cap.
    pub fn limits(&self) -> crate::conn::Limits {
        // At most a day: hyper adds the timeout to an Instant, which must not overflow.
        let day = std::time::Duration::from_secs(86_400);
        let secs = |v: f64| std::time::Duration::try_from_secs_f64(v.max(0.01)).map_or(day, |d| d.min(day));
        let max_connections = match self.max_connections {
            0 => crate::conn::default_max_connections(crate::conn::raise_open_files_limit()),
            n => {
                crate::conn::raise_open_files_limit();
                n
            }
        };
        crate::conn::Limits {
            header_timeout: secs(self.header_timeout),
            idle_timeout: secs(self.idle_timeout),
            body_timeout: secs(self.body_timeout),
            request_timeout: secs(self.request_timeout),
            max_connections,
        }
    }

    /// The model providers' settings.
    pub fn provider_settings(&self) -> crate::llm::ProviderSettings {
        let timeout = std::time::Duration::from_secs(self.model_timeout.max(1));
        crate::llm::ProviderSettings {
            models: self.models.clone().filter(|m| !m.trim().is_empty()),
            openai_api_key: self.openai_api_key.clone().filter(|k| !k.is_empty()),
            openai_base_url: self.openai_base_url.clone(),
            openai_model: self.openai_model.clone(),
            gemini_api_key: self.gemini_api_key.clone().filter(|k| !k.is_empty()),
            gemini_base_url: self.gemini_base_url.clone(),
            gemini_model: self.gemini_model.clone(),
            openai: crate::llm::openai::OpenAiOptions {
                temperature: self.openai_temperature,
                stream: self.openai_stream,
                stream_usage: self.openai_stream_usage,
            },
            gemini_temperature: self.gemini_temperature,
            policy: crate::llm::CallPolicy {
                connect_timeout: timeout,
                idle_timeout: timeout,
                max_retries: self.model_retries,
                ..Default::default()
            },
        }
    }

    /// The settings `taskchat serve` would have with no flags: defaults, overridden by the environment.
    pub fn from_env() -> Self {
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            serve: ServeArgs,
        }
        Only::parse_from(["taskchat"]).serve
    }
}

/// A model temperature: a number from 0 to 2 (what OpenAI and Gemini take), refused at startup otherwise.
fn parse_temperature(raw: &str) -> Result<f64, String> {
    let t: f64 = raw.trim().parse().map_err(|_| format!("{raw:?} is not a number: give one from 0 to 2"))?;
    crate::llm::check_temperature("the temperature", Some(t)).map_err(|e| e.to_string())?;
    Ok(t)
}

/// The smallest secret we accept; Better Auth warns below 32 characters.
pub const MIN_SECRET_LEN: usize = 32;

/// Finds the secret: the flag or TASKCHAT_SECRET, else BETTER_AUTH_SECRET, else (development only) one generated
/// once and kept in `<data_dir>/secret`.
pub fn resolve_secret(args: &ServeArgs, data_dir: &std::path::Path) -> anyhow::Result<String> {
    let given = args.secret.clone().or_else(|| std::env::var("BETTER_AUTH_SECRET").ok()).filter(|s| !s.is_empty());
    match (given, args.mode) {
        (Some(s), RunMode::Production) if s.chars().count() < MIN_SECRET_LEN => anyhow::bail!(
            "TASKCHAT_SECRET is too short for production: use at least {MIN_SECRET_LEN} random characters \
             (for example: openssl rand -base64 48)"
        ),
        (Some(s), _) => {
            if s.chars().count() < MIN_SECRET_LEN {
                tracing::warn!(
                    "the secret is shorter than {MIN_SECRET_LEN} characters; use a longer one in production"
                );
            }
            Ok(s)
        }
        (None, RunMode::Production) => anyhow::bail!(
            "TASKCHAT_SECRET is not set: production mode needs a secret of at least {MIN_SECRET_LEN} random \
             characters (for example: openssl rand -base64 48)"
        ),
        (None, RunMode::Development) => {
            let path = data_dir.join("secret");
            if let Ok(existing) = std::fs::read_to_string(&path) {
                let existing = existing.trim().to_string();
                if existing.len() >= MIN_SECRET_LEN {
                    crate::files::warn_if_shared(&path);
                    return Ok(existing);
                }
            }
            crate::files::private_dir(data_dir)?;
            let secret = crate::auth::crypto::generate_id() + &crate::auth::crypto::generate_id();
            crate::files::write_private(&path, &secret)?;
            tracing::warn!(
                path = %path.display(),
                "TASKCHAT_SECRET is not set: generated a development secret and saved it in the data directory"
            );
            Ok(secret)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Parser)]
    struct Only {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn parse(args: &[&str]) -> Result<ServeArgs, clap::Error> {
        Only::try_parse_from(std::iter::once("taskchat").chain(args.iter().copied())).map(|o| o.serve)
    }

    #[test]
    fn model_options_parse_and_bad_temperatures_are_config_errors() {
        let s = parse(&["--openai-temperature", "0.3", "--gemini-temperature", "2", "--openai-stream", "false"])
            .unwrap()
            .provider_settings();
        assert_eq!(s.openai.temperature, Some(0.3));
        assert_eq!(s.gemini_temperature, Some(2.0));
        assert!(!s.openai.stream);
        for bad in ["2.5", "-0.1", "NaN", "warm", "inf"] {
            let flag = format!("--openai-temperature={bad}");
            let e = parse(&[&flag]).err().unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(e.to_string().contains("from 0 to 2"), "{bad}: {e}");
            assert!(parse(&[&format!("--gemini-temperature={bad}")]).is_err(), "{bad}");
        }
        assert_eq!(parse_temperature(" 0 "), Ok(0.0));
    }
}
