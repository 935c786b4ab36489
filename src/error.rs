//! The one error type of the application, and the only place that knows HTTP status codes.
//!
//! Bodies follow FastAPI's shape, `{"detail": "..."}`, and for validation errors
//! `{"detail": [{"type", "loc", "msg", "input"}]}`, so the spec's clients feel at home.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("request body too large")]
    PayloadTooLarge,
    /// Too large for a limit other than the body's (a file, a storage quota).
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("too many requests")]
    RateLimited { retry_after: Duration },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One entry of a 422 body, as FastAPI (pydantic) writes it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    #[serde(rename = "type")]
    pub kind: String,
    /// Where the bad value is: `["body", "username"]`, `["query", "limit"]`.
    pub loc: Vec<Value>,
    pub msg: String,
    pub input: Value,
}

impl FieldError {
    pub fn new(kind: &str, loc: &[&str], msg: impl Into<String>, input: Value) -> Self {
        Self {
            kind: kind.into(),
            loc: loc.iter().map(|s| Value::from(*s)).collect(),
            msg: msg.into(),
            input,
        }
    }
}

impl Error {
    pub fn unauthorized() -> Self {
        Self::Unauthorized("Not authenticated".into())
    }

    /// A single-field 422 on a request body field.
    pub fn invalid(field: &str, msg: impl Into<String>, input: impl Into<Value>) -> Self {
        Self::Validation(vec![FieldError::new(
            "value_error",
            &["body", field],
            msg,
            input.into(),
        )])
    }

    /// The HTTP status of this error (also sent in WebSocket `error` events).
    pub fn status_code(&self) -> u16 {
        self.status().as_u16()
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge | Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<sqlx::Error> for Error {
    /// Unique-constraint violations become `Conflict` here, in one place.
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err
            && db.is_unique_violation()
        {
            return Self::Conflict("already exists".into());
        }
        Self::Internal(err.into())
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail = match &self {
            Self::Validation(errors) => json!(errors),
            Self::Internal(err) => {
                tracing::error!(error = ?err, "internal error");
                json!("Internal server error")
            }
            other => json!(other.to_string()),
        };
        let mut response = (status, axum::Json(json!({ "detail": detail }))).into_response();
        let headers = response.headers_mut();
        match &self {
            Self::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::RateLimited { retry_after } => {
                let secs = retry_after.as_secs_f64().ceil().max(1.0) as u64;
                headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            // The rest of the body was not read: the connection cannot carry another request.
            Self::PayloadTooLarge | Self::TooLarge(_) => {
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        response
    }
}
