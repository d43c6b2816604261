//! One error type for every handler, leaving as RFC 9457 `application/problem+json`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use clinic_core::FieldError;
use clinic_core::service::ServiceError;
use serde::Serialize;

/// An API error: an HTTP status, a stable machine code and a human sentence.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    code: &'a str,
    detail: &'a str,
}

impl ApiError {
    /// A new error.
    #[must_use]
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
        }
    }

    /// 400 for a body or query that could not be read.
    #[must_use]
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }

    /// The status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable machine code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The human sentence.
    #[must_use]
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, e.code(), e.to_string())
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let status = match &e {
            ServiceError::NotFound { .. } => StatusCode::NOT_FOUND,
            ServiceError::Scheduling(s) if s.is_conflict() => StatusCode::CONFLICT,
            ServiceError::Invalid(_)
            | ServiceError::Scheduling(_)
            | ServiceError::Billing(_)
            | ServiceError::NotClaimable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ServiceError::ClaimTransition(_) | ServiceError::Note(_) => StatusCode::CONFLICT,
            ServiceError::Forbidden => StatusCode::FORBIDDEN,
            ServiceError::Contention => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let detail = if status == StatusCode::INTERNAL_SERVER_ERROR {
            // Port failures are logged, not sent: their detail is for operators.
            tracing::error!(error = %e, "request failed");
            "an internal error occurred".to_owned()
        } else {
            e.to_string()
        };
        Self {
            status,
            code: e.code(),
            detail,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error");
        let body = Problem {
            kind: format!("https://clinic-rs.dev/problems/{}", self.code),
            title,
            status: self.status.as_u16(),
            code: self.code,
            detail: &self.detail,
        };
        let mut res = (self.status, Json(body)).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        res
    }
}
