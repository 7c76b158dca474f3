//! The one place where errors become HTTP status codes and JSON bodies.
//!
//! Every handler returns [`ApiError`]. The body is
//! `{"error": {"code": ..., "message": ...}}` and the message names the
//! rejected value and the fix. Backend failures are logged with their cause
//! and reported to the client with a generic message, so that database details never reach
//! a client.

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use oversight_core::ValidationError;
use oversight_store::StoreError;
use oversight_tasks::TaskError;

use crate::tasks::TaskServiceError;
use serde::Serialize;

/// The error codes of the API contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 404: the record does not exist.
    NotFound,
    /// 400: a parameter or body is invalid.
    InvalidRequest,
    /// 409: the request conflicts with the current state.
    Conflict,
    /// 401: the request has no valid session or API token.
    Unauthorized,
    /// 401: the password was right but the account's TOTP code is missing.
    TotpRequired,
    /// 403: the caller may not take this action or see this record, or the
    /// request's host, origin or CSRF token is rejected.
    Forbidden,
    /// 405: the route exists but not for this method.
    MethodNotAllowed,
    /// 408: the request took longer than `http.request_timeout_secs`.
    RequestTimeout,
    /// 429: too many failed logins or TOTP codes, or too many requests
    /// without credentials from one address. The `Retry-After` header gives
    /// the seconds to wait.
    TooManyRequests,
    /// 500: the server failed.
    Internal,
    /// 503: the server is at a connection cap or a part of it is not running.
    Unavailable,
}

impl ErrorCode {
    fn status(self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::InvalidRequest => StatusCode::BAD_REQUEST,
            Self::Conflict => StatusCode::CONFLICT,
            Self::Unauthorized | Self::TotpRequired => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// An error returned to an API client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The contract's error code, which sets the status.
    pub code: ErrorCode,
    /// The failure, the value involved, and the next step for the client.
    pub message: String,
}

impl ApiError {
    /// Creates a 400 error for an invalid parameter or body.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::InvalidRequest,
            message: message.into(),
        }
    }

    /// Creates a 404 error.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::NotFound,
            message: message.into(),
        }
    }

    /// Creates a 409 error.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::Conflict,
            message: message.into(),
        }
    }

    /// Creates a 401 error.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::Unauthorized,
            message: message.into(),
        }
    }

    /// Creates a 403 error.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::Forbidden,
            message: message.into(),
        }
    }

    /// Creates a 500 error with a message that is safe to show.
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::Internal,
            message: message.into(),
        }
    }

    /// Creates a 400 error for the parameter or path segment `name` with value `value`.
    pub fn invalid_param(name: &str, value: &str, fix: &str) -> Self {
        Self::invalid(format!("invalid {name}={value:?}: {fix}"))
    }
}

/// The JSON body of every error response.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

/// The code and message of an error.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorDetail<'a> {
    code: ErrorCode,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: &self.message,
            },
        };
        (self.code.status(), Json(body)).into_response()
    }
}

impl From<oversight_auth::Forbidden> for ApiError {
    fn from(error: oversight_auth::Forbidden) -> Self {
        Self::forbidden(error.to_string())
    }
}

impl From<ValidationError> for ApiError {
    fn from(error: ValidationError) -> Self {
        Self::invalid(error.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { what, key } => {
                Self::not_found(format!("{what} {key:?} not found"))
            }
            StoreError::Invalid(error) => error.into(),
            StoreError::Conflict(message) => Self::conflict(message),
            StoreError::InvalidCursor(_) | StoreError::InvalidArgument(_) => {
                Self::invalid(error.to_string())
            }
            StoreError::Backend { .. } | StoreError::Closed => {
                tracing::error!(error = %error, "store request failed");
                metrics::counter!("oversight_http_store_errors_total").increment(1);
                Self::internal("the store failed; the server log has the cause, retry later")
            }
        }
    }
}

