//! Every error a request can meet, mapped to HTTP in this one place, always as
//! `{ "error": { "code": "...", "message": "..." } }`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use pith_pipeline::PipelineError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("missing or wrong API key")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("server busy, retry shortly")]
    Overloaded { retry_after: u64 },
    /// The LLM server the chat proxy forwards to failed or is unreachable.
    #[error("{0}")]
    BadGateway(String),
    /// A feature needs something this server does not have (a model).
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::TooLarge(_) => "too_large",
            ApiError::Overloaded { .. } => "overloaded",
            ApiError::BadGateway(_) => "upstream_error",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl From<PipelineError> for ApiError {
    fn from(e: PipelineError) -> Self {
        match e {
            PipelineError::BadInput(m) => ApiError::BadRequest(m),
            PipelineError::Unsupported(m) => ApiError::BadRequest(m),
            PipelineError::NotFound(m) => ApiError::NotFound(m),
            e @ (PipelineError::Locked { .. } | PipelineError::ReadOnly(_)) => {
                tracing::error!(error = %e, "store not writable");
                ApiError::Internal(e.to_string())
            }
            e @ (PipelineError::Model(_)
            | PipelineError::Sql(_)
            | PipelineError::TextIndex(_)
            | PipelineError::VectorIndex(_)
            | PipelineError::Io { .. }
            | PipelineError::Internal(_)) => {
                tracing::error!(error = %e, "internal error");
                ApiError::Internal(e.to_string())
            }
        }
    }
}

impl From<axum::extract::multipart::MultipartError> for ApiError {
    fn from(e: axum::extract::multipart::MultipartError) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge("upload larger than the limit".into())
        } else {
            ApiError::BadRequest(format!("bad multipart body: {}", e.body_text()))
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": { "code": self.code(), "message": self.to_string() } });
        let mut resp = (self.status(), axum::Json(body)).into_response();
        if let ApiError::Overloaded { retry_after } = self {
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}
