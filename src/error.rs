//! One error type for every door. Each error renders as a stable JSON body `{"message", "code"}` (the shape
//! Better Auth uses, so one client-side handler reads them all); internal causes are logged once and never shown.

use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A client's mistake or a refusal, shown as is.
    #[error("{message}")]
    Client { status: StatusCode, code: Option<&'static str>, message: String },
    /// Better Auth answers unknown routes and disabled endpoints with a bare 404.
    #[error("not found")]
    EmptyNotFound,
    #[error("too many requests")]
    RateLimited { retry_after_secs: u64 },
    /// Something broke on our side; the cause goes to the log, the client gets a generic message.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AppError::Client { status, code: Some(code), message: message.into() }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::bad_request("VALIDATION_ERROR", message)
    }

    /// The one answer for every failed credential check, so nothing tells which check failed.
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "Unauthorized")
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Client { status, .. } => *status,
            AppError::EmptyNotFound => StatusCode::NOT_FOUND,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        // PostgreSQL refuses NUL characters in text (SQLSTATE 22021): the client sent something unstorable.
        if let sqlx::Error::Database(db) = &e
            && db.code().as_deref() == Some("22021")
        {
            return AppError::bad_request("BAD_REQUEST", "The request contains a character that cannot be stored.");
        }
        AppError::Internal(e.into())
    }
}

impl From<BytesRejection> for AppError {
    fn from(r: BytesRejection) -> Self {
        let status = r.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::new(status, "PAYLOAD_TOO_LARGE", "The request body is too large")
        } else {
            AppError::bad_request("BAD_REQUEST", "The request body could not be read")
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::Client { status, code, message } => {
                let body = match code {
                    Some(code) => json!({ "message": message, "code": code }),
                    None => json!({ "message": message }),
                };
                (status, axum::Json(body)).into_response()
            }
            AppError::EmptyNotFound => StatusCode::NOT_FOUND.into_response(),
            AppError::RateLimited { retry_after_secs } => {
                let mut res = (
                    StatusCode::TOO_MANY_REQUESTS,
                    axum::Json(json!({
                        "message": "Too many requests. Please try again later.",
                        "code": "TOO_MANY_REQUESTS"
                    })),
                )
                    .into_response();
                // Better Auth's own header, and the standard one every HTTP client understands.
                res.headers_mut().insert("x-retry-after", HeaderValue::from(retry_after_secs));
                res.headers_mut().insert(axum::http::header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
                res
            }
            AppError::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    axum::Json(json!({
                        "message": "Something went wrong on our side. Please try again in a moment.",
                        "code": "INTERNAL_ERROR"
                    })),
                )
                    .into_response()
            }
        }
    }
}

impl From<axum::extract::rejection::QueryRejection> for AppError {
    fn from(r: axum::extract::rejection::QueryRejection) -> Self {
        AppError::validation(r.body_text())
    }
}

/// A JSON request body whose failures are [`AppError`]s: 415 without a JSON content type, 400 `BAD_REQUEST`
/// for text that is not JSON, 400 `VALIDATION_ERROR` (saying which field) for JSON of the wrong shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| {
                let m = m.trim().to_ascii_lowercase();
                m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
            });
        if !is_json {
            return Err(AppError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "Content-Type must be application/json",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state).await?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|_| AppError::bad_request("BAD_REQUEST", "Invalid JSON in request body"))?;
        serde_path_to_error::deserialize(value).map(ApiJson).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." || path.is_empty() {
                AppError::validation(inner.to_string())
            } else {
                AppError::validation(format!("[body.{path}] {inner}"))
            }
        })
    }
}

impl<T: serde::Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Query` whose rejections are [`AppError`]s.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct ApiQuery<T>(pub T);