impl From<TaskError> for ApiError {
    fn from(error: TaskError) -> Self {
        let code = match &error {
            TaskError::RoleNotPermitted { .. } | TaskError::WrongDepartment { .. } => {
                ErrorCode::Forbidden
            }
            TaskError::IllegalTransition { .. }
            | TaskError::ChildrenNotDone { .. }
            | TaskError::ChildrenMismatch { .. }
            | TaskError::ExtensionLimit { .. }
            | TaskError::NoDeadline { .. }
            | TaskError::NoRoute { .. }
            | TaskError::YearNotCovered { .. }
            | TaskError::NotFirstViolation { .. } => ErrorCode::Conflict,
            TaskError::History(_) | TaskError::DateOverflow { .. } => {
                tracing::error!(error = %error, "task operation failed");
                return Self::internal("the task operation failed; the server log has the cause");
            }
            _ => ErrorCode::InvalidRequest,
        };
        Self {
            code,
            message: error.to_string(),
        }
    }
}

impl From<TaskServiceError> for ApiError {
    fn from(error: TaskServiceError) -> Self {
        match error {
            TaskServiceError::Rejected(error) => error.into(),
            TaskServiceError::Store(error) => error.into(),
            TaskServiceError::NotFound(id) => Self::not_found(format!(
                "task {id:?} not found; GET /api/v1/tasks lists the tasks"
            )),
            mismatch @ TaskServiceError::VersionMismatch { .. } => {
                Self::conflict(mismatch.to_string())
            }
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::invalid(format!(
            "invalid query string: {}; see the API reference for the parameters of this route",
            rejection.body_text()
        ))
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let text = rejection.body_text();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::invalid(format!(
                "request body too large ({text}); send a smaller body or raise \
                 http.body_limit_bytes"
            ));
        }
        Self::invalid(format!("invalid JSON body: {text}"))
    }
}

impl From<MultipartRejection> for ApiError {
    fn from(rejection: MultipartRejection) -> Self {
        Self::invalid(format!(
            "invalid multipart body: {}; send Content-Type: multipart/form-data with a \
             boundary, such as curl -F file=@photo.jpg",
            rejection.body_text()
        ))
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::invalid(format!("invalid path: {}", rejection.body_text()))
    }
}

impl From<oversight_rules::RulesError> for ApiError {
    fn from(error: oversight_rules::RulesError) -> Self {
        use oversight_rules::RulesError;
        match error {
            RulesError::Store(error) => error.into(),
            RulesError::UnknownRule(_) => Self::not_found(error.to_string()),
            RulesError::Packs(_) | RulesError::Duplicate(_) => Self::invalid(error.to_string()),
            RulesError::InvalidConfig { .. } | RulesError::Stopped => {
                tracing::error!(error = %error, "rules request failed");
                Self::internal("the rule engine is not running; the server log has the cause")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_map_to_status() {
        let not_found = ApiError::from(StoreError::NotFound {
            what: "area",
            key: "35".into(),
        });
        assert_eq!(not_found.code, ErrorCode::NotFound);
        assert_eq!(not_found.message, "area \"35\" not found");

        let cursor = ApiError::from(StoreError::InvalidCursor("zz".into()));
        assert_eq!(cursor.code, ErrorCode::InvalidRequest);
        assert!(cursor.message.contains("next_cursor"), "{}", cursor.message);

        let backend = ApiError::from(StoreError::Backend {
            operation: "insert readings",
            source: "disk I/O error".into(),
        });
        assert_eq!(backend.code, ErrorCode::Internal);
        assert!(!backend.message.contains("disk"), "{}", backend.message);
    }

    #[test]
    fn status_follows_code() {
        assert_eq!(ErrorCode::NotFound.status(), StatusCode::NOT_FOUND);
        assert_eq!(ErrorCode::InvalidRequest.status(), StatusCode::BAD_REQUEST);
        assert_eq!(ErrorCode::Conflict.status(), StatusCode::CONFLICT);
        assert_eq!(ErrorCode::Unauthorized.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(ErrorCode::TotpRequired.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(ErrorCode::Forbidden.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            ErrorCode::TooManyRequests.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(
            ErrorCode::Internal.status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
