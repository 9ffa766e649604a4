//! One error type for every handler, rendered as the API's error envelope.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use domain::error::{Error, FieldError, RateLimit};
use store::DbError;

use crate::envelope::Metadata;

pub type AppResult<T> = Result<T, AppError>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("request validation failed")]
    Validation(Vec<FieldError>),
    #[error("{message}")]
    RateLimited { message: String, retry_after_seconds: u64, limit: Option<RateLimit> },
    /// The source is logged, never sent.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("{message}")]
    Unavailable { message: String, retry_after_seconds: Option<u64> },
    /// Payments are not configured, or the payment provider is failing.
    #[error("{message}")]
    PaymentsUnavailable { message: String, retry_after_seconds: Option<u64> },
}

/// A rule's refusal, answered with its status.
impl From<Error> for AppError {
    fn from(err: Error) -> Self {
        match err {
            Error::BadRequest(message) => Self::BadRequest(message),
            Error::Forbidden(message) => Self::Forbidden(message),
            Error::NotFound(message) => Self::NotFound(message),
            Error::Conflict(message) => Self::Conflict(message),
            Error::PreconditionFailed(message) => Self::PreconditionFailed(message),
            Error::Invalid(fields) => Self::Validation(fields),
            Error::RateLimited { message, retry_after_seconds, limit } => {
                Self::RateLimited { message, retry_after_seconds, limit }
            }
            Error::Unavailable { message, retry_after_seconds } => Self::Unavailable { message, retry_after_seconds },
            Error::Internal(source) => Self::Internal(source),
        }
    }
}

impl From<DbError> for AppError {
    fn from(err: DbError) -> Self {
        Error::from(err).into()
    }
}

impl AppError {
    pub fn internal(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(source.into())
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn not_found(what: &str) -> Self {
        Self::NotFound(format!("{what} not found"))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable { .. } | Self::PaymentsUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Unauthenticated(_) => "unauthenticated",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict(_) => "conflict",
            Self::PreconditionFailed(_) => "precondition_failed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::Validation(_) => "validation_failed",
            Self::RateLimited { .. } => "rate_limited",
            Self::Internal(_) => "internal",
            Self::Unavailable { .. } => "unavailable",
            Self::PaymentsUnavailable { .. } => "payments_unavailable",
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after_seconds, .. } => Some(*retry_after_seconds),
            Self::Unavailable { retry_after_seconds, .. } | Self::PaymentsUnavailable { retry_after_seconds, .. } => {
                *retry_after_seconds
            }
            _ => None,
        }
    }
}

/// The body of every error: also the schema the OpenAPI document shows.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Always `error`.
    #[schema(value_type = String, example = "error")]
    status: &'static str,
    error: ErrorDetail,
    metadata: Metadata,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    #[schema(value_type = String, example = "validation_failed")]
    code: &'static str,
    message: String,
    /// Every invalid field of a 422, each with its path and what is wrong
    /// with it, in the order of the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<Vec<FieldError>>,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let Self::Internal(source) = &self {
            tracing::error!(error = %source, "internal error");
        }
        let details = match &self {
            Self::Validation(details) => Some(details.clone()),
            _ => None,
        };
        let body = ErrorBody {
            status: "error",
            error: ErrorDetail { code: self.code(), message: self.to_string(), details },
            metadata: Metadata::now(),
        };
        let mut response = crate::http::json_response(self.status(), &body);
        if let Some(seconds) = self.retry_after() {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Self::RateLimited { limit: Some(limit), .. } = &self {
            crate::http::set_rate_limit(response.headers_mut(), limit);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn internal_errors_never_carry_their_source() {
        let response = AppError::internal("dynamodb exploded: secret=hunter2").into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 10_000).await.unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(!text.contains("hunter2"));
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["error"]["code"], "internal");
        assert_eq!(json["status"], "error");
    }

    #[tokio::test]
    async fn rate_limited_sets_retry_after() {
        let response =
            AppError::RateLimited { message: "slow down".into(), retry_after_seconds: 42, limit: None }.into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "42");
    }

    #[tokio::test]
    async fn a_store_throttled_past_its_retries_is_a_503_with_retry_after() {
        let response = AppError::from(DbError::Throttled { op: "Query" }).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        let body = axum::body::to_bytes(response.into_body(), 10_000).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"]["code"], "unavailable");
        assert!(!json.to_string().contains("Query"), "the operation is logged, not sent: {json}");
    }
}
