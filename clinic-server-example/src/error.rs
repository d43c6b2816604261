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
    /// The fields at fault, for validation errors.
    errors: Vec<FieldProblem>,
}

/// One field at fault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    /// The field, as named in the request (snake_case).
    pub field: &'static str,
    /// What is wrong with it (never its value).
    pub problem: String,
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    code: &'a str,
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'static str>,
    #[serde(skip_serializing_if = "<[FieldProblem]>::is_empty")]
    errors: &'a [FieldProblem],
}

impl ApiError {
    /// A new error.
    #[must_use]
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    /// 422 for invalid fields, naming each one.
    #[must_use]
    pub fn fields(errors: &[FieldError]) -> Self {
        let detail = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid_field",
            detail,
            errors: errors
                .iter()
                .map(|e| FieldProblem {
                    field: e.field(),
                    problem: e.problem().to_owned(),
                })
                .collect(),
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
        Self::fields(std::slice::from_ref(&e))
    }
}

impl From<clinic_core::people::GuardianshipError> for ApiError {
    fn from(e: clinic_core::people::GuardianshipError) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, e.code(), e.to_string())
    }
}

/// The status of a refusal by the state of the records: 403 for a care relationship the
/// actor lacks, 429 for a quota, 422 for a request no state would accept, and 409 for
/// one that waits on something else first (a request on record, a record not deleted).
fn refusal_status(r: clinic_core::service::Refusal) -> StatusCode {
    use clinic_core::service::Refusal as R;
    match r {
        R::NotTreating => StatusCode::FORBIDDEN,
        R::UploadQuota => StatusCode::TOO_MANY_REQUESTS,
        R::NotYourUpload | R::SeriesTooLong => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::CONFLICT,
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match &e {
            ServiceError::Invalid(f) => return Self::fields(std::slice::from_ref(f)),
            ServiceError::Fields(v) => return Self::fields(v),
            _ => {}
        }
        let status = match &e {
            ServiceError::NotFound { .. } => StatusCode::NOT_FOUND,
            ServiceError::Scheduling(s) if s.is_conflict() => StatusCode::CONFLICT,
            // Taking more than is on hand conflicts with the stock as it stands now.
            ServiceError::Inventory(clinic_core::inventory::InventoryError::InsufficientStock { .. }) => {
                StatusCode::CONFLICT
            }
            ServiceError::Invalid(_)
            | ServiceError::Scheduling(_)
            | ServiceError::Billing(_)
            | ServiceError::Inventory(_)
            | ServiceError::NotClaimable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ServiceError::ClaimTransition(_) | ServiceError::Note(_) => StatusCode::CONFLICT,
            ServiceError::Forbidden => StatusCode::FORBIDDEN,
            ServiceError::Refused(r) => refusal_status(*r),
            ServiceError::Contention => StatusCode::SERVICE_UNAVAILABLE,
            // The database (or a provider) is down or overloaded: nothing was done, and
            // the same request may be sent again shortly.
            ServiceError::Port(p)
                if matches!(
                    p.kind(),
                    clinic_core::ports::PortErrorKind::Unavailable | clinic_core::ports::PortErrorKind::RateLimited
                ) =>
            {
                tracing::warn!(error = %e, "a backing service is unavailable");
                return Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    e.code(),
                    "a service this request needs is unavailable; try again shortly",
                );
            }
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
            errors: Vec::new(),
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
            field: self.errors.first().map(|e| e.field),
            errors: &self.errors,
        };
        let mut res = (self.status, Json(body)).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 6750 §3: a refused bearer token says so, and why in `error`.
            let challenge = if self.code.starts_with("token_") {
                "Bearer realm=\"clinic-rs\", error=\"invalid_token\""
            } else {
                "Bearer realm=\"clinic-rs\""
            };
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            // RFC 9110 §10.2.3: when to try again, in seconds.
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        res
    }
}
