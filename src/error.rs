//! One error type for every door. Each error renders as a stable JSON body `{"message", "code"}` (the shape
//! Better Auth uses, so one client-side handler reads them all); internal causes are logged once and never shown.

use axum::extract::rejection::{BytesRejection, JsonRejection};
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
        AppError::Internal(e.into())
    }
}

impl From<JsonRejection> for AppError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => AppError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "Content-Type must be application/json",
            ),
            JsonRejection::JsonSyntaxError(_) => AppError::bad_request("BAD_REQUEST", "Invalid JSON in request body"),
            JsonRejection::JsonDataError(e) => AppError::validation(e.body_text()),
            JsonRejection::BytesRejection(e) => AppError::from(e),
            other => AppError::bad_request("BAD_REQUEST", other.body_text()),
        }
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
                    axum::Json(json!({ "message": "Too many requests. Please try again later." })),
                )
                    .into_response();
                res.headers_mut().insert("x-retry-after", HeaderValue::from(retry_after_secs));
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

/// `axum::Json` whose rejections are [`AppError`]s (JSON bodies, never plain text).
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct ApiJson<T>(pub T);

impl<T: serde::Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Query` whose rejections are [`AppError`]s.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct ApiQuery<T>(pub T);
